"""A throw-away single-node SLURM cluster on localhost, for the SLURM integration test.

munged, slurmctld and slurmd run as root from a private directory: their own munge key and
socket, and a slurm.conf that clients find through ``SLURM_CONF``, so a system-wide SLURM or
munge setup is neither used nor changed. No accounting database: job status comes from squeue.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

COMMANDS = (
    "munged",
    "mungekey",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
    "srun",
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PACKAGES = ["slurm-wlm", "munge"]


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be installed or started here; the message says why."""


@dataclass
class SlurmCluster:
    """A running cluster: its directory, the environment its clients need, and its daemons."""

    root: Path
    env: dict[str, str]
    node_cpus: int
    node_memory_mb: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def run(self, *command: str, check: bool = True, timeout: float = 30) -> str:
        """Run a SLURM client command (sinfo, squeue, scancel, ...) against this cluster."""
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
        return result.stdout

    def log(self, daemon: str) -> str:
        """The log file of ``daemon`` (munged, slurmctld or slurmd)."""
        path = self.root / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _executable(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + SYSTEM_PATH)


def ensure_slurm_installed() -> None:
    """Install Debian's slurm-wlm and munge when a daemon is missing (root only)."""
    if all(_executable(name) for name in COMMANDS):
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable("slurmctld/slurmd/munged are not installed and installing them needs root")
    if not _executable("apt-get"):
        raise SlurmUnavailable("slurmctld/slurmd/munged are not installed and there is no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            raise SlurmUnavailable(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    missing = [name for name in COMMANDS if not _executable(name)]
    if missing:
        raise SlurmUnavailable(f"still missing after installing {PACKAGES}: {missing}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _node_hardware() -> tuple[int, int]:
    """(CPUs, RealMemory in MB) as slurmd detects them (``slurmd -C``)."""
    command = [_executable("slurmd"), "-C"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout
    cpus = re.search(r"CPUs=(\d+)", output)
    memory = re.search(r"RealMemory=(\d+)", output)
    if not cpus or not memory:
        raise SlurmUnavailable(f"cannot read the node's CPUs and memory from `slurmd -C`: {output!r}")
    return int(cpus.group(1)), int(memory.group(1))


def slurm_conf(
    root: Path, cpus: int, memory_mb: int, ctld_port: int, slurmd_port: int, *, overrides: bool = False
) -> str:
    """slurm.conf for one node, ``localhost``: no cgroups, no accounting, everything under ``root``.

    Memory is not a consumable resource (CR_Core), so a job's --mem is only checked against the
    node's RealMemory and the CPUs alone decide how many jobs run at once. ``overrides`` lets the
    node announce more CPUs or memory than it has (slurmd's config_overrides): cluster-sized --mem
    requests are accepted (nothing enforces them without cgroups), and more jobs share the cores.
    MinJobAge keeps finished jobs in squeue for an hour, long enough to check a whole run.
    """
    return "\n".join(
        [
            "ClusterName=camrobust-test",
            "SlurmctldHost=localhost",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={root / 'munge' / 'munge.socket'}",
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'slurmd.pid'}",
            f"SlurmctldLogFile={root / 'slurmctld.log'}",
            f"SlurmdLogFile={root / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MinJobAge=3600",
            *(["SlurmdParameters=config_overrides"] if overrides else []),
            "ReturnToService=2",
            "InactiveLimit=0",
            "KillWait=5",
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
            "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


def _wait_for(condition, what: str, timeout: float, cluster: SlurmCluster | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if cluster is not None:
            dead = [name for name, process in cluster.processes.items() if process.poll() is not None]
            if dead:
                logs = "\n".join(f"--- {name}.log\n{cluster.log(name)[-3000:]}" for name in dead)
                raise SlurmUnavailable(f"{dead} exited while waiting for {what}:\n{logs}")
        time.sleep(0.5)
    raise SlurmUnavailable(f"timed out after {timeout:.0f} s waiting for {what}")


def _srun_wrapper(root: Path, conf: Path) -> Path:
    """A directory with an ``srun`` that sets SLURM_CONF, to put first on PATH.

    snakemake-executor-plugin-slurm-jobstep (0.6) removes every SLURM_* variable, SLURM_CONF
    included, before it starts a job's step with srun; that srun would then look for
    /etc/slurm/slurm.conf, which this cluster leaves alone.
    """
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "srun"
    wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec {_executable("srun")} "$@"\n')
    wrapper.chmod(0o755)
    return bin_dir


def _start(cluster: SlurmCluster, name: str, command: list[str]) -> None:
    with open(cluster.root / f"{name}.stdout", "wb") as output:
        cluster.processes[name] = subprocess.Popen(
            command, env=cluster.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def _node_idle(cluster: SlurmCluster) -> bool:
    states = cluster.run("sinfo", "--noheader", "--Node", "--format=%N %t", check=False).split()
    return states == ["localhost", "idle"]


def _stop(cluster: SlurmCluster) -> None:
    """Cancel what is still queued, then stop the daemons this cluster started (by their pid)."""
    if "slurmctld" in cluster.processes and cluster.processes["slurmctld"].poll() is None:
        cluster.run("scancel", "--user", "root", check=False)
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline and cluster.run("squeue", "--noheader", "--states=R,CG,PD", check=False).strip()
        ):
            time.sleep(0.5)
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.processes.get(name)
        if process is None or process.poll() is not None:
            continue
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def slurm_cluster(root: Path, claimed_cpus: int = 0, claimed_memory_mb: int = 0) -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd under ``root``; stop them on exit, also on errors.

    The node has the machine's CPUs and memory, or ``claimed_cpus`` / ``claimed_memory_mb`` where
    those are more.
    """
    ensure_slurm_installed()
    if os.geteuid() != 0:
        raise SlurmUnavailable("the test cluster's daemons run as root (SlurmUser=root)")
    for sub in ("munge", "state", "spool"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(root / "munge", 0o700)
    detected_cpus, detected_memory_mb = _node_hardware()
    cpus, memory_mb = max(detected_cpus, claimed_cpus), max(detected_memory_mb, claimed_memory_mb)
    overrides = (cpus, memory_mb) != (detected_cpus, detected_memory_mb)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, cpus, memory_mb, _free_port(), _free_port(), overrides=overrides))
    path = os.pathsep.join([str(_srun_wrapper(root, conf)), os.environ.get("PATH", ""), SYSTEM_PATH])
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": path}
    cluster = SlurmCluster(root=root, env=env, node_cpus=cpus, node_memory_mb=memory_mb)
    key = root / "munge" / "munge.key"
    try:
        subprocess.run([_executable("mungekey"), "--create", f"--keyfile={key}"], check=True, timeout=30)
        socket_path = root / "munge" / "munge.socket"
        _start(
            cluster,
            "munged",
            [
                _executable("munged"),
                "--foreground",
                "--force",
                f"--socket={socket_path}",
                f"--key-file={key}",
                f"--pid-file={root / 'munge' / 'munged.pid'}",
                f"--log-file={root / 'munged.log'}",
                f"--seed-file={root / 'munge' / 'munged.seed'}",
            ],
        )
        _wait_for(socket_path.exists, "munged's socket", 30, cluster)
        _start(cluster, "slurmctld", [_executable("slurmctld"), "-D", "-i", "-f", str(conf)])
        _wait_for(lambda: cluster.run("scontrol", "ping", check=False).count("UP") > 0, "slurmctld", 60, cluster)
        _start(cluster, "slurmd", [_executable("slurmd"), "-D", "-N", "localhost", "-f", str(conf)])
        _wait_for(lambda: _node_idle(cluster), "node localhost to be idle", 90, cluster)
        yield cluster
    finally:
        _stop(cluster)
