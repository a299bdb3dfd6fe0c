"""Graph passes.

Before lowering (ONNX-level graph, ONNX op types):
  remove_noops         Identity, Dropout (and Expand/Tile/Cast/Pad that change nothing) removed.
  fold_constants       nodes whose inputs are all constant are evaluated with numpy
                       (onnx.reference); Shape -> Gather -> Unsqueeze -> Concat chains are
                       evaluated symbolically (each element an int or a run-time symbol)
                       so a Reshape / Resize target that depends on a run-time batch
                       becomes a constant with 0 (copy) / -1 (infer) entries, and a Resize
                       to dims of another tensor takes that tensor as its Reference input.
After lowering (cnnrt ops):
  fold_batchnorm       BatchNormalization after a Conv / ConvTranspose whose output has no
                       other consumer is folded into its weights and bias.  Any other
                       BatchNormalization stays as cnnrt op 100 (the runtime computes it).
  fold_bias_add        Conv/Gemm + constant per-channel Add -> bias; MatMul (2-D) + bias -> Gemm.
  fuse_activations     x*Sigmoid(x) -> SiLU, erf GELU pattern -> Gelu, x*HardSigmoid(x) with
                       alpha 1/6, beta 1/2 -> HardSwish.
  fuse_epilogues       Conv/Gemm/MatMul + residual Add (same shape) + activation, ConvTranspose
                       + activation, Add + activation -> one node with an epilogue.
  eliminate_dead_nodes nodes whose outputs reach no graph output.
Every pass returns a count; graph output names never change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .ir import (ACT_CLIP, ACT_ELU, ACT_GELU, ACT_GELU_TANH, ACT_HARD_SIGMOID, ACT_HARD_SWISH,
                 ACT_LEAKY_RELU, ACT_NONE, ACT_RELU, ACT_SIGMOID, ACT_SILU, ACT_SOFTPLUS, ACT_TANH,
                 EPILOGUE_OPS, NUMPY_TO_DTYPE, DTYPE_F32, Graph, Node)

# --------------------------------------------------------------------------- helpers


def _single_consumer(g: Graph, name: str, consumers: dict[str, list[Node]]) -> Node | None:
    """The only node reading ``name`` when it is not also a graph output."""
    users = consumers.get(name, [])
    if len(users) != 1 or name in g.outputs:
        return None
    if sum(1 for i in users[0].inputs if i == name) != 1:
        return None
    return users[0]


def _scalar(g: Graph, name: str) -> float | None:
    data = g.constant(name)
    if data is None or data.size != 1:
        return None
    return float(np.asarray(data).reshape(-1)[0])


def _other_input(node: Node, name: str) -> str | None:
    if len(node.inputs) != 2:
        return None
    a, b = node.inputs
    if a == name:
        return b
    if b == name:
        return a
    return None


def eliminate_dead_nodes(g: Graph) -> int:
    """Remove nodes that do not contribute to a graph output."""
    needed = set(g.outputs)
    keep: list[Node] = []
    for n in reversed(g.nodes):
        if any(o in needed for o in n.outputs if o):
            keep.append(n)
            needed.update(i for i in n.inputs if i)
    removed = len(g.nodes) - len(keep)
    g.nodes = list(reversed(keep))
    g.remove_unused_tensors()
    return removed


# --------------------------------------------------------------------------- ONNX level


def _rewire(g: Graph, node: Node, src: str) -> bool:
    """Remove ``node`` whose single output equals ``src``; False when it must stay."""
    out = node.outputs[0]
    if out in g.outputs:
        producers = g.producers()
        if src in g.inputs or g.is_constant(src) or src in g.outputs or src not in producers:
            return False
        # Keep the graph output's name: the producer of ``src`` now writes ``out``.
        p = producers[src]
        p.outputs = [out if o == src else o for o in p.outputs]
        for n in g.nodes:
            if n is not node:
                n.inputs = [out if i == src else i for i in n.inputs]
    else:
        g.rename_uses(out, src)
    g.nodes.remove(node)
    return True


def remove_noops(g: Graph) -> dict[str, int]:
    """Identity and inference-time Dropout, plus Expand/Tile/Cast/Pad that change nothing."""
    counts: dict[str, int] = {}
    used = {i for n in g.nodes for i in n.inputs if i} | set(g.outputs)
    for node in list(g.nodes):
        if node.domain:
            continue
        src = node.inputs[0] if node.inputs else ""
        removable = False
        if node.op == "Identity":
            removable = True
        elif node.op == "Dropout":
            removable = not any(o in used for o in node.outputs[1:] if o)
        elif node.op == "Expand" and g.is_constant(node.inputs[1]):
            shape = g.shape(src)
            target = [int(v) for v in g.constant(node.inputs[1]).reshape(-1)]
            removable = (shape is not None and len(target) <= len(shape)
                         and all(t == 1 for t in target))
        elif node.op == "Pad" and len(node.inputs) > 1 and g.is_constant(node.inputs[1]):
            removable = bool(np.all(g.constant(node.inputs[1]) == 0))
        elif node.op == "Pad" and g.opset < 11 and "pads" in node.attrs:
            removable = all(int(v) == 0 for v in node.attrs["pads"])
        elif node.op == "Tile" and g.is_constant(node.inputs[1]):
            removable = bool(np.all(g.constant(node.inputs[1]) == 1))
        elif node.op == "Cast" and not g.is_constant(src):
            t = g.tensors.get(src)
            to = node.attrs.get("to")
            removable = (t is not None and t.np_dtype is not None and to is not None
                         and np.dtype(helper.tensor_dtype_to_np_dtype(int(to))) == t.np_dtype)
        if removable and _rewire(g, node, src):
            counts[node.op] = counts.get(node.op, 0) + 1
    return counts


@dataclass(frozen=True)
class Sym:
    """One run-time shape element: a named dim ("batch") or dim ``index`` of ``tensor``."""

    key: tuple

    def matches(self, tensor: str, index: int, dim) -> bool:
        if isinstance(dim, str) and self.key == ("param", dim):
            return True
        return self.key == ("dim", tensor, index)


@dataclass
class SymVec:
    values: list  # int | Sym
    scalar: bool = False

    def concrete(self) -> bool:
        return all(isinstance(v, (int, np.integer)) for v in self.values)


_anon_counter = [0]


def _anon() -> Sym:
    _anon_counter[0] += 1
    return Sym(("anon", _anon_counter[0]))


NOT_FOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                "Multinomial", "Bernoulli", "If", "Loop", "Scan"}


def _evaluate(g: Graph, node: Node) -> list[np.ndarray] | None:
    """Evaluate one node on constant inputs with the ONNX reference evaluator."""
    from onnx.reference import ReferenceEvaluator

    if node.op == "Constant":
        a = node.attrs
        if "value" in a:
            return [numpy_helper.to_array(a["value"])]
        if "value_float" in a:
            return [np.array(a["value_float"], np.float32)]
        if "value_floats" in a:
            return [np.array(a["value_floats"], np.float32)]
        if "value_int" in a:
            return [np.array(a["value_int"], np.int64)]
        if "value_ints" in a:
            return [np.array(a["value_ints"], np.int64)]
        return None
    feeds = {i: g.constant(i) for i in node.inputs if i}
    attrs = {k: v for k, v in node.attrs.items() if not (isinstance(v, (list, tuple)) and len(v) == 0)}
    try:
        onnx_node = helper.make_node(node.op, node.inputs, node.outputs, **attrs)
        inputs = [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                  for i, v in feeds.items()]
        outputs = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None)
                   for o in node.outputs if o]
        model = helper.make_model(helper.make_graph([onnx_node], "fold", inputs, outputs),
                                  opset_imports=[helper.make_opsetid("", g.opset)], ir_version=10)
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception:  # noqa: BLE001 - a node we cannot evaluate is simply left in the graph
        return None
    return [np.asarray(r) for r in results]


def _as_symvec(g: Graph, name: str, syms: dict[str, SymVec]) -> SymVec | None:
    if name in syms:
        return syms[name]
    data = g.constant(name)
    if data is not None and data.dtype.kind in "iu" and data.ndim <= 1:
        return SymVec([int(v) for v in data.reshape(-1)], scalar=data.ndim == 0)
    return None


def _symbolic(g: Graph, node: Node, syms: dict[str, SymVec]) -> SymVec | None:
    """Evaluate shape arithmetic where some elements are only known at run time."""
    op = node.op
    if op == "Shape":
        shape = g.shape(node.inputs[0])
        if shape is None:
            return None
        vals = [d if isinstance(d, int) else Sym(("param", d)) if isinstance(d, str)
                else Sym(("dim", node.inputs[0], k)) for k, d in enumerate(shape)]
        start = int(node.attrs.get("start", 0))
        end = node.attrs.get("end")
        return SymVec(vals[start:None if end is None else int(end)])
    ins = [_as_symvec(g, i, syms) if i else None for i in node.inputs]
    if not ins or ins[0] is None:
        return None
    x = ins[0]
    if op in ("Cast", "Identity"):
        return x
    if op == "Gather" and int(node.attrs.get("axis", 0)) == 0 and len(ins) > 1 and ins[1] is not None \
            and not x.scalar:
        idx = ins[1]
        if not idx.concrete():
            return None
        n = len(x.values)
        try:
            vals = [x.values[int(i) + n if int(i) < 0 else int(i)] for i in idx.values]
        except IndexError:
            return None
        return SymVec(vals, scalar=idx.scalar)
    if op == "Unsqueeze":
        return SymVec(list(x.values)) if x.scalar else None
    if op == "Squeeze":
        return SymVec(list(x.values), scalar=True) if len(x.values) == 1 else None
    if op == "Reshape":
        return SymVec(list(x.values)) if len(x.values) == 1 or not x.scalar else None
    if op == "Concat" and int(node.attrs.get("axis", 0)) in (0, -1):
        if any(v is None or v.scalar for v in ins):
            return None
        return SymVec([e for v in ins for e in v.values])
    if op == "Slice" and not x.scalar:
        if g.opset < 10:
            starts, ends = node.attrs.get("starts"), node.attrs.get("ends")
            axes, steps = node.attrs.get("axes", [0]), [1]
        else:
            parts = [ins[k] if k < len(ins) else None for k in range(1, 5)]
            if parts[0] is None or parts[1] is None or any(p is not None and not p.concrete() for p in parts):
                return None
            starts, ends = parts[0].values, parts[1].values
            axes = parts[2].values if parts[2] is not None else [0]
            steps = parts[3].values if parts[3] is not None else [1]
        if list(axes) not in ([0], [-1]) or len(starts) != 1:
            return None
        return SymVec(x.values[slice(int(starts[0]), int(ends[0]), int(steps[0]))])
    if op in ("Add", "Sub", "Mul", "Div") and len(ins) == 2 and ins[1] is not None:
        a, b = ins
        n = max(len(a.values), len(b.values))
        if len(a.values) not in (1, n) or len(b.values) not in (1, n):
            return None
        out = []
        for k in range(n):
            u = a.values[k if len(a.values) > 1 else 0]
            v = b.values[k if len(b.values) > 1 else 0]
            if isinstance(u, Sym) or isinstance(v, Sym):
                if op == "Mul" and (u == 1 or v == 1):
                    out.append(v if u == 1 else u)
                elif op == "Div" and v == 1:
                    out.append(u)
                else:
                    out.append(_anon())
            else:
                out.append({"Add": u + v, "Sub": u - v, "Mul": u * v,
                            "Div": int(u // v) if v else 0}[op])
        return SymVec(out, scalar=a.scalar and b.scalar)
    return None


def _resolve_target(g: Graph, data: str, vec: SymVec, keep_code: int, allowzero: bool) -> list[int] | None:
    """Turn a symbolic Reshape/Resize target into ints: ``keep_code`` where a run-time dim stays
    at its index, -1 for one dim to infer (Reshape only)."""
    shape = g.shape(data) or []
    out: list[int] = []
    infer = sum(1 for v in vec.values if not isinstance(v, Sym) and v == -1)
    for k, v in enumerate(vec.values):
        if not isinstance(v, Sym):
            out.append(int(v))
        elif k < len(shape) and v.matches(data, k, shape[k]) and not allowzero:
            out.append(keep_code)
        elif keep_code == 0:
            out.append(-1)
            infer += 1
        else:
            return None
    return out if infer <= 1 else None


def _resolve_resize_reference(g: Graph, node: Node, vec: SymVec) -> int:
    """Resize to run-time sizes that are dims of another tensor (``interpolate(x, size=t.shape[-2:])``):
    make ``sizes`` a constant with -1 on those dims, add that tensor as a fifth input (the cnnrt
    Resize's Reference) and record in attribute ``sizes_from`` which of its dims each output dim
    copies (docs/ops.md, Resize). Returns 1 when rewritten, 0 when the sizes are not of that form
    (computed from dims, or from dims of several tensors)."""
    data = node.inputs[0]
    shape = g.shape(data) or []
    sizes: list[int] = []
    needed: dict[int, Sym] = {}
    for k, v in enumerate(vec.values):
        if not isinstance(v, Sym):
            sizes.append(int(v))
            continue
        if k < len(shape) and v.matches(data, k, shape[k]):
            sizes.append(-1)
            continue
        if v.key[0] not in ("dim", "param"):
            return 0
        sizes.append(-1)
        needed[k] = v
    if not needed or len(sizes) != len(shape):
        return 0
    position = g.nodes.index(node)
    produced_before = {o for n in g.nodes[:position] for o in n.outputs if o}
    preferred = list(g.inputs) + [v.key[1] for v in needed.values() if v.key[0] == "dim"]
    candidates = preferred + [t for t in g.tensors if t not in preferred]

    def dim_of(tensor: str, sym: Sym) -> int | None:
        t_shape = g.shape(tensor)
        if t_shape is None:
            return None
        if sym.key[0] == "dim":
            if sym.key[1] == tensor:
                return sym.key[2]
            src = g.shape(sym.key[1])
            param = src[sym.key[2]] if src is not None and sym.key[2] < len(src) else None
            sym = Sym(("param", param)) if isinstance(param, str) else sym
        if sym.key[0] == "param":
            for j, d in enumerate(t_shape):
                if d == sym.key[1]:
                    return j
        return None

    for ref in candidates:
        t = g.tensors.get(ref)
        if t is None or t.data is not None or t.np_dtype != np.float32:
            continue
        if ref not in g.inputs and ref not in produced_before:
            continue  # the reference must be computed before the Resize
        dims = {k: dim_of(ref, v) for k, v in needed.items()}
        if any(d is None for d in dims.values()):
            continue
        sizes_from = [dims.get(k, -1) for k in range(len(sizes))]
        node.inputs = (list(node.inputs) + [""] * 4)[:3] + [
            g.add_constant(f"{node.name}_sizes", np.array(sizes, np.int64)), ref]
        node.attrs["sizes_from"] = sizes_from
        ref_shape = g.shape(ref)
        out = g.tensor(node.outputs[0])
        out.shape = [ref_shape[f] if f >= 0 else (shape[k] if s == -1 else s)
                     for k, (s, f) in enumerate(zip(sizes, sizes_from))]
        return 1
    return 0


def fold_constants(g: Graph) -> dict[str, int]:
    """Evaluate constant and shape-only subgraphs; returns counts by kind."""
    syms: dict[str, SymVec] = {}
    folded = 0
    resolved = 0
    for node in list(g.nodes):
        if node.domain or node.op in NOT_FOLDABLE:
            continue
        real_inputs = [i for i in node.inputs if i]
        if node.op == "CastLike" and len(real_inputs) == 2 and g.is_constant(node.inputs[0]):
            # Function bodies (Relu, Softsign, ...) cast their constants like the data input.
            like = g.tensors.get(node.inputs[1])
            target = None if like is None else (like.data.dtype if like.data is not None else like.np_dtype)
            if target is not None:
                arr = np.require(g.constant(node.inputs[0]).astype(target), requirements="C")
                t = g.tensor(node.outputs[0])
                t.data, t.shape, t.dtype = arr, list(arr.shape), NUMPY_TO_DTYPE.get(arr.dtype, DTYPE_F32)
                g.nodes.remove(node)
                folded += 1
                continue
        if all(g.is_constant(i) for i in real_inputs) and node.outputs:
            results = _evaluate(g, node)
            if results is not None and len(results) >= len([o for o in node.outputs if o]):
                for o, r in zip(node.outputs, results):
                    if o:
                        t = g.tensor(o)
                        t.data = np.require(r, requirements="C")
                        t.shape = list(r.shape)
                        t.dtype = NUMPY_TO_DTYPE.get(r.dtype, DTYPE_F32)
                g.nodes.remove(node)
                folded += 1
                continue
        if node.op == "Reshape" and len(node.inputs) > 1 and node.inputs[1] in syms:
            target = _resolve_target(g, node.inputs[0], syms[node.inputs[1]], 0,
                                     bool(node.attrs.get("allowzero", 0)))
            if target is not None:
                node.inputs[1] = g.add_constant(f"{node.name}_shape", np.array(target, np.int64))
                resolved += 1
            continue
        if node.op == "Resize" and len(node.inputs) > 3 and node.inputs[3] in syms:
            target = _resolve_target(g, node.inputs[0], syms[node.inputs[3]], -1, False)
            if target is not None:
                node.inputs[3] = g.add_constant(f"{node.name}_sizes", np.array(target, np.int64))
                resolved += 1
            else:
                resolved += _resolve_resize_reference(g, node, syms[node.inputs[3]])
            continue
        vec = _symbolic(g, node, syms)
        if vec is None:
            continue
        out = node.outputs[0]
        if vec.concrete():
            arr = np.array([int(v) for v in vec.values], np.int64)
            arr = arr.reshape(()) if vec.scalar else arr
            t = g.tensor(out)
            t.data, t.shape, t.dtype = arr, list(arr.shape), NUMPY_TO_DTYPE[arr.dtype]
            g.nodes.remove(node)
            folded += 1
        else:
            syms[out] = vec
    dead = eliminate_dead_nodes(g)
    counts = {"folded": folded, "resolved": resolved, "dead": dead}
    return counts


# --------------------------------------------------------------------------- cnnrt level


def fold_batchnorm(g: Graph) -> tuple[int, int]:
    """Fold BatchNormalization into the Conv/ConvTranspose before it. Returns (folded, kept)."""
    folded = kept = 0
    consumers = g.consumers()
    producers = g.producers()
    for bn in list(g.iter_ops("BatchNormalization")):
        p = producers.get(bn.inputs[0])
        if (p is None or p.op not in ("Conv", "ConvTranspose") or p.activation != ACT_NONE
                or p.residual or _single_consumer(g, bn.inputs[0], consumers) is not bn):
            kept += 1
            continue
        gamma, beta, mean, var = (g.constant(i).astype(np.float64) for i in bn.inputs[1:5])
        eps = float(bn.attrs.get("epsilon", 1e-5))
        scale = gamma / np.sqrt(var + eps)
        w = g.constant(p.inputs[1]).astype(np.float64)
        group = int(p.attrs.get("group", 1))
        if p.op == "Conv":
            cout = w.shape[0]
            w_new = w * scale.reshape((cout,) + (1,) * (w.ndim - 1))
        else:
            cin, cout_g = w.shape[0], w.shape[1]
            cout = cout_g * group
            grouped = w.reshape((group, cin // group, cout_g) + w.shape[2:])
            w_new = (grouped * scale.reshape((group, 1, cout_g) + (1,) * (w.ndim - 2))).reshape(w.shape)
        if scale.size != cout:
            kept += 1
            continue
        b = g.constant(p.inputs[2]).astype(np.float64) if len(p.inputs) > 2 and p.inputs[2] else np.zeros(cout)
        b_new = (b - mean) * scale + beta
        p.inputs = [p.inputs[0], g.add_constant(f"{p.name}_weight_bn", w_new.astype(np.float32)),
                    g.add_constant(f"{p.name}_bias_bn", b_new.astype(np.float32))]
        p.outputs = [bn.outputs[0]]
        g.nodes.remove(bn)
        folded += 1
    g.remove_unused_tensors()
    return folded, kept


def _per_channel(c: np.ndarray, out_rank: int, channels: int, channel_axis: int) -> np.ndarray | None:
    """``c`` as a vector of ``channels`` when adding it only varies along ``channel_axis``."""
    if c.ndim > out_rank:
        return None
    shape = (1,) * (out_rank - c.ndim) + c.shape
    for k, d in enumerate(shape):
        if d != 1 and not (k == channel_axis and d == channels):
            return None
    return np.broadcast_to(c.reshape(-1) if c.size == channels else c.reshape(-1)[:1], (channels,))


def fold_bias_add(g: Graph) -> int:
    """Conv/Gemm + constant per-channel Add -> bias; 2-D MatMul + constant bias -> Gemm."""
    count = 0
    consumers = g.consumers()
    producers = g.producers()
    for add in list(g.iter_ops("Add")):
        for k, x in enumerate(add.inputs):
            c = g.constant(add.inputs[1 - k])
            p = producers.get(x)
            if c is None or p is None or p.activation or p.residual:
                continue
            if _single_consumer(g, x, consumers) is not add:
                continue
            if p.op == "Conv":
                w = g.constant(p.inputs[1])
                cout = w.shape[0]
                vec = _per_channel(c, w.ndim, cout, 1)
                if vec is None:
                    continue
                old = g.constant(p.inputs[2]) if len(p.inputs) > 2 and p.inputs[2] else np.zeros(cout, np.float32)
                p.inputs = p.inputs[:2] + [g.add_constant(f"{p.name}_bias", (old + vec).astype(np.float32))]
            elif p.op in ("Gemm", "MatMul"):
                b_shape = g.shape(p.inputs[1]) or []
                a_shape = g.shape(p.inputs[0]) or []
                if p.op == "MatMul" and (len(a_shape) != 2 or len(b_shape) != 2):
                    continue
                trans_b = int(p.attrs.get("transB", 0)) if p.op == "Gemm" else 0
                if len(b_shape) != 2 or not isinstance(b_shape[1 - trans_b], int):
                    continue
                vec = _per_channel(c, 2, b_shape[1 - trans_b], 1)
                has_c = len(p.inputs) > 2 and bool(p.inputs[2])
                old = g.constant(p.inputs[2]) if has_c else None
                if vec is None or (has_c and old is None):
                    continue
                if p.op == "MatMul":
                    p.op, p.attrs = "Gemm", {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}
                beta = float(p.attrs.get("beta", 1.0))
                new = vec.astype(np.float64) if old is None else beta * old.astype(np.float64) + vec
                p.attrs["beta"] = 1.0
                p.inputs = p.inputs[:2] + [g.add_constant(f"{p.name}_bias", np.asarray(new, np.float32))]
            else:
                continue
            p.outputs = [add.outputs[0]]
            producers[add.outputs[0]] = p
            g.nodes.remove(add)
            count += 1
            break
    g.remove_unused_tensors()
    return count


def _replace_with(g: Graph, keep: Node, removed: list[Node], op: str, x: str, attrs: dict | None = None) -> None:
    keep.op, keep.inputs, keep.attrs = op, [x], dict(attrs or {})
    for n in removed:
        g.nodes.remove(n)


def fuse_activations(g: Graph) -> dict[str, int]:
    """SiLU, erf-GELU and HardSwish patterns -> one unary node each."""
    counts = {"SiLU": 0, "Gelu": 0, "HardSwish": 0}
    for mul in list(g.iter_ops("Mul")):
        if mul not in g.nodes:
            continue
        producers = g.producers()
        consumers = g.consumers()
        for k in (0, 1):
            s = mul.inputs[k]
            p = producers.get(s)
            x = mul.inputs[1 - k]
            if p is None or p.inputs[0] != x or _single_consumer(g, s, consumers) is not mul or p.activation:
                continue
            if p.op == "Sigmoid":
                _replace_with(g, mul, [p], "SiLU", x)
                counts["SiLU"] += 1
                break
            if (p.op == "HardSigmoid" and abs(p.attrs.get("alpha", 0.2) - 1 / 6) < 1e-6
                    and abs(p.attrs.get("beta", 0.5) - 0.5) < 1e-7):
                _replace_with(g, mul, [p], "HardSwish", x)
                counts["HardSwish"] += 1
                break
    for erf in list(g.iter_ops("Erf")):
        if erf in g.nodes and _fuse_gelu(g, erf):
            counts["Gelu"] += 1
    g.remove_unused_tensors()
    return counts


def _fuse_gelu(g: Graph, erf: Node) -> bool:
    """Match x * 0.5 * (1 + erf(x / sqrt 2)) in any association order torch or users write."""
    producers, consumers = g.producers(), g.consumers()
    scale = producers.get(erf.inputs[0])
    if scale is None or _single_consumer(g, erf.inputs[0], consumers) is not erf:
        return False
    x = None
    for k in (0, 1):
        other = scale.inputs[1 - k] if len(scale.inputs) == 2 else None
        v = _scalar(g, other) if other else None
        if v is None or scale.activation:
            continue
        if scale.op == "Div" and k == 0 and abs(v - math.sqrt(2)) < 1e-5:
            x = scale.inputs[0]
        elif scale.op == "Mul" and abs(v - 1 / math.sqrt(2)) < 1e-5:
            x = scale.inputs[k]
    if x is None:
        return False
    add = _single_consumer(g, erf.outputs[0], consumers)
    if add is None or add.op != "Add" or add.activation or _scalar(g, _other_input(add, erf.outputs[0]) or "") != 1.0:
        return False
    m1 = _single_consumer(g, add.outputs[0], consumers)
    if m1 is None or m1.op != "Mul" or m1.activation:
        return False
    other = _other_input(m1, add.outputs[0])
    removed = [scale, erf, add]
    if other == x:  # (x * A) * 0.5
        m2 = _single_consumer(g, m1.outputs[0], consumers)
        if m2 is None or m2.op != "Mul" or _scalar(g, _other_input(m2, m1.outputs[0]) or "") != 0.5:
            return False
        removed.append(m1)
        final = m2
    elif other is not None and _scalar(g, other) == 0.5:  # (A * 0.5) * x
        m2 = _single_consumer(g, m1.outputs[0], consumers)
        if m2 is None or m2.op != "Mul" or _other_input(m2, m1.outputs[0]) != x:
            return False
        removed.append(m1)
        final = m2
    else:  # (x * 0.5) * A
        half = producers.get(other) if other else None
        if (half is None or half.op != "Mul" or _other_input(half, x) is None
                or _scalar(g, _other_input(half, x)) != 0.5
                or _single_consumer(g, other, consumers) is not m1):
            return False
        removed.append(half)
        final = m1
    if x in (n.outputs[0] for n in removed):
        return False
    _replace_with(g, final, removed, "Gelu", x)
    return True


ACTIVATION_OPS = {"Relu": ACT_RELU, "LeakyRelu": ACT_LEAKY_RELU, "Clip": ACT_CLIP, "Sigmoid": ACT_SIGMOID,
                  "Tanh": ACT_TANH, "HardSigmoid": ACT_HARD_SIGMOID, "HardSwish": ACT_HARD_SWISH,
                  "SiLU": ACT_SILU, "Gelu": ACT_GELU, "Elu": ACT_ELU, "Softplus": ACT_SOFTPLUS}


def _activation_params(node: Node) -> tuple[int, float, float]:
    a = node.attrs
    code = ACTIVATION_OPS[node.op]
    if node.op == "LeakyRelu":
        return code, float(a.get("alpha", 0.01)), 0.0
    if node.op == "Clip":
        return code, float(a.get("min", -math.inf)), float(a.get("max", math.inf))
    if node.op == "HardSigmoid":
        return code, float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    if node.op == "Elu":
        return code, float(a.get("alpha", 1.0)), 0.0
    if node.op == "Gelu" and a.get("approximate", "none") == "tanh":
        return ACT_GELU_TANH, 0.0, 0.0
    return code, 0.0, 0.0


def _same_full_shape(a, b) -> bool:
    return (a is not None and b is not None and len(a) == len(b)
            and all(x is not None and x == y for x, y in zip(a, b)))


def fuse_epilogues(g: Graph) -> dict[str, int]:
    """Residual Add and activations folded into the epilogue of the producing node."""
    counts = {"residual": 0, "activation": 0}
    for add in list(g.iter_ops("Add")):
        if add.activation or len(add.inputs) != 2 or any(g.is_constant(i) for i in add.inputs):
            continue
        if not _same_full_shape(g.shape(add.inputs[0]), g.shape(add.inputs[1])) or \
                not _same_full_shape(g.shape(add.inputs[0]), g.shape(add.outputs[0])):
            continue
        producers, consumers = g.producers(), g.consumers()
        position = {id(n): i for i, n in enumerate(g.nodes)}
        # Prefer the producer that runs last: the other branch is then already computed.
        order = sorted((0, 1), key=lambda k: -position.get(id(producers.get(add.inputs[k])), -1))
        for k in order:
            p = producers.get(add.inputs[k])
            residual = add.inputs[1 - k]
            if (p is None or not EPILOGUE_OPS.get(p.op) or p.activation or p.residual
                    or _single_consumer(g, add.inputs[k], consumers) is not add or residual == add.inputs[k]):
                continue
            base = 3 if p.op in ("Conv", "Gemm") else 2
            p.inputs = p.inputs[:base] + [""] * (base - len(p.inputs)) + [residual]
            p.residual = True
            p.outputs = [add.outputs[0]]
            # The fused node runs where the Add ran, after the residual exists.
            g.nodes.remove(p)
            g.nodes[g.nodes.index(add)] = p
            counts["residual"] += 1
            break
    for act in list(g.nodes):
        if act.op not in ACTIVATION_OPS or act not in g.nodes:
            continue
        producers, consumers = g.producers(), g.consumers()
        p = producers.get(act.inputs[0])
        if (p is None or p.op not in EPILOGUE_OPS or p.activation
                or _single_consumer(g, act.inputs[0], consumers) is not act):
            continue
        if p.op == "Add" and len(p.outputs) != 1:
            continue
        p.activation, p.act_alpha, p.act_beta = _activation_params(act)
        p.outputs = [act.outputs[0]]
        g.nodes.remove(act)
        counts["activation"] += 1
    g.remove_unused_tensors()
    return counts
