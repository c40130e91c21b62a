"""``<t>_data.c``: parameter bytes and the static arena, as top-level assembler in a C file.

Parameters are embedded with ``.incbin`` straight out of the extracted params file (offset and
length per tensor), so a 64 MiB model costs a file copy, not a C array of 64 million literals.
The arena is declared here too, so that it is NOBITS (.bss-like) in whatever section the user
names. Wrapping the assembler in C keeps the build C-only: no ASM language to enable in CMake,
and the compiler passes its -I folders on to the assembler, which is how .incbin finds the file.
"""

from __future__ import annotations

from ..model import Model, Module
from ..plan import Plan
from .common import Settings, arena_symbol, banner, param_symbol


def params_bin_name(s: Settings) -> str:
    return f"{s.prefix}_params.bin"


def blob_params(mod: Module) -> list[int]:
    """Indices of the parameters whose bytes come from the params file (not linked in C)."""
    return [i for i, p in enumerate(mod.params) if p.name not in mod.linked_params]


def _object(section: str, flags: str, kind: str, align: int, sym: str, body: str, size: int) -> str:
    lines = [
        f'.pushsection {section},\\"{flags}\\",%{kind}',
        f".balign {align}",
        f".global {sym}",
        f".type {sym}, %object",
        f"{sym}:",
        body,
        f".size {sym}, {size}",
        ".popsection",
    ]
    return "".join(f'    "{line}\\n"\n' for line in lines if line)


def emit_data(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    out = [banner(model, mod, s, f"{s.prefix}_data.c - parameter data and arena of {s.prefix}.")]
    parts = []
    bin_name = params_bin_name(s)
    for i in blob_params(mod):
        p = mod.params[i]
        section = s.weights_section or f".rodata.{s.prefix}.param{i}"
        body = f'.incbin \\"{bin_name}\\", {p.offset}, {p.nbytes}' if p.nbytes else ""
        parts.append(_object(section, "a", "progbits", plan.params_align, param_symbol(s, i), body, p.nbytes))
    if s.static_arena:
        size = max(plan.workspace_size, 1)
        section = s.arena_section or f".bss.{s.prefix}.arena"
        parts.append(_object(section, "aw", "nobits", plan.align, arena_symbol(s), f".space {size}", size))
    if parts:
        out.append("__asm__(\n" + "".join(parts) + ");\n")
    else:
        out.append(f"typedef int {s.prefix}__no_data; /* nothing to embed; keeps the unit non-empty */\n")
    return "".join(out)
