"""The `cnnrt` command line: convert, run, info."""
from __future__ import annotations

import argparse
import collections
import json
import sys
from typing import Sequence

import numpy as np


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"


def _shape(shape: Sequence) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _parse_shapes(items: Sequence[str] | None) -> dict[str, list[int]]:
    """--shape input=1,3,224,224 (repeatable)."""
    shapes: dict[str, list[int]] = {}
    for item in items or []:
        name, _, dims = item.partition("=")
        if not dims:
            raise SystemExit(f"cnnrt: --shape expects NAME=D0,D1,..., found {item!r}")
        shapes[name] = [int(d) for d in dims.split(",")]
    return shapes


def cmd_convert(args: argparse.Namespace) -> int:
    import cnnrt

    options = {}
    if args.opset is not None:
        options["opset"] = args.opset
    if args.arch is not None:
        options["arch"] = args.arch
    if args.arch_option:
        options["arch_options"] = {}
        for item in args.arch_option:
            key, _, value = item.partition("=")
            try:
                options["arch_options"][key] = json.loads(value)
            except ValueError:
                options["arch_options"][key] = value
    if args.input_shape:
        import torch

        options["example_input"] = torch.zeros([int(d) for d in args.input_shape.split(",")])
    if args.labels:
        with open(args.labels, encoding="utf-8") as f:
            options["labels"] = [line.strip() for line in f if line.strip()]
    if args.no_fuse:
        options["fuse"] = False
    report = cnnrt.convert(args.source, args.output, **options)
    print(report)
    return 0


def _load_input(model, path: str) -> dict[str, np.ndarray]:
    if path.endswith(".npz"):
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    x = np.load(path)
    if len(model.inputs) != 1:
        raise SystemExit(f"cnnrt: the model has {len(model.inputs)} inputs; pass an .npz with one array per input")
    return {model.inputs[0].name: x}


def cmd_run(args: argparse.Namespace) -> int:
    import cnnrt

    model = cnnrt.load(args.model, threads=args.threads)
    feeds = _load_input(model, args.input)
    outputs = model.run(feeds)
    labels = None
    if "labels" in model.metadata:
        try:
            labels = json.loads(model.metadata["labels"])
        except ValueError:
            labels = None
    for name, y in outputs.items():
        print(f"{name}: shape {list(y.shape)}, dtype {y.dtype}")
        if y.ndim == 2 and y.shape[1] > 1:
            # A classifier: show the top-5 classes of each sample.
            for row_index, row in enumerate(y[: args.max_rows]):
                top = np.argsort(-row, kind="stable")[:5]
                shown = ", ".join(
                    f"{labels[c] if labels and c < len(labels) else c}: {row[c]:.4f}" for c in top
                )
                print(f"  sample {row_index} top-5: {shown}")
    if args.output:
        if len(outputs) == 1:
            np.save(args.output, next(iter(outputs.values())))
        else:
            np.savez(args.output, **outputs)
        print(f"wrote {args.output}")
    return 0


def describe(model, shapes: dict[str, list[int]] | None = None) -> str:
    """The text `cnnrt info` prints."""
    from . import cpu_description

    lines = []
    meta = model.metadata
    lines.append(f"model: {model.path or '<memory>'}")
    lines.append(f"cpu: {cpu_description()}")
    for key in ("producer", "source_format", "source_opset", "source_sha256"):
        if key in meta:
            lines.append(f"  {key}: {meta[key]}")
    for t in model.inputs:
        lines.append(f"input:  {t.name} {_shape(t.shape)} {t.dtype}")
    for t in model.outputs:
        lines.append(f"output: {t.name} {_shape(t.shape)} {t.dtype}")
    nodes = model.nodes
    ops = collections.Counter(n["op"] for n in nodes)
    lines.append(f"nodes: {len(nodes)}")
    lines.append("ops: " + ", ".join(f"{op} x{count}" for op, count in ops.most_common()))
    fused = collections.Counter(
        (n["op"] + ("+residual" if n["residual"] else "") + ("+" + n["activation"] if n["activation"] else ""))
        for n in nodes
        if n["activation"] or n["residual"]
    )
    if fused:
        lines.append("fused epilogues: " + ", ".join(f"{k} x{v}" for k, v in fused.most_common()))
    stats = model.stats
    lines.append(f"weights: {_bytes(stats['weights_bytes'])} ({stats['constant_elements']:,} constant elements)")
    if "param_count" in meta:
        lines.append(f"parameters of the original model (as PyTorch counts them): {int(meta['param_count']):,}")
    concrete = model.concrete_input_shapes()
    concrete.update({k: tuple(v) for k, v in (shapes or {}).items()})
    symbolic = any(not all(isinstance(d, int) for d in t.shape) for t in model.inputs)
    model.reshape(concrete)
    memory = model.memory()
    shown = ", ".join(f"{k}={_shape(v)}" for k, v in concrete.items())
    note = " (symbolic dims set to 1)" if symbolic and not shapes else ""
    lines.append(
        f"arena for {shown}{note}: {_bytes(memory['arena_bytes'])} planned, "
        f"{_bytes(memory['unplanned_bytes'])} without reuse"
    )
    node_stats = model.node_stats()
    kernels = collections.Counter(s["kernel"] for s in node_stats)
    total_macs = sum(s["macs"] for s in node_stats)
    lines.append(f"MACs: {total_macs:,} ({2 * total_macs / 1e9:.3f} GFLOPs, 1 MAC = 2 FLOPs)")
    lines.append("kernels: " + ", ".join(f"{k} x{v}" for k, v in kernels.most_common()))
    for key in ("labels", "preprocessing"):
        if key in meta:
            value = meta[key]
            lines.append(f"{key}: {value if len(value) < 100 else value[:97] + '...'}")
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    import cnnrt

    model = cnnrt.load(args.model)
    print(describe(model, _parse_shapes(args.shape)))
    return 0


