"""``mlf-build inspect``: the model description as a stable JSON document and as text.

The JSON schema is documented in docs/inspect-schema.md; ``SCHEMA`` changes only with it.
"""

from __future__ import annotations

from typing import Any

from .errors import MlfError, one_line
from .generate import build_problems
from .plan.plan import TVM_ORDER, plan_module
from .read.model import Model, Module, Tensor
from .read.params import ParamTensor

SCHEMA = "mlf-build/inspect/1"


def _param(t: ParamTensor) -> dict[str, Any]:
    return {"name": t.name, "dtype": t.dtype.name, "shape": list(t.shape), "nbytes": t.nbytes}


def _tensor(t: Tensor) -> dict[str, Any]:
    """An input or output, with where each fact came from (facts.py names the sources)."""
    return {
        "name": t.name,
        "dtype": t.dtype.name,
        "shape": list(t.shape) if t.shape is not None else None,
        "nbytes": t.nbytes if t.known else None,
        "member": t.member,
        "from": dict(sorted(t.origin.items())),
        "checked_against": list(t.checked),
    }


def _arena(model: Model, m: Module) -> dict[str, Any] | None:
    """The arena mlf_build plans for this module (default alignment), or None when it has no
    model to run (operator-style export) or cannot be planned (the reason is in ``problems``)."""
    if m.style != "full-model" or m.executor is None:
        return None
    try:
        plan = plan_module(model, m)
    except MlfError:
        return None
    return {
        "bytes": plan.workspace_size,
        "lower_bound_bytes": plan.lower_bound,
        "layout": plan.layout,
        "storage_id_bytes": plan.storage_id_size,
        "planned_tensors_bytes": plan.tensors_size,
        "scratch_offset": plan.scratch_offset,
        "scratch_bytes": plan.scratch_size,
        "align": plan.align,
        "exact": plan.exact,
    }


def arena_line(arena: dict[str, Any]) -> str:
    """The arena in one line: its size, how it was planned, and the liveness bound."""
    how = "exact" if arena["exact"] else "bound from metadata"
    line = f"{arena['bytes']} B ({how}), placed by {arena['layout']}"
    bound = arena["lower_bound_bytes"]
    if bound is None:
        return line + "; liveness bound unknown"
    line += f"; liveness bound {bound} B"
    if arena["storage_id_bytes"] is not None and arena["storage_id_bytes"] != arena["bytes"]:
        line += f", storage-id plan {arena['storage_id_bytes']} B"
    if arena["layout"] == TVM_ORDER and arena["bytes"] > bound:
        line += f": TVM's allocation order holds {arena['bytes'] - bound} B more than the lifetimes need"
    return line


def module_json(model: Model, m: Module) -> dict[str, Any]:
    codegen = []
    for f in m.codegen:
        entry: dict[str, Any] = {
            "path": f.path,
            "kind": f.kind,
            "target": f.target,
            "machine": f.elf.machine if f.elf else None,
        }
        if f.elf is not None:
            entry["elf_class"] = f.elf.elf_class
            entry["float_abi"] = f.elf.float_abi
            entry["cpu_arch"] = f.elf.cpu_arch
        if f.byoc:
            entry["byoc"] = f.byoc
        if f.c_metadata:
            entry["role"] = "c_metadata"
            entry["built"] = f not in m.unused_sources()
        codegen.append(entry)
    return {
        "name": m.name,
        "style": m.style,
        "executor": m.executor,
        "interface": m.interface,
        "unpacked_api": m.unpacked_api,
        "link_params": m.link_params,
        "system_lib": m.system_lib,
        "targets": m.meta.targets_raw,
        "workspace_size_bytes": m.meta.workspace_size_bytes,
        "io_size_bytes": m.meta.io_size_bytes,
        "constants_size_bytes": m.meta.constants_size_bytes,
        "operator_workspace_bytes": dict(sorted(m.meta.operator_workspace.items())),
        "arena": _arena(model, m),
        "inputs": [_tensor(t) for t in m.inputs],
        "outputs": [_tensor(t) for t in m.outputs],
        "io_source": m.io_source or None,
        "devices": list(m.devices),
        "params": [_param(p) for p in m.params],
        "params_bytes": sum(p.nbytes for p in m.params),
        "linked_params": sorted(m.linked_params),
        "files": {
            "params": m.params_member,
            "graph": m.graph_member,
            "relay": m.relay_member,
            "header": m.header_member,
        },
        "codegen": codegen,
        "cmsis_nn_functions": m.cmsis_nn_functions(),
        "runtime_bundled": model.runtime_bundled,
        "codegen_issues": list(m.codegen_issues),
        "build_problems": _problems(model, m),
    }


def _problems(model: Model, m: Module) -> list[str]:
    """What stops generate, as the lines it would print (without the 'mlf-build: error: ')."""
    if m.style != "full-model" or m.executor is None:
        return []
    out = [str(e) for e in build_problems(model, m)]
    try:
        plan_module(model, m)
    except MlfError as exc:
        out.append(str(exc))
    return out


