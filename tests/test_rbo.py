"""Rank-biased overlap: closed forms, a direct Eq. 23/32 evaluation, ties by brute force, bounds."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from camrobust.scoring.rbo import rbo, rbo_bounds, rbo_scores, tie_groups

P = 0.9
# rbo_scores against an independent evaluation: both sum the same m <= 70 terms p^d X_d / d
# (each below 1) in float64 but in different orders and groupings (per item in closed form vs
# per depth), so they differ by rounding of order m * 2^-53 ~ 1e-14. 1e-12 leaves margin and
# stays far below the effect of one wrong overlap share at the deepest depth tested
# ((1-p)/p * p^70 / 70^2 ~ 1e-8).
SUM_TOL = 1e-12


def direct_rbo_ext(short: list, long_: list, p: float) -> float:
    """Eq. 32 written out with sets, X_d = |S[:min(d, s)] ∩ L[:d]| (Eq. 23 when s = l)."""
    if len(short) > len(long_):
        short, long_ = long_, short
    s, l = len(short), len(long_)
    overlap = [len(set(short[: min(d, s)]) & set(long_[:d])) for d in range(1, l + 1)]
    x_s, x_l = overlap[s - 1], overlap[l - 1]
    seen = sum(overlap[d - 1] / d * p**d for d in range(1, l + 1))
    assumed = sum(x_s * (d - s) / (s * d) * p**d for d in range(s + 1, l + 1))
    return (1 - p) / p * (seen + assumed) + ((x_l - x_s) / l + x_s / s) * p**l


def brute_force_tied_rbo(importance_a: list[float], importance_b: list[float], p: float) -> float:
    """The documented tie definition, item by item: w(i, d) = share of i's group positions in the top d."""
    m = len(importance_a)

    def positions(values: list[float]) -> list[set[int]]:
        out = []
        for value in values:
            above = sum(other > value for other in values)
            tied = sum(other == value for other in values)
            out.append(set(range(above + 1, above + tied + 1)))
        return out

    groups_a, groups_b = positions(importance_a), positions(importance_b)
    total = 0.0
    for d in range(1, m + 1):
        overlap = sum(
            min(len({q for q in ga if q <= d}) / len(ga), len({q for q in gb if q <= d}) / len(gb))
            for ga, gb in zip(groups_a, groups_b, strict=True)
        )
        total += overlap / d * p**d
        last_overlap = overlap
    return (1 - p) / p * total + last_overlap / m * p**m


def ranking_of(importance: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(-importance, kind="stable")]


def test_identical_rankings_score_one() -> None:
    items = list(range(12))
    assert rbo(items, items, P) == pytest.approx(1.0, abs=1e-15)
    values = np.random.default_rng(0).random((5, 12))
    np.testing.assert_allclose(rbo_scores(values, values, p=P), 1.0, atol=1e-14)


def test_reversed_ten_items_matches_closed_form() -> None:
    # Reversal of 10 items: X_d = max(0, 2d - 10); exact rational arithmetic with p = 9/10.
    p = Fraction(9, 10)
    closed = Fraction(10, 10) * p**10 + (1 - p) / p * sum(Fraction(max(0, 2 * d - 10), d) * p**d for d in range(1, 11))
    # Separately by hand: (1-p)/p * (2/6 p^6 + 4/7 p^7 + 6/8 p^8 + 8/9 p^9 + p^10) + p^10.
    by_hand = (1 - p) / p * (
        Fraction(1, 3) * p**6 + Fraction(4, 7) * p**7 + Fraction(3, 4) * p**8 + Fraction(8, 9) * p**9 + p**10
    ) + p**10
    assert closed == by_hand
    items = list(range(10))
    assert rbo(items, items[::-1], 0.9) == pytest.approx(float(closed), abs=1e-14)
    importance = np.arange(10, 0, -1, dtype=float)[None, :]
    assert rbo_scores(importance, importance[:, ::-1], p=0.9)[0] == pytest.approx(float(closed), abs=1e-14)


