"""Self-check of the MLF test fixtures (tests/fixtures): model quality, determinism, and that the
emitted C really computes the model (compiled with host gcc against a tiny test-only harness).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fixtures import (  # noqa: E402
    LAYOUTS,
    export,
    layout_info,
    load_weights,
    mlf_export,
    reference,
)
from tests.fixtures import model as fmodel  # noqa: E402

GCC = shutil.which("gcc")
ARM_GCC = shutil.which("arm-none-eabi-gcc")
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
# TVM's generated code really has unused variables/parameters; that is all we tolerate, plus
# -Wcast-function-type for pre-2022 registries whose prototypes lack resource_handle.
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
TVM_NOISE = ["-Wno-unused-variable", "-Wno-unused-parameter", "-Wno-unused-but-set-variable"]
# 2021 AOT mains pass `static const` linked params to `void*` parameters (as TVM's did).
OLD_AOT_NOISE = ["-Wno-discarded-qualifiers"]
C_LAYOUTS = [name for name in LAYOUTS if not layout_info(name)["llvm"]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("mlf")
    return {name: export(name, out) for name in C_LAYOUTS}


def _extract(tar: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar) as tf:
        tf.extractall(dest, filter="data")
    return dest


def _sample_inputs(model: str) -> list[list[np.ndarray]]:
    if model == "waveform":
        x, _y = fmodel.make_waveform_data(8, seed=2024)
        return [[x[i : i + 1]] for i in range(4)]
    a, b, _ = fmodel.make_mixer_data(3, seed=2024)
    return [[a[i : i + 1], b[i : i + 1]] for i in range(3)]


# ---------------------------------------------------------------------------------------------
# Model and export properties
# ---------------------------------------------------------------------------------------------


def test_waveform_heldout_accuracy() -> None:
    acc = fmodel.waveform_accuracy(load_weights("waveform"), n=2000, seed=99991)
    assert acc >= 0.90, acc


def test_mixer_fits_its_function() -> None:
    assert fmodel.mixer_r2(load_weights("mixer"), n=2000, seed=99991) > 0.95


def test_weights_roundtrip_exactly() -> None:
    for model in ("waveform", "mixer"):
        w = load_weights(model)
        for spec in fmodel.MODELS[model].params:
            assert w[spec.name].dtype == np.float32 and w[spec.name].shape == spec.shape


def test_export_is_deterministic(tmp_path: Path) -> None:
    for name in C_LAYOUTS:
        a = export(name, tmp_path / "a").read_bytes()
        b = export(name, tmp_path / "b").read_bytes()
        assert a == b, name


def test_example_tarball_is_current(tmp_path: Path) -> None:
    committed = REPO / "examples" / "model" / "waveform.tar"
    fresh = export("v7-graph", tmp_path, module_name="default")
    assert committed.read_bytes() == fresh.read_bytes()


def test_tar_members(exported: dict[str, Path]) -> None:
    for name, tar in exported.items():
        with tarfile.open(tar) as tf:
            members = tf.getmembers()
        names = [m.name for m in members]
        assert names[0] == "." and all(n.startswith("./") for n in names[1:]), name
        assert "./metadata.json" in names
        for m in members:
            assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root")
            assert m.mode == (0o755 if m.isdir() else 0o644)


def test_metadata_follows_version_table(exported: dict[str, Path], tmp_path: Path) -> None:
    for name, tar in exported.items():
        info = layout_info(name)
        root = _extract(tar, tmp_path / name)
        text = (root / "metadata.json").read_text()
        meta = json.loads(text)
        assert meta["version"] == info["version"], name
        if info["executor"] is None:  # operator style: compact JSON, no modules wrapper
            assert meta["style"] == "operator" and meta["executors"] == []
            continue
        assert text == json.dumps(meta, indent=2, sort_keys=True)
        mods = meta["modules"] if info["version"] >= 7 else {meta["model_name"]: meta}
        assert sorted(mods) == sorted(info["modules"])
        for mname, m in mods.items():
            key = "executors" if info["version"] >= 5 else "runtimes"
            assert m[key] == [info["executor"]]
            assert ("style" in m) == (info["version"] >= 4)
            assert isinstance(m["target"], dict if info["version"] < 6 else list)
            assert "external_dependencies" not in m
            if info["version"] == 1:
                assert isinstance(m["memory"], list)
                continue
            assert ("sids" in m["memory"]) == (info["executor"] == "graph")
            main = m["memory"]["functions"]["main"][0]
            assert ("inputs" in main) == (info["version"] >= 7)
            if info["executor"] == "graph":
                sids = [e["storage_id"] for e in m["memory"]["sids"]]
                graph = _graph_path(root, info["version"], mname)
                ids = json.loads(graph.read_text())["attrs"]["storage_id"][1]
                assert len(set(ids)) < len(ids), "some storage id must be shared"
                assert sids == sorted(set(ids), key=ids.index)
            params = _read_params(root / "parameters" / f"{mname}.params")
            if (info["executor"] == "aot" and info["version"] > 5) or name.startswith("v5-aot-c"):
                assert params == {}
            else:
                assert list(params) != sorted(params)


def _graph_path(root: Path, version: int, mod: str) -> Path:
    if version >= 7:
        return root / "executor-config" / "graph" / f"{mod}.graph"
    sub = "runtime-config" if version < 5 else "executor-config"
    return root / sub / "graph" / "graph.json"


def _read_params(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    magic, _, n = struct.unpack_from("<QQQ", data, 0)
    assert magic == 0xF7E58D4F05049CB7
    off, names = 24, []
    for _ in range(n):
        (ln,) = struct.unpack_from("<Q", data, off)
        names.append(data[off + 8 : off + 8 + ln].decode())
        off += 8 + ln
    (n2,) = struct.unpack_from("<Q", data, off)
    assert n2 == n
    off += 8
    out = {}
    for name in names:
        magic, _, dev, dev_id, ndim = struct.unpack_from("<QQiii", data, off)
        off += 28
        code, bits, lanes = struct.unpack_from("<BBH", data, off)
        off += 4
        shape = struct.unpack_from(f"<{ndim}q", data, off)
        off += 8 * ndim
        (nbytes,) = struct.unpack_from("<q", data, off)
        off += 8
        assert (magic, dev, dev_id, code, bits, lanes) == (0xDD5E40F096B4A13F, 1, 0, 2, 32, 1)
        out[name] = np.frombuffer(data[off : off + nbytes], dtype="<f4").reshape(shape)
        off += nbytes
    assert off == len(data)
    return out


# ---------------------------------------------------------------------------------------------
# Running the generated C
# ---------------------------------------------------------------------------------------------

HARNESS_PRELUDE = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "tvm/runtime/c_runtime_api.h"
#include "tvm/runtime/c_backend_api.h"

static uint8_t g_ws[1 << 16] __attribute__((aligned(16)));
static size_t g_top, g_peak, g_sizes[64];
static void* g_stack[64];
static int g_depth, g_calls, g_errors;

void* TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes,
                               int dtype_code_hint, int dtype_bits_hint) {
  size_t n = (size_t)((nbytes + 15u) & ~(uint64_t)15u);
  (void)dtype_code_hint; (void)dtype_bits_hint;
  if (device_type != 1 || device_id != 0 || g_depth >= 64 || g_top + n > sizeof(g_ws)) {
    g_errors++;
    return NULL;
  }
  g_stack[g_depth] = g_ws + g_top;
  g_sizes[g_depth++] = n;
  g_top += n;
  if (g_top > g_peak) g_peak = g_top;
  g_calls++;
  return g_stack[g_depth - 1];
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void* ptr) {
  (void)device_type; (void)device_id;
  if (g_depth == 0 || g_stack[g_depth - 1] != ptr) { g_errors++; return -1; }
  g_top -= g_sizes[--g_depth];
  return 0;
}

static void print_floats(const char* tag, const float* v, int n) {
  int i;
  printf("%s", tag);
  for (i = 0; i < n; ++i) printf(" %a", (double)v[i]);
  printf("\n");
}

static void finish(void) {
  printf("WS %lu %d %d %d\n", (unsigned long)g_peak, g_calls, g_errors, g_depth);
}
"""

