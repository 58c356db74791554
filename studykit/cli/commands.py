"""Thin commands: parse options, call the library, print with rich."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import click
from rich.table import Table

from studykit.cli.app import cli, stderr, stdout
from studykit.cli.jobs import executor_options, follow, make_executor, print_submission
from studykit.errors import DataError, InputError
from studykit.vocab import ANNOTATION_FORMATS, CORTEX_COLUMN, SYNTH_SYNTAXES, ci_label


@cli.command("auc")
@click.argument("csv_file", type=click.Path(path_type=Path))
@click.option("--label", "label_col", required=True, help="Column with the reference standard.")
@click.option("--score", "score_cols", required=True, multiple=True,
              help="Score column (repeat for several; two or more are compared pairwise by DeLong).")
@click.option("--pos-label", "pos_label", default=None,
              help="The positive label value when labels are not 0/1.")
@click.option("--cluster", "cluster_col", default=None,
              help="Cluster column (patient id for image-level rows): Obuchowski clustered variance.")
@click.option("--confidence", default=0.95, show_default=True, type=float)
def auc_command(csv_file: Path, label_col: str, score_cols: tuple[str, ...], pos_label: str | None,
                cluster_col: str | None, confidence: float) -> None:
    """AUC with DeLong CI for each score in CSV_FILE, and their paired DeLong comparisons."""
    from studykit import stats

    repeated = sorted({c for c in score_cols if score_cols.count(c) > 1})
    if repeated:
        raise InputError(f"--score {repeated[0]} is given more than once.", field="--score",
                         hint="name each score column once; two or more different ones are compared "
                              "pairwise.")
    data = _read_csv(csv_file)
    flags = {"y_true": f"--label {label_col}", "pos_label": "--pos-label",
             "cluster": f"--cluster {cluster_col}", "confidence": "--confidence"}
    rows = []
    for col in score_cols:
        with _as_cli_messages(csv_file, {**flags, "score": f"--score {col}"}):
            rows.append(stats.roc_auc(label_col, col, data=data, cluster=cluster_col, pos_label=pos_label,
                                      confidence=confidence).assign(score=col))
    table = Table(title=f"AUC — {csv_file.name}")
    for name in ("score", "AUC", ci_label(confidence), "n pos / neg", "method"):
        table.add_column(name)
    for row in rows:
        r = row.iloc[0]
        table.add_row(r["score"], f"{r['estimate']:.4f}", f"{r['ci_low']:.4f}–{r['ci_high']:.4f}",
                      f"{r['n_pos']} / {r['n_neg']}", r["method"])
    stdout.print(table)
    if len(score_cols) > 1:
        _print_comparisons(data, label_col, score_cols, pos_label, cluster_col, confidence)


def _print_comparisons(data, label_col, score_cols, pos_label, cluster_col, confidence) -> None:
    from studykit import stats

    cluster = None if cluster_col is None else data[cluster_col]
    with _as_cli_messages(None, {"y_true": f"--label {label_col}", "pos_label": "--pos-label"}):
        result = stats.compare_aucs(data[label_col], {c: data[c] for c in score_cols}, cluster=cluster,
                                    confidence=confidence, pos_label=pos_label)
    table = Table(title="Paired DeLong comparisons (Holm-adjusted p)")
    for name in ("A", "B", "difference", ci_label(confidence), "z", "p", "p (Holm)"):
        table.add_column(name)
    for _, r in result.iterrows():
        table.add_row(r["arm_a"], r["arm_b"], f"{r['estimate']:+.4f}",
                      f"{r['ci_low']:+.4f} to {r['ci_high']:+.4f}", f"{r['statistic']:.3f}",
                      f"{r['p']:.4g}", f"{r['p_adjusted']:.4g}")
    stdout.print(table)


_POSITIONS = re.compile(r"\(positions? ([0-9, …]+)\)")


@contextlib.contextmanager
def _as_cli_messages(csv_file: Path | None, flags: dict[str, str]) -> Iterator[None]:
    """Speak the command line, not the Python API: a library :class:`InputError` names the
    flag and column as typed (``--label label`` for ``y_true``), 0-based positions become
    1-based CSV rows (the header is row 1), ``pos_label=`` becomes ``--pos-label``; each
    warning becomes one line ``warning: …`` on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except InputError as error:
            raise InputError(_cli_text(error.message, flags),
                             hint=_cli_text(error.hint, flags) if error.hint else None,
                             file=None if csv_file is None else str(csv_file),
                             field=flags.get(str(error.field), error.field)) from None
        finally:
            for seen in {str(w.message): w for w in caught}.values():
                stderr.print(f"warning: {_cli_text(str(seen.message), flags)}", highlight=False, markup=False)


