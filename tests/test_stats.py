"""Statistical tests with the image as the subject: per-image tables built by hand here, and the
tests' numbers equal scipy's / pingouin's on them. An image seen at three severities is one subject.

Tolerances: statistics are float64 sums of ranks over at most a few hundred subjects (rounding below
1e-13 of values up to ~1000, so abs 1e-9); p-values come from scipy's distribution functions, whose
own relative accuracy is ~1e-14, compared at rel 1e-10; effect sizes are ratios of those.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import scikit_posthocs as sp
from scipy import stats as scipy_stats

from camrobust import vocabulary
from camrobust.analysis import stats
from camrobust.analysis.nonparametric import critical_difference, nemenyi, nemenyi_groups
from camrobust.analysis.stats import STATS_COLUMNS, holm, mark_significant
from camrobust.seeding import image_generator
from camrobust.stages import summarise

CAMS = ("gradcam", "layercam", "scorecam")
KEY = ("shapes", "cnn", "gaussian")


def scores_table(
    seed: int, datasets=("shapes",), cams=CAMS, noises=("gaussian",), severities=(1, 2, 3), n_images=12
) -> pd.DataFrame:
    """Continuous scores (no ties); image i changes class at the highest severity when i % 3 == 0,
    so such an image has class-preserving pairs at the lower severities and a class-changing one."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset_index, dataset in enumerate(datasets):
        for noise in noises:
            for severity in severities:
                for image in range(n_images):
                    changed = severity == max(severities) and image % 3 == 0
                    for cam_index, cam in enumerate(cams):
                        mean = 0.5 + 0.05 * cam_index + 0.1 * dataset_index - 0.05 * severity
                        rows.append(
                            {
                                "dataset": dataset,
                                "model": "cnn",
                                "noise": noise,
                                "cam": cam,
                                "severity": severity,
                                "image_id": f"{image:03d}",
                                "changed": changed,
                                "rbo": float(np.clip(mean + rng.normal(0, 0.1), 0, 1)),
                            }
                        )
    return pd.DataFrame(rows)


def per_image(scores: pd.DataFrame, changed: bool, severity: int | None = None) -> pd.DataFrame:
    """By hand: image x cam table of each image's mean r (or 1 - r) over its pairs of one set."""
    rows = scores[scores["changed"] == changed]
    if severity is not None:
        rows = rows[rows["severity"] == severity]
    table = rows.pivot_table(index="image_id", columns="cam", values="rbo", aggfunc="mean")
    return 1.0 - table if changed else table


def row_of(table: pd.DataFrame, **keys: object) -> pd.Series:
    chosen = table
    for column, value in keys.items():
        chosen = chosen[chosen[column] == value]
    assert len(chosen) == 1, keys
    return chosen.iloc[0]


def holm_by_hand(p: list[float]) -> np.ndarray:
    order = np.argsort(p)
    adjusted, running = np.empty(len(p)), 0.0
    for step, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - step) * p[index]))
        adjusted[index] = running
    return adjusted


def test_an_image_seen_at_three_severities_is_one_subject_of_the_pooled_friedman_test() -> None:
    scores = scores_table(0)
    omnibus, _ = stats.cam_methods(scores, n_boot=0)
    assert list(omnibus.columns) == list(STATS_COLUMNS)
    pooled = row_of(omnibus, set="preserving", severity="all")
    table = per_image(scores, changed=False)  # 12 images: 36 pairs, 32 of them class-preserving
    assert (pooled["n"], pooled["k"]) == (12, 3) == table.shape
    reference = scipy_stats.friedmanchisquare(*table.to_numpy().T)
    long = table.reset_index().melt(id_vars="image_id", var_name="cam", value_name="value")
    pingouin = pg.friedman(data=long, dv="value", within="cam", subject="image_id").iloc[0]
    assert pooled["statistic"] == pytest.approx(reference.statistic, abs=1e-9)
    assert pooled["p"] == pytest.approx(reference.pvalue, rel=1e-10)
    assert pooled["p"] == pytest.approx(pingouin["p_unc"], rel=1e-10)
    assert pooled["effect_size"] == pytest.approx(pingouin["W"], abs=1e-12)
    assert pooled["effect_size"] == pytest.approx(reference.statistic / (12 * 2), abs=1e-12)
    at_three = row_of(omnibus, set="preserving", severity="3")
    assert at_three["n"] == 8  # images 0, 3, 6, 9 changed class at severity 3
    reference = scipy_stats.friedmanchisquare(*per_image(scores, False, 3).to_numpy().T)
    assert at_three["p"] == pytest.approx(reference.pvalue, rel=1e-10)
    changing = row_of(omnibus, set="changing", severity="all")
    flipped = per_image(scores, changed=True)
    assert changing["n"] == 4 and flipped.shape == (4, 3)
    assert changing["statistic"] == pytest.approx(scipy_stats.friedmanchisquare(*flipped.to_numpy().T).statistic)
    assert set(omnibus["severity"]) == {"1", "2", "3", "all"}


