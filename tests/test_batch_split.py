"""Batch chunks (native/src/core/session.c): with several threads, a batch of 4
or more that the graph computes image by image runs in chunks of 2 images, each
in a part session of its own, side by side on the threads. The results must
have the same bits as the whole batch at one thread, and a graph that reaches
across the batch must keep it whole (and stay right)."""
from __future__ import annotations

import os

import numpy as np
import onnx.helper as oh
import pytest

import cnnrt
from conftest import max_rel_error
from onnx_builders import make_model, run_ort


def _load(path: str, threads: int, split: bool) -> cnnrt.Model:
    """A model whose sessions split batches or not (read once, at session creation)."""
    old = os.environ.get("CNNRT_BATCH_SPLIT")
    os.environ["CNNRT_BATCH_SPLIT"] = "1" if split else "0"
    try:
        return cnnrt.load(path, threads=threads)
    finally:
        if old is None:
            del os.environ["CNNRT_BATCH_SPLIT"]
        else:
            os.environ["CNNRT_BATCH_SPLIT"] = old


@pytest.mark.parametrize("threads", [2, 3, 4])
@pytest.mark.parametrize("batch", [4, 5, 8, 9])
def test_chunks_bit_identical_to_the_whole_batch(small_cnn_file, small_cnn_model, rng, threads, batch):
    import torch

    x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
    whole = _load(small_cnn_file, 1, split=True).run(x)
    chunked = _load(small_cnn_file, threads, split=True)
    y = chunked.run(x)
    assert np.array_equal(y, whole)
    assert np.array_equal(_load(small_cnn_file, threads, split=False).run(x), whole)
    with torch.no_grad():
        assert max_rel_error(y, small_cnn_model(torch.from_numpy(x)).numpy()) < 1e-4
    # Images reordered stay the same images: nothing leaks between chunks.
    order = rng.permutation(batch)
    assert np.array_equal(chunked.run(x[order]), whole[order])


def test_chunks_hold_less_memory_than_the_whole_batch(small_cnn_file, rng):
    """The part sessions' arenas (2 threads, 2 chunks of 2-3 images at a time)
    replace the whole batch's arena: the proof that the chunked path ran."""
    x = rng.standard_normal((8, 3, 32, 32), dtype=np.float32)
    chunked, whole = _load(small_cnn_file, 2, split=True), _load(small_cnn_file, 2, split=False)
    assert np.array_equal(chunked.run(x), whole.run(x))
    assert chunked.memory()["arena_bytes"] < 0.75 * whole.memory()["arena_bytes"]
    # Batches too small to split, and profiling sessions, keep the whole batch.
    small = x[:3]
    assert np.array_equal(chunked.run(small), whole.run(small))
    assert chunked.memory()["arena_bytes"] == whole.memory()["arena_bytes"]
    profiled = cnnrt.load(small_cnn_file, threads=2, profile=True)
    assert np.array_equal(profiled.run(x), whole.run(x))
    assert profiled.memory()["arena_bytes"] == whole.memory()["arena_bytes"]
    assert sum(s["time_ns"] for s in profiled.node_stats()) > 0


def _convert(tmp_path, model) -> str:
    path = str(tmp_path / "m.cnnrt")
    cnnrt.convert(model, path)
    return path


def _cross_batch_model(case: str):
    """Graphs in which every output depends on every image of the batch."""
    if case == "softmax over the batch":
        return make_model([oh.make_node("Softmax", ["x"], ["y"], axis=0)], {"x": (["n", 6], np.float32)}, ["y"]), 6
    if case == "batch folded by reshape":
        # [n, 4] -> [1, 4n] -> softmax over everything -> [n, 4]: input and output look batched.
        nodes = [oh.make_node("Reshape", ["x", "flat"], ["f"]), oh.make_node("Softmax", ["f"], ["s"], axis=1),
                 oh.make_node("Reshape", ["s", "back"], ["y"])]
        return make_model(nodes, {"x": (["n", 4], np.float32)}, ["y"],
                          {"flat": np.array([1, -1], np.int64), "back": np.array([-1, 4], np.int64)}), 4
    # A square [4, 4] batch transposed, a softmax over what was the batch, and
    # back: every tensor's first dimension is 4, yet images mix.
    nodes = [oh.make_node("Transpose", ["x"], ["t"], perm=[1, 0]), oh.make_node("Softmax", ["t"], ["s"], axis=1),
             oh.make_node("Transpose", ["s"], ["y"], perm=[1, 0])]
    return make_model(nodes, {"x": (["n", 4], np.float32)}, ["y"]), 4


@pytest.mark.parametrize("case", ["softmax over the batch", "batch folded by reshape", "transpose of the batch"])
def test_graphs_across_the_batch_keep_it_whole(tmp_path, rng, case):
    model, width = _cross_batch_model(case)
    path = _convert(tmp_path, model)
    x = rng.standard_normal((4 if case == "transpose of the batch" else 8, width), dtype=np.float32)
    expected = run_ort(model, {"x": x})[0]
    for threads in (1, 2, 4):
        np.testing.assert_allclose(_load(path, threads, split=True).run(x), expected, rtol=1e-5, atol=1e-7)


def test_two_inputs_two_outputs_in_chunks(tmp_path, rng):
    nodes = [oh.make_node("Add", ["a", "b"], ["sum"]), oh.make_node("Relu", ["a"], ["relu"]),
             oh.make_node("Mul", ["sum", "w"], ["scaled"])]
    model = make_model(nodes, {"a": (["n", 3, 5], np.float32), "b": (["n", 3, 5], np.float32)},
                       ["scaled", "relu"], {"w": rng.standard_normal((1, 3, 5)).astype(np.float32)})
    path = _convert(tmp_path, model)
    feeds = {"a": rng.standard_normal((7, 3, 5), dtype=np.float32), "b": rng.standard_normal((7, 3, 5), dtype=np.float32)}
    expected = run_ort(model, feeds)
    chunked = _load(path, 3, split=True)
    out = chunked.run(feeds)
    assert list(out) == ["scaled", "relu"]
    np.testing.assert_array_equal(out["relu"], expected[1])
    np.testing.assert_allclose(out["scaled"], expected[0], rtol=1e-6, atol=1e-7)


def test_static_batch_runs_whole(tmp_path, rng):
    model = make_model([oh.make_node("Relu", ["x"], ["y"])], {"x": ([8, 6], np.float32)}, ["y"])
    path = _convert(tmp_path, model)
    x = rng.standard_normal((8, 6), dtype=np.float32)
    np.testing.assert_array_equal(_load(path, 2, split=True).run(x), np.maximum(x, 0))


def test_batch_sizes_alternate_on_one_session(small_cnn_file, rng):
    """Plans with and without chunks (and chunk counts that need part sessions
    of another thread count) follow each other on one session."""
    whole = _load(small_cnn_file, 1, split=True)
    for threads in (2, 4):
        chunked = _load(small_cnn_file, threads, split=True)
        for batch in (8, 2, 9, 4, 1, 6, 8, 5):
            x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
            assert np.array_equal(chunked.run(x), whole.run(x)), (threads, batch)
        chunked.reshape({"input": (8, 3, 32, 32)})
        assert chunked.memory()["arena_bytes"] > 0
