"""mlf_build: TVM Model Library Format tarballs as ordinary CMake, Bazel and Zephyr libraries."""

from __future__ import annotations

from pathlib import Path

from ._version import __version__

__all__ = ["__version__", "get_cmake_dir", "get_runtime_dir"]

_PKG = Path(__file__).resolve().parent


def get_cmake_dir() -> Path:
    """The folder holding ``mlf_buildConfig.cmake`` (pass it in ``CMAKE_PREFIX_PATH``).

    In an installed wheel it is ``mlf_build/cmake``; in a source checkout it is the
    repository's ``cmake/`` folder next to the package."""
    for candidate in (_PKG / "cmake", _PKG.parent / "cmake"):
        if (candidate / "mlf_buildConfig.cmake").is_file():
            return candidate
    raise FileNotFoundError("mlf_buildConfig.cmake is neither in the package nor beside it")


def get_runtime_dir() -> Path:
    """The project's own C runtime (sources and the TVM ABI headers it provides)."""
    return _PKG / "runtime"
