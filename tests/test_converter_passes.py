"""Each graph pass on small hand-built ONNX graphs, checked structurally and numerically
(original model on ONNX Runtime vs the converted `.cnnrt` file, see converter_ir_eval.py)."""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest
from onnx import helper

sys.path.insert(0, os.path.dirname(__file__))
from converter_ir_eval import convert_and_compare, f32, make_model  # noqa: E402

from cnnrt.converters import convert, read_model  # noqa: E402

RNG = np.random.default_rng(1)


def rand(*shape, scale=1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def bn_params(c: int) -> dict[str, np.ndarray]:
    return {"gamma": rand(c) + 1.0, "beta": rand(c), "mean": rand(c),
            "var": (np.abs(rand(c)) + 0.5).astype(np.float32)}


def numpy_conv2d(x, w, b, pad):
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    out = np.zeros((n, w.shape[0], h + 2 * pad - k + 1, wd + 2 * pad - k + 1), np.float64)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + k, j:j + k], w)
    return out + b.reshape(1, -1, 1, 1)


def test_batchnorm_folded_into_conv(tmp_path) -> None:
    p = bn_params(6)
    inits = {"W": rand(6, 3, 3, 3), "B": rand(6), **p}
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"],
                              epsilon=1e-3, name="bn")]
    model = make_model(nodes, [f32("x", ["batch", 3, 7, 7])], [f32("y", ["batch", 6, 7, 7])], inits)
    x = rand(2, 3, 7, 7)
    mf = convert_and_compare(model, {"x": x}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Conv"]
    assert mf.nodes[0].outputs == ["y"]
    # The folded weights, run through a plain numpy convolution, reproduce conv -> BN.
    w, b = (mf.tensor(i).data for i in mf.nodes[0].inputs[1:3])
    conv = numpy_conv2d(x.astype(np.float64), inits["W"], inits["B"], 1)
    s = (p["gamma"] / np.sqrt(p["var"] + 1e-3)).reshape(1, -1, 1, 1)
    ref = (conv - p["mean"].reshape(1, -1, 1, 1)) * s + p["beta"].reshape(1, -1, 1, 1)
    np.testing.assert_allclose(numpy_conv2d(x.astype(np.float64), w, b, 1), ref, rtol=1e-4, atol=1e-4)


def test_batchnorm_folded_into_grouped_conv_transpose(tmp_path) -> None:
    inits = {"W": rand(4, 3, 3, 3), **bn_params(6)}  # group 2: Cin 4, Cout 6
    nodes = [helper.make_node("ConvTranspose", ["x", "W"], ["c"], strides=[2, 2], group=2),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"])]
    model = make_model(nodes, [f32("x", [1, 4, 5, 5])], [f32("y", [1, 6, 11, 11])], inits)
    mf = convert_and_compare(model, {"x": rand(1, 4, 5, 5)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["ConvTranspose"] and len(mf.nodes[0].inputs) == 3


def test_batchnorm_not_after_conv_is_kept(tmp_path) -> None:
    inits = {"W": rand(4, 3, 1, 1), **bn_params(4)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("BatchNormalization", ["r", "gamma", "beta", "mean", "var"], ["y"]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["z"])]
    model = make_model(nodes, [f32("x", [2, 3, 4, 4])], [f32("y", [2, 4, 4, 4]), f32("z", [2, 4, 4, 4])], inits)
    mf = convert_and_compare(model, {"x": rand(2, 3, 4, 4)}, tmp_path / "m.cnnrt")
    # The conv output has two consumers, so neither BN is folded; op 100 remains.
    assert sorted(n.op for n in mf.nodes) == ["BatchNormalization", "BatchNormalization", "Conv", "Relu"]
    assert all(n.op_code == 100 for n in mf.nodes if n.op == "BatchNormalization")


def test_fold_batchnorm_can_be_disabled(tmp_path) -> None:
    inits = {"W": rand(4, 3, 1, 1), **bn_params(4)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"])]
    model = make_model(nodes, [f32("x", [1, 3, 4, 4])], [f32("y", [1, 4, 4, 4])], inits)
    mf = convert_and_compare(model, {"x": rand(1, 3, 4, 4)}, tmp_path / "m.cnnrt", fold_batchnorm=False)
    assert [n.op for n in mf.nodes] == ["Conv", "BatchNormalization"]


@pytest.mark.parametrize("bias_shape", [(1, 5, 1, 1), (5, 1, 1), (1,)])
def test_constant_add_becomes_conv_bias(tmp_path, bias_shape) -> None:
    inits = {"W": rand(5, 3, 3, 3), "B": rand(5), "bias": rand(*bias_shape)}
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"]),
             helper.make_node("Add", ["bias", "c"], ["y"])]
    model = make_model(nodes, [f32("x", [1, 3, 6, 6])], [f32("y", [1, 5, 4, 4])], inits)
    mf = convert_and_compare(model, {"x": rand(1, 3, 6, 6)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Conv"] and not mf.nodes[0].residual


def test_matmul_plus_bias_becomes_gemm(tmp_path) -> None:
    inits = {"Wt": rand(8, 4), "bias": rand(4)}
    nodes = [helper.make_node("MatMul", ["x", "Wt"], ["m"]), helper.make_node("Add", ["m", "bias"], ["a"]),
             helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, [f32("x", ["batch", 8])], [f32("y", ["batch", 4])], inits)
    mf = convert_and_compare(model, {"x": rand(3, 8)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Gemm"] and mf.nodes[0].activation == 1


def test_silu_fusion(tmp_path) -> None:
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["s", "x"], ["y"])]
    model = make_model(nodes, [f32("x", [2, 3, 4])], [f32("y", [2, 3, 4])])
    mf = convert_and_compare(model, {"x": rand(2, 3, 4)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["SiLU"] and mf.nodes[0].op_code == 27


def test_sigmoid_with_other_consumers_is_not_fused(tmp_path) -> None:
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["s", "x"], ["y"]),
             helper.make_node("Neg", ["s"], ["z"])]
    model = make_model(nodes, [f32("x", [2, 3])], [f32("y", [2, 3]), f32("z", [2, 3])])
    mf = convert_and_compare(model, {"x": rand(2, 3)}, tmp_path / "m.cnnrt")
    assert sorted(n.op for n in mf.nodes) == ["Mul", "Neg", "Sigmoid"]


@pytest.mark.parametrize("alpha,fused", [(1 / 6, True), (0.2, False)])
def test_hardswish_fusion_only_when_exact(tmp_path, alpha, fused) -> None:
    nodes = [helper.make_node("HardSigmoid", ["x"], ["h"], alpha=alpha, beta=0.5),
             helper.make_node("Mul", ["x", "h"], ["y"])]
    model = make_model(nodes, [f32("x", [2, 8])], [f32("y", [2, 8])], opset=13)
    mf = convert_and_compare(model, {"x": rand(2, 8, scale=4)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == (["HardSwish"] if fused else ["HardSigmoid", "Mul"])


def _gelu_nodes(form: str) -> tuple[list, dict]:
    c = {"sqrt2": np.array(math.sqrt(2), np.float32), "inv": np.array(1 / math.sqrt(2), np.float32),
         "one": np.array(1.0, np.float32), "half": np.array(0.5, np.float32)}
    if form == "torch":  # (x * (erf(x / sqrt2) + 1)) * 0.5, as torch.onnx exports nn.GELU
        nodes = [helper.make_node("Div", ["x", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                 helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["x", "a"], ["m"]),
                 helper.make_node("Mul", ["m", "half"], ["y"])]
    elif form == "half_first":  # (0.5 * x) * (1 + erf(x * 1/sqrt2))
        nodes = [helper.make_node("Mul", ["x", "inv"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                 helper.make_node("Add", ["one", "e"], ["a"]), helper.make_node("Mul", ["half", "x"], ["h"]),
                 helper.make_node("Mul", ["h", "a"], ["y"])]
    else:  # x * ((1 + erf(x / sqrt2)) * 0.5)
        nodes = [helper.make_node("Div", ["x", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                 helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["a", "half"], ["m"]),
                 helper.make_node("Mul", ["m", "x"], ["y"])]
    return nodes, c


@pytest.mark.parametrize("form", ["torch", "half_first", "half_second"])
def test_gelu_fusion(tmp_path, form) -> None:
    nodes, consts = _gelu_nodes(form)
    model = make_model(nodes, [f32("x", [3, 5])], [f32("y", [3, 5])], consts)
    mf = convert_and_compare(model, {"x": rand(3, 5, scale=2)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Gelu"] and mf.nodes[0].outputs == ["y"]


def test_conv_residual_relu_epilogue(tmp_path) -> None:
    inits = {"W": rand(4, 4, 3, 3), "B": rand(4), "W2": rand(4, 4, 1, 1)}
    nodes = [helper.make_node("Conv", ["x", "W2"], ["skip"]),
             helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["skip", "c"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, [f32("x", ["batch", 4, 5, 5])], [f32("y", ["batch", 4, 5, 5])], inits)
    mf = convert_and_compare(model, {"x": rand(2, 4, 5, 5)}, tmp_path / "m.cnnrt")
    assert len(mf.nodes) == 2
    fused = mf.nodes[1]
    assert fused.op == "Conv" and fused.residual and fused.activation == 1 and fused.outputs == ["y"]
    assert fused.inputs[-1] == "skip" and len(fused.inputs) == 4


def test_conv_without_bias_keeps_residual_last(tmp_path) -> None:
    inits = {"W": rand(4, 4, 1, 1)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]), helper.make_node("Add", ["c", "x"], ["y"])]
    model = make_model(nodes, [f32("x", [1, 4, 3, 3])], [f32("y", [1, 4, 3, 3])], inits)
    mf = convert_and_compare(model, {"x": rand(1, 4, 3, 3)}, tmp_path / "m.cnnrt")
    assert mf.nodes[0].inputs == ["x", "W", "", "x"] and mf.nodes[0].residual


@pytest.mark.parametrize("act,kw,code", [
    ("Clip", {}, 3), ("LeakyRelu", {"alpha": 0.1}, 2), ("Sigmoid", {}, 4), ("Tanh", {}, 5),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, 6), ("HardSwish", {}, 7), ("Elu", {"alpha": 0.7}, 11),
    ("Softplus", {}, 12)])
def test_conv_activation_epilogues(tmp_path, act, kw, code) -> None:
    inits = {"W": rand(3, 2, 3, 3), "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    ins = ["c", "lo", "hi"] if act == "Clip" else ["c"]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]), helper.make_node(act, ins, ["y"], **kw)]
    model = make_model(nodes, [f32("x", [1, 2, 5, 5])], [f32("y", [1, 3, 3, 3])], inits)
    mf = convert_and_compare(model, {"x": rand(1, 2, 5, 5, scale=3)}, tmp_path / "m.cnnrt")
    assert len(mf.nodes) == 1 and mf.nodes[0].activation == code
    if act == "Clip":
        assert (mf.nodes[0].act_alpha, mf.nodes[0].act_beta) == (0.0, 6.0)


def test_add_relu_and_conv_transpose_activation_only(tmp_path) -> None:
    inits = {"W": rand(3, 3, 2, 2)}
    nodes = [helper.make_node("ConvTranspose", ["x", "W"], ["c"], strides=[2, 2]),
             helper.make_node("Add", ["c", "r"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, [f32("x", [1, 3, 3, 3]), f32("r", [1, 3, 6, 6])], [f32("y", [1, 3, 6, 6])], inits)
    mf = convert_and_compare(model, {"x": rand(1, 3, 3, 3), "r": rand(1, 3, 6, 6)}, tmp_path / "m.cnnrt")
    # ConvTranspose may not carry a residual: the Add stays and takes the ReLU instead.
    assert [n.op for n in mf.nodes] == ["ConvTranspose", "Add"]
    assert mf.nodes[1].activation == 1 and not mf.nodes[0].residual


def test_gemm_gelu_epilogue_and_fuse_flag(tmp_path) -> None:
    nodes, consts = _gelu_nodes("torch")
    nodes = [helper.make_node("Gemm", ["inp", "Wg", "Bg"], ["x"], transB=1)] + nodes
    consts.update({"Wg": rand(6, 4), "Bg": rand(6)})
    model = make_model(nodes, [f32("inp", ["batch", 4])], [f32("y", ["batch", 6])], consts)
    mf = convert_and_compare(model, {"inp": rand(2, 4)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Gemm"] and mf.nodes[0].activation == 9
    mf = convert_and_compare(model, {"inp": rand(2, 4)}, tmp_path / "n.cnnrt", fuse=False)
    assert "Erf" in [n.op for n in mf.nodes]


def test_identity_dropout_removed_output_names_kept(tmp_path) -> None:
    nodes = [helper.make_node("Identity", ["x"], ["i"]), helper.make_node("Relu", ["i"], ["r"]),
             helper.make_node("Dropout", ["r"], ["d"]), helper.make_node("Sigmoid", ["d"], ["s"]),
             helper.make_node("Identity", ["s"], ["y"])]
    model = make_model(nodes, [f32("x", [2, 3])], [f32("y", [2, 3])])
    mf = convert_and_compare(model, {"x": rand(2, 3)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Relu", "Sigmoid"]
    assert mf.outputs == ["y"] and mf.nodes[-1].outputs == ["y"]


def test_constant_folding_and_dead_code(tmp_path) -> None:
    two = helper.make_tensor("two", 1, [1], [2.0])
    nodes = [helper.make_node("Constant", [], ["c2"], value=two),
             helper.make_node("Shape", ["w"], ["ws"]),  # static shape: folded
             helper.make_node("Cast", ["ws"], ["wsf"], to=1),
             helper.make_node("ReduceSum", ["wsf"], ["n"], keepdims=0),  # 3 + 1 = 4
             helper.make_node("Mul", ["c2", "n"], ["k"]),  # 8
             helper.make_node("Mul", ["x", "k"], ["y"]),
             helper.make_node("Exp", ["x"], ["unused"])]  # reaches no output: removed
    model = make_model(nodes, [f32("x", [2, 3])], [f32("y", [2, 3])], {"w": rand(3, 1)}, opset=13)
    mf = convert_and_compare(model, {"x": rand(2, 3)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Mul"]
    const = [t for t in mf.tensors if t.is_constant]
    assert len(const) == 1 and float(const[0].data.reshape(-1)[0]) == 8.0


def test_report_describes_passes(tmp_path) -> None:
    inits = {"W": rand(4, 3, 1, 1), **bn_params(4)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["b"]),
             helper.make_node("Relu", ["b"], ["y"])]
    model = make_model(nodes, [f32("x", [1, 3, 4, 4])], [f32("y", [1, 4, 4, 4])], inits)
    report = convert(model, tmp_path / "m.cnnrt")
    assert (report.nodes_before, report.nodes_after) == (3, 1)
    passes = dict(report.passes)
    assert passes["fold_batchnorm"] == "folded 1 BatchNormalization into Conv"
    assert "1 activation" in passes["fuse_epilogues"]
    assert report.param_count == 12 + 8  # W + BN scale and shift; running statistics do not count
    assert report.weights_bytes == (12 + 4) * 4
    assert "folded 1 BatchNormalization" in str(report)
    assert read_model(tmp_path / "m.cnnrt").metadata["param_count"] == "20"
