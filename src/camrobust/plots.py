"""Report figures: robustness heat-maps, severity curves, CAM overlays, rank diagrams.

Every function draws one figure (a 150 dpi PNG, or a 100 dpi JPEG where ``path`` ends in
``.jpg``: the workflow's CAM overlay grids) at ``path`` with the Agg renderer on a pyplot-free
``Figure`` (no global figure registry, so nothing stays open after saving) and returns the data
it drew where that is useful. The main figures also come as ``*_figure`` functions that return
the ``Figure`` unsaved (for notebooks: it displays itself). Conventions shared by all figures:

- one fixed colour per CAM method (:func:`cam_colors`), whatever subset a figure shows;
- sequential values in [0, 1] use viridis; CAM overlays use inferno (both perceptually uniform);
- NaN values are drawn grey and hatched with the reason, never as 0;
- legends sit outside the axes, titles name the dataset and model.

The robustness summary has one row per (dataset, model, cam, noise, severity), ``severity``
being an int or ``"all"`` for rows pooled over severities (see ``robustness.robustness_table``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from skimage.segmentation import find_boundaries

from camrobust import registry

DPI = 150
JPEG_QUALITY = 90
JPEG_DPI = 100  # JPEG grids of many image cells: each cell still shows a 64 px image at 2x
POOLED = "all"
SCORE_CMAP = "viridis"
CAM_CMAP = "inferno"
NAN_FACE = "#d9d9d9"
CHANGED_RED = "#c62828"
REGION_BAND = (20, 60)

# Fixed orders, so colours and columns line up across figures: CAM method i gets tab10 colour i.
CANONICAL_CAMS = registry.CAM_METHODS
CANONICAL_NOISES = registry.NOISES
PANEL_METRICS = (
    ("consistency", "Consistency C"),
    ("responsiveness", "Responsiveness R"),
    ("rm", "RM = C × R"),
)
# (summary column, label, sign): sign -1 turns a distance into "higher = more stable".
AGREEMENT_MEASURES = (
    ("spearman", "Spearman ρ", 1.0),
    ("iou_top20", "IoU top-20%", 1.0),
    ("ssim", "SSIM", 1.0),
    ("l1", "−L1", -1.0),
    ("sensitivity_mean", "−sensitivity", -1.0),
)
SUMMARY_KEYS = ("dataset", "model", "cam", "noise", "severity")


# --------------------------------------------------------------------------- shared helpers


def _palette(name: str) -> list[tuple[float, float, float]]:
    """Colours of a qualitative matplotlib colormap (tab10, Dark2)."""
    colormap = colormaps[name]
    assert isinstance(colormap, ListedColormap), f"{name} is not a qualitative colormap"
    return list(colormap.colors)  # type: ignore[arg-type]


def _method_key(name: str) -> str:
    """Spelling-independent key: 'Grad-CAM++', 'gradcam_pp', 'GradCAMPlusPlus' -> 'gradcampp'."""
    key = name.lower().replace("++", "pp").replace("plusplus", "pp")
    return re.sub(r"[^a-z0-9]", "", key)


_CANONICAL_INDEX = {_method_key(name): i for i, name in enumerate(CANONICAL_CAMS)}


def cam_colors(methods: Iterable[str]) -> dict[str, str]:
    """Fixed hex colour per CAM method, identical in every figure and for every subset.

    The SPEC's ten methods get the ten tab10 colours in :data:`CANONICAL_CAMS` order (any
    spelling: case, '-', '_', '++'/'pp'); other names get a Dark2 colour picked by a stable hash.
    """
    known = _palette("tab10")
    extra = _palette("Dark2")
    colors: dict[str, str] = {}
    for method in methods:
        index = _CANONICAL_INDEX.get(_method_key(method))
        if index is not None:
            colors[method] = to_hex(known[index])
        else:
            digest = hashlib.blake2b(_method_key(method).encode(), digest_size=4).digest()
            colors[method] = to_hex(extra[int.from_bytes(digest, "little") % len(extra)])
    return colors


def _noise_order(noises: Iterable[str]) -> list[str]:
    """Unique noise names in :data:`CANONICAL_NOISES` (SPEC) order, others alphabetically."""
    rank = {name: i for i, name in enumerate(CANONICAL_NOISES)}
    return sorted(set(noises), key=lambda n: (rank.get(n, len(rank)), str(n)))


def _cam_order(cams: Iterable[str]) -> list[str]:
    """Unique CAM names in :data:`CANONICAL_CAMS` order (any spelling), others alphabetically."""
    return sorted(set(cams), key=lambda c: (_CANONICAL_INDEX.get(_method_key(c), len(_CANONICAL_INDEX)), c))


def _new_figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    """Pyplot-free figure rendered by Agg (nothing to close, no global state)."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path) -> None:
    """Write ``figure`` at ``path`` (parents created), tight around every label: PNG at DPI, or
    for a ``.jpg`` path JPEG at JPEG_DPI, the format for grids of photos and noise (PNG stores
    those at about twice the size)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".jpg":
        # full-resolution colour (no 4:2:0 chroma subsampling): red labels and thin lines stay sharp
        pil_kwargs = {"quality": JPEG_QUALITY, "subsampling": 0}
        figure.savefig(target, format="jpeg", dpi=JPEG_DPI, bbox_inches="tight", pad_inches=0.1, pil_kwargs=pil_kwargs)
    else:
        figure.savefig(target, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.1)
    figure.clear()


def _message_figure(title: str, message: str) -> Figure:
    """A figure that only says why the intended plot cannot be drawn."""
    figure = _new_figure(6.0, 1.4)
    figure.suptitle(title, fontsize=11)
    figure.text(0.5, 0.45, message, ha="center", va="center", fontsize=10, linespacing=1.4)
    return figure


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; has {list(frame.columns)}")


def _is_pooled(severity: pd.Series) -> pd.Series:
    """True on rows pooled over severities (severity 'all', also after a CSV round trip)."""
    return severity.astype(str).str.strip().str.lower() == POOLED


def _select(summary: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    """Rows of one (dataset, model); ValueError lists the available pairs."""
    _require_columns(summary, SUMMARY_KEYS, "robustness summary")
    rows = summary[(summary["dataset"] == dataset) & (summary["model"] == model)]
    if rows.empty:
        pairs = sorted(set(zip(summary["dataset"], summary["model"])))
        raise ValueError(f"no summary rows for dataset={dataset!r}, model={model!r}; available: {pairs}")
    return rows


def _per_severity(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of single severities with ``severity`` as int."""
    single = rows[~_is_pooled(rows["severity"])].copy()
    single["severity"] = pd.to_numeric(single["severity"]).astype(int)
    return single


