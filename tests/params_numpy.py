"""TVM's params file to and from numpy arrays, for the tests, the fixtures and the benchmarks.

The generator never needs a tensor's values (it copies the params file or embeds its bytes), so
these helpers live here rather than in ``mlf_build``, which imports only the standard library and
does not depend on numpy (tests/test_stdlib_only.py). ``write_params`` is checked against a params
file written field by field (tests/unit/test_params.py) and against the reader
(tests/test_fuzz_properties.py).
"""

from __future__ import annotations

import struct

import numpy as np

from mlf_build.dtypes import FLOAT, INT, UINT, DType
from mlf_build.errors import MlfError
from mlf_build.read.archive import MlfSource
from mlf_build.read.params import LIST_MAGIC, TENSOR_MAGIC, ParamTensor


def numpy_dtype(dtype: DType) -> str:
    """The numpy dtype string of ``dtype``'s raw little-endian storage."""
    if dtype.code == FLOAT and dtype.bits in (16, 32, 64):
        return f"<f{dtype.itemsize}"
    if dtype.code == INT:
        return f"<i{dtype.itemsize}"
    # bool, unsigned ints, bfloat16 and float8 are read as raw unsigned storage.
    return f"<u{dtype.itemsize}"


def dtype_from_numpy(dt: np.dtype) -> DType:
    kind = {"i": INT, "u": UINT, "f": FLOAT, "b": UINT}[dt.kind]
    return DType(kind, 1 if dt.kind == "b" else dt.itemsize * 8)


def load_array(src: MlfSource, member: str, tensor: ParamTensor) -> np.ndarray:
    """The values of one tensor as a numpy array (little-endian, row-major)."""
    with src.open(member) as f:
        f.seek(tensor.offset)
        data = f.read(tensor.nbytes)
    if len(data) != tensor.nbytes:
        raise MlfError(src.display(member), f"is truncated inside tensor {tensor.name!r}")
    return np.frombuffer(data, dtype=numpy_dtype(tensor.dtype)).reshape(tensor.shape)


def write_params(tensors: list[tuple[str, np.ndarray]]) -> bytes:
    """Serialise arrays in TVM's format (``tvm.runtime.save_param_dict``)."""
    out = [struct.pack("<QQQ", LIST_MAGIC, 0, len(tensors))]
    for name, _ in tensors:
        raw = name.encode()
        out.append(struct.pack("<Q", len(raw)) + raw)
    out.append(struct.pack("<Q", len(tensors)))
    for _, arr in tensors:
        dt = dtype_from_numpy(arr.dtype)
        out.append(struct.pack("<QQiiiBBH", TENSOR_MAGIC, 0, 1, 0, arr.ndim, dt.code, dt.bits, 1))
        out.append(struct.pack(f"<{arr.ndim}q", *arr.shape))
        data = arr.astype(numpy_dtype(dt), copy=False).tobytes(order="C")
        out.append(struct.pack("<q", len(data)) + data)
    return b"".join(out)
