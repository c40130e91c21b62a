"""End-to-end tests of the Zephyr module (zephyr/) with examples/zephyr, against a real Zephyr tree.

Needs, from the environment (skipped with the reason otherwise, as in CI, which has no Zephyr):
  ZEPHYR_BASE      a Zephyr tree (v3.7 LTS or v4.x), as for any Zephyr build;
  ZEPHYR_MODULES   ';'-separated folders of the modules Cortex-M builds need (cmsis_6 or cmsis,
                   picolibc), unless ZEPHYR_BASE sits in a west workspace (then west finds them);
  on PATH          cmake, ninja, dtc, arm-none-eabi-gcc, qemu-system-arm, gcc, and a Python that
                   Zephyr accepts with its build requirements (Zephyr finds it itself);
  optional         ZEPHYR_TOOLCHAIN_VARIANT / GNUARMEMB_TOOLCHAIN_PATH (default: gnuarmemb, the
                   prefix of the arm-none-eabi-gcc on PATH, e.g. Debian's /usr).
The generator runs with this test's own interpreter (MLF_BUILD_PYTHON in the environment).

Checked, one build per board (module-scoped fixtures):
  * qemu_cortex_m3 and mps2/an521/cpu0 (Cortex-M33): examples/zephyr configures, builds without
    linker warnings, runs under QEMU (semihosting exit, timeout) with exit status 0, and prints
    exactly the ``waveform:`` lines of the bare-metal example examples/cmake-qemu, which is built
    and run natively on the host here to get them; the model's object and the runtime carry the
    same CPU / float-ABI build attributes as Zephyr's own objects (arm-none-eabi-readelf -A).
  * Kconfig options, on mps2/an386 (Cortex-M4F) with CONFIG_FP_HARDABI=y: custom
    CONFIG_MLF_BUILD_ARENA_SECTION / _WEIGHTS_SECTION get linker fragments (no orphan warning; the
    arena lands in .noinit, the parameters in rodata), CONFIG_MLF_BUILD_THREAD_LOCAL makes the
    runtime's state thread-local, hard-float attributes, same output lines. (gnuarmemb declares
    no TLS support to Zephyr, so this build uses the same compiler through the cross-compile
    variant.)
  * The configure-time RAM check: a model whose arena (about 832 KB) cannot fit qemu_cortex_m3's
    64 KiB fails with the numbers; the same app configures for mps2/an521/cpu0 (4 MiB).
About 4-7 minutes on 2 cores (three Zephyr builds, picolibc compiled from source each time).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "zephyr"
BIG_MODEL = ("snu-v7-graph", "lib_graph_system-lib.tar")  # graph executor, arena 832128 bytes


def _skip_reason() -> str | None:
    base = os.environ.get("ZEPHYR_BASE")
    if not base:
        return "ZEPHYR_BASE is not set (Zephyr is in no package registry; see docs/zephyr.md)"
    if not (Path(base) / "VERSION").is_file():
        return f"ZEPHYR_BASE={base} is not a Zephyr tree (no VERSION file)"
    if not os.environ.get("ZEPHYR_MODULES") and not any(
        (p / ".west").is_dir() for p in Path(base).resolve().parents
    ):
        return "ZEPHYR_MODULES is not set (';'-separated cmsis_6/cmsis and picolibc module folders) "
    missing = [
        t
        for t in (
            "cmake",
            "ninja",
            "dtc",
            "arm-none-eabi-gcc",
            "arm-none-eabi-readelf",
            "qemu-system-arm",
            "gcc",
        )
        if not shutil.which(t)
    ]
    if missing:
        return "needs " + ", ".join(missing) + " on PATH"
    return None


_REASON = _skip_reason()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

# board -> (QEMU machine, QEMU cpu); mps2/an386 is FVP-only in Zephyr's run target, QEMU has it.
QEMU = {
    "qemu_cortex_m3": ("lm3s6965evb", "cortex-m3"),
    "mps2/an521/cpu0": ("mps2-an521", "cortex-m33"),
    "mps2/an386": ("mps2-an386", "cortex-m4"),
}
VARIANT = [
    "-DCONFIG_FPU=y",
    "-DCONFIG_FP_HARDABI=y",
    '-DCONFIG_MLF_BUILD_ARENA_SECTION=".mlf_arena"',
    '-DCONFIG_MLF_BUILD_WEIGHTS_SECTION=".mlf_weights"',
    "-DCONFIG_THREAD_LOCAL_STORAGE=y",
    "-DCONFIG_MLF_BUILD_THREAD_LOCAL=y",
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ZEPHYR_TOOLCHAIN_VARIANT", "gnuarmemb")
    if env["ZEPHYR_TOOLCHAIN_VARIANT"] == "gnuarmemb":
        gcc = Path(shutil.which("arm-none-eabi-gcc") or "/usr/bin/arm-none-eabi-gcc").resolve()
        env.setdefault("GNUARMEMB_TOOLCHAIN_PATH", str(gcc.parent.parent))
    env["MLF_BUILD_PYTHON"] = sys.executable
    return env


def run(cmd, timeout=900, env=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or _env(),
    )


def zephyr_configure(
    source: Path, build: Path, board: str, *extra: str, env=None
) -> subprocess.CompletedProcess[str]:
    cmd = ["cmake", "-GNinja", f"-DBOARD={board}", "-S", source, "-B", build, *extra]
    if os.environ.get("ZEPHYR_MODULES"):
        cmd.append(f"-DZEPHYR_MODULES={os.environ['ZEPHYR_MODULES']}")
    return run(cmd, timeout=300, env=env)


def waveform_lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.splitlines() if line.startswith("waveform:")]


def attributes(path: Path) -> set[tuple[str, ...]]:
    """The CPU and float-ABI build attributes of every object in an object file or archive."""
    out = run(["arm-none-eabi-readelf", "-A", path]).stdout
    tags = ("Tag_CPU_arch", "Tag_CPU_arch_profile", "Tag_FP_arch", "Tag_ABI_VFP_args")
    found = set()
    for block in re.split(r"^File: ", out, flags=re.M):
        values = dict(re.findall(r"^\s*(Tag_\w+): (.*)$", block, flags=re.M))
        if "Tag_CPU_arch" in values:
            found.add(tuple(values.get(t, "-") for t in tags))
    return found


@pytest.fixture(scope="module")
def expected_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The bare-metal example (examples/cmake-qemu) built natively on the host, and its output."""
    build = tmp_path_factory.mktemp("cmake-qemu-host")
    prefix, python = f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}", f"-DMLF_BUILD_PYTHON={sys.executable}"
    r = run(["cmake", "-GNinja", "-S", REPO / "examples" / "cmake-qemu", "-B", build, prefix, python])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["cmake", "--build", build])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([build / "waveform_demo"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = waveform_lines(r.stdout)
    assert len(lines) == 6 and lines[-1].startswith("waveform: PASS"), lines
    return lines


class Firmware:
    def __init__(self, board: str, build: Path, configure: str, build_log: str) -> None:
        self.board, self.build, self.configure, self.build_log = board, build, configure, build_log
        self.elf = build / "zephyr" / "zephyr.elf"

    def run_qemu(self) -> subprocess.CompletedProcess[str]:
        machine, cpu = QEMU[self.board]
        cmd = ["qemu-system-arm", "-M", machine, "-cpu", cpu, "-nographic"]
        cmd += ["-semihosting-config", "enable=on,target=native", "-kernel", self.elf]
        return run(cmd, timeout=60)


def _firmware(tmp_path_factory: pytest.TempPathFactory, board: str, *extra: str, env=None) -> Firmware:
    build = tmp_path_factory.mktemp("zephyr-" + board.replace("/", "_"))
    c = zephyr_configure(EXAMPLE, build, board, *extra, env=env)
    assert c.returncode == 0, c.stdout + c.stderr
    b = run(["ninja", "-C", build], env=env)
    assert b.returncode == 0, b.stdout + b.stderr
    return Firmware(board, build, c.stdout + c.stderr, b.stdout + b.stderr)


@pytest.fixture(scope="module", params=["qemu_cortex_m3", "mps2/an521/cpu0"])
def firmware(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Firmware:
    return _firmware(tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Firmware:
    env, extra = _env(), list(VARIANT)
    if env["ZEPHYR_TOOLCHAIN_VARIANT"] == "gnuarmemb":
        # Zephyr's gnuarmemb variant declares no TLS support; the same compiler through the
        # cross-compile variant may (CONFIG_TOOLCHAIN_CROSS_COMPILE_SUPPORTS_THREAD_LOCAL_STORAGE).
        prefix = Path(env["GNUARMEMB_TOOLCHAIN_PATH"])
        env["ZEPHYR_TOOLCHAIN_VARIANT"] = "cross-compile"
        env["CROSS_COMPILE"] = str(prefix / "bin" / "arm-none-eabi-")
        extra += [
            f"-DSYSROOT_DIR={prefix / 'arm-none-eabi'}",
            "-DCONFIG_TOOLCHAIN_CROSS_COMPILE_SUPPORTS_THREAD_LOCAL_STORAGE=y",
        ]
    return _firmware(tmp_path_factory, "mps2/an386", *extra, env=env)


def check_run(fw: Firmware, expected: list[str]) -> None:
    r = fw.run_qemu()
    assert r.returncode == 0, f"exit status {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "*** Booting Zephyr OS" in r.stdout
    assert waveform_lines(r.stdout) == expected, r.stdout


def check_attributes(fw: Firmware) -> set[tuple[str, ...]]:
    zephyr_own = attributes(fw.build / "CMakeFiles" / "app.dir" / "src" / "main.c.obj")
    assert len(zephyr_own) == 1, zephyr_own
    for lib in ("libwaveform.a", "libmlf_runtime.a"):
        assert attributes(fw.build / lib) == zephyr_own, lib
    return zephyr_own


def test_example_runs_like_bare_metal(firmware: Firmware, expected_lines: list[str]) -> None:
    assert "mlf_build: waveform: arena 1664 bytes (RAM, .bss)" in firmware.configure
    assert not re.findall(r"warning:.*", firmware.build_log), firmware.build_log
    check_run(firmware, expected_lines)


def test_compiled_with_zephyr_flags(firmware: Firmware) -> None:
    (attrs,) = check_attributes(firmware)
    assert attrs[0] == {"qemu_cortex_m3": "v7", "mps2/an521/cpu0": "v8-M.mainline"}[firmware.board]
    # Zephyr's libc supplies the math functions (a bare -lm would pull in newlib's libm).
    link = run(["ninja", "-C", firmware.build, "-t", "commands", "zephyr/zephyr.elf"]).stdout
    assert "-lm" not in link.split()


def test_kconfig_options_and_hard_float(variant: Firmware, expected_lines: list[str]) -> None:
    assert "arena 1664 bytes (RAM, .noinit via a linker fragment)" in variant.configure
    assert "parameters 2480 bytes (rodata via a linker fragment)" in variant.configure
    assert "orphan" not in variant.build_log, variant.build_log
    (attrs,) = check_attributes(variant)
    assert attrs[3] == "VFP registers", attrs
    headers = run(["arm-none-eabi-readelf", "-SW", variant.elf]).stdout
    sections = {
        name: (int(addr, 16), int(size, 16))
        for name, addr, size in re.findall(
            r"\]\s+(\S+)\s+\S+\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)", headers
        )
    }
    nm = run(["arm-none-eabi-nm", variant.elf]).stdout
    symbols = {name: int(addr, 16) for addr, name in re.findall(r"^([0-9a-f]+) \w (\S+)$", nm, re.M)}
    assert ".mlf_arena" not in sections and ".mlf_weights" not in sections

    def inside(symbol: str, section: str) -> bool:
        start, size = sections[section]
        return start <= symbols[symbol] < start + size

    assert inside("waveform__arena", "noinit")
    params = [s for s in symbols if re.fullmatch(r"waveform__param_\d+", s)]
    assert params and all(inside(p, "rodata") for p in params)
    # CONFIG_MLF_BUILD_THREAD_LOCAL: the runtime's state is thread-local.
    runtime_symbols = run(["arm-none-eabi-readelf", "-sW", variant.build / "libmlf_runtime.a"]).stdout
    assert re.search(r"\sTLS\s", runtime_symbols), runtime_symbols
    check_run(variant, expected_lines)


def test_arena_too_big_fails_at_configure(tmp_path: Path, corpus: Path, cli) -> None:
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

    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20.0)\n"
        "find_package(Zephyr REQUIRED HINTS $ENV{ZEPHYR_BASE})\n"
        "project(mlf_arena_check C)\n"
        f'add_mlf_library(net "{model.as_posix()}")\n'
        "target_sources(app PRIVATE src/main.c)\n"
        "target_link_libraries(app PRIVATE net)\n"
    )
    (app / "prj.conf").write_text("CONFIG_MLF_BUILD=y\n")
    (app / "src" / "main.c").write_text('#include "net.h"\nint main(void) { return 0; }\n')
    module = f"-DZEPHYR_EXTRA_MODULES={REPO}"

    r = zephyr_configure(app, tmp_path / "m3", "qemu_cortex_m3", module)
    assert r.returncode != 0
    message = " ".join((r.stdout + r.stderr).split())  # CMake wraps messages
    assert re.search(
        rf"add_mlf_library\(net\): the arena needs {arena} bytes but qemu_cortex_m3\S* has 65536 bytes "
        r"of RAM \(CONFIG_SRAM_SIZE=64 KiB\)",
        message,
    ), r.stdout + r.stderr

    r = zephyr_configure(app, tmp_path / "an521", "mps2/an521/cpu0", module)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"mlf_build: net: arena {arena} bytes (RAM, .bss)" in r.stdout
