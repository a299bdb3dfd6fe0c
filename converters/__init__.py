"""cnnrt.converters: ONNX / PyTorch models to `.cnnrt` files (docs/format.md, docs/ops.md).

    from cnnrt.converters import convert
    report = convert("model.onnx", "model.cnnrt")
    print(report)
"""

from .cnnrt_file import FormatError, ModelFile, read_model, write_model
from .converter import ConversionReport, __version__, build_graph, convert, describe
from .errors import ConversionError, UnsupportedNode, UnsupportedOpsError

__all__ = [
    "convert", "describe", "read_model", "write_model", "build_graph", "ConversionReport",
    "ConversionError", "UnsupportedOpsError", "UnsupportedNode", "FormatError", "ModelFile",
    "__version__",
]


def __getattr__(name: str):
    # The zoo needs torch, an optional dependency: import it only when asked for.
    if name == "zoo":
        import importlib

        return importlib.import_module(".zoo", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
