"""Rounding bounds for the faithfulness parity tests and the trust benchmark.

Two float32 forwards of the same input that sum in another order (another batch size, another
library's batching) differ by at most twice the forward error of each. A sum of n products
accumulated in float32, in any order, is within gamma_n = n u / (1 - n u) (u = 2^-24) of the
exact sum, relative to the sum of the absolute products (Higham, Accuracy and Stability of
Numerical Algorithms, 3.1). Compounding over a network's layers, the logits are within
gamma_L x S of the exact ones, L the sum of the fan-ins of its convolutions and linear layers
(plus one per bias, batch norm, addition or pooling level) and S the output of the network with
every weight and bias replaced by its absolute value, on |x| (ReLU, max and average pooling and
additions are monotone, so S bounds every partial sum). The target-class softmax probability
moves by at most max_j |dz_j| x sum_j |dp_t / dz_j| = 2 p_t (1 - p_t) max |dz| <= max |dz| / 2,
and the softmax itself adds a few roundings per class.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

U32 = 2.0**-24


def accumulation_length(model: nn.Module) -> int:
    """L: the summed fan-in of the convolutions and linear layers, plus one per other layer."""
    total = 0
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            total += module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1] + 1
        elif isinstance(module, nn.Linear):
            total += module.in_features + 1
        elif not list(module.children()):
            total += 2  # batch norm, pooling, addition, activation: a couple of roundings at most
    return total


def absolute_model(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` with |weights| and |biases| (batch norm folded to its scale
    |gamma| / sigma and shift |beta - mu gamma / sigma|), to run on |x|."""
    copied = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for module in copied.modules():
            if isinstance(module, nn.BatchNorm2d):
                sigma = (module.running_var + module.eps).sqrt()
                gamma = module.weight if module.weight is not None else torch.ones_like(sigma)
                beta = module.bias if module.bias is not None else torch.zeros_like(sigma)
                shift = (beta - module.running_mean * gamma / sigma).abs()
                module.running_mean.zero_()
                if module.weight is not None:
                    module.weight.copy_(gamma.abs())
                if module.bias is not None:
                    module.bias.copy_(shift)
            elif isinstance(module, nn.Conv2d | nn.Linear):
                module.weight.abs_()
                if module.bias is not None:
                    module.bias.abs_()
    return copied


def logit_bound(model: nn.Module, bound: Tensor) -> float:
    """max over rows and classes of S: the absolute model on ``bound`` >= |x| elementwise."""
    with torch.no_grad():
        return float(absolute_model(model)(bound.abs().double()).max())


def probability_tolerance(model: nn.Module, bound: Tensor, classes: int) -> float:
    """How far two float32 evaluations of a target-class softmax probability may differ, for
    inputs bounded elementwise by ``bound``: 2 gamma_L S / 2 plus the softmax's roundings."""
    n = accumulation_length(model)
    gamma = n * U32 / (1 - n * U32)
    return gamma * logit_bound(model, bound) + 4 * (classes + 2) * U32
