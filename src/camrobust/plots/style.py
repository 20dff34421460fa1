"""What every report figure shares: colours, orders, names, figure creation, saving, NaN cells.

- one fixed colour per CAM method (:func:`cam_colors`), whatever subset a figure shows;
- CAM methods and noise types in the registry's order (:func:`cam_order`, :func:`noise_order`),
  shown by their registry labels (:func:`cam_label`, :func:`noise_label`);
- sequential values in [0, 1] use viridis; CAM overlays use inferno (both perceptually uniform);
- NaN values are drawn grey and hatched with the reason, never as 0 (:func:`nan_cell`);
- a figure that cannot be drawn is replaced by one that says why (:func:`message_figure`);
- figures are pyplot-free (no global figure registry: nothing stays open after saving) and are
  saved as 150 dpi PNGs, or 100 dpi JPEGs where the path ends in ``.jpg`` (:func:`save`), tight
  around every label, also when a notebook user calls ``savefig`` (:class:`TightFigure`), except
  the image grids, laid out to their exact size (:class:`ExactFigure`);
- for papers, :func:`also_saving` makes :func:`save` write SVG and PDF copies beside each file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from camrobust import registry

DPI = 150
JPEG_QUALITY = 90
JPEG_DPI = 100  # JPEG grids of many image cells: each cell still shows a 64 px image at 2x
SCORE_CMAP = "viridis"
CAM_CMAP = "inferno"
NAN_FACE = "#d9d9d9"
CHANGED_RED = "#c62828"

VECTOR_FORMATS: tuple[str, ...] = ("svg", "pdf")
"""The formats :func:`also_saving` can add beside a figure's PNG (or JPEG)."""
_ALSO: ContextVar[tuple[str, ...]] = ContextVar("camrobust_also_saving", default=())

# Fixed orders, so colours and columns line up across figures: CAM method i gets tab10 colour i.
CANONICAL_CAMS = registry.CAM_METHODS
CANONICAL_NOISES = registry.NOISES


