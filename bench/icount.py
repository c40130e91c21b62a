"""Exact instruction counts of Cortex-M firmware under QEMU, without plugins.

Debian's QEMU 7.2 ships no TCG plugins, and the MPS2 machines do not emulate the DWT cycle
counter (CYCCNT reads as 0). What they do emulate is clocked by virtual time: the CMSDK APB
timers (and SysTick) of mps2-an386 run at SYSCLK, 25 MHz (hw/arm/mps2.c, SYSCLK_FRQ), so one
tick is 40 ns of QEMU_CLOCK_VIRTUAL. Semihosting's clocks do not help: SYS_CLOCK and
SYS_ELAPSED read the host's clock (semihosting/arm-compat-semi.c: clock(), get_clock()).

With ``-icount shift=N`` QEMU advances the virtual clock by exactly 2^N ns per guest instruction
(no real-time coupling unless asked for), and an access to a device register is always the last
instruction of its translation block, so a timer read sees the count of every instruction
before it. With shift=0 (1 ns per instruction) the 25 MHz timer moves once every 40
instructions, so a count read from it is off by up to 40. With shift=7 (128 ns per instruction)
every instruction moves the timer by 3.2 ticks: n instructions between two reads give
d = 3.2 n + e ticks with |e| < 1 whatever the phase, so n = round(d * 40 / 128) exactly (the
rounding error is below 40/128 < 1/2). Each firmware checks this when it starts: a bracket
around 100 nops must count exactly 100 more than an empty one; it prints "icount: exact" or
"icount: NOT exact".

What is counted: a timed function's instructions from its first to its return, inclusive, and
everything it calls: ``time_call`` reads the timer, calls through a pointer, reads it again,
and subtracts what the same bracket counts around a naked two-instruction function. Operators
and TVM's workspace calls are counted with the same brackets from ``--wrap`` wrappers (the
operators' callers reach them through an undefined symbol, so the linker can redirect it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

QEMU_ARGS = ["-icount", "shift=7"]

HEADER = """#ifndef MLF_BENCH_ICOUNT_H_
#define MLF_BENCH_ICOUNT_H_
#include <stdint.h>

/* Exact instruction counts under qemu-system-arm -icount shift=7 (bench/icount.py). */
typedef int32_t (*mlf_bench_fn)(void);
/* Start the timer and check that counts are exact (prints "icount: exact" or "NOT exact"). */
void mlf_bench_icount_init(void);
/* Run fn once; print "icount <name> <instructions in fn> ops <n> <calls> ws <n> <calls>", the
 * last two the instructions in operators and in TVMBackend*Workspace calls when wrapped. */
int32_t mlf_bench_time(const char *name, mlf_bench_fn fn);
#endif
"""

SOURCE = r"""#include <stdio.h>

#include "mlf_bench_icount.h"

/* CMSDK APB timer 0 of mps2-an385/an386, clocked at 25 MHz (40 ns ticks), counting down. */
#define TIMER_CTRL (*(volatile uint32_t *)0x40000000u)
#define TIMER_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER_RELOAD (*(volatile uint32_t *)0x40000008u)

typedef int32_t (*op_fn)(void *, int32_t *, int32_t, void *, int32_t *, void *);
typedef void *(*alloc_fn)(int, int, uint64_t, int, int);
typedef int (*free_fn)(int, int, void *);

/* Instructions between two reads of the timer: 128 ns each under -icount shift=7. */
static uint32_t instructions(uint32_t t0, uint32_t t1) {
  uint64_t ticks = (uint32_t)(t0 - t1);
  return (uint32_t)((ticks * 40u + 64u) / 128u);
}

