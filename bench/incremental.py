"""2. Incremental builds: a CMake project with 10 models (add_mlf_library each, one firmware
linking them all) against the same project without models. No-op builds are timed side by side
(alternating, medians); generator runs and the edges ninja runs are counted after touching one
tarball and after changing one tarball's contents. The same for Bazel when bazel/defs.bzl exists."""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import tarfile
import time
from pathlib import Path

from .common import (
    REPO,
    configure_cortex_m4,
    fmt_s,
    have,
    median,
    run,
    section,
    table,
    verdict,
)

# Ten fixture layouts that need no extra arguments: ten different models as far as the build is
# concerned (different MLF versions, executors, kernels and parameter layouts).
LAYOUTS = [
    "v1-graph",
    "v2-graph",
    "v2-graph-syslib",
    "v3-graph",
    "v4-graph",
    "v4-graph-linkparams",
    "v5-graph",
    "v6-graph",
    "v7-graph",
    "v7-aot-c",
]

MAIN_C = """#include <stdio.h>
#ifdef WITH_MODELS
#include "models.h"
#endif
int main(void) {
  int status = 0;
#ifdef WITH_MODELS
  status = run_all();
#endif
  printf("done %d\\n", status);
  return status;
}
"""


def _models_h(names: list[str]) -> str:
    lines = ["#include <stdint.h>", ""]
    lines += [f'#include "{n}.h"' for n in names]
    lines += ["static int run_all(void) {", "  int status = 0;"]
    for n in names:
        up = n.upper()
        lines += [
            "  {",
            f"    static uint8_t in[{up}_NUM_INPUTS][256], out[{up}_NUM_OUTPUTS][256];",
            f"    const void *ins[{up}_NUM_INPUTS]; void *outs[{up}_NUM_OUTPUTS];",
            f"    for (int i = 0; i < {up}_NUM_INPUTS; i++) ins[i] = in[i];",
            f"    for (int i = 0; i < {up}_NUM_OUTPUTS; i++) outs[i] = out[i];",
            f"    status |= (int){n}_run(ins, outs);",
            "  }",
        ]
    lines += ["  return status;", "}", ""]
    return "\n".join(lines)


def _cmakelists(names: list[str], with_models: bool) -> str:
    out = [
        "cmake_minimum_required(VERSION 3.20)",
        "project(bench_incremental C)",
        "find_package(mlf_build CONFIG REQUIRED)",
        'include("${MLF_BUILD_CMAKE_DIR}/qemu/MLFQemu.cmake")',
        "add_executable(app main.c)",
        "target_link_libraries(app PRIVATE mlf::qemu_support)",
    ]
    if with_models:
        for n in names:
            out.append(f'add_mlf_library({n} "${{CMAKE_CURRENT_SOURCE_DIR}}/models/{n}.tar")')
        out.append(f"target_link_libraries(app PRIVATE {' '.join(names)})")
        out.append("target_compile_definitions(app PRIVATE WITH_MODELS)")
    return "\n".join(out) + "\n"


def make_models(dest: Path, layouts: list[str]) -> list[str]:
    sys.path.insert(0, str(REPO))
    from tests import fixtures

    names = []
    tmp = dest / "export"
    for k, layout in enumerate(layouts):
        path = fixtures.export(layout, tmp / layout)
        name = f"m{k}"
        shutil.copyfile(path, dest / f"{name}.tar")
        names.append(name)
    shutil.rmtree(tmp)
    return names


def change_params(tar: Path) -> None:
    """Rewrite ``tar`` with every parameter value changed (same names, shapes and dtypes)."""
    from mlf_build.read.params import parse_params

    with tarfile.open(tar) as tf:
        members = [(m, tf.extractfile(m).read() if m.isfile() else None) for m in tf.getmembers()]  # type: ignore[union-attr]
    out = []
    for m, data in members:
        if data is not None and m.name.endswith(".params") and len(data) > 32:
            blob = bytearray(data)
            for t in parse_params(io.BytesIO(data), len(data), m.name):
                for i in range(t.offset, t.offset + t.nbytes):
                    blob[i] ^= 0x01  # a tiny change to every byte
            data = bytes(blob)
        out.append((m, data))
    with tarfile.open(tar, "w", format=tarfile.GNU_FORMAT) as tf:
        for m, data in out:
            tf.addfile(m, io.BytesIO(data) if data is not None else None)


