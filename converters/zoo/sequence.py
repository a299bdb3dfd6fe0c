"""WaveNet (van den Oord et al. 2016): a stack of dilated causal 1-D convolutions.

Input [N, C, T] (e.g. one-hot mu-law audio or features), output [N, classes, T]
logits, each step t seeing only the inputs up to t. Every residual layer:

    x ──► causal conv (kernel 2, dilation d), split in filter | gate
          z = tanh(filter) * sigmoid(gate)
          residual: x + 1x1 conv(z)        skip: 1x1 conv(z)

with dilations 1, 2, 4, ... 2^(layers_per_stack - 1), repeated `stacks` times;
the skips are summed, then ReLU -> 1x1 conv -> ReLU -> 1x1 conv. Causality comes
from left padding (F.pad by (kernel - 1) * dilation), so T is unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .registry import register


class CausalConv1d(nn.Conv1d):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_padding = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_padding, 0)))


class ResidualLayer(nn.Module):
    def __init__(self, residual_channels: int, gate_channels: int, skip_channels: int, kernel_size: int,
                 dilation: int) -> None:
        super().__init__()
        self.gate_channels = gate_channels
        self.dilated = CausalConv1d(residual_channels, 2 * gate_channels, kernel_size, dilation)
        self.residual = nn.Conv1d(gate_channels, residual_channels, 1)
        self.skip = nn.Conv1d(gate_channels, skip_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        filter_, gate = self.dilated(x).split(self.gate_channels, dim=1)
        z = torch.tanh(filter_) * torch.sigmoid(gate)
        return x + self.residual(z), self.skip(z)


class WaveNet(nn.Module):
    def __init__(self, in_channels: int = 256, out_channels: int = 256, residual_channels: int = 64,
                 gate_channels: int = 64, skip_channels: int = 256, kernel_size: int = 2,
                 layers_per_stack: int = 10, stacks: int = 3) -> None:
        super().__init__()
        self.input_conv = CausalConv1d(in_channels, residual_channels, kernel_size)
        self.layers = nn.ModuleList(
            ResidualLayer(residual_channels, gate_channels, skip_channels, kernel_size, 2**k)
            for _ in range(stacks) for k in range(layers_per_stack))
        self.output = nn.Sequential(
            nn.ReLU(), nn.Conv1d(skip_channels, skip_channels, 1), nn.ReLU(), nn.Conv1d(skip_channels, out_channels, 1))

    @property
    def receptive_field(self) -> int:
        return 1 + self.input_conv.left_padding + sum(layer.dilated.left_padding for layer in self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_conv(x)
        skips = None
        for layer in self.layers:
            x, skip = layer(x)
            skips = skip if skips is None else skips + skip
        return self.output(skips)


def wavenet(in_channels: int = 256, out_channels: int = 256, residual_channels: int = 64, gate_channels: int = 64,
            skip_channels: int = 256, kernel_size: int = 2, layers_per_stack: int = 10, stacks: int = 3) -> WaveNet:
    return WaveNet(in_channels, out_channels, residual_channels, gate_channels, skip_channels, kernel_size,
                   layers_per_stack, stacks)


register("wavenet", wavenet, (256, 16000), {"in_channels": 8, "out_channels": 16, "residual_channels": 16,
                                             "gate_channels": 16, "skip_channels": 32, "layers_per_stack": 5,
                                             "stacks": 2}, (8, 64), "sequence")
