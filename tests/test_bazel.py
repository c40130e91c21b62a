"""Bazel: examples/bazel, the mlf_library rule and the arm-none-eabi toolchains.

With Bazel (Debian bazel-bootstrap 4.2.3, offline), in one output user root under pytest's tmp:
- `bazel test //...` in examples/bazel for the host, --config=cm3 and --config=cm4f: the
  waveform program and the model's smoke test pass natively and under qemu-system-arm;
- the generated files of the host build equal a CMake build's (add_mlf_library(waveform ...) in
  examples/cmake-qemu), and the program prints the same lines as the CMake example, natively and
  under QEMU on Cortex-M3 and Cortex-M4F;
- a bad tarball fails the build with the CLI's one-line error;
- all_modules: the two-module fixture in a host program calling both modules equals CMake's
  ALL_MODULES build (generated files, printed outputs), keeps only the API global, has a smoke
  test per module, and a wrong module list fails with the generator's one-line error;
- cmsis_nn: the int8 CMSIS-NN fixture built against CMSIS-NN v4.1.0 (bazel/cmsis_nn.BUILD over
  ../shared/third_party, skipped without it) passes its smoke test on the host with the TFLite
  reference's outputs; without the attribute the build fails with the generator's one line;
- devices: the Ethos-U devices-struct fixture with devices = {<driver>: "ethos_u"} against a
  recording stand-in of the driver API passes tests/ethos_u/glue_test.c on the host; a bad device
  name fails the analysis, a missing one the generator with its one line;
- a clean build in a second output base gives byte-identical outputs (generated files, objects,
  archives, firmware), and after `bazel clean` a clean build there with --disk_cache has a cache
  hit for every mlf_library action (the figure is printed: run pytest -s to see it).
Without Bazel these are skipped, with the reason; test_declared_outputs,
test_all_modules_expected_list and test_module_version need no Bazel. About 1.5-2.5 minutes on 2
cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlf_build import __version__
from mlf_build.naming import library_prefix
from tests.conftest import cmsis_nn_dir, needs_cmsis_nn
from tests.symbols import assert_hidden

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "bazel"
CMAKE_EXAMPLE = REPO / "examples" / "cmake-qemu"
MODEL = REPO / "examples" / "model" / "waveform.tar"
BAZEL = shutil.which("bazel")
ARM = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
CMAKE = shutil.which("cmake") and shutil.which("ninja")

needs_bazel = pytest.mark.skipif(
    BAZEL is None, reason="needs bazel (Debian: apt-get install bazel-bootstrap; tests/run.sh does)"
)
needs_arm = pytest.mark.skipif(not ARM, reason="needs arm-none-eabi-gcc and qemu-system-arm")
needs_cmake = pytest.mark.skipif(not CMAKE, reason="needs cmake and ninja")

# Cortex-M configs of examples/bazel/.bazelrc -> CMake's MLF_ARM_CPU and the QEMU machine.
ARM_CONFIGS = {"cm3": ("cortex-m3", "mps2-an385"), "cm4f": ("cortex-m4", "mps2-an386")}
MNEMONIC_LINES = re.compile(r"^waveform: .*$", re.M)


def run(cmd, cwd=None, timeout=600, env=None):
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _load_bzl_data(path: Path) -> dict:
    """The top-level constants of a data-only .bzl file (valid Python: dict and list literals)."""
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return {k: v for k, v in namespace.items() if k.isupper()}


def _generated(model: Path, tmp: Path, *options: str) -> tuple[set[str], set[str]]:
    out = run(
        [
            sys.executable,
            "-m",
            "mlf_build",
            "generate",
            model,
            "--name",
            "net",
            "--out",
            tmp,
            "--list",
            *options,
        ],
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    rels = out.stdout.split()
    return {r for r in rels if "/" not in r}, {r.split("/", 1)[0] for r in rels if "/" in r}


def _expected(table: dict, attrs: dict, **fields: str) -> set[str]:
    out = set()
    for key, names in table.items():
        attr, _, value = key.partition("=")
        if not attr or (attrs.get(attr) == value if value else attrs.get(attr)):
            out |= {n.format(**fields) for n in names}
    return out


def _declared_files(tables: dict, attrs: dict) -> set[str]:
    """The files mlf_library(name = "net", **attrs) declares: the library's, and each module's
    (prefix net, or net_<module> for each module of all_modules)."""
    files = _expected(tables["MLF_OUTPUT_FILES"], attrs, t="net")
    for module in attrs.get("all_modules") or [None]:
        prefix = "net" if module is None else library_prefix(f"net_{module}")
        files |= _expected(tables["MLF_MODULE_FILES"], attrs, m=prefix)
    return files


def _all_modules(*modules: str) -> list[str]:
    """The generator options mlf_library passes for all_modules = [modules...]."""
    return ["--all-modules", *(o for m in modules for o in ("--expect-module", m))]


def test_declared_outputs(tmp_path, fixture_models):
    """bazel/outputs.bzl (what mlf_library declares) matches what the generator writes."""
    tables = _load_bzl_data(REPO / "bazel" / "outputs.bzl")
    two = fixture_models["v7-two-modules"]
    sections = {"weights_section": ".rodata.w", "arena_section": ".bss.a"}
    cases = [
        (MODEL, {}, []),
        (MODEL, {"weights_section": ".rodata.w"}, ["--weights-section", ".rodata.w"]),
        (MODEL, {"arena_section": ".bss.a"}, ["--arena-section", ".bss.a"]),
        (MODEL, {"workspace": "caller"}, ["--workspace", "caller"]),
        # No arena at all (the caller's, no USMP pools): the fragment is still written.
        (
            MODEL,
            {"workspace": "caller", **sections},
            ["--workspace", "caller", "--weights-section", ".rodata.w", "--arena-section", ".bss.a"],
        ),
        (MODEL, {"all_modules": ["default"]}, _all_modules("default")),
        (two, {"module": "mixer"}, ["--module", "mixer"]),
        (two, {"all_modules": ["waveform", "mixer"]}, _all_modules("waveform", "mixer")),
        (
            two,
            {"all_modules": ["mixer", "waveform"], **sections},
            [
                *_all_modules("mixer", "waveform"),
                "--weights-section",
                ".rodata.w",
                "--arena-section",
                ".bss.a",
            ],
        ),
        (
            two,
            {"all_modules": ["mixer", "waveform"], "workspace": "caller"},
            [*_all_modules("mixer", "waveform"), "--workspace", "caller"],
        ),
    ]
    corpus = Path(os.environ.get("MLF_CORPUS", REPO.parent / "shared" / "mlf-corpus"))
    crt_model = corpus / "linaro-sine-v5-aot-crt" / "model.tar"
    if crt_model.exists():
        shape = ["--io-shape", "Identity=1x1"]  # the archive records no output size
        cases.append((crt_model, {"runtime": "tvm_crt"}, ["--runtime", "tvm_crt", *shape]))
        cases.append(
            (
                crt_model,
                {"runtime": "tvm_crt", "all_modules": ["default"]},
                ["--runtime", "tvm_crt", *_all_modules("default"), *shape],
            )
        )
    for model, attrs, options in cases:
        files, dirs = _generated(model, tmp_path / "out", *options)
        assert files == _declared_files(tables, attrs), options
        assert dirs <= _expected(tables["MLF_OUTPUT_DIRS"], attrs, t="net"), options


def test_all_modules_expected_list(tmp_path, fixture_models):
    """What mlf_library's all_modules relies on: the listed modules, in any order, must be
    exactly the archive's, or generation (and --list) fails with one line naming the archive's
    modules; --list prints what a generation writes and its manifest lists."""
    two = fixture_models["v7-two-modules"]
    args = [sys.executable, "-m", "mlf_build", "generate", two, "--name", "net", "--out", tmp_path / "out"]
    for listed in (["mixer"], ["mixer", "wave"], ["mixer", "waveform", "waveform"], ["default"]):
        for extra in ([], ["--list"]):
            out = run([*args, *_all_modules(*listed), *extra], cwd=REPO)
            assert out.returncode == 2 and out.stdout == "", out.stderr
            assert out.stderr.splitlines() == [
                f"mlf-build: error: {two}: holds the modules mixer, waveform, but "
                f"all_modules/--expect-module lists {', '.join(map(repr, listed))}; "
                "list exactly the modules it holds"
            ]
            assert not (tmp_path / "out").exists()
    out = run([*args, "--expect-module", "mixer"], cwd=REPO)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "mlf-build: error: --expect-module: lists the modules of ALL_MODULES; give --all-modules too"
    ]

    listed = run([*args, *_all_modules("waveform", "mixer"), "--list"], cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    _ok(run([*args, *_all_modules("waveform", "mixer")], cwd=REPO))
    manifest = json.loads((tmp_path / "out" / "net_manifest.json").read_text())
    assert listed.stdout.split() == manifest["files"]
    assert [(m["module"], m["prefix"], m["header"]) for m in manifest["modules"]] == [
        ("mixer", "net_mixer", "net_mixer.h"),
        ("waveform", "net_waveform", "net_waveform.h"),
    ]
    # The same bytes as without the expected list (the list is a check, not an option).
    plain = tmp_path / "plain"
    _ok(run([*args[:-1], plain, "--all-modules"], cwd=REPO))
    for rel in manifest["files"]:
        assert (plain / rel).read_bytes() == (tmp_path / "out" / rel).read_bytes(), rel


def test_module_version():
    text = (REPO / "MODULE.bazel").read_text()
    assert (
        re.search(r'^module\(\s*name = "mlf_build",\s*version = "([^"]+)"', text, re.M).group(1)
        == __version__
    )


# ------------------------------------------------------------------------------------------------
class Bazel:
    """Runs bazel in a workspace with its own output base under one output user root (and, when
    given, in the environment ``env``)."""

    def __init__(
        self,
        root: Path,
        workspace: Path,
        base: str,
        disk_cache: Path | None = None,
        env: dict[str, str] | None = None,
    ):
        self.root, self.workspace = root, workspace
        self.output_base = root / base
        self.disk_cache = disk_cache
        self.log = root / f"{base}.log"
        self.env = env

    def __call__(self, command: str, *args: str, config: str | None = None, timeout: int = 600):
        startup = [
            BAZEL,
            f"--output_user_root={self.root / 'user_root'}",
            f"--output_base={self.output_base}",
            "--nohome_rc",
            "--max_idle_secs=600",
        ]
        flags = ["--color=no", "--curses=no"]
        if command in ("build", "test", "info"):
            flags += [
                f"--repo_env=MLF_PYTHON={sys.executable}",
                "--symlink_prefix=/",
                "--nosandbox_debug",
            ]
            if config:
                flags.append(f"--config={config}")
            if self.disk_cache and command != "info":
                flags.append(f"--disk_cache={self.disk_cache}")
        out = run([*startup, command, *flags, *args], cwd=self.workspace, timeout=timeout, env=self.env)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as f:
            f.write(f"$ bazel {command} {' '.join(args)} (config {config})\n{out.stdout}{out.stderr}\n")
        return out

    def info(self, key: str, config: str | None = None) -> Path:
        out = self("info", key, config=config)
        assert out.returncode == 0, out.stderr
        return Path(out.stdout.strip())

    def shutdown(self):
        if self.output_base.exists():
            self("shutdown", timeout=120)


def _ok(out):
    assert out.returncode == 0, out.stdout + out.stderr[-6000:]
    return out


def _digests(bin_dir: Path) -> dict[str, str]:
    """sha256 of every output under bazel-bin, runfiles trees left out (symlinks)."""
    digests = {}
    for path in sorted(bin_dir.rglob("*")):
        rel = path.relative_to(bin_dir).as_posix()
        if ".runfiles" in rel or not path.is_file() or path.is_symlink():
            continue
        digests[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _exec_log(path: Path) -> list[dict]:
    """The spawns of --execution_log_json_file (a stream of JSON objects in Bazel 4)."""
    text, spawns, i = path.read_text(), [], 0
    decoder = json.JSONDecoder()
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return spawns
        obj, i = decoder.raw_decode(text, i)
        spawns.append(obj)


# Outputs of the actions mlf_library runs for :waveform (bin-relative path prefixes).
MLF_OUTPUTS = ("_mlf/", "_mlf_units/", "_objs/waveform/", "_pic_objs/waveform/", "libwaveform")


def _is_mlf_action(spawn: dict) -> bool:
    for out in spawn.get("listedOutputs", []):
        rel = re.sub(r"^bazel-out/[^/]+/bin/", "", out)
        if rel.startswith(MLF_OUTPUTS):
            return True
    return False


@pytest.fixture(scope="module")
def bazel(tmp_path_factory):
    """examples/bazel built and tested for the host and both Cortex-M configs (output base A,
    filling the disk cache); yields a dict of what later tests need."""
    if BAZEL is None:
        pytest.skip("needs bazel (Debian: apt-get install bazel-bootstrap; tests/run.sh does)")
    root = tmp_path_factory.mktemp("bazel")
    state = {"root": root, "servers": [], "cache": root / "disk_cache"}
    a = Bazel(root, EXAMPLE, "ob_a", disk_cache=state["cache"])
    state["servers"].append(a)
    state["a"] = a
    try:
        yield state
    finally:
        for server in state["servers"]:
            server.shutdown()


@pytest.fixture(scope="module")
def host_run(bazel):
    a = bazel["a"]
    out = _ok(a("test", "//..."))
    assert "Executed 2 out of 2 tests: 2 tests pass." in out.stdout + out.stderr, out.stdout
    testlogs = a.info("bazel-testlogs")
    return {
        "bin": a.info("bazel-bin"),
        "lines": MNEMONIC_LINES.findall((testlogs / "waveform_demo_test" / "test.log").read_text()),
    }


def _cmake_native_build(src: Path, build: Path) -> None:
    """Configure (no toolchain file: the host compiler) and build a CMake project."""
    cfg = run(
        [
            "cmake", "-S", src, "-B", build, "-G", "Ninja",
            f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}", f"-DMLF_BUILD_PYTHON={sys.executable}",
        ]
    )  # fmt: skip
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    _ok(run(["cmake", "--build", build]))


@pytest.fixture(scope="module")
def cmake_host(tmp_path_factory):
    """examples/cmake-qemu configured natively (no toolchain file): generated files and output."""
    if not CMAKE:
        pytest.skip("needs cmake and ninja")
    build = tmp_path_factory.mktemp("cmake-host")
    _cmake_native_build(CMAKE_EXAMPLE, build)
    demo = _ok(run([build / "waveform_demo"], timeout=60))
    return {"out": build / "mlf" / "waveform", "lines": MNEMONIC_LINES.findall(demo.stdout)}


@needs_bazel
def test_host_build_equals_cmake(host_run, cmake_host):
    """Same generator, same options: every generated file is byte-identical to CMake's, and the
    host program prints what CMake's does."""
    ours, theirs = host_run["bin"] / "_mlf" / "waveform", cmake_host["out"]
    manifest = json.loads((ours / "waveform_manifest.json").read_text())
    assert set(manifest["files"]) >= {"waveform.h", "waveform_runner.c", "waveform_data.c"}
    for rel in manifest["files"]:
        assert (ours / rel).read_bytes() == (theirs / rel).read_bytes(), rel
    assert host_run["lines"] == cmake_host["lines"]
    assert host_run["lines"][-1] == "waveform: PASS (4/4 cases match the numpy reference)"


