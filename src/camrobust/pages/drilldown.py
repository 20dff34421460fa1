"""The drill-down page of one (dataset, model, CAM, noise): the pairs that tell most about where
the CAM fails (:mod:`camrobust.analysis.examples`), each as clean and noisy overlays with the top
regions of each ranking outlined and its RBO r printed, beside a table of the same pairs."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from camrobust import registry, vocabulary
from camrobust.analysis.tables import estimate
from camrobust.pages.html import document, escape, image, table

HEADINGS = {
    vocabulary.PRESERVING: "Least consistent: class-preserving pairs with the lowest r",
    vocabulary.CHANGING: "Least responsive: class-changing pairs with the highest r",
}
EXPLAINED = {
    vocabulary.PRESERVING: "The prediction stayed, yet the CAM's region ranking moved most; a consistent CAM keeps r near 1.",
    vocabulary.CHANGING: "The prediction changed, yet the CAM's region ranking moved least; a responsive CAM has r near 0.",
}


def drilldown_page(
    *,
    dataset: str,
    model: str,
    cam: str,
    noise: str,
    pairs: pd.DataFrame,
    figures: Mapping[str, bytes],
    class_names: list[str],
    pooled: pd.Series | None,
    top: int,
) -> str:
    """The page: ``pairs`` are :func:`camrobust.analysis.examples.extreme_pairs` rows (with
    ``set``, ``image_id``, ``severity``, ``rbo``, ``y_clean``, ``y_noisy``), ``figures`` the picture (JPEG) of
    each set's pairs, ``pooled`` the pooled summary row of this (dataset, model, cam, noise)."""
    title = f"{dataset} / {model}: {registry.cam_label(cam)} under {registry.noise_label(noise)}"
    parts = []
    if pooled is not None:
        numbers = [
            f"{label} = {estimate(pooled[score.name], pooled[f'{score.name}_lo'], pooled[f'{score.name}_hi'])}"
            for label, score in zip(("C", "R", "RM"), vocabulary.ROBUSTNESS, strict=True)
        ]
        images = f"{int(pooled['images_same'])} / {int(pooled['images_changed'])} images (preserving / changing)"
        parts.append(f"<p>Pooled over severities: {escape(', '.join(numbers))}; {escape(images)}.</p>")
    parts.append(
        f"<p>Each row: the clean image with its CAM (left) and the noisy image with the CAM of the noisy image "
        f"(right), 50% opacity (inferno, 0-1); thin white lines are the clean image's segmentation regions, the "
        f"ranked items of RBO; cyan outlines the {top} regions each CAM ranks highest. r is the pair's RBO.</p>"
    )
    for set_name, heading in HEADINGS.items():
        chosen = pairs[pairs["set"] == set_name]
        parts.append(f"<h2>{escape(heading)}</h2><p>{escape(EXPLAINED[set_name])}</p>")
        if chosen.empty:
            parts.append(f'<p class="note">No {escape(vocabulary.SETS[set_name])} under this noise.</p>')
            continue
        rows = pd.DataFrame(
            {
                "image": chosen["image_id"].astype(str),
                "severity": chosen["severity"].astype(int),
                "clean": [class_names[int(y)] for y in chosen["y_clean"]],
                "noisy": [class_names[int(y)] for y in chosen["y_noisy"]],
                "r": [f"{r:.3f}" for r in chosen[vocabulary.RBO.name]],
            }
        )
        parts.append(
            '<div class="figures"><figure>'
            + image(figures[set_name], heading, width="26rem")
            + "</figure><div>"
            + table(
                rows,
                header={
                    "image": "image",
                    "severity": "severity",
                    "clean": "clean class",
                    "noisy": "noisy class",
                    "r": "r (RBO)",
                },
                numbers=("severity", "r"),
            )
            + "</div></div>"
        )
    subtitle = f"the {len(pairs)} most telling pairs, chosen by their RBO r; each image once per set"
    return document(title, "\n".join(parts), subtitle=subtitle)
