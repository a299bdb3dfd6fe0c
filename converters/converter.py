"""The conversion pipeline: source -> ONNX -> IR -> folded/lowered/fused IR -> `.cnnrt` file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import onnx

from . import passes
from .cnnrt_file import ModelFile, read_model, write_model
from .errors import ConversionError
from .ir import Graph, broadcast_shapes
from .onnx_import import default_opset, load_onnx, lower, onnx_to_graph, refresh_shapes

__version__ = "0.1.0"
PRODUCER = f"cnnrt.converters {__version__}"

# ONNX inputs that carry shape / index data rather than learned parameters.
_SHAPE_INPUTS = {
    "Reshape": {1}, "Slice": {1, 2, 3, 4}, "Pad": {1, 3}, "Unsqueeze": {1}, "Squeeze": {1},
    "Split": {1}, "Resize": {1, 2, 3}, "Upsample": {1}, "Expand": {1}, "Tile": {1},
    "ConstantOfShape": {0}, "Range": {0, 1, 2}, "ReduceMean": {1}, "ReduceSum": {1},
    "ReduceMax": {1}, "ReduceMin": {1}, "Gather": {1}, "TopK": {1}, "OneHot": {1},
}
_SHAPE_OPS = {"Shape", "Gather", "Concat", "Unsqueeze", "Squeeze", "Cast", "Slice", "Range",
              "ConstantOfShape", "Equal", "Where", "Add", "Sub", "Mul", "Div", "Reshape", "Expand"}


@dataclass
class ConversionReport:
    output_path: str
    source_format: str
    source_opset: int
    nodes_before: int
    nodes_after: int
    passes: list[tuple[str, str]] = field(default_factory=list)
    param_count: int = 0
    weights_bytes: int = 0
    file_size: int = 0
    inputs: dict[str, list] = field(default_factory=dict)
    outputs: dict[str, list] = field(default_factory=dict)

    def __str__(self) -> str:
        def fmt(shapes: dict[str, list]) -> str:
            return ", ".join(f"{n} [{', '.join(str(d) for d in s)}]" for n, s in shapes.items())

        lines = [f"converted {self.source_format} (opset {self.source_opset}) -> {self.output_path}",
                 f"  nodes: {self.nodes_before} -> {self.nodes_after}",
                 f"  parameters: {self.param_count:,}  weights: {self.weights_bytes:,} bytes  "
                 f"file: {self.file_size:,} bytes",
                 f"  inputs: {fmt(self.inputs)}",
                 f"  outputs: {fmt(self.outputs)}"]
        lines += [f"  {name}: {what}" for name, what in self.passes]
        return "\n".join(lines)


def onnx_param_count(model: onnx.ModelProto) -> int:
    """Parameters as PyTorch counts them: initializer elements, without BatchNormalization running
    statistics and without integer initializers that only feed shape/index inputs."""
    uses: dict[str, list[tuple[str, int]]] = {}
    for n in model.graph.node:
        for k, i in enumerate(n.input):
            uses.setdefault(i, []).append((n.op_type, k))
    total = 0
    for init in model.graph.initializer:
        u = uses.get(init.name, [])
        if u and all(op == "BatchNormalization" and k in (3, 4) for op, k in u):
            continue
        is_float = init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                                      onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
        if not is_float and all(k in _SHAPE_INPUTS.get(op, ()) or op in _SHAPE_OPS for op, k in u):
            continue
        total += int(np.prod(init.dims)) if len(init.dims) else 1
    return total


_SAME_SHAPE_OPS = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "SiLU",
                   "Gelu", "Elu", "Softplus", "Exp", "Log", "Sqrt", "Abs", "Neg", "Erf", "Reciprocal",
                   "Floor", "Ceil", "BatchNormalization", "LRN", "Softmax", "LogSoftmax",
                   "Selu", "Celu", "ThresholdedRelu", "Softsign", "Mish", "Sign", "Round",
                   "InstanceNormalization", "GroupNormalization"}


def _fill_missing_shapes(g: Graph) -> None:
    producers_order = list(g.nodes)
    for n in producers_order:
        for o in n.outputs:
            t = g.tensors.get(o)
            if t is None or t.shape is not None:
                continue
            ins = [g.shape(i) for i in n.inputs if i and not g.is_constant(i)]
            if n.op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"):
                t.shape = broadcast_shapes(*[g.shape(i) for i in n.inputs if i])
            elif n.op in _SAME_SHAPE_OPS and ins and ins[0] is not None:
                t.shape = list(ins[0])
    missing = [name for name, t in g.tensors.items() if t.data is None and t.shape is None]
    if missing:
        raise ConversionError(f"could not infer the shape of tensor(s) {missing[:10]}; the model's ONNX "
                              f"shape inference fails there (try exporting with static shapes)")


def _unique_node_names(g: Graph) -> None:
    seen: set[str] = set()
    for k, n in enumerate(g.nodes):
        name = n.name or f"{n.op}_{k}"
        base, i = name, 1
        while name in seen:
            name = f"{base}_{i}"
            i += 1
        n.name = name
        seen.add(name)


def _rename_io(g: Graph, names: Sequence[str] | None, current: list[str], what: str) -> None:
    if not names:
        return
    if len(names) != len(current):
        raise ConversionError(f"{what}_names has {len(names)} names but the model has {len(current)} {what}s")
    for old, new in zip(list(current), names):
        if old == new:
            continue
        if new in g.tensors:
            raise ConversionError(f"cannot rename {what} '{old}' to '{new}': a tensor of that name exists")
        t = g.tensors.pop(old)
        t.name = new
        g.tensors[new] = t
        for n in g.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
            n.outputs = [new if o == old else o for o in n.outputs]
        g.inputs = [new if i == old else i for i in g.inputs]
        g.outputs = [new if o == old else o for o in g.outputs]


def _describe_counts(counts: dict[str, int], verb: str) -> str:
    parts = [f"{v} {k}" for k, v in counts.items() if v]
    return f"{verb} " + ", ".join(parts) if parts else "nothing to do"


def build_graph(model: onnx.ModelProto, *, input_names: Sequence[str] | None = None,
                output_names: Sequence[str] | None = None, fold_batchnorm: bool = True,
                fuse: bool = True) -> tuple[Graph, list[tuple[str, str]]]:
    """Import, check, lower and optimise ``model``; returns the cnnrt graph and the pass log."""
    log: list[tuple[str, str]] = []
    g = onnx_to_graph(model)
    _rename_io(g, input_names, g.inputs, "input")
    _rename_io(g, output_names, g.outputs, "output")

    removed = passes.remove_noops(g)
    log.append(("remove_noops", _describe_counts(removed, "removed")))
    folded = passes.fold_constants(g)
    refresh_shapes(g)
    # Folding can make a shape known that was not (a Slice whose bounds came from a Shape, as
    # torch.chunk exports), and a later Shape -> Reshape chain then resolves: fold again while
    # Shape nodes remain and a round makes progress (one round per chained block, as in
    # ShuffleNetV2's chunk -> concat -> channel shuffle units).
    for _ in range(64):
        if not any(n.op == "Shape" for n in g.nodes):
            break
        again = passes.fold_constants(g)
        if not again["folded"] and not again["resolved"]:
            break
        refresh_shapes(g)
        folded = {k: folded[k] + again[k] for k in folded}
    log.append(("fold_constants", f"evaluated {folded['folded']} constant node(s), resolved "
                                  f"{folded['resolved']} run-time shape target(s), removed "
                                  f"{folded['dead']} dead node(s)"))
    removed = passes.remove_noops(g)
    if any(removed.values()):
        log.append(("remove_noops", _describe_counts(removed, "removed")))

    lower(g)  # raises UnsupportedOpsError naming every node it cannot lower
    log.append(("lower", f"lowered to {len(g.nodes)} cnnrt node(s)"))

    if fold_batchnorm:
        n_fold, n_kept = passes.fold_batchnorm(g)
        what = f"folded {n_fold} BatchNormalization into Conv"
        if n_kept:
            what += f"; kept {n_kept} BatchNormalization not after a Conv (op 100)"
        log.append(("fold_batchnorm", what))
    if fuse:
        n_bias = passes.fold_bias_add(g)
        log.append(("fold_bias_add", f"folded {n_bias} constant Add into Conv/Gemm bias"))
        acts = passes.fuse_activations(g)
        log.append(("fuse_activations", _describe_counts(acts, "fused")))
        epi = passes.fuse_epilogues(g)
        log.append(("fuse_epilogues", f"fused {epi['residual']} residual Add and "
                                      f"{epi['activation']} activation(s) into epilogues"))
    dead = passes.eliminate_dead_nodes(g)
    log.append(("eliminate_dead_nodes", f"removed {dead} node(s)"))
    _fill_missing_shapes(g)
    _unique_node_names(g)
    g.topological_sort()
    return g, log


def _is_checkpoint(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source).endswith((".pth", ".pt"))
    return isinstance(source, dict) and bool(source) and all(isinstance(k, str) for k in source) and \
        type(next(iter(source.values()))).__name__ == "Tensor"


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.fspath(source)}'"
    return f"a {type(source).__name__}"


def convert(source: Any, output_path: str | os.PathLike, *, example_input: Any = None,
            input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
            dynamic_batch: bool = True, opset: int = 17, labels: Sequence[str] | None = None,
            preprocessing: dict | None = None, fold_batchnorm: bool = True,
            fuse: bool = True, arch: str | None = None,
            arch_options: dict | None = None) -> ConversionReport:
    """Convert an ONNX model (path, bytes, ModelProto) or a torch.nn.Module to a `.cnnrt` file.

    ``example_input``, ``dynamic_batch`` and ``opset`` apply to torch modules (exported with a
    symbolic batch dim named "batch" when ``dynamic_batch``); ONNX models keep their own dims.
    ``input_names``/``output_names`` name the graph's inputs/outputs (torch) or rename them (ONNX).

    A PyTorch checkpoint (a ``.pth``/``.pt`` path or a state dict) needs ``arch``, a zoo
    architecture (``cnnrt.converters.zoo.names()``) built with ``arch_options`` (its
    constructor's keyword arguments, e.g. ``{"num_classes": 10}``); the weights load strictly,
    and ``example_input`` defaults to the architecture's usual input at batch 1.
    """
    checkpoint = _is_checkpoint(source)
    if checkpoint or arch is not None:
        if arch is None:
            raise ConversionError(f"{_describe_source(source)} holds only weights: give the architecture with "
                                  f"arch=... (cnnrt convert --arch NAME); see cnnrt.converters.zoo.names()")
        if not checkpoint and not _is_torch_module(source):
            raise ConversionError(f"arch={arch!r} applies to a PyTorch checkpoint (.pth/.pt or a state dict), "
                                  f"found {_describe_source(source)}")
        from . import zoo

        if arch not in zoo.names():
            raise ConversionError(f"unknown architecture {arch!r}; the zoo has: {', '.join(zoo.names())}")
        if checkpoint:
            source = zoo.load_checkpoint(arch, source, **(arch_options or {}))
        if example_input is None:
            example_input = zoo.example_input(arch, batch=1)
    parent = os.path.dirname(os.path.abspath(os.fspath(output_path)))
    if not os.path.isdir(parent):
        raise ConversionError(f"output folder '{parent}' does not exist (writing '{os.fspath(output_path)}')")
    torch_module = _is_torch_module(source)
    if torch_module:
        from .pytorch import export_module

        model, param_count = export_module(source, example_input, input_names=input_names,
                                           output_names=output_names, dynamic_batch=dynamic_batch,
                                           opset=opset)
        source_format = "pytorch"
        rename_in = rename_out = None
    else:
        model = load_onnx(source)
        param_count = onnx_param_count(model)
        source_format = "onnx"
        rename_in, rename_out = input_names, output_names
    serialized = model.SerializeToString()
    source_opset = default_opset(model)
    nodes_before = len(model.graph.node)

    g, log = build_graph(model, input_names=rename_in, output_names=rename_out,
                         fold_batchnorm=fold_batchnorm, fuse=fuse)

    metadata = {"producer": PRODUCER, "source_format": source_format,
                "source_sha256": hashlib.sha256(serialized).hexdigest(),
                "source_opset": str(source_opset), "param_count": str(param_count)}
    if labels is not None:
        metadata["labels"] = json.dumps(list(labels))
    if preprocessing is not None:
        metadata["preprocessing"] = json.dumps(preprocessing)
    size = write_model(g, output_path, metadata)

    def shapes(names: list[str]) -> dict[str, list]:
        return {n: ["?" if d is None else d for d in (g.shape(n) or [])] for n in names}

    return ConversionReport(os.fspath(output_path), source_format, source_opset, nodes_before,
                            len(g.nodes), log, param_count, g.weight_bytes(), size,
                            shapes(g.inputs), shapes(g.outputs))


def _is_torch_module(source: Any) -> bool:
    # Looked up without importing torch: only a torch module can be an instance of it.
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(source, torch.nn.Module)


def describe(path: str | os.PathLike | bytes) -> ModelFile:
    """The reader's view of a `.cnnrt` file (tensors, nodes, attributes, metadata)."""
    return read_model(path)