/* Two instructions each: what a bracket counts around them, minus 2, is the bracket's own. */
__attribute__((naked)) static int32_t empty_fn(void) { __asm__ volatile("movs r0, #0\n\tbx lr"); }
__attribute__((naked)) static int32_t empty_op(void *a, int32_t *c, int32_t n, void *r, int32_t *rc,
                                               void *h) {
  __asm__ volatile("movs r0, #0\n\tbx lr");
}
__attribute__((naked)) static void *empty_alloc(int t, int d, uint64_t n, int c, int b) {
  __asm__ volatile("movs r0, #0\n\tbx lr");
}
__attribute__((naked)) static int empty_free(int t, int d, void *p) {
  __asm__ volatile("movs r0, #0\n\tbx lr");
}
/* 102 instructions. */
__attribute__((naked)) static int32_t nops_fn(void) {
  __asm__ volatile(".rept 100\n\tnop\n\t.endr\n\tmovs r0, #0\n\tbx lr");
}

__attribute__((noinline)) static uint32_t time_call(mlf_bench_fn fn, int32_t *ret) {
  uint32_t t0 = TIMER_VALUE;
  int32_t r = fn();
  uint32_t t1 = TIMER_VALUE;
  *ret = r;
  return instructions(t0, t1);
}

__attribute__((noinline)) static uint32_t time_op(op_fn f, void *a, int32_t *c, int32_t n, void *r,
                                                  int32_t *rc, void *h, int32_t *ret) {
  uint32_t t0 = TIMER_VALUE;
  int32_t s = f(a, c, n, r, rc, h);
  uint32_t t1 = TIMER_VALUE;
  *ret = s;
  return instructions(t0, t1);
}

__attribute__((noinline)) static uint32_t time_alloc(alloc_fn f, int t, int d, uint64_t n, int c,
                                                     int b, void **ret) {
  uint32_t t0 = TIMER_VALUE;
  void *p = f(t, d, n, c, b);
  uint32_t t1 = TIMER_VALUE;
  *ret = p;
  return instructions(t0, t1);
}

__attribute__((noinline)) static uint32_t time_free(free_fn f, int t, int d, void *p, int *ret) {
  uint32_t t0 = TIMER_VALUE;
  int s = f(t, d, p);
  uint32_t t1 = TIMER_VALUE;
  *ret = s;
  return instructions(t0, t1);
}

static uint32_t g_k_call, g_k_op, g_k_alloc, g_k_free;
static int g_timing;
static uint64_t g_ops, g_ws;
static uint32_t g_op_calls, g_ws_calls;

void mlf_bench_icount_init(void) {
  TIMER_CTRL = 0u;
  TIMER_RELOAD = 0xFFFFFFFFu;
  TIMER_VALUE = 0xFFFFFFFFu;
  TIMER_CTRL = 1u;
  int32_t s;
  void *p;
  int f;
  g_k_call = time_call(empty_fn, &s) - 2u;
  g_k_op = time_op(empty_op, 0, 0, 0, 0, 0, 0, &s) - 2u;
  g_k_alloc = time_alloc(empty_alloc, 0, 0, 0, 0, 0, &p) - 2u;
  g_k_free = time_free(empty_free, 0, 0, 0, &f) - 2u;
  uint32_t nops = time_call(nops_fn, &s) - g_k_call;
  if (nops == 102u && time_call(empty_fn, &s) - g_k_call == 2u) {
    printf("icount: exact\n");
  } else {
    printf("icount: NOT exact (102 instructions counted as %lu)\n", (unsigned long)nops);
  }
}

int32_t mlf_bench_time(const char *name, mlf_bench_fn fn) {
  int32_t ret;
  g_ops = g_ws = 0u;
  g_op_calls = g_ws_calls = 0u;
  g_timing = 1;
  uint32_t n = time_call(fn, &ret) - g_k_call;
  g_timing = 0;
  printf("icount %s %lu ops %lu %lu ws %lu %lu\n", name, (unsigned long)n, (unsigned long)g_ops,
         (unsigned long)g_op_calls, (unsigned long)g_ws, (unsigned long)g_ws_calls);
  return ret;
}

int32_t mlf_bench_op(op_fn f, void *a, int32_t *c, int32_t n, void *r, int32_t *rc, void *h) {
  int32_t ret;
  uint32_t k = time_op(f, a, c, n, r, rc, h, &ret) - g_k_op;
  if (g_timing) {
    g_ops += k;
    ++g_op_calls;
  }
  return ret;
}

