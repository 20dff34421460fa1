"""A non-editable install: the package carries what it needs (the config schema is package data),
so a wheel validates a config and runs the workflow from any directory, without the source tree."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflow import REPO, workflow_command, write_config


def installed_environment(tmp_path: Path) -> Path:
    """A new virtual environment with camrobust installed from a wheel built from a copy of the
    project (src/, pyproject.toml, README.md, LICENSE); its third-party packages are this
    environment's, through a .pth file (the .pth files of this environment, e.g. an editable
    camrobust, are not read from there). Returns its python."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, project / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    Path(purelib, "third_party.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(project)],
        check=True,
        capture_output=True,
    )
    return python


def clean_environment() -> dict[str, str]:
    """This environment without PYTHONPATH, so that nothing reaches the source tree."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


@pytest.mark.workflow
def test_a_wheel_validates_and_runs_the_tiny_config_from_another_directory(tmp_path: Path, tiny_config: dict) -> None:
    python = installed_environment(tmp_path)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    config = write_config(workdir, {**tiny_config, "cams": ["gradcam"], "noises": {"gaussian_noise": [1]}})
    check = (
        "import sys, camrobust\n"
        "from camrobust.config import load_config\n"
        "assert 'site-packages' in camrobust.__file__, camrobust.__file__\n"
        f"assert load_config({str(config)!r})['metric']['rbo_p'] == 0.9\n"
        "print(camrobust.__version__)\n"
    )
    shown = subprocess.run([python, "-c", check], cwd=workdir, env=clean_environment(), capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "0.1.0"
    command = [str(python), *workflow_command(workdir, "results/summary/robustness.csv")[1:]]
    run = subprocess.run(command, cwd=workdir, env=clean_environment(), capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert (workdir / "results/summary/robustness.csv").read_text().startswith("dataset,model,cam,noise,severity")
