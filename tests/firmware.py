"""Building model libraries with CMake for the host and Cortex-M, running their generated
smoke tests (natively or under QEMU) and reading what they print."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "tests" / "harness"
TOOLCHAIN = REPO / "cmake" / "toolchains" / "arm-none-eabi.cmake"
QEMU_MACHINE = {
    "cortex-m0plus": "mps2-an385",
    "cortex-m3": "mps2-an385",
    "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
}
ARM_CFLAGS = {
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"],
}


def cmake_exe() -> str:
    return os.environ.get("MLF_TEST_CMAKE") or shutil.which("cmake") or "cmake"


def run(
    cmd: list[str], cwd: Path | None = None, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n"
            f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
        )
    return res


def configure(
    source: Path,
    build: Path,
    target: str = "host",
    defs: dict[str, str] | None = None,
    cmake: str | None = None,
    check: bool = True,
    generator: str = "Ninja",
) -> subprocess.CompletedProcess[str]:
    """Configure a CMake project against this checkout's mlf_build package. ``target`` is
    "host" or a Cortex-M CPU name (then the project's toolchain file is used)."""
    cmd = [
        cmake or cmake_exe(),
        "-S",
        source,
        "-B",
        build,
        "-G",
        generator,
        f"-DCMAKE_PREFIX_PATH={REPO / 'cmake'}",
        f"-DMLF_BUILD_PYTHON={sys.executable}",
        "-DMLF_BUILD_WERROR=ON",
        "--warn-uninitialized",
        "-Werror=dev",
    ]
    if target != "host":
        cmd += [
            f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}",
            f"-DMLF_ARM_CPU={target}",
            "-DCMAKE_BUILD_TYPE=MinSizeRel",
        ]
    else:
        cmd += ["-DCMAKE_BUILD_TYPE=Release"]
    cmd += [f"-D{k}={v}" for k, v in (defs or {}).items()]
    return run(cmd, check=check)


def configure_error(tmp: Path, call: str) -> str:
    """Configure, for the host, a project whose only content is ``call`` (an add_mlf_library()
    line), expecting it to fail: its stderr as one line (CMake wraps long messages)."""
    src = tmp / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(p C)\nfind_package(mlf_build CONFIG REQUIRED)\n"
        f"{call}\n"
    )
    res = configure(src, tmp / "build", check=False)
    assert res.returncode != 0, res.stdout[-2000:]
    return " ".join(res.stderr.split())


