"""Small networks for mobile CPUs: SqueezeNet 1.1, ShuffleNetV2, MobileNetV1/V2/V3.

All but MobileNetV1 have torchvision's structure and names. MobileNetV1
(Howard et al. 2017) is not in torchvision; its names are cnnrt's own:
`stem`, `blocks.N.depthwise`, `blocks.N.pointwise`, `classifier`.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from .common import ConvNormActivation, SqueezeExcitation, init_kaiming, make_divisible

# ----------------------------------------------------------------------------- SqueezeNet


class Fire(nn.Module):
    """1x1 squeeze, then parallel 1x1 and 3x3 expands, concatenated."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1 (the 2.4x cheaper revision of Iandola et al. 2016); a 1x1 conv classifier."""

    def __init__(self, version: str = "1_1", num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        if version != "1_1":
            raise ValueError(f"SqueezeNet: only version '1_1' is in the zoo, found {version!r}")
        self.num_classes = num_classes
        pool = partial(nn.MaxPool2d, kernel_size=3, stride=2, ceil_mode=True)
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        )
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet1_1(**kwargs) -> SqueezeNet:
    return SqueezeNet("1_1", **kwargs)


# ----------------------------------------------------------------------------- ShuffleNetV2


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of `groups` groups: (n, g*c, h, w) -> (n, c*g, h, w) by view/transpose/view."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, channels, height, width)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit (Ma et al. 2018). Stride 1: split the channels in two, transform one half.
    Stride 2: both branches see the whole input and downsample. Then concatenate and shuffle."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features * 2:
            raise ValueError(f"ShuffleUnit: stride 1 needs inp == oup, found inp {inp}, oup {oup}")
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, bias=False, groups=inp), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, 1, bias=False), nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch_features, branch_features, 1, bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True),
            nn.Conv2d(branch_features, branch_features, 3, stride, 1, bias=False, groups=branch_features),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, 1, bias=False), nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, stages_repeats: list[int], stages_out_channels: list[int], num_classes: int = 1000) -> None:
        super().__init__()
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError("ShuffleNetV2: expected 3 stage repeats and 5 output channel counts")
        self._stage_out_channels = list(stages_out_channels)
        channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels, 3, 2, 1, bias=False), nn.BatchNorm2d(channels),
                                   nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, out in zip(("stage2", "stage3", "stage4"), stages_repeats, stages_out_channels[1:]):
            units = [ShuffleUnit(channels, out, 2)] + [ShuffleUnit(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*units))
            channels = out
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(channels, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last),
                                   nn.ReLU(inplace=True))
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
        return self.fc(self.conv5(x).mean([2, 3]))


def shufflenet_v2_x1_0(*, stages_out_channels: tuple[int, ...] = (24, 116, 232, 464, 1024),
                       **kwargs) -> ShuffleNetV2:
    return ShuffleNetV2([4, 8, 4], list(stages_out_channels), **kwargs)


# ----------------------------------------------------------------------------- MobileNetV1


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv-BN-ReLU, then 1x1 pointwise conv-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.depthwise = ConvNormActivation(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = ConvNormActivation(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


# (output channels, stride) of the 13 depthwise-separable layers (Howard et al. 2017, table 1).
MOBILENET_V1_LAYERS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, dropout: float = 0.001) -> None:
        super().__init__()
        channels = make_divisible(32 * width_mult, 8)
        self.stem = ConvNormActivation(3, channels, 3, stride=2)
        blocks = []
        for out, stride in MOBILENET_V1_LAYERS:
            out = make_divisible(out * width_mult, 8)
            blocks.append(DepthwiseSeparable(channels, out, stride))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(channels, num_classes))
        init_kaiming(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.blocks(self.stem(x))), 1))


def mobilenet_v1(**kwargs) -> MobileNetV1:
    return MobileNetV1(**kwargs)


# ----------------------------------------------------------------------------- MobileNetV2


