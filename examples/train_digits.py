"""Train a small CNN on scikit-learn's digits, then run it with cnnrt.

The digits set (1,797 8x8 grey images, bundled with scikit-learn: nothing is
downloaded) is small enough to train a LeNet-style network on a CPU in a few
seconds. The script then converts the trained module to a .cnnrt file, runs the
test split through cnnrt, and reports cnnrt's accuracy and how often its
predictions agree with PyTorch's.

    python examples/train_digits.py                   # train, convert, compare
    python examples/train_digits.py --no-cnnrt        # train only
    python examples/train_digits.py --epochs 20 --output /tmp/digits.cnnrt
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

IMAGE_SIZE = 8
DEFAULT_EPOCHS = 20


class DigitsNet(nn.Module):
    """LeNet-style: two conv-ReLU-pool stages and a two-layer classifier,
    with 3x3 'same' convolutions because the images are only 8x8."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4x4 -> 2x2
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def load_data(test_size: float = 0.25, random_state: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test); images are float32 NCHW [N, 1, 8, 8]
    scaled from 0..16 to 0..1, labels int64. The split is stratified so both
    parts hold every digit in proportion."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=test_size, random_state=random_state, stratify=digits.target
    )
    return (
        torch.from_numpy(x_train),
        torch.from_numpy(y_train.astype(np.int64)),
        torch.from_numpy(x_test),
        torch.from_numpy(y_test.astype(np.int64)),
    )


def accuracy(logits: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    return float((np.asarray(logits).argmax(axis=1) == np.asarray(labels)).mean())


def train(
    seed: int = 0, epochs: int = DEFAULT_EPOCHS, batch_size: int = 32, lr: float = 3e-3
) -> tuple[DigitsNet, tuple[torch.Tensor, torch.Tensor]]:
    """Train DigitsNet with Adam; returns (model in eval mode, (x_test, y_test)).

    Seeded: the same seed gives the same weights on the same machine."""
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_data()
    model = DigitsNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()
    return model.eval(), (x_test, y_test)


def run_cnnrt(model: nn.Module, x_test: torch.Tensor, output: str, threads: int = 2) -> np.ndarray:
    """Convert the module to a .cnnrt file and return cnnrt's logits for x_test."""
    import cnnrt  # imported here so that training works without the runtime built

    cnnrt.convert(model, output, example_input=torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE))
    m = cnnrt.load(output, threads=threads)
    return np.asarray(m.run(x_test.numpy()))  # float32 NCHW in, logits out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="digits.cnnrt", help="where to write the converted model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-cnnrt", action="store_true", help="train and evaluate in PyTorch only")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model, (x_test, y_test) = train(seed=args.seed, epochs=args.epochs)
    with torch.no_grad():
        torch_logits = model(x_test).numpy()
    print(f"trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s")
    print(f"PyTorch test accuracy: {accuracy(torch_logits, y_test):.4f} ({len(y_test)} images)")
    if args.no_cnnrt:
        return 0

    cnnrt_logits = run_cnnrt(model, x_test, args.output, args.threads)
    agreement = float((cnnrt_logits.argmax(1) == torch_logits.argmax(1)).mean())
    max_diff = float(np.abs(cnnrt_logits - torch_logits).max())
    print(f"cnnrt test accuracy:   {accuracy(cnnrt_logits, y_test):.4f} (model written to {args.output})")
    print(f"cnnrt/PyTorch top-1 agreement: {agreement:.4f}, max |logit difference|: {max_diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
