"""Latency of cnnrt next to ONNX Runtime on the same model, in one run.

    python benchmarks/bench_latency.py --model resnet18 --threads 1 2 --batch 1

Engines alternate round by round so that machine noise hits both alike; the
ratio column is engine median / cnnrt median (above 1: cnnrt is faster). Speed
is never asserted in a test; this script is where it is measured.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))


def build(name: str):
    from models import make_model  # tests/models.py: seeded architectures

    return make_model(name, reduced=False)


def time_fn(fn, warmup: int) -> None:
    for _ in range(warmup):
        fn()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)

    import onnxruntime as ort
    import torch

    import cnnrt

    module, _ = build(args.model)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    workdir = tempfile.mkdtemp(prefix="cnnrt-bench-")
    onnx_path = os.path.join(workdir, f"{args.model}.onnx")
    torch.onnx.export(module, x, onnx_path, dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    cnnrt_path = os.path.join(workdir, f"{args.model}.cnnrt")
    cnnrt.convert(onnx_path, cnnrt_path)
    feed = x.numpy()
    print(f"{args.model}, batch {args.batch}, {args.size}x{args.size}, {args.rounds} rounds, fp32")
    print(f"{'threads':>7} {'engine':>12} {'median ms':>10} {'p90 ms':>8} {'ratio':>6}")
    for threads in args.threads:
        model = cnnrt.load(cnnrt_path, threads=threads)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        # ORT's idle workers spin by default and would steal cnnrt's cores
        # between alternating rounds.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        engines = {
            "cnnrt": lambda: model.run(feed),
            "onnxruntime": lambda: sess.run(None, {"input": feed}),
        }
        diff = np.max(np.abs(engines["cnnrt"]() - engines["onnxruntime"]()[0]))
        times = {k: [] for k in engines}
        for name, fn in engines.items():
            time_fn(fn, args.warmup)
        for _ in range(args.rounds):
            for name, fn in engines.items():
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) * 1e3)
        base = statistics.median(times["cnnrt"])
        for name, t in times.items():
            med = statistics.median(t)
            p90 = sorted(t)[int(0.9 * (len(t) - 1))]
            print(f"{threads:>7} {name:>12} {med:>10.2f} {p90:>8.2f} {med / base:>6.2f}")
        print(f"        max |cnnrt - onnxruntime| = {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
