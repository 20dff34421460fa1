"""Statistical tests: Friedman by hand and vs scipy, Wilcoxon, Kruskal-Wallis, Holm, notes, columns.

Tolerances: statistics are float64 sums of ranks over at most a few hundred blocks (rounding below
1e-13 of values up to ~100, so abs 1e-10); p-values come from scipy's distribution functions,
whose own relative accuracy is ~1e-14, compared at rel 1e-10; effect sizes are ratios of those.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats as scipy_stats

from camrobust import vocabulary
from camrobust.analysis import stats
from camrobust.analysis.stats import STATS_COLUMNS, holm, mark_significant, nemenyi_ranks
from camrobust.stages import summarise

CAMS = ("gradcam", "layercam", "scorecam")


def scores_table(
    seed: int, datasets=("shapes",), cams=CAMS, noises=("gaussian",), severities=(1, 2), n_images=12
) -> pd.DataFrame:
    """Continuous scores (no ties); image i changes class at severity 2 when i % 3 == 0."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset_index, dataset in enumerate(datasets):
        for noise in noises:
            for severity in severities:
                for image in range(n_images):
                    changed = severity == 2 and image % 3 == 0
                    for cam_index, cam in enumerate(cams):
                        r = float(
                            np.clip(
                                0.5 + 0.05 * cam_index + 0.1 * dataset_index - 0.05 * severity + rng.normal(0, 0.1),
                                0,
                                1,
                            )
                        )
                        rows.append(
                            {
                                "dataset": dataset,
                                "model": "cnn",
                                "noise": noise,
                                "cam": cam,
                                "severity": severity,
                                "image_id": f"{image:03d}",
                                "changed": changed,
                                "rbo": r,
                            }
                        )
    return pd.DataFrame(rows)


def wide(scores: pd.DataFrame, changed: bool) -> pd.DataFrame:
    subset = scores[scores["changed"] == changed]
    return subset.pivot_table(index=["image_id", "severity"], columns="cam", values="rbo")


def test_friedman_matches_hand_computation_and_scipy() -> None:
    scores = scores_table(0)
    omnibus, _ = stats.cam_methods(scores)
    assert list(omnibus.columns) == list(STATS_COLUMNS)
    row = omnibus[omnibus["set"] == "preserving"].iloc[0]
    blocks = wide(scores, False).to_numpy()
    n, k = blocks.shape
    ranks = scipy_stats.rankdata(blocks, axis=1)
    q_by_hand = 12 / (n * k * (k + 1)) * (ranks.sum(axis=0) ** 2).sum() - 3 * n * (k + 1)
    reference = scipy_stats.friedmanchisquare(*blocks.T)
    assert (row["n"], row["k"]) == (n, k) == (20, 3)
    assert row["statistic"] == pytest.approx(q_by_hand, abs=1e-10)
    assert row["statistic"] == pytest.approx(reference.statistic, abs=1e-10)
    assert row["p"] == pytest.approx(reference.pvalue, rel=1e-10)
    assert row["effect_size"] == pytest.approx(q_by_hand / (n * (k - 1)), abs=1e-12)
    assert row["effect_size_name"] == "kendall_w" and row["note"] == ""
    changing = omnibus[omnibus["set"] == "changing"].iloc[0]
    flipped = 1.0 - wide(scores, True).to_numpy()
    assert changing["n"] == 4
    assert changing["statistic"] == pytest.approx(scipy_stats.friedmanchisquare(*flipped.T).statistic, abs=1e-10)


def test_pairwise_wilcoxon_matches_scipy_with_holm_per_family() -> None:
    scores = scores_table(1)
    _, pairwise = stats.cam_methods(scores)
    assert list(pairwise.columns) == list(STATS_COLUMNS)
    preserving = pairwise[pairwise["set"] == "preserving"].reset_index(drop=True)
    assert list(zip(preserving["a"], preserving["b"])) == [
        ("gradcam", "layercam"),
        ("gradcam", "scorecam"),
        ("layercam", "scorecam"),
    ]
    blocks = wide(scores, False)
    p_values = []
    for _, row in preserving.iterrows():
        reference = scipy_stats.wilcoxon(blocks[row["a"]], blocks[row["b"]])
        assert row["statistic"] == pytest.approx(reference.statistic)
        assert row["p"] == pytest.approx(reference.pvalue, rel=1e-10)
        difference = (blocks[row["a"]] - blocks[row["b"]]).to_numpy()
        ranks = scipy_stats.rankdata(np.abs(difference))
        rank_biserial = (ranks[difference > 0].sum() - ranks[difference < 0].sum()) / ranks.sum()
        assert row["effect_size"] == pytest.approx(rank_biserial, abs=1e-12)
        p_values.append(reference.pvalue)
    order = np.argsort(p_values)
    by_hand = np.empty(3)
    running = 0.0
    for step, index in enumerate(order):
        running = max(running, min(1.0, (3 - step) * p_values[index]))
        by_hand[index] = running
    np.testing.assert_allclose(preserving["p_corr"], by_hand, rtol=1e-10)