def _configure(src: Path, build: Path) -> float:
    return configure_cortex_m4(src, build).seconds


_EDGE = re.compile(r"^\[\d+/\d+\] (.*)$")
# What every build runs first: one hash of each model (cmake/mlf_model_check.cmake).
CHECK = "mlf_build: checking the models"


def _edges(output: str) -> list[str]:
    """The edges ninja ran, by description, from its (non-verbose) output, but the check of the
    models' contents that every build runs (counted apart)."""
    return [m.group(1) for line in output.splitlines() if (m := _EDGE.match(line)) and m.group(1) != CHECK]


def _summarise(edges: list[str]) -> str:
    if not edges:
        return "(nothing)"
    short = []
    for e in edges:
        e = re.sub(r"Building C object CMakeFiles/(\S+?)\.dir/\S*/([^/]+)\.obj", r"cc \2 (\1)", e)
        e = re.sub(r"Building C object CMakeFiles/(\S+?)\.dir/\S*/([^/]+)\.o\b", r"cc \2 (\1)", e)
        e = re.sub(r"mlf_build: generating (\S+) from \S+", r"generate \1", e)
        e = re.sub(r"mlf_build: linking (\S+) into one object.*", r"partial link + objcopy \1", e)
        e = re.sub(r"Linking C static library (\S+)", r"ar \1", e)
        e = re.sub(r"Linking C executable (\S+)", r"link \1", e)
        e = re.sub(r"Re-running CMake\.\.\.", "re-run CMake (configure)", e)
        short.append(e)
    return "; ".join(short)


def _ninja_stats(build: Path) -> dict:
    """ninja's own cost of a no-op: parse and stat times (median of 5), nodes, commands."""
    parse, stat, nodes = [], [], 0
    for _ in range(5):
        out = run(["ninja", "-C", build, "-d", "stats"]).stdout
        for line in out.splitlines():
            f = line.split()
            if line.startswith(".ninja parse"):
                parse.append(float(f[-1]))
            elif line.startswith("node stat"):
                stat.append(float(f[-1]))
                nodes = int(f[2])
    cmds = run(["ninja", "-C", build, "-t", "commands"]).stdout.count("\n")
    return {
        "parse": median(parse),
        "stat": median(stat),
        "nodes": nodes,
        "commands": cmds,
        "bytes": (build / "build.ninja").stat().st_size,
    }


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _ninja(build: Path, *extra: str) -> tuple[float, str]:
    r = run(["ninja", "-C", build, *extra])
    return r.seconds, r.stdout + r.stderr


