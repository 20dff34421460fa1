"""Report figures, one module per figure, each named like its rule, file and caption.

Every function draws one figure at ``path`` (a 150 dpi PNG, or a 100 dpi JPEG where ``path``
ends in ``.jpg``: the workflow's CAM overlay grids; SVG and PDF copies beside it inside
:func:`camrobust.plots.style.also_saving`) and returns the data it drew where that is useful. The figures the notebook shows also come as ``*_figure`` functions that return the
``Figure`` unsaved (it displays itself). What all figures share (a fixed colour per CAM method,
the registry's orders and labels, NaN cells, saving) is in :mod:`camrobust.plots.style`.

======================  ====================================================
figure                  functions
======================  ====================================================
robustness_heatmap      robustness_heatmap, robustness_heatmap_figure
severity_curves         severity_curves, severity_curves_figure
cam_overlays            cam_overlays
critical_difference     critical_difference, critical_difference_figure
ranking_agreement       ranking_agreement
region_counts           region_counts
change_rates            change_rates, change_rates_figure
noise_examples          noise_examples
sensitivity             sensitivity
trust                   trust, trust_figure
randomisation           randomisation
worst_case              worst_case
======================  ====================================================

:func:`pair_overlays_figure` draws the pairs of a drill-down page (:mod:`camrobust.pages`).
"""

from camrobust.plots.cam_overlays import cam_overlays
from camrobust.plots.change_rates import change_rates, change_rates_figure
from camrobust.plots.critical_difference import (
    critical_difference,
    critical_difference_figure,
    critical_difference_title,
)
from camrobust.plots.noise_examples import noise_examples
from camrobust.plots.pair_overlays import pair_overlays_figure
from camrobust.plots.randomisation import randomisation
from camrobust.plots.ranking_agreement import ranking_agreement
from camrobust.plots.region_counts import region_counts
from camrobust.plots.robustness_heatmap import robustness_heatmap, robustness_heatmap_figure
from camrobust.plots.sensitivity import sensitivity
from camrobust.plots.severity_curves import severity_curves, severity_curves_figure
from camrobust.plots.style import CANONICAL_CAMS, CANONICAL_NOISES, also_saving, cam_colors
from camrobust.plots.trust import trust, trust_figure
from camrobust.plots.worst_case import worst_case

FIGURES: tuple[str, ...] = (
    "robustness_heatmap",
    "severity_curves",
    "cam_overlays",
    "critical_difference",
    "ranking_agreement",
    "region_counts",
    "change_rates",
    "noise_examples",
    "sensitivity",
    "trust",
    "randomisation",
    "worst_case",
)
"""The report's figures: each is a rule ``plot_<name>``, a caption ``<name>.rst``, a module and a
function of this package, and the stem of its output file."""

__all__ = [
    "CANONICAL_CAMS",
    "CANONICAL_NOISES",
    "FIGURES",
    "also_saving",
    "cam_colors",
    "cam_overlays",
    "change_rates",
    "change_rates_figure",
    "critical_difference",
    "critical_difference_figure",
    "critical_difference_title",
    "noise_examples",
    "pair_overlays_figure",
    "randomisation",
    "ranking_agreement",
    "region_counts",
    "robustness_heatmap",
    "robustness_heatmap_figure",
    "sensitivity",
    "severity_curves",
    "severity_curves_figure",
    "trust",
    "trust_figure",
    "worst_case",
]
