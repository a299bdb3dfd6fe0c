"""In-memory graph that the converter transforms and the writer serialises.

One IR serves both stages of conversion.  Right after import a node's ``op`` is
the ONNX op type and ``attrs`` hold the ONNX attributes; after lowering
(``onnx_import.lower``) ``op`` is a cnnrt op name from docs/ops.md (mostly the
ONNX name, plus ``SiLU``) and ``attrs`` are the normalised attributes.
Tensors are referenced by name everywhere; ``""`` marks an omitted input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

import numpy as np

# A dim is a concrete size, or a symbol name ("batch"), or None (unknown, unnamed).
Dim = Union[int, str, None]

# cnnrt dtype codes (docs/format.md, TENS).
DTYPE_F32 = 1
DTYPE_F16 = 2
DTYPE_BF16 = 3
DTYPE_INT8 = 4
DTYPE_UINT8 = 5
DTYPE_INT32 = 6
DTYPE_INT64 = 7

NUMPY_TO_DTYPE: dict[np.dtype, int] = {
    np.dtype(np.float32): DTYPE_F32,
    np.dtype(np.float16): DTYPE_F16,
    np.dtype(np.int8): DTYPE_INT8,
    np.dtype(np.uint8): DTYPE_UINT8,
    np.dtype(np.int32): DTYPE_INT32,
    np.dtype(np.int64): DTYPE_INT64,
}
DTYPE_TO_NUMPY: dict[int, np.dtype] = {v: k for k, v in NUMPY_TO_DTYPE.items()}
DTYPE_SIZE = {DTYPE_F32: 4, DTYPE_F16: 2, DTYPE_BF16: 2, DTYPE_INT8: 1, DTYPE_UINT8: 1,
              DTYPE_INT32: 4, DTYPE_INT64: 8}

# Activation codes (docs/ops.md, "Activations").
ACT_NONE = 0
ACT_RELU = 1
ACT_LEAKY_RELU = 2
ACT_CLIP = 3
ACT_SIGMOID = 4
ACT_TANH = 5
ACT_HARD_SIGMOID = 6
ACT_HARD_SWISH = 7
ACT_SILU = 8
ACT_GELU = 9
ACT_GELU_TANH = 10
ACT_ELU = 11
ACT_SOFTPLUS = 12

ACTIVATION_NAMES = {
    ACT_NONE: "none", ACT_RELU: "relu", ACT_LEAKY_RELU: "leaky_relu", ACT_CLIP: "clip",
    ACT_SIGMOID: "sigmoid", ACT_TANH: "tanh", ACT_HARD_SIGMOID: "hard_sigmoid",
    ACT_HARD_SWISH: "hard_swish", ACT_SILU: "silu", ACT_GELU: "gelu",
    ACT_GELU_TANH: "gelu_tanh", ACT_ELU: "elu", ACT_SOFTPLUS: "softplus",
}

# cnnrt op codes (docs/ops.md, "Op codes").
OP_CODES: dict[str, int] = {
    "Conv": 1, "ConvTranspose": 2, "MaxPool": 3, "AveragePool": 4,
    "GlobalAveragePool": 5, "GlobalMaxPool": 6, "Gemm": 7, "MatMul": 8,
    "Relu": 20, "LeakyRelu": 21, "Clip": 22, "Sigmoid": 23, "Tanh": 24,
    "HardSigmoid": 25, "HardSwish": 26, "SiLU": 27, "Gelu": 28, "Elu": 29,
    "Softplus": 30, "Exp": 31, "Log": 32, "Sqrt": 33, "Abs": 34, "Neg": 35,
    "Erf": 36, "Reciprocal": 37, "Floor": 38, "Ceil": 39,
    "Selu": 40, "Celu": 41, "ThresholdedRelu": 42, "Softsign": 43, "Mish": 44, "Sign": 45, "Round": 46,
    "Add": 50, "Sub": 51, "Mul": 52, "Div": 53, "Pow": 54, "Max": 55, "Min": 56,
    "Concat": 70, "Split": 71, "Slice": 72, "Flatten": 73, "Reshape": 74,
    "Transpose": 75, "Pad": 76, "Resize": 77, "DepthToSpace": 78, "SpaceToDepth": 79, "Expand": 80,
    "Tile": 81, "TopK": 82, "ArgMax": 86, "ArgMin": 87, "ReduceLogSum": 88, "ReduceLogSumExp": 89,
    "Softmax": 90, "LogSoftmax": 91, "ReduceMean": 92, "ReduceSum": 93,
    "ReduceMax": 94, "ReduceMin": 95, "ReduceProd": 96, "ReduceL1": 97, "ReduceL2": 98,
    "ReduceSumSquare": 99,
    "BatchNormalization": 100, "LRN": 101, "InstanceNormalization": 102, "LayerNormalization": 103,
    "GroupNormalization": 104, "LpPool": 9,
}
OP_NAMES: dict[int, str] = {v: k for k, v in OP_CODES.items()}

# Ops that may carry an epilogue, and whether that epilogue may include a residual.
EPILOGUE_OPS: dict[str, bool] = {"Conv": True, "Gemm": True, "MatMul": True,
                                 "ConvTranspose": False, "Add": False}

# Ops whose output k is int64 (indices); every other computed tensor is float32.
INT64_OUTPUTS: dict[str, set[int]] = {"ArgMax": {0}, "ArgMin": {0}, "TopK": {1}}

# Attribute names whose list values are floats even when written as integers.
FLOAT_LIST_ATTRS = {"scales"}


@dataclass
class Tensor:
    """A named tensor: a run-time value (``data is None``) or a constant."""

    name: str
    dtype: int = DTYPE_F32
    shape: list[Dim] | None = None  # None: rank unknown
    data: np.ndarray | None = None
    np_dtype: np.dtype | None = None  # ONNX element type while importing (values only)

    @property
    def is_constant(self) -> bool:
        return self.data is not None


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    domain: str = ""
    op_version: int = 0
    activation: int = ACT_NONE
    act_alpha: float = 0.0
    act_beta: float = 0.0
    residual: bool = False

    @property
    def op_code(self) -> int:
        try:
            return OP_CODES[self.op]
        except KeyError:
            raise KeyError(f"node '{self.name}': op '{self.op}' has no cnnrt op code") from None


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    opset: int = 0

    # -- queries -----------------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        t = self.tensors.get(name)
        if t is None:
            t = Tensor(name)
            self.tensors[name] = t
        return t

    def is_constant(self, name: str) -> bool:
        t = self.tensors.get(name)
        return t is not None and t.data is not None

    def constant(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name)
        return None if t is None else t.data

    def shape(self, name: str) -> list[Dim] | None:
        t = self.tensors.get(name)
        return None if t is None else t.shape

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        result: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    result.setdefault(i, []).append(n)
        return result

    def iter_ops(self, op: str) -> Iterator[Node]:
        return (n for n in list(self.nodes) if n.op == op)

    # -- edits ---------------------------------------------------------------
    def add_constant(self, base_name: str, data: np.ndarray) -> str:
        name = self.unique_tensor_name(base_name)
        arr = np.require(data, requirements="C")
        self.tensors[name] = Tensor(name, NUMPY_TO_DTYPE.get(arr.dtype, DTYPE_F32),
                                    [int(d) for d in arr.shape], arr)
        return name

    def unique_tensor_name(self, base: str) -> str:
        if base not in self.tensors:
            return base
        i = 1
        while f"{base}_{i}" in self.tensors:
            i += 1
        return f"{base}_{i}"

    def unique_node_name(self, base: str) -> str:
        names = {n.name for n in self.nodes}
        if base not in names:
            return base
        i = 1
        while f"{base}_{i}" in names:
            i += 1
        return f"{base}_{i}"

    def rename_uses(self, old: str, new: str) -> None:
        """Make every consumer (and the graph outputs) read ``new`` instead of ``old``."""
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]

    def remove_unused_tensors(self) -> None:
        used = set(self.inputs) | set(self.outputs)
        for n in self.nodes:
            used.update(i for i in n.inputs if i)
            used.update(o for o in n.outputs if o)
        for name in list(self.tensors):
            if name not in used:
                del self.tensors[name]

    def topological_sort(self) -> None:
        """Order nodes so every input is produced before use (stable for sorted graphs)."""
        available = set(self.inputs) | {n for n, t in self.tensors.items() if t.data is not None}
        available.add("")
        pending = list(self.nodes)
        ordered: list[Node] = []
        while pending:
            progressed = False
            rest = []
            for n in pending:
                if all(i in available for i in n.inputs):
                    ordered.append(n)
                    available.update(n.outputs)
                    progressed = True
                else:
                    rest.append(n)
            if not progressed:
                names = ", ".join(f"'{n.name}'" for n in rest[:5])
                raise ValueError(f"graph has a cycle or an undefined input near nodes {names}")
            pending = rest
        self.nodes = ordered

    def param_count(self) -> int:
        return int(sum(t.data.size for t in self.tensors.values() if t.data is not None))

    def weight_bytes(self) -> int:
        return int(sum(t.data.nbytes for t in self.tensors.values() if t.data is not None))


def broadcast_shapes(*shapes: list[Dim] | None) -> list[Dim] | None:
    """numpy broadcasting over dims that may be symbolic; None when a rank is unknown."""
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for k in range(rank):
        dims = [s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0]
        non_one = [d for d in dims if d != 1]
        if not non_one:
            out.append(1)
        elif all(d == non_one[0] for d in non_one):
            out.append(non_one[0])
        else:
            ints = [d for d in non_one if isinstance(d, int)]
            out.append(ints[0] if ints else None)
    return out
