"""One function per workflow stage: read the stage's inputs, compute, write its outputs.

Each function takes paths and plain parameters, so every stage runs and is tested without
Snakemake; the scripts in ``workflow_scripts/`` only adapt the ``snakemake`` object to them.
Heavy libraries (torch, pingouin, matplotlib) are imported by the stages that use them, which
keeps the start-up of the many small jobs short.

Every per-item stage streams over chunks of images (``chunk_size``, or the model batch for the
stages that run a model): it reads a chunk, computes, appends the result to its output store
and moves on, so its memory does not grow with the number of images. The stored result does
not depend on the chunk size. The work on a chunk is a function of arrays (``noisy_chunks``,
``attack_chunks``, ``prediction_batches``, ``ModelOnImages``, ``feature_maps``,
``segment_chunks``, ``ScoredPairs``, ``robustness_summary``), which
:func:`camrobust.evaluate` runs on arrays in memory.

Store layouts (all Zarr, see :mod:`camrobust.store`; dimension names for xarray):

- images store: ``images`` (image, y, x, channel) uint8, ``labels``, ``ids``, optional ``masks``;
  attrs ``class_names``.
- noisy store: ``images`` (image, severity, y, x, channel) uint8, ``severity`` (severity,);
  attacks add ``clean_pred`` and ``adv_pred`` (image, severity).
- predictions store: ``logits`` (image, severity, class), ``pred`` and ``target`` (image,
  severity); the clean condition has one severity, 0.
- features store: ``activations`` and ``gradients`` (image, severity, channel, h, w) at the
  configured precision, for the targets of the predictions store.
- CAM store: ``maps`` (image, severity, h, w) float32, the raw map on the target layer's grid
  after the ReLU; attrs ``image_size``. :func:`pixel_maps` turns it into image-resolution maps
  in [0, 1] with :func:`camrobust.cams.postprocess`.
- segments store: ``segments`` (image, y, x) int32, ``n_regions`` (image,).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
from tqdm.auto import tqdm

from camrobust import datasets, plugins
from camrobust.datasets import ImageSet
from camrobust.store import ShardStream, image_chunks, open_store, read_array, store_writer

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from camrobust.cams import Reshape, TargetLayer
    from camrobust.models import ModelCard

PathLike = str | os.PathLike[str]

SCORE_COLUMNS = ["rbo", "spearman", "iou_top20", "ssim", "l1", "sensitivity"]
SCORE_KEYS = ["dataset", "model", "noise", "cam"]
#: Columns of the score table that the robustness summary reads.
SUMMARY_INPUT_COLUMNS = [*SCORE_KEYS, "severity", "image_id", "changed", "n_regions", *SCORE_COLUMNS]
#: Images per chunk of the streaming stages that run no model.
CHUNK_SIZE = 64
#: Gradient CAMs read at most about this many bytes of activations and gradients per chunk.
FEATURE_CHUNK_BYTES = 32 << 20
FEATURE_PRECISIONS = ("float32", "float16")


# --------------------------------------------------------------------------- images


def write_images(
    images: ImageSet, path: PathLike, attrs: Mapping[str, Any] | None = None, chunk_size: int = CHUNK_SIZE
) -> None:
    """Store an :class:`ImageSet` (the stage-data output), written chunk by chunk."""
    chunks = (
        ImageSet(
            images=images.images[rows],
            labels=images.labels[rows],
            ids=images.ids[rows],
            class_names=images.class_names,
            masks=None if images.masks is None else images.masks[rows],
            skipped=images.skipped,
        )
        for rows in image_chunks(len(images), chunk_size)
    )
    write_image_chunks(len(images), chunks, path, attrs)


def write_image_chunks(
    n: int, chunks: Iterator[ImageSet], path: PathLike, attrs: Mapping[str, Any] | None = None
) -> None:
    """Store ``n`` images that arrive as consecutive :class:`ImageSet` chunks (only the ids, short
    strings, are gathered and written at the end)."""
    with store_writer(path, attrs) as writer:
        streams: dict[str, ShardStream] = {}
        ids: list[str] = []
        for chunk in chunks:
            arrays = {
                "images": (chunk.images, ("image", "y", "x", "channel")),
                "labels": (chunk.labels.astype(np.int64), ("image",)),
            }
            if chunk.masks is not None:
                arrays["masks"] = (chunk.masks.astype(bool), ("image", "y", "x"))
            for name, (data, dims) in arrays.items():
                if name not in streams:
                    streams[name] = writer.stream(name, (n, *data.shape[1:]), data.dtype, dims)
                streams[name].append(data)
            ids.extend(chunk.ids)
            writer.group.attrs.update({"class_names": list(chunk.class_names), "skipped": list(chunk.skipped)})
        writer.add("ids", np.asarray(ids, dtype=str), ("image",))


def read_images(path: PathLike) -> ImageSet:
    """Load a whole clean images store (model training and accuracy)."""
    group = open_store(path)
    masks = np.asarray(group["masks"][...]) if "masks" in group else None
    return ImageSet(
        images=np.asarray(group["images"][...]),
        labels=np.asarray(group["labels"][...]),
        ids=[str(i) for i in group["ids"][...]],
        class_names=list(group.attrs["class_names"]),
        masks=masks,
    )


def stage_images(spec: Mapping[str, Any], split: str, seed: int, out: PathLike) -> None:
    """Stage data: download, generate or read a dataset's ``split`` into an images store."""
    n, chunks = datasets.stage_dataset_chunks(dict(spec), split, seed, CHUNK_SIZE)
    write_image_chunks(n, chunks, out, {"split": split, "spec": dict(spec)})


