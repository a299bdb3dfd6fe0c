"""An ONNX CNN as a TFLite flatbuffer, so that `cnnrt bench --compare litert`
can run LiteRT (XNNPACK) on the same model and weights as the other engines.

The ONNX model goes through cnnrt's own import (batch norms folded into the
convolutions, activations and residual adds marked on their producers), and
each node is written as the TFLite builtin ops that compute it in NHWC:
convolution weights as OHWI (depthwise as 1HWO), explicit paddings that are
not TFLite's SAME as a PAD before a VALID op, fused ReLU / ReLU6 where TFLite
has them and separate ops otherwise, Flatten of a plane as a transpose back to
NCHW order before the reshape (the classifier's weights then need no
change). The schema comes with the LiteRT package (ai_edge_litert).

What it covers is what the benchmark models use (the CNN zoo's classifiers:
convolutions of any stride, dilation, padding and groups, max pools (ceil
mode too), average and global pools, reductions, batch norms left unfolded,
Gemm, Add / Mul / Sub / Div, Concat, the activations); anything else raises TFLiteExportError naming the node, and
the benchmark skips LiteRT with that reason. The benchmark also checks the
exported model's output against cnnrt's before timing it.
"""
from __future__ import annotations

import math

import numpy as np

# cnnrt activation codes (docs/ops.md); see converters/ir.py.
_ACT_NONE, _ACT_RELU, _ACT_LEAKY_RELU, _ACT_CLIP, _ACT_SIGMOID, _ACT_TANH = 0, 1, 2, 3, 4, 5
_ACT_HARD_SIGMOID, _ACT_HARD_SWISH, _ACT_SILU = 6, 7, 8


class TFLiteExportError(ValueError):
    """The model uses something this exporter does not write."""


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as tfl
    except ImportError as e:  # pragma: no cover - the bench checks first
        raise TFLiteExportError("the TFLite schema comes with LiteRT: pip install ai-edge-litert") from e
    return tfl


