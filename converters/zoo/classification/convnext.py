"""ConvNeXt-Tiny (Liu et al. 2022) with torchvision's structure and names.

Each block: 7x7 depthwise conv, LayerNorm over channels (channels-last), an
MLP of two Linear layers with GELU (4x expansion), a learned per-channel
layer scale, stochastic depth (identity in eval), residual add. Exported to
ONNX, the LayerNorms become LayerNormalization (opset 17).
`width_mult` (a cnnrt addition, default 1) scales the stage widths 96-192-384-768.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .common import ConvNormActivation, StochasticDepth, scaled


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x: Tensor) -> Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    def __init__(self, dim: int, layer_scale: float, stochastic_depth_prob: float) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)

    def forward(self, x: Tensor) -> Tensor:
        return self.stochastic_depth(self.layer_scale * self.block(x)) + x


# (channels, channels of the next stage or None, blocks) per stage of ConvNeXt-T.
CONVNEXT_TINY_STAGES = [(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)]


class ConvNeXt(nn.Module):
    def __init__(self, stages: list[tuple[int, int | None, int]], stochastic_depth_prob: float = 0.0,
                 layer_scale: float = 1e-6, num_classes: int = 1000) -> None:
        super().__init__()
        norm_layer = partial(LayerNorm2d, eps=1e-6)
        layers: list[nn.Module] = [ConvNormActivation(3, stages[0][0], kernel_size=4, stride=4, padding=0,
                                                      norm_layer=norm_layer, activation_layer=None, bias=True)]
        total_blocks = sum(stage[2] for stage in stages)
        block_id = 0
        for channels, next_channels, blocks in stages:
            stage = []
            for _ in range(blocks):
                stage.append(CNBlock(channels, layer_scale,
                                     stochastic_depth_prob * block_id / (total_blocks - 1.0)))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if next_channels is not None:
                layers.append(nn.Sequential(norm_layer(channels),
                                            nn.Conv2d(channels, next_channels, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = stages[-1][1] or stages[-1][0]
        self.classifier = nn.Sequential(norm_layer(last), nn.Flatten(1), nn.Linear(last, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        # .contiguous() changes no value: the blocks end in a permute, and on that
        # channels-last tensor torch.export lowers adaptive_avg_pool2d to as_strided
        # index arithmetic (a run-time Gather) instead of a pooling op.
        return self.classifier(self.avgpool(self.features(x).contiguous()))


def convnext_tiny(*, width_mult: float = 1.0, stochastic_depth_prob: float = 0.1, **kwargs) -> ConvNeXt:
    stages = [(scaled(c, width_mult), None if n is None else scaled(n, width_mult), b)
              for c, n, b in CONVNEXT_TINY_STAGES]
    return ConvNeXt(stages, stochastic_depth_prob=stochastic_depth_prob, **kwargs)
