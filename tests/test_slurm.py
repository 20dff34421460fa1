"""profiles/slurm: its group jobs, planned by dry runs, and the tiny workflow on a real SLURM.

The profile bundles most jobs into group jobs (one sbatch submission each). A dry run through the
profile plans the submissions; the real run on a single-node SLURM cluster (localhost) must submit
exactly those, sized as planned (the members' summed runtimes, their largest memory), run each
group's members one after another, and compute what the local run of the same config
(conftest's ``finished_run``) computes: jobs keep the rules' thread counts in both, so torch
computes the same numbers. The cluster test needs root (it installs and starts SLURM); without
root it is skipped.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.slurm_cluster import SlurmCluster, slurm_cluster
from tests.workflow import REPO, SNAKEMAKE, job_stats, write_config

pytestmark = pytest.mark.workflow

PROFILE = REPO / "profiles" / "slurm"
TARGETS = ["results/summary/robustness.csv", "results/summary/scores.parquet"]
SUBMITTED = re.compile(r"Job \S+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
# A dry run prints a single job as "rule <name>:" and a group job as a "Group job <group>" line
# followed by its members, indented; each job's details follow as "    <key>: <value>" lines.
GROUP_JOB = re.compile(r"^(?:\[[^\]]*\] )?Group job (\S+) ")
SINGLE_JOB = re.compile(r"^rule (\w+):$")
MEMBER_JOB = re.compile(r"^    rule (\w+):$")
JOB_DETAIL = re.compile(r"^\s+(input|output|resources): (.*)$")
MAX_PAPER_SUBMISSIONS = 150


def profile_settings() -> dict:
    return yaml.safe_load((PROFILE / "config.v8+.yaml").read_text())


def local_rules() -> set[str]:
    """The rules the Snakefile's ``localrules`` directive names."""
    block = re.search(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", (REPO / "Snakefile").read_text(), re.M)
    assert block, "the Snakefile has no localrules directive"
    return {name.strip(" \t,") for name in block.group(1).splitlines()}


@dataclass
class PlannedJob:
    rule: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    resources: dict[str, str] = field(default_factory=dict)


@dataclass
class Submission:
    """One planned sbatch job: a group job (``name`` is its group) or a single job (its rule)."""

    name: str
    jobs: list[PlannedJob] = field(default_factory=list)

    @property
    def runtime(self) -> int:
        """Minutes to ask for: the members run one after another inside the allocation."""
        return sum(int(job.resources["runtime"]) for job in self.jobs)

    @property
    def mem_mb(self) -> int:
        return max(int(job.resources["mem_mb"]) for job in self.jobs)


def plan_submissions(dry_run_output: str, local: set[str]) -> list[Submission]:
    """The sbatch submissions a dry run through profiles/slurm lists: its group jobs and its
    single jobs less those of the local rules, each with its jobs' files and resources."""
    submissions: list[Submission] = []
    job: PlannedJob | None = None
    for line in dry_run_output.splitlines():
        if group := GROUP_JOB.match(line):
            submissions.append(Submission(group.group(1)))
            job = None
        elif single := SINGLE_JOB.match(line):
            job = None if single.group(1) in local else PlannedJob(single.group(1))
            if job is not None:
                submissions.append(Submission(job.rule, [job]))
        elif member := MEMBER_JOB.match(line):
            job = PlannedJob(member.group(1))
            submissions[-1].jobs.append(job)
        elif (detail := JOB_DETAIL.match(line)) and job is not None:
            key, value = detail.groups()
            if key == "resources":
                job.resources = dict(item.split("=", 1) for item in value.split(", "))
            else:
                getattr(job, f"{key}s").extend(value.split(", "))
    return submissions


def predicted_group_jobs(submissions: list[Submission], settings: dict) -> Counter[str]:
    """Group -> number of group jobs the profile's settings make of the planned jobs.

    Jobs of one group linked by a file (one's output is the other's input) form a component;
    a group job holds ``group-components`` of a group's components (1 unless set).
    """
    groups = settings["groups"]
    jobs = [job for submission in submissions for job in submission.jobs if job.rule in groups]
    component = list(range(len(jobs)))

    def root(index: int) -> int:
        while component[index] != index:
            index = component[index]
        return index

    producer = {(groups[job.rule], path): index for index, job in enumerate(jobs) for path in job.outputs}
    for index, job in enumerate(jobs):
        for path in job.inputs:
            if (groups[job.rule], path) in producer:
                component[root(index)] = root(producer[groups[job.rule], path])
    components = Counter(groups[jobs[index].rule] for index in {root(index) for index in range(len(jobs))})
    per_job = settings.get("group-components", {})
    return Counter({group: math.ceil(count / per_job.get(group, 1)) for group, count in components.items()})


def dry_run_through_profile(workdir: Path, *args: str, config: str = "config.yaml") -> str:
    """The output of a dry run of the command that submits the workflow through profiles/slurm."""
    command = [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(PROFILE),
        "--configfile",
        str(workdir / config),
        "--dry-run",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"dry run through profiles/slurm failed:\n{output[-6000:]}")
    return output


def log_folder(slurm_log: str) -> str:
    """The folder under .snakemake/slurm_logs/: group_<group>_<rules> or rule_<rule>."""
    parts = Path(slurm_log).parts
    return parts[parts.index("slurm_logs") + 1]


def submitted_name(slurm_log: str, groups: set[str]) -> str:
    """Group or rule of a submission, from its SLURM log folder."""
    kind, name = log_folder(slurm_log).split("_", 1)
    if kind == "rule":
        return name
    return max((group for group in groups if name == group or name.startswith(f"{group}_")), key=len)


def minutes(time_limit: str) -> int:
    """squeue's time limit, [D-]HH:MM:SS or MM:SS, in minutes."""
    days, _, clock = time_limit.rpartition("-")
    fields = [int(part) for part in clock.split(":")]
    while len(fields) < 3:
        fields.insert(0, 0)
    hours, mins, seconds = fields
    return (int(days or 0) * 24 + hours) * 60 + mins + math.ceil(seconds / 60)


def megabytes(memory: str) -> int:
    """squeue's minimum memory (e.g. 16000M or 16G) in MB."""
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    return round(float(memory[:-1]) * scale[memory[-1]])


def largest_memory_request(settings: dict) -> int:
    """The largest mem_mb the profile asks for, in the last attempt its retries allow."""
    last_attempt = settings.get("retries", 0) + 1
    requests = [settings["default-resources"]["mem_mb"]]
    requests += [resources["mem_mb"] for resources in settings["set-resources"].values() if "mem_mb" in resources]
    return max(int(eval(str(request), {"__builtins__": {}}, {"attempt": last_attempt})) for request in requests)


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
        "--slurm-keep-successful-logs",
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


def slurm_jobs(cluster: SlurmCluster) -> dict[str, dict[str, str]]:
    """Every job the cluster knows (MinJobAge keeps finished ones) by id: state, GRES, time
    limit, memory."""
    fields = ["id", "state", "gres", "time_limit", "memory"]
    output = cluster.run("squeue", "--noheader", "--states=all", "--format=%i|%T|%b|%l|%m")
    jobs = [dict(zip(fields, line.split("|"))) for line in output.splitlines()]
    return {job["id"]: job for job in jobs}


def member_runs(slurm_log: str) -> tuple[int, int]:
    """(members started, members started before the previous one finished) in a group job.

    The job step's Snakemake logs "rule <name>:" when it starts a member and "<k> of <n> steps"
    once k of its n members are done; each member's own Snakemake (started with srun) logs
    "localrule <name>:" and "1 of 1 steps" instead.
    """
    lines = Path(slurm_log).read_text(errors="replace").splitlines()
    members = sum(bool(re.match(r"^rule \w+:$", line)) for line in lines)
    started = finished = overlapping = 0
    for line in lines:
        if re.match(r"^rule \w+:$", line):
            overlapping += started > finished
            started += 1
        elif (progress := re.match(rf"^(\d+) of {members} steps", line)) and members > 1:
            finished = int(progress.group(1))
    return started, overlapping


def remote_job_count(dry_run_output: str) -> int:
    """How many of a dry run's jobs run on the cluster (all but the local rules')."""
    return sum(count for rule, count in job_stats(dry_run_output).items() if rule not in local_rules())


def test_paper_preset_plans_at_most_150_submissions(tmp_path: Path) -> None:
    (tmp_path / "data" / "imagenet" / "val").mkdir(parents=True)  # the preset's root; a dry run reads no image
    output = dry_run_through_profile(tmp_path, config=str(REPO / "presets" / "paper.yaml"))
    plan = plan_submissions(output, local_rules())
    settings = profile_settings()

    assert len(plan) <= MAX_PAPER_SUBMISSIONS < remote_job_count(output)
    members = Counter(job.rule for submission in plan for job in submission.jobs)
    assert members == job_stats(output) - Counter({rule: job_stats(output)[rule] for rule in local_rules()})
    grouped = [submission for submission in plan if submission.name in set(settings["groups"].values())]
    assert Counter(submission.name for submission in grouped) == predicted_group_jobs(plan, settings)
    assert not set(settings["groups"]) & local_rules(), "a grouped local rule is submitted"
    for submission in plan:
        gpu_jobs = {int(job.resources.get("gpu", 0)) > 0 for job in submission.jobs}
        assert len(gpu_jobs) == 1, f"{submission.name} mixes GPU and CPU jobs"


def test_adding_a_cam_submits_only_its_new_jobs(finished_run: Path, tiny_config: dict) -> None:
    write_config(finished_run, {**tiny_config, "cams": [*tiny_config["cams"], "gradcampp"]}, "plus_cam.yaml")
    output = dry_run_through_profile(finished_run, *TARGETS, config="plus_cam.yaml")
    plan = plan_submissions(output, local_rules())

    members = [job for submission in plan for job in submission.jobs]
    assert len(members) == remote_job_count(output) > 0
    scores = [path for job in members if job.rule == "score_cams" for path in job.outputs]
    assert scores and all(path.endswith("/gradcampp.parquet") for path in scores)
    # gradcampp's maps came with the features: no model pass, no CAM job
    no_new_work = {
        "predict_images",
        "extract_features",
        "gradient_cams",
        "model_cams",
        "perturb_images",
        "prepare_model",
    }
    assert not no_new_work & {job.rule for job in members}
    settings = profile_settings()
    grouped = [submission for submission in plan if submission.name in set(settings["groups"].values())]
    assert Counter(submission.name for submission in grouped) == predicted_group_jobs(plan, settings)
    assert len(plan) < len(members)


def test_slurm_run_submits_the_planned_group_jobs_and_matches_a_local_run(
    cluster: SlurmCluster, finished_run: Path, tiny_config: dict, tmp_path: Path
) -> None:
    write_config(tmp_path, tiny_config)
    output = dry_run_through_profile(tmp_path, *TARGETS)
    plan = plan_submissions(output, local_rules())
    settings = profile_settings()
    started = time.perf_counter()
    result = run_on_slurm(cluster, tmp_path)
    submitted = SUBMITTED.findall(result.stderr)
    print(
        f"\nSLURM run: {len(submitted)} sbatch jobs for {remote_job_count(output)} jobs, "
        f"{time.perf_counter() - started:.0f} s wall",
        file=sys.stderr,
    )

    grouped = [submission for submission in plan if submission.name in set(settings["groups"].values())]
    assert Counter(submission.name for submission in grouped) == predicted_group_jobs(plan, settings)
    assert 0 < len(plan) < remote_job_count(output)
    assert len(submitted) == len(plan)
    jobs = slurm_jobs(cluster)
    assert sorted(slurm_id for slurm_id, _ in submitted) == sorted(jobs)
    assert {job["state"] for job in jobs.values()} == {"COMPLETED"}
    assert {job["gres"] for job in jobs.values()} == {"N/A"}, "device: cpu must request no GPU"
    # Every planned submission was made, asking for its members' summed runtimes and largest
    # memory (on the tiny config each group's components fit one group job, or one component
    # is one group job, so the dry run bundles the jobs as the real run does).
    groups = set(settings["groups"].values())
    requests = Counter(
        (submitted_name(log, groups), minutes(jobs[slurm_id]["time_limit"]), megabytes(jobs[slurm_id]["memory"]))
        for slurm_id, log in submitted
    )
    assert requests == Counter((submission.name, submission.runtime, submission.mem_mb) for submission in plan)
    # snakemake-executor-plugin-slurm#469: a group job's members run one after another.
    runs = [
        (submitted_name(log, groups), *member_runs(log)) for _, log in submitted if log_folder(log).startswith("group_")
    ]
    assert sorted(runs) == sorted((submission.name, len(submission.jobs), 0) for submission in grouped)

    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / TARGETS[1]), pd.read_parquet(finished_run / TARGETS[1]), check_exact=True
    )
    assert (tmp_path / TARGETS[0]).read_bytes() == (finished_run / TARGETS[0]).read_bytes()
