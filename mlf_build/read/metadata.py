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
from ..limits import Budget
from . import jsonio

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
    #: graph storage table (v1 flat list or v2+ ``sids``)
    sids: list[dict[str, Any]] = field(default_factory=list)
    external_dependencies: list[dict[str, Any]] = field(default_factory=list)
    export_datetime: str | None = None
    #: operator-style exports: function name -> buffer list
    operator_buffers: dict[str, Any] = field(default_factory=dict)


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
    mod = ModuleMeta(
        name=name,
        style=style,
        executors=executors,
        targets=targets,
        targets_raw=raw_target,
        export_datetime=m.get("export_datetime") if isinstance(m.get("export_datetime"), str) else None,
    )
    if "external_dependencies" in m:
        mod.external_dependencies = [
            c.obj(d, p + "external_dependencies[]")
            for d in c.lst(m["external_dependencies"], p + "external_dependencies")
        ]
    memory = m.get("memory")
    if memory is None:
        if style == "full-model":
            raise c.fail(p + "memory", "is missing")
        return mod
    if style == "operator":
        mod.operator_buffers = c.obj(memory, p + "memory")
        return mod
    if isinstance(memory, list):  # v1: a flat storage table
        mod.sids = [_sid(c, s, f"{p}memory[{i}]") for i, s in enumerate(memory)]
        return mod
    mem = c.obj(memory, p + "memory")
    if "sids" in mem:
        mod.sids = [
            _sid(c, s, f"{p}memory.sids[{i}]") for i, s in enumerate(c.lst(mem["sids"], p + "memory.sids"))
        ]
    funcs = c.obj(mem.get("functions", {}), p + "memory.functions")
    main = c.lst(funcs.get("main", []), p + "memory.functions.main")
    if main:
        m0 = c.obj(main[0], p + "memory.functions.main[0]")
        mp = p + "memory.functions.main[0]."
        for key_ in ("workspace_size_bytes", "io_size_bytes", "constants_size_bytes"):
            if key_ in m0:
                setattr(mod, key_, c.size(m0[key_], mp + key_))
        if "inputs" in m0:
            mod.inputs = _io(c, m0["inputs"], mp + "inputs")
        if "outputs" in m0:
            mod.outputs = _io(c, m0["outputs"], mp + "outputs")
    ops = funcs.get("operator_functions", [])
    for i, op in enumerate(c.lst(ops, p + "memory.functions.operator_functions")):
        op = c.obj(op, f"{p}memory.functions.operator_functions[{i}]")
        fname = c.string(
            op.get("function_name"), f"{p}memory.functions.operator_functions[{i}].function_name"
        )
        ws = c.lst(op.get("workspace", []), f"{p}memory.functions.operator_functions[{i}].workspace")
        total = 0
        for j, w in enumerate(ws):
            w = c.obj(w, f"{p}memory.functions.operator_functions[{i}].workspace[{j}]")
            total = max(
                total, c.size(w.get("workspace_size_bytes", 0), f"{p}...workspace[{j}].workspace_size_bytes")
            )
        mod.operator_workspace[fname] = total
    return mod


def _sid(c: _Ctx, raw: Any, path: str) -> dict[str, Any]:
    s = c.obj(raw, path)
    c.size(s.get("storage_id"), path + ".storage_id")
    c.size(s.get("size_bytes"), path + ".size_bytes")
    if "input_binding" in s:
        c.string(s["input_binding"], path + ".input_binding")
    return s


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
