"""The option table (mlf_build/options.py) against every place that spells an option by hand:
generate.Options, cmake/MLFLibrary.cmake, bazel/mlf_library.bzl, zephyr/Kconfig and
zephyr/CMakeLists.txt, docs/cli.md, docs/cmake.md and docs/bazel.md. Likewise the compile flags
and runtime sources (mlf_build/options.py: MODEL_CFLAGS, RUNTIME_CFLAGS, RUNTIME_SOURCES), the
C prefix of a library (Starlark's mlf_c_prefix against naming.library_prefix) and the byte
counts (what CMake and Bazel let through against what the command line reads). No tool but
Python; Bazel's Starlark functions run under Python with Bazel's string model."""

from __future__ import annotations

import dataclasses
import re
import string
from pathlib import Path
from typing import Any

import pytest

from mlf_build import get_runtime_dir
from mlf_build.cli import build_parser
from mlf_build.emit.buildfiles import make_fragment, runtime_mk
from mlf_build.errors import MlfError
from mlf_build.generate import Options
from mlf_build.naming import library_prefix
from mlf_build.options import (
    MODEL_CFLAGS,
    OPTIONS,
    RUNTIME_CFLAGS,
    RUNTIME_SOURCES,
    SIZE_SHAPE,
    Option,
    build_rule_options,
    command_options,
    parse_size,
)

REPO = Path(__file__).resolve().parents[1]
CMAKE = (REPO / "cmake" / "MLFLibrary.cmake").read_text()
BZL = (REPO / "bazel" / "mlf_library.bzl").read_text()
KCONFIG = (REPO / "zephyr" / "Kconfig").read_text()
ZEPHYR_CMAKE = (REPO / "zephyr" / "CMakeLists.txt").read_text()
RULES = build_rule_options()


def _doc(name: str) -> str:
    return (REPO / "docs" / name).read_text()


