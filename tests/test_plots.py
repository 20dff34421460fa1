"""Report figures: every function writes a readable PNG and returns the data it drew."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import colormaps
from PIL import Image

from camrobust import plots, registry, vocabulary
from camrobust.analysis.nonparametric import Bootstrap, Friedman, friedman
from camrobust.analysis.robustness import NO_CHANGING, NO_PRESERVING
from camrobust.plots import overlay_cells, style
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
    assert rm.loc[("eigencam", "brightness"), "text"] == "n/a:\nno changing"
    consistency = cells[cells["metric"] == "consistency"]
    assert set(consistency["text"]) == {"1.00"}
    # gaussian RM: gradcampp 0.6 [0.5, 0.7] is the best; eigencam [0.3, 0.5] touches its CI, gradcam [0.1, 0.3] does not
    assert (
        rm.loc[("gradcampp", "gaussian_noise"), "best"] and not rm.loc[("gradcampp", "gaussian_noise"), "overlaps_best"]
    )
    assert rm.loc[("eigencam", "gaussian_noise"), "overlaps_best"]
    assert not rm.loc[("gradcam", "gaussian_noise"), "overlaps_best"]
    thin = summary.copy()
    thin.loc[thin["cam"] == "gradcam", ["rm_lo", "rm_hi"]] = np.nan
    thin_cells = plots.robustness_heatmap(thin, "shapes", "democnn", tmp_path / "thin.png")
    thin_rm = thin_cells[thin_cells["metric"] == "rm"].set_index(["cam", "noise"])
    assert thin_rm.loc[("gradcam", "gaussian_noise"), "text"] == "0.20*"  # no CI: fewer than min_n images


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
    assert _short_reason(both, "consistency") == "no preserving"
    assert _short_reason(both, "responsiveness") == "no changing"
    assert _short_reason(None, "rm") == "no data"
    assert _short_reason("segmentation failed", "rm") == "segmentation …"


def test_severity_curves_draws_all_noises(summary: pd.DataFrame, tmp_path: Path) -> None:
    plots.severity_curves(summary, "shapes", "democnn", tmp_path / "curves.png")
    width, height = assert_png(tmp_path / "curves.png")
    assert width > height  # two noise columns side by side, one block


def test_severity_curves_draw_points_without_a_ci_hollow(summary: pd.DataFrame) -> None:
    thin = summary.copy()
    first = (thin["cam"] == "gradcam") & (thin["noise"] == "gaussian_noise") & (thin["severity"] == 1)
    thin.loc[first, ["responsiveness_lo", "responsiveness_hi"]] = np.nan
    figure = plots.severity_curves_figure(thin, "shapes", "democnn")
    hollow = [
        line
        for ax in figure.axes
        for line in ax.get_lines()
        if line.get_markerfacecolor() == "white" and len(line.get_xdata())
    ]
    assert len(hollow) == 1 and len(hollow[0].get_xdata()) == 1
    assert hollow[0].get_ydata()[0] == pytest.approx(0.2)  # gradcam's R at severity 1


def test_change_rates_is_the_class_change_share(summary: pd.DataFrame, tmp_path: Path) -> None:
    shares = plots.change_rates(summary, tmp_path / "attack.png")
    assert_png(tmp_path / "attack.png")
    gaussian = shares[shares["noise"] == "gaussian_noise"].set_index("severity")
    assert gaussian["n_total"].tolist() == [8, 8, 8]  # counts of one CAM, not summed over CAMs
    np.testing.assert_allclose(gaussian["share_changed"], [1 / 8, 2 / 8, 4 / 8])
    assert (shares.loc[shares["noise"] == "brightness", "share_changed"] == 0).all()


def test_ranking_agreement_draws_the_like_with_like_table(tmp_path: Path) -> None:
    from camrobust.analysis.agreement import ranking_agreement
    from tests.test_rankings import score_rows

    order = {"ablationcam": 0.9, "eigencam": 0.7, "gradcam": 0.5, "layercam": 0.3}
    scores = score_rows({"rbo": order, "iou_top20": order, "ssim": order})
    scores = scores.assign(spearman=2 * scores["rbo"] - 1, l1=1 - scores["rbo"])
    table = ranking_agreement(pd.concat([scores, scores.assign(dataset="e")]), n_boot=50, ci=0.9, seed=0, min_n=5)
    drawn = plots.ranking_agreement(table, tmp_path / "agreement.png")
    assert_png(tmp_path / "agreement.png")
    assert drawn is table and sorted(set(zip(table["dataset"], table["model"]))) == [("d", "m"), ("e", "m")]


def ranking_of(values: dict[str, list[float]]) -> Friedman:
    return friedman(pd.DataFrame(values), Bootstrap(0, 0.95, 1, 0), alpha=0.05, levels="CAM methods")


def test_critical_difference_draws_or_says_why(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ranking = ranking_of({cam: rng.random(20) + shift for cam, shift in zip(CAMS, (0.0, 0.3, 0.6))})
    title = plots.critical_difference_title("shapes", "democnn", "gaussian_noise", "preserving")
    assert title == "shapes / democnn: Gaussian noise, ranks of r on class-preserving pairs (Consistency C)"
    assert plots.critical_difference(ranking, tmp_path / "cd.png", title) is None
    assert_png(tmp_path / "cd.png")
    figure = plots.critical_difference_figure(ranking, title)
    texts = [text.get_text() for ax in figure.axes for text in ax.texts] + [text.get_text() for text in figure.texts]
    assert any(text.startswith(f"CD = {ranking.critical_difference:.2f} (Nemenyi") for text in texts)
    assert any(text.startswith("N = 20 images, k = 3 methods") for text in texts)

    one = plots.critical_difference(ranking_of({"gradcam": [0.1, 0.2]}), tmp_path / "one.png", "one method")
    assert one is not None and "at least 2" in one
    assert_png(tmp_path / "one.png", min_side=100)  # a one-line text figure
    empty = plots.critical_difference(ranking_of({"gradcam": [], "eigencam": []}), tmp_path / "empty.png", "none")
    assert empty is not None and "fewer than 2 complete subjects" in empty


def test_critical_difference_joins_tied_methods_with_a_bar() -> None:
    values = list(np.linspace(0.1, 0.8, 20))
    tied = ranking_of({"gradcam": values, "eigencam": values, "layercam": [0.9] * 20})
    assert tied.ranks["gradcam"] == tied.ranks["eigencam"] == 2.5
    figure = plots.critical_difference_figure(tied, "ties")
    bars = [line for ax in figure.axes for line in ax.get_lines() if line.get_linewidth() > 3]
    spans = sorted(tuple(np.round(line.get_xdata(), 2)) for line in bars)
    # one bar joins the tied pair, drawn at least 2 x MIN_BAR wide around their shared rank
    assert len(bars) == 1 and spans[0][0] < 2.5 - 0.05 and spans[0][1] > 2.5 + 0.05


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


def test_an_overlay_cell_is_composited_into_one_picture() -> None:
    """Image and CAM blended at alpha 0.5, white boundaries at alpha 0.6 and the cyan top-region
    outline over them, at the boundaries' 8x upsampling of a 16 px image."""
    size = 16
    image = np.full((size, size, 3), 100, dtype=np.uint8)
    segments = np.where(np.arange(size)[None, :] < size // 2, 1, 2).repeat(size, axis=0).astype(np.int32)
    cam = segments - 1.0  # 0 on the left region, 1 on the right one
    boundaries = overlay_cells.boundary_layer(segments)
    outline = overlay_cells.top_region_layer(cam, segments, top=1)
    cell = overlay_cells.composite_cell(image, cam, boundaries, outline).astype(float)
    assert cell.shape == (8 * size, 8 * size, 3)
    # the regions' inner boundaries are columns 63 (left region) and 64 (right, the top region)
    np.testing.assert_array_equal(cell[:, 64], np.tile([0.0, 255.0, 255.0], (8 * size, 1)))
    under = overlay_cells.composite_cell(image, cam, np.zeros_like(boundaries)).astype(float)
    np.testing.assert_allclose(cell[:, 63], 0.4 * under[:, 63] + 0.6 * 255, atol=1)
    inferno = colormaps[style.CAM_CMAP]
    np.testing.assert_allclose(cell[10, 100], 0.5 * 100 + 0.5 * 255 * np.array(inferno(1.0)[:3]), atol=1)
    np.testing.assert_allclose(cell[10, 20], 0.5 * 100 + 0.5 * 255 * np.array(inferno(0.0)[:3]), atol=1)
    # bilinear between the centres of input pixels 7 and 8 (output pixels 59.5 and 67.5), then coloured
    ramp = np.clip((np.arange(56, 72) + 0.5) / 8 - 0.5 - 7, 0.0, 1.0)
    np.testing.assert_allclose(under[10, 56:72], 0.5 * 100 + 0.5 * 255 * inferno(ramp)[:, :3], atol=1)


def test_overlay_grids_are_laid_out_with_every_label_inside(tmp_path: Path) -> None:
    inputs = overlay_inputs()
    inputs["class_names"] = ["circle", "an exceptionally long class name", "star"]
    plots.cam_overlays(
        **inputs, path=tmp_path / "grid.png", title="t", rbo={c: np.ones((2, 2)) for c in ("gradcam", "eigencam")}
    )
    figure = plots.pair_overlays_figure(
        inputs["clean_images"],
        inputs["noisy_images"][:, 0],
        inputs["clean_cams"]["gradcam"],
        inputs["noisy_cams"]["gradcam"][:, 0],
        np.zeros((2, 32, 32), dtype=np.int32),
        rbo=[0.5, 0.25],
        headers=["image 1, severity 1", "image 2, severity 1"],
        clean_classes=["circle", "circle"],
        noisy_classes=["circle", "an exceptionally long class name"],
    )
    figure.canvas.draw()
    inside = figure.get_tightbbox().padded(-0.05)  # inches; the layout keeps 0.1 inch of padding
    width, height = figure.get_size_inches()
    assert inside.x0 >= 0 and inside.y0 >= 0 and inside.x1 <= width and inside.y1 <= height
    assert isinstance(figure, style.ExactFigure)


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
    from camrobust.analysis.agreement import measures

    columns = vocabulary.score_columns(0.1)
    by_name = {measure.name: measure for measure in measures(columns)}
    assert list(by_name) == ["rbo", "spearman", "iou_top10", "ssim", "l1"]
    assert by_name["iou_top10"].label == "IoU top-10%" and by_name["l1"].label == f"1 − {vocabulary.L1.label}"
    rows = pd.DataFrame({"spearman": [-1.0, 0.0, 1.0], "l1": [0.0, 0.25, 1.0]})
    np.testing.assert_allclose(by_name["spearman"].similarity(rows), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(by_name["l1"].similarity(rows), [1.0, 0.75, 0.0])


def test_noise_examples_draw_only_the_severities_of_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list = []
    module = importlib.import_module("camrobust.plots.noise_examples")
    monkeypatch.setattr(module, "save", lambda figure, path: drawn.append(figure))
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    names = plots.noise_examples(
        image, {"brightness": {3: image, 5: image}, "gaussian_noise": {1: image, 3: image}}, "t", tmp_path / "n.png"
    )
    assert names == ["gaussian_noise", "brightness"]
    axes = drawn[0].axes
    assert len(axes) == 2 * 4  # clean + severities 1, 3, 5: no blank columns for 2 and 4
    assert [ax.get_title() for ax in axes[:4]] == ["clean", "severity 1", "severity 3", "severity 5"]
    assert not axes[4 + 1].axison  # brightness has no severity 1


def test_figures_save_tight_like_the_workflow_and_in_paper_formats(tmp_path: Path) -> None:
    figure = plots.critical_difference_figure(
        ranking_of({"gradcam": [0.1, 0.5, 0.4], "eigencam": [0.2, 0.1, 0.3]}), "title"
    )
    figure.savefig(tmp_path / "default.png")  # a notebook's savefig(), no keywords
    figure.savefig(tmp_path / "tight.png", bbox_inches="tight", pad_inches=0.1)
    with Image.open(tmp_path / "default.png") as default, Image.open(tmp_path / "tight.png") as tight:
        assert default.size == tight.size
    with plots.also_saving(["svg", "pdf"]):
        plots.region_counts({"shapes": np.array([10, 20, 30])}, tmp_path / "regions.png")
    assert (tmp_path / "regions.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "regions.pdf").read_bytes().startswith(b"%PDF")
    plots.region_counts({"shapes": np.array([10, 20, 30])}, tmp_path / "only.png")
    assert not (tmp_path / "only.svg").exists()
    with pytest.raises(ValueError, match="eps"), plots.also_saving(["eps"]):
        pass


def test_sensitivity_figure_draws_tau_per_setting(tmp_path: Path) -> None:
    rows = [
        {
            "dataset": "d",
            "model": "m",
            "noise": noise,
            "setting": setting,
            "tau": tau,
            "tau_lo": tau - 0.2,
            "tau_hi": 1.0,
        }
        for noise, tau in (("gaussian_noise", 0.8), ("all", 1.0))
        for setting in ("rbo_p=0.8", "segmentation=slic")
    ]
    drawn = plots.sensitivity(pd.DataFrame(rows), tmp_path / "sensitivity.png")
    assert_png(tmp_path / "sensitivity.png")
    assert len(drawn) == 4


# --------------------------------------------------------------------------- one name per figure

REPO = Path(__file__).resolve().parents[1]
REPORT_RULES = REPO / "rules" / "report.smk"
SANITY_RULES = (REPO / "rules" / "randomisation.smk", REPO / "rules" / "worst_case.smk")
CAPTIONS = REPO / "report" / "captions"
FIGURE_VARIANTS = {"robustness_heatmap", "severity_curves", "critical_difference", "change_rates", "trust"}


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
    assert sorted(str(p.relative_to(CAPTIONS)) for p in CAPTIONS.rglob("*.rst") if p.resolve() not in used) == []


def test_each_page_has_one_name_across_rule_file_caption_and_module() -> None:
    """page_<name> writes results/report/pages/<name>... with caption pages/<name>.rst from
    camrobust.pages.<name> (the landing page is the report's description, not an item)."""
    blocks = rule_blocks(REPO / "rules" / "pages.smk")
    assert set(blocks) == {"page_landing", "page_drilldown", "page_sensitivity", "page_trust"}
    for rule, block in blocks.items():
        name = rule.removeprefix("page_")
        importlib.import_module(f"camrobust.pages.{name}")
        assert f'"results/report/pages/{name}' in block, rule
        assert {c for c in captions_of(block)} <= {f"../report/captions/pages/{name}.rst"}, rule
        assert bool(captions_of(block)) == (name != "landing"), rule


def test_each_figure_has_one_name_across_rule_file_caption_module_and_function() -> None:
    """plot_<name> draws <name>*.png / .jpg with caption <name>.rst by camrobust.plots.<name>."""
    blocks = rule_blocks(REPORT_RULES)
    for stage in SANITY_RULES:  # the sanity checks' figures sit with their stages
        blocks |= {rule: block for rule, block in rule_blocks(stage).items() if rule.startswith("plot_")}
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
