"""Property-based tests of the parsers of untrusted input: for random and mutated inputs, each
parser either succeeds, and its result satisfies the invariants of tests/fuzz/targets.py (member
names never contain '..' or start with '/', graph nodes only use earlier entries, tensors lie
inside the params file, ...), or it raises MlfError, never another exception.

Bounded so the file runs in seconds; HYPOTHESIS_PROFILE=long gives each test 50x the examples."""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlf_build.errors import MlfError
from mlf_build.read.archive import normalise_name
from mlf_build.read.params import parse_params
from tests.fuzz import targets
from tests.mlf_factory import Special, graph_doc, metadata_doc, minimal_files, tar_bytes
from tests.params_numpy import numpy_dtype, write_params

settings.register_profile(
    "ci",
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("long", settings.get_profile("ci"), max_examples=6000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- strategies -------------------------------------------------------------------------------
HOSTILE_PARTS = ["..", ".", "", "a", "b.c", "C:", "c:", "\\", "..\\x", "\x00", "\n", "\x7f", "\x85"]
HOSTILE_PARTS += ["\u2028", "ü", "модель", "\udcff", "~", "*/", '"', ";", " ", "metadata.json"]
MLF_NAMES = [*minimal_files(), "codegen/host/lib/default_lib0.o", "runtime/include/x.h", "src"]

path_part = st.one_of(st.sampled_from(HOSTILE_PARTS), st.text(max_size=6))
member_name = st.one_of(
    st.sampled_from(MLF_NAMES),
    st.lists(path_part, min_size=1, max_size=5).map("/".join),
    st.builds(
        lambda a, b: a + b, st.sampled_from(["", "/", "./", "../", "./../", "//"]), st.sampled_from(MLF_NAMES)
    ),
    st.text(max_size=30),
)

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**48, 2**48 + 1, 2**62, 2**63, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["float32", "int8", "graph", "aot", "list_int", "list_shape", "null", "tvm_op", "²"]),
)
json_value = st.recursive(
    json_scalar,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
    max_leaves=25,
)


def json_paths(doc: Any, prefix: tuple = ()) -> list[tuple]:  # type: ignore[type-arg]
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += json_paths(v, (*prefix, i))
    return out


def mutate_json(data: st.DataObject, doc: Any, rounds: int = 3) -> Any:
    """Replace or delete a few random subtrees of ``doc``."""
    doc = json.loads(json.dumps(doc))
    for _ in range(data.draw(st.integers(1, rounds))):
        paths = json_paths(doc)
        path = data.draw(st.sampled_from(paths))
        if not path:
            doc = data.draw(json_value)
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_value)
    return doc


def mutate_bytes(data: st.DataObject, blob: bytes) -> bytes:
    """Byte flips, 64-bit word overwrites, truncation and insertion."""
    buf = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "word", "truncate", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] ^= data.draw(st.integers(1, 255))
        elif op == "word" and len(buf) >= 8:
            pos = min(pos, len(buf) - 8)
            word = data.draw(st.sampled_from([0, 1, 2**31, 2**32, 2**48, 2**63, 2**64 - 1]))
            struct.pack_into("<Q", buf, pos, word)
        elif op == "truncate":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[pos : pos + data.draw(st.integers(1, 16))]
    return bytes(buf)


# -- the tar reader ---------------------------------------------------------------------------
@given(st.one_of(member_name, st.text()))
def test_normalise_name_never_lets_a_bad_name_through(raw: str) -> None:
    try:
        name = normalise_name(raw, "model.tar")
    except MlfError as exc:
        assert "\n" not in str(exc)
        return
    if name:
        targets.check_member_name(name)


KINDS = [tarfile.REGTYPE] * 4 + [tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE]
KINDS += [tarfile.FIFOTYPE, tarfile.CONTTYPE, b"Z"]


@given(
    st.lists(
        st.tuples(member_name, st.sampled_from(KINDS), st.binary(max_size=64), member_name),
        min_size=0,
        max_size=8,
    ),
    st.booleans(),
)
def test_tar_reader_on_random_archives(members: list[tuple[str, bytes, bytes, str]], compress: bool) -> None:
    specials = [Special(name, kind, linkname=link, data=data) for name, kind, data, link in members]
    try:
        blob = tar_bytes(specials, compress=compress)
    except (ValueError, UnicodeError, tarfile.TarError):
        assume(False)  # not even writable as a tar
    targets.tar_target(blob)


@given(st.data(), st.integers(0, 3), st.booleans())
def test_tar_reader_on_mutated_archives(data: st.DataObject, which: int, compress: bool) -> None:
    base = targets.model_bases()[which]
    targets.tar_target(mutate_bytes(data, tar_bytes(base, compress=compress)))


@given(st.binary(max_size=2048))
def test_tar_reader_on_random_bytes(blob: bytes) -> None:
    targets.tar_target(blob)


# -- metadata.json ----------------------------------------------------------------------------
@given(json_value)
def test_metadata_on_random_json(doc: Any) -> None:
    targets.metadata_target(json.dumps(doc).encode())


@given(st.data(), st.sampled_from(targets.seeds("metadata")))
def test_metadata_on_mutated_documents(data: st.DataObject, seed: bytes) -> None:
    targets.metadata_target(json.dumps(mutate_json(data, json.loads(seed))).encode())


