"""CAM maps: raw maps of the gradient family from features, plugin CAMs, baseline maps, maps at
image resolution.

A raw map lives on the target layer's grid (h, w), after the ReLU (the edge map: the image's
own resolution); the scores compare maps at image resolution in [0, 1], made from the raw maps by
:func:`camrobust.cams.postprocess` (:func:`upsampled_maps`: in NumPy for small jobs, which then
need no torch, with the same bits).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from camrobust import plugins
from camrobust.core import bilinear
from camrobust.core.conditions import flat, per_image


def cam_plugin(method: str, plugin: Mapping[str, Any], uses: str) -> plugins.CamPlugin:
    """The callable of a ``cam_plugins`` entry, checked to be called with ``uses``."""
    if plugin.get("uses") != uses:
        raise ValueError(f"cam_plugins.{method}: this stage runs 'uses: {uses}' plugins, got {plugin.get('uses')!r}")
    return plugins.CamPlugin(method, plugins.load(plugin["function"], f"cam_plugins.{method}.function"), uses)


def register_cam_plugin(method: str, plugin: Mapping[str, Any]) -> None:
    """Register the ``cam_plugins`` entry of ``method`` (either ``uses``), for the stages that look
    a method up by name (:func:`camrobust.cams.cam_map_function`)."""
    plugins.register_cam(method, plugins.load(plugin["function"], f"cam_plugins.{method}.function"), plugin["uses"])


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

    a = torch.from_numpy(flat(activations)).float()
    g = torch.from_numpy(flat(gradients)).float()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        raw = cams.GRADIENT_METHODS[method](a, g) if plugin is None else plugins.features_cam(plugin, a, g)
    finally:
        torch.set_num_threads(threads)
    return per_image(raw.clamp_min(0).numpy(), activations.shape[1])


def condition_ids(ids: Sequence[str], condition: str, severities: Sequence[int]) -> list[str]:
    """The id of every image-severity row (n * S, image-major) that seeds a baseline map: the image
    id on the clean images, ``f"{id}/{condition}/{severity}"`` on a noisy condition, so that the
    random map is drawn afresh for every noisy version of an image."""
    if condition == "clean":
        return [str(i) for i in ids]
    return [f"{i}/{condition}/{int(s)}" for i in ids for s in severities]


def baseline_feature_maps(
    method: str,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    ids: Sequence[str],
    condition: str,
    severities: Sequence[int],
    grid: Sequence[int],
    seed: int,
) -> np.ndarray:
    """Raw maps (n, S, h, w) float32 of a baseline method (:func:`camrobust.cams.baseline_raw_maps`)
    of uint8 images (n, S, H, W, 3) and their CAM targets (n, S), on the target layer's ``grid``
    (the edge map: (n, S, H, W)); each row seeded by :func:`condition_ids`."""
    import torch

    from camrobust import cams

    images01 = torch.from_numpy(flat(images)).permute(0, 3, 1, 2).float() / 255
    rows = condition_ids(ids, condition, severities)
    raw = cams.baseline_raw_maps(
        images01, torch.from_numpy(flat(np.asarray(targets))), [method], ids=rows, grid=grid, seed=seed
    )[method]
    return per_image(raw.clamp_min(0).float().numpy(), images.shape[1])


def edge_maps(images: np.ndarray) -> np.ndarray:
    """Raw edge maps (n, S, H, W) float32 of uint8 images (n, S, H, W, 3): the Sobel magnitude of
    their luma (:func:`camrobust.cams.edge_map`), a function of the image alone, at its resolution."""
    import torch

    from camrobust import cams

    images01 = torch.from_numpy(flat(images)).permute(0, 3, 1, 2).float() / 255
    raw = cams.edge_map(images01, torch.zeros(len(images01), dtype=torch.long), ids=[], grid=(1, 1), seed=0)
    return per_image(raw.clamp_min(0).float().numpy(), images.shape[1])


TORCH_UPSAMPLING_PIXELS = 100_000_000
"""Output pixels of a job's maps from which :func:`upsampled_maps` imports torch: NumPy's exact
emulation of torch's kernel costs 10-30 ns more per output pixel (0.6 ms more per 224 px map),
torch's import about 2 s once per process."""


def upsampled_maps(raw: np.ndarray, image_size: Sequence[int], *, job_pixels: int = 0) -> np.ndarray:
    """Raw maps (..., h, w) as image-resolution maps (..., H, W) in [0, 1], float32 (float64 for
    float64 raw maps): ReLU, min-max, bilinear upsampling, min-max. Computed by
    :func:`camrobust.cams.postprocess` on the CPU when torch is imported already or the job's maps
    hold at least :data:`TORCH_UPSAMPLING_PIXELS` output pixels (``job_pixels``), else in NumPy
    (:func:`camrobust.core.bilinear.postprocess`): the same bits either way, only the speed differs."""
    if "torch" not in sys.modules and job_pixels < TORCH_UPSAMPLING_PIXELS:
        return bilinear.postprocess(raw, image_size)
    import torch

    from camrobust import cams

    return cams.postprocess(torch.from_numpy(np.ascontiguousarray(raw)), image_size).numpy()
