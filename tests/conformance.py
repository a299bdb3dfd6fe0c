"""The ONNX backend node tests (shipped inside the pinned onnx package,
generated in memory) and the `light` real models, run through cnnrt.

Used by tests/test_conformance.py (which holds the pass count to a committed
baseline) and tools/conformance_table.py (which writes docs/conformance.md).

cnnrt takes weights and op configuration (Reshape's shape, Pad's pads, Clip's
bounds, Resize's scales, ...) as constants, as every converted model has them.
Node tests feed some of those as graph inputs; the harness binds the inputs at
those positions (CONFIG_INPUTS) to initializers holding the test's own values
before converting. Data inputs stay graph inputs.
"""
from __future__ import annotations

import copy
import os
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

# The ops of a CNN runtime, as the conformance issue lists them.
CNN_OPS = [
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization", "LRN",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Softplus", "Softsign", "Mish", "Gelu", "ThresholdedRelu", "Clip",
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Abs", "Neg", "Exp", "Log", "Sqrt",
    "Reciprocal", "Floor", "Ceil", "Erf", "Sign", "Round",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    "MatMul", "Gemm",
    "Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "Squeeze", "Unsqueeze", "Identity",
    "Expand", "Tile", "Pad", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth",
    "Softmax", "LogSoftmax", "ArgMax", "ArgMin", "TopK", "Dropout",
]

# Input positions that cnnrt takes as constants (weights and configuration).
CONFIG_INPUTS = {
    "Conv": {1, 2}, "ConvTranspose": {1, 2}, "BatchNormalization": {1, 2, 3, 4},
    "InstanceNormalization": {1, 2}, "LayerNormalization": {1, 2}, "GroupNormalization": {1, 2},
    "PRelu": {1}, "Clip": {1, 2}, "Resize": {1, 2, 3}, "Upsample": {1}, "Pad": {1, 2, 3},
    "Reshape": {1}, "Slice": {1, 2, 3, 4}, "Split": {1}, "Squeeze": {1}, "Unsqueeze": {1},
    "Expand": {1}, "Tile": {1}, "TopK": {1}, "Dropout": {1, 2},
    "ReduceMean": {1}, "ReduceSum": {1}, "ReduceMax": {1}, "ReduceMin": {1}, "ReduceProd": {1},
    "ReduceL1": {1}, "ReduceL2": {1}, "ReduceLogSum": {1}, "ReduceLogSumExp": {1}, "ReduceSumSquare": {1},
}

LIGHT_MODELS = [
    ("bvlc_alexnet", 1e-3, 1e-7), ("densenet121", 2e-3, 1e-7), ("inception_v1", 1e-3, 1e-7),
    ("inception_v2", 1e-3, 1e-7), ("resnet50", 1e-3, 1e-7), ("shufflenet", 1e-3, 1e-7),
    ("squeezenet", 1e-3, 1e-7), ("vgg19", 1e-3, 1e-7), ("zfnet512", 1e-3, 1e-7),
]


@dataclass
class CaseResult:
    name: str
    op: str
    passed: bool
    reason: str = ""   # why not, in one line


