"""3. Footprint: flash and RAM of each model library in a Cortex-M4 firmware (-Os, function and
data sections, --gc-sections), split into model code, parameters, arena and glue (mlf_build's
runtime + the generated runner), read from the link map (which input section of which object
the linker kept) and ``nm --size-sort`` (local symbols included: the model's symbols are local
after HIDE_SYMBOLS). Also checks that no parameter is stored twice in flash."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from . import icount, mapfile
from .common import (
    CORPUS,
    REPO,
    Run,
    configure_cortex_m4,
    fmt_b,
    generator_cmd,
    generator_env,
    have,
    run,
    section,
    table,
    verdict,
)

EXAMPLE = REPO / "examples" / "model" / "waveform.tar"


@dataclass(frozen=True)
class Spec:
    name: str  # library name = C prefix
    label: str  # what the report calls it
    model: Path
    args: tuple[str, ...] = ()


def corpus_tar(item: str) -> Path | None:
    d = CORPUS / item
    if not d.is_dir():
        return None
    tars = sorted(d.glob("*.tar"))
    return tars[0] if len(tars) == 1 else None


# The corpus items mlf_build builds for Cortex-M (tests/test_firmware.py); the other two are
# listed with the reason they are not.
CORPUS_BUILDABLE = [
    ("snu", "snu-v7-graph", ()),
    ("yesno_graph", "arduino-yesno-v4-graph", ()),
    ("yesno_aot", "arduino-yesno-v5-aot", ("IO_SHAPES", "output=1x4")),
    ("cifar", "gtvm-v2-graph-c-lib0only", ()),
    ("cifar_syslib", "gtvm-v2-graph-c-syslib", ()),
    ("sine", "linaro-sine-v5-aot-crt", ("IO_SHAPES", "Identity=1x1")),
]
NOT_BUILDABLE = {
    "nitesh-llvm-aarch64-v5-graph": "its operators are an AArch64 object (LLVM target): no Cortex-M build",
    "octoml-kws-cmsisnn-partial": "needs the CMSIS-NN library (BYOC), which is not part of the corpus",
}


def specs(quick: bool = False) -> list[Spec]:
    out = [Spec("waveform", "example (waveform.tar)", EXAMPLE)]
    for name, item, args in CORPUS_BUILDABLE:
        tar = corpus_tar(item)
        if tar is not None:
            out.append(Spec(name, item, tar, args))
    return out[:2] if quick else out


# ---------------------------------------------------------------------------------------------
# The firmware: one executable per model that runs it once on deterministic inputs and prints a
# hash of the outputs (integer printf only).

FW_MAIN = """#include <stdint.h>
#include <stdio.h>

#include "{t}.h"
#ifdef MLF_BENCH_ICOUNT /* the instruction-counting build (bench/icount.py) */
#include "mlf_bench_icount.h"
#endif

{buffers}
static const void *g_ins[{up}_NUM_INPUTS + 1] = {{{ins}}};
static void *g_outs[{up}_NUM_OUTPUTS + 1] = {{{outs}}};

static int32_t infer(void) {{
  return {t}_run(g_ins, g_outs);
}}

static uint32_t xorshift(uint32_t *s) {{
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}}

