"""ScoreCAM (Wang et al., 2020): channels weighted by the model's score on the input masked by
each channel's upsampled map."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from camrobust.cams.probe import Probe


def _upsampled(maps: Tensor, size: Sequence[int]) -> Tensor:
    """Maps (B,h,w) -> (B,1,H,W), bilinear with align_corners=True (torch.nn.UpsamplingBilinear2d)."""
    return F.interpolate(maps.unsqueeze(1), size=tuple(size), mode="bilinear", align_corners=True)


def scorecam(probe: Probe) -> Tensor:
    """ScoreCAM: sum_c w_c A_c, w = softmax_c(y_t(x * M_c)), M_c = (U_c - min U_c) / (max U_c -
    min U_c + 1e-8), U_c = A_c upsampled bilinearly to the input size with align_corners=True
    (torch.nn.UpsamplingBilinear2d, as pytorch-grad-cam 1.5.x).

    One forward per distinct mask, not per channel: channels with bitwise equal maps A_c give
    the same mask (torch.unique), and every channel whose U_c is constant (max U_c == min U_c,
    checked on U_c itself, for the channels constant at h x w, e.g. dead ReLU channels) has the
    mask 0 exactly, so those share one score y_t(x * 0). Each other score is the forward of the
    masked input as before; only which masks share a batch of ``batch_size`` changes, which moves
    scores by rounding."""
    a, size = probe.activations, probe.inputs.shape[-2:]
    maps, same_map = torch.unique(a[0].flatten(1), dim=0, return_inverse=True)
    maps = maps.view(-1, *a.shape[-2:])
    flat = maps.flatten(1)
    constant = torch.zeros(len(maps), dtype=torch.bool, device=a.device)
    candidates = (flat.amax(1) == flat.amin(1)).nonzero().squeeze(1)
    for rows in candidates.split(probe.batch_size):
        up = _upsampled(maps[rows], size).flatten(1)
        constant[rows] = up.amax(1) == up.amin(1)
    key = torch.arange(len(maps), device=a.device)
    key[constant] = key[constant][:1]  # one representative for all masks that are 0
    representatives, same_mask = torch.unique(key, return_inverse=True)

    def masked_logits(rows: Tensor) -> Tensor:
        up = _upsampled(maps[representatives[rows]], size)
        lo, hi = up.amin((2, 3), keepdim=True), up.amax((2, 3), keepdim=True)
        return probe.model(probe.inputs * (up - lo) / (hi - lo + 1e-8))

    scores = probe.target_scores(len(representatives), masked_logits)[same_mask[same_map]]
    weights = scores.unsqueeze(0).softmax(1)
    return (weights[:, :, None, None] * a).sum(1)
