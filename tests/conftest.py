"""Shared fixtures: one finished workflow run on the tiny config, reused by the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

from tests.workflow import REPO, snakemake, write_config


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, tiny_config: dict) -> Path:
    """Working directory of a complete run of the tiny config, report included."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    write_config(workdir, tiny_config)
    snakemake(workdir)
    snakemake(workdir, "--report", "results/report.html")
    return workdir


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run a module's torch code on one thread (small tensors: threads only add contention)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