def model_json(model: Model, module: str | None = None) -> dict[str, Any]:
    modules = [model.module(module)] if module is not None else model.modules
    return {
        "schema": SCHEMA,
        "path": str(model.path),
        "format_version": model.format_version,
        "layout": model.metadata.layout,
        "runtime_bundled": model.runtime_bundled,
        "templates": model.templates,
        "warnings": model.warnings,
        "modules": [module_json(model, m) for m in modules],
    }


def _fmt_param(t: ParamTensor) -> str:
    shape = "x".join(str(d) for d in t.shape) or "scalar"
    return f"{t.name:<24} {t.dtype.name:<9} {shape:<18} {t.nbytes:>10} B"


def _fmt_tensor(t: Tensor) -> str:
    """An input or output: the facts, where they came from, and TVM's C name when it differs."""
    shape = "?" if t.shape is None else ("x".join(str(d) for d in t.shape) or "scalar")
    size = f"{t.nbytes:>10} B" if t.known else f"{'?':>10} B"
    origin = sorted(set(t.origin.values()), key=lambda s: t.origin.get("shape") != s)
    facts = "from " + "+".join(origin) + (f", checked against {'+'.join(t.checked)}" if t.checked else "")
    member = f"  C member {t.member}" if t.member is not None and t.member != t.name else ""
    return f"{t.name:<24} {t.dtype.name:<9} {shape:<18} {size}  ({facts}){member}"


def _aot_options(interface: str, unpacked: bool | None) -> list[str]:
    """The AOT executor's two options under TVM's own names, which are independent: interface-api
    is what the application calls (``c``: the structs of tvmgen_<m>.h and a tvmgen_<m>_run
    wrapper; ``packed``: the entry point itself), unpacked-api how arguments are passed (plain
    pointers, or TVMValue arrays when false). Registered in TVM's src/relay/backend/executor.cc,
    read in src/relay/backend/aot_executor_codegen.cc (interface-api defaults to "packed",
    unpacked-api to false, and LegalizePackedCalls wraps calls in TVMValues unless it is set)."""
    what = {"c": "the struct interface of tvmgen_<m>.h", "packed": "no C interface header"}
    args = {True: "1 (plain pointer arguments)", False: "0 (TVMValue arrays)", None: "? (not recorded)"}
    return [
        f"  interface-api:  {interface} ({what.get(interface, '?')})",
        f"  unpacked-api:   {args[unpacked]}",
    ]


def model_text(model: Model, module: str | None = None) -> str:
    doc = model_json(model, module)
    lines = [f"{model.path}: MLF format version {doc['format_version']}"]
    if model.runtime_bundled:
        lines.append(f"  bundled TVM runtime (runtime/): {len(model.runtime_files)} files")
    mods = [model.module(module)] if module is not None else model.modules
    for m, j in zip(mods, doc["modules"], strict=True):
        lines.append(f"module {m.name!r}: {m.style}, executor {m.executor or '-'}")
        if m.interface:
            lines += _aot_options(m.interface, m.unpacked_api)
        lines.append(f"  targets:        {'; '.join(m.targets) or '-'}")
        ws = m.meta.workspace_size_bytes
        arena = j["arena"]
        if arena is not None:
            lines.append(f"  arena:          {arena_line(arena)}")
        lines.append(
            f"  memory (TVM):   workspace {ws if ws is not None else '?'} B, "
            f"io {m.meta.io_size_bytes if m.meta.io_size_bytes is not None else '?'} B, "
            f"constants {m.meta.constants_size_bytes if m.meta.constants_size_bytes is not None else '?'} B"
        )
        lines.append(f"  inputs ({j['io_source']}):")
        lines += [f"    {_fmt_tensor(t)}" for t in m.inputs]
        lines.append("  outputs:")
        lines += [f"    {_fmt_tensor(t)}" for t in m.outputs]
        if m.devices:
            lines.append(f"  devices:        {', '.join(m.devices)} (struct tvmgen_{m.name}_devices)")
        linked = f", {len(m.linked_params)} linked into codegen" if m.linked_params else ""
        lines.append(f"  params: {len(m.params)} tensors, {j['params_bytes']} B{linked}")
        lines.append("  codegen:")
        for c in j["codegen"]:
            extra = c["target"] or ""
            if c["machine"]:
                extra = f"{c['machine']} elf{c['elf_class']} {c['float_abi'] or ''}".strip()
            if c.get("byoc"):
                extra += f" [BYOC {c['byoc']}]"
            lines.append(f"    {c['path']:<44} {c['kind']:<7} {extra}")
        if m.uses_cmsis_nn():
            lines.append(f"  needs CMSIS-NN: {', '.join(j['cmsis_nn_functions']) or '(no arm_* call found)'}")
        for issue in m.codegen_issues:
            lines.append(f"  known codegen problem: {issue}")
        for problem in j["build_problems"]:
            lines.append(f"  cannot build: {problem}")
    # Names from the archive (targets, modules, paths) are shown, never acted on by a terminal.
    return "\n".join(one_line(line) for line in lines)