def test_holm_corrects_within_one_family_across_its_severities() -> None:
    scores = scores_table(1, noises=("gaussian", "blur"))
    omnibus, _ = stats.cam_methods(scores, n_boot=0)
    for _, family in omnibus.groupby(["noise", "set"]):
        tested = family["p"].notna()
        np.testing.assert_allclose(family.loc[tested, "p_corr"], holm_by_hand(family.loc[tested, "p"].tolist()))
    assert len(omnibus) == 2 * 2 * 4  # noises x sets x (3 severities + pooled)


def test_pairwise_wilcoxon_on_per_image_values_with_median_difference() -> None:
    scores = scores_table(2)
    _, pairwise = stats.cam_methods(scores, n_boot=0)
    assert list(pairwise.columns) == list(STATS_COLUMNS)
    pooled = pairwise[(pairwise["set"] == "preserving") & (pairwise["severity"] == "all")]
    assert list(zip(pooled["a"], pooled["b"])) == [
        ("gradcam", "layercam"),
        ("gradcam", "scorecam"),
        ("layercam", "scorecam"),
    ]
    table = per_image(scores, changed=False)
    for _, row in pooled.iterrows():
        first, second = table[row["a"]].to_numpy(), table[row["b"]].to_numpy()
        reference = scipy_stats.wilcoxon(first, second)
        pingouin = pg.wilcoxon(first, second).iloc[0]
        assert row["n"] == 12
        assert row["statistic"] == pytest.approx(reference.statistic)
        assert row["p"] == pytest.approx(reference.pvalue, rel=1e-10)
        assert row["effect_size"] == pytest.approx(pingouin["RBC"], abs=1e-12)
        assert row["difference"] == pytest.approx(np.median(first - second), abs=1e-15)
    family = pairwise[pairwise["set"] == "preserving"]
    assert len(family) == 3 * 4  # pairs x (3 severities + pooled): one Holm family
    np.testing.assert_allclose(family["p_corr"], holm_by_hand(family["p"].tolist()))


def test_intervals_follow_the_documented_draws_and_are_nan_below_min_n() -> None:
    scores = scores_table(3, n_images=15)
    omnibus, pairwise = stats.cam_methods(scores, n_boot=200, ci=0.9, min_n=10, seed=5)
    pooled = row_of(omnibus, set="preserving", severity="all")
    table = per_image(scores, changed=False).to_numpy()
    key = ("cam_methods", *KEY, "preserving", "all")
    draws = image_generator("statistics_bootstrap", 5, *key).integers(0, 15, size=(200, 15), dtype=np.int32)
    w = [scipy_stats.friedmanchisquare(*table[drawn].T).statistic / (15 * 2) for drawn in draws]
    assert (pooled["effect_size_lo"], pooled["effect_size_hi"]) == pytest.approx(tuple(np.quantile(w, (0.05, 0.95))))
    pair = row_of(pairwise, set="preserving", severity="all", a="gradcam", b="scorecam")
    difference = table[:, 0] - table[:, 2]
    pair_draws = image_generator("statistics_bootstrap", 5, *key, "gradcam", "scorecam").integers(
        0, 15, size=(200, 15), dtype=np.int32
    )
    medians = np.median(difference[pair_draws], axis=1)
    assert (pair["difference_lo"], pair["difference_hi"]) == pytest.approx(tuple(np.quantile(medians, (0.05, 0.95))))
    changing = row_of(omnibus, set="changing", severity="all")  # images 0, 3, 6, 9, 12: 5 < 10
    assert changing["n"] == 5 and np.isfinite(changing["p"])
    assert np.isnan(changing["effect_size_lo"]) and np.isnan(changing["effect_size_hi"])
    assert changing["note"] == "n = 5 < 10: no CI"