def _text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on ``rgba`` (relative luminance)."""
    red, green, blue = rgba[:3]
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "white"


# --------------------------------------------------------------------------- 1. RM heat-map

_REASON_PATTERNS = {
    "no same-class": r"unchang|same|preserv|kept|consisten",
    "no changed": r"chang|flip|respons",
    "flat CAM": r"flat|constant|tie",
    "NaN score": r"\bnan\b",
}
_METRIC_REASON = {"consistency": "no same-class", "responsiveness": "no changed"}


def _short_reason(reason: object, metric: str) -> str:
    """One to three words for a NaN cell, from the summary row's ``reason``.

    A reason may name several causes; a Consistency cell prefers the one about class-preserving
    images, a Responsiveness cell the one about class changes. Unknown reasons are truncated.
    """
    text = "" if reason is None or (isinstance(reason, float) and math.isnan(reason)) else str(reason).strip()
    if not text:
        return "no data"
    preferred = _METRIC_REASON.get(metric)
    for short in sorted(_REASON_PATTERNS, key=lambda name: name != preferred):
        if re.search(_REASON_PATTERNS[short], text.lower()):
            return short
    first = text.split(";")[0].strip()
    return first if len(first) <= 14 else first[:13] + "…"


def _heatmap_cells(pooled: pd.DataFrame) -> pd.DataFrame:
    """Long table (cam, noise, metric, value, text) in drawing order: cams by RM descending."""
    duplicated = pooled.duplicated(["cam", "noise"])
    if duplicated.any():
        pairs = pooled.loc[duplicated, ["cam", "noise"]].values.tolist()
        raise ValueError(f"summary has several pooled rows for (cam, noise) {pairs}")
    noises = _noise_order(pooled["noise"])
    mean_rm = pooled.groupby("cam")["rm"].mean()
    cams = sorted(mean_rm.index, key=lambda c: (np.isnan(mean_rm[c]), -np.nan_to_num(mean_rm[c]), c))
    indexed = pooled.set_index(["cam", "noise"])
    cells = []
    for metric, _ in PANEL_METRICS:
        for cam in cams:
            for noise in noises:
                present = (cam, noise) in indexed.index
                value = float(indexed.loc[(cam, noise), metric]) if present else np.nan
                reason = indexed.loc[(cam, noise)].get("reason", "") if present else None
                text = f"{value:.2f}" if np.isfinite(value) else f"n/a:\n{_short_reason(reason, metric)}"
                cells.append({"cam": cam, "noise": noise, "metric": metric, "value": value, "text": text})
    return pd.DataFrame(cells)


def rm_heatmap(summary: pd.DataFrame, dataset: str, model: str, path: str | Path) -> pd.DataFrame:
    """Consistency, Responsiveness and RM as three cam x noise heat-maps (pooled severities).

    Rows are CAM methods sorted by mean RM over noises (highest first); cells carry the value
    (2 decimals) or, where it is NaN, a grey hatched cell with the abbreviated reason. One
    viridis colour bar (0-1) serves the three panels. Returns the drawn cells (cam, noise,
    metric, value, text) in drawing order.
    """
    cells = _pooled_cells(summary, dataset, model)
    _save(_draw_rm_heatmap(cells, dataset, model), path)
    return cells


def rm_heatmap_figure(summary: pd.DataFrame, dataset: str, model: str) -> Figure:
    """The figure of :func:`rm_heatmap`, unsaved."""
    return _draw_rm_heatmap(_pooled_cells(summary, dataset, model), dataset, model)


def _pooled_cells(summary: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    rows = _select(summary, dataset, model)
    _require_columns(rows, [m for m, _ in PANEL_METRICS], "robustness summary")
    pooled = rows[_is_pooled(rows["severity"])]
    if pooled.empty:
        raise ValueError(f"no pooled rows (severity == {POOLED!r}) for dataset={dataset!r}, model={model!r}")
    return _heatmap_cells(pooled)


def _draw_rm_heatmap(cells: pd.DataFrame, dataset: str, model: str) -> Figure:
    cams = list(dict.fromkeys(cells["cam"]))
    noises = list(dict.fromkeys(cells["noise"]))
    cmap = colormaps[SCORE_CMAP]
    norm = Normalize(0.0, 1.0)

    figure = _new_figure(1.6 + 3 * (0.62 * len(noises) + 0.25) + 0.9, 1.9 + 0.42 * len(cams))
    axes = figure.subplots(1, 3, sharey=True)
    for ax, (metric, label) in zip(axes, PANEL_METRICS):
        panel = cells[cells["metric"] == metric]
        matrix = panel["value"].to_numpy(float).reshape(len(cams), len(noises))
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, norm=norm, aspect="auto")
        for (i, j), value in np.ndenumerate(matrix):
            text = panel["text"].iloc[i * len(noises) + j]
            if np.isfinite(value):
                ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color=_text_color(cmap(norm(value))))
            else:
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5),
                        1,
                        1,
                        facecolor=NAN_FACE,
                        edgecolor="#9e9e9e",
                        hatch="////",
                        linewidth=0,
                    )
                )
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="#212121",
                    linespacing=0.9,
                    bbox={"facecolor": NAN_FACE, "edgecolor": "none", "pad": 0.6},
                )
        ax.set_title(label, fontsize=10)
        ax.set_xticks(range(len(noises)), noises, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_yticks(range(len(cams)), cams, fontsize=8.5)
        ax.set_xticks(np.arange(len(noises) + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(cams) + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=1.0)
        ax.tick_params(which="minor", length=0)
        ax.set_xlabel("noise type", fontsize=8.5)
    axes[0].set_ylabel("CAM method (sorted by mean RM)", fontsize=8.5)
    colorbar = figure.colorbar(image, ax=list(axes), shrink=0.9, aspect=25, pad=0.02)
    colorbar.set_label("score (unitless, 0–1; higher = better)", fontsize=8.5)
    colorbar.ax.tick_params(labelsize=8)
    figure.suptitle(f"{dataset} / {model} — CAM robustness pooled over severities", fontsize=11)
    return figure


# --------------------------------------------------------------------------- 2. severity curves


def _change_share(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Share of class changes n_changed / (n_same + n_changed) per ``keys``.

    Prediction changes do not depend on the CAM, so every CAM row of a group carries the same
    counts; the row with the most scored images stands for the group (CAMs with NaN scores
    may count fewer).
    """
    counted = rows.reset_index(drop=True).assign(n_total=lambda f: f["n_same"] + f["n_changed"])
    counts = counted.loc[
        counted.groupby(keys, sort=True)["n_total"].idxmax(), [*keys, "n_same", "n_changed", "n_total"]
    ]
    counts = counts.reset_index(drop=True)
    counts["share_changed"] = counts["n_changed"] / counts["n_total"].where(counts["n_total"] > 0)
    return counts


