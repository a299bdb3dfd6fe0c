"""RegNetX-400MF and RegNetY-400MF (Radosavovic et al. 2020) with torchvision's names.

The stage widths, depths and group widths are those that the paper's design
rule (w_0, w_a, w_m, quantised to multiples of 8) gives for these two models;
Y adds squeeze-excitation (a quarter of the block's input width).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from .common import ConvNormActivation, SqueezeExcitation, scaled


class BottleneckTransform(nn.Sequential):
    """1x1 (a), grouped 3x3 (b), optional squeeze-excitation (se), 1x1 without activation (c)."""

    def __init__(self, width_in: int, width_out: int, stride: int, group_width: int,
                 bottleneck_multiplier: float, se_ratio: float | None) -> None:
        width = int(round(width_out * bottleneck_multiplier))
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["a"] = ConvNormActivation(width_in, width, kernel_size=1)
        layers["b"] = ConvNormActivation(width, width, kernel_size=3, stride=stride, groups=width // group_width)
        if se_ratio:
            layers["se"] = SqueezeExcitation(width, int(round(se_ratio * width_in)), activation=nn.ReLU)
        layers["c"] = ConvNormActivation(width, width_out, kernel_size=1, activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """x + f(x) (or proj(x) + f(x) when the shape changes), then ReLU."""

    def __init__(self, width_in: int, width_out: int, stride: int, group_width: int,
                 bottleneck_multiplier: float = 1.0, se_ratio: float | None = None) -> None:
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = ConvNormActivation(width_in, width_out, kernel_size=1, stride=stride, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, group_width, bottleneck_multiplier, se_ratio)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class AnyStage(nn.Sequential):
    def __init__(self, width_in: int, width_out: int, stride: int, depth: int, group_width: int,
                 se_ratio: float | None, stage_index: int) -> None:
        super().__init__()
        for i in range(depth):
            self.add_module(f"block{stage_index}-{i}", ResBottleneckBlock(
                width_in if i == 0 else width_out, width_out, stride if i == 0 else 1, group_width, 1.0, se_ratio))


class RegNet(nn.Module):
    def __init__(self, depths: list[int], widths: list[int], group_width: int, se_ratio: float | None = None,
                 num_classes: int = 1000, stem_width: int = 32) -> None:
        super().__init__()
        self.stem = ConvNormActivation(3, stem_width, kernel_size=3, stride=2)
        stages = []
        width_in = stem_width
        for i, (depth, width) in enumerate(zip(depths, widths)):
            stages.append((f"block{i + 1}", AnyStage(width_in, width, 2, depth, min(group_width, width),
                                                     se_ratio, i + 1)))
            width_in = width
        self.trunk_output = nn.Sequential(OrderedDict(stages))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=(2.0 / fan_out) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


def _widths(widths: list[int], group_width: int, width_mult: float) -> list[int]:
    return [scaled(w, width_mult, group_width) for w in widths]


def regnet_y_400mf(*, width_mult: float = 1.0, **kwargs) -> RegNet:
    return RegNet([1, 3, 6, 6], _widths([48, 104, 208, 440], 8, width_mult), group_width=8, se_ratio=0.25,
                  **kwargs)


def regnet_x_400mf(*, width_mult: float = 1.0, **kwargs) -> RegNet:
    return RegNet([1, 2, 7, 12], _widths([32, 64, 160, 400], 16, width_mult), group_width=16, **kwargs)
