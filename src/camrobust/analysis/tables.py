"""The robustness summary as a table to read or publish: the pooled rows of each (dataset, model)
with every estimate beside its CI, as a frame (:func:`headline`), Markdown or LaTeX."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from camrobust import registry, vocabulary

HEADLINE_COLUMNS: tuple[str, ...] = ("dataset", "model", "noise", "cam", "C", "R", "RM", "images", "note")
"""``C``, ``R``, ``RM``: "0.42 [0.38, 0.46]", "0.42 (no CI)" below min_n, "n/a" where undefined;
``images``: the images in the class-preserving / class-changing set; ``note``: the row's reason."""
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def estimate(value: float, low: float, high: float, digits: int = 2) -> str:
    """'0.42 [0.38, 0.46]', '0.42 (no CI)' where the interval is NaN, 'n/a' where the value is; a
    number that rounds to zero is written without a sign (a product of a rounding error, -6e-17,
    reads 0.00)."""
    if not math.isfinite(value):
        return "n/a"

    def shown(number: float) -> str:
        return f"{round(number, digits) + 0.0:.{digits}f}"

    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{shown(value)} (no CI)"
    return f"{shown(value)} [{shown(low)}, {shown(high)}]"


def headline(summary: pd.DataFrame) -> pd.DataFrame:
    """The pooled rows (severity "all") of the robustness summary, per (dataset, model, noise) by
    descending RM, formatted: :data:`HEADLINE_COLUMNS`."""
    pooled = summary[summary["severity"].astype(str) == "all"].copy()
    pooled["_rm"] = pooled[vocabulary.RM.name].fillna(-1.0)
    pooled = pooled.sort_values(["dataset", "model", "noise", "_rm", "cam"], ascending=[True, True, True, False, True])
    rows = []
    for _, row in pooled.iterrows():
        cells = {
            short: estimate(row[score.name], row[f"{score.name}_lo"], row[f"{score.name}_hi"])
            for short, score in zip(("C", "R", "RM"), vocabulary.ROBUSTNESS, strict=True)
        }
        reason = row.get("reason", "")
        rows.append(
            {
                "dataset": row["dataset"],
                "model": row["model"],
                "noise": row["noise"],
                "cam": row["cam"],
                **cells,
                "images": f"{int(row['images_same'])} / {int(row['images_changed'])}",
                "note": "" if not isinstance(reason, str) else reason,
            }
        )
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


def experiments(table: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(dataset, model, rows) of a headline table, sorted."""
    for (dataset, model), rows in table.groupby(["dataset", "model"], sort=True):
        yield str(dataset), str(model), rows


def to_markdown(summary: pd.DataFrame, ci: float) -> str:
    """The headline of every (dataset, model) as Markdown: a heading and a pipe table each."""
    level = f"{round(100 * ci)}% CI"
    parts = [
        "# Robustness (pooled over severities)\n",
        f"C, R and RM with percentile-bootstrap {level}s over images; images: class-preserving / "
        "class-changing set. (no CI): fewer than `metric.min_n` images in a set.\n",
    ]
    for dataset, model, rows in experiments(headline(summary)):
        parts.append(
            f"\n## {dataset} / {model}\n\n| noise | CAM | C | R | RM | images | note |\n|---|---|---|---|---|---|---|"
        )
        for _, row in rows.iterrows():
            cells = [registry.noise_label(row["noise"]), registry.cam_label(row["cam"]), row["C"], row["R"], row["RM"]]
            cells += [row["images"], row["note"]]
            parts.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(parts) + "\n"


def to_latex(summary: pd.DataFrame, ci: float) -> str:
    """The headline of every (dataset, model) as a LaTeX ``table`` with a booktabs ``tabular``."""
    level = f"{round(100 * ci)}\\% CI"
    parts = ["% camrobust: robustness pooled over severities; needs \\usepackage{booktabs}"]
    for dataset, model, rows in experiments(headline(summary)):
        parts += [
            "\\begin{table}[ht]",
            "\\centering",
            f"\\caption{{{latex(dataset)} / {latex(model)}: consistency C, responsiveness R and RM = C $\\times$ R "
            f"pooled over severities, with percentile-bootstrap {level}s over images. Images: class-preserving / "
            "class-changing set; (no CI): fewer than min\\_n images.}",
            "\\begin{tabular}{llllll}",
            "\\toprule",
            "noise & CAM & C & R & RM & images \\\\",
            "\\midrule",
        ]
        for _, row in rows.iterrows():
            cells = [registry.noise_label(row["noise"]), registry.cam_label(row["cam"]), row["C"], row["R"], row["RM"]]
            parts.append(" & ".join(latex(str(cell)) for cell in [*cells, row["images"]]) + " \\\\")
        parts += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(parts)


def latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(LATEX_SPECIALS.get(character, character) for character in text)
