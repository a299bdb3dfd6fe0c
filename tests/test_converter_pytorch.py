"""torch.nn.Module -> `.cnnrt` with a run-time batch, checked against PyTorch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

sys.path.insert(0, os.path.dirname(__file__))
from converter_ir_eval import assert_close, run_cnnrt_file  # noqa: E402

from cnnrt.converters import ConversionError, convert, read_model  # noqa: E402


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + x)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.stem_bn = nn.BatchNorm2d(8)
        self.block = Residual(8)
        self.fc1 = nn.Linear(8 * 4 * 4, 32)
        self.bn1d = nn.BatchNorm1d(32)
        self.gelu = nn.GELU()
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem_bn(self.stem(x))
        x = x * torch.sigmoid(x)  # SiLU written out
        x = self.block(x)
        x = F.adaptive_avg_pool2d(x, 4)
        x = x.view(x.size(0), -1)
        x = self.drop(self.gelu(self.bn1d(self.fc1(x))))
        return self.fc2(x)


def _randomise_bn(module: nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def _check(module: nn.Module, path, shapes: list[tuple], **kwargs):
    module.eval()
    report = convert(module, path, example_input=torch.randn(*shapes[0]), **kwargs)
    for shape in shapes:
        x = torch.randn(*shape)
        with torch.no_grad():
            ref = module(x).numpy()
        got = run_cnnrt_file(path, {report_input(path): x.numpy()})[0]
        assert_close(got, ref)
    return report, read_model(path)


def report_input(path) -> str:
    return read_model(path).inputs[0]


def test_small_cnn_dynamic_batch(tmp_path) -> None:
    torch.manual_seed(0)
    model = SmallCNN()
    _randomise_bn(model)
    report, mf = _check(model, tmp_path / "cnn.cnnrt", [(2, 3, 16, 16), (1, 3, 16, 16), (5, 3, 16, 16)],
                        input_names=["image"], output_names=["logits"], labels=[str(k) for k in range(10)])
    assert mf.inputs == ["image"] and mf.outputs == ["logits"]
    assert mf.tensor("image").shape == ["batch", 3, 16, 16]
    assert mf.tensor("logits").shape == ["batch", 10]
    ops = [n.op for n in mf.nodes]
    assert "SiLU" not in ops and "Sigmoid" not in ops  # SiLU fused into the stem conv's epilogue
    assert ops.count("Conv") == 3 and "Relu" not in ops and "Add" not in ops
    conv_acts = [n.activation for n in mf.nodes if n.op == "Conv"]
    assert conv_acts == [8, 1, 1]
    assert [n.residual for n in mf.nodes if n.op == "Conv"] == [False, False, True]
    reshape = next(n for n in mf.nodes if n.op == "Reshape")
    assert reshape.attrs["shape"] == [0, -1]
    assert "BatchNormalization" in ops  # BatchNorm1d after a Linear stays op 100
    assert "Gelu" in ops or any(n.activation == 9 for n in mf.nodes)
    expected = sum(p.numel() for p in model.parameters())
    assert report.param_count == expected and mf.metadata["param_count"] == str(expected)
    assert mf.metadata["source_format"] == "pytorch" and mf.metadata["source_opset"] == "17"
    assert report.source_format == "pytorch"


class MobileBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pw = nn.Conv2d(4, 16, 1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.se = nn.Conv2d(16, 16, 1)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        x = F.relu6(self.pw(x))
        x = F.hardswish(self.dw(x))
        x = x * F.hardsigmoid(self.se(F.adaptive_avg_pool2d(x, 1)))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return torch.softmax(self.head(x), dim=-1)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_mobile_block_across_opsets(tmp_path, opset) -> None:
    torch.manual_seed(1)
    _, mf = _check(MobileBlock(), tmp_path / "mb.cnnrt", [(2, 4, 8, 8), (3, 4, 8, 8)], opset=opset)
    ops = [n.op for n in mf.nodes]
    assert "Clip" not in ops and "HardSwish" not in ops  # relu6 and hardswish fused into convs
    acts = [n.activation for n in mf.nodes if n.op == "Conv"]
    assert acts[:2] == [3, 7]
    assert "GlobalAveragePool" in ops and "Resize" in ops and ops[-1] == "Softmax"
    assert mf.metadata["source_opset"] == str(opset)


def test_bilinear_upsample(tmp_path) -> None:
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    _, mf = _check(Up(), tmp_path / "up.cnnrt", [(1, 2, 5, 7), (2, 2, 5, 7)])
    resize = mf.nodes[0]
    assert resize.op == "Resize" and resize.attrs["mode"] == "linear"
    assert resize.attrs["coordinate_transformation_mode"] in ("pytorch_half_pixel", "half_pixel")


def test_static_batch_export(tmp_path) -> None:
    _, mf = _check(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)), tmp_path / "s.cnnrt", [(2, 3, 4)],
                   dynamic_batch=False)
    assert read_model(tmp_path / "s.cnnrt").tensor(mf.inputs[0]).shape == [2, 3, 4]


def test_module_needs_example_input(tmp_path) -> None:
    with pytest.raises(ConversionError, match="example_input"):
        convert(nn.ReLU(), tmp_path / "m.cnnrt")


def test_importing_converters_does_not_import_torch() -> None:
    code = "import sys, cnnrt.converters; assert 'torch' not in sys.modules, 'torch imported'"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
