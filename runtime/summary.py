"""`cnnrt summary`: a per-layer table of a converted model.

Everything comes from the public API (node list, attributes, constant shapes,
per-node statistics of a planned session), so an embedding app could print
the same table. Parameters are counted twice on purpose:

- per layer: the constants each node holds in the converted file (after
  BatchNorm folding, so a Conv+BN layer shows the folded weights and bias);
- in total: the parameters of the original model, as PyTorch counts them
  (BatchNorm scale and shift count, running statistics do not), which the
  converter records in the file's metadata before folding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

SPATIAL_OPS_WITH_KERNEL = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"}
GLOBAL_OPS = {"GlobalAveragePool", "GlobalMaxPool"}


@dataclass
class LayerRow:
    name: str
    op: str
    output_shape: tuple
    params: int
    macs: int
    receptive_field: tuple | None   # per spatial dim, in input pixels
    jump: tuple | None              # per spatial dim: input pixels between adjacent outputs
    activation_bytes: int
    kernel: str


@dataclass
class Summary:
    rows: list[LayerRow]
    input_shapes: dict[str, tuple]
    original_params: int | None     # from metadata: the source model, as PyTorch counts
    constant_elements: int          # in the converted file
    macs: int
    weights_bytes: int
    arena_bytes: int                # peak activation memory as planned (arena + scratch)
    unplanned_bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def __str__(self) -> str:
        return format_summary(self)


def _fmt_rf(values: tuple | None) -> str:
    if not values:
        return "-"
    values = tuple(int(round(v)) if abs(v - round(v)) < 1e-9 else round(v, 2) for v in values)
    return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


def _shape(shape: Sequence) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _propagate(op: str, attrs: Mapping, kernel: Sequence[int] | None, inputs: list, in_shape: tuple | None):
    """Receptive field and jump of a node's output from its inputs' (per spatial dim)."""
    known = [x for x in inputs if x is not None]
    if not known:
        return None
    rank = max(len(x[0]) for x in known)
    rf = tuple(max(x[0][i] for x in known if len(x[0]) == rank) for i in range(rank))
    jump = next(x[1] for x in known if len(x[0]) == rank)
    if op in SPATIAL_OPS_WITH_KERNEL and kernel:
        k = list(kernel)[-rank:]
        strides = list(attrs.get("strides", [1] * rank))[-rank:]
        dilations = list(attrs.get("dilations", [1] * rank))[-rank:]
        if op == "ConvTranspose":
            jump = tuple(j / s for j, s in zip(jump, strides))
            rf = tuple(r + (kk - 1) * d * j for r, kk, d, j in zip(rf, k, dilations, jump))
        else:
            rf = tuple(r + (kk - 1) * d * j for r, kk, d, j in zip(rf, k, dilations, jump))
            jump = tuple(j * s for j, s in zip(jump, strides))
    elif op in GLOBAL_OPS and in_shape is not None and len(in_shape) >= 2 + rank:
        spatial = in_shape[-rank:]
        rf = tuple(r + (n - 1) * j for r, n, j in zip(rf, spatial, jump))
    elif op == "Resize" and "scales" in attrs:
        scales = list(attrs["scales"])[-rank:]
        jump = tuple(j / s for j, s in zip(jump, scales))
    return rf, jump


def summarize(model, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Summary:
    """Plans `model` for the given input shapes (symbolic dims default to 1) and
    collects the per-layer table."""
    shapes = model.concrete_input_shapes()
    shapes.update({k: tuple(v) for k, v in (input_shapes or {}).items()})
    model.reshape(shapes)
    stats = model.node_stats()
    nodes = model.nodes
    memory = model.memory()
    tensor_shapes: dict[str, tuple] = dict(shapes)
    fields: dict[str, tuple | None] = {}
    for name, shape in shapes.items():
        spatial = max(0, len(shape) - 2)
        fields[name] = ((1,) * spatial, (1,) * spatial) if spatial else None
    rows = []
    for node, stat in zip(nodes, stats):
        attrs = node.get("attributes", {})
        kernel = None
        if node["op"] in SPATIAL_OPS_WITH_KERNEL:
            if "kernel_shape" in attrs:
                kernel = attrs["kernel_shape"]
            elif len(node["inputs"]) > 1 and node["inputs"][1]:
                kernel = model.tensor(node["inputs"][1]).shape[2:]
        # A Resize's Reference input gives only its shape: its values reach no output.
        read = node["inputs"][:1] if node["op"] == "Resize" else node["inputs"]
        data_inputs = [i for i in read if i and i in fields]
        in_shape = tensor_shapes.get(node["inputs"][0]) if node["inputs"] and node["inputs"][0] else None
        result = _propagate(node["op"], attrs, kernel, [fields[i] for i in data_inputs], in_shape)
        for k, out in enumerate(node["outputs"]):
            fields[out] = result
            if k == 0:
                tensor_shapes[out] = tuple(stat["output_shape"])
        op = node["op"] + ("+residual" if node["residual"] else "") + (f"+{node['activation']}" if node["activation"] else "")
        rows.append(LayerRow(
            name=node["name"] or node["outputs"][0], op=op, output_shape=tuple(stat["output_shape"]),
            params=int(node["params"]), macs=int(stat["macs"]),
            receptive_field=result[0] if result else None, jump=result[1] if result else None,
            activation_bytes=int(stat["output_bytes"]), kernel=stat["kernel"],
        ))
    meta = model.metadata
    original = int(meta["param_count"]) if meta.get("param_count", "").isdigit() else None
    st = model.stats
    notes = []
    if original is None:
        notes.append("the file records no original parameter count (converted without metadata)")
    return Summary(rows=rows, input_shapes=shapes, original_params=original,
                   constant_elements=int(st["constant_elements"]), macs=sum(r.macs for r in rows),
                   weights_bytes=int(st["weights_bytes"]), arena_bytes=int(memory["arena_bytes"]),
                   unplanned_bytes=int(memory["unplanned_bytes"]), notes=notes)


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{n} B"


def format_summary(s: Summary) -> str:
    header = ["layer", "op", "output shape", "params", "MACs", "RF", "jump", "activation"]
    table = [header]
    for r in s.rows:
        table.append([r.name, r.op, _shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}", _fmt_rf(r.receptive_field),
                      _fmt_rf(r.jump), _bytes(r.activation_bytes)])
    widths = [min(48, max(len(row[i]) for row in table)) for i in range(len(header))]
    right = {3, 4, 5, 6, 7}
    lines = []
    for index, row in enumerate(table):
        cells = [(c if len(c) <= widths[i] else c[: widths[i] - 1] + "~") for i, c in enumerate(row)]
        lines.append("  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    shown = ", ".join(f"{k}={_shape(v)}" for k, v in s.input_shapes.items())
    lines.append("")
    lines.append(f"input: {shown}")
    if s.original_params is not None:
        lines.append(f"parameters (original model, as PyTorch counts them: BatchNorm scale and shift count, running "
                     f"statistics do not): {s.original_params:,}")
    lines.append(f"constants in the converted file (after BatchNorm folding): {s.constant_elements:,}")
    lines.append(f"MACs: {s.macs:,} = {s.macs / 1e9:.3f} GMACs; FLOPs: {s.flops:,} = {s.flops / 1e9:.3f} GFLOPs "
                 f"(1 MAC = 2 FLOPs)")
    lines.append(f"weights: {_bytes(s.weights_bytes)}")
    lines.append(f"peak activation memory as planned: {_bytes(s.arena_bytes)} (without buffer reuse: "
                 f"{_bytes(s.unplanned_bytes)})")
    lines.append("RF: receptive field of one output position in input pixels; jump: input pixels between adjacent "
                 "outputs")
    lines.extend(f"note: {n}" for n in s.notes)
    return "\n".join(lines)
