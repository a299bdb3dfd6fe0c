"""A YOLO of the v5/v8 family: CSP backbone, SPPF, PAN neck, anchor-based Detect heads.

Layout of YOLOv5 v6.0 (yolov5n / yolov5s: same parameter counts as Ultralytics'
1,872,157 / 7,235,389 at 80 classes), under our own module names:

    stem (6x6 s2) -> down1 -> csp1 -> down2 -> csp2 (P3) -> down3 -> csp3 (P4)
    -> down4 -> csp4 -> sppf                                      backbone, stride 32
    lateral4 -> up -> concat P4 -> top_csp4 -> lateral3 -> up -> concat P3
    -> top_csp3 (out P3) -> bottom_down3 -> concat -> bottom_csp4 (out P4)
    -> bottom_down4 -> concat -> bottom_csp5 (out P5)              PAN neck
    Detect: one 1x1 conv per scale to anchors * (5 + classes) channels

`block="C2f"` swaps every C3 for YOLOv8's C2f (split, chained bottlenecks, concat
of all partial outputs). Conv = Conv2d (no bias) + BatchNorm + SiLU.

The model returns the raw head outputs, one [N, anchors*(5+classes), H/s, W/s]
tensor per stride (8, 16, 32); `postprocess.decode_yolo` turns them into boxes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register

# Anchors (width, height in pixels) per stride, YOLOv5's COCO defaults.
DEFAULT_ANCHORS = (
    ((10, 13), (16, 30), (33, 23)),
    ((30, 61), (62, 45), (59, 119)),
    ((116, 90), (156, 198), (373, 326)),
)
STRIDES = (8, 16, 32)
SCALES = {"n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}


class Conv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1,
                 padding: int | None = None) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2 if padding is None else padding,
                      bias=False),
            nn.BatchNorm2d(out_channels, eps=1e-3, momentum=0.03),
            nn.SiLU(),
        )


class Bottleneck(nn.Module):
    """1x1 (YOLOv5) or 3x3 (YOLOv8, `kernel=3`) conv, then a 3x3 conv; residual when the widths match."""

    def __init__(self, in_channels: int, out_channels: int, shortcut: bool = True, expansion: float = 1.0,
                 kernel: int = 1) -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        self.cv1 = Conv(in_channels, hidden, kernel)
        self.cv2 = Conv(hidden, out_channels, 3)
        self.add = shortcut and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convs: two 1x1 branches, bottlenecks on one, concat, 1x1."""

    def __init__(self, in_channels: int, out_channels: int, repeats: int = 1, shortcut: bool = True) -> None:
        super().__init__()
        hidden = out_channels // 2
        self.cv1 = Conv(in_channels, hidden)
        self.cv2 = Conv(in_channels, hidden)
        self.cv3 = Conv(2 * hidden, out_channels)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut) for _ in range(repeats)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], dim=1))