def bench_cmake(work: Path, rounds: int, nmodels: int) -> dict:
    section(f"2. Incremental builds (CMake + Ninja, {nmodels} models, Cortex-M4 firmware)")
    missing = have("cmake", "ninja", "arm-none-eabi-gcc")
    if missing:
        print(f"skipped: missing {', '.join(missing)}")
        return {}
    if work.exists():
        shutil.rmtree(work)
    src_m, src_b = work / "with-models", work / "without-models"
    (src_m / "models").mkdir(parents=True)
    src_b.mkdir(parents=True)
    names = make_models(src_m / "models", LAYOUTS[:nmodels])
    for src, with_models in ((src_m, True), (src_b, False)):
        (src / "main.c").write_text(MAIN_C)
        (src / "CMakeLists.txt").write_text(_cmakelists(names, with_models))
    (src_m / "models.h").write_text(_models_h(names))
    bm, bb = work / "build-with", work / "build-without"
    conf_m, conf_b = _configure(src_m, bm), _configure(src_b, bb)
    full_m, out_m = _ninja(bm)
    full_b, _ = _ninja(bb)
    generated = sum(1 for e in _edges(out_m) if e.startswith("mlf_build: generating"))

    # No-op builds, alternating, after one warm-up each: ninja itself, and through cmake --build.
    _ninja(bm)
    _ninja(bb)
    t_m, t_b, c_m, c_b, noop_edges, noop_gen, noop_checks = [], [], [], [], [], 0, 0
    for r in range(rounds):
        pair = [("m", bm), ("b", bb)] if r % 2 == 0 else [("b", bb), ("m", bm)]
        for tag, b in pair:
            secs, out = _ninja(b)
            cm = run(["cmake", "--build", b]).seconds
            if tag == "m":
                t_m.append(secs)
                c_m.append(cm)
                noop_edges += _edges(out)
                noop_gen += out.count("mlf_build: generating")
                noop_checks += out.count(CHECK)
            else:
                t_b.append(secs)
                c_b.append(cm)
    explain = run(["ninja", "-C", bm, "-n", "-d", "explain"])
    explained = [
        ln for ln in (explain.stdout + explain.stderr).splitlines() if ln.startswith("ninja explain")
    ]
    stats = {tag: _ninja_stats(b) for tag, b in (("m", bm), ("b", bb))}

    # Touch one tarball: the same bytes, a newer time stamp. A model with its parameters in the
    # params file (not -link-params), so that changing them must recompile its data.
    victim_layout = "v5-graph" if "v5-graph" in LAYOUTS[:nmodels] else LAYOUTS[0]
    victim = src_m / "models" / f"{names[LAYOUTS.index(victim_layout)]}.tar"
    time.sleep(0.01)
    os.utime(victim)
    touch_s, out_touch = _ninja(bm)
    touch_edges = _edges(out_touch)
    _, out_after_touch = _ninja(bm)
    # Change its contents: every parameter value differs, shapes are the same.
    change_params(victim)
    change_s, out_change = _ninja(bm)
    change_edges = _edges(out_change)
    _, out_after_change = _ninja(bm)

    nm, nb = median(t_m), median(t_b)
    rows = [
        ["configure", fmt_s(conf_m), fmt_s(conf_b), f"{conf_m / conf_b:.2f}x"],
        ["full build (ninja, -j2)", fmt_s(full_m), fmt_s(full_b), f"{full_m / full_b:.2f}x"],
        [f"no-op `ninja` (median of {rounds})", fmt_ms(nm), fmt_ms(nb), f"{nm / nb:.2f}x"],
        ["no-op `ninja` (fastest)", fmt_ms(min(t_m)), fmt_ms(min(t_b)), f"{min(t_m) / min(t_b):.2f}x"],
        [
            f"no-op `cmake --build` (median of {rounds})",
            fmt_ms(median(c_m)),
            fmt_ms(median(c_b)),
            f"{median(c_m) / median(c_b):.2f}x",
        ],
        [
            "ninja: build commands / build.ninja bytes",
            f"{stats['m']['commands']} / {stats['m']['bytes']}",
            f"{stats['b']['commands']} / {stats['b']['bytes']}",
            "",
        ],
        [
            "ninja -d stats: parse / stat (ms, median of 5)",
            f"{stats['m']['parse']:.2f} / {stats['m']['stat']:.2f} ({stats['m']['nodes']} nodes)",
            f"{stats['b']['parse']:.2f} / {stats['b']['stat']:.2f} ({stats['b']['nodes']} nodes)",
            "",
        ],
    ]
    print(table(rows, ["", f"{nmodels} models", "no models", "ratio"]))
    print(f"\nFull build ran {generated} generator commands ({nmodels} models).")
    print(
        f"No-op builds: {noop_gen} generator commands, {len(noop_edges)} edges run in {rounds} builds "
        f"besides {noop_checks} checks of the models' contents; "
    )
    print(f"`ninja -n -d explain` lists {len(explained)} reasons to rebuild.")
    victim_name = victim.stem
    print(
        f"\nTouch {victim_name}.tar ({victim_layout}; same bytes, new mtime), {fmt_s(touch_s)}: "
        f"{_summarise(touch_edges)}"
    )
    print(f"  then a no-op: {_summarise(_edges(out_after_touch))}")
    print(f"Change {victim_name}.tar's parameter values, {fmt_s(change_s)}: {_summarise(change_edges)}")
    print(f"  then a no-op: {_summarise(_edges(out_after_change))}")

    def others(edges: list[str]) -> list[str]:
        return [e for e in edges if re.search(r"\bm\d+\b", e) and not re.search(rf"\b{victim_name}\b", e)]

    touch_gen = [e for e in touch_edges if "mlf_build: generating" in e]
    change_gen = [e for e in change_edges if "mlf_build: generating" in e]
    checks = [
        ("no-op build runs 0 generator commands", noop_gen == 0 and not noop_edges, f"{noop_gen}"),
        ("no-op build <= 1.2x the project without models", nm / nb <= 1.2, f"{nm / nb:.2f}x"),
        (
            "touching one tarball (same bytes) runs no generator and recompiles nothing",
            not touch_gen and not touch_edges,
            f"{len(touch_gen)} generator run(s), {len(touch_edges)} edges",
        ),
        (
            "changing one tarball regenerates and recompiles only that model",
            len(change_gen) == 1 and not others(change_edges),
            f"{len(change_gen)} generator run(s), {len(others(change_edges))} edges of other models",
        ),
    ]
    print()
    for what, ok, value in checks:
        print(f"target: {what}: {value} -> {verdict(ok)}")
    return {
        "configure_s": [conf_m, conf_b],
        "full_s": [full_m, full_b],
        "noop_s": [nm, nb],
        "noop_cmake_s": [median(c_m), median(c_b)],
        "noop_ratio": nm / nb,
        "touch_edges": touch_edges,
        "change_edges": change_edges,
        "checks": [{"what": w, "ok": ok, "value": v} for w, ok, v in checks],
    }


