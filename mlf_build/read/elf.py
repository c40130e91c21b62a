"""Just enough ELF to classify codegen objects: class, machine, float ABI, CPU architecture,
defined/undefined symbols and the call sites of the workspace allocator.

Works on untrusted bytes: every offset is bounds-checked and any inconsistency becomes MlfError.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

from ..errors import MlfError
from .limits import Budget

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
SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 2, 3, 4, 8, 9
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


#: What the objects of one archive (or one library) may hold in all before the reader refuses
#: them: far above any TVM export (hundreds of sections and symbols, thousands of relocations),
#: and low enough to read in a second or two. Sections and symbols are held while an object is
#: read (some 100 bytes each); relocations are only counted.
MAX_ENTRIES = 1 << 20
MAX_RELOCATIONS = 1 << 22
#: .ARM.attributes is some 50 bytes; a larger one is ignored (it only refines messages)
MAX_ATTRIBUTES = 64 << 10
#: members of an ``ar`` archive (--abi-probe, check-size)
MAX_AR_MEMBERS = 100_000
_SYM_SIZE = {32: 16, 64: 24}
_REL_SIZE = {(32, SHT_REL): 8, (32, SHT_RELA): 12, (64, SHT_REL): 16, (64, SHT_RELA): 24}


class Span:
    """The bytes of one object: in memory, or a range of an open file read on demand (an
    archive's member is parsed where it lies, whatever the size of the archive)."""

    def __init__(
        self, source: bytes | bytearray | BinaryIO, base: int = 0, length: int | None = None
    ) -> None:
        self._source = source
        self.base = base
        if isinstance(source, (bytes, bytearray)) and length is None:
            self.length = len(source) - base
        else:
            self.length = length or 0

    def read(self, off: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``off`` (fewer at the end)."""
        size = max(min(size, self.length - off), 0)
        start = self.base + off
        if isinstance(self._source, (bytes, bytearray)):
            return bytes(self._source[start : start + size])
        self._source.seek(start)
        return self._source.read(size)

    def sub(self, off: int, length: int) -> Span:
        return Span(self._source, self.base + off, length)


class _Buf:
    """Bounds-checked reads of one object. Every section is read at most once, and the sections
    read must fit in the file side by side: a section table whose entries all point at the same
    bytes cannot make the reader go over them once per entry."""

    def __init__(self, span: Span, where: str, le: bool, budget: Budget) -> None:
        self.span = span
        self.where = where
        self.end = "<" if le else ">"
        self.budget = budget
        self._read_total = 0

    def count(self, entries: int = 0, relocations: int = 0) -> None:
        if not self.budget.take("elf", entries, MAX_ENTRIES):
            raise MlfError(
                self.where,
                f"takes the objects over {MAX_ENTRIES} sections and symbols in all; no TVM export comes near",
            )
        if not self.budget.take("elf-relocations", relocations, MAX_RELOCATIONS):
            raise MlfError(
                self.where,
                f"takes the objects over {MAX_RELOCATIONS} relocations in all; no TVM export comes near",
            )

    def damaged(self, what: str) -> MlfError:
        return MlfError(self.where, f"is a damaged ELF file ({what})")

    def unpack(self, fmt: str, off: int) -> tuple[int, ...]:
        size = struct.calcsize(self.end + fmt)
        if off < 0 or off + size > self.span.length:
            raise self.damaged("a header points past the end")
        return struct.unpack(self.end + fmt, self.span.read(off, size))

    def table(self, off: int, size: int) -> bytes:
        if off < 0 or off + size > self.span.length:
            raise self.damaged("a header points past the end")
        return self.span.read(off, size)

    def slice(self, off: int, size: int) -> bytes:
        if off < 0 or size < 0 or off + size > self.span.length:
            raise self.damaged("a section points past the end")
        self._read_total += size
        if self._read_total > self.span.length:
            raise self.damaged("its sections overlap")
        return self.span.read(off, size)


def _cstr(table: bytes, off: int) -> str:
    if off >= len(table):
        return ""
    end = table.find(b"\0", off)
    return table[off : end if end >= 0 else len(table)].decode("utf-8", "replace")


class _Header(NamedTuple):
    """The fields of the ELF header that the reader uses."""

    e_type: int
    e_machine: int
    flags: int
    shoff: int
    shentsize: int
    shnum: int
    shstrndx: int


def parse_elf(
    data: bytes | bytearray | Span, where: str, want_symbols: bool = True, budget: Budget | None = None
) -> ElfInfo:
    """What one object is and holds. ``budget`` counts its entries with those of the other
    objects of one archive or library (MAX_ENTRIES, MAX_RELOCATIONS)."""
    span = data if isinstance(data, Span) else Span(data)
    cls, le = _identify(span, where)
    b = _Buf(span, where, le, Budget() if budget is None else budget)
    h = _header(b, cls)
    info = ElfInfo(cls, le, MACHINES.get(h.e_machine, f"machine-{h.e_machine}"), h.e_type)
    if h.e_machine == EM_ARM:
        info.float_abi = _flags_float_abi(h.flags)
    if h.shoff == 0 or h.shnum == 0:
        if h.e_machine == EM_ARM and info.float_abi is None:
            info.float_abi = "soft"
        return info
    sections = _section_table(b, cls, h)
    shstr = _section_names(b, sections, h.shstrndx)
    info.sections = [(_cstr(shstr, sec[0]), sec[1], sec[2], sec[4]) for sec in sections]

    if h.e_machine == EM_ARM:
        # One .ARM.attributes per object (ARM IHI 0044); only the first is read.
        attrs = next((sec for sec in sections if sec[1] == SHT_ARM_ATTRIBUTES), None)
        if attrs is not None and attrs[4] <= MAX_ATTRIBUTES:
            _arm_attributes(b.slice(attrs[3], attrs[4]), info)
    if want_symbols:
        symbols = _symbols(b, sections, cls, h.shstrndx, shstr)
        _classify_symbols(b, symbols, info)
        _count_alloc_sites(b, sections, symbols, cls, info)
    if h.e_machine == EM_ARM and info.float_abi is None:
        info.float_abi = "soft"  # no hard-float marking anywhere: the base (soft) AAPCS
    return info


_Section = tuple[
    int, int, int, int, int, int, int, int
]  # name, type, flags, offset, size, link, info, entsize


def _identify(span: Span, where: str) -> tuple[int, bool]:
    """The class (32 or 64) and whether little-endian, from e_ident; or what the file is not."""
    ident = span.read(0, 64)
    if span.length < 52 or ident[:4] != b"\x7fELF":
        raise MlfError(where, "is not an ELF object file")
    cls = {1: 32, 2: 64}.get(ident[4])
    if cls is None or ident[5] not in (1, 2):
        raise MlfError(where, "is an ELF file of unknown class or byte order")
    return cls, ident[5] == 1


def _header(b: _Buf, cls: int) -> _Header:
    # e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize,
    # e_phnum, e_shentsize, e_shnum, e_shstrndx: the addresses and offsets are 64-bit in ELF64.
    fields = b.unpack("HHIIIIIHHHHHH" if cls == 32 else "HHIQQQIHHHHHH", 16)
    e_type, e_machine, _v, _entry, _ph, shoff, flags, _eh, _phes, _phn, shentsize, shnum, shstrndx = fields
    return _Header(e_type, e_machine, flags, shoff, shentsize, shnum, shstrndx)


def _flags_float_abi(flags: int) -> str | None:
    # Linked images carry the float ABI in e_flags; GCC's relocatable objects often do not
    # and say it only in .ARM.attributes (Tag_ABI_VFP_args), read by parse_elf after this.
    if flags & EF_ARM_ABI_FLOAT_HARD:
        return "hard"
    if flags & EF_ARM_ABI_FLOAT_SOFT:
        return "soft"
    return None


def _section_table(b: _Buf, cls: int, h: _Header) -> list[_Section]:
    if h.shnum > 65535 or h.shentsize < (40 if cls == 32 else 64):
        raise b.damaged("bad section table")
    b.count(entries=h.shnum)
    sections = []
    table = b.table(h.shoff, h.shnum * h.shentsize)
    fmt = b.end + ("IIIIIIIIII" if cls == 32 else "IIQQQQIIQQ")
    for i in range(h.shnum):
        name, typ, sflags, _addr, soff, size, link, sinfo, _align, entsize = struct.unpack_from(
            fmt, table, i * h.shentsize
        )
        sections.append((name, typ, sflags, soff, size, link, sinfo, entsize))
    return sections


def _section_names(b: _Buf, sections: list[_Section], shstrndx: int) -> bytes:
    """The section name table (.shstrtab); empty if it has no bytes in the file (SHT_NOBITS)."""
    if shstrndx >= len(sections):
        raise b.damaged("bad section name table index")
    sec = sections[shstrndx]
    return b.slice(sec[3], sec[4]) if sec[1] != SHT_NOBITS else b""


@dataclass
class _Symbols:
    """The symbol table, kept lean: names are decoded only for the symbols reported."""

    strtab: bytes
    #: (name offset, value, size, shndx, info) of every symbol, in table order
    rows: list[tuple[int, int, int, int, int]]
    names: dict[int, str] = field(default_factory=dict)
    name_bytes: int = 0

    def name(self, b: _Buf, index: int) -> str:
        off = self.rows[index][0]
        cached = self.names.get(off)
        if cached is not None:
            return cached
        text = _cstr(self.strtab, off)
        # Names at different offsets may share bytes (a linker stores "add" inside "fused_add");
        # names that start one byte apart in one long string would make the reader hold the
        # square of its length.
        self.name_bytes += len(text)
        if self.name_bytes > 2 * len(self.strtab) + (64 << 10):
            raise b.damaged("symbol names overlap in the string table")
        self.names[off] = text
        return text


def _symbols(b: _Buf, sections: list[_Section], cls: int, shstrndx: int, shstr: bytes) -> _Symbols:
    tables = [sec for sec in sections if sec[1] == SHT_SYMTAB]
    if not tables:
        return _Symbols(b"", [])
    if len(tables) > 1:  # the ELF gABI allows one SHT_SYMTAB per object
        raise b.damaged("more than one symbol table")
    _name, _typ, _f, soff, size, link, _i, entsize = tables[0]
    ent = _SYM_SIZE[cls]
    if entsize not in (0, ent):
        raise b.damaged(f"bad symbol table entry size {entsize}")
    b.count(entries=size // ent)
    if link >= len(sections):
        raise b.damaged("bad symbol string table")
    data = b.slice(soff, size - size % ent)
    # One string table for section and symbol names (as LLVM writes it) is read once.
    strtab = shstr if link == shstrndx else b.slice(sections[link][3], sections[link][4])
    if cls == 32:
        rows = [
            (nm, value, ssize, shndx, sinfo)
            for nm, value, ssize, sinfo, _o, shndx in struct.iter_unpack(b.end + "IIIBBH", data)
        ]
    else:
        rows = [
            (nm, value, ssize, shndx, sinfo)
            for nm, sinfo, _o, shndx, value, ssize in struct.iter_unpack(b.end + "IBBHQQ", data)
        ]
    return _Symbols(strtab, rows)


def _classify_symbols(b: _Buf, symbols: _Symbols, info: ElfInfo) -> None:
    for k, (_nm, _value, _size, shndx, sinfo) in enumerate(symbols.rows):
        bind, styp = sinfo >> 4, sinfo & 0xF
        if bind == 0 or styp in (3, 4):  # local, section, file symbols
            continue
        sym_name = symbols.name(b, k)
        if not sym_name:
            continue
        if shndx == 0:
            info.undefined.add(sym_name)
        else:
            kind = "func" if styp == 2 else "object"
            info.defined[sym_name] = f"weak-{kind}" if bind == 2 else kind


_ALLOCATORS = (b"TVMBackendAllocWorkspace\0", b"__TVMBackendAllocWorkspace\0")


def _count_alloc_sites(b: _Buf, sections: list[_Section], symbols: _Symbols, cls: int, info: ElfInfo) -> None:
    """Count, per function, relocations against TVM's workspace allocator (a bound for objects
    whose source is not available). A relocation belongs to the function of its section whose
    range holds its offset: found by bisection among the functions sorted by address."""
    strtab = symbols.strtab
    targets = {
        k for k, row in enumerate(symbols.rows) if any(strtab.startswith(t, row[0]) for t in _ALLOCATORS)
    }
    if not targets:
        return
    # section index -> (start addresses, (start, size, symbol index)) of its functions; among
    # functions at one address the first in the table wins, as the linker's lookups do.
    funcs: dict[int, tuple[list[int], list[tuple[int, int, int]]]] = {}
    by_section: dict[int, list[tuple[int, int, int]]] = {}
    for k, (_nm, value, size, shndx, sinfo) in enumerate(symbols.rows):
        if sinfo & 0xF == 2 and size > 0:
            by_section.setdefault(shndx, []).append((value, -k, size))
    for shndx, items in by_section.items():
        items.sort()
        funcs[shndx] = ([v for v, _k, _s in items], [(v, s, -k) for v, k, s in items])
    shift = 8 if cls == 32 else 32
    for _n, typ, _f, soff, size, _link, applies_to, entsize in sections:
        if typ not in (SHT_REL, SHT_RELA) or applies_to >= len(sections):
            continue
        if not sections[applies_to][2] & SHF_EXECINSTR:
            continue
        ent = _REL_SIZE[(cls, typ)]
        if entsize not in (0, ent):
            raise b.damaged(f"bad relocation entry size {entsize}")
        b.count(relocations=size // ent)
        data = b.slice(soff, size - size % ent)
        starts, ranges = funcs.get(applies_to, ([], []))
        word = "I" if cls == 32 else "Q"
        fmt = b.end + word * (ent // (4 if cls == 32 else 8))
        for entry in struct.iter_unpack(fmt, data):
            if entry[1] >> shift not in targets:
                continue
            r_off = entry[0]
            i = bisect.bisect_right(starts, r_off) - 1
            owner = "?"
            if i >= 0:
                start, fsize, k = ranges[i]
                if r_off < start + fsize:
                    owner = symbols.name(b, k)
            info.alloc_sites[owner] = info.alloc_sites.get(owner, 0) + 1


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        if shift < 64:  # a longer ULEB is malformed; its bytes are skipped, not summed
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


_AR_SIZE = re.compile(rb"[0-9]+ *")


def object_spans(span: Span, where: str) -> Iterator[Span]:
    """The ELF objects in ``span``: itself, or the members of a System V ``ar`` archive (GNU
    and BSD ``ar`` write the same headers). Members that are not ELF (symbol and name tables)
    are skipped."""
    if span.read(0, 8) != b"!<arch>\n":
        yield span
        return
    pos, count = 8, 0
    while pos + 60 <= span.length:
        header = span.read(pos, 60)
        if header[58:60] != b"`\n" or not _AR_SIZE.fullmatch(header[48:58]):
            raise MlfError(where, "is a damaged ar archive")
        size = int(header[48:58])
        if pos + 60 + size > span.length:
            raise MlfError(where, "is a damaged ar archive (a member runs past the end)")
        count += 1
        if count > MAX_AR_MEMBERS:
            raise MlfError(where, f"is an ar archive of more than {MAX_AR_MEMBERS} members")
        if span.read(pos + 60, 4) == b"\x7fELF":
            yield span.sub(pos + 60, size)
        pos += 60 + size + (size & 1)


@contextmanager
def object_file(path: str) -> Iterator[Span]:
    """A compiled object or static library the build gives (--abi-probe, check-size), read
    where it lies: only its headers are read, however large it is."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # /dev/zero, a FIFO: not an object file
            raise MlfError(path, "is not a regular file")
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise MlfError(path, f"cannot be read ({exc.strerror})") from None
    with f:
        yield Span(f, 0, os.fstat(f.fileno()).st_size)


def first_object(path: str) -> ElfInfo:
    """The first object of a compiled object or archive (a compiler probe), without symbols."""
    with object_file(path) as span:
        for obj in object_spans(span, path):
            return parse_elf(obj, path, want_symbols=False)
    raise MlfError(path, "is an archive without an ELF object")
