"""Read-only inputs and awkward paths: read-only tarballs, MLF directories and mlf_build source
trees work, and so do source, build and output paths with spaces and non-ASCII characters.

The suite runs as root in CI, where permission bits do not stop writes: each test therefore also
compares the read-only trees before and after (names, sizes, modification times), which catches a
write whoever runs it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import needs_cmake, needs_host_cc, run_cli
from tests.firmware import REPO, build, configure, run

AWKWARD = "dir with spaces/модель ü"


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mode, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted([root, *root.rglob("*")])
    }


def make_read_only(root: Path) -> None:
    for p in sorted([root, *root.rglob("*")], reverse=True):
        mode = stat.S_IMODE(p.lstat().st_mode)
        p.chmod(mode & ~0o222)


def make_writable(root: Path) -> None:
    for p in sorted([root, *root.rglob("*")]):
        p.chmod(stat.S_IMODE(p.lstat().st_mode) | 0o200)


@pytest.fixture
def read_only_models(tmp_path: Path, fixture_models: dict[str, Path]):  # type: ignore[no-untyped-def]
    """The v7 graph fixture as a read-only tarball and as a read-only MLF directory, in a
    read-only folder whose name has spaces and non-ASCII letters."""
    root = tmp_path / "models ü" / "read only"
    root.mkdir(parents=True)
    tarball = root / "model file ü.tar"
    shutil.copyfile(fixture_models["v7-graph"], tarball)
    directory = root / "mlf dir ü"
    with tarfile.open(tarball) as tf:  # the fixture's regular files (no extraction filter needed)
        for info in tf.getmembers():
            f = tf.extractfile(info) if info.isfile() else None
            if f is not None:
                dest = directory / info.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(f.read())
    make_read_only(root)
    before = snapshot(root)
    try:
        yield tarball, directory
        assert snapshot(root) == before, "an input was written to"
    finally:
        make_writable(root)


def test_generate_from_read_only_inputs_into_awkward_paths(tmp_path: Path, read_only_models) -> None:  # type: ignore[no-untyped-def]
    tarball, directory = read_only_models
    outs = []
    for i, model in enumerate((tarball, directory, tarball)):  # the third run regenerates in place
        out = tmp_path / AWKWARD / f"out {min(i, 1)}"
        r = run_cli(["generate", model, "--name", "net", "--out", out])
        assert r.code == 0, r.err
        outs.append(out)
    files = {p.relative_to(outs[0]).as_posix() for p in outs[0].rglob("*") if p.is_file()}
    assert "net_params.bin" in files and "net.h" in files
    for rel in files - {"net.stamp", ".mlf-lock"}:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel
        # Copies of read-only members are ordinary files the next generation can replace.
        assert stat.S_IMODE((outs[0] / rel).stat().st_mode) & 0o200, rel
    r = run_cli(["inspect", "--json", directory])
    assert r.code == 0 and '"format_version": 7' in r.out, r.err


PROJECT = """cmake_minimal_required
find_package(mlf_build 0.1 CONFIG REQUIRED)
enable_testing()
add_mlf_library(net "{tarball}" TEST)
add_mlf_library(net_dir "{directory}" TEST OUTPUT_DIR "{out}")
add_executable(app main.c)
target_link_libraries(app PRIVATE net net_dir)
"""
MAIN = """#include <stdio.h>
#include "net.h"
#include "net_dir.h"
static float pool[(NET_IO_SIZE + NET_DIR_IO_SIZE) / 4];
static int run(int32_t (*fn)(const void *const *, void *const *), const mlf_tensor_info_t *ins,
               int n_in, const mlf_tensor_info_t *outs, int n_out, float *p) {
  const void *in[8];
  void *out[8];
  for (int i = 0; i < n_in; ++i) { in[i] = p; p += (ins[i].nbytes + 15) / 16 * 4; }
  for (int i = 0; i < n_out; ++i) { out[i] = p; p += (outs[i].nbytes + 15) / 16 * 4; }
  return fn(in, out);
}
int main(void) {
  int a = run(net_run, net_input_info, NET_NUM_INPUTS, net_output_info, NET_NUM_OUTPUTS, pool);
  int b = run(net_dir_run, net_dir_input_info, NET_DIR_NUM_INPUTS, net_dir_output_info,
              NET_DIR_NUM_OUTPUTS, pool + NET_IO_SIZE / 4);
  printf("status %d %d\\n", a, b);
  return a || b;
}
"""


@needs_cmake
@needs_host_cc
@pytest.mark.slow
def test_cmake_build_with_read_only_package_and_inputs_in_awkward_paths(
    tmp_path: Path, read_only_models
) -> None:  # type: ignore[no-untyped-def]
    """mlf_build's own files copied to a read-only tree (as a system install or a read-only
    checkout would be), a project whose source, build and output folders have spaces and
    non-ASCII names, and read-only models: configure, build, ctest and run; nothing is written
    into the package (no bytecode) or beside the models."""
    tarball, directory = read_only_models
    pkg = tmp_path / "read only pkg ü"
    shutil.copytree(REPO / "mlf_build", pkg / "mlf_build", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "cmake", pkg / "cmake", ignore=shutil.ignore_patterns("__pycache__"))
    make_read_only(pkg)
    before = snapshot(pkg)
    try:
        src = tmp_path / "source dir ü"
        src.mkdir()
        text = PROJECT.replace("cmake_minimal_required", "cmake_minimum_required(VERSION 3.20)\nproject(t C)")
        (src / "CMakeLists.txt").write_text(
            text.format(tarball=tarball.as_posix(), directory=directory.as_posix(), out="out dir/выход ü")
        )
        (src / "main.c").write_text(MAIN)
        bdir = tmp_path / "build dir" / "модель ü"
        configure(src, bdir, defs={"CMAKE_PREFIX_PATH": str(pkg / "cmake")})
        build(bdir)
        assert (bdir / "out dir" / "выход ü" / "net_dir.h").is_file()
        assert run([bdir / "app"]).stdout == "status 0 0\n"
        res = run(["ctest", "--test-dir", bdir, "--output-on-failure"])
        assert "100% tests passed" in res.stdout, res.stdout
        # A second generator run from the build (as after touching the model) works too.
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="")
        res = subprocess.run(
            [sys.executable, pkg / "cmake" / "mlf_build_run.py", pkg, "inspect", tarball],
            capture_output=True,
            text=True,
            env=env,
        )
        assert res.returncode == 0, res.stderr
        assert snapshot(pkg) == before, "the read-only package was written to"
        assert not list(pkg.rglob("__pycache__"))
    finally:
        make_writable(pkg)