# ---------------------------------------------------------------------------------------------
# Bazel


def _bazel_processes(text: str) -> int | None:
    """N from Bazel's "INFO: N processes: ..." line (None when it printed none)."""
    m = re.search(r"INFO: (\d+) process(?:es)?\b", text)
    return int(m.group(1)) if m else None


def _exec_log(path: Path) -> list[str]:
    """Mnemonic (or first argument) of every spawn in an --execution_log_json_file."""
    import json

    if not path.exists():
        return []
    text = path.read_text()
    dec = json.JSONDecoder()
    pos, out = 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = dec.raw_decode(text, pos)
        args = obj.get("commandArgs") or ["?"]
        what = obj.get("mnemonic") or Path(args[0]).name
        # Which model the spawn works on, from the generated folder in its arguments/outputs.
        paths = " ".join(args) + " " + " ".join(o.get("path", "") for o in obj.get("actualOutputs", []))
        models = sorted(set(re.findall(r"_mlf/(m\d+)/", paths)))
        out.append(f"{what} {','.join(models)}".strip())
    return out


def _bazel_build_file(names: list[str]) -> str:
    lines = [
        'load("@mlf_build//bazel:defs.bzl", "mlf_library")',
        'load("@rules_cc//cc:defs.bzl", "cc_binary")',
        "",
    ]
    for n in names:
        lines.append(f'mlf_library(name = "{n}", src = "models/{n}.tar")')
    deps = ", ".join(f'":{n}"' for n in names)
    lines += [
        "",
        "cc_binary(",
        '    name = "app",',
        '    srcs = ["main.c", "models.h"],',
        '    copts = ["-DWITH_MODELS", "-std=gnu99"],',
        f"    deps = [{deps}],",
        ")",
        "",
    ]
    return "\n".join(lines)