def _cam_legend(figure: Figure, cams: Sequence[str], colors: Mapping[str, str], extra: Sequence[Line2D] = ()) -> None:
    handles = [Line2D([], [], color=colors[c], marker="o", linewidth=2, label=c) for c in cams]
    figure.legend(
        handles=[*handles, *extra],
        loc="outside right center",
        title="CAM method",
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )


def severity_curves(summary: pd.DataFrame, dataset: str, model: str, path: str | Path, *, max_columns: int = 4) -> None:
    """:func:`severity_curves_figure` saved at ``path``."""
    _save(severity_curves_figure(summary, dataset, model, max_columns=max_columns), path)


def severity_curves_figure(summary: pd.DataFrame, dataset: str, model: str, *, max_columns: int = 4) -> Figure:
    """Consistency and Responsiveness vs severity, one column per noise, one line per CAM.

    Bands are the bootstrap 95% CIs (``*_lo`` / ``*_hi``); lines are dodged slightly along x
    so that equal values stay visible. Below each column, grey bars give the share of images
    whose predicted class changed, n_changed / (n_same + n_changed), with the counts: where it
    is 0 % Responsiveness is undefined (NaN, no point drawn), where it is 100 % Consistency is.
    Noises wrap after ``max_columns`` columns.
    """
    rows = _per_severity(_select(summary, dataset, model))
    _require_columns(
        rows,
        ["n_same", "n_changed", "consistency_lo", "consistency_hi", "responsiveness_lo", "responsiveness_hi"],
        "robustness summary",
    )
    if rows.empty:
        raise ValueError(f"no per-severity rows for dataset={dataset!r}, model={model!r} (only pooled rows)")
    noises = _noise_order(rows["noise"])
    cams = _cam_order(rows["cam"])
    colors = cam_colors(cams)
    shares = _change_share(rows, ["noise", "severity"])
    dodge = min(0.05, 0.4 / len(cams))  # small x offset per CAM so equal values stay visible
    n_cols = min(len(noises), max_columns)
    n_blocks = math.ceil(len(noises) / n_cols)

    figure = _new_figure(1.3 + 2.5 * n_cols + 1.5, 5.2 * n_blocks)
    grid = figure.add_gridspec(3 * n_blocks, n_cols, height_ratios=[3, 3, 1.4] * n_blocks)
    first_ax: dict[int, Axes] = {}
    for position, noise in enumerate(noises):
        block, col = divmod(position, n_cols)
        noise_rows = rows[rows["noise"] == noise]
        severities = sorted(noise_rows["severity"].unique())
        top = figure.add_subplot(grid[3 * block, col], sharey=first_ax.get(0))
        axes = [
            top,
            *(figure.add_subplot(grid[3 * block + r, col], sharex=top, sharey=first_ax.get(r)) for r in (1, 2)),
        ]
        for r, ax in enumerate(axes):
            first_ax.setdefault(r, ax)
        for ax, (metric, label) in zip(axes[:2], PANEL_METRICS[:2]):
            for i, cam in enumerate(cams):
                line = noise_rows[noise_rows["cam"] == cam].sort_values("severity")
                if line.empty:
                    continue
                x = line["severity"].to_numpy() + dodge * (i - (len(cams) - 1) / 2)
                ax.fill_between(
                    x,
                    line[f"{metric}_lo"].to_numpy(float),
                    line[f"{metric}_hi"].to_numpy(float),
                    color=colors[cam],
                    alpha=0.15,
                    linewidth=0,
                )
                ax.plot(
                    x,
                    line[metric].to_numpy(float),
                    color=colors[cam],
                    marker="o",
                    markersize=3.5,
                    linewidth=1.6,
                )
            if noise_rows[metric].isna().all():
                why = "no class-changing images" if metric == "responsiveness" else "no class-preserving images"
                ax.text(
                    0.5,
                    0.5,
                    f"undefined at every severity:\n{why}",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="#616161",
                )
            ax.set_ylim(-0.03, 1.03)
            ax.set_xticks(severities)
            ax.tick_params(labelbottom=False, labelsize=8)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(f"{label}\n(0–1)", fontsize=9)
            else:
                ax.tick_params(labelleft=False)
        axes[0].set_title(noise, fontsize=10)
        share = shares[shares["noise"] == noise]
        bars = axes[2].bar(share["severity"], 100 * share["share_changed"].fillna(0), color="#9e9e9e", width=0.6)
        for bar, (n_changed, n_total) in zip(bars, share[["n_changed", "n_total"]].itertuples(index=False)):
            axes[2].annotate(
                f"{n_changed}/{n_total}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 1.5),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6.5,
            )
        axes[2].set_ylim(0, 125)
        axes[2].set_yticks([0, 50, 100])
        axes[2].set_xticks(severities)
        axes[2].tick_params(labelsize=8)
        axes[2].set_xlabel("severity level", fontsize=9)
        axes[2].grid(axis="y", alpha=0.3)
        if col == 0:
            axes[2].set_ylabel("class\nchanged (%)", fontsize=9)
        else:
            axes[2].tick_params(labelleft=False)
    band = Line2D([], [], color="#757575", linewidth=6, alpha=0.3, label="95% bootstrap CI")
    _cam_legend(figure, cams, colors, [band])
    figure.suptitle(f"{dataset} / {model} — Consistency and Responsiveness vs noise severity", fontsize=11)
    return figure


