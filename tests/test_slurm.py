"""The tiny workflow through profiles/slurm on a real single-node SLURM cluster (localhost).

Every non-local job must go through sbatch and finish COMPLETED in SLURM, and the results must
equal those of the local run of the same config (conftest's ``finished_run``): jobs keep the
rules' thread counts in both, so torch computes the same numbers. Needs root (it installs and
starts SLURM); without root it is skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.slurm_cluster import SlurmCluster, slurm_cluster
from tests.workflow import REPO, SNAKEMAKE, planned_jobs, write_config

pytestmark = pytest.mark.workflow

PROFILE = REPO / "profiles" / "slurm"
TARGETS = ["results/summary/robustness.csv", "results/summary/scores.parquet"]
LOCAL_RULES = {"stage_evaluation_images", "stage_training_images"}  # the Snakefile's localrules
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")


def profile_settings() -> dict:
    return yaml.safe_load((PROFILE / "config.v8+.yaml").read_text())


def largest_memory_request(settings: dict) -> int:
    """The largest mem_mb the profile asks for, in the last attempt its retries allow."""
    last_attempt = settings.get("retries", 0) + 1
    requests = [settings["default-resources"]["mem_mb"]]
    requests += [
        resources["mem_mb"] for resources in settings["set-resources"].values() if "mem_mb" in resources
    ]
    return max(
        int(eval(str(request), {"__builtins__": {}}, {"attempt": last_attempt})) for request in requests
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    if os.geteuid() != 0:
        pytest.skip("needs root: it installs SLURM (apt-get) and runs its daemons as root")
    root = Path(tmp_path_factory.mktemp("slurm"))
    with slurm_cluster(
        root,
        # two job slots per core: most of a tiny job's time is single-threaded Python start-up
        claimed_cpus=2 * (os.cpu_count() or 1),
        claimed_memory_mb=largest_memory_request(profile_settings()),
    ) as running:
        yield running


def run_on_slurm(cluster: SlurmCluster, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the workflow from ``workdir`` (SLURM logs land there) through the SLURM profile."""
    command = [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--workflow-profile",
        str(PROFILE),
        "--configfile",
        "config.yaml",
        "--slurm-init-seconds-before-status-checks",
        "1",
        *TARGETS,
    ]
    result = subprocess.run(
        command, cwd=workdir, env=cluster.env, capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"snakemake on SLURM failed:\n{result.stderr[-6000:]}\n--- slurmctld.log\n{cluster.log('slurmctld')[-2000:]}"
        )
    return result


def slurm_jobs(cluster: SlurmCluster) -> list[dict[str, str]]:
    """Every job the cluster knows (MinJobAge keeps finished ones): id, state, comment, GRES."""
    output = cluster.run("squeue", "--noheader", "--states=all", "--format=%i|%T|%k|%b")
    return [dict(zip(["id", "state", "comment", "gres"], line.split("|"))) for line in output.splitlines()]


def test_slurm_run_submits_every_job_and_matches_a_local_run(
    cluster: SlurmCluster, finished_run: Path, tiny_config: dict, tmp_path: Path
) -> None:
    write_config(tmp_path, tiny_config)
    planned = planned_jobs(tmp_path, *TARGETS)
    remote = Counter({rule: count for rule, count in planned.items() if rule not in LOCAL_RULES})
    started = time.perf_counter()
    result = run_on_slurm(cluster, tmp_path)
    submitted = SUBMITTED.findall(result.stderr)
    print(
        f"\nSLURM run: {len(submitted)} sbatch jobs, {time.perf_counter() - started:.0f} s wall",
        file=sys.stderr,
    )

    jobs = slurm_jobs(cluster)
    assert len(submitted) == sum(remote.values()) and sum(remote.values()) > 0
    assert sorted(slurm_id for _, slurm_id in submitted) == sorted(job["id"] for job in jobs)
    assert {job["state"] for job in jobs} == {"COMPLETED"}
    assert Counter(re.match(r"rule_(\w+?)(_wildcards_|$)", job["comment"]).group(1) for job in jobs) == remote
    assert {job["gres"] for job in jobs} == {"N/A"}, "device: cpu must request no GPU"
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / TARGETS[1]), pd.read_parquet(finished_run / TARGETS[1]), check_exact=True
    )
    assert (tmp_path / TARGETS[0]).read_bytes() == (finished_run / TARGETS[0]).read_bytes()
