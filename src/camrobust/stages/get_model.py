"""Get model: train, download or load a model and write its weights and card (rules/get_model.smk);
:func:`load_model` reads them back for the stages that run the model, and for notebooks."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from camrobust.io.chunks import image_chunks
from camrobust.io.images import read_images
from camrobust.io.store import open_store

if TYPE_CHECKING:
    import torch
    import zarr

    from camrobust.models import ModelCard

PathLike = str | os.PathLike[str]
#: Evaluation images per accuracy chunk (one model batch each).
ACCURACY_CHUNK = 32


def prepare_model(
    *,
    spec: Mapping[str, Any],
    train_store: PathLike | None,
    eval_store: PathLike,
    seed: int,
    weights_out: PathLike,
    card_out: PathLike,
) -> ModelCard:
    """Train the demo CNN, fetch torchvision weights, load a user checkpoint, or build a
    ``kind: python`` model from its factory (and optional state dict ``weights``).

    Writes the weights as a state dict and a model card with the target layer, the
    preprocessing (the spec's ``preprocessing`` when given, else the architecture's default) and
    the accuracy on the evaluation images. Accuracy below chance is logged as a warning (logger
    ``camrobust``) and kept in the card's ``extra["warnings"]``.
    """
    import torch

    from camrobust import cams, models

    evaluation = open_store(eval_store)
    class_names = list(evaluation.attrs["class_names"])
    num_classes = int(spec.get("num_classes") or len(class_names))
    kind = spec["kind"]
    arch = spec.get("arch") or kind
    weights = spec.get("weights") or ("DEFAULT" if kind == "torchvision" else None)
    image_size = int(evaluation["images"].shape[1])
    configured = spec.get("preprocessing")
    if kind == "python":  # the config requires its preprocessing
        input_size, mean, std = image_size, tuple(spec["preprocessing"]["mean"]), tuple(spec["preprocessing"]["std"])
    else:
        default = models.default_preprocessing(arch, weights, image_size)
        input_size, mean, std = default.input_size, default.mean, default.std
        if configured is not None:
            mean, std = tuple(configured["mean"]), tuple(configured["std"])
    card = models.ModelCard(
        arch=arch,
        source=kind,
        num_classes=num_classes,
        target_layer=spec.get("target_layer") or models.DEFAULT_TARGET_LAYERS[arch],
        input_size=input_size,
        mean=mean,
        std=std,
        class_names=class_names,
        weights=weights,
        factory=spec.get("factory"),
    )
    if kind == "trained":
        assert train_store is not None, "a trained model needs the training store"
        training = read_images(train_store)
        model = models.build_model(arch, num_classes, seed=seed)
        torch.set_num_threads(1)  # float reductions depend on the thread count: same weights everywhere
        card.extra["training"] = models.train_model(
            model,
            training.images,
            training.labels,
            epochs=int(spec.get("epochs", 6)),
            batch_size=int(spec.get("train_batch_size", 32)),
            lr=float(spec.get("lr", 5e-3)),
            seed=seed,
            mean=card.mean,
            std=card.std,
        )
        card.accuracy["val"] = card.extra["training"]["val_accuracy"]
    elif kind == "torchvision":
        model = models.build_model(arch, num_classes, weights=weights)
    elif kind == "python":
        model = models.build_python_model(spec["factory"], weights)
    else:
        model = models.load_checkpoint(spec["path"], arch, num_classes)
    cams.resolve_target(model, card.target_layer)  # a bad target layer fails here, before any other job
    card.accuracy["eval"] = _stored_accuracy(model, card, evaluation)
    warning = models.below_chance_warning(card.accuracy["eval"], class_names)
    if warning is not None:
        logging.getLogger("camrobust").warning(warning)
        card.extra["warnings"] = [warning]
    Path(weights_out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights_out)
    card.to_json(card_out)
    return card


def _stored_accuracy(model: torch.nn.Module, card: ModelCard, images: zarr.Group) -> float:
    """Top-1 accuracy on an images store: :func:`camrobust.models.evaluate_accuracy` (the one
    accuracy computation) on chunks of ACCURACY_CHUNK images, so that memory holds one chunk;
    the chunks' correct predictions are summed."""
    from camrobust import models

    n, correct = int(images["images"].shape[0]), 0
    for rows in image_chunks(n, ACCURACY_CHUNK):
        labels = np.asarray(images["labels"][rows])
        accuracy = models.evaluate_accuracy(
            model, np.asarray(images["images"][rows]), labels, mean=card.mean, std=card.std, batch_size=ACCURACY_CHUNK
        )
        correct += round(accuracy * len(labels))
    return correct / max(n, 1)


def load_model(card_path: PathLike, weights_path: PathLike, device: str = "cpu") -> tuple[torch.nn.Module, ModelCard]:
    """The model of a card and weights file (as :func:`prepare_model` writes them), on ``device``
    (``auto``: CUDA when available), in eval mode, and its card."""
    from camrobust import models
    from camrobust.devices import resolve_device

    card = models.ModelCard.from_json(card_path)
    return models.load_model(card, Path(weights_path), resolve_device(device)), card
