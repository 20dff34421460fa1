"""Disk, files and memory of the workflow's stores as the number of images grows, and projections.

Runs the stages up to the robustness summary and the trust summary (masks, faithfulness,
localisation) on one synthetic dataset at several sizes N (default
250, 500 and 1000 images of 224 px, the demo's small_resnet, one gradient CAM and one model-pass
CAM, gaussian_noise at 3 severities) in scratch directories, and prints per N and stage: bytes on
disk per (image, condition), files per store, and the peak RSS of each rule: exact, from the last
line of its jobs' logs, and as Snakemake's ``results/benchmarks/`` sampled it. It checks that the
exact peak RSS of every rule at the largest N is at most 1.25x its value at the smallest N and that
bytes per (image, condition) stay flat.

From the bytes per stored value measured at the largest N (images: per pixel channel, CAM maps,
activations and gradients: per value on the target layer's grid, logits: per class, segments: per
pixel, scores: per row) it projects presets/paper.yaml and a 50,000-image ImageNet validation run
with the same five models, CAMs and noises: disk and files by stage, with activations and
gradients kept as float32, kept as float16, or not kept. The target-layer shapes of the five
models come from a forward pass of each (random weights) on one 224 px image.

    .venv/bin/python benchmarks/storage_scaling.py --sizes 250 500 1000
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
RSS_RATIO_LIMIT = 1.25
FLAT_TOLERANCE = 0.10  # bytes per (image, condition) at most 10% above their value at the smallest N
# (a file's fixed overhead, e.g. a Parquet footer, spreads over more rows as N grows: only growth fails)


def benchmark_config(n: int, image_size: int, cams: list[str], severities: list[int]) -> dict:
    return {
        "seed": 0,
        "device": "cpu",
        "batch_size": 32,
        "datasets": {
            "bench": {"kind": "shapes", "variant": "cluttered", "n_images": n, "n_train": 120, "image_size": image_size}
        },
        "models": {"small_resnet": {"kind": "trained", "arch": "small_resnet", "epochs": 1}},
        "cams": cams,
        "noises": {"gaussian_noise": severities},
        "segmentation": {"method": "slic"},
        "metric": {"n_bootstrap": 100},
        "faithfulness": {"steps": 11, "road_percentages": [20, 40, 60, 80]},  # the demo's
    }


def job_environment() -> dict[str, str]:
    """The environment of the workflow's jobs, with glibc's mmap threshold fixed at 1 MiB.

    By default glibc raises the threshold each time a large block is freed, so the chunk buffers
    of later chunks come from the heap and are kept there: a job's peak RSS creeps up over its
    first chunks, and more so the more chunks it has. A fixed threshold measures what a job needs.
    """
    return {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}


def run_workflow(workdir: Path, config: dict, cores: int) -> float:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "results/summary/robustness.csv",
        "results/summary/trust.csv",
        "results/statistics/trust.csv",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "--workflow-profile",
        str(REPO / "profiles" / "local"),
        "--cores",
        str(cores),
        "--quiet",
        "all",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=job_environment())
    if result.returncode != 0:
        raise RuntimeError(f"workflow failed in {workdir}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return time.perf_counter() - started


def peak_rss(workdir: Path) -> pd.DataFrame:
    """Per rule, the largest peak RSS of its jobs: exact, from the last line of each job's log
    (``logs/<rule>/**.log``), and as Snakemake sampled it (``max_rss`` of
    ``results/benchmarks/<rule>/**.tsv``, every 0.5 s, then every 30 s: a short job's peak can
    fall between two samples)."""
    logged = {}
    for path in (workdir / "logs").rglob("*.log"):
        found = re.findall(r"peak RSS ([\d.]+) MiB", path.read_text())
        if found:
            rule = path.relative_to(workdir / "logs").parts[0]
            logged[rule] = max(logged.get(rule, 0.0), float(found[-1]))
    root = workdir / "results" / "benchmarks"
    sampled = (
        pd.DataFrame(
            [
                {
                    "rule": path.relative_to(root).parts[0],
                    "max_rss": float(pd.read_csv(path, sep="\t")["max_rss"].iloc[0]),
                }
                for path in root.rglob("*.tsv")
            ]
        )
        .groupby("rule")["max_rss"]
        .max()
    )
    return pd.DataFrame({"log": pd.Series(logged), "sampled": sampled})


def _sizes(path: Path) -> tuple[int, int, int]:
    """(array data bytes, metadata bytes, files) of a store or file; metadata = the zarr.json files."""
    if path.is_file():
        return path.stat().st_size, 0, 1
    files = [f for f in path.rglob("*") if f.is_file()]
    metadata = sum(f.stat().st_size for f in files if f.name == "zarr.json")
    return sum(f.stat().st_size for f in files) - metadata, metadata, len(files)


STAGES = [  # (outputs, stage, array whose shape gives the images x conditions and values)
    ("data/bench/eval.zarr", "clean images", "images"),
    ("noisy/bench/*.zarr", "noisy images", "images"),
    ("predictions/bench/*/*.zarr", "predictions", "logits"),
    ("features/bench/*/*.zarr", "features", "activations"),
    ("cams/bench/*/*/*.zarr", "cam maps", "maps"),
    ("segments/bench.zarr", "segments", "segments"),
    ("scores/bench/*/*/*.parquet", "scores", ""),
    ("masks/bench.zarr", "masks", "masks"),
    ("faithfulness/bench/*/*.parquet", "faithfulness", ""),
    ("localisation/bench/*/*.parquet", "localisation", ""),
]


