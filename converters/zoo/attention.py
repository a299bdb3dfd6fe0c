"""ResNets with attention inside the bottleneck: SE-ResNet-50 and CBAM-ResNet-50.

The ResNet skeleton keeps torchvision's parameter names (conv1, bn1, layer1..4,
fc; Bottleneck conv1/bn1/conv2/bn2/conv3/bn3/downsample) and its options
(`replace_stride_with_dilation`, `width_per_group`); the attention block sits
after bn3, before the residual addition, as in both papers:

- squeeze-and-excitation (Hu et al. 2018): global average pool -> 1x1 conv
  (C -> C/16) -> ReLU -> 1x1 conv (C/16 -> C) -> sigmoid -> scale the channels;
- CBAM (Woo et al. 2018): channel attention, a shared MLP over the average- and
  max-pooled vectors, summed, sigmoid; then spatial attention, the channel-wise
  mean and max concatenated -> 7x7 conv (+ BN, as the authors' code) -> sigmoid.

`width` scales every stage's channel count (64 in the full network) so that
tests can run a narrow network with the same structure; `ResNet` with
`attention=None` is torchvision's plain ResNet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .registry import register

AttentionFactory = Callable[[int], nn.Module]


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        squeezed = max(1, channels // reduction)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avgpool(x)))))


class ChannelAttention(nn.Module):
    """CBAM's channel attention: one MLP applied to the average- and the max-pooled vector."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        squeezed = max(1, channels // reduction)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.maxpool = nn.AdaptiveMaxPool2d(1)
        self.mlp = nn.Sequential(nn.Conv2d(channels, squeezed, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(squeezed, channels, 1))
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.mlp(self.avgpool(x)) + self.mlp(self.maxpool(x)))


class SpatialAttention(nn.Module):
    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * self.sigmoid(self.bn(self.conv(pooled)))


class CBAM(nn.Module):
    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3x3 conv), with an optional attention block after bn3."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 attention: AttentionFactory | None = None) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=dilation, groups=groups,
                               dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        if attention is not None:
            self.attention = attention(planes * self.expansion)
        else:
            self.attention = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.attention is not None:
            out = self.attention(out)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet with Bottleneck blocks; `width` is the first stage's planes (64)."""

    def __init__(self, layers: Sequence[int] = (3, 4, 6, 3), num_classes: int = 1000, groups: int = 1,
                 width_per_group: int = 64, replace_stride_with_dilation: Sequence[bool] | None = None,
                 attention: AttentionFactory | None = None, width: int = 64) -> None:
        super().__init__()
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"found {replace_stride_with_dilation}")
        self.inplanes = width
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        self._attention = attention
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(width * 4, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(width * 8, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * Bottleneck.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            # The stride becomes a dilation of every later 3x3 conv (output stride stays 8 or 16).
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                             previous_dilation, self._attention)]
        self.inplanes = planes * Bottleneck.expansion
        for _ in range(1, blocks):
            layers.append(Bottleneck(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                     dilation=self.dilation, attention=self._attention))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(num_classes: int = 1000, width: int = 64, layers: Sequence[int] = (3, 4, 6, 3),
             replace_stride_with_dilation: Sequence[bool] | None = None) -> ResNet:
    """Plain torchvision-layout ResNet-50 (the segmentation models' fallback backbone)."""
    return ResNet(layers, num_classes, replace_stride_with_dilation=replace_stride_with_dilation, width=width)


def se_resnet50(num_classes: int = 1000, reduction: int = 16, width: int = 64,
                layers: Sequence[int] = (3, 4, 6, 3)) -> ResNet:
    """SE-ResNet-50: 28,088,024 parameters at 1000 classes (the SENet paper's 28.1M)."""
    return ResNet(layers, num_classes, attention=lambda c: SqueezeExcitation(c, reduction), width=width)


def cbam_resnet50(num_classes: int = 1000, reduction: int = 16, kernel_size: int = 7, width: int = 64,
                  layers: Sequence[int] = (3, 4, 6, 3)) -> ResNet:
    """CBAM-ResNet-50 (the CBAM paper's 28.09M)."""
    return ResNet(layers, num_classes, attention=lambda c: CBAM(c, reduction, kernel_size), width=width)


_REDUCED = {"num_classes": 10, "width": 8, "layers": (1, 2, 1, 1)}
register("se_resnet50", se_resnet50, (3, 224, 224), {**_REDUCED, "reduction": 4}, (3, 64, 64), "attention")
register("cbam_resnet50", cbam_resnet50, (3, 224, 224), {**_REDUCED, "reduction": 4}, (3, 64, 64), "attention")
