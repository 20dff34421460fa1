"""Rounding bounds that the tests' float comparisons derive their tolerances from."""

U32 = 2.0**-25  # float32 rounding of a value in [0, 1]: half an ulp of [0.5, 1)

# Allowance for the relative error of a score from a float64 forward of the small test models
# (tests/test_cams.py's small_cnn, the narrow ViT and Swin): 2^22 roundings of 2^-53 each, more than
# the floating-point operations of one whole forward of them (1.7e5, 8.2e5 and 1.4e6 in matrix
# products, torch.utils.flop_counter).
FORWARD_ERROR = 2.0**22 * 2.0**-53
