"""Similarity of a clean and a noisy CAM: region-ranking RBO and complementary measures.

Robustness score (SPEC section 3): the clean image's regions are ranked by mean CAM value
(highest first) for the clean CAM (pi) and the noisy CAM (pi'); the score is the extrapolated
rank-biased overlap of Webber, Moffat & Zobel (2010), with persistence ``p``::

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

Complementary measures on the same pairs (e = clean CAM, e' = noisy CAM, maps in [0, 1]):
Spearman correlation of region importances (average ranks for ties), IoU of the top-k pixels,
SSIM (Wang et al. 2004, 7x7 uniform window, data_range 1, as skimage), L1 = mean |e - e'|,
sensitivity = ||e - e'||_F / ||e||_F.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING

import numba
import numpy as np
from numba.extending import intrinsic
from scipy.ndimage import uniform_filter

if TYPE_CHECKING:
    import torch

SIMILARITY_KEYS: tuple[str, ...] = (
    "rbo",
    "spearman",
    "iou_top20",
    "ssim",
    "l1",
    "sensitivity",
    "n_regions",
    "note",
)
SSIM_WINDOW = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03
_SSIM_CHUNK = 256
_INDEX_BITS = 10  # low key bits holding the item index: at most 1024 items per row
_MAX_ITEMS = 1 << _INDEX_BITS
_INDEX_MASK = _MAX_ITEMS - 1
_SIGN_FREE = np.int64(0x7FFF_FFFF_FFFF_FFFF)
_LOWEST_KEY = np.int64(np.iinfo(np.int64).min)
_VALUE_MASK = ~np.int64(_INDEX_MASK)
_POSITIVE_INFINITE_KEY = np.int64(0x7FF0_0000_0000_0000)  # key of +inf; positive NaNs are above it
_SMALLEST_FINITE_KEY = np.int64(-0x7FF0_0000_0000_0000)  # key of -max; -inf, negative NaNs are below it
_BLOCK_ROWS = 32  # rows scored together by rbo_scores; a and b fill 64 lanes of the sort
_RUN = 16  # positions sorted in registers before the merge network


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


def rbo_bounds(
    ranking_a: Sequence[Hashable], ranking_b: Sequence[Hashable], p: float = 0.9
) -> tuple[float, float]:
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
    """
    return _tie_groups_by_item(np.asarray(values, dtype=np.float64), np.asarray(valid, bool))


