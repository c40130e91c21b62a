"""1. Parameter embedding: generate + compile + archive a model with N MiB of parameters into an
ARM static library, against a plain ``cp`` of the same bytes (the floor), against the common
``xxd -i`` + arm-none-eabi-gcc C-array path, and the same library built by add_mlf_library()
(CMake + Ninja: the models' check, generation, compile, partial link of the code + objcopy,
archive), whose ratio to generate + compile + archive is what HIDE_SYMBOLS costs. All are timed
side by side in each round, in a rotating order; figures are medians over the rounds."""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import bigmodel
from .common import (
    ARM_AR,
    ARM_CFLAGS,
    ARM_GCC,
    MIB,
    RUNTIME_INCLUDE,
    configure_cortex_m4,
    fmt_b,
    fmt_s,
    generator_cmd,
    generator_env,
    have,
    median,
    run,
    run_parallel,
    run_rss,
    section,
    table,
    verdict,
)

NAME = "big"


@dataclass
class Ours:
    total: float
    generate: float
    compile: float
    archive: float
    gen_rss: int
    cc_rss: int
    lib_bytes: int
    cpu: float = 0.0  # user + system seconds of all the steps


@dataclass
class SizeResult:
    mib: float
    cp: list[tuple[float, float]] = field(default_factory=list)  # (wall, CPU) seconds
    ours: list[Ours] = field(default_factory=list)
    xxd: list[tuple[float, int]] = field(default_factory=list)  # (seconds, compiler peak RSS)
    cmake: list[tuple[float, int]] = field(default_factory=list)  # (ninja seconds, peak RSS)


def _ours(model: Path, work: Path, cache: Path, measure_rss: bool = False) -> Ours:
    out = work / "gen"
    objs = work / "obj"
    lib = work / f"lib{NAME}.a"
    for p in (out, objs):
        shutil.rmtree(p, ignore_errors=True)
    lib.unlink(missing_ok=True)
    objs.mkdir(parents=True)
    g = run([*generator_cmd(), "generate", model, "--name", NAME, "--out", out], env=generator_env(cache))
    manifest = json.loads((out / f"{NAME}_manifest.json").read_text())
    incs = [f"-I{out / d}" for d in manifest["include_dirs"]] + [f"-I{RUNTIME_INCLUDE}"]
    cmds = []
    objects = []
    for k, src in enumerate(manifest["sources"]):
        obj = objs / f"{k}_{Path(src).stem}.o"
        objects.append(obj)
        cmds.append([ARM_GCC, *ARM_CFLAGS, *incs, "-c", out / src, "-o", obj])
    c = run_parallel(cmds)
    a = run([ARM_AR, "rcs", lib, *objects])
    gen_rss = cc_rss = 0
    if measure_rss:  # apart from the timed run: the wrapper that measures costs time
        again = work / "gen-rss"
        shutil.rmtree(again, ignore_errors=True)
        g_args = [*generator_cmd(), "generate", model, "--name", NAME, "--out", again]
        gen_rss = run_rss(g_args, env=generator_env(cache)).peak_rss
        cc_rss = max(run_rss(cmd).peak_rss for cmd in cmds)
        shutil.rmtree(again, ignore_errors=True)
    return Ours(
        g.seconds + c.seconds + a.seconds,
        g.seconds,
        c.seconds,
        a.seconds,
        gen_rss,
        cc_rss,
        lib.stat().st_size,
        g.cpu + c.cpu + a.cpu,
    )


def _cp(params: Path, work: Path) -> tuple[float, float]:
    dst = work / "cp.bin"
    dst.unlink(missing_ok=True)
    r = run(["cp", params, dst])
    return r.seconds, r.cpu


def _xxd(params: Path, work: Path) -> tuple[float, int]:
    """``xxd -i params > params.c`` + compile + archive; returns time and compiler peak RSS."""
    d = work / "xxd"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    src, obj, lib = d / "params.c", d / "params.o", d / "libparams.a"
    if shutil.which("xxd"):
        x = run(["sh", "-c", f"cd '{params.parent}' && xxd -i '{params.name}' > '{src}'"])
    else:  # the same C text from bench/xxd_i.py (announced in the report)
        x = run([sys.executable, str(Path(__file__).with_name("xxd_i.py")), params, src])
    c = run_rss([ARM_GCC, *ARM_CFLAGS, "-c", src, "-o", obj])
    a = run([ARM_AR, "rcs", lib, obj])
    # The Python stand-in is far slower than xxd; xxd's own share is a few percent: not timed.
    text = x.seconds if shutil.which("xxd") else 0.0
    return text + c.seconds + a.seconds, c.peak_rss


def _cmake_project(model: Path, work: Path) -> Path:
    src = work / "cmake-src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(bench_embed C)\n"
        "find_package(mlf_build CONFIG REQUIRED)\n"
        f'add_mlf_library({NAME} "{model}")\n'
    )
    build = work / "cmake-build"
    configure_cortex_m4(src, build)
    return build