class ConditionImages:
    """Images of one condition read chunk by chunk: clean images (n, H, W, 3) as one severity, 0,
    or noisy images (n, S, H, W, 3) of ``severities``; a stored array or one in memory."""

    def __init__(self, array: zarr.Array | np.ndarray, severities: Sequence[int] = (0,)) -> None:
        self.array = array
        self.clean = array.ndim == 4
        self.severities = [0] if self.clean else [int(s) for s in severities]
        self.n = int(array.shape[0])
        self.image_size = tuple(int(x) for x in array.shape[-3:-1])

    @classmethod
    def open(cls, path: PathLike) -> ConditionImages:
        """The images of a clean or noisy store."""
        group = open_store(path)
        clean = group["images"].ndim == 4
        return cls(group["images"], (0,) if clean else [int(s) for s in group["severity"][...]])

    def read(self, rows: slice | Sequence[int]) -> np.ndarray:
        """Images of ``rows`` as (n, S, H, W, 3) uint8."""
        images = _read_rows(self.array, rows)
        return images[:, None] if self.clean else images


def _read_rows(array: zarr.Array, rows: slice | Sequence[int]) -> np.ndarray:
    """Rows of a stored array: a slice, or the listed image indices (each reads its own chunk)."""
    if isinstance(rows, slice):
        return np.asarray(array[rows])
    return np.stack([np.asarray(array[int(i)]) for i in rows]) if len(rows) else np.asarray(array[0:0])


def _ids(group: zarr.Group, rows: slice) -> list[str]:
    return [str(i) for i in group["ids"][rows]]


# --------------------------------------------------------------------------- models


def prepare_model(
    spec: Mapping[str, Any],
    train_store: PathLike | None,
    eval_store: PathLike,
    seed: int,
    weights_out: PathLike,
    card_out: PathLike,
) -> ModelCard:
    """Get model: train the demo CNN, fetch torchvision weights, load a user checkpoint, or build
    a ``kind: python`` model from its factory (and optional state dict ``weights``).

    Writes the weights as a state dict and a model card with the target layer, the
    preprocessing (the spec's ``preprocessing`` when given, else the architecture's default) and
    the accuracy on the evaluation images. Accuracy below chance is logged as a warning (logger
    ``camrobust``) and kept in the card's ``extra["warnings"]``.
    """
    import torch

    from camrobust import models

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
    models.resolve_target(model, card.target_layer)
    card.accuracy["eval"] = _accuracy(model, card, evaluation)
    warning = models.below_chance_warning(card.accuracy["eval"], class_names)
    if warning is not None:
        logging.getLogger("camrobust").warning(warning)
        card.extra["warnings"] = [warning]
    Path(weights_out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights_out)
    card.to_json(card_out)
    return card


def _accuracy(model: torch.nn.Module, card: ModelCard, images: zarr.Group) -> float:
    """Top-1 accuracy on an images store, over chunks of 32 images."""
    from camrobust import models

    n, correct = int(images["images"].shape[0]), 0
    for rows in image_chunks(n, 32):
        labels = np.asarray(images["labels"][rows])
        accuracy = models.evaluate_accuracy(
            model, np.asarray(images["images"][rows]), labels, mean=card.mean, std=card.std, batch_size=32
        )
        correct += round(accuracy * len(labels))
    return correct / max(n, 1)


def load_model(card_path: PathLike, weights_path: PathLike, device: str = "cpu") -> tuple[torch.nn.Module, ModelCard]:
    """The model of a card and weights file (as ``prepare_model`` writes them), on ``device``
    (``auto``: CUDA when available), in eval mode, and its card."""
    from camrobust import models
    from camrobust.devices import resolve_device

    card = models.ModelCard.from_json(card_path)
    return models.load_model(card, Path(weights_path), resolve_device(device)), card


# --------------------------------------------------------------------------- noise

NOISY_DIMS = ("image", "severity", "y", "x", "channel")


def perturb_images(
    clean_store: PathLike,
    noise_name: str,
    severities: Sequence[int],
    params: Sequence[float] | None,
    seed: int,
    namespace: str,
    out: PathLike,
    chunk_size: int = CHUNK_SIZE,
    plugin: Mapping[str, Any] | None = None,
) -> None:
    """Noisy images: every severity of one model-free noise type in one store.
    ``plugin``: the noise's ``noise_plugins`` entry, for a noise not built in (``params`` are then
    its per-severity parameters)."""
    function = None if plugin is None else plugins.load(plugin["function"], f"noise_plugins.{noise_name}.function")
    clean = open_store(clean_store)
    n, h, w, _ = clean["images"].shape
    ids = _ids(clean, slice(None))
    with store_writer(out, {"noise": noise_name, "namespace": namespace, "seed": seed}) as writer:
        stored = writer.stream("images", (n, len(severities), h, w, 3), "uint8", NOISY_DIMS)
        for noisy in noisy_chunks(
            clean["images"], ids, noise_name, severities, params, seed, namespace, chunk_size, function
        ):
            stored.append(noisy)
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))


