"""Arm specifications: the reference recipe as written in models/, and errors that name the
file, line and YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from studykit.errors import ProtocolError
from studykit.protocol.arms import ArmSpec, load_arm

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("name", ["bmode_net", "ceus_net", "muf_net"])
def test_reference_arms_carry_the_papers_recipe(name):
    spec = load_arm(MODELS / f"{name}.yaml")
    assert (spec.backbone, spec.input_size, spec.epochs) == ("efficientnet_b3", 300, 100)
    assert (spec.optimizer.kind, spec.optimizer.lr, spec.optimizer.momentum) == ("sgd", 0.05, 0.9)
    assert spec.optimizer.weight_decay == 1e-4
    assert (spec.schedule.kind, spec.schedule.step_epochs, spec.schedule.gamma) == ("step", 10, 0.5)
    assert (spec.loss.kind, spec.loss.beta, spec.loss.gamma) == ("class_balanced_focal", 0.999, 2.0)
    assert spec.sampler.q == 0.0 and spec.pretrained == "imagenet"
    assert spec.selection.metric == "accuracy" and not spec.optimistic
    assert spec.augment.elastic_px > 0 and spec.augment.rotation_deg > 0 and spec.augment.noise > 0


def test_muf_net_loss_weights_and_modalities():
    muf = load_arm(MODELS / "muf_net.yaml")
    assert (muf.kind, muf.fusion, muf.modality) == ("mufnet", "attention", None)
    assert (muf.loss.weight_fused, muf.loss.weight_bmode, muf.loss.weight_ceus) == (1.0, 0.5, 0.5)
    assert load_arm(MODELS / "bmode_net.yaml").modality == "bmode"
    assert load_arm(MODELS / "ceus_net.yaml").modality == "ceus"


@pytest.mark.parametrize("name", ["bmode_net", "ceus_net", "muf_net"])
def test_tiny_variants_keep_the_architecture_and_loss_and_differ_by_the_demo_recipe(name):
    """The tiny (demo and test) arms keep the reference's kind, fusion, loss, sampling and
    aggregation; they differ in size and in the recipe that converges on ~150 patients
    (benchmarks/RESULTS.md), and in nothing else."""
    full, tiny = load_arm(MODELS / f"{name}.yaml"), load_arm(MODELS / "tiny" / f"{name}.yaml")
    assert (tiny.backbone, tiny.pretrained, tiny.input_size) == ("test_efficientnet", "none", 64)
    same = {"kind", "modality", "fusion", "loss", "sampler", "aggregation"}
    assert {k: getattr(tiny, k) for k in same} == {k: getattr(full, k) for k in same}
    recipe = {"name", "title", "backbone", "pretrained", "input_size", "epochs", "batch_size", "optimizer",
              "schedule", "selection", "augment", "drop_rate"}
    differ = {k for k in type(full).model_fields if getattr(tiny, k) != getattr(full, k)}
    assert differ <= recipe
    assert (tiny.optimizer.kind, tiny.schedule.kind, tiny.selection.metric) == ("adamw", "cosine", "last")
    assert (full.optimizer.kind, full.schedule.kind, full.selection.metric) == ("sgd", "step", "accuracy")
    # augmentation: geometric only (rotation, flips, zoom, shift, elastic, speckle, noise), no
    # photometric jitter; the elastic field's pixels scaled with the crop size
    assert (tiny.augment.gain, tiny.augment.contrast, tiny.augment.gamma) == (0, 0, 0)
    assert tiny.augment.rotation_deg == 180 and tiny.augment.vflip_p == 0.5
    per_pixel = full.augment.elastic_px / full.input_size
    assert tiny.augment.elastic_px / tiny.input_size == pytest.approx(per_pixel, rel=0.05)


def test_augment_spec_builds_the_augmenters_config():
    from studykit.train.augment import AugmentConfig

    spec = load_arm(MODELS / "muf_net.yaml")
    config = AugmentConfig(**spec.augment.model_dump())
    assert config.to_dict() == spec.augment.model_dump()
    assert AugmentConfig(**ArmSpec(name="a", kind="mufnet", augment={
        "rotation_deg": 0, "scale": 0, "translate": 0, "hflip_p": 0, "elastic_px": 0, "gain": 0,
        "contrast": 0, "gamma": 0, "speckle": 0, "noise": 0}).augment.model_dump()) == AugmentConfig()


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "arm.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("name: a\nkind: mufnet\nepochz: 3\n",
     r"(?s)arm.yaml: 1 problem in ArmSpec:\n  epochz \(line 3\): unknown key; did you mean 'epochs'\?"),
    ("name: a\nkind: mufnet\noptimizer:\n  lr: -1\n",
     r"optimizer.lr \(line 4\): Input should be greater than 0; got -1"),
    ("name: a\nkind: single\n", r"a 'single' arm needs modality: bmode or ceus"),
    ("name: a\nkind: mufnet\nmodality: ceus\n", r"a 'mufnet' arm uses both modalities"),
    ("name: a\nkind: transformer\n",
     r"kind \(line 2\): Input should be 'single', 'mufnet', 'sequence' or 'perfusion'; got 'transformer'"),
    ("name: a\nkind: mufnet\naugment: {scale: 1.2}\n",
     r"augment.scale \(line 3\): Input should be less than 1"),
    ("name: a\nkind: mufnet\nselection: {metric: f1}\n", r"selection.metric \(line 3\)"),
    ("name: a\nkind: mufnet\naugment:\n  pair_spatail: shared\n",
     r"augment.pair_spatail \(line 4\): unknown key; did you mean 'pair_spatial'\?"),
    ("name: a\n kind: mufnet\n", r"arm.yaml, row 2: is not valid YAML"),
    ("", r"arm.yaml: is empty"),
])
def test_bad_arm_specs_name_file_line_and_key(tmp_path, text, message):
    with pytest.raises(ProtocolError, match=message):
        load_arm(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ProtocolError, match=r"nope.yaml: file not found"):
        load_arm(tmp_path / "nope.yaml")


def test_overrides_are_validated_and_weights_resolve_next_to_the_file(tmp_path):
    path = write(tmp_path, "name: a\nkind: mufnet\npretrained: weights/b3.pth\n")
    spec = load_arm(path, epochs=7)
    assert spec.epochs == 7 and spec.pretrained == str(tmp_path / "weights" / "b3.pth")
    with pytest.raises(ProtocolError, match=r"epochs: Input should be greater than or equal to 1; got 0"):
        load_arm(path, epochs=0)


def test_test_fold_selection_is_flagged_optimistic():
    spec = ArmSpec(name="ref", kind="mufnet", selection={"split": "test_fold"})
    assert spec.optimistic
