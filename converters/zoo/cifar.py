"""CIFAR-10 networks of the textbook exercises: blocks of 3x3 convs, max pool between
blocks, global average pool, one fully connected layer to 10 classes.

- `cifar10_3block`: channels [64, 128, 256], two biased 3x3 convs + ReLU per
  block, no BatchNorm: exactly 1,147,978 parameters
  (1,792 + 36,928 + 73,856 + 147,584 + 295,168 + 590,080 convs + 2,570 FC);
- `cifar10_3block_bn`: the same with Conv (no bias) - BN - ReLU;
- `cifar10_small`: Conv-BN-ReLU-Pool x3 with channels [32, 64, 128], one conv per block.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .registry import register


class CifarNet(nn.Module):
    """`len(channels)` blocks of `convs_per_block` 3x3 convs; a 2x2 max pool after every
    block but the last (or after all, with `pool_last`); GAP; FC."""

    def __init__(self, channels: Sequence[int] = (64, 128, 256), convs_per_block: int = 2,
                 batch_norm: bool = False, num_classes: int = 10, in_channels: int = 3,
                 pool_last: bool = False) -> None:
        super().__init__()
        blocks = []
        previous = in_channels
        for k, width in enumerate(channels):
            layers: list[nn.Module] = []
            for _ in range(convs_per_block):
                layers.append(nn.Conv2d(previous, width, 3, padding=1, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.ReLU(inplace=True))
                previous = width
            if pool_last or k < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(previous, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def cifar10_3block(num_classes: int = 10, channels: Sequence[int] = (64, 128, 256)) -> CifarNet:
    return CifarNet(channels, 2, batch_norm=False, num_classes=num_classes)


def cifar10_3block_bn(num_classes: int = 10, channels: Sequence[int] = (64, 128, 256)) -> CifarNet:
    return CifarNet(channels, 2, batch_norm=True, num_classes=num_classes)


def cifar10_small(num_classes: int = 10, channels: Sequence[int] = (32, 64, 128)) -> CifarNet:
    return CifarNet(channels, 1, batch_norm=True, num_classes=num_classes, pool_last=True)


# The exercises' networks are small already: reduced = full width, the 32x32 CIFAR input.
register("cifar10_3block", cifar10_3block, (3, 32, 32), {}, (3, 32, 32), "classification")
register("cifar10_3block_bn", cifar10_3block_bn, (3, 32, 32), {}, (3, 32, 32), "classification")
register("cifar10_small", cifar10_small, (3, 32, 32), {}, (3, 32, 32), "classification")
