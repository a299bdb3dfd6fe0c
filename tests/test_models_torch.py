"""The zoo of tests/models.py: structure, sane outputs, and a clean ONNX export.

These check the test models themselves (before cnnrt enters): parameter counts
equal torchvision's, outputs are finite and depend on the input, and the
ONNX export runs in ONNX Runtime with torch's numbers (max error <= 1e-4 *
max|torch output|). Reduced configurations keep every test to a second or so.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import models as M
from onnx_builders import run_ort

torch.set_num_threads(2)


def test_resnet18_parameter_count_matches_torchvision() -> None:
    assert M.count_parameters(M.resnet18(num_classes=1000)) == 11_689_512


def test_mobilenet_v2_parameter_count_matches_torchvision() -> None:
    assert M.count_parameters(M.mobilenet_v2(num_classes=1000)) == 3_504_872


def test_lenet5_parameter_count() -> None:
    # 156 + 2416 + 48120 + 10164 + 850: the classic LeNet-5 layer sizes.
    assert M.count_parameters(M.lenet5()) == 61_706


def test_resnet18_torchvision_names() -> None:
    names = set(M.resnet18().state_dict())
    for expected in [
        "conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.1.bn2.weight",
        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight",
        "fc.weight", "fc.bias",
    ]:  # fmt: skip
        assert expected in names, expected
    assert "layer1.0.downsample.0.weight" not in names  # stride 1, same width: no projection


def test_mobilenet_v2_torchvision_names() -> None:
    names = set(M.mobilenet_v2().state_dict())
    for expected in [
        "features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight", "features.1.conv.1.weight",
        "features.2.conv.0.0.weight", "features.2.conv.3.running_var", "features.18.0.weight", "classifier.1.weight",
    ]:  # fmt: skip
        assert expected in names, expected
    assert len(M.mobilenet_v2().features) == 19


@pytest.mark.parametrize("input_size", [28, 32])
def test_lenet5_input_sizes(input_size: int) -> None:
    model, x = M.make_model("lenet5", input_size=input_size)
    assert x.shape == (1, 1, input_size, input_size)
    assert model(x).shape == (1, 10)


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_outputs_finite_and_input_dependent(name: str) -> None:
    model, x = M.make_model(name)
    batch = torch.randn((8, *x.shape[1:]), generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        y = model(batch)
    assert y.shape == (8, 10)
    assert torch.isfinite(y).all()
    # Outputs that barely change with the input would make any comparison
    # with cnnrt pass trivially.
    spread = y.std(dim=0).mean() / y.abs().mean()
    assert spread > 0.3, f"{name}: std across inputs / mean |output| = {spread:.3f}"
    assert len(set(y.argmax(dim=1).tolist())) > 1, f"{name}: same argmax for every input"


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_make_model_is_deterministic(name: str) -> None:
    a, xa = M.make_model(name, seed=3)
    b, xb = M.make_model(name, seed=3)
    assert torch.equal(xa, xb)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    c, xc = M.make_model(name, seed=4)
    assert not torch.equal(xa, xc)


def test_reestimate_batchnorm_normalises_activations() -> None:
    model, x = M.make_model("resnet18")
    seen: list[torch.Tensor] = []
    # clone: the ReLU after bn1 works in place.
    hook = model.layer3[0].bn1.register_forward_hook(lambda m, i, o: seen.append(o.clone()))
    with torch.no_grad():
        model(torch.randn((16, *x.shape[1:]), generator=torch.Generator().manual_seed(9)))
    hook.remove()
    out = seen[0].transpose(0, 1).reshape(seen[0].shape[1], -1)
    # BN outputs should now be roughly standardised per channel.
    assert out.mean(dim=1).abs().mean() < 0.3
    assert 0.6 < out.std(dim=1).mean() < 1.4
    assert not model.training and not model.layer1[0].bn1.training
    assert model.layer1[0].bn1.momentum == 0.1  # restored


def export_onnx(model: torch.nn.Module, x: torch.Tensor) -> bytes:
    """The export recipe the converter tests use (TorchScript exporter, opset 17)."""
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        (x,),
        buffer,
        dynamo=False,
        opset_version=17,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_onnx_export_matches_torch(name: str) -> None:
    model, x = M.make_model(name)
    onnx_bytes = export_onnx(model, x)
    # A different batch size than the export's exercises the dynamic axis.
    batch = torch.randn((3, *x.shape[1:]), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model(batch).numpy()
    got = run_ort(onnx_bytes, {"input": batch.numpy()}, optimize=True, threads=2)[0]
    assert got.shape == expected.shape
    err = np.abs(got - expected).max()
    assert err <= 1e-4 * np.abs(expected).max(), f"{name}: max|ort - torch| = {err:.3g}"
    assert (got.argmax(1) == expected.argmax(1)).all()
