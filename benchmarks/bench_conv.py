"""Single-convolution micro benchmark: cnnrt vs ONNX Runtime on the conv shapes
of ResNet-50 / MobileNetV2 (or your own), one thread, in one process,
alternating engines round by round so that both see the same machine noise.

    python benchmarks/bench_conv.py                 # the ResNet-50 set
    python benchmarks/bench_conv.py --set mobilenet_v2
    python benchmarks/bench_conv.py --shape 256,64,56,1,1,0   # ic,oc,hw,k,stride,pad[,groups]

Each model is the conv (+ activation) followed by a global average pool (see
conv_model). Prints per shape: median ms of each engine, GFLOP/s (2 x direct-convolution
MACs / time, so Winograd may exceed the FMA peak), the % of the measured
per-core FMA peak, the kernel cnnrt chose, and ORT's time / cnnrt's time.
This is a benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import onnx
import onnx.helper as oh
import onnx.numpy_helper as onh

import cnnrt

# (in_channels, out_channels, plane, kernel, stride, pad, groups, activation)
SETS = {
    "resnet50": [
        (64, 64, 56, 1, 1, 0, 1, "Relu"), (64, 64, 56, 3, 1, 1, 1, "Relu"), (64, 256, 56, 1, 1, 0, 1, None),
        (256, 64, 56, 1, 1, 0, 1, "Relu"), (256, 128, 56, 1, 1, 0, 1, "Relu"), (128, 128, 28, 3, 1, 1, 1, "Relu"),
        (128, 512, 28, 1, 1, 0, 1, None), (512, 128, 28, 1, 1, 0, 1, "Relu"), (256, 256, 14, 3, 1, 1, 1, "Relu"),
        (256, 1024, 14, 1, 1, 0, 1, None), (1024, 256, 14, 1, 1, 0, 1, "Relu"), (512, 512, 7, 3, 1, 1, 1, "Relu"),
        (512, 2048, 7, 1, 1, 0, 1, None), (2048, 512, 7, 1, 1, 0, 1, "Relu"), (3, 64, 224, 7, 2, 3, 1, "Relu"),
        (128, 128, 56, 3, 2, 1, 1, "Relu"),
    ],
    "mobilenet_v2": [
        (32, 16, 112, 1, 1, 0, 1, None), (16, 96, 112, 1, 1, 0, 1, "Relu"), (96, 24, 56, 1, 1, 0, 1, None),
        (24, 144, 56, 1, 1, 0, 1, "Relu"), (144, 32, 28, 1, 1, 0, 1, None), (32, 192, 28, 1, 1, 0, 1, "Relu"),
        (192, 64, 14, 1, 1, 0, 1, None), (64, 384, 14, 1, 1, 0, 1, "Relu"), (384, 96, 14, 1, 1, 0, 1, None),
        (96, 576, 14, 1, 1, 0, 1, "Relu"), (576, 160, 7, 1, 1, 0, 1, None), (160, 960, 7, 1, 1, 0, 1, "Relu"),
        (960, 320, 7, 1, 1, 0, 1, None), (320, 1280, 7, 1, 1, 0, 1, "Relu"),
        (144, 144, 56, 3, 1, 1, 144, "Relu"), (144, 144, 56, 3, 2, 1, 144, "Relu"), (576, 576, 14, 3, 1, 1, 576, "Relu"),
        (960, 960, 7, 3, 1, 1, 960, "Relu"),
    ],
}


def conv_model(ic, oc, hw, k, stride, pad, groups, activation, seed=0):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((oc, ic // groups, k, k)) * np.sqrt(2.0 / (ic // groups * k * k))).astype(np.float32)
    b = (rng.standard_normal(oc) * 0.1).astype(np.float32)
    nodes = [oh.make_node("Conv", ["x", "w", "b"], ["c" if activation else "z"], kernel_shape=[k, k],
                          strides=[stride, stride], pads=[pad] * 4, group=groups)]
    if activation == "Silu":
        # x * Sigmoid(x), as PyTorch exports SiLU (both engines fuse the pair).
        nodes += [oh.make_node("Sigmoid", ["c"], ["s"]), oh.make_node("Mul", ["c", "s"], ["z"])]
    elif activation:
        nodes.append(oh.make_node(activation, ["c"], ["z"]))
    # A global average pool after the conv keeps the model's output small, so
    # that neither engine spends the time on handing a large fresh output
    # array to Python (its pages faulted in on every run): as inside a model,
    # the conv writes into the engine's own reused memory.
    nodes.append(oh.make_node("GlobalAveragePool", ["z"], ["y"]))
    graph = oh.make_graph(nodes, "conv", [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, ic, hw, hw])],
                          [oh.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
                          initializer=[onh.from_array(w, "w"), onh.from_array(b, "b")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=10)
    out = (hw + 2 * pad - k) // stride + 1
    macs = out * out * oc * (ic // groups) * k * k
    return model, macs


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="resnet50", choices=sorted(SETS))
    parser.add_argument("--shape", action="append", default=[],
                        help="ic,oc,hw,k,stride,pad[,groups[,activation]] (repeatable; replaces the set)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-ort", action="store_true")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="per-engine statistic over the rounds (min resists a busy machine)")
    args = parser.parse_args(argv)
    shapes = SETS[args.set]
    if args.shape:
        shapes = []
        for text in args.shape:
            parts = text.split(",")
            nums = [int(p) for p in parts[:7]]
            if len(nums) < 7:
                nums.append(1)
            shapes.append((*nums, parts[7] if len(parts) > 7 else None))
    peak = cnnrt.cpu_fma_peak_gflops()
    ort = None
    if not args.no_ort:
        try:
            import onnxruntime as ort
        except ImportError:
            print("onnxruntime not installed: cnnrt only")
    print(f"threads {args.threads}; FMA peak per core: {peak if peak else 'n/a'} GFLOP/s")
    print(f"{'ic':>5} {'oc':>5} {'hw':>4} {'k':>2} {'s':>2} {'g':>4}  {'cnnrt ms':>9} {'GFLOP/s':>8} {'%peak':>6}"
          f"  {'ORT ms':>8} {'ORT/cnnrt':>9}  kernel")
    for ic, oc, hw, k, stride, pad, groups, activation in shapes:
        model, macs = conv_model(ic, oc, hw, k, stride, pad, groups, activation)
        data = model.SerializeToString()
        x = np.random.default_rng(1).standard_normal((1, ic, hw, hw)).astype(np.float32)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "conv.cnnrt")
            cnnrt.convert(model, path)
            engine = cnnrt.load(path, threads=args.threads)
        engine.run(x)
        kernel = ""
        try:
            stats = engine.node_stats()
            kernel = ",".join(str(s["kernel"]) for s in stats if "conv" in str(s["kernel"]).lower() or "dw" in str(s["kernel"]))
        except Exception:  # noqa: BLE001 - kernel names are informational
            pass
        session = None
        if ort is not None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
            session.run(None, {"x": x})
        flops = 2.0 * macs
        inner = max(1, int(2e8 / flops))  # ~10+ ms per sample
        mine, theirs = [], []
        for _ in range(args.rounds):
            mine += [t / inner for t in timed(lambda: [engine.run(x) for _ in range(inner)], 1)]
            if session is not None:
                theirs += [t / inner for t in timed(lambda: [session.run(None, {"x": x}) for _ in range(inner)], 1)]
        stat = statistics.median if args.stat == "median" else min
        ms = stat(mine) * 1e3
        gflops = flops / (ms * 1e-3) / 1e9
        pct = f"{100 * gflops / (peak * args.threads):5.0f}%" if peak else "   n/a"
        ort_ms = stat(theirs) * 1e3 if theirs else float("nan")
        print(f"{ic:5d} {oc:5d} {hw:4d} {k:2d} {stride:2d} {groups:4d}  {ms:9.3f} {gflops:8.1f} {pct}"
              f"  {ort_ms:8.3f} {ort_ms / ms:9.2f}  {kernel}", flush=True)


if __name__ == "__main__":
    main()
