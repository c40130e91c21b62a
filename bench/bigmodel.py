"""A synthetic MLF whose parameters weigh N MiB, written as a tarball without holding it in memory.

The model is one dense layer, ``y[1, J] = x[1, K] . W[J, K]^T``, exported the way TVM 0.18 writes
a version-7 graph MLF (see tests/mlf_factory.py for the one-operator template this follows). The
weight W is the only parameter and holds exactly N MiB of float32 values (K = 256, J = N * 1024).

Both the params file and the tarball are streamed to disk chunk by chunk, so building a 64 MiB
model costs a few MiB of memory. ``params_header`` + the chunks are byte-identical to what
``tests/params_numpy.py``'s ``write_params`` produces for the same array (checked by the smoke test).
"""

from __future__ import annotations

import io
import json
import random
import struct
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mlf_build.read.params import LIST_MAGIC, TENSOR_MAGIC  # noqa: E402

K = 256  # inputs of the dense layer
CHUNK = 1 << 20
MODULE = "default"
FUNC = f"tvmgen_{MODULE}_fused_nn_dense"

DENSE_C = """// tvm target: c -keys=cpu
#define TVM_EXPORTS
#include "tvm/runtime/c_runtime_api.h"
#include "tvm/runtime/c_backend_api.h"
#include <math.h>
#ifdef __cplusplus
extern "C"
#endif
TVM_DLL int32_t FUNC(void* args, int32_t* arg_type_ids, int32_t num_args, \
void* out_ret_value, int32_t* out_ret_tcode, void* resource_handle) {
  void* p0 = (((TVMValue*)args)[0].v_handle);
  void* p1 = (((TVMValue*)args)[1].v_handle);
  void* T_matmul_NT = (((TVMValue*)args)[2].v_handle);
  void* p0_1 = (((DLTensor*)p0)[0].data);
  void* p1_1 = (((DLTensor*)p1)[0].data);
  void* T_matmul_NT_1 = (((DLTensor*)T_matmul_NT)[0].data);
  for (int32_t j = 0; j < J_OUT; ++j) {
    ((float*)T_matmul_NT_1)[j] = 0.000000e+00f;
    for (int32_t k = 0; k < K_IN; ++k) {
      ((float*)T_matmul_NT_1)[j] = (((float*)T_matmul_NT_1)[j] + \
(((float*)p0_1)[k] * ((float*)p1_1)[((j * K_IN) + k)]));
    }
  }
  return 0;
}
"""


def shape_for(mib: float) -> tuple[int, int]:
    """(J, K) of a float32 weight of ``mib`` MiB."""
    j = int(mib * (1 << 20)) // (4 * K)
    if j < 1:
        raise ValueError(f"{mib} MiB is less than one row of {K} float32 values")
    return j, K


def params_header(name: str, shape: tuple[int, ...]) -> bytes:
    """TVM's params file up to the first byte of the (only) tensor's data, float32."""
    nbytes = 4
    for d in shape:
        nbytes *= d
    raw = name.encode()
    out = struct.pack("<QQQ", LIST_MAGIC, 0, 1)
    out += struct.pack("<Q", len(raw)) + raw
    out += struct.pack("<Q", 1)
    out += struct.pack("<QQiiiBBH", TENSOR_MAGIC, 0, 1, 0, len(shape), 2, 32, 1)  # kDLFloat, 32 bits
    out += struct.pack(f"<{len(shape)}q", *shape)
    out += struct.pack("<q", nbytes)
    return out


_TOP_BYTE = bytes(0x3F if b & 1 else 0xBF for b in range(256))


def weight_chunks(nbytes: int, seed: int = 1) -> Iterator[bytes]:
    """Deterministic float32 values of magnitude 0.5 to 2, little-endian, CHUNK bytes at a time."""
    rng = random.Random(seed)
    left = nbytes
    while left:
        n = min(CHUNK, left)
        # Random mantissa bits under a fixed sign/exponent of 0.5..1 (never NaN or Inf).
        buf = bytearray(rng.randbytes(n))
        buf[3::4] = bytes(buf[3::4]).translate(_TOP_BYTE)
        yield bytes(buf)
        left -= n


