"""The names camrobust plans with: CAM methods, noise types, architectures, dataset and model kinds.

This module imports neither torch nor torchvision, so the Snakefile, the config checks and the
figures can use it without loading the ML stack. The modules that implement the names
(``cams``, ``noise``, ``models``, ``datasets``) are checked against it by the tests, and the
config schema's enums too.
"""

from __future__ import annotations

GRADIENT_CAMS: tuple[str, ...] = (
    "gradcam",
    "gradcampp",
    "xgradcam",
    "hirescam",
    "gradcam_elementwise",
    "layercam",
    "eigencam",
    "eigengradcam",
)
"""CAMs computed from the target layer's activations and gradients (one forward + backward)."""

MODEL_CAMS: tuple[str, ...] = ("scorecam", "ablationcam")
"""CAMs that rerun the model on masked inputs or ablated layer outputs."""

CAM_METHODS: tuple[str, ...] = GRADIENT_CAMS + MODEL_CAMS

PIXEL_NOISES: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
    "gaussian_blur",
    "defocus_blur",
    "jpeg_compression",
    "brightness",
    "contrast",
    "motion_blur",
    "zoom_blur",
    "glass_blur",
    "snow",
    "frost",
    "fog",
    "elastic_transform",
    "pixelate",
    "saturate",
    "spatter",
    "rician_noise",
    "poisson_gaussian_noise",
)
"""Model-free noise types: one store per dataset, shared by all models."""

ATTACKS: tuple[str, ...] = ("fgsm", "pgd")
"""Adversarial noise types: one store per (dataset, model)."""

NOISES: tuple[str, ...] = PIXEL_NOISES + ATTACKS

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
