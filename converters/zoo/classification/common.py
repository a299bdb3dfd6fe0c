"""Building blocks shared by the classification architectures.

Module and parameter names follow torchvision's (Conv2dNormActivation is a
Sequential conv, norm, activation: keys "0.weight", "1.running_mean", ...), so
that torchvision checkpoints load into the architectures built from them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of `divisor`, never more than
    10% below `value` (the rule of the MobileNet / EfficientNet reference code)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scaled(channels: int, width_mult: float, divisor: int = 1) -> int:
    """`channels` * `width_mult`, at least `divisor`, a multiple of `divisor`
    (the narrow test configurations of architectures that torchvision has only at width 1)."""
    if width_mult == 1.0:
        return channels
    return max(divisor, int(round(channels * width_mult / divisor)) * divisor)


class ConvNormActivation(nn.Sequential):
    """Conv2d, then a norm layer and an activation where given; "same" padding by default.

    The conv has a bias only when there is no norm layer (unless `bias` says otherwise)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        dilation: int = 1,
        bias: bool | None = None,
    ) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                             dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=True) if _takes_inplace(activation_layer)
                          else activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


def _takes_inplace(layer: Callable[..., nn.Module]) -> bool:
    base = getattr(layer, "func", layer)  # functools.partial
    return base in (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): global average, 1x1 conv down,
    activation, 1x1 conv up, gate (sigmoid or hard sigmoid), scale the input."""

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation: Callable[..., nn.Module] = nn.ReLU,
        scale_activation: Callable[..., nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class StochasticDepth(nn.Module):
    """Drops the residual branch of whole samples with probability `p` while
    training (Huang et al. 2016, "row" mode), rescaling the kept ones; identity in eval."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return x * mask.bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BasicConv2d(nn.Module):
    """Conv (no bias), BatchNorm with eps 0.001, ReLU: the unit of GoogLeNet and Inception-v3."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.bn(self.conv(x)))


def init_kaiming(model: nn.Module, linear_std: float = 0.01, linear_uniform: bool = False) -> None:
    """Kaiming-normal (fan out) convolutions, unit norms, small linear layers:
    the initialisation of the mobile architectures."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_uniform:
                bound = 1.0 / m.out_features ** 0.5
                nn.init.uniform_(m.weight, -bound, bound)
            else:
                nn.init.normal_(m.weight, 0, linear_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
