"""cnnrt._tflite (the ONNX -> TFLite writer behind `cnnrt bench --compare litert`):
the TFLite model LiteRT runs computes what ONNX Runtime computes from the ONNX
model, on graphs covering every op and padding case the writer handles, and
what it does not handle is refused with the node named."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from cnnrt import _tflite
from cnnrt.bench import Prepared, prepare_litert



class _Mixed(nn.Module):
    """Stride-2 stem padded unlike SAME (explicit PAD), a depthwise layer with a channel multiplier,
    a max pool over possibly negative values (PADV2 with -max), a residual add with ReLU, an SE block
    (global pool, hard sigmoid, Mul), a concat of a SiLU and a sigmoid branch, a dilated SAME conv, an
    average pool, and a flatten of a 4x4 plane into two Gemms."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 32, 3, 1, 1, groups=16), nn.Hardswish())
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.pw = nn.Conv2d(32, 32, 1)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(32, 8, 1), nn.ReLU(), nn.Conv2d(8, 32, 1),
                                nn.Hardsigmoid())
        self.left = nn.Sequential(nn.Conv2d(32, 16, 3, 1, 1), nn.SiLU())
        self.right = nn.Sequential(nn.Conv2d(32, 8, 1), nn.Sigmoid())
        self.dilated = nn.Conv2d(24, 24, 3, 1, 2, dilation=2)
        self.avg = nn.AvgPool2d(2, 2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(24 * 4 * 4, 40), nn.ReLU(), nn.Linear(40, 10))

    def forward(self, x):
        y = self.pool(self.dw(self.stem(x)))
        y = torch.relu(self.pw(y) + y)
        y = y * self.se(y)
        y = torch.cat([self.left(y), self.right(y)], 1)
        return self.head(self.avg(torch.tanh(self.dilated(y))))


class _ReluPool(nn.Module):
    """A padded max pool after ReLU (zero padding is exact there: plain PAD) and a leaky ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 7, 2, 3)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.pool(torch.relu(self.conv(x)))
        y = nn.functional.leaky_relu(y, 0.1).mean((2, 3), keepdim=True)
        return self.fc(torch.flatten(y, 1))


class _AvgPools(nn.Module):
    """Average pools over padding: counted (an explicit PAD) and not counted (SAME), and one whose pads are
    not SAME and must not be counted (refused)."""

    def __init__(self, refused: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 1, 1)
        self.counted = nn.AvgPool2d(3, 1, 1, count_include_pad=True)
        self.not_counted = nn.AvgPool2d(3, 2 if refused else 1, 1, count_include_pad=False)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        y = self.conv(x)
        y = torch.cat([self.counted(y).mean((2, 3), keepdim=True), self.not_counted(y).mean((2, 3), keepdim=True)], 1)
        return self.fc(torch.flatten(y, 1))


class _Grouped(nn.Module):
    """A grouped convolution (4 groups), a batch norm left unfolded (after a ReLU: no convolution to fold it
    into), and a ceil-mode max pool whose last windows run past the input."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1)
        self.grouped = nn.Conv2d(16, 24, 3, 1, 1, groups=4)
        self.bn = nn.BatchNorm2d(24)
        self.after = nn.Conv2d(24, 8, 1)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.after(self.bn(torch.relu(self.grouped(self.conv(x)))))
        return self.fc(torch.flatten(self.pool(y).mean((2, 3), keepdim=True), 1))


def _export(module: nn.Module, size: int, path) -> str:
    torch.manual_seed(0)
    module.eval()
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    onnx_path = str(path / "model.onnx")
    with torch.no_grad():
        torch.onnx.export(module, torch.zeros(1, 3, size, size), onnx_path, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return onnx_path


def _litert(tflite_path: str, x: np.ndarray, threads: int = 1) -> np.ndarray:
    return _tflite.litert_runner(tflite_path, x, threads)()


@pytest.mark.parametrize("make, size", [(_Mixed, 32), (_ReluPool, 32), (_AvgPools, 12), (_Grouped, 14)],
                         ids=["mixed", "relu_pool", "avg_pools", "grouped_bn_ceil"])
def test_litert_matches_onnxruntime(tmp_path, make, size):
    onnx_path = _export(make(), size, tmp_path)
    tflite_path = str(tmp_path / "model.tflite")
    _tflite.export(onnx_path, tflite_path)
    x = np.random.default_rng(3).standard_normal((3, 3, size, size), dtype=np.float32)
    expected = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    for threads in (1, 2):
        found = _litert(tflite_path, x, threads)
        assert found.shape == expected.shape
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5 * float(np.abs(expected).max()))


