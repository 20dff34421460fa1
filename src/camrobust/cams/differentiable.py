"""A gradient-family CAM as a differentiable function of the input (double backprop).

An explanation attack moves the input along the gradient of a function of the CAM, so the CAM
must stay in the autograd graph: the gradients g = d y_t / dA of the target logit y_t with
respect to the target layer's output A are taken with ``create_graph=True``, and the method's
formula (:mod:`camrobust.cams.catalogue`) and :func:`camrobust.cams.postprocess` run on them
as usual.

In a ReLU network g depends on the input through the ReLU masks relu'(z) = 1[z > 0] of the
layers after the target layer, whose derivative is 0 almost everywhere: the second-order term
vanishes and the search gets no signal from it. :class:`SmoothReLUGradients` replaces, while
it is active, every ReLU (``nn.ReLU`` modules and ``torch.relu`` / ``F.relu`` calls in forward
code, in place or not) by

    r(z) = relu(z).detach() + (s(z) - s(z).detach()),   s(z) = softplus_beta(z) = log(1 + e^(beta z)) / beta,

whose value is relu(z) exactly (s(z) - s(z).detach() is 0.0 for every finite z) and whose
derivative is dr/dz = sigmoid(beta z), a smooth step with d/dz = beta sigmoid'(beta z): the
softplus surrogate of Ghorbani et al. (2019) and Dombrowski et al. (2019) for the gradients,
while every forward value stays the real model's. As beta grows the derivative tends to
relu'(z). ReLUs run in place by the model become out of place while the surrogate is active.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from camrobust.cams.capture import Reshape, as_maps, check_call, class_targets
from camrobust.cams.catalogue import GRADIENT_METHODS
from camrobust.cams.postprocess import at_least_float32
from camrobust.cams.target import TargetLayer, resolve_target

_RELUS: frozenset[Callable[..., Any]] = frozenset({F.relu, F.relu_, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_})


def smooth_relu(z: Tensor, beta: float) -> Tensor:
    """relu(z) in value, sigmoid(beta z) in derivative: ``relu(z).detach() + (s - s.detach())``,
    s = softplus(z, beta) (torch's softplus, linear above beta z = 20)."""
    s = F.softplus(z, beta=beta)
    return torch.relu(z).detach() + (s - s.detach())


class SmoothReLUGradients(TorchFunctionMode):
    """While active (``with SmoothReLUGradients(beta):``), every ReLU call is :func:`smooth_relu`."""

    def __init__(self, beta: float) -> None:
        if not beta > 0:
            raise ValueError(f"beta: the softplus sharpness must be > 0, got {beta}")
        super().__init__()
        self.beta = float(beta)

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        if func in _RELUS:
            return smooth_relu(args[0], self.beta)
        return func(*args, **(kwargs or {}))


def differentiable_raw_maps(
    model: nn.Module,
    target_layer: nn.Module | str | TargetLayer,
    inputs: Tensor,
    targets: Tensor,
    method: str,
    reshape: Reshape | None = None,
) -> tuple[Tensor, Tensor]:
    """(logits (N,K), raw maps (N,h,w)) of a gradient-family ``method`` for ``targets``, both
    in the graph of ``inputs``: g = d sum_n y_n[t_n] / dA with ``create_graph=True``. Run it
    under :class:`SmoothReLUGradients` for a second-order signal through ReLUs."""
    if method not in GRADIENT_METHODS:
        raise ValueError(f"method: {method!r} has no cheap input gradient; differentiable: {list(GRADIENT_METHODS)}")
    target = resolve_target(model, target_layer)
    check_call(model, inputs, targets)
    seen: list[Tensor] = []

    def hook(_module: nn.Module, _args: object, output: Tensor) -> Tensor:
        # an output outside any graph (frozen layers that ignore the input) becomes a leaf
        seen.append(output if output.requires_grad else output.detach().requires_grad_(True))
        return seen[-1].clone()  # the rest of the model may write in place

    handle = target.module.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(inputs)
            chosen = class_targets(logits, targets)
            if len(seen) != 1:
                raise ValueError(f"target_layer: must run exactly once per forward, ran {len(seen)} times")
            (grad,) = torch.autograd.grad(logits.gather(1, chosen.unsqueeze(1)).sum(), seen[0], create_graph=True)
            a = at_least_float32(as_maps(target.activate(seen[0]), reshape))
            raw = GRADIENT_METHODS[method](a, at_least_float32(as_maps(grad, reshape)))
    finally:
        handle.remove()
    return logits, raw
