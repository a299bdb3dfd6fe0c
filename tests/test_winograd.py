"""Winograd convolution through the public API: the layers that qualify say so
in their kernel name, outputs match PyTorch, and are bit-identical for any
thread count (native/tests/test_winograd.c tests the kernels and the op)."""
from __future__ import annotations

import numpy as np
import pytest

import cnnrt
from conftest import convert_torch, max_rel_error, torch_output


def _winograd_net():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

        def forward(self, x):
            return torch.relu(self.conv2(torch.relu(self.conv1(x))) + x)

    torch.manual_seed(7)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),  # 3 input channels: a GEMM (im2col or direct)
        nn.ReLU(),
        Block(16),                       # 18 x 18: F(4,3), ragged tiles
        nn.Conv2d(16, 40, 3, stride=3),  # stride 3: im2col + GEMM (no direct tile takes it)
        nn.ReLU(),
        Block(40),                       # 6 x 6: F(2,3)
        nn.Conv2d(40, 24, 3),            # unpadded, 4 x 4 output: F(2,3)
        nn.Flatten(),
    ).eval()


@pytest.fixture(scope="module")
def winograd_net_file(tmp_path_factory):
    return convert_torch(tmp_path_factory, "winograd_net", _winograd_net(), (1, 3, 18, 18))


def test_winograd_layers_match_pytorch_and_name_their_tile(winograd_net_file, rng):
    model = cnnrt.load(winograd_net_file, threads=1)
    x = rng.standard_normal((2, 3, 18, 18), dtype=np.float32)
    expected = torch_output(_winograd_net(), x)
    assert max_rel_error(model.run(x), expected) < 1e-4
    assert np.std(expected) > 1e-3
    kernels = [s["kernel"] for s in model.node_stats() if "conv" in s["kernel"]]
    assert sum("winograd_f43" in k for k in kernels) == 2, kernels
    assert sum("winograd_f23" in k for k in kernels) == 3, kernels
    assert sum("im2col" in k or "direct" in k for k in kernels) == 2, kernels


@pytest.mark.parametrize("threads", [2, 3])
def test_winograd_outputs_bit_identical_for_any_thread_count(winograd_net_file, rng, threads):
    x = rng.standard_normal((3, 3, 18, 18), dtype=np.float32)
    y1 = cnnrt.load(winograd_net_file, threads=1).run(x)
    yn = cnnrt.load(winograd_net_file, threads=threads).run(x)
    assert np.array_equal(y1, yn)
