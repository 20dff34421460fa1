"""Which pairs to show: the ones that tell most about a CAM's failures, chosen by their RBO.

- the lowest-r **class-preserving** pairs: the prediction stayed but the CAM's region ranking
  moved most (the consistency failures);
- the highest-r **class-changing** pairs: the prediction changed but the ranking moved least (the
  responsiveness failures).

Each image appears once per set, with its most extreme pair; ties are broken by image id, then
severity, so the choice is the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from camrobust import vocabulary

PAIR_COLUMNS: tuple[str, ...] = ("set", "image_id", "severity", vocabulary.RBO.name)


def extreme_pairs(scores: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` pairs of each set of one score table (one dataset, model, noise and cam), as
    the rows of ``scores`` with a ``set`` column: class-preserving by ascending r, then
    class-changing by descending r."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    scored = scores[scores[vocabulary.RBO.name].notna()]
    parts = []
    for set_name, lowest in ((vocabulary.PRESERVING, True), (vocabulary.CHANGING, False)):
        rows = scored[scored["changed"].astype(bool) == (set_name == vocabulary.CHANGING)]
        ordered = _ordered(rows, lowest).drop_duplicates("image_id")
        parts.append(ordered.head(n).assign(set=set_name))
    return pd.concat(parts, ignore_index=True)


def overlay_images(scores: pd.DataFrame, n: int) -> list[str]:
    """``n`` image ids for an overlay grid of all CAMs of one (dataset, model, noise): the pairs of
    :func:`extreme_pairs` by the mean r over the CAMs, half from each set (the other set fills in
    where one has too few images), preserving first; each image once."""
    rbo = vocabulary.RBO.name
    mean = scores.groupby(["image_id", "severity"], sort=True).agg(changed=("changed", "first"), **{rbo: (rbo, "mean")})
    chosen = extreme_pairs(mean.reset_index(), n)
    preserving = chosen.loc[chosen["set"] == vocabulary.PRESERVING, "image_id"].tolist()
    changing = chosen.loc[chosen["set"] == vocabulary.CHANGING, "image_id"].tolist()
    n_changing = min(len(changing), max(n // 2, n - len(preserving)))
    ids = _unique([*preserving[: n - n_changing], *changing[:n_changing]])
    if len(ids) < n:  # an image both least consistent and least responsive at different severities
        ids = _unique([*ids, *preserving, *changing])[:n]
    return [str(image) for image in ids]


def _ordered(rows: pd.DataFrame, lowest: bool) -> pd.DataFrame:
    key = vocabulary.RBO.name
    return rows.sort_values([key, "image_id", "severity"], ascending=[lowest, True, True], kind="stable")


def _unique(ids: Sequence[object]) -> list[object]:
    return list(dict.fromkeys(ids))
