"""`cnnrt convert model.pth --arch NAME`: a PyTorch checkpoint loaded into a zoo
architecture and converted; mismatches are clear errors naming the keys."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

import cnnrt
from cnnrt.converters import zoo


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnrt", *args], capture_output=True, text=True, timeout=300)


def test_checkpoint_converts_and_matches(tmp_path):
    module = zoo.create("cifar10_3block", seed=1)
    pth = tmp_path / "net.pth"
    torch.save(module.state_dict(), pth)
    out = tmp_path / "net.cnnrt"
    result = cli("convert", str(pth), "--arch", "cifar10_3block", "-o", str(out))
    assert result.returncode == 0, result.stderr
    x = zoo.example_input("cifar10_3block", batch=3, seed=2)
    with torch.no_grad():
        expected = module(x).numpy()
    got = cnnrt.load(str(out)).run(x.numpy())
    assert np.max(np.abs(got - expected)) <= 1e-4 * max(1.0, np.max(np.abs(expected)))


def test_checkpoint_errors_name_what_is_wrong(tmp_path):
    state = zoo.create("cifar10_3block", seed=1).state_dict()
    pth = tmp_path / "net.pth"
    torch.save(state, pth)
    result = cli("convert", str(pth), "-o", str(tmp_path / "x.cnnrt"))
    assert result.returncode != 0 and "--arch" in result.stderr
    result = cli("convert", str(pth), "--arch", "resnet18", "-o", str(tmp_path / "x.cnnrt"))
    assert result.returncode != 0
    assert "missing" in result.stderr.lower() and "conv1.weight" in result.stderr
    result = cli("convert", str(pth), "--arch", "nosuchnet", "-o", str(tmp_path / "x.cnnrt"))
    assert result.returncode != 0 and "unknown architecture 'nosuchnet'" in result.stderr
    bad = dict(state)
    key = next(k for k in bad if k.endswith("weight"))
    bad[key] = torch.zeros(3, 3)
    torch.save(bad, pth)
    result = cli("convert", str(pth), "--arch", "cifar10_3block", "-o", str(tmp_path / "x.cnnrt"))
    assert result.returncode != 0 and key in result.stderr and "[3, 3]" in result.stderr
