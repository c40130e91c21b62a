"""What HIDE_SYMBOLS promises, read back from a built library with readelf: the model's code is
one partially linked object whose only global symbols are the API (<t>.syms), the parameters
and arena (<prefix>_data.c) are archived beside it without going through that link, under
hidden <prefix>__* symbols, and TVM's own names stay local."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Symbol:
    member: str  # the archive member (object file name) defining it
    name: str
    bind: str  # LOCAL, GLOBAL, WEAK
    vis: str  # DEFAULT, HIDDEN, ...


@dataclass(frozen=True)
class Section:
    name: str
    kind: str  # PROGBITS, NOBITS, ...
    size: int


def _readelf(readelf: str, *args: str | Path) -> str:
    return subprocess.run([readelf, *map(str, args)], capture_output=True, text=True, check=True).stdout


def _members(text: str) -> list[tuple[str, str]]:
    """readelf's output split per object: (member name, its part of the output)."""
    parts = re.split(r"^File: \S*?\(([^)]+)\)$", text, flags=re.M)
    if len(parts) == 1:
        return [("", text)]
    return list(zip(parts[1::2], parts[2::2], strict=True))


def defined_symbols(path: Path, readelf: str = "readelf") -> list[Symbol]:
    """Every symbol an object or archive defines (not the undefined ones nor section symbols)."""
    out = []
    for member, text in _members(_readelf(readelf, "-sW", path)):
        # Ndx a number: defined in a section (not UND, not ABS such as FILE symbols).
        for m in re.finditer(r"^\s*\d+:\s+\S+\s+\S+\s+(\w+)\s+(\w+)\s+(\w+)\s+\d+\s+(\S+)$", text, re.M):
            kind, bind, vis, name = m.groups()
            if kind != "SECTION":
                out.append(Symbol(member, name, bind, vis))
    return out


def sections(path: Path, readelf: str = "readelf") -> dict[str, list[Section]]:
    """The sections of an object, or of each member of an archive."""
    out: dict[str, list[Section]] = {}
    row = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\w+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s", re.M)
    for member, text in _members(_readelf(readelf, "-SW", path)):
        found = row.finditer(text)
        out[member] = [Section(m.group(1), m.group(2), int(m.group(3), 16)) for m in found]
    return out


def assert_hidden(archive: Path, api: set[str], prefixes: list[str], readelf: str = "readelf") -> set[str]:
    """The archive's global symbols are the API (default visibility) and, only in the data
    objects, each prefix's <prefix>__* (hidden); TVM's are local. Returns the hidden ones."""
    syms = defined_symbols(archive, readelf)
    data_members = {s.member for s in syms if any(s.name == f"{p}__params" for p in prefixes)}
    data_members |= {s.member for s in syms if any(s.name == f"{p}__arena" for p in prefixes)}
    glob = [s for s in syms if s.bind != "LOCAL"]
    assert {s.name for s in glob if s.vis == "DEFAULT"} == api, glob
    hidden = [s for s in glob if s.vis != "DEFAULT"]
    for s in hidden:
        assert s.vis == "HIDDEN" and s.member in data_members, s
        assert any(s.name.startswith(f"{p}__") for p in prefixes), s
    assert not [s for s in glob if s.name.startswith("tvmgen_")], glob
    assert [s for s in syms if s.name.startswith("tvmgen_")], "no TVM symbols: not a model's archive"
    return {s.name for s in hidden}


def assert_params_outside(
    merged: Path, archive: Path, params_section: str, params_bytes: int, readelf: str = "readelf"
) -> None:
    """The partially linked object (<build>/mlf/<t>_model.o) holds no parameter bytes: no
    <params_section> and no <prefix>__param* symbol; one data object of the archive holds them."""
    (inside,) = sections(merged, readelf).values()
    assert params_section not in {s.name for s in inside}, inside
    assert not [s for s in defined_symbols(merged, readelf) if "__param" in s.name]
    blob = [s for secs in sections(archive, readelf).values() for s in secs if s.name == params_section]
    assert len(blob) == 1 and blob[0].kind == "PROGBITS" and blob[0].size >= params_bytes, blob
