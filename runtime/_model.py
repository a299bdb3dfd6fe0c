"""The Python face of a loaded model: cnnrt.load(...) -> Model."""
from __future__ import annotations

import os
import threading
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from . import _cnnrt
from ._errors import InvalidArgumentError


class TensorInfo(NamedTuple):
    """A graph input or output: shape entries are ints, or a symbol name
    ("batch") / None for sizes known only at run time."""

    name: str
    shape: tuple
    dtype: str


def _infos(entries: list[dict]) -> list[TensorInfo]:
    return [TensorInfo(e["name"], tuple(e["shape"]), e["dtype"]) for e in entries]


class Session:
    """One caller's state over a loaded model: the activation arena and thread
    pool. Calls on one Session are serialised; make one per thread to run in
    parallel (they share the model's weights)."""

    def __init__(self, native_model: Any, threads: int = 1, profile: bool = False):
        if not isinstance(threads, int) or threads < 1:
            raise InvalidArgumentError(f"threads must be a positive int, found {threads!r}")
        self._native = _cnnrt.Session(native_model, threads, profile)
        self.threads = threads
        self.profile_enabled = profile

    @property
    def input_names(self) -> list[str]:
        return list(self._native.input_names)

    @property
    def output_names(self) -> list[str]:
        return list(self._native.output_names)

    def run(self, inputs: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
        """Runs the model. One array in (for a one-input model) or {name: array}.
        Returns an array when the model has one output, else {name: array}.
        The GIL is released while the model runs."""
        if isinstance(inputs, Mapping):
            feeds = dict(inputs)
        else:
            names = self.input_names
            if len(names) != 1:
                raise InvalidArgumentError(
                    f"the model has {len(names)} inputs ({', '.join(names)}): pass a dict {{name: array}}"
                )
            feeds = {names[0]: inputs}
        outputs = self._native.run(feeds)
        if len(outputs) == 1 and not isinstance(inputs, Mapping):
            return next(iter(outputs.values()))
        return outputs

    def reshape(self, shapes: Mapping[str, Sequence[int]]) -> dict[str, tuple]:
        """Plans for these input shapes ahead of a run; returns output shapes."""
        return self._native.reshape({k: [int(d) for d in v] for k, v in shapes.items()})

    def output_shapes(self) -> dict[str, tuple]:
        return self._native.output_shapes()

    def memory(self) -> dict[str, int]:
        """arena_bytes (planned; for a batch run in chunks, the part sessions'
        arenas) and unplanned_bytes (every activation apart, whole batch)."""
        return self._native.memory()

    def node_stats(self) -> list[dict]:
        """Per node, for the current shapes: kernel, output_shape, macs,
        output_bytes, workspace_bytes, time_ns (when profiling)."""
        return self._native.node_stats()


class Model:
    """A loaded .cnnrt model with a default session.

    model.run(x) uses the default session (thread count given to cnnrt.load).
    model.session(threads=...) makes an independent session on the same
    weights, for concurrent callers.
    """

    def __init__(self, native_model: Any, threads: int = 1, profile: bool = False, path: str | None = None):
        self._native = native_model
        self.path = path
        self._session = Session(native_model, threads, profile)
        self._lock = threading.Lock()

    # -- description ---------------------------------------------------------
    @property
    def inputs(self) -> list[TensorInfo]:
        return _infos(self._native.inputs)

    @property
    def outputs(self) -> list[TensorInfo]:
        return _infos(self._native.outputs)

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._native.metadata)

    @property
    def stats(self) -> dict[str, int]:
        return dict(self._native.stats)

    @property
    def nodes(self) -> list[dict]:
        return list(self._native.nodes)

    def tensor(self, name: str) -> TensorInfo:
        """Declared shape and dtype of any tensor (constants: exact shapes)."""
        e = self._native.tensor(name)
        return TensorInfo(e["name"], tuple(e["shape"]), e["dtype"])

    @property
    def threads(self) -> int:
        return self._session.threads

    # -- running -------------------------------------------------------------
    def run(self, inputs: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
        """Runs the default session: see Session.run."""
        return self._session.run(inputs)

    __call__ = run

    def reshape(self, shapes: Mapping[str, Sequence[int]]) -> dict[str, tuple]:
        return self._session.reshape(shapes)

    def memory(self) -> dict[str, int]:
        return self._session.memory()

    def node_stats(self) -> list[dict]:
        return self._session.node_stats()

    def summary(self, input_shapes: Mapping[str, Sequence[int]] | None = None):
        """Per-layer table (output shape, parameters, MACs, receptive field,
        activation bytes) and totals, for these input shapes (symbolic dims
        default to 1). print() it, or read its fields."""
        from .summary import summarize

        return summarize(self, input_shapes)

    def session(self, threads: int | None = None, profile: bool = False) -> Session:
        """A new session over the same loaded weights."""
        return Session(self._native, self.threads if threads is None else threads, profile)

    def concrete_input_shapes(self, fill: int = 1) -> dict[str, tuple]:
        """Input shapes with every symbolic dim replaced by `fill`."""
        return {
            t.name: tuple(d if isinstance(d, int) else fill for d in t.shape) for t in self.inputs
        }

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}{list(t.shape)}" for t in self.inputs)
        outs = ", ".join(f"{t.name}{list(t.shape)}" for t in self.outputs)
        where = f" from {self.path!r}" if self.path else ""
        return f"<cnnrt.Model{where}: {len(self.nodes)} nodes, inputs {ins}, outputs {outs}>"


def load(
    source: str | os.PathLike | bytes | bytearray | memoryview,
    threads: int = 1,
    *,
    profile: bool = False,
    verify_weights: bool = False,
) -> Model:
    """Loads a .cnnrt model from a path (memory-mapped) or from bytes.

    threads: threads one run uses (the caller's plus threads-1 workers).
    profile: time every node (see Model.node_stats()).
    verify_weights: also check the weights' checksum (slower for big models).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        native = _cnnrt.Model.load_bytes(source, verify_weights)
        path = None
    else:
        path = os.fspath(source)
        native = _cnnrt.Model.load_file(path, verify_weights, False)
    return Model(native, threads=threads, profile=profile, path=path)
