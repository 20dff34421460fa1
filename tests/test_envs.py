"""Conda envs, checked statically: each rule's env provides what its script imports, through camrobust too.

conda-forge cannot be reached from the test machines, so the envs are not built here. Instead the
imports a script can execute are collected from the source: the script's own imports, and for
every camrobust function it calls, the imports of that function's module, the imports inside the
function, and recursively the camrobust functions it calls. A function a package re-exports is
followed to the module that defines it, and a module's imports include those of the packages
above it (importing ``camrobust.plots.style`` runs ``camrobust/plots/__init__.py``). Every
third-party module found must come from a package pinned in the rule's env.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src" / "camrobust"

# import name -> conda-forge packages that provide it
CONDA_PACKAGES: dict[str, set[str]] = {
    "torch": {"pytorch", "pytorch-cpu"},
    "torchvision": {"torchvision"},
    "numpy": {"numpy"},
    "numba": {"numba"},
    "scipy": {"scipy"},
    "skimage": {"scikit-image"},
    "pandas": {"pandas"},
    "pyarrow": {"pyarrow"},
    "zarr": {"zarr"},
    "numcodecs": {"numcodecs"},
    "google_crc32c": {"google-crc32c"},
    "xarray": {"xarray"},
    "pingouin": {"pingouin"},
    "scikit_posthocs": {"scikit-posthocs"},
    "matplotlib": {"matplotlib-base", "matplotlib"},
    "PIL": {"pillow"},
    "tqdm": {"tqdm"},
    "yaml": {"pyyaml"},
    "jsonschema": {"jsonschema"},
}
# conda package -> its name on PyPI, where pyproject.toml states the supported range
PYPI_NAMES = {"pytorch": "torch", "pytorch-cpu": "torch", "matplotlib-base": "matplotlib"}
PARQUET_CALLS = re.compile(r"\b(read_parquet|to_parquet)\b")


@dataclass
class Imports:
    """Third-party top-level modules and camrobust modules imported somewhere."""

    external: set[str] = field(default_factory=set)
    internal: set[str] = field(default_factory=set)

    def add(self, module: str) -> None:
        top = module.split(".")[0]
        if module.startswith("camrobust.") or module == "camrobust":
            self.internal.add(module)
        elif top not in sys.stdlib_module_names and top != "__future__":
            self.external.add(top)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _import_nodes(body: list[ast.stmt], nested: bool) -> list[ast.Import | ast.ImportFrom]:
    """Import statements of a body and its blocks (not TYPE_CHECKING); ``nested`` also enters functions."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if _is_type_checking(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not nested:
            continue
        for block_name in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(node, block_name, None)
            if isinstance(block, list):
                found.extend(_import_nodes(block, nested))
    return found


def _source(module: str) -> Path | None:
    """File of a camrobust module: ``camrobust/a/b.py``, or ``camrobust/a/b/__init__.py`` for a
    package; None where ``module`` names no camrobust module."""
    top, *parts = module.split(".")
    if top != "camrobust":
        return None
    candidates = [SOURCE.joinpath(*parts, "__init__.py")]
    if parts:
        candidates.append(SOURCE.joinpath(*parts[:-1], f"{parts[-1]}.py"))
    return next((path for path in candidates if path.is_file()), None)


def _record(nodes: list[ast.Import | ast.ImportFrom], imports: Imports, aliases: dict[str, str]) -> None:
    for node in nodes:
        if isinstance(node, ast.Import):
            for name in node.names:
                imports.add(name.name)
                aliases[name.asname or name.name.split(".")[0]] = name.name
        elif node.level:
            raise AssertionError(
                f"relative import of {node.module!r}: the scan follows absolute camrobust imports only"
            )
        elif node.module is not None:
            for name in node.names:
                # `from package import x` gives the package's attribute x where its __init__ binds
                # one (a re-exported function of a module named x too), else the submodule x
                submodule = f"{node.module}.{name.name}"
                is_module = _source(submodule) is not None and name.name not in _bound(node.module)
                imported = submodule if is_module else node.module
                imports.add(imported)
                aliases[name.asname or name.name] = imported


@cache
def _module(name: str) -> ast.Module:
    source = _source(name)
    assert source is not None, f"no source for {name}"
    return ast.parse(source.read_text())


