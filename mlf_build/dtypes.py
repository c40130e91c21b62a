"""DLPack data types as TVM spells them ("float32", "int8", "bool", "bfloat16", ...)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .errors import MlfError, printable

# DLDataTypeCode values used by TVM (python/tvm/_ffi/runtime_ctypes.py @v0.18).
INT, UINT, FLOAT, HANDLE, BFLOAT, E4M3, E5M2 = 0, 1, 2, 3, 4, 6, 7
_PREFIX = {INT: "int", UINT: "uint", FLOAT: "float", BFLOAT: "bfloat"}
_FLOAT8 = {E4M3: "e4m3_float8", E5M2: "e5m2_float8"}


@dataclass(frozen=True)
class DType:
    code: int
    bits: int

    @property
    def name(self) -> str:
        if self.code == UINT and self.bits == 1:
            return "bool"
        if self.code in _FLOAT8:
            return _FLOAT8[self.code]
        return f"{_PREFIX[self.code]}{self.bits}"

    @property
    def itemsize(self) -> int:
        return (self.bits + 7) // 8

    def nbytes(self, shape: tuple[int, ...]) -> int:
        """Bytes of a dense tensor of this type and shape (bool takes a byte per element)."""
        n = self.itemsize
        for d in shape:
            n *= d
        return n

    def __str__(self) -> str:
        return self.name


def dtype_from_code(code: int, bits: int, lanes: int, where: str) -> DType:
    if lanes != 1:
        raise MlfError(where, f"has a vector dtype ({lanes} lanes), which is not supported")
    ok = (
        (code in (INT, UINT) and bits in (8, 16, 32, 64))
        or (code == UINT and bits == 1)
        or (code == FLOAT and bits in (16, 32, 64))
        or (code == BFLOAT and bits == 16)
        or (code in _FLOAT8 and bits == 8)
    )
    if not ok:
        raise MlfError(where, f"has an unknown dtype (code {code}, {bits} bits)")
    return _dtype(code, bits)


@functools.cache
def _dtype(code: int, bits: int) -> DType:
    """One object per dtype: a graph has one per tensor (200,000 inputs: 33 MB of copies)."""
    return DType(code, bits)


_NAME = re.compile(r"(int|uint|float|bfloat)([0-9]{1,4})")  # ASCII digits, a sane count


def parse_dtype(text: object, where: str) -> DType:
    """Parse a dtype string from a graph JSON or metadata.json."""
    if not isinstance(text, str):
        raise MlfError(where, f"dtype must be a string, not {type(text).__name__}")
    if text == "bool":
        return DType(UINT, 1)
    for code, name in _FLOAT8.items():
        if text == name:
            return DType(code, 8)
    m = _NAME.fullmatch(text)
    if m is None:
        raise MlfError(where, f"has an unknown dtype {printable(text)!r}")
    code = {"int": INT, "uint": UINT, "float": FLOAT, "bfloat": BFLOAT}[m.group(1)]
    return dtype_from_code(code, int(m.group(2)), 1, where)
