"""LeNet-5, AlexNet and VGG: plain stacks of convolutions, pooling and fully-connected layers.

AlexNet and VGG have torchvision's structure and names; `width_mult` and
`classifier_hidden` (cnnrt additions, default: the published sizes) make the
narrow configurations that tests run.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from .common import scaled


class LeNet5(nn.Module):
    """LeNet-5 as in LeCun et al. 1998 (no torchvision model): 32x32 input,
    C1 conv 6@5x5, S2 2x2 average pooling, C3 conv 16@5x5, S4 pooling,
    C5 conv 120@5x5, F6 fully connected 84, output layer; tanh throughout.
    (The paper's S-layers have a trainable scale and its C3 a sparse channel
    table; like most reimplementations this uses plain pooling and a full C3.)"""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(in_channels, 6, kernel_size=5)), ("tanh1", nn.Tanh()),
            ("s2", nn.AvgPool2d(2)),
            ("c3", nn.Conv2d(6, 16, kernel_size=5)), ("tanh3", nn.Tanh()),
            ("s4", nn.AvgPool2d(2)),
            ("c5", nn.Conv2d(16, 120, kernel_size=5)), ("tanh5", nn.Tanh()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("f6", nn.Linear(120, 84)), ("tanh6", nn.Tanh()),
            ("output", nn.Linear(84, num_classes)),
        ]))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def lenet5(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    return LeNet5(num_classes, in_channels)


class AlexNet(nn.Module):
    """AlexNet, torchvision's single-tower variant (64-192-384-256-256 filters, from
    Krizhevsky's "One weird trick" paper), adaptive 6x6 average pooling before the classifier."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, *,
                 width_mult: float = 1.0, classifier_hidden: int = 4096) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = (scaled(c, width_mult) for c in (64, 192, 384, 256, 256))
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(c5 * 6 * 6, classifier_hidden), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(classifier_hidden, classifier_hidden), nn.ReLU(inplace=True),
            nn.Linear(classifier_hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def alexnet(**kwargs) -> AlexNet:
    return AlexNet(**kwargs)


# Output channels of each 3x3 conv, "M" for 2x2 max pooling (Simonyan & Zisserman 2014, table 1).
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def vgg_features(config: list[int | str], batch_norm: bool, width_mult: float = 1.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out = scaled(int(item), width_mult)
        layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        channels = out
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5, *, classifier_hidden: int = 4096) -> None:
        super().__init__()
        self.features = features
        channels = [m.out_channels for m in features.modules() if isinstance(m, nn.Conv2d)][-1]
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, classifier_hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(classifier_hidden, classifier_hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(classifier_hidden, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _vgg(config: str, batch_norm: bool, width_mult: float = 1.0, **kwargs) -> VGG:
    return VGG(vgg_features(VGG_CONFIGS[config], batch_norm, width_mult), **kwargs)


def vgg11(**kwargs) -> VGG: return _vgg("vgg11", False, **kwargs)
def vgg11_bn(**kwargs) -> VGG: return _vgg("vgg11", True, **kwargs)
def vgg13(**kwargs) -> VGG: return _vgg("vgg13", False, **kwargs)
def vgg13_bn(**kwargs) -> VGG: return _vgg("vgg13", True, **kwargs)
def vgg16(**kwargs) -> VGG: return _vgg("vgg16", False, **kwargs)
def vgg16_bn(**kwargs) -> VGG: return _vgg("vgg16", True, **kwargs)
def vgg19(**kwargs) -> VGG: return _vgg("vgg19", False, **kwargs)
def vgg19_bn(**kwargs) -> VGG: return _vgg("vgg19", True, **kwargs)
