"""Rounding bounds that the tests' float comparisons derive their tolerances from."""

import math

import torch
from torch.utils.flop_counter import FlopCounterMode

U32 = 2.0**-25  # float32 rounding of a value in [0, 1]: half an ulp of [0.5, 1)

# Allowance for the relative error of a score from a float64 forward of the small test models
# (tests/test_cams.py's small_cnn, the narrow ViT and Swin): 2^22 roundings of 2^-53 each, more than
# the floating-point operations of one whole forward of them (1.7e5, 8.2e5 and 1.4e6 in matrix
# products, torch.utils.flop_counter).
FORWARD_ERROR = 2.0**22 * 2.0**-53


def forward_error(model: torch.nn.Module, inputs: torch.Tensor) -> float:
    """FORWARD_ERROR's allowance for a float64 forward of any model: 4 roundings of 2^-53 per
    floating-point operation of its matrix products and convolutions on ``inputs`` (one image;
    torch.utils.flop_counter), rounded up to a power of two. The factor 4 covers the element-wise
    work (normalisation, activations, residual sums, pooling), a few roundings per output element of
    a layer, whose inputs took at least one multiply-add each."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(inputs)
    return 2.0 ** math.ceil(math.log2(4 * counter.get_total_flops())) * 2.0**-53
