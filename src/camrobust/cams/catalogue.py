"""The built-in CAM methods by name, collected from :data:`camrobust.registry.CAMS`.

Each registry entry names its implementation, the function ``<name>`` of the module
``camrobust.cams.<name>``; its family says how it is called. Gradient-family methods are
``(A, g) -> raw map``: A the target layer's activations and g = d y_t / dA, both (N,C,h,w), the
raw map (N,h,w). Model-family methods are ``(Probe) -> raw map`` (1,h,w): they rerun the model on
one image (:class:`camrobust.cams.probe.Probe`). Baseline-family maps explain nothing and need no
model: ``(images01, targets, *, ids, grid, seed) -> raw map`` (:class:`BaselineMethod`). So a new
built-in method is its module and its registry line; the tables here, the engine, the config
checks and the workflow pick it up.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from importlib import import_module
from typing import Any, Protocol

from torch import Tensor

from camrobust.cams.probe import Probe
from camrobust.registry import CAMS, Cam, CamFamily

GradientMethod = Callable[[Tensor, Tensor], Tensor]
ModelMethod = Callable[[Probe], Tensor]


class BaselineMethod(Protocol):
    """A baseline map: ``images01`` (N,3,H,W) in [0, 1] and ``targets`` (N,) the explained (predicted)
    classes, ``ids`` the N image ids, ``grid`` the (h, w) of the target layer's maps, ``seed`` the
    run's seed -> raw maps (N, h', w') on the images' device, post-processed like any CAM. Maps
    drawn on the layer grid have (h', w') = ``grid``; a map with a resolution of its own (the edge
    map: the image's) ignores it."""

    def __call__(
        self, images01: Tensor, targets: Tensor, *, ids: Sequence[str], grid: tuple[int, int], seed: int
    ) -> Tensor: ...


def implementation(entry: Cam) -> Callable[..., Tensor]:
    """The function a registry entry names (``"module:function"``, :attr:`Cam.implementation`)."""
    module, _, function = entry.implementation.partition(":")
    found: Any = getattr(import_module(module), function, None)
    if not callable(found):
        raise ImportError(f"CAM method {entry.name!r}: {module} defines no function {function!r}")
    return found


def _family(family: CamFamily) -> dict[str, Any]:
    return {entry.name: implementation(entry) for entry in CAMS if entry.family == family}


GRADIENT_METHODS: dict[str, GradientMethod] = _family("gradient")
MODEL_METHODS: dict[str, ModelMethod] = _family("model")
BASELINE_METHODS: dict[str, BaselineMethod] = _family("baseline")
CAM_METHODS: tuple[str, ...] = tuple(entry.name for entry in CAMS)
EXPLAINING_METHODS: tuple[str, ...] = tuple(entry.name for entry in CAMS if entry.family != "baseline")
"""The methods that explain the model: every CAM method but the baselines."""


def method_names(methods: str | Sequence[str], allowed: Collection[str]) -> list[str]:
    """``methods`` as a list without repeats; ValueError for a name that is no CAM method, or one
    that is not in ``allowed`` (the methods the calling function computes)."""
    names = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in names if m not in CAM_METHODS]
    if unknown:
        raise ValueError(f"methods: unknown CAM method(s) {unknown}; valid: {list(CAM_METHODS)}")
    misplaced = [m for m in names if m not in allowed]
    if misplaced:
        raise ValueError(f"methods: {misplaced} not computed here; this function takes {list(allowed)}")
    return list(dict.fromkeys(names))