class _Writer:
    """Tensors, buffers and operators of one subgraph."""

    def __init__(self, tfl):
        self.tfl = tfl
        self.tensors: list = []
        self.buffers: list = [tfl.BufferT()]  # buffer 0: the empty buffer of every value tensor
        self.operators: list = []
        self.opcodes: dict[int, int] = {}
        self.opcode_list: list = []
        self.names: set[str] = set()

    def _name(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def value(self, name: str, shape: list[int]) -> int:
        t = self.tfl.TensorT()
        t.name = self._name(name)
        t.shape = [int(d) for d in shape]
        t.type = self.tfl.TensorType.FLOAT32
        t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def constant(self, name: str, data: np.ndarray) -> int:
        data = np.ascontiguousarray(data)
        if data.dtype == np.float32:
            kind = self.tfl.TensorType.FLOAT32
        elif data.dtype == np.int32:
            kind = self.tfl.TensorType.INT32
        else:
            raise TFLiteExportError(f"constant {name!r}: dtype {data.dtype} (expected float32 or int32)")
        b = self.tfl.BufferT()
        b.data = np.frombuffer(data.tobytes(), dtype=np.uint8)
        self.buffers.append(b)
        t = self.tfl.TensorT()
        t.name = self._name(name)
        t.shape = [int(d) for d in data.shape]
        t.type = kind
        t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0, options=None) -> None:
        if code not in self.opcodes:
            c = self.tfl.OperatorCodeT()
            c.builtinCode = code
            c.deprecatedBuiltinCode = min(code, self.tfl.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            c.version = 1
            self.opcodes[code] = len(self.opcode_list)
            self.opcode_list.append(c)
        o = self.tfl.OperatorT()
        o.opcodeIndex = self.opcodes[code]
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        o.builtinOptionsType = options_type
        o.builtinOptions = options
        self.operators.append(o)

    def finish(self, inputs: list[int], outputs: list[int]) -> bytes:
        import flatbuffers

        tfl = self.tfl
        sub = tfl.SubGraphT()
        sub.tensors, sub.inputs, sub.outputs, sub.operators = self.tensors, inputs, outputs, self.operators
        sub.name = "main"
        model = tfl.ModelT()
        model.version = 3
        model.operatorCodes = self.opcode_list
        model.subgraphs = [sub]
        model.buffers = self.buffers
        model.description = "exported by cnnrt (bench peer)"
        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _nhwc(shape: list) -> list:
    return [shape[0], shape[2], shape[3], shape[1]] if len(shape) == 4 else list(shape)


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int, int]:
    """TFLite SAME: output ceil(size / stride), the odd pad at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return out, total // 2, total - total // 2


class _Exporter:
    def __init__(self, g, tfl):
        self.g = g
        self.tfl = tfl
        self.w = _Writer(tfl)
        self.ids: dict[str, int] = {}      # cnnrt tensor name -> TFLite tensor index
        self.shapes: dict[str, list] = {}  # cnnrt tensor name -> NHWC shape (batch 1)
        self.producers = g.producers()

    # -- tensors ----------------------------------------------------------------
    def shape_of(self, name: str) -> list[int]:
        shape = self.g.shape(name)
        if shape is None:
            raise TFLiteExportError(f"tensor {name!r}: unknown shape")
        dims = []
        for i, d in enumerate(shape):
            if isinstance(d, int):
                dims.append(d)
            elif i == 0:
                dims.append(1)  # the batch; the interpreter resizes it
            else:
                raise TFLiteExportError(f"tensor {name!r}: dim {i} is {d!r} (only the batch may be symbolic)")
        return dims

    def tensor(self, name: str) -> int:
        if name in self.ids:
            return self.ids[name]
        data = self.g.constant(name)
        if data is None:
            raise TFLiteExportError(f"tensor {name!r} is used before it is computed")
        data = np.asarray(data)
        if data.dtype == np.float64:
            data = data.astype(np.float32)
        if data.ndim == 4:
            data = data.transpose(0, 2, 3, 1)
        if data.dtype == np.int64:
            data = data.astype(np.int32)
        self.ids[name] = self.w.constant(name, data)
        return self.ids[name]

    def new(self, name: str, nhwc: list[int]) -> int:
        return self.w.value(name, nhwc)

    def out(self, name: str) -> tuple[int, list]:
        shape = _nhwc(self.shape_of(name))
        self.shapes[name] = shape
        self.ids[name] = self.new(name, shape)
        return self.ids[name], shape

    def const(self, name: str, data) -> int:
        return self.w.constant(name, np.asarray(data))

    # -- activations ---------------------------------------------------------------
    def fusable(self, act: int, alpha: float, beta: float) -> int | None:
        A = self.tfl.ActivationFunctionType
        if act == _ACT_NONE:
            return A.NONE
        if act == _ACT_RELU or (act == _ACT_CLIP and alpha == 0.0 and beta == math.inf):
            return A.RELU
        if act == _ACT_CLIP and alpha == 0.0 and beta == 6.0:
            return A.RELU6
        if act == _ACT_CLIP and alpha == -1.0 and beta == 1.0:
            return A.RELU_N1_TO_1
        return None

    def activation(self, act: int, alpha: float, beta: float, x: int, shape: list, name: str) -> int:
        """Ops computing activation `act` of tensor x; returns the result's index."""
        B = self.tfl.BuiltinOperator
        O = self.tfl.BuiltinOptions
        fused = self.fusable(act, alpha, beta)
        if fused == self.tfl.ActivationFunctionType.NONE:
            return x
        y = self.new(name, shape)
        if fused is not None:
            code = {self.tfl.ActivationFunctionType.RELU: B.RELU, self.tfl.ActivationFunctionType.RELU6: B.RELU6,
                    self.tfl.ActivationFunctionType.RELU_N1_TO_1: B.RELU_N1_TO_1}[fused]
            self.w.op(code, [x], [y])
        elif act == _ACT_CLIP:
            t = self.new(name + "/max", shape)
            self.w.op(B.MAXIMUM, [x, self.const(name + "/lo", np.float32(alpha).reshape(1))], [t],
                      O.MaximumMinimumOptions, self.tfl.MaximumMinimumOptionsT())
            self.w.op(B.MINIMUM, [t, self.const(name + "/hi", np.float32(beta).reshape(1))], [y],
                      O.MaximumMinimumOptions, self.tfl.MaximumMinimumOptionsT())
        elif act == _ACT_SIGMOID:
            self.w.op(B.LOGISTIC, [x], [y])
        elif act == _ACT_TANH:
            self.w.op(B.TANH, [x], [y])
        elif act == _ACT_HARD_SWISH:
            self.w.op(B.HARD_SWISH, [x], [y], O.HardSwishOptions, self.tfl.HardSwishOptionsT())
        elif act == _ACT_SILU:
            s = self.new(name + "/sigmoid", shape)
            self.w.op(B.LOGISTIC, [x], [s])
            self.w.op(B.MUL, [x, s], [y], O.MulOptions, self.tfl.MulOptionsT())
        elif act == _ACT_HARD_SIGMOID:
            # clamp(alpha x + beta, 0, 1) = relu6(6 alpha x + 6 beta) / 6
            a = self.new(name + "/scaled", shape)
            self.w.op(B.MUL, [x, self.const(name + "/6alpha", np.float32(6 * alpha).reshape(1))], [a],
                      O.MulOptions, self.tfl.MulOptionsT())
            b = self.new(name + "/relu6", shape)
            opts = self.tfl.AddOptionsT()
            opts.fusedActivationFunction = self.tfl.ActivationFunctionType.RELU6
            self.w.op(B.ADD, [a, self.const(name + "/6beta", np.float32(6 * beta).reshape(1))], [b],
                      O.AddOptions, opts)
            self.w.op(B.MUL, [b, self.const(name + "/sixth", np.float32(1 / 6).reshape(1))], [y],
                      O.MulOptions, self.tfl.MulOptionsT())
        elif act == _ACT_LEAKY_RELU:
            opts = self.tfl.LeakyReluOptionsT()
            opts.alpha = alpha
            self.w.op(B.LEAKY_RELU, [x], [y], O.LeakyReluOptions, opts)
        else:
            raise TFLiteExportError(f"{name}: activation code {act} has no TFLite op here")
        return y

    def epilogue(self, node, raw: int, shape: list) -> None:
        """The node's residual add and activation after its raw result, into its output tensor."""
        name = node.outputs[0]
        act, alpha, beta = node.activation, node.act_alpha, node.act_beta
        if node.residual:
            fused = self.fusable(act, alpha, beta)
            opts = self.tfl.AddOptionsT()
            opts.fusedActivationFunction = fused if fused is not None else self.tfl.ActivationFunctionType.NONE
            y = self.new(name if fused is not None else name + "/sum", shape)
            self.w.op(self.tfl.BuiltinOperator.ADD, [raw, self.tensor(node.inputs[-1])], [y],
                      self.tfl.BuiltinOptions.AddOptions, opts)
            if fused is not None:
                self.ids[name] = y
                return
            raw = y
        self.ids[name] = self.activation(act, alpha, beta, raw, shape, name)

    @staticmethod
    def bias_input(node) -> str | None:
        """The optional bias input (the residual, when fused, is the last input)."""
        regular = len(node.inputs) - (1 if node.residual else 0)
        return node.inputs[2] if regular > 2 and node.inputs[2] else None

    # -- padding -------------------------------------------------------------------
    def padding(self, node, x: int, in_shape: list, kernel, strides, dilations, pads, out_hw, pad_value=None,
                same=True, explicit=True):
        """(padding enum, input index, its NHWC shape): SAME (when `same`) / VALID where they equal the ONNX
        pads, else (when `explicit`) a PAD of pad_value (0 when None) before a VALID op."""
        P = self.tfl.Padding
        _, h, w, c = in_shape
        if not any(pads):
            return P.VALID, x, in_shape
        same_pads = [_same_padding(h, kernel[0], strides[0], dilations[0]),
                     _same_padding(w, kernel[1], strides[1], dilations[1])]
        if (same and same_pads[0][0] == out_hw[0] and same_pads[1][0] == out_hw[1] and
                (same_pads[0][1], same_pads[1][1], same_pads[0][2], same_pads[1][2]) == tuple(pads)):
            return P.SAME, x, in_shape
        if not explicit:
            raise TFLiteExportError(f"node {node.name!r}: pads {list(pads)} are not TFLite's SAME for this shape")
        top, left, bottom, right = pads
        padded = [in_shape[0], h + top + bottom, w + left + right, c]
        y = self.new(node.outputs[0] + "/pad", padded)
        amounts = self.const(node.outputs[0] + "/pads",
                             np.array([[0, 0], [top, bottom], [left, right], [0, 0]], dtype=np.int32))
        B, O = self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        if pad_value is None:
            self.w.op(B.PAD, [x, amounts], [y], O.PadOptions, self.tfl.PadOptionsT())
        else:
            value = self.const(node.outputs[0] + "/pad_value", np.float32(pad_value).reshape(()))
            self.w.op(B.PADV2, [x, amounts, value], [y], O.PadV2Options, self.tfl.PadV2OptionsT())
        return P.VALID, y, padded

    def non_negative(self, name: str) -> bool:
        """Whether every value of a tensor is >= 0 (its producer ends in a ReLU-like clamp)."""
        p = self.producers.get(name)
        if p is None:
            return False
        if p.op == "Relu":
            return True
        if p.op == "Clip":
            return float(p.attrs.get("min", -math.inf)) >= 0.0
        return p.activation == _ACT_RELU or (p.activation == _ACT_CLIP and p.act_alpha >= 0.0)

    # -- nodes -----------------------------------------------------------------------
    def conv(self, node) -> None:
        tfl, B, O = self.tfl, self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        a = node.attrs
        weight = self.g.constant(node.inputs[1])
        if weight is None or weight.ndim != 4:
            raise TFLiteExportError(f"node {node.name!r}: Conv needs a constant 4-D weight (2-D convolution)")
        x = self.tensor(node.inputs[0])
        in_shape = self.shapes[node.inputs[0]]
        out_ch, in_per_group, kh, kw = weight.shape
        group = int(a.get("group", 1))
        if group > 1 and in_per_group * group != in_shape[3]:
            raise TFLiteExportError(f"node {node.name!r}: {group} groups of {in_per_group} channels for "
                                    f"{in_shape[3]} input channels")
        bias_name = self.bias_input(node)
        bias = self.g.constant(bias_name) if bias_name else None
        if bias_name and bias is None:
            raise TFLiteExportError(f"node {node.name!r}: a computed bias is not exported")
        if bias is None:
            bias = np.zeros(out_ch, np.float32)
        strides, dilations = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
        pads = a.get("pads", [0, 0, 0, 0])
        out_shape = _nhwc(self.shape_of(node.outputs[0]))
        padding, x, in_shape = self.padding(node, x, in_shape, (kh, kw), strides, dilations, pads, out_shape[1:3])
        direct_act = None if node.residual else self.fusable(node.activation, node.act_alpha, node.act_beta)
        fused = direct_act if direct_act is not None else tfl.ActivationFunctionType.NONE
        raw = self.new(node.outputs[0] + ("/conv" if direct_act is None else ""), out_shape)
        b = self.const(node.inputs[1] + "/bias", np.asarray(bias, np.float32))
        if group > 1 and in_per_group == 1:
            wt = self.const(node.inputs[1] + "/1hwo", np.asarray(weight, np.float32).transpose(1, 2, 3, 0))
            opts = self._conv_options(tfl.DepthwiseConv2DOptionsT(), padding, strides, dilations, fused)
            opts.depthMultiplier = out_ch // group
            self.w.op(B.DEPTHWISE_CONV_2D, [x, wt, b], [raw], O.DepthwiseConv2DOptions, opts)
        else:  # groups > 1: TFLite's CONV_2D takes filters of in_channels / groups channels
            wt = self.const(node.inputs[1] + "/ohwi", np.asarray(weight, np.float32).transpose(0, 2, 3, 1))
            self.w.op(B.CONV_2D, [x, wt, b], [raw], O.Conv2DOptions,
                      self._conv_options(tfl.Conv2DOptionsT(), padding, strides, dilations, fused))
        if direct_act is not None:
            self.ids[node.outputs[0]] = raw
        else:
            self.epilogue(node, raw, out_shape)
        self.shapes[node.outputs[0]] = out_shape

    @staticmethod
    def _conv_options(opts, padding, strides, dilations, fused):
        opts.padding = padding
        opts.strideH, opts.strideW = int(strides[0]), int(strides[1])
        opts.dilationHFactor, opts.dilationWFactor = int(dilations[0]), int(dilations[1])
        opts.fusedActivationFunction = fused
        return opts

    def pool(self, node) -> None:
        tfl, B, O = self.tfl, self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        a = node.attrs
        kernel = a["kernel_shape"]
        if len(kernel) != 2 or any(d != 1 for d in a.get("dilations", [1, 1])):
            raise TFLiteExportError(f"node {node.name!r}: only 2-D pools without dilation are exported")
        strides, pads = a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0])
        x = self.tensor(node.inputs[0])
        in_shape = self.shapes[node.inputs[0]]
        out_shape = _nhwc(self.shape_of(node.outputs[0]))
        maximum = node.op == "MaxPool"
        pad_value = None if not maximum or self.non_negative(node.inputs[0]) else -3.4028234663852886e38
        if maximum:
            # ceil_mode: windows running past the end pads read more padding (every window keeps an input).
            pads = list(pads)
            for i, size in ((0, in_shape[1]), (1, in_shape[2])):
                need = (out_shape[1 + i] - 1) * strides[i] + kernel[i] - (size + pads[i] + pads[2 + i])
                if need > 0:
                    pads[2 + i] += need
        # A SAME average pool leaves the padding out of its divisor (count_include_pad=0); explicit zero
        # padding counts it (count_include_pad=1).
        counted = not maximum and bool(a.get("count_include_pad", 0))
        padding, x, in_shape = self.padding(node, x, in_shape, kernel, strides, [1, 1], pads, out_shape[1:3],
                                            pad_value, same=not counted, explicit=maximum or counted)
        if padding == tfl.Padding.VALID:
            for i in (1, 2):
                if (in_shape[i] - kernel[i - 1]) // strides[i - 1] + 1 != out_shape[i]:
                    raise TFLiteExportError(f"node {node.name!r}: ceil_mode windows past the input are not exported")
        opts = tfl.Pool2DOptionsT()
        opts.padding = padding
        opts.strideH, opts.strideW = int(strides[0]), int(strides[1])
        opts.filterHeight, opts.filterWidth = int(kernel[0]), int(kernel[1])
        opts.fusedActivationFunction = tfl.ActivationFunctionType.NONE
        y, _ = self.out(node.outputs[0])
        self.w.op(B.MAX_POOL_2D if maximum else B.AVERAGE_POOL_2D, [x], [y], O.Pool2DOptions, opts)

    def global_pool(self, node) -> None:
        B, O = self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        x = self.tensor(node.inputs[0])
        y, _ = self.out(node.outputs[0])
        opts = self.tfl.ReducerOptionsT()
        opts.keepDims = True
        axes = self.const(node.outputs[0] + "/axes", np.array([1, 2], np.int32))
        self.w.op(B.MEAN if node.op == "GlobalAveragePool" else B.REDUCE_MAX, [x, axes], [y], O.ReducerOptions, opts)

    def batch_norm(self, node) -> None:
        """BatchNormalization (inference) not folded into a convolution: one MUL and one ADD per channel."""
        B, O = self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        params = [self.g.constant(name) for name in node.inputs[1:5]]
        if len(node.inputs) < 5 or any(p is None for p in params):
            raise TFLiteExportError(f"node {node.name!r}: BatchNormalization needs constant scale, bias, mean, var")
        scale, bias, mean, var = (np.asarray(p, np.float64).reshape(-1) for p in params)
        a = scale / np.sqrt(var + float(node.attrs.get("epsilon", 1e-5)))
        x = self.tensor(node.inputs[0])
        shape = self.shapes.get(node.inputs[0]) or _nhwc(self.shape_of(node.inputs[0]))
        if len(shape) != 4:
            raise TFLiteExportError(f"node {node.name!r}: BatchNormalization of a rank-{len(shape)} tensor")
        t = self.new(node.outputs[0] + "/scaled", shape)
        self.w.op(B.MUL, [x, self.const(node.outputs[0] + "/a", a.astype(np.float32))], [t], O.MulOptions,
                  self.tfl.MulOptionsT())
        y, _ = self.out(node.outputs[0])
        self.w.op(B.ADD, [t, self.const(node.outputs[0] + "/b", (bias - mean * a).astype(np.float32))], [y],
                  O.AddOptions, self.tfl.AddOptionsT())

    def reduce(self, node) -> None:
        B, O = self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        in_shape = self.shape_of(node.inputs[0])
        rank = len(in_shape)
        axes = node.attrs.get("axes")
        if axes is None:
            axes = list(range(rank))
        axes = sorted(int(a) % rank for a in axes)
        keep = bool(node.attrs.get("keepdims", 1))
        if rank == 4:
            where = {0: 0, 1: 3, 2: 1, 3: 2}
            kept = [where[a] for a in range(4) if a not in axes]
            if not keep and kept != sorted(kept):
                raise TFLiteExportError(f"node {node.name!r}: {node.op} over axes {axes} without keepdims "
                                        "would leave the dims in NHWC order")
            axes = sorted(where[a] for a in axes)
        x = self.tensor(node.inputs[0])
        y, _ = self.out(node.outputs[0])
        opts = self.tfl.ReducerOptionsT()
        opts.keepDims = keep
        code = {"ReduceMean": B.MEAN, "ReduceMax": B.REDUCE_MAX, "ReduceMin": B.REDUCE_MIN,
                "ReduceSum": B.SUM}[node.op]
        self.w.op(code, [x, self.const(node.outputs[0] + "/axes", np.array(axes, np.int32))], [y],
                  O.ReducerOptions, opts)

    def flatten(self, node) -> None:
        B, O = self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        if int(node.attrs.get("axis", 1)) != 1:
            raise TFLiteExportError(f"node {node.name!r}: only Flatten(axis=1) is exported")
        x = self.tensor(node.inputs[0])
        shape = self.shapes.get(node.inputs[0]) or self.shape_of(node.inputs[0])
        if len(shape) == 4 and shape[1] * shape[2] > 1:
            # NCHW order for the flattened vector: transpose the plane back first.
            t = self.new(node.outputs[0] + "/nchw", [shape[0], shape[3], shape[1], shape[2]])
            self.w.op(B.TRANSPOSE, [x, self.const(node.outputs[0] + "/perm", np.array([0, 3, 1, 2], np.int32))],
                      [t], O.TransposeOptions, self.tfl.TransposeOptionsT())
            x = t
        features = int(np.prod(shape[1:]))
        y, _ = self.out(node.outputs[0])
        opts = self.tfl.ReshapeOptionsT()
        opts.newShape = [-1, features]
        self.w.op(B.RESHAPE, [x, self.const(node.outputs[0] + "/shape", np.array([-1, features], np.int32))], [y],
                  O.ReshapeOptions, opts)

    def gemm(self, node) -> None:
        tfl, B, O = self.tfl, self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        a = node.attrs
        weight = self.g.constant(node.inputs[1])
        if (weight is None or weight.ndim != 2 or a.get("transA", 0) or a.get("alpha", 1.0) != 1.0
                or a.get("beta", 1.0) != 1.0):
            raise TFLiteExportError(f"node {node.name!r}: only Gemm(x, constant W) with alpha = beta = 1 is exported")
        if node.op == "MatMul" or not a.get("transB", 0):
            weight = weight.T
        bias_name = self.bias_input(node)
        bias = self.g.constant(bias_name) if bias_name else None
        if bias_name and bias is None:
            raise TFLiteExportError(f"node {node.name!r}: a computed bias is not exported")
        if bias is None:
            bias = np.zeros(weight.shape[0], np.float32)
        if bias.size != weight.shape[0]:
            raise TFLiteExportError(f"node {node.name!r}: Gemm bias of {bias.size} values for {weight.shape[0]} outputs")
        x = self.tensor(node.inputs[0])
        out_shape = self.shape_of(node.outputs[0])
        direct_act = None if node.residual else self.fusable(node.activation, node.act_alpha, node.act_beta)
        opts = tfl.FullyConnectedOptionsT()
        opts.fusedActivationFunction = direct_act if direct_act is not None else tfl.ActivationFunctionType.NONE
        raw = self.new(node.outputs[0] + ("/fc" if direct_act is None else ""), out_shape)
        self.w.op(B.FULLY_CONNECTED, [x, self.const(node.inputs[1] + "/oi", np.ascontiguousarray(weight, np.float32)),
                                      self.const(node.inputs[1] + "/bias", np.asarray(bias, np.float32).reshape(-1))],
                  [raw], O.FullyConnectedOptions, opts)
        if direct_act is not None:
            self.ids[node.outputs[0]] = raw
        else:
            self.epilogue(node, raw, out_shape)
        self.shapes[node.outputs[0]] = out_shape

    def binary(self, node) -> None:
        tfl, B, O = self.tfl, self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        code, options_type, options = {
            "Add": (B.ADD, O.AddOptions, tfl.AddOptionsT), "Sub": (B.SUB, O.SubOptions, tfl.SubOptionsT),
            "Mul": (B.MUL, O.MulOptions, tfl.MulOptionsT), "Div": (B.DIV, O.DivOptions, tfl.DivOptionsT)}[node.op]
        inputs = []
        for name in node.inputs[:2]:
            data = self.g.constant(name)
            if data is not None and data.ndim not in (0, 4) and data.size != 1:
                raise TFLiteExportError(f"node {node.name!r}: a {data.ndim}-D constant operand is not exported")
            inputs.append(self.tensor(name))
        out_shape = _nhwc(self.shape_of(node.outputs[0]))
        fused = self.fusable(node.activation, node.act_alpha, node.act_beta)
        opts = options()
        opts.fusedActivationFunction = fused if fused is not None else tfl.ActivationFunctionType.NONE
        raw = self.new(node.outputs[0] + ("/raw" if fused is None else ""), out_shape)
        self.w.op(code, inputs, [raw], options_type, opts)
        self.ids[node.outputs[0]] = (raw if fused is not None else
                                     self.activation(node.activation, node.act_alpha, node.act_beta, raw, out_shape,
                                                     node.outputs[0]))
        self.shapes[node.outputs[0]] = out_shape

    def concat(self, node) -> None:
        B, O = self.tfl.BuiltinOperator, self.tfl.BuiltinOptions
        rank = len(self.shape_of(node.outputs[0]))
        axis = int(node.attrs.get("axis", 1)) % rank
        if rank == 4:
            axis = {0: 0, 1: 3, 2: 1, 3: 2}[axis]
        inputs = [self.tensor(i) for i in node.inputs]
        y, _ = self.out(node.outputs[0])
        opts = self.tfl.ConcatenationOptionsT()
        opts.axis = axis
        self.w.op(B.CONCATENATION, inputs, [y], O.ConcatenationOptions, opts)

    def unary(self, node, act: int, alpha: float, beta: float) -> None:
        x = self.tensor(node.inputs[0])
        shape = self.shapes.get(node.inputs[0]) or _nhwc(self.shape_of(node.inputs[0]))
        y = self.activation(act, alpha, beta, x, shape, node.outputs[0])
        if y == x:  # an identity: a copy keeps the output a tensor of its own
            y = self.new(node.outputs[0], shape)
            opts = self.tfl.ReshapeOptionsT()
            opts.newShape = [-1, *shape[1:]]
            self.w.op(self.tfl.BuiltinOperator.RESHAPE,
                      [x, self.const(node.outputs[0] + "/shape", np.array([-1, *shape[1:]], np.int32))], [y],
                      self.tfl.BuiltinOptions.ReshapeOptions, opts)
        self.ids[node.outputs[0]] = y
        self.shapes[node.outputs[0]] = shape

    _UNARY = {"Relu": _ACT_RELU, "Sigmoid": _ACT_SIGMOID, "Tanh": _ACT_TANH, "HardSwish": _ACT_HARD_SWISH,
              "SiLU": _ACT_SILU}

    def node(self, node) -> None:
        op = node.op
        if op == "Conv":
            self.conv(node)
        elif op in ("MaxPool", "AveragePool"):
            self.pool(node)
        elif op in ("GlobalAveragePool", "GlobalMaxPool"):
            self.global_pool(node)
        elif op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum") and len(node.inputs) == 1:
            self.reduce(node)
        elif op == "Flatten":
            self.flatten(node)
        elif op == "BatchNormalization":
            self.batch_norm(node)
        elif op in ("Gemm", "MatMul"):
            self.gemm(node)
        elif op in ("Add", "Sub", "Mul", "Div"):
            self.binary(node)
        elif op == "Concat":
            self.concat(node)
        elif op in self._UNARY:
            self.unary(node, self._UNARY[op], 0.0, 0.0)
        elif op == "Clip":
            self.unary(node, _ACT_CLIP, float(node.attrs.get("min", -math.inf)), float(node.attrs.get("max", math.inf)))
        elif op == "HardSigmoid":
            self.unary(node, _ACT_HARD_SIGMOID, float(node.attrs.get("alpha", 0.2)), float(node.attrs.get("beta", 0.5)))
        elif op == "LeakyRelu":
            self.unary(node, _ACT_LEAKY_RELU, float(node.attrs.get("alpha", 0.01)), 0.0)
        else:
            raise TFLiteExportError(f"node {node.name!r}: op {op} is not exported to TFLite")

    def run(self) -> bytes:
        g = self.g
        if len(g.inputs) != 1:
            raise TFLiteExportError(f"one graph input expected, found {len(g.inputs)}")
        inputs = []
        for name in g.inputs:
            shape = self.shape_of(name)
            if len(shape) != 4:
                raise TFLiteExportError(f"input {name!r}: an NCHW image batch expected, found rank {len(shape)}")
            idx, _ = self.out(name)
            inputs.append(idx)
        for n in g.nodes:
            self.node(n)
        outputs = []
        for name in g.outputs:
            if name not in self.ids:
                raise TFLiteExportError(f"output {name!r} is not computed")
            if len(self.shapes.get(name, [])) == 4:
                raise TFLiteExportError(f"output {name!r} is an image (NHWC here, NCHW in ONNX): not exported")
            outputs.append(self.ids[name])
        return self.w.finish(inputs, outputs)


def export(onnx_path: str, tflite_path: str) -> None:
    """Writes the ONNX model at onnx_path as a TFLite model (NHWC input, batch 1, resizable)."""
    import onnx

    from cnnrt.converters.converter import build_graph

    tfl = _schema()
    graph, _ = build_graph(onnx.load(onnx_path))
    data = _Exporter(graph, tfl).run()
    with open(tflite_path, "wb") as f:
        f.write(data)


def litert_runner(tflite_path: str, x: np.ndarray, threads: int):
    """A function running the TFLite model with LiteRT on x (an NCHW batch, transposed to TFLite's NHWC once,
    here) and returning its output; the input is resized to x's batch."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=tflite_path, num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [x.shape[0], x.shape[2], x.shape[3], x.shape[1]])
    interpreter.allocate_tensors()
    output = interpreter.get_output_details()[0]["index"]
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))

    def run() -> np.ndarray:
        interpreter.set_tensor(index, x_nhwc)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run