int main(void) {{
  uint32_t s = 0x9E3779B9u;
{fill}#ifdef MLF_BENCH_ICOUNT
  mlf_bench_icount_init();
  int32_t status = mlf_bench_time("infer", infer);
#else
  int32_t status = infer();
#endif
  uint32_t h = 2166136261u;
{hash}  printf("fw {t}: status %ld hash %08lx\\n", (long)status, (unsigned long)h);
  return (int)status;
}}
"""


def header_io(header: Path, t: str) -> tuple[list[int], list[int]]:
    """Input and output sizes from a generated header."""
    text = header.read_text()
    up = t.upper()
    n_in = int(re.search(rf"#define {up}_NUM_INPUTS (\d+)", text).group(1))  # type: ignore[union-attr]
    n_out = int(re.search(rf"#define {up}_NUM_OUTPUTS (\d+)", text).group(1))  # type: ignore[union-attr]

    def size(kind: str, k: int) -> int:
        return int(re.search(rf"#define {up}_{kind}_{k}_SIZE (\d+)", text).group(1))  # type: ignore[union-attr]

    return [size("INPUT", k) for k in range(n_in)], [size("OUTPUT", k) for k in range(n_out)]


def fw_main(t: str, ins: list[int], outs: list[int]) -> str:
    buffers = "".join(
        f"static uint8_t in{k}[{n}] __attribute__((aligned(16)));\n" for k, n in enumerate(ins)
    ) + "".join(f"static uint8_t out{k}[{n}] __attribute__((aligned(16)));\n" for k, n in enumerate(outs))
    fill = "".join(
        f"  for (uint32_t i = 0; i < {n}u; ++i) in{k}[i] = (uint8_t)xorshift(&s);\n"
        for k, n in enumerate(ins)
    )
    hashing = "".join(
        f"  for (uint32_t i = 0; i < {n}u; ++i) h = (h ^ out{k}[i]) * 16777619u;\n"
        for k, n in enumerate(outs)
    )
    return FW_MAIN.format(
        t=t,
        up=t.upper(),
        buffers=buffers,
        ins=", ".join(f"in{k}" for k in range(len(ins))) or "0",
        outs=", ".join(f"out{k}" for k in range(len(outs))) or "0",
        fill=fill,
        hash=hashing,
    )


def build_firmware(work: Path, todo: list[Spec], counted: list[Spec]) -> Path:
    """A CMake project with one add_mlf_library() and one firmware per spec; returns the build
    folder (firmware fw_<t>.elf, link map fw_<t>.map). The specs of ``counted`` also get their
    counting firmware (bench/icount.py): fw_<t>_count, fw_<t>_ops, fw_<t>_ws."""

    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    lines = [
        "cmake_minimum_required(VERSION 3.20)",
        "project(bench_footprint C)",
        "find_package(mlf_build CONFIG REQUIRED)",
        'include("${MLF_BUILD_CMAKE_DIR}/qemu/MLFQemu.cmake")',
        icount.CMAKE_FUNCTION,
    ]
    icount.write_common(src)
    for s in todo:
        gen = work / "probe" / s.name
        run(
            [*generator_cmd(), "generate", s.model, "--name", s.name, "--out", gen, *_cli_args(s.args)],
            env=generator_env(work / "pycache"),
        )
        ins, outs = header_io(gen / f"{s.name}.h", s.name)
        (src / f"fw_{s.name}.c").write_text(fw_main(s.name, ins, outs))
        args = " ".join(f'"{a}"' for a in s.args)
        lines += [
            f'add_mlf_library({s.name} "{s.model}" {args})',
            f"add_executable(fw_{s.name} fw_{s.name}.c)",
            f"target_link_libraries(fw_{s.name} PRIVATE {s.name} mlf::qemu_support)",
            f'set_target_properties(fw_{s.name} PROPERTIES SUFFIX ".elf")',
        ]
        if s not in counted:
            continue
        # The same library with its operators global (HIDE_SYMBOLS OFF), for counting them.
        t_open = f"{s.name}_open"
        (src / f"fw_{t_open}.c").write_text(fw_main(t_open, ins, outs))
        (src / f"ops_wrap_{s.name}.c").write_text(icount.op_wrappers(_runner_calls(s)))
        lines += [
            f'add_mlf_library({t_open} "{s.model}" {args} HIDE_SYMBOLS OFF)',
            icount.counting_firmware(
                s.name, f"fw_{s.name}.c", s.name, t_open, f"fw_{t_open}.c", _runner_calls(s)
            ),
        ]
    (src / "CMakeLists.txt").write_text("\n".join(lines) + "\n")
    build = work / "build"
    configure_cortex_m4(src, build)
    run(["ninja", "-C", build, "-j2"], timeout=3600)
    return build


def _instructions(build: Path, todo: list[Spec]) -> dict[str, dict[str, float]]:
    """Instructions of one <t>_run() per model under QEMU (exact: bench/icount.py), and how many
    of them TVM's code executes (the operators a graph's runner calls, an AOT module's entry
    point), without the TVMBackend*Workspace calls it makes."""
    rows, out = [], {}
    exact = True
    for s in todo:
        ok, fig, _ = count_instructions(build, s.name)
        if fig is None:
            rows.append([s.label, "failed", "", "", "", ""])
            continue
        exact &= ok
        out[s.name] = {**vars(fig), "overhead": fig.overhead, "overhead_pct": fig.percent}
        rows.append(icount.row(s.label, fig))
    print(
        "\nInstructions per inference (QEMU -icount shift=7, exact: bench/icount.py): one <t>_run();"
        " TVM code = the operators the graph runner calls, or the AOT entry point, without their"
        " TVMBackend*Workspace calls; overhead = the rest (mlf_build's run checks, table walk,"
        " tensor binding, copies, workspace calls).\n"
    )
    print(table(rows, ["model", *icount.TABLE_HEADERS]))
    print(f"Counts exact (every firmware's self-check): {'yes' if exact else 'NO'}")
    return out


def count_instructions(build: Path, t: str) -> tuple[bool, icount.Overhead | None, dict[str, str]]:
    """Run the counting firmware of ``t`` (fw_<t>_count, _ops, _ws): whether the counts were
    exact, the figures (None if a firmware failed), and what each printed."""
    runs = {}
    for kind in ("count", "ops", "ws"):
        r = qemu(build / f"fw_{t}_{kind}.elf", icount=True)
        runs[kind] = r.stdout + r.stderr
    ok, fig = icount.overhead(runs)
    return ok, fig, runs


def _runner_calls(s: Spec) -> list[str]:
    module = s.args[s.args.index("MODULE") + 1] if "MODULE" in s.args else None
    return icount.runner_calls(s.model, module)


def _cli_args(args: tuple[str, ...]) -> list[str]:
    """add_mlf_library keywords -> mlf-build options (only the ones the specs use)."""
    out: list[str] = []
    key = None
    for a in args:
        if a in ("RUNTIME", "IO_SHAPES", "MODULE"):
            key = a
            continue
        flag = {"RUNTIME": "--runtime", "IO_SHAPES": "--io-shape", "MODULE": "--module"}[key or ""]
        out += [flag, a]
    return out


# ---------------------------------------------------------------------------------------------
# Classification


@dataclass
class Split:
    flash: dict[str, int] = field(default_factory=dict)
    ram: dict[str, int] = field(default_factory=dict)
    detail: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def add(self, cat: str, sec: mapfile.InputSection) -> None:
        mem = sec.memory
        if mem in ("flash", "both"):
            self.flash[cat] = self.flash.get(cat, 0) + sec.size
        if mem in ("ram", "both"):
            self.ram[cat] = self.ram.get(cat, 0) + sec.size
        self.detail.setdefault(cat, []).append((sec.name, sec.size))


CATEGORIES = (
    "model code",
    "params",
    "arena",
    "glue: runtime",
    "glue: runner",
    "glue: tables",
    "firmware + libc",
)
GLUE = ("glue: runtime", "glue: runner", "glue: tables")


def classify(sec: mapfile.InputSection, t: str) -> str:
    """Which part of the firmware an input section belongs to."""
    archive = sec.archive
    name = sec.name
    if archive == "libmlf_runtime.a":
        return "glue: runtime"
    if archive != f"lib{t}.a":
        return "firmware + libc"
    # The model library: one object (HIDE_SYMBOLS), told apart by section names.
    sym = re.sub(r"^\.(text|rodata|data|bss)(\.rel\.ro)?(\.local)?\.", "", name)
    if name == f".rodata.{t}.params" or "__tvm_param__" in name:
        return "params"
    if name == ".rodata.tvm" or re.search(r"\bconstant_\d+", name) or "global_const_workspace" in name:
        return "params"
    ram = name.startswith((".bss", ".noinit", "COMMON"))
    if name == f".bss.{t}.arena" or name.startswith(".bss.noinit") or (ram and "workspace" in sym.lower()):
        return "arena"  # the library's arena, or TVM's USMP pools
    if sym.startswith(f"{t}_") and name.startswith(".rodata"):
        return "glue: tables"  # the graph table, the shape pools, the info tables
    if sym.startswith(f"{t}_"):
        return "glue: runner"
    return "model code"


def split_firmware(build: Path, t: str) -> tuple[Split, list[mapfile.InputSection]]:
    kept, discarded = mapfile.parse_map(build / f"fw_{t}.map")
    sp = Split()
    for sec in kept:
        if sec.size and sec.memory:
            sp.add(classify(sec, t), sec)
    dropped = [s for s in discarded if s.archive in (f"lib{t}.a", "libmlf_runtime.a") and s.size]
    return sp, dropped


def archive_size(build: Path, t: str) -> tuple[int, int]:
    """(flash, RAM) of lib<t>.a + libmlf_runtime.a before linking: text + data, data + bss
    (``arm-none-eabi-size -t``), i.e. before --gc-sections."""
    out = run(["arm-none-eabi-size", "-t", build / f"lib{t}.a", build / "libmlf_runtime.a"]).stdout
    f = out.strip().splitlines()[-1].split()
    text, data, bss = int(f[0]), int(f[1]), int(f[2])
    return text + data, data + bss


def library_symbols(build: Path, t: str) -> list[mapfile.Symbol]:
    """Symbols of the firmware (``nm --size-sort``, local ones included) that lie in a section
    the linker took from the model library or the runtime, largest first."""
    kept, _ = mapfile.parse_map(build / f"fw_{t}.map")
    spans = [
        (sec.address, sec.address + sec.size)
        for sec in kept
        if sec.size and sec.memory and sec.archive in (f"lib{t}.a", "libmlf_runtime.a")
    ]
    syms = [
        sym
        for sym in mapfile.symbols(build / f"fw_{t}.elf")
        if any(lo <= sym.address < hi for lo, hi in spans)
    ]
    return sorted(syms, key=lambda x: -x.size)


def params_twice(spec: Spec, elf: Path) -> tuple[int, int, int, int]:
    """(tensors checked, found once, not found, found twice or more) for the params file's
    tensors of >= 64 bytes, searched in the firmware's flash bytes."""
    from mlf_build.read.archive import open_mlf
    from mlf_build.read.params import parse_params

    image = mapfile.flash_image(elf)
    checked = once = missing = twice = 0
    with open_mlf(spec.model) as src:
        members = src.names("parameters/")
        for member in members:
            with src.open(member) as f:
                data = f.read()
            for p in parse_params(io.BytesIO(data), len(data), member):
                if p.nbytes < 64:
                    continue
                blob = data[p.offset : p.offset + p.nbytes]
                if len(set(blob)) <= 1:
                    continue  # all zeros or one repeated byte: not evidence either way
                checked += 1
                n = mapfile.count_occurrences(image, blob)
                if n == 0:
                    missing += 1
                elif n == 1:
                    once += 1
                else:
                    twice += 1
    return checked, once, missing, twice


