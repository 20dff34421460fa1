"""Report figures: every function writes a readable PNG and returns the data it drew."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from camrobust import plots, registry, vocabulary
from camrobust.analysis.robustness import NO_CHANGING, NO_PRESERVING
from camrobust.plots import style
from camrobust.plots.robustness_heatmap import _short_reason

CAMS = ["gradcam", "gradcampp", "eigencam"]
NOISES = ["gaussian_noise", "brightness"]
SEVERITIES = [1, 2, 3]


def assert_png(path: Path, min_side: int = 200, max_side: int = 8000) -> tuple[int, int]:
    """The file is a PNG of sensible size with more than one colour in it."""
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"))
    assert min_side <= width <= max_side and min_side <= height <= max_side, (width, height)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10
    return width, height


def summary_rows(
    dataset: str, model: str, rm: dict[str, float], similarities: dict[str, dict[str, float]] | None = None
) -> pd.DataFrame:
    """Summary of one (dataset, model): gaussian_noise changes 1, 2, 4 of 8 classes at severity
    1..3; brightness changes none (R, RM NaN, reason given). Pooled C = 1, R = rm so RM = rm."""
    rows = []
    for cam, value in rm.items():
        extra = {name: by_cam[cam] for name, by_cam in (similarities or {}).items()}
        for noise in NOISES:
            for severity, n_changed in zip([*SEVERITIES, "all"], [1, 2, 4, 7]):
                n_changed = n_changed if noise == "gaussian_noise" else 0
                n_same = (8 if severity != "all" else 24) - n_changed
                r = value if n_changed else np.nan
                rows.append(
                    {
                        "dataset": dataset,
                        "model": model,
                        "cam": cam,
                        "noise": noise,
                        "severity": severity,
                        "n_same": n_same,
                        "n_changed": n_changed,
                        "n_nan": 0,
                        "consistency": 1.0,
                        "consistency_lo": 0.9,
                        "consistency_hi": 1.0,
                        "responsiveness": r,
                        "responsiveness_lo": r - 0.1,
                        "responsiveness_hi": r + 0.1,
                        "rm": r,
                        "rm_lo": r - 0.1,
                        "rm_hi": r + 0.1,
                        "reason": "" if n_changed else NO_CHANGING,
                        **extra,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return summary_rows("shapes", "democnn", {"gradcam": 0.2, "gradcampp": 0.6, "eigencam": 0.4})


def test_cam_colors_are_fixed_per_method_whatever_the_subset() -> None:
    everything = plots.cam_colors(plots.CANONICAL_CAMS)
    assert len(set(everything.values())) == len(plots.CANONICAL_CAMS) == 14  # ten CAMs, four baseline maps
    assert everything["gradcam"] == "#1f77b4"  # tab10 colour 0
    subset = plots.cam_colors(["scorecam", "gradcam"])
    assert subset == {"scorecam": everything["scorecam"], "gradcam": everything["gradcam"]}
    spellings = plots.cam_colors(["GradCAM++", "gradcam_pp", "GradCAMPlusPlus", "Grad-CAM"])
    assert set(spellings.values()) == {everything["gradcampp"], everything["gradcam"]}
    assert spellings["GradCAM++"] == spellings["gradcam_pp"] == spellings["GradCAMPlusPlus"] == everything["gradcampp"]
    assert plots.cam_colors(["mynewcam"])["mynewcam"] == plots.cam_colors(["x", "mynewcam"])["mynewcam"]


def test_robustness_heatmap_sorts_by_rm_and_labels_nan_cells(summary: pd.DataFrame, tmp_path: Path) -> None:
    cells = plots.robustness_heatmap(summary, "shapes", "democnn", tmp_path / "heatmap.png")
    assert_png(tmp_path / "heatmap.png")
    assert list(dict.fromkeys(cells["cam"])) == ["gradcampp", "eigencam", "gradcam"]
    assert list(dict.fromkeys(cells["noise"])) == ["gaussian_noise", "brightness"]  # registry order
    rm = cells[cells["metric"] == "rm"].set_index(["cam", "noise"])
    assert rm.loc[("eigencam", "gaussian_noise"), "text"] == "0.40"
    assert np.isnan(rm.loc[("eigencam", "brightness"), "value"])
    assert rm.loc[("eigencam", "brightness"), "text"] == "n/a:\nno changed"
    consistency = cells[cells["metric"] == "consistency"]
    assert set(consistency["text"]) == {"1.00"}


def test_robustness_heatmap_reads_a_csv_round_trip(summary: pd.DataFrame, tmp_path: Path) -> None:
    summary.to_csv(tmp_path / "summary.csv", index=False)
    reread = pd.read_csv(tmp_path / "summary.csv")
    cells = plots.robustness_heatmap(reread, "shapes", "democnn", tmp_path / "heatmap.png")
    assert len(cells) == 3 * len(CAMS) * len(NOISES)
    assert_png(tmp_path / "heatmap.png")


def test_robustness_heatmap_names_available_pairs_for_unknown_dataset(summary: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"dataset='cifar10'.*\('shapes', 'democnn'\)"):
        plots.robustness_heatmap(summary, "cifar10", "democnn", tmp_path / "heatmap.png")


def test_short_reason_picks_the_cause_of_each_metric() -> None:
    both = f"{NO_PRESERVING}; {NO_CHANGING}"
    assert _short_reason(both, "consistency") == "no same-class"
    assert _short_reason(both, "responsiveness") == "no changed"
    assert _short_reason(None, "rm") == "no data"
    assert _short_reason("segmentation failed", "rm") == "segmentation …"


def test_severity_curves_draws_all_noises(summary: pd.DataFrame, tmp_path: Path) -> None:
    plots.severity_curves(summary, "shapes", "democnn", tmp_path / "curves.png")
    width, height = assert_png(tmp_path / "curves.png")
    assert width > height  # two noise columns side by side, one block


def test_change_rates_is_the_class_change_share(summary: pd.DataFrame, tmp_path: Path) -> None:
    shares = plots.change_rates(summary, tmp_path / "attack.png")
    assert_png(tmp_path / "attack.png")
    gaussian = shares[shares["noise"] == "gaussian_noise"].set_index("severity")
    assert gaussian["n_total"].tolist() == [8, 8, 8]  # counts of one CAM, not summed over CAMs
    np.testing.assert_allclose(gaussian["share_changed"], [1 / 8, 2 / 8, 4 / 8])
    assert (shares.loc[shares["noise"] == "brightness", "share_changed"] == 0).all()


def test_ranking_agreement_kendall_tau_hand_checked(tmp_path: Path) -> None:
    rm = {"a": 0.8, "b": 0.6, "c": 0.4, "d": 0.2}
    same = {"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.1}
    # one swap (a<->b): 5 concordant, 1 discordant pair -> tau = (5 - 1) / 6 = 2/3
    one_swap = {"a": 0.7, "b": 0.9, "c": 0.5, "d": 0.1}
    reversed_distance = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4}  # l1: lower = more stable -> same order
    reversed_similarity = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4}  # ssim: exactly reversed
    summary = summary_rows(
        "shapes",
        "democnn",
        rm,
        {"spearman": same, "iou_top20": one_swap, "ssim": reversed_similarity, "l1": reversed_distance},
    )
    table = plots.ranking_agreement(summary, tmp_path / "agreement.png")
    assert_png(tmp_path / "agreement.png")
    assert table["cam"].tolist() == ["a", "b", "c", "d"]
    assert table["rank_rm"].tolist() == [1, 2, 3, 4]
    assert table["rank_iou_top20"].tolist() == [2, 1, 3, 4]
    assert table["rank_ssim"].tolist() == [4, 3, 2, 1]
    assert table["rank_l1"].tolist() == [1, 2, 3, 4]
    assert "tau_sensitivity_mean" not in table  # absent measure is skipped
    assert table["tau_spearman"].iloc[0] == pytest.approx(1.0)
    assert table["tau_l1"].iloc[0] == pytest.approx(1.0)
    assert table["tau_ssim"].iloc[0] == pytest.approx(-1.0)
    assert table["tau_iou_top20"].iloc[0] == pytest.approx(2 / 3)
    np.testing.assert_allclose(table["rm"], [0.8, 0.6, 0.4, 0.2])  # NaN brightness skipped


def test_ranking_agreement_one_panel_per_dataset_model(tmp_path: Path) -> None:
    rm = {"gradcam": 0.3, "scorecam": 0.5}
    sims = {"spearman": {"gradcam": 0.9, "scorecam": 0.2}}
    summary = pd.concat([summary_rows("shapes", "democnn", rm, sims), summary_rows("cifar10", "resnet18", rm, sims)])
    table = plots.ranking_agreement(summary, tmp_path / "agreement.png")
    assert_png(tmp_path / "agreement.png")
    assert sorted(set(zip(table["dataset"], table["model"]))) == [
        ("cifar10", "resnet18"),
        ("shapes", "democnn"),
    ]
    np.testing.assert_allclose(table["tau_spearman"], -1.0)


def test_critical_difference_draws_or_says_why(tmp_path: Path) -> None:
    ranks = pd.Series({"gradcam": 1.4, "gradcampp": 1.9, "eigencam": 2.7})
    pvalues = pd.DataFrame(
        [[1.0, 0.4, 0.01], [0.4, 1.0, 0.08], [0.01, 0.08, 1.0]], index=ranks.index, columns=ranks.index
    )
    assert plots.critical_difference(ranks, pvalues, tmp_path / "cd.png", "shapes / democnn / gaussian_noise") is None
    assert_png(tmp_path / "cd.png")

    one = plots.critical_difference(ranks[:1], pvalues.iloc[:1, :1], tmp_path / "one.png", "one method")
    assert "at least 2" in one
    assert_png(tmp_path / "one.png", min_side=100)  # a one-line text figure

    with_nan = pvalues.copy()
    with_nan.loc["gradcam", "eigencam"] = with_nan.loc["eigencam", "gradcam"] = np.nan
    reason = plots.critical_difference(ranks, with_nan, tmp_path / "nan.png", "NaN p-values")
    assert "NaN" in reason and "gradcam–eigencam" in reason
    assert_png(tmp_path / "nan.png", min_side=100)


def test_critical_difference_rejects_mismatched_pvalues(tmp_path: Path) -> None:
    ranks = pd.Series({"gradcam": 1.0, "layercam": 2.0})
    pvalues = pd.DataFrame(np.ones((2, 2)), index=["gradcam", "eigencam"], columns=["gradcam", "eigencam"])
    with pytest.raises(ValueError, match="layercam"):
        plots.critical_difference(ranks, pvalues, tmp_path / "cd.png", "bad")


def overlay_inputs(k: int = 2, s: int = 2, size: int = 32) -> dict:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    blob = np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05).astype(np.float32)
    return {
        "clean_images": rng.integers(0, 256, (k, size, size, 3), dtype=np.uint8),
        "noisy_images": rng.integers(0, 256, (k, s, size, size, 3), dtype=np.uint8),
        "clean_cams": {"gradcam": np.stack([blob] * k), "eigencam": np.stack([blob.T] * k)},
        "noisy_cams": {"gradcam": np.stack([[blob] * s] * k), "eigencam": np.stack([[blob * 0.5] * s] * k)},
        "severities": [1, 5][:s],
        "clean_pred": np.array([0, 1][:k]),
        "noisy_pred": np.array([[0, 2], [1, 1]])[:k, :s],
        "class_names": ["circle", "square", "star"],
    }


def test_cam_overlays_with_region_boundaries(tmp_path: Path) -> None:
    inputs = overlay_inputs()
    segments = (np.arange(32)[:, None] // 8 * 4 + np.arange(32)[None, :] // 8).astype(np.int32)
    plots.cam_overlays(
        **inputs,
        path=tmp_path / "grid.png",
        title="shapes / democnn / gaussian_noise",
        segments=np.stack([segments] * 2),
        image_ids=["000017", "000042"],
    )
    width, height = assert_png(tmp_path / "grid.png")
    assert height > width  # 4 rows (2 images x 2 CAMs), 3 columns


def test_cam_overlays_as_jpeg_matches_the_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .jpg path gives a JPEG of the same grid (at JPEG_DPI): colours within JPEG's error."""
    plots.cam_overlays(**overlay_inputs(), path=tmp_path / "grid.jpg", title="t")
    monkeypatch.setattr(style, "DPI", style.JPEG_DPI)
    plots.cam_overlays(**overlay_inputs(), path=tmp_path / "grid.png", title="t")
    with Image.open(tmp_path / "grid.png") as png, Image.open(tmp_path / "grid.jpg") as jpeg:
        assert jpeg.format == "JPEG" and jpeg.size == png.size
        difference = np.asarray(png.convert("RGB"), float) - np.asarray(jpeg.convert("RGB"), float)
    # Quality 90 scales the JPEG quantisation tables by 0.2: steps of at most 0.2 * 121 = 24 levels,
    # so at most 24 / sqrt(12) = 6.9 levels RMS per Y, Cb, Cr channel (uniform quantisation, no
    # chroma subsampling); the YCbCr -> RGB rows have norms <= 2.03 (B = Y + 1.772 Cb).
    assert np.sqrt((difference**2).mean()) < 2.03 * 24 / np.sqrt(12)


