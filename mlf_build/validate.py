"""The boundary between untrusted text and what the generator writes: one check per kind of output.

A model archive is third-party input (docs/security.md). Its names, paths and sizes reach C
code, linker scripts, objcopy response files, CMake and Make files; each kind of output has one
function here that either returns the value unchanged, proven safe for that language, or refuses
it with an ``MlfError`` naming the file and the problem. Emitters call these functions on every
value they did not build from constants themselves, so a reader that learns a new way to take a
name from an archive cannot smuggle it past the check.

- ``c_identifier``: a name pasted into C as code (an operator, a struct field, an array).
- ``c_param_type``: a parameter type copied from TVM's C into a prototype.
- ``section_name``: a linker section (objcopy --rename-section, ld scripts, .pushsection).
- ``file_name`` / ``relative_path``: a file the generator writes, or names in a build file.
- ``cmake_quote`` / ``cmake_list_item``: a value in a CMake file (``--cmake-info``).
- ``make_word``: a word in the generated Make fragment.
- ``objcopy_arg``: a line of an objcopy response file (``@file``).
- ``target_size``: a byte count or alignment the generated C gives the target's compiler.
- ``shadowing_header``: a header on the include path that would replace a standard or runtime one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import get_runtime_dir
from .errors import MlfError, printable

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


#: C99/C11 keywords, and C23's new ones, which a compiler in a newer mode rejects as names.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


C_KEYWORDS = _words(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic "
    "_Imaginary _Noreturn _Static_assert _Thread_local alignas alignof bool constexpr false "
    "nullptr static_assert thread_local true typeof typeof_unqual"
)
#: What GNU ld, gas and objcopy take unquoted as a section name (what TVM and compilers use).
_SECTION = re.compile(r"[A-Za-z0-9_.$]+")
#: One component of a path the generator writes or names in a build file. TVM writes only
#: [A-Za-z0-9_.]; '+' and '-' are harmless everywhere (C++ sources, versioned names).
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+\-]*")
#: NAME_MAX of Linux, macOS and Windows file systems.
MAX_FILE_NAME = 255
#: A word of the Make fragment: no space, '$', '#', '%', ':', ';', quote or backslash.
_MAKE_WORD = re.compile(r"[A-Za-z0-9_.+\-/]+")
#: A parameter type as TVM writes it: words and pointer stars (``void*``, ``const int8_t *``).
_PARAM_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\s*(?:[A-Za-z_][A-Za-z0-9_]*|\*))*")


# -- C -------------------------------------------------------------------------------------------
def c_identifier(name: str, where: str, what: str) -> str:
    """``name`` if it is an ASCII C identifier and not a keyword; refuses it otherwise.

    Python's ``\\w`` (what the readers' regular expressions use) also matches non-ASCII letters,
    and ELF symbols may hold any bytes, so no name from the archive is trusted as C before this."""
    if not _IDENT.fullmatch(name) or name in C_KEYWORDS:
        raise MlfError(
            where,
            f"{what} {printable(name)!r} is not a C identifier (ASCII letters, digits and '_', "
            "not starting with a digit, not a keyword)",
        )
    return name


def is_c_identifier(name: str, *, part: bool = False) -> bool:
    """Whether ``name`` is a C identifier; ``part``: a piece of one (``default`` in
    ``tvmgen_default_run``), which may be a keyword."""
    return bool(_IDENT.fullmatch(name)) and (part or name not in C_KEYWORDS)


def c_param_type(text: str, where: str, what: str) -> str:
    """A parameter type read from TVM's C, to be repeated in a prototype: words and '*' only."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
    if not _PARAM_TYPE.fullmatch(text) or any(w in C_KEYWORDS - _TYPE_WORDS for w in words):
        raise MlfError(where, f"{what} has the type {printable(text)!r}, which is not a plain C type")
    return " ".join(text.split())


_TYPE_WORDS = _words("char const double float int long short signed unsigned void volatile bool")


# -- linker sections ---------------------------------------------------------------------------
def section_name(name: str, where: str, what: str = "section") -> str:
    """A section name for objcopy, ld scripts and the assembler: ``[A-Za-z0-9_.$]+``, not
    starting with a digit (GNU ld reads a number there: a syntax error in <t>_weights.ld)."""
    if not _SECTION.fullmatch(name) or name[0].isdigit() or len(name) > MAX_FILE_NAME:
        raise MlfError(
            where,
            f"{what} {printable(name)!r} is not a valid section name (letters, digits, '_', '.' and "
            "'$', not starting with a digit)",
        )
    return name


# -- files ----------------------------------------------------------------------------------------
def file_name(name: str, where: str) -> str:
    """One path component the generator writes or names in a build file."""
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME:
        raise MlfError(
            where,
            f"would be written as {printable(name)!r}, a file name longer than {MAX_FILE_NAME} bytes; "
            "choose a shorter library name",
        )
    if not _FILE_NAME.fullmatch(name):
        raise MlfError(
            where,
            f"has a file name a build cannot use ({printable(name)!r}: generated #include lines, "
            "CMake lists, Make fragments and Bazel labels name it); TVM writes only letters, "
            "digits, '_' and '.'",
        )
    return name


def relative_path(path: str, where: str) -> str:
    """A '/'-separated relative path whose every component passes ``file_name``."""
    for part in path.split("/"):
        file_name(part, where)
    return path


def make_word(word: str, where: str) -> str:
    """A word of a Make variable's value (``<t>.mk``): nothing Make would expand or split."""
    if not _MAKE_WORD.fullmatch(word):
        raise MlfError(where, f"{printable(word)!r} cannot be written into a Make fragment")
    return word


