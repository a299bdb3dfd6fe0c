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


# ----------------------------------------------------------------------------- ResNet-18, MobileNetV2
# The torchvision-exact definitions live in the zoo (cnnrt.converters.zoo); the
# test models are those, with a narrower option for fast tests.


def resnet18(num_classes: int = 1000, width: int = 64) -> nn.Module:
    from cnnrt.converters.zoo.classification.resnet import resnet18 as zoo_resnet18

    return zoo_resnet18(num_classes=num_classes, width_mult=width / 64)


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0) -> nn.Module:
    from cnnrt.converters.zoo.classification.mobile import mobilenet_v2 as zoo_mobilenet_v2

    return zoo_mobilenet_v2(num_classes=num_classes, width_mult=width_mult)


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
