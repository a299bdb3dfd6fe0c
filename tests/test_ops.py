"""Every op of docs/ops.md through the whole cnnrt path.

Each case builds a one-node (or small) ONNX model with tests/onnx_builders.py,
converts it with cnnrt.convert, loads it with cnnrt.load, runs it, and compares
the output with BOTH the NumPy reference (tests/reference) and ONNX Runtime.

Tolerance (docs/ops.md, Numerics): max|cnnrt - expected| <= 1e-4 * max(1, max|expected|),
widened by sqrt(K/64) for reductions of length K > 64 (convolutions, GEMMs,
reductions); data-movement ops (and max/min, relu, abs, neg, floor, ceil, clip)
must match exactly. Convolutions, GEMMs and pools are also run with threads=1
and threads=3, which must give bit-identical outputs.

Where ONNX Runtime departs from the ONNX spec (tests/test_reference.py has a
test for each), the case is compared with the reference only, or ORT is given
the spec's explicit padding; each such place says so.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
import onnx.helper as oh
import pytest

import cnnrt
import cnnrt.converters.errors
from cnnrt.converters.cnnrt_file import read_model
import reference as R
from onnx_builders import make_model, make_node_model, run_ort
from reference._common import resolve_pads
from reference.conv import conv_transpose_pads

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
RTOL = 1e-4
CHANNELS = [1, 3, 17, 64]


# --------------------------------------------------------------------------- harness


def randn(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return np.asarray(scale * rng.standard_normal(shape), dtype=np.float32)


def bound_for(expected: np.ndarray, k: int = 1) -> float:
    finite = expected[np.isfinite(expected)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    return RTOL * scale * max(1.0, math.sqrt(k / 64))


def assert_matches(got: np.ndarray, expected: np.ndarray, what: str, exact: bool = False, k: int = 1) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: cnnrt shape {got.shape}, expected {expected.shape}"
    assert got.dtype == np.float32, f"{what}: cnnrt dtype {got.dtype}"
    if exact:
        np.testing.assert_array_equal(got, expected, err_msg=what)
        return
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=f"{what}: non-finite positions")
    np.testing.assert_array_equal(got[~finite], expected[~finite], err_msg=f"{what}: non-finite values")
    if not finite.any():
        return
    err = float(np.abs(got[finite].astype(np.float64) - expected[finite].astype(np.float64)).max())
    bound = bound_for(expected, k)
    assert err <= bound, f"{what}: max|cnnrt - expected| = {err:.3g} > {bound:.3g} (K={k})"


def run_cnnrt(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], path, threads: int = 1) -> tuple[list[np.ndarray], cnnrt.Model]:
    cnnrt.convert(model, str(path))
    loaded = cnnrt.load(str(path), threads=threads)
    out = loaded.run(dict(feeds))
    return [out[o.name] for o in model.graph.output], loaded


def check(
    tmp_path,
    model: onnx.ModelProto,
    feeds: Mapping[str, np.ndarray],
    refs: Sequence[np.ndarray],
    what: str,
    *,
    exact: bool = False,
    k: int = 1,
    ort: bool = True,
    ort_model: onnx.ModelProto | None = None,
    threads_check: bool = False,
) -> cnnrt.Model:
    """Converts, loads and runs `model`; compares every output with the
    reference and (unless ort=False) with ONNX Runtime on `ort_model` (default
    the same model)."""
    path = tmp_path / "model.cnnrt"
    got, loaded = run_cnnrt(model, feeds, path)
    assert len(got) == len(refs)
    for i, (g, r) in enumerate(zip(got, refs)):
        assert_matches(g, r, f"{what} [out {i}] vs reference", exact, k)
    if ort:
        ort_out = run_ort(ort_model or model, feeds)
        for i, (g, o) in enumerate(zip(got, ort_out)):
            assert_matches(g, o, f"{what} [out {i}] vs ONNX Runtime", exact, k)
    if threads_check:
        out3 = cnnrt.load(str(path), threads=3).run(dict(feeds))
        for i, (g, o) in enumerate(zip(got, model.graph.output)):
            np.testing.assert_array_equal(out3[o.name], g, err_msg=f"{what}: threads=3 differs from threads=1")
    return loaded


def node_model(op: str, inputs: dict, attrs: dict | None = None, **kw: Any) -> tuple[onnx.ModelProto, dict]:
    """make_node_model plus the feeds (the array inputs)."""
    model = make_node_model(op, inputs, attrs, **kw)
    return model, {k: v for k, v in inputs.items() if isinstance(v, np.ndarray)}


def fmt(v: Sequence[int]) -> str:
    return "x".join(str(int(i)) for i in v)


# --------------------------------------------------------------------------- Conv


def _conv_case(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rank = int(rng.choice([1, 2, 2]))
    kind = str(rng.choice(["dense", "dense", "grouped", "depthwise", "depthwise_mult"]))
    if kind == "dense":
        group, c, m = 1, int(rng.choice(CHANNELS)), int(rng.choice(CHANNELS))
    elif kind == "grouped":
        group = int(rng.choice([2, 3]))
        c, m = group * int(rng.integers(1, 5)), group * int(rng.integers(1, 5))
    elif kind == "depthwise":
        group = c = m = int(rng.choice([3, 17, 64]))
    else:
        group = c = int(rng.choice([3, 17]))
        m = c * int(rng.choice([2, 3]))
    kernel = [int(rng.choice([1, 2, 3, 3, 5, 7])) for _ in range(rank)]
    strides = [int(rng.integers(1, 4)) for _ in range(rank)]
    dilations = [int(rng.choice([1, 1, 2])) for _ in range(rank)]
    attrs: dict = {"strides": strides, "dilations": dilations, "group": group}
    auto_pad = str(rng.choice(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto_pad == "NOTSET":
        attrs["pads"] = [int(rng.integers(0, (k - 1) * d + 1)) for k, d in zip(kernel, dilations)] + \
                        [int(rng.integers(0, (k - 1) * d + 1)) for k, d in zip(kernel, dilations)]
    else:
        attrs["auto_pad"] = auto_pad
    spatial = [int(rng.integers((k - 1) * d + 1, 21)) for k, d in zip(kernel, dilations)]
    return {"seed": seed, "n": int(rng.integers(1, 3)), "c": c, "m": m, "spatial": spatial, "kernel": kernel,
            "attrs": attrs, "bias": bool(rng.random() < 0.7), "kind": kind}


def _conv_id(case: dict) -> str:
    a = case["attrs"]
    pad = a.get("auto_pad") or "p" + fmt(a["pads"])
    return (f"{case.get('name', 'seed%d' % case.get('seed', 0))}-{len(case['kernel'])}d-{case['kind']}-c{case['c']}m{case['m']}"
            f"-k{fmt(case['kernel'])}-s{fmt(a['strides'])}-d{fmt(a['dilations'])}-{pad}")


def _named_conv(name: str, kind: str, c: int, m: int, group: int, spatial, kernel, strides, pads, dilations=None, bias=True, auto_pad=None) -> dict:
    rank = len(kernel)
    attrs = {"strides": strides, "dilations": dilations or [1] * rank, "group": group}
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    else:
        attrs["pads"] = pads
    return {"name": name, "n": 1, "c": c, "m": m, "spatial": spatial, "kernel": kernel, "attrs": attrs, "bias": bias, "kind": kind}


CONV_CASES = [_conv_case(s) for s in range(40)] + [
    # The kernel families of DESIGN.md: 1x1 straight to GEMM, Winograd 3x3 s1,
    # direct depthwise 3x3/5x5/7x7 at strides 1 and 2, depthwise multiplier.
    _named_conv("pointwise", "dense", 64, 17, 1, [9, 11], [1, 1], [1, 1], [0, 0, 0, 0]),
    _named_conv("pointwise_s2_pad", "dense", 17, 3, 1, [9, 10], [1, 1], [2, 2], [1, 0, 0, 1]),
    _named_conv("winograd", "dense", 64, 64, 1, [12, 13], [3, 3], [1, 1], [1, 1, 1, 1]),
    _named_conv("winograd_odd", "dense", 17, 3, 1, [7, 20], [3, 3], [1, 1], [0, 1, 2, 0]),
    _named_conv("dw3s1", "depthwise", 17, 17, 17, [11, 13], [3, 3], [1, 1], [1, 1, 1, 1]),
    _named_conv("dw3s2", "depthwise", 64, 64, 64, [12, 13], [3, 3], [2, 2], [1, 0, 1, 1]),
    _named_conv("dw5s1", "depthwise", 17, 17, 17, [10, 9], [5, 5], [1, 1], [2, 2, 2, 2]),
    _named_conv("dw5s2", "depthwise", 3, 3, 3, [15, 16], [5, 5], [2, 2], [2, 1, 2, 1]),
    _named_conv("dw7s1", "depthwise", 3, 3, 3, [14, 14], [7, 7], [1, 1], [3, 3, 3, 3]),
    _named_conv("dw7s2", "depthwise", 17, 17, 17, [20, 19], [7, 7], [2, 2], [3, 3, 2, 2]),
    _named_conv("dw3_mult2", "depthwise_mult", 3, 6, 3, [9, 9], [3, 3], [1, 1], [1, 1, 1, 1]),
    _named_conv("dw3_same_dil", "depthwise", 17, 17, 17, [10, 11], [3, 3], [1, 1], None, [2, 2], auto_pad="SAME_UPPER"),
    _named_conv("conv1d_same_lower", "dense", 3, 17, 1, [19], [4], [2], None, auto_pad="SAME_LOWER"),
    _named_conv("nobias_s3", "dense", 3, 64, 1, [20, 20], [3, 3], [3, 3], [0, 0, 0, 0], bias=False),
    # 1x1 convolutions of 1x1 planes (squeeze-and-excitation FCs): matrix-vector kernel.
    _named_conv("pointwise_1x1_plane", "dense", 255, 17, 1, [1, 1], [1, 1], [1, 1], [0, 0, 0, 0]),
    _named_conv("pointwise_1x1_plane_wide", "dense", 17, 131, 1, [1, 1], [1, 1], [1, 1], [0, 0, 0, 0], bias=False),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=_conv_id(c)) for c in CONV_CASES])
def test_conv(tmp_path, case: dict) -> None:
    rng = np.random.default_rng(case.get("seed", 99) + 10_000)
    attrs = case["attrs"]
    group, c, m, kernel = attrs["group"], case["c"], case["m"], case["kernel"]
    x = randn(rng, case["n"], c, *case["spatial"])
    inits = {"W": randn(rng, m, c // group, *kernel, scale=1 / math.sqrt(c // group * np.prod(kernel)))}
    if case["bias"]:
        inits["B"] = randn(rng, m)
    model, feeds = node_model("Conv", {"X": x}, attrs, initializers=inits)
    ref = R.conv(x, *inits.values(), **attrs)
    ort_model = None
    if attrs.get("auto_pad", "").startswith("SAME") and max(attrs["dilations"]) > 1:
        # ONNX Runtime refuses SAME_* with dilations (test_ort_refuses_conv_same_padding_with_dilations):
        # ORT gets the spec's explicit pads instead.
        begins, ends = resolve_pads(x.shape[2:], kernel, attrs["strides"], attrs["dilations"], None, attrs["auto_pad"])
        ort_attrs = {k: v for k, v in attrs.items() if k != "auto_pad"} | {"pads": begins + ends}
        ort_model = make_node_model("Conv", {"X": x}, ort_attrs, initializers=inits)
    check(tmp_path, model, feeds, [ref], f"Conv {attrs}", k=c // group * int(np.prod(kernel)),
          ort_model=ort_model, threads_check=True)


# --------------------------------------------------------------------------- ConvTranspose


def _conv_transpose_case(seed: int) -> dict:
    rng = np.random.default_rng(500 + seed)
    rank = int(rng.choice([1, 2, 2]))
    group = int(rng.choice([1, 1, 2, 3]))
    cg, mg = int(rng.choice([1, 2, 3, 17])), int(rng.choice([1, 2, 3]))
    if group > 1:
        cg = min(cg, 4)
    kernel = [int(rng.integers(1, 5)) for _ in range(rank)]
    strides = [int(rng.integers(1, 4)) for _ in range(rank)]
    dilations = [int(rng.choice([1, 1, 2])) for _ in range(rank)]
    attrs: dict = {"strides": strides, "dilations": dilations, "group": group}
    auto_pad = str(rng.choice(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    spatial = [int(rng.integers(1, 11)) for _ in range(rank)]
    if auto_pad == "NOTSET":
        attrs["pads"] = [int(rng.integers(0, k)) for k in kernel * 2]
        if rng.random() < 0.5:
            # ONNX Runtime wants output_padding < stride.
            attrs["output_padding"] = [int(rng.integers(0, s)) for s in strides]
        if rng.random() < 0.3:
            attrs.pop("pads")
            full = [s * (i - 1) + (k - 1) * d + 1 for s, i, k, d in zip(strides, spatial, kernel, dilations)]
            full = [f + p for f, p in zip(full, attrs.get("output_padding", [0] * rank))]
            attrs["output_shape"] = [f - int(rng.integers(0, min(f, 3))) for f in full]
    else:
        attrs["auto_pad"] = auto_pad
        if auto_pad != "VALID":
            # SAME with stride > kernel extent is undefined by the spec (ORT and
            # the reference disagree: test_ort_conv_transpose_same_when_stride_exceeds_kernel).
            strides[:] = [min(s, (k - 1) * d + 1) for s, k, d in zip(strides, kernel, dilations)]
    # The cropped output must not be empty.
    begins, ends = conv_transpose_pads(spatial, kernel, strides, dilations, attrs.get("output_padding", [0] * rank),
                                       attrs.get("pads"), attrs.get("auto_pad"), attrs.get("output_shape"))
    full = [s * (i - 1) + (k - 1) * d + 1 for s, i, k, d in zip(strides, spatial, kernel, dilations)]
    if any(f - b - e <= 0 for f, b, e in zip(full, begins, ends)) and "pads" in attrs:
        attrs["pads"] = [0] * (2 * rank)
    return {"seed": seed, "n": int(rng.integers(1, 3)), "c": cg * group, "m": mg * group, "spatial": spatial,
            "kernel": kernel, "attrs": attrs, "bias": bool(rng.random() < 0.6)}


def _conv_transpose_id(case: dict) -> str:
    a = case["attrs"]
    extra = "".join(f"-{k}{fmt(a[k])}" for k in ("output_padding", "output_shape") if k in a)
    pad = a.get("auto_pad") or ("p" + fmt(a["pads"]) if "pads" in a else "")
    return (f"{case.get('name', 'seed%d' % case.get('seed', 0))}-{len(case['kernel'])}d-g{a['group']}-c{case['c']}m{case['m']}"
            f"-k{fmt(case['kernel'])}-s{fmt(a['strides'])}-d{fmt(a['dilations'])}-{pad}{extra}")


CONV_TRANSPOSE_CASES = [_conv_transpose_case(s) for s in range(24)] + [
    {"name": "upsample2x", "n": 1, "c": 17, "m": 3, "spatial": [7, 8], "kernel": [4, 4], "bias": True,
     "attrs": {"strides": [2, 2], "dilations": [1, 1], "group": 1, "pads": [1, 1, 1, 1]}},
    {"name": "depthwise", "n": 2, "c": 17, "m": 17, "spatial": [5, 6], "kernel": [3, 3], "bias": False,
     "attrs": {"strides": [2, 2], "dilations": [1, 1], "group": 17, "pads": [1, 0, 1, 0], "output_padding": [1, 0]}},
    {"name": "same_upper_odd", "n": 1, "c": 2, "m": 3, "spatial": [5], "kernel": [3], "bias": True,
     "attrs": {"strides": [2], "dilations": [1], "group": 1, "auto_pad": "SAME_UPPER", "output_shape": [9]}},
    {"name": "same_lower_odd", "n": 1, "c": 2, "m": 3, "spatial": [5], "kernel": [3], "bias": True,
     "attrs": {"strides": [2], "dilations": [1], "group": 1, "auto_pad": "SAME_LOWER", "output_shape": [11]}},
]


@pytest.mark.parametrize("case", [pytest.param(c, id=_conv_transpose_id(c)) for c in CONV_TRANSPOSE_CASES])
def test_conv_transpose(tmp_path, case: dict) -> None:
    rng = np.random.default_rng(case.get("seed", 77) + 20_000)
    attrs = case["attrs"]
    group, c, m, kernel = attrs["group"], case["c"], case["m"], case["kernel"]
    x = randn(rng, case["n"], c, *case["spatial"])
    inits = {"W": randn(rng, c, m // group, *kernel, scale=1 / math.sqrt(c // group * np.prod(kernel)))}
    if case["bias"]:
        inits["B"] = randn(rng, m)
    model, feeds = node_model("ConvTranspose", {"X": x}, attrs, initializers=inits)
    ref = R.conv_transpose(x, *inits.values(), **attrs)
    check(tmp_path, model, feeds, [ref], f"ConvTranspose {attrs}", k=c // group * int(np.prod(kernel)),
          threads_check=True)


# --------------------------------------------------------------------------- pools


def _pool_case(seed: int, op: str) -> dict:
    rng = np.random.default_rng((3000 if op == "MaxPool" else 4000) + seed)
    rank = int(rng.choice([1, 2, 2]))
    kernel = [int(rng.integers(1, 5)) for _ in range(rank)]
    strides = [int(rng.integers(1, 4)) for _ in range(rank)]
    dilations = [int(rng.choice([1, 1, 2])) if op == "MaxPool" else 1 for _ in range(rank)]
    attrs: dict = {"kernel_shape": kernel, "strides": strides, "ceil_mode": int(rng.integers(0, 2))}
    if op == "MaxPool":
        attrs["dilations"] = dilations
    else:
        attrs["count_include_pad"] = int(rng.integers(0, 2))
    auto_pad = str(rng.choice(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto_pad == "NOTSET":
        # ONNX Runtime refuses a pad as large as the kernel.
        attrs["pads"] = [int(rng.integers(0, k)) for k in kernel * 2]
    else:
        attrs["auto_pad"] = auto_pad
        attrs["ceil_mode"] = 0
    spatial = [int(rng.integers((k - 1) * d + 1, 21)) for k, d in zip(kernel, dilations)]
    return {"seed": seed, "op": op, "n": int(rng.integers(1, 3)), "c": int(rng.choice(CHANNELS[:3])),
            "spatial": spatial, "attrs": attrs}


def _pool_id(case: dict) -> str:
    a = case["attrs"]
    pad = a.get("auto_pad") or "p" + fmt(a["pads"])
    extra = f"-d{fmt(a['dilations'])}" if "dilations" in a else f"-cip{a['count_include_pad']}"
    return (f"{case['op']}-{case.get('name', 'seed%d' % case.get('seed', 0))}-{len(a['kernel_shape'])}d-c{case['c']}"
            f"-k{fmt(a['kernel_shape'])}-s{fmt(a['strides'])}{extra}-{pad}-ceil{a['ceil_mode']}")


POOL_CASES = [_pool_case(s, "MaxPool") for s in range(24)] + [_pool_case(s, "AveragePool") for s in range(24)] + [
    {"name": "ceil_drop_last", "op": "MaxPool", "n": 1, "c": 3, "spatial": [5, 5],
     "attrs": {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1, "dilations": [1, 1]}},
    {"name": "same_dilated", "op": "MaxPool", "n": 1, "c": 3, "spatial": [9, 12],
     "attrs": {"kernel_shape": [3, 3], "strides": [1, 2], "auto_pad": "SAME_UPPER", "ceil_mode": 0, "dilations": [2, 2]}},
    {"name": "ceil_divisor", "op": "AveragePool", "n": 1, "c": 17, "spatial": [6, 7],
     "attrs": {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 0], "ceil_mode": 1, "count_include_pad": 1}},
    {"name": "ceil_divisor_excl", "op": "AveragePool", "n": 1, "c": 17, "spatial": [6, 7],
     "attrs": {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 1, 1, 1], "ceil_mode": 1, "count_include_pad": 0}},
    {"name": "same_stride_above_kernel", "op": "AveragePool", "n": 1, "c": 3, "spatial": [11, 7],
     "attrs": {"kernel_shape": [1, 2], "strides": [3, 3], "auto_pad": "SAME_UPPER", "ceil_mode": 0, "count_include_pad": 1}},
]


@pytest.mark.parametrize("case", [pytest.param(c, id=_pool_id(c)) for c in POOL_CASES])
def test_pool(tmp_path, case: dict) -> None:
    rng = np.random.default_rng(case.get("seed", 55) + 30_000)
    op, attrs = case["op"], case["attrs"]
    x = randn(rng, case["n"], case["c"], *case["spatial"])
    model, feeds = node_model(op, {"X": x}, attrs)
    ref_fn = R.max_pool if op == "MaxPool" else R.average_pool
    ref = ref_fn(x, **attrs)
    ort_model = None
    if attrs.get("auto_pad", "").startswith("SAME") and (
        max(attrs.get("dilations", [1])) > 1 or any(s > k for s, k in zip(attrs["strides"], attrs["kernel_shape"]))
    ):
        # ONNX Runtime departs from the spec for SAME padding here: it sizes the
        # padding from the undilated kernel (test_ort_max_pool_same_padding_ignores_dilations)
        # and rejects stride > kernel, where (out-1)*stride + kernel - in goes
        # negative (test_ort_average_pool_same_padding_rejects_stride_above_kernel).
        # ORT gets the spec's explicit pads instead.
        begins, ends = resolve_pads(x.shape[2:], attrs["kernel_shape"], attrs["strides"], attrs.get("dilations", [1] * (x.ndim - 2)),
                                    None, attrs["auto_pad"])
        ort_model = make_node_model(op, {"X": x}, {k: v for k, v in attrs.items() if k != "auto_pad"} | {"pads": begins + ends})
    check(tmp_path, model, feeds, [ref], f"{op} {attrs}", exact=op == "MaxPool",
          k=int(np.prod(attrs["kernel_shape"])), ort_model=ort_model, threads_check=True)


@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(tmp_path, op: str, rank: int) -> None:
    rng = np.random.default_rng(rank)
    spatial = [20, 20][: rank - 2]
    x = randn(rng, 2, 17, *spatial)
    model, feeds = node_model(op, {"X": x})
    ref = R.global_average_pool(x) if op == "GlobalAveragePool" else R.global_max_pool(x)
    check(tmp_path, model, feeds, [ref], op, exact=op == "GlobalMaxPool", k=int(np.prod(spatial)), threads_check=True)


# --------------------------------------------------------------------------- Gemm / MatMul


def _gemm_case(seed: int) -> dict:
    rng = np.random.default_rng(6000 + seed)
    m, k, n = int(rng.integers(1, 40)), int(rng.choice([1, 3, 17, 64, 100])), int(rng.integers(1, 70))
    c_shape = [[m, n], [n], [1, n], [m, 1], [1, 1], [], None][seed % 7]
    return {"seed": seed, "m": m, "k": k, "n": n, "transA": int(rng.integers(0, 2)), "transB": int(rng.integers(0, 2)),
            "alpha": float(rng.choice([1.0, rng.uniform(0.1, 2)])), "beta": float(rng.choice([1.0, rng.uniform(0.1, 2)])),
            "c_shape": c_shape, "const_b": seed % 3 != 0, "const_c": seed % 4 != 1}


def _gemm_id(c: dict) -> str:
    cs = "noC" if c["c_shape"] is None else "C" + (fmt(c["c_shape"]) or "scalar") + ("" if c["const_c"] else "in")
    return (f"seed{c['seed']}-m{c['m']}k{c['k']}n{c['n']}-tA{c['transA']}tB{c['transB']}-{cs}"
            f"-B{'const' if c['const_b'] else 'input'}-a{c['alpha']:.2f}b{c['beta']:.2f}")


def _gemv_case(seed: int, k: int, n: int, trans_a: int, c_shape, beta: float = 1.0) -> dict:
    return {"seed": seed, "m": 1, "k": k, "n": n, "transA": trans_a, "transB": 1, "alpha": 1.0, "beta": beta,
            "c_shape": c_shape, "const_b": True, "const_c": True}


# One row with a constant transposed B (a classifier at batch 1): the
# matrix-vector kernel, with C as a per-column bias or absent; a broadcast
# scalar C or beta != 1 keeps the GEMM tile.
GEMV_CASES = [
    _gemv_case(100, 100, 70, 0, [70]),
    _gemv_case(101, 64, 9, 1, [1, 9]),
    _gemv_case(102, 3, 33, 0, None),
    _gemv_case(103, 300, 129, 0, [129]),
    _gemv_case(104, 100, 65, 0, [1, 1]),
    _gemv_case(105, 17, 65, 0, [65], beta=0.5),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=_gemm_id(c)) for c in [_gemm_case(s) for s in range(21)] + GEMV_CASES])
def test_gemm(tmp_path, case: dict) -> None:
    rng = np.random.default_rng(case["seed"] + 40_000)
    m, k, n = case["m"], case["k"], case["n"]
    a = randn(rng, *((k, m) if case["transA"] else (m, k)))
    b = randn(rng, *((n, k) if case["transB"] else (k, n)))
    inputs, inits = {"A": a}, {}
    (inits if case["const_b"] else inputs)["B"] = b
    c = None
    if case["c_shape"] is not None:
        c = randn(rng, *case["c_shape"])
        (inits if case["const_c"] else inputs)["C"] = c
    attrs = {"alpha": case["alpha"], "beta": case["beta"], "transA": case["transA"], "transB": case["transB"]}
    node_inputs = ["A", "B"] + (["C"] if c is not None else [])
    model, feeds = node_model("Gemm", inputs, attrs, initializers=inits, node_inputs=node_inputs)
    ref = R.gemm(a, b, c, alpha=case["alpha"], beta=case["beta"], trans_a=case["transA"], trans_b=case["transB"])
    loaded = check(tmp_path, model, feeds, [ref], f"Gemm {attrs} C={case['c_shape']}", k=k, threads_check=True)
    if case in GEMV_CASES:
        kernel = loaded.node_stats()[0]["kernel"]
        takes_gemv = case["beta"] == 1.0 and case["c_shape"] in (None, [n], [1, n])
        if "avx512" in kernel or "avx2" in kernel:  # the levels with a SIMD matrix-vector kernel
            assert ("gemv" in kernel) == takes_gemv, kernel


MATMUL_SHAPES = [
    ((5,), (5, 3)),
    ((4, 17), (17,)),
    ((7,), (7,)),
    ((4, 64), (64, 6)),
    ((2, 4, 5), (5, 6)),
    ((4, 5), (3, 5, 6)),
    ((2, 1, 4, 5), (3, 5, 6)),
    ((1, 3, 4, 5), (2, 1, 5, 2)),
    ((3, 17, 20), (3, 20, 9)),
    ((2, 3, 5), (5,)),
    ((5,), (2, 5, 4)),
]


@pytest.mark.parametrize("const_b", [False, True], ids=["Binput", "Bconst"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=lambda s: f"{fmt(s[0])}@{fmt(s[1])}")
def test_matmul(tmp_path, shapes, const_b: bool) -> None:
    rng = np.random.default_rng(len(shapes[0]) * 10 + len(shapes[1]) + shapes[0][-1])
    a, b = randn(rng, *shapes[0]), randn(rng, *shapes[1])
    inputs, inits = ({"A": a}, {"B": b}) if const_b else ({"A": a, "B": b}, {})
    model, feeds = node_model("MatMul", inputs, initializers=inits, node_inputs=["A", "B"])
    check(tmp_path, model, feeds, [R.matmul(a, b)], f"MatMul {shapes}", k=shapes[0][-1], threads_check=True)


# --------------------------------------------------------------------------- unary


def _normal(scale: float = 3.0) -> Callable:
    return lambda rng, shape: randn(rng, *shape, scale=scale)


def _positive(rng, shape):
    return np.asarray(rng.uniform(0.01, 20.0, shape), dtype=np.float32)


def _away_from_zero(rng, shape):
    return np.asarray(rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 10.0, shape), dtype=np.float32)


def _with_ties(rng, shape):
    x = 4 * rng.standard_normal(shape)
    flat = x.reshape(-1)
    flat[::3] = np.round(flat[::3] * 2) / 2  # exact integers and halves
    return x.astype(np.float32)


# name -> (ONNX op, reference, sampler, attributes, exact)
UNARY = {
    "Relu": ("Relu", R.relu, _normal(), {}, True),
    "LeakyRelu": ("LeakyRelu", R.leaky_relu, _normal(), {"alpha": 0.07}, False),
    "LeakyRelu_default": ("LeakyRelu", R.leaky_relu, _normal(), {}, False),
    "Sigmoid": ("Sigmoid", R.sigmoid, _normal(6.0), {}, False),
    "Tanh": ("Tanh", R.tanh, _normal(3.0), {}, False),
    "HardSigmoid": ("HardSigmoid", R.hard_sigmoid, _normal(), {"alpha": 0.3, "beta": 0.4}, False),
    "HardSigmoid_default": ("HardSigmoid", R.hard_sigmoid, _normal(), {}, False),
    "HardSwish": ("HardSwish", R.hard_swish, _normal(4.0), {}, False),
    "Elu": ("Elu", R.elu, _normal(), {"alpha": 0.5}, False),
    "Elu_default": ("Elu", R.elu, _normal(), {}, False),
    "Softplus": ("Softplus", R.softplus, _normal(8.0), {}, False),
    "Exp": ("Exp", R.exp, _normal(3.0), {}, False),
    "Log": ("Log", R.log, _positive, {}, False),
    "Sqrt": ("Sqrt", R.sqrt, _positive, {}, False),
    "Abs": ("Abs", R.abs, _normal(), {}, True),
    "Neg": ("Neg", R.neg, _normal(), {}, True),
    "Erf": ("Erf", R.erf, _normal(1.5), {}, False),
    "Reciprocal": ("Reciprocal", R.reciprocal, _away_from_zero, {}, False),
    "Floor": ("Floor", R.floor, _with_ties, {}, True),
    "Ceil": ("Ceil", R.ceil, _with_ties, {}, True),
    "Selu": ("Selu", R.selu, _normal(), {"alpha": 1.3, "gamma": 0.8}, False),
    "Selu_default": ("Selu", R.selu, _normal(), {}, False),
    "Celu": ("Celu", R.celu, _normal(), {"alpha": 0.7}, False),
    "ThresholdedRelu": ("ThresholdedRelu", R.thresholded_relu, _with_ties, {"alpha": 0.5}, True),
    "ThresholdedRelu_default": ("ThresholdedRelu", R.thresholded_relu, _with_ties, {}, True),
    "Softsign": ("Softsign", R.softsign, _normal(5.0), {}, False),
    "Sign": ("Sign", R.sign, _with_ties, {}, True),
    "Round": ("Round", R.round, _with_ties, {}, True),
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(tmp_path, name: str, seed: int) -> None:
    op, ref_fn, sample, attrs, exact = UNARY[name]
    rng = np.random.default_rng(seed + 50_000)
    shape = [(2, 17, 5, 6), (37,), (3, 64), (1, 3, 20)][seed * 2 + (len(name) % 2)]
    x = sample(rng, shape)
    model, feeds = node_model(op, {"X": x}, attrs)
    check(tmp_path, model, feeds, [ref_fn(x, **attrs)], f"{name} {attrs}", exact=exact)


def test_mish_opset18(tmp_path) -> None:
    x = randn(np.random.default_rng(18), 3, 17, 5, scale=6.0)
    model, feeds = node_model("Mish", {"X": x}, opset=18)
    check(tmp_path, model, feeds, [R.mish(x)], "Mish")


@pytest.mark.parametrize("approximate", [None, "none", "tanh"])
def test_gelu_opset20(tmp_path, approximate: str | None) -> None:
    x = randn(np.random.default_rng(0), 3, 17, 5, scale=3.0)
    model, feeds = node_model("Gelu", {"X": x}, {"approximate": approximate}, opset=20)
    check(tmp_path, model, feeds, [R.gelu(x, approximate or "none")], f"Gelu {approximate}")


CLIP_BOUNDS = [(0.0, 6.0), (-1.0, None), (None, 0.5), (None, None), (-2.5, -2.5)]


@pytest.mark.parametrize("bounds", CLIP_BOUNDS, ids=str)
@pytest.mark.parametrize("opset", [6, 11, 13, 17])
def test_clip(tmp_path, opset: int, bounds) -> None:
    lo, hi = bounds
    x = randn(np.random.default_rng(2), 4, 17, scale=4.0)
    if opset < 11:
        model, feeds = node_model("Clip", {"X": x}, {"min": lo, "max": hi}, opset=opset)
    else:
        inits = {}
        if lo is not None:
            inits["min"] = np.array(lo, np.float32)
        if hi is not None:
            inits["max"] = np.array(hi, np.float32)
        node_inputs = ["X", "min" if lo is not None else "", "max" if hi is not None else ""]
        model, feeds = node_model("Clip", {"X": x}, initializers=inits, node_inputs=node_inputs, opset=opset)
    ref = R.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
    check(tmp_path, model, feeds, [ref], f"Clip opset {opset} {bounds}", exact=True)


# --------------------------------------------------------------------------- binary

# pattern -> (shape of A, shape of B, which operand is a constant or None)
BROADCASTS = {
    "full": ((2, 17, 4, 5), (2, 17, 4, 5), None),
    "scalar_b": ((2, 3, 4, 5), (), None),
    "scalar_a": ((), (3, 17), None),
    "per_channel_b": ((2, 17, 4, 5), (17, 1, 1), None),
    "per_channel_a": ((1, 3, 1, 1), (2, 3, 6, 5), None),
    "last_axis_b": ((2, 3, 4, 17), (17,), None),
    "both_ways": ((2, 1, 4, 1), (1, 3, 1, 5), None),
    "lower_rank_a": ((4, 5), (2, 3, 4, 5), None),
    "const_b_per_channel": ((2, 17, 3, 3), (1, 17, 1, 1), "B"),
    "const_a_scalar": ((), (2, 3, 4), "A"),
    "const_b_full": ((3, 4, 5), (3, 4, 5), "B"),
}
BINARY = {"Add": R.add, "Sub": R.sub, "Mul": R.mul, "Div": R.div, "Pow": R.pow, "Max": R.max, "Min": R.min}


@pytest.mark.parametrize("pattern", list(BROADCASTS))
@pytest.mark.parametrize("op", list(BINARY))
def test_binary(tmp_path, op: str, pattern: str) -> None:
    rng = np.random.default_rng(len(pattern) * 7 + len(op))
    sa, sb, const = BROADCASTS[pattern]
    a, b = randn(rng, *sa, scale=2.0), randn(rng, *sb, scale=2.0)
    if op == "Pow":
        a = np.asarray(rng.uniform(0.2, 3.0, sa), dtype=np.float32)
    if op == "Div":
        b = _away_from_zero(rng, sb)
    if op in ("Max", "Min") and a.size > 2 and b.size > 2 and sa == sb:
        a.reshape(-1)[::5] = b.reshape(-1)[::5]  # ties
    inputs, inits = {}, {}
    (inits if const == "A" else inputs)["A"] = a
    (inits if const == "B" else inputs)["B"] = b
    model, feeds = node_model(op, inputs, initializers=inits, node_inputs=["A", "B"])
    check(tmp_path, model, feeds, [BINARY[op](a, b)], f"{op} {sa} {sb} const={const}", exact=op in ("Max", "Min"))


@pytest.mark.parametrize("op", ["Max", "Min", "Sum"])
def test_variadic(tmp_path, op: str) -> None:
    """Three-input Max/Min/Sum: the converter chains two-input nodes."""
    rng = np.random.default_rng(3)
    xs = {"X0": randn(rng, 2, 3, 4), "X1": randn(rng, 3, 1), "X2": randn(rng, 4)}
    model, feeds = node_model(op, xs)
    fn = {"Max": R.max, "Min": R.min, "Sum": R.add}[op]
    ref = fn(fn(xs["X0"], xs["X1"]), xs["X2"])
    check(tmp_path, model, feeds, [ref], f"{op} x3", exact=op != "Sum")


@pytest.mark.parametrize("count", [1, 2, 4])
def test_mean(tmp_path, count: int) -> None:
    """Mean: the converter sums in order and multiplies once by 1/n."""
    rng = np.random.default_rng(count)
    shapes = [(2, 3, 4), (3, 1), (4,), (1, 1, 4)][:count]
    xs = {f"X{i}": randn(rng, *shape) for i, shape in enumerate(shapes)}
    model, feeds = node_model("Mean", xs)
    ref = np.asarray(sum(np.asarray(v, np.float64) for v in xs.values()) / count, np.float32)
    check(tmp_path, model, feeds, [np.broadcast_to(ref, np.broadcast_shapes(*shapes)).copy()], f"Mean x{count}")


@pytest.mark.parametrize("opset", [7, 12, 13])
def test_dropout_and_identity_at_inference(tmp_path, opset: int) -> None:
    """Inference Dropout (ratio and training_mode constant) and Identity copy their input."""
    x = randn(np.random.default_rng(opset), 2, 3, 5)
    if opset >= 12:
        inits = {"ratio": np.array(0.3, np.float32), "training_mode": np.array(False)}
        dropout = oh.make_node("Dropout", ["X", "ratio", "training_mode"], ["D"])
    else:
        inits = {}
        dropout = oh.make_node("Dropout", ["X"], ["D"], ratio=0.3)
    model = make_model([dropout, oh.make_node("Identity", ["D"], ["Y"])], {"X": x}, ["Y"], initializers=inits,
                       opset=opset)
    check(tmp_path, model, {"X": x}, [x], f"Dropout-{opset} + Identity", exact=True)
    identity = make_node_model("Identity", {"X": x})
    check(tmp_path, identity, {"X": x}, [x], "Identity of a graph input", exact=True)


# --------------------------------------------------------------------------- data movement


@pytest.mark.parametrize("seed", range(6))
def test_concat(tmp_path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = [int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 5)))]
    axis = int(rng.integers(-len(base), len(base)))
    xs, inits = {}, {}
    for i in range(int(rng.integers(1, 5))):
        shape = list(base)
        shape[axis] = int(rng.integers(1, 4))
        xs[f"X{i}"] = randn(rng, *shape)
    if seed % 2:
        # A constant operand.
        shape = list(base)
        shape[axis] = 2
        inits["K"] = randn(rng, *shape)
    model, feeds = node_model("Concat", xs, {"axis": axis}, initializers=inits)
    ref = R.concat(list(xs.values()) + list(inits.values()), axis)
    check(tmp_path, model, feeds, [ref], f"Concat axis={axis}", exact=True)


@pytest.mark.parametrize("seed", range(5))
def test_split_explicit(tmp_path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = [int(v) for v in rng.integers(1, 8, size=int(rng.integers(1, 4)))]
    axis = int(rng.integers(-len(shape), len(shape)))
    dim = shape[axis]
    cuts = np.sort(rng.integers(0, dim + 1, size=int(rng.integers(0, 3))))
    parts = [int(v) for v in np.diff(np.concatenate([[0], cuts, [dim]]))]
    x = randn(rng, *shape)
    model, feeds = node_model("Split", {"X": x}, {"axis": axis}, outputs=len(parts),
                              initializers={"split": np.array(parts, np.int64)})
    check(tmp_path, model, feeds, R.split(x, axis, parts), f"Split {shape} axis={axis} {parts}", exact=True)


@pytest.mark.parametrize(("dim", "num_outputs"), [(6, 3), (7, 3), (5, 2), (2, 2), (10, 4)])
def test_split_num_outputs_opset18(tmp_path, dim: int, num_outputs: int) -> None:
    """Equal parts, the last one smaller (num_outputs exists from opset 18)."""
    x = randn(np.random.default_rng(dim), 2, dim, 3)
    model, feeds = node_model("Split", {"X": x}, {"axis": 1, "num_outputs": num_outputs}, outputs=num_outputs, opset=18)
    check(tmp_path, model, feeds, R.split(x, 1, num_outputs=num_outputs), f"Split {dim}/{num_outputs}", exact=True)


@pytest.mark.parametrize("opset", [11, 17])
def test_split_equal_default(tmp_path, opset: int) -> None:
    x = randn(np.random.default_rng(opset), 2, 9, 4)
    model, feeds = node_model("Split", {"X": x}, {"axis": -2}, outputs=3, opset=opset)
    check(tmp_path, model, feeds, R.split(x, 1, num_outputs=3), f"Split equal opset {opset}", exact=True)


def _slice_bound(rng: np.random.Generator, dim: int) -> int:
    return int(rng.choice([rng.integers(-dim - 3, dim + 4), INT64_MAX, INT64_MIN, -1, 0, dim]))


@pytest.mark.parametrize("seed", range(20))
def test_slice(tmp_path, seed: int) -> None:
    rng = np.random.default_rng(seed + 70)
    shape = [int(v) for v in rng.integers(1, 8, size=int(rng.integers(1, 5)))]
    n_axes = int(rng.integers(1, len(shape) + 1))
    axes = [int(a) for a in rng.permutation(len(shape))[:n_axes]]
    axes = [a - len(shape) if rng.random() < 0.3 else a for a in axes]
    starts = [_slice_bound(rng, shape[a]) for a in axes]
    ends = [_slice_bound(rng, shape[a]) for a in axes]
    steps = [int(rng.choice([1, 2, 3, -1, -2, -3])) for _ in axes]
    x = randn(rng, *shape)
    inits = {k: np.array(v, np.int64) for k, v in (("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps))}
    model, feeds = node_model("Slice", {"X": x}, initializers=inits)
    # ONNX Runtime reads end = INT64_MAX with a negative step as "through index 0";
    # the spec clamps it to dim-1, an empty slice
    # (test_ort_slice_int64_max_end_with_negative_step): reference only there.
    ort = not any(e == INT64_MAX and st < 0 for e, st in zip(ends, steps))
    check(tmp_path, model, feeds, [R.slice(x, starts, ends, axes, steps)],
          f"Slice {shape} starts={starts} ends={ends} axes={axes} steps={steps}", exact=True, ort=ort)


@pytest.mark.parametrize(
    ("starts", "ends", "axes", "steps"),
    [
        ([4], [INT64_MIN], [0], [-1]),  # whole axis reversed
        ([4], [INT64_MAX], [0], [-1]),  # spec: empty; ORT differs (reference only)
        ([-1], [-100], [0], [-2]),
        ([100], [1], [0], [-1]),  # start clamped to dim-1
        ([1, -4], [INT64_MAX, -1], None, None),  # default axes and steps
        ([0, 0], [-1, 100], [1, 0], [3, 1]),
    ],
    ids=["reverse", "int64max_negstep", "neg_start_step2", "clamp_start", "default_axes", "clamp_end"],
)
def test_slice_edges(tmp_path, starts, ends, axes, steps) -> None:
    x = randn(np.random.default_rng(0), 5, 6)
    inits = {"starts": np.array(starts, np.int64), "ends": np.array(ends, np.int64)}
    if axes is not None:
        inits["axes"] = np.array(axes, np.int64)
    if steps is not None:
        inits["steps"] = np.array(steps, np.int64)
    model, feeds = node_model("Slice", {"X": x}, initializers=inits)
    ort = not any(e == INT64_MAX and st < 0 for e, st in zip(ends, steps or [1] * len(ends)))
    check(tmp_path, model, feeds, [R.slice(x, starts, ends, axes, steps)], f"Slice {starts} {ends} {axes} {steps}",
          exact=True, ort=ort)


@pytest.mark.parametrize("axis", [-4, -3, -2, -1, 0, 1, 2, 3, 4])
def test_flatten(tmp_path, axis: int) -> None:
    x = randn(np.random.default_rng(0), 2, 3, 4, 5)
    model, feeds = node_model("Flatten", {"X": x}, {"axis": axis})
    check(tmp_path, model, feeds, [R.flatten(x, axis)], f"Flatten axis={axis}", exact=True)


RESHAPES = [
    ((2, 3, 4), (6, 4), 0),
    ((2, 3, 4), (0, -1), 0),
    ((2, 3, 4), (-1,), 0),
    ((2, 3, 4), (0, 0, 2, 2), 0),
    ((2, 3, 2), (3, -1, 0), 0),
    ((2, 3, 4), (4, 3, 2), 1),
    ((1, 8), (2, 2, 2), 0),
    ((2, 17, 3), (-1, 0, 1), 0),
]


@pytest.mark.parametrize(("in_shape", "shape", "allowzero"), RESHAPES, ids=lambda v: fmt(v) if isinstance(v, tuple) else f"az{v}")
def test_reshape(tmp_path, in_shape, shape, allowzero: int) -> None:
    x = randn(np.random.default_rng(0), *in_shape)
    model, feeds = node_model("Reshape", {"X": x}, {"allowzero": allowzero or None},
                              initializers={"shape": np.array(shape, np.int64)})
    check(tmp_path, model, feeds, [R.reshape(x, shape, allowzero)], f"Reshape {in_shape}->{shape}", exact=True)


SQUEEZES = [
    ("Squeeze", (1, 3, 1, 5), [0, 2]),
    ("Squeeze", (1, 3, 1, 5), [-2]),
    ("Squeeze", (1, 3, 1, 5), None),
    ("Unsqueeze", (3, 5), [0, 3]),
    ("Unsqueeze", (3, 5), [-1]),
    ("Unsqueeze", (17,), [0, 1, -1]),
]


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize(("op", "in_shape", "axes"), SQUEEZES, ids=lambda v: v if isinstance(v, str) else (fmt(v) if v else "none"))
def test_squeeze_unsqueeze(tmp_path, op: str, in_shape, axes, opset: int) -> None:
    x = randn(np.random.default_rng(1), *in_shape)
    if opset < 13:
        model, feeds = node_model(op, {"X": x}, {"axes": axes}, opset=opset)
    else:
        inits = {} if axes is None else {"axes": np.array(axes, np.int64)}
        model, feeds = node_model(op, {"X": x}, initializers=inits, opset=opset)
    if op == "Squeeze":
        ref = np.squeeze(x, axis=None if axes is None else tuple(axes))
    else:
        ref = np.expand_dims(x, tuple(axes))
    check(tmp_path, model, feeds, [ref], f"{op} {in_shape} axes={axes}", exact=True)


@pytest.mark.parametrize("seed", range(6))
def test_transpose(tmp_path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 6))
    x = randn(rng, *[int(v) for v in rng.integers(1, 6, size=rank)])
    perm = None if seed == 0 else [int(p) for p in rng.permutation(rank)]
    model, feeds = node_model("Transpose", {"X": x}, {"perm": perm})
    check(tmp_path, model, feeds, [R.transpose(x, perm)], f"Transpose perm={perm}", exact=True)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad(tmp_path, mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed + 90)
    # reflect and edge need something left after cropping (ORT: "zero effective input extent").
    low = 2 if mode == "constant" else 4
    shape = [int(v) for v in rng.integers(low, low + 4, size=int(rng.integers(1, 5)))]
    begins = [int(rng.integers(-1, 4)) for _ in shape]
    ends = [int(rng.integers(-1, 4)) for _ in shape]
    if mode == "reflect":
        # reflect needs a pad smaller than what is left after cropping.
        begins = [min(b, d + min(b, 0) + min(e, 0) - 1) for b, e, d in zip(begins, ends, shape)]
        ends = [min(e, d + min(b, 0) + min(e, 0) - 1) for b, e, d in zip(begins, ends, shape)]
    pads = begins + ends
    x = randn(rng, *shape)
    value = float(np.float32(rng.standard_normal())) if mode == "constant" and seed % 2 else 0.0
    inits = {"pads": np.array(pads, np.int64)}
    node_inputs = ["X", "pads"]
    if mode == "constant" and seed % 2:
        inits["value"] = np.array(value, np.float32)
        node_inputs.append("value")
    model, feeds = node_model("Pad", {"X": x}, {"mode": mode}, initializers=inits, node_inputs=node_inputs)
    check(tmp_path, model, feeds, [R.pad(x, pads, mode, np.float32(value))], f"Pad {mode} {shape} {pads} {value}", exact=True)


# --------------------------------------------------------------------------- Resize / Upsample

COORD_MODES = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
# Dyadic scales (and 3): ORT rounds near-ties of other ratios (0.6, 7 -> 1) in
# ways no exact formula reproduces (test_ort_resize_near_ties), so none are used.
SCALE_CHOICES = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]


def _is_dyadic(f: Fraction) -> bool:
    return f.denominator & (f.denominator - 1) == 0


def _resize_case(rng: np.random.Generator, use_sizes: bool) -> tuple[np.ndarray, dict, dict]:
    h, w = (int(v) for v in rng.integers(1, 11, size=2))
    x = randn(rng, int(rng.integers(1, 3)), int(rng.choice([1, 3, 17])), h, w)
    if use_sizes:
        def dyadic_size(d: int) -> int:
            return int(rng.choice([o for o in range(1, 2 * d + 2) if _is_dyadic(Fraction(o, d))]))

        sizes = [x.shape[0], x.shape[1], dyadic_size(h), dyadic_size(w)]
        return x, {"sizes": np.array(sizes, np.int64)}, {"sizes": sizes}
    scales = [1.0, 1.0] + [float(rng.choice(SCALE_CHOICES)) for _ in range(2)]
    scales = [s if int(np.floor(s * d)) > 0 else 1.0 for s, d in zip(scales, x.shape)]
    # Unlike the input shape unless every scale is 1: ORT copies the input when
    # the shapes match, whatever the scales (test_ort_resize_shortcuts).
    if [int(np.floor(s * d)) for s, d in zip(scales, x.shape)] == list(x.shape):
        scales = [1.0] * 4
    return x, {"scales": np.array(scales, np.float32)}, {"scales": scales}


def _resize_model(x: np.ndarray, inits: dict, attrs: dict) -> onnx.ModelProto:
    if attrs["coordinate_transformation_mode"] == "tf_half_pixel_for_nn":
        # Only Resize-11 has this mode; Resize-11 needs roi and scales, empty if unused.
        inits = {"roi": np.zeros(0, np.float32), "scales": np.zeros(0, np.float32), **inits}
        node_inputs = ["X", "roi", "scales"] + (["sizes"] if "sizes" in inits else [])
        return make_node_model("Resize", {"X": x}, attrs, initializers=inits, node_inputs=node_inputs, opset=11)
    node_inputs = ["X", "", "scales"] if "scales" in inits else ["X", "", "", "sizes"]
    return make_node_model("Resize", {"X": x}, attrs, initializers=inits, node_inputs=node_inputs)


@pytest.mark.parametrize("source", ["scales", "sizes"])
@pytest.mark.parametrize("nearest_mode", NEAREST_MODES)
@pytest.mark.parametrize("coord", COORD_MODES)
def test_resize_nearest(tmp_path, coord: str, nearest_mode: str, source: str) -> None:
    rng = np.random.default_rng(COORD_MODES.index(coord) * 10 + NEAREST_MODES.index(nearest_mode) + 100 * (source == "sizes"))
    x, inits, kwargs = _resize_case(rng, use_sizes=source == "sizes")
    attrs = {"mode": "nearest", "coordinate_transformation_mode": coord, "nearest_mode": nearest_mode}
    model = _resize_model(x, inits, attrs)
    check(tmp_path, model, {"X": x}, [R.resize(x, **kwargs, **attrs)], f"Resize {attrs} {x.shape} {kwargs}", exact=True)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("coord", COORD_MODES)
def test_resize_linear(tmp_path, coord: str, seed: int) -> None:
    rng = np.random.default_rng(500 + seed * 10 + COORD_MODES.index(coord))
    x, inits, kwargs = _resize_case(rng, use_sizes=seed % 2 == 1)
    attrs = {"mode": "linear", "coordinate_transformation_mode": coord}
    model = _resize_model(x, inits, attrs)
    check(tmp_path, model, {"X": x}, [R.resize(x, **kwargs, **attrs)], f"Resize {attrs} {x.shape} {kwargs}")


def test_resize_linear_1d(tmp_path) -> None:
    x = randn(np.random.default_rng(0), 2, 3, 7)
    attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    model = _resize_model(x, {"scales": np.array([1, 1, 2.5], np.float32)}, attrs)
    check(tmp_path, model, {"X": x}, [R.resize(x, scales=[1, 1, 2.5], **attrs)], "Resize linear 1-D")


@pytest.mark.parametrize(("mode", "scales"), [("nearest", [1, 1, 2, 3]), ("nearest", [1, 1, 1, 2]), ("linear", [1, 1, 2, 2]),
                                              ("linear", [1, 1, 1.5, 2.5])], ids=lambda v: v if isinstance(v, str) else fmt(v))
def test_upsample_opset9(tmp_path, mode: str, scales) -> None:
    """Upsample-9 is Resize with asymmetric coordinates (nearest: floor, which
    for scales >= 1 is the only reading)."""
    x = randn(np.random.default_rng(9), 1, 3, 5, 4)
    model, feeds = node_model("Upsample", {"X": x}, {"mode": mode}, initializers={"scales": np.array(scales, np.float32)},
                              opset=9)
    ref = R.resize(x, scales=scales, mode=mode, coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    check(tmp_path, model, feeds, [ref], f"Upsample {mode} {scales}", exact=mode == "nearest")


@pytest.mark.parametrize(("mode", "scales", "nearest_mode"), [
    ("nearest", [1, 1, 0.75, 0.75], "ceil"),
    ("nearest", [1, 1, 0.5, 0.25], "ceil"),
    ("nearest", [1, 1, 1.5, 3], "floor"),
    ("nearest", [1, 1, 0.5, 1.5], "floor"),
    ("linear", [1, 1, 0.75, 1.5], None),
], ids=lambda v: v if isinstance(v, str) else (fmt(v) if v else "-"))
def test_resize_opset10(tmp_path, mode: str, scales, nearest_mode: str | None) -> None:
    """Resize-10 has asymmetric coordinates and leaves nearest rounding open;
    ONNX Runtime floors on upsampled axes and ceils on downsampled ones (where
    1/scale is an integer both agree)."""
    x = randn(np.random.default_rng(10), 2, 3, 8, 9)
    model, feeds = node_model("Resize", {"X": x}, {"mode": mode}, initializers={"scales": np.array(scales, np.float32)},
                              opset=10)
    ref = R.resize(x, scales=scales, mode=mode, coordinate_transformation_mode="asymmetric", nearest_mode=nearest_mode or "floor")
    check(tmp_path, model, feeds, [ref], f"Resize-10 {mode} {scales}", exact=mode == "nearest")


def test_resize_opset10_mixed_rounding_is_refused(tmp_path) -> None:
    """One axis up (floor) and one down (ceil) cannot be one cnnrt nearest_mode:
    the converter says so instead of computing something else."""
    x = randn(np.random.default_rng(11), 1, 1, 8, 9)
    model, _ = node_model("Resize", {"X": x}, {"mode": "nearest"},
                          initializers={"scales": np.array([1, 1, 0.75, 1.5], np.float32)}, opset=10)
    with pytest.raises(cnnrt.converters.errors.UnsupportedOpsError, match="mix upsampled and downsampled"):
        cnnrt.convert(model, str(tmp_path / "m.cnnrt"))


# --------------------------------------------------------------------------- softmax, reductions


@pytest.mark.parametrize("axis", [-3, -2, -1, 0, 1, 2])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_opset13(tmp_path, op: str, axis: int) -> None:
    x = randn(np.random.default_rng(axis + 10), 3, 17, 5, scale=5.0)
    fn = R.softmax if op == "Softmax" else R.log_softmax
    model, feeds = node_model(op, {"X": x}, {"axis": axis}, opset=13)
    check(tmp_path, model, feeds, [fn(x, axis)], f"{op} axis={axis}", k=x.shape[axis])


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_opset11_coerce_2d(tmp_path, op: str, axis: int | None) -> None:
    """Before opset 13, Softmax normalised over all dims from `axis` (default 1) on."""
    x = randn(np.random.default_rng((axis or 7) + 20), 2, 3, 4, scale=3.0)
    fn = R.softmax if op == "Softmax" else R.log_softmax
    model, feeds = node_model(op, {"X": x}, {"axis": axis}, opset=11)
    a = 1 if axis is None else axis
    check(tmp_path, model, feeds, [fn(x, a, coerce_2d=1)], f"{op} opset 11 axis={axis}", k=int(np.prod(x.shape[a:])))


REDUCE = {"ReduceMean": R.reduce_mean, "ReduceSum": R.reduce_sum, "ReduceMax": R.reduce_max, "ReduceMin": R.reduce_min,
          "ReduceProd": R.reduce_prod, "ReduceL1": R.reduce_l1, "ReduceL2": R.reduce_l2,
          "ReduceSumSquare": R.reduce_sum_square, "ReduceLogSum": R.reduce_log_sum,
          "ReduceLogSumExp": R.reduce_log_sum_exp}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("op", list(REDUCE))
def test_reduce(tmp_path, op: str, seed: int) -> None:
    rng = np.random.default_rng(seed + 300)
    shape = [int(v) for v in rng.choice([1, 2, 3, 5, 17], size=int(rng.integers(1, 5)))]
    x = randn(rng, *shape)
    if op == "ReduceLogSum":
        x = np.abs(x) + np.float32(0.1)  # a positive sum to take the log of
    keepdims = int(rng.integers(0, 2))
    axes = None
    if seed:
        distinct = sorted({int(a) for a in rng.integers(0, len(shape), size=2)})
        axes = [a - len(shape) if rng.random() < 0.3 else a for a in distinct]
    if op == "ReduceSum":
        # ReduceSum takes axes as an input from opset 13; the others from opset 18.
        inits = {} if axes is None else {"axes": np.array(axes, np.int64)}
        model, feeds = node_model(op, {"X": x}, {"keepdims": keepdims}, initializers=inits)
    else:
        model, feeds = node_model(op, {"X": x}, {"keepdims": keepdims, "axes": axes})
    reduced = int(np.prod([shape[a] for a in (range(len(shape)) if axes is None else axes)]))
    check(tmp_path, model, feeds, [REDUCE[op](x, axes, keepdims)], f"{op} {shape} axes={axes} keepdims={keepdims}",
          exact=op in ("ReduceMax", "ReduceMin"), k=reduced)


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax"])
def test_reduce_opset18_axes_input(tmp_path, op: str) -> None:
    x = randn(np.random.default_rng(5), 2, 17, 4, 5)
    model, feeds = node_model(op, {"X": x}, {"keepdims": 1}, initializers={"axes": np.array([2, -1], np.int64)}, opset=18)
    check(tmp_path, model, feeds, [REDUCE[op](x, [2, -1], 1)], f"{op} opset 18", exact=op == "ReduceMax", k=20)


# An empty reduction gives the identity element, then the op's own transform.
EMPTY_REDUCE = {"ReduceSum": 0.0, "ReduceMax": -np.inf, "ReduceMin": np.inf, "ReduceProd": 1.0, "ReduceL1": 0.0,
                "ReduceL2": 0.0, "ReduceSumSquare": 0.0, "ReduceLogSum": -np.inf, "ReduceLogSumExp": -np.inf}


@pytest.mark.parametrize("op", list(EMPTY_REDUCE))
def test_reduce_empty_dim(tmp_path, op: str) -> None:
    """A 0-size input dim: reducing it gives [2, 1, 4] of the identity; the
    run also accepts the empty input itself."""
    x = np.zeros((2, 0, 4), np.float32)
    model, feeds = node_model(op, {"X": x}, {"keepdims": 1}, initializers={"axes": np.array([1], np.int64)}, opset=18)
    check(tmp_path, model, feeds, [np.full((2, 1, 4), EMPTY_REDUCE[op], np.float32)], f"{op} over an empty dim",
          exact=True, ort=False)


def test_reduce_log_sum_exp_large(tmp_path) -> None:
    """Subtracting the maximum first keeps exp from overflowing."""
    x = randn(np.random.default_rng(7), 3, 17, scale=30.0) + np.float32(100.0)
    model, feeds = node_model("ReduceLogSumExp", {"X": x}, {"keepdims": 0, "axes": [1]})
    check(tmp_path, model, feeds, [R.reduce_log_sum_exp(x, [1], 0)], "ReduceLogSumExp large", k=17)


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("shape", [(3, 17), (2, 3, 11), (2, 17, 5, 6), (1, 64, 3, 3)], ids=fmt)
def test_batch_norm_standalone(tmp_path, shape) -> None:
    """BatchNormalization on a graph input: nothing to fold it into, so the
    runtime's own op 100 runs."""
    rng = np.random.default_rng(len(shape) + shape[1])
    c = shape[1]
    x = randn(rng, *shape)
    inits = {"scale": randn(rng, c), "B": randn(rng, c), "mean": randn(rng, c),
             "var": rng.uniform(0.1, 3.0, c).astype(np.float32)}
    eps = [1e-5, 1e-3, 0.1, 1e-5][len(shape) - 2 + (c == 64)]
    model, feeds = node_model("BatchNormalization", {"X": x}, {"epsilon": eps}, initializers=inits)
    loaded = check(tmp_path, model, feeds, [R.batch_norm(x, *inits.values(), epsilon=eps)], f"BatchNorm {shape} eps={eps}")
    assert [n["op"] for n in loaded.nodes] == ["BatchNormalization"]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_lrn(tmp_path, size: int) -> None:
    rng = np.random.default_rng(size)
    x = randn(rng, 2, 17, 3, 4, scale=3.0)
    attrs = {"size": size, "alpha": float(rng.uniform(1e-4, 0.5)), "beta": float(rng.uniform(0.5, 1.0)),
             "bias": float(rng.uniform(0.5, 2.0))}
    model, feeds = node_model("LRN", {"X": x}, attrs)
    # ONNX Runtime accepts odd sizes only (test_ort_lrn_refuses_even_size): even
    # sizes are compared with the reference only.
    check(tmp_path, model, feeds, [R.lrn(x, **attrs)], f"LRN {attrs}", ort=size % 2 == 1)


