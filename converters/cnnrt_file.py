"""Writer and reader for the `.cnnrt` file format (docs/format.md, version 1.0).

The writer serialises an ``ir.Graph`` whose nodes are already lowered to cnnrt
ops.  The reader parses a file back into plain dataclasses, checking magic,
versions, CRCs, bounds and alignment; tests and tools use it, the runtime has
its own C reader.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from .ir import (DTYPE_SIZE, DTYPE_TO_NUMPY, FLOAT_LIST_ATTRS, NUMPY_TO_DTYPE,
                 OP_CODES, OP_NAMES, Graph)

MAGIC = b"CNNRT\x00\r\n"
MAJOR = 1
MINOR = 0
HEADER_SIZE = 64
SECTION_ENTRY_SIZE = 32
TENSOR_ENTRY_SIZE = 128
NODE_ENTRY_SIZE = 48
ATTR_ENTRY_SIZE = 16
WEIGHT_ALIGNMENT = 64
SECTION_ALIGNMENT = 8
MAX_RANK = 8
NO_INDEX = 0xFFFFFFFF

FLAG_REQUIRED = 1
FLAG_HAS_CRC = 2
NODE_FLAG_RESIDUAL = 1

ATTR_INT, ATTR_FLOAT, ATTR_INTS, ATTR_FLOATS, ATTR_STRING = 1, 2, 3, 4, 5

KIND_VALUE = 0
KIND_CONSTANT = 1

REQUIRED_KINDS = ("STRS", "TENS", "NODE", "INDX", "ATTR", "AVAL", "GRPH")
KNOWN_KINDS = REQUIRED_KINDS + ("META", "QNTZ", "WGHT")


class FormatError(ValueError):
    """A `.cnnrt` file that does not follow docs/format.md."""


def kind_code(kind: str) -> int:
    """'STRS' -> u32 with 'S' in the lowest byte."""
    return struct.unpack("<I", kind.encode("ascii"))[0]


def kind_name(code: int) -> str:
    return struct.pack("<I", code).decode("ascii", errors="replace")


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


# --------------------------------------------------------------------------- writer


class _Strings:
    def __init__(self) -> None:
        self.buf = bytearray(b"\x00")
        self.index: dict[str, int] = {"": 0}

    def ref(self, s: str) -> int:
        if s in self.index:
            return self.index[s]
        data = s.encode("utf-8")
        if b"\x00" in data:
            raise ValueError(f"string {s!r} contains a NUL byte and cannot be stored in STRS")
        off = len(self.buf)
        self.buf += data + b"\x00"
        self.index[s] = off
        return off


def _attr_type(name: str, value: Any) -> int:
    if isinstance(value, bool):
        return ATTR_INT
    if isinstance(value, (int, np.integer)):
        return ATTR_INT
    if isinstance(value, (float, np.floating)):
        return ATTR_FLOAT
    if isinstance(value, str):
        return ATTR_STRING
    if isinstance(value, (list, tuple, np.ndarray)):
        vals = list(value)
        if name in FLOAT_LIST_ATTRS or any(isinstance(v, (float, np.floating)) for v in vals):
            return ATTR_FLOATS
        return ATTR_INTS
    raise TypeError(f"attribute '{name}': unsupported value type {type(value).__name__}")


def serialize(graph: Graph, metadata: dict[str, str] | None = None) -> bytes:
    """Serialise a lowered graph to the bytes of a `.cnnrt` file."""
    strs = _Strings()
    meta = dict(graph.metadata)
    if metadata:
        meta.update(metadata)

    # Tensor order: graph inputs, then constants, then values in node order.
    order: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name and name not in seen:
            if name not in graph.tensors:
                raise ValueError(f"tensor '{name}' is referenced but not defined in the graph")
            seen.add(name)
            order.append(name)

    for name in graph.inputs:
        add(name)
    for n in graph.nodes:
        for i in n.inputs:
            t = graph.tensors.get(i) if i else None
            if t is not None and t.data is not None:
                add(i)
    for n in graph.nodes:
        for i in n.inputs:
            add(i)
        for o in n.outputs:
            add(o)
    for name in graph.outputs:
        add(name)
    tindex = {name: k for k, name in enumerate(order)}

    # Weights: every constant on a 64-byte boundary inside WGHT.
    weight_chunks: list[tuple[int, bytes]] = []
    weight_size = 0
    rel_offsets: dict[str, int] = {}
    for name in order:
        t = graph.tensors[name]
        if t.data is None:
            continue
        arr = np.require(t.data, requirements="C")
        if arr.dtype not in NUMPY_TO_DTYPE:
            raise ValueError(f"constant '{name}' has dtype {arr.dtype}, which cnnrt cannot store")
        weight_size = _align(weight_size, WEIGHT_ALIGNMENT)
        rel_offsets[name] = weight_size
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        weight_chunks.append((weight_size, raw))
        weight_size += len(raw)

    # Nodes, index pool, attributes.
    indx: list[int] = []
    attrs_tab = bytearray()
    aval = bytearray()
    nodes_tab = bytearray()
    attr_count = 0
    names_seen: set[str] = set()
    for n in graph.nodes:
        if n.name and n.name in names_seen:
            raise ValueError(f"node name '{n.name}' is used twice; node names must be unique")
        names_seen.add(n.name)
        code = OP_CODES.get(n.op)
        if code is None:
            raise ValueError(f"node '{n.name}': op '{n.op}' is not a cnnrt op (docs/ops.md)")
        inputs_first = len(indx)
        indx.extend(tindex[i] if i else NO_INDEX for i in n.inputs)
        outputs_first = len(indx)
        indx.extend(tindex[o] for o in n.outputs)
        attrs_first = attr_count
        for aname in sorted(n.attrs):
            value = n.attrs[aname]
            atype = _attr_type(aname, value)
            if atype == ATTR_STRING:
                count, first = 1, strs.ref(value)
            elif atype in (ATTR_INT, ATTR_FLOAT):
                count, first = 1, len(aval) // 8
                aval += struct.pack("<q", int(value)) if atype == ATTR_INT else struct.pack("<d", float(value))
            else:
                vals = list(value)
                if len(vals) > 4096:
                    raise ValueError(f"node '{n.name}': attribute '{aname}' has {len(vals)} values (at most 4096)")
                count, first = len(vals), (len(aval) // 8 if vals else 0)
                for v in vals:
                    aval += struct.pack("<q", int(v)) if atype == ATTR_INTS else struct.pack("<d", float(v))
            attrs_tab += struct.pack("<IBxxxII", strs.ref(aname), atype, count, first)
            attr_count += 1
        nodes_tab += struct.pack(
            "<IHHIIIIIIBBHffI", strs.ref(n.name), code, n.op_version & 0xFFFF,
            inputs_first, len(n.inputs), outputs_first, len(n.outputs),
            attrs_first, attr_count - attrs_first, n.activation,
            NODE_FLAG_RESIDUAL if n.residual else 0, 0,
            float(n.act_alpha), float(n.act_beta), 0)

    grph = struct.pack("<IIII", len(graph.inputs), len(indx), len(graph.outputs),
                       len(indx) + len(graph.inputs))
    indx.extend(tindex[i] for i in graph.inputs)
    indx.extend(tindex[o] for o in graph.outputs)

    meta_tab = bytearray(struct.pack("<II", len(meta), 0))
    for k, v in meta.items():
        meta_tab += struct.pack("<II", strs.ref(str(k)), strs.ref(str(v)))

    # Tensor table last among the string users, so every name is interned first.
    tens = bytearray(struct.pack("<II", len(order), 0))
    pending_const: list[tuple[int, str]] = []  # (position of data_offset in tens, name)
    for name in order:
        t = graph.tensors[name]
        shape = t.shape if t.data is None else list(t.data.shape)
        if shape is None:
            raise ValueError(f"tensor '{name}' has unknown rank; the converter must infer every shape")
        if len(shape) > MAX_RANK:
            raise ValueError(f"tensor '{name}' has rank {len(shape)} (at most {MAX_RANK})")
        dims = [d if isinstance(d, int) and d >= 0 else -1 for d in shape] + [0] * (MAX_RANK - len(shape))
        dim_names = [strs.ref(d) if isinstance(d, str) else 0 for d in shape] + [0] * (MAX_RANK - len(shape))
        dtype = NUMPY_TO_DTYPE[np.dtype(t.data.dtype)] if t.data is not None else t.dtype
        kind = KIND_CONSTANT if t.data is not None else KIND_VALUE
        data_size = t.data.nbytes if t.data is not None else 0
        if t.data is not None:
            pending_const.append((len(tens) + 16, name))
        tens += struct.pack("<IBBBxIIQQ8q8I", strs.ref(name), dtype, len(shape), kind,
                            NO_INDEX, 0, 0, data_size, *dims, *dim_names)

    sections: list[tuple[str, int, bytes]] = [
        ("STRS", FLAG_REQUIRED, bytes(strs.buf)),
        ("TENS", FLAG_REQUIRED, bytes(tens)),
        ("NODE", FLAG_REQUIRED, struct.pack("<II", len(graph.nodes), 0) + bytes(nodes_tab)),
        ("INDX", FLAG_REQUIRED, struct.pack(f"<{len(indx)}I", *indx)),
        ("ATTR", FLAG_REQUIRED, struct.pack("<II", attr_count, 0) + bytes(attrs_tab)),
        ("AVAL", FLAG_REQUIRED, bytes(aval)),
        ("GRPH", FLAG_REQUIRED, grph),
        ("META", 0, bytes(meta_tab)),
    ]
    has_weights = bool(weight_chunks)
    count = len(sections) + (1 if has_weights else 0)
    offset = HEADER_SIZE + count * SECTION_ENTRY_SIZE
    placed: list[tuple[str, int, int, bytes]] = []
    for kind, flags, content in sections:
        offset = _align(offset, SECTION_ALIGNMENT)
        placed.append((kind, flags, offset, content))
        offset += len(content)
    if has_weights:
        wght_offset = _align(offset, WEIGHT_ALIGNMENT)
        wbuf = bytearray(weight_size)
        for rel, raw in weight_chunks:
            wbuf[rel:rel + len(raw)] = raw
        # Patch the absolute data offsets into TENS before its CRC is taken.
        tens_idx = 1
        tens_bytes = bytearray(placed[tens_idx][3])
        for pos, name in pending_const:
            struct.pack_into("<Q", tens_bytes, pos, wght_offset + rel_offsets[name])
        placed[tens_idx] = (placed[tens_idx][0], placed[tens_idx][1], placed[tens_idx][2], bytes(tens_bytes))
        placed.append(("WGHT", FLAG_REQUIRED, wght_offset, bytes(wbuf)))
        offset = wght_offset + len(wbuf)
    file_size = offset

    table = bytearray()
    for kind, flags, off, content in placed:
        table += struct.pack("<IIQQII", kind_code(kind), flags | FLAG_HAS_CRC, off, len(content),
                             zlib.crc32(content) & 0xFFFFFFFF, 0)
    header = bytearray(struct.pack("<8sHHIQQII", MAGIC, MAJOR, MINOR, HEADER_SIZE, file_size,
                                   HEADER_SIZE, len(placed), 0)) + bytes(24)
    crc = _header_crc(bytes(header), bytes(table))
    struct.pack_into("<I", header, 40, crc)

    out = bytearray(file_size)
    out[0:HEADER_SIZE] = header
    out[HEADER_SIZE:HEADER_SIZE + len(table)] = table
    for _, _, off, content in placed:
        out[off:off + len(content)] = content
    return bytes(out)


def _header_crc(header: bytes, table: bytes) -> int:
    crc = zlib.crc32(header[0:40])
    crc = zlib.crc32(header[44:64], crc)
    crc = zlib.crc32(table, crc)
    return crc & 0xFFFFFFFF


def write_model(graph: Graph, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> int:
    """Write ``graph`` to ``path``; returns the file size in bytes."""
    data = serialize(graph, metadata)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return len(data)


# --------------------------------------------------------------------------- reader


@dataclass
class SectionInfo:
    kind: str
    flags: int
    offset: int
    size: int
    crc32: int


@dataclass
class TensorInfo:
    name: str
    dtype: int
    shape: list[Union[int, str]]  # -1 dims appear as their symbol name when named
    dims: list[int]
    dim_names: list[str]
    kind: int
    data_offset: int
    data_size: int
    data: np.ndarray | None = None

    @property
    def is_constant(self) -> bool:
        return self.kind == KIND_CONSTANT


@dataclass
class NodeInfo:
    name: str
    op_code: int
    op: str
    op_version: int
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    activation: int
    residual: bool
    act_alpha: float
    act_beta: float


@dataclass
class ModelFile:
    major: int
    minor: int
    file_size: int
    sections: list[SectionInfo]
    tensors: list[TensorInfo]
    nodes: list[NodeInfo]
    inputs: list[str]
    outputs: list[str]
    metadata: dict[str, str] = field(default_factory=dict)

    def tensor(self, name: str) -> TensorInfo:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def section(self, kind: str) -> SectionInfo | None:
        return next((s for s in self.sections if s.kind == kind), None)


def read_model(source: Union[str, os.PathLike, bytes, bytearray, memoryview],
               check_weights_crc: bool = True) -> ModelFile:
    """Parse and check a `.cnnrt` file; raises FormatError naming what is wrong and where."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf = bytes(source)
    else:
        with open(source, "rb") as f:
            buf = f.read()
    if len(buf) < HEADER_SIZE:
        raise FormatError(f"file is {len(buf)} bytes, shorter than the {HEADER_SIZE}-byte header")
    magic, major, minor, header_size, file_size, table_off, count, _flags, hcrc = \
        struct.unpack_from("<8sHHIQQIII", buf, 0)
    if magic != MAGIC:
        raise FormatError(f"header: magic is {magic!r}, expected {MAGIC!r}")
    if major != MAJOR:
        raise FormatError(f"header: major version {major}, this reader reads {MAJOR}")
    if header_size != HEADER_SIZE:
        raise FormatError(f"header: header_size {header_size}, expected {HEADER_SIZE}")
    if file_size != len(buf):
        raise FormatError(f"header: file_size {file_size}, but the file has {len(buf)} bytes")
    if not 1 <= count <= 4096:
        raise FormatError(f"header: section_count {count} outside 1..4096")
    table_end = table_off + count * SECTION_ENTRY_SIZE
    if table_off < HEADER_SIZE or table_end > len(buf):
        raise FormatError("header: section table lies outside the file")
    if _header_crc(buf[:HEADER_SIZE], buf[table_off:table_end]) != hcrc:
        raise FormatError("header: header_crc32 does not match")

    sections: list[SectionInfo] = []
    for k in range(count):
        code, flags, off, size, crc, _ = struct.unpack_from("<IIQQII", buf, table_off + k * 32)
        kind = kind_name(code)
        if off + size > len(buf) or off < table_end:
            raise FormatError(f"section table entry {k} ({kind}): range {off}+{size} outside the file")
        if any(s.kind == kind for s in sections):
            raise FormatError(f"section table entry {k}: kind {kind} appears twice")
        if kind not in KNOWN_KINDS and flags & FLAG_REQUIRED:
            raise FormatError(f"section table entry {k}: unknown required section {kind}")
        sections.append(SectionInfo(kind, flags, off, size, crc))
    spans = sorted((s.offset, s.offset + s.size, s.kind) for s in sections)
    for a, b in zip(spans, spans[1:]):
        if b[0] < a[1]:
            raise FormatError(f"sections {a[2]} and {b[2]} overlap")
    by_kind = {s.kind: s for s in sections}
    for kind in REQUIRED_KINDS:
        if kind not in by_kind:
            raise FormatError(f"required section {kind} is missing")
    for s in sections:
        if s.flags & FLAG_HAS_CRC and (s.kind != "WGHT" or check_weights_crc):
            if zlib.crc32(buf[s.offset:s.offset + s.size]) & 0xFFFFFFFF != s.crc32:
                raise FormatError(f"section {s.kind}: crc32 does not match")
        if s.kind == "WGHT" and s.offset % WEIGHT_ALIGNMENT:
            raise FormatError(f"section WGHT: offset {s.offset} is not a multiple of 64")

    def content(kind: str) -> bytes:
        s = by_kind.get(kind)
        return b"" if s is None else buf[s.offset:s.offset + s.size]

    strs = content("STRS")
    if not strs or strs[0] != 0:
        raise FormatError("section STRS: must start with an empty string")

    def string(ref: int, where: str) -> str:
        if ref >= len(strs):
            raise FormatError(f"{where}: string ref {ref} outside STRS ({len(strs)} bytes)")
        end = strs.find(b"\x00", ref)
        if end < 0:
            raise FormatError(f"{where}: string at {ref} has no NUL inside STRS")
        return strs[ref:end].decode("utf-8")

    def table(kind: str, entry: int) -> tuple[int, bytes]:
        data = content(kind)
        if len(data) < 8:
            raise FormatError(f"section {kind}: {len(data)} bytes, shorter than its preamble")
        n = struct.unpack_from("<I", data, 0)[0]
        if len(data) < 8 + n * entry:
            raise FormatError(f"section {kind}: count {n} needs {8 + n * entry} bytes, has {len(data)}")
        return n, data

    indx_raw = content("INDX")
    if len(indx_raw) % 4:
        raise FormatError("section INDX: size is not a multiple of 4")
    indx = list(struct.unpack(f"<{len(indx_raw) // 4}I", indx_raw))
    aval = content("AVAL")
    if len(aval) % 8:
        raise FormatError("section AVAL: size is not a multiple of 8")
    wght = by_kind.get("WGHT")

    n_t, tens_raw = table("TENS", TENSOR_ENTRY_SIZE)
    tensors: list[TensorInfo] = []
    for k in range(n_t):
        fields = struct.unpack_from("<IBBBxIIQQ8q8I", tens_raw, 8 + k * TENSOR_ENTRY_SIZE)
        name_ref, dtype, rank, kind, _q, _r, doff, dsize = fields[:8]
        dims_all, names_all = fields[8:16], fields[16:24]
        where = f"TENS entry {k}"
        name = string(name_ref, where)
        if not name:
            raise FormatError(f"{where}: empty tensor name")
        if dtype not in DTYPE_SIZE:
            raise FormatError(f"{where} ('{name}'): dtype {dtype} unknown")
        if rank > MAX_RANK:
            raise FormatError(f"{where} ('{name}'): rank {rank} > {MAX_RANK}")
        dims = list(dims_all[:rank])
        dim_names = [string(r, where) if r else "" for r in names_all[:rank]]
        if any(d < -1 for d in dims):
            raise FormatError(f"{where} ('{name}'): dims {dims} has a value below -1")
        shape: list[Union[int, str]] = [nm if d < 0 and nm else d for d, nm in zip(dims, dim_names)]
        info = TensorInfo(name, dtype, shape, dims, dim_names, kind, doff, dsize)
        if kind == KIND_CONSTANT:
            if any(d < 0 for d in dims):
                raise FormatError(f"{where} ('{name}'): constant with unknown dims {dims}")
            numel = math.prod(dims)
            if dsize != numel * DTYPE_SIZE[dtype]:
                raise FormatError(f"{where} ('{name}'): data_size {dsize}, expected {numel * DTYPE_SIZE[dtype]}")
            if wght is None or doff % WEIGHT_ALIGNMENT or doff < wght.offset or doff + dsize > wght.offset + wght.size:
                raise FormatError(f"{where} ('{name}'): data range {doff}+{dsize} not aligned inside WGHT")
            npdt = DTYPE_TO_NUMPY.get(dtype)
            if npdt is not None:
                info.data = np.frombuffer(buf, dtype=npdt.newbyteorder("<"), count=numel,
                                          offset=doff).reshape(dims)
        elif kind != KIND_VALUE:
            raise FormatError(f"{where} ('{name}'): kind {kind} unknown")
        tensors.append(info)
    tnames = [t.name for t in tensors]
    if len(set(tnames)) != len(tnames):
        raise FormatError("TENS: tensor names are not unique")

    def tensor_ref(idx: int, where: str, optional: bool = False) -> str:
        if idx == NO_INDEX and optional:
            return ""
        if idx >= n_t:
            raise FormatError(f"{where}: tensor index {idx} >= tensor count {n_t}")
        return tnames[idx]

    def index_range(first: int, cnt: int, where: str) -> list[int]:
        if first + cnt > len(indx):
            raise FormatError(f"{where}: INDX range {first}+{cnt} outside the pool ({len(indx)})")
        return indx[first:first + cnt]

    n_a, attr_raw = table("ATTR", ATTR_ENTRY_SIZE)
    attrs_all: list[tuple[str, Any]] = []
    for k in range(n_a):
        nref, atype, cnt, first = struct.unpack_from("<IBxxxII", attr_raw, 8 + k * ATTR_ENTRY_SIZE)
        where = f"ATTR entry {k}"
        aname = string(nref, where)
        if atype == ATTR_STRING:
            value: Any = string(first, where)
        elif atype in (ATTR_INT, ATTR_FLOAT, ATTR_INTS, ATTR_FLOATS):
            if atype in (ATTR_INT, ATTR_FLOAT) and cnt != 1:
                raise FormatError(f"{where} ('{aname}'): scalar with count {cnt}")
            if cnt > 4096 or (first + cnt) * 8 > len(aval):
                raise FormatError(f"{where} ('{aname}'): AVAL range {first}+{cnt} out of bounds")
            fmt = "q" if atype in (ATTR_INT, ATTR_INTS) else "d"
            vals = list(struct.unpack_from(f"<{cnt}{fmt}", aval, first * 8))
            value = vals[0] if atype in (ATTR_INT, ATTR_FLOAT) else vals
        else:
            raise FormatError(f"{where} ('{aname}'): attribute type {atype} unknown")
        attrs_all.append((aname, value))

    n_n, node_raw = table("NODE", NODE_ENTRY_SIZE)
    nodes: list[NodeInfo] = []
    produced = {t.name for t in tensors if t.kind == KIND_CONSTANT}
    grph = content("GRPH")
    if len(grph) < 16:
        raise FormatError("section GRPH: shorter than 16 bytes")
    gi_count, gi_first, go_count, go_first = struct.unpack_from("<IIII", grph, 0)
    inputs = [tensor_ref(i, "GRPH inputs") for i in index_range(gi_first, gi_count, "GRPH inputs")]
    outputs = [tensor_ref(i, "GRPH outputs") for i in index_range(go_first, go_count, "GRPH outputs")]
    produced.update(inputs)
    for k in range(n_n):
        (nref, code, ver, if_, ic, of, oc, af, ac, act, flags, _r, alpha, beta, _r2) = \
            struct.unpack_from("<IHHIIIIIIBBHffI", node_raw, 8 + k * NODE_ENTRY_SIZE)
        where = f"NODE entry {k}"
        name = string(nref, where)
        if code not in OP_NAMES:
            raise FormatError(f"{where} ('{name}'): op code {code} unknown")
        if act > 12:
            raise FormatError(f"{where} ('{name}'): activation {act} unknown")
        ins = [tensor_ref(i, f"{where} input", optional=True) for i in index_range(if_, ic, where)]
        outs = [tensor_ref(i, f"{where} output") for i in index_range(of, oc, where)]
        for i in ins:
            if i and i not in produced:
                raise FormatError(f"{where} ('{name}'): input '{i}' is not produced before the node")
        for o in outs:
            if o in produced:
                raise FormatError(f"{where} ('{name}'): output '{o}' is produced twice")
            produced.add(o)
        if af + ac > n_a:
            raise FormatError(f"{where} ('{name}'): attribute range {af}+{ac} outside ATTR ({n_a})")
        nodes.append(NodeInfo(name, code, OP_NAMES[code], ver, ins, outs,
                              dict(attrs_all[af:af + ac]), act, bool(flags & NODE_FLAG_RESIDUAL),
                              alpha, beta))
    for o in outputs:
        if o not in produced:
            raise FormatError(f"GRPH: output '{o}' is not produced")

    metadata: dict[str, str] = {}
    if "META" in by_kind:
        n_m, meta_raw = table("META", 8)
        for k in range(n_m):
            kr, vr = struct.unpack_from("<II", meta_raw, 8 + k * 8)
            metadata[string(kr, f"META entry {k}")] = string(vr, f"META entry {k}")
    return ModelFile(major, minor, file_size, sections, tensors, nodes, inputs, outputs, metadata)
