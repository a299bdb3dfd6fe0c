"""The Python API contract: load, run, inputs/outputs, sessions, threads, planning."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import cnnrt
from conftest import max_rel_error


def torch_forward(module, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def test_import_does_not_pull_onnx_or_torch():
    code = "import sys, cnnrt; bad = [m for m in ('onnx', 'torch') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_inputs_outputs_describe_the_model(small_cnn_file):
    model = cnnrt.load(small_cnn_file)
    assert [t.name for t in model.inputs] == ["input"]
    assert model.inputs[0].shape[1:] == (3, 32, 32)
    assert isinstance(model.inputs[0].shape[0], str)  # symbolic batch, named
    assert model.inputs[0].dtype == "float32"
    assert len(model.outputs) == 1 and model.outputs[0].shape[1:] == (10,)
    assert "param_count" in model.metadata and int(model.metadata["param_count"]) > 0


def test_run_array_and_dict_match_pytorch(small_cnn_file, small_cnn_model, rng):
    model = cnnrt.load(small_cnn_file, threads=2)
    x = rng.standard_normal((2, 3, 32, 32), dtype=np.float32)
    expected = torch_forward(small_cnn_model, x)
    y = model.run(x)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (2, 10)
    assert max_rel_error(y, expected) < 1e-4
    out = model.run({"input": x})
    assert isinstance(out, dict) and list(out) == [model.outputs[0].name]
    np.testing.assert_array_equal(out[model.outputs[0].name], y)
    assert np.std(expected) > 1e-3  # the reference varies: the check is not vacuous


def test_batch_change_replans_and_caches(small_cnn_file, small_cnn_model, rng):
    model = cnnrt.load(small_cnn_file)
    for batch in (1, 4, 1, 3, 4):
        x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
        y = model.run(x)
        assert y.shape == (batch, 10)
        assert max_rel_error(y, torch_forward(small_cnn_model, x)) < 1e-4


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_outputs_bit_identical_for_any_thread_count(small_cnn_file, rng, threads):
    x = rng.standard_normal((3, 3, 32, 32), dtype=np.float32)
    y1 = cnnrt.load(small_cnn_file, threads=1).run(x)
    yn = cnnrt.load(small_cnn_file, threads=threads).run(x)
    assert np.array_equal(y1, yn)


def test_load_from_bytes(small_cnn_file, rng):
    with open(small_cnn_file, "rb") as f:
        data = f.read()
    x = rng.standard_normal((1, 3, 32, 32), dtype=np.float32)
    assert np.array_equal(cnnrt.load(data).run(x), cnnrt.load(small_cnn_file).run(x))


def test_non_contiguous_input_is_accepted(small_cnn_file, rng):
    model = cnnrt.load(small_cnn_file)
    x = rng.standard_normal((2, 32, 32, 3), dtype=np.float32).transpose(0, 3, 1, 2)
    assert not x.flags.c_contiguous
    assert np.array_equal(model.run(x), model.run(np.ascontiguousarray(x)))


def test_memory_plan_reuses_buffers(small_cnn_file):
    model = cnnrt.load(small_cnn_file)
    model.reshape({"input": (1, 3, 32, 32)})
    memory = model.memory()
    assert 0 < memory["arena_bytes"] < memory["unplanned_bytes"]
    # The largest activation (stem output, 16x16x16 floats) must fit in the arena.
    assert memory["arena_bytes"] >= 16 * 16 * 16 * 4


def test_node_stats_report_kernels_and_macs(small_cnn_file):
    model = cnnrt.load(small_cnn_file, profile=True)
    model.run(np.zeros((1, 3, 32, 32), np.float32))
    stats = model.node_stats()
    nodes = model.nodes
    assert len(stats) == len(nodes)
    convs = [s for s, n in zip(stats, nodes) if n["op"] == "Conv"]
    assert convs and all(s["macs"] > 0 and s["kernel"] for s in convs)
    # the stem conv: 16 out channels x 16x16 outputs x 3x3x3 inputs
    assert convs[0]["macs"] == 16 * 16 * 16 * 27
    assert sum(s["time_ns"] for s in stats) > 0


def test_sessions_share_a_model_across_threads(small_cnn_file, rng):
    model = cnnrt.load(small_cnn_file)
    xs = [rng.standard_normal((2, 3, 32, 32), dtype=np.float32) for _ in range(4)]
    expected = [model.run(x) for x in xs]
    results: dict[int, list] = {}

    def worker(k: int) -> None:
        session = model.session(threads=1)
        results[k] = [session.run(x) for x in xs for _ in range(3)][::3]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        for got, want in zip(results[k], expected):
            assert np.array_equal(got, want)


def test_run_releases_the_gil(tmp_path):
    """While one thread runs a model, another Python thread keeps running."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(*[nn.Conv2d(32, 32, 3, padding=1) for _ in range(6)]).eval()
    path = tmp_path / "heavy.cnnrt"
    cnnrt.convert(net, str(path), example_input=torch.zeros(1, 32, 64, 64))
    model = cnnrt.load(str(path))
    x = np.random.default_rng(0).standard_normal((4, 32, 64, 64), dtype=np.float32)
    model.run(x)  # plan once
    ticks = 0
    stop = threading.Event()

    def counter() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0)

    t = threading.Thread(target=counter)
    start = time.perf_counter()
    t.start()
    model.run(x)
    model.run(x)
    elapsed = time.perf_counter() - start
    stop.set()
    t.join()
    # With the GIL held for the whole run the counter could only tick at the
    # interpreter's switch interval (5 ms); released, it ticks continuously.
    switch_bound = elapsed / sys.getswitchinterval() + 10
    assert ticks > 5 * switch_bound, (ticks, elapsed)