def noisy_chunks(
    images: zarr.Array | np.ndarray,
    ids: Sequence[str],
    noise_name: str,
    severities: Sequence[int],
    params: Sequence[Any] | None,
    seed: int,
    namespace: str,
    chunk_size: int = CHUNK_SIZE,
    function: Callable[..., Any] | None = None,
    progress: bool = True,
) -> Iterator[np.ndarray]:
    """Noisy copies (n, S, H, W, 3) uint8 of consecutive chunks of clean images (N, H, W, 3), at
    every severity of a model-free noise: built in, or the noise plugin ``function``. ``params``:
    the per-severity parameters (None: the built-in table); image i's randomness is keyed by
    (namespace, noise, severity, ids[i], seed)."""
    from camrobust import noise

    if function is not None and params is None:
        raise ValueError(f"noise_plugins.{noise_name}: a noise plugin needs its per-severity params")

    def noisy_copy(chunk: np.ndarray, chunk_ids: list[str], severity: int) -> np.ndarray:
        parameter = None if params is None else params[severity - 1]
        if function is None:
            return noise.perturb(chunk, noise_name, severity, seed, chunk_ids, namespace=namespace, params=parameter)
        return plugins.perturb(function, chunk, noise_name, severity, parameter, seed, chunk_ids, namespace=namespace)

    chunks = list(image_chunks(len(ids), chunk_size))
    for rows in tqdm(chunks, desc=noise_name, unit="chunk", disable=not progress):
        chunk, chunk_ids = np.asarray(images[rows]), list(ids[rows])
        yield np.stack([noisy_copy(chunk, chunk_ids, severity) for severity in severities], 1)


def attack_images(
    clean_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    noise_name: str,
    severities: Sequence[int],
    params: Sequence[float] | None,
    seed: int,
    namespace: str,
    batch_size: int,
    device: str,
    out: PathLike,
) -> None:
    """Noisy images of an attack (per model): adversarial images and the predictions they cause.

    Streams over chunks of ``batch_size`` images, one model batch each."""
    from camrobust.devices import resolve_device

    clean = open_store(clean_store)
    model, card = load_model(card_path, weights_path, device)
    n, h, w, _ = clean["images"].shape
    n_changed = np.zeros(len(severities), dtype=np.int64)
    with store_writer(out, {"noise": noise_name, "namespace": namespace, "seed": seed}) as writer:
        stored = writer.stream("images", (n, len(severities), h, w, 3), "uint8", NOISY_DIMS)
        clean_pred = writer.stream("clean_pred", (n, len(severities)), "int64", ("image", "severity"))
        adv_pred = writer.stream("adv_pred", (n, len(severities)), "int64", ("image", "severity"))
        for images, clean_chunk, adv_chunk in attack_chunks(
            model,
            card.mean,
            card.std,
            clean["images"],
            _ids(clean, slice(None)),
            noise_name,
            severities,
            params,
            seed,
            namespace,
            batch_size,
            resolve_device(device),
        ):
            stored.append(images)
            clean_pred.append(clean_chunk)
            adv_pred.append(adv_chunk)
            n_changed += (adv_chunk != clean_chunk).sum(0)
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))
        writer.group.attrs["success_rate"] = {
            str(severity): float(changed / n) if n else float("nan") for severity, changed in zip(severities, n_changed)
        }