def node_cases():
    """(op, TestCase, the op node's input names) for every node test of a CNN op, expanded variants included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.loader import load_node_model_tests

        cases = load_node_model_tests()
    selected = []
    by_name = {c.name: c for c in cases}
    for case in cases:
        base = by_name.get(case.name.split("_expanded")[0], case)
        nodes = base.model.graph.node
        if len(nodes) != 1 or nodes[0].domain not in ("", "ai.onnx"):
            continue
        if nodes[0].op_type in CNN_OPS:
            selected.append((nodes[0].op_type, case, list(nodes[0].input)))
    return selected


def _short(message: str, limit: int = 140) -> str:
    line = " ".join(str(message).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _bind_constants(model, op: str, node_inputs: list[str], inputs: list[np.ndarray]):
    """Moves config/weight inputs into initializers; returns (model, feeds).
    node_inputs are the op node's input names (an expanded variant's graph
    inputs carry the same names)."""
    import onnx.numpy_helper as nh

    model = copy.deepcopy(model)
    graph = model.graph
    config_names = {node_inputs[i] for i in CONFIG_INPUTS.get(op, ()) if i < len(node_inputs) and node_inputs[i]}
    feeds = {}
    keep = []
    init_names = {i.name for i in graph.initializer}
    graph_inputs = [i for i in graph.input if i.name not in init_names]
    for value_info, value in zip(graph_inputs, inputs):
        if value_info.name in config_names:
            graph.initializer.append(nh.from_array(np.asarray(value), value_info.name))
        else:
            feeds[value_info.name] = value
            keep.append(value_info)
    del graph.input[:]
    graph.input.extend(keep)
    return model, feeds


def run_model(model, feeds: dict, expected: list[np.ndarray], rtol: float, atol: float, workdir: str) -> str:
    """'' when cnnrt reproduces `expected`, else why not."""
    import cnnrt
    from cnnrt.converters import ConversionError, UnsupportedOpsError

    feeds = {k: np.asarray(v) if isinstance(v, np.generic) else v for k, v in feeds.items()}
    for name, value in feeds.items():
        if not (isinstance(value, np.ndarray) and value.dtype == np.float32):
            dtype = getattr(value, "dtype", type(value).__name__)
            return f"unsupported: input '{name}' is {dtype} (cnnrt computes float32)"
    expected = [np.asarray(v) if isinstance(v, np.generic) else v for v in expected]
    for i, value in enumerate(expected):
        # Computed values are float32, and int64 for index outputs (ArgMax, ...).
        if not (isinstance(value, np.ndarray) and value.dtype in (np.float32, np.int64)):
            dtype = getattr(value, "dtype", type(value).__name__)
            return f"unsupported: output {i} is {dtype} (cnnrt computes float32, and int64 indices)"
    path = os.path.join(workdir, "case.cnnrt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cnnrt.convert(model, path)
    except UnsupportedOpsError as error:
        return "unsupported: " + _short(str(error).split("\n")[-1] if "\n" in str(error) else error)
    except ConversionError as error:
        return "conversion error: " + _short(error)
    except Exception as error:  # a converter crash is a failure to report, not to hide
        return f"converter crashed: {type(error).__name__}: " + _short(error)
    try:
        session = cnnrt.load(path)
        outputs = session.run(dict(feeds))
    except cnnrt.Error as error:
        return f"runtime error: {type(error).__name__}: " + _short(error)
    names = [o.name for o in session.outputs]
    if len(names) != len(expected):
        return f"output count {len(names)}, expected {len(expected)}"
    for name, want in zip(names, expected):
        got = outputs[name]
        if got.shape != want.shape:
            return f"output '{name}' shape {got.shape}, expected {want.shape}"
        if got.dtype != want.dtype:
            return f"output '{name}' dtype {got.dtype}, expected {want.dtype}"
        if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            err = np.max(np.abs(got.astype(np.float64) - want) / (atol + rtol * np.abs(want)))
            return f"mismatch: output '{name}' exceeds tolerance {err:.1f}x"
    return ""


def run_node_case(op: str, case, node_inputs: list[str], workdir: str) -> CaseResult:
    reasons = []
    for inputs, outputs in case.data_sets:
        model, feeds = _bind_constants(case.model, op, node_inputs, list(inputs))
        reason = run_model(model, feeds, list(outputs), case.rtol, case.atol, workdir)
        if reason:
            reasons.append(reason)
            break
    return CaseResult(case.name, op, not reasons, reasons[0] if reasons else "")


def run_light_model(name: str, rtol: float, atol: float, workdir: str) -> CaseResult:
    import onnx
    import onnx.numpy_helper as nh

    data_dir = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    model = onnx.load(os.path.join(data_dir, f"light_{name}.onnx"))
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for x in model.graph.input:
        if x.name in inits:
            continue
        # The same input the onnx runner feeds these models.
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        feeds[x.name] = (np.arange(n).reshape(shape) / n).astype(np.float32)
    expected = []
    for i in range(len(model.graph.output)):
        with open(os.path.join(data_dir, f"light_{name}_output_{i}.pb"), "rb") as f:
            expected.append(nh.to_array(onnx.load_tensor_from_string(f.read())))
    reason = run_model(model, feeds, expected, rtol, atol, workdir)
    return CaseResult(f"test_{name}", "light model", not reason, reason)


def run_all() -> list[CaseResult]:
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for op, case, node_inputs in node_cases():
            results.append(run_node_case(op, case, node_inputs, workdir))
        for name, rtol, atol in LIGHT_MODELS:
            results.append(run_light_model(name, rtol, atol, workdir))
    return results
