"""The graph executor's JSON (``graph.json`` / ``<m>.graph``), parsed and checked.

The checks are the ones a static runner depends on: nodes are in execution order (every input
refers to an earlier node, which also rules out cycles), every reference exists, the per-entry
attribute lists have one item per entry, storage ids are in range and shapes are sane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..dtypes import DType, parse_dtype
from ..errors import MlfError, printable
from . import jsonio
from .limits import Budget

MAX_NODES = 1 << 20
MAX_ELEMENTS = 1 << 48


@dataclass(frozen=True)
class Entry:
    """One tensor of the graph (a node output)."""

    eid: int
    node: int
    index: int
    dtype: DType
    shape: tuple[int, ...]
    storage_id: int

    @property
    def nbytes(self) -> int:
        return self.dtype.nbytes(self.shape)


@dataclass(frozen=True)
class Node:
    nid: int
    name: str
    op: str  # "null" (input or parameter) or "tvm_op"
    func_name: str | None
    inputs: tuple[int, ...]  # entry ids
    num_outputs: int


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    entries: tuple[Entry, ...]
    arg_nodes: tuple[int, ...]
    heads: tuple[int, ...]  # entry ids of the outputs, in order
    node_row_ptr: tuple[int, ...]

    def node_entry(self, nid: int, index: int = 0) -> Entry:
        return self.entries[self.node_row_ptr[nid] + index]

    def op_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.op != "null"]


def _int(value: Any, where: str, what: str, lo: int = 0, hi: int = 1 << 62) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise MlfError(where, f"{what} must be an integer in [{lo}, {hi}], not {value!r:.60}")
    return value


def _list(value: Any, where: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MlfError(where, f"{what} must be a list, not {type(value).__name__}")
    return value


def _typed_attr(attrs: dict[str, Any], key: str, kind: str, where: str) -> list[Any] | None:
    raw = attrs.get(key)
    if raw is None:
        return None
    raw = _list(raw, where, f"attrs.{key}")
    if len(raw) != 2 or raw[0] != kind:
        raise MlfError(where, f"attrs.{key} must be [{kind!r}, [...]]")
    return _list(raw[1], where, f"attrs.{key}[1]")


def parse_graph(text: str, where: str, budget: Budget | None = None) -> Graph:
    doc = jsonio.loads(text, where, budget)
    if not isinstance(doc, dict):
        raise MlfError(where, "must be a JSON object")
    raw_nodes = _list(doc.get("nodes"), where, "nodes")
    if not raw_nodes or len(raw_nodes) > MAX_NODES:
        raise MlfError(where, f"has {len(raw_nodes)} nodes")
    counts = _output_counts(raw_nodes, where)
    row_ptr = _row_ptr(doc, counts, where)
    nodes = [_node(nid, raw, counts, row_ptr, where) for nid, raw in enumerate(raw_nodes)]
    entries = _entries(nodes, row_ptr, _entry_attrs(doc, row_ptr[-1], where), where)
    arg_nodes = _arg_nodes(doc, nodes, where)
    heads = _heads(doc, counts, row_ptr, where)
    return Graph(tuple(nodes), tuple(entries), arg_nodes, tuple(heads), tuple(row_ptr))


def _output_counts(raw_nodes: list[Any], where: str) -> list[int]:
    """Each node's number of outputs (attrs.num_outputs, a decimal string or an integer)."""
    counts: list[int] = []
    for nid, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise MlfError(where, f"node {nid} must be an object")
        attrs = raw.get("attrs") or {}
        if not isinstance(attrs, dict):
            raise MlfError(where, f"node {nid}: attrs must be an object")
        n = attrs.get("num_outputs", "1")
        if isinstance(n, str) and n.isascii() and n.isdigit() and len(n) <= 18:  # not "²", not 10^5000
            n = int(n)
        counts.append(_int(n, where, f"node {nid}: num_outputs", 0, 1 << 16))
    return counts


def _row_ptr(doc: dict[str, Any], counts: list[int], where: str) -> list[int]:
    """Entry layout: node i owns entries [row_ptr[i], row_ptr[i+1]); node_row_ptr, when given,
    must say the same."""
    row_ptr = [0]
    for c in counts:
        row_ptr.append(row_ptr[-1] + c)
    if "node_row_ptr" in doc:
        given = [
            _int(v, where, "node_row_ptr item") for v in _list(doc["node_row_ptr"], where, "node_row_ptr")
        ]
        if given != row_ptr:
            raise MlfError(where, "node_row_ptr does not match the nodes' num_outputs")
    return row_ptr


def _node(nid: int, raw: dict[str, Any], counts: list[int], row_ptr: list[int], where: str) -> Node:
    op = raw.get("op")
    name = raw.get("name")
    if not isinstance(op, str) or not isinstance(name, str):
        raise MlfError(where, f"node {nid} needs string 'op' and 'name'")
    label = f"node {nid} ({printable(name, 60)!r})"
    inputs = _node_inputs(nid, raw, label, counts, row_ptr, where)
    func: str | None = None
    if op == "null":
        if inputs:
            raise MlfError(where, f"{label} is an input but has inputs itself")
    elif op == "tvm_op":
        attrs = raw.get("attrs") or {}
        func = attrs.get("func_name")
        if not isinstance(func, str) or not func:
            raise MlfError(where, f"{label} has no func_name")
    else:
        raise MlfError(where, f"{label} has unsupported op {printable(op)!r}")
    return Node(nid, name, op, func, tuple(inputs), counts[nid])


