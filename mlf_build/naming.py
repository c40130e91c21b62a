"""Turning names from the model and the build into C: identifiers, macros, string literals."""

from __future__ import annotations

import re

from .errors import MlfError, printable

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Prefixes that generated or runtime code already uses; a library named like this would clash.
_RESERVED_PREFIXES = ("tvmgen_", "tvm_", "mlf_", "__")
_C_KEYWORDS = frozenset(
    {
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
    }
)


def library_prefix(name: str, where: str = "library name") -> str:
    """The C prefix of a generated library (``<t>``): the target name as a C identifier."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if ident and ident[0].isdigit():
        ident = "_" + ident
    if not _IDENT.fullmatch(ident or "-") or not any(c.isalnum() for c in ident):
        raise MlfError(where, f"{printable(name)!r} cannot be turned into a C identifier")
    low = ident.lower()
    if low in _C_KEYWORDS or low.startswith(_RESERVED_PREFIXES) or low in ("tvm", "mlf"):
        raise MlfError(
            where,
            f"{printable(name)!r} would clash with names TVM or mlf_build generate "
            "(avoid the prefixes tvmgen_, tvm_, mlf_ and __); choose another library name",
        )
    return low


def macro_fragment(name: str) -> str:
    """A tensor name as it appears inside a macro name (``signal:0`` -> ``SIGNAL_0``)."""
    frag = re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    return "_" + frag if frag[:1].isdigit() else frag


def check_unique(names: list[str], what: str, where: str) -> None:
    """Distinct tensor names must stay distinct once turned into macro names."""
    seen: dict[str, str] = {}
    for n in names:
        frag = macro_fragment(n)
        if frag in seen and seen[frag] != n:
            raise MlfError(
                where,
                f"{what} names {printable(seen[frag])!r} and {printable(n)!r} both become "
                f"{frag} in C; rename one of them before exporting",
            )
        seen[frag] = n


def c_string(text: str) -> str:
    """A C string literal that reproduces ``text`` byte for byte (UTF-8), whatever it holds."""
    out = ['"']
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F and ch != "?":  # '?' avoids trigraphs
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    out.append('"')
    return "".join(out)


def c_comment(text: str) -> str:
    """Text safe to place inside a /* */ comment on one line."""
    return printable(text, 200).replace("*/", "* /").replace("/*", "/ *")


def is_c_identifier(name: str) -> bool:
    return bool(_IDENT.fullmatch(name))
