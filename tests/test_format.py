"""The `.cnnrt` writer and Python reader against docs/format.md, byte by byte."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from cnnrt.converters.cnnrt_file import (FormatError, kind_code, read_model, serialize,
                                         write_model)
from cnnrt.converters.ir import ACT_CLIP, Graph, Node, Tensor


def _graph() -> Graph:
    g = Graph(opset=17)
    rng = np.random.default_rng(0)
    g.tensors["x"] = Tensor("x", 1, ["batch", 3, "height", 8])
    g.inputs = ["x"]
    g.add_constant("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    g.add_constant("b", rng.standard_normal(4).astype(np.float32))
    g.add_constant("odd", np.arange(5, dtype=np.int64))  # 40 bytes: forces padding before the next
    g.add_constant("s", np.float32(2.5).reshape(()))
    g.tensors["y"] = Tensor("y", 1, ["batch", 4, None, 8])
    g.tensors["r"] = Tensor("r", 1, ["batch", 4, None, 8])
    g.tensors["z"] = Tensor("z", 1, ["batch", 4, None, 8])
    g.tensors["out"] = Tensor("out", 1, ["batch", 4, None, 8])
    g.nodes = [
        Node("conv", "Conv", ["x", "w", "b"], ["y"],
             {"strides": [1, 1], "pads": [1, 1, 1, 1], "group": 1, "auto_pad": 0}),
        Node("res", "Conv", ["x", "w", "", "y"], ["r"], {"pads": [1, 1, 1, 1]},
             activation=ACT_CLIP, act_alpha=0.0, act_beta=6.0, residual=True),
        Node("mul", "Mul", ["r", "s"], ["z"]),
        Node("resize", "Resize", ["z", "odd"], ["out"],  # "odd": an int64 constant, format only
             {"mode": "nearest", "scales": [1, 1, 1, 1], "coordinate_transformation_mode": "asymmetric",
              "value": 0.25, "empty": []}),
    ]
    g.outputs = ["out"]
    return g


META = {"producer": "test", "labels": '["cat", "dog"]', "unicode": "größe"}


def test_round_trip_all_sections() -> None:
    g = _graph()
    data = serialize(g, META)
    mf = read_model(data)
    assert (mf.major, mf.minor) == (1, 0)
    assert [s.kind for s in mf.sections] == ["STRS", "TENS", "NODE", "INDX", "ATTR", "AVAL", "GRPH",
                                            "META", "WGHT"]
    assert mf.inputs == ["x"] and mf.outputs == ["out"]
    assert mf.metadata == META
    x = mf.tensor("x")
    assert x.shape == ["batch", 3, "height", 8] and x.dims == [-1, 3, -1, 8]
    assert x.dim_names == ["batch", "", "height", ""] and not x.is_constant
    assert mf.tensor("y").shape == ["batch", 4, -1, 8]
    for name in ("w", "b", "odd", "s"):
        t = mf.tensor(name)
        assert t.is_constant and t.data_offset % 64 == 0
        np.testing.assert_array_equal(t.data, g.tensors[name].data)
        assert t.data.dtype == g.tensors[name].data.dtype
    assert mf.tensor("s").shape == [] and mf.tensor("odd").dtype == 7
    conv, res, mul, resize = mf.nodes
    assert conv.op == "Conv" and conv.op_code == 1 and conv.inputs == ["x", "w", "b"]
    assert conv.attrs == {"strides": [1, 1], "pads": [1, 1, 1, 1], "group": 1, "auto_pad": 0}
    assert res.inputs == ["x", "w", "", "y"] and res.residual and res.activation == ACT_CLIP
    assert (res.act_alpha, res.act_beta) == (0.0, 6.0)
    assert mul.op_code == 52 and not mul.residual and mul.activation == 0
    assert resize.attrs["scales"] == [1.0, 1.0, 1.0, 1.0] and isinstance(resize.attrs["scales"][0], float)
    assert resize.attrs["mode"] == "nearest" and resize.attrs["value"] == 0.25
    assert resize.attrs["empty"] == []


def test_header_and_section_table_bytes() -> None:
    data = serialize(_graph(), META)
    assert data[:8] == b"CNNRT\x00\r\n"
    major, minor, header_size, file_size, table_off, count, flags, crc = struct.unpack_from("<HHIQQIII", data, 8)
    assert (major, minor, header_size, table_off, flags) == (1, 0, 64, 64, 0)
    assert file_size == len(data)
    assert data[44:64] == bytes(20)
    table = data[64:64 + 32 * count]
    expected = zlib.crc32(data[0:40])
    expected = zlib.crc32(data[44:64], expected)
    expected = zlib.crc32(table, expected) & 0xFFFFFFFF
    assert crc == expected
    assert table[0:4] == b"STRS" and kind_code("STRS") == int.from_bytes(b"STRS", "little")
    end = 64 + 32 * count
    for k in range(count):
        kind, sflags, off, size, scrc, reserved = struct.unpack_from("<IIQQII", table, 32 * k)
        name = struct.pack("<I", kind).decode()
        assert reserved == 0 and sflags & 2  # HAS_CRC on every section
        assert sflags & 1 == (0 if name == "META" else 1)
        assert off % (64 if name == "WGHT" else 8) == 0 and off >= end
        assert zlib.crc32(data[off:off + size]) & 0xFFFFFFFF == scrc
        end = off + size
    assert end == len(data)
    strs_off = struct.unpack_from("<Q", table, 8)[0]
    assert data[strs_off] == 0  # STRS starts with the empty string


def test_tensor_and_node_entries_layout() -> None:
    data = serialize(_graph(), META)
    mf = read_model(data)
    tens = mf.section("TENS")
    count = struct.unpack_from("<I", data, tens.offset)[0]
    assert tens.size == 8 + 128 * count
    node = mf.section("NODE")
    assert node.size == 8 + 48 * len(mf.nodes)
    first = struct.unpack_from("<IHHIIIIIIBBHffI", data, node.offset + 8 + 48)  # the residual Conv
    assert first[1] == 1 and first[9] == 3 and first[10] == 1
    indx = mf.section("INDX")
    pool = struct.unpack_from(f"<{indx.size // 4}I", data, indx.offset)
    assert 0xFFFFFFFF in pool  # the omitted bias of the residual conv
    attr = mf.section("ATTR")
    assert (attr.size - 8) % 16 == 0
    assert mf.section("AVAL").size % 8 == 0
    assert mf.section("GRPH").size == 16


def test_no_constants_means_no_weights_section(tmp_path) -> None:
    g = Graph(opset=17)
    g.tensors["x"] = Tensor("x", 1, [1, 4])
    g.tensors["y"] = Tensor("y", 1, [1, 4])
    g.inputs, g.outputs = ["x"], ["y"]
    g.nodes = [Node("relu", "Relu", ["x"], ["y"])]
    path = tmp_path / "relu.cnnrt"
    size = write_model(g, path)
    mf = read_model(path)
    assert size == path.stat().st_size and mf.section("WGHT") is None
    assert [n.op for n in mf.nodes] == ["Relu"]


@pytest.mark.parametrize("offset", [3, 20, 40, 70, 100])
def test_corruption_is_detected(offset: int) -> None:
    data = bytearray(serialize(_graph(), META))
    data[offset] ^= 0x5A
    with pytest.raises(FormatError):
        read_model(bytes(data))


def test_corrupt_section_and_truncation() -> None:
    data = serialize(_graph(), META)
    mf = read_model(data)
    for kind in ("STRS", "TENS", "NODE", "META", "WGHT"):
        s = mf.section(kind)
        bad = bytearray(data)
        bad[s.offset + s.size // 2] ^= 0x01
        with pytest.raises(FormatError, match=kind):
            read_model(bytes(bad))
    with pytest.raises(FormatError, match="file_size"):
        read_model(data[:-1])
    with pytest.raises(FormatError):
        read_model(data[:10])


def test_writer_rejects_invalid_graphs() -> None:
    g = _graph()
    g.nodes[1].name = "conv"
    with pytest.raises(ValueError, match="used twice"):
        serialize(g)
    g = _graph()
    g.nodes[0].op = "Hardmax"
    with pytest.raises(ValueError, match="not a cnnrt op"):
        serialize(g)
    g = _graph()
    g.tensors["y"].shape = None
    with pytest.raises(ValueError, match="unknown rank"):
        serialize(g)