# --------------------------------------------------------------------------- 3. CAM overlays


def _check_overlay_shapes(
    clean_images: np.ndarray,
    noisy_images: np.ndarray,
    clean_cams: Mapping[str, np.ndarray],
    noisy_cams: Mapping[str, np.ndarray],
    severities: Sequence[int],
    clean_pred: np.ndarray,
    noisy_pred: np.ndarray,
    segments: np.ndarray | None,
) -> None:
    n_images, height, width = clean_images.shape[:3]
    expected = {
        "noisy_images": (noisy_images.shape, (n_images, len(severities), height, width, 3)),
        "clean_pred": (clean_pred.shape, (n_images,)),
        "noisy_pred": (noisy_pred.shape, (n_images, len(severities))),
    }
    if segments is not None:
        expected["segments"] = (segments.shape, (n_images, height, width))
    for cam in clean_cams:
        expected[f"clean_cams[{cam!r}]"] = (np.shape(clean_cams[cam]), (n_images, height, width))
        if cam not in noisy_cams:
            raise ValueError(f"noisy_cams has no {cam!r}; it has {sorted(noisy_cams)}")
        expected[f"noisy_cams[{cam!r}]"] = (
            np.shape(noisy_cams[cam]),
            (n_images, len(severities), height, width),
        )
    for name, (shape, wanted) in expected.items():
        if tuple(shape) != wanted:
            raise ValueError(f"{name} has shape {tuple(shape)}, expected {wanted}")


def _boundary_layer(segments: np.ndarray, min_pixels: int = 256) -> np.ndarray:
    """RGBA layer of region boundaries, drawn on a nearest-upsampled label map so lines stay
    thin on small (e.g. 64 px) images."""
    factor = max(1, min(8, math.ceil(min_pixels / max(segments.shape))))
    upsampled = np.kron(segments, np.ones((factor, factor), dtype=segments.dtype))
    layer = np.zeros((*upsampled.shape, 4))
    layer[find_boundaries(upsampled, mode="inner")] = (1.0, 1.0, 1.0, 0.6)
    return layer


def _overlay_cell(ax: Axes, image: np.ndarray, cam: np.ndarray, boundaries: np.ndarray | None) -> None:
    """Image, CAM at alpha 0.5 (inferno, 0-1) and optional white region boundaries."""
    height, width = image.shape[:2]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    ax.imshow(image, interpolation="nearest", extent=extent)
    ax.imshow(cam, cmap=CAM_CMAP, vmin=0.0, vmax=1.0, alpha=0.5, interpolation="bilinear", extent=extent)
    if boundaries is not None:
        ax.imshow(boundaries, interpolation="nearest", extent=extent)
    ax.set_xticks([])
    ax.set_yticks([])


