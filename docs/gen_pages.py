"""Documentation pages written from the code: the configuration table and the noise catalogue.

mkdocs runs this file as a hook (``hooks:`` in mkdocs.yml). A page holds a block

    <!-- generated: NAME -->
    ...anything (a note for readers of the Markdown source)...
    <!-- end generated -->

and the build replaces it with ``GENERATORS[NAME]()``: the table of every config key from
:func:`camrobust.config.load_schema` (the schema with the registry's names as its enums), or the
noise catalogue from :data:`camrobust.noise.NOISES` (kind, parameter per severity, parameter rule)
with the labels and families of :mod:`camrobust.registry`. The pages therefore cannot drift from
the code; ``tests/test_docs.py`` checks the generators against the code without building the site.

``python docs/gen_pages.py configuration`` (or ``noise-catalogue``) prints a block's Markdown.
"""

from __future__ import annotations

import html
import importlib
import inspect
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parents[1] / "src"

BLOCK = re.compile(r"^<!-- generated: ([a-z-]+) -->\n.*?^<!-- end generated -->$", re.MULTILINE | re.DOTALL)

# What one entry of a name -> object mapping is called in a key path: datasets.<dataset>.kind.
ENTRY_NAMES = {
    "datasets": "dataset",
    "models": "model",
    "noises": "noise",
    "cam_plugins": "name",
    "noise_plugins": "name",
}

# --------------------------------------------------------------------------- configuration table


@dataclass(frozen=True)
class ConfigKey:
    """One row of the configuration table."""

    path: str
    type: str
    default: str
    allowed: str
    description: str


# Characters Markdown would read inside raw HTML (links, emphasis, code spans, cell borders).
MARKDOWN_SPECIAL = str.maketrans({c: f"&#{ord(c)};" for c in "|[]*_`\\"})


def code(text: object) -> str:
    """Inline code that Markdown leaves alone, also inside a table cell."""
    return "<code>" + html.escape(str(text), quote=False).translate(MARKDOWN_SPECIAL) + "</code>"


def cell(text: str) -> str:
    """Prose for a table cell: RST literals and roles as code, pipes escaped, on one line."""
    parts = re.split(r"(?::[a-z]+:)?``?([^`]+)``?", " ".join(text.split()))
    return "".join(code(part) if index % 2 else part.replace("|", "&#124;") for index, part in enumerate(parts))


