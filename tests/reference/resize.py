"""Resize, modes nearest and linear, separable over every axis.

Source coordinates are computed in float32, in the order of the formulas in
the ONNX spec, because that is what ONNX Runtime (and the cnnrt kernels) do: a
nearest-neighbour tie such as x_original = 2.5 may fall on either side of .5
depending on the precision, and picking another pixel is not a rounding error.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import as_f64, out_f32

COORDINATE_MODES = ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nearest")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")

_f = np.float32


def _str(v: str | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else v


def resize_output_shape(
    in_shape: Sequence[int], scales: Sequence[float] | None = None, sizes: Sequence[int] | None = None
) -> tuple[list[int], list[np.float32]]:
    """(output shape, per-axis float32 scale used by the coordinate transform).

    With sizes the scale is out/in; with scales the output is floor(in * scale)
    and the coordinate transform uses the given scale, not out/in."""
    if (scales is None) == (sizes is None):
        raise ValueError("Resize: give exactly one of scales and sizes")
    if sizes is not None:
        out = [int(in_shape[i]) if int(s) == -1 else int(s) for i, s in enumerate(sizes)]
        return out, [_f(o) / _f(i) for o, i in zip(out, in_shape)]
    sc = [_f(s) for s in scales]
    return [int(np.floor(np.float64(s) * i)) for s, i in zip(sc, in_shape)], sc


def source_coordinate(
    out_index: np.ndarray, scale: np.float32, in_size: int, out_size: int, mode: str
) -> np.ndarray:
    x = out_index.astype(np.float32)
    half = _f(0.5)
    if mode == "half_pixel":
        return (x + half) / scale - half
    if mode == "pytorch_half_pixel":
        return (x + half) / scale - half if out_size > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nearest":
        return (x + half) / scale
    if mode == "align_corners":
        if out_size == 1:
            return np.zeros_like(x)
        return x * _f(in_size - 1) / _f(out_size - 1)
    raise ValueError(f"coordinate_transformation_mode: expected one of {COORDINATE_MODES}, found {mode!r}")


def nearest_index(x: np.ndarray, mode: str, in_size: int) -> np.ndarray:
    x = x.astype(np.float64)  # exact widening: the float32 value is what gets rounded
    frac = x - np.floor(x)
    if mode == "round_prefer_floor":
        idx = np.where(frac == 0.5, np.floor(x), np.floor(x + 0.5))
    elif mode == "round_prefer_ceil":
        idx = np.where(frac == 0.5, np.ceil(x), np.floor(x + 0.5))
    elif mode == "floor":
        idx = np.floor(x)
    elif mode == "ceil":
        idx = np.ceil(x)
    else:
        raise ValueError(f"nearest_mode: expected one of {NEAREST_MODES}, found {mode!r}")
    return np.clip(idx, 0, in_size - 1).astype(np.int64)


def resize(
    x: np.ndarray,
    scales: Sequence[float] | None = None,
    sizes: Sequence[int] | None = None,
    *,
    mode: str = "nearest",
    coordinate_transformation_mode: str = "half_pixel",
    nearest_mode: str = "round_prefer_floor",
) -> np.ndarray:
    """ONNX Resize (no roi, no antialias). Linear clamps the source coordinate to
    [0, in-1], which equals the spec's edge-replicated neighbours."""
    mode = _str(mode)
    ctm = _str(coordinate_transformation_mode)
    nearest_mode = _str(nearest_mode)
    y = as_f64(x)
    out_shape, used_scales = resize_output_shape(y.shape, scales, sizes)
    for axis, (in_size, out_size, scale) in enumerate(zip(y.shape, out_shape, used_scales)):
        if in_size == out_size and scale == 1:
            continue  # every coordinate mode maps i to i here
        src = source_coordinate(np.arange(out_size), scale, in_size, out_size, ctm)
        if mode == "nearest":
            y = np.take(y, nearest_index(src, nearest_mode, in_size), axis=axis)
        elif mode == "linear":
            src = np.clip(src.astype(np.float64), 0, in_size - 1)
            i0 = np.floor(src).astype(np.int64)
            i1 = np.minimum(i0 + 1, in_size - 1)
            w1 = src - i0
            shape = [1] * y.ndim
            shape[axis] = out_size
            w1 = w1.reshape(shape)
            y = np.take(y, i0, axis=axis) * (1 - w1) + np.take(y, i1, axis=axis) * w1
        else:
            raise ValueError(f"Resize mode: expected nearest or linear, found {mode!r}")
    return out_f32(y)
