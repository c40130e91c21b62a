"""Models whose AOT entry point takes a devices struct (Ethos-U), built against the user's NPU
driver with mlf_build's TVMEthosULaunch() and device hooks.

- generate: a model using a device fails with one line unless the device is named
  (--device=ethos_u); naming a device the model does not use fails too; the header gets
  <T>_NUM_DEVICES (0 for every other model), <T>_DEVICE_ETHOS_U and <t>_devices[], the runner
  passes the handles in TVM's struct, the manifest lists mlf_build's glue.
- host (CMake, DEVICES ethos_u=<stand-in>): a recording stand-in of the driver's API shows that
  the handle set in npu_devices[] reaches ethosu_invoke() with TVM's command stream and the
  input/output regions, that a NULL handle borrows a driver (ethosu_reserve_driver) and gives it
  back, and that driver failures fail the run.
- Cortex-M55 (CMake, DEVICES ethos_u=ethosu_core_driver): with MLF_ETHOSU_DRIVER naming a checkout
  of the Arm Ethos-U core driver (23.05, the version TVM 0.13-0.18 pinned) and MLF_ETHOSU_CMSIS a
  CMSIS tree (CMSIS/Core/Include; default: the driver's own ../cmsis), a QEMU mps3-an547 firmware
  calling ethosu_init() and npu_run() is built and linked: only the API stays global in the model
  library, ethosu_invoke_v3 comes from the driver. It is not run: that needs an NPU. CI has no
  driver checkout and skips it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests import fixtures
from tests.conftest import REPO, needs_arm, needs_cmake, needs_host_cc, run_cli
from tests.firmware import build, configure, configure_error, run
from tests.symbols import assert_hidden

PROJECT = REPO / "tests" / "ethos_u"


@pytest.fixture(scope="module")
def npu_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fixtures.export("v7-aot-ethosu", tmp_path_factory.mktemp("ethosu"))


def test_inspect_marks_the_npu_code(npu_model: Path) -> None:
    res = run_cli(["inspect", npu_model, "--json"])
    assert res.code == 0, res.err
    (mod,) = json.loads(res.out)["modules"]
    assert [c.get("byoc") for c in mod["codegen"]] == [None, None, None, "ethos-u"]


def test_generate_needs_the_device_named(npu_model: Path, tmp_path: Path) -> None:
    res = run_cli(["generate", npu_model, "--out", tmp_path / "out", "--name", "npu"])
    assert res.code == 2 and not (tmp_path / "out").exists()
    assert res.err.splitlines() == [
        f"mlf-build: error: {npu_model}: module 'default' runs operators on the device(s) ethos_u; build "
        "it against the device's driver: CMake DEVICES <device>=<driver target>, Bazel devices = "
        '{<driver label>: "<device>"}, mlf-build --device=<device>'
    ]
    res = run_cli(["generate", npu_model, "--out", tmp_path / "out", "--name", "npu", "--device=npu0"])
    assert res.code == 2
    assert res.err.splitlines() == [
        "mlf-build: error: --device: names 'npu0', which the model does not use (its devices: ethos_u)"
    ]


def test_generated_api_carries_the_handles(npu_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_cli(["generate", npu_model, "--out", out, "--name", "npu", "--device=ethos_u"])
    assert res.code == 0, res.err
    header = (out / "npu.h").read_text()
    assert "#define NPU_NUM_DEVICES 1\n#define NPU_DEVICE_ETHOS_U 0\n" in header
    assert "extern void *npu_devices[NPU_NUM_DEVICES];" in header
    runner = (out / "npu_runner.c").read_text()
    assert "void *npu_devices[1];" in runner
    assert "  devices.ethos_u = npu_devices[0];\n" in runner
    assert "tvmgen_default_run(&in, &out, &devices)" in runner
    manifest = json.loads((out / "npu_manifest.json").read_text())
    assert manifest["devices"] == ["ethos_u"]
    assert manifest["device_sources"] == ["devices/ethos_u/mlf_ethos_u.c"]
    assert manifest["device_include_dirs"] == ["devices/ethos_u"]
    assert "npu_devices" in (out / "npu.syms").read_text().split()
    runtime = REPO / "mlf_build" / "runtime"
    for rel in manifest["device_sources"] + manifest["device_include_dirs"]:
        assert (runtime / rel).exists(), rel


def test_other_models_have_no_devices(tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = REPO / "examples" / "model" / "waveform.tar"
    assert run_cli(["generate", model, "--out", out, "--name", "w"]).code == 0
    header = (out / "w.h").read_text()
    assert "#define W_NUM_DEVICES 0\n" in header and "w_devices" not in header
    assert json.loads((out / "w_manifest.json").read_text())["device_sources"] == []


# --- CMake ------------------------------------------------------------------------------------


@needs_cmake
@pytest.mark.parametrize(
    ("devices", "message"),
    [
        (
            "",
            "add_mlf_library(npu): mlf-build: error: {model}: module 'default' runs operators on the "
            "device(s) ethos_u",
        ),
        (
            "DEVICES ethos_u",
            "add_mlf_library(npu): DEVICES ethos_u is not <device>=<driver target>, e.g. "
            "ethos_u=ethosu_core_driver",
        ),
        (
            "DEVICES ethos_u=no_such_driver",
            "add_mlf_library(npu): DEVICES ethos_u=no_such_driver: no_such_driver is not a target; "
            "define the driver's library before add_mlf_library()",
        ),
    ],
    ids=["missing", "syntax", "no-target"],
)
def test_configure_fails_with_one_line(npu_model: Path, tmp_path: Path, devices: str, message: str) -> None:
    err = configure_error(tmp_path, f'add_mlf_library(npu "{npu_model}" {devices})')
    assert message.format(model=npu_model) in err, err[-2000:]


@pytest.mark.slow
@needs_cmake
@needs_host_cc
def test_host_glue_reaches_the_driver(npu_model: Path, tmp_path: Path) -> None:
    configure(PROJECT, tmp_path / "build", "host", {"MODEL": str(npu_model)})
    build(tmp_path / "build")
    res = run([tmp_path / "build" / "npu_glue_test"], check=False)
    assert res.returncode == 0 and res.stdout.splitlines() == ["glue: PASS"], res.stdout + res.stderr


def _driver() -> tuple[Path, Path] | None:
    driver = os.environ.get("MLF_ETHOSU_DRIVER")
    if not driver:
        return None
    cmsis = Path(os.environ.get("MLF_ETHOSU_CMSIS") or Path(driver).parent / "cmsis")
    return Path(driver), cmsis


@pytest.mark.slow
@needs_cmake
@needs_arm
@pytest.mark.skipif(
    _driver() is None,
    reason="MLF_ETHOSU_DRIVER is not set (a checkout of the Arm Ethos-U core driver 23.05; see "
    "docs/cmake.md)",
)
def test_cortex_m55_links_against_the_core_driver(npu_model: Path, tmp_path: Path) -> None:
    found = _driver()
    assert found is not None
    driver, cmsis = found
    assert (driver / "include" / "ethosu_driver.h").is_file(), f"{driver} is not an Ethos-U core driver"
    assert (cmsis / "CMSIS" / "Core" / "Include" / "cmsis_compiler.h").is_file(), (
        f"no CMSIS at {cmsis} (set MLF_ETHOSU_CMSIS to a CMSIS tree holding CMSIS/Core/Include)"
    )
    bdir = tmp_path / "build"
    defs = {"MODEL": str(npu_model), "ETHOSU_DRIVER": str(driver), "CMSIS_PATH": str(cmsis)}
    configure(PROJECT, bdir, "cortex-m55", defs)
    build(bdir)
    elf = bdir / "npu_firmware.elf"
    assert elf.is_file()
    # The library: only its API global; mlf_build's glue resolved inside, the driver's invoke not.
    api = set((bdir / "mlf" / "npu" / "npu.syms").read_text().split())
    assert_hidden(bdir / "libnpu.a", api, ["npu"], "arm-none-eabi-readelf")
    lib = run(["arm-none-eabi-nm", bdir / "libnpu.a"]).stdout
    assert re.search(r"^\s+U ethosu_invoke_v3$", lib, re.M)
    assert re.search(r"^[0-9a-f]+ t TVMEthosULaunch$", lib, re.M)
    # The firmware: the driver's invoke linked in, for the M55 (v8.1-M.main).
    syms = run(["arm-none-eabi-nm", elf]).stdout
    assert re.search(r"^[0-9a-f]+ T ethosu_invoke_v3$", syms, re.M)
    attrs = run(["arm-none-eabi-readelf", "-A", elf]).stdout
    assert "Tag_CPU_arch: v8.1-M.mainline" in attrs, attrs