def cam_overlay_grid(
    clean_images: np.ndarray,
    noisy_images: np.ndarray,
    clean_cams: Mapping[str, np.ndarray],
    noisy_cams: Mapping[str, np.ndarray],
    severities: Sequence[int],
    clean_pred: np.ndarray,
    noisy_pred: np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    title: str,
    segments: np.ndarray | None = None,
    image_ids: Sequence[str] | None = None,
) -> None:
    """Grid of CAM overlays: rows = images x CAMs, columns = clean + each severity.

    Inputs: clean_images uint8 (K,H,W,3), noisy_images uint8 (K,S,H,W,3), CAMs in [0,1]
    (K,H,W) / (K,S,H,W) per method, predicted classes (K,) / (K,S), optional clean-image
    segments (K,H,W) drawn as white region boundaries. Each cell title is the predicted class,
    red and marked '≠' where it differs from the clean prediction.
    """
    clean_images, noisy_images = np.asarray(clean_images), np.asarray(noisy_images)
    clean_pred, noisy_pred = np.asarray(clean_pred), np.asarray(noisy_pred)
    if not clean_cams:
        raise ValueError("clean_cams is empty; pass at least one CAM method")
    _check_overlay_shapes(
        clean_images, noisy_images, clean_cams, noisy_cams, severities, clean_pred, noisy_pred, segments
    )
    cams = list(clean_cams)
    n_images = clean_images.shape[0]
    ids = list(image_ids) if image_ids is not None else [str(k) for k in range(n_images)]
    boundaries = (
        [_boundary_layer(np.asarray(segments[k])) for k in range(n_images)]
        if segments is not None
        else [None] * n_images
    )
    n_rows, n_cols = n_images * len(cams), 1 + len(severities)

    figure = _new_figure(1.2 + 1.45 * n_cols + 0.8, 0.9 + 1.55 * n_rows)
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    for k in range(n_images):
        clean_name = class_names[int(clean_pred[k])]
        for c, cam in enumerate(cams):
            row = axes[k * len(cams) + c]
            _overlay_cell(row[0], clean_images[k], np.asarray(clean_cams[cam])[k], boundaries[k])
            row[0].set_title(f"clean: {clean_name}", fontsize=8)
            row[0].set_ylabel(f"image {ids[k]}\n{cam}", fontsize=8.5, color=cam_colors([cam])[cam], fontweight="bold")
            for s in range(len(severities)):
                _overlay_cell(row[1 + s], noisy_images[k, s], np.asarray(noisy_cams[cam])[k, s], boundaries[k])
                predicted = int(noisy_pred[k, s])
                changed = predicted != int(clean_pred[k])
                label = f"{'≠ ' if changed else ''}{class_names[predicted]}"
                row[1 + s].set_title(
                    label,
                    fontsize=8,
                    color=CHANGED_RED if changed else "black",
                    fontweight="bold" if changed else "normal",
                )
    for ax, header in zip(axes[0], ["clean", *(f"severity {severity}" for severity in severities)]):
        ax.annotate(
            header,
            (0.5, 1.0),
            xytext=(0, 14),
            xycoords="axes fraction",
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
        )
    colorbar = figure.colorbar(
        ScalarMappable(norm=Normalize(0.0, 1.0), cmap=CAM_CMAP),
        ax=axes.ravel().tolist(),
        shrink=min(0.9, 2.5 / n_rows),
        aspect=30,
        pad=0.02,
    )
    colorbar.set_label("CAM value (min-max normalised, 0–1)", fontsize=8.5)
    figure.suptitle(f"{title}\ncell title = predicted class (red ≠ : differs from clean)", fontsize=10)
    _save(figure, path)


# --------------------------------------------------------------------------- 4. CD diagram


def _cd_problem(ranks: pd.Series, pvalues: pd.DataFrame) -> str | None:
    """Why a critical-difference diagram cannot be drawn, or None when it can."""
    if len(ranks) < 2:
        return f"Only {len(ranks)} CAM method(s) to compare; the diagram needs at least 2."
    if ranks.isna().all():
        return (
            "No average ranks: fewer than 2 images have a score for every CAM method in this set\n"
            "(e.g. no image changed class under this noise)."
        )
    if ranks.isna().any():
        return f"Average rank is NaN for {list(ranks.index[ranks.isna()])}."
    off_diagonal = pvalues.to_numpy(float)[~np.eye(len(ranks), dtype=bool)]
    if np.isnan(off_diagonal).any():
        nan_pairs = [
            f"{a}–{b}" for i, a in enumerate(ranks.index) for b in ranks.index[i + 1 :] if np.isnan(pvalues.loc[a, b])
        ]
        shown = ", ".join(nan_pairs[:3]) + (f" and {len(nan_pairs) - 3} more" if len(nan_pairs) > 3 else "")
        return f"Nemenyi p-values are NaN for {shown}\n(too few paired images, or the test did not run)."
    return None


