"""The aarch64 build: the C library cross-compiled with CMake (Debian's
gcc-aarch64-linux-gnu), and the native unit tests (kernels, ops, planner)
cross-compiled against it and run under qemu-user, so that the NEON kernels
are tested against the reference kernels on every x86 machine too.

Without the toolchain these tests skip and say what to install, unless
CNNRT_REQUIRE_CROSS=1 (set by CI, which installs it), where they fail."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROSS_CC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64"
SYSROOT = "/usr/aarch64-linux-gnu"  # Debian's libc6-dev-arm64-cross (and libc6-arm64-cross) install here
INSTALL_HINT = "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
UNIT_SOURCES = ["native/tests/test_kernels.c", "native/tests/test_ops.c", "tests/native/test_planner.c"]


def missing_tools() -> list[str]:
    missing = [tool for tool in ("cmake", CROSS_CC, QEMU) if shutil.which(tool) is None]
    if not os.path.exists(os.path.join(SYSROOT, "lib", "ld-linux-aarch64.so.1")):
        missing.append(f"the aarch64 C library in {SYSROOT}")
    return missing


def require_toolchain() -> None:
    missing = missing_tools()
    if not missing:
        return
    reason = f"aarch64 cross toolchain not found ({', '.join(missing)}); install it with: {INSTALL_HINT}"
    if os.environ.get("CNNRT_REQUIRE_CROSS") == "1":
        pytest.fail(reason + " (CNNRT_REQUIRE_CROSS=1: the cross step must run)")
    pytest.skip(reason)


def run(*command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def aarch64_library(tmp_path_factory) -> str:
    """libcnnrt.a for aarch64, from the same CMake files as the native build."""
    require_toolchain()
    build = tmp_path_factory.mktemp("aarch64-build")
    run("cmake", "-S", REPO, "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_SYSTEM_NAME=Linux",
        "-DCMAKE_SYSTEM_PROCESSOR=aarch64", f"-DCMAKE_C_COMPILER={CROSS_CC}", "-DCNNRT_BUILD_PYTHON=OFF")
    result = run("cmake", "--build", str(build), "--target", "cnnrt_static", "--parallel", "2")
    # -Wall -Wextra clean on aarch64 too: x86-only code left unguarded shows up here first.
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if "warning:" in line]
    assert not warnings, "the aarch64 build warns:\n" + "\n".join(warnings[:20])
    library = os.path.join(build, "native", "libcnnrt.a")
    assert os.path.exists(library), f"the build made no {library}"
    return library


def neon_gemm_variants() -> list[str]:
    """The NEON GEMM tiles the variant table lists (f32-gemm-config.c)."""
    text = open(os.path.join(REPO, "native", "src", "kernels", "f32-gemm-config.c")).read()
    return re.findall(r'"(\d+x\d+_neon)"', text)


def build_and_run(library: str, source: str, tmp_path) -> str:
    exe = tmp_path / (os.path.basename(source)[:-2] + "-aarch64")
    includes = [f"-I{os.path.join(REPO, p)}" for p in ("native/include", "native/src", "native/src/core", "native/src/ops", "native/src/kernels")]
    run(CROSS_CC, "-std=c11", "-O1", "-D_GNU_SOURCE", *includes, os.path.join(REPO, source), library, "-lpthread", "-lm",
        "-o", str(exe))
    # CNNRT_ISA left to the child processes test_kernels.c forks itself.
    env = {k: v for k, v in os.environ.items() if k != "CNNRT_ISA"}
    result = subprocess.run([QEMU, "-L", SYSROOT, str(exe)], capture_output=True, text=True, timeout=300, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{source} failed under {QEMU}:\n{output[-6000:]}"
    return output


@pytest.mark.parametrize("source", UNIT_SOURCES, ids=[os.path.basename(s) for s in UNIT_SOURCES])
def test_native_unit_under_qemu(aarch64_library, source, tmp_path):
    output = build_and_run(aarch64_library, source, tmp_path)
    if source.endswith("test_kernels.c"):
        # The NEON kernels ran, not only the scalar ones.
        assert "cpu: aarch64: neon; using neon" in output, output[:2000]
        variants = neon_gemm_variants()
        assert len(variants) >= 1, "f32-gemm-config.c lists no NEON GEMM variant"
        for variant in variants:
            assert re.search(rf"^ok +{variant}$", output, re.M), f"{variant} was not tested:\n{output[:3000]}"
        assert re.search(r"^gemm config: \d+x\d+_neon$", output, re.M), "the chosen GEMM config is not a NEON one"
        assert re.search(r"^ok +pool/dwconv/epilogue neon$", output, re.M), f"NEON depthwise not tested:\n{output[:3000]}"
        assert "skipped" not in output, output[:3000]


def test_example_app_runs_a_model_under_qemu(aarch64_library, small_cnn_file, tmp_path):
    """The whole runtime on aarch64 (model reader, planner, thread pool, NEON
    convolutions with fused epilogues): the embedding example app, given the
    model file converted on this machine, agrees with the native run."""
    import numpy as np

    import cnnrt

    exe = tmp_path / "run_model-aarch64"
    run(CROSS_CC, "-std=c11", "-O1", "-DCNNRT_STATIC", f"-I{os.path.join(REPO, 'native', 'include')}",
        os.path.join(REPO, "examples", "c", "run_model.c"), aarch64_library, "-lpthread", "-lm", "-o", str(exe))
    x = np.random.default_rng(11).standard_normal((1, 3, 32, 32), dtype=np.float32)
    raw = tmp_path / "x.f32"
    x.tofile(raw)
    expected = cnnrt.load(small_cnn_file).run(x)
    for threads in ("1", "2"):
        result = run(QEMU, "-L", SYSROOT, str(exe), small_cnn_file, str(raw), threads, timeout=300)
        match = re.search(r"output \S+: \[1, 10\] sum (\S+)", result.stdout)
        assert match, result.stdout
        assert abs(float(match.group(1)) - float(expected.sum(dtype=np.float64))) < 1e-4, result.stdout
        assert int(re.search(r"top-5: (\d+)", result.stdout).group(1)) == int(np.argmax(expected))


def test_missing_toolchain_skips_unless_required(monkeypatch):
    """The guard CI relies on: with CNNRT_REQUIRE_CROSS=1 a missing toolchain
    is a failure, not a skip that would hide an untested ARM build."""
    import sys

    monkeypatch.setattr(sys.modules[__name__], "CROSS_CC", "cnnrt-no-such-aarch64-gcc")
    monkeypatch.delenv("CNNRT_REQUIRE_CROSS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="cnnrt-no-such-aarch64-gcc.*install it with"):
        require_toolchain()
    monkeypatch.setenv("CNNRT_REQUIRE_CROSS", "1")
    with pytest.raises(pytest.fail.Exception, match="CNNRT_REQUIRE_CROSS=1"):
        require_toolchain()
