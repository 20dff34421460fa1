"""The params of the workflow's rules in one form: equal settings give equal params.

Snakemake reruns a job when the ``repr`` of one of its param values differs from the one it
recorded, so a mapping's key order, a JSON config's ``OrderedDict`` or a setting of another stage
inside a param would rerun jobs whose settings did not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def canonical(value: Any) -> Any:
    """``value`` with every mapping, at any depth, a plain dict in sorted key order."""
    if isinstance(value, Mapping):
        return {key: canonical(value[key]) for key in sorted(value, key=repr)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def staging_settings(spec: Mapping[str, Any], split: str) -> dict[str, Any]:
    """The settings of a validated dataset ``spec`` that staging ``split`` reads, canonical: not its
    ``segmentation`` (the segmentation stage's), its ``masks`` or ``boxes`` (the masks stage's), and
    not ``n_train`` for the "eval" split."""
    unread = {"segmentation", "masks", "boxes"} | ({"n_train"} if split == "eval" else set())
    return canonical({key: value for key, value in spec.items() if key not in unread})


def model_settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a validated model ``spec`` that preparing it reads, canonical: not the
    ``datasets`` it is evaluated on (each (dataset, model) is prepared by its own job)."""
    return canonical({key: value for key, value in spec.items() if key != "datasets"})
