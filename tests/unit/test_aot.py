"""aot.py: TVM's AOT header, and ``resolve_aot_io`` piecing inputs and outputs together from the
header, TVM's C, metadata.json and the Relay text."""

from __future__ import annotations

from typing import Any

import pytest

from mlf_build.dtypes import parse_dtype
from mlf_build.errors import MlfError
from mlf_build.read.aot import name_graph_outputs, parse_aot_header, resolve_aot_io
from mlf_build.read.csource import parse_c
from mlf_build.read.facts import IoOverride
from mlf_build.read.metadata import IoMeta, ModuleMeta
from mlf_build.read.relay import parse_relay_main

# What interface_c.cc (TVM 0.11+) writes: one void* per SanitizeName'd tensor, a _SIZE macro per
# tensor (ToCConstantStyle), and for an external pool its _WORKSPACE_POOL_SIZE.
HEADER = """#ifndef TVMGEN_DEFAULT_H_
#define TVMGEN_DEFAULT_H_
#define TVMGEN_DEFAULT_SERVING_DEFAULT_INPUT_1_0_SIZE 32
#define TVMGEN_DEFAULT_STATEFULPARTITIONEDCALL_0_SIZE 4
#define TVMGEN_DEFAULT_SRAM_WORKSPACE_POOL_SIZE 1024
struct tvmgen_default_inputs {
  void* serving_default_input_1_0;
};
struct tvmgen_default_outputs {
  void* StatefulPartitionedCall_0;
};
struct tvmgen_default_workspace_pools {
  void* sram;
};
int32_t tvmgen_default_run(struct tvmgen_default_inputs* inputs, struct tvmgen_default_outputs* outputs,
  struct tvmgen_default_workspace_pools* workspace_pools);
#endif
"""


def _meta(
    inputs: dict[str, tuple[int, str]] | None = None, outputs: dict[str, tuple[int, str]] | None = None
) -> ModuleMeta:
    m = ModuleMeta("default", "full-model", ["aot"], ["c"], ["c"])
    m.inputs = [IoMeta(n, s, d) for n, (s, d) in inputs.items()] if inputs is not None else None
    m.outputs = [IoMeta(n, s, d) for n, (s, d) in outputs.items()] if outputs is not None else None
    return m


def _resolve(**kw: Any) -> Any:
    args: dict[str, Any] = dict(
        module="default", meta=_meta(), header=None, inner=None, functions={}, relay=None, params=[],
        overrides={}, where="m.tar",
    )  # fmt: skip
    args.update(kw)
    return resolve_aot_io(**args)


def test_header_members_sizes_and_pools() -> None:
    h = parse_aot_header(HEADER, "default", "m.tar(codegen/host/include/tvmgen_default.h)")
    assert (h.inputs, h.outputs) == (["serving_default_input_1_0"], ["StatefulPartitionedCall_0"])
    assert h.sizes == {"serving_default_input_1_0": 32, "StatefulPartitionedCall_0": 4}
    assert h.pools == [("sram", 1024)] and h.constant_pools == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda t: t.replace("#define TVMGEN_DEFAULT_SRAM_WORKSPACE_POOL_SIZE 1024\n", ""),
            "without its size macro",
        ),
        (
            lambda t: t.replace("struct tvmgen_default_outputs", "struct other"),
            "has no struct tvmgen_default_inputs/outputs",
        ),
        (
            lambda t: t.replace("  void* serving_default_input_1_0;\n", "  void* a;\n  void* a;\n"),
            "declares the input member 'a' twice",  # interface_c.cc EmitStruct refuses it
        ),
    ],
)
def test_headers_tvm_would_not_write(change: Any, problem: str) -> None:
    with pytest.raises(MlfError, match=problem):
        parse_aot_header(change(HEADER), "default", "h")


