"""NumPy reference implementations of every cnnrt op (docs/ops.md).

These are the oracle for op tests: plain, slow, obviously correct NumPy. They
take inputs and attributes in ONNX form (attribute names as keyword arguments,
lower-case, e.g. ``conv(x, w, b, strides=[2, 2], pads=[1, 1, 1, 1], group=2)``),
compute in float64 and return float32. Each one is checked against ONNX Runtime
in tests/test_reference.py; where ONNX Runtime departs from the ONNX spec, the
reference follows the spec and that test says so.
"""
from __future__ import annotations

from .conv import conv, conv_transpose, conv_transpose_pads
from .elementwise import (
    ACTIVATION_CODES,
    ACTIVATIONS,
    abs,
    activation,
    add,
    ceil,
    celu,
    clip,
    div,
    elu,
    erf,
    exp,
    floor,
    gelu,
    gelu_tanh,
    hard_sigmoid,
    hard_swish,
    leaky_relu,
    log,
    max,
    min,
    mish,
    mul,
    neg,
    pow,
    reciprocal,
    relu,
    round,
    selu,
    sigmoid,
    sign,
    silu,
    softplus,
    softsign,
    sqrt,
    sub,
    tanh,
    thresholded_relu,
)
from .linalg import gemm, matmul
from .normalization import batch_norm, group_norm, instance_norm, layer_norm, lrn
from .pool import average_pool, global_average_pool, global_max_pool, lp_pool, max_pool, pool_output_size
from .reduce import (
    log_softmax,
    reduce_l1,
    reduce_l2,
    reduce_log_sum,
    reduce_log_sum_exp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    reduce_sum_square,
    softmax,
    top_k,
)
from .resize import resize
from .tensor import (
    concat,
    depth_to_space,
    expand,
    flatten,
    pad,
    reshape,
    slice,
    space_to_depth,
    split,
    tile,
    transpose,
)

# docs/ops.md op code -> reference function, for tests that walk the op table.
OPS_BY_CODE = {
    1: conv, 2: conv_transpose, 3: max_pool, 4: average_pool, 5: global_average_pool, 6: global_max_pool,
    7: gemm, 8: matmul, 9: lp_pool,
    20: relu, 21: leaky_relu, 22: clip, 23: sigmoid, 24: tanh, 25: hard_sigmoid, 26: hard_swish, 27: silu,
    28: gelu, 29: elu, 30: softplus, 31: exp, 32: log, 33: sqrt, 34: abs, 35: neg, 36: erf, 37: reciprocal,
    38: floor, 39: ceil, 40: selu, 41: celu, 42: thresholded_relu, 43: softsign, 44: mish, 45: sign, 46: round,
    50: add, 51: sub, 52: mul, 53: div, 54: pow, 55: max, 56: min,
    70: concat, 71: split, 72: slice, 73: flatten, 74: reshape, 75: transpose, 76: pad, 77: resize,
    78: depth_to_space, 79: space_to_depth, 80: expand, 81: tile, 82: top_k, 88: reduce_log_sum, 89: reduce_log_sum_exp,
    90: softmax, 91: log_softmax, 92: reduce_mean, 93: reduce_sum, 94: reduce_max, 95: reduce_min,
    96: reduce_prod, 97: reduce_l1, 98: reduce_l2, 99: reduce_sum_square,
    100: batch_norm, 101: lrn, 102: instance_norm, 103: layer_norm, 104: group_norm,
}  # fmt: skip

__all__ = [name for name in dir() if not name.startswith("_")]
