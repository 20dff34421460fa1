"""Throughput of the CAM engine against one forward+backward and against pytorch-grad-cam.

Prints, from one run: the time of one forward+backward (sum of the target logits, parameter
gradients included), of our eight gradient-family methods (capture + gradient_family), of
pytorch-grad-cam running the same eight methods, their ratios and per-method ratios, and the
ScoreCAM peak memory at two channel batch sizes (each in a fresh subprocess: peak RSS delta on CPU,
torch.cuda.max_memory_allocated on CUDA) next to pytorch-grad-cam's ScoreCAM.

With --model-family it instead times ScoreCAM and AblationCAM in images/s for each of --archs:
ours, pytorch-grad-cam's, and the cams.py from before AblationCAM ran on the network tail
(``git show <rev>:src/camrobust/cams.py``, rev = the parent of the commit that added
netsplit.py, or --before), each as a multiple of one forward+backward of the same images; a
run is timed once, cold, unless it takes under QUICK_S, then as the median of --repeats warm runs.

    .venv/bin/python benchmarks/cam_throughput.py [--device cpu] [--batch 16] [--size 224]
    .venv/bin/python benchmarks/cam_throughput.py --model-family [--archs resnet18 resnet50] [--images 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import redirect_stderr
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType

import torch
import torchvision
from pytorch_grad_cam import (
    AblationCAM,
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

REPO = Path(__file__).resolve().parents[1]
QUICK_S = 5.0  # model-family runs faster than this are timed again, warm, --repeats times

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
    parser.add_argument("--model-family", action="store_true", help="time ScoreCAM / AblationCAM instead")
    parser.add_argument("--archs", nargs="+", default=["resnet18", "resnet50"], choices=sorted(DEFAULT_LAYERS))
    parser.add_argument("--images", type=int, default=2, help="images per ScoreCAM / AblationCAM run")
    parser.add_argument("--channel-batch", type=int, default=64, help="masked inputs / ablations per forward")
    parser.add_argument("--before", default=None, help="git revision of the cams.py to compare with")
    parser.add_argument("--skip", nargs="*", default=[], help="runs to leave out, e.g. theirs:scorecam")
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


def cams_before(rev: str | None) -> tuple[str, ModuleType]:
    """The cams.py of git revision ``rev`` (default: the parent of the commit that added
    netsplit.py) as a module, with the revision's short hash."""

    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=REPO, check=True, capture_output=True, text=True).stdout

    if rev is None:
        added = git("log", "--diff-filter=A", "--format=%H", "--", "src/camrobust/netsplit.py").split()
        rev = f"{added[-1]}^"
    source = git("show", f"{rev}:src/camrobust/cams.py")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("cams_before", handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cams_before"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return git("rev-parse", "--short", rev).strip(), module


def model_family(args: argparse.Namespace, device: torch.device) -> None:
    """images/s of ScoreCAM and AblationCAM: ours, pytorch-grad-cam's, the cams.py before."""
    rev, before = cams_before(args.before)
    print(
        f"device={device} size={args.size} images={args.images} channel batch={args.channel_batch} "
        f"threads={torch.get_num_threads()}; before = cams.py at {rev}"
    )
    for arch in args.archs:
        time_arch(args, device, arch, rev, before)


def time_arch(args: argparse.Namespace, device: torch.device, arch: str, rev: str, before: ModuleType) -> None:
    layer = DEFAULT_LAYERS[arch]
    model, x = setup(arch, args.images, args.size, device)
    with torch.no_grad():
        targets = model(x).argmax(1)
    fwd_bwd = timed(lambda: forward_backward(model, x, targets), args.repeats, device)
    print(f"\n{arch} {layer}: one forward+backward of {args.images} images {fwd_bwd:.3f} s")
    print(f"{'method':12s} {'code':16s} {'images/s':>9} {'x fwd+bwd':>10} {'ours faster':>11}")
    theirs_cls = {"scorecam": ScoreCAM, "ablationcam": AblationCAM}
    for method in ("scorecam", "ablationcam"):
        runs: dict[str, Callable[[], object]] = {
            "ours": lambda method=method: model_cams(model, layer, x, targets, [method], args.channel_batch),
            f"before ({rev})": lambda method=method: before.model_cams(
                model, layer, x, targets, [method], args.channel_batch
            ),
            "pytorch-grad-cam": lambda method=method: theirs_model_cam(
                theirs_cls[method], model, layer, x, targets, args.channel_batch
            ),
        }
        seconds: dict[str, float] = {}
        for code, run in runs.items():
            if f"{code.split()[0]}:{method}" in args.skip:
                print(f"{method:12s} {code:16s} {'skipped':>9}")
                continue
            seconds[code] = timed(run, 1, device, warm_up=False)
            if seconds[code] < QUICK_S:  # cheap enough: the median of warm runs instead of a cold one
                seconds[code] = timed(run, args.repeats, device)
            ratio = f"{seconds[code] / seconds['ours']:.1f}x" if code != "ours" else ""
            print(
                f"{method:12s} {code:16s} {args.images / seconds[code]:9.4f} "
                f"{seconds[code] / fwd_bwd:10.1f} {ratio:>11}",
                flush=True,
            )


def theirs_model_cam(
    cls: type, model: torch.nn.Module, layer: str, x: torch.Tensor, targets: torch.Tensor, batch: int
) -> None:
    with cls(model, [model.get_submodule(layer)]) as cam, redirect_stderr(io.StringIO()):  # its progress bars
        cam.batch_size = batch
        cam(x, [ClassifierOutputTarget(int(t)) for t in targets])


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model_family:
        model_family(args, torch.device(args.device))
        return
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
    print(f"ours: capture + gradient_family (8)   {family:8.3f} s = {family / fwd_bwd:.2f}x one fwd+bwd (goal <= 1.5x)")
    print(f"pytorch-grad-cam, same 8 methods      {peer:8.3f} s = ours {peer / family:.1f}x faster (goal >= 5x)")

    print(f"\nper method (warm)   {'ours s':>8} {'theirs s':>9} {'theirs/ours':>11} {'ours/fwd+bwd':>12}")
    for name in methods:
        mine = timed(lambda name=name: ours(model, layer, x, [name]), args.repeats, device, False)
        other = timed(lambda name=name: theirs(model, layer, x, [name], their_targets), args.repeats, device, False)
        print(f"{name:19s} {mine:8.3f} {other:9.3f} {other / mine:11.1f} {mine / fwd_bwd:12.2f}")

    channels = capture(model, layer, x[:1]).activations.shape[1]
    print(
        f"\nScoreCAM peak memory above model + inputs ({args.score_images} image(s), {args.score_size} px, "
        f"{channels} channels; {'max_memory_allocated' if device.type == 'cuda' else 'peak RSS delta'}, "
        "fresh process each)"
    )
    for channel_batch in args.score_batches:
        print(f"ours, channel batch {channel_batch:4d}        {in_fresh_process(args, channel_batch):8.1f} MB")
    print(f"pytorch-grad-cam (N x C masked inputs) {in_fresh_process(args, 0):8.1f} MB")


if __name__ == "__main__":
    main()
