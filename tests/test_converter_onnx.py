"""ONNX import: unsupported-op reports, opset variants lowering to one normalised form,
run-time shape chains, external data, metadata and parameter counts."""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(__file__))
from converter_ir_eval import convert_and_compare, f32, make_model, run_cnnrt_file, run_onnx  # noqa: E402

from cnnrt.converters import (ConversionError, UnsupportedOpsError, convert, describe,  # noqa: E402
                              read_model)

RNG = np.random.default_rng(2)


def rand(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def i64(*v) -> np.ndarray:
    return np.array(v, np.int64)


# --------------------------------------------------------------------------- unsupported ops


def test_every_unsupported_node_is_reported_at_once(tmp_path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="ok_relu"),
        helper.make_node("Hardmax", ["r"], ["h"], name="bad_hardmax"),
        helper.make_node("Resize", ["r", "", "scales"], ["up"], mode="linear",
                         coordinate_transformation_mode="tf_crop_and_resize", name="bad_resize"),
        helper.make_node("Reshape", ["r", "shape_in"], ["re"], name="bad_reshape"),
        helper.make_node("MyOp", ["x"], ["c"], domain="com.example", name="bad_custom"),
        helper.make_node("Add", ["h", "r"], ["y"], name="ok_add"),
    ]
    graph = helper.make_graph(
        nodes, "bad", [f32("x", [1, 2, 4, 4]), helper.make_tensor_value_info("shape_in", TensorProto.INT64, [2])],
        [f32("y", [1, 2, 4, 4]), f32("up", None), f32("re", None), f32("c", None)],
        [onnx.numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)], ir_version=10)
    with pytest.raises(UnsupportedOpsError) as info:
        convert(model, tmp_path / "m.cnnrt")
    err = info.value
    assert isinstance(err, ConversionError)
    by_node = {p.node: p for p in err.problems}
    assert set(by_node) == {"bad_hardmax", "bad_resize", "bad_reshape", "bad_custom", "shape_in"}
    assert by_node["bad_hardmax"].op_type == "Hardmax" and by_node["bad_hardmax"].opset == 17
    assert by_node["bad_hardmax"].reason == "op not supported"
    assert "coordinate_transformation_mode 'tf_crop_and_resize' not supported" in by_node["bad_resize"].reason
    assert "non-constant 'shape' input to Reshape" in by_node["bad_reshape"].reason
    assert by_node["bad_custom"].domain == "com.example"
    assert "float32" in by_node["shape_in"].reason  # the int64 graph input
    lines = str(err).splitlines()
    assert len(lines) == 1 + 5
    assert any("bad_hardmax" in ln and "Hardmax" in ln and "opset 17" in ln for ln in lines)
    assert not (tmp_path / "m.cnnrt").exists()


def test_bad_source_type() -> None:
    with pytest.raises(ConversionError, match="expected a path"):
        convert(12345, "unused.cnnrt")
    with pytest.raises(ConversionError, match="does not exist"):
        convert("/nonexistent/model.onnx", "unused.cnnrt")


# --------------------------------------------------------------------------- opset variants


def _lowered(model: onnx.ModelProto, tmp_path, feeds: dict[str, np.ndarray]) -> tuple[str, dict]:
    """Convert, check numerically against ONNX Runtime, return the single node's (op, attrs)."""
    mf = convert_and_compare(model, feeds, tmp_path / f"m{len(os.listdir(tmp_path))}.cnnrt",
                             fuse=False)
    assert len(mf.nodes) == 1, [n.op for n in mf.nodes]
    return mf.nodes[0].op, mf.nodes[0].attrs


X = rand(2, 3, 4, 6)


def _single(op: str, opset: int, inputs: list[str], attrs: dict, inits: dict, out_shape=None,
            n_out: int = 1) -> onnx.ModelProto:
    outs = ["y"] if n_out == 1 else [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, ["x"] + inputs, outs, **attrs)
    return make_model([node], [f32("x", list(X.shape))], [f32(o, out_shape) for o in outs], inits, opset)


def _same_everywhere(variants: dict, tmp_path) -> tuple[str, dict]:
    results = {k: _lowered(m, tmp_path, {"x": X}) for k, m in variants.items()}
    first = next(iter(results.values()))
    for k, r in results.items():
        assert r == first, f"{k}: {r} != {first}"
    return first


