"""Rank-biased overlap (RBO) of two rankings of regions, with ties.

The clean image's regions are ranked by mean CAM value (highest first) for the clean CAM (pi)
and the noisy CAM (pi'); their similarity is the extrapolated rank-biased overlap of Webber,
Moffat & Zobel (2010), with persistence ``p``::

    RBO_ext = (X_m / m) p^m + (1 - p) / p * sum_{d=1..m} (X_d / d) p^d,
    X_d     = |pi[:d] ∩ pi'[:d]|                          (overlap at depth d)

Ties. Regions with equal importance form one rank group. An item i in a group occupying the
rank positions t+1..t+g of a ranking belongs to the top d with the fraction

    w(i, d) = clip((d - t) / g, 0, 1)

(its rank spread uniformly over the group's positions), and the overlap at depth d is the fuzzy
intersection of the two prefixes::

    X_d = sum_i min(w_a(i, d), w_b(i, d)).

Properties: without ties w is 0/1 and X_d is the plain overlap; identical inputs give
X_d = sum_i w(i, d) = d, hence RBO = 1 also with ties; X_d depends only on the groups, not on
the index order of tied items; X_d <= d so RBO lies in [0, 1]. It is NOT the average of RBO over
all ways of breaking the ties: that average uses the product ``w_a * w_b`` instead of the
minimum (Corsi & Urbano 2024, "RBO^a") and gives RBO(x, x) < 1 when x has ties. Here a tie is
read as equality: two CAMs that agree that regions are equally important agree fully.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numba
import numpy as np

_INDEX_BITS = 10  # low key bits holding the item index: at most 1024 items per row
_MAX_ITEMS = 1 << _INDEX_BITS
_INDEX_MASK = _MAX_ITEMS - 1
_SIGN_FREE = np.int64(0x7FFF_FFFF_FFFF_FFFF)
_LOWEST_KEY = np.int64(np.iinfo(np.int64).min)
_VALUE_MASK = ~np.int64(_INDEX_MASK)


# --- scalar RBO on explicit rankings ---------------------------------------------------------


def rbo(ranking_a: Sequence[Hashable], ranking_b: Sequence[Hashable], p: float = 0.9) -> float:
    """Extrapolated RBO of two tie-free rankings of item ids, lengths may differ (Eq. 32).

    With S the shorter list (length s), L the longer (length l) and
    X_d = |S[:min(d, s)] ∩ L[:d]|::

        RBO_ext = (1-p)/p * ( sum_{d=1..l} X_d/d p^d + sum_{d=s+1..l} X_s (d-s)/(s d) p^d )
                  + ( (X_l - X_s)/l + X_s/s ) p^l

    For s = l = k this is (X_k/k) p^k + (1-p)/p sum_{d=1..k} (X_d/d) p^d.
    """
    short, long_ = _short_long(ranking_a, ranking_b, p)
    s, l = len(short), len(long_)
    overlap = _prefix_overlaps(short, long_)
    depths = np.arange(1, l + 1, dtype=np.float64)
    weights = p**depths
    x_s, x_l = overlap[s - 1], overlap[l - 1]
    seen = np.sum(overlap / depths * weights)
    tail_depths = depths[s:]
    assumed = np.sum(x_s * (tail_depths - s) / (s * tail_depths) * weights[s:])
    return float((1 - p) / p * (seen + assumed) + ((x_l - x_s) / l + x_s / s) * p**l)


def rbo_bounds(ranking_a: Sequence[Hashable], ranking_b: Sequence[Hashable], p: float = 0.9) -> tuple[float, float]:
    """``(RBO_min, RBO_res)`` of two tie-free rankings evaluated to their full lengths.

    RBO_min assumes no overlap beyond what is seen; RBO_res = RBO_max - RBO_min, where RBO_max
    assumes every unseen item matches as early as possible. For even lists of depth k this is
    Eq. 11 / Eq. 12::

        RBO_min = (1-p)/p * ( sum_{d=1..k} (X_d - X_k)/d p^d + X_k ln(1/(1-p)) )
        RBO_max = (1-p)/p * ( sum_{d=1..k} X_d/d p^d + sum_{d=k+1..f} (X_k + 2(d-k))/d p^d )
                  + p^f,      f = 2k - X_k.

    Uneven lists (s < l): for s < d <= l the seen overlap is X_d = |S ∩ L[:d]|, and at most
    min(d - s, d - X_d) unseen items of S can still match; beyond l at most
    X_l + (d - s) + (d - l) items overlap, reaching d at f = l + s - X_l.
    """
    short, long_ = _short_long(ranking_a, ranking_b, p)
    s, l = len(short), len(long_)
    overlap = _prefix_overlaps(short, long_)
    depths = np.arange(1, l + 1, dtype=np.float64)
    weights = p**depths
    x_l = overlap[l - 1]
    scale = (1 - p) / p
    harmonic_tail = math.log(1 / (1 - p)) - np.sum(weights / depths)
    rbo_min = scale * (np.sum(overlap / depths * weights) + x_l * harmonic_tail)
    unseen_matches = np.minimum(depths - s, depths - overlap).clip(min=0)
    f = int(l + s - x_l)
    beyond = np.arange(l + 1, f + 1, dtype=np.float64)
    rbo_max = (
        scale
        * (
            np.sum((overlap + unseen_matches) / depths * weights)
            + np.sum((2 * beyond - l - s + x_l) / beyond * p**beyond)
        )
        + p**f
    )
    return float(rbo_min), float(rbo_max - rbo_min)


def _short_long(
    ranking_a: Sequence[Hashable], ranking_b: Sequence[Hashable], p: float
) -> tuple[list[Hashable], list[Hashable]]:
    _check_p(p)
    lists = [list(ranking_a), list(ranking_b)]
    for name, items in zip(("ranking_a", "ranking_b"), lists, strict=True):
        if not items:
            raise ValueError(f"{name} is empty; RBO needs at least one ranked item")
        if len(set(items)) != len(items):
            raise ValueError(f"{name} repeats an item; a ranking lists each item once")
    return (lists[0], lists[1]) if len(lists[0]) <= len(lists[1]) else (lists[1], lists[0])


def _prefix_overlaps(short: list[Hashable], long_: list[Hashable]) -> np.ndarray:
    """X_d = |short[:min(d, s)] ∩ long[:d]| for d = 1..l."""
    seen_short: set[Hashable] = set()
    seen_long: set[Hashable] = set()
    overlap = np.zeros(len(long_), dtype=np.float64)
    count = 0
    for depth, item_long in enumerate(long_):
        if depth < len(short):
            item_short = short[depth]
            seen_short.add(item_short)
            count += item_short in seen_long
        seen_long.add(item_long)
        count += item_long in seen_short
        overlap[depth] = count
    return overlap


def _check_p(p: float) -> None:
    if not 0 < p < 1:
        raise ValueError(f"RBO persistence p must lie in (0, 1), got {p}")


# --- batched, tie-aware scores on region importances -----------------------------------------


def tie_groups(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank groups per row, highest value first: ``(start, size)`` per item, each (B, M).

    ``start`` = number of valid items of the row with a larger value, ``size`` = number of
    valid items tied with it (equal keys, see :func:`rbo_scores`). Invalid items: start = m
    (the row's valid count), size = M - m, i.e. after every valid item. Valid values must be
    finite.

    Runs of equal key >> 10 in the sorted rows are the groups, found on the flattened rows
    (group ids by cumulative sum of group starts).
    """
    keys = _sorted_keys(np.asarray(values, dtype=np.float64), np.asarray(valid, bool))
    n_rows, n_items = keys.shape
    keys = keys.ravel()
    row_start = np.repeat(np.arange(0, keys.size, n_items), n_items)
    item_position = row_start + (keys & _INDEX_MASK)
    keys >>= _INDEX_BITS
    new_group = np.empty(keys.size, dtype=bool)
    new_group[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new_group[1:])
    new_group[::n_items] = True
    group_first = np.flatnonzero(new_group)
    group_id = np.cumsum(new_group) - 1
    first = group_first[group_id]
    end = np.append(group_first[1:], keys.size)[group_id]  # one past the group's last position
    start = np.empty(keys.size, dtype=np.int64)
    size = np.empty(keys.size, dtype=np.int64)
    start[item_position] = row_start + n_items - end  # ascending sort: larger values come after
    size[item_position] = end - first
    return start.reshape(n_rows, n_items), size.reshape(n_rows, n_items)


