"""3b. The same model through TVM's CRT graph executor (the MLF-era "bundle_static" path: graph
JSON parsed on the device, parameters loaded into RAM, a page allocator) against mlf_build's
static runner, both as Cortex-M4F firmware (-Os, --gc-sections) run under QEMU (mps2-an386).

The CRT sources come from the corpus item linaro-sine-v5-aot-crt (its model.tar bundles TVM's
standalone CRT, 0.9.dev0); they are extracted into the work folder at run time, never committed.
The page allocator's pool is sized to what the run needed: a first build with a large pool
measures the peak page count, a second build with a pool of exactly that many pages is the one
reported (and must give the same outputs)."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

from . import icount
from .common import CORPUS, configure_cortex_m4, have, run, section, table, verdict
from .footprint import count_instructions, fw_main, header_io, qemu, run_qemu

CRT_TAR = "linaro-sine-v5-aot-crt"
MODEL = "gtvm-v2-graph-c-syslib"
PAGE_LOG2 = 10  # apps/bundle_deploy's CRT_MEMORY_PAGE_SIZE_LOG2
CRT_DIRS = (
    "runtime/include/",
    "runtime/src/runtime/crt/common/",
    "runtime/src/runtime/crt/graph_executor/",
    "runtime/src/runtime/crt/memory/",
)

CRT_CONFIG = """#ifndef TVM_RUNTIME_CRT_CONFIG_H_
#define TVM_RUNTIME_CRT_CONFIG_H_
/* TVM's crt_config.h template values (apps/bundle_deploy), errors-only logging. */
#define TVM_CRT_LOG_LEVEL 0
#define TVM_CRT_DEBUG 0
#define TVM_CRT_MAX_NDIM 6
#define TVM_CRT_MAX_ARGS 10
#define TVM_CRT_GLOBAL_FUNC_REGISTRY_SIZE_BYTES 512
#define TVM_CRT_MAX_REGISTERED_MODULES 2
#define TVM_CRT_MAX_PACKET_SIZE_BYTES 2048
#define TVM_CRT_MAX_STRLEN_DLTYPE 10
#define TVM_CRT_MAX_STRLEN_FUNCTION_NAME 120
#define TVM_CRT_MAX_STRLEN_PARAM_NAME 80
#define TVM_CRT_MAX_FUNCTION_NAME_LENGTH_BYTES 30
/* Newlib without long-long printf support leaves these undefined; the CRT formats with them. */
#include <inttypes.h>
#ifndef PRIu64
#define PRIu64 "llu"
#endif
#ifndef PRId64
#define PRId64 "lld"
#endif
#endif
"""

# bundle_static.c, reduced to one inference: create the executor from the NUL-terminated graph
# JSON and the system library, load the params blob, set the input, run, get the output.
CRT_MAIN = """#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <tvm/runtime/c_runtime_api.h>
#include <tvm/runtime/crt/crt.h>
#include <tvm/runtime/crt/graph_executor.h>
#include <tvm/runtime/crt/packed_func.h>
#include <tvm/runtime/crt/page_allocator.h>
#include <tvm/runtime/crt/platform.h>
#include <tvm/runtime/crt/internal/memory/page_allocator.h>

#include "crt_defs.h"
#ifdef MLF_BENCH_ICOUNT /* the instruction-counting build (bench/icount.py) */
#include "mlf_bench_icount.h"
#endif

extern const char mlf_bench_graph_json[];
extern const char mlf_bench_params[];
extern const char mlf_bench_params_end[];

static uint8_t g_crt_memory[POOL_BYTES] __attribute__((aligned(16)));
static MemoryManagerInterface *g_memory_manager;
static size_t g_peak_pages;