def write_params_file(path: Path, shape: tuple[int, int], seed: int = 1) -> int:
    """Stream the params file to ``path``; returns its size."""
    nbytes = 4 * shape[0] * shape[1]
    with open(path, "wb") as f:
        f.write(params_header("p0", shape))
        for chunk in weight_chunks(nbytes, seed):
            f.write(chunk)
        return f.tell()


def _docs(j: int, k: int) -> dict[str, bytes]:
    graph = {
        "nodes": [
            {"op": "null", "name": "x", "inputs": []},
            {"op": "null", "name": "p0", "inputs": []},
            {
                "op": "tvm_op",
                "name": FUNC,
                "attrs": {
                    "num_outputs": "1",
                    "num_inputs": "2",
                    "flatten_data": "0",
                    "func_name": FUNC,
                },
                "inputs": [[0, 0, 0], [1, 0, 0]],
            },
        ],
        "arg_nodes": [0, 1],
        "heads": [[2, 0, 0]],
        "attrs": {
            "dltype": ["list_str", ["float32", "float32", "float32"]],
            "storage_id": ["list_int", [0, 1, 2]],
            "shape": ["list_shape", [[1, k], [j, k], [1, j]]],
            "device_index": ["list_int", [1, 1, 1]],
        },
        "node_row_ptr": [0, 1, 2, 3],
    }
    meta = {
        "version": 7,
        "modules": {
            MODULE: {
                "model_name": MODULE,
                "export_datetime": "2024-01-01 00:00:00Z",
                "style": "full-model",
                "executors": ["graph"],
                "target": ["c -keys=cpu "],
                "memory": {
                    "sids": [
                        {"storage_id": 0, "size_bytes": 4 * k, "input_binding": "x"},
                        {"storage_id": 1, "size_bytes": 4 * j * k, "input_binding": "p0"},
                        {"storage_id": 2, "size_bytes": 4 * j},
                    ],
                    "functions": {
                        "main": [
                            {
                                "device": 1,
                                "workspace_size_bytes": 0,
                                "constants_size_bytes": 4 * j * k,
                                "io_size_bytes": 4 * (j + k),
                            }
                        ],
                        "operator_functions": [
                            {
                                "function_name": FUNC,
                                "workspace": [{"device": 1, "workspace_size_bytes": 0}],
                            }
                        ],
                    },
                },
            }
        },
    }
    relay = (
        f"def @main(%x: Tensor[(1, {k}), float32], %p0: Tensor[({j}, {k}), float32]) {{\n"
        f"  nn.dense(%x, %p0, units=None)\n}}\n"
    )
    src = DENSE_C.replace("FUNC", FUNC).replace("J_OUT", str(j)).replace("K_IN", str(k))
    return {
        "metadata.json": json.dumps(meta, indent=2, sort_keys=True).encode(),
        f"executor-config/graph/{MODULE}.graph": json.dumps(graph).encode(),
        f"codegen/host/src/{MODULE}_lib1.c": src.encode(),
        f"src/{MODULE}.relay": relay.encode(),
    }


def write_model(dest: Path, mib: float, seed: int = 1) -> tuple[Path, Path]:
    """Write ``dest`` (an MLF tarball with ``mib`` MiB of parameters) and, beside it, the bare
    params file (``dest`` with suffix .params); returns both paths."""
    j, k = shape_for(mib)
    dest.parent.mkdir(parents=True, exist_ok=True)
    params = dest.with_suffix(".params")
    size = write_params_file(params, (j, k), seed)
    with tarfile.open(dest, "w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in _docs(j, k).items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1704067200
            tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(f"parameters/{MODULE}.params")
        info.size, info.mode, info.mtime = size, 0o644, 1704067200
        with open(params, "rb") as f:
            tf.addfile(info, f)  # copied in blocks, never loaded whole
    return dest, params


if __name__ == "__main__":
    out = write_model(Path(sys.argv[1]), float(sys.argv[2]))
    print(*out)
