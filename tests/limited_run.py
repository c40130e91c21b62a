"""Run ``mlf-build`` in a child process under CPU-time and address-space limits.

A safety net for the hostile-input tests: an input that made the tool loop or swell is stopped
by the kernel (SIGXCPU, or a MemoryError at the address-space limit) instead of hanging the test
run, and the test fails on the exit status. The limits are far above what any case needs; the
time and memory each case takes are printed by tests/fuzz/measure_hostile.py, never asserted
(timings depend on the machine). POSIX only (``resource``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

#: seconds of CPU time a child may use (the target for hostile inputs is about 10 s)
CPU_SECONDS = 60
#: bytes of address space a child may map (the target for hostile inputs is 500 MB resident)
ADDRESS_SPACE = 1 << 30

# Sets the limits on itself, then runs the CLI as `python -m mlf_build` would.
_LAUNCHER = (
    "import resource, runpy, sys\n"
    "cpu, space = int(sys.argv[1]), int(sys.argv[2])\n"
    "resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))\n"
    "resource.setrlimit(resource.RLIMIT_AS, (space, space))\n"
    "sys.argv = ['mlf-build', *sys.argv[3:]]\n"
    "runpy.run_module('mlf_build', run_name='__main__', alter_sys=True)\n"
)


@dataclass
class LimitedRun:
    code: int  # exit status; -N when killed by signal N (SIGXCPU: the CPU limit)
    out: str
    err: str


def limited_command(
    args: Sequence[str | os.PathLike[str]], cpu: int = CPU_SECONDS, address_space: int = ADDRESS_SPACE
) -> list[str]:
    """The command line that runs ``mlf-build ARGS`` under the limits."""
    return [sys.executable, "-c", _LAUNCHER, str(cpu), str(address_space), *map(os.fspath, args)]


def run_limited(args: Sequence[str | os.PathLike[str]]) -> LimitedRun:
    """``mlf-build ARGS`` in a child process under the limits: its exit status and output."""
    res = subprocess.run(limited_command(args), capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return LimitedRun(
        res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")
    )
