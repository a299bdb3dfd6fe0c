"""CNN architectures for whole-model tests, written out in PyTorch.

ResNet-18 and MobileNetV2 copy torchvision's module structure and parameter
names (torchvision is not installed here), so state dicts and ONNX exports look
like the ones users bring. Every constructor has a reduced form (fewer
channels, fewer classes, small inputs) that runs in well under a second on two
CPU cores; the full forms are for parameter counts and benchmarks.

Random weights give poor activation statistics (BatchNorm running stats of
0/1 do not match what the layer sees), so `make_model` re-estimates the
BatchNorm statistics on random inputs: activations then stay of order 1, and
outputs vary from input to input the way a trained network's do.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

# ----------------------------------------------------------------------------- LeNet-5


class LeNet5(nn.Module):
    """conv5-pool-conv5-pool-fc120-fc84-fc10 with ReLU and max pooling.

    A 28x28 input gets padding 2 on the first conv, as in the usual MNIST
    variant, so both sizes reach the 16x5x5 feature map of the original."""

    def __init__(self, num_classes: int = 10, input_size: int = 32, in_channels: int = 1) -> None:
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"LeNet5: input_size must be 28 or 32, found {input_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2 if input_size == 28 else 0),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def lenet5(num_classes: int = 10, input_size: int = 32) -> LeNet5:
    return LeNet5(num_classes, input_size)


# ----------------------------------------------------------------------------- VGG

VGG11_CONFIG: list[int | str] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


class VGG(nn.Module):
    """VGG-11 with BatchNorm; `width` scales every conv's channels. The head is
    adaptive average pooling to 1x1 and a two-layer classifier, so any input
    of at least 32x32 works."""

    def __init__(
        self, config: list[int | str] = VGG11_CONFIG, width: float = 1.0, num_classes: int = 1000, hidden: int = 512
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            out = max(8, int(item * width))
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(hidden, num_classes)
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def vgg11_bn(num_classes: int = 1000, width: float = 1.0, hidden: int = 4096) -> VGG:
    return VGG(VGG11_CONFIG, width, num_classes, hidden)


# ----------------------------------------------------------------------------- ResNet-18


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet with BasicBlock; `width` is the channel count of
    layer1 (64 in torchvision), doubled at each later stage."""

    def __init__(self, layers: list[int], num_classes: int = 1000, width: int = 64) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * BasicBlock.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * BasicBlock.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * BasicBlock.expansion, stride), nn.BatchNorm2d(planes * BasicBlock.expansion)
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * BasicBlock.expansion
        layers += [BasicBlock(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000, width: int = 64) -> ResNet:
    return ResNet([2, 2, 2, 2], num_classes, width)


# ----------------------------------------------------------------------------- MobileNetV2


def _make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of `divisor`, never more than 10% down
    (torchvision's rule, so width multipliers give its channel counts)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """conv (no bias) + BatchNorm + ReLU6 (torchvision's ConvBNActivation)."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> None:
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True),
        )
        self.out_channels = out_planes


ConvBNActivation = Conv2dNormActivation
ConvBNReLU = Conv2dNormActivation


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1))
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        input_channel = _make_divisible(32 * width_mult)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        # t (expansion), c (channels), n (repeats), s (first stride)
        setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        features: list[nn.Module] = [Conv2dNormActivation(3, input_channel, stride=2)]
        for t, c, n, s in setting:
            output_channel = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel, s if i == 0 else 1, expand_ratio=t))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0) -> MobileNetV2:
    return MobileNetV2(num_classes, width_mult)


# ----------------------------------------------------------------------------- helpers


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def reestimate_batchnorm(
    model: nn.Module, input_shape: tuple[int, ...], batches: int = 4, seed: int = 0
) -> nn.Module:
    """Replace every BatchNorm's running statistics by the cumulative average
    over `batches` random N(0, 1) inputs of `input_shape` (batch included).

    Only BatchNorm layers switch to training mode (Dropout stays off);
    momentum=None makes the running stats an exact average, not an EMA."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    saved_momentum = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        model(torch.randn(input_shape, generator=generator))
    for m, momentum in zip(norms, saved_momentum):
        m.momentum = momentum
    return model.eval()


@torch.no_grad()
def standardize_classifier(model: nn.Module, input_shape: tuple[int, ...], seed: int = 0) -> nn.Module:
    """Rescale the last nn.Linear so that each logit has mean 0 and std 1
    over random N(0, 1) inputs of `input_shape` (batch included).

    With random weights, a common component dominates the logits of a
    network without BatchNorm in its head (LeNet, VGG), so every input gets
    the same argmax; a top-1 comparison would then test nothing."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("standardize_classifier: the model has no nn.Linear")
    head = linears[-1]
    model.eval()
    logits = model(torch.randn(input_shape, generator=torch.Generator().manual_seed(seed)))
    mean, std = logits.mean(0), logits.std(0).clamp_min(1e-12)
    head.weight.div_(std[:, None])
    head.bias.sub_(mean).div_(std)
    return model


# name -> (full constructor, reduced constructor kwargs, full input shape, reduced input shape)
_MODELS: dict[str, tuple[Callable[..., nn.Module], dict[str, Any], tuple[int, ...], tuple[int, ...]]] = {
    "lenet5": (lenet5, {}, (1, 32, 32), (1, 28, 28)),
    "vgg11_bn": (vgg11_bn, {"width": 0.125, "num_classes": 10, "hidden": 64}, (3, 224, 224), (3, 32, 32)),
    "resnet18": (resnet18, {"width": 16, "num_classes": 10}, (3, 224, 224), (3, 64, 64)),
    "mobilenet_v2": (mobilenet_v2, {"width_mult": 0.25, "num_classes": 10}, (3, 224, 224), (3, 64, 64)),
}
MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)


def make_model(
    name: str,
    reduced: bool = True,
    batch: int = 1,
    seed: int = 0,
    bn_batches: int = 4,
    bn_batch_size: int = 8,
    standardize: bool = True,
    **kwargs: Any,
) -> tuple[nn.Module, torch.Tensor]:
    """(model in eval mode with re-estimated BatchNorm, seeded example input).

    With `standardize` the classifier's last layer is rescaled too
    (standardize_classifier), so that argmax varies across inputs.

    `reduced` picks the small configuration and input; keyword arguments go to
    the constructor and override it (LeNet's `input_size` also sets the input).
    The same seed gives the same weights, statistics and input."""
    if name not in _MODELS:
        raise ValueError(f"make_model: unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
    constructor, reduced_kwargs, full_shape, reduced_shape = _MODELS[name]
    ctor_kwargs = {**(reduced_kwargs if reduced else {}), **kwargs}
    shape = reduced_shape if reduced else full_shape
    if name == "lenet5":
        ctor_kwargs.setdefault("input_size", shape[-1])
        shape = (1, ctor_kwargs["input_size"], ctor_kwargs["input_size"])
    torch.manual_seed(seed)
    model = constructor(**ctor_kwargs)
    reestimate_batchnorm(model, (bn_batch_size, *shape), batches=bn_batches, seed=seed + 1)
    if standardize:
        standardize_classifier(model, (max(bn_batch_size, 16), *shape), seed=seed + 3)
    example = torch.randn((batch, *shape), generator=torch.Generator().manual_seed(seed + 2))
    return model.eval(), example
