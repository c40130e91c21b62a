"""What a file given as an MLF is when it is not one, from its first bytes: a model that still
needs compiling (TFLite, ONNX, PyTorch, Keras), another archive, a compressed file holding
something else, a TVM export of another kind, or a download gone wrong. Used to say so in one
line instead of tarfile's attempts ("- method gz: ReadError(...)")."""

from __future__ import annotations

import bz2
import lzma
import re
import zipfile
import zlib
from pathlib import Path

HEAD = 4096
_NOT = "a Model Library Format tarball or folder"
_COMPILE = (
    "compile it with TVM 0.8-0.18 (tvmc compile, or relay.build) and export the result with "
    "tvm.micro.export_model_library_format (TVM 0.19 and later no longer can)"
)
_WHOLE = "give the whole Model Library Format tarball that tvm.micro.export_model_library_format writes"
#: TVM's params file (kTVMNDArrayListMagic, little-endian)
_PARAMS_MAGIC = (0xF7E58D4F05049CB7).to_bytes(8, "little")
_ONNX_PRODUCERS = (b"pytorch", b"onnx", b"tf2onnx", b"keras2onnx", b"skl2onnx", b"paddle")
#: zip members that tell a model saved as a zip (PyTorch's torch.save/TorchScript, Keras 3)
_ZIP_MODELS = (
    (re.compile(r"(^|/)data\.pkl$|(^|/)constants\.pkl$"), "a PyTorch model (a zip written by torch.save)"),
    (re.compile(r"^model\.weights\.h5$|^config\.json$"), "a Keras model (.keras zip)"),
)


def describe(path: Path) -> str | None:
    """``is <what>, not a Model Library Format tarball or folder; <what to do>``, or None when
    the first bytes say nothing (a damaged tar, or data of no known kind)."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
    except OSError:
        return None
    if not head:
        return f"is an empty file, not {_NOT}; {_WHOLE}"
    kind = _kind(head, path.name)
    if kind is None:
        kind = _compressed(head, path.name)
    if kind is None and head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        kind = _zip(path)
    if kind is None:
        return None
    what, todo = kind
    return f"is {what}, not {_NOT}; {todo}"


def _kind(head: bytes, name: str) -> tuple[str, str] | None:
    lower = name.lower()
    text = head.lstrip()[:64].lower()
    if head[4:8] == b"TFL3":  # the flatbuffer file identifier of schema.fbs
        return "a TensorFlow Lite model (.tflite flatbuffer)", _COMPILE
    if lower.endswith(".onnx") or (
        head[:1] == b"\x08" and any(p in head[:256].lower() for p in _ONNX_PRODUCERS)
    ):
        return "an ONNX model (protobuf)", _COMPILE
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (a Keras .h5 model)", _COMPILE
    if lower.endswith((".pb", ".pbtxt")):
        return "a TensorFlow graph (protobuf)", _COMPILE
    if head.startswith(b"\x7fELF"):
        return (
            "an ELF file (a shared library or object, e.g. what TVM's export_library writes)",
            "export the compiled module with tvm.micro.export_model_library_format instead",
        )
    if head.startswith(_PARAMS_MAGIC):
        return "a TVM parameters file (.params)", _WHOLE
    if text.startswith((b"<!doctype html", b"<html")):
        return "an HTML page (a download that saved an error or login page)", "download the archive itself"
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer", "fetch the file itself (git lfs pull)"
    if text.startswith((b"{", b"[")):
        return "a JSON file", _WHOLE
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd-compressed", "decompress it first (zstd -d model.tar.zst) and give the .tar"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4-compressed", "decompress it first (lz4 -d model.tar.lz4) and give the .tar"
    return None


def _compressed(head: bytes, name: str) -> tuple[str, str] | None:
    """gzip, bz2 or xz data that tarfile could not read as a tar: what is inside."""
    inner: bytes | None = None
    codec = None
    try:
        if head.startswith(b"\x1f\x8b"):
            codec, inner = "gzip", zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD)
        elif head.startswith(b"BZh"):
            codec, inner = "bz2", bz2.BZ2Decompressor().decompress(head, HEAD)
        elif head.startswith(b"\xfd7zXZ\x00"):
            codec, inner = "xz", lzma.LZMADecompressor().decompress(head, HEAD)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        inner = b""
    if codec is None or inner is None:
        return None
    if len(inner) > 262 and inner[257:262] == b"ustar":
        return None  # a tar inside: damaged further on, which tarfile's own message says
    stem = re.sub(r"\.(gz|tgz|bz2|xz|txz)$", "", name, flags=re.I)
    kind = _kind(inner, stem) if inner else None
    if kind is None:
        return f"{codec}-compressed data that is not a tar archive", _WHOLE
    return f"{kind[0]}, {codec}-compressed", kind[1]


#: a zip's directory is read whole: only for files that small
_MAX_ZIP = 256 << 20


def _zip(path: Path) -> tuple[str, str]:
    try:
        if path.stat().st_size > _MAX_ZIP:
            raise ValueError("too big to look inside")
        with zipfile.ZipFile(path) as z:
            names = [i.filename for _, i in zip(range(100_000), z.infolist(), strict=False)]
    except Exception:  # only naming the file: a zip that fails to list is still a zip
        names = []
    if any(n.rstrip("/").endswith("metadata.json") for n in names):
        return (
            "a zip archive holding a Model Library Format export",
            "extract it and give mlf-build the folder, or pack it as a tar (tar -cf model.tar -C folder .)",
        )
    for pattern, what in _ZIP_MODELS:
        if any(pattern.search(n) for n in names):
            return what, _COMPILE
    if path.suffix.lower() in (".pt", ".pth"):
        return "a PyTorch model (a zip written by torch.save)", _COMPILE
    return "a zip archive", _WHOLE