@needs_bazel
def test_report_output_group(bazel, host_run):
    """--output_groups=mlf_report builds the module's report page, the same bytes as CMake's."""
    out = _ok(bazel["a"]("build", "//:waveform", "--output_groups=mlf_report"))
    assert "_mlf/waveform/waveform_report.html" in out.stderr
    report = host_run["bin"] / "_mlf" / "waveform" / "waveform_report.html"
    assert report.read_text().startswith("<!DOCTYPE html>")


@needs_bazel
@needs_arm
@pytest.mark.parametrize("config", list(ARM_CONFIGS))
def test_cortex_m_under_qemu(bazel, host_run, config, tmp_path_factory):
    """--config=cm3/cm4f: firmware and smoke test pass under QEMU and print the CMake example's
    lines on the same CPU."""
    a = bazel["a"]
    out = _ok(a("test", "//...", config=config))
    assert "Executed 2 out of 2 tests: 2 tests pass." in out.stdout + out.stderr, out.stdout
    log = (a.info("bazel-testlogs", config=config) / "waveform_demo_test" / "test.log").read_text()
    assert (
        f"qemu-system-arm -M {ARM_CONFIGS[config][1]}"
        in (a.info("bazel-bin", config=config) / "waveform_demo_test.sh").read_text()
    )
    lines = MNEMONIC_LINES.findall(log)
    assert lines == host_run["lines"]

    if not CMAKE:
        pytest.skip("needs cmake and ninja for the CMake side")
    cpu, machine = ARM_CONFIGS[config]
    build = tmp_path_factory.mktemp(f"cmake-{cpu}")
    _ok(
        run(
            [
                "cmake", "-S", CMAKE_EXAMPLE, "-B", build, "-G", "Ninja",
                f"-DCMAKE_TOOLCHAIN_FILE={REPO / 'cmake' / 'toolchains' / 'arm-none-eabi.cmake'}",
                f"-DMLF_ARM_CPU={cpu}", f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}",
                f"-DMLF_BUILD_PYTHON={sys.executable}", "-DCMAKE_BUILD_TYPE=MinSizeRel",
            ]
        )
    )  # fmt: skip
    _ok(run(["cmake", "--build", build]))
    qemu = run(
        [
            "timeout", "60", "qemu-system-arm", "-M", machine, "-nographic",
            "-semihosting-config", "enable=on,target=native", "-kernel", build / "waveform_demo.elf",
        ],
        timeout=120,
    )  # fmt: skip
    assert qemu.returncode == 0, qemu.stdout + qemu.stderr
    assert lines == MNEMONIC_LINES.findall(qemu.stdout)