def test_cam_overlays_names_a_wrong_shape(tmp_path: Path) -> None:
    inputs = overlay_inputs()
    inputs["noisy_cams"]["eigencam"] = inputs["noisy_cams"]["eigencam"][:, :1]
    with pytest.raises(ValueError, match=r"noisy_cams\['eigencam'\].*\(2, 1, 32, 32\)"):
        plots.cam_overlays(**inputs, path=tmp_path / "grid.png", title="bad")


def test_region_counts_statistics(tmp_path: Path) -> None:
    counts = {"shapes": np.array([10, 20, 30, 60, 61]), "imagenette": np.array([40, 45])}
    stats = plots.region_counts(counts, tmp_path / "regions.png").set_index("dataset")
    assert_png(tmp_path / "regions.png")
    assert stats.loc["shapes", "share_in_band"] == pytest.approx(3 / 5)  # 20, 30, 60 in [20, 60]
    assert stats.loc["shapes", "median"] == 30
    assert (stats.loc["shapes", "min"], stats.loc["shapes", "max"]) == (10, 61)
    assert stats.loc["imagenette", "share_in_band"] == 1.0
    with pytest.raises(ValueError, match="imagenette"):
        plots.region_counts({"imagenette": np.array([], dtype=int)}, tmp_path / "empty.png")


