"""The generator runs on a bare Python: no site-packages, hence no numpy. Build systems run it
with whatever interpreter they find (Zephyr's venv, Bazel's @mlf_python, CMake's Python3), so a
third-party import anywhere on its path would be a setup failure for every user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import corpus_item, file_tree
from tests.firmware import REPO

RUN = REPO / "cmake" / "mlf_build_run.py"


def _generate(model: Path, out: Path, bare: bool, extra: list[str]) -> subprocess.CompletedProcess[str]:
    # -S: no site module, so nothing from site-packages (numpy included) can be imported.
    flags = ["-S", "-B"] if bare else ["-B"]
    cmd = [sys.executable, *flags, RUN, REPO, "generate", model, "--name", "net", "--out", out, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_numpy_is_not_importable_without_site() -> None:
    # The premise: otherwise the test below could not fail.
    res = subprocess.run([sys.executable, "-S", "-c", "import numpy"], capture_output=True, text=True)
    assert res.returncode != 0 and "numpy" in res.stderr


def _same_either_way(model: Path, out: Path, what: str, extra: list[str] | None = None) -> int:
    """Generate on a bare and on the full Python; both must agree, in success or failure."""
    bare = _generate(model, out / "bare", True, extra or [])
    full = _generate(model, out / "full", False, extra or [])
    assert (bare.returncode, bare.stderr) == (full.returncode, full.stderr), what
    assert "Traceback" not in bare.stderr, f"{what}: {bare.stderr}"
    if bare.returncode == 0:
        assert file_tree(out / "bare") == file_tree(out / "full"), what
    return bare.returncode


def test_every_fixture_generates_the_same_on_a_bare_python(
    fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    codes = {name: _same_either_way(model, tmp_path / name, name) for name, model in fixture_models.items()}
    # The others need options (--io-shape, --module) or a device (refused by generate): the
    # comparison covers their errors.
    from tests import fixtures

    with_devices = sum(bool(fixtures.layout_info(n)["devices"]) for n in codes)
    assert sum(c == 0 for c in codes.values()) >= len(codes) - 4 - with_devices, codes


def test_corpus_models_generate_the_same_on_a_bare_python(corpus: Path, tmp_path: Path) -> None:
    for name in ("snu-v7-graph", "arduino-yesno-v5-aot", "gtvm-v2-graph-c-syslib"):
        assert _same_either_way(corpus_item(corpus, name), tmp_path / name, name) in (0, 2)
    # The AOT one records no output size: the same one-line error either way, and with the size
    # given, the same files.
    extra = ["--io-shape", "output=1x4"]
    model = corpus_item(corpus, "arduino-yesno-v5-aot")
    assert _same_either_way(model, tmp_path / "yesno-shaped", "yesno", extra) == 0


def test_the_package_declares_no_dependencies() -> None:
    # What the README promises pip users, and what the bare-Python runs above rely on.
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["dependencies"] == []
    assert "numpy" in " ".join(project["optional-dependencies"]["test"])
