"""``mlf-build`` command line. Bad input ends with exit code 2 and one line
``mlf-build: error: <file>: <problem>``; a traceback always means a bug in the tool."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from . import __version__, get_cmake_dir
from .errors import MlfError, one_line
from .options import add_arguments, generate_fields
from .read.facts import IoOverride, parse_io_override

PROG = "mlf-build"


def _warn(lines: Sequence[str]) -> None:
    for line in lines:
        print(f"{PROG}: warning: {one_line(line)}", file=sys.stderr)


def _overrides(specs: Sequence[str]) -> dict[str, IoOverride]:
    return dict(parse_io_override(s) for s in specs)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .describe import model_json, model_text
    from .read.model import load_model

    with load_model(args.path, args.max_size, _overrides(args.io_shapes), args.aot_api) as model:
        _warn(model.warnings)
        if args.json:
            print(json.dumps(model_json(model, args.module), indent=2))
        else:
            print(model_text(model, args.module))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from .generate import Options, generate

    opts = Options(**{**generate_fields(args), "io_shapes": _overrides(args.io_shapes)})
    warnings = generate(args.model, args.out, opts, list_only=args.list, cmake_info_path=args.cmake_info)
    if not args.no_warnings:
        _warn(warnings)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .naming import library_prefix
    from .plan.plan import plan_module
    from .read.model import load_model
    from .report import render_report

    model_path = Path(os.path.realpath(args.model))
    dest = Path(os.path.realpath(args.output))
    if dest == model_path or model_path in dest.parents:
        raise MlfError(
            args.output, f"is the model {args.model} or lies inside it; write the report elsewhere"
        )
    with load_model(args.model, args.max_size, _overrides(args.io_shapes), args.aot_api) as model:
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


# The commands: name, one-line help, description and what runs them. Their arguments are the
# rows of options.OPTIONS that list the command.
_COMMANDS = (
    ("inspect", "describe an MLF", "Describe an MLF tarball or directory.", _cmd_inspect),
    (
        "generate",
        "write the C library sources for one model",
        "Write the header, runner, parameter data and a manifest listing what to compile.",
        _cmd_generate,
    ),
    (
        "report",
        "write an HTML page of where the model's RAM and flash go",
        "Write one self-contained HTML page: the arena as a memory map (tensors and operator "
        "scratch over the steps of a run, against the liveness bound), flash (operator code, "
        "parameters, glue), RAM, and the inputs and outputs.",
        _cmd_report,
    ),
    (
        "runtime",
        "copy the mlf_build C runtime",
        "Copy the shared C runtime (compile it once per firmware) into a folder.",
        _cmd_runtime,
    ),
    (
        "check-size",
        "check a compiled model library against flash/RAM budgets",
        "Sum the flash and RAM a relocatable object occupies and check budgets.",
        _cmd_check_size,
    ),
)


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
    for name, help_, description, func in _COMMANDS:
        sp = sub.add_parser(name, help=help_, description=description)
        add_arguments(sp, name)
        sp.set_defaults(func=func)
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
        status = int(args.func(args))
        sys.stdout.flush()  # a full disk or a closed reader is reported here, not at exit
        return status
    except MlfError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`mlf-build inspect ... | head`): not an error of ours.
        _drop_stdout()
        return 141
    except OSError as exc:
        if exc.filename is not None:
            raise  # a file's error that the command did not turn into an MlfError: a bug
        # Writing the standard output failed (`inspect --json > /dev/full`).
        _drop_stdout()
        print(f"{PROG}: error: <stdout>: cannot be written ({exc.strerror})", file=sys.stderr)
        return 2


def _drop_stdout() -> None:
    """Send what is still buffered for stdout to /dev/null, so that the interpreter's last flush
    does not fail again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
