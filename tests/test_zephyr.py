"""End-to-end tests of the Zephyr module (zephyr/) with examples/zephyr, against a real Zephyr tree.

Zephyr comes from, in this order (tests/zephyr_env.py): ZEPHYR_BASE, a tree of the user's own
(ZEPHYR_MODULES too, the ';'-separated cmsis_6/cmsis and picolibc module folders, unless it sits in
a west workspace; Zephyr's Python first on PATH); else ../shared/zephyr, set up once into
~/.cache/mlf_build/zephyr-<hash> (tests/run.sh does it up front); else the tests skip, saying so.
A source that exists but cannot be used fails the tests. Missing tools (cmake, ninja, dtc,
arm-none-eabi-gcc, qemu-system-arm, gcc) skip them, except in CI (CI set), where they fail.
Toolchain: ZEPHYR_TOOLCHAIN_VARIANT / GNUARMEMB_TOOLCHAIN_PATH, default gnuarmemb with the prefix
of the arm-none-eabi-gcc on PATH (Debian's /usr). The generator runs with this test's interpreter.

Builds are shared: ``zephyr.example(board)`` is the one build of examples/zephyr for a board (the
options BOARDS gives it), ``zephyr.build(app, board, *options)`` any other, each made once per
run whichever tests ask for it. Checked:
  * examples/zephyr on qemu_cortex_m3 and mps2/an385 (Cortex-M3), mps2/an386 (Cortex-M4F, hard
    float) and mps2/an521/cpu0 (Cortex-M33): configures, builds without warnings, runs under QEMU
    to a semihosting exit with status 0 and prints exactly the ``waveform:`` lines (PASS: every
    output matches numpy) of the bare-metal example examples/cmake-qemu, built and run natively
    on the host here to get them; the model and the runtime carry the CPU / float-ABI build
    attributes of Zephyr's own objects (arm-none-eabi-readelf -A).
  * Kconfig defaults on mps2/an386: custom CONFIG_MLF_BUILD_ARENA_SECTION / _WEIGHTS_SECTION get
    linker fragments (no orphan warning; the arena lands in noinit, the parameters in rodata);
    CONFIG_MLF_BUILD_THREAD_LOCAL makes the runtime's state thread-local (gnuarmemb declares no
    TLS support to Zephyr, so this board builds with the same compiler through the cross-compile
    variant).
  * Two models in one image (tests/zephyr_two_models, qemu_cortex_m3): the waveform model (graph
    executor) and the mixer module of the two-module AOT fixture, one shared runtime; both run,
    the mixer's outputs equal numpy's.
  * The configure-time RAM check: a model whose arena (about 832 KB) cannot fit qemu_cortex_m3's
    64 KiB fails with the numbers; the same app configures for mps2/an521/cpu0 (4 MiB), and with
    CONFIG_MLF_BUILD_RAM_CHECK=n builds for qemu_cortex_m3: its main() never calls the model, so
    the linker leaves it out and the post-link report says "not linked" (no failure).
  * CMSIS-NN (with CMSIS-NN v4.1.0 from ../shared/third_party or MLF_CMSIS_NN): CONFIG_CMSIS_NN=y
    builds the int8 CMSIS-NN fixture for mps2/an386 with Zephyr's cmsis-nn module, whose output
    equals the TFLite reference under QEMU; with a kernel group off the configure fails with
    one line.
  * After each link, where the linker put each arena (the post-link report, against the ELF).
  * The layer around the generator (tests/zephyr_smoke, qemu_cortex_m3): mlf_smoke.c as the
    application with CONFIG_LTO=y (kept on by CONFIG_ISR_TABLES_LOCAL_DECLARATION=y, checked in
    .config) runs the model; its model replaced by an older, different one
    (cp -p), one `ninja` runs the new model (arena, outputs against numpy). Three configurations
    only: a Kconfig string holding ';', an arena in .rodata (read-only flash) and weights in
    .noinit are refused, naming them.
  * Without Zephyr: the discovery order and the set-up cache (a stand-in workspace), and that
    docs/zephyr.md shows the example's semihosting exit code verbatim.

Another app or module: ``zephyr.build(app, board, "-DZEPHYR_EXTRA_MODULES=<module>;...",
"-DCONFIG_...=y")``, e.g. a CMSIS-NN model with a folder holding zephyr/module.yml (name
cmsis-nn) around ../shared/third_party/cmsis-nn-v4.1.0 and -DCONFIG_CMSIS_NN=y (Zephyr's own
modules/cmsis-nn glue compiles it), as test_cmsis_nn_module does. About 7 minutes on 2 cores (eight
Zephyr builds and four configures, picolibc compiled from source in each; `pytest -s` prints each
build's time).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import zephyr_env
from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "zephyr"
TWO_MODELS = REPO / "tests" / "zephyr_two_models"
SMOKE_APP = REPO / "tests" / "zephyr_smoke"
BIG_MODEL = ("snu-v7-graph", "lib_graph_system-lib.tar")  # graph executor, arena 832000 bytes
TOOLS = ("cmake", "ninja", "dtc", "arm-none-eabi-gcc", "arm-none-eabi-readelf", "qemu-system-arm", "gcc")

# Custom sections and a thread-local runtime (Kconfig defaults of add_mlf_library()).
SECTIONS_AND_TLS = (
    '-DCONFIG_MLF_BUILD_ARENA_SECTION=".mlf_arena"',
    '-DCONFIG_MLF_BUILD_WEIGHTS_SECTION=".mlf_weights"',
    "-DCONFIG_THREAD_LOCAL_STORAGE=y",
    "-DCONFIG_MLF_BUILD_THREAD_LOCAL=y",
)


@dataclass(frozen=True)
class Board:
    machine: str  # qemu-system-arm -M (mps2/an386 is FVP-only in Zephyr's run target; QEMU has it)
    cpu: str  # qemu-system-arm -cpu
    arch: str  # Tag_CPU_arch of the objects built for it
    hard_float: bool = False  # -DCONFIG_FPU=y -DCONFIG_FP_HARDABI=y
    options: tuple[str, ...] = ()  # what examples/zephyr's build for this board adds
    cross_compile: bool = False  # through the cross-compile variant (TLS, see the docstring)


BOARDS = {
    "qemu_cortex_m3": Board("lm3s6965evb", "cortex-m3", "v7"),
    "mps2/an385": Board("mps2-an385", "cortex-m3", "v7"),
    "mps2/an386": Board("mps2-an386", "cortex-m4", "v7E-M", True, SECTIONS_AND_TLS, cross_compile=True),
    "mps2/an521/cpu0": Board("mps2-an521", "cortex-m33", "v8-M.mainline"),
}


def run(cmd, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


class Firmware:
    def __init__(self, board: str, build: Path, configure: str, build_log: str, env: dict[str, str]):
        self.board, self.build, self.configure, self.build_log = board, build, configure, build_log
        self.elf = build / "zephyr" / "zephyr.elf"
        self.env = env

    def run_qemu(self) -> subprocess.CompletedProcess[str]:
        """The firmware under QEMU until it exits through semihosting (a hang times out)."""
        b = BOARDS[self.board]
        cmd = ["qemu-system-arm", "-M", b.machine, "-cpu", b.cpu, "-nographic"]
        cmd += ["-semihosting-config", "enable=on,target=native", "-kernel", self.elf]
        return run(cmd, self.env, timeout=60)


class Zephyr:
    """A Zephyr to build with, and the builds made so far: one per (app, board, options)."""

    def __init__(self, found: zephyr_env.Zephyr, tmp: pytest.TempPathFactory) -> None:
        self.source, self.tmp = found.source, tmp
        self.base_env = {**os.environ, **found.env, "MLF_BUILD_PYTHON": sys.executable}
        self.base_env.setdefault("ZEPHYR_TOOLCHAIN_VARIANT", "gnuarmemb")
        if self.base_env["ZEPHYR_TOOLCHAIN_VARIANT"] == "gnuarmemb":
            gcc = (
                shutil.which("arm-none-eabi-gcc", path=self.base_env["PATH"]) or "/usr/bin/arm-none-eabi-gcc"
            )
            self.base_env.setdefault("GNUARMEMB_TOOLCHAIN_PATH", str(Path(gcc).resolve().parent.parent))
        self._builds: dict[tuple[Path, str, tuple[str, ...], bool], Firmware] = {}

    def env(self, cross_compile: bool = False) -> dict[str, str]:
        env = dict(self.base_env)
        if cross_compile and env["ZEPHYR_TOOLCHAIN_VARIANT"] == "gnuarmemb":
            # Zephyr's gnuarmemb variant declares no TLS support; the same compiler through the
            # cross-compile variant may (CONFIG_TOOLCHAIN_CROSS_COMPILE_SUPPORTS_...).
            env["ZEPHYR_TOOLCHAIN_VARIANT"] = "cross-compile"
            env["CROSS_COMPILE"] = str(Path(env["GNUARMEMB_TOOLCHAIN_PATH"]) / "bin" / "arm-none-eabi-")
        return env

    def configure(
        self, app: Path, build: Path, board: str, *options: str, cross_compile: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = self.env(cross_compile)
        # ccache (Zephyr uses it when installed) never hits across pytest's changing build
        # folders: leave it out, so a run does not depend on what is installed.
        cmd = ["cmake", "-GNinja", f"-DBOARD={board}", "-DUSE_CCACHE=0", "-S", app, "-B", build]
        if env.get("ZEPHYR_MODULES"):
            cmd.append(f"-DZEPHYR_MODULES={env['ZEPHYR_MODULES']}")
        if BOARDS.get(board, Board("", "", "")).hard_float:
            cmd += ["-DCONFIG_FPU=y", "-DCONFIG_FP_HARDABI=y"]
        if cross_compile and self.base_env["ZEPHYR_TOOLCHAIN_VARIANT"] == "gnuarmemb":
            cmd += [
                f"-DSYSROOT_DIR={Path(env['GNUARMEMB_TOOLCHAIN_PATH']) / 'arm-none-eabi'}",
                "-DCONFIG_TOOLCHAIN_CROSS_COMPILE_SUPPORTS_THREAD_LOCAL_STORAGE=y",
            ]
        return run([*cmd, *options], env, timeout=300)

    def build(self, app: Path, board: str, *options: str, cross_compile: bool = False) -> Firmware:
        """``app`` configured and built for ``board`` with ``options``, once per run."""
        key = (app, board, options, cross_compile)
        if key not in self._builds:
            start = time.monotonic()
            build = self.tmp.mktemp(f"{app.name}-{board.replace('/', '_')}")
            c = self.configure(app, build, board, *options, cross_compile=cross_compile)
            assert c.returncode == 0, c.stdout + c.stderr
            b = run(["ninja", "-C", build], self.env(cross_compile))
            assert b.returncode == 0, b.stdout + b.stderr
            print(
                f"\nzephyr: {app.name} for {board} configured and built in {time.monotonic() - start:.0f} s"
            )
            self._builds[key] = Firmware(
                board, build, c.stdout + c.stderr, b.stdout + b.stderr, self.env(cross_compile)
            )
        return self._builds[key]

    def example(self, board: str) -> Firmware:
        """examples/zephyr's one build for ``board`` (see BOARDS)."""
        b = BOARDS[board]
        return self.build(EXAMPLE, board, *b.options, cross_compile=b.cross_compile)


