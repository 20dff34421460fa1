"""Conda envs, checked statically: each rule's env provides what its script imports, through camrobust too.

conda-forge cannot be reached from the test machines, so the envs are not built here. Instead the
imports a script can execute are collected from the source: the script's own imports, and for
every camrobust function it calls, the imports of that function's module, the imports inside the
function, and recursively the camrobust functions it calls. Every third-party module found must
come from a package pinned in the rule's env.
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

from camrobust import registry

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
    """Third-party top-level modules and camrobust modules imported somewhere, and the camrobust
    functions (module, name) that can run."""

    external: set[str] = field(default_factory=set)
    internal: set[str] = field(default_factory=set)
    functions: set[tuple[str, str]] = field(default_factory=set)

    def add(self, module: str) -> None:
        top = module.split(".")[0]
        if module.startswith("camrobust.") or module == "camrobust":
            self.internal.add(module)
        elif top not in sys.stdlib_module_names and top != "__future__":
            self.external.add(top)


Alias = tuple[str, str | None]
"""What a local name refers to: (camrobust module, None) for the module itself, (module, name)
for a name imported from it (third-party modules appear as (module, name) too and are ignored)."""


def _source(module: str) -> Path | None:
    """The file of a camrobust module or package (``camrobust.cams`` -> ``cams/__init__.py``), or None."""
    parts = module.split(".")
    if parts[0] != "camrobust":
        return None
    base = SOURCE.joinpath(*parts[1:])
    for path in ([base.with_suffix(".py")] if len(parts) > 1 else []) + [base / "__init__.py"]:
        if path.is_file():
            return path
    return None


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


def _record(nodes: list[ast.Import | ast.ImportFrom], imports: Imports, aliases: dict[str, Alias]) -> None:
    """Add what ``nodes`` import to ``imports`` and the local names they bind to ``aliases``.
    ``from package import name`` imports the submodule ``package.name`` unless the package's
    ``__init__`` binds ``name`` itself (as Python resolves it)."""
    for node in nodes:
        if isinstance(node, ast.Import):
            for name in node.names:
                imports.add(name.name)
                bound = name.name if name.asname else name.name.split(".")[0]  # import a.b binds a
                aliases[name.asname or bound] = (bound, None)
            continue
        assert node.level == 0, f"relative import {ast.unparse(node)}: the scan follows absolute imports only"
        assert node.module is not None
        for name in node.names:
            submodule = f"{node.module}.{name.name}"
            if _source(submodule) is not None and name.name not in _top_level_names(node.module):
                imports.add(submodule)
                aliases[name.asname or name.name] = (submodule, None)
            else:
                imports.add(node.module)
                aliases[name.asname or name.name] = (node.module, name.name)


@cache
def _module(name: str) -> ast.Module:
    path = _source(name)
    assert path is not None, f"{name}: no such camrobust module"
    return ast.parse(path.read_text())


@cache
def _top_level_names(name: str) -> frozenset[str]:
    """Names a camrobust module binds at its top level (definitions, assignments, imports)."""
    if _source(name) is None:
        return frozenset()
    names = set()
    for node in _module(name).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return frozenset(names)


@cache
def _direct(name: str) -> tuple[Imports, tuple[tuple[str, Alias], ...]]:
    """(imports, aliases) of a camrobust module's own top-level import statements."""
    imports, aliases = Imports(), {}
    _record(_import_nodes(_module(name).body, nested=False), imports, aliases)
    return imports, tuple(aliases.items())


def _parents(name: str) -> list[str]:
    """The packages whose ``__init__`` runs before ``name``: camrobust.cams.engine -> camrobust, camrobust.cams."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def _module_level(name: str) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, Alias], ...]]:
    """(external, internal, aliases) of importing a camrobust module: its top-level imports, closed
    over camrobust, with the ``__init__`` of every package on the way (import cycles allowed)."""
    external, internal, todo = set(), set(), [name]
    while todo:
        module = todo.pop()
        if module in internal:
            continue
        internal.add(module)
        imports, _ = _direct(module)
        external |= imports.external
        todo.extend(imports.internal | set(_parents(module)))
    return frozenset(external), frozenset(internal), _direct(name)[1]


def _functions(name: str) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in _module(name).body if isinstance(n, ast.FunctionDef)}


def _definition(module: str, name: str) -> tuple[str, str]:
    """Where a module's name is defined, following re-exports (``from camrobust.x.y import name``
    in ``camrobust.x``'s ``__init__``)."""
    seen = set()
    while name not in _functions(module) and (module, name) not in seen:
        seen.add((module, name))
        origin = dict(_direct(module)[1]).get(name)
        if origin is None or origin[1] is None or _source(origin[0]) is None:
            break
        module, name = origin
    return module, name


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


@cache
def _registry_implementations(package: str) -> frozenset[tuple[str, str]]:
    """(module, function) of every registry entry implemented in ``package`` (``Cam``: camrobust.cams)."""
    found = set()
    for value in vars(registry).values():
        if isinstance(value, tuple):
            for entry in value:
                module, _, function = str(getattr(entry, "implementation", "")).partition(":")
                if module.rpartition(".")[0] == package:
                    found.add((module, function))
    return frozenset(found)


