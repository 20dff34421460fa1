"""Bring-your-own CAM methods and noises, named by an importable ``"module:attr"`` callable.

A CAM plugin ``uses: features`` is called as ``fn(activations, gradients)`` on (N, C, h, w)
tensors; one that ``uses: model`` as ``fn(model, target_layer, inputs, targets)``. Both return
the raw (N, h, w) map, which gets the built-in methods' post-processing
(:func:`camrobust.cams.postprocess`). A noise plugin is called once per image as
``fn(image, parameter, generator)`` on a uint8 (H, W, 3) image and returns one; ``generator``
is the image's own :class:`numpy.random.Generator`, keyed like the built-in noises' randomness.

The config checks (:func:`check_config`) import neither torch nor the plugin: they find the
plugin's module with :func:`importlib.util.find_spec` and, for a Python source file, look for
the attribute among its top-level names. An attribute made at import time in another way is
only checked when the job imports it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from camrobust.errors import ConfigError
from camrobust.registry import CAM_METHODS, NOISES
from camrobust.seeding import image_generator

if TYPE_CHECKING:
    from torch import Tensor, nn

CAM_USES: tuple[str, ...] = ("features", "model")
"""What a CAM plugin is called with: cached activations and gradients, or the model."""


@dataclass(frozen=True)
class CamPlugin:
    """A CAM method outside the built-in ten: its callable and what it is called with."""

    name: str
    function: Callable[..., Any]
    uses: str


_REGISTERED: dict[str, CamPlugin] = {}


def register_cam(name: str, function: Callable[..., Any], uses: str = "features") -> None:
    """Make ``name`` usable as a CAM method in :func:`camrobust.evaluate` (this process only)."""
    if name in CAM_METHODS:
        raise ValueError(f"register_cam: {name!r} is a built-in CAM method; choose another name")
    if uses not in CAM_USES:
        raise ValueError(f"register_cam: uses must be one of {list(CAM_USES)}, got {uses!r}")
    if not callable(function):
        raise ValueError(f"register_cam: function for {name!r} is not callable")
    _REGISTERED[name] = CamPlugin(name, function, uses)


def registered_cam(name: str) -> CamPlugin | None:
    """The plugin registered as ``name``, or None."""
    return _REGISTERED.get(name)


# ----------------------------------------------------------------------------- config checks
def _split(spec: Any, key: str) -> tuple[str, str]:
    module, _, attr = str(spec).partition(":")
    if not isinstance(spec, str) or not module or not attr.isidentifier():
        raise ConfigError(key, f"expected 'module:attr' (e.g. 'my_package.cams:my_cam'), got {spec!r}")
    return module, attr


def _top_level_names(source: str) -> set[str] | None:
    """Names bound at a module's top level, or None when a star import makes that unknowable."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return None
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def check_importable(spec: Any, key: str) -> None:
    """ConfigError naming ``key`` unless ``spec`` ("module:attr") can be found without importing it."""
    module, attr = _split(spec, key)
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        raise ConfigError(key, f"cannot import module {module!r}: {error}") from None
    if found is None:
        raise ConfigError(key, f"cannot import module {module!r}: not found on the Python path")
    if found.origin and found.origin.endswith(".py"):
        with open(found.origin, encoding="utf-8") as handle:
            names = _top_level_names(handle.read())
        if names is not None and attr not in names:
            raise ConfigError(key, f"module {module!r} ({found.origin}) defines no {attr!r}")


def check_config(config: Mapping[str, Any]) -> None:
    """Plugin sections of a raw config: no clash with a built-in name, importable functions."""
    for section, builtins in (("cam_plugins", CAM_METHODS), ("noise_plugins", NOISES)):
        for name, entry in (config.get(section) or {}).items():
            if name in builtins:
                raise ConfigError(f"{section}.{name}", f"{name!r} is a built-in name; choose another")
            if isinstance(entry, Mapping) and "function" in entry:
                check_importable(entry["function"], f"{section}.{name}.function")


# ----------------------------------------------------------------------------- running plugins
def load(spec: str, key: str) -> Callable[..., Any]:
    """Import the callable ``spec`` names ("module:attr"); errors name ``key``."""
    module, attr = _split(spec, key)
    function = getattr(importlib.import_module(module), attr, None)
    if not callable(function):
        raise ValueError(f"{key}: {spec!r} is not a callable")
    return function


def _checked_map(name: str, raw: Any, expected: tuple[int, ...]) -> Tensor:
    import torch

    if not isinstance(raw, torch.Tensor) or not raw.is_floating_point() or tuple(raw.shape) != expected:
        got = f"{raw.dtype} {tuple(raw.shape)}" if isinstance(raw, torch.Tensor) else type(raw).__name__
        raise ValueError(
            f"CAM plugin {name!r}: expected a floating-point tensor of shape (N, h, w) = {expected}, got {got}"
        )
    return raw


def features_cam(plugin: CamPlugin, activations: Tensor, gradients: Tensor) -> Tensor:
    """Raw (N, h, w) map of a ``uses: features`` plugin, checked."""
    n, _, h, w = activations.shape
    return _checked_map(plugin.name, plugin.function(activations, gradients), (n, h, w))


def model_cam(
    plugin: CamPlugin, model: nn.Module, target_layer: nn.Module, inputs: Tensor, targets: Tensor, grid: Sequence[int]
) -> Tensor:
    """Raw (N, h, w) map of a ``uses: model`` plugin on the layer grid (h, w), checked."""
    raw = plugin.function(model, target_layer, inputs, targets)
    return _checked_map(plugin.name, raw, (len(inputs), int(grid[0]), int(grid[1])))


def perturb(
    function: Callable[..., Any],
    images: np.ndarray,
    noise: str,
    severity: int,
    parameter: Any,
    seed: int,
    ids: Sequence[str],
    *,
    namespace: str = "",
) -> np.ndarray:
    """A noise plugin on uint8 images (N, H, W, 3), one call per image with its own generator.

    Image i's generator comes from (namespace, noise, severity, ids[i], seed), the key of the
    built-in noises' randomness (:func:`camrobust.noise.perturb`).
    """
    noisy = np.empty_like(images)
    for i, image_id in enumerate(ids):
        generator = image_generator(namespace, noise, int(severity), str(image_id), int(seed))
        out = function(images[i].copy(), parameter, generator)
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != images.shape[1:]:
            got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(
                f"noise plugin {noise!r}: expected a uint8 array of shape (H, W, 3) = {images.shape[1:]}, got {got}"
            )
        noisy[i] = out
    return noisy