REGISTRY_LOOKUP = r"""
#include <tvm/runtime/crt/module.h>
extern const TVMModule* TVMSystemLibEntryPoint(void);
static TVMBackendPackedCFunc lookup(const char* name, int count_bytes) {
  const TVMFuncRegistry* reg = TVMSystemLibEntryPoint()->registry;
  const char* p = reg->names;
  int n = (unsigned char)p[0] | (count_bytes == 2 ? ((unsigned char)p[1] << 8) : 0);
  int i;
  p += count_bytes;
  for (i = 0; i < n; ++i) {
    if (strcmp(p, name) == 0) return reg->funcs[i];
    p += strlen(p) + 1;
  }
  printf("MISSING %s\n", name);
  return NULL;
}
"""


def _c_floats(name: str, arr: np.ndarray) -> str:
    vals = ", ".join(fmodel.hexfloat(float(v)) for v in np.asarray(arr, np.float32).reshape(-1))
    return f"static float {name}[{max(arr.size, 1)}] __attribute__((aligned(16))) = {{{vals}}};\n"


def _dltensor(var: str, data: str, shape: tuple[int, ...]) -> str:
    dims = ", ".join(str(d) for d in shape)
    return (
        f"  int64_t {var}_shape[{len(shape)}] = {{{dims}}};\n"
        f"  DLTensor {var} = {{{data}, {{kDLCPU, 0}}, {len(shape)}, {{kDLFloat, 32, 1}}, "
        f"{var}_shape, NULL, 0}};\n"
    )


