"""The view a model-family method (ScoreCAM, AblationCAM) gets of one image.

Model-family methods rerun the model on masked inputs or edited layer outputs. A :class:`Probe`
holds one image's clean forward (its target logit, layer output and maps) and the two ways of
rerunning: on rows of new inputs, or with the target layer's output edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Probe:
    """What a model-based method sees of ONE image: the model, its target layer, the input
    (1,3,H,W), its target class (1,), the clean target logit y (1,), the clean layer maps A (1,C,h,w),
    the raw layer output (1, ...) and its channel axis, the rows per forward, and ``tail``: the
    network after the layer as ``edited outputs (B, ...) -> logits (B,K)`` (``netsplit``), None
    where the model could not be split."""

    model: nn.Module
    layer: nn.Module
    inputs: Tensor
    targets: Tensor
    scores: Tensor
    activations: Tensor
    output: Tensor
    channel_axis: int
    batch_size: int
    tail: Callable[[Tensor], Tensor] | None = None

    def target_scores(self, n_rows: int, logits_of: Callable[[Tensor], Tensor]) -> Tensor:
        """Target logit of rows 0 .. n_rows-1 -> (n_rows,): logits_of(rows) -> (len(rows), K),
        batch_size rows a call."""
        scores = self.scores.new_empty(n_rows)
        for rows in torch.arange(n_rows, device=self.inputs.device).split(self.batch_size):
            scores[rows] = logits_of(rows)[:, self.targets[0]]
        return scores

    def edited_logits(self, edit: Callable[[Tensor], Tensor], rows: int) -> Tensor:
        """Logits (rows, K) with the layer output replaced by edit(output repeated ``rows`` times):
        the tail alone on the clean output when there is one, else the whole model on the input
        repeated, the layer's output edited by a forward hook."""
        if self.tail is not None:
            return self.tail(edit(self.output.expand(rows, *self.output.shape[1:])))
        handle = self.layer.register_forward_hook(lambda _m, _a, out: edit(out))
        try:
            return self.model(self.inputs.repeat(rows, 1, 1, 1))
        finally:
            handle.remove()
