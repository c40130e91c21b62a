"""add_mlf_library() as a CMake user meets it: failures at configure time with the tool's own
message, rebuilds exactly when the model changes, the package's version check, and both ways of
getting the package (find_package and add_subdirectory)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests import fixtures
from tests.conftest import corpus_item, extra_cmakes, needs_arm, needs_cmake
from tests.firmware import ARM_CFLAGS, REPO, build, configure, run, run_firmware
from tests.mlf_factory import reweighted

pytestmark = [needs_cmake, pytest.mark.slow]

PROJECT = """cmake_minimum_required(VERSION 3.20)
project(t C)
enable_testing()
{find}
add_mlf_library(net "{model}" {args})
add_executable(app main.c)
target_link_libraries(app PRIVATE net)
"""
MAIN = """#include <stdio.h>
#include "net.h"
int main(void) {{
  static float in[NET_INPUT_0_SIZE / 4], out0[NET_OUTPUT_0_SIZE / 4], out1[NET_OUTPUT_1_SIZE / 4];
  const void *ins[] = {{in}};
  void *outs[] = {{out0, out1}};
  int32_t st = net_run(ins, outs);
  printf("status %d workspace %d\\n", (int)st, NET_WORKSPACE_SIZE);
  return st;
}}
"""


def project(
    tmp: Path, model: Path, args: str = "", find: str = "find_package(mlf_build 0.1 CONFIG REQUIRED)"
) -> Path:
    src = tmp / "src"
    src.mkdir(exist_ok=True)
    (src / "CMakeLists.txt").write_text(PROJECT.format(find=find, model=model.as_posix(), args=args))
    (src / "main.c").write_text(MAIN.format())
    return src


def configure_error(res) -> str:  # type: ignore[no-untyped-def]
    assert res.returncode != 0, res.stdout
    return " ".join(res.stderr.split())


def test_aarch64_object_fails_with_architecture_message(corpus: Path, tmp_path: Path) -> None:
    model = corpus_item(corpus, "nitesh-llvm-aarch64-v5-graph")
    res = configure(project(tmp_path, model), tmp_path / "b", check=False)
    msg = configure_error(res)
    assert "add_mlf_library(net): mlf-build: error:" in msg
    assert (
        f"{model}(codegen/host/lib/default_lib0.o): holds aarch64/elf64 code "
        "but the target compiler produces x86_64/elf64" in msg
    )


@needs_arm
def test_hard_float_objects_refused_on_soft_float_target(tmp_path: Path) -> None:
    model = fixtures.export("v5-graph-llvm", tmp_path, cc="arm-none-eabi-gcc", cflags=ARM_CFLAGS["cortex-m4"])
    res = configure(project(tmp_path, model), tmp_path / "b", "cortex-m3", check=False)
    assert (
        "holds arm/elf32/hard-float code but the target compiler produces arm/elf32/soft-float"
        in configure_error(res)
    )


def test_partial_mlf_fails_with_missing_files(corpus: Path, tmp_path: Path) -> None:
    res = configure(
        project(tmp_path, corpus_item(corpus, "octoml-kws-cmsisnn-partial")), tmp_path / "b", check=False
    )
    msg = configure_error(res)
    assert "is a partial MLF" in msg and "lacks metadata.json" in msg


def test_bad_tarball_fails_configure_with_cli_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar at all" * 10)
    res = configure(project(tmp_path, bad), tmp_path / "b", check=False)
    assert f"mlf-build: error: {bad}: is not a readable tar archive" in configure_error(res)


@pytest.fixture
def built(tmp_path: Path, fixture_models: dict[str, Path]) -> tuple[Path, Path]:
    model = tmp_path / "model.tar"
    shutil.copyfile(fixture_models["v7-graph"], model)
    bdir = tmp_path / "b"
    configure(project(tmp_path, model, "TEST"), bdir)
    build(bdir)
    return model, bdir


def explain(bdir: Path, dry: bool = True) -> str:
    res = run(["ninja", "-C", bdir, "-d", "explain", *(["-n"] if dry else [])])
    return res.stdout + res.stderr


def test_noop_build_runs_nothing(built: tuple[Path, Path]) -> None:
    _, bdir = built
    out = explain(bdir)
    assert "ninja: no work to do." in out, out
    assert "generating" not in out


def test_replacing_the_model_regenerates_and_recompiles(
    built: tuple[Path, Path], fixture_models: dict[str, Path]
) -> None:
    model, bdir = built
    # Same graph, different export (v5 naming and files): the file list changes too.
    shutil.copyfile(fixture_models["v6-graph"], model)
    os.utime(model)
    out = explain(bdir, dry=False)
    assert re.search(r"older than most recent input .*model\.tar", out), out
    assert "Re-running CMake" in out  # the output list may change with the model
    assert "mlf_build: generating net from model.tar" in out
    assert re.search(r"Building C object .*net_mlf_objects\.dir/mlf/net/codegen/net__default_lib1\.c", out)
    assert "Linking C executable app" in out
    assert "ninja: no work to do." in explain(bdir)
    assert run([bdir / "app"]).stdout.startswith("status 0")


def test_touching_the_model_regenerates_but_recompiles_nothing(built: tuple[Path, Path]) -> None:
    model, bdir = built
    os.utime(model)
    out = explain(bdir, dry=False)
    assert "mlf_build: generating net from model.tar" in out
    # Identical content: the generator leaves every output untouched (restat), nothing compiles.
    assert "Building C object" not in out and "Linking" not in out, out
    assert "ninja: no work to do." in explain(bdir)


def test_new_weights_alone_recompile_the_data_object(built: tuple[Path, Path], tmp_path: Path) -> None:
    # The weights reach the object through .incbin, which the compiler's dependency scan misses:
    # only OBJECT_DEPENDS makes the unchanged net_data.c recompile.
    model, bdir = built
    before = run([bdir / "app"]).stdout
    reweighted(model, tmp_path / "new.tar")
    shutil.copyfile(tmp_path / "new.tar", model)
    out = explain(bdir, dry=False)
    assert "mlf_build: generating net from model.tar" in out
    assert re.search(r"Building C object .*net_data\.c", out), out
    assert "Linking C executable app" in out
    assert "ninja: no work to do." in explain(bdir)
    assert run([bdir / "app"]).stdout == before  # same sizes; status 0 with the new weights


def test_target_properties(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, bdir = built
    src = tmp_path / "src"
    text = (src / "CMakeLists.txt").read_text()
    text += "".join(
        f'get_target_property(v net {p})\nmessage(STATUS "{p}=${{v}}")\n'
        for p in ("MLF_WORKSPACE_SIZE", "MLF_PARAMS_SIZE", "MLF_FORMAT_VERSION", "MLF_EXECUTOR", "MLF_REPORT")
    )
    (src / "CMakeLists.txt").write_text(text)
    out = configure(src, bdir).stdout
    assert "MLF_FORMAT_VERSION=7" in out and "MLF_EXECUTOR=graph" in out and "MLF_PARAMS_SIZE=2480" in out
    ws = int(re.search(r"MLF_WORKSPACE_SIZE=(\d+)", out).group(1))
    assert f"#define NET_WORKSPACE_SIZE {ws}\n" in (bdir / "mlf/net/net.h").read_text()
    # The report page, written by the build next to the header.
    report = Path(re.search(r"MLF_REPORT=(\S+)", out).group(1))
    assert report == bdir / "mlf/net/net_report.html" and report.read_text().startswith("<!DOCTYPE html>")


def test_smoke_test_registered_with_ctest(built: tuple[Path, Path]) -> None:
    _, bdir = built
    res = run(["ctest", "--test-dir", bdir, "--output-on-failure"])
    assert "net_smoke" in res.stdout and "100% tests passed" in res.stdout


@pytest.mark.parametrize(
    ("request_", "ok"),
    [("0.1", True), ("0.1.0", True), ("0.0.9", False), ("0.2", False), ("1.0", False), ("0.1...0.5", True)],
)
def test_find_package_version(
    tmp_path: Path, fixture_models: dict[str, Path], request_: str, ok: bool
) -> None:
    find = f"find_package(mlf_build {request_} CONFIG REQUIRED)"
    res = configure(project(tmp_path, fixture_models["v7-graph"], find=find), tmp_path / "b", check=False)
    if ok:
        assert res.returncode == 0, res.stderr
    else:
        assert res.returncode != 0
        assert "version" in res.stderr and "0.1.0" in res.stderr, res.stderr


def test_add_subdirectory(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    find = f'add_subdirectory("{REPO.as_posix()}" mlf_build)'
    src = project(tmp_path, fixture_models["v7-graph"], find=find)
    bdir = tmp_path / "b"
    configure(src, bdir)
    build(bdir)
    assert run([bdir / "app"]).stdout.startswith("status 0")


@pytest.mark.parametrize(
    "cmake",
    extra_cmakes()
    or [
        pytest.param(
            None,
            marks=pytest.mark.skip(
                reason="set MLF_TEST_CMAKES to other cmake binaries (tests/run.sh installs 3.20 and 4.x)"
            ),
        )
    ],
)
def test_other_cmake_versions(tmp_path: Path, fixture_models: dict[str, Path], cmake: str) -> None:
    src = project(tmp_path, fixture_models["v7-graph"], "TEST")
    bdir = tmp_path / "b"
    configure(src, bdir, cmake=cmake)
    run([cmake, "--build", bdir])
    assert run([bdir / "app"]).stdout.startswith("status 0")
    version = run([cmake, "--version"]).stdout.split()[2]
    print(f"cmake {version}: ok")


@needs_arm
def test_example_firmware_cortex_m(tmp_path: Path) -> None:
    """The README example, built against this checkout, on both CPUs it documents."""
    for cpu in ("cortex-m3", "cortex-m4"):
        bdir = tmp_path / cpu
        configure(REPO / "examples" / "cmake-qemu", bdir, cpu)
        build(bdir)
        res = run_firmware(bdir / "waveform_demo.elf", cpu)
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stdout.rstrip().endswith("waveform: PASS (4/4 cases match the numpy reference)")


@needs_arm
def test_non_identifier_target_with_sections_smoke_tests_under_qemu(
    tmp_path: Path, fixture_models: dict[str, Path]
) -> None:
    """File names follow the C prefix (My-Net -> my_net), and the smoke test places the
    library's sections in QEMU firmware on its own."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(t C)\nenable_testing()\n"
        "find_package(mlf_build 0.1 CONFIG REQUIRED)\n"
        f'add_mlf_library(My-Net "{fixture_models["v7-graph"].as_posix()}" TEST\n'
        "  WEIGHTS_SECTION .model_weights ARENA_SECTION .model_arena)\n"
        'get_target_property(h My-Net MLF_HEADER)\nmessage(STATUS "header=${h}")\n'
    )
    bdir = tmp_path / "b"
    out = configure(src, bdir, "cortex-m4").stdout
    assert re.search(r"header=.*/mlf/My-Net/my_net\.h\n", out), out
    build(bdir)
    res = run(["ctest", "--test-dir", bdir, "--output-on-failure"])
    assert "My-Net_smoke" in res.stdout and "100% tests passed" in res.stdout, res.stdout
    sections = run(["arm-none-eabi-readelf", "-SW", bdir / "My-Net_smoke.elf"]).stdout
    assert ".model_weights" in sections and ".model_arena" in sections, sections


