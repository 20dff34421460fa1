"""Conda envs, checked statically: each rule's env provides what its script imports, through camrobust too.

conda-forge cannot be reached from the test machines, so the envs are not built here. Instead the
imports a script can execute are collected from the source: the script's own imports, and for
every camrobust function it calls, the imports of that function's module, the imports inside the
function, and recursively the camrobust functions it calls; a class it reaches is followed through
all its methods. Importing a module also runs its packages' ``__init__`` and the calls it makes at
import; a name a package re-exports (or exports on first use, through a module ``__getattr__``)
leads to the module that defines it. Every third-party module found must come from a package
pinned in the rule's env.
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
    """Third-party top-level modules and camrobust modules imported somewhere, and the camrobust
    functions (module, name) the scan followed."""

    external: set[str] = field(default_factory=set)
    internal: set[str] = field(default_factory=set)
    functions: set[tuple[str, str]] = field(default_factory=set)

    def add(self, module: str) -> None:
        top = module.split(".")[0]
        if module.startswith("camrobust.") or module == "camrobust":
            self.internal.add(module)
        elif top not in sys.stdlib_module_names and top != "__future__":
            self.external.add(top)


def _source(module: str) -> Path | None:
    """The file of a camrobust module, or the ``__init__.py`` of a camrobust package; None if neither."""
    if module != "camrobust" and not module.startswith("camrobust."):
        return None
    base = SOURCE.joinpath(*module.split(".")[1:])
    for candidate in (base.parent / f"{base.name}.py", base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_module(module: str) -> bool:
    return _source(module) is not None


def _package(module: str) -> str:
    """The package a module's relative imports start from: itself for a package, else its parent."""
    source = _source(module)
    return module if source is not None and source.name == "__init__.py" else module.rpartition(".")[0]


def _parents(module: str) -> list[str]:
    """The packages Python imports before ``module`` (their ``__init__`` runs first)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


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


def _from_module(node: ast.ImportFrom, module: str) -> str:
    """The absolute module of ``from X import ...`` (relative imports resolved from ``module``)."""
    if not node.level:
        return node.module or ""
    base = _package(module).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _record(
    nodes: list[ast.Import | ast.ImportFrom], imports: Imports, aliases: dict[str, str], module: str = ""
) -> None:
    for node in nodes:
        if isinstance(node, ast.Import):
            for name in node.names:
                imports.add(name.name)
                aliases[name.asname or name.name.split(".")[0]] = name.name
        elif node.module is not None or node.level:
            source = _from_module(node, module)
            for name in node.names:
                submodule = f"{source}.{name.name}"
                imported = submodule if _is_module(submodule) else source
                imports.add(imported)
                aliases[name.asname or name.name] = imported


@cache
def _module(name: str) -> ast.Module:
    source = _source(name)
    assert source is not None, f"no source for {name}"
    return ast.parse(source.read_text())


def _runs_on_import(tree: ast.Module) -> list[ast.AST]:
    """The calls a module makes when it is imported: those of its statements, decorators, default
    values and class bases; not those in the bodies of functions."""
    parts: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parts += [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        elif isinstance(node, ast.ClassDef):
            parts += [*node.decorator_list, *node.bases]
        else:
            parts.append(node)
    return [call for part in parts for call in ast.walk(part) if isinstance(call, ast.Call)]


@cache
def _own_module_level(name: str) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, str], ...]]:
    """(external, internal, aliases) of a camrobust module's own top-level imports."""
    imports, aliases = Imports(), {}
    _record(_import_nodes(_module(name).body, nested=False), imports, aliases, name)
    return frozenset(imports.external), frozenset(imports.internal), tuple(aliases.items())


@cache
def _module_level(
    name: str,
) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, str], ...], frozenset[tuple[str, str]]]:
    """(external, internal, aliases, calls) of importing a camrobust module: the top-level imports
    closed over camrobust and the packages above each module, and the camrobust functions that
    run on import (a table built by calling a function, a decorator)."""
    external: set[str] = set()
    internal: set[str] = set()
    calls: set[tuple[str, str]] = set()
    pending = [name]
    while pending:
        module = pending.pop()
        if module in internal:
            continue
        internal.add(module)
        own_external, own_internal, own_aliases = _own_module_level(module)
        external |= own_external
        pending += [*own_internal, *_parents(module)]
        for part in _runs_on_import(_module(module)):
            calls |= _called(part, dict(own_aliases), module)
    return frozenset(external), frozenset(internal), _own_module_level(name)[2], frozenset(calls)


