"""Known-bad TVM codegen is detected before compiling, reported, and worked around where safe.

TVM 0.9-0.18 with the AOT executor, the C interface and a system-lib runtime writes a lib0.c
that declares tvmgen_<m>_run and tvmgen_<m>___tvm_main__ twice with different types (TVM
issues #14871, #17136, #17194). The fixture below rebuilds that lib0.c the way TVM's
source_module.cc (v0.13) does: the function registry of CreateFuncRegistry() and
GenerateCrtSystemLib(), then the AOT descriptor."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests import fixtures
from tests.conftest import needs_cmake, needs_host_cc, run_cli
from tests.firmware import build, configure, run

REGISTRY = """#include <tvm/runtime/crt/module.h>
{decls}static TVMBackendPackedCFunc _tvm_func_array[] = {{
{entries}}};
static const TVMFuncRegistry _tvm_func_registry = {{
    "{names}",    _tvm_func_array,
}};
static const TVMModule _tvm_system_lib = {{
    &_tvm_func_registry,
}};
const TVMModule* TVMSystemLibEntryPoint(void) {{
    return &_tvm_system_lib;
}}
"""


def _bad_export(dest: Path) -> Path:
    good = fixtures.export("v7-aot-c", dest / "good")
    with tarfile.open(good) as src:
        members = [
            (info, src.extractfile(info).read() if info.isfile() else None) for info in src.getmembers()
        ]  # type: ignore[union-attr]
    files = {info.name: data for info, data in members}
    lib1 = files["./codegen/host/src/default_lib1.c"].decode()  # type: ignore[union-attr]
    funcs = sorted(
        {
            line.split("(")[0].split()[-1]
            for line in lib1.splitlines()
            if line.startswith("TVM_DLL int32_t tvmgen_default_")
        }
    )
    funcs.append("tvmgen_default_run")
    decls = "".join(
        '#ifdef __cplusplus\nextern "C"\n#endif\n'
        f"TVM_DLL int32_t {f}(TVMValue* args, int* type_code, int num_args, TVMValue* out_value, "
        "int* out_type_code, void* resource_handle);\n"
        for f in funcs
    )
    entries = "".join(f"    (TVMBackendPackedCFunc){f},\n" for f in funcs)
    names = f"\\{len(funcs):03o}\\000" + "".join(f"{f}\\000" for f in funcs)
    lib0 = (
        REGISTRY.format(decls=decls, entries=entries, names=names)
        + files["./codegen/host/src/default_lib0.c"].decode()
    )  # type: ignore[union-attr]
    out = dest / "aot-c-syslib.tar"
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as dst:
        for info, data in members:
            if info.name.endswith("default_lib0.c"):
                data = lib0.encode()
                info.size = len(data)
            dst.addfile(info, None if data is None else io.BytesIO(data))
    return out


@pytest.fixture(scope="module")
def bad_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bad_export(tmp_path_factory.mktemp("known-bad"))


@needs_host_cc
def test_the_fixture_reproduces_the_bug(bad_model: Path, tmp_path: Path) -> None:
    with tarfile.open(bad_model) as tf:
        tf.extractall(tmp_path, filter="data")
    res = subprocess.run(
        [
            "gcc",
            "-c",
            "-I",
            str(Path("mlf_build/runtime/include").resolve()),
            "-I",
            str(tmp_path / "codegen/host/include"),
            str(tmp_path / "codegen/host/src/default_lib0.c"),
            "-o",
            str(tmp_path / "lib0.o"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert res.returncode != 0 and "conflicting types for 'tvmgen_default_run'" in res.stderr


def test_inspect_reports_it(bad_model: Path) -> None:
    r = run_cli(["inspect", bad_model, "--json"])
    assert r.code == 0, r.err
    issues = json.loads(r.out)["modules"][0]["codegen_issues"]
    assert len(issues) == 1 and "TVM issue #14871" in issues[0]


@needs_cmake
def test_generate_applies_the_workaround_and_it_runs(bad_model: Path, tmp_path: Path) -> None:
    r = run_cli(["generate", bad_model, "--name", "net", "--out", tmp_path / "gen"])
    assert r.code == 0, r.err
    assert "removed the system-lib function registry" in r.err and r.err.startswith("mlf-build: warning:")
    fixed = (tmp_path / "gen/codegen/src/default_lib0.c").read_text()
    assert "TVMSystemLibEntryPoint" not in fixed and "tvmgen_default_run(struct" in fixed
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(k C)\nenable_testing()\n"
        f'find_package(mlf_build CONFIG REQUIRED)\nadd_mlf_library(net "{bad_model.as_posix()}" TEST)\n'
    )
    res = configure(src, tmp_path / "b")
    assert "removed the system-lib function registry" in res.stderr  # surfaced as a CMake warning
    build(tmp_path / "b")
    assert "mlf-smoke: PASS" in run([tmp_path / "b" / "net_smoke"]).stdout
