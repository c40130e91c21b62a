"""Atomic and concurrent generation (`mlf-build generate`, as the build systems run it).

- Generators killed with SIGKILL at 24 random points (half of them while writing files) as they
  process a 32 MiB model and an earlier export of it, alternately, into one folder, never leave a
  damaged file in place: after every kill, each output file is one export's version, byte for
  byte. The next run succeeds and its output equals a clean generation into an empty folder,
  byte for byte, with nothing stale or temporary left.
- 8 generations of the same model started together into one folder all succeed, and the folder
  then equals a clean generation.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import file_tree
from tests.firmware import REPO
from tests.mlf_factory import graph_doc, metadata_doc, minimal_files, relay, write_tar
from tests.params_numpy import write_params

# Not part of a generation's result: the lock file and the stamp (rewritten by every run).
IGNORED = frozenset({".mlf-lock", "big.stamp"})
KILLS = 24


def big_model(path: Path, n: int, scale: float) -> Path:
    """The factory model with its parameter (and so its input and output) grown to n floats, the
    Relay text and TVM's I/O total saying the same."""
    g = graph_doc()
    g["attrs"]["shape"][1] = [[1, n], [n], [1, n]]
    files = minimal_files()
    files["executor-config/graph/default.graph"] = json.dumps(g).encode()
    files["parameters/default.params"] = write_params([("p0", np.arange(n, dtype=np.float32) * scale)])
    files["src/default.relay"] = relay(n)
    meta = metadata_doc()
    meta["modules"]["default"]["memory"]["functions"]["main"][0]["io_size_bytes"] = 8 * n
    files["metadata.json"] = json.dumps(meta, indent=2, sort_keys=True).encode()
    return write_tar(path, files)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("atomic-models")
    return {
        "big": big_model(d / "big.tar", 8 << 20, 1.0),  # 32 MiB of parameters
        "old": big_model(d / "old.tar", 1 << 20, 0.5),  # an earlier, different export
    }


def generate_cmd(model: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "mlf_build", "generate", str(model), "--name", "big", "--out", str(out)]


def run_generate(model: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(generate_cmd(model, out), capture_output=True, text=True, cwd=REPO, env=env)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below root (relative name -> bytes), without the lock and the stamp."""
    return file_tree(root, IGNORED)


@pytest.fixture(scope="module")
def clean(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """Clean generations of both models into empty folders, and how long one run takes."""
    out = {}
    for name, model in models.items():
        d = tmp_path_factory.mktemp(f"clean-{name}") / "out"
        start = time.monotonic()
        r = run_generate(model, d)
        assert r.returncode == 0, r.stderr
        out[name] = tree(d)
        out[f"{name}-seconds"] = time.monotonic() - start  # type: ignore[assignment]
        assert not (d / ".mlf-tmp").exists()
    assert out["big"].keys() == out["old"].keys()
    assert all(out["big"][k] != out["old"][k] for k in ("big.h", "big_params.bin"))
    return out


def _kill_at(cmd: list[str], out: Path, delay: float, when_writing: bool) -> int:
    """Start a generation, SIGKILL it after ``delay`` seconds (counted from the moment its staging
    folder appears when ``when_writing``), return its exit status."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    if when_writing:
        deadline = time.monotonic() + 60
        while not (out / ".mlf-tmp").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def test_kill_9_at_random_points_then_rebuild(
    models: dict[str, Path], clean: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    """Generations of the two exports alternate in one folder, each killed at a random point
    (half of them at a random point of the run, half while it writes files), so every kill can
    leave a mix of both versions; every file in place must be one of them, whole."""
    out = tmp_path / "build dir" / "out"
    assert run_generate(models["old"], out).returncode == 0
    versions = (clean["old"], clean["big"])
    rng = random.Random(20240611)
    finished = mid_write = 0
    for i in range(KILLS):
        name = ("big", "old")[i % 2]
        when_writing = i % 4 >= 2
        seconds = float(clean[f"{name}-seconds"])  # type: ignore[arg-type]
        delay = rng.uniform(0.0, 0.05) if when_writing else rng.uniform(0.05, seconds * 1.1)
        code = _kill_at(generate_cmd(models[name], out), out, delay, when_writing)
        assert code in (0, -signal.SIGKILL), f"kill {i}: exit {code}"
        finished += code == 0
        files = tree(out)
        for rel, data in files.items():
            if not rel.startswith(".mlf-tmp/"):
                assert data in (versions[0].get(rel), versions[1].get(rel)), f"{rel} damaged by kill {i}"
        mid_write += any(rel.startswith(".mlf-tmp/") for rel in files)
    print(f"{KILLS} kills: {mid_write} while writing, {finished} after the run had finished")
    assert finished < KILLS // 2, "the kills came too late to test anything"
    assert mid_write >= 1, "no kill landed while files were being written"
    r = run_generate(models["big"], out)
    assert r.returncode == 0, r.stderr
    assert tree(out) == clean["big"]  # byte for byte, nothing stale, no .mlf-tmp left
    assert not (out / ".mlf-tmp").exists()


def test_eight_concurrent_generations(
    models: dict[str, Path], clean: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    out = tmp_path / "shared out"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    procs = [
        subprocess.Popen(
            generate_cmd(models["big"], out),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [(p.wait(timeout=300), p.communicate()) for p in procs]
    for code, (stdout, stderr) in results:
        assert code == 0 and stdout == "" and stderr == "", stderr
    assert tree(out) == clean["big"]
    assert not (out / ".mlf-tmp").exists()


def test_failed_generation_keeps_previous_output(
    models: dict[str, Path], clean: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    """A run that fails on bad input changes nothing in a folder that already holds a library."""
    out = tmp_path / "out"
    assert run_generate(models["old"], out).returncode == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    bad = tmp_path / "bad.tar"
    files = minimal_files()
    files["parameters/default.params"] = files["parameters/default.params"][:-3]
    write_tar(bad, files)
    r = run_generate(bad, out)
    assert r.returncode == 2 and r.stderr.startswith("mlf-build: error: ") and r.stderr.count("\n") == 1
    assert tree(out) == clean["old"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_failure_while_writing_keeps_previous_output(
    models: dict[str, Path],
    clean: dict[str, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that fails after planning (a member found damaged while copying, a full disk)
    removes its staging folder, under the lock, and leaves every file in place as it was."""
    from mlf_build.errors import MlfError
    from mlf_build.generate import Options, prepare
    from mlf_build.write import write_outputs

    out = tmp_path / "out"
    assert run_generate(models["old"], out).returncode == 0
    gen = prepare(models["big"], Options(name="big"))
    try:

        def damaged(name: str, dest: Path) -> None:
            dest.write_bytes(b"partial")
            raise MlfError(f"big.tar({name})", "is truncated (the archive ends early)")

        monkeypatch.setattr(gen.model.source, "copy_to", damaged)
        with pytest.raises(MlfError, match="is truncated"):
            write_outputs(gen.files, gen.model.source, gen.prefix, out)
    finally:
        gen.model.close()
    assert tree(out) == clean["old"]
    assert not (out / ".mlf-tmp").exists()


@pytest.mark.parametrize("where", ["file", "proc"])
def test_unwritable_output_folder_is_one_line(models: dict[str, Path], tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    out = blocker / "out" if where == "file" else Path("/proc/mlf-build-test/out")
    r = run_generate(models["old"], out)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("mlf-build: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "cannot be written" in r.stderr and "Traceback" not in r.stderr