def test_a_changed_generator_reconfigures_and_regenerates(
    tmp_path: Path, fixture_models: dict[str, Path]
) -> None:
    # A private copy of the package, so that touching its generator disturbs no other build.
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "cmake", pkg / "cmake")
    shutil.copytree(REPO / "mlf_build", pkg / "mlf_build", ignore=shutil.ignore_patterns("__pycache__"))
    src = project(tmp_path, fixture_models["v7-graph"])
    bdir = tmp_path / "b"
    configure(src, bdir, defs={"CMAKE_PREFIX_PATH": str(pkg / "cmake")})
    build(bdir)
    assert "ninja: no work to do." in explain(bdir)
    os.utime(pkg / "mlf_build" / "emit" / "header.py")
    out = explain(bdir, dry=False)
    # The output list is asked again (a new generator may name other files), then regenerated.
    assert "Re-running CMake" in out and "mlf_build: generating net" in out, out
    assert "ninja: no work to do." in explain(bdir)


def test_two_libraries_cannot_share_an_output_dir(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    src = project(tmp_path, fixture_models["v7-graph"], "OUTPUT_DIR gen")
    with (src / "CMakeLists.txt").open("a") as f:
        f.write(f'add_mlf_library(other "{fixture_models["v5-graph"].as_posix()}" OUTPUT_DIR gen)\n')
    res = configure(src, tmp_path / "b", check=False)
    assert (
        f"add_mlf_library(other): OUTPUT_DIR {(tmp_path / 'b' / 'gen').as_posix()} is already the output "
        "folder of net; give each library its own" in configure_error(res)
    )
