"""A gradient-family CAM as a differentiable function of the input (double backprop).

An explanation attack moves the input along the gradient of a function of the CAM, so the CAM
must stay in the autograd graph: the gradients g = d y_t / dA of the target logit y_t with
respect to the target layer's output A are taken with ``create_graph=True``, and the method's
formula (:mod:`camrobust.cams.catalogue`) and :func:`camrobust.cams.postprocess` run on them
as usual.

Two operations have no usable derivative there, and :class:`SurrogateGradients` replaces
their gradients (never their values) while it is active.

**ReLU.** In a ReLU network g depends on the input through the ReLU masks relu'(z) = 1[z > 0]
of the layers after the target layer, whose derivative is 0 almost everywhere: the
second-order term vanishes and the search gets no signal from it. Every ReLU (``nn.ReLU`` modules and ``torch.relu`` / ``F.relu`` calls in forward
code, in place or not) by r with

    r(z) = relu(z)  (the same forward op, bitwise),     dr/dz = sigmoid(beta z),

the derivative of softplus_beta(z) = log(1 + e^(beta z)) / beta, a smooth step whose own
derivative beta sigmoid(beta z)(1 - sigmoid(beta z)) gives the second-order term: the softplus
surrogate of Ghorbani et al. (2019) and Dombrowski et al. (2019) for the gradients, while every
forward value stays the real model's. It equals ``relu(z).detach() + (s - s.detach())`` with
s = softplus_beta(z) (value relu(z), derivative sigmoid(beta z)) in one op instead of four. As
beta grows the derivative tends to relu'(z); it applies to the ReLUs before the target layer
too, so the first-order path from the input to the activations is smoothed as well. ReLUs run
in place by the model become out of place while the surrogate is active.

**SVD.** EigenCAM and EigenGradCAM project on the top right-singular vector v1 of the
activations; torch's SVD backward divides by s_i^2 - s_j^2 over all pairs and is NaN wherever
singular values repeat (dead channels give repeated zeros). The surrogate differentiates v1
through a few power iterations from its exact value instead (:func:`top_right_singular_vector`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from camrobust.cams.capture import Reshape, as_maps, check_call, class_targets
from camrobust.cams.catalogue import GRADIENT_METHODS
from camrobust.cams.postprocess import at_least_float32
from camrobust.cams.target import TargetLayer, resolve_target

_RELUS: frozenset[Callable[..., Any]] = frozenset({F.relu, F.relu_, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_})


class _SmoothReLU(torch.autograd.Function):
    """relu(z) forward; backward grad * sigmoid(beta z), itself differentiable (double backprop)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, beta: float) -> Tensor:
        ctx.save_for_backward(z)
        ctx.beta = beta
        return torch.relu(z)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (z,) = ctx.saved_tensors
        return grad * torch.sigmoid(ctx.beta * z), None


def smooth_relu(z: Tensor, beta: float) -> Tensor:
    """relu(z) in value (bitwise: the forward is ``torch.relu``), sigmoid(beta z) in derivative,
    and the derivative differentiable again: d/dz sigmoid(beta z) = beta sigmoid (1 - sigmoid)."""
    out: Tensor = _SmoothReLU.apply(z, float(beta))
    return out


class SVD(NamedTuple):
    """``torch.linalg.svd``'s result, as the surrogate returns it."""

    U: Tensor
    S: Tensor
    Vh: Tensor


POWER_STEPS = 4
"""Power-iteration steps through which the top singular vector is differentiated."""


def top_right_singular_vector(x: Tensor, v1: Tensor, steps: int = POWER_STEPS) -> Tensor:
    """v1 (..., C), the top right-singular vector of x (..., n, C) computed without a graph,
    refined by ``steps`` power iterations v <- X^T X v / ||X^T X v||, in the graph of x. At the
    fixed point the value is v1 again (up to rounding, the same sign); the derivative is that of
    the power iteration, which tends to the top component's own as steps grow when s1 > s2."""
    v = v1.detach()
    for _ in range(steps):
        v = (x.transpose(-2, -1) @ (x @ v.unsqueeze(-1))).squeeze(-1)
        v = v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
    return v


class SurrogateGradients(TorchFunctionMode):
    """While active (``with SurrogateGradients(beta):``), every ReLU call is :func:`smooth_relu`,
    and ``torch.linalg.svd`` returns its factors without a graph except the first row of Vh, the
    top right-singular vector, which is :func:`top_right_singular_vector` (the SVD's own
    backward is NaN wherever singular values repeat, e.g. dead channels; EigenCAM and
    EigenGradCAM use only that vector)."""

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
        if func is torch.linalg.svd:
            with torch.no_grad():
                u, s, vh = func(*args, **(kwargs or {}))
            top = top_right_singular_vector(args[0], vh[..., 0, :])
            return SVD(u, s, torch.cat([top.unsqueeze(-2), vh[..., 1:, :]], -2))
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
    under :class:`SurrogateGradients` for a second-order signal through ReLUs and a finite
    derivative of EigenCAM's singular vector."""
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
