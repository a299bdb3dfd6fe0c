"""Attribute normalisation shared by the convolution and pooling references.

ONNX spells padding several ways (explicit ``pads``, ``auto_pad`` strings,
defaults that depend on the spatial rank); every reference turns them into one
form here so that the arithmetic in the op modules stays short.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

AUTO_PAD_NAMES = {0: "NOTSET", 1: "SAME_UPPER", 2: "SAME_LOWER", 3: "VALID"}


def as_f64(x: np.ndarray) -> np.ndarray:
    """Inputs are float32 tensors; the references compute in float64 so that
    their own rounding is far below the tolerance the tests use."""
    return np.asarray(x, dtype=np.float64)


def out_f32(y: np.ndarray) -> np.ndarray:
    # np.array, not ascontiguousarray: the latter turns 0-d results into 1-d.
    return np.array(y, dtype=np.float32, order="C")


def normalize_auto_pad(auto_pad: str | int | bytes | None) -> str:
    """Accept the ONNX string, bytes from onnx.helper, or the cnnrt integer code."""
    if auto_pad is None:
        return "NOTSET"
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if isinstance(auto_pad, (int, np.integer)):
        return AUTO_PAD_NAMES[int(auto_pad)]
    auto_pad = auto_pad.upper()
    if auto_pad not in AUTO_PAD_NAMES.values():
        raise ValueError(f"auto_pad: expected one of {list(AUTO_PAD_NAMES.values())}, found {auto_pad!r}")
    return auto_pad


def spatial_attr(value: Sequence[int] | None, rank: int, default: int, name: str) -> list[int]:
    if value is None:
        return [default] * rank
    value = [int(v) for v in value]
    if len(value) != rank:
        raise ValueError(f"{name}: expected {rank} values, found {len(value)}")
    return value


def resolve_pads(
    in_spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int] | None,
    auto_pad: str | int | bytes | None,
) -> tuple[list[int], list[int]]:
    """Return (pads_begin, pads_end) for Conv / MaxPool / AveragePool.

    SAME_* makes the output ceil(in / stride) long; the odd pixel of padding goes
    to the end for SAME_UPPER and to the beginning for SAME_LOWER (ONNX spec).
    """
    rank = len(in_spatial)
    mode = normalize_auto_pad(auto_pad)
    if mode == "NOTSET":
        p = spatial_attr(pads, 2 * rank, 0, "pads")
        return p[:rank], p[rank:]
    if mode == "VALID":
        return [0] * rank, [0] * rank
    begins, ends = [], []
    for size, k, s, d in zip(in_spatial, kernel, strides, dilations):
        out = math.ceil(size / s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        if mode == "SAME_UPPER":
            begins.append(small)
            ends.append(large)
        else:
            begins.append(large)
            ends.append(small)
    return begins, ends
