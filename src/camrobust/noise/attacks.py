"""Gradient attacks in pixel space: FGSM and L-inf PGD, untargeted.

They move x in [0, 1] (float32, (N, 3, H, W)) away from a class along the sign of the
cross-entropy's input gradient; ``forward`` normalises x and runs the model
(:func:`camrobust.noise.apply.attack` builds it). eps (1 2 4 8 16) / 255 at severity 1..5.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from camrobust.noise.draws import Generators, uniform
from camrobust.noise.severity import noise_type

Forward = Callable[[Tensor], Tensor]
PGD_STEPS = 10
PGD_STEP_SIZE = 2.5 / PGD_STEPS  # step = 2.5 eps / steps
EPSILONS = tuple(e / 255 for e in (1, 2, 4, 8, 16))


@noise_type(params=EPSILONS, rule="eps >= 0")
def fgsm(forward: Forward, x: Tensor, targets: Tensor, eps: float, generators: Generators) -> Tensor:
    """FGSM: ``clip(x + eps sign(grad_x CE(f(x), y)), 0, 1)``; eps (1 2 4 8 16) / 255.

    y is the class to move away from (the clean prediction unless labels are given).
    """
    step = eps * _loss_gradient(forward, x, targets).sign()
    return (x + step).clamp(0.0, 1.0)


@noise_type(params=EPSILONS, rule="eps >= 0")
def pgd(forward: Forward, x: Tensor, targets: Tensor, eps: float, generators: Generators) -> Tensor:
    """L-inf PGD: start ``x + U(-eps, eps)`` (per-image generator), then 10 steps of
    ``x' <- clip(proj_eps(x' + a sign(grad_x' CE(f(x'), y))), 0, 1)`` with a = 2.5 eps / 10;
    eps (1 2 4 8 16) / 255.
    """
    start = uniform(x.shape[1:], generators, x)
    adversarial = (x + eps * (2 * start - 1)).clamp(0.0, 1.0)
    low, high = x - eps, x + eps
    for _ in range(PGD_STEPS):
        gradient = _loss_gradient(forward, adversarial, targets)
        adversarial = adversarial + PGD_STEP_SIZE * eps * gradient.sign()
        adversarial = torch.minimum(torch.maximum(adversarial, low), high).clamp(0.0, 1.0)
    return adversarial


def _loss_gradient(forward: Forward, x: Tensor, targets: Tensor) -> Tensor:
    """Gradient of the summed cross-entropy w.r.t. the input only (no parameter .grad)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(forward(x), targets, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, x)
    return gradient
