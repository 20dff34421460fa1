"""Class Activation Maps: the built-in methods, the engine that computes them, and their
post-processing.

A CAM explains one class's logit y_t of an image classifier with a map over a target layer's
grid (:mod:`camrobust.cams.target`). Gradient-family methods are functions of that layer's
activations A (N,C,h,w) and gradients g = d y_t / dA; model-family methods rerun the model on
masked inputs or ablated layer outputs. Baseline-family maps (random, centre, edge, class blob)
explain nothing and are the floor a CAM must beat (:func:`baseline_maps`). Every raw map is
post-processed as pytorch-grad-cam 1.5.x does (:func:`postprocess`).

One file per method: ``camrobust.cams.<name>`` defines the function ``<name>``, with its formula
in the docstring, and :data:`camrobust.registry.CAMS` lists it; ``GRADIENT_METHODS``,
``MODEL_METHODS`` and ``CAM_METHODS`` are built from that list (:mod:`camrobust.cams.catalogue`).
Adding a built-in method is that module and that registry line; nothing here changes.
"""

from __future__ import annotations

from camrobust.cams.ablationcam import ablationcam
from camrobust.cams.capture import Capture, Reshape, capture, swin_channels_first, token_reshape
from camrobust.cams.catalogue import (
    BASELINE_METHODS,
    CAM_METHODS,
    EXPLAINING_METHODS,
    GRADIENT_METHODS,
    MODEL_METHODS,
    BaselineMethod,
)
from camrobust.cams.centre_map import centre_map
from camrobust.cams.class_blob_map import class_blob_map
from camrobust.cams.edge_map import edge_map
from camrobust.cams.eigencam import eigencam, first_component
from camrobust.cams.eigengradcam import eigengradcam
from camrobust.cams.engine import (
    baseline_maps,
    baseline_raw_maps,
    compute_cams,
    gradient_family,
    layer_grid,
    model_cams,
    model_raw_maps,
)
from camrobust.cams.gradcam import gradcam
from camrobust.cams.gradcam_elementwise import gradcam_elementwise
from camrobust.cams.gradcampp import gradcampp
from camrobust.cams.hirescam import hirescam
from camrobust.cams.layercam import layercam
from camrobust.cams.map_function import MapFunction, cam_map_function
from camrobust.cams.postprocess import postprocess
from camrobust.cams.probe import Probe
from camrobust.cams.random_map import random_map
from camrobust.cams.scorecam import scorecam
from camrobust.cams.target import POST_ACTIVATIONS, TargetLayer, resolve_layer, resolve_target, split_target
from camrobust.cams.xgradcam import xgradcam

__all__ = [
    "BASELINE_METHODS",
    "CAM_METHODS",
    "EXPLAINING_METHODS",
    "GRADIENT_METHODS",
    "MODEL_METHODS",
    "POST_ACTIVATIONS",
    "Capture",
    "MapFunction",
    "Probe",
    "Reshape",
    "BaselineMethod",
    "TargetLayer",
    "ablationcam",
    "baseline_maps",
    "baseline_raw_maps",
    "cam_map_function",
    "capture",
    "centre_map",
    "class_blob_map",
    "compute_cams",
    "edge_map",
    "eigencam",
    "eigengradcam",
    "first_component",
    "gradcam",
    "gradcam_elementwise",
    "gradcampp",
    "gradient_family",
    "hirescam",
    "layer_grid",
    "layercam",
    "model_cams",
    "model_raw_maps",
    "postprocess",
    "random_map",
    "resolve_layer",
    "resolve_target",
    "scorecam",
    "split_target",
    "swin_channels_first",
    "token_reshape",
    "xgradcam",
]
