"""pytorch-grad-cam 1.5.x, the reference the CAM engine is checked against: its classes by our
method names, its maps from one shared pass, and the float32 rounding it adds to float64 maps."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

import numpy as np
import torch
from pytorch_grad_cam import (
    AblationCAM,
    EigenCAM,
    EigenGradCAM,
    GradCAM,
    GradCAMElementWise,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection
from torch import nn

from camrobust.cams import first_component
from tests.rounding import U32

PYTORCH_GRAD_CAM: dict[str, type[BaseCAM]] = {
    "gradcam": GradCAM,
    "gradcampp": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "hirescam": HiResCAM,
    "gradcam_elementwise": GradCAMElementWise,
    "layercam": LayerCAM,
    "eigencam": EigenCAM,
    "eigengradcam": EigenGradCAM,
    "scorecam": ScoreCAM,
    "ablationcam": AblationCAM,
}


# Tolerance for float64 maps: pytorch-grad-cam post-processes in float32 (scale_cam_image casts
# after its first min-max, cv2.resize works in float32, the second min-max too), ours stays float64.
# Its roundings of values in [0, 1]: the cast (1), two 2-tap bilinear passes with float32
# coefficients (2 products, 1 sum, 2 coefficients: 5 each), then 3 in the last min-max (subtract,
# add 1e-7, divide): 14, each <= U32. The 11 before the last division are scaled by 1/max of the
# upsampled map: for upsampling by s >= 2 some output pixel lies within 1/(2s) <= 1/4 of every source
# pixel on each axis, so it keeps >= (3/4)^2 of the (non-negative) map's max 1: 1/max <= 16/9.
# Total <= (11 * 16/9 + 3) U32 < 24 U32 = 7.2e-7.
POSTPROCESS_TOL = 24 * U32


def eigen_tolerance(features: torch.Tensor) -> np.ndarray:
    """Per image, POSTPROCESS_TOL plus the cast of the raw projection p to float32 that
    pytorch-grad-cam's get_2d_projection makes: <= 2 U32 max|p| (half an ulp of each value), twice
    over (value and min or max) after dividing by the first min-max's range max(p) (p has zero
    mean), then 16/9 as above; max(-p) for the opposite sign, as the SVD sign is arbitrary."""
    p = first_component(features.double()).flatten(1)
    spread = torch.minimum(p.amax(1), (-p).amax(1))
    return (POSTPROCESS_TOL + 16 / 9 * 4 * U32 * p.abs().amax(1) / spread).numpy()


def weighted_map_tolerance(weights: np.ndarray, weight_error: np.ndarray, activations: np.ndarray) -> np.ndarray:
    """Per image, for maps post-processed from r = sum_c w_c A_c (weights (N, C), A (N, C, h, w))
    whose weights are off by <= ``weight_error`` (N, C): r moves by <= d = sum_c dw_c |A_c|, the
    first min-max by <= 2 max(d) / range(relu r), then by 16/9 as in POSTPROCESS_TOL, which is
    added for the post-processing."""
    d = (weight_error[:, :, None, None] * np.abs(activations)).sum(1).reshape(len(weights), -1)
    r = np.maximum((weights[:, :, None, None] * activations).sum(1), 0).reshape(len(weights), -1)
    return POSTPROCESS_TOL + 16 / 9 * 2 * d.max(1) / (r.max(1) - r.min(1))


def ablation_tolerance(weights: np.ndarray, activations: np.ndarray, score_error: float) -> np.ndarray:
    """Per image, for AblationCAM maps whose weights w_c = (y - y_c) / y (N, C) come from scores with
    a relative error <= ``score_error`` (rounding in the subtraction and division included). To
    first order |dw_c| <= score_error ((|y| + |y_c|) / |y| + 3 |w_c|) <= score_error (2 + 4 |w_c|),
    since |y_c| = |1 - w_c| |y|; then ``weighted_map_tolerance``."""
    return weighted_map_tolerance(weights, score_error * (2 + 4 * np.abs(weights)), activations)


def scorecam_tolerance(scores: np.ndarray, activations: np.ndarray, score_error: float) -> np.ndarray:
    """Per image, for ScoreCAM maps whose channel scores s (N, C) have a relative error <=
    ``score_error``: w = softmax(s), d log w_c = ds_c - sum_d w_d ds_d, so to first order
    |dw_c| <= 2 max_d |ds_d| w_c <= 2 score_error max_d |s_d| w_c; then ``weighted_map_tolerance``."""
    weights = np.exp(scores - scores.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    error = 2 * score_error * np.abs(scores).max(1, keepdims=True) * weights
    return weighted_map_tolerance(weights, error, activations)


@contextmanager
def default_float64() -> Iterator[None]:
    """pytorch-grad-cam's ScoreCAM gathers its scores with torch.Tensor(list), which takes the
    default dtype: float64 keeps its whole computation in float64."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def predicted_targets(model: nn.Module, inputs: torch.Tensor) -> list[ClassifierOutputTarget]:
    with torch.no_grad():
        return [ClassifierOutputTarget(int(t)) for t in model(inputs).argmax(1)]


def flipped_projection(cam: BaseCAM, activations: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """What ``cam`` (EigenCAM or EigenGradCAM) gives when the SVD returns the other sign: its own
    compute_cam_per_layer + aggregate_multi_layers on -projection of ``activations`` (g * A for
    EigenGradCAM), output ``size`` (H, W)."""
    layer = scale_cam_image(np.maximum(-get_2d_projection(activations), 0), (size[1], size[0]))
    return cam.aggregate_multi_layers([layer[:, None]])


def gradient_maps(
    model: nn.Module,
    layer: nn.Module,
    inputs: torch.Tensor,
    methods: Sequence[str],
    reshape: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """pytorch-grad-cam maps of gradient-family ``methods`` for the predicted classes, sharing ONE
    forward and backward: every method's hooks record that pass, then its own
    compute_cam_per_layer + aggregate_multi_layers (BaseCAM.forward less the model call) make the
    map. Eigen methods also give "<method>_flipped" (``flipped_projection``). The input requires
    grad so that frozen models get gradients at the layer."""
    targets = predicted_targets(model, inputs)
    maps: dict[str, np.ndarray] = {}
    with ExitStack() as stack:
        cams = {m: stack.enter_context(PYTORCH_GRAD_CAM[m](model, [layer], reshape_transform=reshape)) for m in methods}
        outputs = model(inputs.clone().requires_grad_(True))
        sum(target(out) for target, out in zip(targets, outputs, strict=True)).backward()
        for name, cam in cams.items():
            maps[name] = cam.aggregate_multi_layers(cam.compute_cam_per_layer(inputs, targets, False))
            if name in ("eigencam", "eigengradcam"):
                recorded = cam.activations_and_grads
                acts = recorded.activations[0].numpy()
                if name == "eigengradcam":
                    acts = recorded.gradients[0].numpy() * acts
                maps[f"{name}_flipped"] = flipped_projection(cam, acts, inputs.shape[-2:])
    return maps
