"""4. Generation time of every corpus item: median of N cold ``mlf-build generate`` processes
(bytecode cached, as an installed package has it), against the time to start the interpreter
and import the generator, so the rest is the work the model costs. Items whose own work takes
longer than SLOW seconds get a profile of where it goes."""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import sys
from pathlib import Path

from .common import CORPUS, fmt_b, fmt_s, generator_cmd, generator_env, median, run, run_rss, section, table

SLOW = 0.5


def items() -> list[tuple[str, Path]]:
    if not CORPUS.is_dir():
        return []
    out = []
    for d in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        tars = sorted(d.glob("*.tar"))
        if len(tars) == 1:
            out.append((d.name, tars[0]))
    return out


def _profile(tar: Path, out: Path) -> str:
    from mlf_build.generate import Options, generate

    shutil.rmtree(out, ignore_errors=True)
    prof = cProfile.Profile()
    prof.enable()
    generate(tar, out, Options(name="m"))
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(8)
    return s.getvalue()


def bench(work: Path, reps: int, only: int | None = None) -> dict:
    section(f"4. Generation time of every corpus item (median of {reps} cold processes)")
    todo = items()[:only] if only else items()
    if not todo:
        print(f"skipped: no corpus at {CORPUS}")
        return {}
    cache = work / "pycache"
    env = generator_env(cache)
    run([*generator_cmd(), "--version"], env=env)  # bytecode compiled once
    base = []
    times: dict[str, list[float]] = {n: [] for n, _ in todo}
    rss: dict[str, int] = {}
    errors: dict[str, str] = {}
    for _ in range(reps):
        base.append(run([sys.executable, "-c", "import mlf_build.cli, mlf_build.generate"], env=env).seconds)
        for name, tar in todo:
            out = work / name
            shutil.rmtree(out, ignore_errors=True)
            r = run([*generator_cmd(), "generate", tar, "--name", "m", "--out", out], env=env, check=False)
            if r.returncode != 0:
                errors[name] = (
                    r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
                )
                continue
            times[name].append(r.seconds)
            if name not in rss:  # once, apart from the timed runs
                shutil.rmtree(out, ignore_errors=True)
                g_args = [*generator_cmd(), "generate", tar, "--name", "m", "--out", out]
                rss[name] = run_rss(g_args, env=env).peak_rss
    b = median(base)
    rows = []
    slow = []
    for name, tar in todo:
        if name in errors and not times[name]:
            rows.append([name, fmt_b(tar.stat().st_size), "fails (below)", "", ""])
            continue
        t = median(times[name])
        rows.append([name, fmt_b(tar.stat().st_size), fmt_s(t), fmt_s(max(t - b, 0.0)), fmt_b(rss[name])])
        if t - b > SLOW:
            slow.append((name, tar))
    print(table(rows, ["corpus item", "tar", "generate (median)", "minus start-up", "peak RSS"]))
    for name, err in errors.items():
        print(f"\n{name}: {err}")
    print(f"\nStart-up (python + import of the generator), median: {fmt_s(b)}.")
    for name, tar in slow:
        print(f"\n{name} is slow; profile of one generation:\n")
        print(_profile(tar, work / f"{name}-profile"))
    if not slow:
        print(f"No item spends more than {fmt_s(SLOW)} beyond start-up: no breakdown needed.")
    return {
        "startup_s": b,
        "items": {n: median(v) for n, v in times.items() if v},
        "errors": errors,
    }
