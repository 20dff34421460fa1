"""The model a card describes: the one loader every caller wraps (``camrobust.load_model`` adds
reading the card from its file)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from camrobust.models.card import ModelCard
from camrobust.models.checkpoints import load_checkpoint, load_state, read_state_dict
from camrobust.models.zoo import build_model
from camrobust.plugins import load


def build_python_model(factory: str, weights_path: Path | str | None = None) -> nn.Module:
    """``factory()`` ("module:attr" returning an ``nn.Module``), then the state dict at
    ``weights_path`` loaded with ``torch.load(weights_only=True)`` when given (CPU, eval mode)."""
    model = load(factory, "factory")()
    if not isinstance(model, nn.Module):
        raise ValueError(f"factory: {factory!r} returned {type(model).__name__}, not a torch.nn.Module")
    if weights_path is not None:
        path = Path(weights_path)
        load_state(model, read_state_dict(path), f"weights {path} do not fit the model of {factory!r}")
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