void TVMLogf(const char *msg, ...) { (void)msg; }
void __attribute__((noreturn)) TVMPlatformAbort(tvm_crt_error_t code) {
  printf("crt: abort %d\\n", (int)code);
  exit(97);
}
tvm_crt_error_t TVMPlatformMemoryAllocate(size_t num_bytes, DLDevice dev, void **out_ptr) {
  tvm_crt_error_t err = g_memory_manager->Allocate(g_memory_manager, num_bytes, dev, out_ptr);
  size_t pages = ((MemoryManager *)g_memory_manager)->ptable.num_pages;
  if (pages > g_peak_pages) g_peak_pages = pages;
  return err;
}
tvm_crt_error_t TVMPlatformMemoryFree(void *ptr, DLDevice dev) {
  return g_memory_manager->Free(g_memory_manager, ptr, dev);
}
tvm_crt_error_t TVMPlatformTimerStart(void) { return kTvmErrorFunctionCallNotImplemented; }
tvm_crt_error_t TVMPlatformTimerStop(double *s) {
  (void)s;
  return kTvmErrorFunctionCallNotImplemented;
}

#define CHECK(x)                                     \\
  do {                                               \\
    int e_ = (int)(x);                               \\
    if (e_ != 0) {                                   \\
      printf("crt: %s failed %d\\n", #x, e_);         \\
      return 96;                                     \\
    }                                                \\
  } while (0)

static uint32_t xorshift(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static int8_t in0[IN_BYTES] __attribute__((aligned(16)));
static int8_t out0[OUT_BYTES] __attribute__((aligned(16)));
static TVMModuleHandle g_syslib;
static TVMGraphExecutor *g_ge;

/* Once: parse the graph JSON, allocate its storage, copy the parameters in. */
static int32_t setup(void) {
  DLDevice dev = {kDLCPU, 0};
  CHECK(TVMGraphExecutor_Create(mlf_bench_graph_json, g_syslib, &dev, &g_ge));
  CHECK(TVMGraphExecutor_LoadParams(g_ge, mlf_bench_params,
                                    (uint32_t)(mlf_bench_params_end - mlf_bench_params)));
  return 0;
}

/* One inference as an application does it: set the input, run, get the output. */
static int32_t infer(void) {
  int64_t in_shape[] = {IN_SHAPE};
  int64_t out_shape[] = {OUT_SHAPE};
  DLTensor tin = {in0, {kDLCPU, 0}, IN_NDIM, {kDLInt, 8, 1}, in_shape, NULL, 0};
  DLTensor tout = {out0, {kDLCPU, 0}, OUT_NDIM, {kDLInt, 8, 1}, out_shape, NULL, 0};
  TVMGraphExecutor_SetInput(g_ge, INPUT_NAME, &tin);
  TVMGraphExecutor_Run(g_ge);
  CHECK(TVMGraphExecutor_GetOutput(g_ge, 0, &tout));
  return 0;
}

static int32_t run_only(void) {
  TVMGraphExecutor_Run(g_ge);
  return 0;
}

int main(void) {
  uint32_t s = 0x9E3779B9u;
  for (uint32_t i = 0; i < IN_BYTES; ++i) in0[i] = (int8_t)(uint8_t)xorshift(&s);
  CHECK(PageMemoryManagerCreate(&g_memory_manager, g_crt_memory, sizeof(g_crt_memory), PAGE_LOG2));
  CHECK(TVMInitializeRuntime());
  TVMPackedFunc pf;
  TVMArgs args = TVMArgs_Create(NULL, NULL, 0);
  CHECK(TVMPackedFunc_InitGlobalFunc(&pf, "runtime.SystemLib", &args));
  CHECK(TVMPackedFunc_Call(&pf));
  /* TVMArgs_AsModuleHandle() is a C99 inline function without an external definition. */
  if (pf.ret_value.values_count < 1 || pf.ret_value.tcodes[0] != kTVMModuleHandle) return 95;
  g_syslib = pf.ret_value.values[0].v_handle;
#ifdef MLF_BENCH_ICOUNT
  mlf_bench_icount_init();
  CHECK(mlf_bench_time("setup", setup));
  CHECK(mlf_bench_time("infer", infer));
  CHECK(mlf_bench_time("run", run_only));
#else
  CHECK(setup());
  CHECK(infer());
#endif
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < OUT_BYTES; ++i) h = (h ^ (uint8_t)out0[i]) * 16777619u;
  size_t per_page = (1u << PAGE_LOG2) + sizeof(Page) + sizeof(PageEntry) + sizeof(IndexedEntry);
  printf("crt: peak pages %lu pool needed %lu\\n", (unsigned long)g_peak_pages,
         (unsigned long)(g_peak_pages * per_page + sizeof(MemoryManager)));
  printf("fw crt: status 0 hash %08lx\\n", (unsigned long)h);
  return 0;
}
"""

# The graph JSON (NUL-terminated) and the params blob, embedded as they are.
CRT_DATA = """__asm__(
    ".pushsection .rodata.mlf_bench_graph_json,\\"a\\",%progbits\\n"
    ".global mlf_bench_graph_json\\n"
    "mlf_bench_graph_json:\\n"
    ".incbin \\"graph.json\\"\\n"
    ".byte 0\\n"
    ".popsection\\n"
    ".pushsection .rodata.mlf_bench_params,\\"a\\",%progbits\\n"
    ".balign 16\\n"
    ".global mlf_bench_params\\n"
    ".global mlf_bench_params_end\\n"
    "mlf_bench_params:\\n"
    ".incbin \\"params.bin\\"\\n"
    "mlf_bench_params_end:\\n"
    ".popsection\\n");
"""


def _extract(tar: Path, dest: Path, want: tuple[str, ...]) -> None:
    with tarfile.open(tar) as tf:
        for m in tf.getmembers():
            name = m.name.removeprefix("./")
            if not m.isfile() or not name.startswith(want) or ".." in name.split("/"):
                continue
            f = tf.extractfile(m)
            assert f is not None
            out = dest / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(f.read())


def _defs(pool: int, graph: dict) -> str:
    """crt_defs.h: the pool size and the model's input and output."""
    heads = graph["heads"][0][0]
    arg0 = graph["arg_nodes"][0]
    shapes = graph["attrs"]["shape"][1]
    in_shape = shapes[arg0]
    out_shape = shapes[graph["node_row_ptr"][heads]]
    n_in = 1
    for d in in_shape:
        n_in *= d
    n_out = 1
    for d in out_shape:
        n_out *= d
    defs = {
        "POOL_BYTES": pool,
        "PAGE_LOG2": PAGE_LOG2,
        "IN_BYTES": n_in,
        "OUT_BYTES": n_out,
        "IN_NDIM": len(in_shape),
        "OUT_NDIM": len(out_shape),
        "IN_SHAPE": ",".join(map(str, in_shape)),
        "OUT_SHAPE": ",".join(map(str, out_shape)),
        "INPUT_NAME": f'"{graph["nodes"][arg0]["name"]}"',
    }
    return "".join(f"#define {k} {v}\n" for k, v in defs.items())


def _cmake(src: Path, model_tar: Path, ops: list[str]) -> str:
    crt = src / "runtime" / "src" / "runtime" / "crt"
    srcs = sorted(str(p) for d in ("common", "graph_executor", "memory") for p in (crt / d).glob("*.c"))
    srcs = [s for s in srcs if not s.endswith("stack_allocator.c")]
    return f"""cmake_minimum_required(VERSION 3.20)
project(bench_crt C)
find_package(mlf_build CONFIG REQUIRED)
include("${{MLF_BUILD_CMAKE_DIR}}/qemu/MLFQemu.cmake")

{icount.CMAKE_FUNCTION}
# The CRT's messages hold __FILE__: keep the work folder's path out of the flash figures.
add_compile_options("-fmacro-prefix-map=${{CMAKE_CURRENT_SOURCE_DIR}}/=")

# TVM's CRT graph executor path: the runtime, the model's operators and its data.
add_library(crt_objs OBJECT crt_data.c codegen/host/src/lib0.c codegen/host/src/lib1.c
  {" ".join(srcs)})
target_include_directories(crt_objs PUBLIC "${{CMAKE_CURRENT_SOURCE_DIR}}" runtime/include
  "${{CMAKE_CURRENT_SOURCE_DIR}}/data")
target_compile_options(crt_objs PUBLIC -w)
set_source_files_properties(crt_data.c PROPERTIES OBJECT_DEPENDS
  "${{CMAKE_CURRENT_SOURCE_DIR}}/data/graph.json;${{CMAKE_CURRENT_SOURCE_DIR}}/data/params.bin")
target_link_libraries(crt_objs PRIVATE mlf::qemu_support)
set_target_properties(crt_objs PROPERTIES C_STANDARD 99 C_EXTENSIONS ON)
bench_fw(fw_crt SOURCES crt_main.c LIBS crt_objs m)
{icount.counting_firmware("crt", "crt_main.c", "crt_objs m", "crt_objs m", "crt_main.c", ops)}
# Neither: the part of both firmware images that is not the model.
bench_fw(fw_base SOURCES fw_base.c)

# mlf_build's static runner, same model, same inputs. ours_open is the same library without
# HIDE_SYMBOLS, for counting (its operators stay global, so --wrap reaches them).
add_mlf_library(ours "{model_tar}")
add_mlf_library(ours_open "{model_tar}" HIDE_SYMBOLS OFF)
bench_fw(fw_ours SOURCES fw_ours.c LIBS ours)
{icount.counting_firmware("ours", "fw_ours.c", "ours", "ours_open", "fw_ours_open.c", ops)}"""


def _size(elf: Path) -> tuple[int, int]:
    """(flash, RAM) of a firmware: text + data, data + bss (arm-none-eabi-size -B)."""
    out = run(["arm-none-eabi-size", "-B", elf]).stdout.splitlines()[1].split()
    text, data, bss = int(out[0]), int(out[1]), int(out[2])
    return text + data, data + bss


def _sections(elf: Path) -> dict[str, int]:
    """Output section sizes (arm-none-eabi-size -A)."""
    out = {}
    for line in run(["arm-none-eabi-size", "-A", elf]).stdout.splitlines()[2:]:
        f = line.split()
        if len(f) >= 3 and f[0].startswith("."):
            out[f[0]] = int(f[1])
    return out


def bench(work: Path) -> dict:
    section("3b. TVM CRT graph executor vs mlf_build's static runner (Cortex-M4F, -Os, QEMU mps2-an386)")
    missing = have("cmake", "ninja", "arm-none-eabi-gcc", "qemu-system-arm")
    crt_tar = CORPUS / CRT_TAR / "model.tar"
    model_dir = CORPUS / MODEL
    model_tars = sorted(model_dir.glob("*.tar")) if model_dir.is_dir() else []
    if missing or not crt_tar.exists() or not model_tars:
        print(f"skipped: missing {', '.join(missing) or 'the corpus items ' + CRT_TAR + ' and ' + MODEL}")
        return {}
    model_tar = model_tars[0]
    if work.exists():
        shutil.rmtree(work)
    src = work / "src"
    (src / "data").mkdir(parents=True)
    _extract(crt_tar, src, CRT_DIRS)
    _extract(model_tar, src, ("codegen/", "runtime-config/", "parameters/"))
    shutil.copyfile(src / "runtime-config" / "graph" / "graph.json", src / "data" / "graph.json")
    shutil.copyfile(src / "parameters" / "default.params", src / "data" / "params.bin")
    graph = json.loads((src / "data" / "graph.json").read_text())
    (src / "crt_config.h").write_text(CRT_CONFIG)
    (src / "crt_main.c").write_text(CRT_MAIN)
    (src / "crt_data.c").write_text(CRT_DATA)

    # Our firmware's main: the same input bytes, the same output hash.
    from .common import generator_cmd, generator_env

    probe = work / "probe"
    run(
        [*generator_cmd(), "generate", model_tar, "--name", "ours", "--out", probe],
        env=generator_env(work / "pyc"),
    )
    ins, outs = header_io(probe / "ours.h", "ours")
    (src / "fw_ours.c").write_text(fw_main("ours", ins, outs))
    (src / "fw_ours_open.c").write_text(fw_main("ours_open", ins, outs))
    # The same firmware without a model: startup, main, printf, libc (what both paths share).
    base = fw_main("ours", ins, outs).replace(
        '#include "ours.h"', f"#define OURS_NUM_INPUTS {len(ins)}\n#define OURS_NUM_OUTPUTS {len(outs)}"
    )
    (src / "fw_base.c").write_text(
        base.replace("ours_run(g_ins, g_outs)", "(int32_t)(g_ins[0] == g_outs[0])")
    )
    ops = icount.runner_calls(model_tar)
    icount.write_common(src)
    for t in ("crt", "ours"):
        (src / f"ops_wrap_{t}.c").write_text(icount.op_wrappers(ops))

    results = {}
    pool = 4 << 20
    build = work / "build"
    for attempt in ("large pool", "pool sized to the run"):
        (src / "crt_defs.h").write_text(_defs(pool, graph))
        (src / "CMakeLists.txt").write_text(_cmake(src, model_tar, ops))
        if attempt == "large pool":
            configure_cortex_m4(src, build)
            run(["ninja", "-C", build, "-j2", "fw_crt"], timeout=1800)
        else:
            run(["ninja", "-C", build, "-j2"], timeout=1800)
        fw = qemu(build / "fw_crt.elf")
        crt_out = fw.stdout + fw.stderr
        m = re.search(r"pool needed (\d+)", crt_out)
        results[attempt] = (pool, crt_out, _size(build / "fw_crt.elf"))
        if not m:
            print(f"CRT firmware failed ({attempt}): {crt_out[-500:]}")
            return {"error": crt_out[-500:]}
        needed = int(m.group(1))
        if attempt == "large pool":
            pool = (needed + 15) // 16 * 16
    ours_out = run_qemu(build / "fw_ours.elf")
    pool, crt_out, (crt_flash, crt_ram) = results["pool sized to the run"]
    ours_flash, ours_ram = _size(build / "fw_ours.elf")
    base_flash, base_ram = _size(build / "fw_base.elf")
    crt_hash = re.search(r"hash ([0-9a-f]{8})", crt_out)
    our_hash = re.search(r"hash ([0-9a-f]{8})", ours_out)
    same = bool(crt_hash and our_hash and crt_hash.group(1) == our_hash.group(1))
    graph_bytes = (src / "data" / "graph.json").stat().st_size
    rows = [
        [
            "mlf_build static runner",
            f"{ours_flash:,}",
            f"{ours_ram:,}",
            our_hash.group(1) if our_hash else ours_out[-80:],
        ],
        [
            f"TVM CRT graph executor (pool {pool:,} B, 2^{PAGE_LOG2} B pages)",
            f"{crt_flash:,}",
            f"{crt_ram:,}",
            crt_hash.group(1) if crt_hash else crt_out[-80:],
        ],
        ["ratio CRT / mlf_build", f"{crt_flash / ours_flash:.2f}x", f"{crt_ram / ours_ram:.2f}x", ""],
        ["the same firmware without a model", f"{base_flash:,}", f"{base_ram:,}", ""],
        [
            "model + runtime only: mlf_build",
            f"{ours_flash - base_flash:,}",
            f"{ours_ram - base_ram:,}",
            "",
        ],
        [
            "model + runtime only: CRT",
            f"{crt_flash - base_flash:,}",
            f"{crt_ram - base_ram:,}",
            "",
        ],
        [
            "ratio CRT / mlf_build (model + runtime)",
            f"{(crt_flash - base_flash) / (ours_flash - base_flash):.2f}x",
            f"{(crt_ram - base_ram) / (ours_ram - base_ram):.2f}x",
            "",
        ],
    ]
    print(f"Model: {MODEL} (int8 CIFAR-10 CNN, {len(graph['nodes'])} graph nodes); whole firmware,")
    print("same startup code, same main (deterministic input, output hash), newlib-nano.\n")
    print(table(rows, ["path", "flash B (text+data)", "RAM B (data+bss)", "output hash"]))
    print(
        f"\nThe CRT path's flash holds the {graph_bytes:,} B graph JSON, the JSON parser and the"
        " function registry; its RAM holds the page pool, into which LoadParams copies every"
        " parameter. Same outputs on both paths: " + ("yes" if same else "NO")
    )
    counts = _instructions(build)
    checks = [("CRT and mlf_build firmware produce the same outputs under QEMU", same, "")]
    if counts:
        checks.append(
            ("instruction counts exact (icount self-check of every counting firmware)", counts["exact"], "")
        )
    for what, ok, _ in checks:
        print(f"\ntarget: {what} -> {verdict(ok)}")
    print(
        f"figure: flash ratio {crt_flash / ours_flash:.2f}x, RAM ratio {crt_ram / ours_ram:.2f}x (CRT / ours)"
    )
    if counts:
        c, o = counts["crt"], counts["ours"]
        print(
            f"figure: instructions per inference {c['total']:,} (CRT) vs {o['total']:,} (mlf_build),"
            f" {c['total'] / o['total']:.3f}x; runtime overhead over the operators"
            f" {o['overhead_pct']:.2f} % (CRT {c['overhead_pct']:.2f} %)"
        )
    return {
        "ours": [ours_flash, ours_ram],
        "crt": [crt_flash, crt_ram],
        "base": [base_flash, base_ram],
        "pool": pool,
        "same_outputs": same,
        "instructions": counts,
        "checks": [{"what": w, "ok": ok, "value": v} for w, ok, v in checks],
    }


def _instructions(build: Path) -> dict:  # type: ignore[type-arg]
    """Instructions per inference of both paths, and how many of them the operators execute
    (bench/icount.py): each path's counting firmware, and the same with its operators, then with
    TVM's workspace calls, wrapped and counted."""
    figures: dict[str, icount.Overhead] = {}
    exact = True
    outputs = {}
    for path in ("ours", "crt"):
        ok, fig, runs = count_instructions(build, path)
        if fig is None:
            print(f"\ninstruction counts of {path} failed: {runs}"[-600:])
            return {}
        exact &= ok
        figures[path] = fig
        outputs[path] = runs
    ours, crt = figures["ours"], figures["crt"]
    rows = [
        icount.row(label, f)
        for label, f in (("mlf_build static runner", ours), ("TVM CRT graph executor", crt))
    ]
    rows.append(
        [
            "ratio CRT / mlf_build",
            f"{crt.total / ours.total:.3f}x",
            f"{crt.tvm / ours.tvm:.3f}x",
            f"{crt.workspace / ours.workspace:.1f}x" if ours.workspace else "",
            f"{crt.overhead / ours.overhead:.1f}x",
            "",
        ]
    )
    print(
        "\nInstructions per inference (QEMU -icount shift=7, exact: see bench/icount.py). One inference ="
        " mlf_build's <t>_run(); the CRT's SetInput + Run + GetOutput. In TVM code = the same operator"
        " functions on both paths, their own instructions without the TVMBackend*Workspace calls they"
        " make (counted apart: each runtime serves them); overhead = everything else: walking the"
        " table or the graph, binding tensors, copies, checks, workspace calls.\n"
    )
    print(table(rows, ["path", *icount.TABLE_HEADERS]))
    _, crt_counts = icount.parse(outputs["crt"]["count"])
    _, crt_ws = icount.parse(outputs["crt"]["ws"])
    setup, run_only = crt_counts["setup"].total, crt_counts["run"].total
    print(
        f"\nCRT, once before the first inference: {setup:,} instructions (parse the graph JSON, allocate"
        f" the storage, LoadParams). A second Run() alone: {run_only:,}, of which"
        f" {crt_ws['run'].ws:,} in workspace calls (first inference: {crt.workspace:,}; the page"
        f" allocator's cost depends on its state). Counts exact (every firmware's self-check):"
        f" {'yes' if exact else 'NO'}"
    )
    return {
        "exact": exact,
        **{
            path: {**vars(f), "overhead": f.overhead, "overhead_pct": f.percent}
            for path, f in figures.items()
        },
        "crt_setup": setup,
        "crt_second_run": run_only,
    }