def rbo_scores(
    importance_a: np.ndarray, importance_b: np.ndarray, valid: np.ndarray | None = None, p: float = 0.9
) -> np.ndarray:
    """Tie-aware RBO_ext per row of two importance matrices (B, M) over the same items.

    Row b ranks the m_b items with ``valid[b]`` (default: all), highest importance first; ties
    are rank groups (module docstring, X_d = sum_i min(w_a(i,d), w_b(i,d))); X_m = m, so::

        RBO_ext = p^m + (1-p)/p * sum_i C_i,   C_i = sum_{d=1..m} min(w_a(i,d), w_b(i,d)) p^d / d.

    With an item's groups at t_a + 1..t_a + g_a and t_b + 1..t_b + g_b, min(w_a, w_b) is 0 up
    to S = max(t_a, t_b), 1 from E = max(t_a + g_a, t_b + g_b) on, and in between the lower of
    the lines (d - t)/g: the steeper one (smaller g) up to their crossing
    d* = (t_a g_b - t_b g_a) / (g_b - g_a), the flatter one after (equal g: the later line).
    With G(n) = sum_{d<=n} p^d and Hp(n) = sum_{d<=n} p^d / d, a line summed over d = u+1..v is
    ((G(v) - G(u)) - t (Hp(v) - Hp(u))) / g, and the part from E on is Hp(m) - Hp(E - 1).

    Tied = equal after dropping the 10 lowest bits of the float64 (relative resolution 2^-42,
    about 2e-13, far finer than a float32 CAM): exactly equal importances are always tied.
    A row with a non-finite valid importance, or without valid items, gives NaN; m = 1 gives 1.
    """
    _check_p(p)
    importance_a = np.asarray(importance_a, dtype=np.float64)
    importance_b = np.asarray(importance_b, dtype=np.float64)
    if importance_a.shape != importance_b.shape or importance_a.ndim != 2:
        raise ValueError(
            f"importance_a and importance_b must share one (B, M) shape, got "
            f"{importance_a.shape} and {importance_b.shape}"
        )
    valid = np.ones(importance_a.shape, bool) if valid is None else np.asarray(valid, bool)
    if valid.shape != importance_a.shape:
        raise ValueError(f"valid must have shape {importance_a.shape}, got {valid.shape}")
    n_items = importance_a.shape[1]
    if n_items > _MAX_ITEMS:
        raise ValueError(f"at most {_MAX_ITEMS} items (regions) per row, got {n_items}")
    depths = np.arange(1, n_items + 1, dtype=np.float64)
    powers = p**depths
    geometric = np.concatenate([[0.0], np.cumsum(powers)])
    harmonic = np.concatenate([[0.0], np.cumsum(powers / depths)])
    m = valid.sum(axis=1)
    totals = _overlap_sums(_sorted_keys(importance_a, valid), _sorted_keys(importance_b, valid), m, geometric, harmonic)
    finite = ((np.isfinite(importance_a) & np.isfinite(importance_b)) | ~valid).all(axis=1)
    return np.where(finite & (m > 0), (1 - p) / p * totals + p**m, np.nan)