# -- response files and CMake ---------------------------------------------------------------------
def objcopy_arg(arg: str) -> str:
    """One argument of an objcopy ``@file``, exact whatever it holds: libiberty's buildargv (GNU)
    and LLVM's GNU tokenizer split on white space and honour quotes and backslashes, so each of
    those characters gets a backslash."""
    return re.sub(r"([\s'\"\\])", r"\\\1", arg)


def cmake_quote(value: str | bytes) -> bytes:
    """A CMake argument holding exactly ``value`` (str as UTF-8; bytes as they are, for paths in
    the file system's encoding). A bracket argument, made longer until its closing sequence
    first occurs where the value ends (a value ending in ``]=`` needs ``]==]``), with a leading
    newline, which CMake drops after the opening bracket, doubled. CMake also drops the CR of a
    CRLF inside brackets, so a value with a CR is a quoted argument with escapes instead."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if b"\r" in raw:
        for char, escaped in (
            (b"\\", b"\\\\"),
            (b'"', b'\\"'),
            (b"$", b"\\$"),
            (b"\r", b"\\r"),
            (b"\n", b"\\n"),
        ):
            raw = raw.replace(char, escaped)
        return b'"' + raw + b'"'
    eq = b"="
    while (raw + b"]" + eq + b"]").find(b"]" + eq + b"]") != len(raw):
        eq += b"="
    if raw.startswith(b"\n"):
        raw = b"\n" + raw
    return b"[" + eq + b"[" + raw + b"]" + eq + b"]"


def cmake_list_item(value: str, where: str) -> str:
    """An element of a CMake list (what ``foreach(... IN LISTS)`` and an unquoted ``${...}``
    split, and what add_custom_command(DEPENDS) receives): refused when CMake cannot keep it as
    it is. A ';' escaped as ``\\;`` survives one split but not the next (add_custom_command
    stores DEPENDS as a list again), a backslash makes an escape of the next ';', an unbalanced
    '[' or ']' stops or starts the splitting of everything after it, and '$' starts a generator
    expression in DEPENDS (and breaks CMake's Ninja files)."""
    if any(c in value for c in ";\\$") or value.count("[") != value.count("]"):
        raise MlfError(
            where,
            f"{printable(value)!r} cannot be passed to CMake exactly (a ';', '$', a backslash or an "
            "unbalanced '[' or ']'); rename it",
        )
    return value


# -- sizes ----------------------------------------------------------------------------------------
#: Pointer width assumed when the target is unknown: the narrowest supported (Cortex-M).
DEFAULT_POINTER_BITS = 32


def max_object_size(pointer_bits: int) -> int:
    """The largest object the target's compilers accept: PTRDIFF_MAX (GCC and Clang refuse a
    larger array; every size_t value below it is representable)."""
    return (1 << (pointer_bits - 1)) - 1


def target_size(value: int, pointer_bits: int, where: str, what: str) -> int:
    """A byte count or alignment written into generated C or assembler for the target."""
    limit = max_object_size(pointer_bits)
    if not 0 <= value <= limit:
        raise MlfError(
            where,
            f"{what} is {value} bytes, more than a {pointer_bits}-bit target can address in one "
            f"object ({limit})",
        )
    return value


# -- include paths --------------------------------------------------------------------------------
#: Headers of the C library (C89-C23), of POSIX that newlib and glibc provide and TVM's or the
#: runtime's C may include, and of CMSIS-NN, which TVM's cmsis-nn BYOC code includes.
STANDARD_HEADERS = frozenset(
    f"{h}.h"
    for h in _words(
        "assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp signal "
        "stdalign stdarg stdatomic stdbit stdbool stdckdint stddef stdint stdio stdlib "
        "stdnoreturn string tgmath threads time uchar wchar wctype "
        "alloca fcntl malloc memory sched strings unistd endian byteswap pthread "
        # what the standard headers include themselves: glibc's (features.h starts every one of
        # them; stdc-predef.h is pre-included by GCC), newlib's and GCC's ARM intrinsics
        "features features-time64 stdc-predef _ansi newlib _newlib_version ieeefp reent "
        "envlock xlocale arm_acle arm_mve arm_neon arm_fp16 arm_bf16 arm_cmse "
        "arm_math arm_math_types arm_nnfunctions arm_nn_types arm_nn_math_types "
        "arm_nnsupportfunctions cmsis_compiler cmsis_gcc"
    )
)
#: Folders of system headers: anything below them is the platform's.
_SYSTEM_DIRS = ("sys/", "bits/", "gnu/", "machine/", "arpa/", "netinet/", "linux/", "asm/")


@lru_cache(maxsize=1)
def runtime_headers() -> frozenset[str]:
    """Every header of mlf_build's runtime, relative to its include folder (mlf_runtime.h,
    tvm/runtime/c_runtime_api.h, ...): the generated runner compiles against these."""
    root = get_runtime_dir() / "include"
    headers = frozenset(p.relative_to(root).as_posix() for p in root.rglob("*.h"))
    if "mlf_runtime_internal.h" not in headers:  # a packaging error, not bad input
        raise RuntimeError(f"mlf_build's runtime headers are missing from {root}")
    return headers


def shadowing_header(rel: str, allow_tvm: bool = False) -> str | None:
    """What a header at ``rel`` on an include path would hide (a description), or None.
    ``allow_tvm``: the bundled CRT's own tvm/ and dlpack/ headers are meant to replace the
    runtime's copies (RUNTIME tvm_crt)."""
    low = rel.lower()  # case-insensitive file systems (macOS, Windows) find it either way
    if low in STANDARD_HEADERS or low.startswith(_SYSTEM_DIRS):
        return f"the C library's <{rel}>"
    runtime = {h.lower() for h in runtime_headers()}
    if low in runtime and not (allow_tvm and low.startswith(("tvm/", "dlpack/"))):
        return f"mlf_build's runtime header <{rel}>"
    return None
