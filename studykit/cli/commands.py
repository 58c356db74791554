"""Thin commands: parse options, call the library, print with rich."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from studykit.cli.app import cli, stdout
from studykit.errors import DataError


@cli.command("auc")
@click.argument("csv_file", type=click.Path(path_type=Path))
@click.option("--label", "label_col", required=True, help="Column with the reference standard.")
@click.option("--score", "score_cols", required=True, multiple=True,
              help="Score column (repeat for several; two or more are compared pairwise by DeLong).")
@click.option("--positive", default=None, help="The positive label value when labels are not 0/1.")
@click.option("--cluster", "cluster_col", default=None,
              help="Cluster column (patient id for image-level rows): Obuchowski clustered variance.")
@click.option("--confidence", default=0.95, show_default=True, type=float)
def auc_command(csv_file: Path, label_col: str, score_cols: tuple[str, ...], positive: str | None,
                cluster_col: str | None, confidence: float) -> None:
    """AUC with DeLong CI for each score in CSV_FILE, and their paired DeLong comparisons."""
    from studykit import stats

    data = _read_csv(csv_file)
    rows = [stats.roc_auc(label_col, col, data=data, cluster=cluster_col, pos_label=positive,
                          confidence=confidence).assign(score=col) for col in score_cols]
    table = Table(title=f"AUC — {csv_file.name}")
    for name in ("score", "AUC", f"{confidence:.0%} CI", "n pos / neg", "method"):
        table.add_column(name)
    for row in rows:
        r = row.iloc[0]
        table.add_row(r["score"], f"{r['estimate']:.4f}", f"{r['ci_low']:.4f}–{r['ci_high']:.4f}",
                      f"{r['n_pos']} / {r['n_neg']}", r["method"])
    stdout.print(table)
    if len(score_cols) > 1:
        _print_comparisons(data, label_col, score_cols, positive, cluster_col, confidence)


def _print_comparisons(data, label_col, score_cols, positive, cluster_col, confidence) -> None:
    from studykit import stats

    cluster = None if cluster_col is None else data[cluster_col]
    result = stats.compare_aucs(data[label_col], {c: data[c] for c in score_cols}, cluster=cluster,
                                confidence=confidence, pos_label=positive)
    table = Table(title="Paired DeLong comparisons (Holm-adjusted p)")
    for name in ("A", "B", "difference", f"{confidence:.0%} CI", "z", "p", "p (Holm)"):
        table.add_column(name)
    for _, r in result.iterrows():
        table.add_row(r["arm_a"], r["arm_b"], f"{r['estimate']:+.4f}",
                      f"{r['ci_low']:+.4f} to {r['ci_high']:+.4f}", f"{r['statistic']:.3f}",
                      f"{r['p']:.4g}", f"{r['p_adjusted']:.4g}")
    stdout.print(table)


def _read_csv(path: Path):
    import pandas as pd

    if not path.is_file():
        raise DataError("file not found.", file=str(path), hint="check the path to the CSV file.")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot be read as CSV ({exc}).", file=str(path),
                        hint="save the table as comma-separated text with a header row.") from exc
