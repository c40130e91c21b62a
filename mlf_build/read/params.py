"""TVM's binary parameter file (``parameters/<m>.params``), parsed as a stream. TVM writes it with
``SaveParams`` (src/runtime/file_utils.cc) and ``NDArray::Save`` (include/tvm/runtime/ndarray.h).

Only the headers are read; tensor data is skipped and located by offset, so a multi-GiB file
costs no memory: the generator copies the file or embeds its bytes, never reads the values.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ..dtypes import DType, dtype_from_code
from ..errors import MlfError, printable
from .limits import Budget

if TYPE_CHECKING:
    from .archive import MlfSource

LIST_MAGIC = 0xF7E58D4F05049CB7
TENSOR_MAGIC = 0xDD5E40F096B4A13F
#: tensors of all the params files of one archive (one object and a few reads each): TVM models
#: have hundreds; a graph runner cannot refer to more than 65535 tensors anyway
MAX_PARAMS = 1 << 16
MAX_NAME = 4096
MAX_NDIM = 32
MAX_ELEMENTS = 1 << 48


@dataclass(frozen=True)
class ParamTensor:
    name: str
    dtype: DType
    shape: tuple[int, ...]
    nbytes: int
    #: where the raw data starts in the params file
    offset: int


class _Reader:
    def __init__(self, f: BinaryIO, size: int, where: str) -> None:
        self.f = f
        self.size = size
        self.pos = 0
        self.where = where

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.size:
            raise MlfError(self.where, f"is truncated while reading {what} at byte {self.pos}")
        data = self.f.read(n)
        if len(data) != n:
            raise MlfError(self.where, f"is truncated while reading {what} at byte {self.pos}")
        self.pos += n
        return data

    def u64(self, what: str) -> int:
        return int(struct.unpack("<Q", self.take(8, what))[0])

    def skip(self, n: int, what: str) -> None:
        if self.pos + n > self.size:
            raise MlfError(
                self.where,
                f"is truncated: {what} needs {n} bytes at byte {self.pos}, "
                f"but the file has {self.size - self.pos} left",
            )
        self.f.seek(n, 1)
        self.pos += n


def parse_params(f: BinaryIO, size: int, where: str, budget: Budget | None = None) -> list[ParamTensor]:
    """Parse the headers of a params file of ``size`` bytes read from ``f``. ``budget`` counts
    its tensors with those of the other params files of one archive (MAX_PARAMS)."""
    r = _Reader(f, size, where)
    if r.u64("the magic number") != LIST_MAGIC:
        raise MlfError(where, "is not a TVM params file (wrong magic number)")
    r.u64("the reserved word")
    count = r.u64("the name count")
    if count * 8 > size:
        raise MlfError(where, f"declares {count} parameters, more than the file can hold")
    if not (Budget() if budget is None else budget).take("params", count, MAX_PARAMS):
        raise MlfError(
            where, f"takes the params files over {MAX_PARAMS} tensors in all; no TVM export comes near"
        )
    names: list[str] = []
    for i in range(count):
        length = r.u64(f"the length of name {i}")
        if length > MAX_NAME:
            raise MlfError(where, f"name {i} is {length} bytes long (limit {MAX_NAME})")
        raw = r.take(length, f"name {i}")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MlfError(where, f"name {i} is not valid UTF-8") from None
        if not name:
            raise MlfError(where, f"name {i} is empty")
        names.append(name)
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise MlfError(where, f"names parameter {printable(n)!r} twice")
        seen.add(n)
    count2 = r.u64("the tensor count")
    if count2 != count:
        raise MlfError(where, f"lists {count} names but {count2} tensors")
    tensors: list[ParamTensor] = []
    for name in names:
        tensors.append(_tensor_header(r, name, where))
    if r.pos != size:
        raise MlfError(where, f"has {size - r.pos} unexpected bytes after the last tensor")
    return tensors


def _tensor_header(r: _Reader, name: str, where: str) -> ParamTensor:
    """One tensor's header (SaveDLTensor: magic, device, ndim, dtype, shape, byte count), checked;
    its data is skipped, located by offset."""
    what = f"tensor {printable(name)!r}"
    if r.u64(f"the magic number of {what}") != TENSOR_MAGIC:
        raise MlfError(where, f"{what} has a wrong magic number")
    r.u64(f"the reserved word of {what}")
    dev_type, _dev_id, ndim = struct.unpack("<iii", r.take(12, f"the header of {what}"))
    code, bits, lanes = struct.unpack("<BBH", r.take(4, f"the dtype of {what}"))
    if dev_type != 1:
        raise MlfError(where, f"{what} is for device type {dev_type}, not the CPU (1)")
    if not 0 <= ndim <= MAX_NDIM:
        raise MlfError(where, f"{what} has {ndim} dimensions")
    dtype = dtype_from_code(code, bits, lanes, f"{where}: {what}")
    shape = struct.unpack(f"<{ndim}q", r.take(8 * ndim, f"the shape of {what}"))
    if any(d < 0 for d in shape):
        raise MlfError(where, f"{what} has a negative dimension in shape {list(shape)}")
    elements = 1
    for d in shape:
        elements *= d
        if elements > MAX_ELEMENTS:
            raise MlfError(where, f"{what} has an impossibly large shape {list(shape)}")
    nbytes = struct.unpack("<q", r.take(8, f"the size of {what}"))[0]
    expected = elements * dtype.itemsize
    if nbytes != expected:
        raise MlfError(
            where,
            f"{what} declares {nbytes} bytes but shape {list(shape)} of {dtype.name} needs {expected}",
        )
    tensor = ParamTensor(name, dtype, tuple(shape), nbytes, r.pos)
    r.skip(nbytes, f"the data of {what}")
    return tensor


def read_params(src: MlfSource, member: str, budget: Budget | None = None) -> list[ParamTensor]:
    with src.open(member) as f:
        return parse_params(f, src.size(member), src.display(member), budget)
