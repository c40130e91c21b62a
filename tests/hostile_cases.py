"""Crafted bad MLFs, generated at test time. Each case builds one input in a folder of its own
and names a fragment the one-line error must contain.

``ACCEPTED`` holds hostile inputs that must be accepted, and what must then hold of the output
(a section name from a comment never reaches objcopy, a path with a newline still gives one
line, ...); tests/test_hostile_inputs.py also compiles their output for the host and Cortex-M."""

from __future__ import annotations

import copy
import gzip
import io
import json
import lzma
import os
import random
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests import elf_factory
from tests.mlf_factory import (
    ADD_C,
    Special,
    elf_object,
    graph_doc,
    metadata_doc,
    minimal_files,
    params_bytes,
    raw_header,
    tar_bytes,
    write_tar,
)
from tests.params_numpy import write_params

Builder = Callable[[Path], Path]


@dataclass(frozen=True)
class Case:
    id: str
    build: Builder
    expect: str  # fragment of the error line
    #: also run `generate` (cases whose problem is found only when planning say only generate)
    commands: tuple[str, ...] = ("inspect", "generate")
    #: more arguments; "{in}" stands for the case's input folder
    extra_args: tuple[str, ...] = ()
    #: what the line names instead of the model ("{in}" as above), e.g. an option
    where: str | None = None
    #: the --out folder ("{in}" as above); None: a folder of its own beside the inputs
    out: str | None = None


CASES: list[Case] = []


def case(
    id: str,
    expect: str,
    commands: tuple[str, ...] = ("inspect", "generate"),
    extra: tuple[str, ...] = (),
    where: str | None = None,
    out: str | None = None,
):
    def deco(fn: Builder) -> Builder:
        CASES.append(Case(id, fn, expect, commands, extra, where, out))
        return fn

    return deco


@dataclass(frozen=True)
class Accepted:
    """A hostile input that must be accepted: ``generate`` (with ``extra_args``) exits 0 and
    ``check(out, stderr)`` holds of what it wrote; ``inspect``, when among the commands, exits 0.
    Inputs that are only costly (tests/fuzz/measure_hostile.py times them) check nothing more."""

    id: str
    build: Builder
    check: Callable[[Path, str], None]
    extra_args: tuple[str, ...] = ()
    #: its output is compiled for the host and for Cortex-M (tests/test_hostile_inputs.py)
    compile: bool = True
    commands: tuple[str, ...] = ("generate",)


ACCEPTED: list[Accepted] = []


def accepted(
    id: str,
    check: Callable[[Path, str], None],
    extra: tuple[str, ...] = (),
    compile: bool = True,
    commands: tuple[str, ...] = ("generate",),
):
    def deco(fn: Builder) -> Builder:
        ACCEPTED.append(Accepted(id, fn, check, extra, compile, commands))
        return fn

    return deco


def tar_with(tmp: Path, change: Callable[[dict[str, bytes]], Any], name: str = "model.tar") -> Path:
    files = minimal_files()
    change(files)
    return write_tar(tmp / name, files)


def with_members(tmp: Path, *extra: Any) -> Path:
    members: list[Any] = list(minimal_files().items())
    members += list(extra)
    return write_tar(tmp / "model.tar", members)


def meta_edit(edit: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        doc = metadata_doc()
        edit(doc)
        files["metadata.json"] = json.dumps(doc).encode()

    return change


def graph_edit(edit: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        doc = graph_doc()
        edit(doc)
        files["executor-config/graph/default.graph"] = json.dumps(doc).encode()

    return change


def main0(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["modules"]["default"]["memory"]["functions"]["main"][0]


# -- the archive itself -------------------------------------------------------------------
@case("not-a-tar", "is not a readable tar archive")
def _(tmp: Path) -> Path:
    p = tmp / "model.tar"
    p.write_bytes(b"this is not an archive\n" * 40)
    return p


@case("empty-file", "is an empty file, not a Model Library Format tarball or folder")
def _(tmp: Path) -> Path:
    p = tmp / "model.tar"
    p.write_bytes(b"")
    return p


@case("missing-file", "cannot be opened")
def _(tmp: Path) -> Path:
    return tmp / "does-not-exist.tar"


@case("truncated-tar", "truncated")
def _(tmp: Path) -> Path:
    p = tar_with(tmp, lambda f: None)
    data = p.read_bytes()
    cut = data.index(b"TVM_EXPORTS") + 100  # inside the C source member
    p.write_bytes(data[:cut])
    return p


@case("truncated-gzip", "corrupt tar archive")
def _(tmp: Path) -> Path:
    p = tmp / "model.tar.gz"
    write_tar(p, minimal_files(), compress=True)
    p.write_bytes(p.read_bytes()[:-200])
    return p


@case("gzip-garbage", "is gzip-compressed data that is not a tar archive")
def _(tmp: Path) -> Path:
    p = tmp / "model.tgz"
    p.write_bytes(gzip.compress(b"\x00\xff" * 5000))
    return p


@case("huge-declared-member", "more than the limit")
def _(tmp: Path) -> Path:
    p = tmp / "model.tar"
    p.write_bytes(raw_header(b"./metadata.json", 3 * 1024**3) + b"{}" + b"\0" * 1022)
    return p


@case("gzip-bomb", "more than the limit")
def _(tmp: Path) -> Path:
    # 4 GiB declared in a few hundred compressed bytes: refused before any of it is read.
    p = tmp / "model.tar.gz"
    p.write_bytes(gzip.compress(raw_header(b"./parameters/default.params", 4 * 1024**3) + b"\0" * 65536))
    return p


@case("too-many-members", "more than 100000 members")
def _(tmp: Path) -> Path:
    header = raw_header(b"./src/", 0, b"5")  # a directory entry, repeated
    p = tmp / "model.tar.gz"
    p.write_bytes(gzip.compress(header * 100_001 + b"\0" * 1024, compresslevel=1))
    return p


@case("limit-option", "more than the limit of 1000 bytes", extra=("--max-size", "1000"))
def _(tmp: Path) -> Path:
    return tar_with(tmp, lambda f: None)


for _id, _name in [
    ("dotdot", "../evil.c"),
    ("dot-slash-dotdot", "./../evil.c"),
    ("nested-dotdot", "codegen/../../evil.c"),
]:
    case(f"traversal-{_id}", "points outside the archive")(
        lambda tmp, n=_name: with_members(tmp, (n, b"int x;\n"))
    )
case("traversal-absolute", "has an absolute path")(lambda tmp: with_members(tmp, ("/tmp/evil.c", b"x")))
case("traversal-drive", "has an absolute path")(lambda tmp: with_members(tmp, ("C:/evil.c", b"x")))
case("traversal-dot-drive", "has an absolute path")(lambda tmp: with_members(tmp, ("./C:/evil.c", b"x")))
case("backslash-name", "contains a backslash")(lambda tmp: with_members(tmp, ("..\\evil.c", b"x")))

for _id, _kind, _what in [
    ("symlink", tarfile.SYMTYPE, "symbolic link"),
    ("hardlink", tarfile.LNKTYPE, "hard link"),
    ("char-device", tarfile.CHRTYPE, "character device"),
    ("block-device", tarfile.BLKTYPE, "block device"),
    ("fifo", tarfile.FIFOTYPE, "FIFO"),
]:
    case(_id, _what)(
        lambda tmp, k=_kind: with_members(tmp, Special("codegen/host/src/link.c", k, linkname="/etc/passwd"))
    )
case("symlink-escape-dotdot", "symbolic link")(
    lambda tmp: with_members(
        tmp, Special("parameters/x.params", tarfile.SYMTYPE, linkname="../../../../etc/shadow")
    )
)
case("hardlink-to-member", "hard link")(
    lambda tmp: with_members(tmp, Special("codegen/host/src/b.c", tarfile.LNKTYPE, linkname="metadata.json"))
)


@case("duplicate-member-same", "duplicate member")
def _(tmp: Path) -> Path:
    return with_members(tmp, ("metadata.json", minimal_files()["metadata.json"]))


@case("duplicate-member-different", "duplicate member")
def _(tmp: Path) -> Path:
    return with_members(tmp, ("./codegen/host/src/default_lib1.c", b"int evil;\n"))


@case("file-and-directory", "both a file and a directory")
def _(tmp: Path) -> Path:
    return with_members(tmp, ("src", b"x"))


@case("non-utf8-name", "not valid UTF-8")
def _(tmp: Path) -> Path:
    return with_members(tmp, ("codegen/host/src/\udcff\udcfe.c", b"x"))


@case("newline-in-name", "control characters")
def _(tmp: Path) -> Path:
    return with_members(tmp, ("codegen/host/src/a\nb.c", b"x"))


# -- what the archive holds -----------------------------------------------------------------
@case("no-metadata", "partial MLF")
def _(tmp: Path) -> Path:
    return tar_with(tmp, lambda f: f.pop("metadata.json"))


@case("no-mlf-at-all", "not a Model Library Format archive")
def _(tmp: Path) -> Path:
    return write_tar(tmp / "model.tar", {"README.md": b"hello\n", "notes.txt": b"x"})


@case("metadata-bad-json", "is not valid JSON")
def _(tmp: Path) -> Path:
    return tar_with(tmp, lambda f: f.__setitem__("metadata.json", b'{"version": 7,'))


@case("metadata-not-utf8", "is not UTF-8")
def _(tmp: Path) -> Path:
    return tar_with(tmp, lambda f: f.__setitem__("metadata.json", b'{"version": "\xff\xfe"}'))


@case("metadata-nan", "is not valid JSON")
def _(tmp: Path) -> Path:
    def change(f: dict[str, bytes]) -> None:
        f["metadata.json"] = f["metadata.json"].replace(
            b'"workspace_size_bytes": 32', b'"workspace_size_bytes": NaN'
        )

    return tar_with(tmp, change)


@case("metadata-infinity", "is not valid JSON")
def _(tmp: Path) -> Path:
    def change(f: dict[str, bytes]) -> None:
        f["metadata.json"] = f["metadata.json"].replace(b'"io_size_bytes": 32', b'"io_size_bytes": 1e999')

    return tar_with(tmp, change)


@case("metadata-huge-number", "too large")
def _(tmp: Path) -> Path:
    def change(f: dict[str, bytes]) -> None:
        f["metadata.json"] = f["metadata.json"].replace(
            b'"io_size_bytes": 32', b'"io_size_bytes": ' + b"9" * 40
        )

    return tar_with(tmp, change)


@case("metadata-duplicate-key", "duplicate key")
def _(tmp: Path) -> Path:
    def change(f: dict[str, bytes]) -> None:
        f["metadata.json"] = f["metadata.json"].replace(b'"version": 7', b'"version": 7, "version": 5')

    return tar_with(tmp, change)


@case("metadata-deep-nesting", "is not valid JSON")
def _(tmp: Path) -> Path:
    return tar_with(tmp, lambda f: f.__setitem__("metadata.json", b"[" * 100_000 + b"]" * 100_000))


@case("metadata-not-object", "expected an object")
def _(tmp: Path) -> Path:
    return tar_with(tmp, lambda f: f.__setitem__("metadata.json", b"[1, 2, 3]"))


for _v, _msg in [
    (8, "newer than this tool supports"),
    (0, "does not exist"),
    (-3, "does not exist"),
    ("7", "expected an integer format version"),
    (None, "expected an integer format version"),
    (7.0, "expected an integer format version"),
]:
    case(f"version-{_v!s}", _msg)(
        lambda tmp, v=_v: tar_with(tmp, meta_edit(lambda d: d.__setitem__("version", v)))
    )

case("version-missing", "expected an integer format version")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d.pop("version")))
)
case("modules-empty", "is empty")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d.__setitem__("modules", {})))
)
case("modules-wrong-type", "expected an object")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d.__setitem__("modules", ["default"])))
)
case("workspace-string", "expected a byte count")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: main0(d).__setitem__("workspace_size_bytes", "abc")))
)
case("workspace-negative", "expected a byte count")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: main0(d).__setitem__("workspace_size_bytes", -5)))
)
case("workspace-float", "expected a byte count")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: main0(d).__setitem__("workspace_size_bytes", 1e30)))
)
case("workspace-bool", "expected a byte count")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: main0(d).__setitem__("workspace_size_bytes", True)))
)
case("executor-unknown", "unknown executor")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d["modules"]["default"].__setitem__("executors", ["vm"])))
)
case("target-wrong-type", "expected a list")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d["modules"]["default"].__setitem__("target", 42)))
)
case("memory-missing", "is missing")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d["modules"]["default"].pop("memory")))
)
case("io-size-type", "expected a byte count")(
    lambda tmp: tar_with(
        tmp, meta_edit(lambda d: main0(d).__setitem__("inputs", {"x": {"size": "big", "dtype": "float32"}}))
    )
)


