"""``mlf-build`` command line. Bad input ends with exit code 2 and one line
``mlf-build: error: <file>: <problem>``; a traceback always means a bug in the tool."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from . import __version__, get_cmake_dir
from .archive import DEFAULT_MAX_TOTAL_SIZE
from .errors import MlfError, one_line
from .facts import IoOverride, parse_io_override

PROG = "mlf-build"


def _size(text: str) -> int:
    """A byte count: 1234, 64K, 2M, 1G (binary units)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    mult = units.get(t[-1:], 1)
    digits = t[:-1] if t[-1:] in units else t
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte count (e.g. 65536, 64K, 2M)")
    return int(digits) * mult


def _warn(lines: Sequence[str]) -> None:
    for line in lines:
        print(f"{PROG}: warning: {one_line(line)}", file=sys.stderr)


def _overrides(specs: Sequence[str]) -> dict[str, IoOverride]:
    return dict(parse_io_override(s) for s in specs)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .describe import model_json, model_text
    from .model import load_model

    with load_model(args.path, args.max_size, _overrides(args.io_shape), args.aot_api) as model:
        _warn(model.warnings)
        if args.json:
            print(json.dumps(model_json(model, args.module), indent=2))
        else:
            print(model_text(model, args.module))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from .generate import Options, generate

    opts = Options(
        name=args.name,
        module=args.module,
        runtime=args.runtime,
        workspace=args.workspace,
        align=args.align,
        weights_section=args.weights_section,
        arena_section=args.arena_section,
        max_ram=args.max_ram,
        max_flash=args.max_flash,
        abi_probe=args.abi_probe,
        max_size=args.max_size,
        io_shapes=_overrides(args.io_shape),
        aot_api=args.aot_api,
        all_modules=args.all_modules,
        expect_modules=args.expect_module,
        cmsis_nn=args.cmsis_nn,
        devices=args.device,
    )
    warnings = generate(args.model, args.out, opts, list_only=args.list, cmake_info_path=args.cmake_info)
    if not args.no_warnings:
        _warn(warnings)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .model import load_model
    from .naming import library_prefix
    from .plan import plan_module
    from .report import render_report

    model_path = Path(os.path.realpath(args.model))
    dest = Path(os.path.realpath(args.output))
    if dest == model_path or model_path in dest.parents:
        raise MlfError(
            args.output, f"is the model {args.model} or lies inside it; write the report elsewhere"
        )
    with load_model(args.model, args.max_size, _overrides(args.io_shape), args.aot_api) as model:
        _warn(model.warnings)
        mod = model.module(args.module)
        prefix = library_prefix(args.name) if args.name else None
        text = render_report(model, mod, plan_module(model, mod), Path(args.model).name, prefix)
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MlfError(args.output, f"cannot be written ({exc.strerror or exc})") from None
    return 0


def _cmd_runtime(args: argparse.Namespace) -> int:
    from .generate import copy_runtime

    for rel in copy_runtime(args.out):
        print(rel)
    return 0


