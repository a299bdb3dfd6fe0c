"""Build small ONNX models with onnx.helper and run them in ONNX Runtime.

Shared by the reference checks (tests/test_reference.py) and the op tests that
compare cnnrt with ONNX Runtime. Models are written as opset 17, IR version 10
by default: onnx 1.23 would otherwise stamp IR 14 / opset 28, which ONNX Runtime
1.31 refuses to load.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnx.helper as oh
import onnx.numpy_helper as onh
import onnxruntime as ort

# Kernel-creation warnings (deprecated attributes) go to the default logger,
# not the session's; the tests provoke some on purpose.
ort.set_default_logger_severity(3)

DEFAULT_OPSET = 17
IR_VERSION = 10

# An input spec is either an array (its shape and dtype declare the graph input,
# and it doubles as the feed) or a (shape, dtype) pair; a None dim is symbolic.
InputSpec = np.ndarray | tuple[Sequence[int | str | None], Any]


def _value_info(name: str, spec: InputSpec) -> onnx.ValueInfoProto:
    if isinstance(spec, np.ndarray):
        shape, dtype = list(spec.shape), spec.dtype
    else:
        shape, dtype = spec
        shape = None if shape is None else list(shape)
    elem = oh.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return oh.make_tensor_value_info(name, elem, shape)


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, InputSpec],
    outputs: Sequence[str] | Mapping[str, InputSpec],
    initializers: Mapping[str, np.ndarray] | None = None,
    opset: int = DEFAULT_OPSET,
    name: str = "test",
    check: bool = True,
) -> onnx.ModelProto:
    """A model from several nodes. Outputs given as names are declared float32
    with unknown shape; give a mapping name -> (shape, dtype) to say otherwise."""
    if isinstance(outputs, Mapping):
        out_infos = [_value_info(n, s) for n, s in outputs.items()]
    else:
        out_infos = [oh.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in outputs]
    inits = [onh.from_array(np.asarray(v), name=k) for k, v in (initializers or {}).items()]
    graph = oh.make_graph(
        list(nodes), name, [_value_info(n, s) for n, s in inputs.items()], out_infos, initializer=inits
    )
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], ir_version=IR_VERSION)
    _fill_output_shapes(model)
    if check and all(o.type.tensor_type.HasField("shape") for o in model.graph.output):
        onnx.checker.check_model(model)
    return model


def _fill_output_shapes(model: onnx.ModelProto) -> None:
    """Give shapeless outputs the type ONNX shape inference finds: the checker
    insists on a shape for graph outputs; make_model skips the check when
    inference cannot find one (ONNX Runtime runs such models anyway)."""
    if all(o.type.tensor_type.HasField("shape") for o in model.graph.output):
        return
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # noqa: BLE001 - a model inference cannot handle still runs in ONNX Runtime
        return
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for out in model.graph.output:
        if not out.type.tensor_type.HasField("shape") and out.name in known:
            out.type.CopyFrom(known[out.name].type)


def make_node_model(
    op_type: str,
    inputs: Mapping[str, InputSpec],
    attrs: Mapping[str, Any] | None = None,
    outputs: Sequence[str] | Mapping[str, InputSpec] | int = 1,
    opset: int = DEFAULT_OPSET,
    initializers: Mapping[str, np.ndarray] | None = None,
    node_inputs: Sequence[str] | None = None,
    domain: str = "",
) -> onnx.ModelProto:
    """A model of one node.

    `inputs` become graph inputs, `initializers` constants. The node's inputs
    are `node_inputs` when given (use "" for an absent optional input, e.g.
    Resize's roi), else the graph inputs followed by the initializers, in
    dict order. `outputs` is a count (names Y, or Y0..Yn-1), a list of names, or
    a mapping name -> (shape, dtype). Attributes with None values are left out.
    """
    initializers = dict(initializers or {})
    if isinstance(outputs, int):
        outputs = ["Y"] if outputs == 1 else [f"Y{i}" for i in range(outputs)]
    out_names = list(outputs)
    if node_inputs is None:
        node_inputs = list(inputs) + list(initializers)
    attrs = {k: v for k, v in (attrs or {}).items() if v is not None}
    node = oh.make_node(op_type, list(node_inputs), out_names, name=f"{op_type}_0", domain=domain, **attrs)
    return make_model([node], inputs, outputs, initializers, opset=opset, name=f"{op_type}_test")


def feeds_from(inputs: Mapping[str, InputSpec]) -> dict[str, np.ndarray]:
    """The feeds for the inputs that were given as arrays."""
    return {k: v for k, v in inputs.items() if isinstance(v, np.ndarray)}


def ort_session(model: onnx.ModelProto | bytes | str, optimize: bool = False, threads: int = 1) -> ort.InferenceSession:
    """One-thread CPU session. Graph optimisations are off by default so that a
    one-node model tests that node's kernel, not a constant-folded or fused one."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run_ort(
    model: onnx.ModelProto | bytes | str,
    feeds: Mapping[str, np.ndarray],
    optimize: bool = False,
    threads: int = 1,
) -> list[np.ndarray]:
    """Run a model once in ONNX Runtime (CPU) and return every output."""
    return ort_session(model, optimize, threads).run(None, dict(feeds))


def run_node(
    op_type: str,
    inputs: Mapping[str, InputSpec],
    attrs: Mapping[str, Any] | None = None,
    outputs: Sequence[str] | Mapping[str, InputSpec] | int = 1,
    opset: int = DEFAULT_OPSET,
    initializers: Mapping[str, np.ndarray] | None = None,
    node_inputs: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """make_node_model + run_ort with the array inputs as feeds."""
    model = make_node_model(op_type, inputs, attrs, outputs, opset, initializers, node_inputs)
    return run_ort(model, feeds_from(inputs))
