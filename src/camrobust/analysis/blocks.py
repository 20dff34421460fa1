"""Tables of one value per image, the subjects of every statistical test.

A score table has one row per (image, severity) pair. An image seen at three severities is one
subject, not three: the tests compare levels (CAM methods, noise types, datasets, severities) on
per-image values.

- **Per severity**: the image's value at that severity.
- **Pooled**: the image's mean over the severities at which it forms a complete block.

A block (image, severity) of a set is complete when the pair belongs to the set and has a score
under every level compared. For CAM methods membership is the same for every level (the CAMs of
one model explain the same noisy image); for noise types each noise has its own noisy image, so
the pair must belong to the set under every noise at that severity (noise types are compared at
equal severity numbers). The value is r on class-preserving pairs (set ``preserving``), 1 - r on
class-changing pairs (``changing``) and r on all pairs (``all``), so higher is better in the
first two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from camrobust import vocabulary

ALL = "all"
"""The set of every pair, whatever the prediction did."""
POOLED = "all"
"""The severity of a row pooled over severities."""


def image_columns(group: pd.DataFrame) -> list[str]:
    """The columns that tell images apart: (dataset, image_id), or image_id alone."""
    return [column for column in ("dataset", "image_id") if column in group.columns]


def level_blocks(group: pd.DataFrame, factor: str, set_name: str, severity: int | None) -> tuple[pd.DataFrame, str]:
    """Per image (rows) x level of ``factor`` (columns): the set's value at ``severity`` (None:
    pooled), complete blocks only, and a note on the pairs left out (a missing or NaN score)."""
    images = image_columns(group)
    index = [*images, "severity"]
    keyed = group.set_index([*index, factor])
    scores = keyed[vocabulary.RBO.name].unstack(factor)
    changed = keyed["changed"].astype(np.float64).unstack(factor)
    if set_name == ALL:
        member = changed.notna()
    else:
        member = changed == (1.0 if set_name == vocabulary.CHANGING else 0.0)
    candidate = (member | changed.isna()).all(axis=1) & member.any(axis=1)
    complete = candidate & member.all(axis=1) & scores.notna().all(axis=1)
    if severity is not None:
        at = scores.index.get_level_values("severity") == severity
        candidate, complete = candidate & at, complete & at
    left_out = int((candidate & ~complete).sum())
    values = scores[complete]
    if set_name == vocabulary.CHANGING:
        values = 1.0 - values
    values = values.groupby(level=images, sort=True).mean() if severity is None else values.droplevel("severity")
    values.columns = [str(column) for column in values.columns]
    values.columns.name = None
    note = f"{left_out} pair(s) with a missing or NaN score left out" if left_out else ""
    return values, note


def severity_blocks(group: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per image (rows) x severity (columns, ascending): r on all pairs, images scored at every
    severity only, and a note on the images left out."""
    images = image_columns(group)
    table = group.set_index([*images, "severity"])[vocabulary.RBO.name].unstack("severity")
    table = table[sorted(table.columns)]
    complete = table.dropna()
    left_out = len(table) - len(complete)
    note = f"{left_out} image(s) without a score at every severity left out" if left_out else ""
    return complete, note


def preserving_means(group: pd.DataFrame, severity: int | None) -> pd.Series:
    """Each image's mean r over its class-preserving pairs (at ``severity``, or all of them),
    indexed by image; images without such a pair are absent."""
    rows = group[~group["changed"].astype(bool) & group[vocabulary.RBO.name].notna()]
    if severity is not None:
        rows = rows[rows["severity"] == severity]
    return rows.groupby(image_columns(group), sort=True)[vocabulary.RBO.name].mean()


def severities(group: pd.DataFrame) -> list[int]:
    """The severities of a group's rows, ascending."""
    return sorted(int(value) for value in group["severity"].unique())
