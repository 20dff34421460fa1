"""AblationCAM (Desai and Ramaswamy, 2020): channels weighted by how much the target logit drops
when the channel is ablated."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from camrobust.cams.probe import Probe

ABLATION_OFFSET = 1e7  # pytorch-grad-cam AblationLayer: ablated value min - 1e7 when min != 0


def ablationcam(probe: Probe) -> Tensor:
    """AblationCAM: sum_c w_c A_c, w_c = (y - y_c) / y, y the target logit, y_c the target logit
    with channel c of the layer output set to v: v = 0 if min(output) == 0 (ReLU layers), else
    v = min(output) - 1e7 (pytorch-grad-cam AblationLayer). Difference: pytorch-grad-cam takes that
    min over its whole ablation batch, which drifts after the first ablated row when min != 0; here
    min is the image's own layer output. The raw output is edited, before any post-activation (for
    DenseNet's relu(features.norm5): min - 1e7, which the model's ReLU turns into 0, as ablating the
    activated channel to 0). y = 0 gives NaN weights, as in pytorch-grad-cam.

    Ablating a channel changes only what follows the layer, so y_c runs the tail of the network
    alone (``Probe.edited_logits``) on batch_size ablated copies of the clean output: for ResNet's
    layer4, pooling and the linear layer, i.e. matrix products. Models that cannot be split run
    whole on the repeated input, the output edited by a hook; both give y_c up to rounding."""

    def ablate(rows: Tensor) -> Callable[[Tensor], Tensor]:
        def edit(out: Tensor) -> Tensor:
            out = out.clone()
            lo = out.flatten(1).amin(1)
            value = torch.where(lo == 0, 0.0, lo - ABLATION_OFFSET)
            index = torch.arange(len(out), device=out.device)
            out.movedim(probe.channel_axis, 1)[index, rows] = value.view(-1, *[1] * (out.ndim - 2))
            return out

        return edit

    y = probe.scores.unsqueeze(1)
    ablated = probe.target_scores(probe.activations.shape[1], lambda c: probe.edited_logits(ablate(c), len(c)))
    weights = (y - ablated.unsqueeze(0)) / y
    return (weights[:, :, None, None] * probe.activations).sum(1)
