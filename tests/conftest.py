"""Shared fixtures: small models converted once per test session."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))


def max_rel_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max|actual - expected| / max(1e-12, max|expected|): the model-level error measure."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    scale = max(1e-12, float(np.max(np.abs(expected)))) if expected.size else 1.0
    return float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0


def small_cnn():
    """A small CNN touching the fused paths: conv+BN+ReLU, residual add, depthwise,
    pooling, SiLU, flatten and two linear layers. Seeded; BN statistics set so that
    activations stay of order 1."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.dw(y))
            return torch.relu(y + x)

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.SiLU())
            self.block = Block(16)
            self.pool = nn.MaxPool2d(2)
            self.head = nn.Sequential(nn.Conv2d(16, 32, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1))
            self.fc1 = nn.Linear(32, 24)
            self.fc2 = nn.Linear(24, 10)

        def forward(self, x):
            x = self.pool(self.block(self.stem(x)))
            x = torch.flatten(self.head(x), 1)
            return self.fc2(torch.relu(self.fc1(x)))

    model = SmallCNN()
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
            m.reset_running_stats()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 3, 32, 32, generator=gen))
    return model.eval()


@pytest.fixture(scope="session")
def small_cnn_model():
    return small_cnn()


@pytest.fixture(scope="session")
def small_cnn_file(tmp_path_factory, small_cnn_model):
    """The small CNN converted to .cnnrt (dynamic batch)."""
    import torch

    import cnnrt

    path = tmp_path_factory.mktemp("models") / "small_cnn.cnnrt"
    cnnrt.convert(small_cnn_model, str(path), example_input=torch.zeros(1, 3, 32, 32))
    return str(path)


def convert_torch(tmp_path_factory, name: str, module, example_shape) -> str:
    """`module` converted to a .cnnrt file (dynamic batch) in a session temp dir; its path."""
    import torch

    import cnnrt

    path = tmp_path_factory.mktemp("models") / f"{name}.cnnrt"
    cnnrt.convert(module, str(path), example_input=torch.zeros(*example_shape))
    return str(path)


def torch_output(module, x: np.ndarray) -> np.ndarray:
    """PyTorch's output for the float32 batch x."""
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.fixture()
def rng():
    return np.random.default_rng(1234)
