"""Time and memory of every hostile input, each run in a child process.

    python tests/fuzz/measure_hostile.py [--only dos-,abi-] [--json FILE]

Builds each case of tests/hostile_cases.py (refused and accepted) and runs its commands as
tests/test_hostile_inputs.py does, under the same CPU-time and address-space limits
(tests/limited_run.py), printing one line per run: exit status, wall and CPU seconds, peak
resident memory, and whether the outcome is the expected one (the case's one-line error, or
exit 0 for an accepted input). Then the slowest
and the largest run. Exits 1 when a run is not as expected or beyond the targets for a small
hostile input (--max-seconds, --max-rss). Figures, not tests: they depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.common import run_rss  # noqa: E402
from tests.hostile_cases import Accepted, Case, accepted_cases, cases  # noqa: E402
from tests.limited_run import ADDRESS_SPACE, CPU_SECONDS, limited_command  # noqa: E402

MIB = 1 << 20


@dataclass
class Measure:
    case: str
    command: str
    code: int
    wall: float
    cpu: float
    rss: int
    ok: bool
    line: str


def case_args(case: Case | Accepted, command: str, inputs: Path, model: Path, out: Path) -> list[str]:
    """The command line tests/test_hostile_inputs.py runs for one command of a case."""
    args = [command, str(model), *(a.replace("{in}", str(inputs)) for a in case.extra_args)]
    if command == "generate":
        args += ["--out", str(out)]
        if "--name" not in case.extra_args:
            args += ["--name", "net"]
    return args


def measure(case: Case | Accepted, work: Path, cpu: int, space: int) -> list[Measure]:
    inputs = work / "in"
    inputs.mkdir(parents=True)
    model = case.build(inputs)
    found = []
    # the --out a case names (e.g. the model's own folder), else a folder of its own
    named = case.out if isinstance(case, Case) else None
    out = work / "out" if named is None else Path(named.replace("{in}", str(inputs)))
    for command in case.commands:
        args = case_args(case, command, inputs, model, out)
        r = run_rss(limited_command(args, cpu, space), check=False, timeout=cpu * 10)
        err = r.stderr.strip()
        if isinstance(case, Accepted):
            ok = r.returncode == 0 and "error:" not in err
        else:
            ok = r.returncode == 2 and err.count("\n") == 0 and case.expect in err
        line = err.splitlines()[-1] if err else ""
        found.append(Measure(case.id, command, r.returncode, r.seconds, r.cpu, r.peak_rss, ok, line[:160]))
        shutil.rmtree(work / "out", ignore_errors=True)
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated prefixes of case ids (default: every case)")
    p.add_argument("--cpu", type=int, default=CPU_SECONDS, help="CPU-second limit of each run")
    p.add_argument("--memory", type=int, default=ADDRESS_SPACE, help="address-space limit in bytes")
    p.add_argument("--max-seconds", type=float, default=10.0, help="target wall time of one run")
    p.add_argument("--max-rss", type=int, default=500, help="target peak RSS of one run, in MiB")
    p.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = p.parse_args(argv)
    prefixes = tuple(args.only.split(",")) if args.only else ("",)
    chosen: list[Case | Accepted] = [c for c in [*cases(), *accepted_cases()] if c.id.startswith(prefixes)]
    results: list[Measure] = []
    print(f"{'case':42} {'command':10} {'exit':>4} {'wall s':>7} {'cpu s':>7} {'RSS MiB':>8}  outcome")
    for case in chosen:
        with tempfile.TemporaryDirectory(prefix="mlf-hostile-") as tmp:
            for m in measure(case, Path(tmp), args.cpu, args.memory):
                results.append(m)
                verdict = "ok" if m.ok else "UNEXPECTED"
                print(
                    f"{m.case:42} {m.command:10} {m.code:>4} {m.wall:7.2f} {m.cpu:7.2f} {m.rss / MIB:8.1f}  "
                    f"{verdict}: {m.line[:90]}",
                    flush=True,
                )
    if not results:
        print("no case chosen", file=sys.stderr)
        return 2
    slow = max(results, key=lambda m: m.wall)
    big = max(results, key=lambda m: m.rss)
    over = [m for m in results if m.wall > args.max_seconds or m.rss > args.max_rss * MIB]
    bad = [m for m in results if not m.ok]
    print(
        f"{len(results)} runs of {len(chosen)} cases; "
        f"slowest {slow.wall:.2f} s ({slow.case} {slow.command}); "
        f"largest {big.rss / MIB:.1f} MiB ({big.case} {big.command}); "
        f"{len(over)} beyond {args.max_seconds:g} s or {args.max_rss} MiB; {len(bad)} unexpected"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in results], indent=1) + "\n")
    return 1 if over or bad else 0


if __name__ == "__main__":
    sys.exit(main())
