"""Tensor names exactly as TVM made them: the struct members of the AOT C interface, the Relay
printer's spelling, and the model's own names kept for the public API; names that TVM's own
code could not compile, or that collide, refused in one line."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from mlf_build.errors import MlfError
from mlf_build.naming import (
    c_member_problem,
    c_string,
    check_tvm_members,
    relay_name_candidates,
    relay_text_name,
    tvm_sanitize,
)
from mlf_build.read.relay import RelayTensorType, parse_relay_main
from tests import fixtures
from tests.conftest import needs_host_cc, run_cli
from tests.firmware import Smoke, assert_outputs_close, run, smoke_inputs
from tests.mlf_factory import write_tar

# (frontend, the model's own name, TVM's C member, how the Relay text prints it). Members are
# SanitizeName's (src/runtime/name_transforms.cc): each byte that is not an ASCII letter or
# digit becomes '_'; the Relay printer (relay_text_printer.cc AllocVar) puts a 'v' before a name
# whose first byte is not an ASCII letter. The public API keeps the own name.
NAME_TABLE = [
    ("TFLite", "serving_default_input_1:0", "serving_default_input_1_0", "serving_default_input_1:0"),
    ("TFLite", "StatefulPartitionedCall:0", "StatefulPartitionedCall_0", "StatefulPartitionedCall:0"),
    ("TFLite", "input_1", "input_1", "input_1"),
    ("ONNX", "input.1", "input_1", "input.1"),
    ("ONNX", "0", "0", "v0"),
    ("ONNX", "data", "data", "data"),
    ("ONNX", "onnx::Concat_1", "onnx__Concat_1", "onnx::Concat_1"),
    ("PyTorch", "input0", "input0", "input0"),
    ("PyTorch", "x.3", "x_3", "x.3"),
    ("Keras", "dense/BiasAdd", "dense_BiasAdd", "dense/BiasAdd"),
    ("leading digit", "1st_input", "1st_input", "v1st_input"),
    ("leading underscore", "_param_1", "_param_1", "v_param_1"),
    ("non-ASCII", "entrée", "entr__e", "entrée"),
    ("non-ASCII first", "état", "__tat", "vétat"),
]


@pytest.mark.parametrize(("frontend", "name", "member", "printed"), NAME_TABLE)
def test_name_table(frontend: str, name: str, member: str, printed: str) -> None:
    assert tvm_sanitize(name) == member, frontend
    assert relay_text_name(name) == printed
    assert name in relay_name_candidates(printed)
    # A member that TVM writes but no C compiler accepts is named as such.
    assert (c_member_problem(member) is None) == (not member[0].isdigit())


def test_names_that_sanitize_alike_are_refused_as_tvm_does() -> None:
    check_tvm_members(["input.1", "input_2"], "input", "m.tar")
    with pytest.raises(MlfError, match=r"'a.b' and 'a:b' both become a_b in TVM's C interface"):
        check_tvm_members(["a.b", "a:b"], "input", "m.tar")
    assert c_member_problem("int") == "is a C keyword"


def test_relay_signature_with_names_types_attributes_and_return_type() -> None:
    text = (
        '#[version = "0.0.5"]\n'
        "def @main(%serving_default_input_1:0: Tensor[(1, 1960), int8], %v0: Tensor[(1i64, 4i64), float32], "
        "%dense/BiasAdd: float32, %x {virtual_device=VirtualDevice(1)}: Tensor[(?, 3), int8], "
        '%a:b: (Tensor[(2), int8], Tensor[(3), uint8]), output_tensor_names=["Identity", "x, y"]) '
        "-> (Tensor[(1, 4), int8], (Tensor[(2), float32],)) {\n  %0 = f(%x);\n  %0\n}\n"
    )
    r = parse_relay_main(text)
    assert r is not None
    assert [n for n, _t in r.params] == ["serving_default_input_1:0", "v0", "dense/BiasAdd", "x", "a:b"]
    assert r.args[:3] == [
        ("serving_default_input_1:0", (1, 1960), "int8"),
        ("v0", (1, 4), "float32"),
        ("dense/BiasAdd", (), "float32"),
    ]
    assert r.params[3][1] == RelayTensorType(None, "int8")  # a dynamic dimension
    assert r.returns == [RelayTensorType((1, 4), "int8"), RelayTensorType((2,), "float32")]
    assert r.output_names == ["Identity", "x, y"]
    # Untyped (the corpus's texts): no return type; a hostile run of colons ends, unread.
    assert parse_relay_main("def @main(%x: Tensor[(1), int8]) {\n  %x\n}").returns is None
    hostile = parse_relay_main("def @main(%" + ":" * 100000 + " x) {}")
    assert hostile is not None and hostile.params[0][1] is None


# --------------------------------------------------------------------------------------------
# Archives: the ONNX fixture (inputs "input.1" and "onnx::Concat_1"), renamed the way TVM would
# have written it for other names.


def _edited(src: Path, dest: Path, renames: dict[str, str]) -> Path:
    """A copy of a fixture tarball with every occurrence of each text replaced."""
    files: dict[str, bytes] = {}
    with tarfile.open(src) as tf:
        for m in tf.getmembers():
            if m.isfile():
                data = tf.extractfile(m).read()  # type: ignore[union-attr]
                for old, new in renames.items():
                    data = data.replace(old.encode(), new.encode())
                files[m.name[2:]] = data
    return write_tar(dest, files)


def _inspect(path: Path, *extra: str) -> dict:
    r = run_cli(["inspect", path, "--json", *extra])
    assert r.code == 0, r.err
    (m,) = json.loads(r.out)["modules"]
    return m


def test_members_and_own_names(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    m = _inspect(fixture_models["v7-aot-c-onnx"])
    assert [(t["name"], t["member"]) for t in m["inputs"]] == [
        ("input.1", "input_1"),
        ("onnx::Concat_1", "onnx__Concat_1"),
    ]
    out = tmp_path / "gen"
    assert run_cli(["generate", fixture_models["v7-aot-c-onnx"], "--name", "net", "--out", out]).code == 0
    runner = (out / "net_runner.c").read_text()
    # TVM's struct members in the call, the model's own names in the public tables.
    assert "in.input_1 = (void *)(uintptr_t)inputs[0];" in runner
    assert "in.onnx__Concat_1 = (void *)(uintptr_t)inputs[1];" in runner
    assert re.search(r'\{"input\.1", "float32".*\{"onnx::Concat_1", "float32"', runner, re.S)
    assert "#define NET_INPUT_ONNX__CONCAT_1_SIZE 16" in (out / "net.h").read_text()


def test_a_member_no_compiler_accepts_is_described_and_refused(
    fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    """An ONNX input named "0": TVM declares ``void* 0;``. inspect describes the model; generate
    says in one line that TVM's own code cannot compile."""
    path = _edited(
        fixture_models["v7-aot-c-onnx"],
        tmp_path / "zero.tar",
        {"onnx::Concat_1": "0", "onnx__Concat_1": "0", "ONNX__CONCAT_1": "0", "%onnx::Concat_1": "%v0"},
    )
    m = _inspect(path)
    assert [(t["name"], t["member"]) for t in m["inputs"]][1] == ("0", "0")
    (problem,) = m["build_problems"]
    assert (
        "TVM declares input '0' as member '0' of struct tvmgen_default_inputs, which is not a C identifier"
        in problem
    )
    r = run_cli(["generate", path, "--name", "net", "--out", tmp_path / "out"])
    assert r.code == 2 and r.err.count("\n") == 1 and "which is not a C identifier" in r.err
    assert not (tmp_path / "out").exists()


