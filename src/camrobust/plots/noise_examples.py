"""Noise examples: one clean image under every model-free noise of the run, by severity."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from camrobust.plots.style import message_figure, new_figure, noise_label, noise_order, save


def noise_examples(
    clean: np.ndarray, examples: Mapping[str, Mapping[int, np.ndarray]], title: str, path: str | Path
) -> list[str]:
    """One image under each noise: a row per noise type (registry order), the clean image then
    one column per severity of the run (the severities any of the noises uses, ascending; a noise
    without that severity leaves its cell empty); pixels are drawn as squares, without smoothing.
    Returns the row order."""
    names = noise_order(examples)
    if not names:
        save(message_figure(title, "no model-free noise in this run"), path)
        return names
    levels = sorted({int(severity) for name in names for severity in examples[name]})
    cell = 1.1
    figure = new_figure(cell * (len(levels) + 1) + 1.4, cell * len(names) + 0.5)
    axes = figure.subplots(len(names), len(levels) + 1, squeeze=False)
    for row, name in enumerate(names):
        for column, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            panel = clean if column == 0 else examples[name].get(levels[column - 1])
            if panel is None:
                ax.set_axis_off()
            else:
                ax.imshow(panel, interpolation="nearest")
            if row == 0:
                ax.set_title("clean" if column == 0 else f"severity {levels[column - 1]}", fontsize=8)
        axes[row, 0].set_ylabel(noise_label(name), rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle(title, fontsize=10)
    save(figure, path)
    return names
