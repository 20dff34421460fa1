"""CAM engine: the ten Class Activation Map methods of SPEC section 2 behind one registry.

Gradient family (``GRADIENT_METHODS``): functions of the target-layer activations A (N,C,h,w)
and g = d y_t / dA, the gradient of each image's target logit y_t. ``capture`` gets both from ONE
forward and ONE backward pass (the summed target logits of the batch); ``gradient_family`` turns
them into maps without the model, so the workflow can run it on cached features.

Model family (``MODEL_METHODS``): ScoreCAM and AblationCAM rerun the model on perturbed inputs or
perturbed layer outputs; ``model_cams`` takes one image at a time and feeds ``batch_size`` of its
channels per forward, so peak memory is bounded by the batch size, never by N x C, and every
forward holds rows of one image only: the maps do not depend on which images share a batch.

The target is a module's output (``TargetLayer``), optionally activated by ``post_activation``
for an activation the model applies in its forward code rather than as a module.

Every raw map (N,h,w) is post-processed exactly as pytorch-grad-cam 1.5.x does (``postprocess``).
Adding a method = one function with its formula in the docstring + one registry entry:
``(A, g) -> raw map`` in ``GRADIENT_METHODS`` or ``(Probe) -> raw map`` in ``MODEL_METHODS``.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camrobust import netsplit

LOGGER = logging.getLogger("camrobust")
_NOTED_WHOLE: weakref.WeakSet[nn.Module] = weakref.WeakSet()  # models already logged as unsplittable
Reshape = Callable[[Tensor], Tensor]
ABLATION_OFFSET = 1e7  # pytorch-grad-cam AblationLayer: ablated value min - 1e7 when min != 0


POST_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu}


@dataclass(frozen=True)
class TargetLayer:
    """A CAM target: the output of ``module``, passed through ``post_activation`` (a name in
    ``POST_ACTIVATIONS``) when that is not None. The option is for an activation the model applies
    to that output in its forward code, not as a module (torchvision DenseNet: ``F.relu`` right
    after ``features.norm5``): the activations are A = act(output) and the gradients g = dy/d output,
    which is dy/dA through the model's own activation (for relu: dy/dA where A > 0, 0 where A = 0).
    The model always runs on the unmodified output, so its logits do not change. String form:
    ``"<module path>"`` or ``"relu(<module path>)"`` (``split_target``)."""

    module: nn.Module
    post_activation: str | None = None

    def __post_init__(self) -> None:
        if self.post_activation is not None and self.post_activation not in POST_ACTIVATIONS:
            raise ValueError(
                f"target_layer: post-activation {self.post_activation!r} unknown; valid: {list(POST_ACTIVATIONS)}"
            )

    def activate(self, output: Tensor) -> Tensor:
        """The activations A of a raw layer output: act(output), or output without a post-activation."""
        return output if self.post_activation is None else POST_ACTIVATIONS[self.post_activation](output)


def split_target(spec: str) -> tuple[str, str | None]:
    """A target-layer string -> (module path, post-activation): "layer4" -> ("layer4", None),
    "relu(features.norm5)" -> ("features.norm5", "relu")."""
    match = re.fullmatch(r"(\w+)\((.*)\)", spec.strip())
    return (match[2].strip(), match[1]) if match else (spec.strip(), None)


def _hw_sum(x: Tensor) -> Tensor:
    return x.sum((2, 3), keepdim=True)


# ----------------------------------------------------------------------------- gradient family
def gradcam(a: Tensor, g: Tensor) -> Tensor:
    """GradCAM: sum_c w_c A_c with w_c = mean_hw(g_c)."""
    return (g.mean((2, 3), keepdim=True) * a).sum(1)


def gradcampp(a: Tensor, g: Tensor) -> Tensor:
    """GradCAM++: sum_c w_c A_c, w_c = sum_hw relu(g_c) alpha_c,
    alpha_c = g_c^2 / (2 g_c^2 + sum_hw(A_c) g_c^3 + 1e-6), alpha_c = 0 where g_c = 0."""
    g2 = g.square()
    alpha = torch.where(g != 0, g2 / (2 * g2 + _hw_sum(a) * g2 * g + 1e-6), 0.0)
    return (_hw_sum(g.relu() * alpha) * a).sum(1)


def xgradcam(a: Tensor, g: Tensor) -> Tensor:
    """XGradCAM: sum_c w_c A_c, w_c = sum_hw(g_c A_c) / (sum_hw(A_c) + 1e-7)."""
    return (_hw_sum(g * a) / (_hw_sum(a) + 1e-7) * a).sum(1)


def hirescam(a: Tensor, g: Tensor) -> Tensor:
    """HiResCAM: sum_c g_c * A_c (element-wise product, no spatial averaging)."""
    return (g * a).sum(1)


def gradcam_elementwise(a: Tensor, g: Tensor) -> Tensor:
    """GradCAMElementWise: sum_c relu(g_c * A_c)."""
    return (g * a).relu().sum(1)


def layercam(a: Tensor, g: Tensor) -> Tensor:
    """LayerCAM: sum_c relu(g_c) * A_c."""
    return (g.relu() * a).sum(1)


def first_component(x: Tensor) -> Tensor:
    """Per image, X = x read as an (h*w, C) matrix minus its column means; return X v1 as (N,h,w),
    v1 the first right singular vector (pytorch-grad-cam get_2d_projection).

    Sign rule (SVD leaves it arbitrary): v1 is flipped so that sum_c v1_c >= 0. Since
    X^T X v1 = s1^2 v1 and X v1 has zero mean, <X v1, m> = s1^2 sum_c(v1_c) / C for the channel-mean
    map m = mean_c x_c, so the rule makes the projection correlate positively with m."""
    n, _, h, w = x.shape
    mat = x.flatten(2).transpose(1, 2)
    mat = mat - mat.mean(1, keepdim=True)
    v1 = torch.linalg.svd(mat, full_matrices=False).Vh[:, 0]
    v1 = torch.where(v1.sum(1, keepdim=True) < 0, -v1, v1)
    return (mat @ v1.unsqueeze(2)).view(n, h, w)


def eigencam(a: Tensor, g: Tensor) -> Tensor:
    """EigenCAM: first_component(A), the projection of A (h*w x C, column-centred) on its first
    right singular vector, sign rule of ``first_component``; g is not used."""
    return first_component(a)


def eigengradcam(a: Tensor, g: Tensor) -> Tensor:
    """EigenGradCAM: first_component(g * A), sign rule of ``first_component``."""
    return first_component(g * a)


# ----------------------------------------------------------------------------- model family
@dataclass(frozen=True)
class Probe:
    """What a model-based method sees of ONE image: the model, its target layer, the input
    (1,3,H,W), its target class (1,), the clean target logit y (1,), the clean layer maps A (1,C,h,w),
    the raw layer output (1, ...) and its channel axis, the rows per forward, and ``tail``: the
    network after the layer as ``edited outputs (B, ...) -> logits (B,K)`` (``netsplit``), None
    where the model could not be split."""

    model: nn.Module
    layer: nn.Module
    inputs: Tensor
    targets: Tensor
    scores: Tensor
    activations: Tensor
    output: Tensor
    channel_axis: int
    batch_size: int
    tail: Callable[[Tensor], Tensor] | None = None

    def target_scores(self, n_rows: int, logits_of: Callable[[Tensor], Tensor]) -> Tensor:
        """Target logit of rows 0 .. n_rows-1 -> (n_rows,): logits_of(rows) -> (len(rows), K),
        batch_size rows a call."""
        scores = self.scores.new_empty(n_rows)
        for rows in torch.arange(n_rows, device=self.inputs.device).split(self.batch_size):
            scores[rows] = logits_of(rows)[:, self.targets[0]]
        return scores

    def edited_logits(self, edit: Callable[[Tensor], Tensor], rows: int) -> Tensor:
        """Logits (rows, K) with the layer output replaced by edit(output repeated ``rows`` times):
        the tail alone on the clean output when there is one, else the whole model on the input
        repeated, the layer's output edited by a forward hook."""
        if self.tail is not None:
            return self.tail(edit(self.output.expand(rows, *self.output.shape[1:])))
        handle = self.layer.register_forward_hook(lambda _m, _a, out: edit(out))
        try:
            return self.model(self.inputs.repeat(rows, 1, 1, 1))
        finally:
            handle.remove()


