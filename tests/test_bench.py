"""`cnnrt bench` runs end to end (each engine in its own process); speed itself
is never asserted here, only that the report is produced and complete."""
from __future__ import annotations

import re
import subprocess
import sys

import cnnrt


def test_fma_peak_is_measured():
    peak = cnnrt.cpu_fma_peak_gflops(0.05)
    assert 0.5 < peak < 2000  # GFLOP/s of one core, whatever the CPU


def test_bench_reports_cnnrt_and_peers(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cnnrt", "bench", "cifar10_3block", "--compare", "onnxruntime,torch,nosuchengine",
         "--threads", "1", "--rounds", "2", "--per-round", "1", "--warmup", "1", "--profile"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "unknown engine 'nosuchengine'" in result.stderr + result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "cnnrt", "bench", "cifar10_3block", "--compare", "onnxruntime,torch",
         "--threads", "1", "--rounds", "2", "--per-round", "1", "--warmup", "1", "--profile"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "FMA peak" in out and "cpu:" in out
    for engine in ("cnnrt", "onnxruntime", "torch"):
        assert re.search(rf"^\s+{engine}\s+[\d.]+\s+[\d.]+\s+[\d.]+", out, re.M), out
    assert "other ops" in out and "GFLOP/s" in out