def _inject_module(d: dict[str, Any]) -> None:
    evil = "x; */ #include <evil>"
    body = d["modules"].pop("default")
    body["model_name"] = evil
    d["modules"][evil] = body


case("module-name-injection", "is not a C identifier")(lambda tmp: tar_with(tmp, meta_edit(_inject_module)))
case("module-key-mismatch", "not the module's key")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d["modules"]["default"].__setitem__("model_name", "other")))
)
case("no-graph-json", "has no graph JSON")(
    lambda tmp: tar_with(tmp, lambda f: f.pop("executor-config/graph/default.graph"))
)
case("no-params-file", "has no parameters/default.params")(
    lambda tmp: tar_with(tmp, lambda f: f.pop("parameters/default.params"))
)
case("no-code", "has no code")(lambda tmp: tar_with(tmp, lambda f: f.pop("codegen/host/src/default_lib1.c")))


# -- graph JSON -------------------------------------------------------------------------------
case("graph-bad-json", "is not valid JSON")(
    lambda tmp: tar_with(tmp, lambda f: f.__setitem__("executor-config/graph/default.graph", b"{nodes"))
)
case("graph-cycle", "comes later")(
    lambda tmp: tar_with(
        tmp, graph_edit(lambda g: g["nodes"][2].__setitem__("inputs", [[2, 0, 0], [1, 0, 0]]))
    )
)
case("graph-dangling-node", "does not exist")(
    lambda tmp: tar_with(
        tmp, graph_edit(lambda g: g["nodes"][2].__setitem__("inputs", [[7, 0, 0], [1, 0, 0]]))
    )
)
case("graph-bad-output-index", "which has 1")(
    lambda tmp: tar_with(
        tmp, graph_edit(lambda g: g["nodes"][2].__setitem__("inputs", [[0, 3, 0], [1, 0, 0]]))
    )
)
case("graph-storage-id-range", "storage_id")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["storage_id"].__setitem__(1, [0, 1, 99])))
)
case("graph-shape-overflow", "impossibly large")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["shape"][1].__setitem__(2, [2**40, 2**40])))
)
case("graph-negative-dim", "shape dimension")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["shape"][1].__setitem__(0, [1, -4])))
)
case("graph-attr-length", "items for 3 entries")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["dltype"].__setitem__(1, ["float32"])))
)
case("graph-unknown-dtype", "unknown dtype")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["dltype"][1].__setitem__(2, "float128")))
)
case("graph-no-heads", "has no outputs")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g.__setitem__("heads", [])))
)
case("graph-no-func-name", "has no func_name")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["nodes"][2]["attrs"].pop("func_name")))
)
case("graph-unknown-operator", "is defined in no file")(
    lambda tmp: tar_with(
        tmp, graph_edit(lambda g: g["nodes"][2]["attrs"].__setitem__("func_name", "evil_fn"))
    )
)
case("graph-argnode-is-op", "which is an operator")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g.__setitem__("arg_nodes", [0, 1, 2])))
)
case("graph-row-ptr", "node_row_ptr")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g.__setitem__("node_row_ptr", [0, 1, 2, 5])))
)
case("graph-unknown-op-kind", "unsupported op")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["nodes"][2].__setitem__("op", "evil")))
)
case("graph-two-devices", "several devices")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["device_index"].__setitem__(1, [1, 2, 1])))
)


# -- params ---------------------------------------------------------------------------------
def params_edit(edit: Callable[[bytearray], bytes | bytearray]) -> Callable[[dict[str, bytes]], None]:
    def change(f: dict[str, bytes]) -> None:
        f["parameters/default.params"] = bytes(edit(bytearray(params_bytes())))

    return change


# Layout of params_bytes(): list magic(0) reserved(8) N(16) len(24) "p0"(32) N2(34) tensor magic(42)
# reserved(50) dev_type(58) dev_id(62) ndim(66) code(70) bits(71) lanes(72) shape(74) nbytes(82) data(90)
def _put(buf: bytearray, off: int, fmt: str, value: int) -> bytearray:
    struct.pack_into(fmt, buf, off, value)
    return buf


case("params-bad-magic", "wrong magic number")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 0, "<Q", 1)))
)
case("params-bad-tensor-magic", "has a wrong magic number")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 42, "<Q", 7)))
)
case("params-truncated-data", "is truncated")(lambda tmp: tar_with(tmp, params_edit(lambda b: b[:-5])))
case("params-truncated-header", "is truncated")(lambda tmp: tar_with(tmp, params_edit(lambda b: b[:40])))
case("params-nbytes-mismatch", "declares 20 bytes")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 82, "<q", 20)))
)
case("params-unknown-dtype", "unknown dtype")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 70, "<B", 9)))
)
case("params-vector-dtype", "vector dtype")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 72, "<H", 4)))
)
case("params-count-mismatch", "but 2 tensors")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 34, "<Q", 2)))
)
case("params-trailing-bytes", "unexpected bytes")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: b + b"junk"))
)
case("params-huge-count", "more than the file can hold")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 16, "<Q", 2**60)))
)
case("params-device", "not the CPU")(lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 58, "<i", 2))))
case("params-negative-dim", "negative dimension")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 74, "<q", -4)))
)
case("params-ndim", "dimensions")(lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 66, "<i", 99))))
case("params-name-not-utf8", "not valid UTF-8")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: b[:32] + b"\xff\xfe" + b[34:]))
)
case("params-shape-vs-graph", "in the params file but")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["shape"][1].__setitem__(1, [8])))
)


# -- names ---------------------------------------------------------------------------------
def rename_input(name: str) -> Callable[[dict[str, bytes]], None]:
    def change(f: dict[str, bytes]) -> None:
        f["executor-config/graph/default.graph"] = json.dumps(graph_doc(name)).encode()

    return change


@case("names-collide-after-sanitising", "both become")
def _(tmp: Path) -> Path:
    def change(f: dict[str, bytes]) -> None:
        g = graph_doc("a-b")
        g["nodes"].insert(1, {"op": "null", "name": "a.b", "inputs": []})
        # entries: a-b, a.b, p0, add -> shift references
        g["nodes"][3]["inputs"] = [[0, 0, 0], [2, 0, 0]]
        g["arg_nodes"] = [0, 1, 2]
        g["heads"] = [[3, 0, 0]]
        g["attrs"]["dltype"][1] = ["float32"] * 4
        g["attrs"]["storage_id"][1] = [0, 1, 2, 3]
        g["attrs"]["shape"][1] = [[1, 4], [1, 4], [4], [1, 4]]
        g["attrs"]["device_index"][1] = [1, 1, 1, 1]
        g["node_row_ptr"] = [0, 1, 2, 3, 4]
        f["executor-config/graph/default.graph"] = json.dumps(g).encode()

    return tar_with(tmp, change)


@case("modules-collide-after-sanitising", "both give the C prefix", ("generate",), ("--all-modules",))
def _(tmp: Path) -> Path:
    # Two v7 modules whose library prefixes (<t>_<module>, lower case) are the same.
    files: dict[str, bytes] = {}
    modules: dict[str, Any] = {}
    for module in ("Mix", "mix"):
        one = minimal_files(module)
        modules.update(json.loads(one.pop("metadata.json"))["modules"])
        graph = f"executor-config/graph/{module}.graph"
        one[graph] = one[graph].replace(b"tvmgen_default_", f"tvmgen_{module}_".encode())
        files.update(one)
    files["metadata.json"] = json.dumps({"version": 7, "modules": modules}, sort_keys=True).encode()
    return write_tar(tmp / "model.tar", files)


case("name-newline", "control characters")(lambda tmp: tar_with(tmp, rename_input("in\nput")))
case("name-nul", "control characters")(lambda tmp: tar_with(tmp, rename_input("in\x00put")))
case("library-name-reserved", "would clash", ("generate",), ("--name", "tvmgen_default"), "library name")(
    lambda tmp: tar_with(tmp, lambda f: None)
)
case(
    "library-name-not-identifier",
    "cannot be turned into a C identifier",
    ("generate",),
    ("--name", "+*"),
    "library name",
)(lambda tmp: tar_with(tmp, lambda f: None))


# -- objects and code ----------------------------------------------------------------------
@case("object-not-elf", "is not an ELF object file")
def _(tmp: Path) -> Path:
    return tar_with(
        tmp, lambda f: f.__setitem__("codegen/host/lib/default_lib0.o", b"MZ\x90\x00" + b"\0" * 200)
    )


@case("object-truncated-elf", "damaged ELF")
def _(tmp: Path) -> Path:
    header = bytearray(64)
    header[:6] = b"\x7fELF\x01\x01"
    struct.pack_into("<HHIIIIIHHHHHH", header, 16, 1, 40, 1, 0, 0, 10_000, 0x5000400, 52, 0, 0, 40, 5, 1)
    return tar_with(tmp, lambda f: f.__setitem__("codegen/host/lib/default_lib0.o", bytes(header)))


@case("source-not-utf8", "is not UTF-8 text")
def _(tmp: Path) -> Path:
    return tar_with(tmp, lambda f: f.__setitem__("codegen/host/src/default_lib0.c", b"int x = '\xff';\n"))


# -- directories ----------------------------------------------------------------------------
def as_directory(tmp: Path) -> Path:
    root = tmp / "model"
    for name, data in minimal_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@case("dir-symlink-outside", "link to outside the directory")
def _(tmp: Path) -> Path:
    root = as_directory(tmp)
    secret = tmp / "secret.txt"
    secret.write_text("secret")
    os.symlink(secret, root / "codegen/host/src/leak.c")
    return root