def _resolve(node: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` with a local ``$ref`` (``#/definitions/...``) replaced by its target."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_yaml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    return str(value)


def _plural(kind: str) -> str:
    return {"string": "strings", "integer": "integers", "number": "numbers", "boolean": "booleans"}.get(kind, kind)


def schema_type(node: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """The JSON type of a schema node in words: ``integer``, ``list of numbers``, ``string or null``."""
    node = _resolve(node, schema)
    if "oneOf" in node:
        return " or ".join(schema_type(option, schema) for option in node["oneOf"])
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind is None and "enum" in node:
        values = node["enum"]
        kind = "integer" if all(isinstance(v, int) for v in values) else "string"
    if kind == "array":
        items = _resolve(node.get("items", {}), schema)
        inner = schema_type(items, schema) if items else ""
        return f"list of {_plural(inner)}" if inner else "list"
    if kind == "object" and isinstance(node.get("additionalProperties"), Mapping) and "properties" not in node:
        return "mapping"
    return kind or "string"


def _bounds(node: Mapping[str, Any]) -> list[str]:
    out = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            out.append(f"{sign} {node[key]}")
    return out


def allowed_values(node: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """What a key accepts beyond its type: enum values, bounds, patterns, list and mapping sizes."""
    node = _resolve(node, schema)
    parts: list[str] = []
    if "enum" in node:
        parts.append(" ".join(code(_yaml(value)) for value in node["enum"]))
    parts.extend(_bounds(node))
    if "pattern" in node:
        parts.append("matches " + code(node["pattern"]))
    if node.get("type") == "array" or "items" in node:
        items = _resolve(node.get("items", {}), schema)
        if "enum" in items:
            parts.append("each one of " + " ".join(code(value) for value in items["enum"]))
        bounds = _bounds(items)
        if bounds:
            parts.append("each " + ", ".join(bounds))
        if "minItems" in node and "maxItems" in node:
            parts.append(f"{node['minItems']} to {node['maxItems']} items")
        elif "minItems" in node:
            parts.append(f"at least {node['minItems']} item{'s' if node['minItems'] > 1 else ''}")
        if node.get("uniqueItems"):
            parts.append("no repeats")
    names = node.get("propertyNames", {})
    if "enum" in names:
        parts.append("names: " + " ".join(code(value) for value in names["enum"]))
    if "pattern" in names:
        parts.append("names match " + code(names["pattern"]))
    if "minProperties" in node:
        parts.append(f"at least {node['minProperties']} entr{'ies' if node['minProperties'] > 1 else 'y'}")
    return "; ".join(parts)


def config_keys(schema: Mapping[str, Any]) -> list[ConfigKey]:
    """Every key of the config schema, depth first, in the schema's order."""
    return list(_walk(schema, "", schema, required=False, top=True))


def _walk(
    node: Mapping[str, Any], path: str, schema: Mapping[str, Any], *, required: bool, top: bool = False
) -> Iterator[ConfigKey]:
    description = node.get("description")  # a description beside a $ref describes this use of it
    node = _resolve(node, schema)
    if not top:
        if required:
            default = "required"
        elif "default" in node:
            default = code(_yaml(node["default"]))
        else:
            default = ""
        yield ConfigKey(
            path=path,
            type=schema_type(node, schema),
            default=default,
            allowed=allowed_values(node, schema),
            description=cell(description or node.get("description", "")),
        )
    children: list[Mapping[str, Any]] = [node]
    children += [
        _resolve(option, schema) for option in node.get("oneOf", []) if _resolve(option, schema).get("properties")
    ]
    for child in children:
        needed = set(child.get("required", []))
        for name, sub in child.get("properties", {}).items():
            yield from _walk(sub, f"{path}.{name}" if path else name, schema, required=name in needed)
    entry = node.get("additionalProperties")
    if isinstance(entry, Mapping):
        placeholder = f"{path}.<{ENTRY_NAMES.get(path.rsplit('.', 1)[-1], 'name')}>"
        entry = _resolve(entry, schema)
        if entry.get("properties"):  # an object per entry: its keys are the rows
            for name, sub in entry["properties"].items():
                yield from _walk(sub, f"{placeholder}.{name}", schema, required=name in set(entry.get("required", [])))
        else:  # one value per entry (or a choice of shapes): a row for the entry itself
            yield from _walk(entry, placeholder, schema, required=False)


def configuration_table(schema: Mapping[str, Any] | None = None) -> str:
    """The Markdown table of every config key: type, default, allowed values, description."""
    if schema is None:
        from camrobust.config import load_schema

        schema = load_schema()
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for key in config_keys(schema):
        path = code(key.path).replace(".", ".<wbr>")  # long key paths break after a dot
        lines.append(f"| {path} | {key.type} | {key.default} | {key.allowed} | {key.description} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- noise catalogue


@dataclass(frozen=True)
class NoiseEntry:
    """One noise type as the code defines it."""

    name: str
    label: str
    kind: str
    family: str
    params: tuple[Any, ...]
    rule: str
    operation: str


def parameter(kind: str, value: Any) -> str:
    """One severity's parameter as the catalogue prints it; attack budgets, and any value that
    ``:g`` would round but k/255 gives exactly (the uniform noise's budgets), in 1/255 steps."""
    if isinstance(value, tuple | list):
        return "(" + ", ".join(parameter(kind, item) for item in value) + ")"
    steps = round(value * 255) if isinstance(value, float) else None
    if steps is not None and math.isclose(value * 255, steps, abs_tol=1e-9):
        if kind in ("attack", "explanation_attack") or (float(f"{value:g}") != value and steps / 255 == value):
            return f"{steps}/255"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _implementation(name: str, spec: Any) -> Callable[..., Any] | None:
    """The function of a noise: its spec's ``fn``, its registry entry's module, or the package's name."""
    function: Callable[..., Any] | None = getattr(spec, "fn", None)
    if callable(function):
        return function
    from camrobust import registry

    module, _, attribute = registry.noise(name).implementation.partition(":")
    for where in (module, "camrobust.noise"):
        try:
            found: Callable[..., Any] | None = getattr(
                importlib.import_module(where), attribute if where == module else name, None
            )
        except ImportError:
            continue
        if callable(found):
            return found
    return None


def _operation(function: Callable[..., Any] | None) -> str:
    """The first paragraph of a noise function's docstring: what it does to the image."""
    doc = inspect.getdoc(function) if function is not None else None
    return doc.split("\n\n", 1)[0] if doc else ""


def noise_entries() -> list[NoiseEntry]:
    """Every built-in noise, in the code's order."""
    from camrobust import noise, registry

    entries = []
    for name, spec in noise.NOISES.items():
        entry = registry.noise(name)
        entries.append(
            NoiseEntry(
                name=name,
                label=entry.label,
                kind=spec.kind,
                family=entry.family,
                params=tuple(spec.params),
                rule=spec.rule,
                operation=_operation(_implementation(name, spec)),
            )
        )
    return entries


def severity_row(entry: NoiseEntry) -> str:
    """The catalogue's severity-table row of one noise."""
    return "| " + " | ".join([code(entry.name), *(code(parameter(entry.kind, v)) for v in entry.params)]) + " |"


def noise_catalogue(entries: list[NoiseEntry] | None = None) -> str:
    """Two Markdown tables: what each noise is, and its parameter at each severity."""
    entries = noise_entries() if entries is None else entries
    lines = [
        "| noise | kind, family | parameter | operation |",
        "|---|---|---|---|",
    ]
    for entry in entries:
        lines.append(
            f"| {code(entry.name)}<br>{entry.label} | {entry.kind}, {entry.family} | {cell(entry.rule)} "
            f"| {cell(entry.operation)} |"
        )
    levels = max(len(entry.params) for entry in entries)
    lines += [
        "",
        "Parameter at each severity (the `parameter` column above says what the numbers are):",
        "",
        "| noise | " + " | ".join(str(level) for level in range(1, levels + 1)) + " |",
        "|---" * (levels + 1) + "|",
    ]
    lines += [severity_row(entry) for entry in entries]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- mkdocs hook

GENERATORS: dict[str, Callable[[], str]] = {
    "configuration": configuration_table,
    "noise-catalogue": noise_catalogue,
}


def fill(markdown: str) -> str:
    """``markdown`` with each generated block replaced by its generator's output."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        return GENERATORS[name]()

    return BLOCK.sub(replace, markdown)


def use_checkout_source() -> None:
    """Put this checkout's src/ first on the import path, so the pages describe the code they are
    built with, not another installed copy of camrobust."""
    if str(SOURCE) not in sys.path:
        sys.path.insert(0, str(SOURCE))


def on_config(config: Any, **_: Any) -> Any:
    """mkdocs hook, before any page: import camrobust from this checkout (mkdocs restores the
    import path after loading a hook file, so this cannot happen at import time)."""
    use_checkout_source()
    return config


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs hook: fill the generated blocks of every page."""
    return fill(markdown)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in GENERATORS:
        sys.exit(f"usage: python docs/gen_pages.py {{{','.join(GENERATORS)}}}")
    use_checkout_source()
    sys.stdout.write(GENERATORS[sys.argv[1]]())
