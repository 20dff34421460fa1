"""Sensor noises: ImageNet-C's Gaussian, shot, impulse and speckle noise, and two of medical imaging.

The four ImageNet-C noises follow Hendrycks & Dietterich (2019) with their severity tables;
rician_noise (magnitude MRI) and poisson_gaussian_noise (low-dose X-ray / CT detectors) have
their own tables and references; uniform_noise is the random counterpart of the L-inf budgets of
the attacks. Each draws per image (:mod:`camrobust.noise.draws`) and runs
batched on the images' device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from camrobust.noise.draws import Generators, standard_normal, uniform
from camrobust.noise.severity import noise_type, non_negative, numbers, positive, probability


@noise_type(params=(0.08, 0.12, 0.18, 0.26, 0.38), rule="sigma >= 0")
def gaussian_noise(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Additive Gaussian noise: ``x + N(0, sigma)``; sigma .08 .12 .18 .26 .38 (severity 1..5)."""
    return x + sigma * standard_normal(x, generators)


@noise_type(params=(60, 25, 12, 5, 3), rule="c > 0", valid=positive)
def shot_noise(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Poisson (shot) noise: ``Poisson(x c) / c`` (variance x / c); c 60 25 12 5 3.

    The Poisson draws need the rates on the CPU (where the generators live).
    """
    rates = (x * c).cpu()
    counts = torch.stack([torch.poisson(rate, generator=g) for rate, g in zip(rates, generators, strict=True)])
    return counts.to(x.device) / c


@noise_type(params=(0.03, 0.06, 0.09, 0.17, 0.27), rule="amount in [0, 1]", valid=probability)
def impulse_noise(x: Tensor, amount: float, generators: Generators) -> Tensor:
    """Salt & pepper on each channel value (``skimage.util.random_noise`` 's&p' semantics).

    Each value is replaced with probability ``amount``, by 1 (salt) or 0 (pepper) with equal
    probability; amount .03 .06 .09 .17 .27.
    """
    uniforms = uniform((2, *x.shape[1:]), generators, x)
    replaced = uniforms[:, 0] < amount
    salt = (uniforms[:, 1] < 0.5).to(x.dtype)
    return torch.where(replaced, salt, x)


@noise_type(params=(0.15, 0.2, 0.35, 0.45, 0.6), rule="sigma >= 0")
def speckle_noise(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Multiplicative speckle: ``x + x N(0, sigma)`` (variance x^2 sigma^2); sigma .15 .2 .35 .45 .6."""
    return x + x * (sigma * standard_normal(x, generators))


@noise_type(params=(0.03, 0.06, 0.09, 0.12, 0.15), rule="sigma >= 0")
def rician_noise(x: Tensor, sigma: float, generators: Generators) -> Tensor:
    """Rician noise of magnitude MRI: ``|x + n1 + i n2|``, n1, n2 ~ N(0, sigma) per channel value.

    The magnitude of a complex signal with Gaussian noise in both channels (Gudbjartsson & Patz
    1995, Magn. Reson. Med. 34:910). sigma as a fraction of the full scale:

    ======== ==== ==== ==== ==== ====
    severity 1    2    3    4    5
    sigma    .03  .06  .09  .12  .15
    ======== ==== ==== ==== ==== ====

    3-15 %, the range of the BrainWeb and MRI denoising benchmarks (Manjon et al. 2010).
    """
    real = x + sigma * standard_normal(x, generators)
    imaginary = sigma * standard_normal(x, generators)
    return torch.hypot(real, imaginary)


@noise_type(
    params=((200, 0.01), (100, 0.02), (50, 0.03), (25, 0.04), (10, 0.05)),
    rule="(photons > 0, read noise std >= 0)",
    valid=numbers(positive, non_negative),
)
def poisson_gaussian_noise(x: Tensor, photons_read: tuple[float, float], generators: Generators) -> Tensor:
    """Poisson-Gaussian noise of low-dose X-ray / CT detectors: ``Poisson(N x) / N + N(0, s)``.

    N photons at full scale (quantum noise, variance x / N) plus Gaussian read noise of std s
    (Foi et al. 2008, IEEE Trans. Image Process. 17:1737), per channel value:

    ======== ==== ==== ==== ==== ====
    severity 1    2    3    4    5
    N        200  100  50   25   10
    s        .01  .02  .03  .04  .05
    ======== ==== ==== ==== ==== ====

    At x = .5 the noise std is .051 .073 .104 .147 .229.
    """
    photons, read = photons_read
    return shot_noise(x, photons, generators) + read * standard_normal(x, generators)


@noise_type(params=tuple(e / 255 for e in (1, 2, 4, 8, 16)), rule="eps >= 0")
def uniform_noise(x: Tensor, eps: float, generators: Generators) -> Tensor:
    """Additive uniform noise: ``x + U(-eps, eps)`` on every channel value; eps (1 2 4 8 16) / 255.

    ======== ===== ===== ===== ===== ======
    severity 1     2     3     4     5
    eps      1/255 2/255 4/255 8/255 16/255
    ======== ===== ===== ===== ===== ======

    The budgets of FGSM, PGD and the explanation attack: a random perturbation of the same
    L-inf size, so consistency under it is the average case beside their worst case. The
    draws are U[0, 1) per value, mapped to eps (2u - 1).
    """
    return x + eps * (2 * uniform(tuple(x.shape[1:]), generators, x) - 1)
