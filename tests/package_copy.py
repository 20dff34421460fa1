"""A throw-away copy of the camrobust package, to show what a change to it takes without editing
the source tree: copy it, edit the copy, run Python with the copy first on its path."""

from __future__ import annotations

import os
import re
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
    result = subprocess.run(
        [sys.executable, "-c", guard + code],
        env=environment_with_copy(source_root),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"python with the copied package failed:\n{result.stdout}\n{result.stderr}")
    return result


# Same formula as LayerCAM, so its maps can be checked against LayerCAM's; CALLS shows it ran.
LAYERCAM_TWIN = '''"""Throw-away test method: LayerCAM's formula under another name."""

from __future__ import annotations

from torch import Tensor

CALLS: list[int] = []


def {name}(a: Tensor, g: Tensor) -> Tensor:
    """sum_c relu(g_c) * A_c."""
    CALLS.append(len(a))
    return (g.relu() * a).sum(1)
'''

_CAMS_TUPLE = re.compile(r"^CAMS: tuple\[Cam, \.\.\.\] = \(\n(?:    Cam\(.*\),\n)+", re.MULTILINE)


def add_cam(source_root: Path, name: str, *, source: str = LAYERCAM_TWIN, family: str = "gradient") -> None:
    """Add a built-in CAM method to the copy the documented way: ONE module ``cams/<name>.py``
    (``source`` with ``{name}`` filled in) and ONE ``Cam(name, name, family)`` line at the end of
    ``registry.CAMS``."""
    package = source_root / "camrobust"
    (package / "cams" / f"{name}.py").write_text(source.replace("{name}", name))
    registry = package / "registry.py"
    text = registry.read_text()
    match = _CAMS_TUPLE.search(text)
    assert match is not None, "registry.py: CAMS = (Cam(...), ...) not found"
    registry.write_text(text[: match.end()] + f"    Cam({name!r}, {name!r}, {family!r}),\n" + text[match.end() :])


def environment_with_copy(source_root: Path) -> dict[str, str]:
    """This process's environment with the copy first on ``PYTHONPATH`` (for a subprocess, e.g. Snakemake)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(source_root), os.environ.get("PYTHONPATH", "")])}
