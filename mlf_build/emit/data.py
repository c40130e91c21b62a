"""``<t>_data.c``: parameter bytes and the static arena, as top-level assembler in a C file.

Parameters are embedded with ``.incbin`` straight out of the extracted params file (offset and
length per tensor), so a 64 MiB model costs a file copy, not a C array of 64 million literals.
They form one blob in one section, each at the offset ``blob_offsets`` gives (explicit padding,
not ``.balign``, so that the layout is this module's and not the assembler's): the graph runner
addresses a parameter as its offset from the blob's start, which takes fewer bytes than a
pointer.
The arena is declared here too, so that it is NOBITS (.bss-like) in whatever section the user
names. Wrapping the assembler in C keeps the build C-only: no ASM language to enable in CMake,
and the compiler passes its -I folders on to the assembler, which is how .incbin finds the file.

This object stays out of HIDE_SYMBOLS' partial link and objcopy (cmake/MLFLibrary.cmake,
bazel/mlf_library.bzl), which would copy every parameter byte twice more: it goes into the
archive as compiled. Its symbols are the runner's way in, so they stay global, but hidden
(STV_HIDDEN: never exported from a shared object) and named ``<t>__*`` with the library's C
prefix, like its API, so they cannot clash with another library's (TVM's ``tvmgen_*`` names,
the same in every model, are only in the objects that objcopy localizes).
"""

from __future__ import annotations

from ..plan.plan import Plan
from ..read.csource import align_up
from ..read.model import Model, Module
from .common import Settings, arena_symbol, banner, param_symbol


def params_bin_name(s: Settings) -> str:
    return f"{s.prefix}_params.bin"


def blob_params(mod: Module) -> list[int]:
    """Indices of the parameters whose bytes come from the params file (not linked in C)."""
    return [i for i, p in enumerate(mod.params) if p.name not in mod.linked_params]


def blob_symbol(s: Settings) -> str:
    """The start of the parameter blob."""
    return f"{s.prefix}__params"


def blob_offsets(mod: Module, plan: Plan) -> dict[int, int]:
    """Byte offset of each blob parameter from the blob's start (blob_symbol), each aligned to
    the parameter alignment. Smallest first (then in parameter order): the runner's program
    stores offsets in as few bytes as they need, and most tensors are small."""
    offsets, end = {}, 0
    for i in sorted(blob_params(mod), key=lambda i: (mod.params[i].nbytes, i)):
        offsets[i] = align_up(end, plan.params_align)
        end = offsets[i] + mod.params[i].nbytes
    return offsets


def _asm(lines: list[str]) -> str:
    return "".join(f'    "{line}\\n"\n' for line in lines if line)


def _hidden(sym: str) -> list[str]:
    return [f".global {sym}", f".hidden {sym}"]


def _symbol(sym: str, body: str, size: int) -> list[str]:
    return [*_hidden(sym), f".type {sym}, %object", f"{sym}:", body, f".size {sym}, {size}"]


def _object(section: str, flags: str, kind: str, align: int, sym: str, body: str, size: int) -> str:
    lines = [f'.pushsection {section},\\"{flags}\\",%{kind}', f".balign {align}"]
    return _asm([*lines, *_symbol(sym, body, size), ".popsection"])


def _blob(mod: Module, plan: Plan, s: Settings) -> str:
    section = s.weights_section or f".rodata.{s.prefix}.params"
    bin_name = params_bin_name(s)
    lines = [f'.pushsection {section},\\"a\\",%progbits', f".balign {plan.params_align}"]
    lines += [*_hidden(blob_symbol(s)), f"{blob_symbol(s)}:"]
    end = 0
    for i, offset in sorted(blob_offsets(mod, plan).items(), key=lambda x: x[1]):
        p = mod.params[i]
        if offset > end:
            lines.append(f".space {offset - end}")
        body = f'.incbin \\"{bin_name}\\", {p.offset}, {p.nbytes}' if p.nbytes else ""
        lines += _symbol(param_symbol(s, i), body, p.nbytes)
        end = offset + p.nbytes
    return _asm([*lines, ".popsection"])


def emit_data(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    out = [
        banner(
            f"{s.prefix}_data.c - parameter data and arena of {s.prefix}.",
            s.model_label,
            [mod.name],
            model.format_version,
        )
    ]
    parts = []
    if blob_params(mod):
        parts.append(_blob(mod, plan, s))
    if s.static_arena:
        size = max(plan.workspace_size, 1)
        section = s.arena_section or f".bss.{s.prefix}.arena"
        parts.append(_object(section, "aw", "nobits", plan.align, arena_symbol(s), f".space {size}", size))
    if parts:
        out.append("__asm__(\n" + "".join(parts) + ");\n")
    else:
        out.append(f"typedef int {s.prefix}__no_data; /* nothing to embed; keeps the unit non-empty */\n")
    return "".join(out)