@pytest.fixture(scope="module")
def zephyr(tmp_path_factory: pytest.TempPathFactory) -> Zephyr:
    if zephyr_env.located() is None:
        pytest.skip(zephyr_env.skip_reason())
    try:
        found = zephyr_env.discover()
    except zephyr_env.ZephyrUnavailable as exc:
        pytest.fail(f"Zephyr unusable: {exc}")
    assert found is not None
    z = Zephyr(found, tmp_path_factory)
    missing = [t for t in TOOLS if not shutil.which(t, path=z.base_env["PATH"])]
    if missing:
        unavailable(f"Zephyr tests need {', '.join(missing)} on PATH")
    return z


@pytest.fixture(scope="module", params=list(BOARDS))
def example(request: pytest.FixtureRequest, zephyr: Zephyr) -> Firmware:
    return zephyr.example(request.param)


def waveform_lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.splitlines() if line.startswith("waveform:")]


def attributes(path: Path, env: dict[str, str]) -> set[tuple[str, ...]]:
    """The CPU and float-ABI build attributes of every object in an object file or archive."""
    out = run(["arm-none-eabi-readelf", "-A", path], env).stdout
    tags = ("Tag_CPU_arch", "Tag_CPU_arch_profile", "Tag_FP_arch", "Tag_ABI_VFP_args")
    found = set()
    for block in re.split(r"^File: ", out, flags=re.M):
        values = dict(re.findall(r"^\s*(Tag_\w+): (.*)$", block, flags=re.M))
        if "Tag_CPU_arch" in values:
            found.add(tuple(values.get(t, "-") for t in tags))
    return found


