"""metadata.json of every format version (1–7), normalised into one shape.

The layout is probed key by key (``modules`` wrapper, ``executors`` vs ``runtimes``, ``target``
as a map or a list, ``memory`` as a list or an object) instead of trusting ``version``: TVM
changed several of these without a bump of ``_GENERATED_VERSION``
(python/tvm/micro/model_library_format.py); tests/fixtures/mlf_export.py lists the layouts with
the TVM commits they imitate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import MlfError, printable
from . import jsonio
from .limits import Budget

SUPPORTED_VERSIONS = range(1, 8)
MAX_SIZE = 1 << 48


@dataclass(frozen=True)
class IoMeta:
    name: str
    size: int
    dtype: str


@dataclass
class ModuleMeta:
    name: str
    style: str  # "full-model" or "operator"
    executors: list[str]
    #: target strings, normalised to a list (a dict in v1–5, a list in v6+)
    targets: list[str]
    #: the target exactly as written (dict or list), for reporting
    targets_raw: Any
    workspace_size_bytes: int | None = None
    io_size_bytes: int | None = None
    constants_size_bytes: int | None = None
    operator_workspace: dict[str, int] = field(default_factory=dict)
    inputs: list[IoMeta] | None = None
    outputs: list[IoMeta] | None = None


@dataclass
class Metadata:
    version: int
    #: "v7" when modules are wrapped in ``modules``; otherwise "flat"
    layout: str
    modules: list[ModuleMeta]
    notes: list[str] = field(default_factory=list)


class _Ctx:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, problem: str) -> MlfError:
        return MlfError(self.where, f"{path}: {problem}" if path else problem)

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_kind(value)}")
        return value

    def lst(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {_kind(value)}")
        return value

    def size(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SIZE:
            raise self.fail(path, f"expected a byte count (integer 0..2^48), got {_short(value)}")
        return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else f"a {type(value).__name__}"
    )


def _short(value: Any) -> str:
    return printable(repr(value), 40)


def parse_metadata(text: str, where: str, budget: Budget | None = None) -> Metadata:
    doc = jsonio.loads(text, where, budget)
    c = _Ctx(where)
    top = c.obj(doc, "")
    version = top.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise c.fail("version", f"expected an integer format version, got {_short(version)}")
    if version > max(SUPPORTED_VERSIONS):
        raise c.fail("", f"format version {version} is newer than this tool supports (1-7)")
    if version < 1:
        raise c.fail("version", f"format version {version} does not exist (1-7)")
    meta = Metadata(version, "flat", [])
    if "modules" in top:
        meta.layout = "v7"
        if version < 7:
            meta.notes.append(f"declares version {version} but wraps modules like version 7")
        mods = c.obj(top["modules"], "modules")
        if not mods:
            raise c.fail("modules", "is empty")
        for name, body in mods.items():
            mod = _module(c, c.obj(body, f"modules.{name}"), f"modules.{name}", name)
            if mod.name != name:
                raise c.fail(f"modules.{name}.model_name", f"is {_short(mod.name)}, not the module's key")
            meta.modules.append(mod)
    else:
        if version >= 7:
            meta.notes.append("declares version 7 but has no 'modules' object")
        name = c.string(top.get("model_name", "default"), "model_name")
        meta.modules.append(_module(c, top, "", name))
    return meta


def _module(c: _Ctx, m: dict[str, Any], path: str, key: str) -> ModuleMeta:
    p = (path + ".") if path else ""
    mod = _module_head(c, m, p, key)
    if "external_dependencies" in m:  # checked, not used
        for d in c.lst(m["external_dependencies"], p + "external_dependencies"):
            c.obj(d, p + "external_dependencies[]")
    memory = m.get("memory")
    if memory is None:
        if mod.style == "full-model":
            raise c.fail(p + "memory", "is missing")
        return mod
    if mod.style == "operator":
        c.obj(memory, p + "memory")  # the buffers of each operator: checked, not used
        return mod
    if isinstance(memory, list):  # v1: a flat storage table (checked, not used)
        for i, sid in enumerate(memory):
            _sid(c, sid, f"{p}memory[{i}]")
        return mod
    mem = c.obj(memory, p + "memory")
    if "sids" in mem:  # the graph's storage table (checked, not used: the graph JSON has it)
        for i, sid in enumerate(c.lst(mem["sids"], p + "memory.sids")):
            _sid(c, sid, f"{p}memory.sids[{i}]")
    funcs = c.obj(mem.get("functions", {}), p + "memory.functions")
    main = c.lst(funcs.get("main", []), p + "memory.functions.main")
    if main:
        _main_function(
            c, mod, c.obj(main[0], p + "memory.functions.main[0]"), p + "memory.functions.main[0]."
        )
    ops = funcs.get("operator_functions", [])
    for i, op in enumerate(c.lst(ops, p + "memory.functions.operator_functions")):
        fname, total = _operator_function(c, op, f"{p}memory.functions.operator_functions[{i}]", p)
        mod.operator_workspace[fname] = total
    return mod


def _module_head(c: _Ctx, m: dict[str, Any], p: str, key: str) -> ModuleMeta:
    """Name, style, executors and targets of one module."""
    name = c.string(m.get("model_name", key), p + "model_name")
    style = c.string(m.get("style", "full-model"), p + "style")
    if style not in ("full-model", "operator"):
        raise c.fail(p + "style", f"unknown style {_short(style)}")
    # v1-4 say "runtimes", v5+ "executors"; accept either.
    execs_raw = m.get("executors", m.get("runtimes", []))
    executors = [c.string(e, p + "executors[]") for e in c.lst(execs_raw, p + "executors")]
    for e in executors:
        if e not in ("graph", "aot"):
            raise c.fail(p + "executors", f"unknown executor {_short(e)}")
    raw_target = m.get("target", [])
    if isinstance(raw_target, dict):
        targets = [c.string(v, f"{p}target.{k}") for k, v in sorted(raw_target.items())]
    else:
        targets = [c.string(v, p + "target[]") for v in c.lst(raw_target, p + "target")]
    return ModuleMeta(name=name, style=style, executors=executors, targets=targets, targets_raw=raw_target)


def _main_function(c: _Ctx, mod: ModuleMeta, m0: dict[str, Any], mp: str) -> None:
    """``memory.functions.main[0]``: the run's sizes, and its inputs and outputs (TVM 0.11+)."""
    for key_ in ("workspace_size_bytes", "io_size_bytes", "constants_size_bytes"):
        if key_ in m0:
            setattr(mod, key_, c.size(m0[key_], mp + key_))
    if "inputs" in m0:
        mod.inputs = _io(c, m0["inputs"], mp + "inputs")
    if "outputs" in m0:
        mod.outputs = _io(c, m0["outputs"], mp + "outputs")


