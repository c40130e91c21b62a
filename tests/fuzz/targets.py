"""Fuzz targets for mlf_build's parsers of untrusted input, shared by the hypothesis tests
(tests/test_fuzz_properties.py) and the coverage-guided atheris runner (tests/fuzz/run_fuzz.py).

Each target takes raw bytes, runs one parser and checks the contract: the parser either succeeds,
and then what it returns satisfies the invariants below, or raises MlfError. Any other exception
(and any broken invariant, raised as AssertionError) is a bug.

Targets: ``tar`` (the path-safe archive reader), ``metadata`` (the metadata.json normaliser),
``graph`` (the graph JSON parser), ``params`` (the streaming params parser), ``model`` (a valid
MLF with one member replaced by the input, through load_model and the generator's planning),
``csource`` (the reader of TVM's C, and the workspace sizing on what it found), ``elf`` (the ELF
reader, symbols and relocations included) and ``ar`` (an object or ``ar`` archive given as a
file, as ``--abi-probe`` and ``check-size`` read it). Seed inputs are built at run time from
tests/mlf_factory.py, tests/elf_factory.py, the fixture exporter and the corpus when present.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from mlf_build.budget import measure
from mlf_build.errors import MlfError
from mlf_build.read.archive import open_mlf
from mlf_build.read.csource import parse_c, workspace_peak
from mlf_build.read.elf import first_object, parse_elf
from mlf_build.read.graph import parse_graph
from mlf_build.read.metadata import SUPPORTED_VERSIONS, parse_metadata
from mlf_build.read.params import parse_params

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


#: a name as the C reader reads one: a byte >= 0x80 counts as a letter (UTF-8 names, refused
#: later where they would become a C identifier; invalid UTF-8 reads as U+FFFD)
_IDENT = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*")


def csource_target(data: bytes) -> None:
    try:
        src = parse_c(data, "x.c")
    except MlfError:
        return
    for name, fn in src.functions.items():
        assert _IDENT.fullmatch(name) and fn.name == name
        assert all(p.name == "" or _IDENT.fullmatch(p.name) for p in fn.params)
        for kind, callee, size, args in fn.events:
            assert kind in ("alloc", "free", "call")
            assert size is None or size >= 0
            assert kind != "call" or _IDENT.fullmatch(callee)
            assert all(a == "" or _IDENT.fullmatch(a) for a in args)
        for p in fn.params:
            fn.element_type(p.name)
            fn.calls_with(fn.alias_of(p.name))
    memo: dict[str, int | None] = {}
    for name in src.functions:
        peak = workspace_peak(src.functions, name, 16, memo)
        assert peak is None or (peak >= 0 and peak % 16 == 0)
    for a in src.arrays.values():
        assert _IDENT.fullmatch(a.name) and a.count >= 0
    assert all(_IDENT.fullmatch(n) for n in src.declarations)


def elf_target(data: bytes) -> None:
    try:
        info = parse_elf(data, "x.o")
    except MlfError:
        return
    assert info.elf_class in (32, 64) and info.machine
    assert all(n > 0 for n in info.alloc_sites.values())
    assert all(size >= 0 for _name, _typ, _flags, size in info.sections)


def ar_target(data: bytes) -> None:
    """The input as a file given to check-size and --abi-probe."""
    path = _scratch_file("input.a")
    path.write_bytes(data)
    try:
        flash, ram = measure(str(path))
        assert flash >= 0 and ram >= 0
    except MlfError:
        pass
    with contextlib.suppress(MlfError):
        first_object(str(path))


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
    "csource": csource_target,
    "elf": elf_target,
    "ar": ar_target,
}


# -- seeds ------------------------------------------------------------------------------------
def seeds(target: str) -> list[bytes]:
    """Valid (and a few interesting) inputs for one target, generated from the fixtures."""
    from tests.elf_factory import ar_archive
    from tests.mlf_factory import ADD_C, tar_bytes

    if target in ("elf", "ar"):
        objects = elf_seeds()
        pairs = [ar_archive([(f"o{i}.o", o) for i, o in enumerate(objects[k : k + 2])]) for k in range(3)]
        return objects if target == "elf" else [*objects, *pairs]
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
    if target == "csource":
        found = {content for base in bases for name, content in base if name.endswith(".c")}
        return [ADD_C.encode(), *sorted(c[: 1 << 16] for c in found)]
    pick = {
        "metadata": lambda n: n == "metadata.json",
        "graph": lambda n: n.startswith(("executor-config/graph/", "runtime-config/graph/")),
        "params": lambda n: n.startswith("parameters/"),
    }[target]
    found = {content for base in bases for name, content in base if pick(name)}
    return sorted(found)


def elf_seeds() -> list[bytes]:
    """Objects with sections, symbols, relocations against the allocator and ARM attributes
    (tests/elf_factory.py), and the corpus's LLVM object when the corpus is there."""
    from tests import elf_factory as ef

    out = [
        ef.function_object(3, 4),
        ef.function_object(2, 3, cls=64, machine=ef.EM_X86_64),
        ef.build_elf(
            [
                ef.Section(
                    ".ARM.attributes", ef.SHT_ARM_ATTRIBUTES, b"A\x13\0\0\0aeabi\0\x01\t\0\0\0\x06\r\x07M"
                )
            ]
        ),
    ]
    corpus = Path(os.environ.get("MLF_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "mlf-corpus"))
    for tar in sorted(corpus.glob("*/*.tar")):
        out += [content for name, content in _tar_members(tar).items() if name.endswith(".o")]
    return out + _compiled_objects()


def _compiled_objects() -> list[bytes]:
    """TVM-like C compiled by the host and ARM compilers that are installed."""
    import shutil
    import subprocess

    from tests.mlf_factory import ADD_C

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "op.c"
        src.write_text(
            ADD_C.replace('#include "tvm/runtime/c_runtime_api.h"', "").replace(
                '#include "tvm/runtime/c_backend_api.h"',
                "#include <stdint.h>\n#include <stddef.h>\ntypedef union { void* v_handle; } TVMValue;\n"
                "typedef struct { void* data; struct { int device_type, device_id; } device; } DLTensor;\n"
                "void* TVMBackendAllocWorkspace(int, int, uint64_t, int, int);\n"
                "int TVMBackendFreeWorkspace(int, int, void*);\n#define TVM_DLL",
            )
        )
        for cc, flags in (
            ("gcc", ["-O1"]),
            ("arm-none-eabi-gcc", ["-O1", "-mcpu=cortex-m4", "-mfloat-abi=hard"]),
        ):
            if shutil.which(cc):
                obj = Path(tmp) / f"{cc}.o"
                res = subprocess.run([cc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True)
                if res.returncode == 0:
                    out.append(obj.read_bytes())
    return out


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


#: C that TVM writes and C that it does not: inserted by c_mutator
C_TOKENS = [
    b"/*",
    b"*/",
    b"//",
    b'"',
    b"'",
    b"{",
    b"}",
    b"(",
    b")",
    b";",
    b",",
    b"\n",
    b"\\",
    b"#if 0\n",
    b"#ifdef __cplusplus\n",
    b"#else\n",
    b"#endif\n",
    b'__attribute__((section(".x")))',
    b"static ",
    b"const ",
    b"int32_t ",
    b"void* ",
    b" = ",
    b"TVMBackendAllocWorkspace(1, d, (uint64_t)16, 2, 32)",
    b"TVMBackendFreeWorkspace(1, d, x)",
    b"f(",
    b"int f(void);",
    b"[4]",
    b"99999999999999999999",
]


def c_mutator(data: bytes, max_size: int, seed: int, fallback):  # type: ignore[no-untyped-def]
    """Insert, delete or repeat C tokens and pieces of the input (most of the time), else
    ``fallback`` (libFuzzer's byte-level mutation)."""
    import random

    rng = random.Random(seed)
    if rng.random() < 0.3 or not data:
        return fallback(data, max_size)
    buf = bytearray(data)
    for _ in range(1 + rng.randrange(4)):
        pos = rng.randrange(len(buf) + 1)
        op = rng.random()
        if op < 0.6:
            buf[pos:pos] = rng.choice(C_TOKENS) * (1 if rng.random() < 0.9 else rng.randrange(2, 200))
        elif op < 0.8:
            del buf[pos : pos + rng.randrange(1, 64)]
        else:
            end = min(len(buf), pos + rng.randrange(1, 64))
            buf[pos:pos] = buf[pos:end] * rng.randrange(1, 50)
    return bytes(buf[:max_size])


MUTATORS = {"metadata": json_mutator, "graph": json_mutator, "model": model_mutator, "csource": c_mutator}
