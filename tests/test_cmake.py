"""add_mlf_library() as a CMake user meets it: failures at configure time with the tool's own
message, rebuilds exactly when the model changes, the package's version check, and both ways of
getting the package (find_package and add_subdirectory)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests import fixtures
from tests.conftest import corpus_item, extra_cmakes, needs_arm, needs_cmake, run_cli
from tests.firmware import (
    ARM_CFLAGS,
    REPO,
    Smoke,
    assert_smoke_runs_waveform,
    build,
    cmake_exe,
    configure,
    model_arena,
    run,
    run_firmware,
)
from tests.mlf_factory import reweighted
from tests.symbols import assert_hidden, assert_params_outside

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
    src.mkdir(parents=True, exist_ok=True)
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


def explain(bdir: Path) -> str:
    res = run(["ninja", "-C", bdir, "-d", "explain"])
    return res.stdout + res.stderr


CHECK = "mlf_build: checking the models"


def ran(out: str) -> list[str]:
    """The steps a ninja or make build ran ("[3/9] <step>", "[ 46%] <step>"), but the check of
    the models' content, which runs before every build."""
    steps = re.findall(r"^\[\s*\d+(?:/\d+|%)\]\s+(.*?)\s*$", out, re.M)
    return [s for s in steps if s != CHECK and not s.startswith("Built target")]


def noop(bdir: Path) -> str:
    """A build that must do nothing but check the models (once: before ninja loads the build)."""
    out = explain(bdir)
    assert out.count(CHECK) == 1 and ran(out) == [] and "ninja: no work to do." in out, out
    return out


def test_noop_build_runs_nothing(built: tuple[Path, Path]) -> None:
    _, bdir = built
    out = noop(bdir)
    assert "generating" not in out


def test_replacing_the_model_regenerates_and_recompiles(
    built: tuple[Path, Path], fixture_models: dict[str, Path]
) -> None:
    model, bdir = built
    # Same graph, different export (v5 naming and files): the file list changes too.
    shutil.copyfile(fixture_models["v6-graph"], model)
    os.utime(model)
    out = explain(bdir)
    assert re.search(r"mlf/net\.model-digest is dirty", out), out  # its content, not its time
    assert "Re-running CMake" in out  # the output list may change with the model
    assert "mlf_build: generating net from model.tar" in out
    assert re.search(r"Building C object .*net_mlf_objects\.dir/mlf/net/codegen/net__default_lib1\.c", out)
    assert "Linking C executable app" in out
    noop(bdir)
    assert run([bdir / "app"]).stdout.startswith("status 0")


def test_touching_the_model_runs_nothing(built: tuple[Path, Path]) -> None:
    model, bdir = built
    os.utime(model)
    noop(bdir)  # same content, same digest: nothing to generate, compile or link


def test_new_weights_alone_recompile_the_data_object(built: tuple[Path, Path], tmp_path: Path) -> None:
    # The weights reach the object through .incbin, which the compiler's dependency scan misses:
    # only OBJECT_DEPENDS makes the unchanged net_data.c recompile.
    model, bdir = built
    before = run([bdir / "app"]).stdout
    reweighted(model, tmp_path / "new.tar")
    shutil.copyfile(tmp_path / "new.tar", model)
    out = explain(bdir)
    assert "mlf_build: generating net from model.tar" in out
    assert re.search(r"Building C object .*net_data\.c", out), out
    assert "linking net into one object" not in out, out  # the code did not change
    assert "Linking C executable app" in out
    noop(bdir)
    assert run([bdir / "app"]).stdout == before  # same sizes; status 0 with the new weights


def test_parameters_stay_out_of_the_partial_link(built: tuple[Path, Path]) -> None:
    """HIDE_SYMBOLS links and localizes only the model's code: the parameters (<t>_data.c) are
    archived as compiled, beside that object, so large weights are not copied twice more. What
    stays global is the API and the data object's hidden net__* symbols; TVM's are local."""
    _, bdir = built
    archive = bdir / "libnet.a"
    assert_params_outside(bdir / "mlf" / "net_model.o", archive, ".rodata.net.params", 2480)
    api = set((bdir / "mlf" / "net" / "net.syms").read_text().split())
    assert {"net__params", "net__arena"} <= assert_hidden(archive, api, ["net"])
    assert run([bdir / "app"]).stdout.startswith("status 0")


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
    # WEIGHTS_SECTION names the data object's section: the partial link never saw it.
    (merged,) = (bdir / "mlf").glob("My-Net_model.o*[!l]")  # .o or .obj, not .partial
    assert_params_outside(merged, bdir / "libMy-Net.a", ".model_weights", 2480, "arm-none-eabi-readelf")


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
    noop(bdir)
    os.utime(pkg / "mlf_build" / "emit" / "header.py")
    out = explain(bdir)
    # The output list is asked again (a new generator may name other files), then regenerated.
    assert "Re-running CMake" in out and "mlf_build: generating net" in out, out
    noop(bdir)