def _cli_text(text: str, flags: dict[str, str]) -> str:
    """``pos_label=`` → ``--pos-label``; ``(positions 0, 5)`` → ``(CSV rows 2, 7)``; ``y_true`` → its flag."""
    text = text.replace("is not in data.", "is not a column of the file.")
    text = re.sub(r"\by_true\b", flags.get("y_true", "y_true"), text)
    text = re.sub(r"pos_label=('?)([^'\s,.]*)\1", lambda m: f"--pos-label {m.group(2)}".rstrip(), text)

    def rows(match: re.Match) -> str:
        shown = [p.strip() for p in match.group(1).split(",")]
        numbers = [str(int(p) + 2) if p.isdigit() else p for p in shown]
        return f"(CSV row{'s' if len(numbers) > 1 else ''} {', '.join(numbers)})"
    return _POSITIONS.sub(rows, text)


def _read_csv(path: Path):
    import pandas as pd

    if not path.is_file():
        raise DataError("file not found.", file=str(path), hint="check the path to the CSV file.")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot be read as CSV ({exc}).", file=str(path),
                        hint="save the table as comma-separated text with a header row.") from exc


def _parse_size(value: str | None) -> int | tuple[int, int] | None:
    """``"160x192"`` → (160, 192); ``"128"`` → 128; None stays None."""
    if value is None:
        return None
    parts = value.lower().replace(",", "x").split("x")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise click.BadParameter(f"expected HEIGHTxWIDTH or one integer, got {value!r}") from None
    if len(numbers) not in (1, 2):
        raise click.BadParameter(f"expected HEIGHTxWIDTH or one integer, got {value!r}")
    return numbers[0] if len(numbers) == 1 else (numbers[0], numbers[1])


@cli.command("synth")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--patients", type=int, default=None, help="Included patients (default 181; 12 with --tiny).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--frames", type=int, default=None, help="Frames per video (default 24; 8 with --tiny).")
@click.option("--size", default=None, help="Panel size HEIGHTxWIDTH in pixels (default 160x192).")
@click.option("--tiny", is_flag=True, help="A dozen patients with few small frames, for tests and demos.")
@click.option("--syntax", type=click.Choice(SYNTH_SYNTAXES),
              default=None, help="Write every video in this format (video formats need PyAV); default: "
                                 "mostly uncompressed with some JPEG and RLE.")
def synth_command(out: Path, patients: int | None, seed: int, frames: int | None, size: str | None,
                  tiny: bool, syntax: str | None) -> None:
    """Write a synthetic renal CEUS cohort (DICOM videos, manifest, annotations, reads) to OUT."""
    from studykit.cli.progress import progress_bar
    from studykit.cohort.synth import synthesize

    with progress_bar() as hook:
        summary = synthesize(out, patients=patients, seed=seed, frames=frames, size=_parse_size(size),
                             tiny=tiny, syntax=syntax, progress=hook)
    _print_synth_summary(summary)


