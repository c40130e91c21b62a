"""Helpers shared by the benchmarks: running commands with their wall time and peak memory,
medians, the ARM compiler flags, and printing."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNTIME_INCLUDE = REPO / "mlf_build" / "runtime" / "include"
TOOLCHAIN = REPO / "cmake" / "toolchains" / "arm-none-eabi.cmake"
CORPUS = Path(os.environ.get("MLF_CORPUS", REPO.parent / "shared" / "mlf-corpus"))
# -Os for Cortex-M4F, as cmake/toolchains/arm-none-eabi.cmake + CMAKE_BUILD_TYPE=MinSizeRel give.
ARM_CPU_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
ARM_CFLAGS = [*ARM_CPU_FLAGS, "-Os", "-ffunction-sections", "-fdata-sections"]
ARM_GCC = "arm-none-eabi-gcc"
ARM_AR = "arm-none-eabi-ar"
MIB = 1 << 20


@dataclass
class Run:
    """One finished command: wall seconds, peak RSS in bytes (the largest of the process and
    every descendant it waited for), exit code and output."""

    seconds: float
    peak_rss: int
    returncode: int
    stdout: str = ""
    stderr: str = ""
    cpu: float = 0.0  # user + system seconds of the process and its descendants


def run(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float | None = 1800,
) -> Run:
    """Run ``cmd``; its rusage comes from wait4(), so it is this child's alone (not the sum
    of everything the benchmark started before)."""
    args = [str(c) for c in cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Read the pipes on the side so that a chatty child cannot block on a full pipe.
    out_parts: list[str] = []
    err_parts: list[str] = []

    def drain(stream, parts):  # type: ignore[no-untyped-def]
        for chunk in iter(lambda: stream.read(65536), ""):
            parts.append(chunk)

    threads = [
        threading.Thread(target=drain, args=(proc.stdout, out_parts), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, err_parts), daemon=True),
    ]
    for t in threads:
        t.start()
    timer = threading.Timer(timeout, proc.kill) if timeout else None
    if timer:
        timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if timer:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    res = Run(
        seconds,
        usage.ru_maxrss * 1024,
        proc.returncode,
        "".join(out_parts),
        "".join(err_parts),
        usage.ru_utime + usage.ru_stime,
    )
    if check and res.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        )
    return res


_RSS_HELPER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "sys.stderr.write('mlf-bench-rss %d\\n' % usage.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_rss(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = 1800,
    check: bool = True,
) -> Run:
    """``run`` with a true peak RSS (bytes) of ``cmd`` and the processes it waits for.

    The ru_maxrss our own wait4() reports would include the benchmark's RSS (the kernel carries
    the parent's high-water mark across vfork + exec), so the command runs under GNU time, or
    else under a small forking helper (then the figure has a floor of the helper's ~8 MiB).
    The wrapper adds about a millisecond to the wall time."""
    args = [str(c) for c in cmd]
    if Path("/usr/bin/time").exists():
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
            r = run(
                ["/usr/bin/time", "-f", "%M", "-o", out.name, *args],
                cwd=cwd,
                env=env,
                check=check,
                timeout=timeout,
            )
            # GNU time writes nothing when it is killed itself (timeout)
            r.peak_rss = int((Path(out.name).read_text().split() or ["0"])[-1]) * 1024
            return r
    r = run(
        [sys.executable, "-S", "-E", "-c", _RSS_HELPER, *args], cwd=cwd, env=env, check=check, timeout=timeout
    )
    r.peak_rss = int(r.stderr.rsplit("mlf-bench-rss ", 1)[1].split()[0]) * 1024
    return r


def run_parallel(cmds: Sequence[Sequence[str | os.PathLike[str]]], cwd: Path | None = None) -> Run:
    """Run commands at once (as a build tool with -j<cores> would); wall time of the batch,
    largest peak RSS of any one."""
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for cmd in cmds
    ]
    peak = 0
    cpu = 0.0
    failed = []
    for cmd, p in zip(cmds, procs, strict=True):
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        peak = max(peak, usage.ru_maxrss * 1024)
        cpu += usage.ru_utime + usage.ru_stime
        if p.returncode:
            assert p.stderr is not None
            failed.append(f"{' '.join(map(str, cmd))}:\n{p.stderr.read().decode()[-3000:]}")
    seconds = time.perf_counter() - t0
    for p in procs:
        for s in (p.stdout, p.stderr):
            if s:
                s.close()
    if failed:
        raise RuntimeError("\n".join(failed))
    return Run(seconds, peak, 0, cpu=cpu)


def generator_cmd() -> list[str]:
    """``mlf-build`` from this checkout, run by this interpreter."""
    return [sys.executable, "-m", "mlf_build"]


def generator_env(cache: Path) -> dict[str, str]:
    """The environment for generator runs: this checkout first on the path, bytecode cached in
    ``cache`` (an installed wheel has its bytecode compiled at install time; a source checkout
    under PYTHONDONTWRITEBYTECODE would recompile every module on every run)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def configure_cortex_m4(src: Path, build: Path, extra: Sequence[str] = ()) -> Run:
    """A fresh CMake tree of ``src`` for Cortex-M4F (MinSizeRel) against this checkout's package,
    the generator run by this Python: the configuration every CMake figure is measured with."""
    shutil.rmtree(build, ignore_errors=True)
    return run(
        [
            "cmake",
            "-S",
            src,
            "-B",
            build,
            "-G",
            "Ninja",
            f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}",
            f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}",
            "-DMLF_ARM_CPU=cortex-m4",
            "-DCMAKE_BUILD_TYPE=MinSizeRel",
            f"-DMLF_BUILD_PYTHON={sys.executable}",
            *extra,
        ]
    )


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def have(*tools: str) -> list[str]:
    """The tools of ``tools`` that are missing."""
    return [t for t in tools if shutil.which(t) is None]


def fmt_s(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.0f} ms"


def fmt_b(n: float) -> str:
    if n != n:  # NaN
        return "n/a"
    if n >= MIB:
        return f"{n / MIB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{int(n)} B"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for k, r in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)
