"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (N-dimensional)."""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from ._common import as_f64, out_f32, resolve_pads, spatial_attr


def pool_output_size(size: int, k: int, s: int, d: int, begin: int, end: int, ceil_mode: int) -> int:
    """Output length of a pooling window sweep.

    With ceil_mode a last, partial window is kept, but (as in PyTorch and ONNX
    Runtime) never one that would start entirely inside the end padding.
    """
    span = (size + begin + end - ((k - 1) * d + 1)) / s
    out = (math.ceil(span) if ceil_mode else math.floor(span)) + 1
    if ceil_mode and (out - 1) * s >= size + begin:
        out -= 1
    return out


def _pool(
    x: np.ndarray,
    kernel_shape: Sequence[int],
    strides: Sequence[int] | None,
    pads: Sequence[int] | None,
    dilations: Sequence[int] | None,
    ceil_mode: int,
    auto_pad: str | int | bytes | None,
    kind: str,
    count_include_pad: int = 0,
    p: int = 2,
) -> np.ndarray:
    x = as_f64(x)
    rank = x.ndim - 2
    kernel = spatial_attr(kernel_shape, rank, 0, "kernel_shape")
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    in_spatial = list(x.shape[2:])
    begins, ends = resolve_pads(in_spatial, kernel, strides, dilations, pads, auto_pad)
    out_spatial = [
        pool_output_size(in_spatial[i], kernel[i], strides[i], dilations[i], begins[i], ends[i], ceil_mode)
        for i in range(rank)
    ]
    # Enough room for the ceil_mode overhang: pixels past the explicit end
    # padding, which exist only because of ceil_mode, never count as elements.
    extra = [
        max(0, (out_spatial[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - (in_spatial[i] + begins[i] + ends[i]))
        for i in range(rank)
    ]
    pad_width = [(0, 0), (0, 0)] + [(begins[i], ends[i] + extra[i]) for i in range(rank)]
    is_input = np.pad(np.ones(in_spatial), pad_width[2:])  # 1 on real pixels
    # 1 on real pixels and on explicit (or auto) padding, 0 on the ceil_mode overhang.
    is_padded_area = np.pad(np.ones([in_spatial[i] + begins[i] + ends[i] for i in range(rank)]), [(0, e) for e in extra])

    if kind == "lp":
        x = np.abs(x) ** p
    if kind == "max":
        xp = np.pad(x, pad_width, constant_values=-np.inf)
        acc = np.full(list(x.shape[:2]) + out_spatial, -np.inf)
    else:
        xp = np.pad(x, pad_width)
        acc = np.zeros(list(x.shape[:2]) + out_spatial)
    count = np.zeros(out_spatial)
    for kpos in itertools.product(*[range(k) for k in kernel]):
        window = tuple(
            slice(kpos[i] * dilations[i], kpos[i] * dilations[i] + (out_spatial[i] - 1) * strides[i] + 1, strides[i])
            for i in range(rank)
        )
        if kind == "max":
            acc = np.maximum(acc, xp[(slice(None), slice(None)) + window])
        else:
            acc += xp[(slice(None), slice(None)) + window]
            count += (is_padded_area if count_include_pad else is_input)[window]
    if kind == "avg":
        acc = acc / count
    if kind == "lp":
        acc = acc ** (1.0 / p)
    return out_f32(acc)


def max_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    ceil_mode: int = 0,
    auto_pad: str | int | bytes | None = "NOTSET",
    storage_order: int = 0,
) -> np.ndarray:
    """ONNX MaxPool (first output only; padding never wins the max)."""
    return _pool(x, kernel_shape, strides, pads, dilations, ceil_mode, auto_pad, "max")


def average_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    ceil_mode: int = 0,
    count_include_pad: int = 0,
    auto_pad: str | int | bytes | None = "NOTSET",
) -> np.ndarray:
    """ONNX AveragePool. The divisor counts real pixels, plus explicit/auto
    padding when count_include_pad=1; the ceil_mode overhang never counts."""
    return _pool(x, kernel_shape, strides, pads, dilations, ceil_mode, auto_pad, "avg", count_include_pad)


def lp_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    p: int = 2,
    strides: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    ceil_mode: int = 0,
    auto_pad: str | int | bytes | None = "NOTSET",
) -> np.ndarray:
    """ONNX LpPool: (sum of |x|^p over the window)^(1/p); padding adds nothing."""
    return _pool(x, kernel_shape, strides, pads, dilations, ceil_mode, auto_pad, "lp", p=p)


def global_average_pool(x: np.ndarray) -> np.ndarray:
    x = as_f64(x)
    return out_f32(x.mean(axis=tuple(range(2, x.ndim)), keepdims=True))


def global_max_pool(x: np.ndarray) -> np.ndarray:
    x = as_f64(x)
    return out_f32(x.max(axis=tuple(range(2, x.ndim)), keepdims=True))