def _print_synth_summary(summary) -> None:
    verb = "already there (same arguments)" if summary.cached else "written"
    stdout.print(f"[bold]{summary.out_dir}[/]: {summary.patients} patients + {summary.excluded} excluded, "
                 f"{summary.frames} frames of {summary.frame_shape[0]}×{summary.frame_shape[1]} px, "
                 f"{summary.annotated_frames} annotated frames, {summary.bytes_written / 1e6:.1f} MB {verb}.")
    table = Table(title="Bayes-optimal patient-level AUC by evidence level "
                        "(per-frame arms: frame; readers: video)",
                  caption="this cohort (pop. = population, Monte-Carlo)")
    modalities = ("bmode", "ceus", "both")
    for name in ("evidence", *modalities):
        table.add_column(name, justify="left" if name == "evidence" else "right")
    for level, label in (("frame", "single frame"), ("video", "video"), ("all", "all latents")):
        table.add_row(label, *(f"{getattr(summary.bayes_auc, f'{level}_{m}'):.3f} "
                               f"(pop. {getattr(summary.bayes_auc_population, f'{level}_{m}'):.3f})"
                               for m in modalities))
    stdout.print(table)
    readers = Table(title="Simulated reader panels (majority vote)")
    for name in ("group", "sensitivity", "specificity", "ICC(2,1) of scores"):
        readers.add_column(name)
    for group in summary.readers:
        readers.add_row(group.group, f"{group.sensitivity:.3f}", f"{group.specificity:.3f}",
                        f"{group.icc:.3f}")
    stdout.print(readers)


@cli.command("ingest")
@click.argument("cohort_dir", type=click.Path(path_type=Path))
@click.option("--store-root", type=click.Path(path_type=Path), default=None,
              help="Where the content-addressed store goes (default COHORT_DIR/store).")
@click.option("--size", default="224x224", show_default=True, help="Crop size HEIGHTxWIDTH in pixels.")
@click.option("--margin", type=float, default=0.0, show_default=True,
              help="Widen each box by this fraction of its width/height per side.")
@click.option("--workers", type=int, default=1, show_default=True, help="Decoding processes.")
@click.option("--id-column", default="patient_id", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--positive", default="malignant", show_default=True)
@click.option("--negative", default="benign", show_default=True)
@click.option("--panels", default=None,
              help="Dual-display split of plain video files without a manifest 'panels' cell: "
                   "halves, or x0,y0,x1,y1;x0,y0,x1,y1 (B-mode first).")
def ingest_command(cohort_dir: Path, store_root: Path | None, size: str, margin: float, workers: int,
                   id_column: str, label_column: str, positive: str, negative: str,
                   panels: str | None) -> None:
    """Crop every annotated B-mode/CEUS pair of COHORT_DIR into a de-identified ROI pair store."""
    from studykit.cli.progress import progress_bar
    from studykit.cohort import ingest

    with progress_bar() as hook:
        store = ingest(cohort_dir, store_root, size=_parse_size(size), margin=margin, workers=workers,
                       id_column=id_column, label_column=label_column, positive=positive,
                       negative=negative, panels=panels, progress=hook)
    index = store.index
    positive_images = int(index["label"].sum())
    stdout.print(f"[bold]{store.path}[/]: {len(store)} pairs of {store.shape[2]}×{store.shape[3]} px from "
                 f"{index['patient_id'].nunique()} patients ({positive_images} positive images, "
                 f"{len(index) - positive_images} negative).")


def _window_options(command):
    """``--cortical`` and ``--medullary`` (START-END, s after injection), defaults from cohort.frames."""
    from studykit.cohort.frames import DEFAULT_WINDOWS

    for phase in reversed(list(DEFAULT_WINDOWS)):
        start, end = DEFAULT_WINDOWS[phase]
        command = click.option(f"--{phase}", default=f"{start:g}-{end:g}", show_default=True,
                               help=f"{phase.capitalize()} window START-END, s after injection.")(command)
    return command


def _windows(cortical: str, medullary: str) -> dict[str, tuple[float, float]]:
    from studykit.cohort.frames import parse_window

    return {"cortical": parse_window(cortical, "--cortical"),
            "medullary": parse_window(medullary, "--medullary")}


@cli.command("frames")
@click.argument("cohort_dir", type=click.Path(path_type=Path))
@_window_options
@click.option("--per-phase", type=int, default=3, show_default=True, help="Frames per phase and video.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Template file (default COHORT_DIR/annotations_template.csv).")
@click.option("--id-column", default="patient_id", show_default=True)
def frames_command(cohort_dir: Path, cortical: str, medullary: str, per_phase: int, out: Path | None,
                   id_column: str) -> None:
    """Propose frames to annotate by time since injection (manifest column injection_s) and write
    an annotation template with empty boxes; skipped videos and why go to <template>_skipped.csv."""
    from studykit.cohort.frames import propose_frames

    proposal = propose_frames(cohort_dir, _windows(cortical, medullary), per_phase, out=out,
                              id_column=id_column)
    template, skipped = proposal.template, proposal.skipped
    counts = template["phase"].value_counts()
    stdout.print(f"[bold]{proposal.template_path}[/]: {len(template)} frames of "
                 f"{template['file'].nunique()} videos ({counts.get('cortical', 0)} cortical, "
                 f"{counts.get('medullary', 0)} medullary); fill bmode_box and ceus_box (and cortex_box for "
                 "perfusion, optional), then save it as annotations.csv.")
    if len(skipped):
        table = Table(title=f"Skipped ({proposal.skipped_path.name})")
        for name in skipped.columns:
            table.add_column(name)
        for rec in skipped.itertuples(index=False):
            table.add_row(*(str(v) for v in rec))
        stdout.print(table)


@cli.group("annotations")
def annotations_group() -> None:
    """Bring box annotations made in other tools into a cohort's annotations.csv."""


@annotations_group.command("import")
@click.argument("format", type=click.Choice(ANNOTATION_FORMATS))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--cohort", "cohort_dir", type=click.Path(path_type=Path), required=True,
              help="The cohort folder (manifest.csv, videos/).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Table to write (default COHORT/annotations.csv).")