def test_grouped_model_keeps_its_batch_norm(tmp_path):
    """The case above really has an unfolded BatchNormalization and a grouped convolution to write."""
    import onnx

    from cnnrt.converters.converter import build_graph

    graph, _ = build_graph(onnx.load(_export(_Grouped(), 14, tmp_path)))
    ops = [(n.op, n.attrs.get("group", 1)) for n in graph.nodes]
    assert ("BatchNormalization", 1) in ops and ("Conv", 4) in ops, ops


def test_pad_cases_are_written_as_pads(tmp_path):
    """The stem (pads 1,1 at stride 2 on an even plane: not SAME) and the max pool over values that may be
    negative get explicit pads, the latter with the float minimum; the pool after ReLU pads with zeros."""
    from ai_edge_litert import schema_py_generated as tfl

    def ops(module, size):
        onnx_path = _export(module, size, tmp_path)
        _tflite.export(onnx_path, str(tmp_path / "m.tflite"))
        model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(open(tmp_path / "m.tflite", "rb").read(), 0))
        return [model.operatorCodes[o.opcodeIndex].builtinCode for o in model.subgraphs[0].operators]

    mixed = ops(_Mixed(), 32)
    assert mixed.count(tfl.BuiltinOperator.PAD) == 1 and mixed.count(tfl.BuiltinOperator.PADV2) == 1
    assert tfl.BuiltinOperator.DEPTHWISE_CONV_2D in mixed and tfl.BuiltinOperator.TRANSPOSE in mixed
    relu_pool = ops(_ReluPool(), 32)
    assert relu_pool.count(tfl.BuiltinOperator.PAD) == 2 and tfl.BuiltinOperator.PADV2 not in relu_pool


def test_uncounted_padding_that_is_not_same_is_refused(tmp_path):
    onnx_path = _export(_AvgPools(refused=True), 12, tmp_path)
    with pytest.raises(_tflite.TFLiteExportError, match=r"pads \[1, 1, 1, 1\] are not TFLite's SAME"):
        _tflite.export(onnx_path, str(tmp_path / "m.tflite"))


class _Shuffle(nn.Module):
    """A channel shuffle (Reshape, Transpose): not written."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 1, 1)

    def forward(self, x):
        y = self.conv(x)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return torch.flatten(y.mean((2, 3), keepdim=True), 1)


def test_unsupported_model_is_refused_by_name(tmp_path):
    onnx_path = _export(_Shuffle(), 16, tmp_path)
    with pytest.raises(_tflite.TFLiteExportError, match=r"node '.*Reshape.*': op Reshape is not exported"):
        _tflite.export(onnx_path, str(tmp_path / "m.tflite"))
    # The benchmark leaves LiteRT out with that reason instead of failing.
    import cnnrt

    cnnrt.convert(onnx_path, str(tmp_path / "m.cnnrt"))
    prepared = Prepared("m", str(tmp_path / "m.cnnrt"), onnx_path, None, "input", (1, 3, 16, 16))
    why = prepare_litert(prepared, str(tmp_path))
    assert "op Reshape is not exported" in why and prepared.tflite_path is None


def test_bench_runs_litert(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cnnrt", "bench", "cifar10_3block", "--compare", "litert",
         "--threads", "1", "--rounds", "2", "--per-round", "1", "--warmup", "1"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipping" not in result.stdout, result.stdout
    assert any(line.split()[:1] == ["litert"] for line in result.stdout.splitlines()), result.stdout
