"""EfficientNet-B0 and -B7 (Tan & Le 2019) with torchvision's structure and names.

B7 is B0 compound-scaled: channels x2.0 (rounded to multiples of 8), layers
per stage x3.1 (rounded up). Stochastic depth is identity in eval.
`width_mult` / `depth_mult` override the variant's factors (for narrow tests).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor, nn

from .common import ConvNormActivation, SqueezeExcitation, StochasticDepth, init_kaiming, make_divisible


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand (SiLU), kxk depthwise (SiLU), squeeze-excitation
    (squeezing to a quarter of the block's input channels), linear 1x1 projection; residual
    through stochastic depth when the shape is kept."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, input_channels: int, out_channels: int,
                 stochastic_depth_prob: float, norm_layer) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and input_channels == out_channels
        expanded = make_divisible(input_channels * expand_ratio, 8)
        layers: list[nn.Module] = []
        if expanded != input_channels:
            layers.append(ConvNormActivation(input_channels, expanded, kernel_size=1, norm_layer=norm_layer,
                                             activation_layer=nn.SiLU))
        layers.append(ConvNormActivation(expanded, expanded, kernel_size=kernel, stride=stride, groups=expanded,
                                         norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(SqueezeExcitation(expanded, max(1, input_channels // 4),
                                        activation=partial(nn.SiLU, inplace=True)))
        layers.append(ConvNormActivation(expanded, out_channels, kernel_size=1, norm_layer=norm_layer,
                                         activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + x
        return result


# expand ratio, kernel, first stride, input channels, output channels, layers (B0; paper table 1).
EFFICIENTNET_B0_STAGES = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                          (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


class EfficientNet(nn.Module):
    def __init__(self, width_mult: float, depth_mult: float, dropout: float, stochastic_depth_prob: float = 0.2,
                 num_classes: int = 1000, norm_layer=None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = lambda c: make_divisible(c * width_mult, 8)  # noqa: E731
        stages = [(t, k, s, width(cin), width(cout), int(math.ceil(n * depth_mult)))
                  for t, k, s, cin, cout, n in EFFICIENTNET_B0_STAGES]
        layers: list[nn.Module] = [ConvNormActivation(3, stages[0][3], kernel_size=3, stride=2,
                                                      norm_layer=norm_layer, activation_layer=nn.SiLU)]
        total_blocks = sum(stage[5] for stage in stages)
        block_id = 0
        for t, k, s, cin, cout, n in stages:
            blocks = []
            for i in range(n):
                probability = stochastic_depth_prob * block_id / total_blocks
                blocks.append(MBConv(t, k, s if i == 0 else 1, cin if i == 0 else cout, cout, probability,
                                     norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
        last_in = stages[-1][4]
        layers.append(ConvNormActivation(last_in, 4 * last_in, kernel_size=1, norm_layer=norm_layer,
                                         activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(4 * last_in, num_classes))
        init_kaiming(self, linear_uniform=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_b0(*, width_mult: float = 1.0, depth_mult: float = 1.0, dropout: float = 0.2,
                    **kwargs) -> EfficientNet:
    return EfficientNet(width_mult, depth_mult, dropout, **kwargs)


def efficientnet_b7(*, width_mult: float = 2.0, depth_mult: float = 3.1, dropout: float = 0.5,
                    **kwargs) -> EfficientNet:
    kwargs.setdefault("norm_layer", partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))
    return EfficientNet(width_mult, depth_mult, dropout, **kwargs)