class C2f(nn.Module):
    """YOLOv8's CSP block: 1x1 conv, split in two, chain bottlenecks on the second half,
    concat every intermediate output, 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int, repeats: int = 1, shortcut: bool = True) -> None:
        super().__init__()
        self.hidden = out_channels // 2
        self.cv1 = Conv(in_channels, 2 * self.hidden)
        self.cv2 = Conv((2 + repeats) * self.hidden, out_channels)
        self.m = nn.ModuleList(Bottleneck(self.hidden, self.hidden, shortcut, kernel=3) for _ in range(repeats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(self.cv1(x).split((self.hidden, self.hidden), dim=1))
        for block in self.m:
            parts.append(block(parts[-1]))
        return self.cv2(torch.cat(parts, dim=1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 stride-1 max pools, concat of all four."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 5) -> None:
        super().__init__()
        hidden = in_channels // 2
        self.cv1 = Conv(in_channels, hidden)
        self.cv2 = Conv(hidden * 4, out_channels)
        self.m = nn.MaxPool2d(kernel, stride=1, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], dim=1))


class Detect(nn.Module):
    """One 1x1 conv per scale; channel layout per anchor: x, y, w, h, objectness, classes."""

    def __init__(self, num_classes: int, in_channels: tuple[int, ...], anchors=DEFAULT_ANCHORS,
                 strides=STRIDES) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_outputs = num_classes + 5
        self.num_anchors = len(anchors[0])
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32), persistent=False)
        self.strides = tuple(strides)
        self.m = nn.ModuleList(nn.Conv2d(c, self.num_outputs * self.num_anchors, 1) for c in in_channels)
        for conv, stride in zip(self.m, self.strides):
            # YOLOv5's prior: ~8 objects per 640x640 image, classes equally likely.
            bias = conv.bias.detach().view(self.num_anchors, -1)
            bias[:, 4] += math.log(8 / (640 / stride) ** 2)
            bias[:, 5:] += math.log(0.6 / (num_classes - 0.99)) if num_classes > 1 else 0.0

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return tuple(conv(x) for conv, x in zip(self.m, features))


class YOLO(nn.Module):
    def __init__(self, num_classes: int = 80, depth_multiple: float = 0.33, width_multiple: float = 0.25,
                 block: str = "C3", anchors=DEFAULT_ANCHORS) -> None:
        super().__init__()
        if block not in ("C3", "C2f"):
            raise ValueError(f"YOLO: block must be 'C3' or 'C2f', found {block!r}")
        csp = C3 if block == "C3" else C2f

        def width(c: int) -> int:
            return max(8, math.ceil(c * width_multiple / 8) * 8)

        def depth(n: int) -> int:
            return max(round(n * depth_multiple), 1)

        c1, c2, c3, c4, c5 = width(64), width(128), width(256), width(512), width(1024)
        self.stem = Conv(3, c1, 6, 2, 2)
        self.down1 = Conv(c1, c2, 3, 2)
        self.csp1 = csp(c2, c2, depth(3))
        self.down2 = Conv(c2, c3, 3, 2)
        self.csp2 = csp(c3, c3, depth(6))
        self.down3 = Conv(c3, c4, 3, 2)
        self.csp3 = csp(c4, c4, depth(9))
        self.down4 = Conv(c4, c5, 3, 2)
        self.csp4 = csp(c5, c5, depth(3))
        self.sppf = SPPF(c5, c5)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral4 = Conv(c5, c4)
        self.top_csp4 = csp(2 * c4, c4, depth(3), shortcut=False)
        self.lateral3 = Conv(c4, c3)
        self.top_csp3 = csp(2 * c3, c3, depth(3), shortcut=False)
        self.bottom_down3 = Conv(c3, c3, 3, 2)
        self.bottom_csp4 = csp(2 * c3, c4, depth(3), shortcut=False)
        self.bottom_down4 = Conv(c4, c4, 3, 2)
        self.bottom_csp5 = csp(2 * c4, c5, depth(3), shortcut=False)
        self.detect = Detect(num_classes, (c3, c4, c5), anchors)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.csp1(self.down1(self.stem(x)))
        p3 = self.csp2(self.down2(x))
        p4 = self.csp3(self.down3(p3))
        p5 = self.sppf(self.csp4(self.down4(p4)))
        top5 = self.lateral4(p5)
        top4 = self.lateral3(self.top_csp4(torch.cat([self.upsample(top5), p4], dim=1)))
        out3 = self.top_csp3(torch.cat([self.upsample(top4), p3], dim=1))
        out4 = self.bottom_csp4(torch.cat([self.bottom_down3(out3), top4], dim=1))
        out5 = self.bottom_csp5(torch.cat([self.bottom_down4(out4), top5], dim=1))
        return self.detect([out3, out4, out5])


def yolov5(scale: str = "n", num_classes: int = 80, width_multiple: float | None = None,
           block: str = "C3") -> YOLO:
    """YOLOv5 at a scale ("n", "s", "m", "l", "x"); `width_multiple` overrides the scale's width."""
    depth_multiple, scale_width = SCALES[scale]
    return YOLO(num_classes, depth_multiple, scale_width if width_multiple is None else width_multiple, block)


def yolov5n(num_classes: int = 80, width_multiple: float | None = None) -> YOLO:
    return yolov5("n", num_classes, width_multiple)


def yolov5s(num_classes: int = 80, width_multiple: float | None = None) -> YOLO:
    return yolov5("s", num_classes, width_multiple)


def yolo_c2f_n(num_classes: int = 80, width_multiple: float | None = None) -> YOLO:
    """The "n" layout with YOLOv8's C2f blocks in place of C3 (anchor-based head kept)."""
    return yolov5("n", num_classes, width_multiple, block="C2f")


register("yolov5n", yolov5n, (3, 640, 640), {"num_classes": 3}, (3, 64, 64), "detection")
register("yolov5s", yolov5s, (3, 640, 640), {"num_classes": 3, "width_multiple": 0.125}, (3, 64, 64), "detection")
register("yolo_c2f_n", yolo_c2f_n, (3, 640, 640), {"num_classes": 3}, (3, 64, 64), "detection")
