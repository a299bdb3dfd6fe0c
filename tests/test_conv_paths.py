"""The convolution's alternative algorithms, forced onto every shape of the
op tests: the fixed selection rules pick them only for some shapes, so the
conv cases of tests/test_ops.py (each checked against NumPy and ONNX Runtime)
run again in a child process with the switch set. The switches are read once
per process, at load."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SWITCHES = {
    "pixel_major_everywhere": {"CNNRT_PIXEL_MAJOR": "1"},
    "pixel_major_never": {"CNNRT_PIXEL_MAJOR": "0"},
    "direct_everywhere": {"CNNRT_CONV_DIRECT": "1"},
    "direct_never": {"CNNRT_CONV_DIRECT": "0"},
    "winograd_off": {"CNNRT_WINOGRAD": "0"},
    "winograd_f23_everywhere": {"CNNRT_WINOGRAD": "2"},
    "winograd_f43_everywhere": {"CNNRT_WINOGRAD": "4"},
}


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_conv_ops_with_forced_algorithm(name):
    env = dict(os.environ, **SWITCHES[name])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", os.path.join(REPO, "tests", "test_ops.py"),
         "-k", "conv or Conv"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " 0 passed" not in result.stdout, result.stdout[-2000:]
