"""Activations, unary math and broadcasting binary ops.

The activation functions also serve as the oracle for fused conv/gemm epilogues:
`activation(code_or_name, x, alpha, beta)` follows the activation table of
docs/ops.md, codes included.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._common import as_f64, out_f32

_erf64 = np.vectorize(math.erf, otypes=[np.float64])


def _erf(x: np.ndarray) -> np.ndarray:
    return _erf64(x) if x.size else x.copy()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Written with exp(-|x|) so that neither branch overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(x: np.ndarray) -> np.ndarray:
    return out_f32(np.maximum(as_f64(x), 0.0))


def leaky_relu(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    x = as_f64(x)
    return out_f32(np.where(x >= 0, x, alpha * x))


def clip(x: np.ndarray, min: float = -np.inf, max: float = np.inf) -> np.ndarray:  # noqa: A002 (ONNX names)
    return out_f32(np.minimum(np.maximum(as_f64(x), min), max))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return out_f32(_sigmoid(as_f64(x)))


def tanh(x: np.ndarray) -> np.ndarray:
    return out_f32(np.tanh(as_f64(x)))


def hard_sigmoid(x: np.ndarray, alpha: float = 0.2, beta: float = 0.5) -> np.ndarray:
    return out_f32(np.clip(alpha * as_f64(x) + beta, 0.0, 1.0))


def hard_swish(x: np.ndarray) -> np.ndarray:
    x = as_f64(x)
    return out_f32(x * np.clip(x / 6.0 + 0.5, 0.0, 1.0))


def silu(x: np.ndarray) -> np.ndarray:
    x = as_f64(x)
    return out_f32(x * _sigmoid(x))


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    x = as_f64(x)
    if isinstance(approximate, bytes):
        approximate = approximate.decode()
    if approximate == "none":
        return out_f32(0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))))
    if approximate == "tanh":
        return out_f32(0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))))
    raise ValueError(f"Gelu approximate: expected 'none' or 'tanh', found {approximate!r}")


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return gelu(x, "tanh")


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    x = as_f64(x)
    return out_f32(np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))))


def softplus(x: np.ndarray) -> np.ndarray:
    # logaddexp(0, x) = log(1 + exp(x)) without overflow for large x.
    return out_f32(np.logaddexp(0.0, as_f64(x)))


def exp(x: np.ndarray) -> np.ndarray:
    return out_f32(np.exp(as_f64(x)))


def log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return out_f32(np.log(as_f64(x)))


def sqrt(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return out_f32(np.sqrt(as_f64(x)))


def abs(x: np.ndarray) -> np.ndarray:  # noqa: A001 (ONNX name)
    return out_f32(np.abs(as_f64(x)))


def neg(x: np.ndarray) -> np.ndarray:
    return out_f32(-as_f64(x))


def erf(x: np.ndarray) -> np.ndarray:
    return out_f32(_erf(as_f64(x)))


def reciprocal(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return out_f32(1.0 / as_f64(x))


def floor(x: np.ndarray) -> np.ndarray:
    return out_f32(np.floor(as_f64(x)))


def selu(x: np.ndarray, alpha: float = 1.67326319217681884765625, gamma: float = 1.05070102214813232421875) -> np.ndarray:
    x = as_f64(x)
    return out_f32(np.where(x > 0, gamma * x, gamma * alpha * np.expm1(np.minimum(x, 0))))


def celu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    x = as_f64(x)
    return out_f32(np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha)))


def thresholded_relu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    x = as_f64(x)
    return out_f32(np.where(x > alpha, x, 0.0))


def softsign(x: np.ndarray) -> np.ndarray:
    x = as_f64(x)
    return out_f32(x / (1 + np.abs(x)))


def mish(x: np.ndarray) -> np.ndarray:
    x = as_f64(x)
    return out_f32(x * np.tanh(np.logaddexp(0, x)))


def sign(x: np.ndarray) -> np.ndarray:
    return out_f32(np.sign(as_f64(x)))


def round(x: np.ndarray) -> np.ndarray:  # noqa: A001 (ONNX name)
    """Half to even, as numpy rounds."""
    return out_f32(np.round(as_f64(x)))


def ceil(x: np.ndarray) -> np.ndarray:
    return out_f32(np.ceil(as_f64(x)))


# docs/ops.md activation table: code -> (name, function of (x, alpha, beta)).
ACTIVATIONS: dict[int, tuple[str, Callable[[np.ndarray, float | None, float | None], np.ndarray]]] = {
    0: ("none", lambda x, a, b: out_f32(x)),
    1: ("relu", lambda x, a, b: relu(x)),
    2: ("leaky_relu", lambda x, a, b: leaky_relu(x, 0.01 if a is None else a)),
    3: ("clip", lambda x, a, b: clip(x, -np.inf if a is None else a, np.inf if b is None else b)),
    4: ("sigmoid", lambda x, a, b: sigmoid(x)),
    5: ("tanh", lambda x, a, b: tanh(x)),
    6: ("hard_sigmoid", lambda x, a, b: hard_sigmoid(x, 0.2 if a is None else a, 0.5 if b is None else b)),
    7: ("hard_swish", lambda x, a, b: hard_swish(x)),
    8: ("silu", lambda x, a, b: silu(x)),
    9: ("gelu", lambda x, a, b: gelu(x, "none")),
    10: ("gelu_tanh", lambda x, a, b: gelu(x, "tanh")),
    11: ("elu", lambda x, a, b: elu(x, 1.0 if a is None else a)),
    12: ("softplus", lambda x, a, b: softplus(x)),
}
ACTIVATION_CODES: dict[str, int] = {name: code for code, (name, _) in ACTIVATIONS.items()}


def activation(kind: int | str, x: np.ndarray, alpha: float | None = None, beta: float | None = None) -> np.ndarray:
    """Apply a fused-epilogue activation by cnnrt code or name (alpha/beta = act_alpha/act_beta)."""
    code = ACTIVATION_CODES[kind] if isinstance(kind, str) else int(kind)
    return ACTIVATIONS[code][1](np.asarray(x), alpha, beta)


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def op(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return out_f32(fn(as_f64(a), as_f64(b)))

    return op


add = _binary(np.add)
sub = _binary(np.subtract)
mul = _binary(np.multiply)
div = _binary(np.divide)
pow = _binary(np.power)  # noqa: A001 (ONNX name)
max = _binary(np.maximum)  # noqa: A001 (ONNX name); NaN propagates as in ONNX Max
min = _binary(np.minimum)  # noqa: A001
