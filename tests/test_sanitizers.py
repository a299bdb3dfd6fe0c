"""The model reader and the load/run path under AddressSanitizer and
UndefinedBehaviorSanitizer: the library's C sources are compiled with both,
together with a mutation fuzzer (tests/native/fuzz/fuzz_reader.c), and run on
damaged copies of a real model file."""
from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed (the package itself builds with one)"
    sources = sorted(glob.glob(os.path.join(REPO, "native", "src", "*", "*.c")))
    folder = tmp_path_factory.mktemp("asan")
    exe = folder / "fuzz_reader"
    includes = [f"-I{os.path.join(REPO, p)}" for p in ("native/include", "native/src", "native/src/core")]
    flags = ["-std=c11", "-O1", "-g", "-D_GNU_SOURCE", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
             "-fno-omit-frame-pointer", *includes]
    # SIMD kernel files get their ISA flags one file at a time, as in native/CMakeLists.txt.
    isa_flags = {"-avx2.c": ["-mavx2", "-mfma"],
                 "-avx512.c": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma"]}
    # Kernel files of another architecture are left out, as CMake does.
    machine = platform.machine().lower()
    other_arch = ("-neon.c",) if machine not in ("aarch64", "arm64") else ()
    if machine not in ("x86_64", "amd64"):
        other_arch += tuple(isa_flags)
    sources = [s for s in sources if not s.endswith(other_arch)]
    plain, objects = [], []
    for source in sources:
        extra = next((f for suffix, f in isa_flags.items() if source.endswith(suffix)), None)
        if extra is None:
            plain.append(source)
            continue
        obj = str(folder / (os.path.basename(source) + ".o"))
        result = subprocess.run([cc, *flags, *extra, "-c", source, "-o", obj], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        objects.append(obj)
    command = [cc, *flags, os.path.join(REPO, "tests", "native", "fuzz", "fuzz_reader.c"),
               *plain, *objects, "-lpthread", "-lm", "-o", str(exe)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 and "asan" in result.stderr.lower() and "cannot find" in result.stderr:
        pytest.skip("this compiler has no AddressSanitizer runtime: " + result.stderr[-300:])
    assert result.returncode == 0, result.stderr[-3000:]
    return str(exe)


@pytest.mark.parametrize("seed", [11, 12])
def test_fuzzed_model_files_under_sanitizers(fuzzer, small_cnn_file, seed):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    result = subprocess.run([fuzzer, small_cnn_file, "3000", str(seed)], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, f"seed {seed}\n{result.stdout[-2000:]}\n{result.stderr[-6000:]}"
    assert "refused" in result.stdout
    print(result.stdout)
