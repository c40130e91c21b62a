"""metadata.py and jsonio.py: metadata.json of every layout in one shape, strict JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlf_build.errors import MlfError
from mlf_build.read.jsonio import loads
from mlf_build.read.metadata import parse_metadata
from tests.mlf_factory import metadata_doc


def _parse(doc: Any) -> Any:
    return parse_metadata(json.dumps(doc), "m.tar(metadata.json)")


def test_version_7_modules_and_their_memory() -> None:
    meta = _parse(metadata_doc("net"))
    assert (meta.version, meta.layout, meta.notes) == (7, "v7", [])
    (mod,) = meta.modules
    assert (mod.name, mod.style, mod.executors, mod.targets) == (
        "net",
        "full-model",
        ["graph"],
        ["c -keys=cpu "],
    )
    assert (mod.workspace_size_bytes, mod.io_size_bytes, mod.constants_size_bytes) == (32, 32, 16)
    assert mod.operator_workspace == {"tvmgen_default_fused_add": 16}


def test_version_1_flat_layout_with_runtimes_and_a_target_map() -> None:
    # Format version 1 (python/tvm/micro/model_library_format.py at ee052dd642, PR #7533): no
    # "modules", "runtimes" (renamed "executors" in version 5), target as {device type: str},
    # memory as a flat list of storage ids.
    doc = {
        "version": 1,
        "model_name": "default",
        "runtimes": ["graph"],
        "target": {"2": "llvm", "1": "c -keys=cpu"},
        "memory": [{"storage_id": 0, "size_bytes": 16}],
    }
    meta = _parse(doc)
    (mod,) = meta.modules
    assert meta.layout == "flat"
    assert mod.executors == ["graph"]
    assert mod.targets == ["c -keys=cpu", "llvm"]  # sorted by key
    assert mod.targets_raw == {"2": "llvm", "1": "c -keys=cpu"}
    # The storage table is checked though nothing reads it (the graph JSON has the same).
    doc["memory"] = [{"storage_id": 0, "size_bytes": -1}]
    with pytest.raises(MlfError, match=r"memory\[0\]\.size_bytes: expected a byte count"):
        _parse(doc)


def test_a_versions_layout_is_probed_not_trusted() -> None:
    doc = metadata_doc()
    doc["version"] = 5
    assert _parse(doc).notes == ["declares version 5 but wraps modules like version 7"]


def test_operator_workspace_takes_the_largest_device_entry() -> None:
    doc = metadata_doc()
    ops = doc["modules"]["default"]["memory"]["functions"]["operator_functions"]
    ops[0]["workspace"] = [
        {"device": 1, "workspace_size_bytes": 16},
        {"device": 2, "workspace_size_bytes": 48},
    ]
    assert _parse(doc).modules[0].operator_workspace == {"tvmgen_default_fused_add": 48}


def test_main_inputs_and_outputs_of_tvm_0_11() -> None:
    doc = metadata_doc()
    main = doc["modules"]["default"]["memory"]["functions"]["main"][0]
    main["inputs"] = {"x": {"size": 16, "dtype": "float32"}}
    main["outputs"] = {"output": {"size": 16, "dtype": "float32"}}
    mod = _parse(doc).modules[0]
    assert [(i.name, i.size, i.dtype) for i in mod.inputs] == [("x", 16, "float32")]
    assert [o.name for o in mod.outputs] == ["output"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(version=8), "format version 8 is newer than this tool supports"),
        (lambda d: d.update(version=0), "format version 0 does not exist"),
        (lambda d: d.update(version="7"), "version: expected an integer format version"),
        (lambda d: d["modules"]["default"].update(model_name="other"), "is 'other', not the module's key"),
        (lambda d: d["modules"]["default"].update(executors=["vm"]), "unknown executor 'vm'"),
        (lambda d: d["modules"]["default"].pop("memory"), "modules.default.memory: is missing"),
        (
            lambda d: d["modules"]["default"]["memory"]["functions"]["main"][0].update(io_size_bytes=-1),
            "io_size_bytes: expected a byte count",
        ),
    ],
)
def test_bad_metadata_names_the_key(change: Any, problem: str) -> None:
    doc = metadata_doc()
    change(doc)
    with pytest.raises(MlfError, match=problem) as exc:
        _parse(doc)
    assert exc.value.where == "m.tar(metadata.json)"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": 1e999}', "out of range"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a": 1,}', "is not valid JSON .* at line 1 column"),
        ("1" + "0" * 20, "is too large"),
    ],
)
def test_strict_json(text: str, problem: str) -> None:
    with pytest.raises(MlfError, match=problem):
        loads(text, "x.json")
