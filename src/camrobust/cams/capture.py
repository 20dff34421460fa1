"""What one forward (and backward) pass of a model shows of its target layer.

:func:`capture` runs ONE forward and ONE backward pass of a batch and returns the target layer's
activations A and gradients g = d y_t / dA as (N,C,h,w) maps, which is all the gradient-family
methods need. Layers whose output is not (N,C,h,w) are reshaped (:func:`token_reshape`: ViT
tokens, Swin's channels-last maps). The checks of a CAM call's arguments live here too, as every
entry point of the engine runs them before its first forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from camrobust.cams.target import TargetLayer, resolve_target

Reshape = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Capture:
    """One forward + one backward: logits (N,K), activations and gradients (N,C,h,w), targets (N,)."""

    logits: Tensor
    activations: Tensor
    gradients: Tensor
    targets: Tensor


def capture(
    model: nn.Module,
    target_layer: nn.Module | str | TargetLayer,
    inputs: Tensor,
    targets: Tensor | None = None,
    reshape: Reshape | None = None,
) -> Capture:
    """ONE forward and ONE backward of sum_n y_n[t_n] (each image its own target; None = argmax);
    activations and gradients as ``TargetLayer`` defines them, then ``reshape``d to (N,C,h,w)."""
    target = resolve_target(model, target_layer)
    check_call(model, inputs, targets)
    with torch.enable_grad():
        logits, out = forward_capturing(model, target.module, inputs)
        targets = class_targets(logits, targets)
        (grad,) = torch.autograd.grad(logits.gather(1, targets.unsqueeze(1)).sum(), out)
    activations = target.activate(out.detach())
    return Capture(logits.detach(), as_maps(activations, reshape), as_maps(grad, reshape), targets)


def forward_capturing(model: nn.Module, layer: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
    """model(inputs) -> (logits, raw target-layer output). The output is kept as a detached leaf
    (requiring grad when grad mode is on, so a backward stops there: no parameter gradients, works
    on frozen models); the rest of the model gets a clone, so in-place ops (DenseNet's relu after
    norm5) cannot alter the leaf, on any device."""
    seen: list[Tensor] = []

    def hook(_module: nn.Module, _args: object, output: Tensor) -> Tensor:
        if not isinstance(output, Tensor):
            raise ValueError(f"target_layer: output must be a tensor, got {type(output).__name__}")
        seen.append(output.detach().requires_grad_(torch.is_grad_enabled()))
        return seen[-1].clone()

    handle = layer.register_forward_hook(hook)
    try:
        logits = model(inputs)
    finally:
        handle.remove()
    if len(seen) != 1:
        raise ValueError(f"target_layer: must run exactly once per forward, ran {len(seen)} times")
    return logits, seen[0]


def as_maps(x: Tensor, reshape: Reshape | None) -> Tensor:
    """A layer output (or its gradient) as (N,C,h,w) maps: ``reshape(x)``, or x itself."""
    maps = x if reshape is None else reshape(x)
    if maps.ndim != 4:
        raise ValueError(f"target_layer: output {tuple(x.shape)} is not (N,C,h,w); pass reshape= (see token_reshape)")
    return maps


def check_call(model: nn.Module, inputs: Tensor, targets: Tensor | None, batch_size: int = 1) -> None:
    """Raise ValueError, naming the argument, for a model in training mode, inputs that are not a
    non-empty float (N,3,H,W) batch, targets that are not one integer per input, or batch_size < 1."""
    if model.training:
        raise ValueError(
            "model: in training mode; call model.eval() (BatchNorm/Dropout would make maps batch-dependent)"
        )
    if inputs.ndim != 4 or not inputs.is_floating_point() or len(inputs) == 0:
        raise ValueError(
            f"inputs: expected a non-empty float tensor (N,3,H,W), got {inputs.dtype} {tuple(inputs.shape)}"
        )
    if targets is not None and (targets.shape != (len(inputs),) or targets.is_floating_point()):
        raise ValueError(
            f"targets: expected None or an integer tensor of shape ({len(inputs)},), one per input; "
            f"got {targets.dtype} {tuple(targets.shape)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")


def class_targets(logits: Tensor, targets: Tensor | None) -> Tensor:
    """The class explained per image (N,) on the logits' device: ``targets`` checked against the
    number of classes, or each image's predicted class when None."""
    if logits.ndim != 2:
        raise ValueError(f"model output: expected logits (N, classes), got {tuple(logits.shape)}")
    if targets is None:
        return logits.argmax(1)
    targets = targets.to(device=logits.device, dtype=torch.long)
    if targets.min() < 0 or targets.max() >= logits.shape[1]:
        raise ValueError(f"targets: class indices must lie in [0, {logits.shape[1]}), got {targets.tolist()}")
    return targets


def token_reshape(model: nn.Module, input_size: int | Sequence[int]) -> Reshape | None:
    """Reshape for token-shaped target layers, read from the model: torchvision VisionTransformer
    (N, 1 + gh*gw, C) -> drop the class token -> (N, C, gh, gw), (gh, gw) = input size // the
    model's patch_size; torchvision SwinTransformer (N, h, w, C) -> (N, C, h, w); None otherwise."""
    if not any(cls.__module__.startswith("torchvision.") for cls in type(model).__mro__):
        return None  # not one of torchvision's models: spare its import (seconds per job)
    from torchvision.models import SwinTransformer, VisionTransformer

    if isinstance(model, VisionTransformer):
        h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        patch = model.patch_size
        if h % patch or w % patch:
            raise ValueError(f"input_size: {(h, w)} is not a multiple of the ViT patch size {patch}")
        grid = (h // patch, w // patch)

        def vit_tokens(x: Tensor) -> Tensor:
            if x.ndim != 3 or x.shape[1] != 1 + grid[0] * grid[1]:
                raise ValueError(f"ViT tokens: expected (N, {1 + grid[0] * grid[1]}, C), got {tuple(x.shape)}")
            return x[:, 1:].unflatten(1, grid).permute(0, 3, 1, 2)

        return vit_tokens
    if isinstance(model, SwinTransformer):
        return swin_channels_first
    return None


def swin_channels_first(x: Tensor) -> Tensor:
    """Swin layer output (N, h, w, C) -> (N, C, h, w)."""
    return x.permute(0, 3, 1, 2)