@case("dir-fifo", "is not a regular file")
def _(tmp: Path) -> Path:
    root = as_directory(tmp)
    os.mkfifo(root / "codegen/host/src/pipe.c")
    return root


# -- planning (generate only) ---------------------------------------------------------------
case("max-ram", "MAX_RAM is 8", ("generate",), ("--max-ram", "8"))(lambda tmp: tar_with(tmp, lambda f: None))
case("max-flash", "MAX_FLASH is 4", ("generate",), ("--max-flash", "4"))(
    lambda tmp: tar_with(tmp, lambda f: None)
)
case("module-missing", "has no module 'nope'", extra=("--module", "nope"))(
    lambda tmp: tar_with(tmp, lambda f: None)
)
case(
    "bad-section-name",
    "not a valid section name",
    ("generate",),
    ("--weights-section", 'a" b'),
    "WEIGHTS_SECTION",
)(lambda tmp: tar_with(tmp, lambda f: None))


# -- more archive tricks: extended headers, pax, sparse, unknown types ----------------------
@case("gnu-longname-bomb", "extended header")
def _(tmp: Path) -> Path:
    # A 2 GiB GNU long name in a few hundred bytes: tarfile would read it whole into memory.
    p = tmp / "model.tar.gz"
    p.write_bytes(gzip.compress(raw_header(b"././@LongLink", 2 * 1024**3, b"L") + b"\0" * 65536))
    return p


@case("pax-header-bomb", "extended header")
def _(tmp: Path) -> Path:
    p = tmp / "model.tar.gz"
    p.write_bytes(gzip.compress(raw_header(b"./PaxHeaders/x", 1024**3, b"x") + b"\0" * 65536))
    return p


@case("extended-header-chain", "chains more than")
def _(tmp: Path) -> Path:
    # Each long-name header applies to the next one, which tarfile reads recursively.
    block = raw_header(b"././@LongLink", 10, b"L") + b"x" * 10 + b"\0" * 502
    p = tmp / "model.tar"
    p.write_bytes(block * 3000 + raw_header(b"metadata.json", 2) + b"{}" + b"\0" * 1534)
    return p


@case("extended-headers-total", "bytes of tar extended headers")
def _(tmp: Path) -> Path:
    # 300 members with a 60 kB pax comment each: small compressed, 18 MB kept in memory by tarfile.
    value = b"x" * 60_000
    body = b" comment=" + value + b"\n"
    size = len(body) + len(str(len(body)))  # a pax record counts its own length digits
    record = str(size).encode() + body
    assert len(record) == size
    pad = b"\0" * (-len(record) % 512)
    blocks = [
        raw_header(b"./PaxHeaders/m", len(record), b"x") + record + pad + raw_header(f"m{i}".encode(), 0)
        for i in range(300)
    ]
    p = tmp / "model.tar.gz"
    p.write_bytes(gzip.compress(b"".join(blocks) + b"\0" * 1024))
    return p


case("name-too-long", "longer than 4096 bytes")(
    lambda tmp: with_members(tmp, ("codegen/host/src/" + "a" * 5000 + ".c", b"int x;\n"))
)


def _pax_tar(tmp: Path, pax: dict[str, str]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in minimal_files().items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("codegen/host/src/innocent.c")
        info.pax_headers = pax
        info.size = 7
        tf.addfile(info, io.BytesIO(b"int x;\n"))
    p = tmp / "model.tar"
    p.write_bytes(buf.getvalue())
    return p


case("pax-path-traversal", "points outside the archive")(
    lambda tmp: _pax_tar(tmp, {"path": "codegen/../../../evil.c"})
)
case("pax-absolute-path", "has an absolute path")(lambda tmp: _pax_tar(tmp, {"path": "/etc/cron.d/evil"}))
case("pax-gnu-sparse", "sparse file")(
    lambda tmp: _pax_tar(tmp, {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "a.c"})
)
case("pax-gnu-sparse-0.1", "sparse file")(
    lambda tmp: _pax_tar(tmp, {"GNU.sparse.map": "0,7", "GNU.sparse.size": "7"})
)
case("pax-gnu-sparse-0.0", "sparse file")(
    lambda tmp: _pax_tar(
        tmp, {"GNU.sparse.size": "100", "GNU.sparse.offset": "0", "GNU.sparse.numbytes": "7"}
    )
)
case("pax-negative-size", "declares a negative size")(lambda tmp: _pax_tar(tmp, {"size": "-5"}))
case("gnu-longname-traversal", "points outside the archive")(
    lambda tmp: with_members(tmp, ("../" * 40 + "codegen/host/src/evil.c", b"int x;\n"))
)
case("old-gnu-sparse", "sparse")(
    lambda tmp: with_members(tmp, Special("codegen/host/src/s.c", tarfile.GNUTYPE_SPARSE))
)
case("unknown-member-type", "unsupported tar member type")(
    lambda tmp: with_members(tmp, Special("codegen/host/src/v.c", b"V"))
)
case("line-separator-in-name", "control characters")(
    lambda tmp: with_members(tmp, ("codegen/host/src/a\u2028b.c", b"x"))
)
case("c1-control-in-name", "control characters")(
    lambda tmp: with_members(tmp, ("codegen/host/src/a\x85b.c", b"x"))
)


@case("xz-garbage", "is xz-compressed data that is not a tar archive")
def _(tmp: Path) -> Path:
    p = tmp / "model.tar.xz"
    p.write_bytes(lzma.compress(b"\x01\x02" * 3000)[:-40])
    return p


@case("gzip-corrupt-stream", "corrupt tar archive")
def _(tmp: Path) -> Path:
    # Damaged deflate data inside a large member: zlib fails while tarfile seeks over it (found
    # by the fuzzer: zlib.error escaped the reader). Pick a flip that zlib itself rejects.
    rng = random.Random(0)
    files = [("src/big.relay", bytes(rng.getrandbits(4) for _ in range(40_000))), *minimal_files().items()]
    good = gzip.compress(tar_bytes(files), compresslevel=9, mtime=0)
    for pos in range(len(good) // 5, len(good) - 2000, 97):
        bad = bytearray(good)
        bad[pos] ^= 0x55
        try:
            zlib.decompressobj(31).decompress(bytes(bad))
        except zlib.error:
            break
    else:  # pragma: no cover - depends on zlib's output only
        raise AssertionError("no corrupting flip found")
    p = tmp / "model.tar.gz"
    p.write_bytes(bytes(bad))
    return p


@case("dir-symlink-loop", "broken or looping link")
def _(tmp: Path) -> Path:
    root = as_directory(tmp)
    os.symlink("b.c", root / "codegen/host/src/a.c")
    os.symlink("a.c", root / "codegen/host/src/b.c")
    return root


@case("dir-dangling-link", "broken or looping link")
def _(tmp: Path) -> Path:
    root = as_directory(tmp)
    os.symlink("missing.c", root / "codegen/host/src/gone.c")
    return root


# -- more metadata.json -------------------------------------------------------------------
def _module_edit(key: str, value: Any) -> Callable[[Path], Path]:
    return lambda tmp: tar_with(tmp, meta_edit(lambda d: d["modules"]["default"].__setitem__(key, value)))


case("metadata-empty-object", "expected an integer format version")(
    lambda tmp: tar_with(tmp, lambda f: f.__setitem__("metadata.json", b"{}"))
)
case("metadata-model-name-type", "expected a string")(_module_edit("model_name", 5))
case("metadata-executors-string", "expected a list")(_module_edit("executors", "graph"))
case("metadata-style-unknown", "unknown style")(_module_edit("style", "partial"))
case("metadata-sids-not-list", "expected a list")(
    lambda tmp: tar_with(tmp, meta_edit(lambda d: d["modules"]["default"]["memory"].__setitem__("sids", {})))
)
case("metadata-sid-huge", "expected a byte count")(
    lambda tmp: tar_with(
        tmp,
        meta_edit(lambda d: d["modules"]["default"]["memory"]["sids"][0].__setitem__("size_bytes", 2**60)),
    )
)
case("metadata-io-dtype-type", "expected a string")(
    lambda tmp: tar_with(
        tmp, meta_edit(lambda d: main0(d).__setitem__("inputs", {"x": {"size": 16, "dtype": 32}}))
    )
)
case("metadata-operator-no-name", "expected a string")(
    lambda tmp: tar_with(
        tmp,
        meta_edit(
            lambda d: d["modules"]["default"]["memory"]["functions"]["operator_functions"][0].pop(
                "function_name"
            )
        ),
    )
)
case("metadata-input-size-vs-graph", "is 16 bytes in the graph JSON but 12 bytes in metadata.json")(
    lambda tmp: tar_with(
        tmp, meta_edit(lambda d: main0(d).__setitem__("inputs", {"x": {"size": 12, "dtype": "float32"}}))
    )
)


# -- more graph JSON --------------------------------------------------------------------------
case("graph-self-reference", "comes later")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["nodes"][2].__setitem__("inputs", [[2, 0, 0]])))
)
case("graph-not-object", "must be a JSON object")(
    lambda tmp: tar_with(tmp, lambda f: f.__setitem__("executor-config/graph/default.graph", b"[]"))
)
case("graph-nodes-missing", "nodes must be a list")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g.pop("nodes")))
)
case("graph-heads-out-of-range", "heads node")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g.__setitem__("heads", [[9, 0, 0]])))
)
case("graph-num-outputs-huge", "num_outputs")(
    lambda tmp: tar_with(
        tmp, graph_edit(lambda g: g["nodes"][2]["attrs"].__setitem__("num_outputs", "99999999999999999999"))
    )
)
case("graph-num-outputs-unicode-digit", "num_outputs")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["nodes"][2]["attrs"].__setitem__("num_outputs", "²")))
)
case("graph-device-index-nested", "device_index")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["device_index"].__setitem__(1, [[1], [2], 1])))
)
case("graph-dtype-huge-bits", "unknown dtype")(
    lambda tmp: tar_with(
        tmp, graph_edit(lambda g: g["attrs"]["dltype"][1].__setitem__(0, "int" + "9" * 5000))
    )
)
case("graph-dtype-not-string", "dtype must be a string")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["dltype"][1].__setitem__(0, 32)))
)
case("graph-shape-not-list", "shape must be a list")(
    lambda tmp: tar_with(tmp, graph_edit(lambda g: g["attrs"]["shape"][1].__setitem__(0, "1x4")))
)


# -- more params ------------------------------------------------------------------------------
case("params-name-length-huge", "bytes long")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(b, 24, "<Q", 2**40)))
)
case("params-empty-file", "is truncated")(lambda tmp: tar_with(tmp, params_edit(lambda b: b"")))


@case("params-duplicate-names", "twice")
def _(tmp: Path) -> Path:
    blob = write_params([("p0", np.zeros(4, np.float32)), ("p0", np.ones(4, np.float32))])
    return tar_with(tmp, lambda f: f.__setitem__("parameters/default.params", blob))


case("params-bool-odd-bits", "unknown dtype")(
    lambda tmp: tar_with(tmp, params_edit(lambda b: _put(_put(b, 70, "<B", 1), 71, "<B", 3)))
)


