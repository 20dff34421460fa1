"""Noises: ImageNet-C corruptions, medical-imaging noises, gradient attacks and the explanation attack.

Every noise works on x = image / 255 in [0, 1] (float64 for the pixel noises, float32 for the
attacks), clips to [0, 1] and stores ``round(255 x)`` as uint8, rounding half to even. Each
image draws its randomness from its own generator keyed by (namespace, noise, severity, image
id, seed), so its output never depends on the batch size, the device or the job split.

The modules: one per family of noises, as the registry names them (:mod:`.sensor`,
:mod:`.blur`, :mod:`.weather`, :mod:`.digital`, :mod:`.attacks`, :mod:`.explanation_attack`),
each function carrying its severity table (:mod:`.severity`); :mod:`.catalogue` (``NOISES``,
read from the registry); :mod:`.apply` (:func:`perturb`, :func:`attack`); :mod:`.worst_case`
(:func:`explanation_attack_images`, :func:`transfer_explanation_attack`); :mod:`.draws` and
:mod:`.pixels` (per-image random draws, conversions). The names below are re-exported here.
"""

from __future__ import annotations

from camrobust.noise.apply import AttackResult, attack, perturb, success_rate
from camrobust.noise.attacks import PGD_STEP_SIZE, PGD_STEPS, Forward, fgsm, pgd
from camrobust.noise.blur import (
    DEFOCUS_MODE,
    GAUSSIAN_BLUR_MODE,
    GAUSSIAN_TRUNCATE,
    defocus_blur,
    defocus_kernel,
    gaussian_blur,
    glass_blur,
    motion_blur,
    zoom_blur,
)
from camrobust.noise.catalogue import ATTACKS, EXPLANATION_ATTACKS, NOISES, PIXEL_NOISES, noise_spec, severity_parameter
from camrobust.noise.digital import brightness, contrast, elastic_transform, jpeg_compression, pixelate, saturate
from camrobust.noise.draws import Generators
from camrobust.noise.explanation_attack import ExplanationAttackSettings, explanation_attack
from camrobust.noise.pixels import GREY_WEIGHTS, luminance
from camrobust.noise.sensor import (
    gaussian_noise,
    impulse_noise,
    poisson_gaussian_noise,
    rician_noise,
    shot_noise,
    speckle_noise,
    uniform_noise,
)
from camrobust.noise.severity import NoiseSpec, ParamValue, SeverityTable, noise_type
from camrobust.noise.weather import (
    FROST_DECAY,
    FROST_MEAN,
    FROST_SHARPNESS,
    FROST_STD,
    MUD_COLOUR,
    SPATTER_RELIEF,
    WATER_COLOUR,
    fog,
    frost,
    frost_texture,
    plasma_fractal,
    snow,
    spatter,
)
from camrobust.noise.worst_case import ExplanationAttackResult, explanation_attack_images, transfer_explanation_attack

__all__ = [
    "ATTACKS",
    "DEFOCUS_MODE",
    "EXPLANATION_ATTACKS",
    "FROST_DECAY",
    "FROST_MEAN",
    "FROST_SHARPNESS",
    "FROST_STD",
    "GAUSSIAN_BLUR_MODE",
    "GAUSSIAN_TRUNCATE",
    "GREY_WEIGHTS",
    "MUD_COLOUR",
    "NOISES",
    "PGD_STEPS",
    "PGD_STEP_SIZE",
    "PIXEL_NOISES",
    "SPATTER_RELIEF",
    "WATER_COLOUR",
    "AttackResult",
    "ExplanationAttackResult",
    "ExplanationAttackSettings",
    "Forward",
    "Generators",
    "NoiseSpec",
    "ParamValue",
    "SeverityTable",
    "attack",
    "brightness",
    "contrast",
    "defocus_blur",
    "defocus_kernel",
    "elastic_transform",
    "explanation_attack",
    "explanation_attack_images",
    "fgsm",
    "fog",
    "frost",
    "frost_texture",
    "gaussian_blur",
    "gaussian_noise",
    "glass_blur",
    "impulse_noise",
    "jpeg_compression",
    "luminance",
    "motion_blur",
    "noise_spec",
    "noise_type",
    "perturb",
    "pgd",
    "pixelate",
    "plasma_fractal",
    "poisson_gaussian_noise",
    "rician_noise",
    "saturate",
    "severity_parameter",
    "shot_noise",
    "snow",
    "spatter",
    "speckle_noise",
    "success_rate",
    "transfer_explanation_attack",
    "uniform_noise",
    "zoom_blur",
]