def test_kruskal_across_datasets_on_per_image_consistency() -> None:
    scores = scores_table(4, datasets=("cifar", "shapes", "textures"), noises=("gaussian", "blur"))
    table = stats.datasets(scores, n_boot=0)
    assert list(table.columns) == list(STATS_COLUMNS) and len(table) == len(CAMS) * 4
    row = row_of(table, cam="gradcam", severity="all")
    preserving = scores[(scores["cam"] == "gradcam") & ~scores["changed"]]
    means = preserving.groupby(["dataset", "image_id"])["rbo"].mean()
    groups = [means[name].to_numpy() for name in ("cifar", "shapes", "textures")]
    reference = scipy_stats.kruskal(*groups)
    assert (row["n"], row["k"], row["dataset"], row["set"]) == (36, 3, "", "preserving")  # images, not pairs
    assert row["statistic"] == pytest.approx(reference.statistic, abs=1e-10)
    assert row["p"] == pytest.approx(reference.pvalue, rel=1e-10)
    assert row["effect_size"] == pytest.approx(reference.statistic / 35, abs=1e-12)
    at_three = row_of(table, cam="gradcam", severity="3")
    assert at_three["n"] == 3 * 8
    family = table[table["cam"] == "gradcam"]
    np.testing.assert_allclose(family["p_corr"], holm_by_hand(family["p"].tolist()))


def test_noise_types_compare_images_in_the_set_under_every_noise() -> None:
    scores = scores_table(5, noises=("blur", "gaussian", "shot"))
    scores.loc[(scores["noise"] == "shot") & (scores["image_id"] == "001") & (scores["severity"] == 2), "changed"] = (
        True
    )
    rows = stats.noise_types(scores, n_boot=0)
    at_two = row_of(rows, cam="layercam", set="preserving", severity="2")
    assert at_two["n"] == 11  # image 001 changed class under shot noise at severity 2
    subset = scores[(scores["cam"] == "layercam") & (scores["severity"] == 2) & (scores["image_id"] != "001")]
    table = subset.pivot_table(index="image_id", columns="noise", values="rbo")
    assert at_two["statistic"] == pytest.approx(scipy_stats.friedmanchisquare(*table.to_numpy().T).statistic, abs=1e-9)
    everything = row_of(rows, cam="layercam", set="all", severity="all")
    pooled = scores[scores["cam"] == "layercam"].pivot_table(
        index="image_id", columns="noise", values="rbo", aggfunc="mean"
    )
    assert everything["n"] == 12
    assert everything["p"] == pytest.approx(scipy_stats.friedmanchisquare(*pooled.to_numpy().T).pvalue, rel=1e-10)


def test_page_trend_over_ordered_severities_with_images_as_blocks() -> None:
    scores = scores_table(6)
    scores.loc[scores["image_id"] == "004", "rbo"] = 0.5  # an image whose r never moves: rho = 0
    trend = stats.severity_trend(scores, n_boot=0)
    assert len(trend) == len(CAMS)
    row = row_of(trend, cam="scorecam")
    part = scores[scores["cam"] == "scorecam"].pivot_table(index="image_id", columns="severity", values="rbo")
    reference = scipy_stats.page_trend_test(part.to_numpy(), predicted_ranks=[3, 2, 1])
    assert (row["n"], row["k"], row["test"], row["severity"]) == (12, 3, "page", "")
    assert row["statistic"] == pytest.approx(reference.statistic)
    assert row["p"] == pytest.approx(reference.pvalue, rel=1e-10)
    rhos = [scipy_stats.spearmanr([1, 2, 3], values).statistic if np.ptp(values) else 0.0 for values in part.to_numpy()]
    assert row["effect_size"] == pytest.approx(np.mean(rhos), abs=1e-12)
    two = stats.severity_trend(scores[scores["severity"] < 3], n_boot=0)
    assert (two["note"] == "Page's L test needs at least 3 ordered severities (k=2)").all()


def test_nemenyi_p_values_and_the_critical_difference() -> None:
    scores = scores_table(7)
    scores.loc[scores["cam"] == "scorecam", "rbo"] += 2.0  # always best: rank 1
    ranking = stats.cam_ranking(scores, dataset="shapes", model="cnn", noise="gaussian", alpha=0.05)
    table = per_image(scores, changed=False)
    assert ranking.n == 12 and ranking.ranks["scorecam"] == 1.0 and ranking.ranks.sum() == pytest.approx(6.0)
    expected = sp.posthoc_nemenyi_friedman(table[list(ranking.ranks.index)].to_numpy())
    np.testing.assert_allclose(ranking.nemenyi.to_numpy(), expected.to_numpy(), rtol=1e-10)
    # Demšar (2006), table 5: q_0.05 = 2.343 for k = 3, CD = q sqrt(k (k+1) / (6 N))
    assert ranking.critical_difference == pytest.approx(2.343 * np.sqrt(3 * 4 / (6 * 12)), abs=1e-3)
    cd = critical_difference(5, 40, 0.1)
    p = nemenyi(pd.Series([1.0, 1.0 + cd, 3.0, 4.0, 5.0], index=list("abcde")), 40)
    assert p.loc["a", "b"] == pytest.approx(0.1, rel=1e-9)  # a rank difference of CD is significant at alpha
    single = stats.cam_ranking(scores[scores["cam"] == "gradcam"], dataset="shapes", model="cnn", noise="gaussian")
    assert single.ranks.isna().all() and single.note.startswith("fewer than 2 CAM methods")
    with pytest.raises(ValueError, match="preserving, changing"):
        stats.cam_ranking(scores, dataset="shapes", model="cnn", noise="gaussian", set_name="both")


