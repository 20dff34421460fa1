"""Per-image CPU cost of every model-free noise on 224 px images, next to corrupt-tta's.

Prints, per noise: CPU milliseconds per image (process time, so other load on the machine does
not count) for camrobust's ``perturb`` (a batch of ``--batch`` copies of skimage's astronaut,
each severity 1..5 once, after one warm-up call that also compiles glass_blur's swap loop) and
for corrupt-tta where it has the corruption (one image at a time, each severity once), both on
``--threads`` CPU threads.

    .venv/bin/python benchmarks/noise_cost.py [--batch 8] [--size 224] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from skimage import data, transform

from camrobust.noise import PIXEL_NOISES, perturb


def timed_ms(fn: Callable[..., object], *args: object, count: int) -> float:
    """CPU milliseconds (this process) per image of one call ``fn(*args)`` covering ``count`` images."""
    start = time.process_time()
    fn(*args)
    return 1000 * (time.process_time() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    try:
        import corrupt_tta
        import cv2

        cv2.setNumThreads(args.threads)
    except ImportError:
        corrupt_tta = None
    image = np.rint(transform.resize(data.astronaut(), (args.size, args.size), anti_aliasing=True) * 255).astype(
        np.uint8
    )
    images = np.repeat(image[None], args.batch, 0)
    ids = [f"{i:04d}" for i in range(args.batch)]
    print(f"{args.size} px, batch {args.batch}, {args.threads} thread(s); CPU ms per image, mean over severities 1-5")
    print(f"{'noise':<24}{'camrobust':>10}{'corrupt-tta':>13}")
    for name in PIXEL_NOISES:
        perturb(images[:1], name, 1, 0, ids[:1])  # warm-up (numba compilation, caches)
        ours = np.mean([timed_ms(perturb, images, name, s, 0, ids, count=args.batch) for s in range(1, 6)])
        theirs = "-"
        if corrupt_tta is not None and name in corrupt_tta.corruption_dict:
            cost = np.mean([timed_ms(corrupt_tta.corrupt, image, s, name, count=1) for s in range(1, 6)])
            theirs = f"{cost:.1f}"
        print(f"{name:<24}{ours:>10.1f}{theirs:>13}", flush=True)


if __name__ == "__main__":
    main()