def link_params(model: Path) -> bool:
    """Whether TVM linked the parameters into the generated C (-link-params=1)."""
    with tarfile.open(model) as tf:
        for m in tf.getmembers():
            if m.name.endswith("metadata.json"):
                f = tf.extractfile(m)
                return f is not None and "link-params=1" in f.read().decode(errors="replace")
    return False


def qemu(elf: Path, icount: bool = False) -> Run:
    """Run firmware on mps2-an386 (Cortex-M4F) until its semihosting exit; with icount, in the
    mode where instruction counts are exact (bench/icount.py)."""
    from .icount import QEMU_ARGS

    return run(
        [
            "qemu-system-arm",
            "-M",
            "mps2-an386",
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
            *(QEMU_ARGS if icount else []),
            "-kernel",
            elf,
        ],
        check=False,
        timeout=600,
    )


def run_qemu(elf: Path) -> str:
    """The firmware's last line of output (or its exit status when it printed nothing)."""
    r = qemu(elf)
    out = (r.stdout + r.stderr).strip()
    return out.splitlines()[-1] if out else f"exit {r.returncode}"


def arena_vs_bound(work: Path, todo: list[Spec]) -> tuple[list[list[str]], bool]:
    """Each model's arena (inspect --json) against the liveness bound, the most bytes live at
    one step, which no plan of the same operators can go under; for graphs also the storage-id
    plan the lifetime planner replaced. True when every graph is within 5% (or 64 B) of it."""
    rows, ok = [], True
    env = generator_env(work / "pycache")
    for s in todo:
        pairs = _cli_args(s.args)
        args = [x for i in range(0, len(pairs), 2) if pairs[i] != "--runtime" for x in pairs[i : i + 2]]
        r = run([*generator_cmd(), "inspect", s.model, "--json", *args], env=env)
        arena = json.loads(r.stdout)["modules"][0]["arena"]
        size, bound, old = arena["bytes"], arena["lower_bound_bytes"], arena["storage_id_bytes"]
        if old is not None and bound is not None:
            ok &= size <= max(bound * 105 // 100, bound + 64)
        rows.append(
            [
                s.label,
                arena["layout"],
                f"{size:,} B",
                "-" if old is None else f"{old:,} B",
                "unknown" if bound is None else f"{bound:,} B",
                "-" if not bound else f"{size / bound:.3f}",
            ]
        )
    return rows, ok


def bench(work: Path, quick: bool) -> dict:
    section("3. Footprint (Cortex-M4F, -Os, -ffunction-sections -fdata-sections, --gc-sections)")
    missing = have("cmake", "ninja", "arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-size")
    if missing:
        print(f"skipped: missing {', '.join(missing)}")
        return {}
    todo = specs(quick)
    # QEMU runs only the example in a quick run.
    on_qemu = [s for s in todo if not quick or s.name == "waveform"]
    build = build_firmware(work, todo, on_qemu)
    rows, checks, results = [], [], {}
    glue_flash_ok = glue_ram_ok = fixed_ok = True
    notes = []
    for s in todo:
        sp, dropped = split_firmware(build, s.name)
        elf = build / f"fw_{s.name}.elf"
        f, r = sp.flash, sp.ram
        glue_f = sum(f.get(k, 0) for k in GLUE)
        glue_r = sum(r.get(k, 0) for k in GLUE)
        fixed_f = glue_f - f.get("glue: tables", 0)
        fixed_ok &= fixed_f <= 1024
        glue_flash_ok &= glue_f <= 1024
        glue_ram_ok &= glue_r <= 64
        lib_f = sum(v for k, v in f.items() if k != "firmware + libc")
        lib_r = sum(v for k, v in r.items() if k != "firmware + libc")
        checked, once, miss, twice = params_twice(s, elf)
        lp = link_params(s.model)
        qemu = run_qemu(elf) if s in on_qemu else "-"
        results[s.name] = {
            "flash": f,
            "ram": r,
            "glue_flash": glue_f,
            "params_check": [checked, once, miss, twice],
            "qemu": qemu,
        }
        rows.append(
            [
                s.label + (" (-link-params)" if lp else ""),
                fmt_b(lib_f),
                fmt_b(f.get("model code", 0)),
                fmt_b(f.get("params", 0)),
                f"{f.get('glue: runtime', 0)} + {f.get('glue: runner', 0)} + {f.get('glue: tables', 0)}"
                f" = {glue_f} B",
                fmt_b(lib_r),
                fmt_b(r.get("arena", 0)),
                f"{glue_r} B" + (f" (+{r.get('model code', 0)} B model)" if r.get("model code") else ""),
                f"{twice} twice / {once} once / {miss} absent of {checked}",
                fmt_b(sum(f.values())),
                qemu.replace(f"fw {s.name}: ", ""),
            ]
        )
        top = sorted([(n, z) for c in GLUE for n, z in sp.detail.get(c, [])], key=lambda x: -x[1])[:6]
        gone = [d for d in dropped if d.memory]
        before_f, before_r = archive_size(build, s.name)
        biggest = library_symbols(build, s.name)[:5]
        notes.append(
            f"{s.name}: library + runtime before linking (arm-none-eabi-size -t) {before_f} B flash, "
            f"{before_r} B RAM; after --gc-sections {lib_f} B, {lib_r} B. Largest symbols (nm "
            "--size-sort): "
            + ", ".join(f"{x.name} {x.kind} {x.size}" for x in biggest)
            + ". Largest glue: "
            + ", ".join(f"{n} {z}" for n, z in top)
            + f". --gc-sections dropped {len(gone)} sections ({sum(d.size for d in gone)} B) of the "
            "library and runtime: "
            + ", ".join(sorted({re.sub(r"^\.(text|rodata|data|bss)\.", "", d.name) for d in gone}))
        )
        if twice:
            checks.append((f"{s.name}: no parameter stored twice", False, f"{twice} twice"))
    print(
        table(
            rows,
            [
                "model",
                "lib flash",
                "model code",
                "params",
                "glue flash (runtime + run code + tables)",
                "lib RAM",
                "arena",
                "glue RAM",
                "params in flash",
                "firmware flash",
                "QEMU",
            ],
        )
    )
    for s in sorted(set(NOT_BUILDABLE)):
        print(f"\nnot built: {s}: {NOT_BUILDABLE[s]}")
    print("\nFlash = text + rodata + the .data image; RAM = data + bss; figures after --gc-sections,")
    print("from the link map (input sections kept, by object and section name).")
    print("'firmware flash' is the whole ELF (startup, main, newlib-nano printf with float support).")
    print("'params in flash': the params file's tensors (>= 64 B, not constant) searched in the ELF's")
    print("flash bytes; 'absent' = TVM transformed them (e.g. AOT constants) so they are not byte-equal.\n")
    for n in notes:
        print(n)
    arena_rows, arena_ok = arena_vs_bound(work, todo)
    print("\nThe arena against the liveness bound (mlf-build inspect --json):")
    print(
        table(
            arena_rows, ["model", "placed by", "arena", "storage-id plan", "liveness bound", "arena / bound"]
        )
    )
    instructions = _instructions(build, on_qemu)
    for name, fig in instructions.items():
        results[name]["instructions"] = fig
    checks = [
        ("glue <= 1 KiB flash (every model)", glue_flash_ok, ""),
        ("glue without the per-graph tables <= 1 KiB flash (every model)", fixed_ok, ""),
        ("glue <= 64 B RAM beyond the arena (every model)", glue_ram_ok, ""),
        ("arena <= 1.05x the liveness bound, or 64 B over (every graph model)", arena_ok, ""),
        (
            "no parameter stored twice in flash (every model)",
            all(v["params_check"][3] == 0 for v in results.values()),
            "",
        ),
        *checks,
    ]
    print()
    for what, ok, value in checks:
        print(f"target: {what}{': ' + value if value else ''} -> {verdict(ok)}")
    return {"models": results, "checks": [{"what": w, "ok": ok, "value": v} for w, ok, v in checks]}
