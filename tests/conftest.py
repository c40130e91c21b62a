"""Shared test fixtures: the real MLF corpus, the project's own exported fixtures, the CLI,
and toolchain detection. Artefacts that take time to build are session-scoped and shared."""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlf_build.cli import main as cli_main  # noqa: E402


def corpus_dir() -> Path:
    return Path(os.environ.get("MLF_CORPUS", REPO.parent / "shared" / "mlf-corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The real MLF artifacts in ../shared/mlf-corpus (read-only); tests skip without them."""
    d = corpus_dir()
    if not d.is_dir():
        pytest.skip(f"MLF corpus not found at {d} (set MLF_CORPUS)")
    return d


def cmsis_nn_dir() -> Path:
    """CMSIS-NN sources (v4.1.0, the version TVM's CI tested its cmsis-nn target with):
    MLF_CMSIS_NN, else ../shared/third_party/cmsis-nn-v4.1.0 beside the checkout. Read-only."""
    return Path(os.environ.get("MLF_CMSIS_NN", REPO.parent / "shared" / "third_party" / "cmsis-nn-v4.1.0"))


needs_cmsis_nn = pytest.mark.skipif(
    not (cmsis_nn_dir() / "Include" / "arm_nnfunctions.h").is_file(),
    reason=f"CMSIS-NN not found at {cmsis_nn_dir()} (set MLF_CMSIS_NN)",
)


def corpus_item(corpus: Path, name: str) -> Path:
    files = sorted(p for p in (corpus / name).iterdir() if p.suffix == ".tar")
    assert len(files) == 1, files
    return files[0]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: Sequence[str]) -> CliResult:
    """Run ``mlf-build`` in-process (the real entry point) and capture its output."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli_main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> object:
    return run_cli


def extra_cmakes() -> list[str]:
    """Other CMake binaries to test with (``MLF_TEST_CMAKES``, colon-separated; tests/run.sh
    installs 3.20 and 4.x into .cache/ and sets it)."""
    return [c for c in os.environ.get("MLF_TEST_CMAKES", "").split(os.pathsep) if c]


def have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


def unavailable(reason: str) -> NoReturn:
    """A tool or service a test needs is missing: skip, but fail in CI (CI set), whose machine
    has everything installed (.ci/run), so that no test there passes by being skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: nothing may be missing)")
    pytest.skip(reason)


needs_arm = pytest.mark.skipif(
    not have("arm-none-eabi-gcc", "qemu-system-arm"), reason="needs arm-none-eabi-gcc and qemu-system-arm"
)
needs_host_cc = pytest.mark.skipif(not have("gcc"), reason="needs gcc")
needs_cmake = pytest.mark.skipif(not have("cmake", "ninja"), reason="needs cmake and ninja")


@pytest.fixture(scope="session")
def fixture_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every C-source fixture layout, exported once per session: layout -> tarball. (Layouts
    with LLVM objects are exported by the tests that pick a compiler.)"""
    from tests import fixtures

    out = tmp_path_factory.mktemp("fixtures")
    models = {}
    for layout in fixtures.LAYOUTS:
        if not fixtures.layout_info(layout)["llvm"]:
            dest = out / layout
            dest.mkdir()
            models[layout] = fixtures.export(layout, dest)
    return models


def doc_block(page: Path, after: str, lang: str) -> str:
    """The text of the first ```<lang> code block after the text ``after`` in a docs page."""
    text = page.read_text(encoding="utf-8")
    shown = re.search(re.escape(after) + rf".*?```{re.escape(lang)}\n(.*?)```\n", text, re.S)
    assert shown, f"{page}: no {lang} block after {after!r}"
    return shown.group(1)


def file_tree(root: Path, ignore: frozenset[str] = frozenset({".mlf-lock"})) -> dict[str, bytes]:
    """Every file below ``root`` (relative name -> bytes) but those named in ``ignore``: an
    output folder to compare byte for byte (the generator's lock file is not output)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in ignore:
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


# Seconds per test file (setup + call + teardown, module fixtures included), printed at the end:
# what each file costs of CI's time budget.
_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ranked = sorted(_FILE_SECONDS.items(), key=lambda item: -item[1])
    if len(ranked) < 2:
        return
    terminalreporter.write_sep("-", f"seconds per test file ({sum(_FILE_SECONDS.values()):.0f} s in all)")
    for path, seconds in ranked[:10]:
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