def test_clip_variants(tmp_path) -> None:
    lo, hi = np.array(-0.5, np.float32), np.array(0.7, np.float32)
    op, attrs = _same_everywhere({
        9: _single("Clip", 9, [], {"min": -0.5, "max": 0.7}, {}),
        11: _single("Clip", 11, ["lo", "hi"], {}, {"lo": lo, "hi": hi}),
        13: _single("Clip", 13, ["lo", "hi"], {}, {"lo": lo, "hi": hi}),
    }, tmp_path)
    assert op == "Clip" and attrs == {"min": -0.5, "max": pytest.approx(0.7)}
    op, attrs = _lowered(_single("Clip", 13, ["", "hi"], {}, {"hi": hi}), tmp_path, {"x": X})
    assert attrs == {"max": pytest.approx(0.7)}


def test_reshape_variants(tmp_path) -> None:
    variants = {v: _single("Reshape", v, ["s"], {}, {"s": i64(0, 3, -1)}) for v in (9, 13, 17)}
    op, attrs = _same_everywhere(variants, tmp_path)
    assert op == "Reshape" and attrs == {"shape": [0, 3, -1]}


def test_pad_variants(tmp_path) -> None:
    pads = [0, 0, 1, 2, 0, 0, 3, 0]
    value = np.array(0.5, np.float32)
    op, attrs = _same_everywhere({
        9: _single("Pad", 9, [], {"pads": pads, "value": 0.5}, {}),
        11: _single("Pad", 11, ["p", "v"], {}, {"p": i64(*pads), "v": value}),
        13: _single("Pad", 13, ["p", "v"], {}, {"p": i64(*pads), "v": value}),
        18: _single("Pad", 18, ["p", "v", "ax"], {}, {"p": i64(1, 2, 3, 0), "v": value, "ax": i64(2, -1)}),
    }, tmp_path)
    assert op == "Pad" and attrs == {"pads": pads, "mode": "constant", "value": 0.5}
    op, attrs = _lowered(_single("Pad", 11, ["p"], {"mode": "reflect"}, {"p": i64(*pads)}), tmp_path, {"x": X})
    assert attrs == {"pads": pads, "mode": "reflect"}


def test_slice_variants(tmp_path) -> None:
    op, attrs = _same_everywhere({
        9: _single("Slice", 9, [], {"starts": [1, 0], "ends": [3, -1], "axes": [2, 3]}, {}),
        10: _single("Slice", 10, ["st", "en", "ax"], {}, {"st": i64(1, 0), "en": i64(3, -1), "ax": i64(2, 3)}),
        13: _single("Slice", 13, ["st", "en", "ax", "sp"], {},
                    {"st": i64(1, 0), "en": i64(3, -1), "ax": i64(2, 3), "sp": i64(1, 1)}),
    }, tmp_path)
    assert op == "Slice" and attrs == {"starts": [1, 0], "ends": [3, -1], "axes": [2, 3], "steps": [1, 1]}
    big = np.iinfo(np.int64).max
    op, attrs = _lowered(_single("Slice", 13, ["st", "en", "ax", "sp"], {},
                                 {"st": i64(-1), "en": i64(-big), "ax": i64(3), "sp": i64(-2)}), tmp_path, {"x": X})
    assert attrs == {"starts": [-1], "ends": [-big], "axes": [3], "steps": [-2]}


def test_squeeze_unsqueeze_variants(tmp_path) -> None:
    global X
    saved, X = X, rand(2, 1, 4, 1)
    try:
        sq = _same_everywhere({
            11: _single("Squeeze", 11, [], {"axes": [1, 3]}, {}),
            13: _single("Squeeze", 13, ["a"], {}, {"a": i64(1, -1)}),
            9: _single("Squeeze", 9, [], {}, {}),
        }, tmp_path)
        assert sq == ("Reshape", {"shape": [2, 4]})  # static input: plain sizes
        un = _same_everywhere({
            11: _single("Unsqueeze", 11, [], {"axes": [0, 5]}, {}),
            13: _single("Unsqueeze", 13, ["a"], {}, {"a": i64(0, -1)}),
        }, tmp_path)
        assert un == ("Reshape", {"shape": [1, 2, 1, 4, 1, 1]})
    finally:
        X = saved


def test_split_variants(tmp_path) -> None:
    op, attrs = _same_everywhere({
        11: _single("Split", 11, [], {"axis": 3, "split": [2, 4]}, {}, n_out=2),
        13: _single("Split", 13, ["s"], {"axis": 3}, {"s": i64(2, 4)}, n_out=2),
        18: _single("Split", 18, ["s"], {"axis": 3}, {"s": i64(2, 4)}, n_out=2),
    }, tmp_path)
    assert op == "Split" and attrs == {"axis": 3, "split": [2, 4]}
    op, attrs = _lowered(_single("Split", 18, [], {"axis": 3, "num_outputs": 3}, {}, n_out=3), tmp_path, {"x": X})
    assert attrs == {"axis": 3}