@pytest.mark.parametrize("through_link", [False, True])
def test_two_libraries_cannot_share_an_output_dir(
    tmp_path: Path, fixture_models: dict[str, Path], through_link: bool
) -> None:
    """Named directly or through a symbolic link to it (folders are compared with links
    resolved), another library's output folder is refused: both would write codegen/src."""
    if through_link:
        shared = tmp_path / "b" / "mlf" / "net"  # net's default folder
        (tmp_path / "alias").symlink_to(shared)
        src, given = project(tmp_path, fixture_models["v7-graph"]), tmp_path / "alias"
    else:
        shared = tmp_path / "b" / "gen"
        src, given = project(tmp_path, fixture_models["v7-graph"], "OUTPUT_DIR gen"), Path("gen")
    with (src / "CMakeLists.txt").open("a") as f:
        f.write(f'add_mlf_library(other "{fixture_models["v5-graph"].as_posix()}" OUTPUT_DIR "{given}")\n')
    res = configure(src, tmp_path / "b", check=False)
    assert (
        f"add_mlf_library(other): OUTPUT_DIR {shared.as_posix()} is already the output folder of net; "
        "give each library its own" in configure_error(res)
    )


# -- the model as a build input by content, with every generator ------------------------------
SMOKE_PROJECT = """cmake_minimum_required(VERSION 3.20)
project(t C)
enable_testing()
find_package(mlf_build 0.1 CONFIG REQUIRED)
add_mlf_library(net model.tar TEST)
file(GENERATE OUTPUT "${{CMAKE_BINARY_DIR}}/net_workspace.txt"
  CONTENT "$<TARGET_PROPERTY:net,MLF_WORKSPACE_SIZE>")
"""
PAST = time.time() - 10 * 365 * 86400  # ten years ago: older than any build


def _expect_model(bdir: Path, smoke: Path, model: Path, factor: float) -> None:
    """The smoke test runs <model> (arena, numpy's outputs); CMake's property agrees."""
    s = Smoke.parse(run([smoke]).stdout)
    assert_smoke_runs_waveform(s, model, factor)
    assert (bdir / "net_workspace.txt").read_text() == str(s.workspace)  # re-configured too


@pytest.mark.parametrize("generator", ["Ninja", "Unix Makefiles", "Ninja Multi-Config"])
def test_replaced_model_rebuilds_on_content(
    tmp_path: Path, fixture_models: dict[str, Path], generator: str
) -> None:
    """The model is a build input by its content, not its time stamp. Replaced by a different,
    older model (other files, arena and weights) through a re-pointed symbolic link, then by a
    copy that keeps an old time stamp (cp -p), one build brings the program to the new model:
    its arena, its outputs, CMake's properties; a touched model runs nothing."""
    old = tmp_path / "old.tar"
    shutil.copy(fixture_models["v7-graph"], old)
    new = reweighted(fixture_models["v5-graph"], tmp_path / "new.tar")  # other files, arena and weights
    for f in (old, new):
        os.utime(f, (PAST, PAST))
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(SMOKE_PROJECT.format())
    model = src / "model.tar"
    model.symlink_to(old)
    bdir = tmp_path / "b"
    configure(src, bdir, generator=generator)
    smoke = bdir / ("Debug/net_smoke" if generator == "Ninja Multi-Config" else "net_smoke")
    build_cmd = [cmake_exe(), "--build", bdir, "-j", "8"]
    run(build_cmd)
    _expect_model(bdir, smoke, old, 1.0)

    model.unlink()
    model.symlink_to(new)
    os.utime(model, (PAST, PAST), follow_symlinks=False)
    out = run(build_cmd).stdout
    assert out.count("mlf_build: generating net") == 1, out
    _expect_model(bdir, smoke, new, 2.0)

    model.unlink()
    shutil.copy2(old, model)  # cp -p: the old time stamp
    out = run(build_cmd).stdout
    assert out.count("mlf_build: generating net") == 1, out
    _expect_model(bdir, smoke, old, 1.0)

    os.utime(model)
    out = run(build_cmd).stdout
    assert out.count(CHECK) == 1 and ran(out) == [], out


