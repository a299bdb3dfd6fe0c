"""Dense prediction: U-Net, FCN-ResNet50, DeepLabv3-ResNet50, LR-ASPP MobileNetV3-Large.

FCN, DeepLabv3 and LR-ASPP follow torchvision's `models.segmentation` module for
module and parameter names, constructor keywords and outputs (a dict with "out"
and, with `aux_loss=True`, "aux", both upsampled bilinearly to the input size),
so the official COCO/VOC checkpoints load strictly:

- backbone: ResNet-50 with `replace_stride_with_dilation=[False, True, True]`
  (output stride 8), cut after layer4 (no avgpool / fc), as torchvision's
  IntermediateLayerGetter leaves it; LR-ASPP uses the dilated MobileNetV3-Large
  `features` (low: block 4, stride 8; high: the last 1x1 conv, stride 16);
- FCNHead: 3x3 conv to in/4 channels, BN, ReLU, Dropout(0.1), 1x1 conv;
- DeepLabHead: ASPP (1x1, three atrous 3x3 at rates 12/24/36, image pooling),
  projection, 3x3 conv, BN, ReLU, 1x1 conv.

Published parameter counts (torchvision weights, num_classes=21, aux as shipped):
fcn_resnet50 35,322,218 (aux_loss=True), deeplabv3_resnet50 42,004,074
(aux_loss=True), lraspp_mobilenet_v3_large 3,221,538.

The keywords past torchvision's (`width`, `layers`, `channels`, `width_mult`,
...) only exist to build the reduced test configurations.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .registry import register


def _resnet50(**kwargs: Any) -> nn.Module:
    from .attention import resnet50

    return resnet50(**kwargs)


def _mobilenet_v3_large(**kwargs: Any) -> nn.Module:
    return MobileNetV3Large(**kwargs)


# ----------------------------------------------------------------------------- shared pieces


class IntermediateLayerGetter(nn.ModuleDict):
    """The children of `model` up to the last one named in `return_layers`, run in
    order; returns {new name: output} for the named ones (torchvision's class of
    the same name, hence the same state-dict keys)."""

    def __init__(self, model: nn.Module, return_layers: dict[str, str]) -> None:
        wanted = dict(return_layers)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        remaining = set(wanted)
        for name, module in model.named_children():
            layers[name] = module
            remaining.discard(name)
            if not remaining:
                break
        if remaining:
            raise ValueError(f"return_layers {sorted(remaining)} are not children of {type(model).__name__}")
        super().__init__(layers)
        self.return_layers = wanted

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class _SimpleSegmentationModel(nn.Module):
    def __init__(self, backbone: nn.Module, classifier: nn.Module, aux_classifier: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        result: OrderedDict[str, torch.Tensor] = OrderedDict()
        y = self.classifier(features["out"])
        result["out"] = F.interpolate(y, size=input_shape, mode="bilinear", align_corners=False)
        if self.aux_classifier is not None:
            y = self.aux_classifier(features["aux"])
            result["aux"] = F.interpolate(y, size=input_shape, mode="bilinear", align_corners=False)
        return result


class FCN(_SimpleSegmentationModel):
    pass


class DeepLabV3(_SimpleSegmentationModel):
    pass


class FCNHead(nn.Sequential):
    def __init__(self, in_channels: int, channels: int) -> None:
        inter_channels = in_channels // 4
        super().__init__(
            nn.Conv2d(in_channels, inter_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter_channels, channels, 1),
        )


class ASPPConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ASPPPooling(nn.Sequential):
    """Image-level features: global average pool, 1x1 conv, BN, ReLU, broadcast back (bilinear from 1x1)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, in_channels: int, atrous_rates: Sequence[int], out_channels: int = 256) -> None:
        super().__init__()
        modules: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())
        ]
        for rate in atrous_rates:
            modules.append(ASPPConv(in_channels, out_channels, rate))
        modules.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(
            nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(0.5),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    def __init__(self, in_channels: int, num_classes: int, atrous_rates: Sequence[int] = (12, 24, 36),
                 channels: int = 256) -> None:
        super().__init__(
            ASPP(in_channels, atrous_rates, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, num_classes, 1),
        )


def _dilated_resnet50_backbone(aux: bool, width: int, layers: Sequence[int]) -> tuple[nn.Module, int]:
    resnet = _resnet50(width=width, layers=tuple(layers), replace_stride_with_dilation=[False, True, True])
    return_layers = {"layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    return IntermediateLayerGetter(resnet, return_layers), width * 32


def fcn_resnet50(*, weights: None = None, progress: bool = True, num_classes: int | None = None,
                 aux_loss: bool | None = None, weights_backbone: None = None, width: int = 64,
                 layers: Sequence[int] = (3, 4, 6, 3)) -> FCN:
    """torchvision's fcn_resnet50 (random weights; load a checkpoint with zoo.load_checkpoint)."""
    if weights is not None or weights_backbone is not None:
        raise ValueError("fcn_resnet50: the zoo builds random weights; load a checkpoint with zoo.load_checkpoint")
    num_classes = 21 if num_classes is None else num_classes
    backbone, channels = _dilated_resnet50_backbone(bool(aux_loss), width, layers)
    aux = FCNHead(channels // 2, num_classes) if aux_loss else None
    return FCN(backbone, FCNHead(channels, num_classes), aux)


def deeplabv3_resnet50(*, weights: None = None, progress: bool = True, num_classes: int | None = None,
                       aux_loss: bool | None = None, weights_backbone: None = None, width: int = 64,
                       layers: Sequence[int] = (3, 4, 6, 3), atrous_rates: Sequence[int] = (12, 24, 36),
                       head_channels: int = 256) -> DeepLabV3:
    """torchvision's deeplabv3_resnet50 (random weights)."""
    if weights is not None or weights_backbone is not None:
        raise ValueError("deeplabv3_resnet50: the zoo builds random weights; load a checkpoint with "
                         "zoo.load_checkpoint")
    num_classes = 21 if num_classes is None else num_classes
    backbone, channels = _dilated_resnet50_backbone(bool(aux_loss), width, layers)
    aux = FCNHead(channels // 2, num_classes) if aux_loss else None
    return DeepLabV3(backbone, DeepLabHead(channels, num_classes, atrous_rates, head_channels), aux)


# ----------------------------------------------------------------------------- MobileNetV3 / LR-ASPP


def _make_divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # never round down by more than 10%
        rounded += divisor
    return rounded


class Conv2dNormActivation(nn.Sequential):
    """conv (no bias), BN (eps 1e-3 as MobileNetV3), optional activation; torchvision's names 0/1/2."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, activation: type[nn.Module] | None = nn.ReLU, dilation: int = 1) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, groups=groups,
                      bias=False),
            nn.BatchNorm2d(out_channels, eps=0.001, momentum=0.01),
        ]
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation with MobileNetV3's hard-sigmoid gate."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))


class InvertedResidual(nn.Module):
    def __init__(self, in_channels: int, kernel: int, expanded: int, out_channels: int, use_se: bool,
                 hard_swish: bool, stride: int, dilation: int) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_channels == out_channels
        activation = nn.Hardswish if hard_swish else nn.ReLU
        layers: list[nn.Module] = []
        if expanded != in_channels:
            layers.append(Conv2dNormActivation(in_channels, expanded, 1, activation=activation))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel, stride=1 if dilation > 1 else stride,
                                           groups=expanded, activation=activation, dilation=dilation))
        if use_se:
            layers.append(SqueezeExcitation(expanded, _make_divisible(expanded // 4)))
        layers.append(Conv2dNormActivation(expanded, out_channels, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = out_channels
        # A block with a (possibly dilated-away) stride starts a stage; LR-ASPP taps the stages.
        self._is_cn = stride > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return y + x if self.use_res_connect else y


# in, kernel, expanded, out, SE, hard-swish, stride
_MOBILENET_V3_LARGE = [
    (16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2), (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2), (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1), (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2), (160, 5, 960, 160, True, True, 1), (160, 5, 960, 160, True, True, 1),
]


class MobileNetV3Large(nn.Module):
    """torchvision's mobilenet_v3_large `features` (the classifier is not needed here).

    `dilated=True` turns the last stage's stride into dilation 2 (output stride 16)."""

    def __init__(self, width_mult: float = 1.0, dilated: bool = False) -> None:
        super().__init__()
        settings = _MOBILENET_V3_LARGE
        layers: list[nn.Module] = [
            Conv2dNormActivation(3, _make_divisible(16 * width_mult), 3, stride=2, activation=nn.Hardswish)]
        for k, (cin, kernel, expanded, cout, se, hs, stride) in enumerate(settings):
            dilation = 2 if dilated and k >= 12 else 1
            layers.append(InvertedResidual(_make_divisible(cin * width_mult), kernel,
                                           _make_divisible(expanded * width_mult), _make_divisible(cout * width_mult),
                                           se, hs, stride, dilation))
        last_in = _make_divisible(settings[-1][3] * width_mult)
        layers.append(Conv2dNormActivation(last_in, 6 * last_in, 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class LRASPPHead(nn.Module):
    def __init__(self, low_channels: int, high_channels: int, num_classes: int, inter_channels: int) -> None:
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(inplace=True),
        )
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        low, high = features["low"], features["high"]
        x = self.cbr(high) * self.scale(high)
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.low_classifier(low) + self.high_classifier(x)


class LRASPP(nn.Module):
    def __init__(self, backbone: nn.Module, low_channels: int, high_channels: int, num_classes: int,
                 inter_channels: int = 128) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = LRASPPHead(low_channels, high_channels, num_classes, inter_channels)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.classifier(self.backbone(x))
        return OrderedDict(out=F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False))


def lraspp_mobilenet_v3_large(*, weights: None = None, progress: bool = True, num_classes: int | None = None,
                              weights_backbone: None = None, width_mult: float = 1.0, inter_channels: int = 128,
                              **kwargs: Any) -> LRASPP:
    """torchvision's lraspp_mobilenet_v3_large (random weights)."""
    if kwargs.pop("aux_loss", False):
        raise NotImplementedError("This model does not use auxiliary loss")
    if kwargs:
        raise TypeError(f"lraspp_mobilenet_v3_large: unexpected arguments {sorted(kwargs)}")
    if weights is not None or weights_backbone is not None:
        raise ValueError("lraspp_mobilenet_v3_large: the zoo builds random weights; load a checkpoint with "
                         "zoo.load_checkpoint")
    num_classes = 21 if num_classes is None else num_classes
    features = _mobilenet_v3_large(width_mult=width_mult, dilated=True).features
    stage_starts = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
    low_pos, high_pos = stage_starts[-4], stage_starts[-1]  # C2 (stride 8), C5 (stride 16)
    low_channels, high_channels = features[low_pos].out_channels, features[high_pos].out_channels
    backbone = IntermediateLayerGetter(features, {str(low_pos): "low", str(high_pos): "high"})
    return LRASPP(backbone, low_channels, high_channels, num_classes, inter_channels)


# ----------------------------------------------------------------------------- U-Net


class DoubleConv(nn.Sequential):
    """(3x3 conv, BN, ReLU) twice; padding keeps the size, so skips concatenate without cropping."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UpBlock(nn.Module):
    """2x2 stride-2 transposed conv halving the channels, concat with the encoder's skip, DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.conv = DoubleConv(in_channels // 2 + out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    """Ronneberger et al.'s U-Net with padded convs and BatchNorm: `depth` 2x2 max-pool
    downsamplings, channels doubling from `base_channels`; H and W must be multiples of 2**depth."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base_channels: int = 64, depth: int = 4) -> None:
        super().__init__()
        widths = [base_channels * 2**k for k in range(depth + 1)]
        self.encoder = nn.ModuleList([DoubleConv(in_channels, widths[0])]
                                     + [DoubleConv(widths[k], widths[k + 1]) for k in range(depth - 1)])
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[depth - 1], widths[depth])
        self.decoder = nn.ModuleList([UpBlock(widths[k + 1], widths[k]) for k in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for block, skip in zip(self.decoder, reversed(skips)):
            x = block(x, skip)
        return self.head(x)


def unet(in_channels: int = 3, num_classes: int = 2, base_channels: int = 64, depth: int = 4) -> UNet:
    return UNet(in_channels, num_classes, base_channels, depth)


# ----------------------------------------------------------------------------- registry

_REDUCED_RESNET = {"num_classes": 5, "width": 8, "layers": (1, 1, 2, 2)}
register("unet", unet, (3, 256, 256), {"base_channels": 8, "depth": 3, "num_classes": 3}, (3, 64, 64), "dense")
register("fcn_resnet50", fcn_resnet50, (3, 520, 520), _REDUCED_RESNET, (3, 64, 64), "dense")
register("deeplabv3_resnet50", deeplabv3_resnet50, (3, 520, 520),
         {**_REDUCED_RESNET, "atrous_rates": (2, 4, 6), "head_channels": 32}, (3, 64, 64), "dense")
register("lraspp_mobilenet_v3_large", lraspp_mobilenet_v3_large, (3, 520, 520),
         {"num_classes": 5, "width_mult": 0.25, "inter_channels": 16}, (3, 64, 64), "dense")
