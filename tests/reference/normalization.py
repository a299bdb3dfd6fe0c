"""BatchNormalization (inference form) and LRN."""
from __future__ import annotations

import math

import numpy as np

from ._common import as_f64, out_f32


def batch_norm(
    x: np.ndarray,
    scale: np.ndarray,
    bias: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    epsilon: float = 1e-5,
) -> np.ndarray:
    """(x - mean) / sqrt(var + epsilon) * scale + bias, per channel (axis 1)."""
    x = as_f64(x)
    shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
    s, b, m, v = (as_f64(t).reshape(shape) for t in (scale, bias, mean, var))
    return out_f32((x - m) / np.sqrt(v + epsilon) * s + b)


def lrn(x: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0) -> np.ndarray:
    """ONNX LRN across channels: the window is floor((size-1)/2) channels before
    and ceil((size-1)/2) after, clipped to the tensor; alpha is divided by size."""
    x = as_f64(x)
    channels = x.shape[1]
    before, after = (size - 1) // 2, math.ceil((size - 1) / 2)
    square_sum = np.zeros_like(x)
    for c in range(channels):
        lo, hi = max(0, c - before), min(channels - 1, c + after)
        square_sum[:, c] = (x[:, lo : hi + 1] ** 2).sum(axis=1)
    return out_f32(x / (bias + alpha / size * square_sum) ** beta)
