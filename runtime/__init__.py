"""cnnrt: an embedded inference runtime for convolutional neural networks.

    import cnnrt
    cnnrt.convert("resnet18.onnx", "resnet18.cnnrt")
    model = cnnrt.load("resnet18.cnnrt", threads=2)
    y = model.run(x)

Importing cnnrt never imports onnx or torch: they are needed only to convert.
"""
from __future__ import annotations

from ._errors import (
    Error,
    InvalidArgumentError,
    InvalidModelError,
    ModelFileError,
    OutOfMemoryError,
    UnsupportedError,
)
from ._model import Model, TensorInfo, load
from ._cnnrt import cpu_description as _cpu_description
from ._cnnrt import cpu_fma_peak_gflops as _cpu_fma_peak_gflops
from ._cnnrt import version as _native_version

__version__ = "0.1.0"


def native_version() -> str:
    """Version of the loaded native library."""
    return _native_version()


def cpu_description() -> str:
    """What the native library found about this CPU and which kernels it uses,
    e.g. "x86-64: avx2 fma avx512f ...; using avx512" (CNNRT_ISA lowers the level)."""
    return _cpu_description()


def cpu_fma_peak_gflops(seconds: float = 0.2) -> float:
    """Measured single-core float32 FMA throughput (GFLOP/s) at the ISA level
    the kernels use; benchmarks report speed as a fraction of it."""
    return _cpu_fma_peak_gflops(seconds)


def convert(source, output_path, **options):
    """Converts a model to a .cnnrt file.

    source: a path to an .onnx file, an onnx.ModelProto, or a torch.nn.Module
    (then pass example_input=...). Other keyword options are those of
    cnnrt.converters.convert. Returns the conversion report.
    """
    from .converters import convert as _convert

    return _convert(source, output_path, **options)


__all__ = [
    "Error",
    "InvalidArgumentError",
    "InvalidModelError",
    "ModelFileError",
    "Model",
    "OutOfMemoryError",
    "TensorInfo",
    "UnsupportedError",
    "convert",
    "cpu_description",
    "cpu_fma_peak_gflops",
    "load",
    "native_version",
]


def get_include() -> str:
    """Folder holding cnnrt/cnnrt.h, for building C apps against this install."""
    import os

    return os.path.join(os.path.dirname(__file__), "include")


def get_library_dir() -> str:
    """Folder holding libcnnrt (shared and static)."""
    import glob
    import os

    here = os.path.dirname(__file__)
    for name in ("lib", "lib64"):
        if glob.glob(os.path.join(here, name, "libcnnrt*")):
            return os.path.join(here, name)
    return os.path.join(here, "lib")


def get_cmake_prefix() -> str:
    """A CMAKE_PREFIX_PATH entry under which find_package(cnnrt) succeeds."""
    import os

    return os.path.dirname(__file__)
