"""The architectures camrobust builds by name (:data:`camrobust.registry.ARCHS`): the small CNNs
and torchvision's models, with torchvision's pretrained weights, and each one's CAM target layer.

torchvision is imported only to build or resolve one of its models: its import (which loads
torch's compiler stack) costs every job that loads a small CNN seconds otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch
from torch import nn

from camrobust.downloads import DownloadError, fetch_or_explain
from camrobust.models.small import SmallResNet, SmallVGG
from camrobust.registry import ARCHS, SMALL_ARCHS

if TYPE_CHECKING:
    import torchvision

# Default CAM target layer per architecture (a target-layer string, camrobust.cams.split_target):
# the last convolutional stage / block, where pytorch-grad-cam's docs point (model.layer4[-1],
# model.features[-1]) except VGG16, where the last ReLU ("features.29", 14x14 at 224 px) is used
# instead of the final max-pool (7x7). DenseNet121: "relu(features.norm5)", the last layer of
# `features` passed through the ReLU the model applies to it in its forward code: the features the
# classifier pools. ViT: the first LayerNorm of the last encoder block (tokens, reshaped to the
# patch grid by camrobust.cams.token_reshape). Swin: the final norm, whose output is (N, h, w, C).
DEFAULT_TARGET_LAYERS: dict[str, str] = {
    "small_vgg": "features.13",
    "small_resnet": "layer3",
    "resnet18": "layer4",
    "resnet50": "layer4",
    "vgg16": "features.29",
    "densenet121": "relu(features.norm5)",
    "mobilenet_v3_large": "features.16",
    "efficientnet_b0": "features.8",
    "convnext_tiny": "features.7",
    "vit_b_16": "encoder.layers.encoder_layer_11.ln_1",
    "swin_t": "norm",
}


class WeightsDownloadError(DownloadError):
    """Pretrained weights are not cached and cannot be downloaded; the message says where to put them."""


def check_arch(arch: str) -> None:
    """ValueError listing the known architectures unless ``arch`` is one."""
    if arch not in ARCHS:
        raise ValueError(f"arch: {arch!r} unknown; allowed: {', '.join(ARCHS)}")


def resolve_weights(arch: str, weights: str) -> torchvision.models.WeightsEnum:
    """torchvision weights enum for ``weights`` ("DEFAULT" or a member name like "IMAGENET1K_V2")."""
    check_arch(arch)
    if arch in SMALL_ARCHS:
        raise ValueError(f"weights: {arch!r} has no pretrained weights; allowed: None")
    import torchvision

    enum = torchvision.models.get_model_weights(arch)
    names = ["DEFAULT", *enum.__members__]
    if weights not in names:
        raise ValueError(f"weights: {weights!r} unknown for {arch}; allowed: {', '.join(names)}")
    return enum[weights]


def weights_path(weights: torchvision.models.WeightsEnum) -> Path:
    """Where torchvision caches ``weights``: $TORCH_HOME/hub/checkpoints/<file name of its url>."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def _ensure_weights_cached(weights: torchvision.models.WeightsEnum) -> None:
    """Download ``weights`` unless cached (hash-checked); with no network fail within seconds,
    naming the file and where to place it."""
    target = weights_path(weights)
    if target.is_file():
        return
    host = urlparse(weights.url).hostname or "download.pytorch.org"
    placement = (
        f"download {weights.url} elsewhere and place it at {target} "
        "(torch.hub.get_dir()/checkpoints, i.e. $TORCH_HOME/hub/checkpoints when TORCH_HOME is set)"
    )
    hash_match = torch.hub.HASH_REGEX.search(target.name)
    target.parent.mkdir(parents=True, exist_ok=True)

    def download() -> None:
        torch.hub.download_url_to_file(weights.url, str(target), hash_match.group(1) if hash_match else None)

    fetch_or_explain(download, host, placement, error=WeightsDownloadError)


def _replace_head(model: nn.Module, num_classes: int) -> None:
    """Swap the last nn.Linear (the classifier of every supported torchvision arch) for a new,
    randomly initialised one with ``num_classes`` outputs."""
    name, last = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], nn.Linear(last.in_features, num_classes, bias=last.bias is not None))


def build_model(
    arch: str,
    num_classes: int,
    weights: str | None = None,
    *,
    seed: int | None = None,
    image_size: int | None = None,
) -> nn.Module:
    """A model of ``arch`` with ``num_classes`` outputs, in train mode.

    ``weights`` ("DEFAULT" or a torchvision weights name) loads pretrained weights from
    $TORCH_HOME/hub/checkpoints (downloaded when missing; offline: WeightsDownloadError naming the
    file). With pretrained weights and ``num_classes != 1000`` the classifier head (last Linear) is
    replaced by a new random one that needs training. ``seed`` makes the random initialisation
    reproducible without touching the global RNG. ``image_size`` is passed to vit_b_16 only (its
    position embeddings depend on it; pretrained weights need 224).
    """
    check_arch(arch)
    if num_classes < 1:
        raise ValueError(f"num_classes: {num_classes} must be >= 1")
    if image_size is not None and arch != "vit_b_16":
        raise ValueError(f"image_size: only for arch 'vit_b_16', not {arch!r}")
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        if arch == "small_vgg":
            return SmallVGG(num_classes)
        if arch == "small_resnet":
            return SmallResNet(num_classes)
        import torchvision

        extra: dict[str, Any] = {} if image_size is None else {"image_size": image_size}
        if weights is None:
            return torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **extra)
        enum = resolve_weights(arch, weights)
        _ensure_weights_cached(enum)
        model = torchvision.models.get_model(arch, weights=enum, **extra)
        if num_classes != len(enum.meta["categories"]):
            _replace_head(model, num_classes)
        return model
