"""``mlf-build check-size``: the flash and RAM a compiled model library occupies, against the
MAX_FLASH / MAX_RAM budgets. Counts every allocated section of the library's objects (before
the final link's --gc-sections, so the figures are an upper bound): flash is code, read-only
data and the load image of initialised data; RAM is initialised data plus zeroed data (.bss,
including a static arena)."""

from __future__ import annotations

from .errors import MlfError
from .read.elf import object_file, object_spans, parse_elf
from .read.limits import Budget
from .read.model import Module

SHF_WRITE, SHF_ALLOC = 0x1, 0x2
SHT_NOBITS = 8


def measure(path: str) -> tuple[int, int]:
    """(flash bytes, RAM bytes) of an object or static library: only the section tables are
    read, so a library of many MiB of parameters is measured in the time of its headers."""
    flash = ram = 0
    budget = Budget()  # for all the objects of the library together
    with object_file(path) as span:
        for obj in object_spans(span, path):
            info = parse_elf(obj, path, want_symbols=False, budget=budget)
            flash, ram = _add_sections(info.sections, flash, ram)
    return flash, ram


def _add_sections(sections: list[tuple[str, int, int, int]], flash: int, ram: int) -> tuple[int, int]:
    for _name, typ, flags, size in sections:
        if not flags & SHF_ALLOC:
            continue
        if typ == SHT_NOBITS:
            ram += size
        elif flags & SHF_WRITE:
            flash += size
            ram += size
        else:
            flash += size
    return flash, ram


def check_object(path: str, name: str, max_flash: int | None, max_ram: int | None) -> str:
    flash, ram = measure(path)
    over = []
    if max_flash is not None and flash > max_flash:
        over.append(f"{flash} bytes of flash, over MAX_FLASH {max_flash} by {flash - max_flash}")
    if max_ram is not None and ram > max_ram:
        over.append(f"{ram} bytes of RAM, over MAX_RAM {max_ram} by {ram - max_ram}")
    if over:
        raise MlfError(path, f"model library {name} needs " + " and ".join(over))
    limits = []
    if max_flash is not None:
        limits.append(f"flash {flash}/{max_flash}")
    if max_ram is not None:
        limits.append(f"RAM {ram}/{max_ram}")
    return f"mlf-build: {name}: {', '.join(limits) or f'flash {flash}, RAM {ram}'} bytes"


def constant_data(mod: Module, blob_bytes: int) -> list[tuple[str, int]]:
    """The weights and constants a module puts in flash, known before compiling, by where they
    live: ``blob_bytes`` of the parameters file the library embeds; arrays of constant data in
    TVM's C (``__tvm_param__*`` of ``-link-params``, AOT's ``constant_N`` / ``fused_constant``,
    Ethos-U command streams and weights in ``.rodata.tvm``); USMP constant pools, internal
    (a ``static const struct`` in lib0.c) and external (``TVMGEN_<M>_<POOL>_CONSTANT_POOL_SIZE``
    bytes the library initialises). A floor for MAX_FLASH: code comes on top."""
    linked = pools = 0
    unused = {f.path for f in mod.unused_sources()}
    for f in mod.c_sources():
        if f.source is None or f.path in unused:
            continue
        for arr in f.source.arrays.values():
            if arr.nbytes is not None and (arr.const or (arr.section or "").startswith(".rodata")):
                linked += arr.nbytes
        pools += sum(f.source.constant_pools.values())
    pools += sum(mod.constant_pools.values())
    return [("the parameters file", blob_bytes), ("TVM's C", linked), ("constant pools", pools)]
