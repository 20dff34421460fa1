"""The names camrobust plans with: CAM methods, noise types, architectures, dataset and model kinds.

This is the one place a built-in name is declared. The config schema's enums are filled from it
(:func:`camrobust.config.load_schema`), the CAM and noise packages look their functions up
through it, and the figures take their fixed orders and labels from it. It imports neither torch
nor torchvision, so the Snakefile and the config checks load it in milliseconds.

Adding a built-in CAM method is one module and one line here: a :class:`Cam` entry named
``name`` is implemented by the function ``name`` of the module ``camrobust.cams.<name>``.
Adding a built-in noise is one function and one line: a :class:`Noise` entry is implemented by
the function ``name`` of ``camrobust.noise.<family>``, which carries its severity table
(``camrobust.noise.catalogue.noise_type``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CamFamily = Literal["gradient", "model", "baseline"]
NoiseKind = Literal["pixel", "attack", "explanation_attack"]


@dataclass(frozen=True)
class Cam:
    """A built-in CAM method.

    ``family``: ``gradient`` (a function of the target layer's activations and gradients, one
    forward and one backward pass), ``model`` (reruns the model on masked inputs or ablated
    layer outputs) or ``baseline`` (a model-free map that explains nothing, the floor a CAM must
    beat: a function of the image, its id, the seed and at most the predicted class)."""

    name: str
    label: str
    family: CamFamily

    @property
    def implementation(self) -> str:
        """``"module:function"`` of the method."""
        return f"camrobust.cams.{self.name}:{self.name}"


@dataclass(frozen=True)
class Noise:
    """A built-in noise type.

    ``kind``: ``pixel`` (model-free: one store per dataset, shared by all models), ``attack``
    (gradient attack on the model's prediction: one store per dataset and model) or
    ``explanation_attack`` (worst case of a CAM's region ranking that keeps the prediction: one
    store per dataset, model and CAM). ``family``: the module of ``camrobust.noise`` that
    implements it."""

    name: str
    label: str
    kind: NoiseKind
    family: str

    @property
    def implementation(self) -> str:
        """``"module:function"`` of the noise."""
        return f"camrobust.noise.{self.family}:{self.name}"


CAMS: tuple[Cam, ...] = (
    Cam("gradcam", "GradCAM", "gradient"),
    Cam("gradcampp", "GradCAM++", "gradient"),
    Cam("xgradcam", "XGradCAM", "gradient"),
    Cam("hirescam", "HiResCAM", "gradient"),
    Cam("gradcam_elementwise", "GradCAM element-wise", "gradient"),
    Cam("layercam", "LayerCAM", "gradient"),
    Cam("eigencam", "EigenCAM", "gradient"),
    Cam("eigengradcam", "EigenGradCAM", "gradient"),
    Cam("scorecam", "ScoreCAM", "model"),
    Cam("ablationcam", "AblationCAM", "model"),
    Cam("random_map", "random map", "baseline"),
    Cam("centre_map", "centre map", "baseline"),
    Cam("edge_map", "edge map", "baseline"),
    Cam("class_blob_map", "class blob map", "baseline"),
)

NOISE_TYPES: tuple[Noise, ...] = (
    Noise("gaussian_noise", "Gaussian noise", "pixel", "sensor"),
    Noise("shot_noise", "shot noise", "pixel", "sensor"),
    Noise("impulse_noise", "impulse noise", "pixel", "sensor"),
    Noise("speckle_noise", "speckle noise", "pixel", "sensor"),
    Noise("gaussian_blur", "Gaussian blur", "pixel", "blur"),
    Noise("defocus_blur", "defocus blur", "pixel", "blur"),
    Noise("jpeg_compression", "JPEG compression", "pixel", "digital"),
    Noise("brightness", "brightness", "pixel", "digital"),
    Noise("contrast", "contrast", "pixel", "digital"),
    Noise("motion_blur", "motion blur", "pixel", "blur"),
    Noise("zoom_blur", "zoom blur", "pixel", "blur"),
    Noise("glass_blur", "glass blur", "pixel", "blur"),
    Noise("snow", "snow", "pixel", "weather"),
    Noise("frost", "frost", "pixel", "weather"),
    Noise("fog", "fog", "pixel", "weather"),
    Noise("elastic_transform", "elastic transform", "pixel", "digital"),
    Noise("pixelate", "pixelate", "pixel", "digital"),
    Noise("saturate", "saturate", "pixel", "digital"),
    Noise("spatter", "spatter", "pixel", "weather"),
    Noise("rician_noise", "Rician noise", "pixel", "sensor"),
    Noise("poisson_gaussian_noise", "Poisson-Gaussian noise", "pixel", "sensor"),
    Noise("uniform_noise", "uniform noise", "pixel", "sensor"),
    Noise("fgsm", "FGSM", "attack", "attacks"),
    Noise("pgd", "PGD", "attack", "attacks"),
    Noise("explanation_attack", "explanation attack", "explanation_attack", "explanation_attack"),
)

CAM_METHODS: tuple[str, ...] = tuple(cam.name for cam in CAMS)
GRADIENT_CAMS: tuple[str, ...] = tuple(cam.name for cam in CAMS if cam.family == "gradient")
"""CAMs computed from the target layer's activations and gradients (one forward + backward)."""
MODEL_CAMS: tuple[str, ...] = tuple(cam.name for cam in CAMS if cam.family == "model")
"""CAMs that rerun the model on masked inputs or ablated layer outputs."""
BASELINE_CAMS: tuple[str, ...] = tuple(cam.name for cam in CAMS if cam.family == "baseline")
"""Model-free baseline maps that explain nothing (a floor every CAM should beat): functions of the
image, its id, the seed and at most the predicted class (:mod:`camrobust.cams.catalogue`)."""

NOISES: tuple[str, ...] = tuple(noise.name for noise in NOISE_TYPES)
PIXEL_NOISES: tuple[str, ...] = tuple(noise.name for noise in NOISE_TYPES if noise.kind == "pixel")
"""Model-free noise types: one store per dataset, shared by all models."""
ATTACKS: tuple[str, ...] = tuple(noise.name for noise in NOISE_TYPES if noise.kind == "attack")
"""Adversarial noise types: one store per (dataset, model)."""
EXPLANATION_ATTACKS: tuple[str, ...] = tuple(noise.name for noise in NOISE_TYPES if noise.kind == "explanation_attack")
"""Worst-case perturbations of a CAM's region ranking that keep the prediction: one store per
(dataset, model, CAM)."""

SEVERITY_LEVELS = 5
"""Severities of every built-in noise table (ImageNet-C's 1..5)."""

SMALL_ARCHS: tuple[str, ...] = ("small_vgg", "small_resnet")
"""The demo CNNs trained in the pipeline."""

TORCHVISION_ARCHS: tuple[str, ...] = (
    "resnet18",
    "resnet50",
    "vgg16",
    "densenet121",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_b_16",
    "swin_t",
)

ARCHS: tuple[str, ...] = SMALL_ARCHS + TORCHVISION_ARCHS

MODEL_KINDS: tuple[str, ...] = ("trained", "torchvision", "checkpoint", "python")

DATASET_KINDS: tuple[str, ...] = ("shapes", "imagefolder", "imagenet_val", "imagenette", "cifar10")


def cam(name: str) -> Cam:
    """The registry entry of a built-in CAM method."""
    for entry in CAMS:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown CAM method {name!r}; built in: {', '.join(CAM_METHODS)}")


def noise(name: str) -> Noise:
    """The registry entry of a built-in noise type."""
    for entry in NOISE_TYPES:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown noise {name!r}; built in: {', '.join(NOISES)}")


def cam_label(name: str) -> str:
    """The label of a built-in CAM method ('gradcampp' -> 'GradCAM++'), else ``name`` (a plugin)."""
    try:
        return cam(name).label
    except KeyError:
        return name


def noise_label(name: str) -> str:
    """The label of a built-in noise ('gaussian_noise' -> 'Gaussian noise'), else ``name`` (a plugin)."""
    try:
        return noise(name).label
    except KeyError:
        return name