@pytest.fixture(scope="module")
def scratch(bazel, tmp_path_factory):
    """One workspace (output base ob_scratch, one server) for the tests that build BUILD files of
    their own, each in a package of its own; it uses this checkout as @mlf_build."""
    ws = tmp_path_factory.mktemp("scratch")
    workspace = (
        f'workspace(name = "scratch")\nlocal_repository(name = "mlf_build", path = "{REPO}")\n'
        'load("@mlf_build//bazel:repositories.bzl", "mlf_build_dependencies")\n'
        "mlf_build_dependencies(stubs = True)\n"
    )
    if (cmsis_nn_dir() / "Include" / "arm_nnfunctions.h").is_file():
        workspace += (
            f'new_local_repository(name = "cmsis_nn", path = "{cmsis_nn_dir()}",\n'
            '                     build_file = "@mlf_build//bazel:cmsis_nn.BUILD")\n'
        )
    (ws / "WORKSPACE").write_text(workspace)
    (ws / ".bazelrc").write_text("build --incompatible_enable_cc_toolchain_resolution\n")
    b = Bazel(bazel["root"], ws, "ob_scratch")
    bazel["servers"].append(b)
    return {"ws": ws, "bazel": b}


def _cli_errors(ws: Path, *args) -> list[str]:
    """The error lines of `mlf-build generate` run in the workspace (paths as Bazel passes them)."""
    cli = run(
        [sys.executable, "-m", "mlf_build", "generate", *args],
        cwd=ws,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert cli.returncode == 2, cli.stdout + cli.stderr
    return cli.stderr.splitlines()


@needs_bazel
def test_bad_tarball_fails_with_the_cli_error(scratch, tmp_path):
    ws, b = scratch["ws"], scratch["bazel"]
    (ws / "bad").mkdir()
    with tarfile.open(ws / "bad" / "bad.tar", "w") as tar:  # a tar without metadata.json
        info = tarfile.TarInfo("codegen/host/src/lib0.c")
        tar.addfile(info)
    (ws / "bad" / "BUILD.bazel").write_text(
        'load("@mlf_build//bazel:defs.bzl", "mlf_library")\nmlf_library(name = "bad", src = "bad.tar")\n'
    )
    out = b("build", "//bad")
    assert out.returncode == 1, out.stderr
    errors = re.findall(r"^mlf-build: error: .*$", out.stderr, re.M)
    assert _cli_errors(ws, "bad/bad.tar", "--name", "bad", "--out", tmp_path / "o") == errors
    assert len(errors) == 1 and errors[0].startswith("mlf-build: error: bad/bad.tar: "), out.stderr
    line = re.search(
        r"^ERROR: .*(mlf_build: generating //bad:bad from //bad:bad.tar failed: \(Exit 2\): \S+ failed)",
        out.stderr,
        re.M,
    )
    assert line, out.stderr
    # docs/bazel.md quotes that line (for a library named partial).
    documented = line[1].replace("//bad:bad", "//bad:partial")
    assert documented in (REPO / "docs" / "bazel.md").read_text(), documented


# all_modules: a host program calling both modules of the two-module fixture, built by Bazel
# and by CMake (ALL_MODULES) from the same files; it prints every output exactly.
TWO_MODULES_MAIN = r"""#include <stdio.h>
#include "both.h"
int main(void) {
  static float sig[32], a[4], b[4], logits[4], probs[4], mix[3];
  for (int i = 0; i < 32; ++i) sig[i] = (float)(i % 8) / 4.0f - 1.0f;
  for (int i = 0; i < 4; ++i) { a[i] = 0.25f * (float)i; b[i] = -0.5f + 0.1f * (float)i; }
  const void *wi[] = {sig}; void *wo[] = {logits, probs};
  const void *mi[] = {a, b}; void *mo[] = {mix};
  int rc = both_waveform_run(wi, wo) | both_mixer_run(mi, mo);
  printf("rc %d workspace %d %d\n", rc, BOTH_WAVEFORM_WORKSPACE_SIZE, BOTH_MIXER_WORKSPACE_SIZE);
  for (int i = 0; i < 4; ++i) printf("logits %.9g probs %.9g\n", (double)logits[i], (double)probs[i]);
  for (int i = 0; i < 3; ++i) printf("mix %.9g\n", (double)mix[i]);
  return rc;
}
"""

TWO_MODULES_BUILD = """load("@mlf_build//bazel:defs.bzl", "mlf_library")
load(":info.bzl", "mlf_info")

mlf_library(
    name = "both",
    src = "v7-two-modules.tar",
    all_modules = ["waveform", "mixer"],
    test = True,
)

cc_binary(
    name = "app",
    srcs = ["main.c"],
    deps = [":both"],
)

mlf_info(
    name = "both_info",
    lib = ":both",
)

mlf_library(
    name = "wrong",
    src = "v7-two-modules.tar",
    all_modules = ["mixer", "wave"],
)

mlf_library(
    name = "twice",
    src = "v7-two-modules.tar",
    module = "mixer",
    all_modules = ["mixer", "waveform"],
)

mlf_library(
    name = "dup",
    src = "v7-two-modules.tar",
    all_modules = ["mixer", "waveform", "mixer"],
)

mlf_library(
    name = "case",
    src = "v7-two-modules.tar",
    all_modules = ["mixer", "Mixer"],
)
"""

# A user's rule writing what MlfInfo says.
TWO_MODULES_INFO_BZL = r"""load("@mlf_build//bazel:defs.bzl", "MlfInfo")

def _impl(ctx):
    info = ctx.attr.lib[MlfInfo]
    lines = [
        "name %s header %s params %s" % (info.name, info.header.basename, info.params),
        "module '%s' all_modules %s" % (info.module, ",".join(info.all_modules)),
    ] + [
        "%s %s %s %s" % (m.module, m.prefix, m.header.basename, m.params.basename)
        for m in info.modules
    ]
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, "\n".join(lines) + "\n")
    return [DefaultInfo(files = depset([out]))]

mlf_info = rule(implementation = _impl, attrs = {"lib": attr.label(providers = [MlfInfo])})
"""


@pytest.fixture(scope="module")
def two_modules_pkg(scratch, fixture_models):
    """//two in the scratch workspace: the two-module fixture archive and the program above."""
    pkg = scratch["ws"] / "two"
    pkg.mkdir()
    shutil.copyfile(fixture_models["v7-two-modules"], pkg / "v7-two-modules.tar")
    (pkg / "main.c").write_text(TWO_MODULES_MAIN)
    (pkg / "BUILD.bazel").write_text(TWO_MODULES_BUILD)
    (pkg / "info.bzl").write_text(TWO_MODULES_INFO_BZL)
    return pkg


@pytest.fixture(scope="module")
def cmake_two_modules(two_modules_pkg, tmp_path_factory):
    """add_mlf_library(both ... ALL_MODULES) and the same program, built natively by CMake from
    the same files."""
    if not CMAKE:
        pytest.skip("needs cmake and ninja")
    src, build = tmp_path_factory.mktemp("cmake-two-src"), tmp_path_factory.mktemp("cmake-two")
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(two C)\nfind_package(mlf_build CONFIG REQUIRED)\n"
        f'add_mlf_library(both "{(two_modules_pkg / "v7-two-modules.tar").as_posix()}" ALL_MODULES)\n'
        f'add_executable(app "{(two_modules_pkg / "main.c").as_posix()}")\n'
        "target_link_libraries(app PRIVATE both)\n"
    )
    _cmake_native_build(src, build)
    return {"out": build / "mlf" / "both", "stdout": _ok(run([build / "app"], timeout=60)).stdout}


