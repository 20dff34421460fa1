"""Training a model on uint8 images, and its top-1 accuracy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from camrobust.models.preprocessing import SMALL_CNN_MEAN, SMALL_CNN_STD, to_model_input
from camrobust.seeding import image_generator


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
