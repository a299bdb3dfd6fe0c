"""Concat inputs placed inside the concat's output by the memory planner
(batch 1 along the channel axis: each input one contiguous slice, written there
by its producer, so the concat copies nothing). Checked against ONNX Runtime on
graphs where a placed input is read again later, is overwritten in place by a
later node, feeds two concats or a concat of concats, is a graph output, or
would start unaligned; and that the profile names which concats copied."""
from __future__ import annotations

import numpy as np
import onnx.helper as oh
import pytest

import cnnrt
from onnx_builders import make_model, run_ort


def _hazards(outputs):
    """a and b land in c1; Relu(a) after c1 may run in place on a's buffer; c2 holds c1 (itself holding
    views: copied) and r; d concatenates b twice (b already placed in c1: copied)."""
    nodes = [
        oh.make_node("Sigmoid", ["x"], ["a"]),
        oh.make_node("Tanh", ["x"], ["b"]),
        oh.make_node("Concat", ["a", "b"], ["c1"], axis=1),
        oh.make_node("Neg", ["c1"], ["n1"]),
        oh.make_node("Relu", ["a"], ["r"]),
        oh.make_node("Concat", ["c1", "r"], ["c2"], axis=1),
        oh.make_node("Concat", ["b", "b"], ["d"], axis=1),
        oh.make_node("Mul", ["d", "b2"], ["e"]),
    ]
    return make_model(nodes, {"x": (["n", 4, 4, 4], np.float32)}, outputs,
                      {"b2": np.full((1, 8, 1, 1), 0.5, np.float32)})


def _run_and_check(tmp_path, model, x, expected_kernels=None):
    path = str(tmp_path / "m.cnnrt")
    cnnrt.convert(model, path)
    expected = run_ort(model, {"x": x})
    for threads in (1, 2):
        m = cnnrt.load(path, threads=threads, profile=True)
        out = m.run({"x": x})
        for name, want in zip(out, expected):
            np.testing.assert_allclose(out[name], want, rtol=1e-6, atol=1e-7, err_msg=f"{name} at {threads} threads")
        if expected_kernels is not None:
            kernels = [s["kernel"] for n, s in zip(m.nodes, m.node_stats()) if n["op"] == "Concat"]
            assert kernels == expected_kernels, kernels
        # A second run on the same arena: nothing depends on what the first left there.
        again = m.run({"x": x})
        for name in out:
            np.testing.assert_array_equal(again[name], out[name])


def test_placed_inputs_read_later_and_overwritten_in_place(tmp_path, rng):
    model = _hazards(["c2", "n1", "e"])
    x = rng.standard_normal((1, 4, 4, 4), dtype=np.float32)
    _run_and_check(tmp_path, model, x, ["concat_in_place", "concat_copy", "concat_copy"])


def test_graph_outputs_are_not_placed(tmp_path, rng):
    """a and b are graph outputs: c1 copies them, and holding no views, c1 is itself placed in c2."""
    model = _hazards(["c2", "a", "b", "e"])
    x = rng.standard_normal((1, 4, 4, 4), dtype=np.float32)
    _run_and_check(tmp_path, model, x, ["concat_copy", "concat_in_place", "concat_copy"])


@pytest.mark.parametrize("batch", [2, 5])
def test_batches_copy(tmp_path, rng, batch):
    """With a batch, each input is one slice per image: the concat copies (chunks of 2 images at 2 threads too)."""
    x = rng.standard_normal((batch, 4, 4, 4), dtype=np.float32)
    _run_and_check(tmp_path, _hazards(["c2", "n1", "e"]), x, ["concat_copy", "concat_copy", "concat_copy"])


def test_unaligned_slices_copy(tmp_path, rng):
    """3 x 5 x 5 floats = 300 bytes: the second and third inputs would start unaligned."""
    nodes = [oh.make_node("Sigmoid", ["x"], ["a"]), oh.make_node("Tanh", ["x"], ["b"]),
             oh.make_node("Exp", ["x"], ["c"]), oh.make_node("Concat", ["a", "b", "c"], ["y"], axis=1),
             oh.make_node("Neg", ["a"], ["z"])]
    model = make_model(nodes, {"x": (["n", 3, 5, 5], np.float32)}, ["y", "z"])
    x = rng.standard_normal((1, 3, 5, 5), dtype=np.float32)
    _run_and_check(tmp_path, model, x, ["concat_copy"])


def test_a_zoo_model_with_concats(tmp_path, rng):
    """SqueezeNet's fire modules: every concat placed, outputs as ONNX Runtime's."""
    import torch

    from cnnrt.converters import zoo

    torch.manual_seed(0)
    module = zoo.create("squeezenet1_1").eval()
    path = str(tmp_path / "sq.cnnrt")
    x = rng.standard_normal((1, 3, 96, 96), dtype=np.float32)
    cnnrt.convert(module, path, example_input=torch.from_numpy(x))
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    for threads in (1, 2):
        m = cnnrt.load(path, threads=threads, profile=True)
        y = m.run(x)
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5 * float(np.abs(expected).max()))
        kernels = [s["kernel"] for n, s in zip(m.nodes, m.node_stats()) if n["op"] == "Concat"]
        assert kernels and all(k == "concat_in_place" for k in kernels), kernels
