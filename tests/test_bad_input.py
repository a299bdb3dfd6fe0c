"""Bad input: wrong shapes, dtypes and names; NaN; corrupt, truncated and hostile
model files. Every case must be a clear cnnrt error, never a crash."""
from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import cnnrt

HEADER = 64
ENTRY = 32


def sections(data: bytes) -> list[tuple[int, bytes, int, int]]:
    """(entry offset, kind, content offset, size) for each section table entry."""
    count = struct.unpack_from("<I", data, 32)[0]
    out = []
    for i in range(count):
        e = HEADER + ENTRY * i
        kind = data[e : e + 4]
        offset, size = struct.unpack_from("<QQ", data, e + 8)
        out.append((e, kind, offset, size))
    return out


def fix_checksums(data: bytes) -> bytes:
    """Recomputes every CRC so that a damaged file passes the checksums and
    reaches the reader's structural checks (what a hostile file would do)."""
    buf = bytearray(data)
    count = struct.unpack_from("<I", buf, 32)[0]
    if count > 4096 or HEADER + ENTRY * count > len(buf):
        return bytes(buf)
    for e, _kind, offset, size in sections(bytes(buf)):
        if offset + size <= len(buf):
            struct.pack_into("<I", buf, e + 24, zlib.crc32(bytes(buf[offset : offset + size])))
    crc = zlib.crc32(bytes(buf[0:40]))
    crc = zlib.crc32(bytes(buf[44:64]), crc)
    crc = zlib.crc32(bytes(buf[HEADER : HEADER + ENTRY * count]), crc)
    struct.pack_into("<I", buf, 40, crc)
    return bytes(buf)


