"""Bazel (issue 4): examples/bazel, the mlf_library rule and the arm-none-eabi toolchains.

With Bazel (Debian bazel-bootstrap 4.2.3, offline), in one output user root under pytest's tmp:
- `bazel test //...` in examples/bazel for the host, --config=cm3 and --config=cm4f: the
  waveform program and the model's smoke test pass natively and under qemu-system-arm;
- the generated files of the host build equal a CMake build's (add_mlf_library(waveform ...) in
  examples/cmake-qemu), and the program prints the same lines as the CMake example, natively and
  under QEMU on Cortex-M3 and Cortex-M4F;
- a bad tarball fails the build with the CLI's one-line error;
- a clean build in a second output base gives byte-identical outputs (generated files, objects,
  archives, firmware), and after `bazel clean` a clean build there with --disk_cache has a cache
  hit for every mlf_library action (the figure is printed: run pytest -s to see it).
Without Bazel these are skipped, with the reason; test_declared_outputs and
test_module_version need no Bazel. About 1.5-2.5 minutes on 2 cores.
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


def _expected(table: dict, attrs: dict) -> set[str]:
    out = set()
    for key, names in table.items():
        attr, _, value = key.partition("=")
        if not attr or (attrs.get(attr) == value if value else attrs.get(attr)):
            out |= {n.format(t="net") for n in names}
    return out


def test_declared_outputs(tmp_path):
    """bazel/outputs.bzl (what mlf_library declares) matches what the generator writes."""
    tables = _load_bzl_data(REPO / "bazel" / "outputs.bzl")
    cases = [
        (MODEL, {}, []),
        (MODEL, {"weights_section": ".rodata.w"}, ["--weights-section", ".rodata.w"]),
        (MODEL, {"arena_section": ".bss.a"}, ["--arena-section", ".bss.a"]),
        (MODEL, {"workspace": "caller"}, ["--workspace", "caller"]),
    ]
    corpus = Path(os.environ.get("MLF_CORPUS", REPO.parent / "shared" / "mlf-corpus"))
    crt_model = corpus / "linaro-sine-v5-aot-crt" / "model.tar"
    if crt_model.exists():
        cases.append((crt_model, {"runtime": "tvm_crt"}, ["--runtime", "tvm_crt"]))
    for model, attrs, options in cases:
        files, dirs = _generated(model, tmp_path / "out", *options)
        assert files == _expected(tables["MLF_OUTPUT_FILES"], attrs), options
        assert dirs <= _expected(tables["MLF_OUTPUT_DIRS"], attrs), options


def test_module_version():
    text = (REPO / "MODULE.bazel").read_text()
    assert (
        re.search(r'^module\(\s*name = "mlf_build",\s*version = "([^"]+)"', text, re.M).group(1)
        == __version__
    )


# ------------------------------------------------------------------------------------------------
class Bazel:
    """Runs bazel in a workspace with its own output base under one output user root."""

    def __init__(self, root: Path, workspace: Path, base: str, disk_cache: Path | None = None):
        self.root, self.workspace = root, workspace
        self.output_base = root / base
        self.disk_cache = disk_cache
        self.log = root / f"{base}.log"

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
        out = run([*startup, command, *flags, *args], cwd=self.workspace, timeout=timeout)
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


@pytest.fixture(scope="module")
def cmake_host(tmp_path_factory):
    """examples/cmake-qemu configured natively (no toolchain file): generated files and output."""
    if not CMAKE:
        pytest.skip("needs cmake and ninja")
    build = tmp_path_factory.mktemp("cmake-host")
    cfg = run(
        [
            "cmake", "-S", CMAKE_EXAMPLE, "-B", build, "-G", "Ninja",
            f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}", f"-DMLF_BUILD_PYTHON={sys.executable}",
        ]
    )  # fmt: skip
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    _ok(run(["cmake", "--build", build]))
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


@needs_bazel
def test_bad_tarball_fails_with_the_cli_error(bazel, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    with tarfile.open(ws / "bad.tar", "w") as tar:  # a tar without metadata.json
        info = tarfile.TarInfo("codegen/host/src/lib0.c")
        tar.addfile(info)
    (ws / "WORKSPACE").write_text(
        f'workspace(name = "bad")\nlocal_repository(name = "mlf_build", path = "{REPO}")\n'
        'load("@mlf_build//bazel:repositories.bzl", "mlf_build_dependencies")\nmlf_build_dependencies()\n'
    )
    (ws / "BUILD.bazel").write_text(
        'load("@mlf_build//bazel:defs.bzl", "mlf_library")\nmlf_library(name = "bad", src = "bad.tar")\n'
    )
    (ws / ".bazelrc").write_text("build --incompatible_enable_cc_toolchain_resolution\n")
    b = Bazel(bazel["root"], ws, "ob_bad")
    bazel["servers"].append(b)
    out = b("build", "//:bad")
    assert out.returncode == 1, out.stderr
    errors = re.findall(r"^mlf-build: error: .*$", out.stderr, re.M)
    cli = run(
        [sys.executable, "-m", "mlf_build", "generate", "bad.tar", "--name", "bad", "--out", tmp_path / "o"],
        cwd=ws,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert cli.returncode == 2
    assert cli.stderr.splitlines() == errors
    assert len(errors) == 1 and errors[0].startswith("mlf-build: error: bad.tar: "), out.stderr
    assert re.search(
        r"^ERROR: .*mlf_build: generating //:bad from //:bad.tar failed: \(Exit 2\)", out.stderr, re.M
    )


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