void *mlf_bench_alloc(alloc_fn f, int t, int d, uint64_t n, int c, int b) {
  void *ret;
  uint32_t k = time_alloc(f, t, d, n, c, b, &ret) - g_k_alloc;
  if (g_timing) {
    g_ws += k;
    ++g_ws_calls;
  }
  return ret;
}

int mlf_bench_free(free_fn f, int t, int d, void *p) {
  int ret;
  uint32_t k = time_free(f, t, d, p, &ret) - g_k_free;
  if (g_timing) {
    g_ws += k;
    ++g_ws_calls;
  }
  return ret;
}
"""

WORKSPACE_CALLS = ("TVMBackendAllocWorkspace", "TVMBackendFreeWorkspace")

# __wrap_ functions for TVM's workspace calls (linked with --wrap for both).
WORKSPACE_WRAPPERS = """#include <stdint.h>

typedef void *(*alloc_fn)(int, int, uint64_t, int, int);
typedef int (*free_fn)(int, int, void *);
void *mlf_bench_alloc(alloc_fn f, int t, int d, uint64_t n, int c, int b);
int mlf_bench_free(free_fn f, int t, int d, void *p);

void *__real_TVMBackendAllocWorkspace(int t, int d, uint64_t n, int c, int b);
int __real_TVMBackendFreeWorkspace(int t, int d, void *p);

void *__wrap_TVMBackendAllocWorkspace(int t, int d, uint64_t n, int c, int b) {
  return mlf_bench_alloc(__real_TVMBackendAllocWorkspace, t, d, n, c, b);
}

int __wrap_TVMBackendFreeWorkspace(int t, int d, void *p) {
  return mlf_bench_free(__real_TVMBackendFreeWorkspace, t, d, p);
}
"""


def op_wrappers(ops: list[str]) -> str:
    """``__wrap_<op>`` for each operator: the same bracket around every one (mlf_bench_op)."""
    sig = "void *a, int32_t *c, int32_t n, void *r, int32_t *rc, void *h"
    out = [
        "#include <stdint.h>\n\n",
        "typedef int32_t (*op_fn)(void *, int32_t *, int32_t, void *, int32_t *, void *);\n",
        f"int32_t mlf_bench_op(op_fn f, {sig});\n",
    ]
    for op in ops:
        out.append(
            f"int32_t __real_{op}({sig});\n"
            f"int32_t __wrap_{op}({sig}) {{\n  return mlf_bench_op(__real_{op}, a, c, n, r, rc, h);\n}}\n"
        )
    return "".join(out)


def graph_ops(graph: dict) -> list[str]:  # type: ignore[type-arg]
    """The operator functions a graph JSON calls, in first-call order."""
    ops: list[str] = []
    for node in graph["nodes"]:
        func = node.get("attrs", {}).get("func_name")
        if node.get("op") == "tvm_op" and func not in (None, "__nop", "__copy") and func not in ops:
            ops.append(func)
    return ops


@dataclass
class Count:
    """One ``mlf_bench_time`` line: instructions in the timed function, in the operators it ran
    and in their workspace calls (the last two 0 unless the firmware wraps them)."""

    total: int
    ops: int
    op_calls: int
    ws: int
    ws_calls: int


def parse(output: str) -> tuple[bool, dict[str, Count]]:
    """Whether the firmware found its counts exact, and its counts by name."""
    counts = {
        m.group(1): Count(*(int(m.group(k)) for k in range(2, 7)))
        for m in re.finditer(r"^icount (\S+) (\d+) ops (\d+) (\d+) ws (\d+) (\d+)$", output, re.M)
    }
    return "icount: exact" in output, counts


# ---------------------------------------------------------------------------------------------
# The firmware: CMake, sources, and reading their counts.

# bench_fw(<name> [COUNT] [SOURCES ...] [LIBS ...] [WRAP <link options>]): one firmware; COUNT
# builds its main with instruction counting, WRAP redirects functions to counting wrappers.
CMAKE_FUNCTION = """function(bench_fw name)
  cmake_parse_arguments(ARG "COUNT" "" "WRAP;SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  if(ARG_COUNT)
    target_sources(${name} PRIVATE mlf_bench_icount.c)
    target_compile_definitions(${name} PRIVATE MLF_BENCH_ICOUNT)
  endif()
  target_link_options(${name} PRIVATE ${ARG_WRAP})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} mlf::qemu_support)
  set_target_properties(${name} PROPERTIES SUFFIX ".elf" C_STANDARD 99 C_EXTENSIONS ON)
