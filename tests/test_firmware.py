"""Every fixture layout and every buildable corpus model, built with add_mlf_library() for the
host and for Cortex-M4F (and the fixtures for Cortex-M3 too), run through the generated smoke
test natively and under QEMU: outputs equal across targets (exactly for integers, 1e-5 relative
for floats), equal to the numpy reference for the project's own models, and the arena contract
holds (the planned size suffices, one byte less than used is refused, guards stay intact)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import fixtures
from tests.conftest import corpus_dir, corpus_item, needs_arm, needs_cmake
from tests.firmware import (
    ARM_CFLAGS,
    HARNESS,
    Smoke,
    assert_outputs_close,
    build,
    configure,
    run_firmware,
    smoke_inputs,
)

pytestmark = [needs_cmake, pytest.mark.slow]


@dataclass(frozen=True)
class Spec:
    name: str  # library (and C prefix)
    source: str  # fixture layout or corpus item
    args: tuple[str, ...] = ()
    module: str = "default"
    reference: str | None = None  # fixture model for the numpy reference
    corpus: bool = False
    llvm: bool = False


IO_SHAPES = {
    "v5-aot-c": ("IO_SHAPES", "logits=1x4", "probs=1x4"),
    "v5-aot-packed": ("IO_SHAPES", "output=1x4", "output1=1x4"),
}


def _fixture_specs() -> list[Spec]:
    specs = []
    for layout in fixtures.LAYOUTS:
        info = fixtures.layout_info(layout)
        if info["executor"] is None:
            continue  # operator-style export: nothing to run (tested in test_generate)
        if info["devices"]:
            continue  # needs an NPU: built and linked for Cortex-M55 by the device tests
        for module in info["modules"]:
            model = info["module_models"][module]
            args = IO_SHAPES.get(layout, ())
            if len(info["modules"]) > 1:
                args = (*args, "MODULE", module)
            if layout == "v7-aot-llvm":
                args = (*args, "AOT_API", "unpacked")
            name = "fx_" + layout.replace("-", "_") + ("" if module == "default" else f"_{module}")
            specs.append(Spec(name, layout, args, module, model, llvm=info["llvm"]))
    return specs


CORPUS_SPECS = [
    Spec("cp_snu", "snu-v7-graph", corpus=True),
    Spec("cp_yesno_graph", "arduino-yesno-v4-graph", corpus=True),
    # AOT exports of 2021/2022 record no output size (io_size_bytes is never one): give it, as
    # the last Relay ops say (dense units=4, int8 / units=1, float32).
    Spec("cp_yesno_aot", "arduino-yesno-v5-aot", ("IO_SHAPES", "output=1x4"), corpus=True),
    Spec("cp_cifar", "gtvm-v2-graph-c-lib0only", corpus=True),
    Spec("cp_cifar_syslib", "gtvm-v2-graph-c-syslib", corpus=True),
    Spec("cp_sine", "linaro-sine-v5-aot-crt", ("IO_SHAPES", "Identity=1x1"), corpus=True),
    Spec(
        "cp_sine_crt",
        "linaro-sine-v5-aot-crt",
        ("RUNTIME", "tvm_crt", "IO_SHAPES", "Identity=1x1"),
        corpus=True,
    ),
]
SPECS = _fixture_specs() + CORPUS_SPECS
TARGETS = {"host": SPECS, "cortex-m4": SPECS, "cortex-m3": [s for s in SPECS if not s.corpus]}


@dataclass
class Harness:
    target: str
    build: Path
    specs: dict[str, Spec]


def _model_path(spec: Spec, target: str, fixture_models: dict[str, Path], tmp: Path) -> Path | None:
    if spec.corpus:
        return corpus_item(corpus_dir(), spec.source) if corpus_dir().is_dir() else None
    if not spec.llvm:
        return fixture_models[spec.source]
    # LLVM layouts carry objects for one target: compile them with that target's compiler.
    dest = tmp / f"{spec.source}-{target}"
    dest.mkdir(exist_ok=True)
    if target == "host":
        return fixtures.export(spec.source, dest, cc="gcc")
    return fixtures.export(spec.source, dest, cc="arm-none-eabi-gcc", cflags=ARM_CFLAGS[target])


_HARNESSES: dict[str, Harness] = {}


@pytest.fixture(scope="session")
def harness_factory(fixture_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    def get(target: str) -> Harness:
        if target not in _HARNESSES:
            tmp = tmp_path_factory.mktemp(f"harness-{target}")
            specs = {}
            entries = []
            for spec in TARGETS[target]:
                path = _model_path(spec, target, fixture_models, tmp)
                if path is None:
                    continue
                specs[spec.name] = spec
                entries.append("|".join([spec.name, str(path), *spec.args]))
            bdir = tmp / "build"
            configure(HARNESS, bdir, target, {"MLF_MODELS": ";".join(entries)})
            build(bdir)
            _HARNESSES[target] = Harness(target, bdir, specs)
        return _HARNESSES[target]

    return get


_RESULTS: dict[tuple[str, str], Smoke] = {}


def smoke(harness_factory, target: str, name: str) -> Smoke:  # type: ignore[no-untyped-def]
    key = (target, name)
    if key not in _RESULTS:
        h = harness_factory(target)
        if name not in h.specs:
            pytest.skip(f"{name} is not built for {target} (MLF corpus missing?)")
        exe = h.build / (f"{name}_smoke" + ("" if target == "host" else ".elf"))
        res = run_firmware(exe, target)
        _RESULTS[key] = Smoke.parse(res.stdout)
        assert res.returncode == 0, (
            f"{name} on {target} exited {res.returncode}:\n{res.stdout[-2000:]}{res.stderr[-2000:]}"
        )
    return _RESULTS[key]


def _params(target: str) -> list:  # type: ignore[type-arg]
    marks = [] if target == "host" else [needs_arm]
    return [pytest.param(target, s, id=f"{target}-{s.name}", marks=marks) for s in TARGETS[target]]


ALL = [p for t in TARGETS for p in _params(t)]


@pytest.mark.parametrize(("target", "spec"), ALL)
def test_smoke_passes_with_exact_arena(harness_factory, target: str, spec: Spec) -> None:  # type: ignore[no-untyped-def]
    s = smoke(harness_factory, target, spec.name)
    assert s.passed, s.text[-3000:]
    assert s.status == 0
    # The planned arena suffices; one byte less than was used is refused, never overrun.
    assert 0 <= s.peak <= s.workspace
    if s.peak:
        assert s.short_status == 2  # MLF_ERR_WORKSPACE_TOO_SMALL
    # The scratch window: tensors share its bytes at steps that need less, so no step may hold
    # more than planned (the short run above only proves the arena's largest extent).
    planned = _planned_scratch(harness_factory(target), spec)
    assert 0 <= s.scratch <= planned
    if not spec.llvm:
        # Sizes read from C sources are exact: the run uses every byte the header promises.
        assert s.peak == s.workspace, f"peak {s.peak} vs planned {s.workspace}"
        assert s.scratch == planned, f"scratch {s.scratch} vs planned {planned}"


def _planned_scratch(h: Harness, spec: Spec) -> int:
    manifest = json.loads((h.build / "mlf" / spec.name / f"{spec.name}_manifest.json").read_text())
    (unit,) = manifest["modules"]
    return int(unit["scratch_size"])


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in SPECS if s.reference is not None])
def test_outputs_match_numpy_reference(harness_factory, spec: Spec) -> None:  # type: ignore[no-untyped-def]
    s = smoke(harness_factory, "host", spec.name)
    info = fixtures.layout_info(spec.source)
    del info
    if spec.reference == "waveform":
        ins = smoke_inputs([("float32", 128)])
        want = fixtures.reference("waveform", [ins[0].reshape(1, 1, 32)])
    else:
        ins = smoke_inputs([("float32", 16), ("float32", 16)])
        want = fixtures.reference("mixer", [ins[0].reshape(1, 4), ins[1].reshape(1, 4)])
    assert_outputs_close(s.arrays(), want, f"{spec.name} vs numpy")


@needs_arm
@pytest.mark.parametrize(
    ("target", "spec"),
    [pytest.param(t, s, id=f"{t}-{s.name}") for t in ("cortex-m4", "cortex-m3") for s in TARGETS[t]],
)
def test_cortex_m_matches_host(harness_factory, target: str, spec: Spec) -> None:  # type: ignore[no-untyped-def]
    arm = smoke(harness_factory, target, spec.name)
    host = smoke(harness_factory, "host", spec.name)
    assert_outputs_close(arm.arrays(), host.arrays(), f"{spec.name}: {target} vs host")
    assert arm.workspace == host.workspace
