"""A `uses: model` CAM plugin that holds the workflow inside its CAM jobs until a test lets it go.

The folder ``$CAMROBUST_TEST_GATE`` is the gate: while it has no file ``open``, the plugin writes the
file ``started`` there and blocks until its process is killed; once ``open`` exists it returns the
L2 norm over channels of the target layer's output.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from byo_plugins import activation_norm_cam
from torch import Tensor, nn


def gated_norm_cam(model: nn.Module, target_layer: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """Block until killed while the gate is closed, else the activation norm map."""
    gate = Path(os.environ["CAMROBUST_TEST_GATE"])
    if not (gate / "open").exists():
        (gate / "started").touch()
        while True:
            signal.pause()
    return activation_norm_cam(model, target_layer, inputs, targets)
