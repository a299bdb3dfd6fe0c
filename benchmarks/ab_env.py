"""A/B of one environment setting on whole-model latency: one worker process
per value of the variable (cnnrt reads its switches once per process, e.g.
CNNRT_PIXEL_MAJOR, CNNRT_WINOGRAD, CNNRT_ISA), rounds alternating between the
workers so that both see the same machine noise.

    python benchmarks/ab_env.py resnet50 CNNRT_WINOGRAD 0 4 [--threads 1] [--rounds 8]

MODEL is a zoo name, an .onnx or a .cnnrt file. Prints each value's median and
minimum over all rounds and the ratio of medians to the first value. This is a
benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time


def _worker(env: dict, conn, path: str, threads: int, per_round: int) -> None:
    os.environ.update(env)
    import numpy as np

    import cnnrt

    model = cnnrt.load(path, threads=threads)
    shape = tuple(model.concrete_input_shapes().values())[0]
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    for _ in range(3):
        model.run(x)
    conn.send("ready")
    while conn.recv():
        times = []
        for _ in range(per_round):
            start = time.perf_counter()
            model.run(x)
            times.append(time.perf_counter() - start)
        conn.send(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("variable")
    parser.add_argument("values", nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=5)
    args = parser.parse_args(argv)
    if len(args.values) < 2:
        parser.error("give at least two values to compare")
    if args.model.endswith((".cnnrt", ".onnx")) and not os.path.isfile(args.model):
        parser.error(f"no model file {args.model!r}")
    with tempfile.TemporaryDirectory() as workdir:
        path = args.model
        if not path.endswith(".cnnrt"):
            from cnnrt.bench import prepare

            path = prepare(args.model, workdir).cnnrt_path
        context = mp.get_context("spawn")
        workers = []
        try:
            for value in args.values:
                parent, child = context.Pipe()
                process = context.Process(target=_worker,
                                          args=({args.variable: value}, child, path, args.threads, args.per_round))
                process.start()
                workers.append((value, parent, process))
            for value, parent, _ in workers:
                try:
                    parent.recv()
                except EOFError:
                    print(f"the worker with {args.variable}={value} stopped before its first run (see above)",
                          file=sys.stderr)
                    return 1
            times = {value: [] for value in args.values}
            for _ in range(args.rounds):
                for value, parent, _ in workers:
                    parent.send(True)
                    times[value] += parent.recv()
        finally:
            for _, parent, process in workers:
                try:
                    parent.send(False)
                except (BrokenPipeError, OSError):
                    pass
                process.join(timeout=10)
    base = statistics.median(times[args.values[0]])
    print(f"{args.model}: {args.threads} thread(s), {args.rounds} rounds of {args.per_round} runs per value")
    for value in args.values:
        median = statistics.median(times[value])
        print(f"  {args.variable}={value:<8} median {median * 1e3:8.2f} ms   min {min(times[value]) * 1e3:8.2f} ms"
              f"   median / first {median / base:5.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
