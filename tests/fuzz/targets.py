"""Fuzz targets for mlf_build's parsers of untrusted input, shared by the hypothesis tests
(tests/test_fuzz_properties.py) and the coverage-guided atheris runner (tests/fuzz/run_fuzz.py).

Each target takes raw bytes, runs one parser and checks the contract: the parser either succeeds,
and then what it returns satisfies the invariants below, or raises MlfError. Any other exception
(and any broken invariant, raised as AssertionError) is a bug.

Targets: ``tar`` (the path-safe archive reader), ``metadata`` (the metadata.json normaliser),
``graph`` (the graph JSON parser), ``params`` (the streaming params parser) and ``model`` (a valid
MLF with one member replaced by the input, through load_model and the generator's planning).
Seed inputs are built at run time from tests/mlf_factory.py and the fixture exporter.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from mlf_build.archive import open_mlf
from mlf_build.errors import MlfError
from mlf_build.graph import parse_graph
from mlf_build.metadata import SUPPORTED_VERSIONS, parse_metadata
from mlf_build.params import parse_params

#: archives larger than this are refused by the reader in the fuzz targets (keeps runs fast)
FUZZ_MAX_TOTAL = 1 << 20
_SCRATCH = Path(tempfile.gettempdir()) / f"mlf-fuzz-{os.getpid()}"


def _scratch_file(name: str) -> Path:
    _SCRATCH.mkdir(exist_ok=True)
    return _SCRATCH / name


# -- invariants ---------------------------------------------------------------------------------
def check_member_name(name: str) -> None:
    parts = name.split("/")
    assert name, "empty member name kept"
    assert not name.startswith("/"), name
    assert ".." not in parts and "." not in parts and "" not in parts, name
    assert "\\" not in name and not re.match("[A-Za-z]:", name), name
    assert all(ord(c) >= 0x20 and ord(c) != 0x7F for c in name), repr(name)
    assert not any(0xDC80 <= ord(c) <= 0xDCFF for c in name), repr(name)


def check_source(src) -> None:  # type: ignore[no-untyped-def]
    """A successfully opened MLF: checked names, and every member reads as its declared size."""
    total = 0
    for name, member in src.members.items():
        check_member_name(name)
        assert member.name == name and member.size >= 0
        total += member.size
        try:
            data = src.read_bytes(name, FUZZ_MAX_TOTAL)
        except MlfError:
            continue
        assert len(data) == member.size
    assert total <= FUZZ_MAX_TOTAL
    for name, _reason in src.ignored:
        check_member_name(name)


# -- targets ----------------------------------------------------------------------------------
def tar_target(data: bytes) -> None:
    path = _scratch_file("input.tar")
    path.write_bytes(data)
    try:
        src = open_mlf(path, FUZZ_MAX_TOTAL)
    except MlfError:
        return
    try:
        check_source(src)
    finally:
        src.close()


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def metadata_target(data: bytes) -> None:
    try:
        meta = parse_metadata(_text(data), "metadata.json")
    except MlfError:
        return
    assert meta.version in SUPPORTED_VERSIONS
    assert meta.modules and meta.layout in ("v7", "flat")
    for m in meta.modules:
        assert isinstance(m.name, str) and m.style in ("full-model", "operator")
        assert all(e in ("graph", "aot") for e in m.executors)
        assert all(isinstance(t, str) for t in m.targets)
        for size in (m.workspace_size_bytes, m.io_size_bytes, m.constants_size_bytes):
            assert size is None or (isinstance(size, int) and 0 <= size <= 1 << 48)
        for io_list in (m.inputs or [], m.outputs or []):
            for x in io_list:
                assert isinstance(x.dtype, str) and 0 <= x.size <= 1 << 48


def graph_target(data: bytes) -> None:
    try:
        g = parse_graph(_text(data), "graph.json")
    except MlfError:
        return
    n_entries = g.node_row_ptr[-1]
    assert len(g.entries) == n_entries and len(g.node_row_ptr) == len(g.nodes) + 1
    for node in g.nodes:
        first = g.node_row_ptr[node.nid]
        assert all(0 <= e < first for e in node.inputs), "a node uses a later entry"
        assert node.op in ("null", "tvm_op")
    for e in g.entries:
        assert 0 <= e.storage_id < max(n_entries, 1)
        assert all(d >= 0 for d in e.shape)
        assert e.nbytes >= 0
    assert g.heads and all(0 <= h < n_entries for h in g.heads)
    assert all(g.nodes[a].op == "null" for a in g.arg_nodes)


def params_target(data: bytes) -> None:
    try:
        tensors = parse_params(io.BytesIO(data), len(data), "default.params")
    except MlfError:
        return
    end = 0
    names = set()
    for t in tensors:
        assert t.offset >= end and t.offset + t.nbytes <= len(data)
        assert t.nbytes == t.dtype.nbytes(t.shape)
        assert t.name and t.name not in names
        names.add(t.name)
        end = t.offset + t.nbytes
    assert not tensors or end == len(data)


# -- the whole loader: one member of a valid MLF replaced ------------------------------------
@cache
def model_bases() -> list[list[tuple[str, bytes]]]:
    """Valid MLFs as sorted member lists: the minimal factory model and the C fixture layouts."""
    from tests import fixtures
    from tests.mlf_factory import minimal_files

    bases = [sorted(minimal_files().items())]
    with tempfile.TemporaryDirectory() as tmp:
        for layout in fixtures.LAYOUTS:
            if fixtures.layout_info(layout)["llvm"]:
                continue
            dest = Path(tmp) / layout
            dest.mkdir()
            path = fixtures.export(layout, dest)
            bases.append(sorted(_tar_members(path).items()))
    return bases


def _tar_members(path: Path) -> dict[str, bytes]:
    import tarfile

    out = {}
    with tarfile.open(path) as tf:
        for info in tf.getmembers():
            if info.isfile():
                f = tf.extractfile(info)
                assert f is not None
                out[info.name.removeprefix("./")] = f.read()
    return out


def model_input(base: int, member: int, content: bytes) -> bytes:
    """Encode (base model, member index, new content) as a model_target input."""
    return bytes([base, member]) + content


def model_target(data: bytes) -> None:
    from mlf_build.generate import Options, prepare
    from tests.mlf_factory import write_tar

    if len(data) < 2:
        return
    bases = model_bases()
    members = list(bases[data[0] % len(bases)])
    index = data[1] % len(members)
    members[index] = (members[index][0], data[2:])
    path = write_tar(_scratch_file("model.tar"), members)
    try:
        gen = prepare(path, Options(name="net", max_size=16 << 20))
    except MlfError:
        return
    try:
        assert gen.files and gen.manifest["name"] == "net"
        for f in gen.files:
            check_member_name(f.rel)
        check_source(gen.model.source)
    finally:
        gen.model.close()


TARGETS: dict[str, Callable[[bytes], None]] = {
    "tar": tar_target,
    "metadata": metadata_target,
    "graph": graph_target,
    "params": params_target,
    "model": model_target,
}


# -- seeds ------------------------------------------------------------------------------------
def seeds(target: str) -> list[bytes]:
    """Valid (and a few interesting) inputs for one target, generated from the fixtures."""
    from tests.mlf_factory import tar_bytes

    bases = model_bases()
    if target == "model":
        return [
            model_input(b, m, content) for b, base in enumerate(bases) for m, (_, content) in enumerate(base)
        ]
    if target == "tar":
        out = []
        for base in bases[:4]:
            out.append(tar_bytes(base))
            out.append(tar_bytes(base, compress=True))
        return out
    pick = {
        "metadata": lambda n: n == "metadata.json",
        "graph": lambda n: n.startswith(("executor-config/graph/", "runtime-config/graph/")),
        "params": lambda n: n.startswith("parameters/"),
    }[target]
    found = {content for base in bases for name, content in base if pick(name)}
    return sorted(found)


# -- structure-aware mutation (atheris custom mutators) ---------------------------------------
_INTERESTING: list[object] = [
    0,
    1,
    -1,
    2,
    7,
    8,
    255,
    65536,
    2**31,
    2**32,
    2**48,
    2**48 + 1,
    2**62,
    2**63,
    -(2**63),
    1.5,
    -0.0,
    1e308,
    True,
    False,
    None,
    "",
    "0",
    "1",
    "²",
    "-1",
    "float32",
    "int8",
    "uint1",
    "bool",
    "int9999",
    "graph",
    "aot",
    "null",
    "tvm_op",
    "list_int",
    "list_str",
    "list_shape",
    "full-model",
    "operator",
    "../x",
    "a\nb",
    "default",
    "x" * 300,
    [],
    {},
    [0, 0, 0],
    [[0, 0, 0]],
    {"": None},
]


def _random_json(rng, depth: int = 0):  # type: ignore[no-untyped-def]
    roll = rng.random()
    if depth > 2 or roll < 0.6:
        return rng.choice(_INTERESTING)
    if roll < 0.8:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice(["version", "nodes", "attrs", "name", "op", "size", "dtype", "x"]): _random_json(
            rng, depth + 1
        )
    }


def _subtrees(doc, path=()):  # type: ignore[no-untyped-def]
    yield path, doc
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        yield from _subtrees(v, (*path, k))


def mutate_json_doc(doc, rng):  # type: ignore[no-untyped-def]
    """Replace, delete, duplicate or splice one subtree of a parsed JSON document."""
    nodes = list(_subtrees(doc))
    path, _ = rng.choice(nodes)
    if not path:
        return _random_json(rng)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    op = rng.randrange(4)
    if op == 0:
        parent[key] = _random_json(rng)
    elif op == 1:
        parent[key] = json.loads(json.dumps(rng.choice(nodes)[1]))  # splice in a copy of another part
    elif op == 2 and isinstance(parent, dict):
        del parent[key]
    elif op == 2 and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(parent[key])))
    else:
        value = parent[key]
        if isinstance(value, int) and not isinstance(value, bool):
            parent[key] = value + rng.choice([-1, 1, -value - 1, 2**32, 2**63])
        else:
            parent[key] = _random_json(rng)
    return doc


def json_mutator(data: bytes, max_size: int, seed: int, fallback):  # type: ignore[no-untyped-def]
    """A custom mutator: structured mutation of JSON inputs (most of the time), else ``fallback``
    (libFuzzer's byte-level mutation)."""
    import random

    rng = random.Random(seed)
    if rng.random() < 0.25:
        return fallback(data, max_size)
    try:
        doc = json.loads(data)
        for _ in range(1 + rng.randrange(3)):
            doc = mutate_json_doc(doc, rng)
        out = json.dumps(doc).encode()
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to walk
        return fallback(data, max_size)
    return out if len(out) <= max_size else fallback(data, max_size)


def model_mutator(data: bytes, max_size: int, seed: int, fallback):  # type: ignore[no-untyped-def]
    """Keeps the (base, member) prefix meaningful: mutates the content, structurally when JSON."""
    import random

    rng = random.Random(seed)
    if len(data) < 2 or rng.random() < 0.1:
        return fallback(data, max_size)
    head, content = data[:2], data[2:]
    if rng.random() < 0.05:  # move to another member of another model
        head = bytes([rng.randrange(256), rng.randrange(256)])
        b = head[0] % len(model_bases())
        content = model_bases()[b][head[1] % len(model_bases()[b])][1]
    return head + json_mutator(content, max_size - 2, seed, fallback)


MUTATORS = {"metadata": json_mutator, "graph": json_mutator, "model": model_mutator}
