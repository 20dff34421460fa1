"""GPU check of the CAM engine: CUDA maps equal CPU maps for all ten methods (resnet50 with seeded
weights, within 1e-3, TF32 off and the CPU's predicted classes as targets for the comparison); the
sanity checks give the same numbers (the cascading randomisation's similarities per stage, and the
explanation attack's kept predictions and RBO, within SANITY_TOLERANCE); the trust scores
(faithfulness: deletion / insertion, ROAD, region deletion; localisation) of the same maps agree
within 1e-3; then CUDA throughput in images/s with torch's default TF32 settings: one
forward+backward and the gradient family at batch 64, ScoreCAM / AblationCAM (the network tail
only) on a few images, the faithfulness scores. Exit status 0 = all maps and scores agree. Without
CUDA it says so and exits 1; ``--device cpu`` dry-runs the same logic on the CPU.

    .venv/bin/python benchmarks/gpu_check.py
"""

from __future__ import annotations

import argparse
import copy
import sys

import numpy as np
import torch
import torchvision
from cam_throughput import forward_backward, ours, timed

from camrobust.cams import EXPLAINING_METHODS, GRADIENT_METHODS, compute_cams, model_cams
from camrobust.core.trust import FaithfulnessSettings, faithfulness_scores, localisation_scores

TOLERANCE = 1e-3
SANITY_TOLERANCE = 1e-2
"""Per-stage similarities and attack RBO: a region ranking can swap two regions whose importances
differ by less than the maps' float differences, which moves RBO by up to about 1e-2."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a dry run")
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--layer", default="layer4")
    parser.add_argument("--compare-images", type=int, default=2)
    parser.add_argument("--compare-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64, help="images per gradient-family batch")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--model-images", type=int, default=4, help="images in the ScoreCAM/AblationCAM runs")
    parser.add_argument("--channel-batch", type=int, default=256, help="(image, channel) pairs per forward")
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args()


def compare(model: torch.nn.Module, device: torch.device, args: argparse.Namespace) -> bool:
    """Max |CUDA map - CPU map| per method, with the CPU's predicted classes as targets."""
    inputs = torch.randn(
        args.compare_images,
        3,
        args.compare_size,
        args.compare_size,
        generator=torch.Generator().manual_seed(1),
    )
    with torch.no_grad():
        targets = model(inputs).argmax(1)
    on_cpu = compute_cams(model, args.layer, inputs, EXPLAINING_METHODS, targets, args.channel_batch)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        on_device = compute_cams(
            copy.deepcopy(model).to(device),
            args.layer,
            inputs.to(device),
            EXPLAINING_METHODS,
            targets.to(device),
            args.channel_batch,
        )
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    print(
        f"{device} vs cpu, {args.arch} {args.layer}, {args.compare_images} images {args.compare_size} px "
        f"(tolerance {TOLERANCE})"
    )
    agree = True
    for name in EXPLAINING_METHODS:
        diff = float((on_device[name].cpu() - on_cpu[name]).abs().max())
        agree &= diff <= TOLERANCE
        print(f"  {name:20s} max |diff| {diff:.2e} {'ok' if diff <= TOLERANCE else 'FAIL'}")
    return agree


def grid_segments(n: int, size: int, cell: int = 16) -> np.ndarray:
    """(n, size, size) labels of square regions of ``cell`` px."""
    rows = np.arange(size) // cell
    labels = rows[:, None] * (size // cell + 1) + rows[None, :]
    return np.repeat(labels[None], n, 0).astype(np.int64)


def compare_sanity(model: torch.nn.Module, device: torch.device, args: argparse.Namespace) -> bool:
    """The randomisation's per-stage similarities and the explanation attack (GradCAM, 4/255, 3
    steps) on the device and on the CPU, TF32 off."""
    from camrobust.cams import cam_map_function
    from camrobust.noise import ExplanationAttackSettings, explanation_attack_images
    from camrobust.sanity import cascading_randomisation

    n, size = args.compare_images, args.compare_size
    images = np.random.default_rng(1).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    segments = grid_segments(n, size)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    inputs = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean)[:, None, None]) / (
        torch.tensor(std)[:, None, None]
    )
    gradcam = cam_map_function("gradcam", args.layer)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        results = {}
        for where in (torch.device("cpu"), device):
            placed = copy.deepcopy(model).to(where)
            randomised = cascading_randomisation(placed, inputs.to(where), segments, gradcam, seed=0)
            attacked = explanation_attack_images(
                placed,
                images,
                segments,
                [str(i) for i in range(n)],
                method="gradcam",
                target_layer=args.layer,
                mean=mean,
                std=std,
                seed=0,
                severities=(3,),
                settings=ExplanationAttackSettings(steps=3),
                device=where,
            )
            results[where.type] = (randomised, attacked)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    (cpu_random, cpu_attack), (dev_random, dev_attack) = results["cpu"], results[device.type]
    print(f"sanity checks, {device} vs cpu (tolerance {SANITY_TOLERANCE})")
    agree = True
    for name in ("rbo", "pixel_spearman", "ssim"):
        diff = float(np.nanmax(np.abs(dev_random.scores[name] - cpu_random.scores[name])))
        agree &= diff <= SANITY_TOLERANCE
        print(f"  randomisation {name:15s} max |diff| {diff:.2e} over {len(cpu_random.stages)} stages")
    same_pred = bool(
        (dev_attack.pred == cpu_attack.pred).all() and (cpu_attack.pred == cpu_attack.clean_pred[:, None]).all()
    )
    diff = float(np.abs(dev_attack.rbo - cpu_attack.rbo).max())
    agree &= same_pred and diff <= SANITY_TOLERANCE
    print(f"  explanation attack: class kept on both {same_pred}, RBO max |diff| {diff:.2e}")
    return agree


