"""graph.py: the graph executor's JSON, checked for what a static runner relies on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlf_build.errors import MlfError
from mlf_build.read.graph import parse_graph
from tests.mlf_factory import graph_doc


def _parse(doc: Any) -> Any:
    return parse_graph(json.dumps(doc), "default.graph")


def test_entries_take_shape_dtype_and_storage_from_the_attribute_lists() -> None:
    g = _parse(graph_doc())
    assert [n.name for n in g.op_nodes()] == ["tvmgen_default_fused_add"]
    assert g.arg_nodes == (0, 1) and g.heads == (2,)
    add = g.nodes[2]
    assert (add.func_name, add.inputs, add.num_outputs) == ("tvmgen_default_fused_add", (0, 1), 1)
    out = g.node_entry(2)
    assert (out.shape, out.dtype.name, out.storage_id, out.nbytes) == ((1, 4), "float32", 2, 16)


def test_a_node_with_two_outputs_owns_two_entries() -> None:
    # node_row_ptr[i] is the first entry of node i (src/runtime/graph_executor/graph_executor.h)
    doc = graph_doc()
    doc["nodes"][2]["attrs"]["num_outputs"] = "2"
    doc["node_row_ptr"] = [0, 1, 2, 4]
    for key, extra in (("dltype", "float32"), ("storage_id", 3), ("shape", [2]), ("device_index", 1)):
        doc["attrs"][key][1].append(extra)
    doc["heads"] = [[2, 1, 0]]
    g = _parse(doc)
    assert g.heads == (3,)
    assert g.node_entry(2, 1).shape == (2,)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["nodes"][2].update(inputs=[[2, 0, 0]]), "uses node 2, which comes later"),
        (lambda d: d["nodes"][2].update(inputs=[[7, 0, 0]]), "uses node 7, which does not exist"),
        (lambda d: d["nodes"][2].update(inputs=[[0, 1, 0]]), "uses output 1 of node 0, which has 1"),
        (lambda d: d["nodes"][2]["attrs"].pop("func_name"), "has no func_name"),
        (lambda d: d["nodes"][2].update(op="cuda_op"), "has unsupported op 'cuda_op'"),
        (lambda d: d.update(node_row_ptr=[0, 1, 2, 4]), "node_row_ptr does not match"),
        (lambda d: d["attrs"]["storage_id"][1].pop(), "attrs.storage_id has 2 items for 3 entries"),
        (
            lambda d: d["attrs"]["storage_id"][1].__setitem__(2, 3),
            "storage_id must be an integer in \\[0, 2\\]",
        ),
        (lambda d: d["attrs"]["device_index"][1].__setitem__(2, 2), "uses several devices"),
        (lambda d: d.update(heads=[]), "has no outputs"),
        (lambda d: d["attrs"]["shape"][1].__setitem__(2, [1 << 30, 1 << 30]), "is impossibly large"),
        (lambda d: d.update(arg_nodes=[2]), "arg_nodes lists node 2, which is an operator"),
    ],
)
def test_graphs_a_runner_cannot_follow_are_refused(change: Any, problem: str) -> None:
    doc = graph_doc()
    change(doc)
    with pytest.raises(MlfError, match=problem):
        _parse(doc)
