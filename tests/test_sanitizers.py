"""Runtime memory safety on the host: every fixture layout and corpus model of the firmware tests
(tests/test_firmware.py) built with AddressSanitizer and UndefinedBehaviorSanitizer, its smoke test
run once: no sanitizer report, and the smoke test's own checks hold (the planned arena suffices,
one byte less is refused with MLF_ERR_WORKSPACE_TOO_SMALL, guard bytes around the arena and the
outputs stay intact, inputs are not written, the library's static arena gives the same outputs).
Under ASan the smoke test also poisons its guard regions while the model runs, so reading them is
caught too, not only overwriting them.

The same smoke test runs on Cortex-M3/M4F under QEMU in tests/test_firmware.py, where its guard
bytes are the check (no sanitizers there).

Every finding is an error (-fno-sanitize-recover=all), with one narrow exception for TVM's own
generated C: its quantized arithmetic (fixed_point_multiply lowering, e.g. the CIFAR int8 models
of the corpus) left-shifts negative int64 values, ``((int64_t)(x - 4)) << 2``. ISO C leaves that
undefined; GCC defines it ("GCC does not use the latitude given in C99 and C11 only to treat
certain aspects of signed '<<' as undefined", GCC manual, Integers implementation) and so does
Clang in practice; -fsanitize=shift still reports it. So TVM's translation units (the generated
wrappers codegen/<t>__*.c and crt/<t>__*.c, nothing of mlf_build's) are compiled with
-fno-sanitize=shift-base by add_mlf_library() itself (so users' sanitized builds get the same);
every other check stays on for them, and everything stays on for mlf_build's runtime, runner and
data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import needs_cmake, needs_host_cc
from tests.firmware import HARNESS, Smoke, build, configure, run_firmware
from tests.test_firmware import TARGETS, _model_path

pytestmark = [needs_cmake, needs_host_cc, pytest.mark.slow]

SANITIZE = "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
SPECS = TARGETS["host"]


@pytest.fixture(scope="module")
def sanitized(fixture_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set]:  # type: ignore[type-arg]
    tmp = tmp_path_factory.mktemp("sanitized")
    entries, built = [], set()
    for spec in SPECS:
        path = _model_path(spec, "host", fixture_models, tmp)
        if path is None:
            continue
        built.add(spec.name)
        entries.append("|".join([spec.name, str(path), *spec.args]))
    bdir = tmp / "build"
    configure(
        HARNESS,
        bdir,
        "host",
        {
            "MLF_MODELS": ";".join(entries),
            "CMAKE_C_FLAGS": SANITIZE,
            "CMAKE_EXE_LINKER_FLAGS": SANITIZE,
            "CMAKE_BUILD_TYPE": "Debug",  # -O0: sanitizers see every access
        },
    )
    build(bdir)
    # add_mlf_library's exception reached TVM's files and nothing else.
    excepted = [
        block.split(" || ")[0].split()[-1]
        for block in (bdir / "build.ninja").read_text().split("\nbuild ")
        if "-fno-sanitize=shift-base" in block
    ]
    assert excepted, "no TVM file got -fno-sanitize=shift-base"
    assert all(re.search(r"/mlf/(\w+)/(codegen|crt)/\1__[^/]+\.c$", src) for src in excepted), excepted
    return bdir, built


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS])
def test_smoke_under_asan_and_ubsan(sanitized: tuple[Path, set], spec) -> None:  # type: ignore[no-untyped-def, type-arg]
    bdir, built = sanitized
    if spec.name not in built:
        pytest.skip(f"{spec.name} is not built (MLF corpus missing?)")
    env_before = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:halt_on_error=1"
    os.environ["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    try:
        res = run_firmware(bdir / f"{spec.name}_smoke", "host")
    finally:
        if env_before is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = env_before
        os.environ.pop("UBSAN_OPTIONS", None)
    report = res.stdout + res.stderr
    assert "runtime error:" not in report and "ERROR: " not in report, report[-4000:]
    assert res.returncode == 0, report[-4000:]
    assert "mlf-smoke: guard regions poisoned (AddressSanitizer)" in res.stdout
    s = Smoke.parse(res.stdout)
    assert s.passed and s.status == 0, report[-3000:]
    assert 0 <= s.peak <= s.workspace
    if s.peak:
        assert s.short_status == 2  # MLF_ERR_WORKSPACE_TOO_SMALL
