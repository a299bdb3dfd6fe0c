"""`cnnrt bench`: cnnrt next to its peers on one model, in one run.

Each engine runs in its own worker process, so one engine's idle threads
never compete with another's for the cores; the parent sends the workers
rounds in turn (the order rotates each round), so machine noise falls on all
engines alike. Reported: median, p90 and minimum latency, each engine's median
over cnnrt's (above 1: cnnrt is faster) and its minimum over cnnrt's (on a
shared machine whose load comes and goes, the minima move less than the
medians), and GFLOP/s counting the model's direct
convolution FLOPs (2 per MAC, so a Winograd kernel may exceed the FMA peak)
as a fraction of this CPU's FMA peak, measured with an FMA loop.

Peers are optional: onnxruntime, openvino, litert (LiteRT with its XNNPACK
delegate, on the ONNX model written as TFLite by cnnrt._tflite and checked
against cnnrt's output first), torch (a zoo architecture only). A missing
peer is skipped with a note saying how to install it (or why it cannot run
this model).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

PEERS = ("onnxruntime", "openvino", "litert", "torch")
INSTALL = {"onnxruntime": "onnxruntime", "openvino": "openvino", "litert": "ai-edge-litert",
           "torch": "torch==2.13.0"}
MODULES = {"onnxruntime": "onnxruntime", "openvino": "openvino", "litert": "ai_edge_litert", "torch": "torch"}


@dataclass
class Prepared:
    """The files each engine loads, and what the model is."""

    name: str
    cnnrt_path: str
    onnx_path: str | None
    zoo_arch: str | None
    input_name: str
    input_shape: tuple        # batch 1
    notes: list[str] = field(default_factory=list)
    tflite_path: str | None = None  # written by prepare_litert
    torch_path: str | None = None   # the pickled zoo module for the torch engine
    torch_why: str = ""             # why there is none


def prepare(model: str, workdir: str, size: int | None = None) -> Prepared:
    """A zoo name, an .onnx file or a .cnnrt file -> the files the engines need."""
    import cnnrt

    if model.endswith(".cnnrt"):
        loaded = cnnrt.load(model)
        shape = tuple(loaded.concrete_input_shapes().values())[0]
        return Prepared(os.path.basename(model), model, None, None, loaded.inputs[0].name, shape,
                        ["a .cnnrt file alone: peers need the source model (an .onnx file or a zoo name)"])
    onnx_path = model
    arch = None
    if not model.endswith(".onnx"):
        import torch

        from cnnrt.converters import zoo

        arch = model
        module = zoo.create(arch)
        x = zoo.example_input(arch, batch=1)
        if size is not None:
            x = torch.zeros(*x.shape[:-2], size, size)
        onnx_path = os.path.join(workdir, f"{arch}.onnx")
        with torch.no_grad():
            torch.onnx.export(module, x, onnx_path, dynamo=False, opset_version=17, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        torch_path, torch_why = os.path.join(workdir, f"{arch}.pt"), ""
        try:
            torch.save(module, torch_path)
        except Exception as e:  # noqa: BLE001 - e.g. a module holding a lambda cannot be pickled
            torch_path, torch_why = None, f"the module could not be saved for the torch worker ({e})"
    cnnrt_path = os.path.join(workdir, os.path.splitext(os.path.basename(onnx_path))[0] + ".cnnrt")
    cnnrt.convert(onnx_path, cnnrt_path)
    loaded = cnnrt.load(cnnrt_path)
    shape = tuple(loaded.concrete_input_shapes().values())[0]
    prepared = Prepared(arch or os.path.basename(model), cnnrt_path, onnx_path, arch, loaded.inputs[0].name, shape)
    if arch is not None:
        prepared.torch_path, prepared.torch_why = torch_path, torch_why
    return prepared


def prepare_litert(prepared: Prepared, workdir: str) -> str:
    """Writes the model as TFLite for the litert engine and checks LiteRT's output against cnnrt's on one
    random batch; '' when it may run, else why not (the model is then left out of the comparison)."""
    import numpy as np

    import cnnrt
    from cnnrt import _tflite

    path = os.path.join(workdir, os.path.splitext(os.path.basename(prepared.cnnrt_path))[0] + ".tflite")
    try:
        _tflite.export(prepared.onnx_path, path)
    except _tflite.TFLiteExportError as e:
        return f"the model could not be written as TFLite: {e}"
    x = np.random.default_rng(1).standard_normal((2, *prepared.input_shape[1:]), dtype=np.float32)
    expected = cnnrt.load(prepared.cnnrt_path).run({prepared.input_name: x})
    expected = next(iter(expected.values())) if isinstance(expected, dict) else expected
    found = _tflite.litert_runner(path, x, 1)()
    expected = np.asarray(expected)
    if found.shape != expected.shape:
        return f"the TFLite model's output has shape {found.shape}, cnnrt's {expected.shape}"
    scale = float(np.abs(expected).max())
    diff = float(np.abs(found - expected).max())
    if not diff <= 1e-3 * scale + 1e-30:
        return f"the TFLite model disagrees with cnnrt (max |difference| {diff:.3g}, output scale {scale:.3g})"
    prepared.tflite_path = path
    return ""


# -- worker side ---------------------------------------------------------------

def _make_runner(engine: str, prepared: dict, threads: int, batch: int):
    import numpy as np

    shape = (batch, *prepared["input_shape"][1:])
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    name = prepared["input_name"]
    if engine == "cnnrt":
        import cnnrt

        model = cnnrt.load(prepared["cnnrt_path"], threads=threads)
        return lambda: model.run({name: x})
    if engine == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(prepared["onnx_path"], options, providers=["CPUExecutionProvider"])
        return lambda: session.run(None, {name: x})
    if engine == "openvino":
        import openvino as ov

        core = ov.Core()
        compiled = core.compile_model(prepared["onnx_path"], "CPU", {
            "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
        request = compiled.create_infer_request()
        return lambda: request.infer({0: x})
    if engine == "litert":
        from cnnrt import _tflite

        return _tflite.litert_runner(prepared["tflite_path"], x, threads)
    if engine == "torch":
        import torch

        torch.set_num_threads(threads)
        module = torch.load(prepared["torch_path"], weights_only=False).eval()
        tx = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                return module(tx)

        return run
    raise ValueError(f"unknown engine {engine!r}")


def worker_main(engine: str, prepared_json: str, threads: int, batch: int) -> int:
    prepared = json.loads(prepared_json)
    run = _make_runner(engine, prepared, threads, batch)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        times = []
        for _ in range(int(command[1])):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1e3)
        print(json.dumps({"times": times}), flush=True)
    return 0


# -- parent side ---------------------------------------------------------------

def _available(engine: str) -> str:
    """'' when the engine can run here, else why not."""
    import importlib.util

    if engine == "cnnrt":
        return ""
    if importlib.util.find_spec(MODULES[engine]) is None:
        return f"not installed (pip install {INSTALL[engine]})"
    return ""


class Worker:
    """One engine in its own process; `env` adds variables to its environment
    (benchmarks/ab_env.py runs cnnrt workers that differ only in one switch)."""

    def __init__(self, engine: str, prepared: Prepared, threads: int, batch: int, env: dict | None = None):
        payload = json.dumps({"cnnrt_path": prepared.cnnrt_path, "onnx_path": prepared.onnx_path,
                              "torch_path": prepared.torch_path,
                              "tflite_path": prepared.tflite_path,
                              "input_name": prepared.input_name, "input_shape": list(prepared.input_shape)})
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE", **(env or {}))
        self.engine = engine
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnnrt.bench", "--worker", engine, payload, str(threads), str(batch)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        ready = self.process.stdout.readline()
        if not ready:
            raise RuntimeError(f"{engine} worker failed to start: {self.process.stderr.read()[-2000:]}")

    def run(self, iterations: int) -> list[float]:
        self.process.stdin.write(f"run {iterations}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.engine} worker died: {self.process.stderr.read()[-2000:]}")
        return json.loads(line)["times"]

    def close(self) -> None:
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        self.process.wait(timeout=30)


@dataclass
class EngineResult:
    engine: str
    median_ms: float
    p90_ms: float
    min_ms: float
    ratio: float          # engine median / cnnrt median
    min_ratio: float      # engine min / cnnrt min (less moved by a busy machine)
    gflops: float
    peak_fraction: float


def measure(prepared: Prepared, engines: list[str], threads: int, batch: int, rounds: int, per_round: int,
            warmup: int, macs_per_image: int, peak_gflops_per_core: float) -> list[EngineResult]:
    workers = []
    try:
        for engine in engines:
            workers.append(Worker(engine, prepared, threads, batch))
        for w in workers:
            w.run(warmup)
        times: dict[str, list[float]] = {w.engine: [] for w in workers}
        for r in range(rounds):
            order = workers[r % len(workers):] + workers[: r % len(workers)]
            for w in order:
                times[w.engine].extend(w.run(per_round))
    finally:
        for w in workers:
            w.close()
    base = statistics.median(times["cnnrt"]) if "cnnrt" in times else None
    base_min = min(times["cnnrt"]) if "cnnrt" in times else None
    results = []
    flops = 2.0 * macs_per_image * batch
    for engine, t in times.items():
        med = statistics.median(t)
        p90 = sorted(t)[min(len(t) - 1, int(round(0.9 * (len(t) - 1))))]
        gflops = flops / (med * 1e-3) / 1e9
        results.append(EngineResult(engine, med, p90, min(t), med / base if base else float("nan"),
                                    min(t) / base_min if base_min else float("nan"), gflops,
                                    gflops / (peak_gflops_per_core * threads)))
    return results


def profile(prepared: Prepared, threads: int, batch: int, repeats: int = 10) -> str:
    """Per-layer profile of cnnrt: time, GFLOP/s, kernel; and the non-conv share."""
    import numpy as np

    import cnnrt

    model = cnnrt.load(prepared.cnnrt_path, threads=threads, profile=True)
    x = np.random.default_rng(0).standard_normal((batch, *prepared.input_shape[1:]), dtype=np.float32)
    model.run({prepared.input_name: x})
    totals = None
    for _ in range(repeats):
        model.run({prepared.input_name: x})
        stats = model.node_stats()
        times = [s["time_ns"] for s in stats]
        totals = times if totals is None else [min(a, b) for a, b in zip(totals, times)]
    nodes = model.nodes
    lines = [f"{'layer':40} {'op':22} {'kernel':34} {'ms':>7} {'GFLOP/s':>8}"]
    conv_ns = other_ns = 0
    for node, stat, t in zip(nodes, stats, totals):
        op = node["op"] + ("+res" if node["residual"] else "") + (f"+{node['activation']}" if node["activation"] else "")
        gf = 2 * stat["macs"] / t if t else 0.0
        lines.append(f"{(node['name'] or node['outputs'][0])[-40:]:40} {op[:22]:22} {stat['kernel'][:34]:34} "
                     f"{t / 1e6:7.3f} {gf:8.1f}")
        if node["op"] in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            conv_ns += t
        else:
            other_ns += t
    total = conv_ns + other_ns
    lines.append(f"total {total / 1e6:.2f} ms (per-node minimum over {repeats} runs); conv/gemm {conv_ns / 1e6:.2f} ms, "
                 f"other ops {other_ns / 1e6:.2f} ms = {100 * other_ns / max(total, 1):.1f}%")
    return "\n".join(lines)


def format_results(prepared: Prepared, threads: int, batch: int, results: list[EngineResult], peak: float) -> str:
    lines = [f"{prepared.name}: batch {batch}, input {list((batch, *prepared.input_shape[1:]))}, {threads} thread(s), "
             f"fp32; FMA peak {peak:.0f} GFLOP/s per core"]
    lines.append(f"  {'engine':12} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'vs cnnrt':>9} {'(min)':>6} "
                 f"{'GFLOP/s':>8} {'% peak':>7}")
    for r in results:
        lines.append(f"  {r.engine:12} {r.median_ms:10.2f} {r.p90_ms:8.2f} {r.min_ms:8.2f} {r.ratio:9.2f} "
                     f"{r.min_ratio:6.2f} {r.gflops:8.1f} {100 * r.peak_fraction:6.1f}%")
    return "\n".join(lines)


def run_bench(model: str, compare: list[str], threads_list: list[int], batches: list[int], rounds: int,
              per_round: int, warmup: int, size: int | None, show_profile: bool) -> str:
    import cnnrt

    out = []
    with tempfile.TemporaryDirectory(prefix="cnnrt-bench-") as workdir:
        prepared = prepare(model, workdir, size)
        engines = ["cnnrt"]
        for engine in compare:
            if engine not in PEERS:
                raise SystemExit(f"cnnrt bench: unknown engine {engine!r}; known: {', '.join(PEERS)}")
            why = _available(engine)
            if not why and engine in ("onnxruntime", "openvino", "litert") and prepared.onnx_path is None:
                why = "needs the ONNX model"
            if not why and engine == "litert":
                why = prepare_litert(prepared, workdir)
            if not why and engine == "torch" and prepared.zoo_arch is not None and prepared.torch_path is None:
                why = prepared.torch_why
            if not why and engine == "torch" and prepared.zoo_arch is None:
                why = "needs a zoo architecture name (the PyTorch module)"
            if why:
                out.append(f"note: skipping {engine}: {why}")
            else:
                engines.append(engine)
        out.extend(f"note: {n}" for n in prepared.notes)
        peak = cnnrt.cpu_fma_peak_gflops(0.3)
        out.append(f"cpu: {cnnrt.cpu_description()}")
        for line in out:
            print(line, flush=True)
        loaded = cnnrt.load(prepared.cnnrt_path)
        loaded.reshape({prepared.input_name: prepared.input_shape})
        macs = sum(s["macs"] for s in loaded.node_stats())
        for batch in batches:
            for threads in threads_list:
                results = measure(prepared, engines, threads, batch, rounds, per_round, warmup, macs, peak)
                out.append(format_results(prepared, threads, batch, results, peak))
                print(out[-1], flush=True)
                if show_profile:
                    out.append(profile(prepared, threads, batch))
                    print(out[-1], flush=True)
    return "\n".join(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a zoo architecture name (resnet50, ...), an .onnx file or a .cnnrt file")
    p.add_argument("--compare", default="onnxruntime,openvino,litert,torch",
                   help="peers, comma-separated (onnxruntime, openvino, litert, torch); missing ones are skipped")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, nargs="+", default=[1])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--per-round", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--size", type=int, default=None, help="input height/width for a zoo model (default: its own)")
    p.add_argument("--profile", action="store_true", help="also print cnnrt's per-layer profile")


def main_bench(args: argparse.Namespace) -> int:
    run_bench(args.model, [e for e in args.compare.split(",") if e], args.threads, args.batch, args.rounds,
              args.per_round, args.warmup, args.size, args.profile)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
    parser = argparse.ArgumentParser(prog="python -m cnnrt.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(main_bench(parser.parse_args()))
