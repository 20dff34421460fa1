"""One function per workflow stage: read the stage's inputs, compute, write its outputs.

Each function takes paths and plain parameters, so every stage runs and is tested without
Snakemake; the scripts in ``workflow_scripts/`` only adapt the ``snakemake`` object to them.
Heavy libraries (torch, pingouin, matplotlib) are imported by the stages that use them, which
keeps the start-up of the many small jobs short.

Store layouts (all Zarr, dimension names for xarray):

- images store: ``images`` (image, y, x, channel) uint8, ``labels``, ``ids``, optional ``masks``;
  attrs ``class_names``.
- noisy store: ``images`` (image, severity, y, x, channel) uint8, ``severity`` (severity,);
  attacks add ``clean_pred`` and ``adv_pred`` (image, severity).
- features store: ``logits`` (image, severity, class), ``pred`` and ``target`` (image, severity),
  ``activations`` and ``gradients`` (image, severity, channel, h, w); the clean condition has one
  severity, 0.
- CAM store: ``maps`` (image, severity, y, x) float32 in [0, 1].
- segments store: ``segments`` (image, y, x) int32, ``n_regions`` (image,).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from camrobust import datasets
from camrobust.datasets import ImageSet
from camrobust.store import open_store, read_array, store_writer, write_store

if TYPE_CHECKING:
    import torch

    from camrobust.models import ModelCard

PathLike = str | os.PathLike[str]

SCORE_COLUMNS = ["rbo", "spearman", "iou_top20", "ssim", "l1", "sensitivity"]


# --------------------------------------------------------------------------- images


def write_images(images: ImageSet, path: PathLike, attrs: Mapping[str, Any] | None = None) -> None:
    """Store an :class:`ImageSet` (the stage-data output)."""
    arrays = {
        "images": (images.images, ("image", "y", "x", "channel")),
        "labels": (images.labels.astype(np.int64), ("image",)),
        "ids": (np.asarray(images.ids, dtype=str), ("image",)),
    }
    if images.masks is not None:
        arrays["masks"] = (images.masks.astype(bool), ("image", "y", "x"))
    skipped = list(getattr(images, "skipped", []) or [])
    write_store(path, arrays, {"class_names": list(images.class_names), "skipped": skipped, **dict(attrs or {})})


def read_images(path: PathLike) -> ImageSet:
    """Load a clean images store."""
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
    images = datasets.stage_dataset(dict(spec), split, seed)
    write_images(images, out, {"split": split, "spec": dict(spec)})


def condition_images(path: PathLike) -> tuple[np.ndarray, list[int]]:
    """Images of a clean or noisy store as (N, S, H, W, 3) and the severity list ([0] when clean)."""
    group = open_store(path)
    images = np.asarray(group["images"][...])
    if images.ndim == 4:
        return images[:, None], [0]
    return images, [int(s) for s in group["severity"][...]]


# --------------------------------------------------------------------------- models


def prepare_model(
    spec: Mapping[str, Any],
    train_store: PathLike | None,
    eval_store: PathLike,
    seed: int,
    weights_out: PathLike,
    card_out: PathLike,
) -> ModelCard:
    """Get model: train the demo CNN, or fetch torchvision weights, or load a user checkpoint.

    Writes the weights as a state dict and a model card with the target layer, the
    preprocessing and the accuracy on the evaluation images.
    """
    import torch

    from camrobust import models

    evaluation = read_images(eval_store)
    num_classes = int(spec.get("num_classes") or len(evaluation.class_names))
    arch, kind = spec["arch"], spec["kind"]
    weights = spec.get("weights") or ("DEFAULT" if kind == "torchvision" else None)
    preprocessing = models.default_preprocessing(arch, weights, evaluation.images.shape[1])
    card = models.ModelCard(
        arch=arch,
        source=kind,
        num_classes=num_classes,
        target_layer=spec.get("target_layer") or models.DEFAULT_TARGET_LAYERS[arch],
        input_size=preprocessing.input_size,
        mean=preprocessing.mean,
        std=preprocessing.std,
        class_names=list(evaluation.class_names),
        weights=weights,
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
    else:
        model = models.load_checkpoint(spec["path"], arch, num_classes)
    models.resolve_target(model, card.target_layer)
    card.accuracy["eval"] = models.evaluate_accuracy(
        model, evaluation.images, evaluation.labels, mean=card.mean, std=card.std
    )
    Path(weights_out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights_out)
    card.to_json(card_out)
    return card


def load_model(card_path: PathLike, weights_path: PathLike, device: str) -> tuple[torch.nn.Module, ModelCard]:
    """The model of a card and weights file, on ``device``, in eval mode."""
    from camrobust import models
    from camrobust.devices import resolve_device

    card = models.ModelCard.from_json(card_path)
    return models.load_model(card, weights_path, resolve_device(device)), card


# --------------------------------------------------------------------------- noise


def perturb_images(
    clean_store: PathLike,
    noise_name: str,
    severities: Sequence[int],
    params: Sequence[float] | None,
    seed: int,
    namespace: str,
    out: PathLike,
) -> None:
    """Noisy images: every severity of one model-free noise type in one store."""
    from camrobust import noise

    clean = read_images(clean_store)
    n, h, w, _ = clean.images.shape
    with store_writer(out, {"noise": noise_name, "namespace": namespace, "seed": seed}) as writer:
        stored = writer.create("images", (n, len(severities), h, w, 3), "uint8", ("image", "severity", "y", "x", "channel"))
        for index, severity in enumerate(tqdm(severities, desc=f"{noise_name}", unit="severity")):
            custom = None if params is None else params[severity - 1]
            stored[:, index] = noise.perturb(
                clean.images, noise_name, severity, seed, clean.ids, namespace=namespace, params=custom
            )
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))


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
    """Noisy images of an attack (per model): adversarial images and the predictions they cause."""
    from camrobust import noise
    from camrobust.devices import resolve_device

    clean = read_images(clean_store)
    model, card = load_model(card_path, weights_path, device)
    n, h, w, _ = clean.images.shape
    success: dict[str, float] = {}
    with store_writer(out, {"noise": noise_name, "namespace": namespace, "seed": seed}) as writer:
        stored = writer.create("images", (n, len(severities), h, w, 3), "uint8", ("image", "severity", "y", "x", "channel"))
        clean_pred = writer.create("clean_pred", (n, len(severities)), "int64", ("image", "severity"))
        adv_pred = writer.create("adv_pred", (n, len(severities)), "int64", ("image", "severity"))
        for index, severity in enumerate(tqdm(severities, desc=f"{noise_name}", unit="severity")):
            result = noise.attack(
                model,
                clean.images,
                noise_name,
                severity,
                seed,
                clean.ids,
                mean=card.mean,
                std=card.std,
                namespace=namespace,
                params=None if params is None else params[severity - 1],
                batch_size=batch_size,
                device=resolve_device(device),
            )
            stored[:, index] = result.images
            clean_pred[:, index] = result.clean_pred
            adv_pred[:, index] = result.adv_pred
            success[str(severity)] = float(noise.success_rate(result))
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))
        writer.group.attrs["success_rate"] = success


# --------------------------------------------------------------------------- features and CAMs


def _batches(n: int, batch_size: int, group: int = 1) -> list[slice]:
    """Slices of ``range(n)`` of about ``batch_size`` items, each a whole number of ``group``s."""
    step = max(1, batch_size // group) * group
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def extract_features(
    images_store: PathLike,
    labels_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    target_mode: str,
    batch_size: int,
    device: str,
    out: PathLike,
) -> None:
    """Predict + features: logits, predictions, target-layer activations and gradients.

    One forward and one backward pass per batch; the gradient is that of each input's target
    logit (its own predicted class, or its label with ``target_mode == "label"``).
    """
    import torch

    from camrobust import cams, models
    from camrobust.devices import resolve_device

    model, card = load_model(card_path, weights_path, device)
    images, severities = condition_images(images_store)
    labels = read_array(labels_store, "labels")
    n, s = images.shape[:2]
    flat = images.reshape(n * s, *images.shape[2:])
    flat_labels = np.repeat(labels, s)
    layer = models.resolve_target(model, card.target_layer)
    reshape = cams.token_reshape(model, tuple(flat.shape[1:3]))
    target_device = resolve_device(device)
    with store_writer(out, {"target_layer": card.target_layer, "target_mode": target_mode}) as writer:
        arrays: dict[str, Any] = {}
        for batch in tqdm(_batches(n * s, batch_size, s), desc="features", unit="batch"):
            inputs = models.to_model_input(flat[batch], card.mean, card.std, target_device)
            targets = None
            if target_mode == "label":
                targets = torch.as_tensor(flat_labels[batch], device=target_device)
            capture = cams.capture(model, layer, inputs, targets, reshape=reshape)
            values = {
                "logits": capture.logits,
                "pred": capture.logits.argmax(1),
                "target": capture.targets,
                "activations": capture.activations,
                "gradients": capture.gradients,
            }
            for name, tensor in values.items():
                data = tensor.detach().cpu().numpy()
                if name not in arrays:
                    dims = ("image", "severity", *{"logits": ("class",), "pred": (), "target": ()}.get(name, ("channel", "h", "w")))
                    dtype = np.int64 if name in ("pred", "target") else np.float32
                    arrays[name] = writer.create(name, (n, s, *data.shape[1:]), dtype, dims)
                _write_flat(arrays[name], batch, s, data)
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))


def _write_flat(array: Any, batch: slice, s: int, data: np.ndarray) -> None:
    """Write a batch of the flattened (image*severity) axis into an (image, severity, ...) array."""
    array[batch.start // s : batch.stop // s] = data.reshape(-1, s, *data.shape[1:])


def gradient_cam_maps(features_store: PathLike, method: str, image_size: tuple[int, int], out: PathLike, batch_size: int = 64) -> None:
    """CAMs of a gradient-family method from cached activations and gradients (no model pass)."""
    import torch

    from camrobust import cams

    group = open_store(features_store)
    n, s = group["pred"].shape
    with store_writer(out, {"cam": method}) as writer:
        maps = writer.create("maps", (n, s, *image_size), "float32", ("image", "severity", "y", "x"))
        for batch in tqdm(_batches(n, batch_size), desc=method, unit="batch"):
            activations = torch.from_numpy(np.asarray(group["activations"][batch]))
            gradients = torch.from_numpy(np.asarray(group["gradients"][batch]))
            m = activations.shape[0]
            result = cams.gradient_family(
                activations.flatten(0, 1), gradients.flatten(0, 1), [method], image_size
            )[method]
            maps[batch] = result.reshape(m, s, *image_size).numpy()
        writer.add("severity", np.asarray(group["severity"][...]), ("severity",))


def model_cam_maps(
    images_store: PathLike,
    features_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    method: str,
    batch_size: int,
    channel_batch_size: int,
    device: str,
    out: PathLike,
) -> None:
    """CAMs of a method that needs the model (ScoreCAM, AblationCAM), same targets as the features."""
    import torch

    from camrobust import cams, models
    from camrobust.devices import resolve_device

    model, card = load_model(card_path, weights_path, device)
    images, severities = condition_images(images_store)
    targets = read_array(features_store, "target")
    n, s, h, w = images.shape[:4]
    flat = images.reshape(n * s, h, w, 3)
    flat_targets = targets.reshape(n * s)
    layer = models.resolve_target(model, card.target_layer)
    reshape = cams.token_reshape(model, (h, w))
    target_device = resolve_device(device)
    with store_writer(out, {"cam": method}) as writer:
        maps = writer.create("maps", (n, s, h, w), "float32", ("image", "severity", "y", "x"))
        for batch in tqdm(_batches(n * s, batch_size, s), desc=method, unit="batch"):
            inputs = models.to_model_input(flat[batch], card.mean, card.std, target_device)
            result = cams.model_cams(
                model,
                layer,
                inputs,
                torch.as_tensor(flat_targets[batch], device=target_device),
                [method],
                batch_size=channel_batch_size,
                reshape=reshape,
            )[method]
            _write_flat(maps, batch, s, result.cpu().numpy())
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))


# --------------------------------------------------------------------------- segmentation and scores


def segment_images(clean_store: PathLike, method: str, params: Mapping[str, Any] | None, out: PathLike) -> None:
    """Segment: regions of every clean image (parameters chosen from the image size if not given)."""
    from camrobust import segmentation

    clean = read_images(clean_store)
    chosen = dict(params) if params else segmentation.default_segmentation(clean.images.shape[1], method)
    labels = segmentation.segment(clean.images, method, **chosen)
    write_store(
        out,
        {
            "segments": (labels, ("image", "y", "x")),
            "n_regions": (segmentation.region_counts(labels), ("image",)),
        },
        {"method": method, "params": chosen},
    )


def score_cams(
    clean_store: PathLike,
    segments_store: PathLike,
    clean_features: PathLike,
    noisy_features: PathLike,
    clean_cams: PathLike,
    noisy_cams: PathLike,
    keys: Mapping[str, str],
    rbo_p: float,
    topk: float,
    out: PathLike,
) -> pd.DataFrame:
    """Score: one row per (image, severity) with RBO and the complementary similarities."""
    from camrobust import metrics

    clean = read_images(clean_store)
    segments = read_array(segments_store, "segments")
    y_clean = read_array(clean_features, "pred")[:, 0]
    y_noisy = read_array(noisy_features, "pred")
    severities = read_array(noisy_cams, "severity")
    clean_maps = read_array(clean_cams, "maps")[:, 0]
    noisy_maps = read_array(noisy_cams, "maps")
    frames = []
    for index, severity in enumerate(severities):
        similarity = metrics.pair_similarities(clean_maps, noisy_maps[:, index], segments, p=rbo_p, topk=topk)
        frame = pd.DataFrame(
            {
                **{key: value for key, value in keys.items()},
                "severity": int(severity),
                "image_id": clean.ids,
                "label": clean.labels.astype(np.int64),
                "y_clean": y_clean.astype(np.int64),
                "y_noisy": y_noisy[:, index].astype(np.int64),
            }
        )
        frame["changed"] = frame["y_clean"] != frame["y_noisy"]
        frame["n_regions"] = np.asarray(similarity["n_regions"], dtype=np.int64)
        for column in SCORE_COLUMNS:
            frame[column] = np.asarray(similarity[column], dtype=np.float64)
        frame["note"] = np.asarray(similarity["note"], dtype=str)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    return table


# --------------------------------------------------------------------------- summaries and tests


def collect_scores(paths: Sequence[PathLike], out: PathLike) -> pd.DataFrame:
    """All score tables in one Parquet file, in a fixed row order."""
    table = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
    table = table.sort_values(["dataset", "model", "noise", "cam", "severity", "image_id"], kind="stable")
    table = table.reset_index(drop=True)
    table.to_parquet(out, index=False)
    return table


def summarise_robustness(
    scores: pd.DataFrame,
    attacks: Sequence[str],
    n_boot: int,
    ci: float,
    seed: int,
    out: PathLike,
) -> pd.DataFrame:
    """Robustness summary: C, R, RM with CIs per severity and pooled, plus the similarity means.

    The similarity columns come from :func:`camrobust.robustness.similarity_summary` (Avg- and
    Max-Sensitivity among them). ``change_rate`` is the share of image-severity pairs whose
    prediction the noise changed (the attack success rate for attacks).
    """
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
        [per_severity.merge(severity_means, on=keys + ["severity"]), pooled.merge(pooled_means, on=keys + ["severity"])],
        ignore_index=True,
    )
    summary["attack_success"] = np.where(summary["noise"].isin(list(attacks)), summary["change_rate"], np.nan)
    summary["severity_order"] = summary["severity"].map(lambda s: 10**6 if s == "all" else int(s))
    summary = summary.sort_values(keys + ["severity_order"]).drop(columns="severity_order").reset_index(drop=True)
    summary.to_csv(out, index=False, float_format="%.6g")
    return summary


# --------------------------------------------------------------------------- report


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
    clean_features: PathLike,
    noisy_features: PathLike,
    clean_cams: Mapping[str, PathLike],
    noisy_cams: Mapping[str, PathLike],
    n_images: int,
    title: str,
    out: PathLike,
) -> None:
    """Clean-vs-noisy CAM overlays of a few images, for every CAM method of the config."""
    from camrobust import plots

    clean = read_images(clean_store)
    noisy, severities = condition_images(noisy_store)
    y_clean = read_array(clean_features, "pred")[:, 0]
    y_noisy = read_array(noisy_features, "pred")
    chosen = overlay_selection(y_noisy[:, -1] != y_clean, n_images)
    plots.cam_overlay_grid(
        clean.images[chosen],
        noisy[chosen],
        {cam: read_array(path, "maps")[chosen, 0] for cam, path in clean_cams.items()},
        {cam: read_array(path, "maps")[chosen] for cam, path in noisy_cams.items()},
        severities,
        y_clean[chosen],
        y_noisy[chosen],
        clean.class_names,
        out,
        title,
        segments=read_array(segments_store, "segments")[chosen],
        image_ids=[clean.ids[i] for i in chosen],
    )
