"""Gemm and MatMul."""
from __future__ import annotations

import numpy as np

from ._common import as_f64, out_f32


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: int = 0,
    trans_b: int = 0,
) -> np.ndarray:
    """ONNX Gemm: alpha * A' B' + beta * C, C broadcast to [M, N]."""
    a, b = as_f64(a), as_f64(b)
    if trans_a:
        a = a.T
    if trans_b:
        b = b.T
    y = alpha * (a @ b)
    if c is not None:
        y = y + beta * as_f64(c)
    return out_f32(y)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ONNX MatMul = numpy.matmul (1-D operands promoted, batch dims broadcast)."""
    return out_f32(np.matmul(as_f64(a), as_f64(b)))
