"""What a small workflow job spends before its first useful line, against a peer checkout.

Runs the tiny config (tests/configs/tiny.yaml) once with this checkout and once with the peer
(``--peer``, e.g. a git worktree of an older commit: its own Snakefile, scripts and ``src/``), each
in its own scratch directory, then re-runs every job of each measured rule (``--forcerun RULE
--until RULE``, one job at a time) in both, alternating, ``--repeats`` times. Python's import profiler (PYTHONPROFILEIMPORTTIME) is on in the jobs, so for
each rule it prints, per job: the wall time of the job's process (Snakemake's benchmark file) and
the time its imports took (their sum, from the job's log and Snakemake's stderr), and the ratio of
the peer's figures to ours. It also prints the start of a bare interpreter and of the Snakemake
script preamble, and the numba kernel cache load of the scoring stage, measured alone.

    git worktree add --detach /tmp/camrobust-peer <commit>
    .venv/bin/python benchmarks/job_startup.py --peer /tmp/camrobust-peer
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RULES = [
    "extract_features",
    "gradient_cams",
    "score_cams",
    "plot_cam_overlays",
    "plot_severity_curves",
    "plot_critical_difference",
    "test_cam_methods",
]
IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")  # top level: no indent before the name
PREAMBLE = "import pickle; from snakemake.logging import logger; from snakemake.iocontainers import Snakemake"
KERNEL_LOAD = """
import time
import numpy as np
from camrobust import scoring
maps = np.random.default_rng(0).random((2, 2, 16, 16), dtype=np.float32)
segments = np.repeat(np.arange(16, dtype=np.int32).reshape(1, 4, 4), 2, 0).repeat(4, 1).repeat(4, 2)
times = []
for _ in range(2):
    started = time.perf_counter()
    scoring.pair_similarities(maps[0], maps[1], segments, p=0.9, topk=0.2)
    times.append(time.perf_counter() - started)
print(times[0] - times[1])
"""


def snakemake(workdir: Path, checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The workflow of ``checkout`` (its Snakefile and ``src/``) in ``workdir``, import profiling on."""
    env = {**os.environ, "PYTHONPATH": str(checkout / "src"), "PYTHONPROFILEIMPORTTIME": "1"}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(checkout / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "--workflow-profile",
        str(checkout / "profiles" / "local"),
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True)


def import_seconds(text: str) -> float:
    """Summed cumulative time of the top-level imports in importtime output."""
    return sum(int(match.group(1)) for line in text.splitlines() if (match := IMPORT_LINE.search(line))) / 1e6


def rerun_rule(workdir: Path, checkout: Path, rule: str) -> tuple[float, float] | None:
    """(median job wall seconds, median import seconds per job) of re-running every job of
    ``rule``, or None if the checkout's workflow has no job of it.

    A job's imports are those in its log (after it redirected stderr) and those on the console
    after Snakemake built its DAG (the script's module-level imports; Snakemake's own come before)."""
    bench = workdir / "results" / "benchmarks" / rule
    if not bench.is_dir():
        return None
    result = snakemake(workdir, checkout, "--cores", "1", "--forcerun", rule, "--until", rule)
    walls = [float(pd.read_csv(path, sep="\t")["s"].iloc[0]) for path in bench.rglob("*.tsv")]
    logs = list((workdir / "logs" / rule).rglob("*.log"))
    console = result.stderr.split("Building DAG of jobs", 1)[-1]
    per_job = [import_seconds(path.read_text()) + import_seconds(console) / len(logs) for path in logs]
    return statistics.median(walls), statistics.median(per_job)


def best_of(code: str, src: Path, repeats: int) -> float:
    """Fastest wall time of ``python -c code`` with ``src`` on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
    return min(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", type=Path, required=True, help="another checkout of camrobust")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rules", nargs="+", default=RULES)
    args = parser.parse_args()
    checkouts = {"this": REPO, "peer": args.peer.resolve()}

    print(
        f"bare interpreter: {best_of('pass', REPO / 'src', 5):.3f} s; "
        f"+ Snakemake script preamble: {best_of(PREAMBLE, REPO / 'src', 5):.3f} s"
    )
    for name, checkout in checkouts.items():
        env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
        load = subprocess.run([sys.executable, "-c", KERNEL_LOAD], env=env, capture_output=True, text=True, check=True)
        print(f"numba kernel cache load in a scoring job ({name}): {float(load.stdout):.3f} s")

    with tempfile.TemporaryDirectory(prefix="camrobust-startup-") as scratch:
        workdirs = {name: Path(scratch) / name for name in checkouts}
        for name, checkout in checkouts.items():
            workdirs[name].mkdir()
            (workdirs[name] / "config.yaml").write_text((REPO / "tests" / "configs" / "tiny.yaml").read_text())
            started = time.perf_counter()
            snakemake(workdirs[name], checkout, "--cores", "2", "--quiet", "all")
            print(f"tiny config, whole run ({name}): {time.perf_counter() - started:.1f} s")
        rows = []
        for rule in args.rules:
            figures: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
            for _ in range(args.repeats):
                for name, checkout in checkouts.items():
                    if (measured := rerun_rule(workdirs[name], checkout, rule)) is not None:
                        figures[name].append(measured)
            job = {name: statistics.median(w for w, _ in jobs) if jobs else math.nan for name, jobs in figures.items()}
            imports = {
                name: statistics.median(i for _, i in jobs) if jobs else math.nan for name, jobs in figures.items()
            }
            row = {"rule": rule}
            row |= {f"job s ({name})": job[name] for name in checkouts}
            row |= {f"imports s ({name})": imports[name] for name in checkouts}
            row |= {"job peer/this": job["peer"] / job["this"], "imports peer/this": imports["peer"] / imports["this"]}
            rows.append(row)
            print(pd.DataFrame([row]).round(2).to_string(index=False, header=len(rows) == 1), flush=True)
        print("\n" + pd.DataFrame(rows).round(2).to_string(index=False))
        print("(NaN: that checkout's workflow has no job of the rule on the tiny config)")


if __name__ == "__main__":
    main()