def _functions(name: str) -> dict[str, ast.FunctionDef | ast.ClassDef]:
    """Top-level functions and classes of a module: a class is followed through all its methods."""
    return {n.name: n for n in _module(name).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


@cache
def _reexports(name: str) -> dict[str, tuple[str, str]]:
    """Names a module imports from another camrobust module (a package's re-exports): name -> (module, name there)."""
    found = {}
    for node in _import_nodes(_module(name).body, nested=False):
        if isinstance(node, ast.ImportFrom):
            source = _from_module(node, name)
            for alias in node.names:
                if _is_module(source) and not _is_module(f"{source}.{alias.name}"):
                    found[alias.asname or alias.name] = (source, alias.name)
    found |= _lazy_exports(name)
    return found


def _lazy_exports(name: str) -> dict[str, tuple[str, str]]:
    """Names a module exports on first use (a module ``__getattr__`` reading a table such as
    ``{"load_model": "camrobust.stages.get_model"}``): name -> (defining module, name)."""
    found = {}
    for node in _module(name).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Constant) and _is_module(str(value.value)):
                    found[str(key.value)] = (str(value.value), str(key.value))
    return found


@cache
def _module_tables(name: str) -> dict[str, frozenset[tuple[str, str]]]:
    """Module-level names bound to values that refer to functions, the module's own or imported
    from camrobust (dispatch tables): name -> (module, function) pairs."""
    functions = _functions(name)
    imported = _reexports(name)
    tables = {}
    for node in _module(name).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            referred = set()
            for n in ast.walk(node.value):
                if isinstance(n, ast.Name) and n.id in functions:
                    referred.add((name, n.id))
                elif isinstance(n, ast.Name) and n.id in imported:
                    referred.add(imported[n.id])
            for target in targets:
                if isinstance(target, ast.Name) and referred:
                    tables[target.id] = frozenset(referred)
    return tables


@cache
def _registry_implementations() -> frozenset[tuple[str, str]]:
    """(module, function) of every built-in the registry names by its ``implementation``."""
    from camrobust import registry

    pairs = (entry.implementation.split(":") for entry in (*registry.CAMS, *registry.NOISE_TYPES))
    return frozenset((module, function) for module, function in pairs)


def _imports_registry_implementations(body: ast.AST) -> bool:
    """``body`` imports modules by computed name (``import_module(...)``) read from a registry
    entry's ``implementation``."""
    nodes = list(ast.walk(body))
    imports = any(
        isinstance(n, ast.Call)
        and ast.unparse(n.func).split(".")[-1] == "import_module"
        and n.args
        and not isinstance(n.args[0], ast.Constant)
        for n in nodes
    )
    return imports and any(isinstance(n, ast.Attribute) and n.attr == "implementation" for n in nodes)


def _called(body: ast.AST, aliases: dict[str, str], module: str) -> set[tuple[str, str]]:
    """(camrobust module, function) pairs ``body`` can call: ``alias.f``, local ``f`` (called or
    passed on), the functions of the module's dispatch tables it reads, every function of a
    module it looks up by a computed name (``getattr(alias, name)``), and every implementation of
    a registry entry of its package when it imports them by the entries' ``implementation``."""
    calls = set()
    local = _functions(module) if module else {}
    tables = _module_tables(module) if module else {}
    if module and _imports_registry_implementations(body):
        package = _package(module)
        calls |= {pair for pair in _registry_implementations() if pair[0].startswith(f"{package}.")}
    for node in ast.walk(body):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and isinstance(node.args[0], ast.Name)
            and not isinstance(node.args[1], ast.Constant)
        ):
            target = aliases.get(node.args[0].id, "")
            if _is_module(target):
                calls |= {(target, function) for function in [*_functions(target), *_reexports(target)]}
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = aliases.get(node.value.id, "")
            if _is_module(target):
                calls.add((target, node.attr))
        elif isinstance(node, ast.Name):
            if node.id in local:
                calls.add((module, node.id))
            calls |= tables.get(node.id, frozenset())
            target = aliases.get(node.id, "")
            if _is_module(target):
                calls.add((target, node.id))
    return calls


