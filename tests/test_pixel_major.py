"""The pixel-major GEMM through the public API: on small planes (7 x 7,
14 x 14) the convolutions turn their product around (rows = pixels, vectors
along output channels) with a tile whose height divides the plane (7x32 for
49 pixels, 14x32 for 196), in k blocks of whole input channels. Outputs match
PyTorch and are bit-identical for any thread count; the op tests run every
conv case with the orientation forced both ways (tests/test_conv_paths.py)."""
from __future__ import annotations

import numpy as np
import pytest

import cnnrt
from conftest import convert_torch, max_rel_error, torch_output


def _small_plane_net():
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.expand = nn.Conv2d(64, 300, 1)             # 300 channels: a ragged last panel
            self.project = nn.Conv2d(300, 64, 1, bias=False)  # k = 300: two k blocks (256 + 44)

        def forward(self, x):
            return torch.relu(self.project(torch.relu(self.expand(x))) + x)

    torch.manual_seed(11)
    return nn.Sequential(
        nn.Conv2d(40, 64, 1),                        # 14 x 14, 1x1: stays channel-major (reads X in place)
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=2, padding=1),   # 7 x 7 out, k = 576: 7x32 tiles, 3 k blocks
        nn.SiLU(),
        Bottleneck(),
        nn.Conv2d(64, 128, 3, padding=1, groups=2),  # grouped, k = 288 per group: two k blocks
        nn.Flatten(),
    ).eval()


@pytest.fixture(scope="module")
def small_plane_file(tmp_path_factory):
    return convert_torch(tmp_path_factory, "small_plane_net", _small_plane_net(), (1, 40, 14, 14))


def test_small_plane_convolutions_match_pytorch(small_plane_file, rng):
    model = cnnrt.load(small_plane_file, threads=1)
    x = rng.standard_normal((2, 40, 14, 14), dtype=np.float32)
    expected = torch_output(_small_plane_net(), x)
    assert np.std(expected) > 1e-3
    assert max_rel_error(model.run(x), expected) < 1e-4
    kernels = [s["kernel"] for s in model.node_stats() if "conv" in s["kernel"]]
    if any("avx512" in k for k in kernels):
        # The tiles this CPU level has: the rule picks them by padding alone.
        assert "1x1" in kernels[0] and "pm_" not in kernels[0], kernels
        assert sum("pm_7x32" in k for k in kernels) == 4, kernels
    elif any("avx2" in k for k in kernels):
        # AVX2: 6x16 channel-major, 5x16 pixel-major (50 rows for 49 pixels).
        assert "1x1" in kernels[0] and "pm_" not in kernels[0], kernels
        assert sum("pm_5x16" in k for k in kernels) == 4, kernels


@pytest.mark.parametrize("threads", [2, 3])
def test_small_plane_outputs_bit_identical_for_any_thread_count(small_plane_file, rng, threads):
    x = rng.standard_normal((3, 40, 14, 14), dtype=np.float32)
    y1 = cnnrt.load(small_plane_file, threads=1).run(x)
    yn = cnnrt.load(small_plane_file, threads=threads).run(x)
    assert np.array_equal(y1, yn)
