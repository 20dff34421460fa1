"""Model randomisation: similarity of each CAM to the trained model's as the stages are randomised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from camrobust import vocabulary
from camrobust.plots.style import cam_colors, cam_legend, cam_order, new_figure, save
from camrobust.plots.summary_rows import require_columns

SCORES: tuple[vocabulary.Score, ...] = (vocabulary.RBO, vocabulary.PIXEL_SPEARMAN, vocabulary.SSIM)


def randomisation(table: pd.DataFrame, path: str | Path, *, baselines: bool = True) -> pd.DataFrame:
    """One row of panels per (dataset, model), one panel per similarity (RBO, pixel Spearman,
    SSIM): x = stages randomised from the logits down (cumulative), y = the mean over images with
    its bootstrap CI (band), one line per CAM. The model-free baselines' similarity, 1 at every
    stage by construction, is the dashed reference line (``baselines``: name it in the legend).
    Returns the table drawn (randomisation.csv)."""
    names = [score.name for score in SCORES]
    require_columns(
        table,
        ["dataset", "model", "cam", "stage_index", "stage", *names, *(f"{n}_{e}" for n in names for e in ("lo", "hi"))],
        "randomisation table",
    )
    pairs = sorted(set(zip(table["dataset"], table["model"])))
    if not pairs:
        raise ValueError("randomisation table is empty")
    cams = cam_order(table["cam"].unique())
    colors = cam_colors(cams)
    n_stages = int(table["stage_index"].max())
    figure = new_figure(1.8 + len(SCORES) * (0.5 + 0.45 * n_stages + 1.2), 0.6 + 2.6 * len(pairs))
    axes = figure.subplots(len(pairs), len(SCORES), squeeze=False, sharey=True)
    for row, (dataset, model) in enumerate(pairs):
        rows = table[(table["dataset"] == dataset) & (table["model"] == model)]
        stages = rows.drop_duplicates("stage_index").sort_values("stage_index")
        for ax, score in zip(axes[row], SCORES):
            x = np.arange(len(stages) + 1)
            for cam in cams:
                part = rows[rows["cam"] == cam].sort_values("stage_index")
                if part.empty:
                    continue
                # stage 0: nothing randomised, the map equals itself
                y = np.concatenate([[1.0], part[score.name].to_numpy(float)])
                low = np.concatenate([[1.0], part[f"{score.name}_lo"].to_numpy(float)])
                high = np.concatenate([[1.0], part[f"{score.name}_hi"].to_numpy(float)])
                ax.plot(x, y, marker="o", markersize=3.5, color=colors[cam], linewidth=1.4)
                ax.fill_between(x, low, high, color=colors[cam], alpha=0.15, linewidth=0)
            ax.axhline(1.0, color="#616161", linewidth=1.0, linestyle="--")
            ax.axhline(0.0, color="#bdbdbd", linewidth=0.8)
            labels = ["none", *(f"+{s}" for s in stages["stage"])]
            ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=7.5)
            ax.set_ylim(-0.35 if score.name != vocabulary.RBO.name else -0.05, 1.08)
            ax.grid(axis="y", alpha=0.3)
            ax.set_title(f"{dataset} / {model}: {score.label}", fontsize=9)
        axes[row][0].set_ylabel("similarity to the\ntrained model's CAM", fontsize=8.5)
    for ax in axes[-1]:
        ax.set_xlabel("stages randomised (cumulative, from the logits)", fontsize=8)
    extra = [Line2D([], [], color="#616161", linestyle="--", label="model-free baselines (1)")] if baselines else []
    cam_legend(figure, cams, colors, extra)
    figure.suptitle(
        "Model randomisation: does the CAM change when the model's weights are redrawn? "
        "(lower = depends on the model; bands: bootstrap CI over images)",
        fontsize=10,
    )
    save(figure, path)
    return table