def palette(name: str) -> list[tuple[float, float, float]]:
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

    The built-in methods get the ten tab10 colours in :data:`CANONICAL_CAMS` order (any
    spelling: case, '-', '_', '++'/'pp'), and those past the tenth (the baseline maps) every fourth
    colour of tab20b (dark blue, olive, brown, red, purple); other names get a Dark2 colour picked
    by a stable hash.
    """
    known = palette("tab10") + palette("tab20b")[::4]
    extra = palette("Dark2")
    colors: dict[str, str] = {}
    for method in methods:
        index = _CANONICAL_INDEX.get(_method_key(method))
        if index is not None:
            colors[method] = to_hex(known[index])
        else:
            digest = hashlib.blake2b(_method_key(method).encode(), digest_size=4).digest()
            colors[method] = to_hex(extra[int.from_bytes(digest, "little") % len(extra)])
    return colors


def noise_order(noises: Iterable[str]) -> list[str]:
    """Unique noise names in :data:`CANONICAL_NOISES` (registry) order, others alphabetically."""
    rank = {name: i for i, name in enumerate(CANONICAL_NOISES)}
    return sorted(set(noises), key=lambda n: (rank.get(n, len(rank)), str(n)))


def cam_order(cams: Iterable[str]) -> list[str]:
    """Unique CAM names in :data:`CANONICAL_CAMS` order (any spelling), others alphabetically."""
    return sorted(set(cams), key=lambda c: (_CANONICAL_INDEX.get(_method_key(c), len(_CANONICAL_INDEX)), c))


def cam_label(name: str) -> str:
    """The registry label of a built-in CAM method ('gradcampp' -> 'GradCAM++'), else ``name``."""
    return registry.cam_label(name)


def noise_label(name: str) -> str:
    """The registry label of a built-in noise ('gaussian_noise' -> 'Gaussian noise'), else ``name``."""
    return registry.noise_label(name)


class TightFigure(Figure):
    """A Figure whose ``savefig`` is tight around every label by default (``bbox_inches="tight"``,
    0.1 inch padding), as the workflow's figures are saved: a title above the axes is not clipped."""

    def savefig(self, fname: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("bbox_inches", "tight")
        kwargs.setdefault("pad_inches", 0.1)
        super().savefig(fname, *args, **kwargs)


class ExactFigure(Figure):
    """A Figure laid out to its exact size, every label inside: saved as it is, without the tight
    bounding box (which draws the whole figure twice)."""


def new_figure(width: float, height: float, *, constrained: bool = True, exact: bool = False) -> Figure:
    """Pyplot-free figure rendered by Agg (nothing to close, no global state), saved tight, or
    saved as it is where its layout is ``exact`` (:class:`ExactFigure`)."""
    kind = ExactFigure if exact else TightFigure
    figure = kind(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(figure)
    return figure


def tight_bbox(figure: Figure) -> dict[str, Any]:
    """The ``savefig`` arguments that make ``figure`` tight around every label (0.1 inch padding);
    none for an :class:`ExactFigure`."""
    return {} if isinstance(figure, ExactFigure) else {"bbox_inches": "tight", "pad_inches": 0.1}


@contextmanager
def also_saving(formats: Iterable[str]) -> Iterator[None]:
    """Within the block, :func:`save` also writes each of ``formats`` (svg, pdf) beside the file it
    saves, with the same stem (``heatmap.png`` -> ``heatmap.svg``, ``heatmap.pdf``)."""
    chosen = tuple(dict.fromkeys(formats))
    unknown = [name for name in chosen if name not in VECTOR_FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format(s) {unknown}; allowed besides png: {', '.join(VECTOR_FORMATS)}")
    token = _ALSO.set(chosen)
    try:
        yield
    finally:
        _ALSO.reset(token)


def save(figure: Figure, path: str | Path) -> None:
    """Write ``figure`` at ``path`` (parents created), tight around every label (:func:`tight_bbox`): PNG at DPI, or
    for a ``.jpg`` path JPEG at JPEG_DPI, the format for grids of photos and noise (PNG stores
    those at about twice the size); inside :func:`also_saving`, SVG / PDF copies beside it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".jpg":
        # full-resolution colour (no 4:2:0 chroma subsampling): red labels and thin lines stay sharp
        pil_kwargs = {"quality": JPEG_QUALITY, "subsampling": 0}
        figure.savefig(target, format="jpeg", dpi=JPEG_DPI, pil_kwargs=pil_kwargs, **tight_bbox(figure))
    else:
        figure.savefig(target, format="png", dpi=DPI, **tight_bbox(figure))
    for extension in _ALSO.get():
        figure.savefig(target.with_suffix(f".{extension}"), format=extension, **tight_bbox(figure))
    figure.clear()


def message_figure(title: str, message: str) -> Figure:
    """A figure that only says why the intended plot cannot be drawn."""
    figure = new_figure(6.0, 1.4)
    figure.suptitle(title, fontsize=11)
    figure.text(0.5, 0.45, message, ha="center", va="center", fontsize=10, linespacing=1.4)
    return figure


def text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on ``rgba`` (relative luminance)."""
    red, green, blue = rgba[:3]
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "white"


def nan_cell(ax: Axes, x: float, y: float, text: str) -> None:
    """A grey hatched unit cell centred on (x, y) of a heat-map, labelled with why it is NaN."""
    ax.add_patch(
        Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=NAN_FACE, edgecolor="#9e9e9e", hatch="////", linewidth=0)
    )
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=6,
        color="#212121",
        linespacing=0.9,
        bbox={"facecolor": NAN_FACE, "edgecolor": "none", "pad": 0.6},
    )


def cam_legend(figure: Figure, cams: Sequence[str], colors: Mapping[str, str], extra: Sequence[Line2D] = ()) -> None:
    """Legend of CAM methods (their labels, in their colours) outside the axes, right of the figure."""
    handles = [Line2D([], [], color=colors[c], marker="o", linewidth=2, label=cam_label(c)) for c in cams]
    figure.legend(
        handles=[*handles, *extra],
        loc="outside right center",
        title="CAM method",
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
