"""The build rules stay readable: no CMake function or macro over 80 lines, no Starlark def over
60 (each counted from its first line to its last, comments and blank lines included). A longer
one is a set of steps that want names of their own (add_mlf_library() and _mlf_library_impl are
outlines calling them)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CMAKE_MAX, STARLARK_MAX = 80, 60


def _cmake_files() -> list[Path]:
    return sorted(
        {*REPO.glob("cmake/**/*.cmake"), *REPO.glob("zephyr/**/*.cmake"), REPO / "zephyr" / "CMakeLists.txt"}
    )


def _starlark_files() -> list[Path]:
    dirs = ("bazel", "mlf_build", "examples")
    files = {p for d in dirs for p in (REPO / d).rglob("*") if p.suffix == ".bzl" or p.name == "BUILD.bazel"}
    return sorted(p for p in files if "third_party" not in p.parts)


def cmake_functions(text: str) -> dict[str, int]:
    """Each function()/macro() of a CMake file and its length in lines."""
    out, start, name = {}, 0, ""
    for i, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*(function|macro)\(\s*([A-Za-z_0-9]+)", line)
        if m:
            start, name = i, m.group(2)
        elif re.match(r"\s*end(function|macro)\(", line) and name:
            out[name] = i - start + 1
            name = ""
    return out


def starlark_defs(text: str) -> dict[str, int]:
    """Each top-level def of a Starlark file and its length, up to its last indented line."""
    out, start, name, last = {}, 0, "", 0
    for i, line in enumerate([*text.splitlines(), "end"], 1):
        if name and line and not line[0].isspace():
            out[name] = last - start + 1
            name = ""
        if line.startswith("def "):
            start, name = i, line[4:].split("(")[0]
        if line.strip():
            last = i
    return out


def test_counting():
    """The counters count what they claim on small inputs."""
    assert cmake_functions("function(a x)\n  set(y 1)\n\nendfunction()\nmacro(b)\nendmacro()\n") == {
        "a": 4,
        "b": 2,
    }
    assert starlark_defs('def f(x):\n    """d"""\n\n    return x\n\n# c\nY = 1\ndef g():\n    pass\n') == {
        "f": 4,
        "g": 2,
    }


def _too_long(files: list[Path], count, limit: int) -> dict[str, int]:
    return {
        f"{path.relative_to(REPO)}: {name}": n
        for path in files
        for name, n in count(path.read_text()).items()
        if n > limit
    }


def test_cmake_functions_short():
    long = _too_long(_cmake_files(), cmake_functions, CMAKE_MAX)
    assert not long, f"CMake functions over {CMAKE_MAX} lines: {long}"


def test_starlark_defs_short():
    long = _too_long(_starlark_files(), starlark_defs, STARLARK_MAX)
    assert not long, f"Starlark defs over {STARLARK_MAX} lines: {long}"
