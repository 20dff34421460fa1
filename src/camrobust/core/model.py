"""A model on the images of a condition: predictions, target-layer features and model-pass maps.

Every kernel here runs one model batch at a time (:meth:`ConditionImages.model_batches`: about
``batch_size`` image-severity rows, whole images) and yields that batch's result per image and
severity, (n, S, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from camrobust import plugins
from camrobust.core.conditions import ConditionImages, flat, per_image

if TYPE_CHECKING:
    import torch
    import zarr

    from camrobust.cams import Reshape, TargetLayer
    from camrobust.models import ModelCard


@dataclass(frozen=True)
class ModelInput:
    """How images reach a model: the normalisation ``(x / 255 - mean) / std`` (one value each
    feeds the luminance), the device, and the image-severity rows per model pass."""

    mean: Sequence[float]
    std: Sequence[float]
    device: torch.device
    batch_size: int

    @classmethod
    def of_card(cls, card: ModelCard, *, device: str, batch_size: int) -> ModelInput:
        """A model card's normalisation on ``device`` (``auto``: CUDA when available)."""
        from camrobust.devices import resolve_device

        return cls(card.mean, card.std, resolve_device(device), batch_size)

    def tensor(self, images: np.ndarray) -> torch.Tensor:
        """The model input (N, C, H, W) float32 on the device of uint8 images (N, H, W, 3)."""
        from camrobust import models

        return models.to_model_input(images, self.mean, self.std, self.device)


@dataclass(frozen=True)
class Predictions:
    """Logits (n, S, classes) float32, predicted class and CAM target (n, S) int64 of some images."""

    logits: np.ndarray
    pred: np.ndarray
    target: np.ndarray


def prediction_batches(
    model: torch.nn.Module,
    images: ConditionImages,
    labels: zarr.Array | np.ndarray,
    *,
    model_input: ModelInput,
    target_mode: str = "predicted",
    progress: bool = True,
) -> Iterator[Predictions]:
    """Predictions of consecutive model batches of one condition; the CAM target is the
    prediction, or the label with ``target_mode == "label"``."""
    import torch

    s = len(images.severities)
    batches = images.model_batches(model_input.batch_size)
    for image_rows in tqdm(batches, desc="predict", unit="batch", disable=not progress):
        inputs = model_input.tensor(flat(images.read(image_rows)))
        with torch.no_grad():
            logits = model(inputs).float().cpu().numpy()
        predicted = logits.argmax(1)
        chosen = np.repeat(np.asarray(labels[image_rows]), s) if target_mode == "label" else predicted
        yield Predictions(
            per_image(logits, s), per_image(predicted.astype(np.int64), s), per_image(chosen.astype(np.int64), s)
        )


@dataclass(frozen=True)
class ModelOnImages:
    """A model, its CAM target and token reshape, how images reach it, one condition's images
    and their CAM targets (n, S)."""

    model: torch.nn.Module
    target: TargetLayer
    reshape: Reshape | None
    model_input: ModelInput
    images: ConditionImages
    targets: zarr.Array | np.ndarray

    def batches(self, desc: str, progress: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(model inputs, CAM targets) of the flattened image-severity rows of each model batch."""
        import torch

        device = self.model_input.device
        batches = self.images.model_batches(self.model_input.batch_size)
        for image_rows in tqdm(batches, desc=desc, unit="batch", disable=not progress):
            inputs = self.model_input.tensor(flat(self.images.read(image_rows)))
            yield inputs, torch.as_tensor(flat(np.asarray(self.targets[image_rows])), device=device)

    def feature_batches(self, progress: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Target-layer activations and gradients (n, S, C, h, w) float32 of each model batch:
        one forward and one backward pass."""
        from camrobust import cams

        s = len(self.images.severities)
        for inputs, targets in self.batches("features", progress):
            capture = cams.capture(self.model, self.target, inputs, targets, reshape=self.reshape)
            yield (
                per_image(capture.activations.detach().float().cpu().numpy(), s),
                per_image(capture.gradients.detach().float().cpu().numpy(), s),
            )

    def model_map_batches(
        self,
        method: str,
        *,
        channel_batch_size: int,
        plugin: plugins.CamPlugin | None = None,
        progress: bool = True,
    ) -> Iterator[np.ndarray]:
        """Raw maps (n, S, h, w) float32 after the ReLU of each model batch, for a method that
        needs the model (ScoreCAM, AblationCAM; ``channel_batch_size`` masked inputs per pass)
        or a ``uses: model`` ``plugin``."""
        from camrobust import cams

        s = len(self.images.severities)
        for inputs, targets in self.batches(method, progress):
            if plugin is None:
                raw = cams.model_raw_maps(
                    self.model,
                    self.target,
                    inputs,
                    targets,
                    [method],
                    batch_size=channel_batch_size,
                    reshape=self.reshape,
                )[method]
            else:
                grid = cams.layer_grid(self.model, self.target, inputs, self.reshape)
                raw = plugins.model_cam(plugin, self.model, self.target.module, inputs, targets, grid)
            yield per_image(raw.clamp_min(0).float().cpu().numpy(), s)
