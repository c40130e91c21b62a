"""Every option of mlf_build, once: its command-line flag, its ``add_mlf_library()`` keyword, its
``mlf_library`` attribute, its Zephyr Kconfig symbol and its one-line help.

The command line is built from this table (``cli.build_parser``), and so is the copy of the
parsed arguments into ``generate.Options`` (``generate_fields``). The build rules cannot import
Python, so they spell the options themselves; tests/test_options.py fails when
cmake/MLFLibrary.cmake, bazel/mlf_library.bzl, zephyr/Kconfig, zephyr/CMakeLists.txt or
docs/cli.md, docs/cmake.md, docs/bazel.md disagree with this table (as tests/test_bazel.py checks
bazel/outputs.bzl against ``generate --list``).

Byte counts are parsed here only (``parse_size``): CMake and Bazel check their shape (digits
and an optional K, M or G, :data:`SIZE_SHAPE`) and pass the user's text through unchanged.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from .read.archive import DEFAULT_MAX_TOTAL_SIZE

# What CMake (_mlf_check_value) and Bazel (_check_size) let through as MAX_RAM / MAX_FLASH: a
# subset of what parse_size reads, written there as a regex and as Starlark. No layer but
# parse_size turns the text into a number (CMake's math() would wrap at 2^63).
SIZE_SHAPE = r"^[0-9]+[KkMmGg]?$"

_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """A byte count: 1234, 64K, 2M, 1G, also 64KB and 64KiB (binary units, any case)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    mult = _UNITS.get(t[-1:], 1)
    digits = t[:-1] if t[-1:] in _UNITS else t
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte count (e.g. 65536, 64K, 2M)")
    return int(digits) * mult


