"""End-to-end test of cmake/toolchains/arm-none-eabi.cmake and cmake/qemu (mlf::qemu_support).

For every supported CPU (default float ABI) plus cortex-m4 with soft float, tests/qemu_smoke is
configured with the toolchain file (Ninja), built, run through ctest (QEMU is the
CMAKE_CROSSCOMPILING_EMULATOR) and run directly under QEMU with a timeout. Checked: exit code 3 and
the printed int/float/malloc/8 MiB checksum; a trap exits 99 with a message; the custom
.rodata.model_a / .bss.arena_a and TVM's .rodata.tvm / .bss.noinit.tvm land in FLASH / RAM; .bss
has its own load segment; the ELF's float ABI and architecture match. Bad options fail clearly.
Other CMake versions (3.20, >= 4) come from MLF_TEST_CMAKES (tests/run.sh installs them into
.cache/; tests never download one): without them the test skips, except in CI, where it fails.

Skipped, with the reason, when arm-none-eabi-gcc, qemu-system-arm, cmake or ninja is missing.
Each CPU builds once (module-scoped fixture); the whole file takes about 15-25 s on 2 cores.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import extra_cmakes

REPO = Path(__file__).resolve().parents[1]
TOOLCHAIN = REPO / "cmake" / "toolchains" / "arm-none-eabi.cmake"
SMOKE = REPO / "tests" / "qemu_smoke"

_TOOLS = {t: shutil.which(t) for t in ("arm-none-eabi-gcc", "qemu-system-arm", "cmake", "ninja")}
pytestmark = pytest.mark.skipif(
    not all(_TOOLS.values()),
    reason="needs " + ", ".join(t for t, p in _TOOLS.items() if not p) + " on PATH",
)
CMAKE = _TOOLS["cmake"]
MiB = 1 << 20

# name -> (MLF_ARM_CPU, MLF_ARM_FLOAT_ABI or None, machine, FLASH (base, size), RAM (base, size),
#          float ABI expected, Tag_CPU_arch expected)
CONFIGS = {
    "m0plus": ("cortex-m0plus", None, "mps2-an385", (0x0, 4 * MiB), (0x21000000, 16 * MiB), "soft", "v6S-M"),
    "m3": ("cortex-m3", None, "mps2-an385", (0x0, 4 * MiB), (0x21000000, 16 * MiB), "soft", "v7"),
    "m4": ("cortex-m4", None, "mps2-an386", (0x0, 4 * MiB), (0x21000000, 16 * MiB), "hard", "v7E-M"),
    "m4-soft": ("cortex-m4", "soft", "mps2-an386", (0x0, 4 * MiB), (0x21000000, 16 * MiB), "soft", "v7E-M"),
    "m7": ("cortex-m7", None, "mps2-an500", (0x0, 4 * MiB), (0x60000000, 16 * MiB), "hard", "v7E-M"),
    "m33": (
        "cortex-m33",
        None,
        "mps2-an505",
        (0x10000000, 4 * MiB),
        (0x80000000, 16 * MiB),
        "hard",
        "v8-M.mainline",
    ),
    "m55": (
        "cortex-m55",
        None,
        "mps3-an547",
        (0x28000000, 8 * MiB),
        (0x60000000, 16 * MiB),
        "hard",
        "v8.1-M.mainline",
    ),
}

# main.c fills 2 Mi words with i * 2654435761 (mod 2**32) and sums them.
_N = (8 * MiB) // 4
BIG_SUM = (_N * (_N - 1) // 2 * 2654435761) % (1 << 32)
SMOKE_LINES = [
    "mlf_qemu_smoke: int=42 float=3.125000",
    f"mlf_qemu_smoke: malloc=heap-ok big={BIG_SUM:08x}/{BIG_SUM:08x} match model=4111 tvm=17",
]


def run(cmd, timeout=120, **kw):
    return subprocess.run(
        [str(c) for c in cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kw
    )


def configure(build_dir, cpu=None, abi=None, cmake=CMAKE, source=SMOKE, toolchain=True):
    cmd = [cmake, "-S", source, "-B", build_dir, "-G", "Ninja"]
    if toolchain:
        cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}")
    if cpu:
        cmd.append(f"-DMLF_ARM_CPU={cpu}")
    if abi:
        cmd.append(f"-DMLF_ARM_FLOAT_ABI={abi}")
    return run(cmd)


def emulator(build_dir):
    cache = (Path(build_dir) / "CMakeCache.txt").read_text()
    return re.search(r"^CMAKE_CROSSCOMPILING_EMULATOR:[A-Z]+=(.*)$", cache, re.M).group(1).split(";")


def run_firmware(build_dir, elf):
    """Runs an ELF under the configured emulator, wrapped in `timeout` so nothing can hang."""
    guard = ["timeout", "-k", "5", "30"] if shutil.which("timeout") else []
    return run(guard + emulator(build_dir) + [Path(build_dir) / elf], timeout=60)


@pytest.fixture(scope="module", params=list(CONFIGS))
def fw(request, tmp_path_factory):
    name = request.param
    build = tmp_path_factory.mktemp(f"qemu-{name}")
    cpu, abi, *_ = CONFIGS[name]
    cfg = configure(build, cpu, abi)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    out = run([CMAKE, "--build", build])
    assert out.returncode == 0, out.stdout + out.stderr
    return name, build, cfg.stdout


def test_configure_exports(fw):
    name, _, log = fw
    cpu, _, machine, _, _, abi, _ = CONFIGS[name]
    assert f"cpu={cpu} float-abi={abi} flags=-mcpu={cpu};-mthumb;" in log
    assert f"machine={machine} " in log
    assert "Performing Test MLF_SMOKE_FLOAT_ABI_OK - Success" in log


def test_ctest_runs_under_qemu(fw):
    name, build, _ = fw
    machine = CONFIGS[name][2]
    ctest = Path(CMAKE).with_name("ctest")
    out = run([ctest, "-V", "--timeout", "30"], cwd=build)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert re.search(
        rf'Test command: \S*qemu-system-arm "-M" "{machine}" "-nographic" '
        r'"-semihosting-config" "enable=on,target=native" "-kernel" "\S*smoke\.elf"',
        text,
    ), text
    # SKIP_RETURN_CODE 3 / 99: "Skipped" means exactly that exit code; anything else would fail.
    assert re.search(r"Test +#\d+: smoke \.+\**Skipped", text), text
    assert re.search(r"Test +#\d+: fault \.+\**Skipped", text), text
    for line in SMOKE_LINES:
        assert line in text


def test_direct_run_exit_code_and_output(fw):
    _, build, _ = fw
    out = run_firmware(build, "smoke.elf")
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stdout.splitlines() == SMOKE_LINES, out.stdout + out.stderr


def test_fault_exits_99(fw):
    _, build, _ = fw
    out = run_firmware(build, "fault.elf")
    assert out.returncode == 99, out.stdout + out.stderr
    assert "mlf_qemu_fault: before trap" in out.stdout
    assert re.search(
        r"mlf_qemu_support: unhandled exception 0x00000003 at pc 0x[0-9a-f]{8}, exit 99", out.stderr
    ), out.stderr


def _sections(elf):
    out = run(["arm-none-eabi-readelf", "-SW", elf]).stdout
    found = {}
    for m in re.finditer(
        r"\]\s+(\S+)\s+(\S+)\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)\s", out
    ):
        found[m.group(1)] = (m.group(2), int(m.group(3), 16), int(m.group(4), 16), m.group(5))
    return found


def test_sections_land_in_flash_and_ram(fw):
    name, build, _ = fw
    _, _, _, (flash, flash_size), (ram, ram_size), _, _ = CONFIGS[name]
    elf = build / "smoke.elf"

    # The compiler really emitted the custom input sections (rodata: PROGBITS, bss: NOBITS).
    obj = _sections(build / "CMakeFiles" / "smoke.dir" / "main.c.obj")
    assert obj[".rodata.model_a"][0] == "PROGBITS" and "W" not in obj[".rodata.model_a"][3]
    assert obj[".rodata.tvm"][0] == "PROGBITS"
    assert obj[".bss.arena_a"][0] == "NOBITS" and obj[".bss.noinit.tvm"][0] == "NOBITS"

    secs = _sections(elf)
    syms = {
        m.group(2): int(m.group(1), 16)
        for m in re.finditer(r"^([0-9a-f]{8}) \S (\S+)$", run(["arm-none-eabi-nm", elf]).stdout, re.M)
    }

    def inside(addr, base, size):
        return base <= addr < base + size

    _, ro_addr, ro_size, _ = secs[".rodata"]
    _, bss_addr, bss_size, _ = secs[".bss"]
    assert inside(ro_addr, flash, flash_size) and inside(bss_addr, ram, ram_size)
    for sym in ("model_a_weights", "tvm_const"):
        assert inside(syms[sym], ro_addr, ro_size) and inside(syms[sym], flash, flash_size), sym
    for sym in ("arena_a", "tvm_workspace", "big_buffer"):
        assert inside(syms[sym], bss_addr, bss_size) and inside(syms[sym], ram, ram_size), sym
    assert syms["__StackTop"] == ram + ram_size
    assert secs[".data"][1] == ram  # .data first in RAM

    # The map file shows the input sections placed, not discarded by --gc-sections.
    placed = (build / "smoke.map").read_text().split("Linker script and memory map", 1)[1]
    for sec in (".rodata.model_a", ".rodata.tvm", ".bss.arena_a", ".bss.noinit.tvm"):
        assert re.search(rf"^ {re.escape(sec)}\s", placed, re.M), sec

    # .bss has a load segment of its own (PHDRS): no file bytes, >= 8 MiB, loaded in RAM.
    segs = re.findall(
        r"LOAD\s+0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+)",
        run(["arm-none-eabi-readelf", "-lW", elf]).stdout,
    )
    bss_segs = [s for s in segs if int(s[2], 16) == 0 and int(s[3], 16) >= 8 * MiB]
    assert len(bss_segs) == 1 and bss_segs[0][0] == bss_segs[0][1], segs
    assert inside(int(bss_segs[0][1], 16), ram, ram_size)


def test_elf_attributes_match_cpu_and_abi(fw):
    name, build, _ = fw
    cpu, _, _, _, _, abi, arch = CONFIGS[name]
    attrs = run(["arm-none-eabi-readelf", "-A", build / "smoke.elf"]).stdout
    assert re.search(rf"Tag_CPU_arch: {re.escape(arch)}\n", attrs), attrs
    assert ("Tag_ABI_VFP_args: VFP registers" in attrs) == (abi == "hard"), attrs
    if cpu == "cortex-m55":
        assert "Tag_MVE_arch: MVE Integer and FP" in attrs


@pytest.mark.parametrize(
    "cpu,abi,message",
    [
        (
            "cortex-m85",
            None,
            r"MLF_ARM_CPU='cortex-m85' is not supported; allowed: cortex-m0plus, cortex-m3, "
            r"cortex-m4, cortex-m7, cortex-m33, cortex-m55",
        ),
        (
            "cortex-m4",
            "double",
            r"MLF_ARM_FLOAT_ABI='double' is not supported; allowed: auto, soft, softfp, hard",
        ),
        ("cortex-m3", "hard", r"MLF_ARM_FLOAT_ABI=hard needs an FPU, but cortex-m3 has none"),
        ("cortex-m0plus", "softfp", r"MLF_ARM_FLOAT_ABI=softfp needs an FPU, but cortex-m0plus has none"),
    ],
)
def test_invalid_options_fail_clearly(tmp_path, cpu, abi, message):
    out = configure(tmp_path / "b", cpu, abi)
    assert out.returncode != 0
    assert re.search(message, " ".join((out.stdout + out.stderr).split())), out.stderr


def test_changing_cpu_in_a_build_dir_is_refused(tmp_path):
    assert configure(tmp_path / "b", "cortex-m3").returncode == 0
    out = configure(tmp_path / "b", "cortex-m4")
    assert out.returncode != 0
    assert "Use a new build directory" in " ".join(out.stderr.split())


def test_user_prefix_and_emulator_are_kept(tmp_path):
    """A full-path MLF_ARM_TOOLCHAIN_PREFIX and a user CMAKE_CROSSCOMPILING_EMULATOR are used as given."""
    build = tmp_path / "b"
    prefix = str(Path(_TOOLS["arm-none-eabi-gcc"]).resolve().parent / "arm-none-eabi-")
    user_emulator = f"{_TOOLS['qemu-system-arm']};-M;mps2-an386;-nographic;-semihosting;-kernel"
    cfg = run(
        [
            CMAKE,
            "-S",
            SMOKE,
            "-B",
            build,
            "-G",
            "Ninja",
            f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}",
            f"-DMLF_ARM_TOOLCHAIN_PREFIX={prefix}",
            f"-DCMAKE_CROSSCOMPILING_EMULATOR={user_emulator}",
        ]
    )
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    assert f"Check for working C compiler: {prefix}gcc" in cfg.stdout, cfg.stdout
    assert emulator(build) == user_emulator.split(";")
    assert run([CMAKE, "--build", build]).returncode == 0
    out = run([Path(CMAKE).with_name("ctest"), "-V", "-R", "smoke", "--timeout", "30"], cwd=build)
    assert re.search(
        r'Test command: \S*qemu-system-arm "-M" "mps2-an386" "-nographic" "-semihosting" ', out.stdout
    )
    assert re.search(r"Test +#\d+: smoke \.+\**Skipped", out.stdout), out.stdout


def test_wrong_linker_script_exits_98(tmp_path):
    """MLF_QEMU_LINKER_SCRIPT override: an an386 script on the an500 (no RAM at 0x21000000) is reported."""
    build = tmp_path / "b"
    script = REPO / "cmake" / "qemu" / "mlf_qemu_mps2_an385_an386.ld"
    cfg = run(
        [
            CMAKE,
            "-S",
            SMOKE,
            "-B",
            build,
            "-G",
            "Ninja",
            f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}",
            "-DMLF_ARM_CPU=cortex-m7",
            f"-DMLF_QEMU_LINKER_SCRIPT={script}",
            "-DCMAKE_BUILD_TYPE=Debug",
        ]
    )
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    assert run([CMAKE, "--build", build]).returncode == 0
    out = run_firmware(build, "smoke.elf")
    assert out.returncode == 98, out.stdout + out.stderr
    assert "no RAM where the linker script puts it" in out.stderr


def test_mlfqemu_refuses_host_build(tmp_path):
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no host C compiler to configure a non-cross build")
    out = configure(tmp_path / "b", toolchain=False)
    assert out.returncode != 0
    assert (
        "MLFQemu.cmake builds Cortex-M firmware for QEMU and needs the arm-none-eabi toolchain"
        in " ".join(out.stderr.split())
    )


def _extra_cmakes():
    found = {}
    for path in [*extra_cmakes(), CMAKE]:
        if path and os.access(path, os.X_OK):
            m = re.search(r"cmake version (\d+)\.(\d+)", run([path, "--version"]).stdout)
            if m:
                found.setdefault((int(m.group(1)), int(m.group(2))), path)
    return found


@pytest.mark.parametrize("want", ["3.20", ">=4"])
def test_other_cmake_versions(tmp_path, want):
    versions = _extra_cmakes()
    pick = [v for v in versions if (v == (3, 20) if want == "3.20" else v[0] >= 4)]
    if not pick:
        reason = f"no CMake {want} in MLF_TEST_CMAKES (tests/run.sh installs it); found {sorted(versions)}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cmake = versions[pick[0]]
    build = tmp_path / "b"
    cfg = configure(build, "cortex-m33", cmake=cmake)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    out = run([cmake, "--build", build])
    assert out.returncode == 0, out.stdout + out.stderr
    assert run_firmware(build, "smoke.elf").returncode == 3
    log = build / "CMakeFiles" / "CMakeConfigureLog.yaml"  # CMake >= 3.26 records try_compile vars
    if log.exists():
        text = log.read_text()
        assert 'MLF_ARM_CPU: "cortex-m33"' in text and 'MLF_ARM_FLOAT_ABI: "hard"' in text
