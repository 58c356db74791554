"""Synthetic cohort (``studykit.cohort.synth``): files, DICOM contract, latent model, readers."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from scipy import stats as sps
from scipy.special import expit

from studykit.cohort import synth
from studykit.cohort.synth import model
from studykit.cohort.synth.readers import icc2_1, summarize_reads
from studykit.errors import InputError, StudyError

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
CONTRACT_MANIFEST = ["patient_id", "label", "subtype", "center", "scanner", "age", "sex", "bmi", "size_cm",
                     "symptoms", "surgery", "excluded_reason", "injection_s"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> synth.SynthSummary:
    return synth.synthesize(tmp_path_factory.mktemp("tiny") / "cohort", tiny=True)


@pytest.fixture(scope="module")
def default_tables() -> synth.CohortTables:
    return synth.draw_cohort(patients=181, seed=0)


def _files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def _box(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


# ------------------------------------------------------------------ files and determinism

def test_tiny_is_byte_identical_for_the_same_seed(tiny, tmp_path):
    again = synth.synthesize(tmp_path / "again", tiny=True)  # its speed: benchmarks/bench_synth.py
    assert _files(again.out_dir) == _files(tiny.out_dir)
    match, mismatch, errors = filecmp.cmpfiles(tiny.out_dir, again.out_dir,
                                               [str(p) for p in _files(tiny.out_dir)], shallow=False)
    assert not mismatch and not errors and len(match) == len(_files(tiny.out_dir))


def test_a_killed_synthesis_leaves_a_temp_folder_that_the_next_run_removes(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = socket.gethostname()
    stale = tmp_path / f".out.synth-tmp-{host}-{dead}-0123abcd"
    live = tmp_path / f".out.synth-tmp-{host}-{os.getpid()}-0123abcd"  # a run still going
    mine = tmp_path / ".out.synth-tmp-keep"  # not a name a synthesis makes: a user's
    for folder in (stale, live, mine):
        (folder / "videos").mkdir(parents=True)
        (folder / "manifest.csv").write_text("x\n")
    synth.synthesize(tmp_path / "out", tiny=True)
    assert not stale.exists() and live.is_dir() and (mine / "manifest.csv").read_text() == "x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, mine.name, "out"])


def test_another_seed_gives_another_cohort(tiny, tmp_path):
    other = synth.synthesize(tmp_path / "seed1", tiny=True, seed=1)
    assert other.manifest.read_bytes() != tiny.manifest.read_bytes()
    first = sorted(other.videos.iterdir())[0]
    assert first.read_bytes() != (tiny.videos / first.name).read_bytes()


def test_same_arguments_return_at_once_other_arguments_refuse(tiny):
    stamps = {p: p.stat().st_mtime_ns for p in tiny.out_dir.rglob("*")}
    again = synth.synthesize(tiny.out_dir, tiny=True)
    assert again.cached and {p: p.stat().st_mtime_ns for p in tiny.out_dir.rglob("*")} == stamps
    assert again.bayes_auc == tiny.bayes_auc and again.readers == tiny.readers
    with pytest.raises(StudyError, match=r"other arguments \(seed\); refusing to overwrite") as info:
        synth.synthesize(tiny.out_dir, tiny=True, seed=5)
    assert "hint: pass a new or empty folder" in str(info.value)


def test_refuses_a_foreign_folder_or_a_file(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StudyError, match="is not empty and holds no synthetic cohort; refusing to overwrite"):
        synth.synthesize(tmp_path / "busy", tiny=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StudyError, match="exists and is not a folder"):
        synth.synthesize(tmp_path / "file", tiny=True)
    (tmp_path / "empty").mkdir()
    assert synth.synthesize(tmp_path / "empty", tiny=True, patients=10, frames=8, size=48).patients == 10


def test_a_crash_leaves_no_cohort_behind(tmp_path, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    real = synth.generate._write_video
    monkeypatch.setattr(synth.generate, "_write_video", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        synth.synthesize(tmp_path / "out", tiny=True)
    assert list(tmp_path.iterdir()) == []  # neither the cohort nor its staging folder


# ------------------------------------------------------------------ DICOM contract

def test_every_video_decodes_and_has_the_contract_tags(tiny):
    manifest = pd.read_csv(tiny.manifest, keep_default_na=False)
    included = manifest[manifest["excluded_reason"] == ""]
    assert sorted(p.stem for p in tiny.videos.iterdir()) == sorted(included["patient_id"])
    rows, cols = tiny.frame_shape
    height, width = tiny.panel_shape
    for path in sorted(tiny.videos.iterdir()):
        ds = pydicom.dcmread(path)
        assert ds.SOPClassUID == US_MULTIFRAME == ds.file_meta.MediaStorageSOPClassUID
        assert int(ds.NumberOfFrames) == tiny.frames and (ds.Rows, ds.Columns) == (rows, cols)
        assert ds.FrameIncrementPointer == pydicom.tag.Tag(0x0018, 0x1063)
        assert float(ds.FrameTime) == synth.frame_times(tiny.frames)[1] and int(ds.CineRate) >= 1
        left, right = ds.SequenceOfUltrasoundRegions
        for region, x0 in ((left, 0), (right, width)):
            assert (region.RegionLocationMinX0, region.RegionLocationMaxX1) == (x0, x0 + width - 1)
            assert region.RegionLocationMaxY1 - region.RegionLocationMinY0 + 1 == height
            assert (region.RegionSpatialFormat, region.RegionDataType) == (1, 1)
            assert (region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection) == (3, 3)
            assert region.PhysicalDeltaX == region.PhysicalDeltaY > 0
        pixels = ds.pixel_array
        assert pixels.shape[:3] == (tiny.frames, rows, cols) and pixels.dtype == np.uint8
        assert ds.PhotometricInterpretation in ("MONOCHROME2", "YBR_FULL_422")


def test_compressed_syntaxes_are_present(tiny):
    found = {pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID
             for p in tiny.videos.iterdir()}
    assert found == {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5"}
    assert tiny.transfer_syntaxes["explicit_vr_little_endian"] > tiny.patients / 2
    assert sum(tiny.transfer_syntaxes.values()) == tiny.patients


def test_fake_identifying_data_is_there_for_deidentification_to_remove(tiny):
    manifest_text = tiny.manifest.read_text()
    names = set()
    for path in sorted(tiny.videos.iterdir()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "OperatorsName",
                        "ReferringPhysicianName", "StudyDate", "AccessionNumber", "DeviceSerialNumber",
                        "PatientAddress", "PatientTelephoneNumbers", "StationName"):
            assert str(ds.data_element(keyword).value).strip(), keyword
        assert "^" in str(ds.PatientName) and len(ds.PatientBirthDate) == 8
        assert ds.OtherPatientIDsSequence[0].PatientID.startswith("NHS")
        private = ds.private_block(0x0009, "SYNTHVENDOR PRIVATE 1.0")
        assert str(ds.PatientName) in private[0x10].value
        assert str(ds.PatientName) not in manifest_text and ds.PatientID not in manifest_text
        names.add(str(ds.PatientName))
    assert len(names) > 1


# ------------------------------------------------------------------ annotations

def test_annotation_boxes_lie_in_their_panels_and_frames_in_their_phases(tiny):
    annotations = pd.read_csv(tiny.annotations)
    truth = pd.read_csv(tiny.truth).set_index("patient_id")
    times, _ = synth.frame_times(tiny.frames)
    height, width = tiny.panel_shape
    bar = tiny.frame_shape[0] - height
    for _, row in annotations.iterrows():
        assert row["file"] == f"videos/{row['patient_id']}.dcm"
        t = times[row["frame"]]
        arrival, medullary = truth.loc[row["patient_id"], ["cortex_arrival_s", "medullary_start_s"]]
        expected = "cortical" if arrival <= t < medullary else "medullary"
        assert row["phase"] == expected and t <= medullary + 30.0 and t >= arrival
        for column, x0 in (("bmode_box", 0), ("ceus_box", width)):
            bx0, by0, bx1, by1 = _box(row[column])
            assert x0 <= bx0 < bx1 <= x0 + width and bar <= by0 < by1 <= bar + height
    per_patient = annotations.groupby("patient_id")["phase"].agg(set)
    assert set(per_patient.index) == set(truth.index)
    assert all(phases == {"cortical", "medullary"} for phases in per_patient)


def test_timing_annotations_injection_time_and_a_cortex_box_clear_of_the_lesion(tiny):
    """Format 3 writes ``injection_s`` (4 s: the videos start 4 s before the injection; empty for
    the excluded, who have no video) and a ``cortex_box`` per annotated frame, inside the CEUS
    panel, clear of that frame's lesion box and moving with it (its offset from the lesion box
    changes by the box jitter only). That it reads the cortex: tests/cohort/test_perfusion.py."""
    manifest = pd.read_csv(tiny.manifest, dtype=str, keep_default_na=False)
    assert list(manifest.columns[-2:]) == ["excluded_reason", "injection_s"]
    assert (manifest["injection_s"] == np.where(manifest["excluded_reason"] == "", "4", "")).all()
    annotations = pd.read_csv(tiny.annotations, dtype=str, keep_default_na=False)
    height, width = tiny.panel_shape
    bar = tiny.frame_shape[0] - height
    for pid, rows in annotations.groupby("patient_id"):
        boxes = [(_box(c), _box(lesion)) for c, lesion in zip(rows["cortex_box"], rows["ceus_box"])]
        for (x0, y0, x1, y1), (lx0, ly0, lx1, ly1) in boxes:
            assert width <= x0 < x1 <= 2 * width and bar <= y0 < y1 <= bar + height and x1 - x0 >= 3
            assert x1 <= lx0 or x0 >= lx1 or y1 <= ly0 or y0 >= ly1, pid
        offsets = [(c[0] - t[0], c[1] - t[1]) for c, t in boxes]
        spread = max(abs(a[k] - b[k]) for a in offsets for b in offsets for k in (0, 1))
        assert spread <= 8, pid  # two jittered edges, ±3 SD of 1.5 px each at most


def test_render_patient_masks_are_the_compartments_of_each_frame():
    """``masks=True``: per frame, the lesion mask lies inside the annotator's CEUS box (moved with
    the lesion), rim and core split it, and in the CEUS pixels at peak enhancement the
    non-enhancing areas are darker than the enhancing core — the masks index the right pixels."""
    r = synth.render_patient("RC0004", tiny=True, masks=True)
    x0, y0, x1, y1 = r.panel
    assert set(r.masks) == {"lesion", "rim", "core", "nonenhancing", "cortex"}
    assert all(m.shape == (r.video.shape[0], y1 - y0, x1 - x0) for m in r.masks.values())
    np.testing.assert_allclose(r.masks["rim"] + r.masks["core"], r.masks["lesion"], atol=1e-5)
    for ann in r.annotations.itertuples():
        bx0, by0, bx1, by1 = _box(ann.ceus_box)
        ys, xs = np.nonzero(r.masks["lesion"][ann.frame] > 0.5)
        assert bx0 - 2 <= xs.min() + x1 and xs.max() + x1 < bx1 + 2 and by0 - 2 <= ys.min() + y0 < by1
    frame = int(r.annotations["frame"].iloc[1])
    ceus = r.video[frame, y0:y1, x1:2 * x1 - x0].astype(float)
    enhancing = (r.masks["core"][frame] > 0.5) & (r.masks["nonenhancing"][frame] < 0.5)
    assert ceus[r.masks["nonenhancing"][frame] > 0.5].mean() < ceus[enhancing].mean() - 20
    plain = synth.render_patient("RC0004", tiny=True)
    assert plain.masks is None and np.array_equal(plain.video, r.video)


def test_preset_v2_writes_format_2_columns(tmp_path):
    out = synth.synthesize(tmp_path / "v2", tiny=True, preset="v2")
    assert "injection_s" not in pd.read_csv(out.manifest).columns
    assert list(pd.read_csv(out.annotations).columns) == ["patient_id", "file", "frame", "phase", "bmode_box",
                                                          "ceus_box"]
    assert synth.SynthParams.named("v2").timing_annotations is False
    with pytest.raises(InputError, match=r"'timing_annotations': must be true or false; got 1"):
        synth.synthesize(tmp_path / "bad", tiny=True, timing_annotations=1)


def test_ceus_lesion_brightness_follows_the_bolus_curve(default_tables):
    truth = default_tables.truth
    pick = truth[(truth["washout"] > 0.45) & (truth["peak_enhancement_db"] > 0)].iloc[0]
    rendered = synth.render_patient(pick["patient_id"], seed=0, frames=24, size=96)
    boxes = np.array([_box(b) for b in rendered.annotations["ceus_box"]])
    x0, y0 = boxes[:, :2].max(axis=0)
    x1, y1 = boxes[:, 2:].min(axis=0)
    inner = (slice(y0 + (y1 - y0) // 4, y1 - (y1 - y0) // 4), slice(x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4))
    brightness = np.array([frame[inner].mean() for frame in rendered.video])
    arrival = pick["cortex_arrival_s"] + pick["arrival_delay_s"]
    peak = int(np.argmin(np.abs(rendered.times - (arrival + pick["time_to_peak_s"]))))
    before = rendered.times < arrival
    assert brightness[before].max() < brightness[peak] - 40  # rises after arrival…
    assert brightness[-1] < brightness[peak] - 8  # …then washes out
    assert np.argmax(brightness) in range(peak - 2, peak + 3)


# ------------------------------------------------------------------ tables

def test_manifest_has_the_study_proportions_and_table1_differences(default_tables):
    manifest = default_tables.manifest
    assert list(manifest.columns) == CONTRACT_MANIFEST
    included = manifest[manifest["excluded_reason"] == ""]
    counts = {"ccrcc": 62, "typical_aml": 45, "atypical_aml": 36, "prcc": 25, "chrcc": 13}
    assert included["subtype"].value_counts().to_dict() == counts
    assert included["label"].value_counts().to_dict() == {"malignant": 100, "benign": 81}
    excluded = manifest[manifest["excluded_reason"] != ""]
    assert 3 <= len(excluded) <= 10
    assert set(excluded["excluded_reason"]) == {"poor image quality", "no CEUS", "stage >= T2b"}
    assert set(manifest["center"]) == {"center_a", "center_b"} and manifest["scanner"].nunique() == 3
    benign, malignant = (included[included["label"] == lab] for lab in ("benign", "malignant"))
    assert abs(benign["age"].mean() - 53.2) < 0.5 and abs(malignant["age"].mean() - 57.6) < 0.5
    assert 0.005 < sps.ttest_ind(benign["age"], malignant["age"]).pvalue < 0.05
    assert 22 <= included["bmi"].median() <= 24 and 3.5 <= included["size_cm"].median() <= 4.5
    q1, q3 = included["bmi"].quantile([0.25, 0.75])
    assert 20 <= q1 <= 22 and 24 <= q3 <= 26
    surgery = pd.crosstab(included["label"], included["surgery"])
    assert sps.chi2_contingency(surgery).pvalue < 0.001


def test_excluded_patients_have_no_video_annotation_read_or_truth(tiny):
    manifest = pd.read_csv(tiny.manifest, keep_default_na=False)
    excluded = set(manifest.loc[manifest["excluded_reason"] != "", "patient_id"])
    assert excluded and tiny.excluded == len(excluded)
    for path in (tiny.annotations, tiny.reads, tiny.truth):
        assert excluded.isdisjoint(pd.read_csv(path)["patient_id"])
    assert excluded.isdisjoint(p.stem for p in tiny.videos.iterdir())


def test_reads_shape_and_group_figures_at_the_default_seed(default_tables):
    reads, truth = default_tables.reads, default_tables.truth
    assert list(reads.columns) == ["reader_id", "group", "patient_id", "call", "score"]
    assert len(reads) == 6 * len(truth) == 6 * 181
    assert reads.groupby("group")["reader_id"].nunique().to_dict() == {"junior": 3, "senior": 3}
    assert not reads.duplicated(["reader_id", "patient_id"]).any()
    assert reads["score"].between(1, 5).all()
    assert (reads.loc[reads["call"] == "malignant", "score"] >= 3).all()
    assert (reads.loc[reads["call"] == "benign", "score"] <= 3).all()
    malignant = truth.set_index("patient_id")["label"].eq("malignant")
    junior, senior = summarize_reads(reads, malignant)
    assert abs(junior.sensitivity - 0.89) <= 0.03 and abs(junior.specificity - 0.59) <= 0.05
    assert abs(senior.sensitivity - 0.96) <= 0.03 and abs(senior.specificity - 0.63) <= 0.05
    assert 0.72 <= junior.icc <= 0.90 and 0.72 <= senior.icc <= 0.90


def test_icc_matches_the_statistics_engine(default_tables):
    from studykit import stats

    part = default_tables.reads[default_tables.reads["group"] == "senior"]
    reference = stats.icc(part, "patient_id", "reader_id", "score").set_index("form").loc["ICC2", "estimate"]
    table = part.pivot(index="patient_id", columns="reader_id", values="score").to_numpy()
    assert icc2_1(table) == pytest.approx(reference, abs=1e-12)


# ------------------------------------------------------------------ latent model

def test_population_bayes_auc_falls_with_the_separations():
    auc = synth.population_bayes_auc()
    assert auc.frame_both > max(auc.frame_bmode, auc.frame_ceus) + 0.06  # complementary evidence
    harder = synth.population_bayes_auc(bmode_separation=0.5, ceus_separation=0.5)
    assert harder.frame_both < auc.frame_both - 0.05
    assert harder.frame_bmode < auc.frame_bmode - 0.05 and harder.frame_ceus < auc.frame_ceus - 0.05


def test_truth_posteriors_are_the_exact_bayes_posteriors(default_tables):
    """Brute force: mixture of multivariate normal densities over subtypes, from truth.csv's
    features at each evidence level (the video level from the perceived timing columns)."""
    truth = default_tables.truth.iloc[:40]
    params = synth.SynthParams()
    z = model.liabilities_from_features(truth[list(synth.FEATURE_NAMES)].to_numpy(), params)
    seen_x = truth[list(synth.FEATURE_NAMES)].to_numpy().copy()
    for k in model.TEMPORAL:
        seen_x[:, k] = truth[f"seen_{synth.FEATURE_NAMES[k]}"]
    seen = model.liabilities_from_features(seen_x, params)
    means, prior = model.subtype_means(params), default_tables.prior
    for level, modality in [(lv, m) for lv in model.LEVELS for m in model.MODALITIES]:
        cols = model.evidence_columns(level, modality)
        sigma = model.covariance(params)
        if level == "video":
            sigma[model.TEMPORAL, model.TEMPORAL] += params.timing_noise ** 2
        data = (seen if level == "video" else z)[:, cols]
        dens = np.array([sps.multivariate_normal(means[s, cols], sigma[np.ix_(cols, cols)]).pdf(data)
                         for s in range(5)]).T * prior
        expected = dens[:, 2:].sum(axis=1) / dens.sum(axis=1)
        np.testing.assert_allclose(truth[f"posterior_{level}_{modality}"], expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(expit(model.log_odds(z, prior, params, "both")), truth["posterior_all_both"],
                               rtol=1e-12)


def test_subtypes_show_the_textbook_patterns():
    """The subtype means of the latent model, as physical features (population, not a sample)."""
    params = synth.SynthParams()
    values = model.features_from_liabilities(model.subtype_means(params), params)
    means = pd.DataFrame(values, index=list(model.SUBTYPES), columns=list(synth.FEATURE_NAMES))
    assert means["echogenicity_db"].idxmax() == "typical_aml"  # fat
    assert means["peak_enhancement_db"].idxmax() == "ccrcc"
    assert means["peak_enhancement_db"].idxmin() == "prcc"
    assert means.loc["ccrcc", "washout"] > means.loc["atypical_aml", "washout"]
    assert means.loc["ccrcc", "rim_enhancement_db"] > means.loc["typical_aml", "rim_enhancement_db"]


# ------------------------------------------------------------------ bad arguments

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"patients": 3}, r"'patients': must be an integer from 10 to 100000; got 3"),
    ({"patients": 12.5}, r"'patients': must be an integer from 10 to 100000; got 12.5"),
    ({"frames": 4}, r"'frames': must be an integer from 8 to 2000; got 4"),
    ({"size": (20, 300)}, r"'size': must be an integer from 48 to 1024; got 20"),
    ({"size": "big"}, r"'size': must be an integer or a \(height, width\) pair; got 'big'"),
    ({"seed": -1}, r"'seed': must be an integer from 0 to"),
    ({"bmode_seperation": 1.0}, r"unknown model parameter 'bmode_seperation'.\n  hint: did you mean "
                                r"'bmode_separation'\?"),
    ({"modality_correlation": 1.0}, r"'modality_correlation': must be a finite number in \(-1, 1\); got 1.0"),
    ({"junior_noise": -0.1}, r"'junior_noise': must be a finite number in \[0, inf\); got -0.1"),
    ({"jpeg_fraction": 0.7, "rle_fraction": 0.6}, r"jpeg_fraction \+ rle_fraction must be ≤ 1"),
])
def test_bad_arguments_raise_input_errors_naming_them(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        synth.synthesize(tmp_path / "out", tiny=True, **kwargs)
    assert not (tmp_path / "out").exists()


def test_render_patient_rejects_unknown_and_excluded_patients(default_tables):
    with pytest.raises(InputError, match=r"no patient 'RC9999' in a cohort of 12"):
        synth.render_patient("RC9999", tiny=True)
    tiny_manifest = synth.draw_cohort(patients=12).manifest
    excluded = tiny_manifest.loc[tiny_manifest["excluded_reason"] != "", "patient_id"].iloc[0]
    with pytest.raises(InputError, match=rf"patient '{excluded}' is excluded .* and has no video"):
        synth.render_patient(excluded, tiny=True)