def test_batched_scores_match_direct_formula_on_random_tie_free_pairs() -> None:
    rng = np.random.default_rng(1)
    n_pairs, width = 1000, 24
    clean = rng.random((n_pairs, width))
    noisy = clean + rng.normal(0, 0.2, clean.shape)
    valid = np.arange(width)[None, :] < rng.integers(2, width + 1, n_pairs)[:, None]
    scores = rbo_scores(clean, noisy, valid, p=P)
    expected = []
    for a, b, v in zip(clean, noisy, valid, strict=True):
        ids = np.flatnonzero(v)
        expected.append(direct_rbo_ext(list(ids[np.argsort(-a[ids])]), list(ids[np.argsort(-b[ids])]), P))
    np.testing.assert_allclose(scores, expected, rtol=0, atol=SUM_TOL)
    assert rbo(ranking_of(clean[0]), ranking_of(noisy[0]), P) == pytest.approx(
        direct_rbo_ext(ranking_of(clean[0]), ranking_of(noisy[0]), P), abs=1e-12
    )


def test_uneven_lengths_hand_values_and_direct_formula() -> None:
    # S = [1, 2], L = [1, 3, 2]: X = 1, 1, 2; (0.1/0.9)(0.9 + 0.405 + 0.486 + 0.1215) + 5/6 * 0.729 = 0.82.
    assert rbo([1, 2], [1, 3, 2], 0.9) == pytest.approx(0.82, abs=1e-14)
    assert rbo([1, 3, 2], [1, 2], 0.9) == pytest.approx(0.82, abs=1e-14)
    # A prefix agrees perfectly: the extrapolation gives exactly 1.
    assert rbo([4, 5], [4, 5, 6, 7], 0.8) == pytest.approx(1.0, abs=1e-14)
    rng = np.random.default_rng(2)
    for _ in range(200):
        pool = rng.permutation(30)
        short = list(rng.permutation(pool)[: rng.integers(1, 15)])
        long_ = list(rng.permutation(pool)[: rng.integers(len(short), 30)])
        assert rbo(short, long_, P) == pytest.approx(direct_rbo_ext(short, long_, P), abs=1e-12)


