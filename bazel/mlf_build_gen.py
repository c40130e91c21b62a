"""The generator as the Bazel rule ``mlf_library`` runs it (a py_binary in the exec configuration).

    mlf_build_gen --units DIR --objcopy-args FILE --file REL... --dir REL... \\
        -- generate MODEL --out=OUT --name=NAME [...]

Everything after ``--`` goes unchanged to ``mlf-build`` (same options, same one-line errors,
same exit code 2). MODEL must be a file: Bazel does not track what a source folder holds, so a
library built from one would not be rebuilt when it changes. Then, for Bazel:

- the output folder is left holding only what the rule declared (``--file``: files, ``--dir``:
  folders, i.e. tree artifacts, created even when empty): ``<t>.stamp``, ``.mlf-lock`` and
  ``.mlf-owned-<t>.json`` (bookkeeping for rebuilds into the same folder) are removed, and a
  file the generator wrote outside the declared ones is an error (the rule and the generator
  have drifted apart);
- ``--units DIR`` receives one translation unit per generated source that lives in a variable
  folder (``codegen/``, ``crt/``): a line ``#include "codegen/<t>__x.c"``. Bazel compiles every
  C file of a tree artifact, and those folders also hold TVM's extracted sources, which must only
  be compiled through their wrappers (exactly as CMake compiles them, from the manifest). The
  rule compiles DIR with ``-iquote OUT``, so each wrapper is included from where it was written
  and its own ``#include "src/..."`` resolves as in the CMake build;
- ``--objcopy-args FILE`` receives ``<t>.objcopy`` with paths usable from Bazel's execution root.

    mlf_build_gen --stdout FILE -- check-size ARCHIVE --name=NAME [--max-flash=N] [--max-ram=N]

runs any other mlf-build command with its standard output written to FILE.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # the runfiles tree is not ours to write into

import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from mlf_build.cli import PROG  # noqa: E402
from mlf_build.cli import main as cli_main  # noqa: E402
from mlf_build.emit.common import banner  # noqa: E402
from mlf_build.naming import c_comment  # noqa: E402
from mlf_build.validate import objcopy_arg  # noqa: E402
from mlf_build.write import owned_record  # noqa: E402


def _fail(message: str) -> int:
    print(f"{PROG}: error: mlf_library: {message}", file=sys.stderr)
    return 2


def _objcopy_args(out: Path, prefix: str) -> str:
    """``<t>.objcopy`` (objcopy's options for the partial link: the symbols to keep global,
    sections to rename) with its file names made relative to the execution root, where Bazel
    runs objcopy (CMake runs it in the output folder)."""
    src = out / f"{prefix}.objcopy"
    lines = src.read_text().splitlines() if src.exists() else [f"--keep-global-symbols={prefix}.syms"]
    fixed = []
    for line in lines:
        opt, eq, value = line.partition("=")
        if eq and opt.endswith("-symbols") and not os.path.isabs(value):
            # The generator's lines need no quoting (checked names); the folder might.
            line = objcopy_arg(f"{opt}={out / value}")
        fixed.append(line)
    return "".join(f"{line}\n" for line in fixed)


def _unit_banner(manifest: dict, rel: str) -> str:
    """The banner of every generated file (emit.common.banner), for the translation unit that
    compiles ``rel``."""
    what = f"Compiles {c_comment(rel)} as a translation unit of its own, for Bazel."
    modules = [m["module"] for m in manifest["modules"]]
    return banner(what, manifest["model"], modules, manifest["format_version"])


def main(argv: list[str]) -> int:
    if "--" not in argv:
        return _fail("usage: mlf_build_gen --units DIR --file REL... --dir REL... -- generate ...")
    split = argv.index("--")
    own, cli_args = argv[:split], argv[split + 1 :]
    units, objcopy_args, stdout, files, dirs = None, None, None, set(), set()
    it = iter(own)
    for arg in it:
        if arg == "--units":
            units = Path(next(it))
        elif arg == "--stdout":
            stdout = Path(next(it))
        elif arg == "--objcopy-args":
            objcopy_args = Path(next(it))
        elif arg == "--file":
            files.add(next(it))
        elif arg == "--dir":
            dirs.add(next(it))
        else:
            return _fail(f"unknown option {arg}")
    if stdout is not None:  # e.g. check-size: its report is the action's output
        with stdout.open("w") as f, contextlib.redirect_stdout(f):
            code = cli_main(cli_args)
        return code
    outs = [a.removeprefix("--out=") for a in cli_args if a.startswith("--out=")]
    if units is None or cli_args[:1] != ["generate"] or len(cli_args) < 2 or len(outs) != 1:
        return _fail("generate MODEL --out=OUT with --units expected")
    if os.path.isdir(cli_args[1]):
        return _fail(
            f"{cli_args[1]}: is a folder; Bazel does not track a source folder's contents, so the "
            "library would not be rebuilt when they change: give the MLF as a tarball (.tar, .tar.gz, .tgz)"
        )

    code = cli_main(cli_args)
    if code != 0:
        return code

    out = Path(outs[0])
    manifests = sorted(out.glob("*_manifest.json"))
    if len(manifests) != 1:
        return _fail(f"expected one manifest in {out}, found {len(manifests)}")
    manifest = json.loads(manifests[0].read_text())
    prefix = manifest["name"]
    for junk in (out / f"{prefix}.stamp", out / ".mlf-lock", owned_record(out, prefix)):
        if junk.exists():
            junk.unlink()

    # Every file must be a declared file or lie in a declared folder (tree artifact).
    for rel in manifest["files"]:
        if rel not in files and rel.split("/", 1)[0] not in dirs:
            return _fail(
                f"the generator wrote {rel}, which this version of the Bazel rule does not "
                "declare; update bazel/mlf_library.bzl"
            )

    if objcopy_args is not None:
        objcopy_args.write_text(_objcopy_args(out, prefix))

    units.mkdir(parents=True, exist_ok=True)
    for rel in manifest["sources"]:
        if "/" not in rel:
            continue  # a declared file, compiled directly
        unit = units / rel
        unit.parent.mkdir(parents=True, exist_ok=True)
        unit.write_text(_unit_banner(manifest, rel) + f'#include "{rel}"\n')
    for rel in dirs:
        os.makedirs(out / rel, exist_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
