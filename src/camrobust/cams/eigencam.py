"""EigenCAM (Muhammad and Yeasin, 2020): the first principal component of the activations.

:func:`first_component` is shared with EigenGradCAM."""

from __future__ import annotations

import torch
from torch import Tensor


def first_component(x: Tensor) -> Tensor:
    """Per image, X = x read as an (h*w, C) matrix minus its column means; return X v1 as (N,h,w),
    v1 the first right singular vector (pytorch-grad-cam get_2d_projection).

    Sign rule (SVD leaves it arbitrary): v1 is flipped so that sum_c v1_c >= 0. Since
    X^T X v1 = s1^2 v1 and X v1 has zero mean, <X v1, m> = s1^2 sum_c(v1_c) / C for the channel-mean
    map m = mean_c x_c, so the rule makes the projection correlate positively with m."""
    n, _, h, w = x.shape
    mat = x.flatten(2).transpose(1, 2)
    mat = mat - mat.mean(1, keepdim=True)
    v1 = torch.linalg.svd(mat, full_matrices=False).Vh[:, 0]
    v1 = torch.where(v1.sum(1, keepdim=True) < 0, -v1, v1)
    return (mat @ v1.unsqueeze(2)).view(n, h, w)


def eigencam(a: Tensor, g: Tensor) -> Tensor:
    """EigenCAM: first_component(A), the projection of A (h*w x C, column-centred) on its first
    right singular vector, sign rule of ``first_component``; g is not used."""
    return first_component(a)
