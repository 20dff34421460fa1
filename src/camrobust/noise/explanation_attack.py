"""Explanation attack: the worst case of a CAM's region ranking within an L-inf budget.

Random noise gives the average stability of a CAM; this search gives the worst case. For each
image it looks, within ``||x' - x||_inf <= eps``, for the input x' that keeps the model's
predicted class and moves the CAM's ranking of the clean image's regions as far as it can
(lowest RBO against the clean ranking). Severities 1..5 are the budgets eps of FGSM and PGD:

======== ===== ===== ===== ===== ======
severity 1     2     3     4     5
eps      1/255 2/255 4/255 8/255 16/255
======== ===== ===== ===== ===== ======

**Search.** Projected sign-gradient descent (PGD) on a differentiable surrogate of the ranking
change, Ghorbani et al.'s (2019) top-k attack on regions: with E(x') the post-processed CAM
(:func:`camrobust.cams.postprocess`) of the class t the clean CAM explains (the clean
prediction, or a given class such as the label), I_j(x') the mean of E(x') over clean region j
and T the clean image's top ``ceil(top_fraction * m)`` regions (m regions),

    D(x') = sum_{j in T} I_j(x') / (sum_j I_j(x') + 1e-12),

the share of the importance held by the clean top regions; each step is
``x' <- clip(proj_eps(x' - a sign(grad D(x'))), 0, 1)`` with a = ``step_size`` eps. The gradient
runs through the CAM itself (double backprop: :func:`camrobust.cams.differentiable.differentiable_raw_maps`)
with ReLU derivatives replaced by sigmoid(beta z) and EigenCAM's singular vector
differentiated by power iteration, while the forward values stay the real model's
(:class:`camrobust.cams.differentiable.SurrogateGradients`); a non-finite gradient entry
counts as 0, and a CAM that does not depend on the input is not moved. Each of ``restarts``
runs starts at ``x + eps (2u - 1)``, u ~ U[0, 1) per value from the image's own generator
(keyed like every noise's draws, so the batch and the job split do not change the search).

**Acceptance is exact.** The start and every step's iterate are quantised to what would be
stored, ``round(255 x')`` clipped to the budget around the clean uint8 values (so
||x' - x||_inf <= eps also after rounding), and evaluated with the REAL model and the REAL CAM
(``camrobust.cams.capture``, no surrogate): the prediction, and the RBO of the CAM's region
ranking against the clean one (as a score table computes it). The kept image is the iterate with
the lowest RBO among those whose predicted class equals the clean one; with no such iterate, the
clean image (RBO 1). So every kept image keeps its predicted class, checked before returning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from camrobust.cams.capture import Reshape, capture
from camrobust.cams.catalogue import GRADIENT_METHODS
from camrobust.cams.differentiable import SurrogateGradients, differentiable_raw_maps
from camrobust.cams.postprocess import at_least_float32, postprocess
from camrobust.cams.target import TargetLayer
from camrobust.noise.draws import Generators, uniform
from camrobust.noise.severity import fraction, noise_type, positive, positive_integer, probability

EPSILONS = tuple(e / 255 for e in (1, 2, 4, 8, 16))
STEPS = 10
"""Gradient steps per restart (default)."""
STEP_SIZE = 0.25
"""Step a as a fraction of eps (default): 2.5 eps over the 10 steps, as PGD."""
RESTARTS = 1
"""Random starts in the eps-ball (default)."""
BETA = 10.0
"""Sharpness of the softplus surrogate's derivative sigmoid(beta z) (default)."""
TOP_FRACTION = 0.2
"""Share of the clean image's regions whose importance the search lowers (default)."""


@dataclass(frozen=True)
class ExplanationAttackSettings:
    """Options of the search: ``steps`` (>= 1) per restart, ``step_size`` a as a fraction of eps
    (> 0), ``restarts`` (>= 1), ``beta`` of the ReLU surrogate (> 0), ``top_fraction`` of the
    regions in T (in (0, 1]) and the RBO persistence ``p`` (in (0, 1)). Defaults: the constants
    of this module; ``p`` as ``metric.rbo_p``."""

    steps: int = STEPS
    step_size: float = STEP_SIZE
    restarts: int = RESTARTS
    beta: float = BETA
    top_fraction: float = TOP_FRACTION
    p: float = 0.9

    def __post_init__(self) -> None:
        checks = (
            ("steps", self.steps, positive_integer, "an integer >= 1 (0 steps would only score the random start)"),
            ("step_size", self.step_size, positive, "a fraction of eps > 0"),
            ("restarts", self.restarts, positive_integer, "an integer >= 1"),
            ("beta", self.beta, positive, "> 0"),
            ("top_fraction", self.top_fraction, fraction, "in (0, 1]"),
            ("p", self.p, lambda v: probability(v) and 0 < v < 1, "in (0, 1)"),
        )
        for name, value, valid, rule in checks:
            if not valid(value):
                raise ValueError(f"explanation_attack: {name} must be {rule}, got {value!r}")


