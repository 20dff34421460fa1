"""Worst-case consistency: the explanation attack per (dataset, model, CAM) (rules/worst_case.smk).

An explanation-attack store holds, per image and severity, the images the search kept
(``images``, as a noisy store), the prediction (``pred``, the clean one: the attack keeps it)
and the class each map explains (``target``), the CAM's raw maps of those images (``maps``, as
a CAM store, with its attrs), their RBO against the clean ranking (``rbo``) and whether an image
other than the clean one was kept (``found``); attrs ``source_cam`` (the CAM whose search found
the images) and ``transfer`` (another CAM's: the CAM has no cheap input gradient). The score
stage reads it as both the noisy predictions store and the noisy CAM store, so its rows reach
``scores.parquet`` like any noise's.

:func:`summarise_worst_case` puts worst-case C beside C under uniform noise of the same L-inf
budget, per CAM and severity: gap = C_uniform - C_worst >= 0 where the search does its job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from camrobust import vocabulary
from camrobust.core.maps import register_cam_plugin
from camrobust.core.model import ModelInput
from camrobust.io.chunks import image_chunks
from camrobust.io.images import NOISY_DIMS, image_ids
from camrobust.io.maps import CAM_DIMS, cam_attrs
from camrobust.io.store import ShardStream, StoreWriter, open_store, store_writer
from camrobust.stages.get_model import load_model

if TYPE_CHECKING:
    from camrobust.noise.worst_case import ExplanationAttackResult

PathLike = str | os.PathLike[str]
NOISE = "explanation_attack"
UNIFORM = "uniform_noise"
WORST_CASE_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "cam",
    "severity",
    "budget",
    "source_cam",
    "transfer",
    vocabulary.WORST_CASE_CONSISTENCY.name,
    f"{vocabulary.WORST_CASE_CONSISTENCY.name}_lo",
    f"{vocabulary.WORST_CASE_CONSISTENCY.name}_hi",
    "uniform_consistency",
    "uniform_consistency_lo",
    "uniform_consistency_hi",
    "gap",
    "found_rate",
    "n",
    "reason",
)
"""Columns of worst_case.csv: one row per (dataset, model, cam, severity); ``budget`` the L-inf
eps in 1/255, ``gap`` = uniform_consistency - worst_case_consistency."""


def attack_cam(
    *,
    clean_store: PathLike,
    segments_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    method: str,
    severities: Sequence[int],
    params: Sequence[float] | None,
    settings: Mapping[str, Any],
    rbo_p: float,
    target_mode: str,
    seed: int,
    namespace: str,
    batch_size: int,
    device: str,
    out: PathLike,
) -> None:
    """The explanation attack of the gradient-family CAM ``method`` at every severity, one model
    batch of ``batch_size`` images at a time (the search of an image depends on nothing else, so
    the store does not depend on the batch size). ``settings``: the config's
    ``explanation_attack`` section. Raises if an accepted image changed its predicted class."""
    from camrobust import cams
    from camrobust.noise.explanation_attack import ExplanationAttackSettings
    from camrobust.noise.worst_case import explanation_attack_images

    search = ExplanationAttackSettings(**_search_settings(settings), p=rbo_p)
    clean = open_store(clean_store)
    segments = open_store(segments_store)["segments"]
    model, card = load_model(card_path, weights_path, device)
    model_input = ModelInput.of_card(card, device=device, batch_size=batch_size)
    n, h, w, _ = clean["images"].shape
    reshape = cams.token_reshape(model, (h, w))
    with store_writer(out, _attrs(method, method, (h, w), namespace, seed)) as writer:
        streams = _streams(writer, n, len(severities), (h, w))
        for rows in image_chunks(n, batch_size):
            images = np.asarray(clean["images"][rows])
            result = explanation_attack_images(
                model,
                images,
                np.asarray(segments[rows]),
                image_ids(clean, rows),
                method=method,
                target_layer=card.target_layer,
                mean=card.mean,
                std=card.std,
                seed=seed,
                severities=severities,
                namespace=namespace,
                settings=search,
                params=params,
                targets=np.asarray(clean["labels"][rows]) if target_mode == "label" else None,
                reshape=reshape,
                batch_size=len(images),
                device=model_input.device,
            )
            check_kept_class(result.pred, result.clean_pred, rows)
            _append(streams, writer, result)
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))


def transfer_attack(
    *,
    source_store: PathLike,
    clean_store: PathLike,
    segments_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    method: str,
    rbo_p: float,
    batch_size: int,
    channel_batch_size: int,
    device: str,
    out: PathLike,
    plugin: Mapping[str, Any] | None = None,
) -> None:
    """The CAM ``method`` (no cheap input gradient: ScoreCAM, AblationCAM, a plugin) on the images
    another CAM's explanation attack found (``source_store``): a transfer attack, its store naming
    the source CAM. ``plugin``: the method's ``cam_plugins`` entry, for a method not built in."""
    from camrobust import cams
    from camrobust.noise.worst_case import ExplanationAttackResult, transfer_explanation_attack

    if plugin is not None:
        register_cam_plugin(method, plugin)
    source = open_store(source_store)
    clean = open_store(clean_store)
    segments = open_store(segments_store)["segments"]
    model, card = load_model(card_path, weights_path, device)
    model_input = ModelInput.of_card(card, device=device, batch_size=batch_size)
    n, h, w, _ = clean["images"].shape
    severities = np.asarray(source["severity"][...], dtype=np.int64)
    map_function = cams.cam_map_function(
        method,
        card.target_layer,
        reshape=cams.token_reshape(model, (h, w)),
        batch_size=channel_batch_size if method in cams.MODEL_METHODS else batch_size,
    )
    attrs = _attrs(method, str(source.attrs["source_cam"]), (h, w), source.attrs["namespace"], source.attrs["seed"])
    with store_writer(out, attrs) as writer:
        streams = _streams(writer, n, len(severities), (h, w))
        for rows in image_chunks(n, batch_size):
            found = ExplanationAttackResult(
                images=np.asarray(source["images"][rows]),
                pred=np.asarray(source["pred"][rows]),
                target=np.asarray(source["target"][rows]),
                maps=np.asarray(source["maps"][rows]),
                rbo=np.asarray(source["rbo"][rows]),
                found=np.asarray(source["found"][rows]),
                severity=severities,
                clean_pred=np.asarray(source["pred"][rows])[:, 0],
                clean_target=np.asarray(source["target"][rows])[:, 0],
                source_cam=str(source.attrs["source_cam"]),
            )
            result = transfer_explanation_attack(
                model,
                found,
                np.asarray(clean["images"][rows]),
                np.asarray(segments[rows]),
                map_function,
                mean=card.mean,
                std=card.std,
                p=rbo_p,
                batch_size=len(found.images),
                device=model_input.device,
            )
            _append(streams, writer, result)
        writer.add("severity", severities, ("severity",))