@click.option("--labels", default=None,
              help="Label (or phase attribute) names of the phases, PHASE=LABEL,… "
                   "(default: cortical=cortical,medullary=medullary).")
@_window_options
@click.option("--video", default=None,
              help="The video of an export whose image names carry only frame numbers.")
@click.option("--all-frames", is_flag=True,
              help="CVAT video: import interpolated boxes too, not only keyframes.")
@click.option("--panels", default=None,
              help="Dual-display split of plain videos without a manifest 'panels' cell: halves, or "
                   "x0,y0,x1,y1;x0,y0,x1,y1 (B-mode first).")
@click.option("--force", is_flag=True, help="Replace an existing table (kept first as <name>.bak<N>).")
@click.option("--id-column", default="patient_id", show_default=True)
@click.option("--cortex-label", default="cortex", show_default=True,
              help="Label of the reference boxes in the renal cortex (CEUS panel): cortex_box; '': none.")
def annotations_import_command(format: str, file: Path, cohort_dir: Path, out: Path | None,
                               labels: str | None,
                               cortical: str, medullary: str, video: str | None, all_frames: bool,
                               panels: str | None, force: bool, id_column: str, cortex_label: str) -> None:
    """Import FILE (a CVAT, COCO or Label Studio export in FORMAT) into a validated annotations.csv:
    boxes assigned to the B-mode or CEUS panel, frames 0-based, phases from labels or from the
    time since injection."""
    from studykit.cohort.annotation_import import import_annotations, parse_labels

    result = import_annotations(format, file, cohort_dir, out=out, labels=parse_labels(labels),
                                windows=_windows(cortical, medullary), video=video, all_frames=all_frames,
                                panels=panels, force=force, id_column=id_column, cortex_label=cortex_label)
    table = result.table
    counts = table["phase"].value_counts()
    cortex = (f"; {int((table[CORTEX_COLUMN] != '').sum())} with a cortex box"
              if CORTEX_COLUMN in table.columns else "")
    stdout.print(f"[bold]{result.path}[/]: {len(table)} frames of {table['file'].nunique()} videos from "
                 f"{table[id_column].nunique()} patients ({counts.get('cortical', 0)} cortical, "
                 f"{counts.get('medullary', 0)} medullary; phase from labels {result.from_labels}, from time "
                 f"since injection {result.from_time}{cortex}).")
    if result.backup is not None:
        stdout.print(f"the previous table is kept as [bold]{result.backup}[/].")