@needs_bazel
@needs_cmake
def test_all_modules_equals_cmake(scratch, two_modules_pkg, cmake_two_modules):
    """mlf_library(all_modules = [...]) is CMake's ALL_MODULES: the same generated bytes, one API
    per module callable from one program that prints what CMake's prints (numpy's values), only
    the API left global, MlfInfo describing every module, and a smoke test per module."""
    b = scratch["bazel"]
    _ok(b("build", "//two:both", "//two:app", "//two:both_info"))
    bin_dir = b.info("bazel-bin")
    ours, theirs = bin_dir / "two" / "_mlf" / "both", cmake_two_modules["out"]
    manifest = json.loads((ours / "both_manifest.json").read_text())
    assert [m["prefix"] for m in manifest["modules"]] == ["both_mixer", "both_waveform"]
    assert manifest["files"] == json.loads((theirs / "both_manifest.json").read_text())["files"]
    assert {"both.h", "both_mixer.h", "both_waveform_runner.c", "both_mixer_params.bin"} <= set(
        manifest["files"]
    )
    for rel in manifest["files"]:
        assert (ours / rel).read_bytes() == (theirs / rel).read_bytes(), rel

    printed = _ok(run([bin_dir / "two" / "app"], timeout=60)).stdout
    assert printed == cmake_two_modules["stdout"]
    assert printed.startswith("rc 0 workspace "), printed
    np = pytest.importorskip("numpy")
    from tests import fixtures  # needs numpy

    sig = (np.arange(32) % 8 / 4.0 - 1.0).astype(np.float32).reshape(1, 1, 32)
    a = (0.25 * np.arange(4)).astype(np.float32).reshape(1, 4)
    b_in = (-0.5 + 0.1 * np.arange(4)).astype(np.float32).reshape(1, 4)
    probs = [float(v) for v in re.findall(r"probs (\S+)", printed)]
    mix = [float(v) for v in re.findall(r"mix (\S+)", printed)]
    np.testing.assert_allclose(probs, fixtures.reference("waveform", [sig])[1].reshape(-1), atol=2e-6)
    np.testing.assert_allclose(mix, fixtures.reference("mixer", [a, b_in])[0].reshape(-1), atol=2e-6)

    (archive,) = (bin_dir / "two").glob("libboth*.a")
    # As CMake's: the API global, each module's arena hidden beside the partial link (this
    # export links its parameters into TVM's C, which the partial link localizes).
    api = set((ours / "both.syms").read_text().split())
    hidden = assert_hidden(archive, api, ["both_waveform", "both_mixer"])
    assert {"both_mixer_run", "both_waveform_run"} <= api
    assert hidden == {"both_waveform__arena", "both_mixer__arena"}

    assert (bin_dir / "two" / "both_info.txt").read_text().splitlines() == [
        "name both header both.h params None",
        "module '' all_modules waveform,mixer",
        "waveform both_waveform both_waveform.h both_waveform_params.bin",
        "mixer both_mixer both_mixer.h both_mixer_params.bin",
    ]

    out = _ok(b("test", "//two:both_smoke"))
    assert "Executed 2 out of 2 tests: 2 tests pass." in out.stdout + out.stderr, out.stdout + out.stderr
    for module in ("waveform", "mixer"):
        log = b.info("bazel-testlogs") / "two" / f"both_{module}_smoke" / "test.log"
        assert f"mlf-smoke: model both_{module} " in log.read_text()


