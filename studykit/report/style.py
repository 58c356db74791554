"""One figure style for every studykit figure: Okabe–Ito colours, journal sizes, deterministic files.

Sizes follow common journal columns (single 3.5 in, double 7.2 in) with 7–8 pt text, so
figures are readable when printed at column width. :func:`save_figure` writes PNG (dpi
200) and PDF atomically with fixed metadata, so the same data give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from studykit.vocab import atomic_write

__all__ = ["DOUBLE_COLUMN", "OKABE_ITO", "READER_COLORS", "READER_MARKERS", "SINGLE_COLUMN", "arm_colors",
           "color_cycle", "figure_style", "save_figure"]

#: Okabe & Ito (2008) colour-blind-safe palette, in the order studykit uses it.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
#: Colours and markers of the reader groups (ROC operating points, decision-curve markers), in order.
READER_COLORS = ("#CC79A7", "#000000", "#E69F00", "#56B4E9")
READER_MARKERS = ("D", "s", "^", "v")
#: Figure widths in inches.
SINGLE_COLUMN = 3.5
DOUBLE_COLUMN = 7.2
DPI = 200

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.2,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": "studykit",
    "svg.fonttype": "none",
    "image.interpolation": "nearest",
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
}
#: Metadata that would differ between runs (dates, versions) is blanked.
_METADATA = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}


@contextmanager
def figure_style() -> Iterator[None]:
    """Context manager applying studykit's rcParams (restored afterwards)."""
    with mpl.rc_context(RC):
        yield


def arm_colors(n: int, reader_groups: int = 0) -> list[str]:
    """Colours of ``n`` model arms drawn beside ``reader_groups`` reader groups: :data:`OKABE_ITO`
    in order without the readers' colours (the first ``reader_groups`` of :data:`READER_COLORS`),
    so that no arm's curve shares a colour with a reader group's markers; repeating when ``n``
    exceeds what is left."""
    taken = set(READER_COLORS[:reader_groups])
    palette = [c for c in OKABE_ITO if c not in taken]
    return [palette[i % len(palette)] for i in range(n)]


def color_cycle(n: int) -> list[str]:
    """``n`` colours from :data:`OKABE_ITO`, repeating when ``n`` exceeds eight."""
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(n)]


def save_figure(
    fig: Figure, path: str | os.PathLike, *, formats: Sequence[str] = ("png", "pdf"), dpi: int = DPI
) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``, atomically and reproducibly.

    ``path`` without suffix (``figures/roc``) gives ``figures/roc.png`` and ``roc.pdf``.
    Returns the written paths. PNG text chunks and PDF dates/producer are left out, so
    re-rendering the same data gives byte-identical files. ``dpi`` applies to PNG.
    """
    base = Path(path)
    base = base.with_suffix("") if base.suffix.lower() in (".png", ".pdf", ".svg") else base
    written = []
    with figure_style():
        for fmt in formats:
            target = base.parent / f"{base.name}.{fmt}"
            meta = _METADATA.get(fmt, {})
            save = lambda tmp, f=fmt, m=meta: fig.savefig(tmp, format=f, metadata=m, dpi=dpi)  # noqa: E731
            written.append(atomic_write(target, save))
    return written