def cd_diagram(
    ranks: pd.Series | Mapping[str, float],
    pvalues: pd.DataFrame,
    path: str | Path,
    title: str,
    *,
    alpha: float = 0.05,
    rank_label: str = "average rank (1 = best)",
) -> str | None:
    """Critical-difference diagram of CAM methods (scikit-posthocs), CAM colours as elsewhere.

    ``ranks``: average rank per CAM; ``pvalues``: Nemenyi p-value matrix (cam x cam). Methods
    joined by a black bar do not differ at ``alpha``. With fewer than 2 methods or NaN ranks /
    p-values the PNG is a text figure saying why, and that reason is returned (else None).
    """
    ranks, matrix, problem = _cd_inputs(ranks, pvalues)
    _save(_draw_cd_diagram(ranks, matrix, problem, title, alpha, rank_label), path)
    return problem


def cd_diagram_figure(
    ranks: pd.Series | Mapping[str, float],
    pvalues: pd.DataFrame,
    title: str,
    *,
    alpha: float = 0.05,
    rank_label: str = "average rank (1 = best)",
) -> Figure:
    """The figure of :func:`cd_diagram`, unsaved."""
    return _draw_cd_diagram(*_cd_inputs(ranks, pvalues), title, alpha, rank_label)


def _cd_inputs(
    ranks: pd.Series | Mapping[str, float], pvalues: pd.DataFrame
) -> tuple[pd.Series, pd.DataFrame, str | None]:
    """Ranks, the checked symmetric p-value matrix in their order, and why no diagram (or None)."""
    ranks = pd.Series(ranks, dtype=float)
    missing = [c for c in ranks.index if c not in pvalues.index or c not in pvalues.columns]
    if missing:
        raise ValueError(f"pvalues has no row/column for {missing}; it has rows {list(pvalues.index)}")
    matrix = pvalues.loc[ranks.index, ranks.index].astype(float)
    values = matrix.to_numpy(copy=True)
    np.fill_diagonal(values, 1.0)
    if not np.allclose(values, values.T, equal_nan=True):
        raise ValueError(f"pvalues must be symmetric (cam x cam); got\n{matrix}")
    matrix = pd.DataFrame(values, index=ranks.index, columns=ranks.index)
    return ranks, matrix, _cd_problem(ranks, matrix)


def _draw_cd_diagram(
    ranks: pd.Series, matrix: pd.DataFrame, problem: str | None, title: str, alpha: float, rank_label: str
) -> Figure:
    if problem is not None:
        return _message_figure(title, f"No critical-difference diagram.\n{problem}")
    import scikit_posthocs  # imported here: it loads seaborn and pyplot, which no other figure needs

    n_methods = len(ranks)
    figure = _new_figure(7.5, 1.4 + 0.3 * (math.ceil(n_methods / 2) + n_methods), constrained=False)
    ax = figure.add_axes((0.22, 0.08, 0.56, 0.72))
    scikit_posthocs.critical_difference_diagram(
        ranks,
        matrix,
        ax=ax,
        alpha=alpha,
        color_palette=cam_colors(ranks.index),
        label_fmt_left="{label} ({rank:.2f})",
        label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": 9},
        marker_props={"s": 30},
        elbow_props={"linewidth": 1.4},
        text_h_margin=0.15,
    )
    ax.set_xlim(1 - 0.05 * n_methods, n_methods + 0.05 * n_methods)
    ax.set_xticks(range(1, n_methods + 1))
    ax.tick_params(axis="x", labelsize=9)
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(rank_label, fontsize=9)
    ax.set_title(title, fontsize=11, pad=10)
    figure.text(
        0.5,
        0.0,
        f"black bars join methods that are not significantly different (Nemenyi, α = {alpha:g})",
        ha="center",
        va="top",
        fontsize=8,
        color="#424242",
    )
    return figure


# --------------------------------------------------------------------------- 5. ranking agreement