def test_holm_hand_values() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])


def test_kruskal_across_datasets_on_per_image_consistency() -> None:
    scores = scores_table(2, datasets=("cifar", "shapes", "textures"), noises=("gaussian", "blur"))
    table = stats.datasets(scores)
    assert list(table.columns) == list(STATS_COLUMNS) and len(table) == len(CAMS)
    row = table[table["cam"] == "gradcam"].iloc[0]
    preserving = scores[(scores["cam"] == "gradcam") & ~scores["changed"]]
    per_image = preserving.groupby(["dataset", "image_id"])["rbo"].mean()
    groups = [per_image[name].to_numpy() for name in ("cifar", "shapes", "textures")]
    reference = scipy_stats.kruskal(*groups)
    assert (row["n"], row["k"], row["dataset"], row["set"]) == (36, 3, "", "preserving")
    assert row["statistic"] == pytest.approx(reference.statistic, abs=1e-10)
    assert row["p"] == pytest.approx(reference.pvalue, rel=1e-10)
    assert row["effect_size"] == pytest.approx(reference.statistic / 35, abs=1e-12)
    np.testing.assert_allclose(table["p_corr"], holm(table["p"]))


def test_noise_type_friedman_and_severity_trend_match_scipy() -> None:
    scores = scores_table(3, noises=("blur", "gaussian", "shot"), severities=(1, 2, 3))
    noise_rows = stats.noise_types(scores)
    row = noise_rows[(noise_rows["cam"] == "layercam") & (noise_rows["set"] == "all")].iloc[0]
    subset = scores[scores["cam"] == "layercam"]
    blocks = subset.pivot_table(index=["image_id", "severity"], columns="noise", values="rbo").to_numpy()
    assert row["n"] == 36 and row["k"] == 3
    assert row["statistic"] == pytest.approx(scipy_stats.friedmanchisquare(*blocks.T).statistic, abs=1e-10)
    trend = stats.severity_trend(scores)
    assert len(trend) == 9
    one = trend[(trend["cam"] == "scorecam") & (trend["noise"] == "shot")].iloc[0]
    part = scores[(scores["cam"] == "scorecam") & (scores["noise"] == "shot")]
    reference = scipy_stats.spearmanr(part["severity"], part["rbo"])
    assert one["statistic"] == pytest.approx(reference.statistic, abs=1e-12)
    assert one["p"] == pytest.approx(reference.pvalue, rel=1e-10)
    assert (one["n"], one["k"], one["set"]) == (36, 3, "all")


def test_nemenyi_ranks_and_p_values() -> None:
    scores = scores_table(4)
    scores.loc[scores["cam"] == "scorecam", "rbo"] += 2.0  # always best: rank 1
    ranks, p_values = nemenyi_ranks(scores, dataset="shapes", model="cnn", noise="gaussian")
    assert ranks["scorecam"] == 1.0
    assert ranks.sum() == pytest.approx(6.0)
    blocks = wide(scores, False)
    pd.testing.assert_frame_equal(p_values, sp.posthoc_nemenyi_friedman(blocks[list(ranks.index)]), check_names=False)
    single = scores[scores["cam"] == "gradcam"]
    nan_ranks, nan_p = nemenyi_ranks(single, dataset="shapes", model="cnn", noise="gaussian")
    assert nan_ranks.isna().all() and nan_p.isna().all().all()
    with pytest.raises(ValueError, match="preserving, changing"):
        nemenyi_ranks(scores, dataset="shapes", model="cnn", noise="gaussian", set_name="both")


