"""A short coverage-guided fuzzing run of every target in tests/fuzz/targets.py (atheris), the
CI-sized budget of tests/fuzz/run_fuzz.py: no crash, every execution done. Long runs use the
script directly (see its docstring). Skipped where atheris is not installed (it ships wheels for
Linux x86_64 only)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("atheris")

from tests.fuzz.run_fuzz import run_target

# Executions per target: about 10 s of fuzzing in all on two cores.
BUDGET = {"tar": 1000, "metadata": 3000, "graph": 3000, "params": 3000, "model": 120}
BUDGET.update({"csource": 1000, "elf": 3000, "ar": 1000})


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    work = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {t: pool.submit(run_target, t, runs, work, 0, 1, 600) for t, runs in BUDGET.items()}
        return {t: f.result() for t, f in futures.items()}


@pytest.mark.parametrize("target", list(BUDGET))
def test_fuzz_target_short_run(results: dict[str, dict[str, object]], target: str) -> None:
    r = results[target]
    output = str(r["output"])
    crashes = [Path(c).read_bytes()[:200] for c in r["crashes"]]  # type: ignore[attr-defined]
    assert not crashes and r["returncode"] == 0, f"{target}: {crashes}\n{output[-5000:]}"
    assert r["runs"] >= BUDGET[target], output[-2000:]