@pytest.fixture(scope="module")
def expected_lines(zephyr: Zephyr, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The bare-metal example (examples/cmake-qemu) built natively on the host, and its output."""
    build, env = tmp_path_factory.mktemp("cmake-qemu-host"), zephyr.env()
    prefix, python = f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}", f"-DMLF_BUILD_PYTHON={sys.executable}"
    r = run(["cmake", "-GNinja", "-S", REPO / "examples" / "cmake-qemu", "-B", build, prefix, python], env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["cmake", "--build", build], env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([build / "waveform_demo"], env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = waveform_lines(r.stdout)
    assert len(lines) == 6 and lines[-1].startswith("waveform: PASS"), lines
    return lines


def check_run(fw: Firmware) -> subprocess.CompletedProcess[str]:
    """Runs under QEMU: booted Zephyr, ended through semihosting with status 0."""
    r = fw.run_qemu()
    assert r.returncode == 0, f"exit status {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "*** Booting Zephyr OS" in r.stdout
    assert "FATAL" not in r.stdout, r.stdout
    return r


def check_attributes(fw: Firmware, *libraries: str) -> tuple[str, ...]:
    """The model libraries carry the same build attributes as Zephyr's own main.c object."""
    (zephyr_own,) = attributes(fw.build / "CMakeFiles" / "app.dir" / "src" / "main.c.obj", fw.env)
    for lib in (*libraries, "libmlf_runtime.a"):
        assert attributes(fw.build / lib, fw.env) == {zephyr_own}, lib
    return zephyr_own


def arena_report(fw: Firmware, target: str, arena: int) -> str:
    """Where the post-link report says the linker put <target>'s arena ("RAM", ...), checked
    against the address of its symbol in the ELF."""
    nm = run(["arm-none-eabi-nm", fw.elf], fw.env).stdout
    address = re.search(rf"^([0-9a-f]+) \w {target}__arena$", nm, re.M)
    assert address, nm[-2000:]
    line = re.search(
        rf"^mlf_build: {target}: arena {arena} bytes at 0x{address[1]}, in (.*)$", fw.build_log, re.M
    )
    assert line, fw.build_log[-3000:]
    return line[1]


@pytest.mark.slow
def test_example_runs_like_bare_metal(example: Firmware, expected_lines: list[str]) -> None:
    assert "mlf_build: waveform: arena 1216 bytes (RAM, " in example.configure
    assert arena_report(example, "waveform", 1216) == "RAM"
    assert not re.findall(r"warning:.*", example.build_log), example.build_log
    r = check_run(example)
    assert waveform_lines(r.stdout) == expected_lines, r.stdout
    assert expected_lines[-1] == "waveform: PASS (4/4 cases match the numpy reference)"


@pytest.mark.slow
def test_compiled_with_zephyr_flags(example: Firmware) -> None:
    board = BOARDS[example.board]
    attrs = check_attributes(example, "libwaveform.a")
    assert attrs[0] == board.arch, attrs
    assert (attrs[3] == "VFP registers") == board.hard_float, attrs
    # Zephyr's libc supplies the math functions (a bare -lm would pull in newlib's libm).
    link = run(["ninja", "-C", example.build, "-t", "commands", "zephyr/zephyr.elf"], example.env).stdout
    assert "-lm" not in link.split()


def _sections(fw: Firmware) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """The firmware's output sections (name -> address, size) and symbols (name -> address)."""
    headers = run(["arm-none-eabi-readelf", "-SW", fw.elf], fw.env).stdout
    sections = {
        name: (int(addr, 16), int(size, 16))
        for name, addr, size in re.findall(
            r"\]\s+(\S+)\s+\S+\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)", headers
        )
    }
    nm = run(["arm-none-eabi-nm", fw.elf], fw.env).stdout
    symbols = {name: int(addr, 16) for addr, name in re.findall(r"^([0-9a-f]+) \w (\S+)$", nm, re.M)}
    return sections, symbols


@pytest.mark.slow
def test_arena_and_weights_sections(zephyr: Zephyr) -> None:
    """CONFIG_MLF_BUILD_ARENA_SECTION / _WEIGHTS_SECTION with names Zephyr's linker script does
    not know: placed by the generated fragments in noinit and rodata, no orphan section."""
    fw = zephyr.example("mps2/an386")
    assert "arena 1216 bytes (RAM, .noinit via a linker fragment)" in fw.configure
    assert "parameters 2480 bytes (rodata via a linker fragment)" in fw.configure
    assert "orphan" not in fw.build_log, fw.build_log
    sections, symbols = _sections(fw)
    assert ".mlf_arena" not in sections and ".mlf_weights" not in sections

    def inside(symbol: str, section: str) -> bool:
        start, size = sections[section]
        return start <= symbols[symbol] < start + size

    assert inside("waveform__arena", "noinit")
    params = [s for s in symbols if re.fullmatch(r"waveform__param_\d+", s)]
    assert params and all(inside(p, "rodata") for p in params)


@pytest.mark.slow
def test_thread_local_runtime(zephyr: Zephyr) -> None:
    """CONFIG_MLF_BUILD_THREAD_LOCAL: the runtime's state is thread-local (and the example runs,
    test_example_runs_like_bare_metal[mps2/an386])."""
    fw = zephyr.example("mps2/an386")
    runtime_symbols = run(["arm-none-eabi-readelf", "-sW", fw.build / "libmlf_runtime.a"], fw.env).stdout
    assert re.search(r"\sTLS\s", runtime_symbols), runtime_symbols


@pytest.mark.slow
def test_two_models_in_one_image(zephyr: Zephyr, fixture_models: dict[str, Path]) -> None:
    np = pytest.importorskip("numpy")
    from tests import fixtures

    fw = zephyr.build(
        TWO_MODELS,
        "qemu_cortex_m3",
        f"-DZEPHYR_EXTRA_MODULES={REPO}",
        f"-DMIXER_MLF={fixture_models['v7-two-modules']}",
    )
    for target in ("waveform", "mixer"):
        assert re.search(rf"mlf_build: {target}: arena \d+ bytes \(RAM, \.bss\)", fw.configure), fw.configure
    assert not re.findall(r"warning:.*", fw.build_log), fw.build_log
    check_attributes(fw, "libwaveform.a", "libmixer.a")
    # One runtime for both: its entry points are defined once in the image.
    nm = run(["arm-none-eabi-nm", "-g", "--defined-only", fw.elf], fw.env).stdout
    assert {"waveform_run", "mixer_run"} <= set(nm.split())

    r = check_run(fw)
    assert waveform_lines(r.stdout)[-1] == "waveform: PASS (4/4 cases match the numpy reference)"
    assert "mixer: status 0, arena " in r.stdout, r.stdout
    bits = [int(h, 16) for h in re.findall(r"^mixer: output \d 0x([0-9a-f]{8})\r?$", r.stdout, re.M)]
    got = np.array(bits, dtype=np.uint32).view(np.float32)
    a = (0.25 * np.arange(4)).astype(np.float32).reshape(1, 4)
    b = (0.125 * np.arange(4) - 0.5).astype(np.float32).reshape(1, 4)
    (want,) = fixtures.reference("mixer", [a, b])
    np.testing.assert_allclose(got, want.reshape(-1), rtol=1e-5, atol=1e-6)


def write_app(app: Path, library: str, model: Path, prj_conf: str, main_c: str) -> Path:
    """A Zephyr application (in ``app``) building ``model`` as ``library`` and running src/main.c,
    with examples/zephyr's semihost_exit() at hand."""
    (app / "src").mkdir(parents=True)
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20.0)\n"
        "find_package(Zephyr REQUIRED HINTS $ENV{ZEPHYR_BASE})\n"
        f"project(mlf_{library} C)\n"
        f'add_mlf_library({library} "{model.as_posix()}")\n'
        f'target_sources(app PRIVATE src/main.c "{EXAMPLE.as_posix()}/src/semihost_exit.c")\n'
        f'target_include_directories(app PRIVATE "{EXAMPLE.as_posix()}/src")\n'
        f"target_link_libraries(app PRIVATE {library})\n"
    )
    (app / "prj.conf").write_text(prj_conf)
    (app / "src" / "main.c").write_text(main_c)
    return app


