"""Errors raised by the converter."""

from __future__ import annotations

from dataclasses import dataclass


class ConversionError(Exception):
    """A model that cnnrt cannot convert, with what was expected and what was found."""


@dataclass(frozen=True)
class UnsupportedNode:
    node: str      # node name (or graph input name)
    op_type: str
    domain: str
    opset: int
    reason: str

    def __str__(self) -> str:
        domain = self.domain or "ai.onnx"
        return f"node '{self.node}' ({domain}::{self.op_type}, opset {self.opset}): {self.reason}"


class UnsupportedOpsError(ConversionError):
    """Every node of the model that cnnrt cannot lower, listed at once."""

    def __init__(self, problems: list[UnsupportedNode]) -> None:
        self.problems = list(problems)
        lines = [f"{len(self.problems)} unsupported node(s) in the model:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))
