"""The trained model end to end: examples/train_digits.py trains a LeNet-style
CNN on scikit-learn's digits; cnnrt's predictions must equal PyTorch's on the
whole test split."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import torch

import cnnrt

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)


def test_cnnrt_predictions_equal_pytorch_on_test_split(tmp_path):
    import train_digits

    model, (x_test, y_test) = train_digits.train(seed=0)
    with torch.no_grad():
        expected = model(x_test).numpy()
    torch_accuracy = float(np.mean(expected.argmax(1) == y_test.numpy()))
    assert torch_accuracy > 0.95
    path = str(tmp_path / "digits.cnnrt")
    cnnrt.convert(model, path, example_input=x_test[:1])
    got = cnnrt.load(path, threads=2).run(x_test.numpy())
    assert np.array_equal(got.argmax(1), expected.argmax(1))
    assert np.max(np.abs(got - expected)) <= 1e-4 * max(1.0, np.max(np.abs(expected)))


def test_the_example_and_the_cli_run(tmp_path):
    out = tmp_path / "digits.cnnrt"
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "train_digits.py"), "--output", str(out), "--epochs", "5"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "cnnrt test accuracy" in result.stdout and "agreement: 1.0000" in result.stdout, result.stdout

    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run([sys.executable, "-m", "cnnrt", "run", str(out), "--input", str(tmp_path / "x.npy"),
                          "--output", str(tmp_path / "y.npy")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "top-5" in run.stdout
    assert np.array_equal(np.load(tmp_path / "y.npy"), cnnrt.load(str(out)).run(x))
    info = subprocess.run([sys.executable, "-m", "cnnrt", "info", str(out)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    for expected in ("input:", "output:", "ops:", "Conv", "weights:", "arena", "planned"):
        assert expected in info.stdout, info.stdout
