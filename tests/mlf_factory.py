"""A minimal, valid MLF built in memory, and tar writing with full control over members.

The hostile-input suite starts from ``minimal_files()`` (a one-operator graph model, format
version 7) and breaks one thing at a time; ``write_tar`` can emit anything a tar can hold
(links, devices, duplicate or non-UTF-8 names, lying sizes) so the reader's defences are tested
against real archives, generated at test time (nothing binary is committed).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.params_numpy import load_array, write_params

# TVM's own line lengths, kept: this is what its C codegen writes.
ADD_C = """// tvm target: c -keys=cpu
#define TVM_EXPORTS
#include "tvm/runtime/c_runtime_api.h"
#include "tvm/runtime/c_backend_api.h"
#include <math.h>
#ifdef __cplusplus
extern "C"
#endif
TVM_DLL int32_t tvmgen_default_fused_add(void* args, int32_t* arg_type_ids, int32_t num_args, \
void* out_ret_value, int32_t* out_ret_tcode, void* resource_handle) {
  void* p0 = (((TVMValue*)args)[0].v_handle);
  void* p1 = (((TVMValue*)args)[1].v_handle);
  void* T_add = (((TVMValue*)args)[2].v_handle);
  int32_t dev_id = (((DLTensor*)p0)[0].device.device_id);
  void* p0_1 = (((DLTensor*)p0)[0].data);
  void* p1_1 = (((DLTensor*)p1)[0].data);
  void* T_add_1 = (((DLTensor*)T_add)[0].data);
  void* tmp = TVMBackendAllocWorkspace(1, dev_id, (uint64_t)16, 2, 32);
  if (tmp == NULL) {
    return -1;
  }
  for (int32_t i = 0; i < 4; ++i) {
    ((float*)tmp)[i] = ((float*)p1_1)[i];
    ((float*)T_add_1)[i] = ((float*)p0_1)[i] + ((float*)tmp)[i];
  }
  if (TVMBackendFreeWorkspace(1, dev_id, tmp) != 0) {
    return -1;
  }
  return 0;
}
"""


def relay(n: int = 4) -> bytes:
    """The Relay text of y = x + p0 with n elements."""
    sig = f"%x: Tensor[(1, {n}), float32], %p0: Tensor[({n}), float32]"
    return f"def @main({sig}) {{\n  add(%x, %p0)\n}}\n".encode()


RELAY = relay()


def graph_doc(input_name: str = "x") -> dict[str, Any]:
    return {
        "nodes": [
            {"op": "null", "name": input_name, "inputs": []},
            {"op": "null", "name": "p0", "inputs": []},
            {
                "op": "tvm_op",
                "name": "tvmgen_default_fused_add",
                "attrs": {
                    "num_outputs": "1",
                    "num_inputs": "2",
                    "flatten_data": "0",
                    "func_name": "tvmgen_default_fused_add",
                },
                "inputs": [[0, 0, 0], [1, 0, 0]],
            },
        ],
        "arg_nodes": [0, 1],
        "heads": [[2, 0, 0]],
        "attrs": {
            "dltype": ["list_str", ["float32", "float32", "float32"]],
            "storage_id": ["list_int", [0, 1, 2]],
            "shape": ["list_shape", [[1, 4], [4], [1, 4]]],
            "device_index": ["list_int", [1, 1, 1]],
        },
        "node_row_ptr": [0, 1, 2, 3],
    }


def metadata_doc(module: str = "default") -> dict[str, Any]:
    return {
        "version": 7,
        "modules": {
            module: {
                "model_name": module,
                "export_datetime": "2024-01-01 00:00:00Z",
                "style": "full-model",
                "executors": ["graph"],
                "target": ["c -keys=cpu "],
                "memory": {
                    "sids": [
                        {"storage_id": 0, "size_bytes": 16, "input_binding": "x"},
                        {"storage_id": 1, "size_bytes": 16, "input_binding": "p0"},
                        {"storage_id": 2, "size_bytes": 16},
                    ],
                    "functions": {
                        "main": [
                            {
                                "device": 1,
                                "workspace_size_bytes": 32,
                                "constants_size_bytes": 16,
                                "io_size_bytes": 32,
                            }
                        ],
                        "operator_functions": [
                            {
                                "function_name": "tvmgen_default_fused_add",
                                "workspace": [{"device": 1, "workspace_size_bytes": 16}],
                            }
                        ],
                    },
                },
            }
        },
    }


def params_bytes() -> bytes:
    return write_params([("p0", np.arange(4, dtype=np.float32) / 4)])


def minimal_files(module: str = "default") -> dict[str, bytes]:
    """name -> bytes of a valid version-7 graph MLF: y = x + p0, with a workspace allocation."""
    return {
        "metadata.json": json.dumps(metadata_doc(module), indent=2, sort_keys=True).encode(),
        f"executor-config/graph/{module}.graph": json.dumps(graph_doc()).encode(),
        f"parameters/{module}.params": params_bytes(),
        f"codegen/host/src/{module}_lib1.c": ADD_C.replace("tvmgen_default_", f"tvmgen_{module}_").encode(),
        f"src/{module}.relay": RELAY,
    }


@dataclass
class Special:
    """A tar member other than a regular file with the given bytes."""

    name: str
    kind: bytes  # tarfile.SYMTYPE, LNKTYPE, CHRTYPE, BLKTYPE, FIFOTYPE, DIRTYPE, REGTYPE
    linkname: str = ""
    data: bytes = b""
    declared_size: int | None = None  # a size that lies about the data that follows


Member = tuple[str, bytes] | Special


def tar_bytes(members: Iterable[Member], compress: bool = False) -> bytes:
    buf = io.BytesIO()
    mode = "w:gz" if compress else "w"
    with tarfile.open(
        fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tf:
        for m in members:
            if isinstance(m, Special):
                info = tarfile.TarInfo(m.name)
                info.type = m.kind
                info.linkname = m.linkname
                info.size = len(m.data) if m.kind == tarfile.REGTYPE else 0
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(m.data) if m.kind == tarfile.REGTYPE else None)
            else:
                name, data = m
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_tar(path: Path, files: dict[str, bytes] | Iterable[Member], compress: bool = False) -> Path:
    members = list(files.items()) if isinstance(files, dict) else list(files)
    path.write_bytes(tar_bytes(members, compress))
    return path


def raw_header(name: bytes, size: int, typeflag: bytes = b"0") -> bytes:
    """A ustar header with any name bytes and any declared size (to fake huge members)."""
    h = bytearray(512)
    h[0 : len(name)] = name[:100]
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    if size < 8**11:
        h[124:136] = f"{size:011o}\0".encode()
    else:  # GNU base-256 for sizes beyond 8 GiB
        h[124:136] = b"\x80" + size.to_bytes(11, "big")
    h[136:148] = b"00000000000\0"
    h[156:157] = typeflag
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b"        "
    checksum = sum(h)
    h[148:156] = f"{checksum:06o}\0 ".encode()
    return bytes(h)


def reweighted(model: Path, dest: Path, factor: float = 2.0) -> Path:
    """``model`` (a tarball) with every parameter multiplied by ``factor`` and nothing else
    changed: what a retrained model looks like to a build system."""
    from mlf_build.read.archive import open_mlf
    from mlf_build.read.params import read_params

    with tarfile.open(model) as src_tar, tarfile.open(dest, "w") as out_tar, open_mlf(model) as src:
        for info in src_tar.getmembers():
            f = src_tar.extractfile(info) if info.isfile() else None
            data = f.read() if f is not None else None
            if info.name.endswith(".params"):
                member = info.name.removeprefix("./")
                arrays = [(t.name, load_array(src, member, t)) for t in read_params(src, member)]
                data = write_params([(name, (a * factor).astype(a.dtype)) for name, a in arrays])
                info.size = len(data)
            out_tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def elf_object(functions: list[bytes], machine: int = 62) -> bytes:
    """A relocatable ELF64 (little endian, x86-64 by default) defining each of ``functions`` as a
    global function in .text. Symbol names are bytes, as ELF allows: anything but NUL."""
    from tests import elf_factory as ef

    symtab, strtab = ef.symbol_table([ef.Symbol(name, 0, 1, shndx=1) for name in functions], cls=64)
    return ef.build_elf(
        [
            ef.Section(".text", ef.SHT_PROGBITS, b"\xc3" * 16, flags=ef.SHF_ALLOC | ef.SHF_EXECINSTR),
            ef.Section(".symtab", ef.SHT_SYMTAB, symtab, link=3, info=1, entsize=24),
            ef.Section(".strtab", ef.SHT_STRTAB, strtab),
        ],
        cls=64,
        machine=machine,
        flags=0,
    )
