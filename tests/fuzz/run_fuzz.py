"""Coverage-guided fuzzing of mlf_build's input parsers with atheris (libFuzzer for Python).

    python tests/fuzz/run_fuzz.py [--runs N] [--targets tar,metadata,graph,params,model,csource,elf,ar]
                                  [--max-time SECONDS] [--seed S] [--keep DIR]

Runs every chosen target of tests/fuzz/targets.py for N executions (default: CI-sized, 2000)
in its own process, starting from seed inputs generated from the test fixtures (nothing binary
is committed), and prints one line per target with the executions done. JSON inputs (metadata,
graph, and JSON members in the model target) are mostly mutated structurally (a subtree replaced,
deleted, duplicated or spliced) by a custom mutator, the rest byte-wise by libFuzzer. A crash is any
exception other than MlfError, or a broken invariant; its input is saved and the script exits 1.
Long runs: ``--runs 200000`` (the model target is ~50x slower than the others; give it
``--runs-model``). ``--keep DIR`` keeps the grown corpora and any crash inputs in DIR.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALL_TARGETS = ("tar", "metadata", "graph", "params", "model", "csource", "elf", "ar")
CI_RUNS = 2000
MAX_LEN = {"tar": 1 << 16, "model": 1 << 16, "metadata": 1 << 14, "graph": 1 << 14, "params": 1 << 12}
MAX_LEN.update({"csource": 1 << 16, "elf": 1 << 16, "ar": 1 << 16})
#: an input that takes longer, or a process that grows larger, is a crash: the targets for
#: hostile inputs (tests/fuzz/measure_hostile.py); the fuzzing process itself holds some 60 MB
TIMEOUT_SECONDS = 10
RSS_LIMIT_MB = 500


def _child(target: str, corpus: Path, artifacts: Path, runs: int, max_time: int, seed: int) -> None:
    """Runs inside the fuzzing process: instrument mlf_build, then hand over to libFuzzer."""
    import atheris

    sys.path.insert(0, str(REPO))
    # An editable install imports mlf_build through its own finder (scikit-build-core's
    # _editable_skbc_*, setuptools' __editable__*), whose modules atheris's import hook does not
    # instrument: the fuzzer then ran blind (coverage 2). Without that finder mlf_build comes
    # from REPO through the standard path finder.
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
    with atheris.instrument_imports(include=["mlf_build", "tarfile"]):
        from tests.fuzz import targets
    loader = sys.modules["mlf_build.read.csource"].__loader__
    assert "editable" not in type(loader).__module__, f"mlf_build not instrumented: {loader}"

    fn = targets.TARGETS[target]
    if target == "model":
        targets.model_bases()  # export the fixtures before fuzzing starts, not inside an input

    def one_input(data: bytes) -> None:
        fn(data)

    args = [
        sys.argv[0],
        str(corpus),
        f"-runs={runs}",
        f"-max_len={MAX_LEN[target]}",
        f"-artifact_prefix={artifacts}/",
        f"-seed={seed}",
        f"-timeout={TIMEOUT_SECONDS}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        "-print_final_stats=1",
    ]
    if max_time:
        args.append(f"-max_total_time={max_time}")
    mutator = targets.MUTATORS.get(target)
    if mutator is None:
        atheris.Setup(args, one_input)
    else:
        # JSON inputs are mutated structurally most of the time (libFuzzer's byte mutations
        # otherwise rarely get past the JSON parser); the rest of the time byte-wise.
        def custom(data: bytes, max_size: int, seed: int) -> bytes:
            return mutator(data, max_size, seed, atheris.Mutate)

        atheris.Setup(args, one_input, custom_mutator=custom)
    atheris.Fuzz()


def _write_seeds(target: str, corpus: Path) -> int:
    sys.path.insert(0, str(REPO))
    from tests.fuzz import targets

    corpus.mkdir(parents=True, exist_ok=True)
    items = targets.seeds(target)
    for i, data in enumerate(items):
        (corpus / f"seed-{i:04d}").write_bytes(data)
    return len(items)


def run_target(
    target: str, runs: int, work: Path, max_time: int = 0, seed: int = 1, timeout: float | None = None
) -> dict[str, object]:
    """Fuzz one target in a child process; returns runs done, crash files, seconds, output."""
    corpus, artifacts = work / target / "corpus", work / target / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    n_seeds = _write_seeds(target, corpus)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        target,
        "--runs",
        str(runs),
        "--corpus",
        str(corpus),
        "--artifacts",
        str(artifacts),
        "--max-time",
        str(max_time),
        "--seed",
        str(seed),
    ]
    start = time.monotonic()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    # Started by a shell that forks it: a process's peak RSS (getrusage's ru_maxrss, which
    # libFuzzer holds to RSS_LIMIT_MB) starts at its parent's RSS when forked, and is kept across
    # exec; a pytest process of several GB made every target "out of memory" at once. A child
    # of the shell starts from the shell's few MB.
    shell = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]
    res = subprocess.run(shell + cmd, capture_output=True, text=True, timeout=timeout, env=env)
    seconds = time.monotonic() - start
    out = res.stdout + res.stderr
    done = re.findall(r"Done (\d+) runs", out)
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", out)
    crashes = sorted(str(p) for p in artifacts.iterdir())
    return {
        "target": target,
        "runs": int(done[-1]) if done else int(execs[-1]) if execs else 0,
        "seeds": n_seeds,
        "corpus": len(list(corpus.iterdir())),
        "crashes": crashes,
        "returncode": res.returncode,
        "seconds": seconds,
        "output": out,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=CI_RUNS, help=f"executions per target (default {CI_RUNS})")
    p.add_argument("--runs-model", type=int, help="executions for the (slow) model target")
    p.add_argument("--targets", default=",".join(ALL_TARGETS), help="comma-separated targets")
    p.add_argument("--max-time", type=int, default=0, help="stop each target after this many seconds")
    p.add_argument("--seed", type=int, default=1, help="libFuzzer seed (reproducible runs)")
    p.add_argument("--keep", type=Path, help="keep corpora and crash inputs in this folder")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--artifacts", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, args.corpus, args.artifacts, args.runs, args.max_time, args.seed)
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("run_fuzz: atheris is not installed (pip install atheris)", file=sys.stderr)
        return 2
    names = [t for t in args.targets.split(",") if t]
    unknown = [t for t in names if t not in ALL_TARGETS]
    if unknown:
        p.error(f"unknown targets {unknown}; choose from {', '.join(ALL_TARGETS)}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="mlf-fuzz-"))
    failed = False
    total = 0
    try:
        for t in names:
            runs = args.runs_model if t == "model" and args.runs_model is not None else args.runs
            r = run_target(t, runs, work, args.max_time, args.seed)
            total += int(r["runs"])  # type: ignore[call-overload]
            bad = r["crashes"] or r["returncode"] != 0
            print(
                f"{t:9s} {r['runs']:>9} executions  {r['seeds']:>4} seeds  corpus {r['corpus']:>5}  "
                f"{r['seconds']:7.1f} s  {'CRASH' if bad else 'ok'}",
                flush=True,
            )
            if bad:
                failed = True
                print(r["output"][-6000:], file=sys.stderr)
                for c in r["crashes"]:  # type: ignore[attr-defined]
                    print(f"run_fuzz: crash input: {c}", file=sys.stderr)
        print(f"total     {total:>9} executions")
    finally:
        if args.keep is None and not failed:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"run_fuzz: inputs kept in {work}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