def _cmd_check_size(args: argparse.Namespace) -> int:
    from .budget import check_object

    print(check_object(args.object, args.name, args.max_flash, args.max_ram))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Turn TVM Model Library Format (MLF) archives into C libraries.",
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "--cmakedir",
        action="store_true",
        help="print the folder to put in CMAKE_PREFIX_PATH for find_package(mlf_build) and exit",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--max-size",
            type=_size,
            default=DEFAULT_MAX_TOTAL_SIZE,
            metavar="BYTES",
            help="refuse archives whose members add up to more than this (default 2G)",
        )
        sp.add_argument(
            "--io-shape",
            action="append",
            default=[],
            metavar="NAME=DIMS[:DTYPE]",
            help="shape of an input/output the MLF does not record (old AOT exports), e.g. probs=1x4",
        )
        sp.add_argument(
            "--aot-api",
            choices=("packed", "unpacked"),
            help="calling convention of an AOT entry point compiled to an object (LLVM exports): "
            "TVM's default is packed; say unpacked for unpacked-api=1 exports",
        )

    sp = sub.add_parser(
        "inspect", help="describe an MLF", description="Describe an MLF tarball or directory."
    )
    sp.add_argument("path", help="MLF tarball (.tar, .tar.gz, .tgz) or extracted directory")
    sp.add_argument(
        "--json", action="store_true", help="print the description as JSON (docs/inspect-schema.md)"
    )
    sp.add_argument("--module", metavar="NAME", help="only this module (v7 archives can hold several)")
    common(sp)
    sp.set_defaults(func=_cmd_inspect)

    sp = sub.add_parser(
        "generate",
        help="write the C library sources for one model",
        description="Write the header, runner, parameter data and a manifest listing what to compile.",
    )
    sp.add_argument("model", help="MLF tarball or directory")
    sp.add_argument("--name", required=True, help="library name; its C form prefixes the API (<name>_run)")
    sp.add_argument("--out", required=True, help="output folder (only this folder is written)")
    sp.add_argument("--module", metavar="NAME", help="module of a multi-module (v7) archive")
    sp.add_argument(
        "--all-modules",
        action="store_true",
        help="build every module of the archive, with one API per module (<name>_<module>_run)",
    )
    sp.add_argument(
        "--expect-module",
        action="append",
        metavar="NAME",
        help="with --all-modules: a module the archive must hold; repeated, the archive's modules "
        "must be exactly these (how Bazel's all_modules checks the outputs it declared)",
    )
    sp.add_argument(
        "--runtime", choices=("builtin", "tvm_crt"), default="builtin", help="runtime to build against"
    )
    sp.add_argument(
        "--workspace",
        choices=("static", "caller"),
        default="static",
        help="static: the library owns its arena; caller: pass it to <name>_run_with_workspace()",
    )
    sp.add_argument("--align", type=int, default=16, help="alignment of parameters and arena (power of two)")
    sp.add_argument("--weights-section", metavar="SECTION", help="linker section for parameter data")
    sp.add_argument("--arena-section", metavar="SECTION", help="linker section for the static arena")
    sp.add_argument("--max-ram", type=_size, metavar="BYTES", help="fail when the arena exceeds this")
    sp.add_argument(
        "--max-flash",
        type=_size,
        metavar="BYTES",
        help="fail when constant data (parameters, linked weights, constant pools) exceed this",
    )
    sp.add_argument("--abi-probe", metavar="FILE", help="an object or archive built by the target compiler")
    sp.add_argument(
        "--cmsis-nn",
        action="store_true",
        help="the build compiles and links CMSIS-NN, which models compiled with TVM's cmsis-nn "
        "target call (arm_*_s8); without it such models are refused",
    )
    sp.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="NAME",
        help="a device the model runs operators on (struct tvmgen_<m>_devices, e.g. ethos_u), whose "
        "driver the build links; repeated for several",
    )
    sp.add_argument(
        "--list", action="store_true", help="print the files that would be written, write nothing"
    )
    sp.add_argument("--cmake-info", metavar="FILE", help="also write facts for CMake to FILE (with --list)")
    sp.add_argument(
        "--no-warnings",
        action="store_true",
        help="print no warnings (the build runs this after a --cmake-info query that showed them)",
    )
    common(sp)
    sp.set_defaults(func=_cmd_generate)

    sp = sub.add_parser(
        "report",
        help="write an HTML page of where the model's RAM and flash go",
        description="Write one self-contained HTML page: the arena as a memory map (tensors and operator "
        "scratch over the steps of a run, against the liveness bound), flash (operator code, parameters, "
        "glue), RAM, and the inputs and outputs.",
    )
    sp.add_argument("model", help="MLF tarball or directory")
    sp.add_argument("--module", metavar="NAME", help="module of a multi-module (v7) archive")
    sp.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    sp.add_argument("--name", help="name of the library built from it, for the file names the page gives")
    common(sp)
    sp.set_defaults(func=_cmd_report)

    sp = sub.add_parser(
        "runtime",
        help="copy the mlf_build C runtime",
        description="Copy the shared C runtime (compile it once per firmware) into a folder.",
    )
    sp.add_argument("--out", required=True, help="output folder")
    sp.set_defaults(func=_cmd_runtime)

    sp = sub.add_parser(
        "check-size",
        help="check a compiled model library against flash/RAM budgets",
        description="Sum the flash and RAM a relocatable object occupies and check budgets.",
    )
    sp.add_argument("object", help="relocatable object or static library")
    sp.add_argument("--name", required=True, help="library name, for messages")
    sp.add_argument("--max-flash", type=_size, metavar="BYTES")
    sp.add_argument("--max-ram", type=_size, metavar="BYTES")
    sp.set_defaults(func=_cmd_check_size)
    return p


def _tolerant_streams() -> None:
    """Names from an archive may be non-ASCII and paths non-UTF-8: printed to a stream whose
    encoding cannot hold them (LC_ALL=C, PYTHONIOENCODING=ascii, a pipe), they are escaped
    instead of ending the run with a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmakedir:
        print(get_cmake_dir())
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except MlfError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`mlf-build inspect ... | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