def test_rbo_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="p must lie"):
        rbo([1], [1], 1.0)
    with pytest.raises(ValueError, match="repeats"):
        rbo([1, 1], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        rbo([], [1])


def test_tie_hand_example() -> None:
    # a: item0 first, items 1, 2 tied; b: item1 first, items 0, 2 tied.
    # X_1 = 0, X_2 = min(1, .5) + min(.5, 1) + min(.5, .5) = 1.5, X_3 = 3
    # RBO = (0.1/0.9)(0.75 * 0.81 + 0.729) + 0.729 = 0.8775
    a = np.array([[1.0, 0.0, 0.0]])
    b = np.array([[0.0, 1.0, 0.0]])
    assert rbo_scores(a, b, p=0.9)[0] == pytest.approx(0.8775, abs=1e-14)


def test_ties_match_brute_force_of_the_same_definition() -> None:
    rng = np.random.default_rng(3)
    width = 7
    a = rng.integers(0, 4, (300, width)).astype(float)
    b = np.where(rng.random((300, width)) < 0.7, a, rng.integers(0, 4, (300, width)))
    valid = np.arange(width)[None, :] < rng.integers(1, width + 1, 300)[:, None]
    scores = rbo_scores(a, b, valid, p=P)
    for row in range(300):
        ids = np.flatnonzero(valid[row])
        expected = brute_force_tied_rbo(list(a[row, ids]), list(b[row, ids]), P)
        assert scores[row] == pytest.approx(expected, abs=SUM_TOL)


@pytest.mark.parametrize(
    ("width", "zero_below", "mid_ties"),
    [
        (9, 0.3, False),  # ties only among the last (zero) items
        (40, 0.25, False),
        (40, 0.25, True),  # a tie higher up as well
        (70, 0.25, False),  # wide rows
    ],
)
def test_ties_on_item_subsets_match_brute_force(width: int, zero_below: float, mid_ties: bool) -> None:
    rng = np.random.default_rng(width + mid_ties)
    n_rows = 40
    a = rng.random((n_rows, width))
    b = a + rng.normal(0, 0.2, a.shape)
    a[a < zero_below] = 0.0
    b[b < zero_below] = 0.0
    if mid_ties:
        a[:, 1] = a[:, 0] = 2.0
        b[:, 3] = b[:, 2] = 1.5
    valid = rng.random((n_rows, width)) < rng.uniform(0.05, 1.0, (n_rows, 1))  # any subset of items
    valid[0] = True
    scores = rbo_scores(a, b, valid, p=P)
    assert np.isnan(scores[~valid.any(axis=1)]).all()
    for row in np.flatnonzero(valid.any(axis=1)):
        ids = np.flatnonzero(valid[row])
        expected = brute_force_tied_rbo(list(a[row, ids]), list(b[row, ids]), P)
        assert scores[row] == pytest.approx(expected, abs=SUM_TOL)


def test_infinite_importances_give_nan() -> None:
    a = np.array([[0.2, np.inf, 0.1], [0.2, -np.inf, 0.1], [0.2, 0.3, 0.1], [np.inf, 0.3, 0.1]])
    b = np.array([[0.2, 0.3, 0.1], [0.2, 0.3, 0.1], [-np.inf, 0.3, 0.1], [0.2, 0.3, 0.1]])
    valid = np.array([[True] * 3, [True] * 3, [True] * 3, [False, True, True]])
    scores = rbo_scores(a, b, valid, p=P)
    assert np.isnan(scores[:3]).all()
    assert scores[3] == pytest.approx(brute_force_tied_rbo([0.3, 0.1], [0.3, 0.1], P), abs=1e-14)


def test_tie_definition_is_not_the_average_over_tie_breaking() -> None:
    # Documented: the average over all tie-breaking orders differs (it uses w_a * w_b).
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    orders = []
    for order_a in itertools.permutations([1, 2]):
        for order_b in itertools.permutations([0, 2]):
            orders.append(rbo([0, *order_a], [1, *order_b], 0.9))
    average = sum(orders) / len(orders)
    # Mean X_2 over the 4 orders = (2 + 1 + 1 + 1) / 4 = 1.25 = sum_i w_a(i,2) w_b(i,2).
    assert average == pytest.approx((0.1 / 0.9) * (1.25 / 2 * 0.81 + 0.729) + 0.729, abs=1e-14)
    assert rbo_scores(np.array([a]), np.array([b]), p=0.9)[0] > average


def test_identical_inputs_with_ties_score_one() -> None:
    rng = np.random.default_rng(4)
    values = rng.integers(0, 3, (50, 9)).astype(float)
    values[0] = 0.0  # one flat row: a single tie group
    np.testing.assert_allclose(rbo_scores(values, values, p=P), 1.0, atol=1e-13)


def test_invariant_to_index_order_of_tied_items() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(0, 3, (200, 10)).astype(float)
    b = rng.integers(0, 3, (200, 10)).astype(float)
    reference = rbo_scores(a, b, p=P)
    for _ in range(5):
        order = rng.permutation(10)
        np.testing.assert_allclose(rbo_scores(a[:, order], b[:, order], p=P), reference, atol=1e-13)


def test_tie_groups_and_non_finite_rows() -> None:
    start, size = tie_groups(np.array([[0.5, 0.2, 0.5, 0.9]]), np.array([[True, True, True, False]]))
    np.testing.assert_array_equal(start, [[0, 2, 0, 3]])
    np.testing.assert_array_equal(size, [[2, 1, 2, 1]])
    scores = rbo_scores(np.array([[0.1, np.nan], [0.1, 0.2]]), np.array([[0.1, 0.2], [0.3, 0.4]]), p=P)
    assert np.isnan(scores[0]) and np.isfinite(scores[1])
    assert rbo_scores(np.array([[0.3]]), np.array([[0.7]]), p=P)[0] == 1.0
    assert np.isnan(rbo_scores(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3), bool))[0])


