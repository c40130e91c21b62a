"""emit/wrappers.py and emit/crt.py: the wrapper each TVM source is compiled through, and the
files of RUNTIME tvm_crt."""

from __future__ import annotations

import dataclasses
import re

import pytest

from mlf_build.csource import parse_c
from mlf_build.emit.crt import crt_members, crt_rel, emit_crt_config, emit_crt_platform
from mlf_build.emit.wrappers import TVM_WARNINGS, wrap_source
from mlf_build.errors import MlfError
from mlf_build.model import CodegenFile, Model
from mlf_build.plan import Plan
from tests.unit.conftest import settings


def _file(code: str) -> CodegenFile:
    return CodegenFile("codegen/host/src/default_lib1.c", "c", "default", source=parse_c(code))


def test_wrapper_turns_tvms_warnings_off_for_its_file_only(planned: tuple[Model, Plan]) -> None:
    model, _plan = planned
    text = wrap_source(model.modules[0], settings(), "src/default_lib1.c", "default_lib1.c", _file("int x;"))
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
    text = wrap_source(model.modules[0], settings(), "src/x.c", "x.c", old)
    assert '#define ctx device\n#include "src/x.c"\n#undef ctx\n' in text


def test_wrapper_aliases_the_parameters_its_file_links(planned: tuple[Model, Plan]) -> None:
    model, _plan = planned
    mod = dataclasses.replace(model.modules[0], linked_params={"p0": "__tvm_param__p0"})
    linked = _file("static const float __tvm_param__p0[4] = {1, 2, 3, 4};\n")
    text = wrap_source(mod, settings(), "src/x.c", "x.c", linked)
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
