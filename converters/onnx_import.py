"""ONNX import: load a model, build the IR with inferred shapes, and lower ONNX
ops to the cnnrt ops of docs/ops.md with normalised attributes.

Lowering turns the constant ONNX *inputs* that configure an op (Clip min/max,
Reshape shape, Pad pads, Slice starts/ends/axes/steps, Resize scales/sizes,
Split split, Reduce* axes, Squeeze/Unsqueeze axes, TopK K) into attributes, so every
opset from 9 on lowers to one form.  ``lower`` never stops at the first
problem: it collects every node it cannot lower and raises one
``UnsupportedOpsError`` listing them all.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Union

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import ConversionError, UnsupportedNode, UnsupportedOpsError
from .ir import DTYPE_F32, DTYPE_INT64, INT64_OUTPUTS, NUMPY_TO_DTYPE, Dim, Graph, Node, Tensor, broadcast_shapes

OnnxSource = Union[str, os.PathLike, bytes, onnx.ModelProto]

# --------------------------------------------------------------------------- loading


def load_onnx(source: OnnxSource) -> onnx.ModelProto:
    """Load a model from a path (external data next to it is loaded too), bytes or a ModelProto."""
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return onnx.load_from_string(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ConversionError(f"ONNX model file '{path}' does not exist")
        try:
            return onnx.load(path)
        except Exception as e:  # noqa: BLE001 - onnx raises several kinds
            raise ConversionError(f"could not read ONNX model '{path}': {e}") from e
    raise ConversionError(f"expected a path, bytes, onnx.ModelProto or torch.nn.Module, "
                          f"found {type(source).__name__}")


def default_opset(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 1


def _shape_from_type(tp: onnx.TypeProto) -> list[Dim] | None:
    if not tp.HasField("tensor_type") or not tp.tensor_type.HasField("shape"):
        return None
    dims: list[Dim] = []
    for d in tp.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param and not d.dim_param.startswith("unk__"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def _elem_type_to_numpy(elem_type: int) -> np.dtype | None:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:  # noqa: BLE001
        return None


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference with data propagation; the model unchanged if it fails."""
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False,
                                                 data_prop=True)
    except Exception:  # noqa: BLE001 - inference is best effort, lowering reports what is missing
        return model


def onnx_to_graph(model: onnx.ModelProto) -> Graph:
    """Build the ONNX-level IR: nodes keep ONNX op types and attributes."""
    opset = default_opset(model)
    inferred = infer_shapes(model)
    g = Graph(opset=opset)
    graph = inferred.graph
    initializers = {t.name for t in graph.initializer}
    for init in graph.initializer:
        arr = numpy_helper.to_array(init, base_dir="")
        g.tensors[init.name] = Tensor(init.name, NUMPY_TO_DTYPE.get(arr.dtype, DTYPE_F32),
                                      list(arr.shape), arr)
    value_infos = list(graph.input) + list(graph.value_info) + list(graph.output)
    for vi in value_infos:
        if vi.name in initializers:
            continue
        t = g.tensor(vi.name)
        shape = _shape_from_type(vi.type)
        if shape is not None:
            t.shape = shape
        npdt = _elem_type_to_numpy(vi.type.tensor_type.elem_type) if vi.type.HasField("tensor_type") else None
        t.dtype = NUMPY_TO_DTYPE.get(npdt, 0) if npdt is not None else 0
        t.np_dtype = npdt
    g.inputs = [vi.name for vi in graph.input if vi.name not in initializers]
    g.outputs = [vi.name for vi in graph.output]
    used_names: set[str] = set()
    for k, n in enumerate(graph.node):
        name = n.name or f"{n.op_type}_{k}"
        if name in used_names:
            name = f"{name}_{k}"
        used_names.add(name)
        attrs = {}
        for a in n.attribute:
            attrs[a.name] = helper.get_attribute_value(a)
            if isinstance(attrs[a.name], bytes):
                attrs[a.name] = attrs[a.name].decode("utf-8")
        version = opset
        for imp in model.opset_import:
            if imp.domain == n.domain and n.domain not in ("", "ai.onnx"):
                version = int(imp.version)
        node = Node(name, n.op_type, list(n.input), list(n.output), attrs,
                    domain="" if n.domain == "ai.onnx" else n.domain, op_version=version)
        g.nodes.append(node)
        for o in node.outputs:
            if o:
                g.tensor(o)
    return g


def graph_to_onnx(g: Graph, ir_version: int = 10) -> onnx.ModelProto:
    """Export the ONNX-level IR back to a ModelProto (used to re-run shape inference)."""
    def value_info(name: str) -> onnx.ValueInfoProto:
        t = g.tensors.get(name)
        npdt = t.np_dtype if t is not None else None
        elem = helper.np_dtype_to_tensor_dtype(npdt) if npdt is not None else onnx.TensorProto.FLOAT
        shape = None
        if t is not None and t.shape is not None:
            shape = [d if isinstance(d, (int, str)) else None for d in t.shape]
        return helper.make_tensor_value_info(name, elem, shape)

    nodes = [helper.make_node(n.op, n.inputs, n.outputs, name=n.name, domain=n.domain or None,
                              **n.attrs) for n in g.nodes]
    inits = [numpy_helper.from_array(t.data, name) for name, t in g.tensors.items() if t.data is not None]
    graph = helper.make_graph(nodes, "cnnrt", [value_info(i) for i in g.inputs],
                              [value_info(o) for o in g.outputs], inits)
    opsets = [helper.make_opsetid("", g.opset)]
    domains = {n.domain for n in g.nodes if n.domain}
    opsets += [helper.make_opsetid(d, 1) for d in sorted(domains)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir_version)


