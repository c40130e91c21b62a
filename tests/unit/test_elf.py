"""elf.py: the ELF and ar reading that classifies TVM's LLVM objects and the ABI probe."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from mlf_build.errors import MlfError
from mlf_build.read.elf import EF_ARM_ABI_FLOAT_HARD, Span, first_object, object_spans, parse_elf
from tests.mlf_factory import elf_object


def _elf32_arm(flags: int) -> bytes:
    """An ELF32 ARM header with no sections: e_flags alone say the float ABI (linked images)."""
    header = bytearray(52)
    header[:7] = b"\x7fELF\x01\x01\x01"
    struct.pack_into("<HHIIIIIHHHHHH", header, 16, 1, 40, 1, 0, 0, 0, flags, 52, 0, 0, 40, 0, 0)
    return bytes(header)


def _ar(*members: tuple[bytes, bytes]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) * 2 + b"644".ljust(8))
        out.append(str(len(data)).encode().ljust(10) + b"`\n" + data + (b"\n" if len(data) & 1 else b""))
    return b"".join(out)


def test_symbols_class_and_machine_of_an_object() -> None:
    info = parse_elf(elf_object([b"tvmgen_default_fused_add", b"tvmgen_default_run"]), "lib0.o")
    assert (info.elf_class, info.little_endian, info.machine) == (64, True, "x86_64")
    assert info.defined == {"tvmgen_default_fused_add": "func", "tvmgen_default_run": "func"}
    assert info.float_abi is None  # no notion of it outside ARM
    assert info.abi == "x86_64/elf64"
    assert ".symtab" in [s[0] for s in info.sections]


def test_symbols_are_skipped_when_not_wanted() -> None:
    info = parse_elf(elf_object([b"f"]), "probe.o", want_symbols=False)
    assert info.defined == {} and info.machine == "x86_64"


@pytest.mark.parametrize(("flags", "abi"), [(EF_ARM_ABI_FLOAT_HARD, "hard"), (0, "soft")])
def test_arm_float_abi_from_e_flags_or_the_base_aapcs(flags: int, abi: str) -> None:
    info = parse_elf(_elf32_arm(flags), "probe.o")
    assert (info.machine, info.elf_class, info.float_abi) == ("arm", 32, abi)
    assert info.abi == f"arm/elf32/{abi}-float"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not an elf at all, but long enough to be one if it were" * 2, "is not an ELF object file"),
        (b"\x7fELF\x03\x01" + bytes(60), "unknown class or byte order"),
        (elf_object([b"f"])[:200], "is a damaged ELF file"),  # section table cut off
    ],
)
def test_damaged_or_foreign_files_are_one_error(data: bytes, problem: str) -> None:
    with pytest.raises(MlfError, match=problem):
        parse_elf(data, "lib0.o")


def _members(data: bytes, where: str) -> list[bytes]:
    return [m.read(0, m.length) for m in object_spans(Span(data), where)]


def test_ar_archive_members_that_are_elf(tmp_path: Path) -> None:
    obj = elf_object([b"f"])
    data = _ar((b"/", b"\0\0\0\0"), (b"a.o/", obj), (b"notes.txt/", b"odd"))
    assert _members(data, "libx.a") == [obj]
    assert _members(obj, "x.o") == [obj]  # a plain object is its own member
    lib = tmp_path / "libx.a"
    lib.write_bytes(data)
    assert first_object(str(lib)).machine == parse_elf(obj, "a.o").machine


def test_ar_archive_without_objects_or_damaged(tmp_path: Path) -> None:
    lib = tmp_path / "libx.a"
    lib.write_bytes(_ar((b"notes.txt/", b"text")))
    with pytest.raises(MlfError, match="is an archive without an ELF object"):
        first_object(str(lib))
    with pytest.raises(MlfError, match="is a damaged ar archive"):
        _members(b"!<arch>\n" + b"x" * 48 + b"size??????" + b"`\n", "libx.a")
    # a size that is not plain decimal, or a member past the end: refused, never a loop
    with pytest.raises(MlfError, match="is a damaged ar archive"):
        _members(b"!<arch>\n" + b"a.o/".ljust(48) + b"-60".ljust(10) + b"`\n", "libx.a")
    with pytest.raises(MlfError, match="runs past the end"):
        _members(b"!<arch>\n" + b"a.o/".ljust(48) + b"9999".ljust(10) + b"`\n", "libx.a")
