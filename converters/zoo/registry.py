"""The zoo's registry: one entry per architecture, filled in by the zoo modules at import.

Each zoo module (classification.py, dense.py, ...) calls `register(...)` once per
architecture when it is imported; `cnnrt.converters.zoo` imports them all, so
after `import cnnrt.converters.zoo` every architecture is here:

    from cnnrt.converters.zoo import registry
    model = registry.create("resnet50", reduced=True, seed=0)   # eval mode, seeded weights
    x = registry.example_input("resnet50", reduced=True, batch=4)

"Reduced" is each architecture's small test configuration (fewer classes,
narrower, smaller input) that keeps the structure and the ops of the full one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

KINDS = ("classification", "dense", "detection", "sequence", "attention")


@dataclass(frozen=True)
class ZooEntry:
    name: str
    constructor: Callable[..., nn.Module]
    input_shape: tuple[int, ...]            # one example, batch excluded, full configuration
    reduced_kwargs: dict[str, Any]          # constructor kwargs of the reduced configuration
    reduced_input_shape: tuple[int, ...]    # one example, batch excluded, reduced configuration
    kind: str
    # Builds a batch of inputs from (shape with batch, generator); None: N(0, 1) float32.
    make_input: Callable[[tuple[int, ...], torch.Generator], Any] | None = field(default=None)
    # Images per batch (4 batches) when create() re-estimates BatchNorm statistics.
    bn_batch_size: int = 8


_ENTRIES: dict[str, ZooEntry] = {}


def register(
    name: str,
    constructor: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    reduced_kwargs: dict[str, Any],
    reduced_input_shape: tuple[int, ...],
    kind: str,
    *,
    make_input: Callable[[tuple[int, ...], torch.Generator], Any] | None = None,
    bn_batch_size: int = 8,
) -> None:
    """Add one architecture. `input_shape`s exclude the batch dimension.

    `make_input(shape_with_batch, generator)` builds inputs that are not N(0, 1)
    float images (token ids, several inputs as a tuple). `bn_batch_size`: images per
    batch (of 4) from which create() re-estimates BatchNorm statistics."""
    if kind not in KINDS:
        raise ValueError(f"zoo.register({name!r}): kind must be one of {KINDS}, found {kind!r}")
    if name in _ENTRIES and _ENTRIES[name].constructor is not constructor:
        raise ValueError(f"zoo.register: {name!r} is already registered by "
                         f"{_ENTRIES[name].constructor.__module__}")
    _ENTRIES[name] = ZooEntry(name, constructor, tuple(input_shape), dict(reduced_kwargs),
                              tuple(reduced_input_shape), kind, make_input, bn_batch_size)


def get(name: str) -> ZooEntry:
    try:
        return _ENTRIES[name]
    except KeyError:
        raise KeyError(f"zoo: no architecture {name!r}; known: {', '.join(sorted(_ENTRIES))}") from None


def names(kind: str | None = None) -> list[str]:
    """Registered architecture names (of one kind, if given), in registration order."""
    return [n for n, e in _ENTRIES.items() if kind is None or e.kind == kind]


def create(
    name: str,
    reduced: bool = False,
    seed: int = 0,
    *,
    reestimate_bn: bool | None = None,
    **kwargs: Any,
) -> nn.Module:
    """The architecture in eval mode, its random initialisation seeded by `seed`.

    `kwargs` go to the constructor, over the reduced configuration's when
    `reduced`. With `reestimate_bn` (default: when `reduced`) every BatchNorm's
    running statistics are replaced by their average over random inputs, so
    that activations stay O(1) through deep networks and outputs are worth
    comparing (with the initial mean 0 / var 1 they grow or vanish)."""
    entry = get(name)
    arguments = {**entry.reduced_kwargs, **kwargs} if reduced else dict(kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = entry.constructor(**arguments)
    model.eval()
    if reestimate_bn is None:
        reestimate_bn = reduced
    if reestimate_bn:
        shape = entry.reduced_input_shape if reduced else entry.input_shape
        reestimate_batchnorm(model, name, (entry.bn_batch_size, *shape), seed=seed)
    return model


def example_input(name: str, reduced: bool = False, batch: int = 1, seed: int = 0) -> Any:
    """A seeded batch of inputs for the architecture (N(0, 1) images unless the entry says otherwise)."""
    entry = get(name)
    shape = (batch, *(entry.reduced_input_shape if reduced else entry.input_shape))
    generator = torch.Generator().manual_seed(seed)
    if entry.make_input is not None:
        return entry.make_input(shape, generator)
    return torch.randn(shape, generator=generator)


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, name: str, shape: tuple[int, ...],
                         batches: int = 4, seed: int = 0) -> nn.Module:
    """Set every BatchNorm's running statistics to their exact average over
    `batches` random inputs of `shape` (batch included).

    Only BatchNorm layers switch to training mode (Dropout, stochastic depth and
    auxiliary heads stay as in eval); momentum=None makes the average exact."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model.eval()
    entry = get(name)
    model.eval()
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    generator = torch.Generator().manual_seed(seed + 1)
    for _ in range(batches):
        x = entry.make_input(shape, generator) if entry.make_input else torch.randn(shape, generator=generator)
        model(*x) if isinstance(x, tuple) else model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    return model.eval()
