"""The files of one library: each module's API (header, runner, data, report, TVM's sources
through their wrappers, the bundled CRT), and the library's own (symbol list, objcopy
arguments, umbrella header, linker fragments, manifest, ``<t>.mk``). Only lists them, with
their bytes or the archive member each is copied from; ``write.py`` writes them."""

from __future__ import annotations

import json
from typing import Any

from ..read.model import Model
from ..report import render_report
from ..validate import objcopy_arg, section_name
from ..write import OutputFile
from .buildfiles import library_manifest, make_fragment
from .common import ModuleApi, public_symbols
from .crt import CRT_SOURCES, crt_members, crt_rel, emit_crt_config, emit_crt_platform
from .data import blob_params, emit_data, params_bin_name
from .header import emit_header, emit_umbrella
from .runner import emit_runner
from .sections import arena_fragment, weights_fragment
from .wrappers import CRT_PRELUDE, emit_wrapper, source_rel, wrap_source, wrapper_name


def library_files(
    model: Model, prefix: str, apis: list[ModuleApi], umbrella: bool
) -> tuple[list[OutputFile], dict[str, Any]]:
    """Every file of library ``prefix`` built from ``apis`` (``umbrella``: ALL_MODULES, one
    ``<prefix>.h`` including each module's header), and its manifest."""
    files: list[OutputFile] = []
    for api in apis:
        files += api_files(model, api)
    symbols = [sym for api in apis for sym in public_symbols(api.settings)]
    files.append(OutputFile(f"{prefix}.syms", ("\n".join(symbols) + "\n").encode()))
    objcopy = [f"--keep-global-symbols={prefix}.syms"]
    objcopy += [f"--rename-section={old}={new}" for old, new in codegen_sections(model, apis)]
    text = "".join(objcopy_arg(arg) + "\n" for arg in objcopy)
    files.append(OutputFile(f"{prefix}.objcopy", text.encode()))
    if umbrella:
        header = emit_umbrella(model, prefix, [api.settings for api in apis])
        files.append(OutputFile(f"{prefix}.h", header.encode()))
    files += _linker_fragments(model, prefix, apis)
    manifest = library_manifest(model, prefix, apis, [*files, OutputFile(f"{prefix}.mk")], symbols)
    files.append(OutputFile(f"{prefix}.mk", make_fragment(manifest).encode()))
    files.append(OutputFile(f"{prefix}_manifest.json", (json.dumps(manifest, indent=2) + "\n").encode()))
    return files, manifest


def _linker_fragments(model: Model, prefix: str, apis: list[ModuleApi]) -> list[OutputFile]:
    s = apis[0].settings
    files = []
    if s.weights_section:
        text = weights_fragment(model, prefix, s.weights_section, apis)
        files.append(OutputFile(f"{prefix}_weights.ld", text.encode()))
    # Written whenever the option is given (as documented, and as Bazel declares it): with a
    # caller's arena and no USMP pools the section stays empty and ld drops it.
    if s.arena_section:
        text = arena_fragment(model, prefix, s.arena_section, apis)
        files.append(OutputFile(f"{prefix}_arena.ld", text.encode()))
    return files


def codegen_sections(model: Model, apis: list[ModuleApi]) -> list[tuple[str, str]]:
    """Sections of TVM's C holding weights (linked params, AOT constants) or static pools
    (USMP), renamed after the partial link so WEIGHTS_SECTION / ARENA_SECTION cover them too.
    GCC and Clang put a static array in .rodata.<name> / .bss.<name> under -fdata-sections
    unless TVM gave it a section of its own (.rodata.tvm, .bss.noinit.tvm). The names come from
    the archive's C and become objcopy arguments: each is checked as a section name."""
    renames: dict[str, str] = {}
    for api in apis:
        s = api.settings
        for f in api.module.c_sources():
            assert f.source is not None
            for arr in f.source.arrays.values():
                is_weight = arr.const and (
                    arr.name.startswith(("__tvm_param__", "constant_", "fused_constant"))
                    or arr.section == ".rodata.tvm"
                )
                is_pool = not arr.const and arr.section is not None and arr.section.startswith(".bss")
                target = s.weights_section if is_weight else s.arena_section if is_pool else None
                if target:
                    default = (".rodata." if arr.const else ".bss.") + arr.name
                    where = model.source.display(f.path)
                    old = section_name(arr.section or default, where, f"the section of array {arr.name}")
                    renames[old] = target
    return sorted(renames.items())


def api_files(model: Model, api: ModuleApi) -> list[OutputFile]:
    mod, plan, s = api.module, api.plan, api.settings
    t = s.prefix
    files = [
        OutputFile(f"{t}.h", emit_header(model, mod, plan, s).encode()),
        OutputFile(f"{t}_runner.c", emit_runner(model, mod, plan, s).encode()),
        OutputFile(f"{t}_data.c", emit_data(model, mod, plan, s).encode()),
        OutputFile(f"{t}_report.html", render_report(model, mod, plan, s.model_label, t).encode()),
    ]
    # Always present (empty when every parameter is linked into TVM's C), so build systems that
    # declare outputs up front (Bazel) see the same files for every model.
    if blob_params(mod):
        assert mod.params_member is not None
        files.append(OutputFile(params_bin_name(s), member=mod.params_member))
    else:
        files.append(OutputFile(params_bin_name(s), b""))
    unused = {f.path for f in mod.unused_sources()}
    for f in mod.codegen:
        if f.path in unused:
            continue  # left out of the library (Module.unused_sources)
        if f.kind in ("c", "c++"):
            fix = api.fixes.get(f.path)
            if fix is not None:
                files.append(OutputFile(source_rel(f), fix.text.encode()))
            else:
                files.append(OutputFile(source_rel(f), member=f.path))
            files.append(OutputFile(wrapper_name(s, f), emit_wrapper(model, mod, f, s).encode()))
        elif f.kind == "object":
            files.append(OutputFile(f"codegen/lib/{f.filename}", member=f.path))
        elif f.path.startswith("codegen/host/include/"):
            files.append(
                OutputFile("codegen/include/" + f.path[len("codegen/host/include/") :], member=f.path)
            )
        else:
            files.append(OutputFile(source_rel(f), member=f.path))
    if s.runtime == "tvm_crt":
        for member in crt_members(model):
            files.append(OutputFile(crt_rel(member), member=member))
        for member in CRT_SOURCES:
            name = member.rsplit("/", 1)[-1]
            include = crt_rel(member)[len("crt/") :]
            wrapper = wrap_source(model, mod, s, include, name, prelude=CRT_PRELUDE)
            files.append(OutputFile(f"crt/{t}__{name}", wrapper.encode()))
        files.append(OutputFile("crt/crt_config.h", emit_crt_config(model, mod, plan, s).encode()))
        files.append(OutputFile(f"{t}_crt_platform.c", emit_crt_platform(model, mod, plan, s).encode()))
    return files
