"""Just enough ELF to classify codegen objects: class, machine, float ABI, CPU architecture,
defined/undefined symbols and the call sites of the workspace allocator.

Works on untrusted bytes: every offset is bounds-checked and any inconsistency becomes MlfError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .errors import MlfError

MACHINES = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    40: "arm",
    62: "x86_64",
    94: "xtensa",
    183: "aarch64",
    243: "riscv",
}
EM_ARM = 40
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_REL = 2, 3, 4, 9
SHT_ARM_ATTRIBUTES = 0x70000003
SHF_EXECINSTR = 0x4
# Tag_CPU_arch values (ARM IHI 0045), for messages.
_ARM_ARCH = {
    0: "pre-v4",
    1: "v4",
    2: "v4T",
    3: "v5T",
    4: "v5TE",
    5: "v5TEJ",
    6: "v6",
    7: "v6KZ",
    8: "v6T2",
    9: "v6K",
    10: "v7",
    11: "v6-M",
    12: "v6S-M",
    13: "v7E-M",
    14: "v8-A",
    15: "v8-R",
    16: "v8-M.baseline",
    17: "v8-M.mainline",
    18: "v8.1-A",
    19: "v8.2-A",
    20: "v8.3-A",
    21: "v8.1-M.mainline",
    22: "v9-A",
}


@dataclass
class ElfInfo:
    elf_class: int  # 32 or 64
    little_endian: bool
    machine: str
    elf_type: int
    #: "hard", "soft" or None when the format has no notion of it
    float_abi: str | None = None
    cpu_arch: str | None = None
    cpu_profile: str | None = None  # 'M', 'A', 'R'
    defined: dict[str, str] = field(default_factory=dict)  # name -> "func" | "object" | "weak-object"
    undefined: set[str] = field(default_factory=set)
    #: function name -> number of relocations that refer to the workspace allocator
    alloc_sites: dict[str, int] = field(default_factory=dict)
    #: (name, sh_type, sh_flags, sh_size) of every section
    sections: list[tuple[str, int, int, int]] = field(default_factory=list)

    @property
    def abi(self) -> str:
        parts = [self.machine, f"elf{self.elf_class}"]
        if self.float_abi:
            parts.append(f"{self.float_abi}-float")
        return "/".join(parts)


class _Buf:
    def __init__(self, data: bytes, where: str, le: bool) -> None:
        self.data = data
        self.where = where
        self.end = "<" if le else ">"

    def unpack(self, fmt: str, off: int) -> tuple[int, ...]:
        size = struct.calcsize(self.end + fmt)
        if off < 0 or off + size > len(self.data):
            raise MlfError(self.where, "is a damaged ELF file (a header points past the end)")
        return struct.unpack_from(self.end + fmt, self.data, off)

    def slice(self, off: int, size: int) -> bytes:
        if off < 0 or size < 0 or off + size > len(self.data):
            raise MlfError(self.where, "is a damaged ELF file (a section points past the end)")
        return self.data[off : off + size]


def _cstr(table: bytes, off: int) -> str:
    if off >= len(table):
        return ""
    end = table.find(b"\0", off)
    return table[off : end if end >= 0 else len(table)].decode("utf-8", "replace")


def parse_elf(data: bytes, where: str, want_symbols: bool = True) -> ElfInfo:
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise MlfError(where, "is not an ELF object file")
    cls = {1: 32, 2: 64}.get(data[4])
    if cls is None or data[5] not in (1, 2):
        raise MlfError(where, "is an ELF file of unknown class or byte order")
    le = data[5] == 1
    b = _Buf(data, where, le)
    if cls == 32:
        e_type, e_machine, _v, _entry, _ph, shoff, flags, _eh, _phes, _phn, shentsize, shnum, shstrndx = (
            b.unpack("HHIIIIIHHHHHH", 16)
        )
    else:
        e_type, e_machine, _v, _entry, _ph, shoff, flags, _eh, _phes, _phn, shentsize, shnum, shstrndx = (
            b.unpack("HHIQQQIHHHHHH", 16)
        )
    info = ElfInfo(cls, le, MACHINES.get(e_machine, f"machine-{e_machine}"), e_type)
    if e_machine == EM_ARM:
        # Linked images carry the float ABI in e_flags; GCC's relocatable objects often do not
        # and say it only in .ARM.attributes (Tag_ABI_VFP_args), read below.
        if flags & EF_ARM_ABI_FLOAT_HARD:
            info.float_abi = "hard"
        elif flags & EF_ARM_ABI_FLOAT_SOFT:
            info.float_abi = "soft"
    if shoff == 0 or shnum == 0:
        if e_machine == EM_ARM and info.float_abi is None:
            info.float_abi = "soft"
        return info
    if shnum > 65535 or shentsize < (40 if cls == 32 else 64):
        raise MlfError(where, "is a damaged ELF file (bad section table)")
    sections = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if cls == 32:
            name, typ, sflags, _addr, soff, size, link, sinfo, _align, entsize = b.unpack("IIIIIIIIII", off)
        else:
            name, typ, sflags, _addr, soff, size, link, sinfo, _align, entsize = b.unpack("IIQQQQIIQQ", off)
        sections.append((name, typ, sflags, soff, size, link, sinfo, entsize))
    if shstrndx >= len(sections):
        raise MlfError(where, "is a damaged ELF file (bad section name table index)")
    shstr = b.slice(sections[shstrndx][3], sections[shstrndx][4]) if sections[shstrndx][1] != 8 else b""
    info.sections = [(_cstr(shstr, sec[0]), sec[1], sec[2], sec[4]) for sec in sections]

    symbols: list[tuple[str, int, int, int, int]] = []  # name, value, size, shndx, info
    for _name, typ, _f, soff, size, link, _i, entsize in sections:
        if typ == SHT_ARM_ATTRIBUTES and e_machine == EM_ARM:
            _arm_attributes(b.slice(soff, size), info)
        if typ != SHT_SYMTAB or not want_symbols:
            continue
        if link >= len(sections):
            raise MlfError(where, "is a damaged ELF file (bad symbol string table)")
        strtab = b.slice(sections[link][3], sections[link][4])
        ent = entsize or (16 if cls == 32 else 24)
        for k in range(size // ent):
            off = soff + k * ent
            if cls == 32:
                nm, value, ssize, sinfo, _other, shndx = b.unpack("IIIBBH", off)
            else:
                nm, sinfo, _other, shndx, value, ssize = b.unpack("IBBHQQ", off)
            symbols.append((_cstr(strtab, nm), value, ssize, shndx, sinfo))
    for sym_name, _value, _size, shndx, sinfo in symbols:
        bind, styp = sinfo >> 4, sinfo & 0xF
        if not sym_name or bind == 0 or styp in (3, 4):  # local, section, file symbols
            continue
        if shndx == 0:
            info.undefined.add(sym_name)
        else:
            kind = "func" if styp == 2 else "object"
            info.defined[sym_name] = f"weak-{kind}" if bind == 2 else kind
    if e_machine == EM_ARM and info.float_abi is None:
        info.float_abi = "soft"  # no hard-float marking anywhere: the base (soft) AAPCS
    if want_symbols:
        _count_alloc_sites(b, sections, symbols, cls, info)
    return info


def _count_alloc_sites(b: _Buf, sections: list, symbols: list, cls: int, info: ElfInfo) -> None:  # type: ignore[type-arg]
    """Count, per function, relocations against TVM's workspace allocator (a bound for objects
    whose source is not available)."""
    targets = {"TVMBackendAllocWorkspace", "__TVMBackendAllocWorkspace"}
    for _n, typ, _f, soff, size, _link, applies_to, entsize in sections:
        if typ not in (SHT_REL, SHT_RELA) or applies_to >= len(sections):
            continue
        if not sections[applies_to][2] & SHF_EXECINSTR:
            continue
        ent = (
            entsize
            or {(32, SHT_REL): 8, (32, SHT_RELA): 12, (64, SHT_REL): 16, (64, SHT_RELA): 24}[(cls, typ)]
        )
        funcs = [
            (v, s, n) for n, v, s, shndx, i in symbols if shndx == applies_to and (i & 0xF) == 2 and s > 0
        ]
        for k in range(size // ent):
            off = soff + k * ent
            if cls == 32:
                r_off, r_info = b.unpack("II", off)
                sym = r_info >> 8
            else:
                r_off, r_info = b.unpack("QQ", off)
                sym = r_info >> 32
            if sym >= len(symbols) or symbols[sym][0] not in targets:
                continue
            owner = next((n for v, s, n in funcs if v <= r_off < v + s), "?")
            info.alloc_sites[owner] = info.alloc_sites.get(owner, 0) + 1


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return value, pos


def _arm_attributes(data: bytes, info: ElfInfo) -> None:
    """Read Tag_CPU_arch (6), Tag_CPU_arch_profile (7) and Tag_ABI_VFP_args (28) from the
    "aeabi" subsection; malformed attributes are ignored (they only refine messages)."""
    if not data or data[0] != ord("A"):
        return
    pos = 1
    while pos + 4 <= len(data):
        length = struct.unpack_from("<I", data, pos)[0]
        end = min(pos + length, len(data))
        vendor_end = data.find(b"\0", pos + 4, end)
        if length < 5 or vendor_end < 0:
            return
        if data[pos + 4 : vendor_end] == b"aeabi":
            p = vendor_end + 1
            while p + 5 <= end:
                tag = data[p]
                sub_len = struct.unpack_from("<I", data, p + 1)[0]
                sub_end = min(p + sub_len, end)
                if tag == 1 and sub_len >= 5:  # Tag_File
                    q = p + 5
                    while q < sub_end:
                        t, q = _uleb(data, q)
                        if t in (4, 5, 67):  # NTBS-valued tags
                            z = data.find(b"\0", q, sub_end)
                            q = (z + 1) if z >= 0 else sub_end
                            continue
                        v, q = _uleb(data, q)
                        if t == 6:
                            info.cpu_arch = _ARM_ARCH.get(v, f"arch-{v}")
                        elif t == 7 and v:
                            info.cpu_profile = chr(v) if 0x20 < v < 0x7F else None
                        elif t == 28 and info.float_abi is None and v in (0, 1):
                            # e_flags win; this fills in for objects that lack them.
                            info.float_abi = "hard" if v == 1 else "soft"
                        elif t == 32:  # Tag_compatibility: ULEB + NTBS
                            z = data.find(b"\0", q, sub_end)
                            q = (z + 1) if z >= 0 else sub_end
                if sub_len < 5:
                    break
                p += sub_len
        pos += length


def elf_members(data: bytes, where: str) -> list[bytes]:
    """The ELF objects in ``data``: itself, or the members of a System V ``ar`` archive."""
    if not data.startswith(b"!<arch>\n"):
        return [data]
    out, pos = [], 8
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        try:
            size = int(header[48:58].decode().strip())
        except ValueError:
            raise MlfError(where, "is a damaged ar archive") from None
        body = data[pos + 60 : pos + 60 + size]
        if body.startswith(b"\x7fELF"):
            out.append(body)
        pos += 60 + size + (size & 1)
    return out


def first_object_in_archive(data: bytes, where: str) -> bytes:
    """The first ELF member of an archive (or the file itself), e.g. a compiler probe."""
    members = elf_members(data, where)
    if not members:
        raise MlfError(where, "is an archive without an ELF object")
    return members[0]
