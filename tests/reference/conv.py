"""Conv and ConvTranspose, N-dimensional (cnnrt uses 1-D and 2-D).

Both loop over kernel positions and do one tensor contraction per position; that
is slow but has no index arithmetic that could hide a bug.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ._common import as_f64, normalize_auto_pad, out_f32, resolve_pads, spatial_attr


def conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    group: int = 1,
    auto_pad: str | int | bytes | None = "NOTSET",
    kernel_shape: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX Conv. x: [N, C, *S], w: [M, C/group, *K], b: [M]."""
    x, w = as_f64(x), as_f64(w)
    n, c = x.shape[:2]
    m = w.shape[0]
    rank = x.ndim - 2
    kernel = list(w.shape[2:])
    if kernel_shape is not None and list(kernel_shape) != kernel:
        raise ValueError(f"kernel_shape {list(kernel_shape)} does not match W {kernel}")
    if c % group or m % group or w.shape[1] != c // group:
        raise ValueError(f"Conv: C={c}, M={m}, W={w.shape} do not fit group={group}")
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    begins, ends = resolve_pads(x.shape[2:], kernel, strides, dilations, pads, auto_pad)

    xp = np.pad(x, [(0, 0), (0, 0)] + list(zip(begins, ends)))
    out_spatial = [
        (xp.shape[2 + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(rank)
    ]
    if min(out_spatial) <= 0:
        raise ValueError(f"Conv: output spatial shape {out_spatial} is empty")

    cg, mg = c // group, m // group
    y = np.zeros([n, m] + out_spatial)
    for kpos in itertools.product(*[range(k) for k in kernel]):
        # The input pixels that kernel tap `kpos` meets, for every output pixel.
        window = tuple(
            slice(kpos[i] * dilations[i], kpos[i] * dilations[i] + (out_spatial[i] - 1) * strides[i] + 1, strides[i])
            for i in range(rank)
        )
        for g in range(group):
            xs = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + window]  # [N, cg, *O]
            ws = w[(slice(g * mg, (g + 1) * mg), slice(None)) + tuple(kpos)]  # [mg, cg]
            y[:, g * mg : (g + 1) * mg] += np.tensordot(ws, xs, axes=([1], [1])).swapaxes(0, 1)
    if b is not None:
        y += as_f64(b).reshape([1, m] + [1] * rank)
    return out_f32(y)


def conv_transpose_pads(
    in_spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int],
    pads: Sequence[int] | None,
    auto_pad: str | int | bytes | None,
    output_shape: Sequence[int] | None,
) -> tuple[list[int], list[int]]:
    """(pads_begin, pads_end) of ConvTranspose, i.e. what is cropped from the full
    ("valid") transposed convolution of length (in-1)*s + (k-1)*d + 1 + output_padding.

    When output_shape is given, or auto_pad is SAME_*, the total padding follows
    from the requested length and is split as the ONNX spec says: SAME_UPPER
    puts the odd pixel at the end (crop more from the end), anything else at the
    beginning. See tests/test_reference.py for what ONNX Runtime does instead.
    """
    rank = len(in_spatial)
    mode = normalize_auto_pad(auto_pad)
    full = [
        strides[i] * (in_spatial[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1
        for i in range(rank)
    ]
    if output_shape is not None or mode in ("SAME_UPPER", "SAME_LOWER"):
        if output_shape is not None:
            target = [int(v) for v in output_shape][-rank:]  # ONNX allows [N, C, *S] or [*S]
        else:
            target = [in_spatial[i] * strides[i] for i in range(rank)]
        begins, ends = [], []
        for i in range(rank):
            total = full[i] - target[i]
            if total < 0:
                raise ValueError(f"ConvTranspose: output_shape {target} is larger than the full output {full}")
            small, large = total // 2, total - total // 2
            if mode == "SAME_UPPER":
                begins.append(small)
                ends.append(large)
            else:
                begins.append(large)
                ends.append(small)
        return begins, ends
    if mode == "VALID":
        return [0] * rank, [0] * rank
    p = spatial_attr(pads, 2 * rank, 0, "pads")
    return p[:rank], p[rank:]


def conv_transpose(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    output_padding: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    group: int = 1,
    auto_pad: str | int | bytes | None = "NOTSET",
    kernel_shape: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX ConvTranspose. x: [N, C, *S], w: [C, M/group, *K], b: [M]."""
    x, w = as_f64(x), as_f64(w)
    n, c = x.shape[:2]
    rank = x.ndim - 2
    mg = w.shape[1]
    m = mg * group
    kernel = list(w.shape[2:])
    if kernel_shape is not None and list(kernel_shape) != kernel:
        raise ValueError(f"kernel_shape {list(kernel_shape)} does not match W {kernel}")
    if c % group or w.shape[0] != c:
        raise ValueError(f"ConvTranspose: C={c}, W={w.shape} do not fit group={group}")
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    output_padding = spatial_attr(output_padding, rank, 0, "output_padding")
    in_spatial = list(x.shape[2:])
    begins, ends = conv_transpose_pads(
        in_spatial, kernel, strides, dilations, output_padding, pads, auto_pad, output_shape
    )

    full = [strides[i] * (in_spatial[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(rank)]
    y = np.zeros([n, m] + full)
    cg = c // group
    for kpos in itertools.product(*[range(k) for k in kernel]):
        # Input pixel i scatters, through tap k, to output pixel i*s + k*d.
        window = tuple(
            slice(kpos[i] * dilations[i], kpos[i] * dilations[i] + (in_spatial[i] - 1) * strides[i] + 1, strides[i])
            for i in range(rank)
        )
        for g in range(group):
            xs = x[:, g * cg : (g + 1) * cg]  # [N, cg, *S]
            ws = w[(slice(g * cg, (g + 1) * cg), slice(None)) + tuple(kpos)]  # [cg, mg]
            contrib = np.tensordot(ws, xs, axes=([0], [1])).swapaxes(0, 1)  # [N, mg, *S]
            y[(slice(None), slice(g * mg, (g + 1) * mg)) + window] += contrib
    crop = tuple(slice(begins[i], full[i] - ends[i]) for i in range(rank))
    y = y[(slice(None), slice(None)) + crop]
    if b is not None:
        y = y + as_f64(b).reshape([1, m] + [1] * rank)
    return out_f32(y)
