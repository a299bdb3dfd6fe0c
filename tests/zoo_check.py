"""Converting zoo architectures along every path and comparing with PyTorch.
Shared by tests/test_zoo_paths.py (fast tier, reduced sizes) and
tools/zoo_table.py (the table in docs/zoo.md)."""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

PATHS = ("module", "onnx13", "onnx17", "dynamo", "pth")


@dataclass
class ZooResult:  # noqa: D101 - fields documented inline
    name: str
    path: str
    batch: int
    max_rel_error: float
    agreement: float       # argmax over dim 1 (classes, or per pixel for dense outputs)
    dense: bool            # an output has spatial dims (per-pixel agreement)
    reference_spread: float
    # Filled when cnnrt and PyTorch differ by more than 1e-4: the error of each
    # against a float64 run of the same module (float32 drift grows with depth).
    cnnrt_vs_f64: float | None
    torch_vs_f64: float | None
    convert_seconds: float
    file_bytes: int

    def within_bounds(self, rel_bound: float = 1e-4) -> str:
        """'' when the result holds the documented bounds, else why not.
        Error: max|cnnrt - torch| / max|torch| <= rel_bound, or, for deep
        networks where float32 itself drifts further, cnnrt no further from a
        float64 run than max(rel_bound, 4x PyTorch float32's own distance),
        which itself must stay under 1e-3 (else the test model is unfit).
        Agreement: 1.0 for classifiers; >= 0.999 per pixel for dense outputs,
        where random weights leave near-ties between class scores."""
        if self.max_rel_error > rel_bound:
            if self.torch_vs_f64 is not None and self.torch_vs_f64 > 1e-3:
                return f"badly conditioned test model: PyTorch float32 is {self.torch_vs_f64:.1e} from float64"
            if self.cnnrt_vs_f64 is None or self.cnnrt_vs_f64 > max(rel_bound, 4 * self.torch_vs_f64):
                return (f"max rel error {self.max_rel_error:.2e} (vs float64: cnnrt {self.cnnrt_vs_f64}, "
                        f"torch float32 {self.torch_vs_f64})")
        if self.agreement < (0.999 if self.dense else 1.0):
            return f"argmax agreement {self.agreement:.5f}"
        return ""


def _flatten(output) -> list:
    if isinstance(output, dict):
        return [t for v in output.values() for t in _flatten(v)]
    if isinstance(output, (list, tuple)):
        return [t for v in output for t in _flatten(v)]
    return [output]


def torch_outputs(module, x) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        return [t.numpy() for t in _flatten(module(x))]


def convert_along(path: str, name: str, module, x, workdir: str, reduced: bool) -> str:
    """Converts `module` (zoo architecture `name`) along one path; returns the .cnnrt file."""
    import torch

    import cnnrt
    from cnnrt.converters import zoo

    out = os.path.join(workdir, f"{name}-{path}.cnnrt")
    dyn = {"input": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path == "module":
            cnnrt.convert(module, out, example_input=x)
        elif path in ("onnx13", "onnx17"):
            onnx_path = os.path.join(workdir, f"{name}-{path}.onnx")
            n_out = len(_flatten(module(x)))
            outputs = [f"output{i}" for i in range(n_out)]
            torch.onnx.export(module, x, onnx_path, dynamo=False, opset_version=int(path[4:]), input_names=["input"],
                              output_names=outputs, dynamic_axes={**dyn, **{o: {0: "batch"} for o in outputs}})
            cnnrt.convert(onnx_path, out)
        elif path == "dynamo":
            onnx_path = os.path.join(workdir, f"{name}-dynamo.onnx")
            batch = torch.export.Dim("batch", min=1, max=64)
            # An example batch of 2: torch.export specialises a size-1 dim to a constant.
            program = torch.onnx.export(module, (torch.cat([x, x]),), dynamo=True, input_names=["input"],
                                        dynamic_shapes=({0: batch},), optimize=True, verbose=False)
            program.save(onnx_path, external_data=True)  # weights in onnx_path + ".data"
            cnnrt.convert(onnx_path, out)
        elif path == "pth":
            pth = os.path.join(workdir, f"{name}.pth")
            torch.save(module.state_dict(), pth)
            options = dict(zoo.get(name).reduced_kwargs) if reduced else {}
            cnnrt.convert(pth, out, arch=name, arch_options=options, example_input=x)
        else:
            raise ValueError(f"unknown path {path!r}; known: {PATHS}")
    return out


def check(name: str, path: str, workdir: str, reduced: bool = True, batches: tuple[int, ...] = (2,),
          seed: int = 0) -> list[ZooResult]:
    import torch

    import cnnrt
    from cnnrt.converters import zoo

    module = zoo.create(name, reduced=reduced, seed=seed)
    x1 = zoo.example_input(name, reduced=reduced, batch=1, seed=seed)
    start = time.perf_counter()
    file = convert_along(path, name, module, x1, workdir, reduced)
    seconds = time.perf_counter() - start
    model = cnnrt.load(file, threads=2)
    results = []
    for batch in batches:
        x = zoo.example_input(name, reduced=reduced, batch=batch, seed=seed + 1)
        expected = torch_outputs(module, x)
        got = model.run({model.inputs[0].name: x.numpy()})
        got = [got[o.name] for o in model.outputs]
        assert len(got) == len(expected), f"{name}/{path}: {len(got)} outputs, PyTorch gives {len(expected)}"
        errors, agree, spread, dense = [], [], [], False
        for g, e in zip(got, expected):
            dense = dense or e.ndim > 2
            assert g.shape == e.shape, f"{name}/{path}: output shape {g.shape}, PyTorch {e.shape}"
            scale = max(float(np.max(np.abs(e))), 1e-12)
            errors.append(float(np.max(np.abs(g.astype(np.float64) - e))) / scale)
            spread.append(float(np.mean(np.std(e, axis=0))) / scale if e.shape[0] > 1 else 1.0)
            if e.ndim >= 2 and e.shape[1] > 1:
                agree.append(float(np.mean(np.argmax(g, 1) == np.argmax(e, 1))))
        cnnrt_f64 = torch_f64 = None
        if max(errors) > 1e-4:
            exact = torch_outputs(module.double(), x.double())
            module.float()
            cnnrt_f64 = max(float(np.max(np.abs(g - r)) / max(np.max(np.abs(r)), 1e-12)) for g, r in zip(got, exact))
            torch_f64 = max(float(np.max(np.abs(e - r)) / max(np.max(np.abs(r)), 1e-12)) for e, r in zip(expected, exact))
        results.append(ZooResult(name, path, batch, max(errors), min(agree) if agree else 1.0, dense, min(spread),
                                 cnnrt_f64, torch_f64, seconds, os.path.getsize(file)))
    return results
