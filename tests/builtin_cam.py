"""A copy of the camrobust package with one more built-in CAM method, added the documented way:
one module ``cams/<name>.py`` and one ``Cam`` line in ``registry.py``. Tests run the copy in a
subprocess (first on PYTHONPATH) to check that nothing else is needed, without touching src/."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tests.workflow import REPO

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


def package_with_cam(
    dest: Path, name: str, source: str = LAYERCAM_TWIN, family: str = "gradient", label: str | None = None
) -> Path:
    """Copy src/camrobust to ``dest/camrobust``, write ``cams/<name>.py`` (``source``, with
    ``{name}`` filled in) and append ``Cam(name, label, family)`` to ``registry.CAMS``. Returns
    ``dest``, the directory to put first on PYTHONPATH (see :func:`pythonpath`)."""
    package = dest / "camrobust"
    shutil.copytree(REPO / "src" / "camrobust", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "cams" / f"{name}.py").write_text(source.replace("{name}", name))
    registry = package / "registry.py"
    text = registry.read_text()
    match = _CAMS_TUPLE.search(text)
    assert match is not None, "registry.py: CAMS = (Cam(...), ...) not found"
    line = f"    Cam({name!r}, {label or name!r}, {family!r}),\n"
    registry.write_text(text[: match.end()] + line + text[match.end() :])
    return dest


def pythonpath(first: Path) -> dict[str, str]:
    """The environment with ``first`` at the front of PYTHONPATH (and the repository after it,
    for the tests package)."""
    rest = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(first), *filter(None, rest)])}
