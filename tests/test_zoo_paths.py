"""Every zoo architecture converts along every path and matches PyTorch (fast
tier: reduced sizes). Paths: the module itself, TorchScript ONNX export at
opsets 13 and 17, a .pth state dict with --arch, and the dynamo exporter
(opset 18+, weights in an external data file) on representative models.
The module-path file also runs at batch 1 and 4. Bounds: max|Δ|/max|ref| <= 1e-4, or for
the deepest nets (ResNet-101/152, Inception-v3, EfficientNet-B7, where PyTorch's own
float32 result is 1e-4..5e-4 away from float64) no further from float64 than 4x PyTorch
float32 (ZooResult.within_bounds)."""
from __future__ import annotations

import pytest
import torch

from cnnrt.converters import zoo
from zoo_check import check

REL_BOUND = 1e-4
# The dynamo exporter is slow (seconds per model): a handful that cover the op mix.
DYNAMO = ("resnet18", "mobilenet_v3_small", "efficientnet_b0", "unet", "yolov5n")
# Architectures cnnrt cannot convert yet, with the reason (kept in step with the zoo tests).
KNOWN_UNSUPPORTED: dict[str, str] = {}

CASES = [(name, path) for name in zoo.names() for path in ("module", "onnx13", "onnx17", "pth")]
CASES += [(name, "dynamo") for name in DYNAMO]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # Two cores shared with cnnrt's own threads: torch's pool would oversubscribe them.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name,path", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_zoo_model_converts_and_matches(name, path, tmp_path):
    if name in KNOWN_UNSUPPORTED:
        pytest.xfail(KNOWN_UNSUPPORTED[name])
    batches = (1, 4) if path == "module" else (2,)
    for r in check(name, path, str(tmp_path), reduced=True, batches=batches):
        problem = r.within_bounds(REL_BOUND)
        assert not problem, f"{name}/{path} batch {r.batch}: {problem}"