def _graph_harness(root: Path, info: dict, samples: list[list[np.ndarray]], mod: str) -> str:
    graph = json.loads(_graph_path(root, info["version"], mod).read_text())
    params = _read_params(root / "parameters" / f"{mod}.params")
    nodes, sids = graph["nodes"], graph["attrs"]["storage_id"][1]
    shapes = graph["attrs"]["shape"][1]
    sizes: dict[int, int] = {}
    for eid, sid in enumerate(sids):
        sizes[sid] = max(sizes.get(sid, 0), int(np.prod(shapes[eid])))
    syslib = any((root / "codegen/host/src").glob("*lib0.c")) and "TVMSystemLibEntryPoint" in (
        next((root / "codegen/host/src").glob("*lib0.c")).read_text()
    )
    syslib = syslib or info["llvm"]
    count_bytes = 2 if info["version"] >= 6 else 1
    out = [HARNESS_PRELUDE]
    out.append(REGISTRY_LOOKUP if syslib else "")
    funcs = sorted({n["attrs"]["func_name"] for n in nodes if n["op"] == "tvm_op"})
    if not syslib:
        for f in funcs:
            out.append(f"extern int32_t {f}(void*, void*, int32_t, void*, void*, void*);\n")
    for sid, n in sorted(sizes.items()):
        out.append(f"static float s{sid}[{n}] __attribute__((aligned(16)));\n")
    for name, arr in params.items():
        out.append(_c_floats(f"param_{name}", arr))
    for i, s in enumerate(samples):
        for j, arr in enumerate(s):
            out.append(_c_floats(f"in{i}_{j}", arr))
    out.append("int main(void) {\n  int k;\n  TVMValue ret; int ret_code;\n")
    linked = (
        "_lookup_linked_param" in (root / "codegen/host/src/default_lib0.c").read_text()
        if (root / "codegen/host/src/default_lib0.c").exists()
        else False
    )
    for eid, n in enumerate(nodes):
        ptr = f"s{sids[eid]}"
        if n["op"] == "null" and n["name"] in params and linked:
            ptr = f"lp{eid}"
            out.append(
                f"  TVMValue lpa{eid}; int lpc{eid} = 0; TVMValue lpr{eid}; int lpt{eid} = 0;\n"
                f"  lpa{eid}.v_int64 = {sids[eid]};\n"
                f'  if (lookup("_lookup_linked_param", {count_bytes})(&lpa{eid}, &lpc{eid}, 1, '
                f"&lpr{eid}, &lpt{eid}, NULL) != 0 || lpt{eid} != kTVMOpaqueHandle) return 2;\n"
                f"  float* lp{eid} = (float*)lpr{eid}.v_handle;\n"
                f"  if (memcmp(lp{eid}, param_{n['name']}, sizeof(param_{n['name']})) != 0) "
                "return 3;\n"
            )
        out.append(_dltensor(f"t{eid}", ptr, tuple(shapes[eid])))
        if n["op"] == "null" and n["name"] in params and not linked:
            out.append(f"  memcpy(s{sids[eid]}, param_{n['name']}, sizeof(param_{n['name']}));\n")
    inputs = [nid for nid in graph["arg_nodes"] if nodes[nid]["name"] not in params]
    for i, s in enumerate(samples):
        for j in range(len(s)):
            out.append(f"  memcpy(t{inputs[j]}.data, in{i}_{j}, sizeof(in{i}_{j}));\n")
        for eid, n in enumerate(nodes):
            if n["op"] != "tvm_op":
                continue
            args = [e[0] for e in n["inputs"]] + [eid]
            f = n["attrs"]["func_name"]
            fn = f'lookup("{f}", {count_bytes})' if syslib else f
            out.append("  {\n")
            out.append(f"    TVMValue a[{len(args)}]; int c[{len(args)}];\n")
            for j, e in enumerate(args):
                out.append(f"    a[{j}].v_handle = &t{e}; c[{j}] = kTVMDLTensorHandle;\n")
            out.append(f"    if (({fn})(a, c, {len(args)}, &ret, &ret_code, NULL) != 0) return 1;\n")
            out.append("  }\n")
        for h, head in enumerate(graph["heads"]):
            n_el = int(np.prod(shapes[head[0]]))
            out.append(f'  print_floats("OUT {i} {h}", (float*)t{head[0]}.data, {n_el});\n')
    out.append("  (void)k;\n  finish();\n  return 0;\n}\n")
    return "".join(out)


