"""Whole models: cnnrt against ONNX Runtime on the same exported ONNX file.

Seeded random weights with BatchNorm statistics re-estimated on random inputs
(tests/models.py), so activations stay of order 1 and the reference outputs
vary from sample to sample (checked, so that agreement is not vacuous).
Bound held: max|cnnrt - ort| / max|ort| <= 1e-4 in fp32.
"""
from __future__ import annotations

import pytest

from model_check import check_model

REL_BOUND = 1e-4

CASES = [
    ("lenet5", True, 8),
    ("vgg11_bn", True, 4),
    ("resnet18", True, 4),
    ("mobilenet_v2", True, 4),
    ("resnet18", False, 2),       # full size: 224x224, 1000 classes
    ("mobilenet_v2", False, 2),
]


@pytest.mark.parametrize("name,reduced,batch", CASES, ids=[f"{n}-{'reduced' if r else 'full'}" for n, r, _ in CASES])
def test_model_matches_onnxruntime(name, reduced, batch, tmp_path):
    result = check_model(name, str(tmp_path), reduced=reduced, batch=batch)
    print(f"{name}: max rel error {result.max_rel_error:.2e}, top-1 agreement {result.top1_agreement:.3f}")
    assert result.reference_spread > 1e-3, "reference outputs do not vary across inputs"
    assert result.reference_classes > 1 or batch == 1, "reference argmax is constant across the batch"
    assert result.max_rel_error <= REL_BOUND
    assert result.top1_agreement == 1.0