def test_folder_model_with_glob_characters_rebuilds_on_content(
    tmp_path: Path, fixture_models: dict[str, Path]
) -> None:
    """An extracted MLF folder whose path holds '[2]' (a glob class to CMake's file(GLOB)):
    its members' content is still what the build follows; then a check interrupted between
    its two digest files is completed by the next build, never taken as done."""
    src = tmp_path / "src"
    folder = src / "m" / "v[2]"
    folder.mkdir(parents=True)
    with tarfile.open(fixture_models["v7-graph"]) as t:
        t.extractall(folder, filter="data")
    (src / "CMakeLists.txt").write_text(SMOKE_PROJECT.format().replace("model.tar", '"m/v[2]"'))
    bdir = tmp_path / "b"
    configure(src, bdir)
    build_cmd = [cmake_exe(), "--build", bdir]
    run(build_cmd)
    _expect_model(bdir, bdir / "net_smoke", fixture_models["v7-graph"], 1.0)

    new = reweighted(fixture_models["v7-graph"], tmp_path / "new.tar")
    with tarfile.open(new) as t:
        params = next(m for m in t.getmembers() if m.name.endswith(".params"))
        (folder / params.name).write_bytes(t.extractfile(params).read())  # type: ignore[union-attr]
    os.utime(folder / params.name, (PAST, PAST))
    out = run(build_cmd).stdout
    assert out.count("mlf_build: generating net") == 1, out
    _expect_model(bdir, bdir / "net_smoke", new, 2.0)

    # A check killed after writing <t>.model-digest but before <t>.model-digest.build.
    with tarfile.open(fixture_models["v7-graph"]) as t:
        (folder / params.name).write_bytes(t.extractfile(params.name).read())  # type: ignore[union-attr]
    script = tmp_path / "digest.cmake"
    digest_file = bdir / "mlf" / "net.model-digest"
    script.write_text(
        f'include("{REPO.as_posix()}/cmake/mlf_model_check.cmake")\n'
        f"_mlf_model_digest(d [==[{folder.as_posix()}]==])\n"
        f'file(WRITE "{digest_file.as_posix()}" "${{d}}\\n")\n'
    )
    run([cmake_exe(), "-P", script])
    assert digest_file.read_text() != (bdir / "mlf" / "net.model-digest.build").read_text()
    out = run(build_cmd).stdout
    assert out.count("mlf_build: generating net") == 1, out
    _expect_model(bdir, bdir / "net_smoke", fixture_models["v7-graph"], 1.0)


@pytest.mark.parametrize("align", [128, 4096])
def test_smoke_test_runs_with_large_alignments(
    tmp_path: Path, fixture_models: dict[str, Path], align: int
) -> None:
    """The TEST program's static arena follows ALIGN, however large (it was aligned to 64, so
    ALIGN 128 and more failed the caller-arena run with MLF_ERR_MISALIGNED)."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(fixture_models["v7-graph"], src / "model.tar")
    (src / "CMakeLists.txt").write_text(
        SMOKE_PROJECT.format().replace("model.tar TEST", f"model.tar ALIGN {align} TEST")
    )
    bdir = tmp_path / "b"
    configure(src, bdir)
    run([cmake_exe(), "--build", bdir])
    out = run([bdir / "net_smoke"]).stdout
    assert out.rstrip().endswith("mlf-smoke: PASS"), out
    assert f"#define NET_WORKSPACE_ALIGN {align}" in (bdir / "mlf" / "net" / "net.h").read_text()


def test_make_builds_in_parallel_from_clean(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """Unix Makefiles (CMake's default on Linux): -j1, -j2, and -j8 from clean ten times in a
    row, each running the generator once and linking a program that runs the model."""
    runs = f"status 0 workspace {model_arena(fixture_models['v7-graph'])}"  # what the program prints
    src = project(tmp_path, fixture_models["v7-graph"])
    bdir = tmp_path / "b"
    configure(src, bdir, generator="Unix Makefiles")
    for jobs in [1, 2] + [8] * 10:
        run(["make", "-C", bdir, "clean"])
        out = run(["make", "-C", bdir, f"-j{jobs}"]).stdout
        assert out.count("mlf_build: generating net") == 1, out
        assert run([bdir / "app"]).stdout.startswith(runs)


def test_multi_config_links_each_configuration_of_its_own_objects(
    tmp_path: Path, fixture_models: dict[str, Path]
) -> None:
    """Ninja Multi-Config: each configuration's library holds that configuration's code (Debug
    with debug information, Release without), and both programs run."""
    runs = f"status 0 workspace {model_arena(fixture_models['v7-graph'])}"  # what the program prints
    src = project(tmp_path, fixture_models["v7-graph"])
    bdir = tmp_path / "b"
    configure(src, bdir, generator="Ninja Multi-Config")
    for config, debug_info in (("Debug", True), ("Release", False)):
        run([cmake_exe(), "--build", bdir, "--config", config])
        assert run([bdir / config / "app"]).stdout.startswith(runs)
        sections = run(["readelf", "-SW", bdir / config / "libnet.a"]).stdout
        assert (".debug_info" in sections) == debug_info, (config, sections)


@pytest.mark.parametrize("generator", ["Ninja", "Unix Makefiles"])
def test_lto_builds_and_runs(tmp_path: Path, fixture_models: dict[str, Path], generator: str) -> None:
    """-flto for the whole project (add_compile_options, CMAKE_C_FLAGS), Release and Debug, with
    and without HIDE_SYMBOLS: the model's objects opt out of LTO, the program links and runs."""
    runs = f"status 0 workspace {model_arena(fixture_models['v7-graph'])}"  # what the program prints
    model = fixture_models["v7-graph"].as_posix()
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(t C)\nadd_compile_options(-flto)\n"
        "add_link_options(-flto)\nfind_package(mlf_build 0.1 CONFIG REQUIRED)\n"
        f'add_mlf_library(net "{model}")\nadd_mlf_library(plain "{model}" HIDE_SYMBOLS OFF)\n'
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE net)\n"
        "add_executable(app_plain main_plain.c)\ntarget_link_libraries(app_plain PRIVATE plain)\n"
    )
    (src / "main.c").write_text(MAIN.format())
    (src / "main_plain.c").write_text(MAIN.format().replace("net", "plain").replace("NET", "PLAIN"))
    for config in ("Release", "Debug"):
        bdir = tmp_path / config
        configure(src, bdir, generator=generator, defs={"CMAKE_BUILD_TYPE": config, "CMAKE_C_FLAGS": "-flto"})
        run([cmake_exe(), "--build", bdir, "-j", "4"])
        for app in ("app", "app_plain"):
            assert run([bdir / app]).stdout.startswith(runs), (config, app)


