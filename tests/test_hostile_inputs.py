"""Every crafted bad input ends with exit code 2 and one line naming the file and the problem:
no traceback, no file written outside the output folder, no partial output left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hostile_cases import Case, cases

CASES = cases()


def test_suite_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


def snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    model = case.build(inputs)
    before = snapshot(tmp_path)
    extra = [a.replace("{in}", str(inputs)) for a in case.extra_args]
    where = str(model) if case.where is None else case.where.replace("{in}", str(inputs))
    for command in case.commands:
        out = tmp_path / "out"
        args = [command, model, *extra]
        if command == "generate":
            args += ["--out", out]
            if "--name" not in case.extra_args:
                args += ["--name", "net"]
        r = run_cli(args)
        assert r.code == 2, f"{command}: exit {r.code}\n{r.out}\n{r.err}"
        assert r.out == ""
        line = r.err
        assert line.endswith("\n") and line.count("\n") == 1, repr(line)
        assert line.startswith("mlf-build: error: "), line
        assert "Traceback" not in line
        assert case.expect in line, line
        assert f"mlf-build: error: {where}" in line, line  # names the file (or option)
        assert snapshot(tmp_path) == before, f"{command} left files behind"
