"""Turning names from the model and the build into C: identifiers, macros, string literals."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import MlfError, printable
from .validate import C_KEYWORDS, is_c_identifier

# Prefixes that generated or runtime code already uses; a library named like this would clash.
_RESERVED_PREFIXES = ("tvmgen_", "tvm_", "mlf_", "__")


def library_prefix(name: str, where: str = "library name") -> str:
    """The C prefix of a generated library (``<t>``): the target name as a C identifier."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if ident and ident[0].isdigit():
        ident = "_" + ident
    if not any(c.isalnum() for c in ident):  # the rest is an identifier by construction
        raise MlfError(where, f"{printable(name)!r} cannot be turned into a C identifier")
    low = ident.lower()
    if low in C_KEYWORDS or low.startswith(_RESERVED_PREFIXES) or low in ("tvm", "mlf"):
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


def _clash(names: list[str], key: Callable[[str], str]) -> tuple[str, str, str] | None:
    """The first two distinct names with the same key, and the key."""
    seen: dict[str, str] = {}
    for n in names:
        k = key(n)
        if k in seen and seen[k] != n:
            return seen[k], n, k
        seen[k] = n
    return None


def check_unique(names: list[str], what: str, where: str) -> None:
    """Distinct tensor names must stay distinct once turned into macro names."""
    clash = _clash(names, macro_fragment)
    if clash is not None:
        a, b, frag = clash
        raise MlfError(
            where,
            f"{what} names {printable(a)!r} and {printable(b)!r} both become {frag} in C; rename one "
            "of them before exporting",
        )


def tvm_sanitize(name: str) -> str:
    """The C name TVM gives a tensor, pool or device of an AOT model: ``SanitizeName`` replaces
    every byte that is not an ASCII letter or digit with '_' (``std::isalnum`` on each char of
    the UTF-8 string, so "é" gives "__"). Leading digits are kept: a tensor named "0" is
    declared ``void* 0;``, which no C compiler accepts.

    Same rule in every MLF-era TVM: src/relay/backend/name_transforms.cc (v0.8.0-v0.10.0) and
    src/runtime/name_transforms.cc (v0.11.0-v0.18.0). Its callers: interface_c.cc EmitStruct
    (the ``tvmgen_<m>.h`` struct members and, with ToCConstantStyle, ``TVMGEN_<M>_<NAME>_SIZE``
    macros from v0.11), aot_executor_codegen.cc (the inner main's input variables, v0.9+, and
    the devices' names) and source_module.cc GenerateCInterfaceEntrypoint (``inputs->x``)."""
    return "".join(chr(b) if b < 0x80 and chr(b).isalnum() else "_" for b in name.encode("utf-8", "replace"))


def relay_text_name(name: str) -> str:
    """How TVM's Relay printer writes a variable named ``name`` (without the '%'):
    RelayTextPrinter::AllocVar (src/printer/relay_text_printer.cc v0.8.0,
    src/relay/printer/relay_text_printer.cc v0.9.0-v0.18.0) puts a 'v' before names whose first
    byte is not an ASCII letter ("0" -> "v0", "_param_1" -> "v_param_1")."""
    return name if name[:1].isascii() and name[:1].isalpha() else "v" + name


def relay_name_candidates(printed: str) -> list[str]:
    """The names a variable printed as ``printed`` by the Relay printer can have had: itself,
    and without the 'v' AllocVar adds when what follows does not start with an ASCII letter."""
    out = [printed]
    rest = printed[1:]
    if printed.startswith("v") and relay_text_name(rest) == printed:
        out.append(rest)
    return out


def check_tvm_members(names: list[str], what: str, where: str) -> None:
    """Two tensors whose names sanitize alike would be one member of TVM's C interface: TVM
    refuses to export them (interface_c.cc: "Sanitized input tensor name clash"; and
    aot_executor_codegen.cc creates the I/O variables with use_unique_name = false)."""
    clash = _clash(names, tvm_sanitize)
    if clash is not None:
        a, b, member = clash
        raise MlfError(
            where,
            f"{what} names {printable(a)!r} and {printable(b)!r} both become {member} in TVM's C "
            "interface, which TVM refuses (sanitized tensor name clash); rename one and compile again",
        )


def c_member_problem(member: str) -> str | None:
    """Why a struct member TVM declared cannot compile, or None: TVM keeps leading digits and
    does not avoid keywords, so ``void* 0;`` reaches its header."""
    if not is_c_identifier(member, part=True):
        return "is not a C identifier"
    if member in C_KEYWORDS:
        return "is a C keyword"
    return None


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
