"""Worst-case consistency (explanation attack) beside consistency under uniform noise of the same
L-inf size, for every gradient-family CAM on the demo CNN.

Trains the default config's small_resnet on the shapes set (1,200 training images, 6 epochs, as
the workflow does; its weights cached under --cache, default the system's temporary folder), segments ``--images`` evaluation images as the
workflow does, and prints two tables, CAMs by severity 1..5 (eps 1, 2, 4, 8, 16 / 255):

- C under ``uniform_noise``: mean RBO over the class-preserving (clean, noisy) pairs;
- worst-case C: mean RBO of the explanation attack's kept images (all class-preserving).

The worst case should be at most the random case at every budget; the last table is their
difference (worst - uniform), and a line per CAM says whether it holds.

    .venv/bin/python benchmarks/worst_case_vs_uniform.py [--images 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from camrobust.cams import GRADIENT_METHODS, compute_cams
from camrobust.datasets.shapes import generate_shapes
from camrobust.models import SMALL_CNN_MEAN, SMALL_CNN_STD, build_model, to_model_input, train_model
from camrobust.noise import ExplanationAttackSettings, explanation_attack_images, perturb
from camrobust.scoring import pair_similarities
from camrobust.segmentation import segment

SEVERITIES = (1, 2, 3, 4, 5)


def demo_model(size: int, cache: Path) -> torch.nn.Module:
    """The default config's small_resnet trained on the shapes set (cached state dict)."""
    model = build_model("small_resnet", 6, seed=0)
    path = cache / f"small_resnet_shapes_{size}.pt"
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
    else:
        train = generate_shapes(1200, size, "plain", 0, split="train")
        print(train_model(model, train.images, train.labels, epochs=6, batch_size=32, lr=0.005, seed=0, progress=False))
        cache.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
    return model.eval()


def uniform_consistency(
    model: torch.nn.Module, images: np.ndarray, segments: np.ndarray, ids: list[str], method: str
) -> list[float]:
    """C under uniform_noise per severity: mean RBO over the class-preserving pairs."""
    inputs = to_model_input(images, SMALL_CNN_MEAN, SMALL_CNN_STD)
    clean = compute_cams(model, "layer3", inputs, method)[method]
    with torch.no_grad():
        clean_pred = model(inputs).argmax(1)
    values = []
    for severity in SEVERITIES:
        noisy_inputs = to_model_input(
            perturb(images, "uniform_noise", severity, 0, ids, namespace="demo"), SMALL_CNN_MEAN, SMALL_CNN_STD
        )
        with torch.no_grad():
            preserved = (model(noisy_inputs).argmax(1) == clean_pred).numpy()
        noisy = compute_cams(model, "layer3", noisy_inputs, method)[method]
        rbo = pair_similarities(clean, noisy, segments)["rbo"]
        values.append(float(np.nanmean(rbo[preserved])))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=ExplanationAttackSettings.steps)
    parser.add_argument("--restarts", type=int, default=ExplanationAttackSettings.restarts)
    parser.add_argument("--beta", type=float, default=ExplanationAttackSettings.beta)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "camrobust-benchmarks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = demo_model(args.size, args.cache)
    data = generate_shapes(args.images, args.size, "plain", 0)
    segments = segment(data.images)
    settings = ExplanationAttackSettings(steps=args.steps, restarts=args.restarts, beta=args.beta)
    uniform, worst = {}, {}
    started = time.perf_counter()
    for method in GRADIENT_METHODS:
        uniform[method] = uniform_consistency(model, data.images, segments, data.ids, method)
        result = explanation_attack_images(
            model, data.images, segments, data.ids, method=method, target_layer="layer3",
            mean=SMALL_CNN_MEAN, std=SMALL_CNN_STD, seed=0, namespace="demo", settings=settings,
        )  # fmt: skip
        assert (result.pred == result.clean_pred[:, None]).all()
        worst[method] = [float(np.nanmean(result.rbo[:, s])) for s in range(len(SEVERITIES))]
    print(
        f"small_resnet on {args.images} shapes images ({args.size} px), steps {settings.steps}, "
        f"restarts {settings.restarts}, beta {settings.beta}; {time.perf_counter() - started:.0f} s"
    )
    for title, table in (("C under uniform noise", uniform), ("worst-case C (explanation attack)", worst)):
        print(f"\n{title}\n{'cam':<22}" + "".join(f"{f'{e}/255':>8}" for e in (1, 2, 4, 8, 16)))
        for method, values in table.items():
            print(f"{method:<22}" + "".join(f"{v:8.3f}" for v in values))
    print(f"\nworst - uniform\n{'cam':<22}" + "".join(f"{f'{e}/255':>8}" for e in (1, 2, 4, 8, 16)))
    for method in GRADIENT_METHODS:
        gaps = np.subtract(worst[method], uniform[method])
        verdict = "worst <= uniform at every budget" if (gaps <= 0).all() else "VIOLATED"
        print(f"{method:<22}" + "".join(f"{g:8.3f}" for g in gaps) + f"  {verdict}")


if __name__ == "__main__":
    main()
