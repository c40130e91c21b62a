"""emit/runner.py: ``<t>_runner.c``, the info tables and the step program the runtime walks
(mlf_graph.c)."""

from __future__ import annotations

import re
from collections.abc import Callable

from mlf_build import get_runtime_dir
from mlf_build.emit.runner import _leb128, _Shapes, emit_runner
from mlf_build.plan.plan import Plan, plan_module
from mlf_build.read.model import Model
from tests.unit.conftest import Files, settings


def _arg_kinds() -> dict[str, int]:
    """MLF_ARG_* as the runtime defines them: the program must use the runtime's numbers."""
    text = (get_runtime_dir() / "include" / "mlf_runtime_internal.h").read_text()
    return {k: int(v) for k, v in re.findall(r"#define MLF_ARG_(\w+) (\d+)u", text)}


def test_program_row_of_one_operator(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    text = emit_runner(model, model.modules[0], plan, settings())
    kinds = _arg_kinds()
    bits = kinds["KIND_BITS"]
    # argument count, then input 0, parameter 0 at blob offset 0, output 0 (after the 1 input)
    numbers = [3, 0 << bits | kinds["IO"], 0 << bits | kinds["PARAM"], 1 << bits | kinds["IO"]]
    row = "    /* 0: tvmgen_default_fused_add(input 0, param 0, output 0) */\n    " + ", ".join(
        map(str, numbers)
    )
    assert row + ",\n" in text


def test_info_tables_name_each_tensor_with_its_dtype_code_and_bits(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    text = emit_runner(model, model.modules[0], plan, settings())
    # kDLFloat is 2 (dlpack.h DLDataTypeCode)
    assert '    {"x", "float32", 2, 32, 2, &net__info_shapes[0], 16},\n' in text
    assert '    {"p0", "float32", 2, 32, 1, &net__info_shapes[1], 16, net__param_0},\n' in text
    assert "static const int64_t net__info_shapes[2] = {1, 4};\n" in text  # [4] found inside [1, 4]


def test_run_calls_the_static_arena_only_when_there_is_one(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    static = emit_runner(model, model.modules[0], plan, settings())
    caller = emit_runner(model, model.modules[0], plan, settings(static_arena=False))
    assert "extern uint8_t net__arena[];" in static and "net__arena" not in caller
    assert "int32_t net_run(" in static and "int32_t net_run(" not in caller


def test_the_emitter_leaves_the_plan_as_it_was(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    assert plan.graph is not None
    before = [(s.func, list(s.args)) for s in plan.graph.steps]
    emit_runner(model, model.modules[0], plan, settings())
    assert [(s.func, list(s.args)) for s in plan.graph.steps] == before


def test_leb128_as_dwarf_defines_it() -> None:
    # The DWARF 5 standard's examples (section 7.6), which mlf_graph.c next_number() decodes.
    assert _leb128(2) == [2]
    assert _leb128(127) == [0x7F]
    assert _leb128(128) == [0x80, 0x01]
    assert _leb128(12857) == [0xB9, 0x64]
    assert _leb128(624485) == [0xE5, 0x8E, 0x26]


def test_shape_pool_stores_each_shape_once_and_overlaps_its_end() -> None:
    shapes = _Shapes("net")
    assert shapes.index((1, 4)) == 0
    assert shapes.index((4, 2)) == 1  # starts inside [1, 4]: only 2 is added
    assert shapes.index((1, 4, 2)) == 0
    assert shapes.index(()) == 0  # a scalar's pointer is never read
    assert shapes.emit() == "static const int64_t net__shapes[3] = {1, 4, 2};\n"
    assert _Shapes("net").emit() == ""  # unused: not emitted


def _five_argument_operator(files: Files) -> None:
    """The operator with TVM's pre-0.8 packed signature, without resource_handle."""
    c = files["codegen/host/src/default_lib1.c"].decode()
    files["codegen/host/src/default_lib1.c"] = c.replace(", void* resource_handle)", ")").encode()


def test_an_old_five_argument_operator_is_called_through_a_trampoline(load: Callable[..., Model]) -> None:
    model = load(edit=_five_argument_operator)
    plan = plan_module(model, model.modules[0])
    text = emit_runner(model, model.modules[0], plan, settings())
    assert "static int32_t mlf_tramp_0(TVMValue *args" in text
    assert "  return tvmgen_default_fused_add(args, type_codes, num_args, ret, ret_code);\n" in text
    assert "static const mlf_packed_func_t net__funcs[1] = {\n    mlf_tramp_0,\n};" in text


def test_emitting_twice_from_one_plan_gives_the_same_runner(load: Callable[..., Model]) -> None:
    model = load(edit=_five_argument_operator)
    plan = plan_module(model, model.modules[0])
    first = emit_runner(model, model.modules[0], plan, settings())
    assert plan.graph is not None and plan.graph.steps[0].func == "tvmgen_default_fused_add"
    assert emit_runner(model, model.modules[0], plan, settings()) == first
