"""The catalogue of built-in noises, read from the registry, and their parameter per severity.

``NOISES`` maps each noise of :data:`camrobust.registry.NOISE_TYPES`, in registry order, to a
:class:`NoiseSpec`: the entry's kind and the function its ``implementation``
(``camrobust.noise.<family>:<name>``) names, with the severity table the function carries
(:func:`noise_type`). Adding a built-in noise is therefore one decorated function in a family
module and one registry line. A caller may replace a severity's parameter with ``params`` (one
value, or a whole table; :func:`severity_parameter`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

from camrobust.noise.severity import NoiseSpec, ParamValue, is_number, noise_type, severity_table
from camrobust.registry import NOISE_TYPES, Noise

__all__ = [
    "ATTACKS",
    "EXPLANATION_ATTACKS",
    "NOISES",
    "PIXEL_NOISES",
    "NoiseSpec",
    "noise_spec",
    "noise_type",
    "severity_parameter",
]


def _implementation(entry: Noise) -> Callable[..., Any]:
    """The function a registry entry names (``"module:function"``)."""
    module_name, _, function_name = entry.implementation.partition(":")
    function = getattr(importlib.import_module(module_name), function_name, None)
    if function is None:
        raise ImportError(f"noise {entry.name!r}: {module_name} defines no function {function_name!r}")
    return function


def _spec(entry: Noise) -> NoiseSpec:
    function = _implementation(entry)
    table = severity_table(function)
    return NoiseSpec(entry.kind, table.params, function, table.rule, table.valid)


NOISES: dict[str, NoiseSpec] = {entry.name: _spec(entry) for entry in NOISE_TYPES}
PIXEL_NOISES: tuple[str, ...] = tuple(name for name, spec in NOISES.items() if spec.kind == "pixel")
ATTACKS: tuple[str, ...] = tuple(name for name, spec in NOISES.items() if spec.kind == "attack")
EXPLANATION_ATTACKS: tuple[str, ...] = tuple(name for name, spec in NOISES.items() if spec.kind == "explanation_attack")


def noise_spec(noise: str) -> NoiseSpec:
    """The :class:`NoiseSpec` of a built-in noise; ValueError naming the allowed ones otherwise."""
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; allowed: {', '.join(NOISES)}")
    return NOISES[noise]


def severity_parameter(noise: str, severity: int, params: Any = None) -> ParamValue:
    """The parameter ``noise`` uses at ``severity`` (1-based).

    ``params`` overrides the table: one value (a number; a (radius, alias_blur) pair for
    defocus_blur) replaces the parameter of whatever severity is asked, a sequence of values is
    a whole table (severity then runs 1..len(table)).
    """
    spec = noise_spec(noise)
    single = params is not None and _is_single_value(spec, params)
    table = spec.params if params is None or single else tuple(params)
    if isinstance(severity, bool) or not isinstance(severity, Integral) or not 1 <= severity <= len(table):
        raise ValueError(f"{noise}: severity {severity!r} is out of range; allowed 1..{len(table)}")
    value = _as_value(spec, params if single else table[int(severity) - 1])
    if not spec.valid(value):
        raise ValueError(f"{noise}: parameter {value!r} (severity {severity}) is invalid; expected {spec.rule}")
    return value


def _is_single_value(spec: NoiseSpec, params: Any) -> bool:
    if isinstance(spec.params[0], tuple):
        return isinstance(params, Sequence) and all(is_number(item) for item in params)
    return is_number(params)


def _as_value(spec: NoiseSpec, value: Any) -> ParamValue:
    return tuple(value) if isinstance(spec.params[0], tuple) and isinstance(value, Sequence) else value
