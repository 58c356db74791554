"""Number formatting and LaTeX escaping shared by tables, markdown and figures.

Formatters return plain Unicode text (en dash in ranges, U+2212 minus, ``±``); the LaTeX
writer escapes that text with :func:`latex_escape`, the markdown writer uses it as is.
Rounding happens here and nowhere else (STYLE.md, convention 1).
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

__all__ = ["fmt_ci", "fmt_count", "fmt_number", "fmt_p", "latex_escape", "percent_decimals"]

MINUS = "\u2212"
EN_DASH = "\u2013"
#: Cell text of a value that is missing or undefined.
MISSING = ""

_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_LATEX_UNICODE = {
    "\u2013": "--",
    "\u2014": "---",
    "\u2212": "$-$",
    "\u00b1": r"$\pm$",
    "\u2265": r"$\geq$",
    "\u2264": r"$\leq$",
    "\u2192": r"$\rightarrow$",
    "\u2190": r"$\leftarrow$",
    "\u00d7": r"$\times$",
    "\u2248": r"$\approx$",
    "\u2260": r"$\neq$",
    "\u00b7": r"$\cdot$",
    "\u2022": r"$\bullet$",
    "\u03b1": r"$\alpha$",
    "\u03b2": r"$\beta$",
    "\u03b3": r"$\gamma$",
    "\u03ba": r"$\kappa$",
    "\u03bc": r"$\mu$",
    "\u00b5": r"$\mu$",
    "\u03c3": r"$\sigma$",
    "\u03c7": r"$\chi$",
    "\u00b2": r"$^{2}$",
    "\u00b3": r"$^{3}$",
    "\u00b0": r"$^{\circ}$",
    "\u2018": "`",
    "\u2019": "'",
    "\u201c": "``",
    "\u201d": "''",
    "\u2026": r"\ldots{}",
    "\u00a0": "~",
    "\u2009": r"\,",
    "\u00df": r"\ss{}",
    "\u00e6": r"\ae{}",
    "\u00f8": r"\o{}",
    "\u00c5": r"\AA{}",
    "\u00e5": r"\aa{}",
}
#: Combining marks (after NFD decomposition) → LaTeX text accent commands.
_ACCENTS = {
    "\u0301": "'",
    "\u0300": "`",
    "\u0302": "^",
    "\u0308": '"',
    "\u0303": "~",
    "\u0327": "c",
    "\u030c": "v",
    "\u030a": "r",
    "\u0304": "=",
    "\u0306": "u",
    "\u0328": "k",
}


def latex_escape(text: Any) -> str:
    """Escape ``text`` for LaTeX text mode; the result is pure ASCII.

    The ten special characters (``& % $ # _ { } ~ ^ \\``) and ``< > |`` become their
    text-mode commands; common symbols become LaTeX (``–`` → ``--``, ``±`` → ``$\\pm$``,
    ``≥`` → ``$\\geq$``, ``−`` → ``$-$``, Greek letters → math); accented Latin letters
    become accent commands (``é`` → ``\\'{e}``). Any other non-ASCII character is replaced
    by ``?`` so the output compiles with any engine and no ``inputenc``.
    """
    out = []
    for char in str(text):
        if char in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[char])
        elif char.isascii():
            out.append(char)
        elif char in _LATEX_UNICODE:
            out.append(_LATEX_UNICODE[char])
        else:
            out.append(_accented(char))
    return "".join(out)


def _accented(char: str) -> str:
    base, *marks = unicodedata.normalize("NFD", char)
    if not base.isascii() or not marks or any(m not in _ACCENTS for m in marks):
        return "?"
    text = base if base not in "ij" else "\\" + base
    for mark in marks:
        text = f"\\{_ACCENTS[mark]}{{{text}}}"
    return text


def _missing(value: Any) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt_number(value: Any, decimals: int) -> str:
    """``value`` rounded to ``decimals`` places, with a true minus sign; ``""`` when missing."""
    if _missing(value):
        return MISSING
    value = float(value)
    if math.isinf(value):
        return "\u221e" if value > 0 else MINUS + "\u221e"
    text = f"{value:.{decimals}f}"
    if text.startswith("-"):
        text = MINUS + text[1:] if float(text[1:]) != 0 else text[1:]
    return text


def fmt_count(value: Any) -> str:
    """An integer count (``"36"``); ``""`` when missing."""
    return MISSING if _missing(value) else f"{round(float(value))}"


def fmt_ci(estimate: Any, low: Any, high: Any, decimals: int, *, scale: float = 1.0) -> str:
    """``"0.877 (0.830–0.930)"``; ``" to "`` replaces the dash when a bound is negative.

    ``scale`` multiplies all three values first (100 for percentages). Without a CI (NaN
    bounds) only the estimate is shown.
    """
    est = fmt_number(None if _missing(estimate) else float(estimate) * scale, decimals)
    if est == MISSING or _missing(low) or _missing(high):
        return est
    lo, hi = float(low) * scale, float(high) * scale
    sep = " to " if min(lo, hi) < 0 else EN_DASH
    return f"{est} ({fmt_number(lo, decimals)}{sep}{fmt_number(hi, decimals)})"


def fmt_p(value: Any, decimals: int = 3) -> str:
    """A p-value: ``"0.017"``, or ``"< 0.001"`` below 10^-decimals; ``""`` when missing."""
    if _missing(value):
        return MISSING
    floor = 10.0**-decimals
    if float(value) < floor:
        return f"< {floor:.{decimals}f}"
    return f"{min(float(value), 1.0):.{decimals}f}"


def percent_decimals(decimals: int) -> int:
    """Decimals of a percentage matching ``decimals`` of a proportion (0.877 ↔ 87.7 %)."""
    return max(decimals - 2, 0)