# -- file names that would break a build --------------------------------------------------------
def _rename_source(new: str) -> Callable[[Path], Path]:
    def change(f: dict[str, bytes]) -> None:
        f["codegen/host/src/" + new] = f.pop("codegen/host/src/default_lib1.c")

    return lambda tmp: tar_with(tmp, change)


for _id, _fname in [
    ("semicolon", "a;b.c"),
    ("quote", 'lib".c'),
    ("dollar", "lib$(x).c"),
    ("space", "lib 1.c"),
]:
    case(f"codegen-name-{_id}", "has a file name a build cannot use")(_rename_source(_fname))


# -- objects of the wrong architecture ----------------------------------------------------------
def elf_header(cls: int, machine: int, flags: int = 0) -> bytes:
    """A relocatable ELF with no sections: enough to say class, machine and float ABI."""
    if cls == 32:
        h = bytearray(52)
        h[:7] = b"\x7fELF\x01\x01\x01"
        struct.pack_into("<HHIIIIIHHHHHH", h, 16, 1, machine, 1, 0, 0, 0, flags, 52, 0, 0, 40, 0, 0)
    else:
        h = bytearray(64)
        h[:7] = b"\x7fELF\x02\x01\x01"
        struct.pack_into("<HHIQQQIHHHHHH", h, 16, 1, machine, 1, 0, 0, 0, flags, 64, 0, 0, 64, 0, 0)
    return bytes(h)


def _with_object(tmp: Path, obj: bytes, probe: bytes) -> Path:
    (tmp / "probe.o").write_bytes(probe)
    return tar_with(tmp, lambda f: f.__setitem__("codegen/host/lib/default_lib0.o", obj))


case(
    "object-wrong-architecture",
    "holds arm/elf32/hard-float code but the target compiler produces x86_64/elf64",
    ("generate",),
    ("--abi-probe", "{in}/probe.o"),
)(lambda tmp: _with_object(tmp, elf_header(32, 40, 0x5000400), elf_header(64, 62)))
case(
    "object-wrong-float-abi",
    "holds arm/elf32/hard-float code but the target compiler produces arm/elf32/soft-float",
    ("generate",),
    ("--abi-probe", "{in}/probe.o"),
)(lambda tmp: _with_object(tmp, elf_header(32, 40, 0x5000400), elf_header(32, 40, 0x5000200)))
case(
    "abi-probe-not-elf",
    "is not an ELF object file",
    ("generate",),
    ("--abi-probe", "{in}/probe.o"),
    "{in}/probe.o",
)(lambda tmp: _with_object(tmp, elf_header(32, 40, 0x5000400), b"#!/bin/sh\necho not an object\n" * 4))
case("object-unknown-elf-class", "unknown class")(
    lambda tmp: tar_with(
        tmp, lambda f: f.__setitem__("codegen/host/lib/default_lib0.o", b"\x7fELF\x07\x01" + b"\0" * 60)
    )
)


# == The generator's outputs =====================================================================
# What a hostile archive must not achieve through what the generator writes: commands on the
# build host (objcopy response files), code in the generated runner, files lost or written
# outside --out, memory corruption in accepted models, output that does not build, and more
# than one printable line. Each case is named after the class it belongs to.
def _source_with(extra_c: str, base: str = ADD_C) -> Callable[[dict[str, bytes]], None]:
    def change(f: dict[str, bytes]) -> None:
        f["codegen/host/src/default_lib1.c"] = (base + extra_c).encode()

    return change


def _objcopy_lines(out: Path) -> list[str]:
    return (out / "net.objcopy").read_text().splitlines()


def _no_injected_sections(out: Path, _err: str) -> None:
    """Every line of the response file is one option with a checked section name."""
    import re as _re

    for line in _objcopy_lines(out):
        assert _re.fullmatch(r"--keep-global-symbols=net\.syms|--rename-section=[A-Za-z0-9_.$]+=\.w", line), (
            line
        )


_EVIL_SECTION = ".x --dump-section .text=pwned --add-section .y=/etc/hostname"
_WEIGHTS = ("--weights-section", ".w")

# -- 1. objcopy command files: section names from text the compiler never sees, or not names
accepted("objcopy-section-in-if0", _no_injected_sections, _WEIGHTS)(
    lambda tmp: tar_with(
        tmp,
        _source_with(
            '#if 0\nstatic const float __attribute__((section("' + _EVIL_SECTION + '"))) '
            "__tvm_param__p0[4] = {0, 0.25f, 0.5f, 0.75f};\n#endif\n"
        ),
    )
)
accepted("objcopy-section-in-elif0", _no_injected_sections, _WEIGHTS)(
    lambda tmp: tar_with(
        tmp,
        _source_with(
            '#if 0\n#elif 0\nstatic const float __attribute__((section("' + _EVIL_SECTION + '"))) '
            "constant_0[4] = {0};\n#endif\n"
        ),
    )
)


def _renamed_rodata_tvm(out: Path, err: str) -> None:
    _no_injected_sections(out, err)
    assert "--rename-section=.rodata.tvm=.w" in _objcopy_lines(out)


accepted("objcopy-section-in-comment", _renamed_rodata_tvm, _WEIGHTS)(
    lambda tmp: tar_with(
        tmp,
        _source_with(
            'static const float __attribute__((aligned(16), /* section("' + _EVIL_SECTION + '"), */ '
            'section(".rodata.tvm"))) __tvm_param__p0[4] = {0, 0.25f, 0.5f, 0.75f};\n'
        ),
    )
)
# Section names in code the compiler sees, but not names: refused before they reach objcopy.
for _id, _option, _code in [
    (
        "with-spaces",
        _WEIGHTS,
        f'static const float __attribute__((section("{_EVIL_SECTION}"))) __tvm_param__p0[4] = {{0}};\n',
    ),
    (
        "escape",
        _WEIGHTS,
        'static const float __attribute__((section(".x\\n--add-section"))) constant_0[4];\n',
    ),
    (
        "pool",
        ("--arena-section", ".a"),
        'static uint8_t __attribute__((section(".bss.x;touch pwned"))) pool_0[16];\n',
    ),
    ("default-unicode", _WEIGHTS, "static const float constant_\u00e9[4] = {0};\n"),
]:
    case(
        f"objcopy-section-{_id}",
        "is not a valid section name",
        ("generate",),
        _option,
        "{in}/model.tar(codegen/host/src/default_lib1.c)",
    )(lambda tmp, code=_code: tar_with(tmp, _source_with(code)))
for _id, _section in [
    ("leading-digit", "1data"),
    ("space", ".w x"),
    ("at-file", "@/etc/passwd"),
    ("newline", ".w\n--x"),
]:
    case(
        f"objcopy-option-{_id}",
        "is not a valid section name",
        ("generate",),
        ("--weights-section", _section),
        "WEIGHTS_SECTION",
    )(lambda tmp: tar_with(tmp, lambda f: None))
case(
    "objcopy-arena-option",
    "is not a valid section name",
    ("generate",),
    ("--arena-section", ".a\t-R"),
    "ARENA_SECTION",
)(lambda tmp: tar_with(tmp, lambda f: None))


# -- 2. names pasted into the generated C: identifiers only
def _object_defining(*names: bytes) -> Callable[[dict[str, bytes]], None]:
    def change(f: dict[str, bytes]) -> None:
        f["codegen/host/lib/default_lib0.o"] = elf_object([b"tvmgen_default_fused_add", *names])

    return change


def _operator_named(name: str, symbol: bytes) -> Builder:
    def build(tmp: Path) -> Path:
        def change(f: dict[str, bytes]) -> None:
            _object_defining(symbol)(f)
            graph_edit(lambda g: g["nodes"][2]["attrs"].__setitem__("func_name", name))(f)

        return tar_with(tmp, change)

    return build


_CTOR = "x(void);\n__attribute__((constructor)) static void pwn(void) { *(volatile int *)0 = 1; }\nint y"
for _id, _fn in [
    ("newline", _CTOR),
    ("directive", "f\n#define int32_t void"),
    ("keyword", "sizeof"),
    ("unicode", "fused_\u00e4dd"),
]:
    case(
        f"cinject-operator-{_id}",
        "is not a C identifier",
        ("generate",),
        where="{in}/model.tar(executor-config/graph/default.graph)",
    )(_operator_named(_fn, _fn.encode()))


def _fixture(layout: str, tmp: Path, edit: Callable[[dict[str, bytes]], Any]) -> Path:
    """A fixture model (tests/fixtures) with its members edited."""
    from tests import fixtures

    src = fixtures.export(layout, tmp)
    with tarfile.open(src) as tf:
        files = {m.name.removeprefix("./"): tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]
    src.unlink()
    edit(files)
    return write_tar(tmp / "model.tar", files)


def _header_edit(old: str, new: str) -> Callable[[dict[str, bytes]], None]:
    def change(f: dict[str, bytes]) -> None:
        name = "codegen/host/include/tvmgen_default.h"
        assert old.encode() in f[name], old
        f[name] = f[name].replace(old.encode(), new.encode())

    return change


case(
    "cinject-aot-struct-field",
    "is not a C identifier",
    ("generate",),
    where="{in}/model.tar(codegen/host/include/tvmgen_default.h)",
)(
    lambda tmp: _fixture(
        "v7-aot-c",
        tmp,
        _header_edit(
            "#define TVMGEN_DEFAULT_WORKSPACE_SIZE",
            "struct tvmgen_default_workspace_pools {\n  void* p\u00f6ol;\n};\n"
            "#define TVMGEN_DEFAULT_P\u00d6OL_WORKSPACE_POOL_SIZE 64\n#define TVMGEN_DEFAULT_WORKSPACE_SIZE",
        ),
    )
)


def _param_renamed(name: str) -> Callable[[dict[str, bytes]], None]:
    """The parameter p0 called ``name`` everywhere, and linked into TVM's C under that name."""

    def change(f: dict[str, bytes]) -> None:
        graph_edit(lambda g: g["nodes"][1].__setitem__("name", name))(f)
        f["parameters/default.params"] = write_params([(name, np.arange(4, dtype=np.float32) / 4)])
        binding = b'"input_binding": ' + json.dumps(name).encode()
        f["metadata.json"] = f["metadata.json"].replace(b'"input_binding": "p0"', binding)
        _source_with(f"static const float __tvm_param__{name}[4] = {{0, 0.25f, 0.5f, 0.75f}};\n")(f)

    return change


case(
    "cinject-linked-array-unicode",
    "is not a C identifier",
    ("generate",),
    where="{in}/model.tar(codegen/host/src/default_lib1.c)",
)(lambda tmp: tar_with(tmp, _param_renamed("p\u00e9")))


# -- 3. the user's files: --out is a folder of its own, links are not followed
case("out-holds-model", "holds the model", ("generate",), where="{in}", out="{in}")(
    lambda tmp: tar_with(tmp, lambda f: None)
)
case("out-is-model-tar", "is inside the model", ("generate",), where="{in}/model.tar", out="{in}/model.tar")(
    lambda tmp: tar_with(tmp, lambda f: None)
)
case("out-is-model-dir", "is inside the model", ("generate",), where="{in}/model", out="{in}/model")(
    lambda tmp: as_directory(tmp)
)
case(
    "out-inside-model-dir",
    "is inside the model",
    ("generate",),
    where="{in}/model/codegen/host/src",
    out="{in}/model/codegen/host/src",
)(lambda tmp: as_directory(tmp))
case("out-holds-model-dir", "holds the model", ("generate",), where="{in}", out="{in}")(
    lambda tmp: as_directory(tmp)
)