def table_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the header, section table and every table section (not weights)."""
    count = struct.unpack_from("<I", data, 32)[0]
    ranges = [(0, HEADER + ENTRY * count)]
    for _e, kind, offset, size in sections(data):
        if kind != b"WGHT":
            ranges.append((offset, offset + size))
    return ranges


@pytest.fixture(scope="module")
def model_bytes(small_cnn_file) -> bytes:
    with open(small_cnn_file, "rb") as f:
        return f.read()


# -- wrong calls -------------------------------------------------------------

def test_wrong_shape_names_input_expected_and_found(small_cnn_file):
    model = cnnrt.load(small_cnn_file)
    with pytest.raises(cnnrt.InvalidArgumentError) as info:
        model.run(np.zeros((1, 4, 32, 32), np.float32))
    message = str(info.value)
    assert "input" in message and "[1, 4, 32, 32]" in message and "3" in message
    with pytest.raises(cnnrt.InvalidArgumentError, match="rank"):
        model.run(np.zeros((3, 32, 32), np.float32))
    with pytest.raises(ValueError):  # InvalidArgumentError is a ValueError too
        model.run(np.zeros((1, 3, 31, 32), np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int64, np.uint8])
def test_wrong_dtype_is_refused(small_cnn_file, dtype):
    model = cnnrt.load(small_cnn_file)
    with pytest.raises(cnnrt.InvalidArgumentError, match=f"expected dtype float32, found {np.dtype(dtype).name}"):
        model.run(np.zeros((1, 3, 32, 32), dtype))


def test_wrong_input_name_lists_the_real_ones(small_cnn_file):
    model = cnnrt.load(small_cnn_file)
    with pytest.raises(cnnrt.InvalidArgumentError, match="no model input is named 'image'.*'input'"):
        model.run({"image": np.zeros((1, 3, 32, 32), np.float32)})
    with pytest.raises(cnnrt.InvalidArgumentError, match="not given"):
        model.run({})


def test_nan_and_inf_propagate_without_crash(small_cnn_file):
    model = cnnrt.load(small_cnn_file)
    x = np.zeros((2, 3, 32, 32), np.float32)
    x[0, 0, 5, 5] = np.nan
    x[1, 1, 7, 7] = np.inf
    y = model.run(x)
    assert y.shape == (2, 10)
    assert np.isnan(y[0]).any()
    clean = model.run(np.zeros((1, 3, 32, 32), np.float32))
    assert np.isfinite(clean).all()


def test_missing_file_and_not_a_model(tmp_path):
    with pytest.raises(cnnrt.ModelFileError, match="cannot open"):
        cnnrt.load(str(tmp_path / "missing.cnnrt"))
    bogus = tmp_path / "bogus.cnnrt"
    bogus.write_bytes(b"ONNX" * 100)
    with pytest.raises(cnnrt.InvalidModelError, match="magic"):
        cnnrt.load(str(bogus))
    empty = tmp_path / "empty.cnnrt"
    empty.write_bytes(b"")
    with pytest.raises(cnnrt.InvalidModelError):
        cnnrt.load(str(empty))


def test_newer_major_version_is_unsupported(model_bytes):
    data = bytearray(model_bytes)
    struct.pack_into("<H", data, 8, 2)
    with pytest.raises(cnnrt.UnsupportedError, match="version 2"):
        cnnrt.load(fix_checksums(bytes(data)))


def test_unknown_optional_section_is_skipped_and_required_one_refused(model_bytes):
    data = bytearray(model_bytes)
    meta = [s for s in sections(model_bytes) if s[1] == b"META"]
    assert meta, "the converter writes a META section"
    e = meta[0][0]
    data[e : e + 4] = b"XTRA"
    model = cnnrt.load(fix_checksums(bytes(data)))  # unknown, not required: skipped
    assert model.metadata == {}
    struct.pack_into("<I", data, e + 4, struct.unpack_from("<I", data, e + 4)[0] | 1)
    with pytest.raises(cnnrt.UnsupportedError, match="XTRA"):
        cnnrt.load(fix_checksums(bytes(data)))


# -- damaged files -----------------------------------------------------------

def test_truncated_files_are_refused(model_bytes):
    lengths = sorted(set(list(range(0, 200)) + list(range(0, len(model_bytes), 97)) + [len(model_bytes) - 1]))
    for n in lengths:
        with pytest.raises(cnnrt.InvalidModelError):
            cnnrt.load(model_bytes[:n])


def test_every_bit_of_header_and_tables_flipped(model_bytes):
    """With checksums in place, each single-bit flip in the header or tables is caught."""
    data = bytearray(model_bytes)
    flipped = 0
    for start, end in table_ranges(model_bytes):
        for i in range(start, end):
            for bit in range(8):
                data[i] ^= 1 << bit
                try:
                    cnnrt.load(bytes(data))
                except (cnnrt.InvalidModelError, cnnrt.UnsupportedError):
                    pass
                else:
                    raise AssertionError(f"flip of byte {i} bit {bit} was not detected")
                finally:
                    data[i] ^= 1 << bit
                flipped += 1
    assert flipped > 1000


# Hostile files (checksums recomputed after the damage) reach the structural
# checks. They run in a child process so that a crash is reported, with the
# seed, as a failure instead of killing the test run.
HOSTILE = textwrap.dedent(
    """
    import sys, numpy as np, cnnrt
    sys.path.insert(0, {tests!r})
    from test_bad_input import fix_checksums, table_ranges
    data = open({path!r}, "rb").read()
    rng = np.random.default_rng({seed})
    ranges = table_ranges(data)
    loaded = refused = ran = 0
    for trial in range({trials}):
        buf = bytearray(data)
        mode = trial % 4
        if mode == 0:    # one byte in a table set to a random value
            start, end = ranges[rng.integers(len(ranges))]
            buf[rng.integers(start, end)] = rng.integers(256)
        elif mode == 1:  # a run of random bytes anywhere
            at = int(rng.integers(len(buf)))
            n = int(rng.integers(1, 64))
            buf[at:at + n] = rng.integers(0, 256, min(n, len(buf) - at), dtype=np.uint8).tobytes()
        elif mode == 2:  # random bit flips anywhere
            for _ in range(int(rng.integers(1, 8))):
                at = int(rng.integers(len(buf)))
                buf[at] ^= 1 << int(rng.integers(8))
        else:            # a table field set to an extreme value
            start, end = ranges[rng.integers(len(ranges))]
            at = int(rng.integers(start, max(start + 1, end - 8)))
            buf[at:at + 4] = [0xFF, 0xFF, 0xFF, 0x7F] if rng.integers(2) else [0, 0, 0, 0x80]
        if trial % 2 == 0:
            buf = bytearray(fix_checksums(bytes(buf)))
        try:
            model = cnnrt.load(bytes(buf))
        except cnnrt.Error:
            refused += 1
            continue
        loaded += 1
        try:
            shape = [d if isinstance(d, int) else 1 for d in model.inputs[0].shape]
            model.reshape({{model.inputs[0].name: shape}})
            # A damaged attribute can ask for a huge (valid) plan: running it
            # would only measure page faults, so it is planned but not run.
            if model.memory()["arena_bytes"] < (1 << 30):
                model.run({{model.inputs[0].name: np.ones(shape, np.float32)}})
                ran += 1
        except cnnrt.Error:
            pass
    print("loaded", loaded, "refused", refused, "ran", ran)
    """
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hostile_files_never_crash(small_cnn_file, seed):
    import os

    script = HOSTILE.format(tests=os.path.dirname(__file__), path=small_cnn_file, seed=seed, trials=4000)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"seed {seed}: exit {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    assert "refused" in result.stdout