def _operator_function(c: _Ctx, raw: Any, path: str, p: str) -> tuple[str, int]:
    """One ``operator_functions`` item: its name and the largest workspace it states."""
    op = c.obj(raw, path)
    fname = c.string(op.get("function_name"), f"{path}.function_name")
    ws = c.lst(op.get("workspace", []), f"{path}.workspace")
    total = 0
    for j, w in enumerate(ws):
        w = c.obj(w, f"{path}.workspace[{j}]")
        total = max(
            total, c.size(w.get("workspace_size_bytes", 0), f"{p}...workspace[{j}].workspace_size_bytes")
        )
    return fname, total


def _sid(c: _Ctx, raw: Any, path: str) -> None:
    s = c.obj(raw, path)
    c.size(s.get("storage_id"), path + ".storage_id")
    c.size(s.get("size_bytes"), path + ".size_bytes")
    if "input_binding" in s:
        c.string(s["input_binding"], path + ".input_binding")


def _io(c: _Ctx, raw: Any, path: str) -> list[IoMeta]:
    out = []
    for name, body in c.obj(raw, path).items():
        body = c.obj(body, f"{path}.{name}")
        out.append(
            IoMeta(
                name,
                c.size(body.get("size"), f"{path}.{name}.size"),
                c.string(body.get("dtype"), f"{path}.{name}.dtype"),
            )
        )
    return out