def test_figures_show_vocabulary_and_registry_labels(summary: pd.DataFrame) -> None:
    heatmap = plots.robustness_heatmap_figure(summary, "shapes", "democnn")
    panels = [ax for ax in heatmap.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [score.label for score in vocabulary.ROBUSTNESS]
    assert [tick.get_text() for tick in panels[0].get_yticklabels()] == ["GradCAM++", "EigenCAM", "GradCAM"]
    assert [tick.get_text() for tick in panels[0].get_xticklabels()] == ["Gaussian noise", "brightness"]
    colorbar = next(ax for ax in heatmap.axes if ax not in panels)
    assert vocabulary.RM.direction in colorbar.get_ylabel()

    curves = plots.severity_curves_figure(summary, "shapes", "democnn")
    ylabels = [ax.get_ylabel().split("\n")[0] for ax in curves.axes if ax.get_ylabel()]
    assert ylabels[:2] == [vocabulary.CONSISTENCY.label, vocabulary.RESPONSIVENESS.label]
    legend = [text.get_text() for text in curves.legends[0].get_texts()]
    assert legend[:3] == ["GradCAM", "GradCAM++", "EigenCAM"]  # registry order, registry labels
    undefined = [text.get_text() for ax in curves.axes for text in ax.texts if "undefined" in text.get_text()]
    assert undefined == [f"undefined at every severity:\nno {vocabulary.SETS[vocabulary.CHANGING]}"]

    rates = plots.change_rates_figure(summary)
    assert " / ".join(registry.noise(name).label for name in registry.ATTACKS) in rates.get_suptitle()


def test_ranking_agreement_measures_come_from_the_vocabulary() -> None:
    from camrobust.plots.ranking_agreement import measures

    by_column = {measure.column: measure for measure in measures()}
    assert list(by_column) == ["spearman", "iou_top20", "ssim", "l1", "sensitivity_mean"]
    assert [measure.sign for measure in by_column.values()] == [1.0, 1.0, 1.0, -1.0, -1.0]
    assert by_column["l1"].label == f"−{vocabulary.L1.label}"
    assert [measure.column for measure in measures(0.1)][1] == vocabulary.iou_column(0.1) == "iou_top10"


# --------------------------------------------------------------------------- one name per figure

REPO = Path(__file__).resolve().parents[1]
REPORT_RULES = REPO / "rules" / "report.smk"
CAPTIONS = REPO / "report" / "captions"
FIGURE_VARIANTS = {"robustness_heatmap", "severity_curves", "critical_difference", "change_rates"}


def rule_blocks(smk: Path) -> dict[str, str]:
    """Rule name -> its text, from a .smk file."""
    blocks = re.split(r"\n(?=rule )", smk.read_text())
    return {match.group(1): block for block in blocks if (match := re.match(r"rule (\w+):", block.strip()))}


def captions_of(block: str) -> list[str]:
    return re.findall(r'caption="([^"]+)"', block)


def test_every_report_caption_exists_and_every_caption_is_used() -> None:
    used = set()
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for rule, block in rule_blocks(smk).items():
            for caption in captions_of(block):
                path = (smk.parent / caption).resolve()
                assert path.is_file(), f"rule {rule} in {smk.name}: caption {caption} does not exist"
                used.add(path)
    assert sorted(p.name for p in CAPTIONS.glob("*.rst") if p.resolve() not in used) == []


def test_each_figure_has_one_name_across_rule_file_caption_module_and_function() -> None:
    """plot_<name> draws <name>*.png / .jpg with caption <name>.rst by camrobust.plots.<name>."""
    blocks = rule_blocks(REPORT_RULES)
    assert set(blocks) == {f"plot_{name}" for name in plots.FIGURES} | {"model_card"}
    for rule, block in blocks.items():
        name = rule.removeprefix("plot_")
        assert {Path(c).name for c in captions_of(block)} == {f"{name}.rst"}, rule
        outputs = re.findall(r'report\(\s*"([^"]+)"', block)
        assert outputs and all(Path(o).name.startswith(name) for o in outputs), (rule, outputs)
        assert f'"logs/{rule}/' in block and f'"results/benchmarks/{rule}/' in block, rule
        figure = re.search(r'figure="(\w+)"', block)
        assert figure is None or figure.group(1) == name, rule  # plot_summary.py draws plots.<figure>
    for name in plots.FIGURES:
        assert callable(getattr(plots, name)) and name in plots.__all__
        assert importlib.import_module(f"camrobust.plots.{name}").__dict__[name] is getattr(plots, name)
        assert hasattr(plots, f"{name}_figure") == (name in FIGURE_VARIANTS), name
    assert all(hasattr(plots, exported) for exported in plots.__all__)


def test_workflow_scripts_call_existing_plots_functions() -> None:
    """A renamed function fails here, not in the middle of a workflow run: the scripts, the report
    stages they call and the notebook API."""
    library = REPO / "src" / "camrobust"
    sources = [*(REPO / "workflow_scripts").glob("*.py"), *(library / "stages").glob("*.py"), library / "notebook.py"]
    calls = 0
    for script in sorted(sources):
        for attribute in re.findall(r"\bplots\.(\w+)", script.read_text()):
            assert hasattr(plots, attribute), f"{script.name} calls plots.{attribute}"
            calls += 1
    assert calls >= 8
