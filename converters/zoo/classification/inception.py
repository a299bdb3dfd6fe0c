"""GoogLeNet (Szegedy et al. 2014) and Inception-v3 (Szegedy et al. 2015), with torchvision's names.

Both build auxiliary classifiers by default (`aux_logits=True`, as the published
checkpoints hold them); they only run in training mode, so an exported eval
model has the main classifier alone. `width_mult` (a cnnrt addition, default 1)
scales every channel count, for narrow test configurations.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .common import BasicConv2d, scaled


def _transform_input(x: Tensor) -> Tensor:
    """ImageNet normalisation (mean/std) re-expressed for inputs normalised to [-1, 1].

    One broadcast multiply-add per channel (torchvision slices the channels and
    concatenates them, which exports to Gather nodes; the arithmetic is the same)."""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    scale = torch.tensor([s / 0.5 for s in std], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    shift = torch.tensor([(m - 0.5) / 0.5 for m in mean], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x * scale + shift


def _init_truncated_normal(model: nn.Module, default_std: float) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            std = float(getattr(m, "stddev", default_std))
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- GoogLeNet

class Inception(nn.Module):
    """Four parallel branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> "5x5"; 3x3 max pool -> 1x1.

    The third branch uses a 3x3 convolution, as torchvision's (and its
    checkpoint's) does, where the paper has 5x5."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNetAux(nn.Module):
    """Auxiliary classifier: 4x4 average, 1x1 conv, two fully-connected layers."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7,
                 conv_channels: int = 128, hidden: int = 1024) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, conv_channels, kernel_size=1)
        self.fc1 = nn.Linear(conv_channels * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


# (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) per inception module (paper, table 1).
GOOGLENET_MODULES = {
    "inception3a": (64, 96, 128, 16, 32, 32), "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64), "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64), "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128),
    "inception5a": (256, 160, 320, 32, 128, 128), "inception5b": (384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool | None = None, dropout: float = 0.2, dropout_aux: float = 0.7, *,
                 width_mult: float = 1.0) -> None:
        super().__init__()
        s = lambda c: scaled(c, width_mult)  # noqa: E731
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(3, s(64), kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(s(64), s(64), kernel_size=1)
        self.conv3 = BasicConv2d(s(64), s(192), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        channels = s(192)
        for name, config in GOOGLENET_MODULES.items():
            module = Inception(channels, *(s(c) for c in config))
            setattr(self, name, module)
            channels = module.out_channels
            if name == "inception3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "inception4e":
                self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        if aux_logits:
            self.aux1 = GoogLeNetAux(self.inception4a.out_channels, num_classes, dropout_aux, s(128), s(1024))
            self.aux2 = GoogLeNetAux(self.inception4d.out_channels, num_classes, dropout_aux, s(128), s(1024))
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, num_classes)
        if init_weights is None or init_weights:
            _init_truncated_normal(self, 0.01)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """Logits; in training with aux_logits, (logits, aux2 logits, aux1 logits)."""
        if self.transform_input:
            x = _transform_input(x)
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return x, aux2, aux1
        return x


def googlenet(**kwargs) -> GoogLeNet:
    return GoogLeNet(**kwargs)


# ----------------------------------------------------------------------------- Inception-v3

Scale = Callable[[int], int]


class InceptionA(nn.Module):
    """35x35 module: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | 3x3 average -> 1x1."""

    def __init__(self, in_channels: int, pool_features: int, s: Scale = int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, s(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(s(48), s(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)
        self.out_channels = s(64) + s(64) + s(96) + pool_features

    def forward(self, x: Tensor) -> Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([self.branch1x1(x), b5, b3, pool], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | 3x3/2 max pool."""

    def __init__(self, in_channels: int, s: Scale = int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, s(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, stride=2)
        self.out_channels = s(384) + s(96) + in_channels

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 module with factorised 7x7 convolutions (1x7 and 7x1)."""

    def __init__(self, in_channels: int, channels_7x7: int, s: Scale = int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, s(192), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, s(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, s(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, s(192), kernel_size=1)
        self.out_channels = 4 * s(192)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([self.branch1x1(x), b7, d, pool], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | 3x3/2 max pool."""

    def __init__(self, in_channels: int, s: Scale = int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, s(192), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(s(192), s(320), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, s(192), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(s(192), s(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(s(192), s(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(s(192), s(192), kernel_size=3, stride=2)
        self.out_channels = s(320) + s(192) + in_channels

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 module whose 3x3 branches split into parallel 1x3 and 3x1 convolutions."""

    def __init__(self, in_channels: int, s: Scale = int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, s(320), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, s(384), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(s(384), s(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(s(384), s(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, s(448), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(448), s(384), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(s(384), s(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(s(384), s(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, s(192), kernel_size=1)
        self.out_channels = s(320) + 4 * s(384) + s(192)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([self.branch1x1(x), b3, d, pool], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on the 17x17 grid: 5x5/3 average, 1x1 conv, 5x5 conv, global average, linear."""

    def __init__(self, in_channels: int, num_classes: int, s: Scale = int) -> None:
        super().__init__()
        self.conv0 = BasicConv2d(in_channels, s(128), kernel_size=1)
        self.conv1 = BasicConv2d(s(128), s(768), kernel_size=5)
        self.conv1.stddev = 0.01
        self.fc = nn.Linear(s(768), num_classes)
        self.fc.stddev = 0.001

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


class Inception3(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool | None = None, dropout: float = 0.5, *, width_mult: float = 1.0) -> None:
        super().__init__()
        s = lambda c: scaled(c, width_mult)  # noqa: E731
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, s(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(s(32), s(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(s(32), s(64), kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(s(64), s(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(s(80), s(192), kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(s(192), pool_features=s(32), s=s)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out_channels, pool_features=s(64), s=s)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out_channels, pool_features=s(64), s=s)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out_channels, s=s)
        self.Mixed_6b = InceptionC(self.Mixed_6a.out_channels, channels_7x7=s(128), s=s)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out_channels, channels_7x7=s(160), s=s)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out_channels, channels_7x7=s(160), s=s)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out_channels, channels_7x7=s(192), s=s)
        self.AuxLogits = InceptionAux(self.Mixed_6e.out_channels, num_classes, s=s) if aux_logits else None
        self.Mixed_7a = InceptionD(self.Mixed_6e.out_channels, s=s)
        self.Mixed_7b = InceptionE(self.Mixed_7a.out_channels, s=s)
        self.Mixed_7c = InceptionE(self.Mixed_7b.out_channels, s=s)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.Mixed_7c.out_channels, num_classes)
        if init_weights is None or init_weights:
            _init_truncated_normal(self, 0.1)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """Logits; in training with aux_logits, (logits, aux logits)."""
        if self.transform_input:
            x = _transform_input(x)
        x = self.maxpool1(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))))
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
                      self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
        if self.training and self.aux_logits:
            return x, aux
        return x


def inception_v3(**kwargs) -> Inception3:
    return Inception3(**kwargs)
