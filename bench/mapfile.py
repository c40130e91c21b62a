"""Reading what a GNU ld link kept: input sections from the map file (``-Wl,-Map``), symbols from
``nm``, and the bytes of the loadable sections of an ELF32 file."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from .common import run


@dataclass(frozen=True)
class InputSection:
    name: str  # input section name, e.g. .text.mlf_graph_run
    output: str  # output section it went to, e.g. .text
    address: int
    size: int
    origin: str  # the object, e.g. libmlf_runtime.a(mlf_graph.c.obj)

    @property
    def archive(self) -> str:
        """File name of the archive (or object) the section came from."""
        m = re.match(r"(.*?)\((.*)\)$", self.origin)
        return Path(m.group(1) if m else self.origin).name

    @property
    def member(self) -> str:
        m = re.match(r".*\((.*)\)$", self.origin)
        return m.group(1) if m else Path(self.origin).name

    @property
    def memory(self) -> str:
        """flash, ram (NOBITS) or both (.data: an image in flash, a copy in RAM); '' if neither."""
        n = self.name
        if n.startswith((".bss", ".tbss", "COMMON", ".noinit")) or ".bss." in n:
            return "ram"
        if n.startswith((".data", ".tdata")):
            return "both"
        if n.startswith((".text", ".rodata", ".ARM.exidx", ".ARM.extab", ".init_array", ".fini_array")):
            return "flash"
        if n.startswith((".init", ".fini", ".glue_7", ".vfp11_veneer", ".v4_bx", ".iplt", ".igot")):
            return "flash"
        if n.startswith((".isr_vector", ".vectors", ".preinit_array", ".eh_frame")):
            return "flash"
        return ""


_SECTION = re.compile(r"^ (\S+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$")
_CONT = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_OUTPUT = re.compile(r"^(\.\S+|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+))?")


def parse_map(path: Path) -> tuple[list[InputSection], list[InputSection]]:
    """(kept, discarded) input sections of a GNU ld map file."""
    lines = Path(path).read_text(errors="replace").splitlines()
    kept: list[InputSection] = []
    discarded: list[InputSection] = []
    mode = ""
    output = ""
    pending: str | None = None
    for line in lines:
        if line.startswith("Discarded input sections"):
            mode = "discarded"
            continue
        if line.startswith("Linker script and memory map"):
            mode = "kept"
            continue
        if line.startswith("Memory Configuration"):
            mode = ""
            continue
        if not mode or not line.strip():
            continue
        out = _OUTPUT.match(line)
        if out and mode == "kept":
            output = out.group(1)
            pending = None
            continue
        if pending is not None:
            c = _CONT.match(line)
            if c:
                _add(kept if mode == "kept" else discarded, pending, output, c)
            pending = None
            continue
        m = _SECTION.match(line)
        if not m or m.group(1).startswith(("*", "0x")) or m.group(1) in ("LOAD", "OUTPUT("):
            continue
        if m.group(2) is None:
            pending = m.group(1)  # the name alone; address, size and file follow on the next line
            continue
        _add(kept if mode == "kept" else discarded, m.group(1), output, m)
    return kept, discarded


def _add(into: list[InputSection], name: str, output: str, m: re.Match[str]) -> None:
    addr, size, origin = m.group(m.lastindex - 2), m.group(m.lastindex - 1), m.group(m.lastindex)  # type: ignore[operator]
    if origin.startswith("load address"):
        return
    into.append(InputSection(name, output, int(addr, 16), int(size, 16), origin.strip()))


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str  # nm's letter: t/T text, r/R read-only data, d/D data, b/B bss
    size: int
    address: int


def symbols(elf: Path, nm: str = "arm-none-eabi-nm") -> list[Symbol]:
    """Every sized symbol, local ones included (``nm --size-sort -S``)."""
    out = run([nm, "--size-sort", "-S", elf]).stdout
    result = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4:
            result.append(Symbol(f[3], f[2], int(f[1], 16), int(f[0], 16)))
    return result


def flash_image(elf: Path) -> bytes:
    """The bytes of every allocated PROGBITS section of an ELF32 little-endian file (code,
    read-only data and the .data image: what goes to flash), concatenated."""
    data = Path(elf).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise ValueError(f"{elf} is not an ELF32 little-endian file")
    (shoff,) = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x2E)
    out = []
    for i in range(shnum):
        _, sh_type, flags, _, offset, size = struct.unpack_from("<IIIIII", data, shoff + i * shentsize)
        if sh_type == 1 and flags & 2:  # SHT_PROGBITS, SHF_ALLOC
            out.append(data[offset : offset + size])
    return b"".join(out)


def count_occurrences(haystack: bytes, needle: bytes, limit: int = 3) -> int:
    n, pos = 0, 0
    while n < limit:
        k = haystack.find(needle, pos)
        if k < 0:
            break
        n += 1
        pos = k + 1
    return n