def script_imports(script: Path) -> tuple[Imports, bool]:
    """Everything a workflow script can import when it runs, and whether it touches Parquet files."""
    tree = ast.parse(script.read_text())
    imports, aliases = Imports(), {}
    _record(_import_nodes(tree.body, nested=True), imports, aliases)
    parquet = bool(PARQUET_CALLS.search(script.read_text()))
    pending = _called(tree, aliases, "")

    def imported(internal: set[str] | frozenset[str]) -> None:
        for name in list(internal):
            external, more, _, on_import = _module_level(name)
            imports.external |= external
            imports.internal |= more
            pending.update(on_import)

    imported(imports.internal)
    seen = imports.functions
    while pending:
        module, function = pending.pop()
        if (module, function) in seen:
            continue
        if function not in _functions(module):
            if function in _reexports(module):
                pending.add(_reexports(module)[function])
            continue
        seen.add((module, function))
        imported({module})
        node = _functions(module)[function]
        local_aliases = dict(_module_level(module)[2])
        body_imports = Imports()
        _record(_import_nodes(node.body, nested=True), body_imports, local_aliases, module)
        imports.external |= body_imports.external
        imported(body_imports.internal)
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
    assert {"scipy", "matplotlib", "pandas"} <= imports.external and parquet
    assert "torch" not in imports.external  # the diagrams read scores, no CAM store
    imports, _ = script_imports(REPO / "workflow_scripts" / "statistical_tests.py")
    assert "scipy" in imports.external and "matplotlib" not in imports.external
    imports, _ = script_imports(REPO / "workflow_scripts" / "prepare_model.py")
    assert {"torch", "torchvision", "zarr"} <= imports.external
    imports, _ = script_imports(REPO / "workflow_scripts" / "stage_images.py")
    assert "torchvision" in imports.external  # Imagenette and CIFAR-10, behind a dispatch table
    assert ("camrobust.datasets.torchvision_sets", "stage_cifar10") in imports.functions  # table of imported stagers


def test_import_scan_follows_re_exports_and_the_registry() -> None:
    """A package's re-export leads to the module defining the function; a catalogue built at import
    by importing the registry entries' implementations leads to every implementing function."""
    imports, _ = script_imports(REPO / "workflow_scripts" / "perturb_images.py")
    assert ("camrobust.noise.apply", "perturb") in imports.functions  # the noise kernels call noise.perturb
    assert ("camrobust.noise.catalogue", "_implementation") in imports.functions  # runs on import
    assert {("camrobust.noise.weather", "snow"), ("camrobust.noise.attacks", "pgd")} <= imports.functions
    assert _reexports("camrobust")["load_model"] == ("camrobust.stages.get_model", "load_model")  # lazily exported


def test_import_scan_follows_classes_through_their_methods() -> None:
    """The scores come from a method of ScoredPairs, which imports camrobust.scoring (numba) when it runs."""
    imports, _ = script_imports(REPO / "workflow_scripts" / "score_cams.py")
    assert ("camrobust.core.pairs", "ScoredPairs") in imports.functions
    assert ("camrobust.scoring.pairs", "pair_similarities") in imports.functions
    assert {"numba", "scipy", "pyarrow"} <= imports.external
    imports, _ = script_imports(REPO / "workflow_scripts" / "collect_scores.py")
    assert ("camrobust.core.pairs", "collected_order") in imports.functions  # the score tables' order only
    assert not {"torch", "numba", "zarr"} & imports.external  # the analysis env has none of them


def test_the_notebook_api_reaches_no_stage_and_no_store(tmp_path: Path) -> None:
    """evaluate() and Evaluation run on the array kernels of camrobust.core: no stage, no Zarr. The
    one file reader they can reach is analysis.stats's reader of a score file given as a path,
    which evaluate never passes."""
    caller = tmp_path / "notebook.py"
    caller.write_text("from camrobust.notebook import Evaluation, evaluate\n\nevaluate()\nEvaluation()\n")
    imports, _ = script_imports(caller)
    assert {("camrobust.core.model", "ModelOnImages"), ("camrobust.analysis.stats", "all_tests")} <= imports.functions
    assert not [module for module in imports.internal if module.startswith("camrobust.stages")]
    io_modules = {module for module in imports.internal if module.startswith("camrobust.io")}
    assert io_modules == {"camrobust.io", "camrobust.io.chunks", "camrobust.io.tables"}
    assert not {"zarr", "numcodecs", "google_crc32c"} & imports.external


@pytest.mark.parametrize("env", sorted({env for env, _ in RULES.values()}))
def test_env_versions_are_pinned_within_the_supported_ranges(env: str) -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    ranges = {Requirement(d).name.lower(): Requirement(d).specifier for d in dependencies}
    for package, version in env_packages(env).items():
        assert re.fullmatch(r"\d+(\.\d+)*", version), f"{env}: {package} is not pinned to one version ({version!r})"
        name = PYPI_NAMES.get(package, package)
        if name in ranges:
            assert Version(version) in ranges[name], f"{env}: {package} {version} outside pyproject's {ranges[name]}"
