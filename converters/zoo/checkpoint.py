"""Load a trained state dict (a `.pth` file) strictly into a zoo architecture."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from . import registry


class CheckpointMismatchError(ValueError):
    """The checkpoint's keys or shapes do not match the architecture."""


# DenseNet checkpoints published before torchvision 0.3 name "norm1" as "norm.1", "conv2" as "conv.2", ...
_LEGACY_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")


def load_checkpoint(arch: str, path_or_state_dict: str | os.PathLike | Mapping[str, Any],
                    **kwargs: Any) -> nn.Module:
    """`arch` built with `kwargs`, its weights from a state dict or a `.pth` file, in eval mode.

    Every mismatch is reported at once: missing keys, unexpected keys, and
    shape mismatches as (key, expected shape, found shape). A file that holds a
    whole pickled module, or a dict wrapping the weights under "state_dict" /
    "model", is accepted too; so are DenseNet's legacy key names. Floating-point
    weights are cast to the architecture's dtype (float32)."""
    state, source = _read_state_dict(path_or_state_dict)
    if arch.startswith("densenet"):
        state = {_LEGACY_DENSENET_KEY.sub(r"\1\2", k): v for k, v in state.items()}
    constructor = registry.get(arch).constructor
    # Built without memory or initialisation (every tensor is replaced by the checkpoint's).
    with torch.device("meta"):
        model = constructor(**kwargs)
    expected = model.state_dict()
    _check_fits(arch, kwargs, source, expected, state)
    state = {k: v.to(expected[k].dtype) if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    if any(t.is_meta for t in list(model.parameters()) + list(model.buffers())):
        # A tensor the state dict does not hold (a non-persistent buffer): build for real.
        model = registry.create(arch, reestimate_bn=False, **kwargs)
        model.load_state_dict(state, strict=True)
    return model.eval()


def _read_state_dict(path_or_state_dict: str | os.PathLike | Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    if isinstance(path_or_state_dict, Mapping):
        state, source = path_or_state_dict, "the state dict"
    else:
        source = os.fspath(path_or_state_dict)
        try:
            state = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - anything that is not a readable state dict
            raise CheckpointMismatchError(f"{source}: cannot read a state dict: {error}") from error
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise CheckpointMismatchError(f"{source}: expected a state dict (a mapping of names to tensors), "
                                      f"found {type(state).__name__}")
    for wrapper in ("state_dict", "model"):
        if isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
            break
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointMismatchError(f"{source}: entries that are not tensors: {', '.join(map(str, not_tensors))}")
    return state, source


def _check_fits(arch: str, kwargs: dict[str, Any], source: str, expected: Mapping[str, torch.Tensor],
                state: Mapping[str, torch.Tensor]) -> None:
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [(k, list(expected[k].shape), list(v.shape)) for k, v in state.items()
                  if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or mismatched):
        return
    arguments = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    lines = [f"{source} does not fit {arch}({arguments}):"]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
    for key, want, found in mismatched:
        lines.append(f"  shape mismatch: {key}: expected {want}, found {found}")
    if unexpected and all(k.startswith(("aux1.", "aux2.", "AuxLogits.")) for k in unexpected):
        lines.append("  (the checkpoint has auxiliary classifiers: build with aux_logits=True, the default)")
    elif mismatched and all(k.startswith(("fc.", "classifier")) and want[1:] == found[1:]
                            for k, want, found in mismatched):
        lines.append(f"  (only the classifier differs: is num_classes={mismatched[0][2][0]} meant?)")
    raise CheckpointMismatchError("\n".join(lines))