def attack_chunks(
    model: torch.nn.Module,
    mean: Sequence[float],
    std: Sequence[float],
    images: zarr.Array | np.ndarray,
    ids: Sequence[str],
    noise_name: str,
    severities: Sequence[int],
    params: Sequence[float] | None,
    seed: int,
    namespace: str,
    batch_size: int,
    device: torch.device,
    progress: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Adversarial copies (n, S, H, W, 3) uint8 of consecutive chunks of ``batch_size`` clean
    images, at every severity of an attack, with the clean and adversarial predictions (n, S)."""
    from camrobust import noise

    for rows in tqdm(list(image_chunks(len(ids), batch_size)), desc=noise_name, unit="batch", disable=not progress):
        chunk, chunk_ids = np.asarray(images[rows]), list(ids[rows])
        results = [
            noise.attack(
                model,
                chunk,
                noise_name,
                severity,
                seed,
                chunk_ids,
                mean=mean,
                std=std,
                namespace=namespace,
                params=None if params is None else params[severity - 1],
                batch_size=batch_size,
                device=device,
            )
            for severity in severities
        ]
        yield (
            np.stack([result.images for result in results], 1),
            np.stack([result.clean_pred for result in results], 1),
            np.stack([result.adv_pred for result in results], 1),
        )


# --------------------------------------------------------------------------- predictions, features and CAMs


def _batches(n: int, batch_size: int, group: int = 1) -> list[slice]:
    """Slices of ``range(n)`` of about ``batch_size`` items, each a whole number of ``group``s."""
    step = max(1, batch_size // group) * group
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _image_batches(images: ConditionImages, batch_size: int) -> list[tuple[slice, slice]]:
    """(images, flattened image*severity rows) of each model batch: ``batch_size`` rows, whole images."""
    s = len(images.severities)
    return [(slice(rows.start // s, rows.stop // s), rows) for rows in _batches(images.n * s, batch_size, s)]


def _flat(values: np.ndarray) -> np.ndarray:
    """(n, S, ...) -> (n*S, ...): the model's view of the images of a condition."""
    return values.reshape(-1, *values.shape[2:])


def _per_image(data: np.ndarray, s: int) -> np.ndarray:
    """(n*S, ...) -> (n, S, ...)."""
    return data.reshape(-1, s, *data.shape[1:])


def predict_images(
    images_store: PathLike,
    labels_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    target_mode: str,
    batch_size: int,
    device: str,
    out: PathLike,
) -> None:
    """Predict: logits, predicted class and CAM target (the prediction, or the label with
    ``target_mode == "label"``) of every image and severity; one forward pass per batch."""
    from camrobust.devices import resolve_device

    model, card = load_model(card_path, weights_path, device)
    images = ConditionImages.open(images_store)
    labels = open_store(labels_store)["labels"]
    n, s = images.n, len(images.severities)
    with store_writer(out, {"target_layer": card.target_layer, "target_mode": target_mode}) as writer:
        logits_out: ShardStream | None = None
        pred = writer.stream("pred", (n, s), "int64", ("image", "severity"))
        target = writer.stream("target", (n, s), "int64", ("image", "severity"))
        for batch in prediction_batches(
            model, card.mean, card.std, images, labels, target_mode, batch_size, resolve_device(device)
        ):
            if logits_out is None:
                shape = (n, s, batch.logits.shape[-1])
                logits_out = writer.stream("logits", shape, "float32", ("image", "severity", "class"))
            logits_out.append(batch.logits)
            pred.append(batch.pred)
            target.append(batch.target)
        writer.add("severity", np.asarray(images.severities, dtype=np.int64), ("severity",))


@dataclass(frozen=True)
class Predictions:
    """Logits (n, S, classes) float32, predicted class and CAM target (n, S) int64 of some images."""

    logits: np.ndarray
    pred: np.ndarray
    target: np.ndarray


def prediction_batches(
    model: torch.nn.Module,
    mean: Sequence[float],
    std: Sequence[float],
    images: ConditionImages,
    labels: zarr.Array | np.ndarray,
    target_mode: str,
    batch_size: int,
    device: torch.device,
    progress: bool = True,
) -> Iterator[Predictions]:
    """Predictions of consecutive model batches (``batch_size`` image-severity rows, whole
    images) of one condition; the CAM target is the prediction, or the label with
    ``target_mode == "label"``."""
    import torch

    from camrobust import models

    s = len(images.severities)
    for image_rows, _ in tqdm(_image_batches(images, batch_size), desc="predict", unit="batch", disable=not progress):
        inputs = models.to_model_input(_flat(images.read(image_rows)), mean, std, device)
        with torch.no_grad():
            logits = model(inputs).float().cpu().numpy()
        predicted = logits.argmax(1)
        chosen = np.repeat(np.asarray(labels[image_rows]), s) if target_mode == "label" else predicted
        yield Predictions(
            _per_image(logits, s), _per_image(predicted.astype(np.int64), s), _per_image(chosen.astype(np.int64), s)
        )


@dataclass(frozen=True)
class ModelOnImages:
    """A model, its CAM target and token reshape, its input normalisation, one condition's
    images and their CAM targets (n, S)."""

    model: torch.nn.Module
    target: TargetLayer
    reshape: Reshape | None
    mean: Sequence[float]
    std: Sequence[float]
    images: ConditionImages
    targets: zarr.Array | np.ndarray
    device: torch.device

    @classmethod
    def load(
        cls,
        images_store: PathLike,
        predictions_store: PathLike,
        card_path: PathLike,
        weights_path: PathLike,
        device: str,
    ) -> ModelOnImages:
        """The model of a card and weights file on the images and CAM targets of two stores."""
        from camrobust import cams, models
        from camrobust.devices import resolve_device

        model, card = load_model(card_path, weights_path, device)
        images = ConditionImages.open(images_store)
        return cls(
            model=model,
            target=models.resolve_target(model, card.target_layer),
            reshape=cams.token_reshape(model, images.image_size),
            mean=card.mean,
            std=card.std,
            images=images,
            targets=open_store(predictions_store)["target"],
            device=resolve_device(device),
        )

    def batches(self, batch_size: int, desc: str, progress: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(model inputs, CAM targets) of ``batch_size`` flattened image-severity rows, whole images."""
        import torch

        from camrobust import models

        batches = _image_batches(self.images, batch_size)
        for image_rows, _ in tqdm(batches, desc=desc, unit="batch", disable=not progress):
            inputs = models.to_model_input(_flat(self.images.read(image_rows)), self.mean, self.std, self.device)
            yield inputs, torch.as_tensor(_flat(np.asarray(self.targets[image_rows])), device=self.device)

    def feature_batches(self, batch_size: int, progress: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Target-layer activations and gradients (n, S, C, h, w) float32 of each model batch:
        one forward and one backward pass."""
        from camrobust import cams

        s = len(self.images.severities)
        for inputs, targets in self.batches(batch_size, "features", progress):
            capture = cams.capture(self.model, self.target, inputs, targets, reshape=self.reshape)
            yield (
                _per_image(capture.activations.detach().float().cpu().numpy(), s),
                _per_image(capture.gradients.detach().float().cpu().numpy(), s),
            )

    def model_map_batches(
        self,
        method: str,
        batch_size: int,
        channel_batch_size: int,
        plugin: plugins.CamPlugin | None = None,
        progress: bool = True,
    ) -> Iterator[np.ndarray]:
        """Raw maps (n, S, h, w) float32 after the ReLU of each model batch, for a method that
        needs the model (ScoreCAM, AblationCAM) or a ``uses: model`` ``plugin``."""
        from camrobust import cams

        s = len(self.images.severities)
        for inputs, targets in self.batches(batch_size, method, progress):
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
            yield _per_image(raw.clamp_min(0).float().cpu().numpy(), s)


def extract_features(
    images_store: PathLike,
    predictions_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    batch_size: int,
    precision: str,
    device: str,
    out: PathLike,
    cam_stores: Mapping[str, PathLike],
) -> None:
    """Features: target-layer activations and gradients of the targets of the predictions store,
    and from them the raw maps of the gradient-family methods in ``cam_stores`` (method -> store).

    One forward and one backward pass per batch. The features are stored as ``precision``
    (float32 or float16); the maps are computed from the float32 features before that, so they
    equal :func:`gradient_cam_maps` on a float32 features store.
    """
    from camrobust import models

    if precision not in FEATURE_PRECISIONS:
        raise ValueError(f"precision: {precision!r} unknown; allowed: {', '.join(FEATURE_PRECISIONS)}")
    job = ModelOnImages.load(images_store, predictions_store, card_path, weights_path, device)
    n = job.images.n
    dims = ("image", "severity", "channel", "h", "w")
    target_layer = models.ModelCard.from_json(card_path).target_layer
    severities = np.asarray(job.images.severities, dtype=np.int64)
    with ExitStack() as stores:
        features = stores.enter_context(store_writer(out, {"target_layer": target_layer, "precision": precision}))
        cam_writers = {
            method: stores.enter_context(store_writer(path, {"cam": method, "image_size": list(job.images.image_size)}))
            for method, path in cam_stores.items()
        }
        streams: dict[str, ShardStream] = {}
        for activations, gradients in job.feature_batches(batch_size):
            for name, data in (("activations", activations), ("gradients", gradients)):
                if name not in streams:
                    streams[name] = features.stream(name, (n, *data.shape[1:]), precision, dims)
                streams[name].append(data)
            for method, writer in cam_writers.items():
                maps = feature_maps(method, activations, gradients)
                if method not in streams:
                    streams[method] = writer.stream("maps", (n, *maps.shape[1:]), "float32", CAM_DIMS)
                streams[method].append(maps)
        for writer in (features, *cam_writers.values()):
            writer.add("severity", severities, ("severity",))


CAM_DIMS = ("image", "severity", "h", "w")


def cam_plugin(method: str, plugin: Mapping[str, Any], uses: str) -> plugins.CamPlugin:
    """The callable of a ``cam_plugins`` entry, checked to be called with ``uses``."""
    if plugin.get("uses") != uses:
        raise ValueError(f"cam_plugins.{method}: this stage runs 'uses: {uses}' plugins, got {plugin.get('uses')!r}")
    return plugins.CamPlugin(method, plugins.load(plugin["function"], f"cam_plugins.{method}.function"), uses)


def feature_maps(
    method: str, activations: np.ndarray, gradients: np.ndarray, plugin: plugins.CamPlugin | None = None
) -> np.ndarray:
    """Raw maps (n, S, h, w) float32 after the ReLU of a gradient-family method, or of a
    ``uses: features`` ``plugin``, from activations and gradients (n, S, C, h, w).

    Computed on one torch thread, whatever the caller's setting: LAPACK's SVD (EigenCAM,
    EigenGradCAM) rounds differently on more threads, and a map must not depend on the thread
    count of the job (or notebook) that computes it."""
    import torch

    from camrobust import cams

    a = torch.from_numpy(_flat(activations)).float()
    g = torch.from_numpy(_flat(gradients)).float()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        raw = cams.GRADIENT_METHODS[method](a, g) if plugin is None else plugins.features_cam(plugin, a, g)
    finally:
        torch.set_num_threads(threads)
    return _per_image(raw.clamp_min(0).numpy(), activations.shape[1])


def gradient_cam_maps(
    features_store: PathLike,
    method: str,
    image_size: tuple[int, int],
    out: PathLike,
    chunk_size: int | None = None,
    plugin: Mapping[str, Any] | None = None,
) -> None:
    """Raw maps of a gradient-family method from cached activations and gradients (no model pass);
    ``chunk_size`` images at a time (default: about FEATURE_CHUNK_BYTES of features per chunk).
    ``plugin``: the method's ``cam_plugins`` entry (``uses: features``), for a method not built in."""
    from camrobust import cams

    custom = None if plugin is None else cam_plugin(method, plugin, "features")
    if custom is None and method not in cams.GRADIENT_METHODS:
        raise ValueError(f"method: {method!r} is not a gradient-family CAM; valid: {list(cams.GRADIENT_METHODS)}")
    group = open_store(features_store)
    n, s, _, h, w = group["activations"].shape
    if chunk_size is None:
        image_bytes = 2 * math.prod(group["activations"].shape[1:]) * group["activations"].dtype.itemsize
        chunk_size = max(1, FEATURE_CHUNK_BYTES // image_bytes)
    with store_writer(out, {"cam": method, "image_size": [int(x) for x in image_size]}) as writer:
        maps = writer.stream("maps", (n, s, h, w), "float32", CAM_DIMS)
        for rows in tqdm(list(image_chunks(n, chunk_size)), desc=method, unit="chunk"):
            activations, gradients = np.asarray(group["activations"][rows]), np.asarray(group["gradients"][rows])
            maps.append(feature_maps(method, activations, gradients, custom))
        writer.add("severity", np.asarray(group["severity"][...]), ("severity",))


def model_cam_maps(
    images_store: PathLike,
    predictions_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    method: str,
    batch_size: int,
    channel_batch_size: int,
    device: str,
    out: PathLike,
    plugin: Mapping[str, Any] | None = None,
) -> None:
    """Raw maps of a method that needs the model (ScoreCAM, AblationCAM), for the predictions' targets.
    ``plugin``: the method's ``cam_plugins`` entry (``uses: model``), for a method not built in."""
    job = ModelOnImages.load(images_store, predictions_store, card_path, weights_path, device)
    n = job.images.n
    custom = None if plugin is None else cam_plugin(method, plugin, "model")
    with store_writer(out, {"cam": method, "image_size": list(job.images.image_size)}) as writer:
        maps: ShardStream | None = None
        for data in job.model_map_batches(method, batch_size, channel_batch_size, custom):
            if maps is None:
                maps = writer.stream("maps", (n, *data.shape[1:]), "float32", CAM_DIMS)
            maps.append(data)
        writer.add("severity", np.asarray(job.images.severities, dtype=np.int64), ("severity",))


def pixel_maps(cam_store: zarr.Group, rows: slice | Sequence[int]) -> np.ndarray:
    """Image-resolution maps in [0, 1] (n, S, H, W) float32 of ``rows`` of a CAM store: the raw
    maps through :func:`camrobust.cams.postprocess` (ReLU, min-max, bilinear upsampling)."""
    return upsampled_maps(_read_rows(cam_store["maps"], rows), cam_store.attrs["image_size"])


def upsampled_maps(raw: np.ndarray, image_size: Sequence[int]) -> np.ndarray:
    """Raw maps (..., h, w) as image-resolution maps (..., H, W) in [0, 1], float32, through
    :func:`camrobust.cams.postprocess`."""
    import torch

    from camrobust import cams

    return cams.postprocess(torch.from_numpy(raw), image_size).numpy()


# --------------------------------------------------------------------------- segmentation and scores


def segment_images(
    clean_store: PathLike, method: str, params: Mapping[str, Any] | None, out: PathLike, chunk_size: int = CHUNK_SIZE
) -> None:
    """Segment: regions of every clean image (parameters chosen from the image size if not given)."""
    from camrobust import segmentation

    clean = open_store(clean_store)
    n, h, w, _ = clean["images"].shape
    chosen = segmentation.chosen_params(h, method, params)
    with store_writer(out, {"method": method, "params": chosen}) as writer:
        segments = writer.stream("segments", (n, h, w), "int32", ("image", "y", "x"))
        n_regions = writer.stream("n_regions", (n,), "int64", ("image",))
        for labels in segment_chunks(clean["images"], method, chosen, chunk_size):
            segments.append(labels)
            n_regions.append(segmentation.region_counts(labels))


def segment_chunks(
    images: zarr.Array | np.ndarray,
    method: str,
    params: Mapping[str, Any],
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
) -> Iterator[np.ndarray]:
    """Region labels (n, H, W) int32 of consecutive chunks of clean images (N, H, W, 3)."""
    from camrobust import segmentation

    for rows in tqdm(
        list(image_chunks(int(images.shape[0]), chunk_size)), desc="segments", unit="chunk", disable=not progress
    ):
        yield segmentation.segment(np.asarray(images[rows]), method, **params)


class _ParquetAppender:
    """Appends DataFrames as row groups of one Parquet file, with the first frame's schema."""

    def __init__(self, path: PathLike) -> None:
        self.path = path
        self.writer: Any = None

    def append(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.writer.write_table(table.cast(self.writer.schema))

    def __enter__(self) -> _ParquetAppender:
        return self

    def __exit__(self, *_: object) -> None:
        if self.writer is not None:
            self.writer.close()


def score_cams(
    clean_store: PathLike,
    segments_store: PathLike,
    clean_predictions: PathLike,
    noisy_predictions: PathLike,
    clean_cams: PathLike,
    noisy_cams: PathLike,
    keys: Mapping[str, str],
    rbo_p: float,
    topk: float,
    out: PathLike,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """Score: one row per (image, severity) with RBO and the complementary similarities.

    Maps are post-processed to image resolution chunk by chunk; rows go to the Parquet file as
    one row group per chunk, in (chunk, severity, image) order."""
    clean = open_store(clean_store)
    segments = open_store(segments_store)["segments"]
    y_clean_all, y_noisy_all = open_store(clean_predictions)["pred"], open_store(noisy_predictions)["pred"]
    clean_group, noisy_group = open_store(clean_cams), open_store(noisy_cams)
    severities = [int(x) for x in noisy_group["severity"][...]]
    n = int(segments.shape[0])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with _ParquetAppender(out) as appender:
        for rows in image_chunks(n, chunk_size):
            pairs = ScoredPairs(
                ids=_ids(clean, rows),
                labels=np.asarray(clean["labels"][rows]),
                segments=np.asarray(segments[rows]),
                y_clean=np.asarray(y_clean_all[rows])[:, 0],
                y_noisy=np.asarray(y_noisy_all[rows]),
                clean_maps=pixel_maps(clean_group, rows)[:, 0],
                noisy_maps=pixel_maps(noisy_group, rows),
            )
            for frame in pairs.score_frames(keys, severities, rbo_p, topk):
                appender.append(frame)
    if appender.writer is None:
        raise ValueError(f"{clean_store}: no images to score")


@dataclass(frozen=True)
class ScoredPairs:
    """The (clean, noisy) CAM pairs of a chunk of n images at S severities: image ids and labels,
    clean segments (n, H, W), clean predictions (n,), noisy predictions (n, S), clean maps
    (n, H, W) and noisy maps (n, S, H, W) at image resolution."""

    ids: list[str]
    labels: np.ndarray
    segments: np.ndarray
    y_clean: np.ndarray
    y_noisy: np.ndarray
    clean_maps: np.ndarray
    noisy_maps: np.ndarray

    def score_frames(
        self, keys: Mapping[str, str], severities: Sequence[int], rbo_p: float, topk: float
    ) -> Iterator[pd.DataFrame]:
        """One score-table frame per severity: ``keys`` (dataset, model, noise, cam), then per
        image its predictions, ``changed``, ``n_regions``, the similarities and the note."""
        import pandas as pd

        from camrobust.scoring import pair_similarities

        for index, severity in enumerate(severities):
            similarity = pair_similarities(
                self.clean_maps, self.noisy_maps[:, index], self.segments, p=rbo_p, topk=topk
            )
            frame = pd.DataFrame(
                {
                    **dict(keys),
                    "severity": severity,
                    "image_id": self.ids,
                    "label": self.labels.astype(np.int64),
                    "y_clean": self.y_clean.astype(np.int64),
                    "y_noisy": self.y_noisy[:, index].astype(np.int64),
                }
            )
            frame["changed"] = frame["y_clean"] != frame["y_noisy"]
            frame["n_regions"] = np.asarray(similarity["n_regions"], dtype=np.int64)
            for column in SCORE_COLUMNS:
                frame[column] = np.asarray(similarity[column], dtype=np.float64)
            frame["note"] = np.asarray(similarity["note"], dtype=str)
            yield frame


# --------------------------------------------------------------------------- summaries and tests


def collect_scores(paths: Sequence[PathLike], out: PathLike) -> None:
    """All score tables in one Parquet file, ordered by (dataset, model, noise, cam, severity,
    image_id); one input table in memory at a time."""
    import pandas as pd
    import pyarrow.parquet as pq

    def table_key(path: PathLike) -> tuple[str, ...]:
        first = pq.ParquetFile(path).read_row_group(0, columns=SCORE_KEYS)
        return tuple(str(first.column(key)[0]) for key in SCORE_KEYS)

    with _ParquetAppender(out) as appender:
        for path in sorted(paths, key=table_key):
            appender.append(collected_order(pd.read_parquet(path)))


def collected_order(table: pd.DataFrame) -> pd.DataFrame:
    """One (dataset, model, noise, cam) score table in the order of the collected table:
    by severity, then image id."""
    return table.sort_values(["severity", "image_id"], kind="stable")


def summarise_robustness(
    scores: PathLike,
    attacks: Sequence[str],
    n_boot: int,
    ci: float,
    seed: int,
    out: PathLike,
) -> pd.DataFrame:
    """:func:`robustness_summary` of the collected scores at ``scores``, written as CSV at ``out``
    (floats at full precision: reading the file back gives the same numbers).

    The table is read one (dataset, model, noise, cam) at a time, so memory holds one score table,
    not all of them; every group's bootstrap is seeded by its key, so the rows equal those of the
    whole table's summary.
    """
    import pandas as pd

    from camrobust.robustness import read_score_groups

    parts = [
        _score_table_summary(table, attacks, n_boot, ci, seed)
        for _, table in read_score_groups(scores, SCORE_KEYS, SUMMARY_INPUT_COLUMNS)
    ]
    summary = _summary_order(pd.concat(parts, ignore_index=True))
    summary.to_csv(out, index=False)
    return summary


def _summary_order(summary: pd.DataFrame) -> pd.DataFrame:
    """Summary rows by (dataset, model, cam, noise), each group's severities ascending, "all" last."""
    order = summary["severity"].map(lambda s: 10**6 if s == "all" else int(s))
    keys = ["dataset", "model", "cam", "noise"]
    return (
        summary.assign(severity_order=order)
        .sort_values([*keys, "severity_order"])
        .drop(columns="severity_order")
        .reset_index(drop=True)
    )


def robustness_summary(scores: pd.DataFrame, attacks: Sequence[str], n_boot: int, ci: float, seed: int) -> pd.DataFrame:
    """Robustness summary: C, R, RM with CIs per severity and pooled, plus the similarity means.

    The similarity columns come from :func:`camrobust.robustness.similarity_summary` (Avg- and
    Max-Sensitivity among them). ``change_rate`` is the share of image-severity pairs whose
    prediction the noise changed (the attack success rate for the noises in ``attacks``).
    Each (dataset, model, noise, cam) score table is summarised on its own, as
    :func:`summarise_robustness` does, so the two give the same numbers.
    """
    import pandas as pd

    parts = [
        _score_table_summary(table.reset_index(drop=True), attacks, n_boot, ci, seed)
        for _, table in scores.groupby(SCORE_KEYS, sort=False)
    ]
    return _summary_order(pd.concat(parts, ignore_index=True))


def _score_table_summary(
    scores: pd.DataFrame, attacks: Sequence[str], n_boot: int, ci: float, seed: int
) -> pd.DataFrame:
    """:func:`robustness_summary` of one (dataset, model, noise, cam) score table."""
    import pandas as pd

    from camrobust import robustness

    keys = ["dataset", "model", "cam", "noise"]
    per_severity = robustness.robustness_table(scores, keys + ["severity"], n_boot=n_boot, seed=seed, ci=ci)
    pooled = robustness.robustness_table(scores, keys, n_boot=n_boot, seed=seed, ci=ci)
    pooled.insert(pooled.columns.get_loc("noise") + 1, "severity", "all")
    per_severity["severity"] = per_severity["severity"].astype(str)

    def means(by: list[str]) -> pd.DataFrame:
        frame = robustness.similarity_summary(scores, by).drop(columns="n")
        grouped = scores.groupby(by, sort=True)
        frame["change_rate"] = grouped["changed"].mean().to_numpy()
        frame["mean_regions"] = grouped["n_regions"].mean().to_numpy()
        return frame

    severity_means = means(keys + ["severity"])
    severity_means["severity"] = severity_means["severity"].astype(str)
    pooled_means = means(keys)
    pooled_means["severity"] = "all"
    summary = pd.concat(
        [
            per_severity.merge(severity_means, on=keys + ["severity"]),
            pooled.merge(pooled_means, on=keys + ["severity"]),
        ],
        ignore_index=True,
    )
    summary["attack_success"] = np.where(summary["noise"].isin(list(attacks)), summary["change_rate"], np.nan)
    return _summary_order(summary)


# --------------------------------------------------------------------------- report


def write_model_card_page(card_path: PathLike, title: str, out: PathLike) -> None:
    """The report's page of a model card (:func:`camrobust.models.card_page`): warnings such as
    accuracy below chance first."""
    from camrobust import models

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(models.card_page(models.ModelCard.from_json(card_path), title))


def overlay_selection(changed_at_worst: np.ndarray, k: int) -> np.ndarray:
    """Indices of up to ``k`` images: half whose prediction the strongest noise changed, half not."""
    changed = np.flatnonzero(changed_at_worst)
    kept = np.flatnonzero(~changed_at_worst)
    n_changed = min(len(changed), max(k // 2, k - len(kept)))
    chosen = np.concatenate([changed[:n_changed], kept[: k - n_changed]])
    return np.sort(chosen)


def plot_cam_overlays(
    clean_store: PathLike,
    noisy_store: PathLike,
    segments_store: PathLike,
    clean_predictions: PathLike,
    noisy_predictions: PathLike,
    clean_cams: Mapping[str, PathLike],
    noisy_cams: Mapping[str, PathLike],
    n_images: int,
    title: str,
    out: PathLike,
) -> None:
    """Clean-vs-noisy CAM overlays of a few images, for every CAM method of the config.

    Reads the predictions of every image (to choose) and the images, segments and maps of the
    chosen images only."""
    from camrobust import plots

    clean = open_store(clean_store)
    noisy = ConditionImages.open(noisy_store)
    y_clean = read_array(clean_predictions, "pred")[:, 0]
    y_noisy = read_array(noisy_predictions, "pred")
    chosen = overlay_selection(y_noisy[:, -1] != y_clean, n_images).tolist()
    plots.cam_overlays(
        _read_rows(clean["images"], chosen),
        noisy.read(chosen),
        {cam: pixel_maps(open_store(path), chosen)[:, 0] for cam, path in clean_cams.items()},
        {cam: pixel_maps(open_store(path), chosen) for cam, path in noisy_cams.items()},
        noisy.severities,
        y_clean[chosen],
        y_noisy[chosen],
        list(clean.attrs["class_names"]),
        Path(out),
        title,
        segments=_read_rows(open_store(segments_store)["segments"], chosen),
        image_ids=[str(clean["ids"][i]) for i in chosen],
    )
