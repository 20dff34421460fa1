"""The report's pages: the landing page as Snakemake renders it (Jinja, then docutils) holds the
headline table and the verdicts; the drill-down and sensitivity pages hold their pairs and numbers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from docutils.core import publish_parts
from jinja2 import Environment
from PIL import Image

from camrobust import plots
from camrobust.pages import drilldown, html, landing, sensitivity
from tests.test_rankings import summary_rows

SETTINGS = landing.Settings(
    cams=["gradcam", "eigencam"], rbo_p=0.9, ci=0.95, min_n=10, practical_difference=0.05, alpha=0.05
)


def verdict_rows() -> pd.DataFrame:
    sentence = "No meaningful difference between GradCAM (0.40) and EigenCAM (0.18): each difference ..."
    return pd.DataFrame(
        [
            {
                "dataset": "d",
                "model": "m",
                "noise": "gaussian_noise",
                "best": "gradcam",
                "decided": False,
                "verdict": sentence,
            }
        ]
    )


def snakemake_render(rst: str) -> str:
    """The workflow description as Snakemake's report renders it: Jinja with its settings, the
    report's link targets appended, then docutils' HTML body."""
    links = "\n\n.. _Workflow: javascript:show_panel('workflow')\n"
    environment = Environment(trim_blocks=True, lstrip_blocks=True)
    text = environment.from_string(rst + links).render(snakemake=None, categories={}, files=[])
    return str(publish_parts(text, writer="html")["html_body"])


def test_the_landing_page_renders_the_headline_table_and_the_verdicts() -> None:
    links = landing.Links(
        experiment={("d", "m"): [("robustness heat-map", "results/report/d/m/robustness_heatmap.png")]},
        noise={
            ("d", "m", "gaussian_noise"): [
                ("drill-down gradcam", "results/report/pages/drilldown/d/m/gaussian_noise/gradcam.html")
            ]
        },
        run=[("ranking agreement", "results/report/ranking_agreement.png")],
    )
    rst = landing.landing_rst(summary_rows(), verdict_rows(), settings=SETTINGS, links=links)
    page = snakemake_render(rst)
    assert "<h1" in page and "camrobust: which CAM can you trust?" in page
    assert '<table class="camrobust">' in page
    assert "<td>GradCAM</td>" in page and '<td class="number">0.40 [0.30, 0.50]</td>' in page
    assert '<td class="number">0.18 (no CI)</td>' in page and "images_changed = 3 &lt; 10" in page
    assert "No meaningful difference between GradCAM (0.40) and EigenCAM (0.18)" in page
    assert '<div class="verdict undecided"><b>Gaussian noise</b>' in page
    assert "app.showResultInfo('results/report/d/m/robustness_heatmap.png')" in page
    assert "{%" not in page and "raw::" not in page
    assert "p = 0.9" in page and "fewer than 10 images" in page


def test_page_skeleton_escapes_text_and_embeds_figures() -> None:
    frame = pd.DataFrame({"a": ["<b>", "x"], "b": [1, 2]})
    table = html.table(frame, header={"a": "A & B"}, row_classes=["best", ""])
    assert table.startswith('<table class="camrobust"><thead><tr><th>A &amp; B</th></tr>')
    assert '<tr class="best"><td>&lt;b&gt;</td></tr><tr><td>x</td></tr>' in table
    assert html.image(b"\x89PNG", "alt").startswith('<img src="data:image/png;base64,iVBORw==" alt="alt"')
    page = html.document("T <1>", "<p>body</p>", subtitle="s")
    assert page.startswith("<!DOCTYPE html>") and "<h1>T &lt;1&gt;</h1>" in page and "<p>body</p>" in page


def test_the_drilldown_page_ties_each_picture_to_its_rbo() -> None:
    rng = np.random.default_rng(0)
    size = 16
    segments = np.stack([(np.arange(size)[:, None] // 4 * 4 + np.arange(size)[None, :] // 4)] * 2).astype(np.int32)
    figure = plots.pair_overlays_figure(
        rng.integers(0, 255, (2, size, size, 3), dtype=np.uint8),
        rng.integers(0, 255, (2, size, size, 3), dtype=np.uint8),
        rng.random((2, size, size)),
        rng.random((2, size, size)),
        segments,
        rbo=[0.12, 0.34],
        headers=["image 001, severity 3", "image 002, severity 1"],
        clean_classes=["square", "circle"],
        noisy_classes=["square", "star"],
    )
    texts = figure.axes[0].texts
    assert [text.get_text() for text in texts] == [
        *("clean: square", "noisy: square, r = 0.120", "image 001, severity 3"),
        *("clean: circle", "noisy: ≠ star, r = 0.340", "image 002, severity 1"),
    ]
    assert texts[4].get_color() == plots.style.CHANGED_RED and texts[1].get_color() == "black"
    assert len(figure.axes[0].images) == 4  # one composited picture per cell
    jpeg = html.figure_jpeg(figure)
    assert jpeg.startswith(b"\xff\xd8")  # a JPEG
    with Image.open(io.BytesIO(jpeg)) as picture:  # saved as laid out, at html.JPEG_DPI
        laid_out = figure.get_size_inches() * html.JPEG_DPI
        assert np.abs(np.subtract(picture.size, laid_out)).max() < 1
    pairs = pd.DataFrame(
        {
            "set": ["preserving", "changing"],
            "image_id": ["001", "002"],
            "severity": [3, 1],
            "rbo": [0.12, 0.34],
            "y_clean": [0, 1],
            "y_noisy": [0, 2],
        }
    )
    pooled = summary_rows().iloc[1]
    page = drilldown.drilldown_page(
        dataset="d",
        model="m",
        cam="gradcam",
        noise="gaussian_noise",
        pairs=pairs,
        figures={"preserving": jpeg, "changing": jpeg},
        class_names=["square", "circle", "star"],
        pooled=pooled,
        top=3,
    )
    assert "<h1>d / m: GradCAM under Gaussian noise</h1>" in page
    assert "C = 0.80 [0.75, 0.85], R = 0.50 [0.40, 0.60], RM = 0.40 [0.30, 0.50]" in page
    assert '<td>002</td><td class="number">1</td><td>circle</td><td>star</td><td class="number">0.340</td>' in page
    assert page.count("data:image/jpeg;base64,") == 2


def test_the_sensitivity_page_states_tau_and_the_best_cam(tmp_path: Path) -> None:
    rows = pd.DataFrame(
        [
            {
                "dataset": "d",
                "model": "m",
                "noise": "all",
                "setting": "segmentation=slic",
                "tau": 0.6,
                "tau_lo": 0.2,
                "tau_hi": 1.0,
                "best_main": "gradcam",
                "best": "eigencam",
                "same_best": False,
                "ranking": "EigenCAM 0.30 > GradCAM 0.28",
                "note": np.nan,
            }
        ]
    )
    (tmp_path / "figure.png").write_bytes(b"\x89PNG")
    page = sensitivity.sensitivity_page(rows, tmp_path / "figure.png", main="rbo_p=0.9, quickshift")
    assert '<td>all noises</td><td>segmentation=slic</td><td class="number">0.60 [0.20, 1.00]</td>' in page
    assert "GradCAM → EigenCAM" in page and "Main setting: rbo_p=0.9, quickshift." in page


def test_the_trust_page_names_the_best_and_those_not_different(tmp_path: Path) -> None:
    from camrobust.analysis.trust import trust_summary, trust_tests
    from camrobust.pages.trust import trust_page

    frame = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "cam": np.repeat(["gradcam", "eigencam", "class_blob_map"], 12),
            "image_id": np.tile([str(i) for i in range(12)], 3),
            # gradcam lowest on every image, eigencam within noise of the class blob
            "deletion_auc": np.concatenate(
                [np.full(12, 0.1), 0.3 + 0.01 * np.arange(12), 0.3 + 0.01 * np.arange(12)[::-1]]
            ),
        }
    )
    tests, _ = trust_tests([frame], alpha=0.05, n_boot=0, ci=0.95, min_n=10, seed=0)
    rm = pd.DataFrame(
        {"dataset": "d", "model": "m", "cam": ["gradcam", "eigencam", "class_blob_map"], "rm": [0.4, 0.3, 0.6]}
    )
    summary = trust_summary(
        [
            rm.assign(rm_lo=np.nan, rm_hi=np.nan),
            frame.groupby(["dataset", "model", "cam"], as_index=False)["deletion_auc"]
            .mean()
            .assign(deletion_auc_lo=np.nan, deletion_auc_hi=np.nan),
        ]
    )
    (tmp_path / "figure.png").write_bytes(b"\x89PNG")
    page = trust_page(summary, tests, tmp_path / "figure.png", alpha=0.05)
    assert "best class blob map at 0.60 (no CI) — a baseline that explains nothing, so this score alone earns" in page
    row = tests.iloc[0]
    assert row["best"] == "gradcam" and row["p"] < 0.05
    assert "<b>deletion AUC</b> (lower is better): best GradCAM" in page
    assert "class blob map (baseline)" in page and '<td class="number">0.10 (no CI) #1</td>' in page