def _model_and_linked_out(link: str) -> Builder:
    """A model, and an existing output folder whose ``link`` is a link to a folder outside it."""

    def build(tmp: Path) -> Path:
        outside = tmp / "outside"
        outside.mkdir()
        (outside / "keep.txt").write_text("the user's\n")
        (tmp / "o" / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(outside / ("victim" if link == ".mlf-lock" else ""), tmp / "o" / link)
        return tar_with(tmp, lambda f: None)

    return build


case("out-codegen-is-link", "is a symbolic link", ("generate",), where="{in}/o/codegen", out="{in}/o")(
    _model_and_linked_out("codegen")
)
case(
    "out-codegen-src-is-link", "is a symbolic link", ("generate",), where="{in}/o/codegen/src", out="{in}/o"
)(_model_and_linked_out("codegen/src"))
case("out-lock-is-link", "is a symbolic link", ("generate",), where="{in}/o/.mlf-lock", out="{in}/o")(
    _model_and_linked_out(".mlf-lock")
)
case("out-staging-is-link", "is a symbolic link", ("generate",), where="{in}/o/.mlf-tmp", out="{in}/o")(
    _model_and_linked_out(".mlf-tmp")
)


# -- 4. sizes and table fields the generated C cannot hold
def _one_op_with_inputs(n: int, ops: int = 1) -> Callable[[dict[str, bytes]], None]:
    """``ops`` chained operators, each reading the previous result (first: x) ``n`` times."""

    def edit(g: dict[str, Any]) -> None:
        op = g["nodes"][2]
        g["nodes"] = g["nodes"][:2]
        for k in range(ops):
            src = 0 if k == 0 else 1 + k
            g["nodes"].append({**op, "name": f"op{k}", "inputs": [[src, 0, 0]] * n})
        count = 2 + ops
        g["heads"] = [[count - 1, 0, 0]]
        g["node_row_ptr"] = list(range(count + 1))
        g["attrs"]["dltype"][1] = ["float32"] * count
        g["attrs"]["storage_id"][1] = list(range(count))
        g["attrs"]["shape"][1] = [[1, 4], [4]] + [[1, 4]] * ops
        g["attrs"]["device_index"][1] = [1] * count

    return graph_edit(edit)


case("tables-one-operator-70000-inputs", "with 70001 arguments, more than 65535", ("generate",))(
    lambda tmp: tar_with(tmp, _one_op_with_inputs(70_000))
)


def _three_long_calls(out: Path, _err: str) -> None:
    runner = (out / "net_runner.c").read_text()
    assert "DLTensor tensors[30001];" in runner and "/* 2: tvmgen_default_fused_add(" in runner


# 90,003 operator arguments in all, once truncated into 16-bit table fields: the runner's
# program numbers them in LEB128 now, so this builds.
accepted("tables-arguments-in-all", _three_long_calls)(
    lambda tmp: tar_with(tmp, _one_op_with_inputs(30_000, ops=3))
)
case("linked-param-array-short", "holds 8 bytes, but parameter 'p0' is 16 bytes")(
    lambda tmp: tar_with(tmp, _source_with("static const float __tvm_param__p0[2] = {0, 0.25f};\n"))
)
case("linked-param-array-unknown-type", "holds my_float elements")(
    lambda tmp: tar_with(
        tmp, _source_with("typedef float my_float;\nstatic const my_float __tvm_param__p0[4] = {0};\n")
    )
)


def _io_size_bytes(old: bytes, new: bytes) -> Callable[[dict[str, bytes]], None]:
    def change(f: dict[str, bytes]) -> None:
        f["metadata.json"] = f["metadata.json"].replace(
            b'"io_size_bytes": ' + old, b'"io_size_bytes": ' + new
        )

    return change


def _huge_input(g: dict[str, Any]) -> None:
    g["attrs"]["shape"][1][0] = [1, 1 << 40]
    g["attrs"]["shape"][1][2] = [1, 1 << 40]


def _huge_input_files(f: dict[str, bytes]) -> None:
    graph_edit(_huge_input)(f)
    _io_size_bytes(b"32", b"8796093022208")(f)
    f["src/default.relay"] = f["src/default.relay"].replace(
        b"%x: Tensor[(1, 4)", b"%x: Tensor[(1, 1099511627776)"
    )


case("size-input-beyond-32-bit", "more than a 32-bit target can address", ("generate",))(
    lambda tmp: tar_with(tmp, _huge_input_files)
)
case(
    "size-input-beyond-32-bit-probe",
    "more than a 32-bit target can address",
    ("generate",),
    ("--abi-probe", "{in}/probe.o"),
)(
    lambda tmp: (
        (tmp / "probe.o").write_bytes(elf_header(32, 40, 0x5000400)) and tar_with(tmp, _huge_input_files)
    )
)


def _sized_for_64_bit(out: Path, _err: str) -> None:
    assert "#define NET_INPUT_0_SIZE 4398046511104\n" in (out / "net.h").read_text()


# The same input for a 64-bit target (what the ABI probe says): within its size_t.
accepted("size-input-64-bit-probe", _sized_for_64_bit, ("--abi-probe", "{in}/probe.o"), compile=False)(
    lambda tmp: (tmp / "probe.o").write_bytes(elf_header(64, 62)) and tar_with(tmp, _huge_input_files)
)
case(
    "size-align-2^40",
    "more than a 32-bit target can address",
    ("generate",),
    ("--align", str(1 << 40)),
    "--align",
)(lambda tmp: tar_with(tmp, lambda f: None))
case("size-aot-pool-1TiB", "limit 4 GiB", ("generate",))(
    lambda tmp: _fixture(
        "v7-aot-c",
        tmp,
        _header_edit(
            "#define TVMGEN_DEFAULT_WORKSPACE_SIZE",
            "struct tvmgen_default_workspace_pools {\n  void* big;\n};\n"
            "#define TVMGEN_DEFAULT_BIG_WORKSPACE_POOL_SIZE 1099511627776\n"
            "#define TVMGEN_DEFAULT_WORKSPACE_SIZE",
        ),
    )
)
case(
    "size-io-shape-digits",
    "impossibly large",
    extra=("--io-shape", "logits=1x" + "9" * 5000),
    where="--io-shape",
)(lambda tmp: tar_with(tmp, lambda f: None))
case(
    "size-io-shape-elements",
    "impossibly large",
    extra=("--io-shape", "logits=65536x65536x65537:float32"),
    where="--io-shape",
)(lambda tmp: tar_with(tmp, lambda f: None))
case(
    "size-io-shape-beyond-32-bit",
    "more than a 32-bit target can address",
    ("generate",),
    ("--io-shape", "logits=1x1073741824", "--io-shape", "probs=1x4"),
)(lambda tmp: _fixture("v5-aot-c", tmp, _io_size_bytes(b"192", b"8589934592")))


# -- 6. names that collide with each other, with libc or with the runtime
def _two_modules(
    first: str,
    second: str,
    edit_first: Callable[[dict[str, Any]], Any] | None = None,
    extra: dict[str, bytes] | None = None,
) -> Builder:
    def build(tmp: Path) -> Path:
        files: dict[str, bytes] = dict(extra or {})
        modules: dict[str, Any] = {}
        for module in (first, second):
            one = minimal_files(module)
            meta = json.loads(one.pop("metadata.json"))
            if edit_first is not None and module == first:
                edit_first(meta["modules"][module]["memory"]["functions"]["main"][0])
            modules.update(meta["modules"])
            graph = f"executor-config/graph/{module}.graph"
            one[graph] = one[graph].replace(b"tvmgen_default_", f"tvmgen_{module}_".encode())
            files.update(one)
        files["metadata.json"] = json.dumps({"version": 7, "modules": modules}, sort_keys=True).encode()
        return write_tar(tmp / "model.tar", files)

    return build


case("namespace-module-macros", "would both define NET_M_OUTPUT_IO_SIZE", ("generate",), ("--all-modules",))(
    _two_modules(
        "m", "m_output", lambda main: main.__setitem__("outputs", {"io": {"size": 16, "dtype": "float32"}})
    )
)
for _name in (
    "math",
    "stdint",
    "String",
    "Time",
    "arm_nnfunctions",
    "features",
    "newlib",
    "reent",
):
    case(f"namespace-name-{_name.lower()}", "which hides", ("generate",), ("--name", _name), "library name")(
        lambda tmp: tar_with(tmp, lambda f: None)
    )
case(
    "namespace-module-header-cmsis",
    "which hides",
    ("generate",),
    ("--name", "arm", "--all-modules"),
    "library name",
)(_two_modules("math", "lib"))
for _id, _header in [
    ("runtime-internal", "mlf_runtime_internal.h"),
    ("runtime", "mlf_runtime.h"),
    ("tvm-api", "tvm/runtime/c_runtime_api.h"),
    ("stdint", "stdint.h"),
    ("sys-types", "sys/types.h"),
    ("math-upper", "Math.h"),
]:
    case(
        f"namespace-include-{_id}",
        "would be on the include path",
        ("generate",),
        where=f"{{in}}/model.tar(codegen/host/include/{_header})",
    )(
        lambda tmp, h=_header: tar_with(
            tmp, lambda f: f.__setitem__(f"codegen/host/include/{h}", b"#define int32_t int\n")
        )
    )


def _with_crt(extra: dict[str, bytes]) -> Callable[[dict[str, bytes]], None]:
    def change(f: dict[str, bytes]) -> None:
        f["runtime/src/runtime/crt/common/crt_backend_api.c"] = b"/* TVM's */\n"
        f["runtime/src/runtime/crt/memory/stack_allocator.c"] = b"/* TVM's */\n"
        f["runtime/include/tvm/runtime/c_runtime_api.h"] = b"/* TVM's own, meant to be used */\n"
        f.update(extra)

    return change


case(
    "namespace-crt-include-runtime",
    "would be on the include path",
    ("generate",),
    ("--runtime", "tvm_crt"),
    "{in}/model.tar(runtime/include/mlf_runtime_internal.h)",
)(lambda tmp: tar_with(tmp, _with_crt({"runtime/include/mlf_runtime_internal.h": b"#define MLF_OK 1\n"})))
case(
    "namespace-crt-include-stdlib",
    "would be on the include path",
    ("generate",),
    ("--runtime", "tvm_crt"),
    "{in}/model.tar(runtime/include/stdlib.h)",
)(lambda tmp: tar_with(tmp, _with_crt({"runtime/include/stdlib.h": b"\n"})))


# -- 7. CMake: names that would split or merge CMake lists
_CMAKE_INFO = ("--list", "--cmake-info", "{in}/info.cmake")


def _dir_with(name: str, data: bytes = b"x") -> Builder:
    def build(tmp: Path) -> Path:
        root = as_directory(tmp)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        return root

    return build


for _id, _member in [
    ("semicolon", "parameters/a;b.params"),
    ("open-bracket", "src/a[b.relay"),
    ("close-bracket-equals", "runtime/notes]="),
    ("dollar-genex", "templates/$<1:x>"),
    ("space", "src/my model.relay"),
]:
    case(
        f"cmake-member-{_id}",
        "has a file name a build cannot use",
        ("generate",),
        _CMAKE_INFO,
        f"{{in}}/model({_member})",
    )(_dir_with(_member))
case(
    "cmake-module-name-backslash",
    "cannot be passed to CMake exactly",
    ("generate",),
    (*_CMAKE_INFO, "--module", "default"),
)(
    lambda tmp: tar_with(
        tmp,
        meta_edit(
            lambda d: d["modules"].__setitem__(
                "op\\", {**copy.deepcopy(d["modules"]["default"]), "model_name": "op\\", "style": "operator"}
            )
        ),
    )
)


def _cmake_reads_back(expect: Callable[[Path], dict[str, list[str]]]) -> Callable[[Path, str], None]:
    """Check that CMake, including the --cmake-info file (beside --out), gets exactly the
    expected values: each list element (foreach IN LISTS), or the whole of a scalar
    (a variable named WARNING_<i>)."""

    def check(out: Path, _err: str) -> None:
        import shutil
        import subprocess

        info = out.parent / "info.cmake"
        cmake = shutil.which("cmake")
        if cmake is None:
            return  # the generation itself was checked; the read-back needs CMake
        script = out.parent / "read.cmake"
        names = expect(out)
        lines = [f'include("{info.as_posix()}")']
        for var in names:
            if var.startswith("WARNING_"):
                lines.append(f'message("{var}|${{MLF_INFO_{var}}}|")')
            else:
                lines += [
                    f"foreach(v IN LISTS MLF_INFO_{var})",
                    f'  message("{var}|${{v}}|")',
                    "endforeach()",
                ]
        script.write_text("\n".join(lines) + "\n")
        res = subprocess.run([cmake, "-P", script], capture_output=True, timeout=60)
        assert res.returncode == 0, res.stderr
        got: dict[str, list[str]] = {var: [] for var in names}
        for line in res.stderr.decode("utf-8", "surrogateescape").splitlines():
            var, _, rest = line.partition("|")
            if var in got:
                got[var].append(rest[:-1])
        assert got == names, (got, names)

    return check


def _tar_named(name: str) -> Builder:
    return lambda tmp: tar_with(tmp, lambda f: None, name)


for _id, _fname in [("ends-bracket-equals", "model[v2]="), ("brackets", "[m]]=]=[[.tar")]:
    accepted(
        f"cmake-model-path-{_id}",
        _cmake_reads_back(lambda out, n=_fname: {"INPUT_FILES": [str((out.parent / "in" / n).resolve())]}),
        ("--cmake-info", "{in}/../info.cmake"),
        compile=False,
    )(_tar_named(_fname))


# Model paths CMake cannot keep as they are in a list (validate.cmake_list_item says why).
for _id, _fname in [
    ("semicolon", "a;b.tar"),
    ("unbalanced-bracket", "model]=.tar"),
    ("backslash", "m\\.tar"),
    ("dollar", "m$(x)${y}.tar"),
    ("generator-expression", "$<1:m>.tar"),
]:
    case(f"cmake-model-path-{_id}", "cannot be passed to CMake exactly", ("generate",), _CMAKE_INFO)(
        _tar_named(_fname)
    )


def _warning_text(out: Path) -> dict[str, list[str]]:
    return {"WARNING_0": [f"{out.parent / 'in' / 'model'}(notes ]=]; x]=): ignored (not part of an MLF)"]}


accepted(
    "cmake-warning-brackets",
    _cmake_reads_back(_warning_text),
    ("--cmake-info", "{in}/../info.cmake"),
    compile=False,
)(_dir_with("notes ]=]; x]="))


# -- 8. one printable line, nothing written by a refused run
def _meta_key_escape(d: dict[str, Any]) -> None:
    d["modules"]["\x1b[2J\x1b]0;pwned\x07"] = d["modules"].pop("default")


case("line-metadata-key-escape", "not the module's key", where="{in}/model.tar(metadata.json)")(
    lambda tmp: tar_with(tmp, meta_edit(_meta_key_escape))
)
case("line-tensor-name-c1", "control characters")(lambda tmp: tar_with(tmp, rename_input("in\x9bput")))
case("line-tensor-name-nel", "control characters")(lambda tmp: tar_with(tmp, rename_input("in\x85put")))
case("line-tensor-name-u2028", "control characters")(lambda tmp: tar_with(tmp, rename_input("in\u2028put")))
case("line-tensor-name-u2029", "control characters")(lambda tmp: tar_with(tmp, rename_input("in\u2029put")))
case("line-target-escape", "unknown executor")(
    lambda tmp: tar_with(
        tmp, meta_edit(lambda d: d["modules"]["default"].__setitem__("executors", ["\x1b[31mvm\x1b[0m"]))
    )
)
case("line-model-path-newline", "is not valid JSON")(
    lambda tmp: tar_with(tmp, lambda f: f.__setitem__("metadata.json", b"{"), "mo\ndel\x1b[1m.tar")
)
case(
    "refused-name-300-characters",
    "longer than 255 bytes",
    ("generate",),
    ("--name", "n" * 300),
    "library name",
)(lambda tmp: tar_with(tmp, lambda f: None))
case(
    "refused-file-owned-by-no-module",
    "would be written twice",
    ("generate",),
    ("--all-modules",),
    "{in}/model.tar(codegen/host/src/shared_lib.c)",
)(_two_modules("mixer", "waveform", extra={"codegen/host/src/shared_lib.c": b"int shared;\n"}))

# Two members whose names differ only in case: one file on macOS's and Windows' file systems.
case(
    "refused-names-differing-in-case",
    "the same file where names ignore case",
    ("generate",),
)(lambda tmp: tar_with(tmp, lambda f: f.update({"codegen/host/src/Default_lib1.c": b"int other_copy;\n"})))


def _one_warning_for_many(out: Path, err: str) -> None:
    warnings = [line for line in err.splitlines() if line.startswith("mlf-build: warning: ")]
    assert len(warnings) == 1 and "ignored 5000 files (not part of an MLF)" in warnings[0], warnings


accepted("line-many-ignored-members", _one_warning_for_many, compile=False)(
    lambda tmp: with_members(tmp, *((f"notes/{i}.txt", b"") for i in range(5000)))
)


def _printable_everywhere(out: Path, err: str) -> None:
    text = (out / "net.h").read_text() + err
    assert not any(c in text for c in "\x1b\x85\u2028\x9b"), repr(text)


accepted("line-path-newline-accepted", _printable_everywhere)(
    lambda tmp: tar_with(tmp, lambda f: None, "mo\ndel\x1b[1m.tar")
)


# -- denial of service: small inputs that cost time or memory out of proportion ----------------
# Each was seen to take minutes or gigabytes; each must now be read in linear time and bounded
# memory (tests/fuzz/measure_hostile.py prints the figures) or refused. The accepted ones are
# registered by costly(): accepted by inspect and generate, nothing more checked.
def _cost_only(out: Path, err: str) -> None:
    """What such an input costs is what counts (measured, never asserted)."""


def costly(id: str, commands: tuple[str, ...] = ("inspect", "generate")) -> Callable[[Builder], Builder]:
    return accepted(id, _cost_only, compile=False, commands=commands)


def _tgz(tmp: Path, files: dict[str, bytes]) -> Path:
    p = tmp / "model.tar.gz"
    p.write_bytes(gzip.compress(tar_bytes(list(files.items())), compresslevel=9, mtime=0))
    return p


def _with_file(name: str, data: bytes | Callable[[], bytes], compress: bool = False) -> Builder:
    def build(tmp: Path) -> Path:
        files = minimal_files()
        files[name] = data() if callable(data) else data
        return _tgz(tmp, files) if compress else write_tar(tmp / "model.tar", files)

    return build


def _c_file(data: bytes | Callable[[], bytes], compress: bool = False) -> Builder:
    """A second C file of the model, beside TVM's (the reader reads every source)."""
    return _with_file("codegen/host/src/default_lib2.c", data, compress)


def _function(body: bytes) -> bytes:
    return b"int32_t hostile(void* a, int32_t* b) {\n" + body + b"\n  return 0;\n}\n"


for _id, _src, _gz in [
    # _FUNC: a lazy qualifier run tried from every position of a long line
    ("long-line", lambda: b"a " * 30_000 + b"\n", False),
    # comment stripping: each unclosed /* scanned to the end of the file
    ("unclosed-comments", lambda: b"/* " * 100_000, False),
    # #include search: ^\s* spans every following blank line, from every line
    ("blank-lines", lambda: b"\n" * 1_000_000, True),
    ("unclosed-includes", lambda: b"#include <a\n" * 50_000, False),
    # a call's arguments re-scanned for every call they contain
    ("nested-calls", lambda: _function(b"  f(" * 30_000 + b"a" + b")" * 30_000 + b";"), False),
    ("unterminated-allocs", lambda: _function(b"TVMBackendAllocWorkspace(" * 20_000), False),
    ("unterminated-frees", lambda: _function(b"TVMBackendFreeWorkspace(" * 20_000), False),
    ("unclosed-attributes", lambda: b"__attribute__((" * 30_000, False),
    ("static-attribute-line", lambda: b"static int __attribute__((" * 20_000, False),
    ("deep-conditionals", lambda: b"#ifdef X\n" * 50_000 + b"int x;\n" * 50_000, False),
    ("declarations-one-line", lambda: b"int f(void);" * 20_000, False),
    (
        "long-parameter-name",
        lambda: b"int32_t f(int32_t " + b"a" * 60_000 + b" b) {\n  return 0;\n}\n",
        False,
    ),
    ("many-parameters", lambda: b"int32_t f(" + b"int a," * 1_100_000 + b"int b) {\n  return 0;\n}\n", True),
    # one Python string per line of a 20 MB file of newlines (1 GB)
    ("newlines", lambda: b"\n" * 20_000_000, True),
    # too many things to look at one by one: refused after MAX_ITEMS of them
    ("many-braces", lambda: b"{}" * 3_000_000, True),
    ("many-strings", lambda: b'"";' * 3_000_000, True),
    # a backtracking frame per character of one literal: 100 M characters in 150 kB took 2.8 GB
    ("long-string-literal", lambda: b'const char* s = "' + b"a" * 100_000_000 + b'";\n', True),
    ("long-char-literal", lambda: b"int c = '" + b"a" * 100_000_000 + b"';\n", True),
    ("escaped-string-literal", lambda: b'const char* s = "' + b'\\"' * 24_000_000 + b'";\n', True),
]:
    if _id.startswith("many-"):
        case(f"dos-c-{_id}", "preprocessor lines, braces")(_c_file(_src, _gz))
    else:
        costly(f"dos-c-{_id}")(_c_file(_src, _gz))

# just under that limit: the most a C file can make the reader hold
for _id, _src in [
    ("arrays", lambda: b"".join(b"static int a%d[1];\n" % i for i in range(1_000_000))),
    ("declarations", lambda: b"".join(b"int f%d(void);\n" % i for i in range(1_000_000))),
    ("calls", lambda: _function(b"".join(b"  f%d(a);\n" % i for i in range(200_000)))),
    (
        "parameters",
        lambda: b"int32_t f(" + b"".join(b"int a%d," % i for i in range(1_000_000)) + b"int b) {}\n",
    ),
]:
    costly(f"dos-c-most-{_id}", ("inspect",))(_c_file(_src, True))


@costly("dos-c-deep-call-chain")
def _(tmp: Path) -> Path:
    # The operator calls f1, which calls f2, ... f5000: sized by walking the calls (once a
    # recursion deeper than Python's limit: a RecursionError traceback).
    sig = "void* args, int32_t* type_codes, int32_t n, void* ret, int32_t* ret_code, void* handle"
    chain = "".join(
        f"int32_t f{i}({sig}) {{\n  return f{i + 1}(args, type_codes, n, ret, ret_code, handle);\n}}\n"
        for i in range(5000)
    )
    chain += f"int32_t f5000({sig}) {{\n  return 0;\n}}\n"

    def change(f: dict[str, bytes]) -> None:
        f["codegen/host/src/default_lib2.c"] = chain.encode()
        g = graph_doc()
        g["nodes"][2]["attrs"]["func_name"] = "f0"
        f["executor-config/graph/default.graph"] = json.dumps(g).encode()

    return tar_with(tmp, change)


# a packed function's argument handles, each looked for in the whole body (which of them the
# function reads besides data); USMP constant pools, each size comment searched for to the end
_PACKED = b"int32_t f(void* args, int32_t* t, int32_t n, void* r, int32_t* rc, void* h) {\n"
costly("dos-c-packed-many-handles")(
    _c_file(
        lambda: (
            _PACKED
            + b"".join(b"  void* a%d = (((TVMValue*)args)[%d].v_handle);\n" % (i, i) for i in range(20_000))
            + b"  return 0;\n}\n"
        )
    )
)
costly("dos-c-constant-pools")(
    _c_file(
        lambda: b"".join(b"static const struct p%d { int a; } p%d = {0};\n" % (i, i) for i in range(20_000))
    )
)
costly("dos-c-huge-array-count")(_c_file(b"static int x[" + b"9" * 5000 + b"];\n"))
costly("dos-c-huge-alloc-size")(
    _c_file(_function(b"  void* t = TVMBackendAllocWorkspace(1, 0, (uint64_t)" + b"9" * 5000 + b", 2, 32);"))
)


def _aot_main_holding(n: int) -> Callable[[dict[str, bytes]], None]:
    """The AOT fixture's inner main with ``n`` allocations held across ``n`` calls, then freed
    last to first: the liveness replay matched each call's arguments, and each free, against
    every allocation held (16000 of each, a 2.5 MB C file: 27 s)."""
    sig = (
        b"TVM_DLL int32_t tvmgen_default___tvm_main__(float* signal_buffer_var, "
        b"float* logits_buffer_var, float* probs_buffer_var) {"
    )

    def change(f: dict[str, bytes]) -> None:
        name = "codegen/host/src/default_lib1.c"
        c = f[name]
        start = c.index(sig)
        end = c.index(b"\n}", start) + 2
        body = b"".join(
            b"  void* s%d = TVMBackendAllocWorkspace(1, 0, (uint64_t)16, 0, 8);\n" % k for k in range(n)
        )
        body += b"".join(
            b"  tvmgen_default_fused_nn_softmax(s%d, s%d);\n" % (k, (k + 1) % n) for k in range(n)
        )
        body += b"".join(b"  TVMBackendFreeWorkspace(1, 0, s%d);\n" % k for k in reversed(range(n)))
        f[name] = c[:start] + sig + b"\n" + body + b"  return 0;\n}\n" + c[end:]

    return change


costly("dos-aot-main-many-allocations")(lambda tmp: _fixture("v7-aot-c", tmp, _aot_main_holding(16_000)))


# -- Relay text (read for the input names and output order)
def _relay(text: bytes | Callable[[], bytes], compress: bool = False) -> Builder:
    return _with_file("src/default.relay", text, compress)


costly("dos-relay-unclosed-shapes")(_relay(lambda: b"def @main(" + b"%x: Tensor[(" * 30_000))
costly("dos-relay-output-names")(
    _relay(lambda: b"def @main(%x: Tensor[(1, 4), float32], " + b"output_tensor_names=[" * 30_000 + b")")
)
costly("dos-relay-unclosed-name-strings")(
    _relay(lambda: b'def @main(%x: Tensor[(1, 4), float32], output_tensor_names=["' + b'\\"' * 60_000 + b"])")
)
# found with the above: a digit int() does not read ('²'.isdigit() is true), and 5000 digits
# one long string in @main's signature: a backtracking frame per character (20 M: 2.7 GB)
costly("dos-relay-long-string")(
    _relay(
        lambda: b'def @main(%q: "' + b"a" * 20_000_000 + b'", %x: Tensor[(1, 4), float32]) {\n}\n',
        compress=True,
    )
)
costly("relay-unicode-digit")(_relay(b"def @main(%x: Tensor[(1, \xc2\xb2), float32]) {\n}\n"))
costly("relay-huge-dimension")(_relay(b"def @main(%x: Tensor[(1, " + b"9" * 5000 + b"), float32]) {\n}\n"))
# each parameter's ':' or ')' searched for to the end of the text; a type nested by recursion;
# whitespace skipped a character at a time
costly("dos-relay-untyped-params")(_relay(lambda: b"def @main(" + b"%a, " * 1_000_000 + b")", compress=True))
costly("dos-relay-bracket-params")(_relay(lambda: b"def @main(" + b"%a: Tensor[(]], " * 100_000 + b")"))
costly("dos-relay-nested-tuples")(_relay(b"def @main(%x: " + b"(" * 5000 + b")"))
costly("dos-relay-spaces")(_relay(lambda: b"def @main(" + b" " * 60_000_000 + b")", compress=True))
costly("dos-relay-main-parens")(_relay(lambda: b"def @main(" + b"(" * 60_000_000, compress=True))


# -- the AOT header (tvmgen_<m>.h)
def _aot_header(text: bytes | Callable[[], bytes]) -> Builder:
    def build(tmp: Path) -> Path:
        files = minimal_files()
        doc = metadata_doc()
        doc["modules"]["default"]["executors"] = ["aot"]
        files["metadata.json"] = json.dumps(doc).encode()
        del files["executor-config/graph/default.graph"]
        files["codegen/host/include/tvmgen_default.h"] = text() if callable(text) else text
        return write_tar(tmp / "model.tar", files)

    return build


case("dos-aot-header-unclosed-struct", "has no struct tvmgen_default_inputs/outputs")(
    _aot_header(lambda: b"struct tvmgen_default_inputs {" * 30_000)
)
case("dos-aot-header-unclosed-comments", "defines no tvmgen_default_run")(
    _aot_header(
        lambda: (
            b"struct tvmgen_default_inputs {" + b"/* " * 100_000 + b"};\nstruct tvmgen_default_outputs {};\n"
        )
    )
)
case("dos-aot-header-huge-number", "defines no tvmgen_default_run")(
    _aot_header(
        b"struct tvmgen_default_inputs { void* x; };\nstruct tvmgen_default_outputs { void* y; };\n"
        b"#define TVMGEN_DEFAULT_X_SIZE " + b"9" * 5000 + b"\n"
    )
)


# -- graph JSON and metadata.json
def _graph_json(n_inputs: int, n_ops: int) -> bytes:
    """``n_inputs`` inputs and ``n_ops`` operators adding p0 in a chain to the first input, each
    operator's output of a shape of its own (empty: no arena); compact, as json.dumps without
    spaces writes it (optional fields left out)."""
    nodes = ['{"op":"null","name":"x0"}'] + [f'{{"op":"null","name":"x{i}"}}' for i in range(1, n_inputs)]
    nodes.append('{"op":"null","name":"p0"}')
    prev = 0
    for k in range(n_ops):
        nid = len(nodes)
        nodes.append(
            f'{{"op":"tvm_op","name":"op{k}","inputs":[[{prev},0,0],[{n_inputs},0,0]],'
            '"attrs":{"func_name":"tvmgen_default_fused_add"}}'
        )
        prev = nid
    n = len(nodes)
    dtypes = ['"float32"'] + ['"int8"'] * (n_inputs - 1) + ['"float32"'] * (n_ops + 1)
    shapes = (
        ["[1,4]"]
        + ["[4]"] * (n_inputs - 1)
        + ["[4]"]
        + [f"[0,{k + 1}]" for k in range(n_ops - 1)]
        + ["[1,4]"]
    )
    sids = list(range(n_inputs + 1)) + [n_inputs + 1 + k % 2 for k in range(n_ops)]
    return (
        f'{{"nodes":[{",".join(nodes)}],"arg_nodes":[{",".join(map(str, range(n_inputs + 1)))}],'
        f'"heads":[[{n - 1},0,0]],"attrs":{{"dltype":["list_str",[{",".join(dtypes)}]],'
        f'"storage_id":["list_int",[{",".join(map(str, sids))}]],'
        f'"shape":["list_shape",[{",".join(shapes)}]]}}}}'
    ).encode()


case("dos-graph-many-inputs", "values in all")(
    _with_file("executor-config/graph/default.graph", lambda: _graph_json(1_000_000, 1), compress=True)
)


# just under the limit on JSON values: the largest graph the reader holds
@costly("dos-graph-most-inputs", ("inspect",))
def _(tmp: Path) -> Path:
    files = minimal_files()
    files["executor-config/graph/default.graph"] = _graph_json(200_000, 1)
    doc = metadata_doc()
    main0(doc)["io_size_bytes"] = 1 << 40  # a bound the 200,000 inputs stay under
    files["metadata.json"] = json.dumps(doc).encode()
    return _tgz(tmp, files)


# the runner's shape table, searched from the start for every shape
costly("dos-graph-many-operators")(
    _with_file("executor-config/graph/default.graph", lambda: _graph_json(1, 30_000), compress=True)
)


@costly("dos-graph-typed-operators")
def _(tmp: Path) -> Path:
    # The same with an operator that reads its arguments' ndim: the table then holds each
    # distinct type, which was looked for in a list of all the types before.
    files = minimal_files()
    files["executor-config/graph/default.graph"] = _graph_json(1, 30_000)
    add = files["codegen/host/src/default_lib1.c"]
    files["codegen/host/src/default_lib1.c"] = add.replace(
        b"  void* p0_1 = ", b"  if ((((DLTensor*)p0)[0].ndim) != 2) { return -1; }\n  void* p0_1 = "
    )
    return _tgz(tmp, files)


case("dos-json-many-values", "values in all")(
    _with_file(
        "metadata.json", lambda: b'{"version": 7, "x": [' + b"[], " * 15_000_000 + b"[]]}", compress=True
    )
)


@costly("dos-graph-output-names", ("inspect",))
def _(tmp: Path) -> Path:
    # 20,000 outputs named by metadata.json, matched to the heads by size: each match was a scan
    # of all the names.
    n = 20_000
    g = json.loads(_graph_json(n, 1))
    g["heads"] = [[i, 0, 0] for i in range(n)]
    g["attrs"]["shape"][1][:n] = [[i + 1] for i in range(n)]
    g["attrs"]["dltype"][1][:n] = ["float32"] * n
    doc = metadata_doc()
    main0(doc)["outputs"] = {f"y{i}": {"size": 4 * (i + 1), "dtype": "float32"} for i in range(n)}
    main0(doc)["io_size_bytes"] = 1 << 40
    files = minimal_files()
    files["executor-config/graph/default.graph"] = json.dumps(g).encode()
    files["metadata.json"] = json.dumps(doc).encode()
    return _tgz(tmp, files)


@costly("graph-outputs-matched-twice", ("inspect",))
def _(tmp: Path) -> Path:
    # Two outputs of the one size metadata.json gives a single name: a ValueError (zip of two
    # names with three outputs) while the matching was rewritten for the case above.
    g = json.loads(_graph_json(3, 1))
    g["heads"] = [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    doc = metadata_doc()
    main0(doc)["outputs"] = {
        "a": {"size": 4, "dtype": "int8"},
        "b": {"size": 16, "dtype": "float32"},
        "c": {"size": 8, "dtype": "float32"},
    }
    main0(doc)["io_size_bytes"] = 1 << 40
    files = minimal_files()
    files["executor-config/graph/default.graph"] = json.dumps(g).encode()
    files["metadata.json"] = json.dumps(doc).encode()
    return write_tar(tmp / "model.tar", files)


# -- many members (up to the 100000 an archive may hold)
@costly("dos-many-c-files", ("inspect",))
def _(tmp: Path) -> Path:
    files = minimal_files()
    files.update({f"codegen/host/src/default_lib{i}.c": b"int x%d;\n" % i for i in range(2, 50_000)})
    return _tgz(tmp, files)


@costly("dos-many-modules", ("inspect",))
def _(tmp: Path) -> Path:
    # 3000 modules, each with its own files: each file's module was found by trying every name
    files: dict[str, bytes] = {}
    modules: dict[str, Any] = {}
    for k in range(3000):
        one = minimal_files(f"m{k}")
        modules.update(json.loads(one.pop("metadata.json"))["modules"])
        graph = f"executor-config/graph/m{k}.graph"
        one[graph] = one[graph].replace(b"tvmgen_default_", f"tvmgen_m{k}_".encode())
        files.update(one)
    files["metadata.json"] = json.dumps({"version": 7, "modules": modules}).encode()
    return _tgz(tmp, files)


@costly("dos-gzip-ignored-member")
def _(tmp: Path) -> Path:
    # 256 MiB of zeros (an ignored member) before the model in a 256 kB .tar.gz: decompressed
    # once (a gzip stream seeks back by decompressing again from the start), and not stored.
    p = tmp / "model.tar.gz"
    size = 1 << 28
    with open(p, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
        gz.write(raw_header(b"junk.bin", size))
        zeros = bytes(1 << 20)
        for _ in range(size >> 20):
            gz.write(zeros)
        gz.write(tar_bytes(list(minimal_files().items())))
    return p


# -- the params file
def _many_params(count: int, duplicate_last: bool = False) -> bytes:
    """``count`` empty float32 tensors (shape [0]): 64 bytes of headers each."""
    names = [f"q{i}".encode() for i in range(count)]
    if duplicate_last:
        names[-1] = names[-2]
    head = struct.pack("<QQQ", 0xF7E58D4F05049CB7, 0, count)
    head += b"".join(struct.pack("<Q", len(n)) + n for n in names) + struct.pack("<Q", count)
    tensor = struct.pack("<QQiiiBBHqq", 0xDD5E40F096B4A13F, 0, 1, 0, 1, 2, 32, 1, 0, 0)
    return head + tensor * count


# 1M tensors: one Python object each, and the duplicate-name check counted each name in all
case("dos-params-many-tensors", "tensors in all")(
    _with_file("parameters/default.params", lambda: _many_params(1_000_000), compress=True)
)


@costly("dos-params-most-tensors")
def _(tmp: Path) -> Path:
    files = minimal_files()
    files["parameters/default.params"] = _many_params(65_000)
    doc = metadata_doc()
    main0(doc)["io_size_bytes"] = 48  # p0, in none of the 65,000 tensors, is an input
    files["metadata.json"] = json.dumps(doc).encode()
    return _tgz(tmp, files)


case("dos-params-duplicate-name", "twice")(
    _with_file("parameters/default.params", lambda: _many_params(60_000, duplicate_last=True), compress=True)
)


# -- ELF objects in the MLF
def _object(data: bytes | Callable[[], bytes], compress: bool = False) -> Builder:
    return _with_file("codegen/host/lib/default_lib0.o", data, compress)


def _symtab_sections(count: int, entsize: int) -> bytes:
    symtab = b"\0" * 1_000_000
    sections = [elf_factory.Section(".strtab", elf_factory.SHT_STRTAB, b"\0")]
    sections.append(elf_factory.Section(".symtab", elf_factory.SHT_SYMTAB, symtab, link=1, entsize=entsize))
    sections += [
        elf_factory.Section(
            ".symtab", elf_factory.SHT_SYMTAB, link=1, entsize=16, offset=100, size=len(symtab)
        )
        for _ in range(count - 1)
    ]
    return elf_factory.build_elf(sections)


# relocations x functions, each relocation's owner found by a scan of every function
costly("dos-elf-relocations")(_object(lambda: elf_factory.function_object(40_000, 110_000)))
case("dos-elf-symtab-entsize-1", "symbol table")(_object(lambda: _symtab_sections(1, 1), compress=True))
case("dos-elf-many-symtabs", "symbol table")(_object(lambda: _symtab_sections(20_000, 16), compress=True))


@case("dos-elf-overlapping-relocations", "overlap")
def _(tmp: Path) -> Path:
    one = elf_factory.function_object(1000, 100_000)
    info = parse_rel_text(one)
    extra = [
        elf_factory.Section(
            ".rel.x", elf_factory.SHT_REL, link=2, info=1, entsize=8, offset=info[0], size=info[1]
        )
        for _ in range(20_000)
    ]
    return _object(lambda: add_sections(one, extra), compress=True)(tmp)


@case("dos-elf-symbol-names", "symbol")
def _(tmp: Path) -> Path:
    # 60,000 names, each starting one byte later in the same 1 MB string: 60 GB of names
    strtab = b"\0" + b"a" * 1_000_000 + b"\0"
    syms = b"\0" * 16 + b"".join(struct.pack("<IIIBBH", 1 + i, 0, 0, 0x12, 0, 1) for i in range(60_000))
    obj = elf_factory.build_elf(
        [
            elf_factory.Section(".text", elf_factory.SHT_NOBITS, flags=6, size=16),
            elf_factory.Section(".symtab", elf_factory.SHT_SYMTAB, syms, link=3, info=1, entsize=16),
            elf_factory.Section(".strtab", elf_factory.SHT_STRTAB, strtab),
        ]
    )
    return _object(obj, compress=True)(tmp)


def _attributes(body: bytes) -> bytes:
    sub = b"\x01" + struct.pack("<I", 5 + len(body)) + body
    vendor = b"aeabi\0" + sub
    return b"A" + struct.pack("<I", 4 + len(vendor)) + vendor


costly("dos-elf-attribute-uleb")(
    _object(
        lambda: elf_factory.build_elf(
            [
                elf_factory.Section(
                    ".ARM.attributes", elf_factory.SHT_ARM_ATTRIBUTES, _attributes(b"\xff" * 1_000_000)
                )
            ]
        ),
        compress=True,
    )
)
costly("dos-elf-many-attribute-sections")(
    _object(
        lambda: elf_factory.build_elf(
            [
                elf_factory.Section(
                    ".ARM.attributes", elf_factory.SHT_ARM_ATTRIBUTES, _attributes(b"\x06\x0d" * 500_000)
                )
            ]
            + [
                elf_factory.Section(
                    ".ARM.attributes", elf_factory.SHT_ARM_ATTRIBUTES, offset=52, size=1_000_016
                )
                for _ in range(20_000)
            ]
        ),
        compress=True,
    )
)


def parse_rel_text(obj: bytes) -> tuple[int, int]:
    """(offset, size) of the .rel.text section of a function_object()."""
    shoff, shnum = struct.unpack_from("<I", obj, 32)[0], struct.unpack_from("<H", obj, 48)[0]
    for i in range(shnum):
        _name, typ, _flags, _addr, off, size = struct.unpack_from("<IIIIII", obj, shoff + 40 * i)
        if typ == elf_factory.SHT_REL:
            return off, size
    raise AssertionError("no .rel.text")


def add_sections(obj: bytes, extra: list[elf_factory.Section]) -> bytes:
    """The object with more section headers (pointing at its own bytes) appended to its table."""
    shnum = struct.unpack_from("<H", obj, 48)[0]  # build_elf() puts the table last
    rows = b"".join(
        struct.pack(
            "<IIIIIIIIII", 0, s.type, s.flags, 0, s.offset or 0, s.size or 0, s.link, s.info, 1, s.entsize
        )
        for s in extra
    )
    out = bytearray(obj + rows)
    struct.pack_into("<H", out, 48, shnum + len(extra))
    return bytes(out)


# -- --abi-probe and check-size: files the build names, which may hold the model's objects
def _ar_negative(tmp: Path) -> Path:
    p = tmp / "probe.a"
    p.write_bytes(elf_factory.ar_archive([("a.o", elf_factory.function_object(1, 0))], {"a.o": "-60"}))
    return p


case("dos-check-size-ar-negative-size", "damaged ar archive", ("check-size",), ("--name", "net"))(
    _ar_negative
)
case("dos-check-size-ar-huge-size", "damaged ar archive", ("check-size",), ("--name", "net"))(
    lambda tmp: _write(
        tmp / "lib.a",
        elf_factory.ar_archive([("a.o", elf_factory.function_object(1, 0))], {"a.o": "9999999999"}),
    )
)
case("dos-check-size-dev-zero", "is not a regular file", ("check-size",), ("--name", "net"))(
    lambda tmp: Path("/dev/zero")
)
case("dos-check-size-sparse", "is not an ELF object file", ("check-size",), ("--name", "net"))(
    lambda tmp: _sparse(tmp / "lib.a", 8 << 30)
)


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def _sparse(p: Path, size: int) -> Path:
    with open(p, "wb") as f:
        f.truncate(size)
    return p


def _probe_case(id: str, expect: str, probe: Callable[[Path], Path], where: str) -> None:
    def build(tmp: Path) -> Path:
        probe(tmp)
        return tar_with(tmp, lambda f: None)

    case(id, expect, ("generate",), ("--abi-probe", where), where)(build)


_probe_case("dos-abi-probe-ar-negative-size", "damaged ar archive", _ar_negative, "{in}/probe.a")
_probe_case("dos-abi-probe-dev-zero", "is not a regular file", lambda tmp: tmp, "/dev/zero")
_probe_case(
    "dos-abi-probe-sparse",
    "is not an ELF object file",
    lambda tmp: _sparse(tmp / "probe.o", 8 << 30),
    "{in}/probe.o",
)


def cases() -> list[Case]:
    return copy.copy(CASES)


def accepted_cases() -> list[Accepted]:
    return copy.copy(ACCEPTED)
