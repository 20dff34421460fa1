"""Weights files: reading a state dict safely (tensors and plain containers only) or a
TorchScript archive, and loading it into a model with an error that says what does not fit."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camrobust.models.zoo import build_model
from camrobust.registry import ARCHS


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds pickled objects other than tensors and plain containers."""


class CheckpointError(ValueError):
    """A checkpoint does not fit the architecture it is loaded into."""


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives hold a ``constants.pkl`` and code; torch.save archives do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def _load_weights_only(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; a file holding other pickled objects
    raises UnsafeCheckpointError."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f"checkpoint {path} holds pickled objects other than tensors, refused (weights_only=True): "
            f"{str(error).splitlines()[0]}. Save model.state_dict() instead, or a TorchScript model."
        ) from error


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


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """The state dict saved at ``path`` (see ``_state_dict_from`` for the layouts understood),
    read with ``torch.load(weights_only=True)``."""
    path = Path(path)
    return _state_dict_from(_load_weights_only(path), path)


def load_state(model: nn.Module, state: dict[str, torch.Tensor], mismatch: str) -> nn.Module:
    """``model`` with ``state`` loaded (strictly); CheckpointError ``"<mismatch>: <torch's reason>"``
    when the names or shapes do not fit."""
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{mismatch}: {error}") from error
    return model


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
        loaded = _load_weights_only(path)
        if arch is None:
            raise ValueError(f"arch: needed to load the state dict {path}; allowed: {', '.join(ARCHS)}")
        state = _state_dict_from(loaded, path)
    mismatch = f"checkpoint {path} does not fit arch {arch!r} with {num_classes} classes"
    return load_state(build_model(arch, num_classes), state, mismatch).eval()
