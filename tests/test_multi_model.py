"""Several models in one firmware: namespacing, shared runtime, placement, budgets.

The acceptance firmware links four libraries for Cortex-M4F: two corpus models and the project's
waveform model twice, all exported by TVM under the module name "default". Each library has
its own weights and arena sections, placed by the generated linker fragments; the firmware runs
all of them under QEMU and its outputs must equal a host build's and, for the waveform model,
numpy's."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests import fixtures
from tests.conftest import corpus_dir, corpus_item, needs_arm, needs_cmake
from tests.firmware import build, configure, run, run_firmware, smoke_inputs

pytestmark = [needs_cmake, pytest.mark.slow]

# name -> (model, extra add_mlf_library arguments)
MAIN = r"""
#include <stdio.h>
#include <string.h>
{includes}

static uint32_t xorshift(uint32_t *s) {{
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}}

/* The inputs mlf_smoke.c would use (see its header comment). */
static void fill(const mlf_tensor_info_t *info, uint8_t *buf, uint32_t seed) {{
  size_t esize = (info->dtype_bits + 7u) / 8u;
  for (size_t k = 0; k < info->nbytes / esize; ++k) {{
    uint32_t x = xorshift(&seed);
    if (info->dtype_code == MLF_DTYPE_FLOAT && info->dtype_bits == 32) {{
      float f = (float)((x >> 8) & 0xFFFFu) / 32768.0f - 1.0f;
      memcpy(buf + k * 4, &f, 4);
    }} else {{
      for (size_t b = 0; b < esize; ++b) buf[k * esize + b] = (uint8_t)(x >> (8 * (b % 4)));
    }}
  }}
}}

static void print_hex(const char *name, int i, const uint8_t *p, size_t n) {{
  printf("%s output %d ", name, i);
  for (size_t k = 0; k < n; ++k) printf("%02x", p[k]);
  printf("\n");
}}

static uint8_t g_in[4][8192] __attribute__((aligned(16)));
static uint8_t g_out[4][8192] __attribute__((aligned(16)));
static uint8_t g_caller_arena[WAVE2_WORKSPACE_SIZE] __attribute__((aligned(WAVE2_WORKSPACE_ALIGN)));