def test_reduce_and_softmax_variants(tmp_path) -> None:
    op, attrs = _same_everywhere({
        13: _single("ReduceMean", 13, [], {"axes": [2, 3], "keepdims": 1}, {}),
        18: _single("ReduceMean", 18, ["a"], {}, {"a": i64(2, 3)}),
    }, tmp_path)
    assert op == "ReduceMean" and attrs == {"axes": [2, 3], "keepdims": 1}
    op, attrs = _same_everywhere({
        11: _single("ReduceSum", 11, [], {"axes": [1], "keepdims": 0}, {}),
        13: _single("ReduceSum", 13, ["a"], {"keepdims": 0}, {"a": i64(1)}),
    }, tmp_path)
    assert attrs == {"axes": [1], "keepdims": 0}
    assert _lowered(_single("Softmax", 11, [], {}, {}), tmp_path, {"x": X})[1] == {"axis": 1, "coerce_2d": 1}
    assert _lowered(_single("Softmax", 13, [], {}, {}), tmp_path, {"x": X})[1] == {"axis": -1}
    assert _lowered(_single("LogSoftmax", 9, [], {"axis": 2}, {}), tmp_path, {"x": X})[1] == \
        {"axis": 2, "coerce_2d": 1}


def test_upsample_and_resize_variants(tmp_path) -> None:
    scales = np.array([1, 1, 2, 2], np.float32)
    nearest = {
        9: _single("Upsample", 9, ["s"], {"mode": "nearest"}, {"s": scales}),
        10: _single("Resize", 10, ["s"], {"mode": "nearest"}, {"s": scales}),
        11: _single("Resize", 11, ["roi", "s"], {"coordinate_transformation_mode": "asymmetric",
                                                 "nearest_mode": "floor"},
                    {"roi": np.zeros(0, np.float32), "s": scales}),
        13: _single("Resize", 13, ["", "s"], {"coordinate_transformation_mode": "asymmetric",
                                              "nearest_mode": "floor"}, {"s": scales}),
        18: _single("Resize", 18, ["", "s"], {"coordinate_transformation_mode": "asymmetric",
                                              "nearest_mode": "floor", "axes": [2, 3]},
                    {"s": scales[2:]}),
    }
    op, attrs = _same_everywhere(nearest, tmp_path)
    assert op == "Resize" and attrs == {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                        "nearest_mode": "floor", "scales": [1.0, 1.0, 2.0, 2.0]}
    op, attrs = _same_everywhere({
        9: _single("Upsample", 9, ["s"], {"mode": "linear"}, {"s": scales}),
        13: _single("Resize", 13, ["", "s"], {"mode": "linear", "coordinate_transformation_mode": "asymmetric"},
                    {"s": scales}),
    }, tmp_path)
    assert attrs == {"mode": "linear", "coordinate_transformation_mode": "asymmetric", "scales": [1.0, 1.0, 2.0, 2.0]}
    op, attrs = _lowered(_single("Resize", 13, ["", "", "sz"], {"mode": "linear"}, {"sz": i64(2, 3, 5, 9)}),
                         tmp_path, {"x": X})
    assert attrs == {"mode": "linear", "coordinate_transformation_mode": "half_pixel", "sizes": [-1, -1, 5, 9]}


def test_variadic_max_sum_and_prelu(tmp_path) -> None:
    nodes = [helper.make_node("Max", ["a", "b", "c"], ["m"]), helper.make_node("Sum", ["m", "a"], ["s"]),
             helper.make_node("PRelu", ["s", "slope"], ["y"])]
    model = make_model(nodes, [f32("a", [2, 3]), f32("b", [2, 3]), f32("c", [1, 3])], [f32("y", [2, 3])],
                       {"slope": np.array([0.1, 0.2, 0.3], np.float32)})
    feeds = {"a": rand(2, 3), "b": rand(2, 3), "c": rand(1, 3)}
    mf = convert_and_compare(model, feeds, tmp_path / "m.cnnrt")
    ops = [n.op for n in mf.nodes]
    assert ops[:3] == ["Max", "Max", "Add"] and "PRelu" not in ops


# --------------------------------------------------------------------------- run-time shapes


