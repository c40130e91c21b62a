"""Functions short enough to read: no Python function over 60 lines in mlf_build/ (the CMake
and Starlark limits are tests/test_build_rule_lengths.py).

A long function is a list of steps that deserve names (CONTRIBUTING.md, "Generated code" and
the code map): split it into named steps rather than raising a limit. Lengths count every line
from the ``def`` line to the last line of the body, comments and blank lines
included, since they are what a reader scrolls through.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_PYTHON = 60


def _defs(path: Path, base: Path) -> dict[str, int]:
    """``<file>:<def>`` -> lines, for every def of a Python file (nested ones too; the longest
    of several of one name)."""
    rel = path.relative_to(base).as_posix()
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            key = f"{rel}:{node.name}"
            out[key] = max(out.get(key, 0), node.end_lineno - node.lineno + 1)
    return out


def python_lengths(root: Path, base: Path = REPO) -> dict[str, int]:
    return {k: v for path in sorted(root.rglob("*.py")) for k, v in _defs(path, base).items()}


def _too_long(lengths: dict[str, int], limit: int) -> list[str]:
    return [f"{name}: {n} lines" for name, n in sorted(lengths.items()) if n > limit]


def test_the_measures_see_long_functions(tmp_path: Path) -> None:
    # The premise: the measure finds a long function where there is one, so the test below
    # can fail.
    body = "".join(f"    x{i} = {i}\n" for i in range(70))
    method = body.replace("    ", "        ")
    (tmp_path / "m.py").write_text(f"def short():\n    pass\n\n\nclass C:\n    def long(self):\n{method}")
    assert python_lengths(tmp_path, tmp_path) == {"m.py:short": 2, "m.py:long": 71}
    assert _too_long({"a": 61, "b": 60, "c": 90}, 60) == ["a: 61 lines", "c: 90 lines"]


def test_no_python_function_over_60_lines() -> None:
    lengths = python_lengths(REPO / "mlf_build")
    assert len(lengths) > 300  # the walk still finds the package's functions
    assert _too_long(lengths, MAX_PYTHON) == [], "split these into named steps"