# --------------------------------------------------------------------------- fused epilogues


def _conv_node(x: str, y: str, w: str, b: str | None = "B", **attrs) -> onnx.NodeProto:
    return oh.make_node("Conv", [x, w] + ([b] if b else []), [y], pads=[1, 1, 1, 1], **attrs)


def _fused_case(name: str, rng: np.random.Generator) -> tuple[onnx.ModelProto, dict, list[dict], int]:
    """(unfused ONNX model, feeds, expected cnnrt nodes as {op, activation, residual}, K)."""
    c, m = 17, 17
    x = randn(rng, 2, c, 9, 10)
    w = randn(rng, m, c, 3, 3, scale=1 / math.sqrt(9 * c))
    b = randn(rng, m)
    k = 9 * c
    if name == "conv_bn_relu":
        inits = {"W": w, "scale": randn(rng, m), "bnB": randn(rng, m), "mean": randn(rng, m),
                 "var": rng.uniform(0.5, 2.0, m).astype(np.float32)}
        nodes = [oh.make_node("Conv", ["X", "W"], ["c"], pads=[1, 1, 1, 1]),
                 oh.make_node("BatchNormalization", ["c", "scale", "bnB", "mean", "var"], ["bn"], epsilon=1e-3),
                 oh.make_node("Relu", ["bn"], ["Y"])]
        expect = [{"op": "Conv", "activation": "relu", "residual": False}]
    elif name == "conv_add_relu":
        inits = {"W": w, "B": b}
        nodes = [_conv_node("X", "c", "W"), oh.make_node("Add", ["c", "X"], ["s"]), oh.make_node("Relu", ["s"], ["Y"])]
        expect = [{"op": "Conv", "activation": "relu", "residual": True}]
    elif name == "conv_add_residual_first_relu":
        inits = {"W": w, "B": b}
        nodes = [_conv_node("X", "c", "W"), oh.make_node("Add", ["X", "c"], ["s"]), oh.make_node("Relu", ["s"], ["Y"])]
        expect = [{"op": "Conv", "activation": "relu", "residual": True}]
    elif name == "conv_clip06":
        inits = {"W": w, "B": b, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
        x *= 8
        nodes = [_conv_node("X", "c", "W"), oh.make_node("Clip", ["c", "lo", "hi"], ["Y"])]
        expect = [{"op": "Conv", "activation": "clip", "residual": False}]
    elif name == "conv_silu":
        inits = {"W": w, "B": b}
        nodes = [_conv_node("X", "c", "W"), oh.make_node("Sigmoid", ["c"], ["s"]), oh.make_node("Mul", ["c", "s"], ["Y"])]
        expect = [{"op": "Conv", "activation": "silu", "residual": False}]
    elif name == "depthwise_conv_relu6":
        w = randn(rng, c, 1, 3, 3, scale=1 / 3)
        inits = {"W": w, "B": b, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
        x *= 8
        nodes = [_conv_node("X", "c", "W", group=c), oh.make_node("Clip", ["c", "lo", "hi"], ["Y"])]
        expect = [{"op": "Conv", "activation": "clip", "residual": False}]
        k = 9
    elif name == "gemm_relu":
        x = randn(rng, 5, 64)
        inits = {"W": randn(rng, 17, 64, scale=0.2), "B": randn(rng, 17)}
        nodes = [oh.make_node("Gemm", ["X", "W", "B"], ["g"], transB=1), oh.make_node("Relu", ["g"], ["Y"])]
        expect = [{"op": "Gemm", "activation": "relu", "residual": False}]
        k = 64
    elif name == "conv_bias_add_leakyrelu":
        # A per-channel constant Add folds into the bias, LeakyRelu into the epilogue.
        inits = {"W": w, "B": b, "bias2": randn(rng, m, 1, 1)}
        nodes = [_conv_node("X", "c", "W"), oh.make_node("Add", ["c", "bias2"], ["a"]),
                 oh.make_node("LeakyRelu", ["a"], ["Y"], alpha=0.2)]
        expect = [{"op": "Conv", "activation": "leaky_relu", "residual": False}]
    elif name == "grouped_conv_bn_hardswish":
        w = randn(rng, m, 1, 3, 3, scale=1 / 3)
        inits = {"W": w, "scale": randn(rng, m), "bnB": randn(rng, m), "mean": randn(rng, m),
                 "var": rng.uniform(0.5, 2.0, m).astype(np.float32)}
        x *= 4
        nodes = [oh.make_node("Conv", ["X", "W"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2], group=c),
                 oh.make_node("BatchNormalization", ["c", "scale", "bnB", "mean", "var"], ["bn"]),
                 oh.make_node("HardSigmoid", ["bn"], ["h"], alpha=1 / 6, beta=0.5),
                 oh.make_node("Mul", ["bn", "h"], ["Y"])]
        expect = [{"op": "Conv", "activation": "hard_swish", "residual": False}]
        k = 9
    elif name == "conv_gelu_erf":
        inits = {"W": w, "B": b, "sqrt2": np.array(math.sqrt(2), np.float32), "one": np.array(1, np.float32),
                 "half": np.array(0.5, np.float32)}
        nodes = [_conv_node("X", "c", "W"), oh.make_node("Div", ["c", "sqrt2"], ["d"]), oh.make_node("Erf", ["d"], ["e"]),
                 oh.make_node("Add", ["e", "one"], ["a"]), oh.make_node("Mul", ["c", "a"], ["p"]),
                 oh.make_node("Mul", ["p", "half"], ["Y"])]
        expect = [{"op": "Conv", "activation": "gelu", "residual": False}]
    elif name == "conv_transpose_bn_relu":
        # BatchNorm folds into a grouped ConvTranspose: its weight is [C, M/group, k, k].
        w = randn(rng, c, 3, 3, 3, scale=1 / 3)
        mt = 3 * c
        inits = {"W": w, "scale": randn(rng, mt), "bnB": randn(rng, mt), "mean": randn(rng, mt),
                 "var": rng.uniform(0.5, 2.0, mt).astype(np.float32)}
        nodes = [oh.make_node("ConvTranspose", ["X", "W"], ["c"], strides=[2, 2], pads=[1, 1, 0, 0], group=c),
                 oh.make_node("BatchNormalization", ["c", "scale", "bnB", "mean", "var"], ["bn"]),
                 oh.make_node("Relu", ["bn"], ["Y"])]
        expect = [{"op": "ConvTranspose", "activation": "relu", "residual": False}]
        k = 9
    elif name == "gemm_add_residual_relu":
        x = randn(rng, 5, 64)
        r = randn(rng, 5, 17)
        inits = {"W": randn(rng, 64, 17, scale=0.2), "B": randn(rng, 17)}
        nodes = [oh.make_node("Gemm", ["X", "W", "B"], ["g"], alpha=0.5),
                 oh.make_node("Add", ["R", "g"], ["s"]), oh.make_node("Relu", ["s"], ["Y"])]
        expect = [{"op": "Gemm", "activation": "relu", "residual": True}]
        model = make_model(nodes, {"X": x, "R": r}, ["Y"], inits)
        return model, {"X": x, "R": r}, expect, 64
    elif name == "matmul_bias_relu":
        # MatMul + constant bias becomes a Gemm, then takes the ReLU.
        x = randn(rng, 7, 64)
        inits = {"W": randn(rng, 64, 17, scale=0.2), "bias": randn(rng, 17)}
        nodes = [oh.make_node("MatMul", ["X", "W"], ["mm"]), oh.make_node("Add", ["mm", "bias"], ["a"]),
                 oh.make_node("Relu", ["a"], ["Y"])]
        expect = [{"op": "Gemm", "activation": "relu", "residual": False}]
        k = 64
    elif name == "add_broadcast_sigmoid":
        x2 = randn(rng, 1, c, 1, 1)
        nodes = [oh.make_node("Add", ["X", "X2"], ["s"]), oh.make_node("Sigmoid", ["s"], ["Y"])]
        expect = [{"op": "Add", "activation": "sigmoid", "residual": False}]
        model = make_model(nodes, {"X": x, "X2": x2}, ["Y"], {})
        return model, {"X": x, "X2": x2}, expect, 1
    elif name == "add_relu":
        inits = {}
        x2 = randn(rng, 2, c, 9, 10)
        nodes = [oh.make_node("Add", ["X", "X2"], ["s"]), oh.make_node("Relu", ["s"], ["Y"])]
        expect = [{"op": "Add", "activation": "relu", "residual": False}]
        model = make_model(nodes, {"X": x, "X2": x2}, ["Y"], inits)
        return model, {"X": x, "X2": x2}, expect, 1
    else:
        raise AssertionError(name)
    model = make_model(nodes, {"X": x}, ["Y"], inits)
    return model, {"X": x}, expect, k


FUSED = ["conv_bn_relu", "conv_add_relu", "conv_add_residual_first_relu", "conv_clip06", "conv_silu",
         "depthwise_conv_relu6", "gemm_relu", "add_relu", "conv_bias_add_leakyrelu", "grouped_conv_bn_hardswish",
         "conv_gelu_erf", "conv_transpose_bn_relu", "gemm_add_residual_relu", "matmul_bias_relu", "add_broadcast_sigmoid"]


@pytest.mark.parametrize("name", FUSED)
def test_fused_epilogue(tmp_path, name: str) -> None:
    """cnnrt's fused node against ONNX Runtime on the unfused graph."""
    model, feeds, expect, k = _fused_case(name, np.random.default_rng(FUSED.index(name)))
    path = tmp_path / "fused.cnnrt"
    (got,), loaded = run_cnnrt(model, feeds, path)
    nodes = [{key: n[key] for key in ("op", "activation", "residual")} for n in loaded.nodes]
    assert nodes == expect, f"{name}: fusion did not happen as expected, nodes {loaded.nodes}"
    (ort_y,) = run_ort(model, feeds)
    assert_matches(got, ort_y, f"{name} vs ONNX Runtime (unfused)", k=k)
    # Threads must not change the fused result either.
    out3 = cnnrt.load(str(path), threads=3).run(dict(feeds))["Y"]
    np.testing.assert_array_equal(out3, got, err_msg=f"{name}: threads=3 differs from threads=1")


@pytest.mark.parametrize("shape", [(2, 3, 7), (1, 17, 5, 6), (2, 4, 3, 2, 3)], ids=fmt)
def test_instance_norm(tmp_path, shape) -> None:
    rng = np.random.default_rng(shape[1])
    c = shape[1]
    x = randn(rng, *shape, scale=3.0) + np.float32(1.5)
    inits = {"scale": randn(rng, c), "B": randn(rng, c)}
    eps = float(rng.choice([1e-5, 1e-2]))
    model, feeds = node_model("InstanceNormalization", {"X": x}, {"epsilon": eps}, initializers=inits)
    check(tmp_path, model, feeds, [R.instance_norm(x, *inits.values(), epsilon=eps)], f"InstanceNorm {shape}",
          k=int(np.prod(shape[2:])))


@pytest.mark.parametrize(("shape", "groups", "opset"), [((2, 6, 5), 3, 18), ((1, 8, 4, 3), 2, 18), ((2, 6, 5), 3, 21),
                                                        ((1, 12, 3, 4), 4, 21), ((2, 4, 3, 3), 1, 21)],
                         ids=lambda v: fmt(v) if isinstance(v, tuple) else str(v))
def test_group_norm(tmp_path, shape, groups: int, opset: int) -> None:
    """Opset 18 scales per group, opset 21 per channel: the converter makes both per channel."""
    rng = np.random.default_rng(groups * 10 + opset)
    c = shape[1]
    x = randn(rng, *shape, scale=2.0)
    params = groups if opset == 18 else c
    scale, bias = randn(rng, params), randn(rng, params)
    model, feeds = node_model("GroupNormalization", {"X": x}, {"num_groups": groups, "epsilon": 1e-3},
                              initializers={"scale": scale, "bias": bias}, opset=opset)
    if opset == 18:
        scale, bias = np.repeat(scale, c // groups), np.repeat(bias, c // groups)
    ref = R.group_norm(x, scale, bias, groups, epsilon=1e-3)
    # ONNX Runtime runs GroupNormalization-18 as a function and has no kernel for 21 (reference only).
    check(tmp_path, model, feeds, [ref], f"GroupNorm {shape} groups={groups} opset={opset}", ort=opset == 18,
          k=int(np.prod(shape[1:])) // groups)


@pytest.mark.parametrize("seed", range(5))
def test_layer_norm(tmp_path, seed: int) -> None:
    rng = np.random.default_rng(seed + 900)
    shape = [int(v) for v in rng.integers(1, 7, size=int(rng.integers(2, 5)))]
    axis = int(rng.integers(-len(shape), len(shape)))
    block = shape[axis:]
    # Scale of the full block, or one that broadcasts to it.
    scale_shape = block if seed % 2 == 0 else [1] * (len(block) - 1) + block[-1:]
    x = randn(rng, *shape, scale=2.0)
    inits = {"Scale": randn(rng, *scale_shape)}
    if seed != 3:
        inits["B"] = randn(rng, *block)
    outputs = ["Y", "Mean", "InvStdDev"][: 1 + seed % 3]
    model, feeds = node_model("LayerNormalization", {"X": x}, {"axis": axis, "epsilon": 1e-4}, outputs=outputs,
                              initializers=inits)
    refs = R.layer_norm(x, inits["Scale"], inits.get("B"), axis=axis, epsilon=1e-4)[: len(outputs)]
    check(tmp_path, model, feeds, list(refs), f"LayerNorm {shape} axis={axis} scale {scale_shape}",
          k=int(np.prod(block)))


# --------------------------------------------------------------------------- added pools, layout, cubic


LP_POOLS = [
    {"spatial": [11], "attrs": {"kernel_shape": [3], "p": 1, "strides": [2], "pads": [1, 1]}},
    {"spatial": [9, 8], "attrs": {"kernel_shape": [3, 2], "p": 2, "strides": [1, 2], "pads": [1, 0, 1, 1]}},
    {"spatial": [7, 7], "attrs": {"kernel_shape": [2, 2], "p": 3, "auto_pad": "SAME_UPPER", "strides": [2, 2]}},
    {"spatial": [5, 6, 4], "attrs": {"kernel_shape": [2, 3, 2], "p": 2, "strides": [1, 2, 1]}},
]


@pytest.mark.parametrize("case", LP_POOLS, ids=lambda c: f"{len(c['spatial'])}d-p{c['attrs']['p']}")
def test_lp_pool(tmp_path, case: dict) -> None:
    x = randn(np.random.default_rng(len(case["spatial"])), 2, 3, *case["spatial"])
    model, feeds = node_model("LpPool", {"X": x}, case["attrs"])
    check(tmp_path, model, feeds, [R.lp_pool(x, **case["attrs"])], f"LpPool {case['attrs']}",
          k=int(np.prod(case["attrs"]["kernel_shape"])), threads_check=True)


POOLS_3D = [
    ("MaxPool", {"kernel_shape": [2, 3, 2], "strides": [1, 2, 2], "pads": [1, 1, 0, 0, 1, 1], "dilations": [1, 1, 2]}),
    ("MaxPool", {"kernel_shape": [3, 3, 3], "strides": [2, 2, 2], "ceil_mode": 1}),
    ("AveragePool", {"kernel_shape": [2, 2, 3], "strides": [2, 1, 2], "pads": [1, 0, 1, 1, 1, 0], "count_include_pad": 1}),
    ("AveragePool", {"kernel_shape": [3, 2, 2], "auto_pad": "SAME_LOWER"}),
]


@pytest.mark.parametrize(("op", "attrs"), POOLS_3D, ids=lambda v: v if isinstance(v, str) else fmt(v["kernel_shape"]))
def test_pool_3d(tmp_path, op: str, attrs: dict) -> None:
    x = randn(np.random.default_rng(len(attrs)), 1, 3, 6, 7, 8)
    model, feeds = node_model(op, {"X": x}, attrs)
    ref = (R.max_pool if op == "MaxPool" else R.average_pool)(x, **attrs)
    check(tmp_path, model, feeds, [ref], f"{op} 3-D {attrs}", exact=op == "MaxPool",
          k=int(np.prod(attrs["kernel_shape"])), threads_check=True)


@pytest.mark.parametrize(("op", "mode", "blocksize"), [("DepthToSpace", "DCR", 2), ("DepthToSpace", "CRD", 2),
                                                       ("DepthToSpace", "DCR", 3), ("SpaceToDepth", None, 2),
                                                       ("SpaceToDepth", None, 3)], ids=str)
def test_depth_space(tmp_path, op: str, mode: str | None, blocksize: int) -> None:
    rng = np.random.default_rng(blocksize)
    b = blocksize
    x = randn(rng, 2, 3 * b * b, 4, 5) if op == "DepthToSpace" else randn(rng, 2, 3, 4 * b, 2 * b)
    model, feeds = node_model(op, {"X": x}, {"blocksize": b, "mode": mode})
    fn = R.depth_to_space if op == "DepthToSpace" else R.space_to_depth
    check(tmp_path, model, feeds, [fn(x, b, mode or "DCR")], f"{op} {mode} b={b}", exact=True)


@pytest.mark.parametrize(("in_shape", "shape"), [((3, 1), (2, 3, 4)), ((1, 4, 1), (3, 1, 5)), ((2, 3), (3,)),
                                                 ((5,), (1, 1, 5)), ((2, 1, 3), (2, 4, 3))],
                         ids=lambda v: fmt(v))
def test_expand(tmp_path, in_shape, shape) -> None:
    x = randn(np.random.default_rng(len(in_shape)), *in_shape)
    model, feeds = node_model("Expand", {"X": x}, initializers={"shape": np.array(shape, np.int64)})
    check(tmp_path, model, feeds, [R.expand(x, shape)], f"Expand {in_shape} to {shape}", exact=True)


@pytest.mark.parametrize(("in_shape", "repeats"), [((2, 3), (1, 3)), ((3, 1, 2), (2, 4, 1)), ((4,), (3,)),
                                                   ((2, 3, 2, 2), (1, 1, 2, 3))], ids=lambda v: fmt(v))
def test_tile(tmp_path, in_shape, repeats) -> None:
    x = randn(np.random.default_rng(len(in_shape)), *in_shape)
    model, feeds = node_model("Tile", {"X": x}, initializers={"repeats": np.array(repeats, np.int64)})
    check(tmp_path, model, feeds, [R.tile(x, repeats)], f"Tile {in_shape} x {repeats}", exact=True)


@pytest.mark.parametrize("seed", range(4))
def test_resize_cubic(tmp_path, seed: int) -> None:
    rng = np.random.default_rng(700 + seed)
    x, inits, kwargs = _resize_case(rng, use_sizes=seed % 2 == 1)
    attrs = {"mode": "cubic", "coordinate_transformation_mode": ["half_pixel", "asymmetric", "align_corners",
                                                                 "pytorch_half_pixel"][seed],
             "cubic_coeff_a": [-0.75, -0.5, -0.75, -0.6][seed], "exclude_outside": seed % 2}
    model = _resize_model(x, inits, attrs)
    check(tmp_path, model, {"X": x}, [R.resize(x, **kwargs, **attrs)], f"Resize {attrs} {x.shape} {kwargs}", k=16)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize(("axis", "keepdims", "last"), [(0, 1, 0), (-1, 0, 0), (1, 1, 1), (2, 0, 1)], ids=str)
def test_arg_max_min(tmp_path, op: str, axis: int, keepdims: int, last: int) -> None:
    """int64 indices; values rounded to halves so ties exercise select_last_index."""
    x = (np.round(randn(np.random.default_rng(axis + 5), 2, 5, 4, scale=2.0) * 2) / 2).astype(np.float32)
    model, feeds = node_model(op, {"X": x}, {"axis": axis, "keepdims": keepdims, "select_last_index": last},
                              outputs={"Y": (None, np.int64)})
    got, _ = run_cnnrt(model, feeds, tmp_path / "model.cnnrt")
    pick = np.argmax if op == "ArgMax" else np.argmin
    ref = (x.shape[axis] - 1 - pick(np.flip(x, axis), axis=axis)) if last else pick(x, axis=axis)
    ref = np.expand_dims(ref, axis) if keepdims else ref
    assert got[0].dtype == np.int64
    np.testing.assert_array_equal(got[0], ref)
    np.testing.assert_array_equal(got[0], run_ort(model, feeds)[0])


# --------------------------------------------------------------------------- Resize to the size of another tensor

def _i64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def _run_at_shapes(tmp_path, model: onnx.ModelProto, feeds_list: Sequence[dict], refs_list: Sequence[list[np.ndarray]],
                   what: str, exact: bool = False, k: int = 1) -> cnnrt.Model:
    """Converts once, then runs one loaded model at several input shapes; every run is compared
    with the reference and with ONNX Runtime."""
    path = tmp_path / "model.cnnrt"
    cnnrt.convert(model, str(path))
    loaded = cnnrt.load(str(path), threads=2)
    for feeds, refs in zip(feeds_list, refs_list):
        out = loaded.run(dict(feeds))
        got = [out[o.name] for o in model.graph.output]
        shapes = {n: v.shape for n, v in feeds.items()}
        for i, (g, r, o) in enumerate(zip(got, refs, run_ort(model, feeds))):
            assert_matches(g, r, f"{what} {shapes} [out {i}] vs reference", exact, k)
            assert_matches(g, o, f"{what} {shapes} [out {i}] vs ONNX Runtime", exact, k)
    return loaded


def _resize_nodes(mode: str, coord: str, sizes: str) -> list[onnx.NodeProto]:
    attrs = {"mode": mode, "coordinate_transformation_mode": coord}
    if mode == "nearest":
        attrs["nearest_mode"] = "floor"
    return [oh.make_node("Resize", ["X", "", "", sizes], ["Y"], **attrs)]


RESIZE_LIKE_SHAPES = [((1, 3, 4, 5), (1, 2, 9, 7)), ((2, 3, 6, 3), (2, 5, 12, 11)), ((1, 3, 4, 5), (1, 2, 3, 2))]


@pytest.mark.parametrize(("mode", "coord"), [("linear", "half_pixel"), ("linear", "align_corners"),
                                             ("nearest", "asymmetric"), ("cubic", "pytorch_half_pixel")])
def test_resize_to_reference_shape_slice(tmp_path, mode: str, coord: str) -> None:
    """interpolate(x, size=r.shape[-2:]) as torch exports it: Shape -> Slice -> Concat -> Resize
    sizes, with run-time batch, height and width; one converted model runs at several sizes."""
    nodes = [
        oh.make_node("Shape", ["X"], ["x_shape"]),
        oh.make_node("Slice", ["x_shape", "zero", "two"], ["x_nc"]),
        oh.make_node("Shape", ["R"], ["r_shape"]),
        oh.make_node("Slice", ["r_shape", "two", "four"], ["r_hw"]),
        oh.make_node("Concat", ["x_nc", "r_hw"], ["sizes"], axis=0),
    ] + _resize_nodes(mode, coord, "sizes")
    model = make_model(nodes, {"X": (["N", 3, "h", "w"], np.float32), "R": (["N", "c", "H", "W"], np.float32)},
                       ["Y"], initializers={"zero": _i64(0), "two": _i64(2), "four": _i64(4)})
    rng = np.random.default_rng(40)
    feeds = [{"X": randn(rng, *xs), "R": randn(rng, *rs)} for xs, rs in RESIZE_LIKE_SHAPES]
    refs = [[R.resize(f["X"], sizes=[*f["X"].shape[:2], *f["R"].shape[2:]], mode=mode,
                      coordinate_transformation_mode=coord, nearest_mode="floor")] for f in feeds]
    _run_at_shapes(tmp_path, model, feeds, refs, f"Resize {mode} {coord} to R's size", exact=mode == "nearest",
                   k=16 if mode == "cubic" else 1)


@pytest.mark.parametrize("swap", [False, True], ids=["hw", "wh"])
def test_resize_to_reference_shape_gather(tmp_path, swap: bool) -> None:
    """Shape -> Gather (scalar) -> Unsqueeze -> Concat -> Resize sizes; swapped, the output's
    height is the reference's width (sizes_from picks any reference dim)."""
    h, w = ("r_w", "r_h") if swap else ("r_h", "r_w")
    nodes = [
        oh.make_node("Shape", ["X"], ["x_shape"]),
        oh.make_node("Slice", ["x_shape", "zero", "two"], ["x_nc"]),
        oh.make_node("Shape", ["R"], ["r_shape"]),
        oh.make_node("Gather", ["r_shape", "index_h"], ["r_h0"], axis=0),
        oh.make_node("Gather", ["r_shape", "index_w"], ["r_w0"], axis=0),
        oh.make_node("Unsqueeze", ["r_h0", "axes"], ["r_h"]),
        oh.make_node("Unsqueeze", ["r_w0", "axes"], ["r_w"]),
        oh.make_node("Concat", ["x_nc", h, w], ["sizes"], axis=0),
    ] + _resize_nodes("nearest", "half_pixel", "sizes")
    inits = {"zero": _i64(0), "two": _i64(2), "axes": _i64(0), "index_h": np.array(2, np.int64),
             "index_w": np.array(3, np.int64)}
    model = make_model(nodes, {"X": (["N", 3, "h", "w"], np.float32), "R": (["N", "c", "H", "W"], np.float32)},
                       ["Y"], initializers=inits)
    rng = np.random.default_rng(41)
    feeds = [{"X": randn(rng, *xs), "R": randn(rng, *rs)} for xs, rs in RESIZE_LIKE_SHAPES]
    refs = []
    for f in feeds:
        hw = list(f["R"].shape[2:])[::-1] if swap else list(f["R"].shape[2:])
        refs.append([R.resize(f["X"], sizes=[*f["X"].shape[:2], *hw], mode="nearest", nearest_mode="floor")])
    _run_at_shapes(tmp_path, model, feeds, refs, f"Resize nearest to R's size (swap={swap})", exact=True)
    (node,) = [n for n in read_model(str(tmp_path / "model.cnnrt")).nodes if n.op == "Resize"]
    assert node.inputs == ["X", "R"]
    assert node.attrs["sizes_from"] == ([-1, -1, 3, 2] if swap else [-1, -1, 2, 3])


def test_resize_image_pooling_to_feature_size(tmp_path) -> None:
    """DeepLabv3's image pooling branch: a 1x1 global average is upsampled to the size of an
    intermediate feature map whose height and width shape inference cannot name (a max pool
    of the input), so the Reference is that feature map, kept alive until the Resize runs."""
    nodes = [
        oh.make_node("MaxPool", ["X"], ["features"], kernel_shape=[2, 2], strides=[2, 2]),
        oh.make_node("GlobalAveragePool", ["features"], ["pooled"]),
        oh.make_node("Shape", ["features"], ["f_shape"]),
        oh.make_node("Slice", ["f_shape", "two", "four"], ["f_hw"]),
        oh.make_node("Shape", ["pooled"], ["p_shape"]),
        oh.make_node("Slice", ["p_shape", "zero", "two"], ["p_nc"]),
        oh.make_node("Concat", ["p_nc", "f_hw"], ["sizes"], axis=0),
        oh.make_node("Resize", ["pooled", "", "", "sizes"], ["up"], mode="linear"),
        oh.make_node("Relu", ["up"], ["Y"]),
    ]
    model = make_model(nodes, {"X": (["N", 4, "H", "W"], np.float32)}, ["Y"],
                       initializers={"zero": _i64(0), "two": _i64(2), "four": _i64(4)})
    rng = np.random.default_rng(42)
    feeds = [{"X": randn(rng, *s)} for s in [(1, 4, 5, 7), (3, 4, 8, 2), (1, 4, 2, 3)]]
    refs = []
    for f in feeds:
        features = R.max_pool(f["X"], kernel_shape=[2, 2], strides=[2, 2])
        refs.append([np.broadcast_to(np.maximum(features.mean(axis=(2, 3), keepdims=True), 0),
                                     features.shape).astype(np.float32)])
    _run_at_shapes(tmp_path, model, feeds, refs, "image pooling upsampled to the feature size")
    (node,) = [n for n in read_model(str(tmp_path / "model.cnnrt")).nodes if n.op == "Resize"]
    assert node.inputs == ["pooled", "features"] and node.attrs["sizes_from"] == [-1, -1, 2, 3]


def test_resize_to_computed_size_is_refused(tmp_path) -> None:
    """Sizes computed from run-time dims (2 * H) are no dim of any tensor: refused, by name."""
    nodes = [
        oh.make_node("Shape", ["X"], ["x_shape"]),
        oh.make_node("Slice", ["x_shape", "zero", "two"], ["x_nc"]),
        oh.make_node("Slice", ["x_shape", "two", "four"], ["x_hw"]),
        oh.make_node("Mul", ["x_hw", "two"], ["doubled"]),
        oh.make_node("Concat", ["x_nc", "doubled"], ["sizes"], axis=0),
    ] + _resize_nodes("linear", "half_pixel", "sizes")
    model = make_model(nodes, {"X": (["N", 3, "H", "W"], np.float32)}, ["Y"],
                       initializers={"zero": _i64(0), "two": _i64(2), "four": _i64(4)})
    with pytest.raises(cnnrt.converters.errors.UnsupportedOpsError, match="Resize"):
        cnnrt.convert(model, str(tmp_path / "m.cnnrt"))


def _resize_reference_graph(inputs: list[str], attrs: dict, reference_shape: list) -> "cnnrt.converters.ir.Graph":
    from cnnrt.converters.ir import Graph, Node, Tensor

    g = Graph(opset=17)
    g.tensors["x"] = Tensor("x", 1, [1, 2, 3, 4])
    g.tensors["ref"] = Tensor("ref", 1, reference_shape)
    g.tensors["y"] = Tensor("y", 1, [1, 2, None, None])
    g.inputs, g.outputs = ["x", "ref"], ["y"]
    g.nodes = [Node("up", "Resize", inputs, ["y"], {"mode": "linear", **attrs})]
    return g


def test_resize_reference_checks(tmp_path) -> None:
    """The C op's own checks on a hand-written model: sizes_from and Reference go together,
    and a reference dim that does not exist is a clear error at run time."""
    from cnnrt.converters.cnnrt_file import write_model

    path = str(tmp_path / "bad.cnnrt")
    write_model(_resize_reference_graph(["x"], {"sizes_from": [-1, -1, 2, 3]}, [1, 1, 6, 8]), path)
    with pytest.raises(cnnrt.InvalidModelError, match="sizes_from"):
        cnnrt.load(path)
    write_model(_resize_reference_graph(["x", "ref"], {"sizes": [-1, -1, 5, -1]}, [1, 1, 6, 8]), path)
    with pytest.raises(cnnrt.InvalidModelError, match="sizes_from"):
        cnnrt.load(path)
    write_model(_resize_reference_graph(["x", "ref"], {"sizes_from": [-1, -1, 2, 1]}, [None, None]), path)
    model = cnnrt.load(path)
    x = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    with pytest.raises(cnnrt.InvalidArgumentError, match="Reference"):
        model.run({"x": x, "ref": np.zeros((6, 8), np.float32)})
    # sizes_from alone (no scales / sizes): the other dims keep their size.
    write_model(_resize_reference_graph(["x", "ref"], {"sizes_from": [-1, -1, 1, 0]}, [None, None]), path)
    y = cnnrt.load(path).run({"x": x, "ref": np.zeros((8, 6), np.float32)})["y"]
    np.testing.assert_allclose(y, R.resize(x, sizes=[1, 2, 6, 8], mode="linear"), rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- TopK

def _topk_model(shape, k: int, axis: int | None, largest: int | None, sorted_: int | None, opset: int = 11,
                indices: bool = True) -> onnx.ModelProto:
    attrs = {"axis": axis, "largest": largest, "sorted": sorted_}
    inits = {}
    if opset >= 10:
        inits["K"] = _i64(k)
        node = oh.make_node("TopK", ["X", "K"], ["V", "I"], **{a: v for a, v in attrs.items() if v is not None})
    else:
        node = oh.make_node("TopK", ["X"], ["V", "I"], k=k, **({"axis": axis} if axis is not None else {}))
    outputs = {"V": (None, np.float32)}
    if indices:
        outputs["I"] = (None, np.int64)
    return make_model([node], {"X": (list(shape), np.float32)}, outputs, initializers=inits, opset=opset)


def _check_topk(tmp_path, model, x, k, axis, largest, ort: bool = True, indices: bool = True) -> None:
    got, _ = run_cnnrt(model, {"X": x}, tmp_path / "model.cnnrt")
    values, order = R.top_k(x, k, axis=-1 if axis is None else axis, largest=1 if largest is None else largest)
    what = f"TopK k={k} axis={axis} largest={largest} {x.shape}"
    assert_matches(got[0], values, what, exact=True)
    if indices:
        assert got[1].dtype == np.int64, f"{what}: indices dtype {got[1].dtype}"
        np.testing.assert_array_equal(got[1], order, err_msg=what)
    if ort:
        for g, o in zip(got, run_ort(model, {"X": x})):
            np.testing.assert_array_equal(g, o, err_msg=f"{what} vs ONNX Runtime")


@pytest.mark.parametrize(("shape", "k", "axis", "largest"), [
    ((2, 5, 4), 3, None, None), ((2, 5, 4), 2, 1, 0), ((2, 5, 4), 5, -2, 1), ((3, 40), 25, 1, 1),
    ((3, 40), 25, 1, 0), ((6,), 1, 0, 0), ((2, 3, 33, 2), 17, 2, 1), ((4, 7), 4, 0, 1),
], ids=str)  # fmt: skip
def test_topk(tmp_path, shape, k: int, axis: int | None, largest: int | None) -> None:
    """Values rounded to halves, so ties are frequent: equal values keep index order. k > 16
    takes the sorting path, smaller k the insertion path."""
    x = (np.round(randn(np.random.default_rng(len(shape) * 10 + k), *shape, scale=2.0) * 2) / 2).astype(np.float32)
    _check_topk(tmp_path, _topk_model(shape, k, axis, largest, None), x, k, axis, largest)


def test_topk_opset1_and_values_only(tmp_path) -> None:
    x = randn(np.random.default_rng(3), 3, 8, 5)
    _check_topk(tmp_path, _topk_model(x.shape, 4, 1, None, None, opset=9), x, 4, 1, None)
    model = _topk_model(x.shape, 2, -1, 0, None, indices=False)
    _check_topk(tmp_path, model, x, 2, -1, 0, indices=False)
    # Only the indices used (an argmax over the k best): the values still get a tensor.
    node = oh.make_node("TopK", ["X", "K"], ["V", "I"], axis=1)
    model = make_model([node], {"X": (list(x.shape), np.float32)}, {"I": (None, np.int64)}, initializers={"K": _i64(3)})
    got, _ = run_cnnrt(model, {"X": x}, tmp_path / "indices.cnnrt")
    np.testing.assert_array_equal(got[0], R.top_k(x, 3, axis=1)[1])
    np.testing.assert_array_equal(got[0], run_ort(model, {"X": x})[0])


def test_topk_unsorted_nan_and_empty(tmp_path) -> None:
    """sorted=0 leaves the order open: cnnrt gives sorted order. NaN counts as the largest value."""
    x = randn(np.random.default_rng(4), 2, 9)
    x[0, 3] = x[1, 0] = x[1, 7] = np.nan
    for largest in (1, 0):
        _check_topk(tmp_path, _topk_model(x.shape, 4, 1, largest, 0), x, 4, 1, largest, ort=False)
    _check_topk(tmp_path, _topk_model(x.shape, 0, 1, 1, 1), x, 0, 1, 1, ort=False)
