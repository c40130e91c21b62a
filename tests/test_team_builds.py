"""Team-scale builds: a second checkout at another path gets every compilation from a shared cache
(docs/team-builds.md).

Two copies of this checkout (the files git lists, as they are in the working tree) at different
paths, each with its own environment (its own folder first on PATH, as a developer's venv is):
  * ccache: examples/cmake-qemu for Cortex-M4 with CMAKE_C_COMPILER_LAUNCHER=ccache, the build
    folder inside the checkout and CCACHE_BASEDIR=<checkout>, one shared CCACHE_DIR. The build in
    checkout B gets every compilation that A made from the cache (no miss) and its firmware is
    byte-identical to A's. Control: B rebuilt without CCACHE_BASEDIR misses every compilation
    (the absolute paths then reach the hash), so the hits above are the base directory's doing.
  * Bazel remote cache: a BuildGrid server (REAPI CAS + action cache in memory, on loopback,
    started here and stopped at the end). examples/bazel built in A with --remote_cache uploads
    every action's result; B, with another output user root and output base, builds with every
    spawn a remote cache hit (`remoteCacheHit` in --execution_log_json_file), the generator's
    included. examples/bazel/.bazelrc's --incompatible_strict_action_env keeps the differing
    PATHs out of the action keys.
Needs ccache (Debian), bazel (bazel-bootstrap), arm-none-eabi-gcc and BuildGrid's `bgd` (pip
install buildgrid, in the test extras): skipped without them, failed in CI (CI set), where
.ci/run installs them. About a minute on 2 cores.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.test_bazel import Bazel, _exec_log, _ok

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run(cmd, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert out.returncode == 0, f"{cmd}\n{out.stdout}{out.stderr[-6000:]}"
    return out


def need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        unavailable(f"needs {', '.join(missing)} (tools/bootstrap.sh --tests installs them)")


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two copies of this checkout at unrelated paths (A, then B)."""
    need("git")
    listed = subprocess.run(
        ["git", "-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    root = tmp_path_factory.mktemp("team")
    out = []
    for where in ("alice/src/mlf_build", "ci/workspace/b/checkout"):
        dest = root / where
        for rel in filter(None, listed.split("\0")):
            if (REPO / rel).is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, dest / rel)
        out.append(dest)
    return out


def checkout_env(checkout: Path, **extra: str) -> dict[str, str]:
    """The environment of a developer working in ``checkout``: its own folder first on PATH."""
    (checkout / ".venv-bin").mkdir(exist_ok=True)
    return {**os.environ, "PATH": f"{checkout / '.venv-bin'}{os.pathsep}{os.environ['PATH']}", **extra}


# ------------------------------------------------------------------------------------------------
def ccache_stats(env: dict[str, str]) -> dict[str, int]:
    out = run(["ccache", "--print-stats"], env).stdout
    return {k: int(v) for k, v in re.findall(r"^(\w+)\t(\d+)$", out, re.M)}


def ccache_build(checkout: Path, cache: Path, basedir: bool) -> tuple[dict[str, int], Path]:
    """examples/cmake-qemu for Cortex-M4 in ``checkout``/build through ccache, from a zeroed
    statistics counter: what this build took from the cache, and its firmware."""
    env = checkout_env(checkout, CCACHE_DIR=str(cache), CCACHE_BASEDIR=str(checkout) if basedir else "")
    build = checkout / "build"
    run(["ccache", "--zero-stats"], env)
    if not (build / "build.ninja").exists():
        run(
            [
                "cmake", "-S", checkout / "examples" / "cmake-qemu", "-B", build, "-G", "Ninja",
                "-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_BUILD_TYPE=MinSizeRel",
                f"-DCMAKE_TOOLCHAIN_FILE={checkout / 'cmake' / 'toolchains' / 'arm-none-eabi.cmake'}",
                "-DMLF_ARM_CPU=cortex-m4", f"-DCMAKE_PREFIX_PATH={checkout / 'cmake'}",
                f"-DMLF_BUILD_PYTHON={sys.executable}",
            ],
            env,
        )  # fmt: skip
    run(["ninja", "-C", build], env)
    return ccache_stats(env), build / "waveform_demo.elf"


def test_ccache_second_checkout_hits(checkouts: list[Path], tmp_path: Path) -> None:
    need("ccache", "cmake", "ninja", "arm-none-eabi-gcc")
    a, b = checkouts
    cache = tmp_path / "ccache"
    first, elf_a = ccache_build(a, cache, basedir=True)
    compiled = first.get("cache_miss", 0)
    assert compiled >= 5 and first.get("direct_cache_hit", 0) + first.get("preprocessed_cache_hit", 0) == 0

    second, elf_b = ccache_build(b, cache, basedir=True)
    hits = second.get("direct_cache_hit", 0) + second.get("preprocessed_cache_hit", 0)
    assert (hits, second.get("cache_miss", 0)) == (compiled, 0), second
    assert elf_a.read_bytes() == elf_b.read_bytes()
    print(f"\nccache: checkout B {hits}/{compiled} compilations from the cache")

    run(["ninja", "-C", b / "build", "-t", "clean"], os.environ.copy())
    control, _ = ccache_build(b, cache, basedir=False)
    assert control.get("cache_miss", 0) == compiled, control


# ------------------------------------------------------------------------------------------------
BUILDGRID_CONFIG = """\
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
storages:
  - !lru-storage &cas
    size: 1GB
caches:
  - !lru-action-cache &cache
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
instances:
  - name: ""
    services:
      - !action-cache
        cache: *cache
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def buildgrid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A BuildGrid server (CAS + action cache) on loopback for this module; its gRPC address."""
    bgd = shutil.which("bgd", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if bgd is None:
        unavailable("needs BuildGrid's bgd (pip install buildgrid; in the test extras)")
    folder = tmp_path_factory.mktemp("buildgrid")
    port = _free_port()
    (folder / "bgd.yml").write_text(BUILDGRID_CONFIG.format(port=port))
    log_path = folder / "bgd.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [bgd, "server", "start", folder / "bgd.yml"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"bgd exited with {server.returncode}:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"bgd is not listening on {port}:\n{log_path.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        yield f"grpc://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def bazel_build(checkout: Path, remote: str, log: Path) -> list[dict]:
    """examples/bazel (host) built in ``checkout`` with its own output user root and output base,
    reading and writing the remote cache; the spawns of the build."""
    root, ws = checkout.parent / f"{checkout.name}-bazel", checkout / "examples" / "bazel"
    bazel = Bazel(root, ws, "ob", env=checkout_env(checkout))
    try:
        _ok(bazel("build", "//...", f"--remote_cache={remote}", f"--execution_log_json_file={log}"))
    finally:
        bazel.shutdown()
    return _exec_log(log)


def test_bazel_remote_cache_second_checkout_hits(
    checkouts: list[Path], buildgrid: str, tmp_path: Path
) -> None:
    need("bazel")
    a, b = checkouts
    first = bazel_build(a, buildgrid, tmp_path / "a.json")
    mnemonics = sorted({s["mnemonic"] for s in first})
    assert {"MlfGenerate", "MlfPartialLink", "CppCompile", "CppLink"} <= set(mnemonics), mnemonics
    assert not any(s.get("remoteCacheHit") for s in first)

    second = bazel_build(b, buildgrid, tmp_path / "b.json")
    missed = sorted(s["mnemonic"] for s in second if not s.get("remoteCacheHit"))
    assert len(second) == len(first) and not missed, missed
    print(f"\nbazel remote cache: checkout B {len(second)}/{len(second)} spawns hit ({', '.join(mnemonics)})")