@needs_bazel
def test_all_modules_wrong_list_fails(scratch, two_modules_pkg, tmp_path):
    """A module list that is not the archive's fails the build with the generator's one line,
    naming the modules the archive has; module with all_modules fails the analysis."""
    ws, b = scratch["ws"], scratch["bazel"]
    out = b("build", "//two:wrong")
    assert out.returncode == 1, out.stderr
    errors = re.findall(r"^mlf-build: error: .*$", out.stderr, re.M)
    assert errors == [
        "mlf-build: error: two/v7-two-modules.tar: holds the modules mixer, waveform, but "
        "all_modules/--expect-module lists 'mixer', 'wave'; list exactly the modules it holds"
    ], out.stderr
    cli = _cli_errors(
        ws,
        "two/v7-two-modules.tar",
        "--name",
        "wrong",
        "--out",
        tmp_path / "o",
        *_all_modules("mixer", "wave"),
    )
    assert cli == errors
    assert re.search(
        r"^ERROR: .*mlf_build: generating //two:wrong from //two:v7-two-modules.tar failed", out.stderr, re.M
    )

    for target, message in [
        ("twice", "give either module or all_modules, not both"),
        ("dup", 'all_modules lists "mixer" twice'),
        ("case", 'all_modules: "mixer" and "Mixer" would both have the C prefix case_mixer'),
    ]:
        out = b("build", f"//two:{target}")
        assert out.returncode == 1, out.stderr
        assert f"Error in fail: mlf_library(//two:{target}): {message}\n" in out.stderr, out.stderr

    # test = True names one smoke test per module while the BUILD file loads.
    (ws / "sel").mkdir()
    (ws / "sel" / "BUILD.bazel").write_text(
        'load("@mlf_build//bazel:defs.bzl", "mlf_library")\n'
        'mlf_library(name = "s", src = "//two:v7-two-modules.tar", test = True,\n'
        '            all_modules = select({"//conditions:default": ["mixer", "waveform"]}))\n'
    )
    out = b("build", "//sel:s")
    assert out.returncode == 1, out.stderr
    assert "mlf_library(s): test = True needs all_modules as a plain list (not a select())" in out.stderr


CMSIS_NN_BUILD = """load("@mlf_build//bazel:defs.bzl", "mlf_library")

mlf_library(
    name = "qconv",
    src = "v7-aot-cmsisnn-host.tar",
    cmsis_nn = "@cmsis_nn//:cmsis_nn",
    test = True,
)

mlf_library(
    name = "missing",
    src = "v7-aot-cmsisnn-host.tar",
)
"""


@needs_bazel
@needs_cmsis_nn
def test_cmsis_nn(scratch, tmp_path):
    """cmsis_nn = <label> (here CMSIS-NN v4.1.0 through bazel/cmsis_nn.BUILD): the int8 CMSIS-NN
    fixture's smoke test runs on the host and its output equals the TFLite reference; without
    the attribute the build fails with the generator's one line."""
    np = pytest.importorskip("numpy")
    from tests.firmware import Smoke, smoke_inputs
    from tests.fixtures import byoc_export, qmodel

    ws, b = scratch["ws"], scratch["bazel"]
    pkg = ws / "cmsisnn"
    byoc_export.export(pkg, "host")
    (pkg / "BUILD.bazel").write_text(CMSIS_NN_BUILD)
    _ok(b("test", "//cmsisnn:qconv_smoke"))
    smoke = Smoke.parse((b.info("bazel-testlogs") / "cmsisnn" / "qconv_smoke" / "test.log").read_text())
    assert smoke.passed and smoke.peak == smoke.workspace
    (x,) = smoke_inputs([("int8", int(np.prod(qmodel.INPUT_SHAPE)))])
    want = qmodel.reference(qmodel.load_qmodel(), x)
    np.testing.assert_array_equal(smoke.arrays()[0].reshape(want.shape), want)

    out = b("build", "//cmsisnn:missing")
    assert out.returncode == 1, out.stderr
    errors = re.findall(r"^mlf-build: error: .*$", out.stderr, re.M)
    tar = "cmsisnn/v7-aot-cmsisnn-host.tar"
    assert errors == _cli_errors(ws, tar, "--name", "missing", "--out", tmp_path / "o"), out.stderr
    assert errors[0].startswith(f"mlf-build: error: {tar}: module 'default' calls CMSIS-NN (")


DEVICES_BUILD = """load("@mlf_build//bazel:defs.bzl", "mlf_library")
load("@rules_cc//cc:defs.bzl", "cc_library", "cc_test")

cc_library(
    name = "fake_ethosu",
    srcs = ["fake_driver.c"],
    hdrs = ["ethosu_driver.h"],
    includes = ["."],
)

mlf_library(
    name = "npu",
    src = "v7-aot-ethosu.tar",
    devices = {":fake_ethosu": "ethos_u"},
)

cc_test(
    name = "glue_test",
    srcs = ["glue_test.c", "npu_buffers.h"],
    copts = ["-std=gnu99"],
    deps = [":fake_ethosu", ":npu"],
)

mlf_library(
    name = "bad_name",
    src = "v7-aot-ethosu.tar",
    devices = {":fake_ethosu": "ethos-u"},
)

mlf_library(
    name = "missing",
    src = "v7-aot-ethosu.tar",
)
"""


