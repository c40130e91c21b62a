"""Golden files: what ``mlf-build generate`` writes for three models, kept in the repository so
that a change to generated code is a diff a reviewer reads.

Each case is a model and the ``generate`` arguments it is built with; ``tests/golden/<case>/``
holds the files that run writes, byte for byte, except:

- files copied out of the archive (TVM's sources and headers under ``codegen/src``,
  ``codegen/include``, ``codegen/lib``, the bundled CRT under ``crt/src`` and ``crt/include``,
  and ``<t>_params.bin``): they are the model's bytes, not the generator's, and the manifest
  golden lists them, so a file added or dropped still shows;
- the generator's bookkeeping (``.mlf-lock``, ``.mlf-owned-<t>.json``, ``<t>.stamp``).

The version: every occurrence of ``mlf_build <__version__>`` (banners, the manifest's
``generator``, the report's footer) is stored as ``mlf_build @VERSION@``, so that a release
bump rewrites no golden; tests/test_version.py keeps the version itself consistent.

Refresh after an intended change, then review ``git diff tests/golden``::

    python -m tests.golden --update     # rewrite every case
    python -m tests.golden              # compare only (what tests/golden/test_golden.py does)
"""

from __future__ import annotations

import difflib
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
UPDATE_COMMAND = "python -m tests.golden --update"

#: The version as goldens store it (see the module docstring).
VERSION_PLACEHOLDER = b"mlf_build @VERSION@"
#: Copied from the archive, not generated (folder prefixes and file-name endings).
COPIED_FOLDERS = ("codegen/src/", "codegen/include/", "codegen/lib/", "crt/src/", "crt/include/")
COPIED_SUFFIXES = ("_params.bin",)
BOOKKEEPING_PREFIXES = (".mlf-",)
BOOKKEEPING_SUFFIXES = (".stamp",)


@dataclass(frozen=True)
class Case:
    name: str
    #: the model to build: writes it into the given folder (or returns a file of the repository)
    model: Callable[[Path], Path]
    args: tuple[str, ...]

    @property
    def folder(self) -> Path:
        return GOLDEN / self.name


def _example(_tmp: Path) -> Path:
    return REPO / "examples" / "model" / "waveform.tar"


def _fixture(layout: str) -> Callable[[Path], Path]:
    def export(tmp: Path) -> Path:
        from tests import fixtures

        return fixtures.export(layout, tmp)

    return export


CASES: tuple[Case, ...] = (
    # The bundled example as examples/cmake-qemu builds it (add_mlf_library(waveform ...)).
    Case("example-waveform", _example, ("--name", "waveform")),
    # A graph fixture with two inputs named by PyTorch ("input0", "x.3") and typed Relay, with
    # custom sections: the linker fragments and the objcopy renames are generated too.
    Case(
        "graph-v6-pytorch",
        _fixture("v6-graph-pytorch"),
        ("--name", "mixer", "--weights-section", ".rodata.mixer_weights", "--arena-section", ".bss.mixer"),
    ),
    # An AOT fixture, C interface, USMP pools and TFLite tensor names ("serving_default_a:0"),
    # with the caller's arena.
    Case(
        "aot-v6-c-usmp-tflite", _fixture("v6-aot-c-usmp-tflite"), ("--name", "kws", "--workspace", "caller")
    ),
)


def is_golden(rel: str) -> bool:
    """Whether an output file (relative path) is compared: generated, not copied or bookkeeping."""
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith(COPIED_FOLDERS) or name.endswith(COPIED_SUFFIXES):
        return False
    return not (name.startswith(BOOKKEEPING_PREFIXES) or name.endswith(BOOKKEEPING_SUFFIXES))


def normalise(data: bytes) -> bytes:
    from mlf_build import __version__

    return data.replace(f"mlf_build {__version__}".encode(), VERSION_PLACEHOLDER)


def generate(case: Case, work: Path) -> dict[str, bytes]:
    """Run ``mlf-build generate`` (in-process, the real entry point) for ``case`` in ``work``
    and return the compared files, normalised."""
    from tests.conftest import run_cli

    model_dir, out = work / "model", work / "out"
    model_dir.mkdir()
    model = case.model(model_dir)
    result = run_cli(["generate", str(model), "--out", str(out), *case.args])
    if result.code != 0:
        raise RuntimeError(f"{case.name}: mlf-build generate failed: {result.err.strip()}")
    files = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and is_golden(rel):
            files[rel] = normalise(p.read_bytes())
    return files


def stored(case: Case) -> dict[str, bytes]:
    if not case.folder.is_dir():
        return {}
    return {
        p.relative_to(case.folder).as_posix(): p.read_bytes()
        for p in sorted(case.folder.rglob("*"))
        if p.is_file()
    }


def differences(case: Case, files: dict[str, bytes], limit: int = 40) -> list[str]:
    """What differs between ``files`` and the stored golden, as lines for a message: missing
    and unexpected files, and the start of a unified diff of each changed one."""
    want = stored(case)
    lines = []
    for rel in sorted(set(want) - set(files)):
        lines.append(f"{case.name}/{rel}: in the golden, no longer generated")
    for rel in sorted(set(files) - set(want)):
        lines.append(f"{case.name}/{rel}: generated, not in the golden")
    for rel in sorted(set(files) & set(want)):
        if files[rel] == want[rel]:
            continue
        diff = difflib.unified_diff(
            want[rel].decode("utf-8", "replace").splitlines(),
            files[rel].decode("utf-8", "replace").splitlines(),
            f"golden/{case.name}/{rel}",
            f"generated/{rel}",
            lineterm="",
        )
        shown = list(diff)
        lines += shown[:limit] + (
            [f"... ({len(shown) - limit} more diff lines)"] if len(shown) > limit else []
        )
    return lines


def write(case: Case, files: dict[str, bytes]) -> None:
    if case.folder.exists():
        shutil.rmtree(case.folder)
    for rel, data in files.items():
        dest = case.folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def main(argv: list[str]) -> int:
    update = "--update" in argv
    unknown = [a for a in argv if a != "--update"]
    if unknown:
        print(f"usage: python -m tests.golden [--update]  (unknown: {' '.join(unknown)})", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    status = 0
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            files = generate(case, Path(tmp))
        if update:
            write(case, files)
            print(f"{case.name}: {len(files)} files written to {case.folder.relative_to(REPO)}")
            continue
        diff = differences(case, files)
        print(f"{case.name}: " + ("differs" if diff else "same"))
        for line in diff:
            print(line)
        status = status or (1 if diff else 0)
    if status:
        print(f"refresh with `{UPDATE_COMMAND}` when the change is intended", file=sys.stderr)
    return status
