"""cnnrt.converters.zoo: reference architectures as PyTorch modules (needs torch).

Where torchvision has the architecture, parameter names and module structure are
torchvision's, so an official torchvision checkpoint loads strictly:

    from cnnrt.converters import zoo
    model = zoo.load_checkpoint("resnet50", "resnet50-0676ba61.pth")
    model = zoo.create("resnet50", reduced=True, seed=0)       # small, seeded, for tests
    print(zoo.names("classification"))

Every module listed in _MODULES registers its architectures in `registry` when
imported; modules that are not there (yet) are skipped.
"""

from __future__ import annotations

import importlib
import importlib.util

from . import registry
from .checkpoint import CheckpointMismatchError, load_checkpoint
from .registry import create, example_input, get, names, register

_MODULES = (
    # classification (converters/zoo/classification/)
    "classification",
    # dense prediction, detection, sequence, attention, CIFAR-sized models
    "dense", "detection", "sequence", "attention", "cifar",
)

for _name in _MODULES:
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        importlib.import_module(f"{__name__}.{_name}")

__all__ = ["registry", "register", "get", "names", "create", "example_input",
           "load_checkpoint", "CheckpointMismatchError"]
