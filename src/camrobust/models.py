"""Models: small CNNs trained in the pipeline (offline default), torchvision architectures with
optional pretrained weights, user checkpoints, model cards and target-layer lookup."""

from __future__ import annotations

import difflib
import html
import json
import os
import pickle
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
import torchvision
from torch import nn
from tqdm.auto import tqdm

from camrobust.cams import TargetLayer, split_target
from camrobust.downloads import DownloadError, fetch_or_explain
from camrobust.registry import ARCHS, MODEL_KINDS, SMALL_ARCHS
from camrobust.seeding import image_generator

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

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
SMALL_CNN_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
SMALL_CNN_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds pickled objects other than tensors and plain containers."""


class CheckpointError(ValueError):
    """A checkpoint does not fit the architecture it is loaded into."""


class WeightsDownloadError(DownloadError):
    """Pretrained weights are not cached and cannot be downloaded; the message says where to put them."""


# ----------------------------------------------------------------------------------------------
# small CNNs


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=False),
    ]


class SmallVGG(nn.Module):
    """VGG-like: conv-bn-relu blocks (16, 32 channels, each followed by 2x2 max-pool), then two
    64-channel conv-bn-relu layers at 1/4 resolution ("features.13" = last ReLU, the CAM target),
    global average pooling and one linear layer. Any input size (adaptive pooling)."""

    def __init__(self, num_classes: int, widths: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        first, second, third = widths
        self.features = nn.Sequential(
            *_conv_bn_relu(3, first),
            nn.MaxPool2d(2),
            *_conv_bn_relu(first, second),
            nn.MaxPool2d(2),
            *_conv_bn_relu(second, third),
            *_conv_bn_relu(third, third),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(third, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class BasicBlock(nn.Module):
    """Residual block: relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)), shortcut = 1x1 conv-bn
    when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=False)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet-like: a stride-2 conv stem (16 channels) and 2x2 max-pool down to 1/4 resolution,
    three one-block residual stages of 16, 32, 64 channels ("layer3" output, 16x16 at 64 px, is the
    CAM target), global average pooling and one linear layer. Any input size (adaptive pooling)."""

    def __init__(self, num_classes: int, widths: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        first, second, third = widths
        self.stem = nn.Sequential(
            nn.Conv2d(3, first, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
        )
        self.layer1 = BasicBlock(first, first, stride=1)
        self.layer2 = BasicBlock(first, second, stride=1)
        self.layer3 = BasicBlock(second, third, stride=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(third, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


# ----------------------------------------------------------------------------------------------
# building


def _check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"arch: {arch!r} unknown; allowed: {', '.join(ARCHS)}")


def resolve_weights(arch: str, weights: str) -> torchvision.models.WeightsEnum:
    """torchvision weights enum for ``weights`` ("DEFAULT" or a member name like "IMAGENET1K_V2")."""
    _check_arch(arch)
    if arch in SMALL_ARCHS:
        raise ValueError(f"weights: {arch!r} has no pretrained weights; allowed: None")
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
    _check_arch(arch)
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
        extra: dict[str, Any] = {} if image_size is None else {"image_size": image_size}
        if weights is None:
            return torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **extra)
        enum = resolve_weights(arch, weights)
        _ensure_weights_cached(enum)
        model = torchvision.models.get_model(arch, weights=enum, **extra)
        if num_classes != len(enum.meta["categories"]):
            _replace_head(model, num_classes)
        return model


@dataclass(frozen=True)
class Preprocessing:
    """Input size and normalisation a model expects (images are resized to input_size)."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def default_preprocessing(arch: str, weights: str | None = None, image_size: int = 64) -> Preprocessing:
    """Small CNNs: ``image_size`` and mean = std = 0.5. torchvision archs: the weights' own crop size
    and mean/std (ImageNet statistics at 224 px when ``weights`` is None)."""
    _check_arch(arch)
    if arch in SMALL_ARCHS:
        return Preprocessing(image_size, SMALL_CNN_MEAN, SMALL_CNN_STD)
    if weights is None:
        return Preprocessing(224, IMAGENET_MEAN, IMAGENET_STD)
    transform = resolve_weights(arch, weights).transforms()
    return Preprocessing(int(transform.crop_size[0]), tuple(transform.mean), tuple(transform.std))


def to_model_input(
    images: np.ndarray | torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """float32 (N,3,H,W) on ``device``: ``(images / 255 - mean) / std`` from uint8 (N,H,W,3).
    With one mean and std value the model gets the luminance, (N,1,H,W)."""
    if images.dtype not in (np.uint8, torch.uint8) or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected uint8 (N,H,W,3), got {images.dtype} {tuple(images.shape)}")
    channels = len(mean)
    if channels not in (1, 3) or len(std) != channels:
        raise ValueError(f"mean/std: expected 3 values each (or 1, for luminance), got {mean!r} and {std!r}")
    batch = torch.as_tensor(images).to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
    if channels == 1:
        from camrobust.noise import luminance

        batch = luminance(batch)
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=batch.device).view(1, channels, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=batch.device).view(1, channels, 1, 1)
    return batch.sub_(mean_t).div_(std_t).contiguous()


