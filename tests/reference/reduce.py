"""Softmax, LogSoftmax, ReduceMean/Sum/Max/Min."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import as_f64, out_f32


def _softmax_axis(x: np.ndarray, axis: int, coerce_2d: int) -> tuple[np.ndarray, tuple[int, ...], int]:
    """Opset < 13 (coerce_2d=1) flattens to [prod(d<axis), prod(d>=axis)] and
    normalises over the second dim; opset >= 13 normalises over `axis` alone."""
    axis = axis % x.ndim
    if coerce_2d:
        shape = x.shape
        return x.reshape(int(np.prod(shape[:axis])), -1), shape, 1
    return x, x.shape, axis


def softmax(x: np.ndarray, axis: int = -1, coerce_2d: int = 0) -> np.ndarray:
    x, shape, ax = _softmax_axis(as_f64(x), axis, coerce_2d)
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    return out_f32((e / e.sum(axis=ax, keepdims=True)).reshape(shape))


def log_softmax(x: np.ndarray, axis: int = -1, coerce_2d: int = 0) -> np.ndarray:
    x, shape, ax = _softmax_axis(as_f64(x), axis, coerce_2d)
    shifted = x - x.max(axis=ax, keepdims=True)
    return out_f32((shifted - np.log(np.exp(shifted).sum(axis=ax, keepdims=True))).reshape(shape))


def _reduce(fn, x: np.ndarray, axes: Sequence[int] | None, keepdims: int) -> np.ndarray:
    x = as_f64(x)
    ax = tuple(range(x.ndim)) if axes is None or len(axes) == 0 else tuple(a % x.ndim for a in axes)
    return out_f32(fn(x, axis=ax, keepdims=bool(keepdims)))


def reduce_mean(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(np.mean, x, axes, keepdims)


def reduce_sum(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(np.sum, x, axes, keepdims)


def reduce_max(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(np.max, x, axes, keepdims)


def reduce_min(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(np.min, x, axes, keepdims)


def reduce_prod(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(np.prod, x, axes, keepdims)


def reduce_l1(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(lambda v, **kw: np.abs(v).sum(**kw), x, axes, keepdims)


def reduce_l2(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(lambda v, **kw: np.sqrt((v * v).sum(**kw)), x, axes, keepdims)


def reduce_sum_square(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(lambda v, **kw: (v * v).sum(**kw), x, axes, keepdims)


def reduce_log_sum(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    return _reduce(lambda v, **kw: np.log(v.sum(**kw)), x, axes, keepdims)


def reduce_log_sum_exp(x: np.ndarray, axes: Sequence[int] | None = None, keepdims: int = 1) -> np.ndarray:
    def fn(v, axis, keepdims):
        m = np.max(v, axis=axis, keepdims=True)
        r = m + np.log(np.exp(v - m).sum(axis=axis, keepdims=True))
        return r if keepdims else np.squeeze(r, axis=axis)

    return _reduce(fn, x, axes, keepdims)


def top_k(x: np.ndarray, k: int, axis: int = -1, largest: int = 1, sorted: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """ONNX TopK: (values, int64 indices) of the k largest (smallest) along axis, in sorted order.
    Equal values keep index order (the lower index first, as ONNX asks); NaN counts as the
    largest value (as PyTorch's topk). sorted=0 leaves the order open; this gives sorted order."""
    x = np.asarray(x, np.float32)
    moved = np.moveaxis(x, axis, -1)
    nan = np.isnan(moved)
    value_key = np.where(nan, 0.0, moved.astype(np.float64))
    # lexsort: the last key is primary; both sorts are stable, so ties stay in index order.
    keys = (-value_key, ~nan) if largest else (value_key, nan)
    order = np.lexsort(keys, axis=-1)[..., :k].astype(np.int64)
    values = np.take_along_axis(moved, order, axis=-1)
    return np.moveaxis(values, -1, axis).astype(np.float32), np.moveaxis(order, -1, axis)