@pytest.mark.slow
def test_arena_too_big_fails_at_configure(zephyr: Zephyr, tmp_path: Path, corpus: Path, cli) -> None:
    model = corpus.joinpath(*BIG_MODEL)
    info = tmp_path / "info.cmake"
    assert (
        cli(
            ["generate", model, "--out", tmp_path / "gen", "--name", "net", "--list", "--cmake-info", info]
        ).code
        == 0
    )
    arena = int(re.search(r"MLF_INFO_WORKSPACE_SIZE \[=\[(\d+)\]=\]", info.read_text())[1])
    assert arena > 64 * 1024

    app = write_app(
        tmp_path / "app",
        "net",
        model,
        "CONFIG_MLF_BUILD=y\n",
        '#include "net.h"\nint main(void) { return 0; }\n',
    )
    module = f"-DZEPHYR_EXTRA_MODULES={REPO}"

    r = zephyr.configure(app, tmp_path / "m3", "qemu_cortex_m3", module)
    assert r.returncode != 0
    message = " ".join((r.stdout + r.stderr).split())  # CMake wraps messages
    assert re.search(
        rf"add_mlf_library\(net\): the arena needs {arena} bytes but qemu_cortex_m3\S* has 65536 bytes "
        r"of RAM \(CONFIG_SRAM_SIZE=64 KiB\)",
        message,
    ), r.stdout + r.stderr

    r = zephyr.configure(app, tmp_path / "an521", "mps2/an521/cpu0", module)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"mlf_build: net: arena {arena} bytes (RAM, .bss)" in r.stdout

    # Without the check the same app builds for qemu_cortex_m3: its main() never calls net_run(),
    # so the linker leaves the model out, and the post-link report says so instead of failing.
    fw = zephyr.build(app, "qemu_cortex_m3", module, "-DCONFIG_MLF_BUILD_RAM_CHECK=n")
    nm = run(["arm-none-eabi-nm", fw.elf], fw.env).stdout
    assert "net__arena" not in nm and "net_run" not in nm
    assert re.search(
        r"^mlf_build: net: not linked \(no net__arena in \S+/zephyr\.elf\): the application calls none "
        r"of the model's functions, so the linker left the model out$",
        fw.build_log,
        re.M,
    ), fw.build_log[-3000:]