def _model_for_summary(source: str, shapes: dict[str, list[int]], workdir: str):
    """A loaded model from a .cnnrt file, an ONNX file or a zoo architecture name."""
    import os

    import cnnrt

    if source.endswith(".onnx"):
        path = os.path.join(workdir, "model.cnnrt")
        cnnrt.convert(source, path)
        return cnnrt.load(path)
    if not os.path.exists(source) and not source.endswith(".cnnrt"):
        from .converters import zoo  # needs torch

        module = zoo.create(source)
        example = zoo.example_input(source, reduced=False, batch=1)
        if shapes:
            import torch

            example = torch.zeros(next(iter(shapes.values())))
        path = os.path.join(workdir, "model.cnnrt")
        cnnrt.convert(module, path, example_input=example)
        return cnnrt.load(path)
    return cnnrt.load(source)


def cmd_summary(args: argparse.Namespace) -> int:
    import tempfile

    shapes = _parse_shapes(args.shape)
    with tempfile.TemporaryDirectory() as workdir:
        model = _model_for_summary(args.model, shapes, workdir)
        if shapes and len(model.inputs) == 1 and list(shapes) == ["input"] and model.inputs[0].name != "input":
            shapes = {model.inputs[0].name: shapes["input"]}
        print(model.summary(shapes))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnrt", description="cnnrt: convert and run CNN models")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="convert an ONNX model (or a PyTorch checkpoint) to .cnnrt")
    p.add_argument("source", help="model.onnx (or a .pth checkpoint with --arch)")
    p.add_argument("-o", "--output", required=True, help="the .cnnrt file to write")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset when exporting from PyTorch")
    p.add_argument("--arch", default=None, help="zoo architecture of a .pth checkpoint (resnet50, vgg16, ...)")
    p.add_argument("--arch-option", action="append", help="KEY=VALUE constructor option of --arch (num_classes=10)")
    p.add_argument("--input-shape", default=None, help="example input shape for a checkpoint, e.g. 1,3,224,224")
    p.add_argument("--labels", default=None, help="a text file of class names, one per line")
    p.add_argument("--no-fuse", action="store_true", help="keep BatchNorm and activations as separate nodes")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("run", help="run a model on an input saved with numpy (.npy, or .npz by input name)")
    p.add_argument("model")
    p.add_argument("--input", required=True)
    p.add_argument("--output", default=None, help="save outputs to .npy (one output) or .npz")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-rows", type=int, default=8, help="samples whose top-5 is printed")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("info", help="inputs, outputs, ops, weights, planned arena")
    p.add_argument("model")
    p.add_argument("--shape", action="append", help="NAME=D0,D1,... to plan for (repeatable)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("summary", help="per-layer table: shapes, parameters, MACs, receptive field, memory")
    p.add_argument("model", help="a .cnnrt file, an .onnx file, or a zoo architecture name (resnet50, vgg16, ...)")
    p.add_argument("--shape", action="append", help="NAME=D0,D1,... input shape (repeatable)")
    p.set_defaults(func=cmd_summary)

    from .bench import add_arguments, main_bench

    p = sub.add_parser("bench", help="latency next to ONNX Runtime / OpenVINO / PyTorch, each in its own process")
    add_arguments(p)
    p.set_defaults(func=main_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ._errors import Error

    try:
        return args.func(args)
    except Error as error:
        print(f"cnnrt {args.command}: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # conversion errors come from cnnrt.converters
        if type(error).__module__.startswith("cnnrt"):
            print(f"cnnrt {args.command}: error: {error}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
