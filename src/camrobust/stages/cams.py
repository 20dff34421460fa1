"""Raw CAMs of one method on one condition (rules/cams.smk): from cached features, or by model passes.

The built-in gradient-family methods come with the features job
(:func:`camrobust.stages.features.extract_features`); :func:`gradient_cam_maps` runs a
``uses: features`` plugin (or a built-in method) on a features store without a model pass, and
:func:`model_cam_maps` the methods that need the model (ScoreCAM, AblationCAM, ``uses: model``
plugins). The CAM store layout is in :mod:`camrobust.io.maps`. The baseline maps on the layer
grid come with the features job too; :func:`edge_map_maps` writes the edge map, a function of the
image alone at its own resolution, where the config names it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from camrobust.core.maps import cam_plugin, edge_maps, feature_maps
from camrobust.io.chunks import CHUNK_SIZE, image_chunks
from camrobust.io.images import open_condition
from camrobust.io.maps import CAM_DIMS, cam_attrs
from camrobust.io.store import ShardStream, open_store, store_writer
from camrobust.stages.features import model_on_images

PathLike = str | os.PathLike[str]
#: Gradient CAMs read at most about this many bytes of activations and gradients per chunk.
FEATURE_CHUNK_BYTES = 32 << 20


def gradient_cam_maps(
    *,
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
    with store_writer(out, cam_attrs(method, image_size)) as writer:
        maps = writer.stream("maps", (n, s, h, w), "float32", CAM_DIMS)
        for rows in tqdm(image_chunks(n, chunk_size), desc=method, unit="chunk"):
            activations, gradients = np.asarray(group["activations"][rows]), np.asarray(group["gradients"][rows])
            maps.append(feature_maps(method, activations, gradients, custom))
        writer.add("severity", np.asarray(group["severity"][...]), ("severity",))


def model_cam_maps(
    *,
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
    job = model_on_images(
        images_store=images_store,
        predictions_store=predictions_store,
        card_path=card_path,
        weights_path=weights_path,
        device=device,
        batch_size=batch_size,
    )
    n = job.images.n
    custom = None if plugin is None else cam_plugin(method, plugin, "model")
    with store_writer(out, cam_attrs(method, job.images.image_size)) as writer:
        maps: ShardStream | None = None
        for data in job.model_map_batches(method, channel_batch_size=channel_batch_size, plugin=custom):
            if maps is None:
                maps = writer.stream("maps", (n, *data.shape[1:]), "float32", CAM_DIMS)
            maps.append(data)
        writer.add("severity", np.asarray(job.images.severities, dtype=np.int64), ("severity",))


def edge_map_maps(*, images_store: PathLike, out: PathLike, chunk_size: int = CHUNK_SIZE) -> None:
    """The edge map's store of one condition's images (:func:`camrobust.core.maps.edge_maps`), no
    model involved: ``chunk_size`` images at a time."""
    images = open_condition(images_store)
    with store_writer(out, cam_attrs("edge_map", images.image_size)) as writer:
        maps = writer.stream("maps", (images.n, len(images.severities), *images.image_size), "float32", CAM_DIMS)
        for rows in image_chunks(images.n, chunk_size):
            maps.append(edge_maps(images.read(rows)))
        writer.add("severity", np.asarray(images.severities, dtype=np.int64), ("severity",))