def _dynamic_range(value: str) -> float | dict[str, float]:
    """``"40"`` → 40.0; ``"ge_logiq_e9=38,mindray_resona7=42"`` → a value per manifest scanner."""
    try:
        if "=" not in value:
            return float(value)
        pairs = (item.split("=", 1) for item in _split_list(value) or [])
        return {scanner.strip(): float(db) for scanner, db in pairs}
    except ValueError:
        raise click.BadParameter(f"expected dB like 40 or SCANNER=DB,… like ge_logiq_e9=38; got {value!r}",
                                 param_hint="--dynamic-range") from None


@cli.command("perfusion")
@click.argument("cohort_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder for the tables and figure.")
@click.option("--model", type=click.Choice(["lognormal", "gamma"]), default="lognormal", show_default=True,
              help="Bolus model fitted to each TIC.")
@click.option("--dynamic-range", "dynamic_range", default="40", show_default=True,
              help="CEUS dynamic range in dB, one value or SCANNER=DB,… per manifest scanner.")
@click.option("--first-pass", "first_pass", type=float, default=None,
              help="Fit only this many s after each curve's highest sample (default: the whole curve).")
@click.option("--motion", is_flag=True, help="Compensate respiration by B-mode registration (scikit-image).")
@click.option("--group", default="label", show_default=True,
              help="Manifest column the mean TICs are grouped by (label, subtype, …).")
@click.option("--examples", type=click.IntRange(min=0), default=3, show_default=True,
              help="Patients with an ok fit drawn in the figure's panel B (0: none).")
def perfusion_command(cohort_dir: Path, out: Path, model: str, dynamic_range: str, first_pass: float | None,
                      motion: bool, group: str, examples: int) -> None:
    """Fit every included patient's lesion and cortex TICs (manifest column injection_s needed) and
    write perfusion.csv, perfusion_by_class.csv, tic_curves.csv, tic_summary.csv and tic.png/.pdf."""
    from studykit.study import perfusion_outputs

    flags = {"group": "--group", "dynamic_range_db": "--dynamic-range", "first_pass_s": "--first-pass"}
    with _as_cli_messages(None, flags):
        result = perfusion_outputs(cohort_dir, out, group=group, examples=examples, model=model,
                                   dynamic_range_db=_dynamic_range(dynamic_range), first_pass_s=first_pass,
                                   motion=motion)
    counts = result.table["status"].value_counts()
    statuses = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "poor fit", "failed"))
    stdout.print(f"{len(result.table)} patients ({statuses}); {result.curves['patient_id'].nunique()} with "
                 f"a TIC, {model} fits.")
    if result.examples:
        stdout.print(f"panel B: {', '.join(result.examples)}.")
    if not any(path.suffix == ".png" for path in result.written):
        stdout.print("[yellow]no figure[/]: no patient has a TIC; see the reason column of perfusion.csv.")
    stdout.print(f"written: [bold]{Path(out)}[/] ({', '.join(path.name for path in result.written)})")


def _split_list(value: str | None) -> list[str] | None:
    """``"a,b"`` → ["a", "b"]; None stays None."""
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _folds(value: str | None) -> list[int] | None:
    items = _split_list(value)
    try:
        return None if items is None else [int(v) for v in items]
    except ValueError:
        raise click.BadParameter(f"expected fold numbers like 0,1; got {value!r}") from None


@cli.command("run")
@click.argument("protocol", type=click.Path(path_type=Path))
@click.option("--arms", default=None, help="Model arms to train, comma-separated (default: all).")
@click.option("--folds", default=None, help="Folds to train, comma-separated 0-based (default: all).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="torch CPU threads for this run; overrides the protocol's runtime.threads "
                   "(default: the protocol's value, 2 unless it says otherwise).")