def test_nemenyi_groups_join_tied_methods_and_overlapping_runs() -> None:
    names = ["a", "b", "c", "d"]

    def matrix(pairs: dict[tuple[str, str], float]) -> pd.DataFrame:
        values = pd.DataFrame(0.001, index=names, columns=names)
        for (x, y), p in pairs.items():
            values.loc[x, y] = values.loc[y, x] = p
        return values

    ranks = pd.Series({"a": 1.5, "b": 1.5, "c": 3.0, "d": 4.0})
    assert nemenyi_groups(ranks, matrix({("a", "b"): 1.0}), 0.05) == [["a", "b"]]
    chain = matrix({("a", "b"): 0.5, ("b", "c"): 0.2, ("c", "d"): 0.06})
    assert nemenyi_groups(pd.Series({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}), chain, 0.05) == [
        ["a", "b"],
        ["b", "c"],
        ["c", "d"],
    ]
    tied = pd.DataFrame(1.0, index=names, columns=names)
    assert nemenyi_groups(pd.Series(2.5, index=names), tied, 0.05) == [names]
    assert nemenyi_groups(ranks, matrix({}), 0.05) == []


def test_holm_hand_values() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), pg.multicomp(np.array([0.01, 0.04, 0.03]), method="holm")[1])


def test_tests_that_cannot_run_give_rows_with_notes() -> None:
    one_cam = scores_table(8, cams=("gradcam",), severities=(1,))
    omnibus, pairwise = stats.cam_methods(one_cam, n_boot=0)
    assert len(omnibus) == 2 * 2 and pairwise.empty and list(pairwise.columns) == list(STATS_COLUMNS)
    assert omnibus["note"].str.startswith("fewer than 2 CAM methods").all()
    assert omnibus[["statistic", "p", "p_corr", "effect_size"]].isna().all().all()
    no_change = scores_table(8, severities=(1,))
    no_change["changed"] = False
    omnibus, pairwise = stats.cam_methods(no_change, n_boot=0)
    changing = row_of(omnibus, set="changing", severity="all")
    assert changing["note"] == "fewer than 2 complete subjects (n=0)" and np.isnan(changing["p"])
    assert (pairwise[pairwise["set"] == "changing"]["note"] == "fewer than 2 complete subjects (n=0)").all()
    equal = no_change.assign(rbo=0.5)
    omnibus, pairwise = stats.cam_methods(equal, n_boot=0)
    assert omnibus.iloc[0]["note"] == "all values equal within every subject"
    assert (pairwise[pairwise["set"] == "preserving"]["note"] == "all paired differences are zero").all()
    assert stats.datasets(no_change, n_boot=0)["note"].str.startswith("fewer than 2 groups").all()
    assert stats.noise_types(no_change, n_boot=0)["note"].str.startswith("fewer than 2 noise types").all()
    with_nan = scores_table(9)
    with_nan.loc[0, "rbo"] = np.nan  # image 000 at severity 1, gradcam
    omnibus, _ = stats.cam_methods(with_nan, n_boot=0)
    at_one = row_of(omnibus, set="preserving", severity="1")
    assert at_one["note"] == "1 pair(s) with a missing or NaN score left out" and at_one["n"] == 11
    assert row_of(omnibus, set="preserving", severity="all")["n"] == 12  # image 000 keeps its severity 2
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

    scores = scores_table(10, datasets=("shapes", "folder"), noises=("gaussian", "blur"), severities=(1, 2))
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
        from_file, from_memory = test(path, n_boot=20), test(in_memory, n_boot=20)
        for file_table, memory_table in zip(
            from_file if isinstance(from_file, tuple) else (from_file,),
            from_memory if isinstance(from_memory, tuple) else (from_memory,),
            strict=True,
        ):
            assert len(memory_table) > 0
            pd.testing.assert_frame_equal(file_table, memory_table, check_exact=True)
        expected = group_rows if layout == "collected" else len(scores)
        assert rows_read and max(rows_read) == expected, test.__name__