def test_docs_show_the_semihosting_exit() -> None:
    """docs/zephyr.md shows the example's exit code verbatim (no Zephyr needed)."""
    source = (EXAMPLE / "src" / "semihost_exit.c").read_text()
    code = source[source.index("void semihost_exit(int status) {") :]
    assert code in (REPO / "docs" / "zephyr.md").read_text()


# The discovery and the cache of tests/zephyr_env.py, with a stand-in workspace (no Zephyr needed).
FAKE_SETUP = """#!/usr/bin/env bash
set -eu
echo run >> "$(dirname "$0")/runs"
[ ! -e "$(dirname "$0")/fail" ] || { echo "setup.sh: no Python 3.12" >&2; exit 1; }
mkdir -p "$1/zephyrproject/zephyr" && touch "$1/zephyrproject/zephyr/VERSION"
echo "export ZEPHYR_BASE=$1/zephyrproject/zephyr MLF_FAKE=1" > "$1/env.sh"
"""


def _fake_shared(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "zephyr-x.tar.xz").write_bytes(b"one")
    (shared / "setup.sh").write_text(FAKE_SETUP)
    return shared


def test_shared_zephyr_set_up_once_per_archive(tmp_path: Path) -> None:
    shared, root = _fake_shared(tmp_path), tmp_path / "cache"
    env_sh = zephyr_env.set_up_shared(shared, root)
    assert env_sh.parent.name == f"zephyr-{zephyr_env.cache_key(shared)}"
    assert zephyr_env.source_env(env_sh) == {
        "ZEPHYR_BASE": f"{env_sh.parent}/zephyrproject/zephyr",
        "MLF_FAKE": "1",
    }
    assert zephyr_env.set_up_shared(shared, root) == env_sh
    assert (shared / "runs").read_text().count("run") == 1

    (shared / "zephyr-x.tar.xz").write_bytes(b"two")  # another archive: another folder
    other = zephyr_env.set_up_shared(shared, root)
    assert other != env_sh and env_sh.is_file()
    assert (shared / "runs").read_text().count("run") == 2