def _upsampled(maps: Tensor, size: Sequence[int]) -> Tensor:
    """Maps (B,h,w) -> (B,1,H,W), bilinear with align_corners=True (torch.nn.UpsamplingBilinear2d)."""
    return F.interpolate(maps.unsqueeze(1), size=tuple(size), mode="bilinear", align_corners=True)


def scorecam(probe: Probe) -> Tensor:
    """ScoreCAM: sum_c w_c A_c, w = softmax_c(y_t(x * M_c)), M_c = (U_c - min U_c) / (max U_c -
    min U_c + 1e-8), U_c = A_c upsampled bilinearly to the input size with align_corners=True
    (torch.nn.UpsamplingBilinear2d, as pytorch-grad-cam 1.5.x).

    One forward per distinct mask, not per channel: channels with bitwise equal maps A_c give
    the same mask (torch.unique), and every channel whose U_c is constant (max U_c == min U_c,
    checked on U_c itself, for the channels constant at h x w, e.g. dead ReLU channels) has the
    mask 0 exactly, so those share one score y_t(x * 0). Each other score is the forward of the
    masked input as before; only which masks share a batch of ``batch_size`` changes, which moves
    scores by rounding."""
    a, size = probe.activations, probe.inputs.shape[-2:]
    maps, same_map = torch.unique(a[0].flatten(1), dim=0, return_inverse=True)
    maps = maps.view(-1, *a.shape[-2:])
    flat = maps.flatten(1)
    constant = torch.zeros(len(maps), dtype=torch.bool, device=a.device)
    candidates = (flat.amax(1) == flat.amin(1)).nonzero().squeeze(1)
    for rows in candidates.split(probe.batch_size):
        up = _upsampled(maps[rows], size).flatten(1)
        constant[rows] = up.amax(1) == up.amin(1)
    key = torch.arange(len(maps), device=a.device)
    key[constant] = key[constant][:1]  # one representative for all masks that are 0
    representatives, same_mask = torch.unique(key, return_inverse=True)

    def masked_logits(rows: Tensor) -> Tensor:
        up = _upsampled(maps[representatives[rows]], size)
        lo, hi = up.amin((2, 3), keepdim=True), up.amax((2, 3), keepdim=True)
        return probe.model(probe.inputs * (up - lo) / (hi - lo + 1e-8))

    scores = probe.target_scores(len(representatives), masked_logits)[same_mask[same_map]]
    weights = scores.unsqueeze(0).softmax(1)
    return (weights[:, :, None, None] * a).sum(1)


