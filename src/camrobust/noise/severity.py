"""What a noise function declares about its severities, next to its definition.

A built-in noise is a function decorated with :func:`noise_type`: the decorator attaches the
noise's :class:`SeverityTable` (its parameter at severity 1..5, the rule a parameter must follow
in words, and the check of that rule) to the function. :mod:`camrobust.noise.catalogue` reads
the tables of the functions the registry names. The checks shared by several noises live here;
one a single noise needs lives in its family module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import Any, TypeVar

from camrobust.registry import SEVERITY_LEVELS, NoiseKind

ParamValue = float | tuple[float, ...]
Check = Callable[[Any], bool]
NoiseFunction = TypeVar("NoiseFunction", bound=Callable[..., Any])

TABLE_ATTRIBUTE = "severity_table"
"""The attribute of a noise function that holds its :class:`SeverityTable`."""


def is_number(value: Any) -> bool:
    """A real number, bools excluded."""
    return isinstance(value, Real) and not isinstance(value, bool)


def number(condition: Callable[[Any], bool] = lambda value: True) -> Check:
    """Check for a finite real number satisfying ``condition``."""

    def valid(value: Any) -> bool:
        return is_number(value) and _is_finite(value) and bool(condition(value))

    return valid


def _is_finite(value: Real) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


finite = number()
non_negative = number(lambda value: value >= 0)
positive = number(lambda value: value > 0)
probability = number(lambda value: 0 <= value <= 1)
fraction = number(lambda value: 0 < value <= 1)
above_one = number(lambda value: value > 1)
at_least_one = number(lambda value: value >= 1)
positive_integer = number(lambda value: value > 0 and float(value).is_integer())
non_negative_integer = number(lambda value: value >= 0 and float(value).is_integer())


def numbers(*checks: Check) -> Check:
    """Check for a tuple of ``len(checks)`` numbers, each passing its check."""

    def valid(value: Any) -> bool:
        return (
            isinstance(value, tuple)
            and len(value) == len(checks)
            and all(is_number(v) and check(v) for v, check in zip(value, checks))
        )

    return valid


@dataclass(frozen=True)
class SeverityTable:
    """A noise's parameter per severity 1..n, the rule a parameter follows and its check."""

    params: tuple[ParamValue, ...]
    rule: str = "a finite number >= 0"
    valid: Check = non_negative


@dataclass(frozen=True)
class NoiseSpec:
    """One noise type: its kind, parameter per severity 1..n, function and parameter rule.

    ``fn(x, parameter, generators)`` for a pixel noise: x float64 (N, H, W, 3) in [0, 1], one
    CPU generator per image, returns the noisy x before clipping. ``fn(forward, x, targets, eps,
    generators)`` for an attack: x float32 (N, 3, H, W) in [0, 1], ``forward`` normalises and
    runs the model, returns the adversarial x. ``fn(cam, clean, eps, generators, settings)`` for
    an explanation attack (:mod:`camrobust.noise.explanation_attack`): returns the worst case
    found for the CAM within the budget.
    """

    kind: NoiseKind
    params: tuple[ParamValue, ...]
    fn: Callable[..., Any]
    rule: str = "a finite number >= 0"
    valid: Check = non_negative


def noise_type(
    *, params: tuple[ParamValue, ...], rule: str = "a finite number >= 0", valid: Check = non_negative
) -> Callable[[NoiseFunction], NoiseFunction]:
    """Decorator: attach a built-in noise's severity table, parameter rule and check to its function.

    The table has one parameter per severity (:data:`camrobust.registry.SEVERITY_LEVELS` of
    them), each passing ``valid``; a table that does not is refused when the module is imported.
    """
    table = SeverityTable(tuple(params), rule, valid)

    def attach(function: NoiseFunction) -> NoiseFunction:
        name = getattr(function, "__qualname__", repr(function))
        if len(table.params) != SEVERITY_LEVELS:
            raise ValueError(f"{name}: {len(table.params)} severities in its table; expected {SEVERITY_LEVELS}")
        invalid = [value for value in table.params if not valid(value)]
        if invalid:
            raise ValueError(f"{name}: table values {invalid} break its rule: {rule}")
        setattr(function, TABLE_ATTRIBUTE, table)
        return function

    return attach


def severity_table(function: Callable[..., Any]) -> SeverityTable:
    """The table :func:`noise_type` attached to ``function``."""
    table = getattr(function, TABLE_ATTRIBUTE, None)
    if not isinstance(table, SeverityTable):
        name = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}"
        raise TypeError(f"{name} has no severity table; decorate it with @noise_type(params=..., rule=...)")
    return table