def test_shared_zephyr_interrupted_failed_or_foreign(tmp_path: Path) -> None:
    shared, root = _fake_shared(tmp_path), tmp_path / "cache"
    dest = root / f"zephyr-{zephyr_env.cache_key(shared)}"
    dest.mkdir(parents=True)
    with pytest.raises(zephyr_env.ZephyrUnavailable, match=re.escape("was not made by tests/zephyr_env.py")):
        zephyr_env.set_up_shared(shared, root)  # never removes a folder it did not make
    assert dest.is_dir() and not (shared / "runs").exists()

    dest.rmdir()
    (shared / "fail").write_text("")
    with pytest.raises(
        zephyr_env.ZephyrUnavailable, match=re.escape("failed (1):\nsetup.sh: no Python 3.12")
    ):
        zephyr_env.set_up_shared(shared, root)
    assert not (dest / zephyr_env.READY).exists()

    (dest / "leftover").write_text("")  # an interrupted set-up: done again from scratch
    (shared / "fail").unlink()
    assert zephyr_env.set_up_shared(shared, root) == dest / "env.sh"
    assert not (dest / "leftover").exists() and (dest / zephyr_env.READY).is_file()


def test_zephyr_base_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEPHYR_BASE", str(tmp_path))
    assert zephyr_env.located() == "ZEPHYR_BASE"
    with pytest.raises(zephyr_env.ZephyrUnavailable, match="is not a Zephyr tree"):
        zephyr_env.discover()
    (tmp_path / "VERSION").write_text("")
    monkeypatch.setenv("ZEPHYR_MODULES", "a;b")
    found = zephyr_env.discover()
    assert found is not None and found.env == {} and found.source == f"ZEPHYR_BASE={tmp_path}"


# --- CMSIS-NN through Zephyr's cmsis-nn module (CONFIG_CMSIS_NN) ---------------------------------

CMSIS_NN_MAIN = """/* Runs the int8 CMSIS-NN fixture once and compares with the TFLite reference (data.h). */
#include <string.h>
#include <zephyr/sys/printk.h>

#include "data.h"
#include "qconv.h"
#include "semihost_exit.h"

int main(void) {
  static int8_t out[QCONV_OUTPUT_0_SIZE];
  const void *in[1] = {qconv_input};
  void *outs[1] = {out};
  int32_t status = qconv_run(in, outs);
  int ok = status == MLF_OK && memcmp(out, qconv_expected, sizeof out) == 0;
  printk("qconv: status %d %s\\n", (int)status, ok ? "PASS" : "FAIL");
  semihost_exit(ok ? 0 : 1);
  return 0;
}
"""

CMSIS_NN_KCONFIG = (
    "-DCONFIG_CMSIS_NN=y",
    "-DCONFIG_CMSIS_NN_CONVOLUTION=y",
    "-DCONFIG_CMSIS_NN_POOLING=y",
    "-DCONFIG_CMSIS_NN_FULLYCONNECTED=y",
    "-DCONFIG_CMSIS_NN_SOFTMAX=y",
    "-DCONFIG_CMSIS_NN_NNSUPPORT=y",
)


