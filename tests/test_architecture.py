"""The library's shape: no import cycles, modules of a readable size, self-contained docs.

The import graph is read from the source (module-level and function-level imports alike), so a
cycle hidden behind an import inside a function is found too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "camrobust"
PACKAGE = "camrobust"
#: Lines above which a module states why it is one module (a sentence in its docstring with "lines").
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """camrobust modules ``path`` imports anywhere (``from camrobust.x import y`` counts
    ``camrobust.x.y`` when that is a module, else ``camrobust.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in known else node.module for name in names]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] == PACKAGE and name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported_modules(path, known) - {name} for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def without_package_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without edges from a module to the packages containing it: importing
    ``camrobust.cams.gradcam`` runs ``camrobust/cams/__init__.py`` first, which is not a cycle
    of the module's making when ``__init__`` re-exports it."""
    return {name: {t for t in targets if not name.startswith(f"{t}.")} for name, targets in graph.items()}


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(without_package_parents(import_graph())) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_modules_stay_readable() -> None:
    long = {}
    for name, path in modules().items():
        lines = path.read_text().count("\n")
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and "lines" not in docstring:
            long[name] = lines
    assert long == {}, f"modules over {MAX_LINES} lines without a reason in their docstring"


@pytest.mark.parametrize("folder", ["src", "workflow_scripts", "rules", "report", "README.md", "docs"])
def test_the_project_cites_no_document_it_does_not_ship(folder: str) -> None:
    root = SOURCE.parents[1] / folder
    files = (
        [root]
        if root.is_file()
        else [p for p in root.rglob("*") if p.is_file() and p.suffix in {".py", ".smk", ".rst", ".md", ".yaml"}]
    )
    cited = [str(p) for p in files if re.search(r"\bSPEC\b", p.read_text())]
    assert cited == []