#define RUN(T, t, CALL)                                                          \
  do {{                                                                          \
    const void *in[T##_NUM_INPUTS];                                              \
    void *out[T##_NUM_OUTPUTS];                                                  \
    for (int i = 0; i < T##_NUM_INPUTS; ++i) {{                                  \
      fill(&t##_input_info[i], g_in[i], 0x9E3779B9u ^ (uint32_t)(i + 1));        \
      in[i] = g_in[i];                                                           \
    }}                                                                           \
    for (int i = 0; i < T##_NUM_OUTPUTS; ++i) out[i] = g_out[i];                 \
    int32_t st = CALL;                                                           \
    printf(#t " status %d\n", (int)st);                                          \
    if (st != 0) return 1;                                                       \
    for (int i = 0; i < T##_NUM_OUTPUTS; ++i)                                    \
      print_hex(#t, i, g_out[i], t##_output_info[i].nbytes);                     \
  }} while (0)

int main(void) {{
{runs}
  return 0;
}}
"""


def _libraries(fixture_models: dict[str, Path]) -> dict[str, tuple[Path, list[str]]]:
    libs: dict[str, tuple[Path, list[str]]] = {}
    if corpus_dir().is_dir():
        libs["kws"] = (corpus_item(corpus_dir(), "arduino-yesno-v4-graph"), [])
        libs["cifar"] = (corpus_item(corpus_dir(), "gtvm-v2-graph-c-syslib"), ["ALIGN", "32"])
    libs["wave"] = (fixture_models["v7-graph"], [])
    libs["wave2"] = (fixture_models["v7-graph"], ["WORKSPACE", "caller"])
    for name, (_, args) in libs.items():
        args += ["WEIGHTS_SECTION", f".{name}_weights", "ARENA_SECTION", f".{name}_arena"]
    return libs


def _project(tmp: Path, libs: dict[str, tuple[Path, list[str]]], fragments: bool) -> Path:
    src = tmp / "src"
    src.mkdir(exist_ok=True)
    cm = [
        "cmake_minimum_required(VERSION 3.20)",
        "project(multi C)",
        "find_package(mlf_build CONFIG REQUIRED)",
    ]
    for name, (model, args) in libs.items():
        cm.append(f'add_mlf_library({name} "{model.as_posix()}" {" ".join(args)})')
    cm.append("add_executable(fw main.c)")
    cm.append(f"target_link_libraries(fw PRIVATE {' '.join(libs)})")
    if fragments:
        cm.append('include("${MLF_BUILD_CMAKE_DIR}/qemu/MLFQemu.cmake")')
        cm.append("target_link_libraries(fw PRIVATE mlf::qemu_support)")
        cm.append(f"mlf_qemu_place_sections(fw {' '.join(libs)})")
        cm.append('set_target_properties(fw PROPERTIES SUFFIX ".elf")')
    (src / "CMakeLists.txt").write_text("\n".join(cm) + "\n")
    includes = "".join(f'#include "{n}.h"\n' for n in libs)
    runs = []
    for n in libs:
        call = (
            f"{n}_run_with_workspace(in, out, g_caller_arena, sizeof g_caller_arena)"
            if n == "wave2"
            else f"{n}_run(in, out)"
        )
        runs.append(f"  RUN({n.upper()}, {n}, {call});")
    (src / "main.c").write_text(MAIN.format(includes=includes, runs="\n".join(runs)))
    return src


def _outputs(text: str) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for m in re.finditer(r"^(\w+) output (\d+) ([0-9a-f]*)$", text, re.M):
        out.setdefault(m.group(1), []).append(bytes.fromhex(m.group(3)))
    return out


@pytest.fixture(scope="module")
def host_run(
    fixture_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[bytes]]:
    tmp = tmp_path_factory.mktemp("multi-host")
    libs = _libraries(fixture_models)
    bdir = tmp / "b"
    configure(_project(tmp, libs, fragments=False), bdir)
    build(bdir)
    res = run([bdir / "fw"])
    return _outputs(res.stdout)


@pytest.fixture(scope="module")
def arm_build(fixture_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("multi-arm")
    libs = _libraries(fixture_models)
    bdir = tmp / "b"
    configure(_project(tmp, libs, fragments=True), bdir, "cortex-m4")
    build(bdir)
    return bdir / "fw.elf", libs


def test_host_outputs_match_numpy(host_run: dict[str, list[bytes]]) -> None:
    ins = smoke_inputs([("float32", 128)])
    want = fixtures.reference("waveform", [ins[0].reshape(1, 1, 32)])
    for lib in ("wave", "wave2"):
        got = [np.frombuffer(b, dtype="<f4") for b in host_run[lib]]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w.reshape(-1), rtol=1e-5, atol=1e-6)


@needs_arm
def test_four_default_models_in_one_cortex_m4_firmware(arm_build: tuple[Path, dict], host_run: dict) -> None:
    elf, libs = arm_build
    res = run_firmware(elf, "cortex-m4")
    assert res.returncode == 0, res.stdout + res.stderr
    arm = _outputs(res.stdout)
    assert set(arm) == set(libs)
    for name in libs:
        got = [np.frombuffer(b, dtype="<f4" if name.startswith("wave") else "i1") for b in arm[name]]
        want = [np.frombuffer(b, dtype="<f4" if name.startswith("wave") else "i1") for b in host_run[name]]
        for g, w in zip(got, want, strict=True):
            if g.dtype.kind == "f":
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=name)
            else:
                np.testing.assert_array_equal(g, w, err_msg=name)


def _readelf_sections(elf: Path) -> dict[str, tuple[str, int, int, str]]:
    out = run(["arm-none-eabi-readelf", "-SW", elf]).stdout
    sections = {}
    for m in re.finditer(
        r"\]\s+(\S+)\s+(\w+)\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)\s+\d+\s+\d+\s+(\d+)", out
    ):
        name, typ, addr, size, flags, align = m.groups()
        sections[name] = (typ, int(addr, 16), int(size, 16), flags + f"/{align}")
    return sections


@needs_arm
def test_weights_and_arena_in_their_sections(arm_build: tuple[Path, dict]) -> None:
    elf, libs = arm_build
    sections = _readelf_sections(elf)
    nm = run(["arm-none-eabi-nm", "-S", elf]).stdout
    for name in libs:
        w, a = sections.get(f".{name}_weights"), sections.get(f".{name}_arena")
        assert w is not None, f"no .{name}_weights in {sorted(sections)}"
        assert w[0] == "PROGBITS" and w[1] < 0x00400000 and w[2] > 0  # flash (SSRAM1)
        assert w[3].startswith("A/") and "W" not in w[3]
        if name != "wave2":  # caller-owned workspace: the library has no arena
            assert a is not None, f"no .{name}_arena"
            assert a[0] == "NOBITS" and 0x21000000 <= a[1] < 0x22000000  # RAM (PSRAM)
            arena = re.search(rf"^([0-9a-f]+) ([0-9a-f]+) [bB] {name}__arena$", nm, re.M)
            assert arena and int(arena.group(1), 16) == a[1]
        else:
            assert a is None
    assert int(sections[".cifar_weights"][3].split("/")[1]) >= 32  # ALIGN 32
    cifar_params = [
        int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]+) \S+ [rR] cifar__param_\d+$", nm, re.M)
    ]
    assert cifar_params and all(addr % 32 == 0 for addr in cifar_params)


@needs_arm
def test_no_clashes_and_one_runtime(arm_build: tuple[Path, dict]) -> None:
    elf, libs = arm_build
    nm = run(["arm-none-eabi-nm", elf]).stdout
    # Every model's TVM symbols are local; four copies of the same names coexist.
    assert len(re.findall(r" [tT] tvmgen_default_fused_nn_softmax$", nm, re.M)) >= 2
    assert not re.search(r" T tvmgen_default_", nm)
    assert len(re.findall(r" T mlf_run_begin$", nm, re.M)) == 1
    assert len(re.findall(r" T TVMBackendAllocWorkspace$", nm, re.M)) == 1
    for name in libs:
        assert re.search(rf" T {name}_run_with_workspace$", nm, re.M)


def test_budgets_fail_the_build_with_numbers(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    model = fixture_models["v7-graph"]
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(b C)\nfind_package(mlf_build CONFIG REQUIRED)\n"
        f'add_mlf_library(net "{model.as_posix()}" MAX_RAM 1K)\n'
    )
    res = configure(src, tmp_path / "b1", check=False)
    assert res.returncode != 0
    msg = " ".join(res.stderr.split())
    assert re.search(
        r"library net needs \d+ bytes of RAM for its arena but MAX_RAM is 1024 \(\d+ bytes over\)", msg
    )
    # A flash budget only a compiled library can check: fails the build after compiling.
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(b C)\nfind_package(mlf_build CONFIG REQUIRED)\n"
        f'add_mlf_library(net "{model.as_posix()}" MAX_FLASH 3K)\n'
    )
    configure(src, tmp_path / "b2")
    res = run(["cmake", "--build", tmp_path / "b2"], check=False)
    assert res.returncode != 0
    assert re.search(
        r"model library net needs \d+ bytes of flash, over MAX_FLASH 3072 by \d+", res.stdout + res.stderr
    )


def test_all_modules_one_api_per_module(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    model = fixture_models["v7-two-modules"]
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(b C)\nenable_testing()\n"
        "find_package(mlf_build CONFIG REQUIRED)\n"
        f'add_mlf_library(both "{model.as_posix()}" ALL_MODULES TEST)\n'
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE both)\n"
    )
    (src / "main.c").write_text(
        '#include <stdio.h>\n#include "both.h"\n'
        "int main(void) {\n"
        "  static float sig[32], a[4], b[4], logits[4], probs[4], mix[3];\n"
        "  for (int i = 0; i < 32; ++i) sig[i] = (float)(i % 8) / 4.0f - 1.0f;\n"
        "  for (int i = 0; i < 4; ++i) { a[i] = 0.25f * (float)i; b[i] = -0.5f + 0.1f * (float)i; }\n"
        "  const void *wi[] = {sig}; void *wo[] = {logits, probs};\n"
        "  const void *mi[] = {a, b}; void *mo[] = {mix};\n"
        "  int rc = both_waveform_run(wi, wo) | both_mixer_run(mi, mo);\n"
        '  printf("%d %.6f %.6f %.6f %.6f %.6f %.6f %.6f\\n", rc, (double)probs[0], (double)probs[1],\n'
        "         (double)probs[2], (double)probs[3], (double)mix[0], (double)mix[1], (double)mix[2]);\n"
        "  return rc;\n}\n"
    )
    configure(src, tmp_path / "b")
    build(tmp_path / "b")
    vals = [float(v) for v in run([tmp_path / "b" / "app"]).stdout.split()]
    assert vals[0] == 0
    sig = (np.arange(32) % 8 / 4.0 - 1.0).astype(np.float32).reshape(1, 1, 32)
    a = (0.25 * np.arange(4)).astype(np.float32).reshape(1, 4)
    b = (-0.5 + 0.1 * np.arange(4)).astype(np.float32).reshape(1, 4)
    probs = fixtures.reference("waveform", [sig])[1].reshape(-1)
    mix = fixtures.reference("mixer", [a, b])[0].reshape(-1)
    np.testing.assert_allclose(vals[1:5], probs, atol=2e-6)
    np.testing.assert_allclose(vals[5:8], mix, atol=2e-6)
    # TEST: one smoke test per module API.
    res = run(["ctest", "--test-dir", tmp_path / "b", "--output-on-failure"])
    assert "both_waveform_smoke" in res.stdout and "both_mixer_smoke" in res.stdout, res.stdout
    # ctest 3.25 says "100% tests passed out of 2", newer ones "100% tests passed, 0 tests failed out of 2".
    assert re.search(r"100% tests passed(, 0 tests failed)? out of 2\b", res.stdout), res.stdout
