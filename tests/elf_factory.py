"""ELF relocatable objects and ``ar`` archives written byte by byte, for hostile inputs and fuzz
seeds: any section table, symbol table, relocation or archive header, including ones no
compiler would write (nothing binary is committed)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

EM_ARM, EM_X86_64 = 40, 62
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_REL, SHT_NOBITS = 1, 2, 3, 9, 8
SHT_ARM_ATTRIBUTES = 0x70000003
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
STB_GLOBAL, STT_FUNC, STT_NOTYPE = 1, 2, 0
EF_ARM_HARD = 0x5000400


@dataclass
class Section:
    name: str
    type: int
    data: bytes = b""
    flags: int = 0
    link: int = 0
    info: int = 0
    entsize: int = 0
    #: when set, the header points at these bytes of the file instead of ``data``
    offset: int | None = None
    size: int | None = None


@dataclass(frozen=True)
class Symbol:
    name: str | bytes  # ELF names are bytes: anything but NUL
    value: int = 0
    size: int = 0
    bind: int = STB_GLOBAL
    type: int = STT_FUNC
    shndx: int = 0  # 0: undefined


def symbol_table(symbols: list[Symbol], cls: int = 32) -> tuple[bytes, bytes]:
    """(.symtab, .strtab) bytes, the null symbol first."""
    strtab = bytearray(b"\0")
    out = bytearray(16 if cls == 32 else 24)
    offsets: dict[bytes, int] = {}
    for s in symbols:
        name = s.name if isinstance(s.name, bytes) else s.name.encode()
        if name not in offsets:
            offsets[name] = len(strtab)
            strtab += name + b"\0"
        info = (s.bind << 4) | s.type
        if cls == 32:
            out += struct.pack("<IIIBBH", offsets[name], s.value, s.size, info, 0, s.shndx)
        else:
            out += struct.pack("<IBBHQQ", offsets[name], info, 0, s.shndx, s.value, s.size)
    return bytes(out), bytes(strtab)


def relocations(entries: list[tuple[int, int]], cls: int = 32, rtype: int = 10) -> bytes:
    """SHT_REL entries (offset, symbol index)."""
    if cls == 32:
        return b"".join(struct.pack("<II", off, (sym << 8) | rtype) for off, sym in entries)
    return b"".join(struct.pack("<QQ", off, (sym << 32) | rtype) for off, sym in entries)


def build_elf(
    sections: list[Section], cls: int = 32, machine: int = EM_ARM, flags: int = EF_ARM_HARD
) -> bytes:
    """A relocatable ELF: header, the sections' bytes, .shstrtab, then the section table (the
    null section and .shstrtab are added; section numbers in ``link``/``info`` count from 1)."""
    ehsize, shentsize = (52, 40) if cls == 32 else (64, 64)
    shstr = bytearray(b"\0")
    names = []
    for s in [*sections, Section(".shstrtab", SHT_STRTAB)]:
        names.append(len(shstr))
        shstr += s.name.encode() + b"\0"
    body = bytearray()
    placed = []
    for s in sections:
        placed.append(ehsize + len(body))
        body += s.data
        body += b"\0" * (-len(body) % 8)
    shstr_off = ehsize + len(body)
    body += shstr
    body += b"\0" * (-len(body) % 8)
    shoff = ehsize + len(body)
    table = bytearray(shentsize)  # the null section
    rows = [
        (names[i], s.type, s.flags, s.offset if s.offset is not None else placed[i], s.size, s)
        for i, s in enumerate(sections)
    ]
    for name, typ, sflags, off, size, s in rows:
        n = len(s.data) if size is None else size
        if cls == 32:
            table += struct.pack("<IIIIIIIIII", name, typ, sflags, 0, off, n, s.link, s.info, 1, s.entsize)
        else:
            table += struct.pack("<IIQQQQIIQQ", name, typ, sflags, 0, off, n, s.link, s.info, 1, s.entsize)
    fmt = "<IIIIIIIIII" if cls == 32 else "<IIQQQQIIQQ"
    table += struct.pack(fmt, names[-1], SHT_STRTAB, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    shnum = len(sections) + 2
    if cls == 32:
        ident = b"\x7fELF\x01\x01\x01" + b"\0" * 9
        head = struct.pack(
            "<HHIIIIIHHHHHH", 1, machine, 1, 0, 0, shoff, flags, ehsize, 0, 0, 40, shnum, shnum - 1
        )
    else:
        ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
        head = struct.pack(
            "<HHIQQQIHHHHHH", 1, machine, 1, 0, 0, shoff, flags, ehsize, 0, 0, 64, shnum, shnum - 1
        )
    return ident + head + bytes(body) + bytes(table)


def function_object(functions: int, alloc_calls: int, cls: int = 32, machine: int = EM_ARM) -> bytes:
    """An object like one TVM's LLVM backend writes: ``functions`` functions of 16 bytes in
    .text and ``alloc_calls`` calls of TVMBackendAllocWorkspace spread over them."""
    syms = [Symbol(f"tvmgen_default_fn{i}", 16 * i, 16, shndx=1) for i in range(functions)]
    syms.append(Symbol("TVMBackendAllocWorkspace", type=STT_NOTYPE))
    symtab, strtab = symbol_table(syms, cls)
    alloc = len(syms)  # index of the allocator (the null symbol is 0)
    step = max(16 * functions // max(alloc_calls, 1), 1)
    rel = relocations([(k * step % (16 * functions), alloc) for k in range(alloc_calls)], cls)
    return build_elf(
        [
            Section(".text", SHT_NOBITS, flags=SHF_ALLOC | SHF_EXECINSTR, size=16 * functions),
            Section(".symtab", SHT_SYMTAB, symtab, link=3, info=1, entsize=16 if cls == 32 else 24),
            Section(".strtab", SHT_STRTAB, strtab),
            Section(".rel.text", SHT_REL, rel, link=2, info=1, entsize=8 if cls == 32 else 16),
        ],
        cls,
        machine,
        EF_ARM_HARD if machine == EM_ARM else 0,
    )


def ar_archive(members: list[tuple[str, bytes]], sizes: dict[str, str] | None = None) -> bytes:
    """A System V ``ar`` archive; ``sizes`` overrides the size field of some members."""
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        size = (sizes or {}).get(name, str(len(data)))
        out += f"{name + '/':16}{0:<12}{0:<6}{0:<6}{644:<8}{size:<10}`\n".encode()
        out += data + b"\n" * (len(data) & 1)
    return bytes(out)
