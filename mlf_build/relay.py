"""The signature of ``@main`` in the Relay text an MLF carries (relay.txt / src/<m>.relay).

Only used where better sources are missing: input names, shapes and dtypes, and the output
names TVM 0.12+ records as ``output_tensor_names``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAIN = re.compile(r"def\s+@main\s*\(")
_ARG = re.compile(r"%([\w.:/-]+)\s*:\s*Tensor\[\(([^)]*)\),\s*(\w+)\]")
_OUTPUT_NAMES = re.compile(r"output_tensor_names\s*=\s*\[([^\]]*)\]")


@dataclass(frozen=True)
class RelayMain:
    #: (name, shape, dtype) of every parameter of @main, in order; shape None when dynamic
    args: list[tuple[str, tuple[int, ...] | None, str]]
    output_names: list[str] | None


def parse_relay_main(text: str) -> RelayMain | None:
    m = _MAIN.search(text)
    if m is None:
        return None
    # The parameter list ends at the ')' that balances the '(' after @main.
    depth, i = 1, m.end()
    while i < len(text) and depth:
        depth += text[i] == "("
        depth -= text[i] == ")"
        i += 1
    sig = text[m.end() : i - 1]
    args: list[tuple[str, tuple[int, ...] | None, str]] = []
    for a in _ARG.finditer(sig):
        dims = [d.strip() for d in a.group(2).split(",") if d.strip()]
        shape = tuple(int(d) for d in dims) if all(d.isdigit() for d in dims) else None
        args.append((a.group(1), shape, a.group(3)))
    names = _OUTPUT_NAMES.search(sig)
    outputs = re.findall(r'"((?:[^"\\]|\\.)*)"', names.group(1)) if names else None
    return RelayMain(args, outputs)