# A host stand-in for an Ethos-U device (layouts with "devices"): the hooks count their calls
# and TVMEthosULaunch computes the partition the fixture offloads (a dense layer whose float32
# weights then bias sit at base address 0, input at 3, output at 4), so the run can be checked
# against numpy. Real builds use TVM's tvm_ethosu_runtime.c and the NPU driver instead.
ETHOSU_STUB_HEADER = r"""
#include <stddef.h>
#include <stdint.h>
int32_t TVMEthosULaunch(void* resource_handle, void* cms_data, size_t cms_data_size,
                        uint64_t* base_addrs, size_t* base_addrs_size, int num_tensors);
"""
ETHOSU_STUB = r"""
#include "tvm_ethosu_runtime.h"
static int g_hooks[4];
int32_t TVMDeviceEthosUActivate(void* ctx) { (void)ctx; g_hooks[0]++; return 0; }
int32_t TVMDeviceEthosUOpen(void* ctx) { (void)ctx; g_hooks[1]++; return 0; }
int32_t TVMDeviceEthosUClose(void* ctx) { (void)ctx; g_hooks[2]++; return 0; }
int32_t TVMDeviceEthosUDeactivate(void* ctx) { (void)ctx; g_hooks[3]++; return 0; }
int32_t TVMEthosULaunch(void* resource_handle, void* cms_data, size_t cms_data_size,
                        uint64_t* base_addrs, size_t* base_addrs_size, int num_tensors) {
  const float* w = (const float*)(uintptr_t)base_addrs[0];
  const float* x = (const float*)(uintptr_t)base_addrs[3];
  float* y = (float*)(uintptr_t)base_addrs[4];
  size_t depth = base_addrs_size[3] / sizeof(float), units = base_addrs_size[4] / sizeof(float);
  size_t j, k;
  if (resource_handle == NULL || memcmp(cms_data, "COP1", 4) != 0 || cms_data_size < 4 ||
      num_tensors != 6 || base_addrs_size[0] != (units * depth + units) * sizeof(float)) {
    return -1;
  }
  for (j = 0; j < units; ++j) {
    float acc = 0.0f;
    for (k = 0; k < depth; ++k) acc = acc + x[k] * w[j * depth + k];
    y[j] = acc + w[units * depth + j];
  }
  return 0;
}
"""