@needs_bazel
def test_devices(scratch, tmp_path):
    """devices = {<driver>: "ethos_u"}: the devices-struct fixture built against a recording
    stand-in of the Ethos-U driver API (tests/ethos_u) passes the host glue test, as with CMake's
    DEVICES; a device name that is not one fails the analysis; no devices fails MlfGenerate with
    the generator's one line."""
    from tests import fixtures

    ws, b = scratch["ws"], scratch["bazel"]
    pkg = ws / "npu"
    fixtures.export("v7-aot-ethosu", pkg)
    for rel in ("fake_driver/ethosu_driver.h", "fake_driver/fake_driver.c", "glue_test.c", "npu_buffers.h"):
        shutil.copy(REPO / "tests" / "ethos_u" / rel, pkg / Path(rel).name)
    (pkg / "BUILD.bazel").write_text(DEVICES_BUILD)
    _ok(b("test", "//npu:glue_test"))
    log = (b.info("bazel-testlogs") / "npu" / "glue_test" / "test.log").read_text()
    assert "glue: PASS" in log, log

    out = b("build", "//npu:bad_name")
    assert out.returncode == 1
    assert (
        'Error in fail: mlf_library(//npu:bad_name): devices: "ethos-u" (for //npu:fake_ethosu) is not a '
        in out.stderr
    ), out.stderr
    out = b("build", "//npu:missing")
    assert out.returncode == 1
    errors = re.findall(r"^mlf-build: error: .*$", out.stderr, re.M)
    tar = "npu/v7-aot-ethosu.tar"
    assert errors == _cli_errors(ws, tar, "--name", "missing", "--out", tmp_path / "o"), out.stderr


@needs_bazel
def test_determinism_and_disk_cache(bazel, host_run):
    """A clean build in output base B equals A's byte for byte; then, after `bazel clean`, a
    clean build in B with --disk_cache (filled by A) gets every mlf_library action from the cache."""
    a = bazel["a"]
    configs = [None, "cm4f"] if ARM else [None]
    b = Bazel(bazel["root"], EXAMPLE, "ob_b")
    bazel["servers"].append(b)
    if ARM:
        _ok(a("build", "//...", config="cm4f"))  # (A built cm4f in test_cortex_m_under_qemu, if run)
    report = []
    for config in configs:
        _ok(b("build", "//...", config=config))
        ours, theirs = (
            _digests(a.info("bazel-bin", config=config)),
            _digests(b.info("bazel-bin", config=config)),
        )
        assert ours.keys() == theirs.keys()
        differ = [rel for rel in ours if ours[rel] != theirs[rel]]
        assert not differ, differ
        assert any(rel.startswith("_mlf/waveform/") for rel in ours)
        assert any(re.match(r"libwaveform(\.pic)?\.a$", rel) for rel in ours)
        report.append(f"{config or 'host'}: {len(ours)} files identical")

        log = bazel["root"] / f"exec-{config or 'host'}.json"
        _ok(b("clean"))
        _ok(
            b(
                "build",
                "//...",
                f"--disk_cache={bazel['cache']}",
                f"--execution_log_json_file={log}",
                config=config,
            )
        )
        spawns = _exec_log(log)
        mlf = [s for s in spawns if _is_mlf_action(s)]
        hits = [s for s in mlf if s.get("remoteCacheHit")]
        missed = sorted({s["mnemonic"] for s in mlf if not s.get("remoteCacheHit")})
        mnemonics = sorted({s["mnemonic"] for s in mlf})
        assert "MlfGenerate" in mnemonics and "MlfPartialLink" in mnemonics, mnemonics
        assert not missed, missed
        all_hits = sum(1 for s in spawns if s.get("remoteCacheHit"))
        report.append(
            f"{config or 'host'}: disk cache hits for {len(hits)}/{len(mlf)} mlf_library actions "
            f"({', '.join(mnemonics)}); {all_hits}/{len(spawns)} spawns in all"
        )
    print("\nbazel determinism and disk cache:\n  " + "\n  ".join(report))


# The fixtures whose tensors carry a frontend's names (TFLite, ONNX, PyTorch), each an
# mlf_library with its smoke test, built and run on the host: TVM's struct members in the calls,
# the own names in the tables, outputs equal to numpy.
NAMED_LAYOUTS = (
    "v5-aot-c-tflite",
    "v6-aot-c-usmp-tflite",
    "v7-aot-packed-usmp-tflite",
    "v7-aot-c-onnx",
    "v7-graph-cmeta-onnx",
    "v6-graph-pytorch",
)


@needs_bazel
def test_frontend_named_fixtures_build_and_match_numpy(scratch, fixture_models):
    from tests import fixtures  # needs numpy
    from tests.firmware import Smoke, assert_outputs_close, smoke_inputs

    ws, b = scratch["ws"], scratch["bazel"]
    pkg = ws / "named"
    pkg.mkdir()
    build = ['load("@mlf_build//bazel:defs.bzl", "mlf_library")\n']
    for layout in NAMED_LAYOUTS:
        shutil.copyfile(fixture_models[layout], pkg / f"{layout}.tar")
        name = layout.replace("-", "_")
        build.append(f'mlf_library(name = "{name}", src = "{layout}.tar", test = True)\n')
    (pkg / "BUILD.bazel").write_text("".join(build))
    out = _ok(b("test", "//named:all"))
    n = len(NAMED_LAYOUTS)
    assert f"Executed {n} out of {n} tests: {n} tests pass." in out.stdout + out.stderr, out.stdout
    for layout in NAMED_LAYOUTS:
        name = layout.replace("-", "_")
        log = b.info("bazel-testlogs") / "named" / f"{name}_smoke" / "test.log"
        s = Smoke.parse(log.read_text())
        assert s.passed, s.text[-2000:]
        model = fixtures.layout_info(layout)["model"]
        if model == "waveform":
            ins = smoke_inputs([("float32", 128)])
            want = fixtures.reference(model, [ins[0].reshape(1, 1, 32)])
        else:
            ins = smoke_inputs([("float32", 16), ("float32", 16)])
            want = fixtures.reference(model, [ins[0].reshape(1, 4), ins[1].reshape(1, 4)])
        assert_outputs_close(s.arrays(), want, layout)


# -- the layer around the generator: content, names, paths, budgets ----------------------------
SANDBOXED = "--spawn_strategy=sandboxed"
PAST = 946684800  # 2000-01-01: older than any build


