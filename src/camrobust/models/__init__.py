"""Models: the small CNNs trained in the workflow (the offline default), torchvision's
architectures with optional pretrained weights, user checkpoints and Python factories, how each
is fed (preprocessing), trained, described (model card) and loaded.

A model's CAM target layer is looked up by :func:`camrobust.cams.resolve_target`.
"""

from __future__ import annotations

from camrobust.models.card import ModelCard, card_page
from camrobust.models.checkpoints import (
    CheckpointError,
    UnsafeCheckpointError,
    load_checkpoint,
    load_state,
    read_state_dict,
)
from camrobust.models.loading import build_python_model, load_model
from camrobust.models.preprocessing import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SMALL_CNN_MEAN,
    SMALL_CNN_STD,
    Preprocessing,
    default_preprocessing,
    to_model_input,
)
from camrobust.models.small import BasicBlock, SmallResNet, SmallVGG
from camrobust.models.training import below_chance_warning, evaluate_accuracy, train_model
from camrobust.models.zoo import (
    DEFAULT_TARGET_LAYERS,
    WeightsDownloadError,
    build_model,
    check_arch,
    resolve_weights,
    weights_path,
)

__all__ = [
    "DEFAULT_TARGET_LAYERS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SMALL_CNN_MEAN",
    "SMALL_CNN_STD",
    "BasicBlock",
    "CheckpointError",
    "ModelCard",
    "Preprocessing",
    "SmallResNet",
    "SmallVGG",
    "UnsafeCheckpointError",
    "WeightsDownloadError",
    "below_chance_warning",
    "build_model",
    "build_python_model",
    "card_page",
    "check_arch",
    "default_preprocessing",
    "evaluate_accuracy",
    "load_checkpoint",
    "load_model",
    "load_state",
    "read_state_dict",
    "resolve_weights",
    "to_model_input",
    "train_model",
    "weights_path",
]