def _cmake_build(build: Path) -> tuple[float, int]:
    """The library's build from clean; mlf_runtime (shared by every library of a project, and
    no part of the generate + compile + archive path) is built before the clock starts."""
    run(["ninja", "-C", build, "-t", "clean"])
    run(["ninja", "-C", build, "mlf_runtime"])
    r = run(["ninja", "-C", build, "-j2", NAME])
    return r.seconds, 0


def _fit(points: list[tuple[float, float]], x: float) -> float:
    """Least-squares line through (size, value) points, evaluated at x."""
    if len(points) == 1:
        return points[0][1] * x / points[0][0]
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    b = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx
    return my + b * (x - mx)


def _check_sections(work: Path) -> str:
    """The parameter section of the compiled data object: read-only, allocated, aligned."""
    objs = sorted((work / "obj").glob("*_data.o"))
    if not objs:
        return "no data object"
    dump = run(["arm-none-eabi-objdump", "-h", objs[0]]).stdout
    m = re.search(r"\s(\.rodata\.\S+\.params)\s+([0-9a-f]+)\s.*?\s2\*\*(\d+)\s*\n\s*(.*)", dump)
    if not m:
        return "parameter section not found"
    flags = m.group(4).strip()
    ok = "READONLY" in flags and "ALLOC" in flags and int(m.group(3)) >= 4
    return (
        f"{m.group(1)}: {int(m.group(2), 16)} bytes, align 2**{m.group(3)}, {flags} "
        f"({'const, in flash' if ok else 'NOT read-only'})"
    )