def rbo_scores(
    importance_a: np.ndarray,
    importance_b: np.ndarray,
    valid: np.ndarray | None = None,
    p: float = 0.9,
    threads: int = 1,
) -> np.ndarray:
    """Tie-aware RBO_ext per row of two importance matrices (B, M) over the same items.

    Row b ranks the m_b items with ``valid[b]`` (default: all), highest importance first; ties
    are rank groups (module docstring, X_d = sum_i min(w_a(i,d), w_b(i,d))); X_m = m, so::

        RBO_ext = p^m + (1-p)/p * sum_{d=1..m} X_d p^d / d

    A compiled kernel (numba; ``threads`` > 1 splits the rows between threads) packs the keys of
    32 rows of both matrices into 64 lanes, sorts them with a sorting network (runs of 16 in registers, then Batcher's merges;
    each step one vector operation across the lanes) and sums X_d p^d / d per row in one of two
    ways:

    - up to 64 items whose only tie groups are the last ones (e.g. the zero-importance regions
      of a ReLU'd CAM): X_d = |A_d ∩ B_d| with the top-d sets A_d, B_d as 64-bit masks, plus
      the last group's fraction w = (d - t) / g where it has started;
    - otherwise per item, C_i = sum_d min(w_a(i,d), w_b(i,d)) p^d / d in closed form:
      min(w_a, w_b) = clip(min of the two lines (d - t)/g, 0, 1) is 1 from
      E = max(t_a + g_a, t_b + g_b) on, 0 up to S = max(t_a, t_b), and in between the steeper
      line up to their crossing, the flatter one after it; with prefix sums
      G(n) = sum_{d<=n} p^d, Hp(n) = sum_{d<=n} p^d / d a line segment sums to
      ((G(v) - G(u-1)) - t (Hp(v) - Hp(u-1))) / g.

    Tied = equal after dropping the 10 lowest bits of the float64 (relative resolution 2^-42,
    about 2e-13, far finer than a float32 CAM): exactly equal importances are always tied.
    A row with a non-finite valid importance, or without valid items, gives NaN; m = 1 gives 1.
    """
    _check_p(p)
    importance_a = np.ascontiguousarray(importance_a, dtype=np.float64)
    importance_b = np.ascontiguousarray(importance_b, dtype=np.float64)
    if importance_a.shape != importance_b.shape or importance_a.ndim != 2:
        raise ValueError(
            f"importance_a and importance_b must share one (B, M) shape, got "
            f"{importance_a.shape} and {importance_b.shape}"
        )
    valid = np.ones(importance_a.shape, bool) if valid is None else np.ascontiguousarray(valid, bool)
    if valid.shape != importance_a.shape:
        raise ValueError(f"valid must have shape {importance_a.shape}, got {valid.shape}")
    n_items = importance_a.shape[1]
    if n_items > _MAX_ITEMS:
        raise ValueError(f"at most {_MAX_ITEMS} items (regions) per row, got {n_items}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    tables = _depth_tables(p, n_items)
    network = _merge_network(_padded(n_items))
    n_rows = len(importance_a)
    scores = np.empty(n_rows)
    n_blocks = -(-n_rows // _BLOCK_ROWS)
    bounds = [min(n_rows, n_blocks * part // threads * _BLOCK_ROWS) for part in range(threads + 1)]

    def score_rows(first_row: int, end_row: int) -> None:
        _rbo_rows(importance_a, importance_b, valid, first_row, end_row, network, *tables, p, scores)

    if threads == 1 or n_blocks == 1:
        score_rows(0, n_rows)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(score_rows, bounds[:-1], bounds[1:]))  # the kernel releases the GIL
    return scores


def _depth_tables(p: float, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For d, n = 0..n_items: W(d) = p^d / d (W(0) = 0), G(n) = sum_{d<=n} p^d, Hp(n) = sum_{d<=n} W(d)."""
    depths = np.arange(1, n_items + 1, dtype=np.float64)
    powers = p**depths
    weights = np.concatenate([[0.0], powers / depths])
    return weights, np.concatenate([[0.0], np.cumsum(powers)]), np.cumsum(weights)


@numba.njit(cache=True)
def _padded(n_items: int) -> int:
    """Positions the kernel sorts: n_items rounded up to whole runs of 8."""
    return -(-n_items // 8) * 8


@cache
def _merge_network(n_items: int) -> np.ndarray:
    """Comparators (i, j), i < j, of Batcher's odd-even merge sort for n_items keys, (K, 2),
    without the stages that sort runs of 16 (done in registers by :func:`_sort_runs`).

    Built for the next power of two n; comparators reaching position n_items or beyond are
    dropped (there the padding keys are the smallest and never move). Applying them in order,
    each putting the larger key at i, sorts descending.
    """
    n = 1 << max(n_items - 1, 0).bit_length()
    pairs = []
    span = _RUN
    while span < n:
        step = span
        while step >= 1:
            for offset in range(step % span, n - step, 2 * step):
                for i in range(offset, offset + min(step, n - offset - step)):
                    if i // (2 * span) == (i + step) // (2 * span) and i + step < n_items:
                        pairs.append((i, i + step))
            step //= 2
        span *= 2
    network = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    network.setflags(write=False)  # shared by every call with this n_items
    return network


@intrinsic
def _popcount(typingctx, value):
    """Number of set bits of an int64 (LLVM ctpop)."""

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return numba.types.int64(numba.types.int64), codegen


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _rbo_rows(
    importance_a: np.ndarray,
    importance_b: np.ndarray,
    valid: np.ndarray,
    first_row: int,
    end_row: int,
    network: np.ndarray,
    weights: np.ndarray,
    geometric: np.ndarray,
    harmonic: np.ndarray,
    p: float,
    scores: np.ndarray,
) -> None:
    """scores[first_row:end_row] = RBO_ext of those rows (:func:`rbo_scores`), _BLOCK_ROWS at a time."""
    n_items_max = importance_a.shape[1]
    rows = np.empty((2, _BLOCK_ROWS, n_items_max), np.int64)  # ranking, row in block, item
    keys = np.full((_padded(n_items_max), 2 * _BLOCK_ROWS), _LOWEST_KEY)  # position, lane
    n_valid = np.empty(2 * _BLOCK_ROWS, np.int64)  # per lane: a rows, then b rows
    ties = np.empty(2 * _BLOCK_ROWS, np.int64)
    members = np.empty(_BLOCK_ROWS, np.int64)
    start = np.empty((2, n_items_max), np.int64)  # by item
    size = np.empty((2, n_items_max), np.int64)  # by group start
    bitmasks = n_items_max <= 64
    for block in range(first_row, end_row, _BLOCK_ROWS):
        _pack_keys(importance_a, importance_b, valid, block, end_row, rows, keys, n_valid, members)
        _sort_runs(keys)
        _merge_runs(keys, network)
        _count_ties(keys, n_valid, ties)
        for lane in range(min(_BLOCK_ROWS, end_row - block)):
            m = n_valid[lane]
            if m == 0 or _not_finite(keys, lane, m) or _not_finite(keys, _BLOCK_ROWS + lane, m):
                scores[block + lane] = np.nan
                continue
            last_a = m - 1 - ties[lane]  # start of the last group if it holds every tie
            last_b = m - 1 - ties[_BLOCK_ROWS + lane]
            if bitmasks and _same_group(keys, lane, last_a, m - 1) and _same_group(
                keys, _BLOCK_ROWS + lane, last_b, m - 1
            ):
                total = _prefix_overlap_sum(keys, lane, m, last_a, last_b, members[lane], weights)
            else:
                for ranking in range(2):
                    _rank_groups(keys, ranking * _BLOCK_ROWS + lane, m, start[ranking], size[ranking])
                total = _item_overlap_sum(keys, lane, m, start, size, geometric, harmonic)
            scores[block + lane] = (1 - p) / p * total + p**m


@numba.njit(cache=True, error_model="numpy")
def _pack_keys(
    importance_a: np.ndarray,
    importance_b: np.ndarray,
    valid: np.ndarray,
    first_row: int,
    end_row: int,
    rows: np.ndarray,
    keys: np.ndarray,
    n_valid: np.ndarray,
    members: np.ndarray,
) -> None:
    """keys[j, lane] for rows first_row + lane of a (lanes 0..31) and b (lanes 32..63).

    Key as in :func:`tie_groups`: the float64 bits made order-preserving (negative values: all
    bits but the sign flipped; -0.0 as 0.0), the 10 lowest bits replaced by the item index j;
    invalid items get the lowest key. Per row: n_valid = m (0 from end_row on) and
    members = bit j set for each valid item j < 64. Built row-major (contiguous reads), then
    transposed.
    """
    n_items_max = importance_a.shape[1]
    bits_a, bits_b = importance_a.view(np.int64), importance_b.view(np.int64)
    for lane in range(_BLOCK_ROWS):
        row = min(first_row + lane, end_row - 1)
        count = 0
        mask = np.int64(0)
        for j in range(n_items_max):
            is_valid = valid[row, j]
            a, b = bits_a[row, j], bits_b[row, j]
            count += is_valid
            mask |= np.int64(is_valid) << (j & 63)
            rows[0, lane, j] = (_ordered_bits(a) if is_valid else _LOWEST_KEY) | j
            rows[1, lane, j] = (_ordered_bits(b) if is_valid else _LOWEST_KEY) | j
        m = count if first_row + lane < end_row else 0
        n_valid[lane] = n_valid[_BLOCK_ROWS + lane] = m
        members[lane] = mask
    for j in range(n_items_max):
        for lane in range(_BLOCK_ROWS):
            keys[j, lane] = rows[0, lane, j]
            keys[j, _BLOCK_ROWS + lane] = rows[1, lane, j]


@numba.njit(cache=True)
def _ordered_bits(bits: int) -> int:
    """Float64 bits as an order-preserving int64 (-0.0 as 0.0), the 10 index bits cleared."""
    ordered = bits ^ ((bits >> 63) & _SIGN_FREE)
    return (ordered + (ordered == -1)) & _VALUE_MASK


@numba.njit(cache=True, inline="always")
def _exchange(x: int, y: int) -> tuple[int, int]:
    return max(x, y), min(x, y)


@numba.njit(cache=True, inline="always")
def _sort8(k0: int, k1: int, k2: int, k3: int, k4: int, k5: int, k6: int, k7: int) -> tuple:
    """Eight keys descending: Batcher's 19-comparator network."""
    k0, k1 = _exchange(k0, k1)
    k2, k3 = _exchange(k2, k3)
    k4, k5 = _exchange(k4, k5)
    k6, k7 = _exchange(k6, k7)
    k0, k2 = _exchange(k0, k2)
    k1, k3 = _exchange(k1, k3)
    k4, k6 = _exchange(k4, k6)
    k5, k7 = _exchange(k5, k7)
    k1, k2 = _exchange(k1, k2)
    k5, k6 = _exchange(k5, k6)
    k0, k4 = _exchange(k0, k4)
    k1, k5 = _exchange(k1, k5)
    k2, k6 = _exchange(k2, k6)
    k3, k7 = _exchange(k3, k7)
    k2, k4 = _exchange(k2, k4)
    k3, k5 = _exchange(k3, k5)
    k1, k2 = _exchange(k1, k2)
    k3, k4 = _exchange(k3, k4)
    k5, k6 = _exchange(k5, k6)
    return k0, k1, k2, k3, k4, k5, k6, k7


@numba.njit(cache=True, error_model="numpy")
def _sort_runs(keys: np.ndarray) -> None:
    """Sort each run of 16 positions (and a last run of 8) descending, all lanes at once.

    Keys stay in registers: two :func:`_sort8` and Batcher's 25-comparator merge of them.
    """
    n_positions, n_lanes = keys.shape
    for run in range(0, n_positions - _RUN + 1, _RUN):
        k = keys[run : run + _RUN]
        for lane in range(n_lanes):
            k0, k1, k2, k3, k4, k5, k6, k7 = _sort8(
                k[0, lane], k[1, lane], k[2, lane], k[3, lane], k[4, lane], k[5, lane], k[6, lane], k[7, lane]
            )
            k8, k9, k10, k11, k12, k13, k14, k15 = _sort8(
                k[8, lane], k[9, lane], k[10, lane], k[11, lane], k[12, lane], k[13, lane], k[14, lane], k[15, lane]
            )
            k0, k8 = _exchange(k0, k8)
            k1, k9 = _exchange(k1, k9)
            k2, k10 = _exchange(k2, k10)
            k3, k11 = _exchange(k3, k11)
            k4, k12 = _exchange(k4, k12)
            k5, k13 = _exchange(k5, k13)
            k6, k14 = _exchange(k6, k14)
            k7, k15 = _exchange(k7, k15)
            k4, k8 = _exchange(k4, k8)
            k5, k9 = _exchange(k5, k9)
            k6, k10 = _exchange(k6, k10)
            k7, k11 = _exchange(k7, k11)
            k2, k4 = _exchange(k2, k4)
            k3, k5 = _exchange(k3, k5)
            k6, k8 = _exchange(k6, k8)
            k7, k9 = _exchange(k7, k9)
            k10, k12 = _exchange(k10, k12)
            k11, k13 = _exchange(k11, k13)
            k1, k2 = _exchange(k1, k2)
            k3, k4 = _exchange(k3, k4)
            k5, k6 = _exchange(k5, k6)
            k7, k8 = _exchange(k7, k8)
            k9, k10 = _exchange(k9, k10)
            k11, k12 = _exchange(k11, k12)
            k13, k14 = _exchange(k13, k14)
            k[0, lane], k[1, lane], k[2, lane], k[3, lane] = k0, k1, k2, k3
            k[4, lane], k[5, lane], k[6, lane], k[7, lane] = k4, k5, k6, k7
            k[8, lane], k[9, lane], k[10, lane], k[11, lane] = k8, k9, k10, k11
            k[12, lane], k[13, lane], k[14, lane], k[15, lane] = k12, k13, k14, k15
    if n_positions % _RUN:
        k = keys[n_positions - 8 :]
        for lane in range(n_lanes):
            k0, k1, k2, k3, k4, k5, k6, k7 = _sort8(
                k[0, lane], k[1, lane], k[2, lane], k[3, lane], k[4, lane], k[5, lane], k[6, lane], k[7, lane]
            )
            k[0, lane], k[1, lane], k[2, lane], k[3, lane] = k0, k1, k2, k3
            k[4, lane], k[5, lane], k[6, lane], k[7, lane] = k4, k5, k6, k7


@numba.njit(cache=True, error_model="numpy")
def _merge_runs(keys: np.ndarray, network: np.ndarray) -> None:
    """Apply the comparators of :func:`_merge_network` to every lane (larger key first)."""
    for comparator in range(network.shape[0]):
        high, low = network[comparator, 0], network[comparator, 1]
        for lane in range(2 * _BLOCK_ROWS):
            a, b = keys[high, lane], keys[low, lane]
            keys[high, lane] = max(a, b)
            keys[low, lane] = min(a, b)


@numba.njit(cache=True, error_model="numpy")
def _count_ties(keys: np.ndarray, n_valid: np.ndarray, ties: np.ndarray) -> None:
    """ties[lane] = number of valid positions whose successor is valid and tied with them."""
    n_positions = keys.shape[0]
    ties[:] = 0
    for position in range(n_positions - 1):
        for lane in range(2 * _BLOCK_ROWS):
            tied = ((keys[position + 1, lane] ^ keys[position, lane]) >> _INDEX_BITS) == 0
            ties[lane] += tied & (position + 1 < n_valid[lane])


@numba.njit(cache=True)
def _not_finite(keys: np.ndarray, lane: int, m: int) -> bool:
    """A valid key of the sorted lane is +-inf or NaN: the first is >= +inf or the m-th < -max."""
    return keys[0, lane] >= _POSITIVE_INFINITE_KEY or keys[m - 1, lane] < _SMALLEST_FINITE_KEY


@numba.njit(cache=True)
def _same_group(keys: np.ndarray, lane: int, position: int, other: int) -> bool:
    return ((keys[position, lane] ^ keys[other, lane]) >> _INDEX_BITS) == 0


@numba.njit(cache=True, error_model="numpy", inline="always")
def _prefix_overlap_sum(
    keys: np.ndarray, lane: int, m: int, last_a: int, last_b: int, members: int, weights: np.ndarray
) -> float:
    """sum_d X_d p^d / d for a row whose only tie groups start at last_a (a) and last_b (b).

    X is symmetric in a and b; call 1 the ranking whose last group starts first (at t1) and 2 the
    other (at t2). With S1, S2 the top-d item masks and P = members ^ S the items of a started
    group, whose share of the top d is w = (d - t) / g:

    - d <= t1: X_d = popcount(S1 & S2) (two depths per step, into two sums, so the additions
      do not wait on each other);
    - t1 < d <= t2: S1 stops growing, X_d = |S1 & S2| + w1 |P1 & S2|;
    - t2 < d < m: both stop, X_d = |S1 & S2| + w1 |P1 & S2| + w2 |S1 & P2| + min(w1, w2) |P1 & P2|
      with the four counts fixed;
    - d = m: X_m = m.
    """
    lane_1, lane_2 = (lane, _BLOCK_ROWS + lane) if last_a <= last_b else (_BLOCK_ROWS + lane, lane)
    first, second = min(last_a, last_b), max(last_a, last_b)
    seen_1 = np.int64(0)
    seen_2 = np.int64(0)
    even = 0.0
    odd = 0.0
    pairs_end = first // 2 * 2
    for position in range(0, pairs_end, 2):
        seen_1 |= np.int64(1) << (keys[position, lane_1] & 63)
        seen_2 |= np.int64(1) << (keys[position, lane_2] & 63)
        even += _popcount(seen_1 & seen_2) * weights[position + 1]
        seen_1 |= np.int64(1) << (keys[position + 1, lane_1] & 63)
        seen_2 |= np.int64(1) << (keys[position + 1, lane_2] & 63)
        odd += _popcount(seen_1 & seen_2) * weights[position + 2]
    if pairs_end < first:
        seen_1 |= np.int64(1) << (keys[pairs_end, lane_1] & 63)
        seen_2 |= np.int64(1) << (keys[pairs_end, lane_2] & 63)
        even += _popcount(seen_1 & seen_2) * weights[first]
    group_1 = members ^ seen_1
    step_1 = 1.0 / (m - first)  # w1 grows by 1/g1 per depth
    for position in range(first, min(second, m - 1)):
        seen_2 |= np.int64(1) << (keys[position, lane_2] & 63)
        w_1 = (position + 1 - first) * step_1
        odd += (_popcount(seen_1 & seen_2) + w_1 * _popcount(group_1 & seen_2)) * weights[position + 1]
    if second < m - 1:
        group_2 = members ^ seen_2
        both = _popcount(seen_1 & seen_2)
        share_1 = _popcount(group_1 & seen_2)
        share_2 = _popcount(seen_1 & group_2)
        shared = _popcount(group_1 & group_2)
        step_2 = 1.0 / (m - second)
        for position in range(second, m - 1):
            w_1 = (position + 1 - first) * step_1
            w_2 = (position + 1 - second) * step_2
            even += (both + w_1 * share_1 + w_2 * share_2 + min(w_1, w_2) * shared) * weights[position + 1]
    return even + odd + m * weights[m]


@numba.njit(cache=True)
def _rank_groups(keys: np.ndarray, lane: int, n_items: int, start: np.ndarray, size: np.ndarray) -> None:
    """start[item] = its group start t and size[t] = group size g, from one sorted lane.

    A group is a run of keys equal after dropping the index bits.
    """
    group = 0
    previous = keys[0, lane] >> _INDEX_BITS
    for rank in range(n_items):
        key = keys[rank, lane]
        group = group if key >> _INDEX_BITS == previous else rank
        previous = key >> _INDEX_BITS
        start[key & _INDEX_MASK] = group
        size[group] = rank + 1 - group


@numba.njit(cache=True, error_model="numpy")
def _item_overlap_sum(
    keys: np.ndarray,
    lane: int,
    n_items: int,
    start: np.ndarray,
    size: np.ndarray,
    geometric: np.ndarray,
    harmonic: np.ndarray,
) -> float:
    """sum_i C_i (:func:`rbo_scores`) over the valid items, from start/size of a (0) and b (1).

    C_i = Hp(m) - Hp(E - 1), plus for an item in a tie sum_{d=S+1..E-1} min(w_a, w_b) p^d / d:
    the steeper line (smaller group) up to the crossing d* = (t_a g_b - t_b g_a) / (g_b - g_a),
    the flatter one after; equal sizes: the later line throughout.
    """
    total = 0.0
    for rank in range(n_items):
        item = keys[rank, lane] & _INDEX_MASK
        t_a, t_b = start[0, item], start[1, item]
        g_a, g_b = size[0, t_a], size[1, t_b]
        last = max(t_a + g_a, t_b + g_b) - 1
        total += harmonic[n_items] - harmonic[last]
        if g_a > 1 or g_b > 1:
            first = max(t_a, t_b)
            if g_a == g_b:
                split = first
                t_steep, g_steep, t_flat, g_flat = t_b, g_b, max(t_a, t_b), g_a
            else:
                split = min(max((t_a * g_b - t_b * g_a) // (g_b - g_a), first), last)
                steep_a = g_a < g_b
                t_steep, g_steep = (t_a, g_a) if steep_a else (t_b, g_b)
                t_flat, g_flat = (t_b, g_b) if steep_a else (t_a, g_a)
            steep = (geometric[split] - geometric[first]) - t_steep * (harmonic[split] - harmonic[first])
            flat = (geometric[last] - geometric[split]) - t_flat * (harmonic[last] - harmonic[split])
            total += steep / g_steep + flat / g_flat
    return total


def _tie_groups_by_item(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, size) of each item's rank group, (B, M), highest value first.

    One sort per row of int64 keys = order-preserving float64 bits with the 10 lowest bits
    replaced by the item index; runs of equal key >> 10 are tie groups, found on the
    flattened sorted rows (group ids by cumulative sum of group starts). Invalid items get
    the lowest key and form the last group.
    """
    n_rows, n_items = values.shape
    keys = (values + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    keys = keys ^ ((keys >> 63) & _SIGN_FREE)
    keys[~valid] = _LOWEST_KEY
    keys &= ~np.int64(_INDEX_MASK)
    keys |= np.arange(n_items, dtype=np.int64)
    keys.sort(axis=1)
    keys = keys.ravel()
    row_start = np.repeat(np.arange(0, keys.size, n_items), n_items)
    item_position = row_start + (keys & _INDEX_MASK)
    keys >>= _INDEX_BITS
    new_group = np.empty(keys.size, dtype=bool)
    new_group[0] = True
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


def spearman_scores(importance_a: np.ndarray, importance_b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Spearman rho per row over the valid items: Pearson correlation of average ranks.

    Average rank = start + (size + 1) / 2 (ties as in :func:`rbo_scores`; equals
    ``scipy.stats.spearmanr`` on the valid items). NaN where a row
    has fewer than 2 valid items, a non-finite valid importance, or a constant importance.
    """
    importance_a = np.asarray(importance_a, dtype=np.float64)
    importance_b = np.asarray(importance_b, dtype=np.float64)
    valid = np.asarray(valid, bool)
    broken = (valid & ~(np.isfinite(importance_a) & np.isfinite(importance_b))).any(axis=1)
    usable = valid & ~broken[:, None]
    n_items = usable.sum(axis=1)
    mean_rank = (n_items + 1) / 2.0
    centred = []
    for importance in (importance_a, importance_b):
        start, size = tie_groups(importance, usable)
        centred.append(np.where(usable, start + (size + 1) / 2.0 - mean_rank[:, None], 0.0))
    covariance = (centred[0] * centred[1]).sum(axis=1)
    spread = np.sqrt((centred[0] ** 2).sum(axis=1) * (centred[1] ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = covariance / spread
    rho[(n_items < 2) | (spread == 0)] = np.nan
    return rho


# --- region importance -----------------------------------------------------------------------


def region_importance(
    cams: np.ndarray | torch.Tensor, segments: np.ndarray | torch.Tensor, n_max: int
) -> np.ndarray:
    """Mean CAM value per region: ``(B, n_max)`` float64, NaN for labels absent from an image.

    importance[b, j] = sum_{pixels q with segments[b, q] = j} cams[b, q] / |region j|.
    """
    sums, counts = _region_sums(_to_numpy(cams), _to_numpy(segments), n_max)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _region_sums(cams: np.ndarray, segments: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    if cams.shape != segments.shape or cams.ndim != 3:
        raise ValueError(
            f"cams and segments must share one (B, H, W) shape, got {cams.shape} and {segments.shape}"
        )
    if segments.size and (segments.min() < 0 or segments.max() >= n_max):
        raise ValueError(
            f"segment labels must lie in 0..n_max-1 = 0..{n_max - 1}, "
            f"got {segments.min()}..{segments.max()}"
        )
    n_images = len(cams)
    offsets = (np.arange(n_images, dtype=np.int64) * n_max)[:, None, None]
    labels = (segments.astype(np.int64) + offsets).ravel()
    sums = np.bincount(labels, weights=cams.astype(np.float64).ravel(), minlength=n_images * n_max)
    counts = np.bincount(labels, minlength=n_images * n_max)
    return sums.reshape(n_images, n_max), counts.reshape(n_images, n_max)


# --- pixel-level measures --------------------------------------------------------------------


def topk_iou(cams_a: np.ndarray, cams_b: np.ndarray, topk: float = 0.2) -> np.ndarray:
    """IoU of the top-k pixel sets of two maps per pair (B,).

    With n pixels and k = ceil(topk * n), a map's set is every pixel whose value is >= its
    k-th largest value: ties at the threshold are all included, so the set does not depend
    on pixel order (a flat map selects all pixels). NaN where a map has a non-finite value.
    """
    if not 0 < topk <= 1:
        raise ValueError(f"topk must lie in (0, 1], got {topk}")
    flat_a = cams_a.reshape(len(cams_a), -1)
    flat_b = cams_b.reshape(len(cams_b), -1)
    n_pixels = flat_a.shape[1]
    k = math.ceil(topk * n_pixels - 1e-9)
    top_a = flat_a >= np.partition(flat_a, n_pixels - k, axis=1)[:, n_pixels - k, None]
    top_b = flat_b >= np.partition(flat_b, n_pixels - k, axis=1)[:, n_pixels - k, None]
    iou = (top_a & top_b).sum(axis=1) / (top_a | top_b).sum(axis=1)
    iou[~(_finite_maps(cams_a) & _finite_maps(cams_b))] = np.nan
    return iou


def ssim_scores(cams_a: np.ndarray, cams_b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Mean SSIM per pair (B,), as skimage ``structural_similarity`` with a 7x7 uniform window.

    With window means mu, sample (co)variances sigma (factor N/(N-1), N = 49),
    C1 = (0.01 R)^2, C2 = (0.03 R)^2::

        SSIM = (2 mu_a mu_b + C1)(2 sigma_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2))

    averaged over the pixels whose window lies inside the image. Computed in float64.
    """
    height, width = cams_a.shape[1:]
    if min(height, width) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs maps of at least {SSIM_WINDOW} px, got {height}x{width}")
    out = np.empty(len(cams_a), dtype=np.float64)
    for begin in range(0, len(cams_a), _SSIM_CHUNK):
        chunk = slice(begin, begin + _SSIM_CHUNK)
        out[chunk] = _ssim_chunk(cams_a[chunk], cams_b[chunk], data_range)
    return out


def _ssim_chunk(cams_a: np.ndarray, cams_b: np.ndarray, data_range: float) -> np.ndarray:
    a = cams_a.astype(np.float64)
    b = cams_b.astype(np.float64)
    size = (1, SSIM_WINDOW, SSIM_WINDOW)
    mean_a, mean_b = uniform_filter(a, size), uniform_filter(b, size)
    sample = SSIM_WINDOW**2 / (SSIM_WINDOW**2 - 1)
    var_a = sample * (uniform_filter(a * a, size) - mean_a * mean_a)
    var_b = sample * (uniform_filter(b * b, size) - mean_b * mean_b)
    cov = sample * (uniform_filter(a * b, size) - mean_a * mean_b)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / (
        (mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)
    )
    pad = (SSIM_WINDOW - 1) // 2
    return ssim_map[:, pad:-pad, pad:-pad].mean(axis=(1, 2))


def l1_distance(cams_a: np.ndarray, cams_b: np.ndarray) -> np.ndarray:
    """Normalised L1 distance per pair: mean over pixels of |e - e'| (maps in [0, 1])."""
    return np.abs(cams_a.astype(np.float64) - cams_b).mean(axis=(1, 2))


def relative_sensitivity(cams_clean: np.ndarray, cams_noisy: np.ndarray) -> np.ndarray:
    """||e - e'||_F / ||e||_F per pair; NaN where the clean map is all zero."""
    clean = cams_clean.astype(np.float64)
    difference = np.sqrt(((clean - cams_noisy) ** 2).sum(axis=(1, 2)))
    norm = np.sqrt((clean**2).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, difference / norm, np.nan)


def _finite_maps(cams: np.ndarray) -> np.ndarray:
    return np.isfinite(cams).all(axis=(1, 2))


# --- all measures for one batch of (clean, noisy) pairs --------------------------------------


def pair_similarities(
    clean_cams: np.ndarray | torch.Tensor,
    noisy_cams: np.ndarray | torch.Tensor,
    segments: np.ndarray | torch.Tensor,
    p: float = 0.9,
    topk: float = 0.2,
) -> dict[str, np.ndarray]:
    """Every similarity of (clean, noisy) CAM pairs (B, H, W) on the clean image's segments.

    Returns arrays (B,) under :data:`SIMILARITY_KEYS`: rbo, spearman, iou_top20 (top ``topk``
    pixels), ssim, l1, sensitivity (float64), n_regions (int64) and note (str: "" or the
    reasons, joined by "; ", why a score is NaN). A CAM with a non-finite pixel makes every
    score of its pair NaN ("clean CAM is NaN" / "noisy CAM is NaN"); one region makes rbo and
    spearman NaN ("single region"); flat maps are scored through ties.
    """
    clean = _to_numpy(clean_cams).astype(np.float64)
    noisy = _to_numpy(noisy_cams).astype(np.float64)
    labels = _to_numpy(segments)
    if clean.shape != noisy.shape or clean.shape != labels.shape or clean.ndim != 3:
        raise ValueError(
            "clean_cams, noisy_cams and segments must share one (B, H, W) shape, got "
            f"{clean.shape}, {noisy.shape} and {labels.shape}"
        )
    n_max = int(labels.max()) + 1 if labels.size else 1
    sums_clean, counts = _region_sums(clean, labels, n_max)
    sums_noisy, _ = _region_sums(noisy, labels, n_max)
    valid = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        importance_clean = sums_clean / counts
        importance_noisy = sums_noisy / counts
    n_regions = valid.sum(axis=1).astype(np.int64)
    clean_ok, noisy_ok = _finite_maps(clean), _finite_maps(noisy)
    ranked = (n_regions >= 2) & clean_ok & noisy_ok
    rbo_values = np.where(ranked, rbo_scores(importance_clean, importance_noisy, valid, p), np.nan)
    spearman = spearman_scores(importance_clean, importance_noisy, valid & ranked[:, None])
    pixels_ok = clean_ok & noisy_ok
    result: dict[str, np.ndarray] = {
        "rbo": rbo_values,
        "spearman": spearman,
        "iou_top20": topk_iou(clean, noisy, topk),
        "ssim": np.where(pixels_ok, ssim_scores(clean, noisy), np.nan),
        "l1": np.where(pixels_ok, l1_distance(clean, noisy), np.nan),
        "sensitivity": np.where(pixels_ok, relative_sensitivity(clean, noisy), np.nan),
        "n_regions": n_regions,
    }
    result["note"] = _pair_notes(clean_ok, noisy_ok, n_regions, result)
    return result


def _pair_notes(
    clean_ok: np.ndarray, noisy_ok: np.ndarray, n_regions: np.ndarray, scores: dict[str, np.ndarray]
) -> np.ndarray:
    """Reason per pair for each NaN score, "" when every score is defined."""
    pixels_ok = clean_ok & noisy_ok
    ranked = pixels_ok & (n_regions >= 2)
    reasons = [
        (~clean_ok, "clean CAM is NaN"),
        (~noisy_ok, "noisy CAM is NaN"),
        (pixels_ok & (n_regions < 2), "single region"),
        (ranked & np.isnan(scores["spearman"]), "spearman undefined: constant region importance"),
        (pixels_ok & np.isnan(scores["sensitivity"]), "sensitivity undefined: clean CAM is zero"),
    ]
    notes = np.full(len(n_regions), "", dtype=object)
    for mask, reason in reasons:
        notes[mask] = [f"{note}; {reason}" if note else reason for note in notes[mask]]
    return notes.astype(str)


def _to_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor, on any device (torch itself is not imported here)
        return array.detach().cpu().numpy()
    return np.asarray(array)