@given(st.data())
def test_metadata_mutations_of_the_factory_document(data: st.DataObject) -> None:
    targets.metadata_target(json.dumps(mutate_json(data, metadata_doc(), rounds=1)).encode())


@given(st.binary(max_size=512))
def test_metadata_on_random_bytes(blob: bytes) -> None:
    targets.metadata_target(blob)


# -- graph JSON -------------------------------------------------------------------------------
@given(json_value)
def test_graph_on_random_json(doc: Any) -> None:
    targets.graph_target(json.dumps(doc).encode())


@given(st.data(), st.sampled_from([json.dumps(graph_doc()).encode(), *targets.seeds("graph")]))
def test_graph_on_mutated_documents(data: st.DataObject, seed: bytes) -> None:
    targets.graph_target(json.dumps(mutate_json(data, json.loads(seed))).encode())


# -- params -----------------------------------------------------------------------------------
@given(st.data(), st.sampled_from(targets.seeds("params")))
def test_params_on_mutated_files(data: st.DataObject, seed: bytes) -> None:
    targets.params_target(mutate_bytes(data, seed))


@given(st.binary(max_size=256))
def test_params_on_random_bytes(blob: bytes) -> None:
    targets.params_target(struct.pack("<Q", 0xF7E58D4F05049CB7) + blob)


DTYPES = ["float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64", "uint32", "bool"]


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=10),
            st.sampled_from(DTYPES),
            st.lists(st.integers(0, 5), max_size=4),
        ),
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_params_round_trip(spec: list[tuple[str, str, list[int]]]) -> None:
    """Whatever write_params produces, parse_params reads back exactly (names, shapes, data)."""
    arrays = [(name, np.ones(shape, dtype=dtype)) for name, dtype, shape in spec]
    blob = write_params(arrays)
    tensors = parse_params(io.BytesIO(blob), len(blob), "p.params")
    assert [(t.name, t.shape) for t in tensors] == [(n, tuple(a.shape)) for n, a in arrays]
    for t, (_, a) in zip(tensors, arrays, strict=True):
        assert blob[t.offset : t.offset + t.nbytes] == a.astype(numpy_dtype(t.dtype)).tobytes()
    targets.params_target(blob)


# -- the whole loader -------------------------------------------------------------------------
def _members() -> list[tuple[int, int]]:
    return [(b, m) for b, base in enumerate(targets.model_bases()) for m in range(len(base))]


@pytest.mark.parametrize("kind", ["mutated", "random"])
@given(data=st.data())
@settings(max_examples=settings.default.max_examples // 2)
def test_load_model_with_one_member_damaged(kind: str, data: st.DataObject) -> None:
    b, m = data.draw(st.sampled_from(_members()))
    original = targets.model_bases()[b][m][1]
    content = mutate_bytes(data, original) if kind == "mutated" else data.draw(st.binary(max_size=512))
    targets.model_target(targets.model_input(b, m, content))


@given(data=st.data())
@settings(max_examples=settings.default.max_examples // 2)
def test_load_model_with_json_members_mutated(data: st.DataObject) -> None:
    candidates = [
        (b, m) for b, m in _members() if targets.model_bases()[b][m][0].endswith((".json", ".graph"))
    ]
    b, m = data.draw(st.sampled_from(candidates))
    doc = mutate_json(data, json.loads(targets.model_bases()[b][m][1]), rounds=1)
    targets.model_target(targets.model_input(b, m, json.dumps(doc).encode()))


# -- C sources, objects and archives ----------------------------------------------------------
@given(st.data(), st.sampled_from(targets.seeds("csource")))
def test_csource_on_sources_with_tokens_inserted(data: st.DataObject, seed: bytes) -> None:
    """TVM's C with comments, literals, directives, calls... inserted, once or many times."""
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(buf)))
        buf[pos:pos] = data.draw(st.sampled_from(targets.C_TOKENS)) * data.draw(
            st.sampled_from([1, 1, 2, 300])
        )
    targets.csource_target(bytes(buf))


@given(st.binary(max_size=2048))
def test_csource_on_random_bytes(blob: bytes) -> None:
    targets.csource_target(blob)


@given(st.data(), st.sampled_from(targets.seeds("elf")))
def test_elf_on_mutated_objects(data: st.DataObject, seed: bytes) -> None:
    targets.elf_target(mutate_bytes(data, seed))


AR_SIZES = ["-60", "-1", "0", "+5", "9999999999", "abc", "", " 4", "0x10", "1_0", "\u0663", "60"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from([*targets.seeds("elf"), b"!<arch>\n", b"\x7fELF", b""]),
            st.one_of(st.none(), st.sampled_from(AR_SIZES)),
        ),
        max_size=4,
    )
)
def test_ar_archives_with_forged_sizes(members: list[tuple[bytes, str | None]]) -> None:
    from tests.elf_factory import ar_archive

    names = [f"m{i}.o" for i in range(len(members))]
    sizes = {n: size for n, (_, size) in zip(names, members, strict=True) if size is not None}
    targets.ar_target(ar_archive([(n, data) for n, (data, _) in zip(names, members, strict=True)], sizes))
