"""BatchNormalization (inference form), LRN, Instance/Group/LayerNormalization."""
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


def group_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray, num_groups: int, epsilon: float = 1e-5) -> np.ndarray:
    """Statistics per (image, group of channels); scale and bias per channel (GroupNormalization-21)."""
    x = as_f64(x)
    n, c = x.shape[:2]
    g = as_f64(x).reshape(n, num_groups, -1)
    mean = g.mean(axis=2, keepdims=True)
    var = ((g - mean) ** 2).mean(axis=2, keepdims=True)
    y = ((g - mean) / np.sqrt(var + epsilon)).reshape(x.shape)
    shape = [1, c] + [1] * (x.ndim - 2)
    return out_f32(y * as_f64(scale).reshape(shape) + as_f64(bias).reshape(shape))


def instance_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray, epsilon: float = 1e-5) -> np.ndarray:
    return group_norm(x, scale, bias, x.shape[1], epsilon)


def layer_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray | None = None, axis: int = -1,
               epsilon: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y, Mean, InvStdDev) over the dims from axis on; scale and bias broadcast to them."""
    x = as_f64(x)
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + epsilon)
    y = (x - mean) * inv_std * as_f64(scale)
    if bias is not None:
        y = y + as_f64(bias)
    return out_f32(y), out_f32(mean), out_f32(inv_std)
