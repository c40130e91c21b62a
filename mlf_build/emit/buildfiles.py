"""What build systems read about a library: ``<t>_manifest.json`` (every file, source, object,
include folder, symbol and size), ``<t>.mk`` (the manifest as Make variables), the CMake info
file add_mlf_library() reads, and ``mlf_runtime.mk`` of ``mlf-build runtime``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import __version__
from ..devices import glue_include_dirs, glue_sources
from ..options import MAKE_CFLAGS, RUNTIME_SOURCES
from ..read.model import Model
from ..validate import cmake_list_item, cmake_quote, make_word, relative_path
from ..write import OutputFile
from .common import ModuleApi, banner
from .crt import CRT_SOURCES
from .wrappers import wrapper_name

MANIFEST_SCHEMA = "mlf-build/manifest/1"


def _api_sources(api: ModuleApi) -> list[str]:
    t = api.settings.prefix
    sources = [f"{t}_runner.c", f"{t}_data.c"]
    unused = {f.path for f in api.module.unused_sources()}
    sources += [
        wrapper_name(api.settings, f)
        for f in api.module.codegen
        if f.kind in ("c", "c++") and f.path not in unused
    ]
    if api.settings.runtime == "tvm_crt":
        sources += [f"{t}_crt_platform.c"] + [f"crt/{t}__{m.rsplit('/', 1)[-1]}" for m in CRT_SOURCES]
    return sources


def library_manifest(
    model: Model, prefix: str, apis: list[ModuleApi], files: list[OutputFile], symbols: list[str]
) -> dict[str, Any]:
    includes = ["."]
    if any(f.path.startswith("codegen/host/include/") for api in apis for f in api.module.codegen):
        includes.append("codegen/include")
    if apis[0].settings.runtime == "tvm_crt":
        # The bundled headers come first: the model is compiled against its own runtime.
        includes = ["crt/include", "crt", *includes]
    first = apis[0]
    static = [api.plan.workspace_size for api in apis if api.settings.static_arena]
    devices = sorted({d for api in apis for d in api.module.devices})
    return {
        "schema": MANIFEST_SCHEMA,
        "generator": f"mlf_build {__version__}",
        "name": prefix,
        "model": first.settings.model_label,
        "module": first.module.name if len(apis) == 1 else None,
        "modules": [
            {
                "module": api.module.name,
                "prefix": api.settings.prefix,
                "executor": api.module.executor,
                "interface": api.module.interface,
                "workspace_size": api.plan.workspace_size,
                "workspace_exact": api.plan.exact,
                "scratch_size": api.plan.scratch_size,
                "params_size": api.plan.params_size,
                "io_size": sum(x.nbytes for x in api.module.inputs + api.module.outputs),
                "header": f"{api.settings.prefix}.h",
            }
            for api in apis
        ],
        "format_version": model.format_version,
        "executor": first.module.executor,
        "interface": first.module.interface,
        "runtime": first.settings.runtime,
        "workspace": "static" if first.settings.static_arena else "caller",
        "workspace_size": sum(static) if static else max(api.plan.workspace_size for api in apis),
        "workspace_align": first.plan.align,
        "params_size": sum(api.plan.params_size for api in apis),
        "public_header": f"{prefix}.h",
        "public_symbols": symbols,
        "sources": [src for api in apis for src in _api_sources(api)],
        "objects": [f"codegen/lib/{f.filename}" for api in apis for f in api.module.objects()],
        "include_dirs": includes,
        "linker_fragments": {
            kind: f"{prefix}_{kind}.ld"
            for kind in ("weights", "arena")
            if any(f.rel == f"{prefix}_{kind}.ld" for f in files)
        },
        "byoc": sorted({f.byoc for api in apis for f in api.module.codegen if f.byoc}),
        "cmsis_nn_functions": sorted({fn for api in apis for fn in api.module.cmsis_nn_functions()}),
        "devices": devices,
        # mlf_build's glue for those devices (devices.py), relative to the runtime folder
        "device_sources": glue_sources(devices),
        "device_include_dirs": glue_include_dirs(devices),
        "files": sorted([f.rel for f in files] + [f"{prefix}_manifest.json"]),
        "runtime_sources": list(RUNTIME_SOURCES),
    }


def make_fragment(m: dict[str, Any]) -> str:
    """``<t>.mk``: the manifest as Make variables, for builds without CMake or Bazel. Every word
    is checked: a file name holding '$', '#', ';' or a space would change what Make does."""
    up = m["name"].upper()
    d = f"$({up}_DIR)"

    where = f"{m['name']}.mk"

    def words(values: list[str], fmt: str) -> str:
        return " ".join(fmt.format(make_word(v, where)) for v in values)

    includes = " ".join(f"-I{d}/{make_word(i, where)}" if i != "." else f"-I{d}" for i in m["include_dirs"])
    lines = [
        manifest_banner(m, f"{m['name']}.mk - what to compile for model library {m['name']}.").rstrip("\n"),
        "# include this file; it locates itself, or set <NAME>_DIR before including it.",
        f"{up}_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))",
        f"{up}_SOURCES := " + words(m["sources"], d + "/{}"),
        f"{up}_OBJECTS := " + words(m["objects"], d + "/{}"),
        f"{up}_INCLUDES := " + includes,
        f"{up}_CFLAGS := " + " ".join(MAKE_CFLAGS),
        # Every module's weights (ALL_MODULES has several): prerequisites Make cannot discover.
        f"{up}_PARAMS_BIN := " + words([f for f in m["files"] if f.endswith("_params.bin")], d + "/{}"),
        f"{up}_WORKSPACE_SIZE := {int(m['workspace_size'])}",
    ]
    return "\n".join(line for line in lines if line) + "\n"


def runtime_mk() -> str:
    """``mlf_runtime.mk`` of ``mlf-build runtime``: the runtime's sources (two per line) and
    include folder, for plain Make."""
    paths = [f"$(MLF_RUNTIME_DIR)/{rel}" for rel in RUNTIME_SOURCES]
    sources = " \\\n  ".join(" ".join(paths[i : i + 2]) for i in range(0, len(paths), 2))
    what = "mlf_runtime.mk - the shared runtime, compiled once per firmware (mlf-build runtime)."
    return banner(what, comment="#") + (
        "MLF_RUNTIME_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))\n"
        f"MLF_RUNTIME_SOURCES := {sources}\n"
        "MLF_RUNTIME_INCLUDES := -I$(MLF_RUNTIME_DIR)/include\n"
    )


def manifest_banner(m: dict[str, Any], what: str) -> str:
    """The banner (``#`` lines) of a file made from library manifest ``m``."""
    return banner(what, m["model"], [x["module"] for x in m["modules"]], m["format_version"], "#")


def cmake_info(manifest: dict[str, Any], model: Model, warnings: list[str], model_path: str) -> bytes:
    """The facts add_mlf_library() reads, as CMake ``set()`` commands, exact for any value:
    each value is a bracket argument (validate.cmake_quote), each list element one CMake keeps
    whole (validate.cmake_list_item, else refused), and free text such as warnings one variable
    per item. Bytes, because paths are written in the file system's encoding, whatever they hold."""
    m = manifest
    what = f"The facts of model library {m['name']} that add_mlf_library() reads."
    lines = [manifest_banner(m, what).rstrip("\n").encode()]

    def put(name: str, *values: str | bytes | int) -> None:
        quoted = [cmake_quote(v if isinstance(v, (str, bytes)) else str(v)) for v in values]
        lines.append(f"set(MLF_INFO_{name} ".encode() + b" ".join(quoted) + b")")

    def put_list(name: str, values: list[str], where: str) -> None:
        put(name, *(cmake_list_item(v, where) for v in values))

    put("NAME", m["name"])
    put("MODULE", m["module"] or "")
    where = str(model.path)
    # One entry per generated API (several with ALL_MODULES): module name and C prefix.
    put_list("UNIT_MODULES", [api["module"] for api in m["modules"]], where)
    put_list("UNIT_PREFIXES", [api["prefix"] for api in m["modules"]], where)
    put_list("OUTPUTS", m["files"], where)
    put_list("SOURCES", m["sources"], where)
    put_list("OBJECTS", m["objects"], where)
    put_list("INCLUDE_DIRS", m["include_dirs"], where)
    put_list("PUBLIC_SYMBOLS", m["public_symbols"], where)
    put("WORKSPACE_SIZE", m["workspace_size"])
    put("WORKSPACE_ALIGN", m["workspace_align"])
    put("PARAMS_SIZE", m["params_size"])
    put("FORMAT_VERSION", m["format_version"])
    put("EXECUTOR", m["executor"])
    put_list("BYOC", m["byoc"], where)
    put_list("CMSIS_NN_FUNCTIONS", m["cmsis_nn_functions"], where)
    put_list("DEVICES", m["devices"], where)
    put_list("DEVICE_SOURCES", m["device_sources"], where)
    put_list("DEVICE_INCLUDE_DIRS", m["device_include_dirs"], where)
    put("WEIGHTS_FRAGMENT", m["linker_fragments"].get("weights", ""))
    put("ARENA_FRAGMENT", m["linker_fragments"].get("arena", ""))
    put("HAS_OBJECTS", "1" if m["objects"] else "0")
    put_list("MODULES", [x.name for x in model.modules], where)
    put("INPUT_FILES", *(_cmake_path_item(p, model_path) for p in _input_files(model, model_path)))
    put("WARNING_COUNT", len(warnings))
    for i, warning in enumerate(warnings):
        put(f"WARNING_{i}", warning)
    return b"\n".join(lines) + b"\n"


def _input_files(model: Model, model_path: str) -> list[bytes]:
    """What the generation reads: the tarball, or every file of an extracted MLF (their names
    checked as file names: they become CMake list elements and build dependencies)."""
    root = Path(model_path)
    if not root.is_dir():
        return [os.fsencode(root.resolve())]
    for name in sorted(model.source.members):
        relative_path(name, model.source.display(name))
    return [os.fsencode((root / n).resolve()) for n in sorted(model.source.members)]


def _cmake_path_item(path: bytes, where: str) -> bytes:
    """A path (bytes in the file system's encoding) as a CMake list element."""
    return cmake_list_item(path.decode("utf-8", "surrogateescape"), where).encode("utf-8", "surrogateescape")