def store_table(workdir: Path) -> pd.DataFrame:
    """One row per output: stage, data and metadata bytes, files, images x conditions, stored values."""
    import pyarrow.parquet as pq
    import zarr

    rows = []
    for pattern, stage, name in STAGES:
        for path in (workdir / "results").glob(pattern):
            data, metadata, files = _sizes(path)
            if not name:
                conditions = values = pq.ParquetFile(path).metadata.num_rows
            else:
                shape = zarr.open_group(path, mode="r")[name].shape
                conditions = shape[0] * (shape[1] if stage not in ("clean images", "segments", "masks") else 1)
                values = math.prod(shape) * (2 if stage == "features" else 1)  # activations + gradients
            label = f"cam maps ({path.stem})" if stage == "cam maps" else stage
            rows.append(
                {
                    "stage": label,
                    "data": data,
                    "metadata": metadata,
                    "files": files,
                    "conditions": conditions,
                    "values": values,
                }
            )
    return pd.DataFrame(rows)


def per_stage(stores: pd.DataFrame) -> pd.DataFrame:
    grouped = stores.groupby("stage")
    total = grouped["data"].sum() + grouped["metadata"].sum()
    return pd.DataFrame(
        {
            "stores": grouped.size(),
            "MB": total / 1e6,
            "bytes/(image,cond)": total / grouped["conditions"].sum(),
            "data bytes/(image,cond)": grouped["data"].sum() / grouped["conditions"].sum(),
            "data bytes/value": grouped["data"].sum() / grouped["values"].sum(),
            "metadata bytes/store": grouped["metadata"].mean(),
            "files/store": grouped["files"].max(),
        }
    )


def layer_shapes(archs: list[str]) -> dict[str, tuple[int, int, int]]:
    """(C, h, w) of each torchvision model's default CAM target layer at 224 px (random weights)."""
    import torch

    from camrobust import cams, models

    shapes = {}
    for arch in archs:
        model = models.build_model(arch, 1000).eval()
        captured = cams.capture(
            model,
            models.DEFAULT_TARGET_LAYERS[arch],
            torch.rand(1, 3, 224, 224),
            reshape=cams.token_reshape(model, 224),
        )
        shapes[arch] = tuple(int(x) for x in captured.activations.shape[1:])
    return shapes


