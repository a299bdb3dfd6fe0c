"""The native library as an app sees it: through the public header with cffi,
and a C program built by CMake against the installed package."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import cnnrt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_library() -> str:
    libdir = cnnrt.get_library_dir()
    names = sorted(n for n in os.listdir(libdir) if re.fullmatch(r"libcnnrt\.so(\.\d+)*", n))
    assert names, f"no libcnnrt.so in {libdir}"
    return os.path.join(libdir, names[0])


def header_declarations() -> str:
    """The public header, preprocessed into plain declarations cffi can parse."""
    header = os.path.join(cnnrt.get_include(), "cnnrt", "cnnrt.h")
    assert os.path.exists(header), "the wheel ships the public header"
    out = subprocess.run(
        ["cc", "-E", "-P", "-D__attribute__(x)=", "-U__GNUC__", "-include", "stddef.h", "-include", "stdint.h", header],
        capture_output=True, text=True, check=True,
    ).stdout
    # Keep only our own declarations: the system headers' typedefs are known to cffi.
    start = out.index("typedef enum cnnrt_status")
    return out[start:]


def test_only_the_public_api_is_exported():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm is not installed")
    symbols = subprocess.run([nm, "-D", "--defined-only", shared_library()], capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in symbols.splitlines() if line.split()[-2] in "TDB"}
    header = open(os.path.join(cnnrt.get_include(), "cnnrt", "cnnrt.h")).read()
    declared = set(re.findall(r"CNNRT_API [^;(]*?\b(cnnrt_\w+)\(", header))
    assert names == declared, f"exported but not declared: {names - declared}; declared but missing: {declared - names}"


def test_cffi_app_runs_a_model(small_cnn_file):
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef(header_declarations())
    lib = ffi.dlopen(shared_library())
    assert ffi.string(lib.cnnrt_version_string()).decode() == cnnrt.native_version()

    model = ffi.new("cnnrt_model**")
    assert lib.cnnrt_model_load_file(small_cnn_file.encode(), ffi.NULL, model) == lib.CNNRT_OK
    options = ffi.new("cnnrt_session_options*", {"struct_size": ffi.sizeof("cnnrt_session_options"), "threads": 2})
    session = ffi.new("cnnrt_session**")
    assert lib.cnnrt_session_create(model[0], options, session) == lib.CNNRT_OK
    lib.cnnrt_model_release(model[0])  # the session keeps the model alive

    x = np.random.default_rng(5).standard_normal((2, 3, 32, 32), dtype=np.float32)
    y = np.zeros((2, 10), np.float32)
    tin = ffi.new("cnnrt_tensor*")
    tin.name = ffi.NULL
    tin.dtype = lib.CNNRT_DTYPE_FLOAT32
    tin.rank = 4
    for d, n in enumerate(x.shape):
        tin.dims[d] = n
    tin.data = ffi.cast("void*", x.ctypes.data)
    tin.size_bytes = x.nbytes
    tout = ffi.new("cnnrt_tensor*")
    tout.data = ffi.cast("void*", y.ctypes.data)
    tout.size_bytes = y.nbytes
    assert lib.cnnrt_session_run(session[0], 1, tin, 1, tout) == lib.CNNRT_OK, ffi.string(lib.cnnrt_last_error())
    assert tout.rank == 2 and tout.dims[0] == 2 and tout.dims[1] == 10
    assert np.array_equal(y, cnnrt.load(small_cnn_file).run(x))

    # A wrong call gets a status and a message, through the C API as well.
    tin.dims[1] = 5
    status = lib.cnnrt_session_run(session[0], 1, tin, 1, tout)
    assert status == lib.CNNRT_ERROR_INVALID_ARGUMENT
    assert b"expected shape" in ffi.string(lib.cnnrt_last_error())
    lib.cnnrt_session_release(session[0])

    bad = ffi.new("cnnrt_model**")
    assert lib.cnnrt_model_load_memory(b"garbage" * 20, 140, ffi.NULL, bad) == lib.CNNRT_ERROR_INVALID_MODEL
    assert bad[0] == ffi.NULL


def test_c_example_builds_and_runs(small_cnn_file, tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is needed to build the C example (it is installed with the package's build tools)")
    build = tmp_path / "build"
    subprocess.run(
        [cmake, "-S", os.path.join(REPO, "examples", "c"), "-B", str(build), f"-DCMAKE_PREFIX_PATH={cnnrt.get_cmake_prefix()}"],
        check=True, capture_output=True, text=True,
    )
    subprocess.run([cmake, "--build", str(build)], check=True, capture_output=True, text=True)
    x = np.random.default_rng(9).standard_normal((1, 3, 32, 32), dtype=np.float32)
    raw = tmp_path / "x.f32"
    x.tofile(raw)
    expected = cnnrt.load(small_cnn_file).run(x)
    for exe in ("run_model", "run_model_static"):
        result = subprocess.run([str(build / exe), small_cnn_file, str(raw), "2"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        match = re.search(r"output \S+: \[1, 10\] sum (\S+)", result.stdout)
        assert match, result.stdout
        assert abs(float(match.group(1)) - float(expected.sum(dtype=np.float64))) < 1e-4
        top1 = int(re.search(r"top-5: (\d+)", result.stdout).group(1))
        assert top1 == int(np.argmax(expected))


def test_cmake_alone_builds_installs_and_links_the_library(small_cnn_file, tmp_path):
    """No Python involved: the C library builds with CMake, installs with its
    package files, and the example app links against that install."""
    cmake = shutil.which("cmake")
    assert cmake, "cmake is installed with the test dependencies"
    build, prefix, app = tmp_path / "build", tmp_path / "prefix", tmp_path / "app"
    run = lambda *args: subprocess.run(args, check=True, capture_output=True, text=True)  # noqa: E731
    run(cmake, "-S", REPO, "-B", str(build), f"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_BUILD_TYPE=Release")
    run(cmake, "--build", str(build), "--parallel", "2")
    run(cmake, "--install", str(build))
    assert (prefix / "include" / "cnnrt" / "cnnrt.h").exists()
    run(cmake, "-S", os.path.join(REPO, "examples", "c"), "-B", str(app), f"-DCMAKE_PREFIX_PATH={prefix}")
    run(cmake, "--build", str(app))
    result = subprocess.run([str(app / "run_model_static"), small_cnn_file], capture_output=True, text=True)
    assert result.returncode == 0 and "output" in result.stdout, result.stderr
