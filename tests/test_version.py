"""One version everywhere: mlf_build/_version.py is the source; the wheel metadata, the CLI,
the CMake package, MODULE.bazel and the Zephyr module (which loads the CMake package) agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from mlf_build import __version__
from tests.conftest import REPO, needs_cmake, run_cli
from tests.firmware import cmake_exe, run


def test_version_is_semver() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_cli_version() -> None:
    r = run_cli(["--version"])
    assert r.code == 0 and r.out.strip() == f"mlf-build {__version__}"


def test_wheel_version_comes_from_the_same_file() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    meta = pyproject["tool"]["scikit-build"]["metadata"]["version"]
    assert meta["provider"] == "scikit_build_core.metadata.regex"
    assert meta["input"] == "mlf_build/_version.py"
    # scikit-build-core's default pattern, applied to that file.
    text = (REPO / meta["input"]).read_text()
    m = re.search(r"(?im)^(__version__|VERSION)(?: ?: ?str)? *= *(['\"])v?(?P<value>.+?)\2", text)
    assert m is not None and m.group("value") == __version__


def test_module_bazel_version() -> None:
    text = (REPO / "MODULE.bazel").read_text()
    m = re.search(r'module\(\s*name = "mlf_build",\s*version = "([^"]+)"', text)
    assert m is not None and m.group(1) == __version__


def test_zephyr_module_uses_the_cmake_package() -> None:
    text = (REPO / "zephyr" / "CMakeLists.txt").read_text()
    assert "mlf_buildConfig.cmake" in text


@needs_cmake
def test_cmake_package_version(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(v NONE)\n"
        f"find_package(mlf_build {__version__} EXACT CONFIG REQUIRED)\n"
        'message(STATUS "version=${mlf_build_VERSION}")\n'
    )
    res = run(
        [
            cmake_exe(),
            "-S",
            src,
            "-B",
            tmp_path / "b",
            f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}",
            f"-DMLF_BUILD_PYTHON={sys.executable}",
        ]
    )
    assert f"version={__version__}" in res.stdout