TRUST_SETTINGS = FaithfulnessSettings(steps=11, road_percentages=(20.0, 40.0, 60.0, 80.0), batch_size=64)
"""The demo's faithfulness settings."""


def trust_inputs(model: torch.nn.Module, layer: str, n: int, size: int) -> tuple[torch.Tensor, ...]:
    """Seeded inputs, their GradCAM maps on the CPU, a 4 x 4 grid of square regions, the predicted
    classes and centred square object masks."""
    inputs = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        targets = model(inputs).argmax(1)
    maps = compute_cams(model, layer, inputs, ["gradcam"], targets)["gradcam"]
    cells = torch.arange(size) * 4 // size
    segments = (cells[:, None] * 4 + cells[None, :]).expand(n, size, size).contiguous()
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    masks[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
    return inputs, maps, segments, targets, masks


def trust_scores(model: torch.nn.Module, device: torch.device, tensors: tuple[torch.Tensor, ...]) -> dict:
    inputs, maps, segments, targets, masks = (t.to(device) for t in tensors)
    ids = [str(i) for i in range(len(inputs))]
    stats = {"mean": [0.0] * 3, "std": [1.0] * 3}
    scores = faithfulness_scores(model, inputs, maps, segments, targets, TRUST_SETTINGS, ids=ids, seed=0, **stats)
    return scores | localisation_scores(maps, masks, tolerance=0)


def compare_trust(model: torch.nn.Module, device: torch.device, args: argparse.Namespace) -> bool:
    """Max |CUDA score - CPU score| of every faithfulness and localisation score on the same maps."""
    tensors = trust_inputs(model, args.layer, args.compare_images, args.compare_size)
    on_cpu = trust_scores(model, torch.device("cpu"), tensors)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        on_device = trust_scores(copy.deepcopy(model).to(device), device, tensors)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    print(f"trust scores {device} vs cpu, {args.compare_images} images {args.compare_size} px")
    agree = True
    for name, values in on_cpu.items():
        diff = float(abs(on_device[name] - values).max())
        agree &= diff <= TOLERANCE
        print(f"  {name:24s} max |diff| {diff:.2e} {'ok' if diff <= TOLERANCE else 'FAIL'}")
    return agree


def throughput(model: torch.nn.Module, device: torch.device, args: argparse.Namespace) -> None:
    model = copy.deepcopy(model).to(device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    with torch.no_grad():
        targets = model(x).argmax(1)
    print(f"throughput on {device}, {args.arch} {args.size} px (images/s, median of {args.repeats})")
    seconds = timed(lambda: forward_backward(model, x, targets), args.repeats, device)
    print(f"  one forward+backward, batch {args.batch:3d}        {args.batch / seconds:9.1f}")
    seconds = timed(lambda: ours(model, args.layer, x, list(GRADIENT_METHODS)), args.repeats, device)
    print(f"  gradient family (8 methods), batch {args.batch:3d}  {args.batch / seconds:9.1f}")
    small = x[: args.model_images]
    for name in ("scorecam", "ablationcam"):
        seconds = timed(
            lambda name=name: model_cams(model, args.layer, small, None, [name], args.channel_batch),
            1,
            device,
        )
        print(f"  {name}, {len(small)} images, channel batch {args.channel_batch}  {len(small) / seconds:9.2f}")
    tensors = trust_inputs(model.cpu(), args.layer, args.model_images, args.size)
    model = model.to(device)
    seconds = timed(lambda: trust_scores(model, device, tensors), 1, device)
    print(
        f"  faithfulness + localisation (demo settings), {args.model_images} images  {args.model_images / seconds:9.2f}"
    )


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            f"gpu_check: --device {args.device} but CUDA is not available (torch {torch.__version__}, "
            "torch.cuda.is_available() is False); run on a machine with an NVIDIA GPU, "
            "or --device cpu for a dry run"
        )
        sys.exit(1)
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(weights=None).eval()
    agree = compare(model, device, args)
    agree &= compare_sanity(model, device, args)
    agree &= compare_trust(model, device, args)
    throughput(model, device, args)
    print("PASS: all maps and scores agree" if agree else f"FAIL: some differ by more than {TOLERANCE}")
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
