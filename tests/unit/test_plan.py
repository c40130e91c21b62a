"""plan.py: where each tensor of a run lives and how big the arena is, on models of one or two
operators (tests/mlf_factory.py: y = x + p0, whose operator allocates 16 bytes of scratch)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mlf_build.errors import MlfError
from mlf_build.plan.plan import ARENA, CONST, INPUT, OUTPUT, STORAGE_IDS, _aot_liveness, plan_module
from mlf_build.read.csource import parse_c
from mlf_build.read.model import Model
from tests.mlf_factory import elf_object
from tests.unit.conftest import Files, set_json


def test_inputs_parameters_and_outputs_are_bound_not_copied(load: Callable[..., Model]) -> None:
    model = load()
    plan = plan_module(model, model.modules[0])
    assert plan.graph is not None
    (step,) = plan.graph.steps
    assert step.func == "tvmgen_default_fused_add"
    assert [(plan.graph.slots[a].loc, plan.graph.slots[a].index) for a in step.args] == [
        (INPUT, 0), (CONST, 0), (OUTPUT, 0),
    ]  # fmt: skip
    # The arena holds only the operator's scratch: 16 bytes read from its C (exact).
    assert (plan.scratch_size, plan.tensors_size, plan.workspace_size, plan.exact) == (16, 0, 16, True)
    assert plan.lower_bound == 16


def test_scratch_rounded_up_to_the_alignment(load: Callable[..., Model]) -> None:
    model = load()
    plan = plan_module(model, model.modules[0], align=64)
    assert (plan.align, plan.workspace_size) == (64, 64)
    assert plan_module(model, model.modules[0], align=4).align == 16  # never below the runtime's 16


def _chain(files: Files) -> None:
    """x -> add(x, p0) -> t -> add(t, p0) -> y: t is the one tensor the arena holds."""

    def graph(d: dict) -> None:
        d["nodes"].append(dict(d["nodes"][2], name="add2", inputs=[[2, 0, 0], [1, 0, 0]]))
        d["heads"] = [[3, 0, 0]]
        d["node_row_ptr"].append(4)
        for key, extra in (("dltype", "float32"), ("storage_id", 3), ("shape", [1, 4]), ("device_index", 1)):
            d["attrs"][key][1].append(extra)

    set_json(files, "executor-config/graph/default.graph", graph)
    set_json(
        files,
        "metadata.json",
        lambda d: d["modules"]["default"]["memory"]["sids"].append({"storage_id": 3, "size_bytes": 16}),
    )


def test_an_intermediate_tensor_above_the_scratch_of_its_steps(load: Callable[..., Model]) -> None:
    model = load(edit=_chain)
    plan = plan_module(model, model.modules[0])
    assert plan.graph is not None
    (t,) = [k for k, s in enumerate(plan.graph.slots) if s.loc == ARENA]
    assert [t in step.args for step in plan.graph.steps] == [True, True]  # written by 0, read by 1
    # 16 bytes of t live over both steps, plus 16 of scratch at each: 32 at the busiest step.
    assert plan.lower_bound == 32 and plan.workspace_size == 32
    assert plan.arena_map is not None
    blocks = {(b.kind, b.first, b.last): (b.offset, b.size) for b in plan.arena_map.blocks}
    assert blocks[("scratch", 0, 0)][1] == blocks[("scratch", 1, 1)][1] == 16
    tensor = blocks[("tensor", 0, 1)]
    assert tensor[1] == 16 and not (
        tensor[0] < plan.scratch_offset + 16 and plan.scratch_offset < tensor[0] + 16
    )


def test_without_c_the_scratch_is_bounded_by_metadata(load: Callable[..., Model]) -> None:
    def drop_c(files: Files) -> None:  # the operator as an LLVM object instead of C
        del files["codegen/host/src/default_lib1.c"]
        files["codegen/host/lib/default_lib0.o"] = elf_object([b"tvmgen_default_fused_add"])

    model = load(edit=drop_c)
    plan = plan_module(model, model.modules[0])
    # operator_functions says 16; TVM sums allocations, so each allocation's padding is added
    # (at least one allocation site): 16 + 16.
    assert (plan.scratch_size, plan.exact, plan.layout) == (32, False, STORAGE_IDS)


def test_operator_exports_and_odd_alignments_are_refused(load: Callable[..., Model]) -> None:
    model = load()
    with pytest.raises(MlfError, match="alignment must be a power of two"):
        plan_module(model, model.modules[0], align=24)
    model.modules[0].style = "operator"
    with pytest.raises(MlfError, match="is an operator-style export"):
        plan_module(model, model.modules[0])


def test_aot_allocation_sequence_replayed_lifo() -> None:
    # An inner main as TVM's AOT codegen writes it: workspace for each intermediate, calls, frees.
    code = (
        "int32_t op1(void* a) { void* s = TVMBackendAllocWorkspace(1, 0, (uint64_t)16, 2, 32); return 0; }\n"
        "int32_t op2(void* a, void* b) { void* s = TVMBackendAllocWorkspace(1, 0, (uint64_t)8, 2, 32);"
        " return 0; }\n"
        "int32_t main_(void) {\n"
        "  void* a = TVMBackendAllocWorkspace(1, 0, (uint64_t)32, 2, 32);\n"
        "  if (op1(a) != 0) { return -1; }\n"
        "  void* b = TVMBackendAllocWorkspace(1, 0, (uint64_t)16, 2, 32);\n"
        "  if (op2(a, b) != 0) { return -1; }\n"
        "  if (TVMBackendFreeWorkspace(1, 0, b) != 0) { return -1; }\n"
        "  if (TVMBackendFreeWorkspace(1, 0, a) != 0) { return -1; }\n"
        "  return 0;\n}\n"
    )
    functions = parse_c(code).functions
    found = _aot_liveness(functions, functions["main_"], 16, base=100)
    assert found is not None
    bound, arena = found
    assert arena.steps == ["op1", "op2"]
    where = {b.name: (b.offset, b.size, b.first, b.last) for b in arena.blocks}
    assert where["a"] == (100, 32, 0, 1) and where["b"] == (132, 16, 1, 1)
    assert where["scratch of op1"] == (132, 16, 0, 0) and where["scratch of op2"] == (148, 16, 1, 1)
    assert bound == 32 + 16 + 16  # step 1: a, b and op2's scratch


def test_metadata_json_holds_no_information_the_plan_ignores(load: Callable[..., Model]) -> None:
    """A larger workspace figure in metadata.json changes nothing when the C is there: the plan
    is the code's, not TVM's bound."""

    def bigger(files: Files) -> None:
        doc = json.loads(files["metadata.json"])
        doc["modules"]["default"]["memory"]["functions"]["main"][0]["workspace_size_bytes"] = 4096
        files["metadata.json"] = json.dumps(doc).encode()

    a, b = load(), load(edit=bigger)
    assert plan_module(a, a.modules[0]).workspace_size == plan_module(b, b.modules[0]).workspace_size == 16