def ablationcam(probe: Probe) -> Tensor:
    """AblationCAM: sum_c w_c A_c, w_c = (y - y_c) / y, y the target logit, y_c the target logit
    with channel c of the layer output set to v: v = 0 if min(output) == 0 (ReLU layers), else
    v = min(output) - 1e7 (pytorch-grad-cam AblationLayer). Difference: pytorch-grad-cam takes that
    min over its whole ablation batch, which drifts after the first ablated row when min != 0; here
    min is the image's own layer output. The raw output is edited, before any post-activation (for
    DenseNet's relu(features.norm5): min - 1e7, which the model's ReLU turns into 0, as ablating the
    activated channel to 0). y = 0 gives NaN weights, as in pytorch-grad-cam.

    Ablating a channel changes only what follows the layer, so y_c runs the tail of the network
    alone (``Probe.edited_logits``) on batch_size ablated copies of the clean output: for ResNet's
    layer4, pooling and the linear layer, i.e. matrix products. Models that cannot be split run
    whole on the repeated input, the output edited by a hook; both give y_c up to rounding."""

    def ablate(rows: Tensor) -> Callable[[Tensor], Tensor]:
        def edit(out: Tensor) -> Tensor:
            out = out.clone()
            lo = out.flatten(1).amin(1)
            value = torch.where(lo == 0, 0.0, lo - ABLATION_OFFSET)
            index = torch.arange(len(out), device=out.device)
            out.movedim(probe.channel_axis, 1)[index, rows] = value.view(-1, *[1] * (out.ndim - 2))
            return out

        return edit

    y = probe.scores.unsqueeze(1)
    ablated = probe.target_scores(probe.activations.shape[1], lambda c: probe.edited_logits(ablate(c), len(c)))
    weights = (y - ablated.unsqueeze(0)) / y
    return (weights[:, :, None, None] * probe.activations).sum(1)


