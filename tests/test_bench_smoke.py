"""bench/run works: its dry run (the smallest run of every code path but Bazel and the CRT
build) finishes and prints every section and the summary. No figure is checked: timings belong
to bench/run itself, never to tests."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, needs_arm, needs_cmake

pytestmark = [pytest.mark.slow, needs_arm, needs_cmake]


def test_bench_dry_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, MLF_BENCH_PYTHON=sys.executable)
    res = subprocess.run(
        ["bash", str(REPO / "bench" / "run"), "--dry", "--work", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout
    for heading in ("## 1. Parameter embedding", "## 2. Incremental builds", "## 3. Footprint", "## Summary"):
        assert heading in out, out[-3000:]
    if (REPO.parent / "shared" / "mlf-corpus").is_dir() or os.environ.get("MLF_CORPUS"):
        assert "## 4. Generation time" in out
    assert "targets," in out


def test_bench_bigmodel_params_match_write_params(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The streamed params file of the benchmark's big model is TVM's format, byte for byte."""
    import numpy as np

    from bench import bigmodel
    from tests.params_numpy import write_params

    j, k = bigmodel.shape_for(0.25)
    path = tmp_path / "p.params"
    bigmodel.write_params_file(path, (j, k))
    data = path.read_bytes()
    head = len(bigmodel.params_header("p0", (j, k)))
    arr = np.frombuffer(data[head:], dtype="<f4").reshape(j, k)
    assert np.isfinite(arr).all()
    assert write_params([("p0", arr)]) == data


def test_xxd_emulation_matches_xxd(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """bench/xxd_i.py stands in for xxd where it is missing: it must print the same C text."""
    import random
    import shutil

    from bench.xxd_i import xxd_i

    if shutil.which("xxd") is None:
        pytest.skip("xxd is not installed")
    for name, size in (("1x.params", 1000), ("a-b.bin", 24), ("empty", 0)):
        src = tmp_path / name
        src.write_bytes(random.Random(size).randbytes(size))
        want = subprocess.run(["xxd", "-i", name], cwd=tmp_path, capture_output=True, check=True).stdout
        xxd_i(src, name, tmp_path / "out.c")
        assert (tmp_path / "out.c").read_bytes() == want