class InvertedResidual(nn.Module):
    """MobileNetV2 block (Sandler et al. 2018): 1x1 expand (ReLU6), 3x3 depthwise (ReLU6),
    linear 1x1 projection; residual when the shape is kept."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        self.stride = stride
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormActivation(inp, hidden, kernel_size=1, activation_layer=nn.ReLU6))
        layers += [ConvNormActivation(hidden, hidden, stride=stride, groups=hidden, activation_layer=nn.ReLU6),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# expansion t, channels c, repeats n, first stride s (Sandler et al. 2018, table 2).
MOBILENET_V2_SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                        (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, round_nearest: int = 8,
                 dropout: float = 0.2) -> None:
        super().__init__()
        channels = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [ConvNormActivation(3, channels, stride=2, activation_layer=nn.ReLU6)]
        for t, c, n, s in MOBILENET_V2_SETTING:
            out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(channels, out, s if i == 0 else 1, expand_ratio=t))
                channels = out
        features.append(ConvNormActivation(channels, self.last_channel, kernel_size=1, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        init_kaiming(self)

    def forward(self, x: Tensor) -> Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(**kwargs) -> MobileNetV2:
    return MobileNetV2(**kwargs)


# ----------------------------------------------------------------------------- MobileNetV3


class InvertedResidualV3(nn.Module):
    """MobileNetV3 block (Howard et al. 2019): as V2's, with ReLU or hard swish, optional
    squeeze-excitation (hard sigmoid gate) after the depthwise conv, 3x3 or 5x5 kernels."""

    def __init__(self, input_channels: int, kernel: int, expanded_channels: int, out_channels: int,
                 use_se: bool, use_hs: bool, stride: int, norm_layer) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and input_channels == out_channels
        activation = nn.Hardswish if use_hs else nn.ReLU
        layers: list[nn.Module] = []
        if expanded_channels != input_channels:
            layers.append(ConvNormActivation(input_channels, expanded_channels, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=activation))
        layers.append(ConvNormActivation(expanded_channels, expanded_channels, kernel_size=kernel, stride=stride,
                                         groups=expanded_channels, norm_layer=norm_layer,
                                         activation_layer=activation))
        if use_se:
            layers.append(SqueezeExcitation(expanded_channels, make_divisible(expanded_channels // 4, 8),
                                            scale_activation=nn.Hardsigmoid))
        layers.append(ConvNormActivation(expanded_channels, out_channels, kernel_size=1, norm_layer=norm_layer,
                                         activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + x if self.use_res_connect else self.block(x)


# input, kernel, expanded, output, squeeze-excitation, hard swish, stride (Howard et al. 2019, tables 1-2).
MOBILENET_V3_LARGE = [
    (16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2), (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2), (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1), (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2), (160, 5, 960, 160, True, True, 1), (160, 5, 960, 160, True, True, 1),
]
MOBILENET_V3_SMALL = [
    (16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2), (24, 3, 88, 24, False, False, 1),
    (24, 5, 96, 40, True, True, 2), (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
    (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1), (48, 5, 288, 96, True, True, 2),
    (96, 5, 576, 96, True, True, 1), (96, 5, 576, 96, True, True, 1),
]


class MobileNetV3(nn.Module):
    def __init__(self, setting: list[tuple], last_channel: int, num_classes: int = 1000,
                 dropout: float = 0.2, width_mult: float = 1.0) -> None:
        super().__init__()
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        adjust = lambda c: make_divisible(c * width_mult, 8)  # noqa: E731
        first = adjust(setting[0][0])
        layers: list[nn.Module] = [ConvNormActivation(3, first, kernel_size=3, stride=2, norm_layer=norm_layer,
                                                      activation_layer=nn.Hardswish)]
        for cin, kernel, expanded, cout, use_se, use_hs, stride in setting:
            layers.append(InvertedResidualV3(adjust(cin), kernel, adjust(expanded), adjust(cout), use_se, use_hs,
                                             stride, norm_layer))
        last_in = adjust(setting[-1][3])
        layers.append(ConvNormActivation(last_in, 6 * last_in, kernel_size=1, norm_layer=norm_layer,
                                         activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(6 * last_in, last_channel), nn.Hardswish(inplace=True),
                                        nn.Dropout(p=dropout, inplace=True), nn.Linear(last_channel, num_classes))
        init_kaiming(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3_large(*, width_mult: float = 1.0, **kwargs) -> MobileNetV3:
    return MobileNetV3(MOBILENET_V3_LARGE, make_divisible(1280 * width_mult, 8), width_mult=width_mult, **kwargs)


def mobilenet_v3_small(*, width_mult: float = 1.0, **kwargs) -> MobileNetV3:
    return MobileNetV3(MOBILENET_V3_SMALL, make_divisible(1024 * width_mult, 8), width_mult=width_mult, **kwargs)