def _aot_harness(root: Path, info: dict, models: list[tuple[str, str]]) -> str:
    out = [HARNESS_PRELUDE]
    if info["devices"]:
        out.append(ETHOSU_STUB)
    body = ["int main(void) {\n"]
    for mod, model in models:
        spec = fmodel.MODELS[model]
        samples = _sample_inputs(model)
        names = [o.name for o in spec.outputs]
        header = root / "codegen/host/include" / f"tvmgen_{mod}.h"
        if header.exists():
            out.append(f'#include "tvmgen_{mod}.h"\n')
        elif info["llvm"]:
            params = ", ".join(["float*"] * (len(spec.inputs) + len(spec.outputs)))
            out.append(f"extern int32_t tvmgen_{mod}___tvm_main__({params});\n")
        else:
            out.append(f"extern int32_t tvmgen_{mod}_run(void*, void*, int, void*, void*, void*);\n")
        for o in spec.outputs:
            out.append(f"static float {mod}_{o.name}[{int(np.prod(o.shape))}];\n")
        for i, s in enumerate(samples):
            for j, arr in enumerate(s):
                out.append(_c_floats(f"{mod}_in{i}_{j}", arr))
        for i in range(len(samples)):
            ins = [f"{mod}_in{i}_{j}" for j in range(len(spec.inputs))]
            outs = [f"{mod}_{o.name}" for o in spec.outputs]
            body.append("  {\n")
            if header.exists():
                text = header.read_text()
                fields_in = [f.split("void* ")[1].rstrip(";") for f in
                             text.split(f"struct tvmgen_{mod}_inputs {{")[1].split("};")[0]
                             .strip().splitlines()]  # fmt: skip
                fields_out = [f.split("void* ")[1].rstrip(";") for f in
                              text.split(f"struct tvmgen_{mod}_outputs {{")[1].split("};")[0]
                              .strip().splitlines()]  # fmt: skip
                body.append(f"    struct tvmgen_{mod}_inputs in;\n")
                body.append(f"    struct tvmgen_{mod}_outputs out;\n")
                body += [f"    in.{f} = {v};\n" for f, v in zip(fields_in, ins, strict=False)]
                body += [f"    out.{f} = {v};\n" for f, v in zip(fields_out, outs, strict=False)]
                run_args = "&in, &out"
                if info["devices"]:
                    body.append(f"    static int npu; struct tvmgen_{mod}_devices dev;\n")
                    body += [f"    dev.{d} = &npu;\n" for d in info["devices"]]
                    run_args += ", &dev"
                body.append(f"    if (tvmgen_{mod}_run({run_args}) != 0) return 1;\n")
                if info["devices"]:
                    hooks = ", ".join(f"g_hooks[{k}]" for k in range(4))
                    body.append(f'    printf("HOOKS %d %d %d %d\\n", {hooks});\n')
                macro = f"TVMGEN_{mod.upper()}_WORKSPACE_SIZE"
                body.append(f'    printf("DECLARED {mod} %d\\n", (int){macro});\n')
            elif info["llvm"]:
                body.append(f"    if (tvmgen_{mod}___tvm_main__({', '.join(ins + outs)}) != 0) return 1;\n")
            else:
                n = len(ins) + len(outs)
                shapes = [i.shape for i in spec.inputs] + [o.shape for o in spec.outputs]
                for j, (v, shp) in enumerate(zip(ins + outs, shapes, strict=False)):
                    body.append(_dltensor(f"t{j}", v, shp).replace("  ", "    ", 1))
                body.append(f"    TVMValue a[{n}]; int c[{n}];\n")
                for j in range(n):
                    body.append(f"    a[{j}].v_handle = &t{j}; c[{j}] = kTVMDLTensorHandle;\n")
                body.append(f"    if (tvmgen_{mod}_run(a, c, {n}, NULL, NULL, NULL) != 0) return 1;\n")
            for h, o in enumerate(spec.outputs):
                n_el = int(np.prod(o.shape))
                body.append(f'    print_floats("OUT {mod} {i} {h}", {mod}_{o.name}, {n_el});\n')
            body.append("  }\n")
        del names
    body.append("  finish();\n  return 0;\n}\n")
    return "".join(out + body)