def refresh_shapes(g: Graph) -> None:
    """Re-run ONNX shape inference on the (folded) ONNX-level graph; fill unknown shapes."""
    try:
        model = onnx.shape_inference.infer_shapes(graph_to_onnx(g), check_type=False,
                                                  strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001
        return
    for vi in list(model.graph.value_info) + list(model.graph.output):
        t = g.tensors.get(vi.name)
        if t is None or t.data is not None:
            continue
        shape = _shape_from_type(vi.type)
        if shape is None:
            continue
        if t.shape is None or len(t.shape) != len(shape):
            t.shape = shape
        else:  # keep what we knew, fill what we did not
            t.shape = [a if a is not None else b for a, b in zip(t.shape, shape)]
        if t.np_dtype is None:
            npdt = _elem_type_to_numpy(vi.type.tensor_type.elem_type)
            t.np_dtype = npdt


# --------------------------------------------------------------------------- lowering


class Unsupported(Exception):
    """Raised by an op's lowering with the reason it cannot be lowered."""


AUTO_PAD = {"NOTSET": 0, "": 0, "SAME_UPPER": 1, "SAME_LOWER": 2, "VALID": 3}

UNARY_OPS = {"Relu", "Sigmoid", "Tanh", "HardSwish", "Softplus", "Exp", "Log", "Sqrt", "Abs",
             "Neg", "Erf", "Reciprocal", "Floor", "Ceil", "Softsign", "Mish", "Sign", "Round"}
BINARY_OPS = {"Add", "Sub", "Mul", "Div", "Pow"}
REDUCE_OPS = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}
RESIZE_COORD_MODES = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                      "tf_half_pixel_for_nn"}
NEAREST_MODES = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}