def _cam_means(rows: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per-CAM mean over noises of the pooled rows (NaN-skipping: NaN RM cells are the same
    noises for every CAM because prediction changes do not depend on the CAM)."""
    pooled = rows[_is_pooled(rows["severity"])]
    return pooled.groupby("cam")[list(columns)].mean()


def _ranking_rows(means: pd.DataFrame, measures: Sequence[tuple[str, str, float]]) -> pd.DataFrame:
    """Ranks (1 = most robust, ties averaged) per measure and Kendall tau against the RM rank."""
    table = pd.DataFrame(index=means.index)
    table["rm"] = means["rm"]
    table["rank_rm"] = means["rm"].rank(ascending=False, method="average")
    for column, _, sign in measures:
        table[column] = means[column]
        table[f"rank_{column}"] = (sign * means[column]).rank(ascending=False, method="average")
    from scipy.stats import kendalltau

    for column, _, _ in measures:
        both = table[["rank_rm", f"rank_{column}"]].dropna()
        tau = kendalltau(both["rank_rm"], both[f"rank_{column}"]).statistic if len(both) >= 2 else np.nan
        table[f"tau_{column}"] = tau
    return table.sort_values(["rank_rm", "rm"], na_position="last")


def ranking_agreement(summary: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """CAM ranking by RM beside the rankings by the complementary similarities.

    Per (dataset, model), CAMs are ranked (1 = most robust) by the mean over noises of the
    pooled RM and of the pooled mean spearman, iou_top20, ssim, -l1 and -sensitivity_mean
    (columns absent from ``summary`` are skipped). Kendall's tau-b compares each ranking with
    the RM ranking (1 = same order, -1 = reversed). Drawn as a bump chart per (dataset, model);
    returns one row per (dataset, model, cam): value, rank_* and tau_* columns.
    """
    _require_columns(summary, [*SUMMARY_KEYS, "rm"], "robustness summary")
    measures = [m for m in AGREEMENT_MEASURES if m[0] in summary.columns]
    pairs = sorted(set(zip(summary["dataset"], summary["model"])))
    tables = []
    for dataset, model in pairs:
        means = _cam_means(_select(summary, dataset, model), ["rm", *[m[0] for m in measures]])
        tables.append(_ranking_rows(means, measures).reset_index().assign(dataset=dataset, model=model))
    if not tables:
        raise ValueError("robustness summary is empty")
    table = pd.concat(tables, ignore_index=True)
    table = table[["dataset", "model", "cam", *[c for c in table.columns if c not in ("dataset", "model", "cam")]]]
    _draw_ranking_agreement(table, pairs, measures, path)
    return table


def _draw_ranking_agreement(
    table: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    measures: Sequence[tuple[str, str, float]],
    path: str | Path,
) -> None:
    """Bump chart: x = measure, y = rank (1 on top), one line per CAM, tau above each measure."""
    labels = ["RM", *[m[1] for m in measures]]
    columns = ["rank_rm", *[f"rank_{m[0]}" for m in measures]]
    cams = _cam_order(table["cam"])
    colors = cam_colors(cams)
    n_cams = table.groupby(["dataset", "model"]).size().max()
    n_cols = min(len(pairs), 3)
    n_rows = math.ceil(len(pairs) / n_cols)
    figure = _new_figure(1.0 + n_cols * (0.85 * len(labels) + 0.8) + 1.6, n_rows * (1.9 + 0.38 * n_cams))
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False).ravel())
    x = np.arange(len(labels))
    for ax, (dataset, model) in zip(axes, pairs):
        rows = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for _, row in rows.iterrows():
            ax.plot(
                x,
                row[columns].to_numpy(float),
                color=colors[row["cam"]],
                marker="o",
                markersize=5,
                linewidth=1.8,
                alpha=0.9,
            )
        taus = [
            "",
            *[
                (
                    f"τ={rows[f'tau_{m[0]}'].iloc[0]:+.2f}".replace("-", "−")
                    if np.isfinite(rows[f"tau_{m[0]}"].iloc[0])
                    else "τ=n/a"
                )
                for m in measures
            ],
        ]
        for xi, tau in zip(x, taus):
            ax.annotate(
                tau,
                (xi, 1.0),
                xytext=(0, 4),
                xycoords=("data", "axes fraction"),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
            )
        ax.set_xticks(x, labels, rotation=30, ha="right", rotation_mode="anchor", fontsize=8.5)
        ax.set_ylim(len(rows) + 0.5, 0.5)
        by_rank = rows.groupby("rank_rm", sort=True)["cam"].agg(list)
        ax.set_yticks(by_rank.index, [f"{', '.join(group)}  {rank:g}" for rank, group in by_rank.items()], fontsize=8)
        for tick, group in zip(ax.get_yticklabels(), by_rank):
            tick.set_color(colors[group[0]] if len(group) == 1 else "black")
        if ax is axes[0]:
            ax.set_ylabel("rank\n(1 = most robust)", fontsize=8.5)
        ax.set_xlim(-0.3, len(labels) - 0.7)
        ax.grid(axis="y", alpha=0.3)
        ax.axvline(0, color="#bdbdbd", linewidth=6, alpha=0.4, zorder=0)
        ax.set_title(f"{dataset} / {model}", fontsize=10, pad=16)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    _cam_legend(figure, cams, colors)
    figure.suptitle(
        "CAM ranking by RM vs by other similarity measures\n"
        "(left labels: methods in RM order; τ = Kendall tau with the RM ranking)",
        fontsize=10.5,
    )
    _save(figure, path)


# --------------------------------------------------------------------------- 6. region counts


def region_count_histogram(
    n_regions: Mapping[str, np.ndarray], path: str | Path, *, band: tuple[int, int] = REGION_BAND
) -> pd.DataFrame:
    """Histogram of segmentation regions per image, one panel per dataset, target band shaded.

    Returns per dataset: n_images, min, median, max and share_in_band (fraction of images with
    band[0] <= m <= band[1]).
    """
    if not n_regions:
        raise ValueError("n_regions is empty; pass {dataset: array of region counts}")
    counts = {name: np.asarray(values, dtype=int).ravel() for name, values in n_regions.items()}
    empty = [name for name, values in counts.items() if values.size == 0]
    if empty:
        raise ValueError(f"no region counts for datasets {empty}")
    stats = pd.DataFrame(
        [
            {
                "dataset": name,
                "n_images": values.size,
                "min": int(values.min()),
                "median": float(np.median(values)),
                "max": int(values.max()),
                "share_in_band": float(np.mean((values >= band[0]) & (values <= band[1]))),
            }
            for name, values in counts.items()
        ]
    )
    upper = max(int(v.max()) for v in counts.values())
    step = max(1, math.ceil((upper + 1) / 60))
    bins = np.arange(0, upper + step + 1, step) - 0.5
    palette = _palette("Dark2")
    figure = _new_figure(7.0, 0.6 + 1.6 * len(counts))
    axes = np.atleast_1d(figure.subplots(len(counts), 1, sharex=True, squeeze=False).ravel())
    for i, (ax, (name, values)) in enumerate(zip(axes, counts.items())):
        ax.axvspan(
            band[0] - 0.5,
            band[1] + 0.5,
            color="#c8e6c9",
            alpha=0.7,
            zorder=0,
            label=f"target {band[0]}–{band[1]}",
        )
        ax.hist(values, bins=bins, color=palette[i % len(palette)], edgecolor="white", linewidth=0.5)
        row = stats.iloc[i]
        ax.set_title(
            f"{name}: n = {row['n_images']} images, median m = {row['median']:g} "
            f"(range {row['min']}–{row['max']}), {100 * row['share_in_band']:.0f}% in target band",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel("images", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("segmentation regions per image (m)", fontsize=9)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    figure.suptitle("Number of segmentation regions per clean image", fontsize=11)
    _save(figure, path)
    return stats


# --------------------------------------------------------------------------- 7. class-change rate


def attack_success(summary: pd.DataFrame, path: str | Path, *, max_columns: int = 4) -> pd.DataFrame:
    """Share of images whose predicted class changes, vs severity, one panel per noise.

    Share = n_changed / (n_same + n_changed) (the attack success rate for fgsm / pgd, the
    class-change rate for the other noises), one line per (dataset, model). Returns the drawn
    table: dataset, model, noise, severity, n_same, n_changed, n_total, share_changed.
    """
    shares = _change_shares(summary)
    _save(_draw_attack_success(shares, max_columns), path)
    return shares


def attack_success_figure(summary: pd.DataFrame, *, max_columns: int = 4) -> Figure:
    """The figure of :func:`attack_success`, unsaved."""
    return _draw_attack_success(_change_shares(summary), max_columns)


def _change_shares(summary: pd.DataFrame) -> pd.DataFrame:
    _require_columns(summary, [*SUMMARY_KEYS, "n_same", "n_changed"], "robustness summary")
    rows = _per_severity(summary)
    if rows.empty:
        raise ValueError("robustness summary has no per-severity rows (only pooled ones)")
    return _change_share(rows, ["dataset", "model", "noise", "severity"])


def _draw_attack_success(shares: pd.DataFrame, max_columns: int) -> Figure:
    noises = _noise_order(shares["noise"])
    pairs = sorted(set(zip(shares["dataset"], shares["model"])))
    palette = _palette("tab10")
    markers = "os^Dvp*hX"
    n_cols = min(len(noises), max_columns)
    n_rows = math.ceil(len(noises) / n_cols)
    figure = _new_figure(1.0 + 2.4 * n_cols + 2.0, 0.6 + 2.1 * n_rows)
    axes = figure.subplots(n_rows, n_cols, squeeze=False, sharey=True).ravel()
    for ax, noise in zip(axes, noises):
        for i, (dataset, model) in enumerate(pairs):
            line = shares[(shares["noise"] == noise) & (shares["dataset"] == dataset) & (shares["model"] == model)]
            ax.plot(
                line["severity"],
                100 * line["share_changed"],
                color=palette[i % len(palette)],
                marker=markers[i % len(markers)],
                markersize=4,
                linewidth=1.6,
                label=f"{dataset} / {model}",
            )
        ax.set_title(noise, fontsize=10)
        ax.set_ylim(-3, 103)
        ax.set_xticks(sorted(shares.loc[shares["noise"] == noise, "severity"].unique()))
        ax.set_xlabel("severity level", fontsize=8.5)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[::n_cols]:
        ax.set_ylabel("class changed (%)", fontsize=9)
    for ax in axes[len(noises) :]:
        ax.set_visible(False)
    handles = [
        Line2D(
            [],
            [],
            color=palette[i % len(palette)],
            marker=markers[i % len(markers)],
            linewidth=1.6,
            label=f"{d} / {m}",
        )
        for i, (d, m) in enumerate(pairs)
    ]
    figure.legend(
        handles=handles,
        loc="outside right center",
        title="dataset / model",
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
    figure.suptitle("Class-change rate under noise (attack success rate for fgsm / pgd)", fontsize=11)
    return figure


def noise_examples(
    clean: np.ndarray, examples: Mapping[str, Mapping[int, np.ndarray]], title: str, path: str | Path
) -> list[str]:
    """One image under each noise: a row per noise type (SPEC order), the clean image then
    severities 1..n left to right (a severity the run lacks is left blank); pixels are drawn as
    squares, without smoothing. Returns the row order."""
    names = _noise_order(examples)
    if not names:
        _save(_message_figure(title, "no model-free noise in this run"), path)
        return names
    levels = max(max(examples[name]) for name in names)
    cell = 1.1
    figure = _new_figure(cell * (levels + 1) + 1.4, cell * len(names) + 0.5)
    axes = figure.subplots(len(names), levels + 1, squeeze=False)
    for row, name in enumerate(names):
        for column, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            panel = clean if column == 0 else examples[name].get(column)
            if panel is None:
                ax.set_axis_off()
            else:
                ax.imshow(panel, interpolation="nearest")
            if row == 0:
                ax.set_title("clean" if column == 0 else f"severity {column}", fontsize=8)
        axes[row, 0].set_ylabel(name.replace("_", " "), rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle(title, fontsize=10)
    _save(figure, path)
    return names