def check_kept_class(pred: np.ndarray, clean_pred: np.ndarray, rows: slice) -> None:
    """Raise unless every accepted image (n, S) keeps its clean predicted class (n,)."""
    changed = np.argwhere(pred != np.asarray(clean_pred)[:, None])
    if len(changed):
        image, severity = changed[0]
        raise RuntimeError(
            f"explanation attack: {len(changed)} accepted image(s) changed the predicted class, e.g. image "
            f"{rows.start + int(image)} at severity index {int(severity)}: {int(clean_pred[image])} -> "
            f"{int(pred[image, severity])}; the search must keep the clean image instead"
        )


def _search_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("steps", "step_size", "restarts", "beta", "top_fraction")
    return {key: settings[key] for key in keys if key in settings}


def _attrs(method: str, source: str, size: tuple[int, int], namespace: str, seed: int) -> dict[str, Any]:
    return {
        **cam_attrs(method, size),
        "noise": NOISE,
        "source_cam": source,
        "transfer": source != method,
        "namespace": namespace,
        "seed": int(seed),
    }


def _streams(writer: StoreWriter, n: int, s: int, size: tuple[int, int]) -> dict[str, ShardStream]:
    return {
        "images": writer.stream("images", (n, s, *size, 3), "uint8", NOISY_DIMS),
        "pred": writer.stream("pred", (n, s), "int64", ("image", "severity")),
        "target": writer.stream("target", (n, s), "int64", ("image", "severity")),
        "rbo": writer.stream("rbo", (n, s), "float64", ("image", "severity")),
        "found": writer.stream("found", (n, s), "bool", ("image", "severity")),
    }