def build(build_dir: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return run([cmake_exe(), "--build", build_dir, "--", *targets])


def run_firmware(elf: Path, target: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a program built for ``target``: natively, or under qemu-system-arm."""
    if target == "host":
        return run([elf], timeout=timeout, check=False)
    cmd = [
        "qemu-system-arm",
        "-M",
        QEMU_MACHINE[target],
        "-nographic",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
        elf,
    ]
    # QEMU's -nographic makes its stdout non-blocking and drops what a full pipe refuses, so a
    # long semihosting output (a large model's outputs in hex) loses bytes when the reader lags
    # on a busy machine: collect it in a file instead.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        res = subprocess.run([str(c) for c in cmd], stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            res.args, res.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        )


@dataclass
class Smoke:
    """What mlf_smoke.c printed."""

    text: str
    workspace: int = 0
    status: int = -1
    peak: int = -1
    scratch: int = -1  # the most operator scratch held at once
    short_status: int | None = None
    outputs: list[tuple[str, bytes]] = field(default_factory=list)
    passed: bool = False

    @classmethod
    def parse(cls, text: str) -> Smoke:
        s = cls(text)
        for line in text.splitlines():
            if m := re.match(r"mlf-smoke: model \S+ inputs \d+ outputs \d+ workspace (\d+)", line):
                s.workspace = int(m.group(1))
            elif m := re.match(r"mlf-smoke: status (-?\d+) peak (\d+) scratch (\d+)", line):
                s.status, s.peak, s.scratch = int(m.group(1)), int(m.group(2)), int(m.group(3))
            elif m := re.match(r"mlf-smoke: short-arena \d+ status (-?\d+)", line):
                s.short_status = int(m.group(1))
            elif m := re.match(r"mlf-smoke: output \d+ (\S+) (\d+) (.*)$", line):
                bad = re.search(r"[^0-9a-f]", m.group(3))
                near = m.group(3)[bad.start() - 40 : bad.start() + 80] if bad else ""
                assert bad is None, f"garbled output line near {near!r}"
                data = bytes.fromhex(m.group(3))
                assert len(data) == int(m.group(2)), line[:80]
                s.outputs.append((m.group(1), data))
            elif line == "mlf-smoke: PASS":
                s.passed = True
        return s

    def arrays(self) -> list[np.ndarray]:
        return [np.frombuffer(data, dtype=_NUMPY.get(dtype, "u1")) for dtype, data in self.outputs]


_NUMPY = {
    "float32": "<f4",
    "float64": "<f8",
    "int8": "i1",
    "uint8": "u1",
    "int16": "<i2",
    "uint16": "<u2",
    "int32": "<i4",
    "uint32": "<u4",
    "int64": "<i8",
    "uint64": "<u8",
}


def smoke_inputs(inputs: list[tuple[str, int]]) -> list[np.ndarray]:
    """The inputs mlf_smoke.c feeds a model, from (dtype, nbytes) per input (see its header)."""
    out = []
    for i, (dtype, nbytes) in enumerate(inputs):
        s = (0x9E3779B9 ^ (i + 1)) & 0xFFFFFFFF
        itemsize = np.dtype(_NUMPY.get(dtype, "u1")).itemsize
        n = nbytes // itemsize
        xs = np.empty(n, dtype=np.uint32)
        for k in range(n):
            s ^= (s << 13) & 0xFFFFFFFF
            s ^= s >> 17
            s ^= (s << 5) & 0xFFFFFFFF
            xs[k] = s
        if dtype == "float32":
            vals = ((xs >> 8) & 0xFFFF).astype(np.float32) / np.float32(32768.0) - np.float32(1.0)
            out.append(vals.astype(np.float32))
        else:
            raw = np.zeros((n, itemsize), dtype=np.uint8)
            for b in range(itemsize):
                raw[:, b] = (xs >> np.uint32(8 * (b % 4))) & 0xFF
            out.append(raw.reshape(-1).view(_NUMPY.get(dtype, "u1")))
    return out


def model_arena(model: Path) -> int:
    """The arena bytes of a one-module model, as `mlf-build inspect --json` reports them."""
    res = run([sys.executable, "-m", "mlf_build", "inspect", "--json", model], cwd=REPO)
    (module,) = json.loads(res.stdout)["modules"]
    return int(module["arena"]["bytes"])


def assert_smoke_runs_waveform(s: Smoke, model: Path, factor: float = 1.0) -> None:
    """A smoke run (mlf_smoke.c) of <model>, an export of the waveform fixture with every
    parameter times <factor> (tests.mlf_factory.reweighted): it passed, its arena is the model's,
    and its outputs are numpy's for the smoke test's inputs."""
    from tests import fixtures
    from tests.fixtures.model import waveform_forward_f32

    assert s.passed and s.workspace == model_arena(model), s.text
    weights = {k: v * np.float32(factor) for k, v in fixtures.load_weights("waveform").items()}
    logits, probs = waveform_forward_f32(weights, smoke_inputs([("float32", 128)])[0].reshape(1, 1, 32))
    assert_outputs_close(s.arrays(), [logits.reshape(-1), probs.reshape(-1)], f"{model.name} x{factor}")


def assert_outputs_close(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want), what
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        g, w = np.asarray(g).reshape(-1), np.asarray(w).reshape(-1)
        assert g.shape == w.shape, f"{what}: output {k} has {g.size} values, expected {w.size}"
        if g.dtype.kind == "f":
            np.testing.assert_allclose(
                g, w.astype(g.dtype), rtol=1e-5, atol=1e-6, err_msg=f"{what}: output {k}"
            )
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what}: output {k}")