@click.option("--fresh", is_flag=True, help="Forget trained units and outputs first (cohort cache kept).")
@click.option("--results", "results", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Results root; the run writes RESULTS/<protocol name>/.")
@click.option("--wait-lock", is_flag=True,
              help="If another studykit process holds the results folder, wait for it instead of exiting.")
@executor_options
def run_command(protocol: Path, arms: str | None, folds: str | None, device: str, threads: int | None,
                fresh: bool, results: Path, wait_lock: bool, executor: str, wait_jobs: bool,
                max_parallel: int | None, requeue: bool, **resources) -> None:
    """Run the study of PROTOCOL: train every (arm, fold) unit, analyse, write tables, figures, report.

    With --executor slurm the units are submitted as a job array and the report as a job that
    depends on it; the command prints the job ids and returns (or follows them with --wait)."""
    from studykit.cli.progress import progress_bar
    from studykit.study import run

    trainer = make_executor(executor, wait_jobs, max_parallel, requeue, resources)
    with progress_bar() as hook:
        summary = run(protocol, arms=_split_list(arms), folds=_folds(folds), device=device, threads=threads,
                      fresh=fresh, results=results, progress=hook, wait_lock=wait_lock, executor=trainer)
    if summary.jobs:
        print_submission(summary, trainer)
        if wait_jobs:
            follow(summary.results)
        return
    _print_summary(summary)


@cli.command("validate")
@click.argument("protocol", type=click.Path(path_type=Path))
@click.option("--results", "results", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Results root (where a synthetic cohort is cached).")
def validate_command(protocol: Path, results: Path) -> None:
    """Check PROTOCOL, its files, the cohort tables and the reads; trains nothing.

    Checks everything `studykit run` checks before it trains; a synthetic cohort is generated
    (and cached for the run) first so that its reads are checked too."""
    from studykit.cli.progress import progress_bar
    from studykit.study import validate

    with progress_bar() as hook:
        checks = validate(protocol, results=results, progress=hook)
    for check in checks:
        stdout.print(f"[green]ok[/] {check.what}: {check.detail}")
    stdout.print(f"[bold]{protocol}[/] is valid.")


@cli.command("report")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--wait-lock", is_flag=True,
              help="If another studykit process holds the results folder, wait for it instead of exiting.")
def report_command(results_dir: Path, wait_lock: bool) -> None:
    """Rebuild reads, predictions, tables, figures and report.md of RESULTS_DIR from finished units."""
    from studykit.cli.progress import progress_bar
    from studykit.study import report

    with progress_bar() as hook:
        summary = report(results_dir, progress=hook, wait_lock=wait_lock)
    _print_summary(summary)


def _print_summary(summary) -> None:
    """Units trained/skipped, the headline Table 3 rows, missing units and the results path."""
    if summary.units:
        counts: dict[str, int] = {}
        for unit in summary.units:
            counts[unit.status] = counts.get(unit.status, 0) + 1
        stdout.print("units: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if summary.headline is not None:
        _print_headline(summary.headline)
    if summary.missing:
        listed = ", ".join(f"{arm} fold {fold}" for arm, fold in summary.missing)
        stdout.print(f"[yellow]missing units ({len(summary.missing)})[/]: {listed} — tables use the finished "
                     "units; run them (--arms/--folds) and then `studykit report`.")
    stdout.print(f"results: [bold]{summary.results}[/] (report: {summary.report})")


def _print_headline(headline) -> None:
    level = headline["ci_level"].iloc[0] if "ci_level" in headline and len(headline) else 0.95
    table = Table(title=f"Table 3 (patient level): AUC, sensitivity, specificity with {ci_label(level)}")
    for name in ("arm", "AUC", "sensitivity", "specificity"):
        table.add_column(name)
    for arm, rows in headline.groupby("arm", sort=False):
        cells = []
        for metric in ("auc", "sensitivity", "specificity"):
            row = rows[rows["metric"] == metric]
            if row.empty:
                cells.append("—")
                continue
            r = row.iloc[0]
            cells.append(f"{r['estimate']:.3f} ({r['ci_low']:.3f}–{r['ci_high']:.3f})")
        table.add_row(str(arm), *cells)
    stdout.print(table)


def _reader_counts(value: str) -> list[int]:
    """``"3,5,10"`` → [3, 5, 10]."""
    try:
        counts = [int(v) for v in _split_list(value) or []]
    except ValueError:
        raise click.BadParameter(f"expected reader counts like 3,5,10; got {value!r}") from None
    if not counts or min(counts) < 2:
        raise click.BadParameter(f"expected reader counts of at least 2, like 3,5,10; got {value!r}")
    return counts


@cli.command("plan")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--effect", type=float, required=True,
              help="AUC difference to detect in every comparison, e.g. 0.05.")
@click.option("--power", type=float, default=0.8, show_default=True, help="Target power.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Two-sided significance level.")
@click.option("--readers", "readers", default="3,5,10", show_default=True,
              help="Reader-panel sizes to plan for, comma-separated.")
@click.option("--analysis", type=click.Choice(["RRRC", "FRRC", "RRFC", "all"]), default="RRRC",
              show_default=True,
              help="MRMC analysis: random readers and cases (RRRC), fixed readers, fixed cases.")
@click.option("--method", type=click.Choice(["obuchowski", "delong"]), default="obuchowski",
              show_default=True,
              help="Variances of the model-vs-model plans (stats.auc_power_paired).")
@click.option("--wait-lock", is_flag=True,
              help="If another studykit process holds the results folder, wait for it instead of exiting.")
def plan_command(results_dir: Path, effect: float, power: float, alpha: float, readers: str, analysis: str,
                 method: str, wait_lock: bool) -> None:
    """Readers × cases the next study needs, planned from the finished study RESULTS_DIR.

    Plans every model arm against every reader panel (MRMC) and every compared pair of model
    arms (paired AUCs) to detect --effect; prints the table with its assumptions and writes
    RESULTS_DIR/planning.csv."""
    from studykit.study import plan

    flags = {"effect": "--effect", "power": "--power", "alpha": "--alpha", "readers": "--readers"}
    with _as_cli_messages(None, flags):
        planned = plan(results_dir, effect=effect, power=power, alpha=alpha, readers=_reader_counts(readers),
                       analysis=analysis, method=method, wait_lock=wait_lock)
    _print_plan(planned)


def _print_plan(planned) -> None:
    """One readers × patients table per MRMC analysis, one table of the model pairs, the assumptions."""
    table, goal = planned.table, (f"an AUC difference of {planned.effect:g} (power {planned.power:g}, "
                                  f"two-sided alpha {planned.alpha:g})")
    mrmc = table[table["comparison"] == "model_vs_readers"]
    for analysis, rows in mrmc.groupby("analysis", sort=False):
        counts = sorted({int(j) for j in rows["readers"]})
        grid = Table(title=f"Model vs reader panel ({analysis}): patients needed to detect {goal}")
        for name in ("model vs readers", *(f"{j} readers" for j in counts)):
            grid.add_column(name, justify="left" if name == "model vs readers" else "right")
        for (model, group), cells in rows.groupby(["arm_b", "arm_a"], sort=False):
            by_j = {int(r.readers): r for r in cells.itertuples(index=False)}
            grid.add_row(f"{model} vs {group}", *(_patients(by_j[j]) for j in counts))
        stdout.print(grid)
    pairs = table[table["comparison"] == "model_vs_model"]
    if len(pairs):
        grid = Table(title=f"Model vs model (paired AUCs): patients needed to detect {goal}")
        for name in ("models", "patients", "malignant / benign", "power"):
            grid.add_column(name, justify="left" if name == "models" else "right")
        for r in pairs.itertuples(index=False):
            split = "—" if r.cases != r.cases else f"{r.n_pos:.0f} / {r.n_neg:.0f}"
            grid.add_row(f"{r.arm_a} vs {r.arm_b}", _patients(r), split,
                         "—" if r.power != r.power else f"{r.power:.3f}")
        stdout.print(grid)
    stdout.print("[bold]Assumptions[/]")
    for line in planned.assumptions:
        stdout.print(f"- {line}", markup=False)
    stdout.print(f"written: [bold]{planned.path}[/]")


def _patients(row) -> str:
    """The patients needed, or why there is no number."""
    if row.cases == row.cases:  # not NaN
        return str(int(row.cases))
    return "unreachable" if row.power_max < row.target_power else "undefined"