def _append(streams: dict[str, ShardStream], writer: StoreWriter, result: ExplanationAttackResult) -> None:
    """Append a batch's arrays; the maps' stream is opened with the first batch (its grid)."""
    if "maps" not in streams:
        streams["maps"] = writer.stream("maps", (streams["pred"].shape[0], *result.maps.shape[1:]), "float32", CAM_DIMS)
    for name, stream in streams.items():
        stream.append(getattr(result, name))


def summarise_worst_case(
    *,
    robustness: PathLike,
    stores: Mapping[str, PathLike],
    budgets: Mapping[int, float],
    out: PathLike,
) -> pd.DataFrame:
    """worst_case.csv from the robustness summary and the attack stores (key
    ``dataset/model/cam``): per (dataset, model, cam, severity) C of the explanation attack (its
    worst case), C of uniform noise of the same severity, whose L-inf size is the same
    (``budgets``: severity -> eps in [0, 1]), their gap, the CAM whose search found the images
    (``transfer`` where it is another) and the share of images where it found one."""
    from camrobust.analysis.summary import read_summary

    c, name = vocabulary.CONSISTENCY.name, vocabulary.WORST_CASE_CONSISTENCY.name
    keys = ["dataset", "model", "cam", "severity"]
    table = read_summary(robustness)
    table = table[table["severity"] != "all"].assign(severity=lambda t: t["severity"].astype(int))
    estimate = [c, f"{c}_lo", f"{c}_hi"]
    worst = table[table["noise"] == NOISE][[*keys, *estimate, "n"]]
    worst = worst.rename(columns=dict(zip(estimate, [name, f"{name}_lo", f"{name}_hi"], strict=True)))
    uniform = table[table["noise"] == UNIFORM][[*keys, *estimate]]
    uniform = uniform.rename(columns={column: column.replace(c, "uniform_consistency") for column in estimate})
    frame = worst.merge(uniform, on=keys, how="left").merge(_store_rows(stores), on=keys, how="left")
    frame["budget"] = [round(budgets[int(s)] * 255, 6) for s in frame["severity"]]
    frame["transfer"] = frame["source_cam"] != frame["cam"]
    frame["gap"] = frame["uniform_consistency"] - frame[name]
    frame["reason"] = np.where(frame["uniform_consistency"].isna(), f"no {UNIFORM} at this severity", "")
    frame = frame[list(WORST_CASE_COLUMNS)].sort_values(keys, kind="stable").reset_index(drop=True)
    frame.to_csv(out, index=False)
    return frame


def _store_rows(stores: Mapping[str, PathLike]) -> pd.DataFrame:
    """Per attack store and severity: its source CAM and the share of images for which the search
    kept an image other than the clean one (read one severity column at a time)."""
    rows = []
    for key, path in stores.items():
        group = open_store(path)
        dataset, model, cam = key.split("/")
        for j, severity in enumerate(np.asarray(group["severity"][...])):
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "cam": cam,
                    "severity": int(severity),
                    "source_cam": str(group.attrs["source_cam"]),
                    "found_rate": float(np.asarray(group["found"][:, j]).mean()),
                }
            )
    return pd.DataFrame(rows, columns=["dataset", "model", "cam", "severity", "source_cam", "found_rate"])


def plot_worst_case(*, table: PathLike, out: PathLike, formats: Sequence[str] = ()) -> None:
    """The figure of worst_case.csv."""
    from camrobust import plots

    with plots.also_saving(formats):
        plots.worst_case(pd.read_csv(table, keep_default_na=True), Path(out))
