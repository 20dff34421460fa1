"""A throw-away copy of the camrobust package, to show what a change to it takes without editing
the source tree: copy it, edit the copy, run Python with the copy first on its path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "camrobust"


def copy_package(tmp_path: Path) -> Path:
    """Copy ``src/camrobust`` (without bytecode caches) to ``tmp_path/src/camrobust``; returns
    ``tmp_path/src``, the folder to put first on ``PYTHONPATH``."""
    source_root = tmp_path / "src"
    shutil.copytree(PACKAGE, source_root / "camrobust", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return source_root


def run_with_copy(source_root: Path, code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh Python whose ``camrobust`` is the copy under ``source_root`` (checked
    before ``code`` runs); the output is captured, and a failure raises with it."""
    guard = (
        "import camrobust, pathlib\n"
        f"assert pathlib.Path(camrobust.__file__).is_relative_to({str(source_root)!r}), camrobust.__file__\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source_root), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", guard + code], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"python with the copied package failed:\n{result.stdout}\n{result.stderr}")
    return result
