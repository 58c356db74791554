"""Where one (arm, fold) unit's files live (the unit folder's layout, defined once).

The study runner owns the whole results tree (DESIGN.md, derived files); this module only
knows the part below it::

    results/<protocol-name>/arms/<arm>/fold-<k>/
        checkpoint-last.pt   every epoch: everything needed to resume exactly
        checkpoint-best.pt   model weights of the epoch selected on the validation split
        history.csv          one row per epoch
        done.json            written last: the unit is finished (inputs' fingerprint)
        predictions.csv      the unit's test-image predictions (:func:`studykit.train.predict`)
        gradcam.npz          Grad-CAM maps of selected test images
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BEST", "DONE", "GRADCAM", "HISTORY", "LAST", "PREDICTIONS", "unit_dir"]

LAST = "checkpoint-last.pt"
BEST = "checkpoint-best.pt"
HISTORY = "history.csv"
DONE = "done.json"
PREDICTIONS = "predictions.csv"
GRADCAM = "gradcam.npz"


def unit_dir(results: str | Path, arm: str, fold: int) -> Path:
    """``results/arms/<arm>/fold-<k>``: the folder of one (arm, fold) unit.

    Parameters
    ----------
    results
        The protocol run's results folder (``results/<protocol-name>``).
    arm
        The arm's name (``ArmSpec.name``).
    fold
        The fold's 0-based index (``Fold.index``).
    """
    return Path(results) / "arms" / arm / f"fold-{int(fold)}"
