"""Raw maps -> maps at image resolution in [0, 1] with NumPy, equal to the last bit to
:func:`camrobust.cams.postprocess` on the CPU, so that the stages that only read stored maps
need no torch.

torch's CPU kernel for float bilinear upsampling (align_corners=False, no antialias) rounds
through fused multiply-adds, ``fma(a, b, c) = a * b + c`` rounded once, in the maps' dtype:

- per axis: ``scale = in / out``, ``src = max(fma(scale, o + 0.5, -0.5), 0)``,
  ``i0 = floor(src)``, ``i1 = min(i0 + 1, in - 1)``, ``l1 = src - i0``, ``l0 = 1 - l1``;
- when ``H + W <= 128`` (its channels-last kernel, taken for small outputs), with the corner
  values ``a, b, c, d`` at ``(i0, j0), (i0, j1), (i1, j0), (i1, j1)`` and ``wXY = hX * wY``:
  ``fma(d, w11, fma(c, w10, fma(a, w00, b * w01)))``;
- otherwise (its generic kernel), along the rows then across them:
  ``t[r] = fma(x[r, j0], w0, x[r, j1] * w1)``, ``out = fma(t[i0], h0, t[i1] * h1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Largest H + W that torch upsamples with its channels-last kernel (a single-channel map).
CHANNELS_LAST_MAX_SIZE = 128
#: Output pixels :func:`postprocess` computes at a time.
BLOCK_PIXELS = 1 << 16
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's split of a float64 into two 26-bit halves
_BELOW_FLOAT32 = (1 << 29) - 1  # the float64 significand bits below float32's
_FLOAT32_HALF_ULP = 1 << 28
_FLOAT32_TINY = 2.0**-125


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s = a + b`` rounded and its exact error ``e``: ``s + e == a + b`` (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _odd_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` (float64) rounded to odd: the rounded sum, moved one ulp towards the exact sum
    when inexact with an even last bit. Rounding it again to fewer bits (by at least 2) rounds
    the exact sum once."""
    s, e = _two_sum(a, b)
    even = (s.view(np.int64) & 1) == 0
    return np.where((e != 0) & even, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``p = a * b`` (float64) rounded and its exact error ``e``: ``p + e == a * b`` (Dekker)."""
    p = a * b
    ca, cb = _SPLIT * a, _SPLIT * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b + c`` of float32 operands rounded once to float32: the float64 product is exact
    (48 bits); the float64 sum rounded again to float32 rounds the exact sum once unless it lands
    on a float32 midpoint (or in float32's subnormal range), where the sum is rounded to odd."""
    total = np.multiply(a, b, dtype=np.float64)
    total += c
    tie = (total.view(np.int64) & _BELOW_FLOAT32) == _FLOAT32_HALF_ULP
    tie |= np.abs(total) < _FLOAT32_TINY
    if tie.any():
        a, b, c = np.broadcast_arrays(a, b, c)
        total[tie] = _odd_sum(np.multiply(a[tie], b[tie], dtype=np.float64), c[tie].astype(np.float64))
    return total.astype(np.float32)


def fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b + c`` rounded once, for float32 or float64 operands of one dtype (float64: the
    product's and ``c``'s rounding errors are carried, and the tail rounded to odd; exact when
    ``a * b`` and ``c`` have one sign or a difference without rounding error, as here)."""
    if a.dtype == np.float32:
        return _fma32(a, b, c)
    high, low = _two_product(a, b)
    total, error = _two_sum(high, c)
    return total + _odd_sum(low, error)


def axis_weights(size_in: int, size_out: int, dtype: type[np.floating]) -> tuple[np.ndarray, ...]:
    """Per output index along one axis: the source indices ``i0, i1`` and their weights
    ``l0, l1`` (torch's half-pixel source index, clamped at 0)."""
    out = np.arange(size_out)
    scale = np.full(size_out, dtype(size_in) / dtype(size_out))
    src = np.maximum(fma(scale, out.astype(dtype) + dtype(0.5), np.full(size_out, dtype(-0.5))), dtype(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    l1 = src - i0.astype(dtype)
    return i0, np.minimum(i0 + 1, size_in - 1), dtype(1) - l1, l1


def bilinear(maps: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Maps (..., h, w) float32 or float64 upsampled to (..., H, W) as torch's CPU
    ``F.interpolate(mode="bilinear", align_corners=False, antialias=False)``; maps already of
    that size come back as they are (weights 1 and 0)."""
    dtype = maps.dtype.type
    height, width = int(size[0]), int(size[1])
    if maps.shape[-2:] == (height, width):
        return maps
    i0, i1, h0, h1 = axis_weights(maps.shape[-2], height, dtype)
    j0, j1, w0, w1 = axis_weights(maps.shape[-1], width, dtype)
    if height + width <= CHANNELS_LAST_MAX_SIZE:
        top, bottom = maps[..., i0, :], maps[..., i1, :]
        h0, h1 = h0[:, None], h1[:, None]
        inner = fma(top[..., j0], h0 * w0, top[..., j1] * (h0 * w1))
        return fma(bottom[..., j1], h1 * w1, fma(bottom[..., j0], h1 * w0, inner))
    rows = fma(maps[..., j0], w0, maps[..., j1] * w1)
    return fma(rows[..., i0, :], h0[:, None], rows[..., i1, :] * h1[:, None])


def _minmax(x: np.ndarray) -> np.ndarray:
    x = x - x.min((-2, -1), keepdims=True)
    return x / (x.max((-2, -1), keepdims=True) + x.dtype.type(1e-7))


def postprocess(raw: np.ndarray, output_size: Sequence[int]) -> np.ndarray:
    """:func:`camrobust.cams.postprocess` of raw maps (..., h, w) -> (..., H, W) in [0, 1]:
    ReLU, per-map min-max ``(x - min) / (max - min + 1e-7)``, :func:`bilinear` upsampling,
    min-max again. float32, or float64 for float64 raw maps; computed a few maps at a time
    (about ``BLOCK_PIXELS`` output pixels), which keeps the float64 intermediates in cache."""
    dtype = np.float64 if raw.dtype == np.float64 else np.float32
    size = (int(output_size[0]), int(output_size[1]))
    flat = raw.reshape(-1, *raw.shape[-2:])
    out = np.empty((len(flat), *size), dtype)
    step = max(1, BLOCK_PIXELS // (size[0] * size[1]))
    for start in range(0, len(flat), step):
        maps = _minmax(np.maximum(flat[start : start + step].astype(dtype, copy=False), dtype(0)))
        out[start : start + step] = _minmax(bilinear(maps, size))
    return out.reshape(*raw.shape[:-2], *size)
