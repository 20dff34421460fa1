"""An untrained small CNN saved as a workflow run saves its model: weights and card, for stage tests."""

from __future__ import annotations

from pathlib import Path

import torch

from camrobust import models


def save_untrained_small_vgg(weights: Path, card: Path, *, size: int, class_names: list[str] | None = None) -> None:
    """A seeded small_vgg with 6 classes: its state dict at ``weights`` and its card
    (input ``size`` px, the small CNNs' normalisation) at ``card``."""
    torch.save(models.build_model("small_vgg", 6, seed=0).state_dict(), weights)
    models.ModelCard(
        arch="small_vgg",
        source="trained",
        num_classes=6,
        target_layer=models.DEFAULT_TARGET_LAYERS["small_vgg"],
        input_size=size,
        mean=models.SMALL_CNN_MEAN,
        std=models.SMALL_CNN_STD,
        class_names=class_names or [str(i) for i in range(6)],
    ).to_json(card)
