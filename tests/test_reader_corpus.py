"""Every real MLF of the corpus is read, and its numbers match values read by hand from its
files (metadata.json, the graph JSON, the params file header, the AOT header)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import corpus_item, run_cli


def inspect(path: Path, *extra: str) -> dict:
    r = run_cli(["inspect", path, "--json", *extra])
    assert r.code == 0, r.err
    return json.loads(r.out)


def one(doc: dict) -> dict:
    assert len(doc["modules"]) == 1
    return doc["modules"][0]


def io(tensors: list[dict]) -> list[tuple]:
    return [(t["name"], t["dtype"], t["shape"], t["nbytes"]) for t in tensors]


def test_snu_v7_graph(corpus: Path) -> None:
    doc = inspect(corpus_item(corpus, "snu-v7-graph"))
    m = one(doc)
    assert doc["format_version"] == 7 and doc["layout"] == "v7"
    assert m["executor"] == "graph" and m["name"] == "default"
    assert m["targets"] == ["c -keys=cpu "]  # a list in v6+, trailing space kept
    assert io(m["inputs"]) == [
        ("x1", "float32", [1, 32, 56, 56], 401408),
        ("x2", "float32", [1, 32, 56, 56], 401408),
    ]
    assert io(m["outputs"]) == [("output", "float32", [1, 32, 56, 56], 401408)]
    assert m["io_source"] == "graph_json"
    assert [(p["name"], p["shape"], p["nbytes"]) for p in m["params"]] == [
        ("p0", [8, 8, 3, 3, 4, 4], 36864),
        ("p1", [1, 8, 1, 1, 4], 128),
    ]
    assert m["params_bytes"] == 36992 == m["constants_size_bytes"]
    assert m["workspace_size_bytes"] == 1234880 and m["io_size_bytes"] == 1204224
    assert m["operator_workspace_bytes"]["tvmgen_default_fused_nn_contrib_conv2d_NCHWc_add_nn_relu"] == 431936
    assert m["system_lib"] is True and m["runtime_bundled"] is False
    kinds = {c["path"]: (c["kind"], c["target"]) for c in m["codegen"]}
    assert kinds == {
        "codegen/host/src/default_lib0.c": ("c", None),
        "codegen/host/src/default_lib1.c": ("c", "c -keys=cpu"),
    }
    assert m["files"]["graph"] == "executor-config/graph/default.graph"
    assert m["files"]["relay"] == "src/default.relay"


@pytest.mark.parametrize("item", ["gtvm-v2-graph-c-lib0only", "gtvm-v2-graph-c-syslib"])
def test_gtvm_v2(corpus: Path, item: str) -> None:
    doc = inspect(corpus_item(corpus, item))
    m = one(doc)
    assert doc["format_version"] == 2 and m["executor"] == "graph"
    assert isinstance(m["targets"], dict) and list(m["targets"]) == ["1"]  # a map in v1-5
    assert io(m["inputs"]) == [("input_1_int8", "int8", [1, 32, 32, 3], 3072)]
    assert io(m["outputs"]) == [("output", "int8", [1, 10], 10)]
    assert len(m["params"]) == 55 and m["params_bytes"] == 164184 == m["constants_size_bytes"]
    # File order (a TVM Map's iteration order), not sorted: both files start with p35, then
    # p52 (lib0only) or p48 (syslib).
    second = "p52" if item.endswith("lib0only") else "p48"
    assert [p["name"] for p in m["params"][:2]] == ["p35", second]
    p0 = next(p for p in m["params"] if p["name"] == "p0")
    assert p0["shape"] == [] and p0["dtype"] == "int16" and p0["nbytes"] == 2  # a scalar
    assert m["workspace_size_bytes"] == 119108
    assert m["files"]["graph"] == "runtime-config/graph/graph.json" and m["files"]["relay"] == "relay.txt"
    paths = [c["path"] for c in m["codegen"]]
    if item.endswith("lib0only"):
        assert paths == ["codegen/host/src/lib0.c"] and m["system_lib"] is False
    else:
        assert paths == ["codegen/host/src/lib0.c", "codegen/host/src/lib1.c"] and m["system_lib"] is True


def test_arduino_v4_graph_link_params(corpus: Path) -> None:
    m = one(inspect(corpus_item(corpus, "arduino-yesno-v4-graph")))
    assert m["executor"] == "graph" and m["link_params"] is True
    assert io(m["inputs"]) == [("Reshape_1", "int8", [1, 1960], 1960)]
    assert io(m["outputs"]) == [("output", "int8", [1, 4], 4)]
    assert len(m["params"]) == 9 and m["params_bytes"] == 33524
    # -link-params=1: every parameter also lives in default_lib1.c as a __tvm_param__ array.
    assert m["linked_params"] == sorted(f"p{i}" for i in range(9))
    assert m["workspace_size_bytes"] == 17392
    assert m["files"]["relay"] == "src/relay.txt"


@pytest.mark.parametrize(
    ("item", "interface", "unpacked"),
    [("arduino-yesno-v5-aot", "packed", True), ("linaro-sine-v5-aot-crt", "c", True)],
)
def test_inspect_names_the_aot_options_as_tvm_does(
    corpus: Path, item: str, interface: str, unpacked: bool
) -> None:
    """The text shows TVM's two executor options under their own names (interface-api,
    unpacked-api), as the JSON has them: 'interface: packed (unpacked API)' read as a
    contradiction."""
    path = corpus_item(corpus, item)
    m = one(inspect(path))
    assert (m["interface"], m["unpacked_api"]) == (interface, unpacked)
    res = run_cli(["inspect", path])
    assert res.code == 0, res.err
    lines = [line.split() for line in res.out.splitlines() if line.startswith("  ")]
    assert ["interface-api:", interface] == next(w[:2] for w in lines if w[0] == "interface-api:")
    assert ["unpacked-api:", str(int(unpacked))] == next(w[:2] for w in lines if w[0] == "unpacked-api:")
    assert "API)" not in res.out


def test_arduino_v5_aot_packed(corpus: Path) -> None:
    doc = inspect(corpus_item(corpus, "arduino-yesno-v5-aot"))
    m = one(doc)
    assert doc["format_version"] == 5
    assert m["executor"] == "aot" and m["interface"] == "packed" and m["unpacked_api"] is True
    # No header, no I/O in metadata, an untyped Relay text: the input comes from the Relay
    # parameters, the output's dtype from the casts in the operator's C, and its size from
    # nowhere (io_size_bytes is never a source): inspect says so, generate asks for it.
    assert io(m["inputs"]) == [("Reshape_1", "int8", [1, 1960], 1960)]
    assert io(m["outputs"]) == [("output", "int8", None, None)]
    assert m["outputs"][0]["from"] == {"dtype": "c_source"}
    assert "relay" in m["io_source"] and "io_size" not in m["io_source"]
    assert m["build_problems"] == [
        f"{corpus_item(corpus, 'arduino-yesno-v5-aot')}: module 'default' does not record the sizes "
        "of output; give them with --io-shape output=<dims> (metadata.json's io_size_bytes leaves 4 "
        "bytes, 4 int8, for it: its size in exports of TVM before 0.9, an over-count in later ones)"
    ]
    assert m["workspace_size_bytes"] == 21312 and len(m["params"]) == 9
    # What the Relay body computes (dense units=4, int8): given, it is checked against
    # io_size_bytes, which must count at least the inputs and outputs.
    m = one(inspect(corpus_item(corpus, "arduino-yesno-v5-aot"), "--io-shape", "output=1x4"))
    assert io(m["outputs"]) == [("output", "int8", [1, 4], 4)] and m["build_problems"] == []
    assert m["outputs"][0]["from"] == {"dtype": "c_source", "nbytes": "override", "shape": "override"}
    r = run_cli(["inspect", corpus_item(corpus, "arduino-yesno-v5-aot"), "--io-shape", "output=1x5"])
    assert r.code == 2 and r.err.endswith(
        "take 1965 bytes but metadata.json's io_size_bytes counts only 1964; check the size --io-shape gives "
        "'output'\n"
    ), r.err


def test_linaro_v5_aot_c_with_crt(corpus: Path) -> None:
    doc = inspect(corpus_item(corpus, "linaro-sine-v5-aot-crt"))
    m = one(doc)
    assert m["executor"] == "aot" and m["interface"] == "c"
    assert doc["runtime_bundled"] is True and m["runtime_bundled"] is True
    assert io(m["inputs"])[0][:2] == ("dense_4_input", "float32")
    assert io(m["outputs"]) == [("Identity", "float32", None, None)]  # sized by nothing but io_size
    assert m["params"] == [] and m["workspace_size_bytes"] == 1184
    assert m["files"]["header"] == "codegen/host/include/tvmgen_default.h"
    assert m["io_source"].startswith("aot_header")


def test_llvm_aarch64_object(corpus: Path) -> None:
    m = one(inspect(corpus_item(corpus, "nitesh-llvm-aarch64-v5-graph")))
    assert m["codegen"] == [
        {
            "path": "codegen/host/lib/default_lib0.o",
            "kind": "object",
            "target": None,
            "machine": "aarch64",
            "elf_class": 64,
            "float_abi": None,
            "cpu_arch": None,
        }
    ]
    assert io(m["inputs"]) == [("input", "float32", [1, 16, 8], 512)]
    assert io(m["outputs"]) == [("output", "float32", [1, 33, 3], 396)]
    assert m["params_bytes"] == 6468 and m["workspace_size_bytes"] == 844


def test_partial_mlf_says_what_is_missing(corpus: Path) -> None:
    path = corpus_item(corpus, "octoml-kws-cmsisnn-partial")
    r = run_cli(["inspect", path])
    assert r.code == 2
    line = r.err.strip()
    assert "\n" not in line and line.startswith(f"mlf-build: error: {path}: is a partial MLF")
    for missing in ("metadata.json", "parameters/", "src/"):
        assert missing in line


def test_every_corpus_item_inspects_or_fails_specifically(corpus: Path) -> None:
    for item in sorted(p.name for p in corpus.iterdir() if p.is_dir()):
        r = run_cli(["inspect", corpus_item(corpus, item)])
        assert r.code in (0, 2), item
        if r.code == 2:
            assert r.err.startswith("mlf-build: error: ") and r.err.count("\n") == 1, r.err


def test_text_summary_names_everything(corpus: Path) -> None:
    r = run_cli(["inspect", corpus_item(corpus, "snu-v7-graph")])
    assert r.code == 0
    assert "MLF format version 7" in r.out and "x1" in r.out and "executor graph" in r.out


def test_params_parse_with_numpy_and_match_the_linked_copies(corpus: Path) -> None:
    """The params file of a -link-params=1 model and the __tvm_param__ arrays TVM wrote into C
    hold the same values: mlf_build exposes the C arrays and never embeds the file's copy."""
    import re

    import numpy as np

    from mlf_build.read.model import load_model
    from tests.params_numpy import load_array, numpy_dtype

    with load_model(corpus_item(corpus, "arduino-yesno-v4-graph")) as model:
        mod = model.modules[0]
        lib1 = model.source.read_text("codegen/host/src/default_lib1.c", 1 << 24)
        assert mod.params_member is not None
        for p in mod.params:
            values = load_array(model.source, mod.params_member, p)
            assert values.dtype == np.dtype(numpy_dtype(p.dtype)) and values.shape == p.shape
            m = re.search(rf"__tvm_param__{p.name}\[\d+\] = \{{(.*?)\}};", lib1, re.S)
            assert m is not None, p.name
            items = [v.strip().rstrip("LlUu") for v in m.group(1).split(",") if v.strip()]
            linked = np.array([int(v, 16) for v in items])
            np.testing.assert_array_equal(values.reshape(-1), linked, err_msg=p.name)