def _node_inputs(
    nid: int, raw: dict[str, Any], label: str, counts: list[int], row_ptr: list[int], where: str
) -> list[int]:
    """The entry ids a node reads: outputs of earlier nodes only (execution order, no cycle)."""
    inputs: list[int] = []
    for ref in _list(raw.get("inputs", []), where, f"{label}: inputs"):
        ref = _list(ref, where, f"{label}: input")
        if len(ref) not in (2, 3):
            raise MlfError(where, f"{label}: an input must be [node, index, version]")
        src = _int(ref[0], where, f"{label}: input node", 0, 1 << 62)
        idx = _int(ref[1], where, f"{label}: input index", 0, 1 << 62)
        if src >= len(counts):
            raise MlfError(where, f"{label} uses node {src}, which does not exist")
        if src >= nid:
            raise MlfError(
                where,
                f"{label} uses node {src}, which comes later: the graph has a cycle "
                "or is not in execution order",
            )
        if idx >= counts[src]:
            raise MlfError(where, f"{label} uses output {idx} of node {src}, which has {counts[src]}")
        inputs.append(row_ptr[src] + idx)
    return inputs


#: attrs.dltype, attrs.storage_id and attrs.shape: one item per entry each
_EntryAttrs = tuple[list[Any], list[Any], list[Any]]


def _entry_attrs(doc: dict[str, Any], num_entries: int, where: str) -> _EntryAttrs:
    attrs = doc.get("attrs")
    if not isinstance(attrs, dict):
        raise MlfError(where, "has no attrs object")
    dltypes = _typed_attr(attrs, "dltype", "list_str", where)
    sids = _typed_attr(attrs, "storage_id", "list_int", where)
    shapes = _typed_attr(attrs, "shape", "list_shape", where)
    for key, lst in (("dltype", dltypes), ("storage_id", sids), ("shape", shapes)):
        if lst is None:
            raise MlfError(where, f"attrs.{key} is missing")
        if len(lst) != num_entries:
            raise MlfError(where, f"attrs.{key} has {len(lst)} items for {num_entries} entries")
    assert dltypes is not None and sids is not None and shapes is not None
    devices = _typed_attr(attrs, "device_index", "list_int", where)
    if devices is not None:
        devices = [_int(d, where, "attrs.device_index item", 0, 1 << 31) for d in devices]
    if devices is not None and len(set(devices)) > 1:
        raise MlfError(where, "uses several devices; only single-device (CPU) graphs are supported")
    return dltypes, sids, shapes


def _entries(nodes: list[Node], row_ptr: list[int], attrs: _EntryAttrs, where: str) -> list[Entry]:
    dltypes, sids, shapes = attrs
    num_entries = row_ptr[-1]
    entries: list[Entry] = []
    for nid, node in enumerate(nodes):
        for index in range(node.num_outputs):
            eid = row_ptr[nid] + index
            what = f"entry {eid} (output {index} of node {nid})"
            dtype = parse_dtype(dltypes[eid], f"{where}: {what}")
            sid = _int(sids[eid], where, f"{what}: storage_id", 0, max(num_entries - 1, 0))
            shape = tuple(
                _int(d, where, f"{what}: shape dimension")
                for d in _list(shapes[eid], where, f"{what}: shape")
            )
            elements = 1
            for d in shape:
                elements *= d
                if elements > MAX_ELEMENTS:
                    raise MlfError(where, f"{what}: shape {list(shape)} is impossibly large")
            entries.append(Entry(eid, nid, index, dtype, shape, sid))
    return entries


def _arg_nodes(doc: dict[str, Any], nodes: list[Node], where: str) -> tuple[int, ...]:
    arg_nodes = tuple(
        _int(v, where, "arg_nodes item", 0, len(nodes) - 1)
        for v in _list(doc.get("arg_nodes"), where, "arg_nodes")
    )
    for nid in arg_nodes:
        if nodes[nid].op != "null":
            raise MlfError(where, f"arg_nodes lists node {nid}, which is an operator")
    return arg_nodes


def _heads(doc: dict[str, Any], counts: list[int], row_ptr: list[int], where: str) -> list[int]:
    """The entry ids of the graph's outputs, in order."""
    heads: list[int] = []
    for ref in _list(doc.get("heads"), where, "heads"):
        ref = _list(ref, where, "heads item")
        if len(ref) not in (2, 3):
            raise MlfError(where, "a heads item must be [node, index, version]")
        nid = _int(ref[0], where, "heads node", 0, len(counts) - 1)
        idx = _int(ref[1], where, "heads index", 0, max(counts[nid] - 1, 0))
        if counts[nid] == 0:
            raise MlfError(where, f"heads uses node {nid}, which has no outputs")
        heads.append(row_ptr[nid] + idx)
    if not heads:
        raise MlfError(where, "has no outputs (heads is empty)")
    return heads