def project(
    measured: pd.DataFrame, preset: dict, n_images: int, shapes: dict[str, tuple[int, int, int]]
) -> pd.DataFrame:
    """Disk (GB) and files by stage for ``preset`` at ``n_images``: measured data bytes per stored
    value times the values the preset stores, plus the measured metadata bytes per store."""
    from camrobust.noise import ATTACKS

    cam_rows = [stage for stage in measured.index if stage.startswith("cam maps")]
    measured = pd.concat([measured.drop(index=cam_rows), measured.loc[cam_rows].mean().to_frame("cam maps").T])
    measured.loc["cam maps", "files/store"] = measured.loc["cam maps", "files/store"].round()
    size = int(next(iter(preset["datasets"].values()))["image_size"])
    noises = preset["noises"]
    n_models, n_cams = len(preset["models"]), len(preset["cams"])
    attacks = [noise for noise in noises if noise in ATTACKS]
    model_free = [noise for noise in noises if noise not in ATTACKS]
    severities = {noise: len(noises[noise]) for noise in noises}
    conditions = 1 + sum(severities.values())  # per model: clean + every noisy severity
    grid = sum(h * w for _, h, w in shapes.values())  # summed over the models
    stages = {  # stage: (stored values, stores)
        "images": (
            n_images
            * size
            * size
            * 3
            * (1 + sum(severities[n] for n in model_free) + n_models * sum(severities[n] for n in attacks)),
            1 + len(model_free) + n_models * len(attacks),
        ),
        "predictions": (n_images * conditions * n_models * 1000, n_models * (1 + len(noises))),
        "cam maps": (n_images * conditions * grid * n_cams, n_models * (1 + len(noises)) * n_cams),
        "segments": (n_images * size * size, 1),
        "scores": (n_images * (conditions - 1) * n_models * n_cams, n_models * len(noises) * n_cams),
        "faithfulness": (n_images * n_models * n_cams, n_models * n_cams),  # the preset has no masks
        "features": (
            n_images * conditions * sum(2 * c * h * w for c, h, w in shapes.values()),
            n_models * (1 + len(noises)),
        ),
    }
    source = {
        "images": "noisy images",
        "predictions": "predictions",
        "cam maps": "cam maps",
        "segments": "segments",
        "scores": "scores",
        "faithfulness": "faithfulness",
        "features": "features",
    }
    missing = [stage for stage in stages if source[stage] not in measured.index]
    if missing:  # e.g. no gradient CAM in the run: no features were written
        raise ValueError(f"cannot project: the run wrote no {', '.join(missing)}; run a gradient and a model-pass CAM")
    rows = {}
    for stage, (values, stores) in stages.items():
        m = measured.loc[source[stage]]
        rows[stage] = (values * m["data bytes/value"] + stores * m["metadata bytes/store"], stores * m["files/store"])
    table = pd.DataFrame(rows, index=["bytes", "files"]).T
    features = table.loc["features"]
    rest = table.drop(index="features").sum()
    half = features["bytes"] / 2  # float16 halves the raw bytes of float32
    extra = pd.DataFrame(
        {
            "features, float32 kept": features,
            "features, float16 kept": (half, features["files"]),
            "total, features float32 kept": rest + features,
            "total, features float16 kept": (rest["bytes"] + half, rest["files"] + features["files"]),
            "total, features not kept": rest,
        },
        index=["bytes", "files"],
    ).T
    table = pd.concat([table.drop(index="features"), extra])
    table["GB"] = table["bytes"] / 1e9
    table["files"] = table["files"].astype(int)
    return table[["GB", "files"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--cams", nargs="+", default=["gradcam", "ablationcam"])
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    rss, stages = {}, {}
    for n in args.sizes:
        config = benchmark_config(n, args.image_size, args.cams, [1, 3, 5])
        with tempfile.TemporaryDirectory(prefix=f"camrobust-storage-{n}-") as scratch:
            wall = run_workflow(Path(scratch), config, args.cores)
            rss[n], stages[n] = peak_rss(Path(scratch)), per_stage(store_table(Path(scratch)))
        print(f"\nN = {n} images of {args.image_size} px, cams {args.cams}: wall {wall:.0f} s")
        print(stages[n].round(3).to_string())
        print(
            "peak RSS MiB per rule (job log / Snakemake's samples): "
            + ", ".join(f"{rule} {row.log:.0f} / {row.sampled:.0f}" for rule, row in rss[n].iterrows()),
            flush=True,
        )
    small, large = args.sizes[0], args.sizes[-1]
    memory = pd.DataFrame({f"peak RSS MiB, N={n}": rss[n]["log"] for n in args.sizes})
    memory["ratio"] = memory.iloc[:, -1] / memory.iloc[:, 0]
    sampled = pd.DataFrame({f"N={n}": rss[n]["sampled"] for n in args.sizes})
    memory[f"sampled ratio N={large} / N={small}"] = sampled.iloc[:, -1] / sampled.iloc[:, 0]
    print(
        f"\npeak RSS per rule from the job logs (limit: N={large} at most {RSS_RATIO_LIMIT}x N={small}),"
        " and the ratio of Snakemake's sampled max_rss"
    )
    print(memory.round(2).to_string())
    flat = pd.DataFrame({f"N={n}": stages[n]["data bytes/(image,cond)"] for n in args.sizes})
    flat["ratio"] = flat.iloc[:, -1] / flat.iloc[:, 0]
    print("\narray data bytes per (image, condition) (metadata: a few KB per store at any N)")
    print(flat.round(3).to_string())
    print(
        f"\nRSS check: {'pass' if (memory['ratio'] <= RSS_RATIO_LIMIT).all() else 'FAIL'}; "
        f"flat bytes check: {'pass' if (flat['ratio'] <= 1 + FLAT_TOLERANCE).all() else 'FAIL'}"
    )

    preset = yaml.safe_load((REPO / "presets" / "paper.yaml").read_text())
    shapes = layer_shapes([spec["arch"] for spec in preset["models"].values()])
    print("\ntarget-layer shapes (C, h, w) at 224 px: " + ", ".join(f"{a} {s}" for a, s in shapes.items()))
    measured = stages[large]
    n_paper = int(next(iter(preset["datasets"].values()))["n_images"])
    for label, n_images in (
        (f"presets/paper.yaml ({n_paper} images)", n_paper),
        ("ImageNet validation, 50,000 images", 50_000),
    ):
        print(
            f"\nprojection: {label}, {len(preset['models'])} models, {len(preset['cams'])} CAMs, "
            f"{sum(len(v) for v in preset['noises'].values())} noisy conditions"
        )
        print(project(measured, preset, n_images, shapes).round(3).to_string())


if __name__ == "__main__":
    main()