@cache
def _reexports(name: str) -> dict[str, tuple[str, str]]:
    """Names a camrobust module binds at top level by importing them from another camrobust
    module (a package's re-exports): name -> (that module, its name there)."""
    found = {}
    for node in _import_nodes(_module(name).body, nested=False) if _source(name) else []:
        if isinstance(node, ast.ImportFrom) and node.module and _source(node.module) and not node.level:
            for alias in node.names:
                if _source(f"{node.module}.{alias.name}") is None:
                    found[alias.asname or alias.name] = (node.module, alias.name)
    return found


def _bound(name: str) -> set[str]:
    """Functions a camrobust module defines or re-exports at top level."""
    return set(_functions(name)) | set(_reexports(name)) if _source(name) else set()


def _definition(module: str, name: str) -> tuple[str, str]:
    """The (module, function) that defines ``module.name``, through re-exports."""
    seen = set()
    while name not in _functions(module) and name in _reexports(module) and (module, name) not in seen:
        seen.add((module, name))
        module, name = _reexports(module)[name]
    return module, name


@cache
def _module_level(name: str) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, str], ...]]:
    """(external, internal, aliases) of a camrobust module's top-level imports, closed over camrobust.

    Importing ``camrobust.a.b`` runs the packages ``camrobust`` and ``camrobust.a`` first: their
    top-level imports count too (a package and its modules import each other, so the closure is
    walked, not recursed)."""
    closure, external, pending = set(), set(), [name]
    while pending:
        module = pending.pop()
        if module in closure:
            continue
        closure.add(module)
        imports = Imports()
        _record(_import_nodes(_module(module).body, nested=False), imports, {})
        external |= imports.external
        parents = [".".join(module.split(".")[:depth]) for depth in range(1, module.count(".") + 1)]
        pending += [*imports.internal, *parents]
    aliases: dict[str, str] = {}
    _record(_import_nodes(_module(name).body, nested=False), Imports(), aliases)
    return frozenset(external), frozenset(closure), tuple(aliases.items())


def _functions(name: str) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in _module(name).body if isinstance(n, ast.FunctionDef)}


@cache
def _module_tables(name: str) -> dict[str, frozenset[str]]:
    """Module-level names bound to values that refer to the module's functions (dispatch tables)."""
    functions = _functions(name)
    tables = {}
    for node in _module(name).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            referred = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name) and n.id in functions}
            for target in targets:
                if isinstance(target, ast.Name) and referred:
                    tables[target.id] = frozenset(referred)
    return tables


def _called(body: ast.AST, aliases: dict[str, str], module: str) -> set[tuple[str, str]]:
    """(camrobust module, function) pairs ``body`` can call: ``alias.f``, local ``f`` (called or
    passed on), the functions of the module's dispatch tables it reads, and every function a
    module defines or re-exports where it is looked up by a computed name (``getattr(alias, name)``)."""
    calls = set()
    local = _functions(module) if module else {}
    tables = _module_tables(module) if module else {}
    for node in ast.walk(body):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and isinstance(node.args[0], ast.Name)
            and not isinstance(node.args[1], ast.Constant)
        ):
            target = aliases.get(node.args[0].id, "")
            if _source(target):
                calls |= {(target, function) for function in _bound(target)}
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = aliases.get(node.value.id, "")
            if _source(target):
                calls.add((target, node.attr))
        elif isinstance(node, ast.Name):
            if node.id in local:
                calls.add((module, node.id))
            calls |= {(module, function) for function in tables.get(node.id, ())}
            target = aliases.get(node.id, "")
            if _source(target):
                calls.add((target, node.id))
    return calls


def script_imports(script: Path) -> tuple[Imports, bool]:
    """Everything a workflow script can import when it runs, and whether it touches Parquet files."""
    tree = ast.parse(script.read_text())
    imports, aliases = Imports(), {}
    _record(_import_nodes(tree.body, nested=True), imports, aliases)
    parquet = bool(PARQUET_CALLS.search(script.read_text()))
    pending = _called(tree, aliases, "")
    for internal in list(imports.internal):
        external, more, _ = _module_level(internal)
        imports.external |= external
        imports.internal |= more
    seen: set[tuple[str, str]] = set()
    while pending:
        module, function = _definition(*pending.pop())
        if (module, function) in seen or function not in _functions(module):
            continue
        seen.add((module, function))
        external, internal, module_aliases = _module_level(module)
        imports.external |= external
        imports.internal |= internal
        node = _functions(module)[function]
        local_aliases = dict(module_aliases)
        body_imports = Imports()
        _record(_import_nodes(node.body, nested=True), body_imports, local_aliases)
        imports.external |= body_imports.external
        for used in body_imports.internal:
            external, more, _ = _module_level(used)
            imports.external |= external
            imports.internal |= more
        parquet |= bool(PARQUET_CALLS.search(ast.unparse(node)))
        pending |= _called(node, local_aliases, module)
    return imports, parquet


