"""Write converters/zoo/params/<arch>.json: the parameter and buffer names and
shapes of torchvision's own definition of each architecture, the facts that
tests/test_zoo_classification.py checks cnnrt's zoo against.

torchvision has no CPU build here, so this does not import the torchvision
package: it reads the definition files (torchvision/models/*.py and the few
helpers they import) out of an unpacked torchvision wheel, with small stand-ins
for the parts that need the compiled package (logging, transforms, downloads).
Nothing from torchvision is committed; only names, shapes and counts are.

    pip download --no-deps torchvision==0.28.0 -d /tmp/tv
    unzip -q -o /tmp/tv/torchvision-0.28.0-*.whl 'torchvision/*' -d /tmp/tvc
    python tools/zoo_params.py /tmp/tvc            # all, or: ... /tmp/tvc resnet50 vgg16
"""

from __future__ import annotations

import enum
import importlib.util
import itertools
import json
import sys
import types
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent.parent / "converters" / "zoo" / "params"

# arch -> (file under torchvision/models, builder kwargs). Builders run with weights=None.
ARCHS: dict[str, tuple[str, dict]] = {
    "alexnet": ("alexnet", {}),
    **{name: ("vgg", {}) for name in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
                                      "vgg19", "vgg19_bn")},
    "googlenet": ("googlenet", {}),   # aux_logits=True without weights, as the checkpoint has them
    "inception_v3": ("inception", {}),
    **{name: ("resnet", {}) for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")},
    "densenet121": ("densenet", {}),
    "squeezenet1_1": ("squeezenet", {}),
    "shufflenet_v2_x1_0": ("shufflenetv2", {}),
    "mobilenet_v2": ("mobilenetv2", {}),
    "mobilenet_v3_large": ("mobilenetv3", {}),
    "mobilenet_v3_small": ("mobilenetv3", {}),
    "efficientnet_b0": ("efficientnet", {}),
    "efficientnet_b7": ("efficientnet", {}),
    "convnext_tiny": ("convnext", {}),
    "regnet_y_400mf": ("regnet", {}),
    "regnet_x_400mf": ("regnet", {}),
}


def _module(name: str, package: bool = False, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    if package:
        module.__path__ = []
    module.__dict__.update(attributes)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def _load(root: Path, name: str) -> types.ModuleType:
    """Execute root/<name as path>.py as module `name` (its package must be in sys.modules)."""
    path = root / (name.replace(".", "/") + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)
    return module


def _make_ntuple(x, n):
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return tuple(itertools.repeat(x, n))


def load_torchvision_models(root: Path) -> types.ModuleType:
    """A `torchvision.models` stand-in holding the builders of the files in ARCHS."""
    _module("torchvision", package=True)
    _module("torchvision._internally_replaced_utils", load_state_dict_from_url=None)
    _module("torchvision._utils", sequence_to_str=lambda seq, separate_last="": ", ".join(map(str, seq)))
    _module("torchvision.utils", _log_api_usage_once=lambda obj: None, _make_ntuple=_make_ntuple)
    _module("torchvision.transforms", package=True)
    _module("torchvision.transforms._presets", ImageClassification=object,
            InterpolationMode=enum.Enum("InterpolationMode", "NEAREST BILINEAR BICUBIC"))
    ops = _module("torchvision.ops", package=True)
    ops.StochasticDepth = _load(root, "torchvision.ops.stochastic_depth").StochasticDepth
    _load(root, "torchvision.ops.misc")
    models = _module("torchvision.models", package=True)
    for helper in ("_api", "_meta", "_utils"):
        _load(root, f"torchvision.models.{helper}")
    for file in sorted({file for file, _ in ARCHS.values()}):
        _load(root, f"torchvision.models.{file}")
    return models


def published_num_params(arch: str) -> int | None:
    """num_params in the meta of the arch's first published weights (ResNet50_Weights for resnet50)."""
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("torchvision.models."):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.Enum) and \
                    value.__name__.lower() == f"{arch}_weights":
                return next(iter(value)).value.meta.get("num_params")
    return None


def dump(models: types.ModuleType, root: Path, arch: str) -> Path:
    file, kwargs = ARCHS[arch]
    builder = getattr(sys.modules[f"torchvision.models.{file}"], arch)
    torch.manual_seed(0)
    model = builder(weights=None, **kwargs)
    version = (root / "torchvision" / "version.py")
    version = version.read_text().split("__version__ = ")[1].split("\n")[0].strip("'\"") if version.exists() else "?"
    record = {
        "arch": arch,
        "source": f"torchvision {version}, torchvision/models/{file}.py: {arch}(weights=None"
                  + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")",
        "kwargs": kwargs,
        "num_params": sum(p.numel() for p in model.parameters()),
        "published_num_params": published_num_params(arch),
        "parameters": [[name, list(p.shape)] for name, p in model.named_parameters()],
        "buffers": [[name, list(b.shape)] for name, b in model.named_buffers()],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{arch}.json"
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(
            f'  "{key}": ' + (("[\n" + ",\n".join("    " + json.dumps(item) for item in value) + "\n  ]")
                              if isinstance(value, list) and value else json.dumps(value))
            for key, value in record.items()) + "\n}\n")
    return path


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    root, archs = Path(argv[0]), argv[1:] or list(ARCHS)
    models = load_torchvision_models(root)
    for arch in archs:
        path = dump(models, root, arch)
        record = json.loads(path.read_text())
        print(f"{arch:22s} {record['num_params']:>12,d}  published {record['published_num_params']}  -> {path.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