def _smoke(b: Bazel, target: str):
    from tests.firmware import Smoke  # needs numpy

    out = _ok(b("test", SANDBOXED, target))
    assert "1 test passes" in out.stdout + out.stderr, out.stdout
    pkg, name = target.lstrip("/").split(":")
    return Smoke.parse((b.info("bazel-testlogs") / pkg / name / "test.log").read_text())


@pytest.mark.slow
@needs_bazel
def test_rebuild_on_content(scratch, fixture_models, tmp_path):
    """A src re-pointed (a symbolic link) or replaced by an older file (cp -p) is a new input
    by its content: one `bazel test` runs the new model (arena, outputs); a src that is a
    folder is refused, in one line, since Bazel does not track what a folder holds."""
    pytest.importorskip("numpy")
    from tests.firmware import assert_smoke_runs_waveform
    from tests.mlf_factory import reweighted

    ws, b = scratch["ws"], scratch["bazel"]
    pkg = ws / "content"
    pkg.mkdir()
    old = tmp_path / "old.tar"
    shutil.copy(fixture_models["v7-graph"], old)
    new = reweighted(fixture_models["v5-graph"], tmp_path / "new.tar")  # other files, arena and weights (x2)
    for f in (old, new):
        os.utime(f, (PAST, PAST))
    (pkg / "model.tar").symlink_to(old)
    (pkg / "folder.tar").mkdir()
    with tarfile.open(old) as tf:
        tf.extractall(pkg / "folder.tar", filter="data")
    (pkg / "BUILD.bazel").write_text(
        'load("@mlf_build//bazel:defs.bzl", "mlf_library")\n'
        'mlf_library(name = "net", src = "model.tar", test = True)\n'
        'mlf_library(name = "folder", src = "folder.tar")\n'
    )

    def expect(model: Path, factor: float) -> None:
        assert_smoke_runs_waveform(_smoke(b, "//content:net_smoke"), model, factor)

    expect(old, 1.0)
    (pkg / "model.tar").unlink()
    (pkg / "model.tar").symlink_to(new)
    os.utime(pkg / "model.tar", (PAST, PAST), follow_symlinks=False)
    expect(new, 2.0)
    (pkg / "model.tar").unlink()
    shutil.copy2(old, pkg / "model.tar")
    expect(old, 1.0)

    out = b("build", SANDBOXED, "//content:folder")
    assert out.returncode == 1, out.stderr
    assert re.findall(r"^mlf-build: error: .*$", out.stderr, re.M) == [
        "mlf-build: error: mlf_library: content/folder.tar: is a folder; Bazel does not track a source "
        "folder's contents, so the library would not be rebuilt when they change: give the MLF as a "
        "tarball (.tar, .tar.gz, .tgz)"
    ]


LAYER_PACKAGES = {
    # Loading: two C prefixes alike in one package, a name the build cannot carry.
    "same_prefix": 'mlf_library(name = "net", src = "model.tar")\n'
    'mlf_library(name = "Net", src = "model.tar")\n',
    "module_prefix": 'mlf_library(name = "pair", src = "two.tar", all_modules = ["mixer", "waveform"])\n'
    'mlf_library(name = "pair_mixer", src = "model.tar")\n',
    "bad_name": 'mlf_library(name = "n#t", src = "model.tar")\n',
    # Analysis and execution: budgets.
    "budgets": 'mlf_library(name = "zero", src = "model.tar", max_ram = "0")\n'
    'mlf_library(name = "word", src = "model.tar", max_flash = "64KB")\n'
    'mlf_library(name = "huge", src = "model.tar", max_ram = "17179869184G",\n'
    '            max_flash = "17179869184G")\n',
    # A package whose name holds a comma, and an option-like module value.
    "a,b": 'mlf_library(name = "net", src = "model.tar")\n'
    'cc_binary(name = "app", srcs = ["main.c"], deps = [":net"])\n'
    'mlf_library(name = "opt", src = "model.tar", module = "--help")\n',
}
LAYER_MAIN = """#include <stdio.h>
#include "net.h"
int main(void) {
  static float in[NET_INPUT_0_SIZE / 4], out0[NET_OUTPUT_0_SIZE / 4], out1[NET_OUTPUT_1_SIZE / 4];
  const void *ins[] = {in};
  void *outs[] = {out0, out1};
  int32_t st = net_run(ins, outs);
  printf("status %d workspace %d\\n", (int)st, NET_WORKSPACE_SIZE);
  return st;
}
"""


@pytest.mark.slow
@needs_bazel
def test_names_paths_and_budgets(scratch, fixture_models, tmp_path):
    """What the build cannot carry is refused while loading or analysing, in one line naming
    it: two C prefixes alike in one package, a name with '#'. A package name with a comma
    builds; values reach the generator as one argument each (module = "--help" is a module
    name); budgets mean what they mean for the command line and CMake (max_ram = "0" refuses
    the model, a huge one is honoured)."""
    from tests.firmware import model_arena  # needs numpy

    runs = f"status 0 workspace {model_arena(fixture_models['v7-graph'])}"  # what the program prints
    ws, b = scratch["ws"], scratch["bazel"]
    for name, body in LAYER_PACKAGES.items():
        pkg = ws / name
        pkg.mkdir()
        shutil.copyfile(fixture_models["v7-graph"], pkg / "model.tar")
        shutil.copyfile(fixture_models["v7-two-modules"], pkg / "two.tar")
        (pkg / "main.c").write_text(LAYER_MAIN)
        (pkg / "BUILD.bazel").write_text('load("@mlf_build//bazel:defs.bzl", "mlf_library")\n' + body)

    def failure(*targets: str) -> str:
        out = b("build", SANDBOXED, "--keep_going", *targets)
        assert out.returncode != 0, out.stderr
        return out.stderr

    err = failure("//same_prefix:all", "//module_prefix:all", "//bad_name:all")
    assert (
        "Error in fail: mlf_library(Net): the C prefix net is already that of :net in this package; give "
        "one of them another name\n" in err
    ), err
    assert (
        "Error in fail: mlf_library(pair_mixer): the C prefix pair_mixer is already that of :pair in " in err
    )
    assert (
        'Error in fail: mlf_library(n#t): the name holds "#"; use letters, digits and _ . + - (a lower-case '
        "C identifier is best: it is the API's prefix)\n" in err
    ), err

    err = failure("//budgets:zero", "//budgets:word")
    assert (
        'mlf_library(//budgets:word): max_flash must be a byte count such as 65536, 64K or 2M, not "64KB"'
        in err
    )
    cli = _cli_errors(ws, "budgets/model.tar", "--name", "zero", "--out", tmp_path / "o", "--max-ram", "0")
    assert [e for e in re.findall(r"^mlf-build: error: .*$", err, re.M) if "zero" in e] == cli
    _ok(b("build", SANDBOXED, "//budgets:huge"))
    report = (b.info("bazel-bin") / "budgets" / "_mlf" / "huge_size.txt").read_text()
    assert "/18446744073709551616, RAM " in report, report

    err = failure("//a,b:opt")
    assert re.search(r"^mlf-build: error: .*'--help'", err, re.M) and "usage:" not in err, err
    _ok(b("build", SANDBOXED, "//a,b:app"))
    assert _ok(run([b.info("bazel-bin") / "a,b" / "app"])).stdout.startswith(runs)


