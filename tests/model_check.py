"""Whole-model agreement between cnnrt and ONNX Runtime, shared by the model
tests and the script that writes docs/models.md."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class ModelCheck:
    name: str
    input_shape: tuple
    batch: int
    max_rel_error: float      # max|cnnrt - ort| / max|ort|
    top1_agreement: float     # fraction of samples whose argmax agrees
    reference_spread: float   # std of ORT outputs across the batch, relative to max|ort|
    reference_classes: int    # distinct argmax values of ORT over the batch
    convert_seconds: float
    file_bytes: int


def check_model(name: str, workdir: str, reduced: bool = True, batch: int = 4, threads: int = 2,
                seed: int = 0) -> ModelCheck:
    import onnxruntime as ort
    import torch

    import cnnrt
    from models import make_model

    module, example = make_model(name, reduced=reduced, batch=1, seed=seed)
    onnx_path = os.path.join(workdir, f"{name}.onnx")
    torch.onnx.export(module, example, onnx_path, dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    cnnrt_path = os.path.join(workdir, f"{name}.cnnrt")
    start = time.perf_counter()
    cnnrt.convert(onnx_path, cnnrt_path)
    convert_seconds = time.perf_counter() - start
    x = torch.randn((batch, *example.shape[1:]), generator=torch.Generator().manual_seed(seed + 10)).numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    reference = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    model = cnnrt.load(cnnrt_path, threads=threads)
    got = model.run(x)
    assert got.shape == reference.shape, (got.shape, reference.shape)
    scale = float(np.max(np.abs(reference)))
    return ModelCheck(
        name=name,
        input_shape=tuple(x.shape),
        batch=batch,
        max_rel_error=float(np.max(np.abs(got.astype(np.float64) - reference))) / scale,
        top1_agreement=float(np.mean(np.argmax(got, 1) == np.argmax(reference, 1))),
        reference_spread=float(np.mean(np.std(reference, axis=0))) / scale,
        reference_classes=len(set(np.argmax(reference, 1).tolist())),
        convert_seconds=convert_seconds,
        file_bytes=os.path.getsize(cnnrt_path),
    )