# ----------------------------------------------------------------------------------------------
# training


def _accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(labels), batch_size):
            logits = model(inputs[start : start + batch_size])
            correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
    return correct / max(len(labels), 1)


def train_model(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    val_fraction: float = 0.2,
    mean: Sequence[float] = SMALL_CNN_MEAN,
    std: Sequence[float] = SMALL_CNN_STD,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` in place (AdamW, one-cycle learning rate peaking at ``lr``, cross-entropy,
    random horizontal flips, channels-last memory layout for speed) on a seeded split; ``val_fraction`` of the images are held out.

    Deterministic for a given seed (data order, split and flips come from seeded generators; the
    model's initialisation is the caller's, see ``build_model(seed=...)``). Returns
    train_accuracy, val_accuracy, n_train, n_val, epochs, seconds.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction: {val_fraction} out of range; allowed: [0, 1)")
    started = time.perf_counter()
    device = torch.device(device)
    inputs = to_model_input(images, mean, std, device).contiguous(memory_format=torch.channels_last)
    targets = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
    permutation = torch.as_tensor(image_generator("train-split", seed).permutation(len(targets)), device=device)
    n_val = round(val_fraction * len(targets))
    val_index, train_index = permutation[:n_val], permutation[n_val:]
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = -(-len(train_index) // batch_size)
    model.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    bar = tqdm(total=epochs * steps_per_epoch, desc="train", unit="batch", disable=not progress)
    for _ in range(epochs):
        model.train()
        order = train_index[torch.randperm(len(train_index), generator=generator).to(device)]
        flips = torch.rand(len(order), generator=generator).to(device) < 0.5
        for start in range(0, len(order), batch_size):
            batch_index = order[start : start + batch_size]
            batch = inputs[batch_index]
            flip = flips[start : start + batch_size].view(-1, 1, 1, 1)
            batch = torch.where(flip, batch.flip(3), batch)
            loss = loss_fn(model(batch), targets[batch_index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    metrics = {
        "train_accuracy": _accuracy(model, inputs[train_index], targets[train_index], 256),
        "val_accuracy": _accuracy(model, inputs[val_index], targets[val_index], 256) if n_val else float("nan"),
        "n_train": len(train_index),
        "n_val": n_val,
        "epochs": epochs,
        "seconds": time.perf_counter() - started,
    }
    model.to(memory_format=torch.contiguous_format).eval()
    return metrics


def below_chance_warning(accuracy: float, class_names: Sequence[str]) -> str | None:
    """A warning when ``accuracy`` is below chance (1 / number of classes), else None."""
    chance = 1 / len(class_names)
    if accuracy >= chance:
        return None
    return (
        f"accuracy on the evaluation images is {accuracy:.3f}, below chance ({chance:.3f} for "
        f"{len(class_names)} classes); the likely cause is a class order that differs from the "
        f"model's class indices. Labels follow the order {list(class_names)}; set the dataset's "
        "'classes' to the model's order."
    )


def evaluate_accuracy(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> float:
    """Top-1 accuracy of ``model`` on uint8 images (leaves the model in eval mode)."""
    inputs = to_model_input(images, mean, std, device)
    targets = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=inputs.device)
    return _accuracy(model.to(inputs.device), inputs, targets, batch_size)


# ----------------------------------------------------------------------------------------------
# cards and checkpoints


@dataclass
class ModelCard:
    """What a model is and how to feed it; stored as JSON next to its checkpoint."""

    arch: str
    source: str
    num_classes: int
    target_layer: str
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: list[str]
    accuracy: dict[str, float] = field(default_factory=dict)
    weights: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    factory: str | None = None
    """``"module:attr"`` building the model, for source "python"."""

    @property
    def channels(self) -> int:
        """Input channels: 3 (RGB), or 1 (the luminance) for a single mean/std value."""
        return len(self.mean)

    def __post_init__(self) -> None:
        if self.source not in MODEL_KINDS:
            raise ValueError(f"source: {self.source!r} unknown; allowed: {', '.join(MODEL_KINDS)}")
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the card as indented, key-sorted JSON."""
        Path(path).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> ModelCard:
        """Read a card written by :meth:`to_json`."""
        return cls(**json.loads(Path(path).read_text()))


def card_page(card: ModelCard, title: str) -> str:
    """The card as a small HTML page for the report: its warnings first (in red), then what the
    model is, how it is fed and its accuracy beside the chance level."""
    rows = {
        "architecture": f"{card.arch} ({card.source}{', ' + card.weights if card.weights else ''})",
        "target layer": card.target_layer,
        "input": f"{card.input_size} px, {card.channels} channel(s), mean {list(card.mean)}, std {list(card.std)}",
        "classes": f"{card.num_classes}: {', '.join(card.class_names)}",
        **{f"accuracy ({split})": f"{value:.3f}" for split, value in sorted(card.accuracy.items())},
        "chance level": f"{1 / max(len(card.class_names), 1):.3f}",
    }
    warnings = "".join(
        f'<p style="color:#b71c1c;font-weight:bold">Warning: {html.escape(text)}</p>\n'
        for text in card.extra.get("warnings", [])
    )
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>\n" for k, v in rows.items())
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>\n'
        f'<body style="font-family:sans-serif">\n<h2>{html.escape(title)}</h2>\n{warnings}'
        f'<table style="text-align:left">\n{table}</table>\n</body></html>\n'
    )


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives hold a ``constants.pkl`` and code; torch.save archives do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def _state_dict_from(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The state dict in a loaded checkpoint: the object itself or its "state_dict" /
    "model_state_dict" / "model" entry; a DataParallel "module." prefix is removed."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"checkpoint {path} is not a state dict (name -> tensor)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_checkpoint(path: Path | str, arch: str | None, num_classes: int) -> nn.Module:
    """A user checkpoint as a model (CPU, eval mode).

    A state dict (torch.save of ``model.state_dict()``, possibly under a "state_dict" key) is
    loaded with ``torch.load(weights_only=True)`` into ``build_model(arch, num_classes)``; one that
    holds other pickled objects raises UnsafeCheckpointError. A TorchScript file (torch.jit.save)
    has its parameters copied into ``build_model(arch, num_classes)`` so that CAM hooks work; with
    ``arch=None`` the scripted module itself is returned.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: {path} does not exist")
    if _is_torchscript(path):
        scripted = torch.jit.load(str(path), map_location="cpu")
        if arch is None:
            return scripted.eval()
        state = dict(scripted.state_dict())
    else:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            raise UnsafeCheckpointError(
                f"checkpoint {path} holds pickled objects other than tensors, refused (weights_only=True): "
                f"{str(error).splitlines()[0]}. Save model.state_dict() instead, or a TorchScript model."
            ) from error
        if arch is None:
            raise ValueError(f"arch: needed to load the state dict {path}; allowed: {', '.join(ARCHS)}")
        state = _state_dict_from(loaded, path)
    model = build_model(arch, num_classes)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(
            f"checkpoint {path} does not fit arch {arch!r} with {num_classes} classes: {error}"
        ) from error
    return model.eval()


def build_python_model(factory: str, weights_path: Path | str | None = None) -> nn.Module:
    """``factory()`` ("module:attr" returning an ``nn.Module``), then the state dict at
    ``weights_path`` loaded with ``torch.load(weights_only=True)`` when given (CPU, eval mode)."""
    from camrobust.plugins import load

    model = load(factory, "factory")()
    if not isinstance(model, nn.Module):
        raise ValueError(f"factory: {factory!r} returned {type(model).__name__}, not a torch.nn.Module")
    if weights_path is not None:
        path = Path(weights_path)
        state = _state_dict_from(torch.load(path, map_location="cpu", weights_only=True), path)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise CheckpointError(f"weights {path} do not fit the model of {factory!r}: {error}") from error
    return model.eval()


def load_model(card: ModelCard, weights_path: Path | str | None, device: torch.device | str = "cpu") -> nn.Module:
    """The model a card describes, on ``device`` in eval mode: from ``weights_path`` (a state dict
    or TorchScript file) when given, else (source "torchvision") from the card's weights."""
    if card.source == "python":
        model = build_python_model(str(card.factory), weights_path)
    elif weights_path is not None:
        model = load_checkpoint(weights_path, card.arch, card.num_classes)
    elif card.source == "torchvision":
        model = build_model(card.arch, card.num_classes, weights=card.weights)
    else:
        raise ValueError(f"weights_path: needed for a model of source {card.source!r}")
    return model.to(device).eval()


def resolve_layer(model: nn.Module, path: str) -> nn.Module:
    """The submodule at dotted ``path`` (as in ``model.named_modules()``); an unknown path raises
    ValueError with close matches and the valid paths (all of them, or for a big model the top
    level and the last 15 nested paths, i.e. the end of the last stage)."""
    modules = dict(model.named_modules())
    if path and path in modules:
        return modules[path]
    names = [name for name in modules if name]
    close = difflib.get_close_matches(path, names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    if len(names) <= 40:
        listed = ", ".join(names)
    else:
        top = [name for name in names if "." not in name]
        deep = [name for name in names if "." in name][-15:]
        listed = (
            f"{', '.join(top)}; last stage: {', '.join(deep)}; "
            f"... {len(names)} modules in all, use model.named_modules() to see all"
        )
    raise ValueError(f"target_layer: {path!r} is not a module of {type(model).__name__}; {hint}valid paths: {listed}")


def resolve_target(model: nn.Module, spec: str) -> TargetLayer:
    """The CAM target a target-layer string names: "<module path>" or "relu(<module path>)"
    (the module's output passed through a ReLU, see camrobust.cams.TargetLayer); the module is
    looked up as by ``resolve_layer``, with its error for an unknown path."""
    path, post_activation = split_target(spec)
    return TargetLayer(resolve_layer(model, path), post_activation)
