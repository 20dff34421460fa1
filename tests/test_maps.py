"""Stored maps at image resolution: core.bilinear (NumPy) against cams.postprocess (torch), and
which of them a job takes."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from camrobust import cams
from camrobust.core import bilinear
from tests.workflow import REPO

# (raw grid, image size): torch's channels-last kernel (H + W <= 128) and its generic one, square
# and not, single-pixel grids, downsampling and the identity.
SIZES = [
    ((7, 7), (64, 64)),
    ((16, 16), (64, 64)),
    ((2, 2), (64, 64)),
    ((5, 9), (64, 37)),
    ((5, 9), (91, 37)),
    ((5, 9), (92, 37)),
    ((7, 7), (224, 224)),
    ((14, 14), (224, 224)),
    ((13, 6), (100, 224)),
    ((3, 11), (17, 200)),
    ((1, 1), (8, 8)),
    ((1, 5), (9, 3)),
    ((8, 8), (4, 4)),
    ((64, 64), (64, 64)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("grid", "size"), SIZES)
def test_numpy_maps_equal_torch_postprocess_to_the_bit(
    grid: tuple[int, int], size: tuple[int, int], dtype: type[np.floating], one_torch_thread: None
) -> None:
    rng = np.random.default_rng([*grid, *size])
    # 40 maps (more than one block of 64 x 64), negative values (the ReLU) and scales apart.
    raw = (rng.standard_normal((8, 5, *grid)) * 10.0 ** rng.integers(-4, 4, (8, 5, 1, 1))).astype(dtype)
    expected = cams.postprocess(torch.from_numpy(raw), size).numpy()
    got = bilinear.postprocess(raw, size)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == np.ascontiguousarray(expected).tobytes()


def test_one_map_and_float16_maps_as_torch() -> None:
    raw = np.random.default_rng(0).random((7, 7), dtype=np.float32)
    expected = cams.postprocess(torch.from_numpy(raw), (64, 64)).numpy()
    assert bilinear.postprocess(raw, (64, 64)).tobytes() == expected.tobytes()
    half = raw.astype(np.float16)[None]
    assert np.array_equal(
        bilinear.postprocess(half, (30, 200)), cams.postprocess(torch.from_numpy(half), (30, 200)).numpy()
    )


def round_float32(x: Fraction) -> np.float32:
    """x rounded once to float32 (to nearest, ties to even; subnormals included)."""
    if x == 0:
        return np.float32(0)
    exponent = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** exponent > abs(x):
        exponent -= 1
    step = Fraction(2) ** (max(exponent, -126) - 23)
    return np.float32(float(round(x / step) * step))


def test_fma_rounds_once() -> None:
    # a * b + c = 1 + 2**-23 + 2**-24 - 2**-60: the float64 sum is the float32 midpoint, whose
    # tie goes up; the exact sum is below it.
    a, b, c = (np.array([v], np.float32) for v in (1 - 2**-18, (1 + 2**-18) * 2**-24, 1 + 2**-23))
    assert (a.astype(np.float64) * b + c).astype(np.float32)[0] == np.float32(1 + 2**-22)
    assert bilinear.fma(a, b, c)[0] == np.float32(1 + 2**-23)

    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        a, b, c = ((rng.random(2000) * 10.0 ** rng.integers(-12, 3, 2000)).astype(dtype) for _ in range(3))
        got = bilinear.fma(a, b, c)
        exact = [Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)) for x, y, z in zip(a, b, c)]
        rounded = [round_float32(e) if dtype == np.float32 else float(e) for e in exact]
        assert np.array_equal(got, np.array(rounded, dtype))


@pytest.mark.parametrize(("threshold", "imports_torch"), [(None, False), (1, True)])
def test_a_job_imports_torch_only_for_maps_that_repay_it(threshold: int | None, imports_torch: bool) -> None:
    """A small store's maps are upsampled in NumPy (no torch in the process); past the threshold
    of output pixels, by torch, with the same bits."""
    code = (
        "import sys\n"
        "import numpy as np, zarr\n"
        "from camrobust.core import bilinear, maps\n"
        "from camrobust.stages import score\n"
        "from camrobust.io.maps import cam_attrs, pixel_maps\n"
        + (f"maps.TORCH_UPSAMPLING_PIXELS = {threshold}\n" if threshold else "")
        + "group = zarr.group()\n"
        "raw = np.random.default_rng(0).random((3, 2, 7, 7), dtype=np.float32)\n"
        "group.create_array('maps', data=raw)\n"
        "group.attrs.update(cam_attrs('gradcam', (64, 64)))\n"
        "got = pixel_maps(group, [2, 0])\n"
        "assert got.tobytes() == bilinear.postprocess(raw[[2, 0]], (64, 64)).tobytes()\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(imports_torch)