endfunction()
"""


def write_common(src: Path) -> None:
    """The counting code every counting firmware of a project shares."""
    (src / "mlf_bench_icount.h").write_text(HEADER)
    (src / "mlf_bench_icount.c").write_text(SOURCE)
    (src / "ws_wrap.c").write_text(WORKSPACE_WRAPPERS)


def wrap_options(funcs: list[str] | tuple[str, ...]) -> str:
    return ";".join(f"LINKER:--wrap={f}" for f in funcs)


def counting_firmware(t: str, main: str, lib: str, open_lib: str, open_main: str, ops: list[str]) -> str:
    """CMake for the three counting firmware of library ``t``: fw_<t>_count (the library as
    built, counted), fw_<t>_ops and fw_<t>_ws (``open_lib``, the same library built with
    HIDE_SYMBOLS OFF so that its operators stay global, with the functions its runner calls,
    then TVM's workspace calls, wrapped)."""
    wrapped = f"COUNT SOURCES {open_main}"
    return (
        f"bench_fw(fw_{t}_count COUNT SOURCES {main} LIBS {lib})\n"
        f'bench_fw(fw_{t}_ops {wrapped} ops_wrap_{t}.c LIBS {open_lib} WRAP "{wrap_options(ops)}")\n'
        f"bench_fw(fw_{t}_ws {wrapped} ws_wrap.c LIBS {open_lib}\n"
        f'  WRAP "{wrap_options(WORKSPACE_CALLS)}")\n'
    )


def runner_calls(model: Path, module: str | None = None) -> list[str]:
    """The TVM functions mlf_build's runner of a model calls: the operators of a graph, the
    entry point of an AOT module."""
    from mlf_build.read.model import load_model

    with load_model(model) as m:
        mod = m.module(module)
        if mod.executor == "graph":
            assert mod.graph is not None
            funcs = [n.func_name for n in mod.graph.op_nodes()]
            return list(dict.fromkeys(f for f in funcs if f and f not in ("__nop", "__copy")))
        return [mod.entry] if mod.entry else []


@dataclass
class Overhead:
    """Instructions of one inference, those of the TVM code it runs (operators or AOT entry),
    and those of TVM's workspace calls made from it."""

    total: int
    tvm: int  # without the workspace calls
    tvm_calls: int
    workspace: int
    workspace_calls: int

    @property
    def overhead(self) -> int:
        return self.total - self.tvm

    @property
    def percent(self) -> float:
        return 100.0 * self.overhead / self.tvm if self.tvm else float("nan")


TABLE_HEADERS = [
    "instructions / inference",
    "in TVM code",
    "in workspace calls",
    "overhead",
    "overhead / TVM code",
]


def row(label: str, fig: Overhead) -> list[str]:
    """A table row of ``fig`` under TABLE_HEADERS."""
    return [
        label,
        f"{fig.total:,}",
        f"{fig.tvm:,} ({fig.tvm_calls} calls)",
        f"{fig.workspace:,} ({fig.workspace_calls} calls)",
        f"{fig.overhead:,}",
        f"{fig.percent:.2f} %",
    ]


def overhead(runs: dict[str, str], name: str = "infer") -> tuple[bool, Overhead | None]:
    """From the output of the count, ops and ws firmware of one path: whether all counts were
    exact, and the figures (None when a firmware failed)."""
    parsed = {k: parse(v) for k, v in runs.items()}
    if any(name not in counts for _, counts in parsed.values()):
        return False, None
    total = parsed["count"][1][name].total
    ops = parsed["ops"][1][name]
    ws = parsed["ws"][1][name]
    exact = all(ok for ok, _ in parsed.values())
    return exact, Overhead(total, ops.ops - ws.ws, ops.op_calls, ws.ws, ws.ws_calls)
