"""Workflow configuration: schema validation with defaults, then checks against the registries.

Every error names the config key and, where there is a fixed set, the allowed values, and is
raised before any job starts.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from camrobust import plugins, registry
from camrobust.errors import ConfigError
from camrobust.registry import ARCHS, SEVERITY_LEVELS

__all__ = ["ConfigError", "apply_schema", "load_config", "load_schema", "validate_config"]


_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _schema_number(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` in the one spelling of a number the ``schema`` allows there: a float where it says
    ``number`` (``1`` -> ``1.0``, and ``9e-1``, which YAML 1.1 reads as a string, -> ``0.9``), an int
    where it says ``integer`` (``12.0`` -> ``12``), the member itself for a numeric ``enum`` member
    (``3.0`` -> ``3``); any other value unchanged (booleans included)."""
    kind = schema.get("type")
    if kind == "number" and isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if kind == "number":
        return float(value)
    if kind == "integer" and float(value).is_integer():
        return int(value)
    return next((m for m in schema.get("enum", ()) if type(m) in (int, float) and m == value), value)


def _with_defaults(validator_class: type[jsonschema.protocols.Validator]) -> type[jsonschema.protocols.Validator]:
    """Validator class that also fills in the schema's ``default`` values and writes every number
    the way :func:`_schema_number` does, before validating it."""
    validate_properties = validator_class.VALIDATORS["properties"]
    validate_items = validator_class.VALIDATORS["items"]

    def set_defaults(validator: Any, properties: dict[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
                if name in instance:
                    instance[name] = _schema_number(instance[name], subschema)
        yield from validate_properties(validator, properties, instance, schema)

    def set_items(validator: Any, items: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, list) and isinstance(items, Mapping):
            instance[:] = [_schema_number(item, items) for item in instance]
        yield from validate_items(validator, items, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults, "items": set_items})


def _key(path: Any) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def load_schema() -> dict[str, Any]:
    """The config's JSON schema (package data), with the registry's names as its enums: CAM
    methods, noise types, dataset and model kinds."""
    schema = yaml.safe_load(resources.files("camrobust").joinpath("config.schema.yaml").read_text())
    entries = schema["properties"]
    entries["cams"]["items"]["enum"] = list(registry.CAM_METHODS)
    entries["noises"]["propertyNames"]["enum"] = list(registry.NOISES)
    entries["datasets"]["additionalProperties"]["properties"]["kind"]["enum"] = list(registry.DATASET_KINDS)
    entries["models"]["additionalProperties"]["properties"]["kind"]["enum"] = list(registry.MODEL_KINDS)
    return schema


def apply_schema(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate ``config`` against the JSON schema and return a copy with defaults filled in."""
    schema = _with_plugin_names(schema or load_schema(), config)
    filled = copy.deepcopy(dict(config))
    validator = _with_defaults(jsonschema.Draft7Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(filled))
    if error is None:
        return filled
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        raise _unknown_key_error(error)
    if error.validator == "enum" and isinstance(error.instance, str):
        close = difflib.get_close_matches(error.instance, [str(v) for v in error.validator_value], n=1)
        if close:
            raise ConfigError(_key(error.absolute_path), f"{error.message}; did you mean {close[0]!r}?")
    raise ConfigError(_key(error.absolute_path), error.message)


def _with_plugin_names(schema: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The schema with the config's plugin names added to the ``cams`` and ``noises`` enums."""
    extended = copy.deepcopy(dict(schema))
    entries = extended["properties"]
    for section, enum in (
        ("cam_plugins", entries["cams"]["items"]["enum"]),
        ("noise_plugins", entries["noises"]["propertyNames"]["enum"]),
    ):
        names = config.get(section)
        if isinstance(names, Mapping):
            enum.extend(name for name in names if name not in enum)
    return extended


def _unknown_key_error(error: jsonschema.ValidationError) -> ConfigError:
    """An unknown key in a config object, with the closest allowed key and the allowed list."""
    allowed = sorted(error.schema.get("properties", {}))
    unknown = sorted(key for key in error.instance if key not in allowed)[0]
    close = difflib.get_close_matches(unknown, allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ConfigError(_key([*error.absolute_path, unknown]), f"unknown key; {hint}allowed keys: {allowed}")


def noise_severities(entry: list[int] | Mapping[str, Any]) -> list[int]:
    """Severity list of one ``noises`` entry (a list, or a mapping with ``severities``)."""
    return list(entry["severities"] if isinstance(entry, Mapping) else entry)


def noise_params(entry: list[int] | Mapping[str, Any]) -> list[float] | None:
    """Custom per-severity parameters of one ``noises`` entry, or None for the built-in table."""
    return list(entry["params"]) if isinstance(entry, Mapping) and "params" in entry else None


def severity_table(config: Mapping[str, Any], noise: str) -> list[Any] | None:
    """Per-severity parameters of ``noise``: the entry's own, a noise plugin's, or None (built-in)."""
    own = noise_params(config["noises"][noise])
    if own is None and noise in config.get("noise_plugins", {}):
        return list(config["noise_plugins"][noise]["params"])
    return own


def _check_noises(config: Mapping[str, Any]) -> None:
    for name, entry in config["noises"].items():
        params = severity_table(config, name)
        if name in registry.EXPLANATION_ATTACKS and params is not None:
            outside = [eps for eps in params if not (isinstance(eps, int | float) and 0 < eps <= 1)]
            if outside:
                raise ConfigError(
                    f"noises.{name}.params",
                    f"L-inf budgets {outside} out of range: give each as a fraction of the pixel range in (0, 1] "
                    "(8/255 = 0.0314)",
                )
        levels = len(params) if params is not None else SEVERITY_LEVELS
        for severity in noise_severities(entry):
            if not 1 <= severity <= levels:
                raise ConfigError(f"noises.{name}", f"severity {severity} out of range 1..{levels}")


def _check_sanity(config: Mapping[str, Any]) -> None:
    source = config["explanation_attack"]["transfer_source"]
    if source not in registry.GRADIENT_CAMS:
        raise ConfigError(
            "explanation_attack.transfer_source",
            f"{source!r} has no cheap input gradient; give a gradient-family CAM: {list(registry.GRADIENT_CAMS)}",
        )
    for model in config["randomisation"]["stages"]:
        if model not in config["models"]:
            raise ConfigError(f"randomisation.stages.{model}", f"no such model; models: {sorted(config['models'])}")


def _check_datasets(config: Mapping[str, Any]) -> None:
    for name, spec in config["datasets"].items():
        if spec["kind"] in ("imagefolder", "imagenet_val"):
            root = spec.get("root")
            if root is None:
                raise ConfigError(f"datasets.{name}.root", f"required for kind {spec['kind']!r}")
            if not Path(root).is_dir():
                raise ConfigError(f"datasets.{name}.root", f"folder {root!r} does not exist")
        if "classes" in spec and spec["kind"] != "imagefolder":
            raise ConfigError(f"datasets.{name}.classes", "only for kind 'imagefolder'")
        if "classes" in spec:
            folders = sorted(p.name for p in Path(spec["root"]).iterdir() if p.is_dir() and not p.name.startswith("."))
            if sorted(spec["classes"]) != folders:
                raise ConfigError(
                    f"datasets.{name}.classes", f"must name each class folder once; the folders are {folders}"
                )
        for key, kind in (("masks", "imagefolder"), ("boxes", "imagenet_val")):
            if key in spec and spec["kind"] != kind:
                raise ConfigError(f"datasets.{name}.{key}", f"only for kind {kind!r}")
            if key in spec and not Path(spec[key]).is_dir():
                raise ConfigError(f"datasets.{name}.{key}", f"folder {spec[key]!r} does not exist")
        if spec["kind"] == "shapes" and "variant" not in spec:
            raise ConfigError(f"datasets.{name}.variant", "required for kind 'shapes' (plain or cluttered)")


def _check_models(config: Mapping[str, Any]) -> None:
    for name, spec in config["models"].items():
        if spec["kind"] == "python":
            if "factory" not in spec:
                raise ConfigError(f"models.{name}.factory", "required for kind 'python' ('module:attr')")
            plugins.check_importable(spec["factory"], f"models.{name}.factory")
            if "target_layer" not in spec:
                raise ConfigError(f"models.{name}.target_layer", "required for kind 'python'")
            if "preprocessing" not in spec:
                raise ConfigError(f"models.{name}.preprocessing", "required for kind 'python' (mean, std)")
            if spec.get("weights") is not None and not Path(spec["weights"]).is_file():
                raise ConfigError(f"models.{name}.weights", f"state dict file {spec['weights']!r} does not exist")
        elif spec.get("arch") not in ARCHS:
            raise ConfigError(
                f"models.{name}.arch", f"unknown architecture {spec.get('arch')!r}; allowed: {sorted(ARCHS)}"
            )
        preprocessing = spec.get("preprocessing")
        if preprocessing is not None:
            channels = preprocessing["channels"]
            for field in ("mean", "std"):
                if len(preprocessing[field]) != channels:
                    raise ConfigError(
                        f"models.{name}.preprocessing.{field}",
                        f"expected {channels} value(s), one per input channel (channels: {channels})",
                    )
        for dataset in spec.get("datasets", []):
            if dataset not in config["datasets"]:
                raise ConfigError(
                    f"models.{name}.datasets", f"unknown dataset {dataset!r}; defined: {sorted(config['datasets'])}"
                )
        if spec["kind"] == "trained":
            for dataset in model_datasets(config, name):
                if config["datasets"][dataset]["kind"] != "shapes":
                    raise ConfigError(
                        f"models.{name}.kind",
                        f"'trained' needs a dataset with a training split (kind shapes); {dataset!r} has none",
                    )
        if spec["kind"] == "checkpoint":
            path = spec.get("path")
            if path is None or not Path(path).is_file():
                raise ConfigError(f"models.{name}.path", f"checkpoint file {path!r} does not exist")


def model_datasets(config: Mapping[str, Any], model: str) -> list[str]:
    """Datasets a model is evaluated on (all, unless the model lists some)."""
    return list(config["models"][model].get("datasets") or config["datasets"])


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Schema validation with defaults, then registry and file checks; returns the filled config,
    in which every dataset has its ``segmentation`` (the config's own when it gives none)."""
    filled = apply_schema(config)
    for spec in filled["datasets"].values():
        spec.setdefault("segmentation", copy.deepcopy(filled["segmentation"]))
    plugins.check_config(filled)
    _check_datasets(filled)
    _check_models(filled)
    _check_noises(filled)
    _check_sanity(filled)
    return filled


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a YAML config file."""
    with open(path) as handle:
        return validate_config(yaml.safe_load(handle))