class _Lowering:
    """Lowers one graph; each ``op_<Type>`` returns the cnnrt nodes for one ONNX node."""

    def __init__(self, g: Graph) -> None:
        self.g = g
        self.out: list[Node] = []

    # -- helpers ------------------------------------------------------------
    def const(self, node: Node, index: int, what: str, required: bool = True) -> np.ndarray | None:
        if index >= len(node.inputs) or not node.inputs[index]:
            if required:
                raise Unsupported(f"missing '{what}' input")
            return None
        data = self.g.constant(node.inputs[index])
        if data is None:
            raise Unsupported(f"non-constant '{what}' input to {node.op}")
        return data

    def rank(self, name: str, node: Node) -> int:
        shape = self.g.shape(name)
        if shape is None:
            raise Unsupported(f"rank of input '{name}' is unknown (shape inference could not infer it)")
        return len(shape)

    def emit(self, node: Node, op: str, inputs: list[str], outputs: list[str] | None = None,
             attrs: dict | None = None, name: str | None = None) -> Node:
        new = Node(name or node.name, op, list(inputs), list(outputs if outputs is not None else node.outputs),
                   dict(attrs or {}), op_version=node.op_version)
        self.out.append(new)
        return new

    def float_input(self, name: str) -> str:
        """Constants feeding float ops are stored as float32 (every computed tensor is f32)."""
        t = self.g.tensors.get(name)
        if t is not None and t.data is not None and t.data.dtype != np.float32:
            return self.g.add_constant(f"{name}_f32", t.data.astype(np.float32))
        return name

    @staticmethod
    def ints(values) -> list[int]:
        return [int(v) for v in np.asarray(values).reshape(-1)]

    def single_output(self, node: Node) -> None:
        extra = [o for o in node.outputs[1:] if o]
        if extra and any(o in self.used for o in extra):
            raise Unsupported(f"optional output(s) {extra} are used; cnnrt computes only the first output")

    # -- convolution and pooling ---------------------------------------------
    def _spatial_rank(self, node: Node, lo: int = 1, hi: int = 2) -> int:
        r = self.rank(node.inputs[0], node) - 2
        if not lo <= r <= hi:
            raise Unsupported(f"{r}-D {node.op} (input rank {r + 2}); cnnrt supports 1-D and 2-D")
        return r

    def _conv_common(self, node: Node, r: int, kernel: list[int]) -> dict:
        a = node.attrs
        if "kernel_shape" in a and list(a["kernel_shape"]) != kernel:
            raise Unsupported(f"kernel_shape {list(a['kernel_shape'])} does not match the weight's {kernel}")
        auto_pad = str(a.get("auto_pad", "NOTSET"))
        if auto_pad not in AUTO_PAD:
            raise Unsupported(f"auto_pad '{auto_pad}' unknown")
        return {"strides": self.ints(a.get("strides", [1] * r)),
                "dilations": self.ints(a.get("dilations", [1] * r)),
                "pads": self.ints(a.get("pads", [0] * (2 * r))) if AUTO_PAD[auto_pad] == 0 else [0] * (2 * r),
                "group": int(a.get("group", 1)),
                "auto_pad": AUTO_PAD[auto_pad]}

    def op_Conv(self, node: Node) -> None:
        r = self._spatial_rank(node)
        w = self.const(node, 1, "W")
        self.const(node, 2, "B", required=False)
        attrs = self._conv_common(node, r, list(w.shape[2:]))
        ins = [node.inputs[0], self.float_input(node.inputs[1])]
        if len(node.inputs) > 2 and node.inputs[2]:
            ins.append(self.float_input(node.inputs[2]))
        self.emit(node, "Conv", ins, attrs=attrs)

    def op_ConvTranspose(self, node: Node) -> None:
        r = self._spatial_rank(node)
        w = self.const(node, 1, "W")
        self.const(node, 2, "B", required=False)
        attrs = self._conv_common(node, r, list(w.shape[2:]))
        attrs["output_padding"] = self.ints(node.attrs.get("output_padding", [0] * r))
        if "output_shape" in node.attrs:
            shape = self.ints(node.attrs["output_shape"])
            attrs["output_shape"] = shape[-r:]
        ins = [node.inputs[0], self.float_input(node.inputs[1])]
        if len(node.inputs) > 2 and node.inputs[2]:
            ins.append(self.float_input(node.inputs[2]))
        self.emit(node, "ConvTranspose", ins, attrs=attrs)

    def _pool(self, node: Node, op: str) -> None:
        r = self._spatial_rank(node, hi=3)
        self.single_output(node)
        a = node.attrs
        if "kernel_shape" not in a:
            raise Unsupported("missing required attribute 'kernel_shape'")
        auto_pad = str(a.get("auto_pad", "NOTSET"))
        if auto_pad not in AUTO_PAD:
            raise Unsupported(f"auto_pad '{auto_pad}' unknown")
        attrs = {"kernel_shape": self.ints(a["kernel_shape"]),
                 "strides": self.ints(a.get("strides", [1] * r)),
                 "pads": self.ints(a.get("pads", [0] * (2 * r))) if AUTO_PAD[auto_pad] == 0 else [0] * (2 * r),
                 "ceil_mode": int(a.get("ceil_mode", 0)),
                 "auto_pad": AUTO_PAD[auto_pad]}
        if op == "MaxPool":
            if int(a.get("storage_order", 0)) != 0 and len(node.outputs) > 1 and node.outputs[1]:
                raise Unsupported("storage_order 1 is not supported")
            attrs["dilations"] = self.ints(a.get("dilations", [1] * r))
        elif op == "LpPool":
            attrs["dilations"] = self.ints(a.get("dilations", [1] * r))
            p = float(a.get("p", 2))
            if p != int(p) or not 1 <= p <= 64:
                raise Unsupported(f"LpPool p={p}; cnnrt supports integer p in 1..64")
            attrs["p"] = int(p)
        else:
            attrs["dilations"] = self.ints(a.get("dilations", [1] * r))
            attrs["count_include_pad"] = int(a.get("count_include_pad", 0))
        self.emit(node, op, [node.inputs[0]], outputs=node.outputs[:1], attrs=attrs)

    def op_MaxPool(self, node: Node) -> None:
        self._pool(node, "MaxPool")

    def op_AveragePool(self, node: Node) -> None:
        self._pool(node, "AveragePool")

    def op_LpPool(self, node: Node) -> None:
        self._pool(node, "LpPool")

    def op_GlobalAveragePool(self, node: Node) -> None:
        if self.rank(node.inputs[0], node) < 3:
            raise Unsupported("input rank below 3")
        self.emit(node, "GlobalAveragePool", [node.inputs[0]])

    def op_GlobalMaxPool(self, node: Node) -> None:
        if self.rank(node.inputs[0], node) < 3:
            raise Unsupported("input rank below 3")
        self.emit(node, "GlobalMaxPool", [node.inputs[0]])

    def op_Gemm(self, node: Node) -> None:
        a = node.attrs
        attrs = {"alpha": float(a.get("alpha", 1.0)), "beta": float(a.get("beta", 1.0)),
                 "transA": int(a.get("transA", 0)), "transB": int(a.get("transB", 0))}
        ins = [self.float_input(i) for i in node.inputs[:3] if i]
        self.emit(node, "Gemm", ins, attrs=attrs)

    def op_MatMul(self, node: Node) -> None:
        self.emit(node, "MatMul", [self.float_input(i) for i in node.inputs[:2]])

    # -- element-wise -----------------------------------------------------------
    def _unary(self, node: Node) -> None:
        self.emit(node, node.op, [node.inputs[0]])

    def op_LeakyRelu(self, node: Node) -> None:
        self.emit(node, "LeakyRelu", [node.inputs[0]], attrs={"alpha": float(node.attrs.get("alpha", 0.01))})

    def op_Selu(self, node: Node) -> None:
        a = node.attrs
        self.emit(node, "Selu", [node.inputs[0]],
                  attrs={"alpha": float(a.get("alpha", 1.67326319217681884765625)),
                         "gamma": float(a.get("gamma", 1.05070102214813232421875))})

    def op_Celu(self, node: Node) -> None:
        alpha = float(node.attrs.get("alpha", 1.0))
        if alpha == 0.0:
            raise Unsupported("Celu alpha=0 divides by zero")
        self.emit(node, "Celu", [node.inputs[0]], attrs={"alpha": alpha})

    def op_ThresholdedRelu(self, node: Node) -> None:
        self.emit(node, "ThresholdedRelu", [node.inputs[0]], attrs={"alpha": float(node.attrs.get("alpha", 1.0))})

    def op_Elu(self, node: Node) -> None:
        self.emit(node, "Elu", [node.inputs[0]], attrs={"alpha": float(node.attrs.get("alpha", 1.0))})

    def op_HardSigmoid(self, node: Node) -> None:
        self.emit(node, "HardSigmoid", [node.inputs[0]],
                  attrs={"alpha": float(node.attrs.get("alpha", 0.2)), "beta": float(node.attrs.get("beta", 0.5))})

    def op_Gelu(self, node: Node) -> None:
        approx = str(node.attrs.get("approximate", "none"))
        if approx not in ("none", "tanh"):
            raise Unsupported(f"Gelu approximate '{approx}' unknown")
        self.emit(node, "Gelu", [node.inputs[0]], attrs={"approximate": approx} if approx != "none" else {})

    def op_Clip(self, node: Node) -> None:
        if node.op_version < 11 or ("min" in node.attrs or "max" in node.attrs):
            lo = node.attrs.get("min", -math.inf)
            hi = node.attrs.get("max", math.inf)
        else:
            lo_c = self.const(node, 1, "min", required=False)
            hi_c = self.const(node, 2, "max", required=False)
            lo = -math.inf if lo_c is None else float(np.asarray(lo_c).reshape(-1)[0])
            hi = math.inf if hi_c is None else float(np.asarray(hi_c).reshape(-1)[0])
        attrs = {}
        if lo != -math.inf:
            attrs["min"] = float(lo)
        if hi != math.inf:
            attrs["max"] = float(hi)
        self.emit(node, "Clip", [node.inputs[0]], attrs=attrs)

    def op_PRelu(self, node: Node) -> None:
        # max(x, 0) + slope * min(x, 0): cnnrt has no PRelu op, these four are exact.
        slope = self.float_input(node.inputs[1])
        x, y = node.inputs[0], node.outputs[0]
        zero = self.g.add_constant(f"{node.name}_zero", np.zeros((), np.float32))
        pos = self._tmp(y, "pos", [x])
        neg = self._tmp(y, "neg", [x])
        scaled = self._tmp(y, "scaled", [x])
        self.emit(node, "Max", [x, zero], [pos], name=f"{node.name}_max")
        self.emit(node, "Min", [x, zero], [neg], name=f"{node.name}_min")
        self.emit(node, "Mul", [neg, slope], [scaled], name=f"{node.name}_mul")
        self.emit(node, "Add", [pos, scaled], [y])

    def _tmp(self, base: str, suffix: str, like: list[str]) -> str:
        name = self.g.unique_tensor_name(f"{base}_{suffix}")
        self.g.tensors[name] = Tensor(name, DTYPE_F32, broadcast_shapes(*[self.g.shape(i) for i in like]))
        return name

    def _binary(self, node: Node) -> None:
        self.emit(node, node.op, [self.float_input(i) for i in node.inputs[:2]])

    def _variadic(self, node: Node, op: str) -> None:
        ins = [self.float_input(i) for i in node.inputs if i]
        if len(ins) == 1:
            self._copy(node, ins[0])
            return
        acc = ins[0]
        for k, nxt in enumerate(ins[1:], start=1):
            last = k == len(ins) - 1
            out = node.outputs[0] if last else self._tmp(node.outputs[0], f"partial{k}", ins[:k + 1])
            self.emit(node, op, [acc, nxt], [out], name=node.name if last else f"{node.name}_partial{k}")
            acc = out

    def _copy(self, node: Node, src: str) -> None:
        """A node that only forwards its input: a Reshape that copies every dim."""
        shape = self.g.shape(src)
        if shape is None:
            raise Unsupported("rank of the forwarded input is unknown")
        self.emit(node, "Reshape", [src], attrs={"shape": [0] * len(shape)})

    def op_Max(self, node: Node) -> None:
        self._variadic(node, "Max")

    def op_Min(self, node: Node) -> None:
        self._variadic(node, "Min")

    def op_Sum(self, node: Node) -> None:
        self._variadic(node, "Add")

    def op_Mean(self, node: Node) -> None:
        # Sum in input order, then one multiply by 1/n (within 1 ulp of ONNX's sum / n).
        ins = [i for i in node.inputs if i]
        if len(ins) == 1:
            self._copy(node, self.float_input(ins[0]))
            return
        total = self._tmp(node.outputs[0], "sum", ins)
        self._variadic(Node(node.name + "_sum", "Sum", node.inputs, [total], op_version=node.op_version), "Add")
        scale = self.g.add_constant(f"{node.name}_inverse_count", np.array(1.0 / len(ins), np.float32))
        self.emit(node, "Mul", [total, scale])

    def op_Identity(self, node: Node) -> None:
        self._copy(node, node.inputs[0])

    def op_Dropout(self, node: Node) -> None:
        a = node.attrs
        if node.op_version < 7 and int(a.get("is_test", 0)) == 0:
            raise Unsupported("Dropout is_test=0 (training) is not supported; export in eval mode")
        training = self.const(node, 2, "training_mode", required=False) if node.op_version >= 12 else None
        if training is not None and bool(np.asarray(training).reshape(-1)[0]):
            ratio = self.const(node, 1, "ratio", required=False)
            if ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0:
                raise Unsupported("Dropout training_mode=true drops values at random; cnnrt runs inference only")
        if any(o in self.used for o in node.outputs[1:] if o):
            raise Unsupported("Dropout's mask output is used; cnnrt computes only the data output")
        self.emit(node, "Reshape", [node.inputs[0]], outputs=node.outputs[:1],
                  attrs={"shape": [0] * self.rank(node.inputs[0], node)})

    # -- layout ------------------------------------------------------------------
    def op_Concat(self, node: Node) -> None:
        if "axis" not in node.attrs:
            raise Unsupported("missing required attribute 'axis'")
        self.emit(node, "Concat", [self.float_input(i) for i in node.inputs if i],
                  attrs={"axis": int(node.attrs["axis"])})

    def op_Split(self, node: Node) -> None:
        attrs: dict = {"axis": int(node.attrs.get("axis", 0))}
        split = None
        if "split" in node.attrs:
            split = node.attrs["split"]
        elif node.op_version >= 13 and len(node.inputs) > 1 and node.inputs[1]:
            split = self.const(node, 1, "split")
        if split is not None and len(self.ints(split)) > 0:
            attrs["split"] = self.ints(split)
        self.emit(node, "Split", [node.inputs[0]], attrs=attrs)

    def op_Slice(self, node: Node) -> None:
        if node.op_version < 10:
            starts = node.attrs.get("starts")
            ends = node.attrs.get("ends")
            if starts is None or ends is None:
                raise Unsupported("missing 'starts' or 'ends' attribute")
            axes = node.attrs.get("axes")
            steps = None
        else:
            starts = self.const(node, 1, "starts")
            ends = self.const(node, 2, "ends")
            axes = self.const(node, 3, "axes", required=False)
            steps = self.const(node, 4, "steps", required=False)
        starts, ends = self.ints(starts), self.ints(ends)
        if len(starts) != len(ends):
            raise Unsupported(f"{len(starts)} starts but {len(ends)} ends")
        axes = list(range(len(starts))) if axes is None else self.ints(axes)
        steps = [1] * len(starts) if steps is None else self.ints(steps)
        if any(s == 0 for s in steps):
            raise Unsupported("a Slice step is 0")
        self.emit(node, "Slice", [node.inputs[0]],
                  attrs={"starts": starts, "ends": ends, "axes": axes, "steps": steps})

    def _block(self, node: Node, op: str) -> None:
        if "blocksize" not in node.attrs:
            raise Unsupported("missing required attribute 'blocksize'")
        if self.rank(node.inputs[0], node) != 4:
            raise Unsupported(f"{op} needs a rank-4 input, found rank {self.rank(node.inputs[0], node)}")
        attrs: dict = {"blocksize": int(node.attrs["blocksize"])}
        mode = str(node.attrs.get("mode", "DCR"))
        if mode not in ("DCR", "CRD"):
            raise Unsupported(f"{op} mode '{mode}' unknown")
        if mode != "DCR":
            attrs["mode"] = mode
        self.emit(node, op, [node.inputs[0]], attrs=attrs)

    def op_DepthToSpace(self, node: Node) -> None:
        self._block(node, "DepthToSpace")

    def op_SpaceToDepth(self, node: Node) -> None:
        self._block(node, "SpaceToDepth")

    def op_Expand(self, node: Node) -> None:
        shape = self.ints(self.const(node, 1, "shape"))
        if any(d < 0 for d in shape):
            raise Unsupported(f"Expand shape {shape} has a negative dim")
        self.emit(node, "Expand", [self.float_input(node.inputs[0])], attrs={"shape": shape})

    def op_Tile(self, node: Node) -> None:
        repeats = self.ints(self.const(node, 1, "repeats"))
        if any(r < 0 for r in repeats):
            raise Unsupported(f"Tile repeats {repeats} has a negative value")
        self.emit(node, "Tile", [self.float_input(node.inputs[0])], attrs={"repeats": repeats})

    def op_Flatten(self, node: Node) -> None:
        self.emit(node, "Flatten", [node.inputs[0]], attrs={"axis": int(node.attrs.get("axis", 1))})

    def op_Reshape(self, node: Node) -> None:
        if node.op_version < 5 and "shape" in node.attrs:
            shape = self.ints(node.attrs["shape"])
        else:
            shape = self.ints(self.const(node, 1, "shape"))
        allowzero = int(node.attrs.get("allowzero", 0))
        if sum(1 for d in shape if d == -1) > 1:
            raise Unsupported(f"shape {shape} has more than one -1")
        attrs = {"shape": shape}
        if allowzero:
            attrs["allowzero"] = 1
        self.emit(node, "Reshape", [node.inputs[0]], attrs=attrs)

    def _reshape_to(self, node: Node, in_shape: list[Dim], out_shape: list[Dim]) -> None:
        """Reshape whose target keeps run-time dims: 0 copies a dim at the same index, one -1 infers."""
        target: list[int] = []
        unknown = 0
        for k, d in enumerate(out_shape):
            if isinstance(d, int):
                target.append(d)
            elif k < len(in_shape) and in_shape[k] is not None and in_shape[k] == d:
                target.append(0)
            else:
                target.append(-1)
                unknown += 1
        if unknown > 1:
            raise Unsupported(f"output shape {out_shape} has more than one run-time dim that moves "
                              f"position; cannot express it as one Reshape")
        self.emit(node, "Reshape", [node.inputs[0]], attrs={"shape": target})

    def _axes(self, node: Node, attr_until: int) -> list[int] | None:
        if node.op_version < attr_until or "axes" in node.attrs:
            axes = node.attrs.get("axes")
            return None if axes is None else self.ints(axes)
        data = self.const(node, 1, "axes", required=False)
        return None if data is None else self.ints(data)

    def op_Squeeze(self, node: Node) -> None:
        shape = self.g.shape(node.inputs[0])
        if shape is None:
            raise Unsupported("rank of the input is unknown")
        axes = self._axes(node, 13)
        rank = len(shape)
        if axes is None:
            if any(not isinstance(d, int) for d in shape):
                raise Unsupported(f"Squeeze without axes on input shape {shape} with run-time dims")
            axes = [k for k, d in enumerate(shape) if d == 1]
        axes = [a + rank if a < 0 else a for a in axes]
        for a in axes:
            if isinstance(shape[a], int) and shape[a] != 1:
                raise Unsupported(f"Squeeze axis {a} has size {shape[a]}, not 1")
        out = [d for k, d in enumerate(shape) if k not in axes]
        self._reshape_to(node, shape, out)

    def op_Unsqueeze(self, node: Node) -> None:
        shape = self.g.shape(node.inputs[0])
        if shape is None:
            raise Unsupported("rank of the input is unknown")
        axes = self._axes(node, 13)
        if axes is None:
            raise Unsupported("missing 'axes'")
        rank = len(shape) + len(axes)
        axes = sorted(a + rank if a < 0 else a for a in axes)
        out: list[Dim] = []
        it = iter(shape)
        for k in range(rank):
            out.append(1 if k in axes else next(it))
        self._reshape_to(node, shape, out)

    def op_Transpose(self, node: Node) -> None:
        perm = node.attrs.get("perm")
        if perm is None:
            perm = list(reversed(range(self.rank(node.inputs[0], node))))
        self.emit(node, "Transpose", [node.inputs[0]], attrs={"perm": self.ints(perm)})

    def op_Pad(self, node: Node) -> None:
        mode = str(node.attrs.get("mode", "constant"))
        if mode not in ("constant", "reflect", "edge"):
            raise Unsupported(f"Pad mode '{mode}' not supported")
        if node.op_version < 11:
            pads = self.ints(node.attrs.get("pads", node.attrs.get("paddings", [])))
            value = float(node.attrs.get("value", 0.0))
        else:
            pads = self.ints(self.const(node, 1, "pads"))
            v = self.const(node, 2, "constant_value", required=False)
            value = 0.0 if v is None else float(np.asarray(v).reshape(-1)[0])
            axes = self.const(node, 3, "axes", required=False)
            if axes is not None:
                rank = self.rank(node.inputs[0], node)
                axes = [a + rank if a < 0 else a for a in self.ints(axes)]
                full = [0] * (2 * rank)
                for k, a in enumerate(axes):
                    full[a] = pads[k]
                    full[a + rank] = pads[k + len(axes)]
                pads = full
        attrs: dict = {"pads": pads, "mode": mode}
        if value != 0.0:
            attrs["value"] = value
        self.emit(node, "Pad", [node.inputs[0]], attrs=attrs)

    def _resize_attrs(self, node: Node, mode: str, coord: str, nearest: str) -> dict:
        if mode in ("bilinear",):
            mode = "linear"
        if mode not in ("nearest", "linear", "cubic"):
            raise Unsupported(f"Resize mode '{mode}' not supported")
        if coord not in RESIZE_COORD_MODES:
            raise Unsupported(f"Resize coordinate_transformation_mode '{coord}' not supported")
        if nearest not in NEAREST_MODES:
            raise Unsupported(f"Resize nearest_mode '{nearest}' not supported")
        attrs = {"mode": mode, "coordinate_transformation_mode": coord}
        if mode == "nearest":
            attrs["nearest_mode"] = nearest
        return attrs

    def _check_linear(self, attrs: dict, node: Node, in_shape: list[Dim] | None) -> None:
        mode = attrs["mode"]
        if mode == "nearest":
            return
        if "scales" in attrs:
            lead = attrs["scales"][:-2]
            if any(s != 1.0 for s in lead):
                raise Unsupported(f"{mode} Resize scales {attrs['scales']} resize more than the last two dims")
        else:
            lead = attrs["sizes"][:-2]
            if in_shape is None or any(s != -1 and s != d for s, d in zip(lead, in_shape)):
                raise Unsupported(f"{mode} Resize sizes {attrs['sizes']} resize more than the last two dims")

    @staticmethod
    def _legacy_nearest_mode(scales: list[float]) -> str:
        """Upsample and Resize-10 leave nearest rounding unspecified; ONNX Runtime floors the
        (asymmetric) source coordinate on upsampled axes and ceils it on downsampled ones."""
        up = any(s > 1 for s in scales)
        if up and any(s < 1 and not (1 / s).is_integer() for s in scales):
            raise Unsupported(f"nearest scales {scales} mix upsampled and downsampled axes; "
                              f"cnnrt rounds every axis the same way")
        return "ceil" if any(s < 1 for s in scales) and not up else "floor"

    def op_Upsample(self, node: Node) -> None:
        mode = str(node.attrs.get("mode", "nearest"))
        scales = node.attrs.get("scales") if node.op_version < 9 else self.const(node, 1, "scales")
        scales = [float(s) for s in np.asarray(scales).reshape(-1)]
        nearest = self._legacy_nearest_mode(scales) if mode == "nearest" else "floor"
        attrs = self._resize_attrs(node, mode, "asymmetric", nearest)
        attrs["scales"] = scales
        self._check_linear(attrs, node, self.g.shape(node.inputs[0]))
        self.emit(node, "Resize", [node.inputs[0]], attrs=attrs)

    def op_Resize(self, node: Node) -> None:
        a = node.attrs
        mode = str(a.get("mode", "nearest"))
        if node.op_version < 11:
            scales = [float(s) for s in np.asarray(self.const(node, 1, "scales")).reshape(-1)]
            nearest = self._legacy_nearest_mode(scales) if mode == "nearest" else "floor"
            attrs = self._resize_attrs(node, mode, "asymmetric", nearest)
            attrs["scales"] = scales
        else:
            attrs = self._resize_attrs(node, mode, str(a.get("coordinate_transformation_mode", "half_pixel")),
                                       str(a.get("nearest_mode", "round_prefer_floor")))
            if int(a.get("antialias", 0)):
                raise Unsupported("Resize antialias=1 not supported")
            if int(a.get("exclude_outside", 0)) and mode == "linear":
                raise Unsupported("linear Resize exclude_outside=1 not supported")
            if mode == "cubic":
                attrs["cubic_coeff_a"] = float(a.get("cubic_coeff_a", -0.75))
                if int(a.get("exclude_outside", 0)):
                    attrs["exclude_outside"] = 1
            rank = self.rank(node.inputs[0], node)
            axes = a.get("axes")
            axes = None if axes is None else [x + rank if x < 0 else x for x in self.ints(axes)]
            scales = self.const(node, 2, "scales", required=False)
            sizes = self.const(node, 3, "sizes", required=False)
            if scales is not None and scales.size > 0:
                vals = [float(s) for s in scales.reshape(-1)]
                if axes is not None:
                    full = [1.0] * rank
                    for ax, v in zip(axes, vals):
                        full[ax] = v
                    vals = full
                attrs["scales"] = vals
            elif sizes is not None and sizes.size > 0:
                vals = self.ints(sizes)
                policy = str(a.get("keep_aspect_ratio_policy", "stretch"))
                if policy != "stretch":
                    raise Unsupported(f"Resize keep_aspect_ratio_policy '{policy}' not supported")
                if axes is not None:
                    full = [-1] * rank
                    for ax, v in zip(axes, vals):
                        full[ax] = v
                    vals = full
                in_shape = self.g.shape(node.inputs[0]) or []
                # A size equal to the known input size is "keep" (-1) so a run-time batch works.
                attrs["sizes"] = [-1 if (k < len(in_shape) and in_shape[k] == v) else v
                                  for k, v in enumerate(vals)]
            else:
                raise Unsupported("Resize has neither constant 'scales' nor constant 'sizes'")
        self._check_linear(attrs, node, self.g.shape(node.inputs[0]))
        inputs = [node.inputs[0]]
        if node.op_version >= 11 and len(node.inputs) > 4 and node.inputs[4]:
            # Sizes copied at run time from dims of a Reference tensor (passes.fold_constants).
            sizes_from = self.ints(a.get("sizes_from", []))
            if "sizes" not in attrs or len(sizes_from) != len(attrs["sizes"]):
                raise Unsupported("Resize reference input without matching 'sizes_from'")
            if attrs["mode"] != "nearest" and any(f != -1 for f in sizes_from[:-2]):
                raise Unsupported(f"{attrs['mode']} Resize takes dims {sizes_from} of a reference tensor: "
                                  f"it resizes only the last two dims")
            attrs["sizes_from"] = sizes_from
            if all(v == -1 for v in attrs["sizes"]):
                del attrs["sizes"]
            inputs.append(node.inputs[4])
        self.emit(node, "Resize", inputs, attrs=attrs)

    # -- normalisation and reductions ---------------------------------------------
    def _softmax(self, node: Node) -> None:
        legacy = node.op_version < 13
        attrs = {"axis": int(node.attrs.get("axis", 1 if legacy else -1))}
        if legacy:
            attrs["coerce_2d"] = 1
        self.emit(node, node.op, [node.inputs[0]], attrs=attrs)

    def _reduce(self, node: Node) -> None:
        attr_until = 13 if node.op == "ReduceSum" else 18
        axes = self._axes(node, attr_until)
        keepdims = int(node.attrs.get("keepdims", 1))
        if (axes is None or len(axes) == 0) and int(node.attrs.get("noop_with_empty_axes", 0)):
            self._copy(node, node.inputs[0])
            return
        attrs: dict = {"keepdims": keepdims}
        if axes:
            attrs["axes"] = axes
        self.emit(node, node.op, [node.inputs[0]], attrs=attrs)

    def op_BatchNormalization(self, node: Node) -> None:
        if int(node.attrs.get("training_mode", 0)):
            raise Unsupported("BatchNormalization training_mode=1 not supported (export in eval mode)")
        self.single_output(node)
        for k, what in enumerate(("scale", "B", "mean", "var"), start=1):
            self.const(node, k, what)
        self.emit(node, "BatchNormalization", [node.inputs[0]] + [self.float_input(i) for i in node.inputs[1:5]],
                  outputs=node.outputs[:1], attrs={"epsilon": float(node.attrs.get("epsilon", 1e-5))})

    def op_InstanceNormalization(self, node: Node) -> None:
        scale, bias = self.const(node, 1, "scale"), self.const(node, 2, "B")
        if scale.ndim != 1 or bias.shape != scale.shape:
            raise Unsupported(f"InstanceNormalization scale {list(scale.shape)} and B {list(bias.shape)} "
                              f"expected one value per channel each")
        self.emit(node, "InstanceNormalization",
                  [node.inputs[0], self.float_input(node.inputs[1]), self.float_input(node.inputs[2])],
                  attrs={"epsilon": float(node.attrs.get("epsilon", 1e-5))})

    def op_GroupNormalization(self, node: Node) -> None:
        a = node.attrs
        if "num_groups" not in a:
            raise Unsupported("missing required attribute 'num_groups'")
        groups = int(a["num_groups"])
        scale = np.asarray(self.const(node, 1, "scale"), np.float32).reshape(-1)
        bias = np.asarray(self.const(node, 2, "bias"), np.float32).reshape(-1)
        shape = self.g.shape(node.inputs[0])
        channels = shape[1] if shape is not None and len(shape) >= 2 else None
        if node.op_version < 21:
            # Opset 18 scales per group; cnnrt (like opset 21) scales per channel.
            if not isinstance(channels, int):
                raise Unsupported("opset-18 GroupNormalization needs the channel count known at conversion")
            if scale.size != groups or bias.size != groups or channels % groups:
                raise Unsupported(f"scale/bias of {scale.size}/{bias.size} values for {groups} groups of "
                                  f"{channels} channels")
            scale, bias = np.repeat(scale, channels // groups), np.repeat(bias, channels // groups)
        if groups < 1 or scale.size % groups or bias.size != scale.size:
            raise Unsupported(f"scale/bias of {scale.size}/{bias.size} values do not split into {groups} groups")
        ins = [node.inputs[0], self.g.add_constant(f"{node.name}_scale", scale),
               self.g.add_constant(f"{node.name}_bias", bias)]
        self.emit(node, "GroupNormalization", ins,
                  attrs={"num_groups": groups, "epsilon": float(a.get("epsilon", 1e-5))})

    def op_LayerNormalization(self, node: Node) -> None:
        a = node.attrs
        shape = self.g.shape(node.inputs[0])
        if shape is None:
            raise Unsupported("rank of the input is unknown")
        rank = len(shape)
        axis = int(a.get("axis", -1))
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank:
            raise Unsupported(f"axis {a.get('axis')} out of range for rank {rank}")
        block = shape[axis:]
        scale = np.asarray(self.const(node, 1, "Scale"), np.float32)
        bias = self.const(node, 2, "B", required=False)
        ins = [node.inputs[0]]
        for what, value in (("Scale", scale), ("B", bias)):
            if value is None:
                continue
            value = np.asarray(value, np.float32)
            if all(isinstance(d, int) for d in block) and list(value.shape) != block:
                try:  # cnnrt takes one value per normalised element
                    value = np.ascontiguousarray(np.broadcast_to(value, block))
                except ValueError:
                    raise Unsupported(f"{what} shape {list(value.shape)} does not broadcast to "
                                      f"the normalised dims {block}") from None
            ins.append(self.g.add_constant(f"{node.name}_{what.lower()}", value))
        # Mean and InvStdDev: computed up to the last one used (an unused one in
        # between gets a scratch name); shape X's up to axis, then 1s.
        outputs = list(node.outputs[:1])
        self.g.tensor(outputs[0]).shape = self.g.tensor(outputs[0]).shape or list(shape)
        wanted = [k for k, o in enumerate(node.outputs) if k > 0 and o and o in self.used]
        for k in range(1, (max(wanted) + 1) if wanted else 1):
            o = node.outputs[k] if k < len(node.outputs) and node.outputs[k] else ""
            if not o:
                o = self.g.unique_tensor_name(f"{node.outputs[0]}_stat{k}")
                self.g.tensors[o] = Tensor(o, DTYPE_F32, None)
            stat = self.g.tensor(o)
            stat.shape = stat.shape or list(shape[:axis]) + [1] * (rank - axis)
            outputs.append(o)
        self.emit(node, "LayerNormalization", ins, outputs=outputs,
                  attrs={"axis": axis, "epsilon": float(a.get("epsilon", 1e-5))})

    def _arg(self, node: Node) -> None:
        a = node.attrs
        attrs = {"axis": int(a.get("axis", 0)), "keepdims": int(a.get("keepdims", 1))}
        if int(a.get("select_last_index", 0)):
            attrs["select_last_index"] = 1
        self.emit(node, node.op, [node.inputs[0]], attrs=attrs)

    def op_ArgMax(self, node: Node) -> None:
        self._arg(node)

    def op_ArgMin(self, node: Node) -> None:
        self._arg(node)

    def op_TopK(self, node: Node) -> None:
        a = node.attrs
        if node.op_version < 10:
            if "k" not in a:
                raise Unsupported("missing required attribute 'k'")
            k = int(a["k"])
        else:
            values = self.ints(self.const(node, 1, "K"))
            if len(values) != 1:
                raise Unsupported(f"K expected one value, found {len(values)}")
            k = values[0]
        if k < 0:
            raise Unsupported(f"K {k} is negative")
        t = self.g.tensors.get(node.inputs[0])
        if t is not None and t.data is None and t.np_dtype is not None and t.np_dtype != np.float32:
            raise Unsupported(f"input has dtype {t.np_dtype}; cnnrt TopK reads float32")
        attrs = {"k": k, "axis": int(a.get("axis", -1))}
        if int(a.get("largest", 1)) == 0:
            attrs["largest"] = 0
        if int(a.get("sorted", 1)) == 0:
            attrs["sorted"] = 0
        outputs = [node.outputs[0] if node.outputs and node.outputs[0] else ""]
        indices = node.outputs[1] if len(node.outputs) > 1 and node.outputs[1] else ""
        if indices and indices in self.used:
            outputs.append(indices)
        if not outputs[0]:  # only the indices are used: the values still need a tensor
            outputs[0] = self.g.unique_tensor_name(f"{node.name}_values")
            shape = self.g.shape(indices)
            self.g.tensors[outputs[0]] = Tensor(outputs[0], DTYPE_F32, None if shape is None else list(shape))
        self.emit(node, "TopK", [self.float_input(node.inputs[0])], outputs=outputs, attrs=attrs)

    def op_LRN(self, node: Node) -> None:
        if "size" not in node.attrs:
            raise Unsupported("missing required attribute 'size'")
        a = node.attrs
        self.emit(node, "LRN", [node.inputs[0]],
                  attrs={"size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)),
                         "beta": float(a.get("beta", 0.75)), "bias": float(a.get("bias", 1.0))})

    # -- driver ------------------------------------------------------------------
    def handler(self, node: Node) -> Callable[[Node], None] | None:
        if node.domain not in ("", "ai.onnx"):
            return None
        if node.op in UNARY_OPS:
            return self._unary
        if node.op in BINARY_OPS:
            return self._binary
        if node.op in REDUCE_OPS:
            return self._reduce
        if node.op in ("Softmax", "LogSoftmax"):
            return self._softmax
        return getattr(self, f"op_{node.op}", None)

    def run(self) -> tuple[list[Node], list[UnsupportedNode]]:
        self.used = {i for n in self.g.nodes for i in n.inputs if i} | set(self.g.outputs)
        problems: list[UnsupportedNode] = []
        for name in self.g.inputs:
            t = self.g.tensors.get(name)
            npdt = t.np_dtype
            if npdt is not None and npdt != np.float32:
                problems.append(UnsupportedNode(name, "graph input", "", self.g.opset,
                                                f"input has dtype {npdt}; cnnrt 1.0 computes float32 only"))
        for node in self.g.nodes:
            fn = self.handler(node)
            if fn is None:
                reason = ("op not supported" if node.domain in ("", "ai.onnx")
                          else f"custom domain '{node.domain}' not supported")
                if node.op in ("Shape", "Gather", "ConstantOfShape", "Expand", "Range", "Tile", "Cast",
                               "NonZero", "Where"):
                    reason = "op not supported (it depends on run-time values and could not be folded)"
                problems.append(UnsupportedNode(node.name, node.op, node.domain, node.op_version, reason))
                continue
            start = len(self.out)
            try:
                fn(node)
            except Unsupported as e:
                del self.out[start:]
                problems.append(UnsupportedNode(node.name, node.op, node.domain, node.op_version, str(e)))
        return self.out, problems


def lower(g: Graph) -> Graph:
    """Lower an ONNX-level graph (after folding) to cnnrt ops; raises UnsupportedOpsError."""
    nodes, problems = _Lowering(g).run()
    if problems:
        raise UnsupportedOpsError(problems)
    g.nodes = nodes
    for name in g.inputs:
        g.tensors[name].dtype = DTYPE_F32
    for n in g.nodes:
        for k, o in enumerate(n.outputs):
            if o:
                g.tensor(o).dtype = DTYPE_INT64 if k in INT64_OUTPUTS.get(n.op, ()) else DTYPE_F32
    g.remove_unused_tensors()
    return g