GRADIENT_METHODS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "gradcam": gradcam,
    "gradcampp": gradcampp,
    "xgradcam": xgradcam,
    "hirescam": hirescam,
    "gradcam_elementwise": gradcam_elementwise,
    "layercam": layercam,
    "eigencam": eigencam,
    "eigengradcam": eigengradcam,
}
MODEL_METHODS: dict[str, Callable[[Probe], Tensor]] = {"scorecam": scorecam, "ablationcam": ablationcam}
CAM_METHODS: tuple[str, ...] = (*GRADIENT_METHODS, *MODEL_METHODS)


# ----------------------------------------------------------------------------- post-processing
def _at_least_float32(x: Tensor) -> Tensor:
    """x as float32, or as it is when of a wider float type (float64 maps for float64 models)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _minmax(x: Tensor) -> Tensor:
    x = x - x.amin((-2, -1), keepdim=True)
    return x / (x.amax((-2, -1), keepdim=True) + 1e-7)


def postprocess(raw: Tensor, output_size: Sequence[int]) -> Tensor:
    """pytorch-grad-cam 1.5.x post-processing of raw maps (..., h, w) -> (..., H, W) in [0, 1]:
    ReLU, per-map min-max (x - min) / (max - min + 1e-7), bilinear upsampling with half-pixel
    centres (align_corners=False, no antialias: cv2.resize INTER_LINEAR), min-max again
    (BaseCAM.aggregate_multi_layers rescales the upsampled map). float32, or float64 for float64
    raw maps."""
    lead, size = raw.shape[:-2], (int(output_size[0]), int(output_size[1]))
    maps = _minmax(_at_least_float32(raw).clamp_min(0)).reshape(-1, 1, *raw.shape[-2:])
    maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False, antialias=False)
    return _minmax(maps.view(*lead, *size))


# ----------------------------------------------------------------------------- checks
def _method_names(methods: str | Sequence[str], allowed: Collection[str]) -> list[str]:
    names = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in names if m not in CAM_METHODS]
    if unknown:
        raise ValueError(f"methods: unknown CAM method(s) {unknown}; valid: {list(CAM_METHODS)}")
    misplaced = [m for m in names if m not in allowed]
    if misplaced:
        raise ValueError(f"methods: {misplaced} not computed here; this function takes {list(allowed)}")
    return list(dict.fromkeys(names))


def _resolve_target(model: nn.Module, target_layer: nn.Module | str | TargetLayer) -> TargetLayer:
    if isinstance(target_layer, str):
        path, post_activation = split_target(target_layer)
        try:
            module = model.get_submodule(path)
        except AttributeError:
            paths = [name for name, _ in model.named_modules() if name]
            raise ValueError(f"target_layer: {path!r} not found; valid paths: {paths}") from None
        return TargetLayer(module, post_activation)
    target = target_layer if isinstance(target_layer, TargetLayer) else TargetLayer(target_layer)
    if not any(m is target.module for m in model.modules()):
        raise ValueError("target_layer: the module given is not a submodule of model")
    return target


def _check_call(model: nn.Module, inputs: Tensor, targets: Tensor | None, batch_size: int = 1) -> None:
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


def _resolve_targets(logits: Tensor, targets: Tensor | None) -> Tensor:
    if logits.ndim != 2:
        raise ValueError(f"model output: expected logits (N, classes), got {tuple(logits.shape)}")
    if targets is None:
        return logits.argmax(1)
    targets = targets.to(device=logits.device, dtype=torch.long)
    if targets.min() < 0 or targets.max() >= logits.shape[1]:
        raise ValueError(f"targets: class indices must lie in [0, {logits.shape[1]}), got {targets.tolist()}")
    return targets


def _forward_capturing(model: nn.Module, layer: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
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


def _as_maps(x: Tensor, reshape: Reshape | None) -> Tensor:
    maps = x if reshape is None else reshape(x)
    if maps.ndim != 4:
        raise ValueError(f"target_layer: output {tuple(x.shape)} is not (N,C,h,w); pass reshape= (see token_reshape)")
    return maps


# ----------------------------------------------------------------------------- public API
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
    target = _resolve_target(model, target_layer)
    _check_call(model, inputs, targets)
    with torch.enable_grad():
        logits, out = _forward_capturing(model, target.module, inputs)
        targets = _resolve_targets(logits, targets)
        (grad,) = torch.autograd.grad(logits.gather(1, targets.unsqueeze(1)).sum(), out)
    activations = target.activate(out.detach())
    return Capture(logits.detach(), _as_maps(activations, reshape), _as_maps(grad, reshape), targets)


def gradient_family(
    activations: Tensor, gradients: Tensor, methods: str | Sequence[str], output_size: Sequence[int]
) -> dict[str, Tensor]:
    """Maps (N,H,W) in [0,1] of gradient-family methods from activations and gradients (N,C,h,w)."""
    names = _method_names(methods, GRADIENT_METHODS)
    if activations.ndim != 4 or activations.shape != gradients.shape:
        raise ValueError(
            f"activations/gradients: expected equal (N,C,h,w) shapes, got "
            f"{tuple(activations.shape)} and {tuple(gradients.shape)}"
        )
    a, g = _at_least_float32(activations), _at_least_float32(gradients)
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
    names = _method_names(methods, MODEL_METHODS)
    target = _resolve_target(model, target_layer)
    _check_call(model, inputs, targets, batch_size)
    raw = []
    with torch.no_grad():
        split = _split(model, target.module) if "ablationcam" in names else None
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
                logits, out = _forward_capturing(model, target.module, x)
            else:
                logits = tail(out.clone())  # clone: the tail may write in place (DenseNet's ReLU)
            t = _resolve_targets(logits, None if targets is None else targets[i : i + 1])
            probe = Probe(
                model=model,
                layer=target.module,
                inputs=x,
                targets=t,
                scores=logits.gather(1, t.unsqueeze(1)).squeeze(1),
                activations=_at_least_float32(_as_maps(target.activate(out), reshape)),
                output=out,
                channel_axis=1 if reshape is None else -1,
                batch_size=batch_size,
                tail=tail,
            )
            raw.append(torch.stack([MODEL_METHODS[name](probe) for name in names], 1))
    return dict(zip(names, torch.cat(raw).unbind(1), strict=True))


def layer_grid(
    model: nn.Module, target_layer: nn.Module | str | TargetLayer, inputs: Tensor, reshape: Reshape | None = None
) -> tuple[int, int]:
    """(h, w) of the target layer's maps for ``inputs`` (one forward of the first input)."""
    target = _resolve_target(model, target_layer)
    with torch.no_grad():
        _, out = _forward_capturing(model, target.module, inputs[:1])
    h, w = _as_maps(target.activate(out), reshape).shape[-2:]
    return int(h), int(w)