@pytest.mark.slow
@needs_bazel
def test_lto_copt(scratch, fixture_models):
    """--copt=-flto for everything: the model's objects opt out (-fno-lto) and the program
    links and runs."""
    from tests.firmware import model_arena  # needs numpy

    runs = f"status 0 workspace {model_arena(fixture_models['v7-graph'])}"  # what the program prints
    ws, b = scratch["ws"], scratch["bazel"]
    pkg = ws / "lto"
    pkg.mkdir()
    shutil.copyfile(fixture_models["v7-graph"], pkg / "model.tar")
    (pkg / "main.c").write_text(LAYER_MAIN)
    (pkg / "BUILD.bazel").write_text(
        'load("@mlf_build//bazel:defs.bzl", "mlf_library")\nmlf_library(name = "net", src = "model.tar")\n'
        'cc_binary(name = "app", srcs = ["main.c"], deps = [":net"])\n'
    )
    _ok(b("build", SANDBOXED, "--copt=-flto", "--linkopt=-flto", "//lto:app"))
    assert _ok(run([b.info("bazel-bin") / "lto" / "app"])).stdout.startswith(runs)


PLACED_BUILD = """load("@mlf_build//bazel:defs.bzl", "mlf_binary_test", "mlf_library", "mlf_qemu_support")

mlf_library(
    name = "waveform",
    src = "@mlf_build//examples:model/waveform.tar",
    weights_section = ".mlf_weights",
    arena_section = ".mlf_arena",
    test = True,
)

mlf_qemu_support(
    name = "support",
    libraries = [":waveform"],
)

cc_binary(
    name = "fw",
    srcs = ["main.c", "@mlf_build//examples:common/waveform_demo.c"],
    copts = ["-std=gnu99"],
    deps = [":waveform", ":support", "@mlf_build//examples:waveform_demo_headers"],
)

mlf_binary_test(
    name = "fw_test",
    binary = ":fw",
    expect = "^waveform: PASS",
)
"""
CM3 = ("--platforms=@mlf_build//bazel/platforms:cortex_m3", "--platform_suffix=-cm3")


def _elf_layout(elf: Path) -> tuple[dict[str, tuple[str, int, int]], dict[str, int]]:
    """readelf's sections (name -> (type, address, size)) and symbols (name -> value) of an ELF."""
    sections = {}
    for line in _ok(run(["arm-none-eabi-readelf", "-SW", elf])).stdout.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m:
            sections[m[1]] = (m[2], int(m[3], 16), int(m[4], 16))
    symbols = {}
    for line in _ok(run(["arm-none-eabi-readelf", "-sW", elf])).stdout.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[0][:-1].isdigit():
            symbols[fields[7]] = int(fields[1], 16)
    return sections, symbols


@pytest.mark.slow
@needs_bazel
@needs_arm
def test_qemu_support_places_sections(scratch):
    """mlf_qemu_support(libraries = [...]) (Bazel's mlf_qemu_place_sections()): a Cortex-M3
    firmware whose model has weights_section and arena_section runs under QEMU and prints the
    numpy reference's results, and so does the model's smoke test (which places its sections
    itself); the weights are a section in FLASH, the arena a NOBITS section in RAM after .bss
    and before the heap (`end`). With @mlf_build//bazel/qemu:support alone the arena was an
    orphan at `end`, and printf's buffers overwrote it (a HardFault in __sfputc_r)."""
    ws, b = scratch["ws"], scratch["bazel"]
    pkg = ws / "placed"
    pkg.mkdir()
    shutil.copyfile(EXAMPLE / "main.c", pkg / "main.c")
    (pkg / "BUILD.bazel").write_text(PLACED_BUILD)
    out = _ok(b("test", SANDBOXED, *CM3, "//placed:all"))
    assert "Executed 2 out of 2 tests: 2 tests pass." in out.stdout + out.stderr, out.stdout
    bin_dir = Path(_ok(b("info", *CM3, "bazel-bin")).stdout.strip())
    test_logs = Path(_ok(b("info", *CM3, "bazel-testlogs")).stdout.strip())
    log = (test_logs / "placed" / "fw_test" / "test.log").read_text()
    assert MNEMONIC_LINES.findall(log)[-1] == "waveform: PASS (4/4 cases match the numpy reference)", log
    assert "mlf-smoke: PASS" in (test_logs / "placed" / "waveform_smoke" / "test.log").read_text()

    manifest = json.loads((bin_dir / "placed" / "_mlf" / "waveform" / "waveform_manifest.json").read_text())
    flash, ram = range(0, 4 << 20), range(0x21000000, 0x22000000)  # mlf_qemu_mps2_an385_an386.ld
    for elf in (bin_dir / "placed" / "fw", bin_dir / "placed" / "waveform_smoke_bin"):
        sections, symbols = _elf_layout(elf)
        kind, weights, size = sections[".mlf_weights"]
        assert kind == "PROGBITS" and weights in flash and weights + size in flash, (elf, sections)
        assert size >= manifest["params_size"] > 0
        kind, arena, size = sections[".mlf_arena"]
        assert kind == "NOBITS" and arena in ram and size >= manifest["workspace_size"] > 0, (elf, sections)
        assert symbols["__bss_end__"] <= arena and arena + size <= symbols["end"] == symbols["__heap_start__"]


@needs_bazel
def test_stub_repositories_are_opt_in(tmp_path):
    """mlf_build_dependencies() defines no stub rule sets unless asked (stubs = True): without
    them an offline Bazel 4 cannot find @rules_python, with them it can (docs/bazel.md)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "BUILD.bazel").write_text("")
    b = Bazel(tmp_path, ws, "ob_stubs")
    try:
        found = {}
        for call in ("mlf_build_dependencies()", "mlf_build_dependencies(stubs = True)"):
            (ws / "WORKSPACE").write_text(
                f'workspace(name = "stubs")\nlocal_repository(name = "mlf_build", path = "{REPO}")\n'
                f'load("@mlf_build//bazel:repositories.bzl", "mlf_build_dependencies")\n{call}\n'
            )
            # mlf_build/BUILD.bazel loads @rules_python//python:defs.bzl.
            found[call] = b("query", "@mlf_build//mlf_build:generator", timeout=300)
    finally:
        b.shutdown()
    default, opted = found.values()
    assert default.returncode != 0, default.stdout
    assert "The repository '@rules_python' could not be resolved" in default.stderr, default.stderr[-3000:]
    assert opted.returncode == 0 and "@mlf_build//mlf_build:generator" in opted.stdout, opted.stderr[-3000:]
