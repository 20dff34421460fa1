"""Cost of the explanation attack as a ratio to one forward + backward pass, per (image, step).

ResNet-18 (random weights, no download) at ``--size`` px on the CPU, ``--images`` copies of
skimage's astronaut (segmented as the workflow does). In one run, on the same threads:

- the unit: one forward and one backward pass of the target logit to the input, per image (the
  pass one PGD step of FGSM/PGD costs);
- the attack: :func:`camrobust.noise.explanation_attack_images` at one severity with the default
  settings (``--steps`` steps, 1 restart), per image and step: its time over images x steps;
- its two parts per (image, step): the surrogate gradient (the CAM's double backprop with the
  smooth ReLU) and the exact acceptance (the real CAM and prediction of the quantised iterate,
  its region RBO).

The four are timed in turn, ``--repeats`` rounds, in CPU seconds of this process (so other
load on the machine counts little); each ratio is the median over the rounds of the ratio to
the round's unit. The attack's cost per image at a severity is about ratio x (steps x restarts)
forward + backward passes; the acceptance of the random start adds one more evaluation.

    .venv/bin/python benchmarks/explanation_attack_cost.py [--images 2] [--size 224] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torchvision
from skimage import data, transform

from camrobust.cams.target import resolve_target
from camrobust.models import IMAGENET_MEAN, IMAGENET_STD
from camrobust.noise import ExplanationAttackSettings, explanation_attack_images
from camrobust.noise.explanation_attack import AttackedCam, clean_view, importances, ranking_rbo, top_share
from camrobust.noise.pixels import normaliser, to_unit_nchw
from camrobust.segmentation import segment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=ExplanationAttackSettings.steps)
    parser.add_argument("--method", default="gradcam")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    image = np.rint(transform.resize(data.astronaut(), (args.size, args.size), anti_aliasing=True) * 255)
    images = np.repeat(image.astype(np.uint8)[None], args.images, 0)
    segments = segment(images)
    ids = [f"{i:04d}" for i in range(args.images)]
    normalise = normaliser(IMAGENET_MEAN, IMAGENET_STD, torch.device("cpu"))
    x = to_unit_nchw(torch.as_tensor(images))

    def forward_backward() -> None:
        xr = x.clone().requires_grad_(True)
        logits = model(normalise(xr))
        torch.autograd.grad(logits.max(1).values.sum(), xr)

    settings = ExplanationAttackSettings(steps=args.steps)
    cam = AttackedCam(model, resolve_target(model, "layer4"), args.method, normalise)
    clean = clean_view(cam, x, segments, settings)

    def surrogate_step() -> None:
        xr = x.clone().requires_grad_(True)
        share = top_share(cam.surrogate(xr, clean.pred, settings.beta), clean)
        torch.autograd.grad(share.sum(), xr)

    def acceptance() -> None:
        with torch.no_grad():
            _, _, maps = cam.real(x)
        ranking_rbo(clean.importance, importances(maps, segments, clean.n_max), clean.valid, settings.p)

    options = {"method": args.method, "target_layer": "layer4", "mean": IMAGENET_MEAN, "std": IMAGENET_STD}

    def attack() -> None:
        explanation_attack_images(model, images, segments, ids, seed=0, severities=(3,), settings=settings, **options)

    steps = args.images * settings.steps * settings.restarts
    parts = {"unit": (forward_backward, args.images), "attack": (attack, steps)}
    parts |= {"surrogate": (surrogate_step, args.images), "acceptance": (acceptance, args.images)}
    rounds: dict[str, list[float]] = {name: [] for name in parts}
    for fn, _ in parts.values():
        fn()  # warm-up
    for _ in range(args.repeats):  # interleaved, so the ratios compare times taken together
        for name, (fn, count) in parts.items():
            start = time.process_time()
            fn()
            rounds[name].append((time.process_time() - start) / count)
    print(
        f"ResNet-18, {args.size} px, {args.images} images, {args.threads} thread(s), {args.method}, "
        f"{settings.steps} steps x {settings.restarts} restart(s); CPU seconds per image (median of "
        f"{args.repeats} interleaved rounds); ratio = the median of the per-round ratios to the unit"
    )
    labels = {
        "unit": "one forward + backward (unit)",
        "attack": "attack, per step (all of it)",
        "surrogate": "  surrogate gradient (double backprop)",
        "acceptance": "  exact acceptance (real CAM, RBO)",
    }
    ratios = {}
    for name, label in labels.items():
        ratios[name] = statistics.median(t / u for t, u in zip(rounds[name], rounds["unit"], strict=True))
        tail = "" if name == "unit" else f"   ratio {ratios[name]:5.2f}"
        print(f"{label:<44}{statistics.median(rounds[name]):9.3f}{tail}")
    passes = ratios["attack"] * settings.steps * settings.restarts
    print(f"one image at one severity: about {passes:.0f} forward + backward passes")


if __name__ == "__main__":
    main()