def _section(text: str, heading: str) -> str:
    """The text of a '## heading' section of a Markdown page, up to the next '## '."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", text))


def _cmake_set(name: str) -> list[str]:
    """The words of ``set(<name> ...)`` in MLFLibrary.cmake (one list, maybe over lines)."""
    m = re.search(rf"set\({name}\s([^)]*)\)", CMAKE)
    assert m, name
    return m.group(1).split()


# ---- generate.Options and the command line ------------------------------------------------------
def test_options_fields():
    """The table's rows copied into generate.Options are exactly its fields, with its defaults."""
    rows = {o.name: o for o in command_options("generate") if o.field}
    fields = {f.name: f for f in dataclasses.fields(Options)}
    assert set(rows) == set(fields)
    for name, row in rows.items():
        f = fields[name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if row.kind == "flag":
            assert default is False, name
        elif row.default is not None and name != "io_shapes":  # parsed into {name: override}
            assert default == row.default, name
        elif f.default is not dataclasses.MISSING:
            assert default is None, name


def test_parser_from_table():
    """Every command's arguments are the table's, and parse to the table's defaults."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for command, sp in sub.choices.items():  # type: ignore[union-attr]
        actions = [a for a in sp._actions if a.dest != "help"]
        rows = command_options(command)
        assert [a.dest for a in actions] == [o.name for o in rows], command
        for a, o in zip(actions, rows, strict=True):
            assert set(a.option_strings) == ({o.cli, o.short} - {None} if o.cli.startswith("-") else set())
            assert (a.choices or ()) == o.choices
            assert a.default == (o.default if o.kind != "flag" else False), o.name


def test_cli_docs():
    """docs/cli.md: each command's synopsis and option table name exactly its flags, and the
    generate table pairs each flag with the add_mlf_library() argument of the table."""
    cli = _doc("cli.md")
    for command in ("inspect", "generate", "report", "runtime", "check-size"):
        text = _section(cli, f"`{command}`")
        synopsis = _flags(text.split("```")[1])
        table = _flags(
            "\n".join(line.split(" | ")[0] for line in text.splitlines() if line.startswith("| `-"))
        )
        options = [o for o in command_options(command) if o.cli.startswith("-")]
        spellings = {f for o in options for f in (o.cli, o.short) if f}
        for listed in (synopsis, table) if table else (synopsis,):
            assert listed <= spellings, command
            for o in options:  # -o FILE or --output FILE
                assert {o.cli, o.short} & listed, (command, o.cli)
    rows = {o.cli: o for o in command_options("generate")}
    for line in _section(cli, "`generate`").splitlines():
        m = re.match(r"\| `(--[a-z-]+)[ =`][^|]*\| ([^|]+) \|", line)
        if m:
            row = rows[m.group(1)]
            cmake = m.group(2).strip()
            if row.cmake:
                assert cmake == f"`{row.cmake.split()[0]}`", row.cli
            else:
                assert not cmake.startswith("`"), row.cli


# ---- CMake -------------------------------------------------------------------------------------
def test_cmake_keywords():
    """add_mlf_library()'s keyword lists, its keyword -> generator option pairs, its choices and
    the defaults a platform sets are the table's."""
    keyed = [o for o in RULES if o.cmake_keyword]
    for arity, var in (("flag", "flags"), ("one", "one_value"), ("multi", "multi_value")):
        assert sorted(_cmake_set(var)) == sorted(o.cmake_keyword for o in keyed if o.cmake_arity == arity), (
            var
        )
    pairs = re.search(r"_mlf_glued_options\(opts ((?:[A-Z_]+:--[a-z-]+\s+)+)", CMAKE).group(1).split()
    for pair in pairs:
        key, flag = pair.split(":")
        assert next(o for o in keyed if o.cmake_keyword == key).cli == flag, pair
    for o in keyed:
        if o.choices:
            assert _cmake_set(f"choices_{o.cmake_keyword}") == list(o.choices)
    platform = re.search(r"foreach\(key ([A-Z_ ]+)\)\n\s+if\(\(NOT DEFINED ARG_", CMAKE).group(1).split()
    assert sorted(platform) == sorted(o.cmake_keyword for o in RULES if o.kconfig)


def _signature(text: str) -> list[str]:
    """The argument spellings of an add_mlf_library(...) signature block."""
    block = text[text.index("add_mlf_library(<target> <model>\n") :]
    block = block[: block.index(")\n") + 1]
    items = re.findall(r"\[([^\]]*(?:\][^\]\s)][^\]]*)*)\]", block)
    return [part.strip() for item in items for part in item.split(" | ")]


def test_cmake_signature():
    """The signature at the top of MLFLibrary.cmake and in docs/cmake.md, and the headings of
    docs/cmake.md, spell every keyword as the table does."""
    expected = sorted(o.cmake for o in RULES if o.cmake_keyword)
    header = "\n".join(line[1:] for line in CMAKE.splitlines() if line.startswith("#"))
    assert sorted(_signature(header)) == expected
    doc = _doc("cmake.md")
    assert sorted(_signature(doc)) == expected
    headings = [h for line in re.findall(r"^### (.*)$", doc, re.M) for h in re.findall(r"`([^`]+)`", line)]
    for o in RULES:
        if o.cmake_keyword:
            assert o.cmake in headings, o.cmake


# ---- Bazel -------------------------------------------------------------------------------------
def _bazel_attrs() -> dict[str, str]:
    """mlf_library's public attributes: name -> the attr.<type>(...) text."""
    rule = BZL[BZL.index("_mlf_library = rule(") :]
    rule = rule[: rule.index("\n)\n")]
    attrs = dict(re.findall(r'^\s+"([a-z]\w*)": (attr\.\w+\(.*\)),$', rule, re.M))
    return {"name": "", "test": "", **attrs}  # the macro's own: the target's name, test


def _starlark_default(o: Option) -> str:
    return f'"{o.default}"' if isinstance(o.default, str) else repr(o.default)


def test_bazel_attrs():
    """mlf_library's attributes, their defaults and values, and the generator option each
    passes, are the table's; docs/bazel.md's table and the rule's docstring pair each with its
    CMake argument."""
    attrs = _bazel_attrs()
    rows = {o.bazel: o for o in RULES if o.bazel}
    assert set(attrs) == set(rows)
    for attr, text in attrs.items():
        o = rows[attr]
        default = re.search(r"default = ([^,)]+)", text)
        if default:
            assert default.group(1) == _starlark_default(o), attr
        values = re.search(r"values = \[([^\]]*)\]", text)
        if values:
            assert [v for v in re.findall(r'"([^"]*)"', values.group(1)) if v] == list(o.choices), attr
    passed = re.findall(r'ctx\.attr\.(\w+)[^\n]*format(?:_each)? = "(--[a-z-]+)=%s"', BZL)
    # devices (a label-keyed dict) passes the checked names of _devices(); all_modules, a list
    # in Bazel, passes --all-modules and each module as --expect-module.
    assert 'args.add_all(devices, format_each = "--device=%s")' in BZL
    values = {o.bazel for o in RULES if o.bazel and o.cli and o.kind != "flag"} - {"name", "src", "devices"}
    assert {a for a, _ in passed} == values | {"all_modules"}
    for attr, flag in passed:
        assert rows[attr].cli == flag or (attr == "all_modules" and flag == "--expect-module"), attr
    documented = re.findall(r"^\| `(\w+)` \| `?([^|`]*)`? \|([^|]*)\|", _doc("bazel.md"), re.M)
    assert {a for a, _, _ in documented} == set(rows)
    for attr, cmake, default in documented:
        o = rows[attr]
        assert cmake == o.cmake.split()[0], attr
        if o.default is not None and o.kind != "list":  # a list's default is the CLI's []
            assert default.strip() == f"`{_starlark_default(o)}`", attr
    docstring = dict(re.findall(r"^        (\w+) = [^#\n]*# ([A-Z_]+):", BZL, re.M))
    assert docstring == {o.bazel: o.cmake_keyword for o in RULES if o.bazel and o.cmake_keyword}


# ---- Zephyr ------------------------------------------------------------------------------------
# Kconfig symbols that are not the default of an add_mlf_library() argument.
KCONFIG_OTHERS = {"MLF_BUILD", "MLF_BUILD_LINKER_FRAGMENTS", "MLF_BUILD_RAM_CHECK", "MLF_BUILD_THREAD_LOCAL"}


def test_kconfig():
    """zephyr/Kconfig holds the table's symbols (a choice: one symbol per value), the Zephyr
    module sets each as the default of its CMake argument, and Kconfig's header names them."""
    symbols = set(re.findall(r"^(?:menuconfig|config|choice) (\w+)$", KCONFIG, re.M))
    ours = [o for o in RULES if o.kconfig and o.kconfig.startswith("MLF_BUILD_")]
    expected = set(KCONFIG_OTHERS)
    for o in ours:
        expected.add(o.kconfig)
        expected |= {f"{o.kconfig}_{c.upper()}" for c in o.choices}
    assert symbols == expected
    for o in RULES:
        if o.kconfig:
            assert f"MLF_BUILD_DEFAULT_{o.cmake_keyword} " in ZEPHYR_CMAKE, o.kconfig
            assert re.search(rf"\bCONFIG_{o.kconfig}\b", ZEPHYR_CMAKE), o.kconfig
    header = re.search(r"add_mlf_library\(\) itself \(([^)]*)\)", KCONFIG.replace("\n# ", " ")).group(1)
    assert sorted(header.split(", ")) == sorted(o.cmake_keyword for o in ours)


# ---- compile flags and runtime sources -----------------------------------------------------------
def _cmake_flags(text: str, target: str) -> list[str]:
    """-std from C_STANDARD/C_EXTENSIONS and the options of target_compile_options(<target> ...)."""
    std = re.search(rf"set_target_properties\({target} PROPERTIES C_STANDARD (\d+)[^)]*C_EXTENSIONS ON", text)
    opts = re.search(rf"target_compile_options\({target} PRIVATE ([^$)]*)", text)
    assert std and opts, target
    return [f"-std=gnu{std.group(1)}", *opts.group(1).split()]


def test_compile_flags():
    """CMake, Bazel and <t>.mk compile model code and the runtime with the table's flags."""
    runtime_cmake = (REPO / "cmake" / "MLFRuntime.cmake").read_text()
    runtime_bazel = (REPO / "mlf_build" / "runtime" / "BUILD.bazel").read_text()
    assert _cmake_flags(runtime_cmake, "mlf_runtime") == list(RUNTIME_CFLAGS)
    copts = re.search(r"copts = \[([^\]]*)\]", runtime_bazel).group(1)
    assert re.findall(r'"([^"]+)"', copts) == list(RUNTIME_CFLAGS)
    # Model code: -fno-lto is per source in CMake (after every target's options).
    assert [*_cmake_flags(CMAKE, r"\${compiled}"), "-fno-lto"] == list(MODEL_CFLAGS)
    assert "APPEND PROPERTY COMPILE_OPTIONS -fno-lto" in CMAKE
    model_copts = re.search(r"_MODEL_COPTS = \[([^\]]*)\]", BZL).group(1)
    assert re.findall(r'"([^"]+)"', model_copts) == list(MODEL_CFLAGS)
    manifest = {
        "name": "n",
        "model": "m.tar",
        "modules": [{"module": "default"}],
        "format_version": 7,
        "sources": [],
        "objects": [],
        "include_dirs": ["."],
        "files": [],
        "workspace_size": 0,
    }
    cflags = re.search(r"N_CFLAGS := (.*)", make_fragment(manifest)).group(1).split()
    assert set(cflags) <= set(MODEL_CFLAGS)


def test_runtime_sources():
    """The runtime's sources: the folder, CMake's mlf_runtime, Bazel's runtime and the runtime's
    Make fragment list the same files."""
    assert sorted(f"src/{p.name}" for p in (get_runtime_dir() / "src").glob("*.c")) == list(RUNTIME_SOURCES)
    cmake = (REPO / "cmake" / "MLFRuntime.cmake").read_text()
    assert re.findall(r'"\$\{_dir\}/(src/[^"]+\.c)"', cmake) == list(RUNTIME_SOURCES)
    bazel = (REPO / "mlf_build" / "runtime" / "BUILD.bazel").read_text()
    srcs = re.search(r"srcs = \[([^\]]*)\]", bazel).group(1)
    assert re.findall(r'"(src/[^"]+\.c)"', srcs) == list(RUNTIME_SOURCES)
    assert re.findall(r"\$\(MLF_RUNTIME_DIR\)/(src/\S+\.c)", runtime_mk()) == list(RUNTIME_SOURCES)


# ---- Starlark against Python ---------------------------------------------------------------------
class _BazelStr(str):
    """A string as Bazel's Starlark holds one: the UTF-8 bytes of the BUILD file, each a char."""

    def elems(self) -> list[str]:
        return list(self)


def _starlark(name: str, *helpers: str) -> Any:
    """The top-level def ``name`` of mlf_library.bzl, run by Python (with its constants and the
    defs ``helpers`` it calls)."""
    namespace: dict[str, Any] = {}
    for const in re.findall(r"^(_[A-Z_]+ = .*)$", BZL, re.M):
        exec(const, namespace)
    for fn in (*helpers, name):
        exec(re.search(rf"^def {fn}\(.*?(?=^\S)", BZL, re.M | re.S).group(0), namespace)
    return namespace[name]


def _bazel(text: str) -> _BazelStr:
    return _BazelStr(text.encode("utf-8").decode("latin-1"))


HOSTILE_NAMES = [
    "net", "Net", "my-net", "kws.v2", "a+b", "_x", "9lives", "0", "x" * 300, "a b", "a\tb", "a\nb",
    "é", "naïve", "日本", "x\u200by", "a\x00b", "$(rm -rf)", "a;b", "a\\b", "\"q\"", "'q'", "a/b", "../x",
    "__net", "tvm", "mlf_x", "int", "_", "-", ".", "a.", "Z9", "ab_CD-ef.gh+ij",
    *(f"net_{c}" for c in string.printable),
]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_c_prefix_starlark_python(name):
    """mlf_c_prefix (Bazel, which declares the files) and library_prefix (the generator, which
    writes them) give every name the same C prefix; where the generator refuses the name,
    Starlark's prefix is still a C identifier, and the generator's error ends the build."""
    starlark = _starlark("mlf_c_prefix", "_c_char")(_bazel(name))
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", starlark) or starlark == ""
    try:
        python = library_prefix(name)
    except MlfError:
        return
    assert starlark == python


SIZES = [
    "0", "1", "65536", "64K", "64k", "2M", "2m", "1G", "1g", "18446744073709551616", "9" * 40 + "G",
    "", " ", "K", "64 K", " 64K", "64K ", "64KB", "64KiB", "64kb", "64B", "64T", "1.5M", "-1", "+1",
    "0x10", "1e3", "64KK", "１２", "٣", "²", "64K\n", "6_4", "64;K",
]  # fmt: skip


@pytest.mark.parametrize("text", SIZES)
def test_byte_counts(text):
    """MAX_RAM / MAX_FLASH: CMake's check (SIZE_SHAPE) and Bazel's (_is_size) let through the
    same texts, and the command line reads each of them as digits times the binary unit. The
    command line reads a few spellings more (64KB, 64KiB), which the rules refuse."""
    cmake = re.search(r"\^\[0-9\]\+\[KkMmGg\]\?\$", CMAKE)
    assert cmake, "MLFLibrary.cmake checks MAX_RAM/MAX_FLASH with options.SIZE_SHAPE"
    ok = re.fullmatch(SIZE_SHAPE.strip("^$"), text, re.ASCII) is not None and "\n" not in text
    assert _starlark("_is_size")(_bazel(text)) == ok
    if ok:
        unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1].upper(), 1)
        assert parse_size(text) == int(text.rstrip("KkMmGg")) * unit


def test_table_rows():
    """Each row is well-formed: a known kind, a one-line doc, choices only for choices."""
    for o in OPTIONS:
        assert o.kind in ("text", "int", "bytes", "choice", "flag", "list"), o
        assert "\n" not in o.doc
        assert bool(o.choices) == (o.kind == "choice"), o