# How model code and the runtime are compiled, the same in every build (CMake writes -std=gnu99
# as C_STANDARD 99 with C_EXTENSIONS ON, and adds -fno-lto per source). GNU C99: the .incbin of
# the parameters is an asm statement. Not LTO: the .incbin resolves only when the object is
# assembled, and the partial link and objcopy of HIDE_SYMBOLS need real code, not compiler IR.
RUNTIME_CFLAGS = ("-std=gnu99", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections")
MODEL_CFLAGS = (*RUNTIME_CFLAGS, "-fno-lto")
# <t>.mk: what the code needs; warnings and LTO are left to the including Makefile.
MAKE_CFLAGS = ("-std=gnu99", "-ffunction-sections", "-fdata-sections")

# The runtime every model library links (mlf_build/runtime/src), relative to the runtime folder.
RUNTIME_SOURCES = ("src/mlf_arena.c", "src/mlf_graph.c", "src/mlf_tvm_abi.c", "src/mlf_tvm_backend.c")

# argparse names the converter in its error ("invalid int value"): the type itself for ints.
_CONVERT: dict[str, Any] = {"int": int, "bytes": parse_size}


@dataclass(frozen=True)
class Option:
    """One option, as each front end spells it (None: that front end does not have it).

    ``kind``: ``text``, ``int``, ``bytes`` (a byte count), ``choice``, ``flag`` (on or off) or
    ``list`` (repeated). ``cli`` is the flag (or the positional argument's name), ``cmake`` the
    keyword as add_mlf_library()'s signature writes it (``MAX_RAM <bytes>``; ``...`` ends a
    list, a bare keyword is a flag, ``<target>`` and ``<model>`` are positional), ``bazel`` the
    attribute, ``kconfig`` the Zephyr symbol (without ``CONFIG_``) that sets the CMake default.
    ``field``: a field of generate.Options, copied from the parsed command line."""

    name: str
    kind: str
    doc: str
    cli: str | None = None
    cmake: str | None = None
    bazel: str | None = None
    kconfig: str | None = None
    commands: tuple[str, ...] = ("generate",)
    choices: tuple[str, ...] = ()
    default: Any = None
    metavar: str | None = None
    short: str | None = None
    required: bool = False
    field: bool = True

    @property
    def cmake_keyword(self) -> str | None:
        """The keyword alone (``MAX_RAM``); None for the positional ``<target>`` / ``<model>``."""
        if self.cmake is None or self.cmake.startswith("<"):
            return None
        return self.cmake.split()[0]

    @property
    def cmake_arity(self) -> str:
        """``flag``, ``one`` or ``multi``: which of cmake_parse_arguments' lists holds it."""
        assert self.cmake is not None
        if " " not in self.cmake:
            return "flag"
        return "multi" if self.cmake.endswith("...") else "one"


_ALL = ("inspect", "generate", "report")

OPTIONS: tuple[Option, ...] = (
    # The model and the library: positional on the command line and in CMake, src/name in Bazel.
    Option("path", "text", "MLF tarball (.tar, .tar.gz, .tgz) or extracted directory", cli="path",
           commands=("inspect",), field=False),
    Option("model", "text", "MLF tarball or directory", cli="model", cmake="<model>", bazel="src",
           commands=("generate", "report"), field=False),
    Option("object", "text", "relocatable object or static library", cli="object",
           commands=("check-size",), field=False),
    Option("json", "flag", "print the description as JSON (docs/inspect-schema.md)", cli="--json",
           commands=("inspect",), field=False),
    Option("module", "text", "only this module (v7 archives can hold several)", cli="--module",
           commands=("inspect",), metavar="NAME", field=False),
    Option("name", "text", "library name; its C form prefixes the API (<name>_run)", cli="--name",
           cmake="<target>", bazel="name", required=True),
    Option("out", "text", "output folder (only this folder is written)", cli="--out",
           cmake="OUTPUT_DIR <dir>", required=True, field=False),
    Option("module", "text", "module of a multi-module (v7) archive", cli="--module",
           cmake="MODULE <name>", bazel="module", commands=("generate", "report"), metavar="NAME"),
    Option("all_modules", "flag",
           "build every module of the archive, with one API per module (<name>_<module>_run)",
           cli="--all-modules", cmake="ALL_MODULES", bazel="all_modules"),
    Option("expect_modules", "list",
           "with --all-modules: a module the archive must hold; repeated, the archive's modules "
           "must be exactly these (how Bazel's all_modules checks the outputs it declared)",
           cli="--expect-module", metavar="NAME"),  # Bazel's all_modules passes it too
    Option("runtime", "choice", "runtime to build against", cli="--runtime", cmake="RUNTIME builtin|tvm_crt",
           bazel="runtime", kconfig="MLF_BUILD_RUNTIME", choices=("builtin", "tvm_crt"), default="builtin"),
    Option("workspace", "choice",
           "static: the library owns its arena; caller: pass it to <name>_run_with_workspace()",
           cli="--workspace", cmake="WORKSPACE static|caller", bazel="workspace",
           choices=("static", "caller"), default="static"),
    Option("align", "int", "alignment of parameters and arena (power of two)", cli="--align",
           cmake="ALIGN <bytes>", bazel="align", default=16),
    Option("weights_section", "text", "linker section for parameter data", cli="--weights-section",
           cmake="WEIGHTS_SECTION <section>", bazel="weights_section", kconfig="MLF_BUILD_WEIGHTS_SECTION",
           metavar="SECTION"),
    Option("arena_section", "text", "linker section for the static arena", cli="--arena-section",
           cmake="ARENA_SECTION <section>", bazel="arena_section", kconfig="MLF_BUILD_ARENA_SECTION",
           metavar="SECTION"),
    Option("max_ram", "bytes", "fail when the arena exceeds this", cli="--max-ram", cmake="MAX_RAM <bytes>",
           bazel="max_ram", metavar="BYTES"),
    Option("max_flash", "bytes",
           "fail when constant data (parameters, linked weights, constant pools) exceed this",
           cli="--max-flash", cmake="MAX_FLASH <bytes>", bazel="max_flash", metavar="BYTES"),
    Option("abi_probe", "text", "an object or archive built by the target compiler", cli="--abi-probe",
           metavar="FILE"),
    Option("cmsis_nn", "flag",
           "the build compiles and links CMSIS-NN, which models compiled with TVM's cmsis-nn "
           "target call (arm_*_s8); without it such models are refused",
           cli="--cmsis-nn", cmake="CMSIS_NN <folder>|<target>", bazel="cmsis_nn", kconfig="CMSIS_NN"),
    Option("devices", "list",
           "a device the model runs operators on (struct tvmgen_<m>_devices, e.g. ethos_u), whose "
           "driver the build links; repeated for several",
           cli="--device", cmake="DEVICES <device>=<driver target>...", bazel="devices", default=[],
           metavar="NAME"),
    Option("list", "flag", "print the files that would be written, write nothing", cli="--list",
           field=False),
    Option("cmake_info", "text", "also write facts for CMake to FILE (with --list)", cli="--cmake-info",
           metavar="FILE", field=False),
    Option("no_warnings", "flag",
           "print no warnings (the build runs this after a --cmake-info query that showed them)",
           cli="--no-warnings", field=False),
    # Build-rule options: what the rule does with the compiled code, not generation.
    Option("hide_symbols", "flag", "link the model into one object whose only globals are its API",
           cmake="HIDE_SYMBOLS ON|OFF", bazel="hide_symbols", default=True, field=False),
    Option("link_libraries", "list", "other libraries the generated code needs",
           cmake="LINK_LIBRARIES <item>...", bazel="deps", field=False),
    Option("test", "flag", "also a smoke test running the model once", cmake="TEST", bazel="test",
           default=False, field=False),
    # report
    Option("output", "text", "the HTML file to write", cli="--output", short="-o", commands=("report",),
           metavar="FILE", required=True, field=False),
    Option("name", "text", "name of the library built from it, for the file names the page gives",
           cli="--name", commands=("report",), field=False),
    # runtime
    Option("out", "text", "output folder", cli="--out", commands=("runtime",), required=True, field=False),
    # check-size: the budgets of the compiled library (the CMake/Bazel rows are generate's).
    Option("name", "text", "library name, for messages", cli="--name", commands=("check-size",),
           required=True, field=False),
    Option("max_flash", "bytes", "", cli="--max-flash", commands=("check-size",), metavar="BYTES",
           field=False),
    Option("max_ram", "bytes", "", cli="--max-ram", commands=("check-size",), metavar="BYTES",
           field=False),
    # Options of every command that reads an archive.
    Option("max_size", "bytes", "refuse archives whose members add up to more than this (default 2G)",
           cli="--max-size", commands=_ALL, default=DEFAULT_MAX_TOTAL_SIZE, metavar="BYTES"),
    Option("io_shapes", "list",
           "shape of an input/output the MLF does not record (old AOT exports), e.g. probs=1x4",
           cli="--io-shape", cmake="IO_SHAPES <name>=<dims>[:<dtype>]...", bazel="io_shapes", commands=_ALL,
           default=[], metavar="NAME=DIMS[:DTYPE]"),
    Option("aot_api", "choice",
           "calling convention of an AOT entry point compiled to an object (LLVM exports): "
           "TVM's default is packed; say unpacked for unpacked-api=1 exports",
           cli="--aot-api", cmake="AOT_API packed|unpacked", bazel="aot_api", commands=_ALL,
           choices=("packed", "unpacked")),
)  # fmt: skip


def command_options(command: str) -> list[Option]:
    """The options of one ``mlf-build`` command, in the order its --help lists them."""
    return [o for o in OPTIONS if o.cli is not None and command in o.commands]


def build_rule_options() -> list[Option]:
    """One row per option of add_mlf_library() / mlf_library (generate's, where a name repeats)."""
    seen: dict[str, Option] = {}
    for o in OPTIONS:
        if (o.cmake or o.bazel) and o.name not in seen:
            seen[o.name] = o
    return list(seen.values())


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The table's arguments of ``command`` on its subparser."""
    for o in command_options(command):
        assert o.cli is not None
        if not o.cli.startswith("-"):
            parser.add_argument(o.cli, help=o.doc)
            continue
        kw: dict[str, Any] = {"help": o.doc or None}
        if o.kind == "flag":
            kw["action"] = "store_true"
        else:
            if o.kind == "list":
                kw["action"] = "append"
            if o.kind in _CONVERT:
                kw["type"] = _CONVERT[o.kind]
            if o.choices:
                kw["choices"] = o.choices
            if o.metavar:
                kw["metavar"] = o.metavar
            if o.required:
                kw["required"] = True
        if o.default is not None and o.kind != "flag":
            kw["default"] = o.default
        names = [o.short, o.cli] if o.short else [o.cli]
        parser.add_argument(*names, dest=o.name, **kw)


def generate_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed arguments of ``generate`` that are fields of generate.Options, by field name."""
    return {o.name: getattr(args, o.name) for o in command_options("generate") if o.field}
