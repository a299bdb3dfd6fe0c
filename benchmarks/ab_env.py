"""A/B of one environment setting on whole-model latency: one cnnrt worker
process per value of the variable (cnnrt reads its switches once per process,
e.g. CNNRT_PIXEL_MAJOR, CNNRT_WINOGRAD, CNNRT_ISA), rounds alternating between
the workers so that all see the same machine noise (the workers of
runtime/bench.py, as `cnnrt bench` uses them for peers).

    python benchmarks/ab_env.py resnet50 CNNRT_WINOGRAD 0 4 [--threads 1] [--rounds 8]

MODEL is a zoo name, an .onnx or a .cnnrt file. Prints each value's median and
minimum over all rounds and the ratio of medians to the first value. This is a
benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile


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
    from cnnrt.bench import Worker, prepare

    times: dict[str, list[float]] = {value: [] for value in args.values}
    with tempfile.TemporaryDirectory() as workdir:
        prepared = prepare(args.model, workdir)
        workers = []
        try:
            for value in args.values:
                workers.append((value, Worker("cnnrt", prepared, args.threads, 1, env={args.variable: value})))
            for _, worker in workers:
                worker.run(3)
            for _ in range(args.rounds):
                for value, worker in workers:
                    times[value] += worker.run(args.per_round)
        except RuntimeError as error:
            print(f"{args.model}: {error}", file=sys.stderr)
            return 1
        finally:
            for _, worker in workers:
                worker.close()
    base = statistics.median(times[args.values[0]])
    print(f"{args.model}: {args.threads} thread(s), {args.rounds} rounds of {args.per_round} runs per value")
    for value in args.values:
        median = statistics.median(times[value])
        print(f"  {args.variable}={value:<8} median {median:8.2f} ms   min {min(times[value]):8.2f} ms"
              f"   median / first {median / base:5.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
