"""Predictions and target-layer features of one condition's images (rules/features.smk).

- predictions store: ``logits`` (image, severity, class), ``pred`` and ``target`` (image,
  severity), ``severity``; the clean condition has one severity, 0.
- features store: ``activations`` and ``gradients`` (image, severity, channel, h, w) at the
  configured precision, for the targets of the predictions store.

The features job also writes the raw maps of every built-in gradient-family CAM (CAM stores, see
:mod:`camrobust.io.maps`), from the float32 features of each batch, and those of the baseline maps
(:func:`camrobust.core.maps.baseline_feature_maps`) on the target layer's grid, from the batch's
images and CAM targets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import ExitStack

import numpy as np

from camrobust.core.maps import baseline_feature_maps, feature_maps
from camrobust.core.model import ModelInput, ModelOnImages, prediction_batches
from camrobust.io.images import image_ids, open_condition
from camrobust.io.maps import CAM_DIMS, cam_attrs
from camrobust.io.store import ShardStream, open_store, store_writer
from camrobust.stages.get_model import load_model

PathLike = str | os.PathLike[str]
FEATURE_PRECISIONS = ("float32", "float16")


def predict_images(
    *,
    images_store: PathLike,
    labels_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    target_mode: str,
    batch_size: int,
    device: str,
    out: PathLike,
) -> None:
    """Logits, predicted class and CAM target (the prediction, or the label with
    ``target_mode == "label"``) of every image and severity; one forward pass per batch."""
    model, card = load_model(card_path, weights_path, device)
    images = open_condition(images_store)
    labels = open_store(labels_store)["labels"]
    model_input = ModelInput.of_card(card, device=device, batch_size=batch_size)
    n, s = images.n, len(images.severities)
    with store_writer(out, {"target_layer": card.target_layer, "target_mode": target_mode}) as writer:
        logits_out: ShardStream | None = None
        pred = writer.stream("pred", (n, s), "int64", ("image", "severity"))
        target = writer.stream("target", (n, s), "int64", ("image", "severity"))
        for batch in prediction_batches(model, images, labels, model_input=model_input, target_mode=target_mode):
            if logits_out is None:
                shape = (n, s, batch.logits.shape[-1])
                logits_out = writer.stream("logits", shape, "float32", ("image", "severity", "class"))
            logits_out.append(batch.logits)
            pred.append(batch.pred)
            target.append(batch.target)
        writer.add("severity", np.asarray(images.severities, dtype=np.int64), ("severity",))


def model_on_images(
    *,
    images_store: PathLike,
    predictions_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    device: str,
    batch_size: int,
) -> ModelOnImages:
    """The model of a card and weights file on the images of a store and the CAM targets of its
    predictions store."""
    from camrobust import cams

    model, card = load_model(card_path, weights_path, device)
    images = open_condition(images_store)
    return ModelOnImages(
        model=model,
        target=cams.resolve_target(model, card.target_layer),
        reshape=cams.token_reshape(model, images.image_size),
        model_input=ModelInput.of_card(card, device=device, batch_size=batch_size),
        images=images,
        targets=open_store(predictions_store)["target"],
    )


def extract_features(
    *,
    images_store: PathLike,
    predictions_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    batch_size: int,
    precision: str,
    device: str,
    out: PathLike,
    cam_stores: Mapping[str, PathLike],
    baseline_stores: Mapping[str, PathLike] | None = None,
    ids_store: PathLike | None = None,
    condition: str = "clean",
    seed: int = 0,
) -> None:
    """Target-layer activations and gradients of the targets of the predictions store, and from
    them the raw maps of the gradient-family methods in ``cam_stores`` (method -> store).

    One forward and one backward pass per batch. The features are stored as ``precision``
    (float32 or float16); the maps are computed from the float32 features before that, so they
    equal :func:`camrobust.stages.cams.gradient_cam_maps` on a float32 features store.
    ``baseline_stores`` (method -> store): baseline maps of the same batches on the activations'
    grid, seeded by the image ids of ``ids_store`` (the clean images store), the ``condition``
    and the ``seed`` (:func:`camrobust.core.maps.condition_ids`).
    """
    from camrobust import models

    if precision not in FEATURE_PRECISIONS:
        raise ValueError(f"precision: {precision!r} unknown; allowed: {', '.join(FEATURE_PRECISIONS)}")
    job = model_on_images(
        images_store=images_store,
        predictions_store=predictions_store,
        card_path=card_path,
        weights_path=weights_path,
        device=device,
        batch_size=batch_size,
    )
    n = job.images.n
    dims = ("image", "severity", "channel", "h", "w")
    target_layer = models.ModelCard.from_json(card_path).target_layer
    severities = np.asarray(job.images.severities, dtype=np.int64)
    baseline_stores = dict(baseline_stores or {})
    if baseline_stores and ids_store is None:
        raise ValueError("ids_store: the baseline maps need the clean images store's image ids")
    id_group = open_store(ids_store) if ids_store is not None else None
    with ExitStack() as stores:
        features = stores.enter_context(store_writer(out, {"target_layer": target_layer, "precision": precision}))
        cam_writers = {
            method: stores.enter_context(store_writer(path, cam_attrs(method, job.images.image_size)))
            for method, path in {**cam_stores, **baseline_stores}.items()
        }
        streams: dict[str, ShardStream] = {}
        batches = job.images.model_batches(batch_size)
        for rows, (activations, gradients) in zip(batches, job.feature_batches(), strict=True):
            for name, data in (("activations", activations), ("gradients", gradients)):
                if name not in streams:
                    streams[name] = features.stream(name, (n, *data.shape[1:]), precision, dims)
                streams[name].append(data)
            images = job.images.read(rows) if baseline_stores else None
            for method, writer in cam_writers.items():
                if images is not None and id_group is not None and method in baseline_stores:
                    maps = baseline_feature_maps(
                        method,
                        images,
                        np.asarray(job.targets[rows]),
                        ids=image_ids(id_group, rows),
                        condition=condition,
                        severities=job.images.severities,
                        grid=activations.shape[-2:],
                        seed=seed,
                    )
                else:
                    maps = feature_maps(method, activations, gradients)
                if method not in streams:
                    streams[method] = writer.stream("maps", (n, *maps.shape[1:]), "float32", CAM_DIMS)
                streams[method].append(maps)
        for writer in (features, *cam_writers.values()):
            writer.add("severity", severities, ("severity",))