def _package(module: str) -> str:
    """The package a camrobust module belongs to: itself for a package's ``__init__``."""
    source = _source(module)
    return module if source is not None and source.name == "__init__.py" else module.rpartition(".")[0]


def _is_computed_import(node: ast.AST) -> bool:
    """``import_module(<not a constant>)`` or ``importlib.import_module(...)``."""
    if not isinstance(node, ast.Call) or not node.args or isinstance(node.args[0], ast.Constant):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "import_module") or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )


def _called(body: ast.AST, aliases: dict[str, Alias], module: str) -> set[tuple[str, str]]:
    """(camrobust module, function) pairs ``body`` can call: ``alias.f``, local ``f`` (called or
    passed on), the functions of the module's dispatch tables it reads, every function of a
    module it looks up by a computed name (``getattr(alias, name)``), and in a subpackage, the
    registry entries implemented there when it imports a module by a computed name (the tables
    built from the registry, e.g. ``camrobust.cams.catalogue``)."""
    calls = set()
    local = _functions(module) if module else {}
    tables = _module_tables(module) if module else {}
    package = _package(module) if module else ""
    for node in ast.walk(body):
        if _is_computed_import(node) and package.count(".") >= 1:
            calls |= _registry_implementations(package)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and isinstance(node.args[0], ast.Name)
            and not isinstance(node.args[1], ast.Constant)
        ):
            target, attr = aliases.get(node.args[0].id, ("", ""))
            if attr is None and _source(target) is not None:
                calls |= {(target, function) for function in _functions(target)}
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target, attr = aliases.get(node.value.id, ("", ""))
            if attr is None and _source(target) is not None:
                calls.add((target, node.attr))
        elif isinstance(node, ast.Name):
            if node.id in local:
                calls.add((module, node.id))
            calls |= {(module, function) for function in tables.get(node.id, ())}
            target, attr = aliases.get(node.id, ("", None))
            if attr is not None and _source(target) is not None:
                calls.add((target, attr))
    return calls


@cache
def _import_time_calls(name: str) -> frozenset[tuple[str, str]]:
    """Functions a module calls while it is imported (``TABLE = build_table()`` at top level)."""
    aliases = dict(_direct(name)[1])
    calls = set()
    for node in _module(name).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or _is_type_checking(node):
            continue
        for call in ast.walk(node):
            if isinstance(call, ast.Call):
                calls |= _called(call.func, aliases, name)
    return frozenset(calls)


def script_imports(script: Path) -> tuple[Imports, bool]:
    """Everything a workflow script can import when it runs, and whether it touches Parquet files."""
    tree = ast.parse(script.read_text())
    imports, aliases = Imports(), {}
    _record(_import_nodes(tree.body, nested=True), imports, aliases)
    parquet = bool(PARQUET_CALLS.search(script.read_text()))
    pending = _called(tree, aliases, "")
    seen: set[tuple[str, str]] = set()
    imported: set[str] = set()

    def run_imports(internal: set[str] | frozenset[str]) -> None:
        """Record importing camrobust modules: their imports, and the functions they call meanwhile."""
        for module in internal - imported:
            imported.add(module)
            external, closure, _ = _module_level(module)
            imports.external |= external
            imports.internal |= closure
            for other in closure - imported:
                imported.add(other)
                pending.update(_import_time_calls(other))
            pending.update(_import_time_calls(module))

    run_imports(set(imports.internal))
    while pending:
        module, function = _definition(*pending.pop())
        if (module, function) in seen or function not in _functions(module):
            continue
        seen.add((module, function))
        imports.functions.add((module, function))
        run_imports({module})
        node = _functions(module)[function]
        local_aliases = dict(_module_level(module)[2])
        body_imports = Imports()
        _record(_import_nodes(node.body, nested=True), body_imports, local_aliases)
        imports.external |= body_imports.external
        run_imports(body_imports.internal)
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


def test_import_scan_follows_packages_reexports_and_registry_tables() -> None:
    """Package ``__init__`` re-exports lead to the defining module, and a table built from the
    registry at import time (``camrobust.cams.catalogue``) leads to every method it imports."""
    imports, _ = script_imports(REPO / "workflow_scripts" / "gradient_cams.py")
    assert {"camrobust", "camrobust.cams", "camrobust.cams.engine"} <= imports.internal
    assert ("camrobust.cams.catalogue", "implementation") in imports.functions
    implemented = {tuple(cam.implementation.split(":")) for cam in registry.CAMS}
    assert implemented <= imports.functions
    imports, _ = script_imports(REPO / "workflow_scripts" / "prepare_model.py")
    assert ("camrobust.models.zoo", "build_model") in imports.functions  # through camrobust.models


@pytest.mark.parametrize("env", sorted({env for env, _ in RULES.values()}))
def test_env_versions_are_pinned_within_the_supported_ranges(env: str) -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    ranges = {Requirement(d).name.lower(): Requirement(d).specifier for d in dependencies}
    for package, version in env_packages(env).items():
        assert re.fullmatch(r"\d+(\.\d+)*", version), f"{env}: {package} is not pinned to one version ({version!r})"
        name = PYPI_NAMES.get(package, package)
        if name in ranges:
            assert Version(version) in ranges[name], f"{env}: {package} {version} outside pyproject's {ranges[name]}"
