"""A CAM method as a function of a model: ``(model, inputs, targets) -> raw maps``.

The sanity checks recompute one CAM on other models than the one it was configured for (the
randomised copies of :mod:`camrobust.sanity.randomisation`) and on other inputs (the images an
explanation attack found). A :data:`MapFunction` is that CAM with its target layer named by a
module path, looked up afresh in whatever model it is given, so the layer of a copy is the
copy's own. Model-free maps (the baselines) are map functions that ignore the model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from camrobust import plugins
from camrobust.cams.capture import Reshape, capture
from camrobust.cams.catalogue import GRADIENT_METHODS, MODEL_METHODS
from camrobust.cams.engine import layer_grid, model_raw_maps
from camrobust.cams.postprocess import at_least_float32
from camrobust.cams.target import resolve_target

MapFunction = Callable[[nn.Module, Tensor, Tensor], Tensor]
"""``(model, inputs (N,3,H,W) as the model takes them, targets (N,)) -> raw maps (N,h,w)`` on the
inputs' device, before :func:`camrobust.cams.postprocess`; each map explains ``targets[n]``."""


def cam_map_function(
    method: str, target_layer: str, *, reshape: Reshape | None = None, batch_size: int = 32
) -> MapFunction:
    """The :data:`MapFunction` of a built-in CAM method or of a plugin registered with
    :func:`camrobust.register_cam`, its target layer a target-layer string (``"layer4"``,
    ``"relu(features.norm5)"``) resolved in the model of each call.

    Gradient family and ``uses: features`` plugins: one capture (forward + backward) per
    ``batch_size`` images; ScoreCAM / AblationCAM: :func:`camrobust.cams.model_raw_maps` with
    ``batch_size`` masked inputs or ablated outputs per forward; ``uses: model`` plugins: the
    plugin on each batch."""
    if not isinstance(target_layer, str):
        raise ValueError(
            f"target_layer: give a module path string (e.g. 'layer4'), got {type(target_layer).__name__}; "
            "a map function looks the layer up in every model it is called with"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    plugin = plugins.registered_cam(method)
    if method not in GRADIENT_METHODS and method not in MODEL_METHODS and plugin is None:
        raise ValueError(
            f"method: unknown CAM method {method!r}; built in: {[*GRADIENT_METHODS, *MODEL_METHODS]}, "
            "or register a plugin with camrobust.register_cam"
        )

    def raw_maps(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
        if method in MODEL_METHODS:
            return model_raw_maps(model, target_layer, inputs, targets, method, batch_size, reshape)[method]
        if plugin is not None and plugin.uses == "model":
            grid = layer_grid(model, target_layer, inputs, reshape)
            layer = resolve_target(model, target_layer).module
            parts = [
                plugins.model_cam(plugin, model, layer, inputs[i : i + batch_size], targets[i : i + batch_size], grid)
                for i in range(0, len(inputs), batch_size)
            ]
            return torch.cat(parts)
        parts = []
        for start in range(0, len(inputs), batch_size):
            rows = slice(start, start + batch_size)
            cap = capture(model, target_layer, inputs[rows], targets[rows], reshape)
            a, g = at_least_float32(cap.activations), at_least_float32(cap.gradients)
            parts.append(GRADIENT_METHODS[method](a, g) if plugin is None else plugins.features_cam(plugin, a, g))
        return torch.cat(parts)

    return raw_maps
