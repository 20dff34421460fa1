"""The documentation: pages written from the code hold every config key and every noise with its
severity table, and the hand-written pages link only to what exists. No mkdocs build is needed:
the tests call the generators that the build's hook calls (docs/gen_pages.py)."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from camrobust import registry
from camrobust.config import load_schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _load(name: str) -> ModuleType:
    """docs/<name>.py as a module (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"camrobust_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load("gen_pages")


def _text(html_cell: str) -> str:
    """A generated cell as plain text: tags dropped, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", html_cell)).strip()


def _properties(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, schema) of every property declared anywhere in the schema, definitions included."""
    if isinstance(node, dict):
        yield from (node.get("properties") or {}).items()
        for value in node.values():
            yield from _properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value)


def _described(sub: dict[str, Any], schema: dict[str, Any]) -> bool:
    if sub.get("description"):
        return True
    if "$ref" in sub:
        target: Any = schema
        for part in sub["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return bool(target.get("description"))
    return False


# --------------------------------------------------------------------------- configuration page


def test_every_schema_key_has_a_description() -> None:
    schema = load_schema()
    missing = sorted({name for name, sub in _properties(schema) if not _described(sub, schema)})
    assert not missing, f"config.schema.yaml keys without a description: {missing}"


def test_configuration_table_has_a_row_for_every_key(gen: ModuleType) -> None:
    schema = load_schema()
    keys = gen.config_keys(schema)
    # Each key's last name: a property of a definition appears under every key that refers to it.
    rows = Counter(key.path.rsplit(".", 1)[-1] for key in keys)
    missing = sorted({name for name, _ in _properties(schema) if not rows[name]})
    assert not missing, f"no row for config keys {missing}"
    paths = {key.path for key in keys}
    for path in (
        "seed",
        "datasets.<dataset>.n_images",
        "datasets.<dataset>.segmentation.method",
        "models.<model>.preprocessing.channels",
        "noises.<noise>",
        "noises.<noise>.params",
        "cam_plugins.<name>.uses",
        "features.precision",
        "metric.rbo_p",
        "segmentation.params",
    ):
        assert path in paths, f"{path} missing from the configuration table"
    assert all(key.description for key in keys), [key.path for key in keys if not key.description]


def test_configuration_table_shows_defaults_and_registry_names(gen: ModuleType) -> None:
    table = gen.configuration_table(load_schema())
    rows = {_text(line.split(" | ")[0].removeprefix("| ")): line for line in table.splitlines()[2:]}
    assert _text(rows["metric.n_bootstrap"].split(" | ")[2]) == "1000"
    assert _text(rows["features.keep"].split(" | ")[2]) == "true"
    assert _text(rows["datasets"].split(" | ")[2]) == "required"
    for names, key in (
        (registry.CAM_METHODS, "cams"),
        (registry.NOISES, "noises"),
        (registry.DATASET_KINDS, "datasets.<dataset>.kind"),
        (registry.MODEL_KINDS, "models.<model>.kind"),
    ):
        allowed = rows[key].split(" | ")[3]
        for name in names:
            assert gen.code(name) in allowed, f"{name} missing from the allowed values of {key}"


# ------------------------------------------------------------------------------- noise catalogue


def _parse_parameter(text: str) -> Any:
    """A printed severity parameter back as a number or tuple ("1/255" -> 1 / 255)."""
    return ast.literal_eval(re.sub(r"(\d+)/255", lambda m: repr(int(m.group(1)) / 255), text))


def test_noise_catalogue_holds_every_noise_with_its_severity_table(gen: ModuleType) -> None:
    from camrobust import noise

    assert list(noise.NOISES) == list(registry.NOISES)
    page = gen.noise_catalogue()
    lines = page.splitlines()
    for name, spec in noise.NOISES.items():
        entry = registry.noise(name)
        overview = [line for line in lines if line.startswith(f"| {gen.code(name)}<br>")]
        assert len(overview) == 1, f"{name}: no single overview row"
        assert f"<br>{entry.label} | {spec.kind}, {entry.family} |" in overview[0]
        assert _text(gen.cell(spec.rule)) in _text(overview[0])
        severities = [line for line in lines if line.startswith(f"| {gen.code(name)} |")]
        assert len(severities) == 1, f"{name}: no single severity row"
        cells = [_text(part) for part in severities[0].strip("| ").split(" | ")[1:]]
        assert len(cells) == len(spec.params), f"{name}: {cells}"
        for level, (printed, value) in enumerate(zip(cells, spec.params), start=1):
            assert _parse_parameter(printed) == pytest.approx(value, rel=1e-12), f"{name} severity {level}"


def test_noise_catalogue_describes_each_operation(gen: ModuleType) -> None:
    entries = gen.noise_entries()
    assert [entry.name for entry in entries] == list(registry.NOISES)
    assert all(entry.operation for entry in entries), [entry.name for entry in entries if not entry.operation]


# ------------------------------------------------------------------------------------------ pages


def _nav_files(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_files(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_files(value)


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return config


def test_nav_lists_every_page_and_every_page_exists() -> None:
    listed = set(_nav_files(_config()["nav"]))
    present = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert listed == present, f"only in nav: {sorted(listed - present)}; not in nav: {sorted(present - listed)}"


def test_api_pages_document_the_module_they_are_named_after() -> None:
    for page in sorted((DOCS / "api").glob("*.md")):
        identifiers = re.findall(r"^::: (\S+)", page.read_text(), flags=re.MULTILINE)
        assert identifiers == [page.stem], f"{page.name} documents {identifiers}"


def test_every_package_has_an_api_page() -> None:
    source = ROOT / "src" / "camrobust"
    packages = {f"camrobust.{path.parent.name}" for path in source.glob("*/__init__.py")}
    pages = {page.stem for page in (DOCS / "api").glob("*.md")}
    assert packages <= pages, f"packages without an API page: {sorted(packages - pages)}"


def test_generated_blocks_are_known_and_filled(gen: ModuleType) -> None:
    for page in DOCS.glob("*.md"):
        text = page.read_text()
        names = re.findall(r"^<!-- generated: ([a-z-]+) -->$", text, flags=re.MULTILINE)
        assert set(names) <= set(gen.GENERATORS), f"{page.name}: unknown block {names}"
        if names:
            assert "generated:" not in gen.fill(text)
    assert "<!-- generated: configuration -->" in (DOCS / "configuration.md").read_text()
    assert "<!-- generated: noise-catalogue -->" in (DOCS / "noise-catalogue.md").read_text()


def _documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.rglob("*.md"))]


def test_relative_links_point_at_files_that_exist() -> None:
    broken = []
    for document in _documents():
        text = re.sub(r"```.*?```", "", document.read_text(), flags=re.DOTALL)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            if not (document.parent / path).exists():
                broken.append(f"{document.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_rst_roles_and_tables_read_as_markdown() -> None:
    pytest.importorskip("griffe")
    rst = _load("griffe_rst")
    text = "See :func:`camrobust.x` and :class:`~a.B`::\n\n    code\n\n=== ===\na   b\n=== ===\n"
    converted = rst.rst_to_markdown(text)
    assert "`camrobust.x`" in converted and "`a.B`:" in converted and ":func:" not in converted
    assert "```text\n=== ===\na   b\n=== ===\n```" in converted
