"""C unit tests of internal modules (planner, ops, kernels), linked against the
installed static library, whose internal symbols stay reachable (the shared
library exports only the public API)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

import cnnrt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = sorted(glob.glob(os.path.join(REPO, "tests", "native", "test_*.c")) + glob.glob(os.path.join(REPO, "native", "tests", "test_*.c")))


@pytest.mark.parametrize("source", SOURCES, ids=[os.path.basename(s) for s in SOURCES])
def test_native_unit(source, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed (the package itself builds with one)"
    static = os.path.join(cnnrt.get_library_dir(), "libcnnrt.a")
    assert os.path.exists(static), f"the wheel ships the static library: {static}"
    exe = tmp_path / "unit"
    includes = [f"-I{os.path.join(REPO, p)}" for p in ("native/include", "native/src", "native/src/core", "native/src/ops", "native/src/kernels")]
    subprocess.run([cc, "-std=c11", "-O1", "-D_GNU_SOURCE", *includes, source, static, "-lpthread", "-lm", "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