def test_header_members_named_by_metadata() -> None:
    # TVM 0.11+: the header names members, metadata.json the model's own names and sizes.
    io = _resolve(
        header=parse_aot_header(HEADER, "default", "h"),
        meta=_meta({"serving_default_input_1:0": (32, "int8")}, {"StatefulPartitionedCall:0": (4, "int8")}),
    )
    (x,), (y,) = io.inputs, io.outputs
    assert (x.name, x.member, x.facts.shape, x.facts.dtype.name) == (
        "serving_default_input_1:0", "serving_default_input_1_0", (32,), "int8",
    )  # fmt: skip
    assert (y.name, y.member) == ("StatefulPartitionedCall:0", "StatefulPartitionedCall_0")
    assert io.args == [("input", 0), ("output", 0)]
    assert io.arg_names == ["serving_default_input_1_0", "StatefulPartitionedCall_0"]
    assert io.source == "aot_header+metadata+flat"  # no source records a shape: flat


# TVM 0.9-0.10 without a header: the inner main's parameters are the I/O, each as
# <name>_buffer_var (aot_executor_codegen.cc), then the pools.
INNER = parse_c(
    "int32_t tvmgen_default___tvm_main__(float* x_buffer_var, float* p0_buffer_var, "
    "float* output_buffer_var, uint8_t* global_workspace_0_var) { return 0; }\n"
)


def test_inputs_and_outputs_from_the_inner_main_and_relay() -> None:
    relay = parse_relay_main(
        "def @main(%x: Tensor[(1, 4), float32], %p0: Tensor[(4), float32]) -> Tensor[(1, 4), float32] {}"
    )
    fn = INNER.functions["tvmgen_default___tvm_main__"]
    io = _resolve(inner=fn, functions=INNER.functions, relay=relay, params=["p0"])
    assert [(t.name, t.facts.shape) for t in io.inputs] == [("x", (1, 4))]
    assert [(t.name, t.facts.shape) for t in io.outputs] == [("output", (1, 4))]
    assert all(t.member is None for t in io.inputs + io.outputs)  # only the C interface has members
    assert io.args == [("input", 0), ("param", 0), ("output", 0)]  # the weight bound by name
    assert io.arg_names == ["x", "p0", "output"]
    assert io.source == "aot_source+relay"


def test_objects_only_take_the_order_from_relay_and_the_sizes_from_metadata() -> None:
    relay = parse_relay_main(
        'def @main(%b: Tensor[(2), int8], %a: Tensor[(3), int8], output_tensor_names=["z"]) {}'
    )
    io = _resolve(meta=_meta({"a": (3, "int8"), "b": (2, "int8")}, {"z": (5, "int8")}), relay=relay)
    assert [t.name for t in io.inputs] == ["b", "a"]  # Relay's order, not metadata's sorted keys
    assert [(t.name, t.facts.shape) for t in io.outputs] == [("z", (5,))]


def test_objects_only_without_any_io_record() -> None:
    with pytest.raises(MlfError, match="cannot tell its inputs and outputs"):
        _resolve()


def test_an_override_must_name_a_tensor() -> None:
    with pytest.raises(MlfError, match="--io-shape names 'y', which is not an input or output \\(out, x\\)"):
        _resolve(meta=_meta({"x": (4, "int8")}, {"out": (4, "int8")}), overrides={"y": IoOverride((4,))})


def test_graph_outputs_named_by_metadata_in_a_known_order() -> None:
    f32 = parse_dtype("float32", "x")
    two = [(f32, (1, 4)), (f32, (1, 2))]
    assert name_graph_outputs(two, _meta(), None) == (["output0", "output1"], None)
    numbered = _meta(outputs={f"output{i}": (4, "float32") for i in (10, 2)})
    assert name_graph_outputs([(f32, (1,))] * 2, numbered, None) == (["output2", "output10"], None)
    # Matched by size and dtype where that is unambiguous.
    named = _meta(outputs={"probs": (8, "float32"), "logits": (16, "float32")})
    assert name_graph_outputs(two, named, None) == (["logits", "probs"], None)
    same = _meta(outputs={"a": (16, "float32"), "b": (16, "float32")})
    names, warning = name_graph_outputs([(f32, (1, 4))] * 2, same, None)
    assert names == ["output0", "output1"] and warning is not None