def _flatten_chain(opset: int = 13) -> onnx.ModelProto:
    """x.view(x.size(0), -1) as the TorchScript exporter writes it."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Shape", ["r"], ["shp"]),
             helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.INT64, [], [0])),
             helper.make_node("Gather", ["shp", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["r", "target"], ["y"])]
    return make_model(nodes, [f32("x", ["batch", 3, 4, 5])], [f32("y", ["batch", 60])],
                      {"ax0": i64(0), "minus1": i64(-1)}, opset)


@pytest.mark.parametrize("batch", [1, 5])
def test_symbolic_batch_reshape_chain(tmp_path, batch) -> None:
    model = _flatten_chain()
    mf = convert_and_compare(model, {"x": rand(batch, 3, 4, 5)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Relu", "Reshape"]
    assert mf.nodes[1].attrs == {"shape": [0, -1]}
    assert mf.tensor("x").shape == ["batch", 3, 4, 5] and mf.tensor("y").shape == ["batch", 60]


def test_unsqueeze_and_resize_sizes_with_symbolic_batch(tmp_path) -> None:
    nodes = [helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),  # [1, N, 3, 4, 5]: N moves -> -1
             helper.make_node("Squeeze", ["u", "ax"], ["s"]),
             helper.make_node("Shape", ["s"], ["shp"]),
             helper.make_node("Slice", ["shp", "st", "en"], ["nc"]),
             helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["s", "", "", "sizes"], ["y"], mode="nearest")]
    model = make_model(nodes, [f32("x", ["batch", 3, 4, 5])], [f32("y", ["batch", 3, 8, 10])],
                       {"ax": i64(0), "st": i64(0), "en": i64(2), "hw": i64(8, 10)}, 13)
    for batch in (1, 3):
        mf = convert_and_compare(model, {"x": rand(batch, 3, 4, 5)}, tmp_path / "m.cnnrt")
    assert [n.op for n in mf.nodes] == ["Reshape", "Reshape", "Resize"]
    assert mf.nodes[0].attrs["shape"] == [1, -1, 3, 4, 5]
    assert mf.nodes[1].attrs["shape"] == [-1, 3, 4, 5]
    assert mf.nodes[2].attrs["sizes"] == [-1, -1, 8, 10]  # -1: keep the input size


# --------------------------------------------------------------------------- files and metadata


def test_external_data_metadata_and_param_count(tmp_path) -> None:
    inits = {"W": rand(16, 8, 3, 3), "gamma": rand(16), "beta": rand(16), "mean": rand(16),
             "var": np.abs(rand(16)) + 1, "shape": i64(0, -1), "Wfc": rand(10, 16 * 4 * 4)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["b"]),
             helper.make_node("Relu", ["b"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["f"]),
             helper.make_node("Gemm", ["f", "Wfc"], ["y"], transB=1)]
    model = make_model(nodes, [f32("x", ["N", 8, 4, 4])], [f32("y", ["N", 10])], inits)
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save_model(model, folder / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.onnx.data", size_threshold=0)
    assert (folder / "m.onnx.data").exists()
    labels = [f"class {k}" for k in range(10)]
    pre = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    report = convert(folder / "m.onnx", tmp_path / "m.cnnrt", labels=labels, preprocessing=pre)
    feeds = {"x": rand(2, 8, 4, 4)}
    got = run_cnnrt_file(tmp_path / "m.cnnrt", feeds)[0]
    ref = run_onnx(onnx.load(folder / "m.onnx"), feeds)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    meta = describe(tmp_path / "m.cnnrt").metadata
    expected_params = 16 * 8 * 9 + 16 + 16 + 10 * 256  # W, BN scale+shift, Wfc; not stats, not shape
    assert report.param_count == expected_params and meta["param_count"] == str(expected_params)
    assert meta["source_format"] == "onnx" and meta["source_opset"] == "17"
    assert meta["producer"].startswith("cnnrt.converters ")
    assert meta["source_sha256"] == hashlib.sha256(onnx.load(folder / "m.onnx").SerializeToString()).hexdigest()
    assert json.loads(meta["labels"]) == labels and json.loads(meta["preprocessing"]) == pre
    assert report.inputs == {"x": ["N", 8, 4, 4]} and report.outputs == {"y": ["N", 10]}


def test_bytes_source_and_io_renaming(tmp_path) -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [f32("x", [1, 4])], [f32("y", [1, 4])])
    convert(model.SerializeToString(), tmp_path / "m.cnnrt", input_names=["image"], output_names=["probs"])
    mf = read_model(tmp_path / "m.cnnrt")
    assert mf.inputs == ["image"] and mf.outputs == ["probs"]
    with pytest.raises(ConversionError, match="input_names has 2 names"):
        convert(model, tmp_path / "n.cnnrt", input_names=["a", "b"])
