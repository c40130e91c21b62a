"""The benchmark driver behind ``bench/run``: runs the sections, prints every figure with its ratio
and a summary of the targets. See bench/README.md for the figures and what bounds them."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common, crt, embed, footprint, gentime, incremental  # noqa: E402

SECTIONS = ("embed", "incremental", "bazel", "footprint", "crt", "gentime")


def _tool_version(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        return "missing"
    try:
        r = common.run(cmd, check=False, timeout=120)
    except Exception as exc:  # pragma: no cover - a tool that hangs or crashes
        return f"error ({exc})"
    text = (r.stdout + r.stderr).strip().splitlines()
    return text[0][:80] if text else "?"


def machine() -> None:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), load {load}")
    print(f"python: {sys.version.split()[0]} ({sys.executable})")
    for name, cmd in (
        ("arm-none-eabi-gcc", ["arm-none-eabi-gcc", "--version"]),
        ("binutils", ["arm-none-eabi-ar", "--version"]),
        ("cmake", ["cmake", "--version"]),
        ("ninja", ["ninja", "--version"]),
        ("qemu", ["qemu-system-arm", "--version"]),
    ):
        print(f"{name}: {_tool_version(cmd)}")


def _remove(folder: Path) -> None:
    """rmtree that also removes what Bazel leaves read-only in its output root."""

    def writable(func, path, _exc):  # type: ignore[no-untyped-def]
        os.chmod(os.path.dirname(path), 0o755)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o755)
        func(path)

    try:
        shutil.rmtree(folder, onerror=writable)
    except OSError as exc:
        print(f"note: could not remove all of {folder}: {exc}")


def _figures(results: dict[str, dict]) -> list[str]:  # type: ignore[type-arg]
    """The footprint and CRT figures side by side (ratios, no targets)."""
    lines = []
    models = (results.get("footprint") or {}).get("models", {})
    if models:
        glue = ", ".join(f"{name} {m['glue_flash']:,} B" for name, m in models.items())
        lines.append(f"- [footprint] glue flash per model: {glue}")
        over = [
            f"{n} {m['instructions']['overhead_pct']:.2f} %" for n, m in models.items() if "instructions" in m
        ]
        if over:
            lines.append(f"- [footprint] runtime overhead over TVM's code, instructions: {', '.join(over)}")
    crt = results.get("crt") or {}
    if "crt" in crt and "ours" in crt:
        (cf, cr), (of, orr) = crt["crt"], crt["ours"]
        line = f"- [crt] CRT / mlf_build: flash {cf / of:.2f}x ({cf:,} vs {of:,} B), RAM {cr / orr:.2f}x"
        counts = crt.get("instructions") or {}
        if counts:
            c, o = counts["crt"], counts["ours"]
            ratio = c["total"] / o["total"]
            line += (
                f", instructions per inference {ratio:.3f}x ({c['total']:,} vs {o['total']:,});"
                f" runtime overhead over the operators {o['overhead_pct']:.2f} %"
                f" (CRT {c['overhead_pct']:.2f} %)"
            )
        lines.append(line)
    return ["\nFigures:", *lines] if lines else []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a ~1 minute subset (fewer sizes and rounds)")
    ap.add_argument(
        "--dry", action="store_true", help="the smallest run of every code path (proves the script works)"
    )
    ap.add_argument("--only", default="", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    ap.add_argument("--skip", default="", help="comma-separated sections to leave out")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed after)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args(argv)

    chosen = [s for s in (args.only.split(",") if args.only else SECTIONS) if s]
    unknown = [s for s in chosen + args.skip.split(",") if s and s not in SECTIONS]
    if unknown:
        ap.error(f"unknown sections: {', '.join(unknown)}")
    chosen = [s for s in chosen if s not in args.skip.split(",")]
    if args.dry:
        # No Bazel server and no CRT build in a dry run: the smoke test stays under a minute.
        chosen = [s for s in chosen if s not in ("bazel", "crt")]

    work = args.work or Path(tempfile.mkdtemp(prefix="mlf-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    mode = "dry run (figures not meaningful)" if args.dry else "quick" if args.quick else "full"
    print(f"# mlf_build benchmarks ({mode})\n")
    machine()
    print(f"work folder: {work}")
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    try:
        if "embed" in chosen:
            if args.dry:
                results["embed"] = embed.bench(work / "embed", [1], [0.25], 1, cmake_sizes=[1])
            elif args.quick:
                results["embed"] = embed.bench(work / "embed", [1, 16, 64], [1, 4], 3, cmake_sizes=[64])
            else:
                sizes = [1, 16, 64]
                results["embed"] = embed.bench(work / "embed", sizes, [1, 4, 16], 7, cmake_sizes=sizes)
        if "incremental" in chosen:
            n, rounds = (2, 3) if args.dry else (10, 21 if args.quick else 41)
            results["incremental"] = incremental.bench_cmake(work / "incremental", rounds, n)
        if "bazel" in chosen and not args.quick:
            results["bazel"] = incremental.bench_bazel(
                work / "bazel", work / "incremental" / "with-models", 10
            )
        elif "bazel" in chosen:
            common.section("2b. Incremental builds (Bazel)")
            print("skipped in --quick (a Bazel server start and full build take a minute or more)")
        if "footprint" in chosen:
            results["footprint"] = footprint.bench(work / "footprint", quick=args.quick or args.dry)
        if "crt" in chosen:
            results["crt"] = crt.bench(work / "crt")
        if "gentime" in chosen:
            if args.dry:
                results["gentime"] = gentime.bench(work / "gentime", 1, only=1)
            else:
                results["gentime"] = gentime.bench(work / "gentime", 3 if args.quick else 5)
    finally:
        if args.work is None:
            _remove(work)

    common.section("Summary")
    checks = [(name, c) for name, r in results.items() for c in (r or {}).get("checks", [])]
    for name, c in checks:
        value = f": {c['value']}" if c.get("value") else ""
        print(f"- [{name}] {c['what']}{value} -> {common.verdict(c['ok'])}")
    for line in _figures(results):
        print(line)
    met = sum(1 for _, c in checks if c["ok"])
    print(f"\n{len(checks)} targets, {met} met; took {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