def compute_cams(
    model: nn.Module,
    target_layer: nn.Module | str | TargetLayer,
    inputs: Tensor,
    methods: str | Sequence[str],
    targets: Tensor | None = None,
    batch_size: int = 32,
    reshape: Reshape | None = None,
) -> dict[str, Tensor]:
    """CAMs (N,H,W) in [0,1] for every method, on the inputs' device; targets None = each input's
    predicted class. Images go batch_size at a time (one capture for the gradient family), and
    ScoreCAM / AblationCAM take batch_size channels of one image per forward."""
    names = _method_names(methods, CAM_METHODS)
    _check_call(model, inputs, targets, batch_size)
    target = _resolve_target(model, target_layer)
    grad_names = [m for m in names if m in GRADIENT_METHODS]
    model_names = [m for m in names if m in MODEL_METHODS]
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
        for name in names:
            parts[name].append(cams[name])
    return {name: torch.cat(maps) for name, maps in parts.items()}


def token_reshape(model: nn.Module, input_size: int | Sequence[int]) -> Reshape | None:
    """Reshape for token-shaped target layers, read from the model: torchvision VisionTransformer
    (N, 1 + gh*gw, C) -> drop the class token -> (N, C, gh, gw), (gh, gw) = input size // the
    model's patch_size; torchvision SwinTransformer (N, h, w, C) -> (N, C, h, w); None otherwise."""
    from torchvision.models import SwinTransformer, VisionTransformer  # only here: a slow import

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