def bench_bazel(work: Path, cmake_src: Path | None, nmodels: int) -> dict:
    section(f"2b. Incremental builds (Bazel, {nmodels} models, host build)")
    if not (REPO / "bazel" / "defs.bzl").exists():
        print("skipped: bazel/defs.bzl does not exist in this checkout (the Bazel rule has not landed)")
        return {}
    if have("bazel"):
        print("skipped: bazel is not installed")
        return {}
    if work.exists():
        shutil.rmtree(work)
    ws = work / "ws"
    (ws / "models").mkdir(parents=True)
    if cmake_src is not None and (cmake_src / "models").is_dir():
        for tar in sorted((cmake_src / "models").glob("*.tar")):
            shutil.copyfile(tar, ws / "models" / tar.name)
        names = sorted(p.stem for p in (ws / "models").glob("*.tar"))[:nmodels]
    else:
        names = make_models(ws / "models", LAYOUTS[:nmodels])
    (ws / "WORKSPACE").write_text(
        'workspace(name = "bench")\n'
        f'local_repository(name = "mlf_build", path = "{REPO}")\n'
        'load("@mlf_build//bazel:repositories.bzl", "mlf_build_dependencies")\n'
        "mlf_build_dependencies(stubs = True)\n"
    )
    rc = REPO / "examples" / "bazel" / ".bazelrc"
    text = rc.read_text() if rc.exists() else "build --incompatible_enable_cc_toolchain_resolution\n"
    (ws / ".bazelrc").write_text(re.sub(r"(?m)^try-import.*$", "", text))
    (ws / "main.c").write_text(MAIN_C)
    (ws / "models.h").write_text(_models_h(names))
    (ws / "BUILD.bazel").write_text(_bazel_build_file(names))
    root = work / "root"
    startup = [f"--output_user_root={root}", "--max_idle_secs=120"]
    env = dict(os.environ)
    env.setdefault("MLF_PYTHON", sys.executable)

    def build(tag: str) -> tuple[float, int | None, list[str], str]:
        log = work / f"{tag}.json"
        r = run(
            [
                "bazel",
                *startup,
                "build",
                "//:app",
                f"--execution_log_json_file={log}",
                f"--repo_env=MLF_PYTHON={sys.executable}",
            ],
            cwd=ws,
            env=env,
            check=False,
            timeout=1200,
        )
        if r.returncode != 0:
            raise RuntimeError(f"bazel build failed:\n{r.stderr[-3000:]}")
        return r.seconds, _bazel_processes(r.stderr), _exec_log(log), r.stderr

    try:
        full_s, full_n, full_log, _ = build("full")
        noop_s, noop_n, noop_log, _ = build("noop")
        victim = ws / "models" / f"{names[LAYOUTS.index('v5-graph')]}.tar"
        os.utime(victim)
        touch_s, touch_n, touch_log, _ = build("touch")
        change_params(victim)
        change_s, change_n, change_log, _ = build("change")
        noop2_s, noop2_n, noop2_log, _ = build("noop2")
    except RuntimeError as exc:
        print(f"failed: {exc}")
        return {"error": str(exc)}
    finally:
        run(["bazel", *startup, "shutdown"], cwd=ws, check=False, timeout=120)

    def gens(log: list[str]) -> int:
        return sum(1 for x in log if x.startswith("MlfGenerate"))

    def count(log: list[str]) -> str:
        kinds: dict[str, int] = {}
        for x in log:
            k = x.split()[0]
            kinds[k] = kinds.get(k, 0) + 1
        return ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "none"

    rows = [
        ["full build", fmt_s(full_s), full_n, len(full_log), count(full_log)],
        ["no-op", fmt_s(noop_s), noop_n, len(noop_log), count(noop_log)],
        [f"touch {victim.name}", fmt_s(touch_s), touch_n, len(touch_log), count(touch_log)],
        [f"change {victim.name}'s params", fmt_s(change_s), change_n, len(change_log), count(change_log)],
        ["no-op again", fmt_s(noop2_s), noop2_n, len(noop2_log), count(noop2_log)],
    ]
    print(table(rows, ["build", "wall", "'processes' line", "spawns (execution log)", "actions run"]))
    print("\nSpawns when the parameters changed: " + "; ".join(change_log))
    others = [x for x in change_log if re.search(r"\bm\d+\b", x) and not re.search(rf"\b{victim.stem}\b", x)]
    checks = [
        ("Bazel no-op runs 0 actions", not noop_log and not noop2_log, f"{len(noop_log)}, {len(noop2_log)}"),
        ("Bazel: touching a tarball (same bytes) runs 0 actions", not touch_log, f"{len(touch_log)}"),
        (
            "Bazel: changing one tarball regenerates only that model",
            gens(change_log) == 1 and not others,
            f"{gens(change_log)} MlfGenerate, {len(others)} actions of other models",
        ),
    ]
    print()
    for what, ok, value in checks:
        print(f"target: {what}: {value} -> {verdict(ok)}")
    return {"checks": [{"what": w, "ok": ok, "value": v} for w, ok, v in checks]}