def _sorted_keys(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per row, ascending, int64 keys: the float64 bits made order-preserving (-0.0 as 0.0) with
    the 10 lowest bits replaced by the item index; invalid items get the lowest key."""
    keys = (values + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    keys = keys ^ ((keys >> 63) & _SIGN_FREE)
    keys[~valid] = _LOWEST_KEY
    keys &= _VALUE_MASK
    keys |= np.arange(values.shape[1], dtype=np.int64)
    keys.sort(axis=1)
    return keys


@numba.njit(cache=True, error_model="numpy")
def _overlap_sums(
    keys_a: np.ndarray, keys_b: np.ndarray, n_valid: np.ndarray, geometric: np.ndarray, harmonic: np.ndarray
) -> np.ndarray:
    """sum_i C_i per row (:func:`rbo_scores`) from the sorted keys of a and b.

    Walking a row from its largest key, a run of equal key >> 10 is a group: t = its first
    rank, t + g = one past its last. Items with E - 1 = S (no tie, or ties that end together)
    have only the part from E on.
    """
    n_rows, n_items = keys_a.shape
    start = np.empty((2, n_items), np.int64)  # by item
    end = np.empty((2, n_items), np.int64)  # by group start
    totals = np.empty(n_rows)
    for row in range(n_rows):
        m = n_valid[row]
        for ranking in range(2):
            keys = keys_a[row] if ranking == 0 else keys_b[row]
            group = 0
            for rank in range(m):
                key = keys[n_items - 1 - rank]
                if rank > 0 and key >> _INDEX_BITS != keys[n_items - rank] >> _INDEX_BITS:
                    group = rank
                start[ranking, key & _INDEX_MASK] = group
                end[ranking, group] = rank + 1
        total = 0.0
        for rank in range(m):
            item = keys_a[row, n_items - 1 - rank] & _INDEX_MASK
            t_a, t_b = start[0, item], start[1, item]
            g_a, g_b = end[0, t_a] - t_a, end[1, t_b] - t_b
            first = max(t_a, t_b)
            last = max(t_a + g_a, t_b + g_b) - 1
            total += harmonic[m] - harmonic[last]
            if last > first:
                if g_a == g_b:
                    split = first
                else:
                    split = min(max((t_a * g_b - t_b * g_a) // (g_b - g_a), first), last)
                a_steep = g_a < g_b or (g_a == g_b and t_a <= t_b)
                t_steep, g_steep = (t_a, g_a) if a_steep else (t_b, g_b)
                t_flat, g_flat = (t_b, g_b) if a_steep else (t_a, g_a)
                steep = (geometric[split] - geometric[first]) - t_steep * (harmonic[split] - harmonic[first])
                flat = (geometric[last] - geometric[split]) - t_flat * (harmonic[last] - harmonic[split])
                total += steep / g_steep + flat / g_flat
        totals[row] = total
    return totals
