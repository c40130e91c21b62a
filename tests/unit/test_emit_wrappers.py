"""emit/wrappers.py and emit/crt.py: the wrapper each TVM source is compiled through, and the
files of RUNTIME tvm_crt."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mlf_build.emit.crt import crt_members, crt_rel, emit_crt_config, emit_crt_platform
from mlf_build.emit.wrappers import TVM_WARNINGS, wrap_source
from mlf_build.errors import MlfError
from mlf_build.plan.plan import Plan
from mlf_build.read.csource import parse_c
from mlf_build.read.model import CodegenFile, Model
from tests.conftest import unavailable
from tests.unit.conftest import settings


def _file(code: str) -> CodegenFile:
    return CodegenFile("codegen/host/src/default_lib1.c", "c", "default", source=parse_c(code))


def test_wrapper_turns_tvms_warnings_off_for_its_file_only(planned: tuple[Model, Plan]) -> None:
    model, _plan = planned
    text = wrap_source(
        model, model.modules[0], settings(), "src/default_lib1.c", "default_lib1.c", _file("int x;")
    )
    for w in TVM_WARNINGS:
        assert f'#pragma clang diagnostic ignored "{w}"\n' in text
        assert f'#pragma GCC diagnostic ignored "{w}"\n' in text
    push, include, pop = (
        text.index("#pragma GCC diagnostic push"),
        text.index('#include "src/default_lib1.c"\n'),
        text.index("#pragma GCC diagnostic pop"),
    )
    assert push < include < pop
    assert "#define ctx" not in text


def test_wrapper_maps_the_old_dltensor_field(planned: tuple[Model, Plan]) -> None:
    # DLTensor's "ctx" became "device" in DLPack 0.5 (TVM mid-2021).
    model, _plan = planned
    old = _file("int32_t f(void* a) { return (((DLTensor*)a)[0].ctx.device_id); }\n")
    text = wrap_source(model, model.modules[0], settings(), "src/x.c", "x.c", old)
    assert '#define ctx device\n#include "src/x.c"\n#undef ctx\n' in text


def test_wrapper_aliases_the_parameters_its_file_links(planned: tuple[Model, Plan]) -> None:
    model, _plan = planned
    mod = dataclasses.replace(model.modules[0], linked_params={"p0": "__tvm_param__p0"})
    linked = _file("static const float __tvm_param__p0[4] = {1, 2, 3, 4};\n")
    text = wrap_source(model, mod, settings(), "src/x.c", "x.c", linked)
    assert text.endswith(
        "extern const float net__lp_0[4];\n"
        'extern const float net__lp_0[4] __attribute__((alias("__tvm_param__p0")));\n'
    )


def test_crt_config_uses_the_plans_alignment(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    plan = dataclasses.replace(plan, align=64)
    text = emit_crt_config(model, model.modules[0], plan, settings(runtime="tvm_crt"))
    assert "#define TVM_RUNTIME_ALLOC_ALIGNMENT_BYTES 64\n" in text
    platform = emit_crt_platform(model, model.modules[0], plan, settings(runtime="tvm_crt"))
    assert "jmp_buf net__crt_abort;" in platform and "longjmp(net__crt_abort," in platform


def test_crt_needs_the_bundled_runtime_sources(planned: tuple[Model, Plan]) -> None:
    model, _plan = planned
    with pytest.raises(
        MlfError,
        match=re.escape("the bundled runtime lacks runtime/src/runtime/crt/common/crt_backend_api.c"),
    ):
        crt_members(model)
    assert crt_rel("runtime/include/tvm/runtime/crt/platform.h") == "crt/include/tvm/runtime/crt/platform.h"


# A USMP constant pool exactly as TVM v0.18.0 prints it (src/target/source/source_module.cc,
# GenerateConstantBuffer): every member after the first is `packed, aligned(16)`, which GCC
# ignores with -Wattributes for byte arrays; seen in a real v7 export built with -Werror.
_CONST_POOL = """\
__attribute__((section(".rodata.tvm"), ))
static const struct global_const_workspace {
  int8_t fused_constant_0_let[4] __attribute__((aligned(16))); // 4 bytes, aligned offset: 0
  int8_t fused_constant_1_let[2] __attribute__((packed, aligned(16))); // 2 bytes, aligned offset: 16
} global_const_workspace = {
  .fused_constant_0_let = {
    +0x01, -0x02, +0x03, -0x04
  },
  .fused_constant_1_let = {
    +0x05, +0x06
  },
};// of total size 18 bytes
int8_t first(void) { return global_const_workspace.fused_constant_1_let[0]; }
"""


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])
def test_wrapped_usmp_constant_pool_compiles_with_werror(
    planned: tuple[Model, Plan], tmp_path: Path, cc: str
) -> None:
    if shutil.which(cc) is None:
        unavailable(f"needs {cc}")
    model, _plan = planned
    (tmp_path / "src").mkdir()
    (tmp_path / "src/pool.c").write_text("#include <stdint.h>\n" + _CONST_POOL)
    text = wrap_source(model, model.modules[0], settings(), "src/pool.c", "pool.c", _file(_CONST_POOL))
    (tmp_path / "w.c").write_text(text)
    flags = ["-Wall", "-Wextra", "-Werror", "-c", "-o", str(tmp_path / "w.o")]
    arm = ["-mcpu=cortex-m4", "-mthumb"] if cc.startswith("arm") else []
    bare = subprocess.run([cc, *arm, *flags, str(tmp_path / "src/pool.c")], capture_output=True, text=True)
    assert bare.returncode != 0 and "attribute ignored" in bare.stderr  # what the wrapper is for
    res = subprocess.run(
        [cc, *arm, *flags, "-I", str(tmp_path), str(tmp_path / "w.c")], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
