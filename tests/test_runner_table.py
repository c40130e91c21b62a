"""The graph runner's table (emit/runner.py, emit/data.py) against the runtime that reads it
(mlf_runtime_internal.h, mlf_graph.c).

- The step program of every fixture and corpus graph model, decoded here the way mlf_graph.c
  reads it (LEB128 numbers, MLF_ARG_* kinds and the shift, with the constants taken from the C
  header), says for every argument of every step where the plan put that tensor.
- The parameter blob: the offsets the runner's program uses are where the assembler put each
  parameter of ``<t>_data.c``.
- Types (ndim, dtype, shape) are in the table exactly when an operator may read them: the C
  reader's verdict on TVM-style code, and an operator with TVM's argument checks that runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlf_build.emit.data import blob_offsets
from mlf_build.emit.runner import _leb128
from mlf_build.plan.plan import ARENA, CONST, INPUT, plan_module
from mlf_build.read.csource import parse_c
from mlf_build.read.model import load_model
from tests import fixtures, mlf_factory
from tests.conftest import REPO, corpus_item, needs_cmake, needs_host_cc, run_cli
from tests.firmware import build, configure, run

HEADER = REPO / "mlf_build" / "runtime" / "include" / "mlf_runtime_internal.h"
CORPUS_GRAPHS = [
    "snu-v7-graph",
    "arduino-yesno-v4-graph",
    "gtvm-v2-graph-c-lib0only",
    "nitesh-llvm-aarch64-v5-graph",
]


def _c_constants() -> dict[str, int]:
    """MLF_ARG_* of the runtime's header: what the decoder below must agree with."""
    text = HEADER.read_text()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"#define (MLF_ARG_\w+) (\d+)u", text)}


def _numbers(program: bytes) -> list[int]:
    """Unsigned LEB128 numbers, decoded independently of the encoder."""
    out, value, shift = [], 0, 0
    for byte in program:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(value)
            value, shift = 0, 0
    assert shift == 0, "the program ends inside a number"
    return out


def _array(c: str, name: str) -> str:
    m = re.search(rf"\b{re.escape(name)}\[\d*\] = \{{(.*?)\}};", c, re.S)
    assert m, name
    return re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)


def _generated(model: Path, out: Path) -> str:
    r = run_cli(["generate", model, "--name", "net", "--out", out])
    assert r.code == 0, r.err
    return (out / "net_runner.c").read_text()


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, (1 << 32) - 1, 1 << 40])
def test_leb128_round_trips(value: int) -> None:
    assert _numbers(bytes(_leb128(value))) == [value]


def _check_program(model: Path, c: str) -> None:
    k = _c_constants()
    bits, mask = k["MLF_ARG_KIND_BITS"], k["MLF_ARG_KIND_MASK"]
    m = load_model(model)
    mod = m.module(None)
    plan = plan_module(m, mod)
    assert plan.graph is not None
    slots, steps = plan.graph.slots, plan.graph.steps
    graph = re.search(r"net__graph = \{\s*\{[^}]*\}, (.*?)\};", c, re.S)
    assert graph
    fields = [f.strip() for f in graph.group(1).split(",")]
    num_steps, shift = int(fields[-2].rstrip("u")), int(fields[-1].rstrip("u"))
    typed = fields[4] != "NULL"
    assert num_steps == len(steps)
    funcs = [f.strip() for f in _array(c, "net__funcs").split(",") if f.strip()]
    linked = (
        [f.strip() for f in _array(c, "net__linked").split(",") if f.strip()] if fields[3] != "NULL" else []
    )
    program = bytes(int(b) for b in _array(c, "net__program").replace("\n", " ").split(",") if b.strip())
    numbers = iter(_numbers(program))
    blob = blob_offsets(mod, plan)
    types = _types(c) if typed else []
    for step, func in zip(steps, funcs, strict=True):
        assert (func == "NULL") == (step.func is None)
        count = 2 if step.func is None else next(numbers)
        assert count == len(step.args)
        for a in step.args:
            sl, n = slots[a], next(numbers)
            kind, x = n & mask, n >> bits
            if sl.loc == ARENA:
                assert (kind, x << shift) == (k["MLF_ARG_ARENA"], sl.index)
            elif sl.loc == CONST and sl.index in blob:
                assert (kind, x << shift) == (k["MLF_ARG_PARAM"], blob[sl.index])
            elif sl.loc == CONST:
                assert kind == k["MLF_ARG_LINKED"] and linked[x].endswith(f"__lp_{sl.index}")
            else:
                io = sl.index if sl.loc == INPUT else len(mod.inputs) + sl.index
                assert (kind, x) == (k["MLF_ARG_IO"], io)
            if typed:
                assert sl.entry is not None
                assert types[next(numbers)] == (sl.entry.dtype.code, sl.entry.dtype.bits, sl.entry.shape)
        if step.func is None:
            src = slots[step.args[0]].entry
            assert src is not None and next(numbers) == src.nbytes
    assert next(numbers, None) is None