def _cmsis_nn_modules(root: Path) -> list[Path]:
    """Zephyr module folders for the shared CMSIS-NN v4.1.0 (as cmsis-nn: Zephyr builds it with
    its own modules/cmsis-nn/CMakeLists.txt) and a stand-in cmsis-dsp: CONFIG_CMSIS_NN selects
    CONFIG_CMSIS_DSP, whose module always compiles CMSIS-DSP's common tables; CMSIS-NN uses
    none of CMSIS-DSP, so empty files of those names stand for them (CI has no CMSIS-DSP)."""
    from tests.conftest import cmsis_nn_dir

    mods = []
    for name, links in (("cmsis-nn", ("Include", "Source")), ("cmsis-dsp", ())):
        mod = root / name
        (mod / "zephyr").mkdir(parents=True)
        (mod / "zephyr" / "module.yml").write_text(
            f"name: {name}\nbuild:\n  cmake-ext: True\n  kconfig-ext: True\n"
        )
        for link in links:
            (mod / link).symlink_to(cmsis_nn_dir() / link)
        if name == "cmsis-dsp":
            (mod / "Include").mkdir()
            tables = mod / "Source" / "CommonTables"
            tables.mkdir(parents=True)
            for stem in ("arm_common_tables", "arm_const_structs", "arm_mve_tables"):
                for suffix in ("", "_f16"):
                    (tables / f"{stem}{suffix}.c").write_text("/* stand-in: CMSIS-NN needs no DSP table */\n")
        mods.append(mod)
    return mods


