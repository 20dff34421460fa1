"""How the workflow's cost grows with the number of images, and what the per-job overhead is.

Runs the default config (config.yaml) at several evaluation-set sizes N in scratch directories
and prints, per N: wall time, the summed job time per stage (from Snakemake's benchmark files),
and the fixed per-job overhead (starting Python and importing what a stage needs, measured on
its own in the same run) as a share of the summed job time. A linear fit of wall time against N
shows whether cost grows linearly.

    .venv/bin/python benchmarks/pipeline_scaling.py --sizes 50 100 200
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def run_workflow(workdir: Path, config: dict, cores: int) -> float:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
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
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def stage_times(workdir: Path) -> pd.DataFrame:
    """Summed wall seconds and job count per rule, from results/benchmarks/<rule>/**.tsv."""
    rows = []
    for path in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        rule = path.relative_to(workdir / "results" / "benchmarks").parts[0]
        rows.append({"rule": rule, "seconds": float(pd.read_csv(path, sep="\t")["s"].iloc[0])})
    table = pd.DataFrame(rows)
    return table.groupby("rule")["seconds"].agg(["sum", "count"])


def job_start_seconds(repeats: int = 3) -> float:
    """Wall time of starting Python and importing a typical stage's modules (torch included)."""
    code = "import camrobust.stages.features, camrobust.cams, camrobust.scoring, torch"
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    overhead = job_start_seconds()
    print(f"per-job start-up (python + imports, measured alone): {overhead:.2f} s")
    walls = []
    for n in args.sizes:
        config = yaml.safe_load(yaml.safe_dump(base))
        for spec in config["datasets"].values():
            spec["n_images"] = n
        with tempfile.TemporaryDirectory(prefix=f"camrobust-scaling-{n}-") as scratch:
            wall = run_workflow(Path(scratch), config, args.cores)
            stages = stage_times(Path(scratch))
        walls.append(wall)
        jobs = int(stages["count"].sum())
        job_seconds = float(stages["sum"].sum())
        print(f"\nN = {n} images per dataset: wall {wall:.1f} s, {jobs} jobs, summed job time {job_seconds:.1f} s")
        print(f"  fixed start-up share of job time: {jobs * overhead / job_seconds:.0%}")
        print(stages.sort_values("sum", ascending=False).round(1).to_string())
    if len(args.sizes) > 1:
        slope, intercept = np.polyfit(args.sizes, walls, 1)
        print(f"\nwall time ~ {intercept:.1f} s + {slope:.2f} s per image and dataset")
        for n, wall in zip(args.sizes, walls):
            print(f"  N = {n}: measured {wall:.1f} s, linear fit {intercept + slope * n:.1f} s")
        print(
            f"ratio wall(N={args.sizes[-1]}) / wall(N={args.sizes[0]}) = {walls[-1] / walls[0]:.2f} "
            f"for a size ratio of {args.sizes[-1] / args.sizes[0]:.1f}"
        )


if __name__ == "__main__":
    main()
