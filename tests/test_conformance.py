"""ONNX backend node tests and light models (tests/conformance.py): every case
that passed when the baseline was committed must still pass. The baseline only
grows (tools/conformance_table.py --update-baseline refuses to shrink it)."""
from __future__ import annotations

import json
import os

import pytest

import conformance

BASELINE = os.path.join(os.path.dirname(__file__), "conformance_baseline.json")


@pytest.fixture(scope="module")
def results():
    return {r.name: r for r in conformance.run_all()}


def test_baseline_cases_still_pass(results):
    import onnx

    with open(BASELINE, encoding="utf-8") as f:
        baseline = json.load(f)
    assert baseline["onnx"] == onnx.__version__, "the baseline was taken with another onnx: regenerate it"
    regressed = [f"{name}: {results[name].reason if name in results else 'case missing'}"
                 for name in baseline["passing"] if name not in results or not results[name].passed]
    assert not regressed, "cases that passed before fail now:\n" + "\n".join(regressed)
    print(f"{sum(r.passed for r in results.values())} of {len(results)} conformance cases pass "
          f"(baseline {len(baseline['passing'])})")


def test_every_light_model_passes(results):
    light = {n: r for n, r in results.items() if r.op == "light model"}
    assert len(light) == len(conformance.LIGHT_MODELS)
    failing = {n: r.reason for n, r in light.items() if not r.passed}
    assert not failing, failing
