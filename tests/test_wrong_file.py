"""A file that is not an MLF is named for what it is, in one line with what to do, never with
tarfile's attempts ("- method gz: ReadError('not a gzip file')")."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli

TFLITE = b"\x1c\x00\x00\x00TFL3" + bytes(200)  # the flatbuffer's file identifier at offset 4
ONNX = b"\x08\x07\x12\x07pytorch\x1a\x062.1.0" + bytes(100)  # ir_version, producer_name, ...
COMPILE = "compile it with TVM 0.8-0.18 (tvmc compile, or relay.build) and export the result"


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _export_library_tar(path: Path) -> None:
    with tarfile.open(path, "w") as t:
        for name in ("lib0.o", "devc.o"):
            info = tarfile.TarInfo(name)
            info.size = 4
            t.addfile(info, io.BytesIO(b"\x7fELF"))


CASES: list[tuple[str, str, Callable[[Path], None], str]] = [
    (
        "tflite",
        "model.tflite",
        lambda p: p.write_bytes(TFLITE),
        "is a TensorFlow Lite model (.tflite flatbuffer)",
    ),
    ("onnx", "model.onnx", lambda p: p.write_bytes(ONNX), "is an ONNX model (protobuf)"),
    ("onnx-by-content", "model.bin", lambda p: p.write_bytes(ONNX), "is an ONNX model (protobuf)"),
    ("zip", "model.zip", lambda p: _zip(p, {"notes.txt": b"x"}), "is a zip archive, not"),
    (
        "zipped-mlf",
        "model.zip",
        lambda p: _zip(p, {"model/metadata.json": b"{}"}),
        "is a zip archive holding a Model Library Format export",
    ),
    ("pytorch", "model.pt", lambda p: _zip(p, {"model/data.pkl": b"x"}), "is a PyTorch model"),
    ("keras", "model.keras", lambda p: _zip(p, {"config.json": b"{}"}), "is a Keras model (.keras zip)"),
    (
        "gzip-tflite",
        "model.tflite.gz",
        lambda p: p.write_bytes(gzip.compress(TFLITE)),
        "is a TensorFlow Lite model (.tflite flatbuffer), gzip-compressed",
    ),
    (
        "bz2-text",
        "model.tar.bz2",
        lambda p: p.write_bytes(bz2.compress(b"hello" * 300)),
        "is bz2-compressed data that is not a tar archive",
    ),
    (
        "xz-onnx",
        "model.onnx.xz",
        lambda p: p.write_bytes(lzma.compress(ONNX)),
        "is an ONNX model (protobuf), xz-compressed",
    ),
    ("zstd", "model.tar.zst", lambda p: p.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(64)), "zstd -d"),
    (
        "shared-library",
        "model.so",
        lambda p: p.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(64)),
        "is an ELF file",
    ),
    (
        "export-library-tar",
        "mod.tar",
        _export_library_tar,
        "is a TVM export_library() archive (devc.o, lib0.o), not a Model Library Format archive",
    ),
    (
        "params",
        "default.params",
        lambda p: p.write_bytes((0xF7E58D4F05049CB7).to_bytes(8, "little") + bytes(32)),
        "is a TVM parameters file",
    ),
    ("html", "model.tar", lambda p: p.write_bytes(b"\n<!DOCTYPE html><html></html>"), "is an HTML page"),
    (
        "lfs",
        "model.tar",
        lambda p: p.write_bytes(b"version https://git-lfs.github.com/spec/v1\n"),
        "git lfs pull",
    ),
    ("json", "metadata.json", lambda p: p.write_bytes(b'{"version": 7}'), "is a JSON file"),
]


@pytest.mark.parametrize(("name", "file", "make", "expect"), CASES, ids=[c[0] for c in CASES])
def test_wrong_file_is_named(
    name: str, file: str, make: Callable[[Path], None], expect: str, tmp_path: Path
) -> None:
    path = tmp_path / file
    make(path)
    for cmd in (["inspect", path], ["generate", path, "--name", "net", "--out", tmp_path / "out"]):
        r = run_cli(cmd)
        assert r.code == 2 and r.out == ""
        assert r.err.startswith(f"mlf-build: error: {path}: ") and r.err.count("\n") == 1, r.err
        assert expect in r.err, r.err
        assert "method" not in r.err and "ReadError" not in r.err
    assert not (tmp_path / "out").exists()
    if name in ("tflite", "onnx", "pytorch", "keras", "gzip-tflite"):
        assert COMPILE in r.err and "export_model_library_format" in r.err