def test_empty_input() -> None:
    assert rbo_scores(np.zeros((0, 30)), np.zeros((0, 30)), p=P).shape == (0,)
    assert np.isnan(rbo_scores(np.zeros((2, 0)), np.zeros((2, 0)), p=P)).all()
    with pytest.raises(ValueError, match="shape"):
        rbo_scores(np.zeros((2, 3)), np.zeros((2, 4)))


def extended_rbo(short: list, long_: list, p: float, depth: int = 500) -> float:
    """RBO (truncated at ``depth``) of two lists already extended to ``depth`` items."""
    seen_a: set = set()
    seen_b: set = set()
    overlap, total = 0, 0.0
    for d in range(1, depth + 1):
        item_a, item_b = short[d - 1], long_[d - 1]
        overlap += int(item_a == item_b) + int(item_a in seen_b) + int(item_b in seen_a)
        seen_a.add(item_a)
        seen_b.add(item_b)
        total += overlap / d * p**d
    return (1 - p) / p * total


def test_bounds_equal_explicit_worst_and_best_continuations() -> None:
    rng = np.random.default_rng(6)
    for _ in range(60):
        pool = [int(item) for item in rng.permutation(40)]
        s = int(rng.integers(1, 12))
        l = int(rng.integers(s, 16))
        short = list(rng.permutation(pool)[:s])
        long_ = list(rng.permutation(pool)[:l])
        rbo_min, residual = rbo_bounds(short, long_, P)
        extrapolated = rbo(short, long_, P)
        assert rbo_min - 1e-12 <= extrapolated <= rbo_min + residual + 1e-12
        fresh = itertools.count(1000)
        worst_short = short + [next(fresh) for _ in range(500 - s)]
        worst_long = long_ + [next(fresh) for _ in range(500 - l)]
        assert rbo_min == pytest.approx(extended_rbo(worst_short, worst_long, P), abs=1e-12)
        # Best case: the short list takes the long list's unmatched items in order, then the
        # long list the short list's unmatched items, then both the same fresh items.
        long_only = [item for item in long_ if item not in short]
        short_only = [item for item in short if item not in long_]
        best_short = short + long_only
        best_long = long_ + short_only
        common = [next(fresh) for _ in range(500)]
        best_short += common[: 500 - len(best_short)]
        best_long += common[: 500 - len(best_long)]
        assert rbo_min + residual == pytest.approx(extended_rbo(best_short, best_long, P), abs=1e-12)


def test_even_bounds_match_eq_11_and_12() -> None:
    a, b = [1, 2, 3, 4], [2, 5, 1, 6]
    k, p = 4, 0.9
    overlap = [len(set(a[:d]) & set(b[:d])) for d in range(1, k + 1)]
    x_k = overlap[-1]
    eq11 = (1 - p) / p * (sum((overlap[d - 1] - x_k) / d * p**d for d in range(1, k + 1)) + x_k * math.log(1 / (1 - p)))
    f = 2 * k - x_k
    eq12 = p**f + (1 - p) / p * (
        sum(2 * (d - k) / d * p**d for d in range(k + 1, f + 1))
        - x_k * (math.log(1 / (1 - p)) - sum(p**d / d for d in range(1, f + 1)))
    )
    rbo_min, residual = rbo_bounds(a, b, p)
    assert rbo_min == pytest.approx(eq11, abs=1e-14)
    assert residual == pytest.approx(eq12, abs=1e-14)
