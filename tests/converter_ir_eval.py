"""Test helper: run a `.cnnrt` file without the C runtime.

The file is read with the Python reader, each cnnrt node (normalised attributes,
epilogues, residuals) is written back as plain ONNX opset-20 nodes, and ONNX
Runtime computes the result.  Comparing that with ONNX Runtime on the original
model checks lowering, folding and fusion numerically, through the file format.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cnnrt.converters.cnnrt_file import ModelFile, read_model

OPSET = 20
AUTO_PAD = {0: "NOTSET", 1: "SAME_UPPER", 2: "SAME_LOWER", 3: "VALID"}


class _Builder:
    def __init__(self, mf: ModelFile) -> None:
        self.mf = mf
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.counter = 0

    def tmp(self, base: str) -> str:
        self.counter += 1
        return f"__{base}_{self.counter}"

    def const(self, value, dtype=np.int64) -> str:
        name = self.tmp("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def add(self, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    def activation(self, code: int, alpha: float, beta: float, x: str, y: str) -> None:
        simple = {1: "Relu", 4: "Sigmoid", 5: "Tanh", 7: "HardSwish", 12: "Softplus"}
        if code in simple:
            self.add(simple[code], [x], [y])
        elif code == 2:
            self.add("LeakyRelu", [x], [y], alpha=alpha)
        elif code == 3:
            self.add("Clip", [x, self.const(alpha, np.float32), self.const(beta, np.float32)], [y])
        elif code == 6:
            self.add("HardSigmoid", [x], [y], alpha=alpha, beta=beta)
        elif code == 8:
            s = self.tmp("sig")
            self.add("Sigmoid", [x], [s])
            self.add("Mul", [x, s], [y])
        elif code == 9:
            self.add("Gelu", [x], [y])
        elif code == 10:
            self.add("Gelu", [x], [y], approximate="tanh")
        elif code == 11:
            self.add("Elu", [x], [y], alpha=alpha)
        else:
            raise ValueError(f"activation {code}")

    def node(self, n) -> None:
        a = dict(n.attrs)
        ins, outs = list(n.inputs), list(n.outputs)
        op = n.op
        has_epilogue = n.activation != 0 or n.residual
        y = outs[0]
        if has_epilogue:
            outs = [self.tmp("pre")] + outs[1:]
        if n.residual:
            residual = ins[-1]
            ins = ins[:-1]
            while ins and ins[-1] == "":
                ins.pop()
        if op in ("Conv", "ConvTranspose"):
            a["auto_pad"] = AUTO_PAD[a.get("auto_pad", 0)]
            if a["auto_pad"] != "NOTSET":
                a.pop("pads", None)
            self.add(op, ins, outs, **a)
        elif op in ("MaxPool", "AveragePool"):
            a["auto_pad"] = AUTO_PAD[a.get("auto_pad", 0)]
            if a["auto_pad"] != "NOTSET":
                a.pop("pads", None)
            self.add(op, ins, outs, **a)
        elif op == "SiLU":
            self.activation(8, 0, 0, ins[0], outs[0])
        elif op == "Clip":
            lo = self.const(a.get("min", -np.inf), np.float32)
            hi = self.const(a.get("max", np.inf), np.float32)
            self.add("Clip", [ins[0], lo, hi], outs)
        elif op == "Reshape":
            self.add("Reshape", [ins[0], self.const(a["shape"])], outs, allowzero=a.get("allowzero", 0))
        elif op == "Slice":
            self.add("Slice", [ins[0], self.const(a["starts"]), self.const(a["ends"]),
                               self.const(a["axes"]), self.const(a["steps"])], outs)
        elif op == "Split":
            extra = [self.const(a["split"])] if "split" in a else []
            kw = {} if extra else {"num_outputs": len(outs)}
            self.add("Split", [ins[0]] + extra, outs, axis=a.get("axis", 0), **kw)
        elif op == "Pad":
            self.add("Pad", [ins[0], self.const(a["pads"]), self.const(a.get("value", 0.0), np.float32)],
                     outs, mode=a.get("mode", "constant"))
        elif op == "Resize":
            kw = {k: a[k] for k in ("mode", "coordinate_transformation_mode", "nearest_mode") if k in a}
            if "scales" in a:
                self.add("Resize", [ins[0], "", self.const(a["scales"], np.float32)], outs, **kw)
            else:
                sizes = np.array(a["sizes"], np.int64)
                shape = self.tmp("shape")
                self.add("Shape", [ins[0]], [shape])
                full = self.tmp("sizes")
                self.add("Where", [self.const(sizes < 0, np.bool_), shape, self.const(sizes)], [full])
                self.add("Resize", [ins[0], "", "", full], outs, **kw)
        elif op in ("Softmax", "LogSoftmax"):
            axis = a.get("axis", -1)
            if a.get("coerce_2d", 0):
                shape, flat, soft = self.tmp("shape"), self.tmp("flat"), self.tmp("soft")
                self.add("Shape", [ins[0]], [shape])
                self.add("Flatten", [ins[0]], [flat], axis=axis)
                self.add(op, [flat], [soft], axis=-1)
                self.add("Reshape", [soft, shape], outs)
            else:
                self.add(op, ins, outs, axis=axis)
        elif op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"):
            extra = [self.const(a["axes"])] if "axes" in a else []
            self.add(op, ins + extra, outs, keepdims=a.get("keepdims", 1))
        elif op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "MatMul", "Gemm", "Concat",
                    "Flatten", "Transpose", "BatchNormalization", "LRN", "GlobalAveragePool",
                    "GlobalMaxPool", "Gelu", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
                    "HardSwish", "Elu", "Softplus", "Exp", "Log", "Sqrt", "Abs", "Neg", "Erf",
                    "Reciprocal", "Floor", "Ceil"):
            self.add(op, ins, outs, **a)
        else:
            raise NotImplementedError(op)
        if has_epilogue:
            x = outs[0]
            if n.residual:
                summed = self.tmp("res") if n.activation else y
                self.add("Add", [x, residual], [summed])
                x = summed
            if n.activation:
                self.activation(n.activation, n.act_alpha, n.act_beta, x, y)


def to_onnx(mf: ModelFile) -> onnx.ModelProto:
    b = _Builder(mf)
    for t in mf.tensors:
        if t.is_constant:
            b.inits.append(numpy_helper.from_array(np.array(t.data), t.name))
    for n in mf.nodes:
        b.node(n)

    def vi(name: str) -> onnx.ValueInfoProto:
        t = mf.tensor(name)
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [d if d != -1 else None for d in t.shape])

    graph = helper.make_graph(b.nodes, "cnnrt_eval", [vi(i) for i in mf.inputs],
                              [vi(o) for o in mf.outputs], b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)


def run_onnx(model: onnx.ModelProto | bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    data = model if isinstance(model, bytes) else model.SerializeToString()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def run_cnnrt_file(path_or_bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs of a `.cnnrt` file for ``feeds``, in graph-output order."""
    return run_onnx(to_onnx(read_model(path_or_bytes)), feeds)


def assert_close(got: np.ndarray, ref: np.ndarray, tol: float = 1e-4) -> None:
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"shape {got.shape} != reference {ref.shape}"
    err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    bound = tol * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    assert err <= bound, f"max abs error {err} > {bound}"


# --------------------------------------------------------------------------- model building


def make_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
               outputs: list[onnx.ValueInfoProto], initializers: dict[str, np.ndarray] | None = None,
               opset: int = 17) -> onnx.ModelProto:
    """An ONNX model with IR 10 and an explicit opset (ONNX Runtime refuses onnx's newest defaults)."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    graph = helper.make_graph(nodes, "test", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def f32(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def convert_and_compare(model: onnx.ModelProto, feeds: dict[str, np.ndarray], path, tol: float = 1e-4,
                        **kwargs) -> ModelFile:
    """Convert ``model`` to ``path``; check the file's outputs against ONNX Runtime on the original."""
    from cnnrt.converters import convert

    convert(model, path, **kwargs)
    ref = run_onnx(model, feeds)
    got = run_cnnrt_file(path, feeds)
    assert len(got) == len(ref)
    for g_out, r_out in zip(got, ref):
        assert_close(g_out, r_out, tol)
    return read_model(path)
