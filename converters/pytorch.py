"""torch.nn.Module -> ONNX (in memory), then the ONNX path.  torch is imported only here."""

from __future__ import annotations

import io
import warnings
from typing import Any, Sequence

import onnx

from .errors import ConversionError


def _as_tuple(example_input: Any) -> tuple:
    if isinstance(example_input, tuple):
        return example_input
    if isinstance(example_input, list):
        return tuple(example_input)
    return (example_input,)


def export_module(module: Any, example_input: Any, *, input_names: Sequence[str] | None = None,
                  output_names: Sequence[str] | None = None, dynamic_batch: bool = True,
                  opset: int = 17) -> tuple[onnx.ModelProto, int]:
    """Export ``module`` with the TorchScript ONNX exporter; returns (model, PyTorch parameter count)."""
    import torch

    if example_input is None:
        raise ConversionError("converting a torch.nn.Module needs example_input (a tensor or a tuple "
                              "of tensors with the shapes the model is run with)")
    args = _as_tuple(example_input)
    for k, a in enumerate(args):
        if not isinstance(a, torch.Tensor):
            raise ConversionError(f"example_input[{k}]: expected a torch.Tensor, found {type(a).__name__}")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            outputs = module(*args)
        n_out = len(outputs) if isinstance(outputs, (tuple, list)) else 1
        in_names = list(input_names) if input_names else (
            ["input"] if len(args) == 1 else [f"input_{k}" for k in range(len(args))])
        out_names = list(output_names) if output_names else (
            ["output"] if n_out == 1 else [f"output_{k}" for k in range(n_out)])
        if len(in_names) != len(args):
            raise ConversionError(f"input_names has {len(in_names)} names but the module takes {len(args)} inputs")
        if len(out_names) != n_out:
            raise ConversionError(f"output_names has {len(out_names)} names but the module returns {n_out} outputs")
        dynamic_axes = None
        if dynamic_batch:
            dynamic_axes = {name: {0: "batch"} for name in in_names + out_names}
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(module, args, buf, dynamo=False, opset_version=opset,
                                  input_names=in_names, output_names=out_names,
                                  dynamic_axes=dynamic_axes, do_constant_folding=True)
            except Exception as e:  # noqa: BLE001 - torch raises many kinds
                raise ConversionError(f"torch.onnx.export failed for {type(module).__name__}: {e}") from e
    finally:
        module.train(was_training)
    param_count = sum(p.numel() for p in module.parameters())
    return onnx.load_from_string(buf.getvalue()), int(param_count)
