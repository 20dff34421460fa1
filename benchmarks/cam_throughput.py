"""Throughput of the CAM engine against one forward+backward and against pytorch-grad-cam.

Prints, from one run: the time of one forward+backward (sum of the target logits, parameter
gradients included), of our eight gradient-family methods (capture + gradient_family), of
pytorch-grad-cam running the same eight methods, their ratios and per-method ratios, and the
ScoreCAM peak memory at two channel batch sizes (each in a fresh subprocess: peak RSS delta on CPU,
torch.cuda.max_memory_allocated on CUDA) next to pytorch-grad-cam's ScoreCAM.

    .venv/bin/python benchmarks/cam_throughput.py [--device cpu] [--batch 16] [--size 224]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
import torchvision
from pytorch_grad_cam import (
    EigenCAM,
    EigenGradCAM,
    GradCAM,
    GradCAMElementWise,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from camrobust.cams import GRADIENT_METHODS, capture, gradient_family, model_cams

THEIRS = {
    "gradcam": GradCAM,
    "gradcampp": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "hirescam": HiResCAM,
    "gradcam_elementwise": GradCAMElementWise,
    "layercam": LayerCAM,
    "eigencam": EigenCAM,
    "eigengradcam": EigenGradCAM,
}
DEFAULT_LAYERS = {"resnet18": "layer4", "resnet50": "layer4", "vgg11": "features.20"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arch", default="resnet18", choices=sorted(DEFAULT_LAYERS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--score-images", type=int, default=2, help="images in the ScoreCAM memory runs")
    parser.add_argument("--score-size", type=int, default=112, help="input px of the ScoreCAM memory runs")
    parser.add_argument("--score-batches", type=int, nargs=2, default=(8, 64), help="two channel batch sizes")
    return parser.parse_args()


def setup(arch: str, batch: int, size: int, device: torch.device) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None).eval().to(device)
    return model, torch.randn(batch, 3, size, size, device=device)


def timed(fn: Callable[[], object], repeats: int, device: torch.device, warm_up: bool = True) -> float:
    """Median wall time of fn over repeats, after one warm-up call unless warm_up is False."""
    times = []
    for i in range(repeats + warm_up):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warm_up:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_backward(model: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    model(x).gather(1, targets.unsqueeze(1)).sum().backward()


def ours(model: torch.nn.Module, layer: str, x: torch.Tensor, methods: list[str]) -> dict[str, torch.Tensor]:
    cap = capture(model, layer, x)
    return gradient_family(cap.activations, cap.gradients, methods, x.shape[-2:])


def theirs(model: torch.nn.Module, layer: str, x: torch.Tensor, methods: list[str], targets: list) -> None:
    for name in methods:
        with THEIRS[name](model, [model.get_submodule(layer)]) as cam:
            cam(x, targets)


def rss_bytes(field: str) -> int:
    """VmRSS (current) or VmHWM (peak since the last reset) of this process, from /proc."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def scorecam_peak_mb(args: argparse.Namespace, channel_batch: int) -> float:
    """Peak memory (MB) of one ScoreCAM run above what model + inputs hold; channel_batch 0 =
    pytorch-grad-cam's ScoreCAM. CPU: RSS high-water mark, reset first (Linux /proc/self/clear_refs)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model, x = setup(args.arch, args.score_images, args.score_size, device)
    layer = DEFAULT_LAYERS[args.arch]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # resets VmHWM to the current RSS
        before = rss_bytes("VmRSS")
    if channel_batch:
        model_cams(model, layer, x, None, ["scorecam"], channel_batch)
    else:
        with torch.no_grad():
            targets = [ClassifierOutputTarget(int(t)) for t in model(x).argmax(1)]
        with ScoreCAM(model, [model.get_submodule(layer)]) as cam:
            cam(x, targets)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = rss_bytes("VmHWM")
    return (peak - before) / 2**20


def in_fresh_process(args: argparse.Namespace, channel_batch: int) -> float:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(scorecam_peak_mb, args, channel_batch).result()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    layer, methods = DEFAULT_LAYERS[args.arch], list(GRADIENT_METHODS)
    model, x = setup(args.arch, args.batch, args.size, device)
    with torch.no_grad():
        targets = model(x).argmax(1)
    their_targets = [ClassifierOutputTarget(int(t)) for t in targets]
    print(
        f"device={device} arch={args.arch} layer={layer} batch={args.batch} size={args.size} "
        f"repeats={args.repeats} threads={torch.get_num_threads()} (median times)"
    )

    fwd_bwd = timed(lambda: forward_backward(model, x, targets), args.repeats, device)
    family = timed(lambda: ours(model, layer, x, methods), args.repeats, device)
    peer = timed(lambda: theirs(model, layer, x, methods, their_targets), args.repeats, device)
    print(f"one forward+backward                  {fwd_bwd:8.3f} s")
    print(
        f"ours: capture + gradient_family (8)   {family:8.3f} s = {family / fwd_bwd:.2f}x one fwd+bwd "
        "(goal <= 1.5x)"
    )
    print(
        f"pytorch-grad-cam, same 8 methods      {peer:8.3f} s = ours {peer / family:.1f}x faster (goal >= 5x)"
    )

    print(f"\nper method (warm)   {'ours s':>8} {'theirs s':>9} {'theirs/ours':>11} {'ours/fwd+bwd':>12}")
    for name in methods:
        mine = timed(lambda name=name: ours(model, layer, x, [name]), args.repeats, device, False)
        other = timed(
            lambda name=name: theirs(model, layer, x, [name], their_targets), args.repeats, device, False
        )
        print(f"{name:19s} {mine:8.3f} {other:9.3f} {other / mine:11.1f} {mine / fwd_bwd:12.2f}")

    channels = capture(model, layer, x[:1]).activations.shape[1]
    print(
        f"\nScoreCAM peak memory above model + inputs ({args.score_images} image(s), {args.score_size} px, "
        f"{channels} channels; {'max_memory_allocated' if device.type == 'cuda' else 'peak RSS delta'}, "
        "fresh process each)"
    )
    for channel_batch in args.score_batches:
        print(
            f"ours, channel batch {channel_batch:4d}        {in_fresh_process(args, channel_batch):8.1f} MB"
        )
    print(f"pytorch-grad-cam (N x C masked inputs) {in_fresh_process(args, 0):8.1f} MB")


if __name__ == "__main__":
    main()
