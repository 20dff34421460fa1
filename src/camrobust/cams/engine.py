"""CAM computation: model and inputs in, maps out, for any mix of built-in methods.

Gradient family: :func:`capture` gets the target layer's activations and gradients from ONE
forward and ONE backward pass; :func:`gradient_family` turns them into maps without the model, so
the workflow can run it on cached features. Model family (ScoreCAM, AblationCAM): one image at a
time, ``batch_size`` masked inputs or ablated layer outputs per forward, so peak memory is bounded
by the batch size, never by N x C, and every forward holds rows of one image only: the maps do
not depend on which images share a batch. Baseline family (maps that explain nothing):
:func:`baseline_maps`, model-free but for the explained class. :func:`compute_cams` does all three
for a whole batch.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from camrobust import netsplit
from camrobust.cams.capture import Reshape, as_maps, capture, check_call, class_targets, forward_capturing
from camrobust.cams.catalogue import BASELINE_METHODS, CAM_METHODS, GRADIENT_METHODS, MODEL_METHODS, method_names
from camrobust.cams.postprocess import at_least_float32, postprocess
from camrobust.cams.probe import Probe
from camrobust.cams.target import TargetLayer, resolve_target

LOGGER = logging.getLogger("camrobust")
_NOTED_WHOLE: weakref.WeakSet[nn.Module] = weakref.WeakSet()  # models already logged as unsplittable
RUN_TAIL_ALONE = frozenset({"ablationcam"})
"""Model-family methods that only edit the target layer's output: the model is split at the layer
for them, so their reruns run the network after the layer alone (``Probe.tail``)."""


def gradient_family(
    activations: Tensor, gradients: Tensor, methods: str | Sequence[str], output_size: Sequence[int]
) -> dict[str, Tensor]:
    """Maps (N,H,W) in [0,1] of gradient-family methods from activations and gradients (N,C,h,w)."""
    names = method_names(methods, GRADIENT_METHODS)
    if activations.ndim != 4 or activations.shape != gradients.shape:
        raise ValueError(
            f"activations/gradients: expected equal (N,C,h,w) shapes, got "
            f"{tuple(activations.shape)} and {tuple(gradients.shape)}"
        )
    a, g = at_least_float32(activations), at_least_float32(gradients)
    raw = torch.stack([GRADIENT_METHODS[name](a, g) for name in names], 1)
    return dict(zip(names, postprocess(raw, output_size).unbind(1), strict=True))


def _split(model: nn.Module, layer: nn.Module) -> netsplit.Split | None:
    """The model split at the layer, or None after one log line per model saying why not."""
    try:
        return netsplit.split_at(model, layer)
    except netsplit.Unsplittable as why:
        _note_whole_model(model, why)
        return None


def _note_whole_model(model: nn.Module, why: Exception) -> None:
    if model not in _NOTED_WHOLE:
        _NOTED_WHOLE.add(model)
        LOGGER.info(
            "ablationcam: running the whole %s per channel batch; it cannot be split at the target layer: %s",
            type(model).__name__,
            why,
        )


def model_cams(
    model: nn.Module,
    target_layer: nn.Module | str | TargetLayer,
    inputs: Tensor,
    targets: Tensor | None,
    methods: str | Sequence[str],
    batch_size: int,
    reshape: Reshape | None = None,
) -> dict[str, Tensor]:
    """Maps (N,H,W) in [0,1] of ScoreCAM / AblationCAM. Image by image: one clean forward, then
    batch_size masked inputs or ablated layer outputs per forward, so a map depends on its own
    image only and memory on batch_size, never on N x C. For AblationCAM the model is split at the
    layer (``netsplit``): the clean forward runs head then tail, the ablations the tail alone;
    where it cannot be split (TorchScript, untraceable code) the whole model runs per batch, with
    one log line (logger "camrobust"). With a ``reshape`` the raw layer output is taken to be
    channels-last (ViT tokens (N,L,C), Swin (N,h,w,C)) for ablation, as pytorch-grad-cam's
    AblationLayerVit does."""
    raw = model_raw_maps(model, target_layer, inputs, targets, methods, batch_size, reshape)
    return {name: postprocess(maps, inputs.shape[-2:]) for name, maps in raw.items()}


def model_raw_maps(
    model: nn.Module,
    target_layer: nn.Module | str | TargetLayer,
    inputs: Tensor,
    targets: Tensor | None,
    methods: str | Sequence[str],
    batch_size: int,
    reshape: Reshape | None = None,
) -> dict[str, Tensor]:
    """Raw maps (N,h,w) of ScoreCAM / AblationCAM on the target layer's grid, before
    ``postprocess``; arguments as :func:`model_cams`."""
    names = method_names(methods, MODEL_METHODS)
    target = resolve_target(model, target_layer)
    check_call(model, inputs, targets, batch_size)
    raw = []
    with torch.no_grad():
        split = _split(model, target.module) if RUN_TAIL_ALONE.intersection(names) else None
        for i in range(len(inputs)):
            x = inputs[i : i + 1]
            tail = None
            if split is not None:
                try:
                    out, tail = split.run(x)
                except netsplit.Unsplittable as why:
                    _note_whole_model(model, why)
                    split = None
            if tail is None:
                logits, out = forward_capturing(model, target.module, x)
            else:
                logits = tail(out.clone())  # clone: the tail may write in place (DenseNet's ReLU)
            t = class_targets(logits, None if targets is None else targets[i : i + 1])
            probe = Probe(
                model=model,
                layer=target.module,
                inputs=x,
                targets=t,
                scores=logits.gather(1, t.unsqueeze(1)).squeeze(1),
                activations=at_least_float32(as_maps(target.activate(out), reshape)),
                output=out,
                channel_axis=1 if reshape is None else -1,
                batch_size=batch_size,
                tail=tail,
            )
            raw.append(torch.stack([MODEL_METHODS[name](probe) for name in names], 1))
    return dict(zip(names, torch.cat(raw).unbind(1), strict=True))


def baseline_raw_maps(
    images01: Tensor,
    targets: Tensor,
    methods: str | Sequence[str],
    *,
    ids: Sequence[str],
    grid: Sequence[int],
    seed: int,
) -> dict[str, Tensor]:
    """Raw maps of baseline-family methods before ``postprocess``: (N, h, w) on the ``grid`` of the
    target layer (the edge map: (N, H, W), the image's resolution), on the images' device.

    ``images01`` (N,3,H,W) in [0, 1] (not the model's normalised input), ``targets`` (N,) the
    explained classes (the model's predictions: the only thing a baseline takes from the model),
    ``ids`` the N image ids and ``seed`` the run's seed, which seed the random map and the class
    blobs (:mod:`camrobust.seeding`)."""
    names = method_names(methods, BASELINE_METHODS)
    if images01.ndim != 4 or images01.shape[1] != 3 or not images01.is_floating_point() or len(images01) == 0:
        raise ValueError(
            f"images01: expected a non-empty float tensor (N,3,H,W), got {images01.dtype} {tuple(images01.shape)}"
        )
    if images01.amin() < 0 or images01.amax() > 1:
        raise ValueError("images01: values must lie in [0, 1] (the images / 255, not the model's normalised input)")
    if targets.shape != (len(images01),) or targets.is_floating_point():
        raise ValueError(f"targets: expected an integer tensor of shape ({len(images01)},), got {tuple(targets.shape)}")
    if len(ids) != len(images01):
        raise ValueError(f"ids: expected one id per image ({len(images01)}), got {len(ids)}")
    if len(grid) != 2 or min(int(grid[0]), int(grid[1])) < 1:
        raise ValueError(f"grid: expected (h, w) of positive sizes, got {tuple(grid)}")
    size = (int(grid[0]), int(grid[1]))
    return {name: BASELINE_METHODS[name](images01, targets, ids=ids, grid=size, seed=seed) for name in names}


def baseline_maps(
    images01: Tensor,
    targets: Tensor,
    methods: str | Sequence[str],
    *,
    ids: Sequence[str],
    grid: Sequence[int],
    seed: int,
    output_size: Sequence[int] | None = None,
) -> dict[str, Tensor]:
    """Maps (N, H, W) in [0, 1] of baseline-family methods: :func:`baseline_raw_maps` post-processed
    like every CAM (``postprocess``) to ``output_size`` (default: the images' size)."""
    raw = baseline_raw_maps(images01, targets, methods, ids=ids, grid=grid, seed=seed)
    size = images01.shape[-2:] if output_size is None else output_size
    return {name: postprocess(maps, size) for name, maps in raw.items()}


def layer_grid(
    model: nn.Module, target_layer: nn.Module | str | TargetLayer, inputs: Tensor, reshape: Reshape | None = None
) -> tuple[int, int]:
    """(h, w) of the target layer's maps for ``inputs`` (one forward of the first input)."""
    target = resolve_target(model, target_layer)
    with torch.no_grad():
        _, out = forward_capturing(model, target.module, inputs[:1])
    h, w = as_maps(target.activate(out), reshape).shape[-2:]
    return int(h), int(w)


def compute_cams(
    model: nn.Module,
    target_layer: nn.Module | str | TargetLayer,
    inputs: Tensor,
    methods: str | Sequence[str],
    targets: Tensor | None = None,
    batch_size: int = 32,
    reshape: Reshape | None = None,
    *,
    images01: Tensor | None = None,
    ids: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Tensor]:
    """CAMs (N,H,W) in [0,1] for every method, on the inputs' device; targets None = each input's
    predicted class. Images go batch_size at a time (one capture for the gradient family), and
    ScoreCAM / AblationCAM take batch_size channels of one image per forward. Baseline maps
    (:func:`baseline_maps`) also need ``images01``, the inputs as images in [0, 1], their ``ids``
    and the ``seed``; they are drawn on the target layer's grid."""
    names = method_names(methods, CAM_METHODS)
    check_call(model, inputs, targets, batch_size)
    target = resolve_target(model, target_layer)
    grad_names = [m for m in names if m in GRADIENT_METHODS]
    model_names = [m for m in names if m in MODEL_METHODS]
    base_names = [m for m in names if m in BASELINE_METHODS]
    if base_names and (images01 is None or ids is None):
        raise ValueError(f"images01, ids: baseline maps {base_names} need the images in [0, 1] and their ids")
    grid = layer_grid(model, target, inputs, reshape) if base_names else (0, 0)
    parts: dict[str, list[Tensor]] = {m: [] for m in names}
    for start in range(0, len(inputs), batch_size):
        x = inputs[start : start + batch_size]
        t = None if targets is None else targets[start : start + batch_size]
        cams: dict[str, Tensor] = {}
        if grad_names:
            cap = capture(model, target, x, t, reshape)
            cams |= gradient_family(cap.activations, cap.gradients, grad_names, x.shape[-2:])
            t = cap.targets
        if model_names:
            cams |= model_cams(model, target, x, t, model_names, batch_size, reshape)
        if base_names and images01 is not None and ids is not None:
            if t is None:
                with torch.no_grad():
                    t = class_targets(model(x), None)
            rows = slice(start, start + len(x))
            cams |= baseline_maps(
                images01[rows], t, base_names, ids=ids[rows], grid=grid, seed=seed, output_size=x.shape[-2:]
            )
        for name in names:
            parts[name].append(cams[name])
    return {name: torch.cat(maps) for name, maps in parts.items()}
