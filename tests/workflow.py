"""Running the Snakemake workflow from tests: in a scratch directory, on a given config."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def write_config(workdir: Path, config: dict, name: str = "config.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def workflow_command(workdir: Path, *args: str, config: str = "config.yaml") -> list[str]:
    """Command line running the repository's workflow in ``workdir`` on ``workdir/config``."""
    return [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / config),
        "--workflow-profile",
        str(REPO / "profiles" / "local"),
        "--cores",
        "2",
        *args,
    ]


def snakemake(
    workdir: Path,
    *args: str,
    config: str = "config.yaml",
    check: bool = True,
    timeout: float = 900,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the workflow (see :func:`workflow_command`), in ``env`` when given (default: this
    process's environment); a failure shows Snakemake's output."""
    command = workflow_command(workdir, *args, config=config)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=None if env is None else dict(env)
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def job_stats(dry_run_output: str) -> Counter[str]:
    """Rule -> number of jobs in a dry run's job table (empty when there is nothing to do)."""
    counts: Counter[str] = Counter()
    table = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\ntotal", dry_run_output, re.S)
    if table:
        for line in table.group(1).splitlines():
            rule, count = line.split()
            counts[rule] = int(count)
    elif "Nothing to be done" not in dry_run_output:
        raise AssertionError(f"cannot read the dry run's job list:\n{dry_run_output[-4000:]}")
    return counts


def planned_jobs(
    workdir: Path, *args: str, config: str = "config.yaml", env: Mapping[str, str] | None = None
) -> Counter[str]:
    """Rule -> number of jobs a dry run would execute (empty when there is nothing to do)."""
    result = snakemake(workdir, "--dry-run", *args, config=config, env=env)
    return job_stats(result.stdout + result.stderr)