# -- every argument one value, every name and path the build can carry ------------------------
def _refusals(tmp_path: Path, model: Path, cases: dict[str, str], generator: str = "Ninja") -> dict[str, str]:
    """Configure one project per case (the body after find_package(), {model} filled in) in one
    build folder; returns each case's configure error as one line."""
    src = tmp_path / "src"
    src.mkdir(parents=True, exist_ok=True)
    bdir = tmp_path / f"b-{generator.replace(' ', '')}"
    errors = {}
    for name, body in cases.items():
        (src / "CMakeLists.txt").write_text(
            "cmake_minimum_required(VERSION 3.20)\nproject(t C)\n"
            "find_package(mlf_build 0.1 CONFIG REQUIRED)\n" + body.replace("{model}", model.as_posix())
        )
        res = configure(src, bdir, generator=generator, check=False)
        assert res.returncode != 0, f"{name}: configured\n{res.stdout[-2000:]}"
        assert "usage:" not in res.stderr and "Traceback" not in res.stderr, res.stderr
        found = re.findall(r"CMake Error at [^\n]*\(message\):\n((?:  .*\n)+)", res.stderr)
        assert len(found) == 1, f"{name}: {res.stderr}"
        errors[name] = " ".join(found[0].split())
    return errors


def test_one_value_arguments_are_one_value(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """A CMake list (from a variable) in a one-value argument is refused naming the argument,
    before it can become several generator arguments (another --out, another --name); so are a
    missing, repeated or doubled value and a value of the wrong kind; nothing is written."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.c").write_text("int keep;\n")
    lib = 'add_mlf_library(net "{model}" %s)\n'
    cases = {
        "section-list": f'set(s ".mlfw;--out;{victim.as_posix()}")\n' + lib % 'WEIGHTS_SECTION "${s}"',
        "module-list": lib % 'MODULE "default;--name;evil"',
        "align-list": lib % 'ALIGN "16;32"',
        "align-two": lib % "ALIGN 16 32",
        "align-none": lib % "ALIGN",
        "align-twice": lib % "ALIGN 16 ALIGN 32",
        "align-word": lib % "ALIGN sixteen",
        "runtime": lib % "RUNTIME tvm",
        "workspace": lib % "WORKSPACE heap",
        "aot-api": lib % "AOT_API fast",
        "hide": lib % "HIDE_SYMBOLS maybe",
        "max-ram-unit": lib % "MAX_RAM 64KB",
        "max-ram-list": lib % 'MAX_RAM "1;2"',
        "newline": lib % 'ARENA_SECTION ".a\nb"',
    }
    errors = _refusals(tmp_path, fixture_models["v7-graph"], cases)
    expect = {
        "section-list": f"WEIGHTS_SECTION must be one value, not the list '.mlfw;--out;{victim.as_posix()}'",
        "module-list": "MODULE must be one value, not the list 'default;--name;evil'",
        "align-list": "ALIGN must be one value, not the list '16;32'",
        "align-two": "ALIGN takes one value, but 2 follow it (quote a value that holds spaces)",
        "align-none": "ALIGN needs a value",
        "align-twice": "ALIGN is given twice; give it once",
        "align-word": "ALIGN must be a number of bytes (a power of two), not 'sixteen'",
        "runtime": "RUNTIME must be one of builtin, tvm_crt, not 'tvm'",
        "workspace": "WORKSPACE must be one of static, caller, not 'heap'",
        "aot-api": "AOT_API must be one of packed, unpacked, not 'fast'",
        "hide": "HIDE_SYMBOLS must be one of ON, OFF, TRUE, FALSE, YES, NO, Y, N, 1, 0, not 'maybe'",
        "max-ram-unit": "MAX_RAM must be a byte count such as 65536, 64K or 2M, not '64KB'",
        "max-ram-list": "MAX_RAM must be one value, not the list '1;2'",
        "newline": "ARENA_SECTION holds a control character (newline, tab, ...), which the build files "
        "cannot carry",
    }
    for name, message in expect.items():
        assert errors[name] == f"add_mlf_library(net): {message}", (name, errors[name])
    assert [p.name for p in victim.iterdir()] == ["keep.c"]


def test_values_reach_the_generator_as_one_argument_each(
    tmp_path: Path, fixture_models: dict[str, Path]
) -> None:
    """Values that look like options stay values (--module=--help); the generator's one-line
    error comes back, never its usage text. Budgets mean what they mean for the generator and
    Bazel: 0 is a budget of zero bytes, and a huge one is passed on as written, not wrapped."""
    model = fixture_models["v7-graph"]
    lib = 'add_mlf_library(net "{model}" %s)\n'
    cases = {
        "module-option": lib % "MODULE --help",
        "section-option": lib % 'WEIGHTS_SECTION "--out x"',
        "max-ram-0": lib % "MAX_RAM 0",
        "max-flash-0": lib % "MAX_FLASH 0",
    }
    errors = _refusals(tmp_path, model, cases)
    assert re.fullmatch(r"add_mlf_library\(net\): mlf-build: error: .*'--help'.*", errors["module-option"])
    assert errors["section-option"].startswith("add_mlf_library(net): mlf-build: error: WEIGHTS_SECTION:")
    assert "'--out x'" in errors["section-option"]
    for case, option in (("max-ram-0", "--max-ram"), ("max-flash-0", "--max-flash")):
        cli = run_cli(["generate", model, "--name", "net", "--out", tmp_path / "o", option, "0"])
        assert cli.code == 2 and errors[case] == f"add_mlf_library(net): {cli.err.strip()}", case

    # 2^64 bytes, which math(EXPR) wrapped to 0 and dropped: honoured, in both checks.
    src = project(tmp_path / "huge", model, "MAX_RAM 17179869184G MAX_FLASH 17179869184G")
    bdir = tmp_path / "huge" / "b"
    configure(src, bdir)
    commands = run(["ninja", "-C", bdir, "-t", "commands"]).stdout
    assert commands.count("--max-ram=17179869184G") == 2 and commands.count("--max-flash=17179869184G") == 2
    out = build(bdir).stdout
    assert "mlf-build: net: flash " in out and "/18446744073709551616, RAM " in out, out


def test_link_libraries_keywords_with_hidden_symbols(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """LINK_LIBRARIES takes what target_link_libraries() takes, its keywords too."""
    src = project(tmp_path, fixture_models["v7-graph"], "LINK_LIBRARIES debug dbg optimized opt")
    with (src / "CMakeLists.txt").open("a") as f:
        f.write("add_library(dbg STATIC dbg.c)\nadd_library(opt STATIC opt.c)\n")
    (src / "dbg.c").write_text("int dbg_marker;\n")
    (src / "opt.c").write_text("int opt_marker;\n")
    for config, linked, not_linked in (
        ("Release", "libopt.a", "libdbg.a"),
        ("Debug", "libdbg.a", "libopt.a"),
    ):
        bdir = tmp_path / config
        configure(src, bdir, defs={"CMAKE_BUILD_TYPE": config})
        build(bdir)
        link = run(["ninja", "-C", bdir, "-t", "commands", "app"]).stdout.splitlines()[-1]
        assert linked in link and not_linked not in link, (config, link)
        assert run([bdir / "app"]).stdout.startswith("status 0")


def test_names_that_collide_are_refused(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """Two libraries with one C prefix (Net and net; a library and an ALL_MODULES module of
    another) would give a program one's header and the other's model; a library named m would
    stand for libm. Each is refused at configure time in one line."""
    two = fixture_models["v7-two-modules"]
    cases = {
        "case": 'add_mlf_library(net "{model}")\nadd_mlf_library(Net "{model}")\n',
        "module": f'add_mlf_library(pair "{two.as_posix()}" ALL_MODULES)\n'
        'add_mlf_library(pair_mixer "{model}")\n',
        "libm": 'add_mlf_library(m "{model}")\n',
        "name": 'add_mlf_library("n,t" "{model}")\n',
        # target_link_libraries(app ${CMAKE_DL_LIBS}) would link the model instead of libdl.
        "libdl": 'add_mlf_library(dl "{model}")\n',
        "runtime": 'add_mlf_library(runtime "{model}")\n',
        # Its folder would be mlf/net_model.o, the merged object of net.
        "bookkeeping": 'add_mlf_library(net "{model}")\nadd_mlf_library(net_model.o "{model}")\n',
        "long": f'add_mlf_library({"n" * 201} "{{model}}")\n',
    }
    errors = _refusals(tmp_path, fixture_models["v7-graph"], cases)
    assert errors == {
        "case": "add_mlf_library(Net): the C prefix net is already that of the library net; give one of "
        "them another name (its C form is the API's prefix)",
        "module": "add_mlf_library(pair_mixer): the C prefix pair_mixer is already that of the library pair; "
        "give one of them another name (its C form is the API's prefix)",
        "libm": "add_mlf_library(m): a target named m would stand for the C math library (libm) that "
        "mlf::runtime links, a dependency cycle; choose another name",
        "name": "add_mlf_library(n,t): the target name holds ','; use letters, digits and _ . + - (a "
        "lower-case C identifier is best: it is the API's prefix)",
        "libdl": "add_mlf_library(dl): a target named dl would take the place of the system library libdl "
        "wherever the project links dl; choose another name",
        "runtime": "add_mlf_library(runtime): mlf::runtime is mlf_build's own target; choose another name",
        "bookkeeping": "add_mlf_library(net_model.o): the target name ends in '_model.o', the name of "
        "another library's build file in mlf/; choose another name",
        "long": f"add_mlf_library({'n' * 201}): the target name has 201 characters; its files' names must "
        "fit the file system's 255 bytes, so use at most 200",
    }


# Characters a model's file name and an output folder may hold, with each generator (the rest
# are refused, below: for the model by the generator, which alone puts its path in CMake code).
MODEL_CHARS = " #'\"(){}[]&!,@+=%~^`:<>|ü"
OUT_CHARS = {"Ninja": " #'\"(){}&!,@+=%~^`ü", "Unix Makefiles": " $#'(){}&!,@+=%~^`ü"}
REFUSED_OUT_CHARS = [";", "[", "]", "<", ">", "|", "\\"]
REFUSED_OUT_CHARS_OF = {"Ninja": ["$"], "Unix Makefiles": [":", '"']}


@pytest.mark.parametrize("generator", ["Ninja", "Unix Makefiles"])
def test_special_characters_in_paths(tmp_path: Path, fixture_models: dict[str, Path], generator: str) -> None:
    """Output folders and model file names with spaces, '#', quotes and the like build and run
    (model names also with balanced brackets, '<', '>', '|'); a character the build cannot carry
    is refused naming it: in the output folder ';', brackets, '<', '>', '|', '\\', control
    characters, '$' with Ninja, ':' and '"' with Make; in the model's name '\\' here, and what
    CMake code cannot hold (';', '$', an unbalanced bracket) by the generator."""
    runs = f"status 0 workspace {model_arena(fixture_models['v7-graph'])}"  # what the program prints
    model = tmp_path / f"m {MODEL_CHARS}.tar"
    shutil.copyfile(fixture_models["v7-graph"], model)
    version = tuple(int(x) for x in run([cmake_exe(), "--version"]).stdout.split()[2].split(".")[:2])
    # refused in custom command outputs before 3.30 (measured: 3.29.6 refuses, 3.30.9 accepts)
    old_cmake = ["#"] if version < (3, 30) else []
    out = "gen " + "".join(c for c in OUT_CHARS[generator] if c not in old_cmake)
    src = project(tmp_path, model, f"OUTPUT_DIR [==[{out}]==]")
    text = (
        (src / "CMakeLists.txt").read_text().replace(f'"{model.as_posix()}"', f"[==[{model.as_posix()}]==]")
    )
    (src / "CMakeLists.txt").write_text(text)
    bdir = tmp_path / "b"
    configure(src, bdir, generator=generator)
    run([cmake_exe(), "--build", bdir, "-j", "4"])
    assert run([bdir / "app"]).stdout.startswith(runs)
    assert (bdir / out / "net.h").is_file()

    refused_out = REFUSED_OUT_CHARS + REFUSED_OUT_CHARS_OF[generator] + old_cmake + ["\t"]
    cases = {f"out{c!r}": f"add_mlf_library(net {{model}} OUTPUT_DIR [==[g{c}x]==])\n" for c in refused_out}
    refused_model = ["\\", ";", "$", "["]
    for c in refused_model:
        shutil.copyfile(fixture_models["v7-graph"], tmp_path / f"m{c}x.tar")
    cases |= {f"model{c!r}": f"add_mlf_library(net [==[{tmp_path}/m{c}x.tar]==])\n" for c in refused_model}
    errors = _refusals(tmp_path / "r", fixture_models["v7-graph"], cases, generator)
    for c in refused_out:
        msg = errors[f"out{c!r}"]
        if c == ";":
            assert msg.startswith("add_mlf_library(net): OUTPUT_DIR must be one value, not the list"), msg
        elif c == "\t":
            assert "OUTPUT_DIR holds a control character" in msg, msg
        else:
            assert re.fullmatch(
                rf"add_mlf_library\(net\): OUTPUT_DIR (\S*/)?g{re.escape(c)}x holds '{re.escape(c)}', "
                rf"which a {generator} build \(CMake [\d.]+\) cannot carry in a path; rename or move it",
                msg,
            ), msg
    assert f"the model {tmp_path}/m\\x.tar holds '\\'" in errors["model'\\\\'"], errors
    for c in refused_model[1:]:
        msg = errors[f"model{c!r}"]
        assert msg.startswith(f"add_mlf_library(net): mlf-build: error: {tmp_path}/m{c}x.tar"), msg
        assert "cannot be passed to CMake exactly" in msg, msg


# -- output folders of their own --------------------------------------------------------------
def test_output_dir_must_be_a_folder_of_its_own(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """The generator replaces what is in its output folder: a source folder holding the user's
    files, a folder nested in another library's, one holding the source or build folder or the
    model, are refused at configure time, and nothing in them changes."""
    model = fixture_models["v7-graph"]
    src = tmp_path / "src"
    (src / "code").mkdir(parents=True)
    for name in ("net_util.c", "net.h", "notes.txt"):
        (src / "code" / name).write_text(f"/* {name}: the user's */\n")
    before = {p.name: p.read_text() for p in (src / "code").iterdir()}
    lib = 'add_mlf_library(net "{model}" OUTPUT_DIR %s)\n'
    cases = {
        "source-folder": lib % "${CMAKE_CURRENT_SOURCE_DIR}/code",
        "source-root": lib % "${CMAKE_SOURCE_DIR}",
        "build-root": lib % "${CMAKE_BINARY_DIR}",
        "nested": lib % "gen" + 'add_mlf_library(inner "{model}" OUTPUT_DIR gen/inner)\n',
        "holding": lib % "gen/inner" + 'add_mlf_library(outer "{model}" OUTPUT_DIR gen)\n',
    }
    errors = _refusals(tmp_path, model, cases)
    b = tmp_path / "b-Ninja"
    code = src / "code"
    assert re.fullmatch(
        rf"add_mlf_library\(net\): OUTPUT_DIR {code} already holds (net_util\.c|net\.h|notes\.txt), which "
        "mlf_build did not write; give the library a new or empty folder",
        errors["source-folder"],
    ), errors["source-folder"]
    assert errors["source-root"] == (
        f"add_mlf_library(net): OUTPUT_DIR {src} holds {src}; the generator replaces what is in its folder, "
        "so give it a folder of its own"
    )
    assert errors["build-root"].startswith(f"add_mlf_library(net): OUTPUT_DIR {b} holds {b};")
    assert errors["nested"] == (
        f"add_mlf_library(inner): OUTPUT_DIR {b}/gen/inner and {b}/gen, the output folder of net, are "
        "nested; give each library a folder of its own, side by side"
    )
    assert errors["holding"].startswith(f"add_mlf_library(outer): OUTPUT_DIR {b}/gen and {b}/gen/inner,")
    assert {p.name: p.read_text() for p in code.iterdir()} == before


def test_output_dir_is_not_shared_between_build_trees(
    tmp_path: Path, fixture_models: dict[str, Path]
) -> None:
    """Two build trees (say, host and target, or two configurations) cannot share an output
    folder, nor nest theirs: the second is refused, naming the first; once the first build tree
    is gone, its folder may be taken over. A folder an older generation filled is adopted."""
    shared = tmp_path / "generated"
    src = project(tmp_path, fixture_models["v7-graph"], f'OUTPUT_DIR "{shared.as_posix()}"')
    one, two = tmp_path / "one", tmp_path / "two"
    configure(src, one)
    build(one)
    res = configure(src, two, check=False)
    assert (
        f"add_mlf_library(net): OUTPUT_DIR {shared} is the output folder of net in the build tree {one}; "
        "give each build tree its own (e.g. the default, in the build tree)"
    ) in configure_error(res)
    nested = project(
        tmp_path / "n", fixture_models["v7-graph"], f'OUTPUT_DIR "{(shared / "sub").as_posix()}"'
    )
    res = configure(nested, tmp_path / "three", check=False)
    assert (
        f"add_mlf_library(net): OUTPUT_DIR {shared}/sub is inside {shared}, the output folder of net in "
        f"the build tree {one}; give each library a folder of its own"
    ) in configure_error(res)

    shutil.rmtree(one)
    configure(src, two)
    build(two)
    assert run([two / "app"]).stdout.startswith("status 0")

    # Generated by the command line (or an mlf_build without the mark): only its own files.
    older = tmp_path / "older"
    assert run_cli(["generate", fixture_models["v7-graph"], "--name", "net", "--out", older]).code == 0
    src = project(tmp_path / "o", fixture_models["v7-graph"], f'OUTPUT_DIR "{older.as_posix()}"')
    configure(src, tmp_path / "o" / "b")


@pytest.mark.parametrize("generator", ["Ninja", "Unix Makefiles"])
def test_interrupted_merge_is_redone(tmp_path: Path, fixture_models: dict[str, Path], generator: str) -> None:
    """A build killed between the partial link and objcopy leaves no object that looks up to
    date (Make keeps no log of what finished): the next build links the model again, and its
    object has only the API global."""
    objcopy = shutil.which("objcopy")
    assert objcopy
    flag = tmp_path / "kill-during-objcopy"
    wrapper = tmp_path / "objcopy"
    # Kills the whole build (ninja or make, and all its jobs) as a power cut or kill -9 would.
    wrapper.write_text(f'#!/bin/sh\nif [ -e "{flag}" ]; then kill -9 0; fi\nexec "{objcopy}" "$@"\n')
    wrapper.chmod(0o755)
    model = tmp_path / "model.tar"
    shutil.copyfile(fixture_models["v7-graph"], model)
    src = project(tmp_path, model)
    bdir = tmp_path / "b"
    configure(src, bdir, defs={"CMAKE_OBJCOPY": str(wrapper)}, generator=generator)
    build_cmd = [cmake_exe(), "--build", bdir]
    run(build_cmd)

    # Another export of the same graph (TVM 0.10's file names): new code, merged again. (New
    # weights alone would not: the parameters are archived beside the merged object.)
    shutil.copyfile(fixture_models["v6-graph"], model)
    flag.touch()
    killed = subprocess.run(build_cmd, capture_output=True, text=True, start_new_session=True)
    assert killed.returncode != 0 and "linking net into one object" in killed.stdout, killed.stdout
    flag.unlink()
    out = run(build_cmd).stdout
    assert "mlf_build: linking net into one object" in out, out
    merged = bdir / "mlf" / "net_model.o"
    nm = run(["nm", "-g", "--defined-only", merged]).stdout
    defined = {line.split()[-1] for line in nm.splitlines() if line.strip()}
    assert defined == set((bdir / "mlf" / "net" / "net.syms").read_text().split()), nm
    assert run([bdir / "app"]).stdout.startswith("status 0")


def test_linker_fragments_are_written_as_they_are(tmp_path: Path) -> None:
    """The Zephyr module's linker fragments (and each output folder's mark) are written by
    _mlf_write_if_changed(): a section name reaches the file literally, @VAR@ and ${VAR} included
    (file(CONFIGURE) expanded them: @BOARD@ became the board's name), and an unchanged file keeps
    its time stamp, so nothing relinks."""
    out = tmp_path / "mlf_noinit.ld"
    script = tmp_path / "write.cmake"
    script.write_text(
        f'include("{(REPO / "cmake" / "mlf_model_check.cmake").as_posix()}")\n'
        "set(BOARD qemu_cortex_m3)\n"
        "set(section [=[.mlf_arena_@BOARD@_${BOARD}]=])\n"
        '_mlf_write_if_changed("${OUT}" "*(\\"${section}\\")\\n")\n'
    )
    run([cmake_exe(), f"-DOUT={out}", "-P", script])
    assert out.read_text() == '*(".mlf_arena_@BOARD@_${BOARD}")\n'
    os.utime(out, (PAST, PAST))
    run([cmake_exe(), f"-DOUT={out}", "-P", script])
    assert out.stat().st_mtime == PAST


def test_archive_warnings_show_once_per_configure(tmp_path: Path) -> None:
    """Two libraries from one archive with two files that are not part of an MLF: each warning
    once per configure run, none again from the build's generation (it had 4 lines at
    configure, 4 more at build and 4 at each re-configure)."""
    from tests.mlf_factory import minimal_files, write_tar

    files = {**minimal_files(), "notes.txt": b"hello\n", "extra/readme.md": b"# x\n"}
    model = write_tar(tmp_path / "model.tar", files)
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(t C)\n"
        "find_package(mlf_build 0.1 CONFIG REQUIRED)\n"
        f'add_mlf_library(net_a "{model.as_posix()}")\nadd_mlf_library(net_b "{model.as_posix()}")\n'
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE net_a net_b)\n"
    )
    (src / "main.c").write_text('#include "net_a.h"\n#include "net_b.h"\nint main(void) { return 0; }\n')
    bdir = tmp_path / "b"

    def ignored(text: str) -> list[str]:
        return sorted(re.findall(r"\((notes\.txt|extra/readme\.md)\): ignored", " ".join(text.split())))

    both = ["extra/readme.md", "notes.txt"]
    first = configure(src, bdir)
    assert ignored(first.stdout + first.stderr) == both, first.stderr
    built = build(bdir)
    assert (bdir / "app").is_file()
    assert ignored(built.stdout + built.stderr) == [], built.stdout
    again = configure(src, bdir)
    assert ignored(again.stdout + again.stderr) == both, again.stderr