@pytest.fixture(scope="module")
def cmsis_nn_app(zephyr: Zephyr, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A Zephyr app running the int8 CMSIS-NN fixture (exported for Cortex-M4) against the
    TFLite reference, and the ZEPHYR_EXTRA_MODULES option that brings mlf_build and CMSIS-NN."""
    from tests.conftest import cmsis_nn_dir

    if not (cmsis_nn_dir() / "Include" / "arm_nnfunctions.h").is_file():
        pytest.skip(f"CMSIS-NN not found at {cmsis_nn_dir()} (set MLF_CMSIS_NN)")
    np = pytest.importorskip("numpy")
    from tests.firmware import smoke_inputs
    from tests.fixtures import byoc_export, qmodel

    root = tmp_path_factory.mktemp("zephyr-cmsis-nn")
    model = byoc_export.export(root, "cortex-m4")
    (x,) = smoke_inputs([("int8", int(np.prod(qmodel.INPUT_SHAPE)))])
    want = qmodel.reference(qmodel.load_qmodel(), x)
    prj = "CONFIG_MLF_BUILD=y\nCONFIG_PRINTK=y\nCONFIG_SEMIHOST=y\n"
    app = write_app(root / "qconv", "qconv", model, prj, CMSIS_NN_MAIN)
    (app / "src" / "data.h").write_text(
        "#include <stdint.h>\n"
        + "".join(
            f"static const int8_t {n}[{a.size}] = {{{', '.join(str(int(v)) for v in a.reshape(-1))}}};\n"
            for n, a in (("qconv_input", x), ("qconv_expected", want))
        )
    )
    modules = ";".join(str(p) for p in [REPO, *_cmsis_nn_modules(root / "modules")])
    return app, f"-DZEPHYR_EXTRA_MODULES={modules}"


@pytest.mark.slow
def test_cmsis_nn_module(zephyr: Zephyr, cmsis_nn_app: tuple[Path, str]) -> None:
    """CONFIG_CMSIS_NN=y provides CMSIS-NN to add_mlf_library(): the int8 fixture builds for
    mps2/an386 and its output equals the TFLite reference under QEMU."""
    app, modules = cmsis_nn_app
    fw = zephyr.build(app, "mps2/an386", modules, *CMSIS_NN_KCONFIG)
    r = check_run(fw)
    assert "qconv: status 0 PASS" in r.stdout, r.stdout
    # CMSIS-NN's DSP kernels for the M4, from Zephyr's own build of the module
    assert re.search(r"\tsmlad\s", run(["arm-none-eabi-objdump", "-d", fw.elf], fw.env).stdout)


@pytest.mark.slow
def test_cmsis_nn_kernel_group_off_fails_at_configure(
    zephyr: Zephyr, cmsis_nn_app: tuple[Path, str], tmp_path: Path
) -> None:
    """Zephyr compiles only the CMSIS-NN kernel groups enabled: one the model calls is named.
    (Without CONFIG_CMSIS_NN the generator's own line says what to set, as with plain CMake.)"""
    app, modules = cmsis_nn_app
    kconfig = [k for k in CMSIS_NN_KCONFIG if "SOFTMAX" not in k]
    r = zephyr.configure(app, tmp_path / "build", "mps2/an386", modules, *kconfig)
    assert r.returncode != 0
    assert (
        "add_mlf_library(qconv): the model calls arm_softmax_s8, which Zephyr's cmsis-nn module "
        "compiles only with CONFIG_CMSIS_NN_SOFTMAX=y" in " ".join((r.stdout + r.stderr).split())
    ), r.stdout + r.stderr


# -- the layer around the generator: content, names, paths ------------------------------------
PAST = 946684800  # 2000-01-01: older than any build


def _check_smoke(fw: Firmware, model: Path, factor: float) -> None:
    """QEMU runs <model> through mlf_smoke.c (arena, numpy's outputs with every parameter times
    <factor>), and the post-link report puts the arena in RAM."""
    pytest.importorskip("numpy")
    from tests.firmware import Smoke, assert_smoke_runs_waveform

    s = Smoke.parse(check_run(fw).stdout.replace("\r", ""))
    assert_smoke_runs_waveform(s, model, factor)
    assert arena_report(fw, "net", s.workspace) == "RAM"


@pytest.mark.slow
def test_lto_and_rebuild_on_content(zephyr: Zephyr, tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """CONFIG_LTO=y links and runs the model (its objects opt out of LTO). Replaced by an older,
    different model (other files, arena and weights) with cp -p, one `ninja` brings the firmware
    to the new model."""
    from tests.mlf_factory import reweighted

    model, new = tmp_path / "model.tar", reweighted(fixture_models["v5-graph"], tmp_path / "new.tar")
    shutil.copy(fixture_models["v7-graph"], model)
    for f in (model, new):
        os.utime(f, (PAST, PAST))
    fw = zephyr.build(SMOKE_APP, "qemu_cortex_m3", f"-DZEPHYR_EXTRA_MODULES={REPO}", f"-DMODEL={model}")
    assert not re.findall(r"warning:.*", fw.build_log), fw.build_log
    # Kconfig keeps LTO only with the interrupt tables declared locally (prj.conf); otherwise it
    # turns it off with a mere warning and the build goes on without LTO.
    config = (fw.build / "zephyr" / ".config").read_text()
    assert "\nCONFIG_LTO=y\n" in config and "\nCONFIG_ISR_TABLES_LOCAL_DECLARATION=y\n" in config
    assert "was assigned the value 'y' but got the value 'n'" not in fw.configure, fw.configure
    _check_smoke(fw, fixture_models["v7-graph"], 1.0)

    shutil.copy2(new, model)  # older than the build, as cp -p, mv, tar x or rsync -a leave it
    b = run(["ninja", "-C", fw.build], fw.env)
    assert b.returncode == 0, b.stdout + b.stderr
    assert b.stdout.count("mlf_build: generating net") == 1, b.stdout
    _check_smoke(Firmware(fw.board, fw.build, fw.configure, b.stdout + b.stderr, fw.env), new, 2.0)


@pytest.mark.slow
def test_kconfig_strings_and_placements_are_checked(zephyr: Zephyr, tmp_path: Path, fixture_models) -> None:
    """A Kconfig string holding ';' (several arguments to add_mlf_library()) is refused naming
    the option, and nothing is written where it points; an arena in read-only flash (a .rodata
    name on an XIP board) and weights in .noinit (no contents in the image) are refused."""
    victim = tmp_path / "victim"
    cases = {
        "list": (
            f'CONFIG_MLF_BUILD_ARENA_SECTION=".mlf_arena;--out;{victim}"',
            f"mlf_build: CONFIG_MLF_BUILD_ARENA_SECTION must be one section name, not "
            f"'.mlf_arena;--out;{victim}'",
        ),
        "rodata-arena": (
            'CONFIG_MLF_BUILD_ARENA_SECTION=".rodata.mlf_arena"',
            "add_mlf_library(net): ARENA_SECTION .rodata.mlf_arena puts the arena in what Zephyr's linker "
            "script makes read-only flash on qemu_cortex_m3",
        ),
        # Zephyr's script takes .gnu.linkonce.r.* into rodata as well (the arena was reported as RAM).
        "linkonce-arena": (
            'CONFIG_MLF_BUILD_ARENA_SECTION=".gnu.linkonce.r.arena"',
            "add_mlf_library(net): ARENA_SECTION .gnu.linkonce.r.arena puts the arena in what Zephyr's "
            "linker script makes read-only flash on qemu_cortex_m3",
        ),
        "noinit-weights": (
            'CONFIG_MLF_BUILD_WEIGHTS_SECTION=".noinit.mlf_weights"',
            "add_mlf_library(net): WEIGHTS_SECTION .noinit.mlf_weights puts the parameters where Zephyr's "
            "linker script keeps no contents in the image",
        ),
    }
    for name, (line, message) in cases.items():
        conf = tmp_path / f"{name}.conf"
        conf.write_text(line + "\n")
        r = zephyr.configure(
            SMOKE_APP,
            tmp_path / "build",
            "qemu_cortex_m3",
            f"-DZEPHYR_EXTRA_MODULES={REPO}",
            f"-DMODEL={fixture_models['v7-graph']}",
            f"-DEXTRA_CONF_FILE={conf}",
        )
        assert r.returncode != 0, f"{name}: configured"
        assert message in " ".join(r.stderr.split()), f"{name}: {r.stderr[-3000:]}"
    assert not victim.exists()
