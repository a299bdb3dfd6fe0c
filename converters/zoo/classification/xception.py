"""Xception (Chollet 2017; no torchvision model).

The structure of the paper's figure 5: an entry flow (two 3x3 convs, three
residual blocks of separable convs ending in strided max pooling), a middle flow
of eight residual blocks of three separable convs at 728 channels, an exit flow
(one residual block, two separable convs to 1536 and 2048 channels), global
average pooling, a linear classifier. Names follow the widely used port of the
original Keras weights (timm's legacy "xception": conv1, block1..block12, conv3,
conv4, fc), so that those checkpoints load. `width_mult` scales every width.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .common import scaled


class SeparableConv2d(nn.Module):
    """Depthwise kxk conv then pointwise 1x1 conv, no bias, no activation in between."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding, groups=in_channels,
                               bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """`reps` x (ReLU, separable 3x3, BN), then 3x3 max pooling if strided; plus a shortcut
    (a strided 1x1 conv + BN where the shape changes). `grow_first`: the first separable
    conv changes the width (else the last); `start_with_relu`: begin with a ReLU."""

    def __init__(self, in_channels: int, out_channels: int, reps: int, strides: int = 1,
                 start_with_relu: bool = True, grow_first: bool = True) -> None:
        super().__init__()
        if out_channels != in_channels or strides != 1:
            self.skip = nn.Conv2d(in_channels, out_channels, 1, stride=strides, bias=False)
            self.skipbn = nn.BatchNorm2d(out_channels)
        else:
            self.skip = None
        rep: list[nn.Module] = []
        for i in range(reps):
            if grow_first:
                inc, outc = (in_channels if i == 0 else out_channels), out_channels
            else:
                inc, outc = in_channels, (in_channels if i < reps - 1 else out_channels)
            rep += [nn.ReLU(inplace=i > 0), SeparableConv2d(inc, outc), nn.BatchNorm2d(outc)]
        if not start_with_relu:
            rep = rep[1:]
        if strides != 1:
            rep.append(nn.MaxPool2d(3, strides, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.skip is None else self.skipbn(self.skip(x))
        return self.rep(x) + skip


class Xception(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, width_mult: float = 1.0) -> None:
        super().__init__()
        s = lambda c: scaled(c, width_mult)  # noqa: E731
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(in_channels, s(32), 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(s(32))
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(s(32), s(64), 3, bias=False)
        self.bn2 = nn.BatchNorm2d(s(64))
        self.act2 = nn.ReLU(inplace=True)
        # entry flow
        self.block1 = Block(s(64), s(128), 2, 2, start_with_relu=False)
        self.block2 = Block(s(128), s(256), 2, 2)
        self.block3 = Block(s(256), s(728), 2, 2)
        # middle flow
        for i in range(4, 12):
            setattr(self, f"block{i}", Block(s(728), s(728), 3, 1))
        # exit flow
        self.block12 = Block(s(728), s(1024), 2, 2, grow_first=False)
        self.conv3 = SeparableConv2d(s(1024), s(1536), 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(s(1536))
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = SeparableConv2d(s(1536), s(2048), 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(s(2048))
        self.act4 = nn.ReLU(inplace=True)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(s(2048), num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = self.act3(self.bn3(self.conv3(x)))
        x = self.act4(self.bn4(self.conv4(x)))
        return self.fc(torch.flatten(self.global_pool(x), 1))


def xception(**kwargs) -> Xception:
    return Xception(**kwargs)