def _types(c: str) -> list[tuple[int, int, tuple[int, ...]]]:
    pool = [int(v) for v in _array(c, "net__shapes").split(",") if v.strip()]
    out = []
    for row in re.finditer(r"\{(\d+)u, (\d+)u, MLF_DTYPE\((\d+), (\d+)\)\}", _array(c, "net__type_of")):
        start, ndim, code, log2 = (int(g) for g in row.groups())
        out.append((code, 1 << log2, tuple(pool[start : start + ndim])))
    return out


def test_program_of_every_fixture_graph(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    graphs = [layout for layout in fixture_models if fixtures.layout_info(layout)["executor"] == "graph"]
    assert len(graphs) >= 8  # v1 ... v7, link-params and system-lib included
    for layout in graphs:
        _check_program(fixture_models[layout], _generated(fixture_models[layout], tmp_path / layout))


@pytest.mark.parametrize("item", CORPUS_GRAPHS)
def test_program_of_corpus_graph(corpus: Path, item: str, tmp_path: Path) -> None:
    model = corpus_item(corpus, item)
    c = _generated(model, tmp_path)
    _check_program(model, c)
    # The corpus's C operators read no DLTensor field but data (TVM built them with
    # tir.disable_assert): no types. The AArch64 object's operators cannot be read: types.
    assert ("net__types" in c) == (item == "nitesh-llvm-aarch64-v5-graph")


@needs_host_cc
def test_blob_offsets_are_where_the_assembler_puts_the_parameters(corpus: Path, tmp_path: Path) -> None:
    model = corpus_item(corpus, "gtvm-v2-graph-c-lib0only")
    _generated(model, tmp_path)
    run(["gcc", "-c", "-I", tmp_path, tmp_path / "net_data.c", "-o", tmp_path / "data.o"])
    nm = run(["nm", tmp_path / "data.o"]).stdout
    addr = {f[2]: int(f[0], 16) for f in (line.split() for line in nm.splitlines()) if len(f) == 3}
    m = load_model(model)
    mod = m.module(None)
    offsets = blob_offsets(mod, plan_module(m, mod))
    assert len(offsets) == len(mod.params) > 40
    assert {i: addr[f"net__param_{i}"] - addr["net__params"] for i in offsets} == offsets
    assert all(o % 16 == 0 for o in offsets.values())


# TVM's argument checks, as MakePackedAPI/ArgBinder emit them without tir.disable_assert
# (src/tir/transforms/arg_binder.cc: ndim, dtype, then each shape value).
CHECKS = """  void* {h}_shape = (((DLTensor*){h})[0].shape);
  if (!(({ndim} == (((DLTensor*){h})[0].ndim)))) {{
    TVMAPISetLastError("{h}.ndim is expected to equal {ndim}");
    return -1;
  }}
  if (!(((((((DLTensor*){h})[0].dtype.code) == (uint8_t)2) && ((((DLTensor*){h})[0].dtype.bits) == \
(uint8_t)32)) && ((((DLTensor*){h})[0].dtype.lanes) == (uint16_t)1)))) {{
    TVMAPISetLastError("{h}.dtype is expected to be float32");
    return -1;
  }}
{dims}"""
DIM = """  if (!((((int32_t)((int64_t*){h}_shape)[{k}]) == {d}))) {{
    TVMAPISetLastError("Argument {h}.shape[{k}] has an unsatisfied constraint");
    return -1;
  }}
"""


def _checked_add() -> str:
    checks = ""
    for h, shape in (("p0", (1, 4)), ("p1", (4,)), ("T_add", (1, 4))):
        dims = "".join(DIM.format(h=h, k=k, d=d) for k, d in enumerate(shape))
        checks += CHECKS.format(h=h, ndim=len(shape), dims=dims)
    return mlf_factory.ADD_C.replace("  void* p0_1 = ", checks + "  void* p0_1 = ")


SNIPPETS = {
    # What each packed function reads besides data: reads_tensor_facts expected.
    "data, device_id and a workspace (mlf_factory)": (mlf_factory.ADD_C, False),
    "TVM's argument checks": (_checked_add(), True),
    "a shape pointer stored and never used": (
        mlf_factory.ADD_C.replace(
            "  void* p0_1 = ", "  void* p0_shape = (((DLTensor*)p0)[0].shape);\n  void* p0_1 = "
        ),
        False,
    ),
    "a shape value read": (
        mlf_factory.ADD_C.replace(
            "  void* p0_1 = ",
            "  void* p0_shape = (((DLTensor*)p0)[0].shape);\n"
            "  if (((int64_t*)p0_shape)[0] != 1) { return -1; }\n  void* p0_1 = ",
        ),
        True,
    ),
    "a shape value read in place": (
        mlf_factory.ADD_C.replace(
            "  void* p0_1 = ", "  int64_t n = ((int64_t*)(((DLTensor*)p0)[0].shape))[0];\n  void* p0_1 = "
        ),
        True,
    ),
    "a handle passed on": (
        mlf_factory.ADD_C.replace("  void* p0_1 = ", "  other(p0);\n  void* p0_1 = "),
        True,
    ),
    "args passed on": (
        mlf_factory.ADD_C.replace("  void* p0_1 = ", "  other(args);\n  void* p0_1 = "),
        True,
    ),
    "TVM 0.6 (TVMArray, ctx, typed shape pointer, a NULL test)": (
        mlf_factory.ADD_C.replace("(DLTensor*)", "(TVMArray*)")
        .replace(".device.device_id", ".ctx.device_id")
        .replace(
            "  void* p0_1 = ",
            "  int64_t* arg0_shape = (int64_t*)(((TVMArray*)p0)[0].shape);\n"
            "  if (p0 == NULL) { return -1; }\n  void* p0_1 = ",
        ),
        False,
    ),
    "TVM 0.8's AOT run wrapper (fields read straight out of args)": (
        "int32_t tvmgen_default_run(void* args, void* type_code, int num_args, void* out_value, "
        "void* out_type_code, void* resource_handle) {\nreturn tvmgen_default_run_model("
        "((DLTensor*)(((TVMValue*)args)[0].v_handle))[0].data,"
        "((DLTensor*)(((TVMValue*)args)[1].v_handle))[0].data);\n}\n",
        False,
    ),
    "the same, reading ndim": (
        "int32_t f(void* args, void* type_code, int num_args, void* out_value, "
        "void* out_type_code, void* resource_handle) {\n"
        "return ((DLTensor*)(((TVMValue*)args)[0].v_handle))[0].ndim;\n}\n",
        True,
    ),
    "not a packed function": ("int32_t f(void* a, void* b) { return 0; }\n", True),
}


@pytest.mark.parametrize("what", list(SNIPPETS))
def test_which_operators_read_tensor_facts(what: str) -> None:
    source, expected = SNIPPETS[what]
    functions = parse_c(source).functions
    assert len(functions) == 1
    assert next(iter(functions.values())).reads_tensor_facts is expected


@needs_cmake
@pytest.mark.slow
def test_an_operator_with_tvms_argument_checks_runs(tmp_path: Path) -> None:
    files = mlf_factory.minimal_files()
    files["codegen/host/src/default_lib1.c"] = _checked_add().encode()
    model = mlf_factory.write_tar(tmp_path / "checked.tar", files)
    c = _generated(model, tmp_path / "gen")
    assert "net__types" in c
    _check_program(model, c)
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(k C)\nenable_testing()\n"
        f'find_package(mlf_build CONFIG REQUIRED)\nadd_mlf_library(net "{model.as_posix()}" TEST)\n'
    )
    configure(src, tmp_path / "b")
    build(tmp_path / "b")
    out = run([tmp_path / "b" / "net_smoke"]).stdout
    assert "mlf-smoke: PASS" in out