def rule_envs() -> dict[str, tuple[str, str]]:
    """Rule name -> (env file, script file), read from rules/*.smk."""
    rules = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            name = re.match(r"rule (\w+):", block.strip())
            script = re.search(r'script:\s*"\.\./(workflow_scripts/[\w.]+)"', block)
            if name and script:
                env = re.search(r'conda:\s*"\.\./(envs/[\w.]+)"', block)
                rules[name.group(1)] = (env.group(1) if env else "", script.group(1))
    return rules


def env_packages(env: str) -> dict[str, str]:
    """Conda package -> pinned version of an env file."""
    spec = yaml.safe_load((REPO / env).read_text())
    pins = {}
    for entry in spec["dependencies"]:
        assert isinstance(entry, str), f"{env}: only conda packages expected, got {entry!r}"
        package, _, version = entry.partition("=")
        pins[package.strip()] = version.strip()
    return pins


RULES = rule_envs()


def test_every_scripted_rule_has_an_env() -> None:
    assert len(RULES) >= 20
    assert {rule: env for rule, (env, _) in RULES.items() if not env} == {}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_env_provides_what_the_script_imports(rule: str) -> None:
    env, script = RULES[rule]
    imports, parquet = script_imports(REPO / script)
    needed = imports.external | ({"pyarrow"} if parquet else set())
    unknown = needed - set(CONDA_PACKAGES)
    assert not unknown, f"{script} imports {sorted(unknown)}: add the conda package to CONDA_PACKAGES"
    provided = set(env_packages(env))
    missing = sorted(name for name in needed if not CONDA_PACKAGES[name] & provided)
    assert not missing, f"rule {rule}: {env} lacks {missing}, imported by {script} through {sorted(imports.internal)}"


def test_import_scan_follows_calls_into_the_library() -> None:
    """The scan sees the imports inside the library functions a script calls, and only theirs."""
    imports, parquet = script_imports(REPO / "workflow_scripts" / "plot_critical_difference.py")
    assert {"scikit_posthocs", "matplotlib", "pandas"} <= imports.external and parquet
    assert "pingouin" not in imports.external  # the diagrams call no pingouin test
    imports, _ = script_imports(REPO / "workflow_scripts" / "statistical_tests.py")
    assert "pingouin" in imports.external
    imports, _ = script_imports(REPO / "workflow_scripts" / "prepare_model.py")
    assert {"torch", "torchvision", "zarr"} <= imports.external
    imports, _ = script_imports(REPO / "workflow_scripts" / "stage_images.py")
    assert "torchvision" in imports.external  # Imagenette and CIFAR-10, behind a dispatch table


def test_import_scan_follows_packages_and_their_re_exports() -> None:
    """A function a package re-exports is scanned where it is defined; importing a module of a
    package runs the package's ``__init__`` too."""
    assert _definition("camrobust.plots", "ranking_agreement") == (
        "camrobust.plots.ranking_agreement",
        "ranking_agreement",
    )
    imports, _ = script_imports(REPO / "workflow_scripts" / "plot_summary.py")
    assert "scipy" in imports.external  # imported inside ranking_agreement only, reached by getattr(plots, ...)
    assert "camrobust.plots.ranking_agreement" in imports.internal
    external, internal, _ = _module_level("camrobust.plots.style")
    assert {"camrobust", "camrobust.plots", "camrobust.plots.cam_overlays"} <= internal
    assert "skimage" in external  # through the package __init__, which imports the overlay module


@pytest.mark.parametrize("env", sorted({env for env, _ in RULES.values()}))
def test_env_versions_are_pinned_within_the_supported_ranges(env: str) -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    ranges = {Requirement(d).name.lower(): Requirement(d).specifier for d in dependencies}
    for package, version in env_packages(env).items():
        assert re.fullmatch(r"\d+(\.\d+)*", version), f"{env}: {package} is not pinned to one version ({version!r})"
        name = PYPI_NAMES.get(package, package)
        if name in ranges:
            assert Version(version) in ranges[name], f"{env}: {package} {version} outside pyproject's {ranges[name]}"
