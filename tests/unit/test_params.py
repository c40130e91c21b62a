"""params.py: TVM's params file (SaveParams, src/runtime/file_utils.cc, and SaveDLTensor,
include/tvm/runtime/ndarray.h): headers read, data located by offset, never loaded."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from mlf_build.errors import MlfError
from mlf_build.read.params import LIST_MAGIC, TENSOR_MAGIC, parse_params
from tests.params_numpy import write_params


def _parse(data: bytes) -> list:
    return parse_params(io.BytesIO(data), len(data), "m.params")


def _by_hand(
    name: bytes, shape: tuple[int, ...], code: int, bits: int, data: bytes, nbytes: int | None = None
) -> bytes:
    """One tensor in TVM's layout, written field by field (independently of write_params):
    list magic, reserved, names, count, then per tensor: magic, reserved, DLDevice (type, id),
    ndim, DLDataType (code, bits, lanes), shape, byte count, data."""
    out = struct.pack("<QQQ", LIST_MAGIC, 0, 1) + struct.pack("<Q", len(name)) + name + struct.pack("<Q", 1)
    out += struct.pack("<QQiii", TENSOR_MAGIC, 0, 1, 0, len(shape)) + struct.pack("<BBH", code, bits, 1)
    out += struct.pack(f"<{len(shape)}q", *shape) + struct.pack("<q", len(data) if nbytes is None else nbytes)
    return out + data


def test_headers_and_the_offset_of_each_tensors_data() -> None:
    data = _by_hand(b"p0", (2, 3), 0, 8, bytes(range(6)))
    (t,) = _parse(data)
    assert (t.name, t.dtype.name, t.shape, t.nbytes) == ("p0", "int8", (2, 3), 6)
    assert data[t.offset : t.offset + t.nbytes] == bytes(range(6))


def test_write_params_is_what_the_reader_reads() -> None:
    arrays = [("a", np.arange(3, dtype=np.float32)), ("b", np.ones((2, 2), dtype=np.int16))]
    data = write_params(arrays)
    tensors = _parse(data)
    assert [(t.name, t.dtype.name, t.shape) for t in tensors] == [
        ("a", "float32", (3,)),
        ("b", "int16", (2, 2)),
    ]
    b = tensors[1]
    assert np.frombuffer(data[b.offset : b.offset + b.nbytes], "<i2").tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\0" * 24, "is not a TVM params file"),
        (
            _by_hand(b"p0", (4,), 2, 32, bytes(16))[:-1],
            "is truncated: the data of tensor 'p0' needs 16 bytes",
        ),
        (
            _by_hand(b"p0", (4,), 2, 32, bytes(16), nbytes=12),
            "declares 12 bytes but shape \\[4\\] of float32 needs 16",
        ),
        (_by_hand(b"p0", (-1,), 2, 32, b""), "has a negative dimension"),
        (_by_hand(b"p0", (4,), 2, 32, bytes(16)) + b"\0", "has 1 unexpected bytes after the last tensor"),
        (_by_hand(b"\xff", (1,), 2, 32, bytes(4)), "name 0 is not valid UTF-8"),
        (_by_hand(b"p0", (1,), 9, 32, bytes(4)), "has an unknown dtype \\(code 9, 32 bits\\)"),
    ],
)
def test_damaged_params_files(data: bytes, problem: str) -> None:
    with pytest.raises(MlfError, match=problem):
        _parse(data)