def bench(
    work: Path, sizes: list[float], xxd_sizes: list[float], rounds: int, cmake_sizes: list[float]
) -> dict:
    section("1. Parameter embedding (generate + compile + archive an ARM static library)")
    missing = have(ARM_GCC, ARM_AR, "cp")
    if missing:
        print(f"skipped: missing {', '.join(missing)}")
        return {}
    no_cmake = have("cmake", "ninja")
    if no_cmake and cmake_sizes:
        print(f"add_mlf_library path skipped: missing {', '.join(no_cmake)}")
        cmake_sizes = []
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "pycache"
    results: dict[float, SizeResult] = {}
    sections_note = ""
    for mib in sorted(set(sizes) | set(xxd_sizes)):
        model, params = bigmodel.write_model(work / f"m{mib:g}" / "model.tar", mib)
        res = results[mib] = SizeResult(mib)
        sub = work / f"m{mib:g}"
        build = _cmake_project(model, sub) if mib in cmake_sizes and mib in sizes else None
        run([*generator_cmd(), "--version"], env=generator_env(cache))  # compile the bytecode once
        xxd_rounds = max(1, min(rounds, int(8 / max(mib, 1))))  # xxd costs ~1 s per MiB
        for r in range(rounds):
            jobs = []
            if mib in sizes:
                jobs += ["cp", "ours"] + (["cmake"] if build is not None else [])
            if mib in xxd_sizes and r < xxd_rounds:
                jobs.append("xxd")
            if not jobs:
                continue
            k = r % len(jobs)
            for job in jobs[k:] + jobs[:k]:  # rotate the order between rounds
                if job == "cp":
                    res.cp.append(_cp(params, sub))
                elif job == "ours":
                    res.ours.append(_ours(model, sub, cache, measure_rss=r == 0))
                elif job == "cmake":
                    assert build is not None
                    res.cmake.append(_cmake_build(build))
                else:
                    res.xxd.append(_xxd(params, sub))
        if mib == min(sizes):
            sections_note = _check_sections(sub)
        # The big files are not needed any more.
        for p in (params, sub / "cp.bin", sub / "xxd", sub / "gen", sub / "obj", sub / f"lib{NAME}.a"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        if build is not None:
            shutil.rmtree(build, ignore_errors=True)
        model.unlink(missing_ok=True)

    xxd_t = [(m, median([x[0] for x in r.xxd])) for m, r in results.items() if r.xxd]
    xxd_m = [(m, median([x[1] for x in r.xxd])) for m, r in results.items() if r.xxd]
    rows = []
    out: dict = {"sizes": {}}
    for mib in sorted(sizes):
        r = results[mib]
        cp = median([c[0] for c in r.cp])
        cpu_ratio = median([o.cpu for o in r.ours]) / max(median([c[1] for c in r.cp]), 1e-4)
        ours = median([o.total for o in r.ours])
        gen = median([o.generate for o in r.ours])
        cc = median([o.compile for o in r.ours])
        ar = median([o.archive for o in r.ours])
        gen_rss = max(o.gen_rss for o in r.ours)  # measured in the first round
        cc_rss = max(o.cc_rss for o in r.ours)
        if r.xxd:
            xt, xm, how = median([x[0] for x in r.xxd]), median([x[1] for x in r.xxd]), "measured"
        elif xxd_t:
            xt, xm, how = _fit(xxd_t, mib), _fit(xxd_m, mib), "extrapolated"
        else:
            xt = xm = float("nan")
            how = "n/a"
        cm = median([c[0] for c in r.cmake]) if r.cmake else float("nan")
        # Each round's add_mlf_library build over its own generate + compile + archive: the two
        # ran back to back, so the load they saw is the same.
        pairs = zip(r.cmake, r.ours, strict=False)
        cm_ratio = median([c[0] / o.total for c, o in pairs]) if r.cmake else None
        out["sizes"][mib] = {
            "cp_s": cp,
            "cpu_ratio": cpu_ratio,
            "ours_s": ours,
            "generate_s": gen,
            "compile_s": cc,
            "archive_s": ar,
            "gen_peak_rss": gen_rss,
            "cc_peak_rss": cc_rss,
            "xxd_s": xt,
            "xxd_cc_peak_rss": xm,
            "xxd_how": how,
            "cmake_build_s": cm,
            "cmake_ratio": cm_ratio,
            "rounds": len(r.ours),
        }
        rows.append(
            [
                f"{mib:g} MiB",
                fmt_s(cp),
                f"{fmt_s(ours)} ({fmt_s(gen)} + {fmt_s(cc)} + {fmt_s(ar)})",
                f"{ours / cp:.1f}x (CPU {cpu_ratio:.1f}x)",
                fmt_b(gen_rss),
                fmt_b(cc_rss),
                f"{fmt_s(xt)}, {fmt_b(xm)} ({how})",
                f"{xt / ours:.0f}x",
                f"{fmt_s(cm)} ({cm_ratio:.2f}x)" if cm_ratio is not None else "-",
            ]
        )
    print(
        table(
            rows,
            [
                "params",
                "cp (floor)",
                "mlf-build: gen + cc + ar",
                "vs cp (CPU time)",
                "generator peak RSS",
                "cc peak RSS",
                "xxd -i + gcc + ar (cc peak RSS)",
                "mlf-build faster by",
                "add_mlf_library ninja (vs gen + cc + ar)",
            ],
        )
    )
    xrows = [
        [f"{m:g} MiB", fmt_s(median([x[0] for x in r.xxd])), fmt_b(median([x[1] for x in r.xxd])), len(r.xxd)]
        for m, r in results.items()
        if r.xxd
    ]
    if xrows:
        print("\nxxd -i path, measured:\n")
        print(table(xrows, ["params", "xxd + gcc + ar", "compiler peak RSS", "rounds"]))
        rate = _fit(xxd_t, 2.0) - _fit(xxd_t, 1.0)
        mrate = _fit(xxd_m, 2.0) - _fit(xxd_m, 1.0)
        print(f"\nxxd path grows by {fmt_s(rate)} and {fmt_b(mrate)} of compiler memory per MiB (fit).")
    print(
        f"\nRounds: {rounds} (medians; cp, mlf-build{', add_mlf_library' if cmake_sizes else ''} and xxd "
        "side by side in each round, order rotated). mlf-build = `python -m mlf_build generate` "
        "(bytecode cached) + arm-none-eabi-gcc -Os -mcpu=cortex-m4 -c of the generated sources in "
        "parallel + `arm-none-eabi-ar rcs`. add_mlf_library = `ninja <lib>` of a configured CMake "
        "tree after `ninja -t clean` and `ninja mlf_runtime` (the models' check, generation, "
        "compile, partial link of the code + objcopy, CMake's archive rule); its ratio is the "
        "median of each round's add_mlf_library / mlf-build."
    )
    print(f"Parameter section: {sections_note}")
    if not shutil.which("xxd"):
        print(
            "xxd is not installed: bench/xxd_i.py wrote the same C text, and the xxd path's times "
            "count only its compile and archive steps."
        )
    big = max(sizes)
    b = out["sizes"][big]
    checks = [
        (
            f"mlf-build <= 10x cp at {big:g} MiB",
            b["ours_s"] / b["cp_s"] <= 10,
            f"{b['ours_s'] / b['cp_s']:.1f}x wall, {b['cpu_ratio']:.1f}x CPU",
        ),
        (
            "generator peak RSS <= 100 MiB at every size",
            all(v["gen_peak_rss"] <= 100 * MIB for v in out["sizes"].values()),
            ", ".join(fmt_b(v["gen_peak_rss"]) for v in out["sizes"].values()),
        ),
    ]
    if b["cmake_ratio"] is not None:
        checks.append(
            (
                f"add_mlf_library <= 1.3x generate + compile + archive at {big:g} MiB",
                b["cmake_ratio"] <= 1.3,
                f"{b['cmake_ratio']:.2f}x ({fmt_s(b['cmake_build_s'])} vs {fmt_s(b['ours_s'])})",
            )
        )
    if 16 in out["sizes"]:
        s16 = out["sizes"][16]
        checks.append(
            (
                f">= 100x faster than xxd+gcc at 16 MiB ({s16['xxd_how']})",
                s16["xxd_s"] / s16["ours_s"] >= 100,
                f"{s16['xxd_s'] / s16['ours_s']:.0f}x",
            )
        )
    print()
    for what, ok, value in checks:
        print(f"target: {what}: {value} -> {verdict(ok)}")
    out["checks"] = [{"what": w, "ok": ok, "value": v} for w, ok, v in checks]
    return out
