"""A tiny template expander for kernel sources (in the spirit of XNNPACK's
xngen, written for cnnrt).

Template syntax:
  - a line whose first non-blank character is `$` is a Python statement
    (`$for ...:`, `$if ...:`, `$elif ...:`, `$else:`); the lines indented
    under it form its body, and lose that extra indentation in the output;
  - `$name = value` sets a variable, `$# ...` is a comment;
  - `${expression}` anywhere else is replaced by the expression's value.
Everything else is copied as is. Parameters arrive as Python variables.
"""
from __future__ import annotations

import re

_SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")


def expand(template: str, parameters: dict) -> str:
    program = ["def _render(_emit, _scope):"]
    stack: list[int] = []  # template indentation of the open `$` blocks
    for number, raw in enumerate(template.splitlines()):
        stripped = raw.lstrip(" ")
        indent = len(raw) - len(stripped)
        if stripped == "":
            program.append("    " * (len(stack) + 1) + f"_emit('', _scope, {len(stack)})")
            continue
        # A line at or left of an open block's `$` line closes it (`$else:`
        # closes its `$if:` and opens its own block, as in Python).
        while stack and indent <= stack[-1]:
            stack.pop()
        pad = "    " * (len(stack) + 1)
        if stripped.startswith("$") and not stripped.startswith("${"):
            program.append(pad + stripped[1:])
            if stripped.rstrip().endswith(":"):  # a block opener, not `$X = ...`
                stack.append(indent)
        else:
            program.append(pad + f"_emit({raw!r}, _scope, {len(stack)})  # line {number + 1}")
    lines: list[str] = []

    def emit(text: str, scope: dict, depth: int) -> None:
        # Drop the indentation that the enclosing `$` blocks added in the template.
        dedent = 2 * depth
        if text[:dedent].strip() == "":
            text = text[dedent:]
        lines.append(_SUBSTITUTION.sub(lambda m: str(eval(m.group(1), dict(scope))), text))

    namespace: dict = {}
    # Statements see the parameters as globals; _scope = the locals so far.
    source = "\n".join(program).replace("_scope,", "{**globals(), **locals()},")
    exec(compile(source, "<template>", "exec"), dict(parameters), namespace)
    namespace["_render"](emit, None)
    return "\n".join(lines) + "\n"
