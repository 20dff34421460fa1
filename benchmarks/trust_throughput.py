"""Throughput of the faithfulness and localisation kernels against Quantus 0.6 and pytorch-grad-cam.

One run, per architecture (ResNet-18 and ResNet-50 with random weights, 224 px, CPU): images/s of
ours and of the peer on the same images, their ratio, and the largest difference of the values
next to the tolerance they must agree within (asserted before a ratio is printed):

- deletion + insertion: ours (one call, both curves) vs Quantus' PixelFlipping run twice (deletion;
  insertion as PixelFlipping of the blurred start image with a perturbation restoring the image's
  pixels). Quantus' pixel steps must divide H x W, which rules out whole-pixel steps at 224 px (3
  does not divide 224^2): its check is disabled so that both read the curve at the same pixel counts;
- region deletion: ours vs Quantus' IROF on the same Quickshift regions (its own SLIC segmentation
  swapped for ours, its region mask broadcast over the channels as its perturbation requires,
  np.trapz restored for NumPy 2.4), compared as Quantus' AOC;
- ROAD MoRF + LeRF: ours vs pytorch-grad-cam's PerturbationConfidenceMetric with
  RemoveMost/LeastRelevantFirst and the same imputer, noise 0 on both sides so that the values
  compare (the noise costs nothing measurable);
- localisation: pointing game, energy pointing game, relevance rank accuracy vs Quantus'
  PointingGame, AttributionLocalisation and RelevanceRankAccuracy on the shapes' object masks.

Inputs: cluttered shapes images at 224 px, ImageNet normalisation, the model's GradCAM at layer4 in
float64 plus a ramp of 1e-9 decreasing in raster order, which breaks its ties (zeros after the ReLU,
equal float32 values) as our stable sort does, because the peers' unstable sorts order tied pixels
arbitrarily. Tolerance of the model-based metrics: random-weight ResNets make a priori forward error
bounds vacuous (the absolute-weight network grows ~20x a layer),
so our deletion and insertion curves are recomputed by the same code on a float64 copy of the model
and inputs (untimed): e = max |p32 - p64| over all their points measures this float32 forward's
rounding on inputs like those of every metric here (images with pixels replaced, by the baseline,
the blurred image or the imputation). The peer computes the same float32 operations in other
batches, so it may differ from ours by 2 e; the tolerance is twice that, 4 e (plus a few roundings
of the softmax); for Quantus' IROF, an area over m ratios p_k / p_0, m x 2 x 4 e / p_0.

What bounds the ratios. Deletion/insertion and region deletion are bounded by the model's forwards
on both sides, the same number of them on the same inputs: ours packs (image, step) rows into full
batches of ``--batch``, the peer forwards the images of one step together, so ours is ahead by the
CPU's gain from larger batches when the peer has few images, and level once it has a full batch of
them; no 10x is possible at equal values without changing the model's arithmetic. The column
``ceiling`` measures this: the peer's time over the time of our rows' bare forwards alone (same
inputs, same batches, nothing else), the largest ratio any implementation running those forwards
could reach; it is printed for the model-based metrics, "-" for the others. ROAD is bounded
by the sparse solves (module docstring of camrobust.faithfulness.road) on both sides. The
localisation scores have no model: ours are a few vectorised passes over the maps, the peer loops
in Python per image.

    .venv/bin/python benchmarks/trust_throughput.py [--archs resnet18 resnet50] [--images 2]
        [--loc-images 32] [--steps 11] [--percentages 20 50 80] [--threads 2] [--batch 16]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torchvision

from camrobust.cams import compute_cams
from camrobust.datasets import generate_shapes
from camrobust.faithfulness import (
    DeletionInsertionSettings,
    RegionDeletionSettings,
    RoadSettings,
    deletion_insertion,
    reference_images,
    region_deletion,
    road,
)
from camrobust.faithfulness import quantus_irof as irof_of_curves
from camrobust.localisation import energy_pointing_game, pointing_game, relevance_rank_accuracy
from camrobust.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, to_model_input
from camrobust.segmentation import segment

U32 = 2.0**-24
PEERS = {
    "pointing_game": "PointingGame",
    "energy_pointing_game": "AttributionLocalisation",
    "relevance_rank_accuracy": "RelevanceRankAccuracy",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", default=["resnet18", "resnet50"])
    parser.add_argument("--images", type=int, default=2, help="images of the model-based metrics (both sides)")
    parser.add_argument("--loc-images", type=int, default=32, help="images of the localisation metrics")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=11, help="points per deletion/insertion curve")
    parser.add_argument("--percentages", type=float, nargs="+", default=[20, 50, 80], help="ROAD removal %%")
    parser.add_argument("--batch", type=int, default=16, help="our perturbed inputs per forward")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    return parser.parse_args()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def best_of(fn: Callable[[], Any], repeats: int = 3) -> tuple[Any, float]:
    """The value and the shortest time of ``repeats`` runs (for the fast localisation metrics)."""
    runs = [timed(fn) for _ in range(repeats)]
    return runs[0][0], min(seconds for _, seconds in runs)


def twin_tolerance(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """4 e + 16 u, e = max |p32 - p64| over (float32 values, the same computed in float64) pairs."""
    e = max(float((p32.double() - p64.double()).abs().nan_to_num(0.0).max()) for p32, p64 in pairs)
    return 4 * e + 16 * U32


class Table:
    def __init__(self) -> None:
        print(
            f"{'arch':9} {'metric':26} {'ours img/s':>11} {'peer img/s':>11} {'ratio':>7} {'ceiling':>8} "
            f"{'max diff':>9} {'tol':>9}  peer"
        )

    def row(
        self,
        arch: str,
        metric: str,
        n: tuple[int, int],
        times: tuple[float, float],
        diff: float,
        tol: float,
        peer: str,
        *,
        floor: float | None = None,
    ) -> None:
        """One metric's line; ``floor``: seconds of our rows' bare forwards (the ceiling's denominator)."""
        assert diff <= tol, f"{arch} {metric}: values differ by {diff:.3g} > tolerance {tol:.3g}"
        ours, theirs = n[0] / times[0], n[1] / times[1]
        ceiling = f"{times[1] / floor:7.1f}x" if floor else f"{'-':>8}"
        print(
            f"{arch:9} {metric:26} {ours:11.3f} {theirs:11.3f} {ours / theirs:6.1f}x {ceiling} "
            f"{diff:9.2g} {tol:9.2g}  {peer}"
        )


def forward_floor(model: torch.nn.Module, x: torch.Tensor, rows: int, batch: int) -> float:
    """Seconds of ``rows`` bare forwards of ``x``'s images, ``batch`` per forward, without autograd,
    the shorter of two runs: the least time of any implementation that runs those forwards."""
    inputs = x.repeat(-(-rows // len(x)), 1, 1, 1)[:rows]

    def run() -> None:
        with torch.no_grad():
            for start in range(0, rows, batch):
                model(inputs[start : start + batch])

    return best_of(run, repeats=2)[1]


def quantus_deletion_insertion(
    model: torch.nn.Module, x: np.ndarray, maps: np.ndarray, targets: np.ndarray, step: int, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    import quantus
    import quantus.metrics.faithfulness.pixel_flipping as pixel_flipping

    pixel_flipping.asserts.assert_features_in_step = lambda *a, **k: None  # whole-pixel steps (docstring)
    n = len(x)

    def flip(source: np.ndarray, perturb: Callable[..., np.ndarray] | None) -> np.ndarray:
        metric = quantus.PixelFlipping(
            features_in_step=3 * step, perturb_func=perturb, perturb_baseline=0.0, disable_warnings=True
        )
        return np.asarray(
            metric(
                model=model,
                x_batch=source,
                y_batch=targets,
                a_batch=maps[:, None],
                softmax=True,
                device="cpu",
                batch_size=n,
            )
        )

    original = x.reshape(n, -1)

    def restore(arr: np.ndarray, indices: np.ndarray, **_: Any) -> np.ndarray:
        """Insertion in Quantus' loop: the start image's features at ``indices`` become the image's."""
        out = arr.copy()
        rows = np.arange(len(arr))[:, None]
        out[rows, indices] = original[rows, indices]
        return out

    deletion = flip(x, None)
    insertion = flip(start, restore)
    return deletion, insertion


def every_channel(arr: np.ndarray, mask: np.ndarray, **kwargs: Any) -> np.ndarray:
    from quantus.functions.perturb_func import baseline_replacement_by_mask

    return baseline_replacement_by_mask(arr=arr, mask=np.broadcast_to(mask, arr.shape), **kwargs)


def run_quantus_irof(
    model: torch.nn.Module, x: np.ndarray, maps: np.ndarray, targets: np.ndarray, segments: np.ndarray
) -> np.ndarray:
    import quantus
    from quantus.helpers import utils

    np.trapz = np.trapezoid  # type: ignore[attr-defined]  # Quantus 0.6 calls np.trapz (gone in NumPy 2.4)
    given = iter(segments)
    utils.get_superpixel_segments = lambda img, segmentation_method: next(given)
    metric = quantus.IROF(
        perturb_func=every_channel, perturb_baseline=0.0, return_aggregate=False, disable_warnings=True
    )
    return np.asarray(
        metric(model=model, x_batch=x, y_batch=targets, a_batch=maps[:, None], device="cpu", batch_size=len(x))
    )


def gradcam_road(
    model: torch.nn.Module, x: torch.Tensor, maps: np.ndarray, targets: torch.Tensor, percentages: list[float]
) -> dict[str, np.ndarray]:
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        PerturbationConfidenceMetric,
        RemoveLeastRelevantFirst,
        RemoveMostRelevantFirst,
    )
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    wanted = [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    out: dict[str, list[np.ndarray]] = {"morf": [], "lerf": []}
    for q in percentages:
        for mode, remove in (("morf", RemoveMostRelevantFirst), ("lerf", RemoveLeastRelevantFirst)):
            metric = PerturbationConfidenceMetric(remove(100 - q, NoisyLinearImputer(noise=0.0)))
            out[mode].append(metric(x, maps, wanted, model, return_diff=False))
    return {mode: np.stack(values, 1) for mode, values in out.items()}


def quantus_localisation(maps: np.ndarray, masks: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    import quantus

    x = np.zeros((len(maps), 3, *maps.shape[1:]), dtype=np.float32)
    y = np.zeros(len(maps), dtype=np.int64)
    metrics = {
        "pointing_game": quantus.PointingGame(disable_warnings=True),
        "energy_pointing_game": quantus.AttributionLocalisation(disable_warnings=True),
        "relevance_rank_accuracy": quantus.RelevanceRankAccuracy(disable_warnings=True),
    }
    out = {}
    for name, metric in metrics.items():

        def call(metric: Any = metric) -> Any:
            return metric(
                model=None, x_batch=x, y_batch=y, a_batch=maps[:, None], s_batch=masks[:, None].astype(np.float32)
            )

        values, seconds = best_of(call)
        out[name] = (np.asarray(values, dtype=np.float64), seconds)
    return out


def run_arch(arch: str, args: argparse.Namespace, data: dict[str, Any], table: Table) -> None:
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None).eval()
    x_all = data["inputs"]
    with torch.no_grad():
        targets_all = model(x_all).argmax(1)
    maps_all = compute_cams(model, "layer4", x_all, ["gradcam"], targets_all, batch_size=8)["gradcam"]
    ramp = torch.arange(maps_all[0].numel(), 0, -1, dtype=torch.float64).view_as(maps_all[0]) / maps_all[0].numel()
    maps_all = maps_all.double() + 1e-9 * ramp  # distinct in float64: ties broken in raster order, as ours
    n = args.images
    x, targets, maps = x_all[:n], targets_all[:n], maps_all[:n]
    model64, x64 = copy.deepcopy(model).double(), x.double()
    pixels = maps[0].numel()
    step = -(-pixels // (args.steps - 1))

    settings = DeletionInsertionSettings(args.steps, "ceil", "mean", "blur", batch_size=args.batch)
    ours, t_ours = timed(lambda: deletion_insertion(model, x, maps, targets, settings))
    start = reference_images(x, "blur").numpy()
    (q_del, q_ins), t_q = timed(
        lambda: quantus_deletion_insertion(model, x.numpy(), maps.numpy(), targets.numpy(), step, start)
    )
    twin = deletion_insertion(model64, x64, maps, targets, settings)
    tol = twin_tolerance([(ours.deletion, twin.deletion), (ours.insertion, twin.insertion)])
    diff = max(np.abs(ours.deletion[:, 1:].numpy() - q_del).max(), np.abs(ours.insertion[:, 1:].numpy() - q_ins).max())
    floor = forward_floor(model, x, n * (2 * args.steps - 1), args.batch)  # ends shared, inner points twice
    table.row(arch, "deletion + insertion", (n, n), (t_ours, t_q), diff, tol, "Quantus PixelFlipping x 2", floor=floor)

    segments = torch.from_numpy(data["segments"][:n]).long()
    region, t_ours = timed(
        lambda: region_deletion(model, x, maps, segments, targets, RegionDeletionSettings(batch_size=args.batch))
    )
    q_irof, t_q = timed(lambda: run_quantus_irof(model, x.numpy(), maps.numpy(), targets.numpy(), data["segments"][:n]))
    same = region.n_regions == region.n_regions.max()  # Quantus pads shorter curves (tests/test_faithfulness.py)
    diff = (
        float(np.abs(irof_of_curves(region).numpy()[same.numpy()] - q_irof[same.numpy()]).max()) if same.any() else 0.0
    )
    aoc_tol = float((2 * region.n_regions * 2 * tol / region.curves[:, 0]).max()) + 64 * U32
    floor = forward_floor(model, x, int((region.n_regions + 1).sum()), args.batch)
    table.row(
        arch,
        f"region deletion (m={region.n_regions.tolist()})",
        (n, n),
        (t_ours, t_q),
        diff,
        aoc_tol,
        "Quantus IROF",
        floor=floor,
    )

    road_settings = RoadSettings(tuple(args.percentages), noise=0.0, batch_size=args.batch)
    ids = [str(i) for i in range(n)]
    ours_road, t_ours = timed(lambda: road(model, x, maps, targets, road_settings, ids=ids, seed=0))
    theirs, t_g = timed(lambda: gradcam_road(model, x, maps.numpy(), targets, args.percentages))
    diff = max(
        np.abs(ours_road.morf.numpy() - theirs["morf"]).max(), np.abs(ours_road.lerf.numpy() - theirs["lerf"]).max()
    )
    floor = forward_floor(model, x, n * (1 + 2 * len(args.percentages)), args.batch)
    table.row(arch, "ROAD MoRF + LeRF", (n, n), (t_ours, t_g), diff, tol, "pytorch-grad-cam", floor=floor)

    loc_maps, masks = maps_all[: args.loc_images], torch.from_numpy(data["masks"][: args.loc_images])
    theirs_loc = quantus_localisation(loc_maps.numpy(), masks.numpy())
    bounds = {
        "pointing_game": 0.0,
        "energy_pointing_game": (np.log2(pixels) + 3) * U32 + 1e-9,
        "relevance_rank_accuracy": U32,
    }
    for name, fn in (
        ("pointing_game", pointing_game),
        ("energy_pointing_game", energy_pointing_game),
        ("relevance_rank_accuracy", relevance_rank_accuracy),
    ):
        values, t_ours = best_of(lambda fn=fn: fn(loc_maps, masks))
        q_values, t_q = theirs_loc[name]
        diff = float(np.abs(values.numpy().astype(np.float64) - q_values).max())
        m = len(loc_maps)
        table.row(arch, name, (m, m), (t_ours, t_q), diff, bounds[name], f"Quantus {PEERS[name]}")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    n = max(args.images, args.loc_images)
    shapes = generate_shapes(n, args.size, "cluttered", seed=0)
    data = {
        "inputs": to_model_input(shapes.images, IMAGENET_MEAN, IMAGENET_STD),
        "masks": shapes.masks,
        "segments": segment(shapes.images[: args.images]),
    }
    print(
        f"CPU ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}), {torch.get_num_threads()} torch threads, {args.size} px; {args.images} images for the model-based "
        f"metrics ({args.steps} curve points, ROAD at {args.percentages} %), {args.loc_images} for localisation"
    )
    table = Table()
    for arch in args.archs:
        run_arch(arch, args, data, table)


if __name__ == "__main__":
    main()