def test_tests_that_cannot_run_give_rows_with_notes() -> None:
    one_cam = scores_table(5, cams=("gradcam",), severities=(1,))
    omnibus, pairwise = stats.cam_methods(one_cam)
    assert len(omnibus) == 2 and pairwise.empty and list(pairwise.columns) == list(STATS_COLUMNS)
    assert omnibus["note"].str.startswith("fewer than 2 CAM methods").all()
    assert omnibus[["statistic", "p", "p_corr", "effect_size"]].isna().all().all()
    no_change = scores_table(5, severities=(1,))
    omnibus, pairwise = stats.cam_methods(no_change)
    changing = omnibus[omnibus["set"] == "changing"].iloc[0]
    assert changing["note"] == "fewer than 2 complete subjects (n=0)" and np.isnan(changing["p"])
    assert (pairwise[pairwise["set"] == "changing"]["note"] == "fewer than 2 complete subjects (n=0)").all()
    equal = no_change.assign(rbo=0.5)
    omnibus, pairwise = stats.cam_methods(equal)
    assert omnibus.iloc[0]["note"] == "all values equal within every subject"
    assert (pairwise[pairwise["set"] == "preserving"]["note"] == "all paired differences are zero").all()
    single_dataset = stats.datasets(no_change)
    assert single_dataset["note"].str.startswith("fewer than 2 datasets").all()
    single_severity = stats.severity_trend(no_change)
    assert (single_severity["note"] == "one severity only").all()
    single_noise = stats.noise_types(no_change)
    assert single_noise["note"].str.startswith("fewer than 2 noise types").all()
    with_nan = scores_table(6)
    with_nan.loc[0, "rbo"] = np.nan
    omnibus, _ = stats.cam_methods(with_nan)
    assert omnibus.iloc[0]["note"] == "1 subject(s) with a missing or NaN score left out"
    assert omnibus.iloc[0]["n"] == 19
    with pytest.raises(ValueError, match="rbo"):
        stats.cam_methods(with_nan.drop(columns="rbo"))


def test_mark_significant_leaves_untested_rows_unknown() -> None:
    table = pd.DataFrame({"p_corr": [0.01, 0.2, np.nan], "note": ["", "", "one severity only"]})
    marked = mark_significant(table, alpha=0.05)
    assert marked["significant"].tolist()[:2] == [True, False]
    assert marked["significant"].isna().tolist() == [False, False, True]
    assert "significant" not in table.columns
    with pytest.raises(ValueError, match="alpha"):
        mark_significant(table, alpha=5)


@pytest.mark.parametrize("layout", ["collected", "one_row_group"])
def test_tests_on_a_score_file_read_one_group_at_a_time_equal_the_tests_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    import pyarrow.parquet as pq

    scores = scores_table(4, datasets=("shapes", "folder"), noises=("gaussian", "blur"))
    path = tmp_path / "scores.parquet"
    if layout == "collected":  # one row group per (dataset, model, noise, cam), as the workflow writes it
        tables = []
        for index, (_, table) in enumerate(scores.groupby(list(vocabulary.SCORE_KEYS))):
            tables.append(tmp_path / f"table-{index}.parquet")
            table.to_parquet(tables[-1])
        summarise.collect_scores(paths=tables, out=path)
        assert pq.ParquetFile(path).num_row_groups == 2 * 2 * 3
    else:
        scores.to_parquet(path)
    rows_read: list[int] = []
    read_row_groups = pq.ParquetFile.read_row_groups

    def counting(self: pq.ParquetFile, *args: object, **kwargs: object) -> object:
        table = read_row_groups(self, *args, **kwargs)
        rows_read.append(table.num_rows)
        return table

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", counting)
    in_memory = pd.read_parquet(path)
    for test, group_rows in (
        (stats.cam_methods, 3 * 2 * 12),  # per (dataset, model, noise): CAMs x severities x images
        (stats.datasets, 2 * 2 * 2 * 12),  # per (model, cam): datasets x noises x severities x images
        (stats.noise_types, 2 * 2 * 12),
        (stats.severity_trend, 2 * 12),
    ):
        rows_read.clear()
        from_file, from_memory = test(path), test(in_memory)
        for file_table, memory_table in zip(
            from_file if isinstance(from_file, tuple) else (from_file,),
            from_memory if isinstance(from_memory, tuple) else (from_memory,),
            strict=True,
        ):
            assert len(memory_table) > 0
            pd.testing.assert_frame_equal(file_table, memory_table, check_exact=True)
        expected = group_rows if layout == "collected" else len(scores)
        assert rows_read and max(rows_read) == expected, test.__name__