def test_a_header_declaring_a_member_twice_is_damaged(
    fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    path = _edited(fixture_models["v7-aot-c-onnx"], tmp_path / "twice.tar", {"onnx__Concat_1": "input_1"})
    r = run_cli(["inspect", path])
    assert r.code == 2 and "declares the input member 'input_1' twice" in r.err


@needs_host_cc
def test_constant_pools_of_the_header_are_filled(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    """External USMP constant pools (interface_c.cc EmitConstantPool) are members of the pools
    struct, which run() then takes (EmitRunFunction): the library fills them from TVM's
    _CONSTANT_POOL_DATA bytes, and counts them towards MAX_FLASH. (The fixture's main does not
    read the pool: the run must still match numpy.)"""
    files: dict[str, bytes] = {}
    with tarfile.open(fixture_models["v7-aot-c-onnx"]) as tf:
        for mem in tf.getmembers():
            if mem.isfile():
                files[mem.name[2:]] = tf.extractfile(mem).read()  # type: ignore[union-attr]
    pools = "struct tvmgen_default_workspace_pools* workspace_pools"
    header = files["codegen/host/include/tvmgen_default.h"].decode()
    header = header.replace(
        "int32_t tvmgen_default_run(",
        "struct tvmgen_default_workspace_pools {\n  void* my_const_pool;\n};\n\nint32_t tvmgen_default_run(",
    ).replace("outputs\n);", f"outputs,\n  {pools}\n);")
    header = header.replace(
        "#define TVMGEN_DEFAULT_WORKSPACE_SIZE",
        "#define TVMGEN_DEFAULT_MY_CONST_POOL_CONSTANT_POOL_SIZE 8\n"
        "#define TVMGEN_DEFAULT_MY_CONST_POOL_CONSTANT_POOL_DATA \\\n"
        "    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08\n"
        "#define TVMGEN_DEFAULT_WORKSPACE_SIZE",
    )
    lib0 = files["codegen/host/src/default_lib0.c"].decode()
    lib0 = lib0.replace("outputs) {return", f"outputs,{pools}) {{(void)workspace_pools;return")
    assert pools in header and pools in lib0
    files["codegen/host/include/tvmgen_default.h"] = header.encode()
    files["codegen/host/src/default_lib0.c"] = lib0.encode()
    path = write_tar(tmp_path / "cpool.tar", files)
    r = run_cli(["generate", path, "--name", "net", "--out", tmp_path / "x", "--max-flash", "100"])
    assert r.code == 2 and "(396 in TVM's C, 8 in constant pools)" in r.err
    s = make_smoke(path, tmp_path / "make")
    runner = (tmp_path / "make" / "gen" / "net" / "net_runner.c").read_text()
    assert (
        "net__cpool_0[8] __attribute__((aligned(16))) = {TVMGEN_DEFAULT_MY_CONST_POOL_CONSTANT_POOL_DATA};"
        in runner
    )
    assert "pools.my_const_pool = (void *)(uintptr_t)net__cpool_0;" in runner
    ins = smoke_inputs([("float32", 16), ("float32", 16)])
    want = fixtures.reference("mixer", [ins[0].reshape(1, 4), ins[1].reshape(1, 4)])
    assert_outputs_close(s.arrays(), want, "constant pools")


# --------------------------------------------------------------------------------------------
# The fixtures with frontend names, built with plain Make (mlf-build generate + runtime) and run
# through the generic smoke program on the host: outputs equal the numpy reference.

MAKEFILE = """include gen/net/net.mk
include gen/mlf_runtime/mlf_runtime.mk

smoke: $(NET_SOURCES) $(NET_OBJECTS) $(NET_PARAMS_BIN) $(MLF_RUNTIME_SOURCES)
\t$(CC) -O2 -Wall -Wextra -Werror $(NET_CFLAGS) $(NET_INCLUDES) $(MLF_RUNTIME_INCLUDES) \\
\t  -DMLF_SMOKE_HEADER='"net.h"' -DMLF_SMOKE_NAME=net -DMLF_SMOKE_UPPER=NET -o $@ \\
\t  gen/mlf_runtime/smoke/mlf_smoke.c $(NET_SOURCES) $(NET_OBJECTS) $(MLF_RUNTIME_SOURCES) -lm
"""
NAMED = [
    "v5-aot-c-tflite",
    "v6-aot-c-usmp-tflite",
    "v7-aot-packed-usmp-tflite",
    "v7-aot-c-onnx",
    "v7-graph-cmeta-onnx",
    "v6-graph-pytorch",
]


def make_smoke(model: Path, work: Path, *options: str) -> Smoke:
    r = run_cli(["generate", model, "--name", "net", "--out", work / "gen" / "net", *options])
    assert r.code == 0, r.err
    assert run_cli(["runtime", "--out", work / "gen" / "mlf_runtime"]).code == 0
    (work / "Makefile").write_text(MAKEFILE)
    run(["make", "-C", work, "smoke"])
    s = Smoke.parse(run([work / "smoke"], check=False).stdout)
    assert s.passed, s.text[-2000:]
    return s


@needs_host_cc
@pytest.mark.parametrize("layout", NAMED)
def test_named_fixtures_build_with_make_and_match_numpy(
    layout: str, fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    model = fixtures.layout_info(layout)["model"]
    s = make_smoke(fixture_models[layout], tmp_path)
    if model == "waveform":
        ins = smoke_inputs([("float32", 128)])
        want = fixtures.reference(model, [ins[0].reshape(1, 1, 32)])
    else:
        ins = smoke_inputs([("float32", 16), ("float32", 16)])
        want = fixtures.reference(model, [ins[0].reshape(1, 4), ins[1].reshape(1, 4)])
    assert_outputs_close(s.arrays(), want, layout)
    # The public tables keep the frontend's names (the smoke program prints them).
    header = (tmp_path / "gen" / "net" / "net_runner.c").read_text()
    for t in fixtures.layout_info(layout)["io_names"]:
        assert c_string(t) in header, t


def test_c_metadata_module_left_out_unless_a_registry_refers_to_it(
    fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    """TVM's C metadata module (kTvmgenMetadata, which includes tvm/runtime/metadata_types.h):
    the packed AOT entry never refers to it, so the library leaves it out; a graph model of TVM
    0.9-0.11 registers its getter in the system-lib registry, so it is compiled (against the
    builtin runtime's metadata_types.h; the Make test above links both)."""
    for layout, built in (("v7-aot-packed-usmp-tflite", False), ("v7-graph-cmeta-onnx", True)):
        m = _inspect(fixture_models[layout])
        (meta,) = [c for c in m["codegen"] if c.get("role") == "c_metadata"]
        assert meta["path"] == "codegen/host/src/default_lib1.c" and meta["built"] is built
        out = tmp_path / layout
        assert run_cli(["generate", fixture_models[layout], "--name", "net", "--out", out]).code == 0
        assert (out / "codegen" / "net__default_lib1.c").exists() is built
        assert (out / "codegen" / "src" / "default_lib1.c").exists() is built
        manifest = json.loads((out / "net_manifest.json").read_text())
        assert ("codegen/net__default_lib1.c" in manifest["sources"]) is built
