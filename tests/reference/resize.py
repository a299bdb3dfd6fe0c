"""Resize, modes nearest and linear, separable over every axis.

Source coordinates follow the spec's real-number formulas exactly (rational
arithmetic on the scale, which is out/in for `sizes` and the float32 value for
`scales`), so a nearest-neighbour tie is a tie only when it is one exactly.
Measured against ONNX Runtime 1.31 (tests/test_reference.py):
- with `sizes`, exact arithmetic picks the same pixels as ORT everywhere tried;
  plain float32 arithmetic does not (7 -> 1 with tf_half_pixel_for_nn gives
  3.4999998 in float32, 3.5 exactly, and ORT rounds it as the tie);
- with a non-dyadic float32 scale (0.6) ORT also rounds some near-ties as
  ties; the reference does not (tests keep to dyadic scales);
- output sizes from `scales` are floor(float32(scale * in)), as in ORT;
- an axis with scale 1 and in == out is copied (ORT does so; the spec would
  shift tf_half_pixel_for_nn by half a pixel). ORT also copies the whole
  tensor when the output shape equals the input shape whatever the scales.
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from ._common import as_f64, out_f32

# "tf_half_pixel_for_nn" is the ONNX (opset 11) spelling; docs/ops.md calls it
# "tf_half_pixel_for_nearest". Both are accepted.
COORDINATE_MODES = (
    "half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn", "tf_half_pixel_for_nearest",
)
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")

_f = np.float32


def _str(v: str | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else v


def resize_output_shape(
    in_shape: Sequence[int], scales: Sequence[float] | None = None, sizes: Sequence[int] | None = None
) -> tuple[list[int], list[Fraction]]:
    """(output shape, per-axis scale as an exact fraction).

    With sizes the scale is out/in; with scales the output is floor(in * scale)
    (the product taken in float32, as ONNX Runtime does: 0.7f * 10 is 7, not
    6.99999988) and the coordinate transform uses the given scale, not out/in."""
    if (scales is None) == (sizes is None):
        raise ValueError("Resize: give exactly one of scales and sizes")
    if sizes is not None:
        out = [int(in_shape[i]) if int(s) == -1 else int(s) for i, s in enumerate(sizes)]
        return out, [Fraction(o, i) if i else Fraction(1) for o, i in zip(out, in_shape)]
    sc = [_f(s) for s in scales]
    out = [int(np.floor(s * _f(i))) for s, i in zip(sc, in_shape)]
    return out, [Fraction(float(s)) for s in sc]


def source_coordinate(out_index: int, scale: Fraction, in_size: int, out_size: int, mode: str) -> Fraction:
    """x_original for one output index, exactly."""
    x, half = Fraction(out_index), Fraction(1, 2)
    if mode == "half_pixel":
        return (x + half) / scale - half
    if mode == "pytorch_half_pixel":
        return (x + half) / scale - half if out_size > 1 else Fraction(0)
    if mode == "asymmetric":
        return x / scale
    if mode in ("tf_half_pixel_for_nn", "tf_half_pixel_for_nearest"):
        return (x + half) / scale
    if mode == "align_corners":
        return Fraction(0) if out_size == 1 else x * (in_size - 1) / (out_size - 1)
    raise ValueError(f"coordinate_transformation_mode: expected one of {COORDINATE_MODES}, found {mode!r}")


def nearest_index(x: Fraction, mode: str, in_size: int) -> int:
    floor = x.numerator // x.denominator
    is_tie = x - floor == Fraction(1, 2)
    if mode == "round_prefer_floor":
        idx = floor if is_tie else round(x)
    elif mode == "round_prefer_ceil":
        idx = floor + 1 if is_tie else round(x)
    elif mode == "floor":
        idx = floor
    elif mode == "ceil":
        idx = -((-x.numerator) // x.denominator)
    else:
        raise ValueError(f"nearest_mode: expected one of {NEAREST_MODES}, found {mode!r}")
    return min(max(int(idx), 0), in_size - 1)


def resize(
    x: np.ndarray,
    scales: Sequence[float] | None = None,
    sizes: Sequence[int] | None = None,
    *,
    mode: str = "nearest",
    coordinate_transformation_mode: str = "half_pixel",
    nearest_mode: str = "round_prefer_floor",
    cubic_coeff_a: float = -0.75,
    exclude_outside: int = 0,
) -> np.ndarray:
    """ONNX Resize (no roi, no antialias). Linear clamps the source coordinate to
    [0, in-1], which equals the spec's edge-replicated neighbours. Cubic takes the
    four neighbours floor(x)-1 .. floor(x)+2 (edge-replicated, or weight 0 and
    renormalised with exclude_outside) with Keys' weights for cubic_coeff_a."""
    mode = _str(mode)
    ctm = _str(coordinate_transformation_mode)
    nearest_mode = _str(nearest_mode)
    y = as_f64(x)
    out_shape, used_scales = resize_output_shape(y.shape, scales, sizes)
    for axis, (in_size, out_size, scale) in enumerate(zip(y.shape, out_shape, used_scales)):
        if in_size == out_size and scale == 1:
            continue  # see the module docstring
        src = [source_coordinate(i, scale, in_size, out_size, ctm) for i in range(out_size)]
        if mode == "nearest":
            y = np.take(y, np.array([nearest_index(v, nearest_mode, in_size) for v in src], np.int64), axis=axis)
        elif mode == "linear":
            src = np.clip(np.array([float(v) for v in src]), 0, in_size - 1)
            i0 = np.floor(src).astype(np.int64)
            i1 = np.minimum(i0 + 1, in_size - 1)
            w1 = src - i0
            shape = [1] * y.ndim
            shape[axis] = out_size
            w1 = w1.reshape(shape)
            y = np.take(y, i0, axis=axis) * (1 - w1) + np.take(y, i1, axis=axis) * w1
        elif mode == "cubic":
            a = cubic_coeff_a
            src = np.array([float(v) for v in src])
            base = np.floor(src)
            t = src - base
            weights, taps = [], []
            for k, dist in enumerate((t + 1, t, 1 - t, 2 - t)):
                w = np.where(dist <= 1, ((a + 2) * dist - (a + 3)) * dist * dist + 1,
                             ((a * dist - 5 * a) * dist + 8 * a) * dist - 4 * a)
                index = base.astype(np.int64) - 1 + k
                outside = (index < 0) | (index >= in_size)
                if exclude_outside:
                    w = np.where(outside, 0.0, w)
                weights.append(w)
                taps.append(np.clip(index, 0, in_size - 1))
            if exclude_outside:
                total = sum(weights)
                weights = [w / total for w in weights]
            shape = [1] * y.ndim
            shape[axis] = out_size
            y = sum(np.take(y, i, axis=axis) * w.reshape(shape) for i, w in zip(taps, weights))
        else:
            raise ValueError(f"Resize mode: expected nearest, linear or cubic, found {mode!r}")
    return out_f32(y)