def _compile_and_run(root: Path, harness: str, objects: list[Path] | None = None) -> str:
    inc = mlf_export.runtime_include()
    build = root / "_build"
    build.mkdir(exist_ok=True)
    (build / "harness.c").write_text(harness)
    (build / "tvm_ethosu_runtime.h").write_text(ETHOSU_STUB_HEADER)
    incs = ["-I", str(inc), "-I", str(root / "codegen/host/include"), "-I", str(build)]
    objs = list(objects or [])
    sources = sorted((root / "codegen/host/src").glob("*.c")) if not objects else []
    for src in [*sources, build / "harness.c"]:
        obj = build / (src.stem + ".o")
        extra = []
        text = src.read_text()
        if "TVMSystemLibEntryPoint" in text and "void* resource_handle);" not in text:
            extra = ["-Wno-cast-function-type"]
        if "(void)tvmgen_" in text and "__tvm_param__" in text:
            extra = OLD_AOT_NOISE
        if ",&global_workspace);" in text:  # the packed entry passes uint8_t (*)[N] (TVM 0.9+)
            extra = ["-Wno-incompatible-pointer-types"]
        cmd = [GCC, *STRICT, *TVM_NOISE, *extra, *incs, "-c", str(src), "-o", str(obj)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, f"{src.name}:\n{res.stderr}"
        objs.append(obj)
    exe = build / "run"
    res = subprocess.run([GCC, *map(str, objs), "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    return res.stdout


def _check_outputs(stdout: str, expected: dict[tuple, np.ndarray]) -> dict[str, list[int]]:
    got, ws = {}, {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts[0] == "OUT":
            vals = [float.fromhex(v) for v in parts[1:] if v.startswith(("0x", "-0x"))]
            key = tuple(p for p in parts[1:] if not p.startswith(("0x", "-0x")))
            got[key] = np.array(vals, dtype=np.float32)
        elif parts[0] == "HOOKS":
            ws["HOOKS"] = [int(p) for p in parts[1:]]
        elif parts[0] in ("WS", "DECLARED"):
            ws[" ".join(parts[:-1]) if parts[0] == "DECLARED" else "WS"] = [
                int(p) for p in parts[1:] if p.lstrip("-").isdigit()
            ]
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for key, want in expected.items():
        np.testing.assert_allclose(got[key], want.reshape(-1), rtol=1e-5, atol=1e-6, err_msg=str(key))
    _peak, _calls, errors, depth = ws["WS"]
    assert errors == 0 and depth == 0, ws
    return ws


def _expected(models: list[tuple[str, str]], prefix_mod: bool) -> dict[tuple, np.ndarray]:
    exp = {}
    for mod, model in models:
        for i, s in enumerate(_sample_inputs(model)):
            for h, arr in enumerate(reference(model, s)):
                key = (mod, str(i), str(h)) if prefix_mod else (str(i), str(h))
                exp[key] = arr
    return exp


@pytest.mark.skipif(GCC is None, reason="gcc not found")
@pytest.mark.parametrize("layout", C_LAYOUTS)
def test_generated_c_matches_reference(layout: str, exported: dict[str, Path], tmp_path: Path) -> None:
    info = layout_info(layout)
    root = _extract(exported[layout], tmp_path / layout)
    meta = json.loads((root / "metadata.json").read_text())
    if info["executor"] is None:
        _run_operator(root, meta)
        return
    if info["executor"] == "graph":
        model = info["module_models"]["default"]
        samples = _sample_inputs(model)
        stdout = _compile_and_run(root, _graph_harness(root, info, samples, "default"))
        ws = _check_outputs(stdout, _expected([("default", model)], False))
    else:
        mods = [(m, info["module_models"][m]) for m in info["modules"]]
        stdout = _compile_and_run(root, _aot_harness(root, info, mods))
        ws = _check_outputs(stdout, _expected(mods, True))
        for mod, _ in mods:
            if f"DECLARED {mod}" in ws and not (info["usmp"] and mod != "waveform"):
                assert ws["WS"][0] <= ws[f"DECLARED {mod}"][0]
    if info["devices"]:  # Activate/Deactivate once per run, Open/Close per offloaded call
        runs = len(_sample_inputs("waveform"))
        assert ws["HOOKS"] == [runs, runs, runs, runs], ws["HOOKS"]
    if info["usmp"] and len(info["modules"]) == 1:
        assert ws["WS"][1] == 0, "USMP code must not call TVMBackendAllocWorkspace"
    elif set(info["module_models"].values()) == {"waveform"}:  # mixer's buffers fit the stack
        assert ws["WS"][1] > 0
    _check_declared_workspace(meta, info, ws)


def _check_declared_workspace(meta: dict, info: dict, ws: dict) -> None:
    mods = meta["modules"] if info["version"] >= 7 else {"default": meta}
    if info["version"] == 1:
        return
    peak = ws["WS"][0]
    total = sum(m["memory"]["functions"]["main"][0]["workspace_size_bytes"] for m in mods.values())
    assert peak <= total


def _run_operator(root: Path, meta: dict) -> None:
    (name,) = meta["memory"]
    w = load_weights("waveform")
    x = fmodel.make_waveform_data(1, seed=5)[0].reshape(1, 32)
    x = np.tanh(x).astype(np.float32)
    want = np.maximum(fmodel._dense_f32(x, w["fc1.weight"], w["fc1.bias"]), 0)
    shapes = [tuple(e["shape"]) for e in meta["memory"][name]]
    h = [HARNESS_PRELUDE, REGISTRY_LOOKUP]
    h.append(_c_floats("x", x) + _c_floats("w", w["fc1.weight"]) + _c_floats("b", w["fc1.bias"]))
    h.append("static float y[16];\nint main(void) {\n  TVMValue ret; int ret_code;\n")
    for i, (v, s) in enumerate(zip(["x", "w", "b", "y"], shapes, strict=False)):
        h.append(_dltensor(f"t{i}", v, s))
    h.append("  TVMValue a[4]; int c[4];\n")
    for i in range(4):
        h.append(f"  a[{i}].v_handle = &t{i}; c[{i}] = kTVMDLTensorHandle;\n")
    h.append(f'  if (lookup("{name}", 1)(a, c, 4, &ret, &ret_code, NULL) != 0) return 1;\n')
    h.append('  print_floats("OUT 0 0", y, 16);\n  finish();\n  return 0;\n}\n')
    stdout = _compile_and_run(root, "".join(h))
    _check_outputs(stdout, {("0", "0"): want})


@pytest.mark.skipif(GCC is None, reason="gcc not found")
@pytest.mark.parametrize("layout", ["v5-graph-llvm", "v7-aot-llvm"])
def test_llvm_layout_host_objects_run(layout: str, tmp_path: Path) -> None:
    info = layout_info(layout)
    tar = export(layout, tmp_path, cc=GCC)
    root = _extract(tar, tmp_path / "x")
    meta = json.loads((root / "metadata.json").read_text())
    mods = meta["modules"] if info["version"] >= 7 else {"default": meta}
    target = next(iter(mods.values()))["target"]
    target = target["1"] if isinstance(target, dict) else target[0]
    assert target.startswith("llvm -keys=cpu") and "-mtriple=" in target
    objs = sorted((root / "codegen/host/lib").glob("*.o"))
    assert [o.name for o in objs] == ["default_lib0.o", "default_lib1.o"]
    assert not (root / "codegen/host/src").exists()
    if info["executor"] == "graph":
        harness = _graph_harness(root, info, _sample_inputs("waveform"), "default")
        stdout = _compile_and_run(root, harness, objs)
        _check_outputs(stdout, _expected([("default", "waveform")], False))
    else:
        stdout = _compile_and_run(root, _aot_harness(root, info, [("default", "waveform")]), objs)
        _check_outputs(stdout, _expected([("default", "waveform")], True))


@pytest.mark.skipif(ARM_GCC is None, reason="arm-none-eabi-gcc not found")
@pytest.mark.parametrize("layout", ["v5-graph-llvm", "v7-aot-llvm"])
def test_llvm_layout_arm_objects(layout: str, tmp_path: Path) -> None:
    tar = export(layout, tmp_path, cc=ARM_GCC, cflags=ARM_FLAGS)
    root = _extract(tar, tmp_path / "x")
    text = (root / "metadata.json").read_text()
    assert "-mtriple=thumbv7em-none-eabihf" in text and "-mcpu=cortex-m4" in text
    for obj in sorted((root / "codegen/host/lib").glob("*.o")):
        data = obj.read_bytes()
        assert data[:4] == b"\x7fELF" and data[4] == 1  # 32-bit ELF
        assert struct.unpack_from("<H", data, 18)[0] == 40  # EM_ARM
    again = export(layout, tmp_path / "again", cc=ARM_GCC, cflags=ARM_FLAGS)
    assert again.read_bytes() == tar.read_bytes()
