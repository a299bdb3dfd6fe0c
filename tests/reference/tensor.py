"""Data movement: Concat, Split, Slice, Flatten, Reshape, Transpose, Pad."""
from __future__ import annotations

import builtins
import math
from collections.abc import Sequence

import numpy as np

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def concat(inputs: Sequence[np.ndarray], axis: int) -> np.ndarray:
    return np.concatenate([np.asarray(x) for x in inputs], axis=axis)


def split_sizes(dim: int, split: Sequence[int] | None = None, num_outputs: int | None = None) -> list[int]:
    """Part lengths along the axis. Without `split`, num_outputs parts of
    ceil(dim / num_outputs), the last one smaller (ONNX 18)."""
    if split is not None:
        split = [int(s) for s in split]
        if sum(split) != dim:
            raise ValueError(f"Split: parts {split} sum to {sum(split)}, the axis has {dim}")
        return split
    if not num_outputs:
        raise ValueError("Split: needs split or num_outputs")
    chunk = math.ceil(dim / num_outputs)
    sizes = [chunk] * (num_outputs - 1)
    sizes.append(dim - chunk * (num_outputs - 1))
    if sizes[-1] < 0:
        raise ValueError(f"Split: {dim} elements cannot make {num_outputs} parts")
    return sizes


def split(
    x: np.ndarray, axis: int = 0, split: Sequence[int] | None = None, num_outputs: int | None = None
) -> list[np.ndarray]:
    x = np.asarray(x)
    sizes = split_sizes(x.shape[axis], split, num_outputs)
    bounds = np.cumsum([0] + sizes)
    return [np.take(x, np.arange(bounds[i], bounds[i + 1]), axis=axis) for i in range(len(sizes))]


def slice_indices(dim: int, start: int, end: int, step: int) -> np.ndarray:
    """The indices ONNX Slice picks along one axis, clamping spelled out (Python's
    slice() treats end=-1 after a negative step differently, so it is not used)."""
    if step == 0:
        raise ValueError("Slice: step must not be 0")
    start, end = int(start), int(end)
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
    else:
        start = min(max(start, 0), dim - 1)
        end = min(max(end, -1), dim - 1)
    return np.arange(start, end, step, dtype=np.int64)


def slice(  # noqa: A001 (ONNX name)
    x: np.ndarray,
    starts: Sequence[int],
    ends: Sequence[int],
    axes: Sequence[int] | None = None,
    steps: Sequence[int] | None = None,
) -> np.ndarray:
    x = np.asarray(x)
    axes = list(range(len(starts))) if axes is None else [a % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else list(steps)
    for a, s, e, st in zip(axes, starts, ends, steps):
        x = np.take(x, slice_indices(x.shape[a], s, e, st), axis=a)
    return x


def flatten(x: np.ndarray, axis: int = 1) -> np.ndarray:
    x = np.asarray(x)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))


def reshape_shape(in_shape: Sequence[int], shape: Sequence[int], allowzero: int = 0) -> list[int]:
    out = [int(s) for s in shape]
    if not allowzero:
        out = [in_shape[i] if s == 0 else s for i, s in enumerate(out)]
    if out.count(-1) > 1:
        raise ValueError(f"Reshape: more than one -1 in {list(shape)}")
    if -1 in out:
        known = int(np.prod([s for s in out if s != -1]))
        total = int(np.prod(in_shape))
        if known == 0 or total % known:
            raise ValueError(f"Reshape: cannot infer -1 in {list(shape)} from {list(in_shape)}")
        out[out.index(-1)] = total // known
    if int(np.prod(out)) != int(np.prod(in_shape)):
        raise ValueError(f"Reshape: {list(in_shape)} has {int(np.prod(in_shape))} elements, shape {out} wants {int(np.prod(out))}")
    return out


def reshape(x: np.ndarray, shape: Sequence[int], allowzero: int = 0) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape(reshape_shape(x.shape, shape, allowzero))


def transpose(x: np.ndarray, perm: Sequence[int] | None = None) -> np.ndarray:
    x = np.asarray(x)
    perm = list(range(x.ndim))[::-1] if perm is None else list(perm)
    return np.ascontiguousarray(np.transpose(x, perm))


def pad(x: np.ndarray, pads: Sequence[int], mode: str = "constant", value: float = 0.0) -> np.ndarray:
    """ONNX Pad. Negative pads crop first; the positive ones then pad what is left
    (reflect/edge mirror the cropped tensor), which is what ONNX Runtime does."""
    x = np.asarray(x)
    if isinstance(mode, bytes):
        mode = mode.decode()
    rank = x.ndim
    pads = [int(p) for p in pads]
    if len(pads) != 2 * rank:
        raise ValueError(f"Pad: expected {2 * rank} pads, found {len(pads)}")
    begins, ends = pads[:rank], pads[rank:]
    crop = tuple(
        builtins.slice(-min(b, 0), x.shape[i] + min(e, 0)) for i, (b, e) in enumerate(zip(begins, ends))
    )
    x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=value)
    if mode == "reflect":
        return np.pad(x, width, mode="reflect")
    if mode == "edge":
        return np.pad(x, width, mode="edge")
    raise ValueError(f"Pad mode: expected constant, reflect or edge, found {mode!r}")



def depth_to_space(x: np.ndarray, blocksize: int, mode: str = "DCR") -> np.ndarray:
    n, c, h, w = x.shape
    b = blocksize
    if mode == "DCR":
        t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return np.ascontiguousarray(t.reshape(n, c // (b * b), h * b, w * b))


def space_to_depth(x: np.ndarray, blocksize: int, mode: str = "DCR") -> np.ndarray:
    n, c, h, w = x.shape
    b = blocksize
    t = x.reshape(n, c, h // b, b, w // b, b)
    t = t.transpose(0, 3, 5, 1, 2, 4) if mode == "DCR" else t.transpose(0, 1, 3, 5, 2, 4)
    return np.ascontiguousarray(t.reshape(n, c * b * b, h // b, w // b))


def expand(x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """numpy broadcasting of x and shape (either may be larger on a dim)."""
    return np.ascontiguousarray(x * np.ones(shape, x.dtype))


def tile(x: np.ndarray, repeats: Sequence[int]) -> np.ndarray:
    return np.ascontiguousarray(np.tile(x, repeats))