@dataclass(frozen=True)
class AttackedCam:
    """The CAM under attack: ``model`` (eval mode), its ``target`` layer, a gradient-family
    ``method``, ``normalise`` (x in [0, 1] -> the model's input, differentiable) and the
    ``reshape`` of token-shaped layers."""

    model: nn.Module
    target: TargetLayer
    method: str
    normalise: Callable[[Tensor], Tensor]
    reshape: Reshape | None = None

    def __post_init__(self) -> None:
        if self.method not in GRADIENT_METHODS:
            raise ValueError(
                f"method: {self.method!r} has no cheap input gradient; attack {list(GRADIENT_METHODS)} and "
                "evaluate it on their images (camrobust.noise.transfer_explanation_attack)"
            )

    def real(self, x: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(prediction (N,), raw map (N,h,w), post-processed map (N,H,W)) of the real model and
        CAM on x, each map explaining ``targets`` (None: its image's predicted class)."""
        cap = capture(self.model, self.target, self.normalise(x), targets, self.reshape)
        raw = GRADIENT_METHODS[self.method](at_least_float32(cap.activations), at_least_float32(cap.gradients))
        return cap.logits.argmax(1), raw, postprocess(raw, x.shape[-2:])

    def surrogate(self, x: Tensor, targets: Tensor, beta: float) -> Tensor:
        """Post-processed maps (N,H,W) of ``targets`` in the graph of x, ReLU derivatives smoothed;
        attention by the math kernel, the one whose backward has a derivative (double backprop)."""
        with SurrogateGradients(beta), sdpa_kernel(SDPBackend.MATH):
            _, raw = differentiable_raw_maps(
                self.model, self.target, self.normalise(x), targets, self.method, self.reshape
            )
        return postprocess(raw, x.shape[-2:])


@dataclass(frozen=True)
class CleanView:
    """A batch of clean images as the attack sees them: x (N,3,H,W) in [0, 1] (k / 255), the
    prediction, raw map and region importances (N,M) of the real CAM, which regions each image
    has (``valid``), the segments (N,H,W) and, on the images' device, their flat labels
    (label + image * M) and ``top`` (N,M), the regions in T; ``rbo`` is the clean ranking's RBO
    with itself (1; NaN where a score table has none: one region, or a non-finite map);
    ``targets`` the classes the maps explain, None for each image's prediction."""

    x: Tensor
    pred: Tensor
    raw: Tensor
    importance: np.ndarray
    valid: np.ndarray
    segments: np.ndarray
    labels: Tensor
    top: Tensor
    rbo: np.ndarray
    targets: Tensor | None = None

    @property
    def n_max(self) -> int:
        return self.importance.shape[1]

    @property
    def explained(self) -> Tensor:
        """The class each map explains (N,): the given targets, or the clean prediction."""
        return self.pred if self.targets is None else self.targets


def clean_view(
    cam: AttackedCam,
    x: Tensor,
    segments: np.ndarray,
    settings: ExplanationAttackSettings | None = None,
    targets: Tensor | None = None,
) -> CleanView:
    """The clean state of the images x (N,3,H,W) in [0, 1] with their region labels (N,H,W);
    ``targets``: the class every map of an image explains (None: the clean prediction, also for
    the iterates, which keep it)."""
    settings = ExplanationAttackSettings() if settings is None else settings
    segments = np.asarray(segments)
    if segments.shape != (len(x), *x.shape[-2:]) or not np.issubdtype(segments.dtype, np.integer):
        raise ValueError(f"segments: expected integer labels of shape {(len(x), *x.shape[-2:])}, got {segments.shape}")
    with torch.no_grad():
        pred, raw, maps = cam.real(x, targets)
    n_max = int(segments.max()) + 1
    labels, valid = region_labels(segments, n_max)
    importance = importances(maps, segments, n_max)
    count = np.ceil(settings.top_fraction * valid.sum(1) - 1e-9).astype(np.int64).clip(min=1)
    order = np.argsort(-np.where(valid, np.nan_to_num(importance, nan=-np.inf), -np.inf), axis=1, kind="stable")
    top = np.zeros_like(valid)
    np.put_along_axis(top, order, np.arange(n_max)[None, :] < count[:, None], axis=1)
    return CleanView(
        x=x,
        pred=pred,
        raw=raw.detach(),
        importance=importance,
        valid=valid,
        segments=segments,
        labels=torch.as_tensor(labels, device=x.device),
        top=torch.as_tensor(top, device=x.device),
        rbo=ranking_rbo(importance, importance, valid, settings.p),
        targets=None if targets is None else targets.to(device=x.device, dtype=torch.long),
    )


def region_labels(segments: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat labels (label + image * n_max, raveled) of segments (N,H,W) and which of the
    n_max labels each image has (N, n_max)."""
    n = len(segments)
    labels = (segments.astype(np.int64) + (np.arange(n) * n_max)[:, None, None]).ravel()
    return labels, (np.bincount(labels, minlength=n * n_max) > 0).reshape(n, n_max)


def importances(maps: Tensor, segments: np.ndarray, n_max: int) -> np.ndarray:
    """Mean map value per region (N, n_max), float64 (:func:`camrobust.scoring.region_importance`)."""
    from camrobust.scoring import region_importance

    return region_importance(maps, segments, n_max)


def ranking_rbo(clean: np.ndarray, other: np.ndarray, valid: np.ndarray, p: float) -> np.ndarray:
    """RBO per row of two region-importance arrays (N,M) as a score table has it
    (:func:`camrobust.scoring.rbo_scores`), NaN with fewer than 2 regions or a non-finite map."""
    from camrobust.scoring import rbo_scores  # numba: loaded by the attack, not by every noise job

    finite = np.isfinite(np.where(valid, clean, 0)).all(1) & np.isfinite(np.where(valid, other, 0)).all(1)
    ranked = (valid.sum(1) >= 2) & finite
    return np.where(ranked, rbo_scores(clean, other, valid, p), np.nan)


def top_share(maps: Tensor, clean: CleanView) -> Tensor:
    """D = sum_{j in T} I_j / (sum_j I_j + 1e-12) per image (N,), differentiable in ``maps``."""
    n, m = len(maps), clean.n_max
    sums = maps.new_zeros(n * m).index_add(0, clean.labels, maps.reshape(-1)).view(n, m)
    counts = torch.bincount(clean.labels, minlength=n * m).view(n, m).to(maps.dtype)
    means = sums / counts.clamp_min(1)
    return (means * clean.top).sum(1) / (means.sum(1) + 1e-12)


@dataclass(frozen=True)
class WorstCase:
    """The kept image per input: ``images`` (N,3,H,W) in [0, 1] (k / 255), its prediction (the
    clean one), the real CAM's raw map (N,h,w), its RBO against the clean ranking (float64),
    and ``found``: whether an iterate other than the clean image was kept."""

    images: Tensor
    pred: Tensor
    raw: Tensor
    rbo: np.ndarray
    found: np.ndarray


@noise_type(params=EPSILONS, rule="eps in (0, 1]", valid=fraction)
def explanation_attack(
    cam: AttackedCam,
    clean: CleanView,
    eps: float,
    generators: Generators,
    settings: ExplanationAttackSettings | None = None,
) -> WorstCase:
    """Worst case of a CAM's region ranking: the input within ``||x' - x||_inf <= eps`` that keeps
    the predicted class and ranks the clean regions least like the clean CAM (lowest RBO), found
    by PGD on the clean top regions' share of the CAM and accepted on the stored uint8 image;
    eps (1 2 4 8 16) / 255.

    ``cam``: the model and CAM under attack; ``clean``: the images' clean state
    (:func:`clean_view`); ``generators``: one per image, for the random starts; ``settings``:
    steps, step size, restarts, beta (:class:`ExplanationAttackSettings`)."""
    settings = ExplanationAttackSettings() if settings is None else settings
    if not fraction(eps):
        raise ValueError(f"explanation_attack: eps must lie in (0, 1], got {eps!r}")
    x0 = clean.x
    k0 = torch.round(x0 * 255)
    budget = math.floor(255 * eps + 1e-6)
    low, high = (k0 - budget).clamp(0, 255), (k0 + budget).clamp(0, 255)
    images, pred, raw = x0.clone(), clean.pred.clone(), clean.raw.clone()
    best, found = clean.rbo.copy(), np.zeros(len(x0), bool)
    starts = uniform((settings.restarts, *x0.shape[1:]), generators, x0)
    for restart in range(settings.restarts):
        x = (x0 + eps * (2 * starts[:, restart] - 1)).clamp(0.0, 1.0)
        for step in range(settings.steps + 1):
            if step:
                with torch.enable_grad():
                    xr = x.detach().requires_grad_(True)
                    share = top_share(cam.surrogate(xr, clean.explained, settings.beta), clean)
                    (gradient,) = torch.autograd.grad(share.sum(), xr, allow_unused=True)
                if gradient is not None:  # None: the CAM does not depend on the input
                    direction = torch.nan_to_num(gradient, nan=0.0, posinf=0.0, neginf=0.0).sign()
                    x = x - settings.step_size * eps * direction
                x = torch.minimum(torch.maximum(x, x0 - eps), x0 + eps).clamp(0.0, 1.0)
            stored = torch.minimum(torch.maximum(torch.round(x * 255), low), high) / 255
            with torch.no_grad():
                step_pred, step_raw, maps = cam.real(stored, clean.targets)
            rbo = ranking_rbo(clean.importance, importances(maps, clean.segments, clean.n_max), clean.valid, settings.p)
            keep = (step_pred == clean.pred).cpu().numpy() & (rbo < best)
            if keep.any():
                chosen = torch.as_tensor(keep, device=x0.device)
                images = torch.where(chosen[:, None, None, None], stored, images)
                pred = torch.where(chosen, step_pred, pred)
                raw = torch.where(chosen[:, None, None], step_raw, raw)
                best, found = np.where(keep, rbo, best), found | keep
    if not torch.equal(pred, clean.pred):
        raise RuntimeError("explanation_attack: a kept image changed its predicted class; this is a bug")
    return WorstCase(images, pred, raw, best, found)
