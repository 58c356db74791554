"""A formatted table (strings only) and its LaTeX (booktabs) and markdown renderings."""

from __future__ import annotations

from dataclasses import dataclass, field

from studykit.report._format import latex_escape

__all__ = ["DisplayTable"]


@dataclass
class DisplayTable:
    """A table of already formatted cells.

    Attributes
    ----------
    header : list of str
        Column headings.
    rows : list of list of str
        Body cells (Unicode text; escaped on rendering).
    align : str
        One LaTeX column alignment letter per column (``"lrr"``).
    sections : dict of int to str
        Row index → heading printed above that row across all columns (e.g. the unit).
    indent : set of int
        Row indices whose first cell is indented (levels under a variable).
    notes : list of str
        Footnotes printed under the table.
    """

    header: list[str]
    rows: list[list[str]]
    align: str = ""
    sections: dict[int, str] = field(default_factory=dict)
    indent: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.align:
            self.align = "l" + "r" * (len(self.header) - 1)

    def to_latex(self, *, caption: str, label: str) -> str:
        """A ``table`` float with a booktabs ``tabular``, caption, label and notes."""
        ncol = len(self.header)
        lines = [
            r"\begin{table}[htbp]",
            r"\centering",
            r"\small",
            rf"\caption{{{latex_escape(caption)}}}",
            rf"\label{{{_label(label)}}}",
            rf"\begin{{tabular}}{{@{{}}{self.align}@{{}}}}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in self.header) + r" \\",
            r"\midrule",
        ]
        for i, row in enumerate(self.rows):
            if i in self.sections:
                if i > 0:
                    lines.append(r"\addlinespace")
                lines.append(
                    rf"\multicolumn{{{ncol}}}{{@{{}}l}}{{\textit{{{latex_escape(self.sections[i])}}}}} \\"
                )
            cells = [latex_escape(c) for c in row]
            if i in self.indent:
                cells[0] = r"\quad " + cells[0]
            lines.append(" & ".join(cells) + r" \\")
        lines.append(r"\bottomrule")
        lines.append(r"\end{tabular}")
        for note in self.notes:
            lines.append(rf"\par\smallskip\parbox{{\linewidth}}{{\footnotesize {latex_escape(note)}}}")
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        """A GitHub-flavoured markdown table; sections become bold rows."""

        def cells(values: list[str]) -> str:
            return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

        right = ["---:" if a == "r" else ":---:" if a == "c" else "---" for a in self.align]
        lines = [cells(self.header), "|" + "|".join(right) + "|"]
        for i, row in enumerate(self.rows):
            if i in self.sections:
                lines.append(cells([f"**{self.sections[i]}**"] + [""] * (len(row) - 1)))
            first = ("\u2003" + row[0]) if i in self.indent else row[0]
            lines.append(cells([first, *row[1:]]))
        return "\n".join(lines) + "\n"


def _label(label: str) -> str:
    """A label keeps only characters safe inside ``\\label{}``."""
    return "".join(c if c.isascii() and (c.isalnum() or c in ":-_.") else "-" for c in label)
