"""One version-independent description of an MLF: its modules, their executor and interface,
inputs, outputs, parameters and codegen files. ``load_model`` is the entry point.

Everything is probed from what the artifact actually holds (spec §1: several layout changes
were made without a version bump); where a fact comes from is recorded (``io_source``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .archive import DEFAULT_MAX_TOTAL_SIZE, MlfSource, open_mlf
from .csource import CSource, Function, parse_c
from .dtypes import DType, parse_dtype
from .elf import ElfInfo, parse_elf
from .errors import MlfError, printable
from .graph import Graph, parse_graph
from .metadata import Metadata, ModuleMeta, parse_metadata
from .naming import check_unique, is_c_identifier
from .params import ParamTensor, read_params

MAX_JSON = 64 << 20
MAX_SOURCE = 256 << 20
MAX_OBJECT = 512 << 20
_C_TYPES = {
    "float": "float32",
    "double": "float64",
    "int8_t": "int8",
    "uint8_t": "uint8",
    "int16_t": "int16",
    "uint16_t": "uint16",
    "int32_t": "int32",
    "uint32_t": "uint32",
    "int64_t": "int64",
    "uint64_t": "uint64",
    "bool": "bool",
}
_BYOC = {"cmsis-nn": "cmsis-nn", "ethos-u": "ethos-u", "ethosu": "ethos-u", "uma": "uma"}

CodegenKind = Literal["c", "c++", "object", "header"]


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: DType
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return self.dtype.nbytes(self.shape)


@dataclass
class CodegenFile:
    path: str  # member name, e.g. codegen/host/src/default_lib1.c
    kind: CodegenKind
    module: str | None
    target: str | None = None
    byoc: str | None = None
    elf: ElfInfo | None = None
    source: CSource | None = None

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Module:
    name: str
    meta: ModuleMeta
    style: str
    executor: str | None  # "graph", "aot", or None (operator-style export)
    interface: str | None = None  # AOT: "c" or "packed"
    unpacked_api: bool | None = None
    link_params: bool = False
    system_lib: bool = False
    usmp_pools: list[str] = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    io_source: str = ""
    params: list[ParamTensor] = field(default_factory=list)
    params_member: str | None = None
    graph: Graph | None = None
    graph_member: str | None = None
    relay_member: str | None = None
    header_member: str | None = None
    codegen: list[CodegenFile] = field(default_factory=list)
    #: AOT: the function the wrapper calls, and the inner main it forwards to
    entry: str | None = None
    inner_main: str | None = None
    #: names of params that live in codegen as static arrays -> array name
    linked_params: dict[str, str] = field(default_factory=dict)
    #: external USMP pools: name -> bytes (from the AOT header)
    external_pools: dict[str, int] = field(default_factory=dict)
    #: problems with TVM's codegen found before compiling (spec §8)
    codegen_issues: list[str] = field(default_factory=list)
    #: AOT: the entry point's tensor arguments in order, as (role, index) with role
    #: "input", "output" or "param" (parameters bound from const data by name)
    aot_args: list[tuple[str, int]] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return self.meta.targets

    def functions(self) -> dict[str, Function]:
        out: dict[str, Function] = {}
        for f in self.codegen:
            if f.source is not None:
                out.update(f.source.functions)
        return out

    def defined_symbols(self) -> set[str]:
        names = set(self.functions())
        for f in self.codegen:
            if f.elf is not None:
                names |= set(f.elf.defined)
        return names

    def c_sources(self) -> list[CodegenFile]:
        return [f for f in self.codegen if f.kind in ("c", "c++")]

    def objects(self) -> list[CodegenFile]:
        return [f for f in self.codegen if f.kind == "object"]

    def target_flag(self, flag: str) -> str | None:
        for t in self.targets:
            m = re.search(rf"(?:^|\s)-{re.escape(flag)}=(\S+)", t)
            if m:
                return m.group(1)
        return None


@dataclass
class Model:
    path: Path
    source: MlfSource
    metadata: Metadata
    modules: list[Module]
    runtime_bundled: bool
    runtime_files: list[str]
    templates: list[str]
    warnings: list[str]

    @property
    def format_version(self) -> int:
        return self.metadata.version

    def module(self, name: str | None) -> Module:
        if name is None:
            if len(self.modules) > 1:
                names = ", ".join(m.name for m in self.modules)
                raise MlfError(self.path, f"holds several modules ({names}); choose one with MODULE/--module")
            return self.modules[0]
        for m in self.modules:
            if m.name == name:
                return m
        names = ", ".join(m.name for m in self.modules)
        raise MlfError(self.path, f"has no module {printable(name)!r} (it has: {names})")

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
def load_model(path: str | Path, max_total: int = DEFAULT_MAX_TOTAL_SIZE) -> Model:
    src = open_mlf(path, max_total)
    try:
        return _Loader(src).load()
    except BaseException:
        src.close()
        raise


class _Loader:
    def __init__(self, src: MlfSource) -> None:
        self.src = src
        self.warnings: list[str] = []

    def load(self) -> Model:
        src = self.src
        for name, reason in _group_ignored(src.ignored):
            self.warnings.append(f"{src.display(name)}: ignored ({reason})")
        if not src.has("metadata.json"):
            raise MlfError(src.path, _missing_metadata_message(src))
        meta = parse_metadata(src.read_text("metadata.json", MAX_JSON), src.display("metadata.json"))
        self.warnings += [f"{src.display('metadata.json')}: {n}" for n in meta.notes]
        names = [m.name for m in meta.modules]
        if len(set(names)) != len(names):
            raise MlfError(src.display("metadata.json"), "names the same module twice")
        codegen = self._codegen(names, meta)
        modules = [
            self._module(mm, meta, [f for f in codegen if f.module in (mm.name, None)]) for mm in meta.modules
        ]
        runtime_files = src.names("runtime/")
        return Model(
            path=src.path,
            source=src,
            metadata=meta,
            modules=modules,
            runtime_bundled=bool(runtime_files),
            runtime_files=runtime_files,
            templates=src.names("templates/"),
            warnings=self.warnings,
        )

    # -- codegen ---------------------------------------------------------------------------
    def _codegen(self, module_names: list[str], meta: Metadata) -> list[CodegenFile]:
        src = self.src
        out: list[CodegenFile] = []
        single = module_names[0] if len(module_names) == 1 else None
        by_len = sorted(module_names, key=len, reverse=True)
        for name in src.names("codegen/host/"):
            fname = name.rsplit("/", 1)[-1]
            ext = fname.rsplit(".", 1)[-1].lower() if "." in fname else ""
            kind: CodegenKind
            if name.startswith("codegen/host/lib/"):
                kind = "object"
            elif name.startswith("codegen/host/include/") or ext in ("h", "hpp", "inc"):
                kind = "header"
            elif ext == "c":
                kind = "c"
            else:
                kind = "c++"
            owner = single
            if owner is None:
                stem = fname[len("tvmgen_") :] if fname.startswith("tvmgen_") else fname
                owner = next(
                    (m for m in by_len if stem.startswith(m + "_") or stem.startswith(m + ".")), None
                )
            cf = CodegenFile(name, kind, owner)
            if kind == "object":
                data = src.read_bytes(name, MAX_OBJECT)
                cf.elf = parse_elf(data, src.display(name))
            elif kind in ("c", "c++"):
                cf.source = parse_c(src.read_text(name, MAX_SOURCE))
                cf.target = cf.source.target
                if cf.target:
                    kind_word = cf.target.split()[0]
                    cf.byoc = _BYOC.get(kind_word)
            out.append(cf)
        del meta
        return out

    # -- one module ------------------------------------------------------------------------
    def _module(self, mm: ModuleMeta, meta: Metadata, codegen: list[CodegenFile]) -> Module:
        src = self.src
        executor = mm.executors[0] if mm.executors else None
        if mm.style == "operator":
            executor = None
        mod = Module(name=mm.name, meta=mm, style=mm.style, executor=executor, codegen=codegen)
        if mm.style == "full-model" and not is_c_identifier(mm.name):
            raise MlfError(
                src.display("metadata.json"), f"module name {printable(mm.name)!r} is not a C identifier"
            )
        m = mm.name
        mod.graph_member = _first(
            src,
            [
                f"executor-config/graph/{m}.graph",
                "executor-config/graph/graph.json",
                "runtime-config/graph/graph.json",
            ],
        )
        mod.relay_member = _first(src, [f"src/{m}.relay", "src/relay.txt", "relay.txt"])
        mod.header_member = _first(src, [f"codegen/host/include/tvmgen_{m}.h"])
        mod.params_member = _first(src, [f"parameters/{m}.params"])
        if mod.params_member is None and len(meta.modules) == 1:
            candidates = src.names("parameters/")
            if len(candidates) == 1:
                mod.params_member = candidates[0]
        if mm.style == "operator":
            return mod
        if executor is None:
            executor = mod.executor = "graph" if mod.graph_member else "aot"
            self.warnings.append(f"{src.display('metadata.json')}: no executor recorded; assuming {executor}")
        if mod.params_member is not None:
            mod.params = read_params(src, mod.params_member)
        elif executor == "graph":
            raise MlfError(src.path, f"module {m!r} has no parameters/{m}.params")
        if not codegen or not any(f.kind in ("c", "c++", "object") for f in codegen):
            raise MlfError(src.path, f"module {m!r} has no code in codegen/host/src or codegen/host/lib")

        flag = mod.target_flag
        mod.link_params = flag("link-params") in ("1", "true")
        mod.system_lib = (
            flag("system-lib") in ("1", "true") or "TVMSystemLibEntryPoint" in mod.defined_symbols()
        )
        linked = {}
        for f in codegen:
            if f.source is None:
                continue
            for arr in f.source.arrays.values():
                if arr.const and arr.name.startswith("__tvm_param__"):
                    linked[arr.name[len("__tvm_param__") :]] = arr.name
        mod.linked_params = {p.name: linked[p.name] for p in mod.params if p.name in linked}
        if linked:
            mod.link_params = True

        if executor == "graph":
            self._graph_module(mod)
        else:
            self._aot_module(mod)
        check_unique([t.name for t in mod.inputs], "input", src.display())
        check_unique([t.name for t in mod.outputs], "output", src.display())
        return mod

    def _graph_module(self, mod: Module) -> None:
        src = self.src
        if mod.graph_member is None:
            raise MlfError(src.path, f"module {mod.name!r} uses the graph executor but has no graph JSON")
        where = src.display(mod.graph_member)
        g = parse_graph(src.read_text(mod.graph_member, MAX_JSON), where)
        mod.graph = g
        defined = mod.defined_symbols()
        for node in g.op_nodes():
            fn = node.func_name
            if fn in ("__nop", "__copy"):
                continue
            if fn not in defined:
                raise MlfError(
                    where,
                    f"operator {printable(fn or '', 80)!r} (node {node.nid}) is defined in no file "
                    "of codegen/host",
                )
        params = {p.name: p for p in mod.params}
        inputs = []
        for nid in g.arg_nodes:
            node = g.nodes[nid]
            e = g.node_entry(nid)
            if node.name in params:
                p = params[node.name]
                if p.nbytes != e.nbytes or p.dtype != e.dtype:
                    raise MlfError(
                        where,
                        f"parameter {printable(node.name)!r} is {p.dtype} {list(p.shape)} in the params "
                        f"file but {e.dtype} {list(e.shape)} in the graph",
                    )
                continue
            inputs.append(Tensor(node.name, e.dtype, e.shape))
        outputs = [Tensor("", g.entries[eid].dtype, g.entries[eid].shape) for eid in g.heads]
        mod.inputs = inputs
        mod.outputs = _name_outputs(outputs, mod.meta)
        mod.io_source = "graph_json"
        if mod.meta.inputs is not None:
            # Cross-check metadata against the graph: a mismatch means a damaged artifact.
            meta_in = {i.name: i for i in mod.meta.inputs}
            for t in inputs:
                mi = meta_in.get(t.name)
                if mi is not None and mi.size != t.nbytes:
                    raise MlfError(
                        src.display("metadata.json"),
                        f"input {printable(t.name)!r} is {mi.size} bytes but the graph says {t.nbytes}",
                    )

    # -- AOT ---------------------------------------------------------------------------------
    def _aot_module(self, mod: Module) -> None:
        src = self.src
        m = mod.name
        functions = mod.functions()
        header = None
        if mod.header_member is not None:
            header = _parse_aot_header(
                src.read_text(mod.header_member, MAX_JSON), m, src.display(mod.header_member)
            )
        entry = f"tvmgen_{m}_run"
        mod.entry = entry
        defined = mod.defined_symbols()
        if entry not in defined:
            legacy = f"tvmgen_{m}_run_model"
            if legacy in defined:
                mod.entry = legacy
            else:
                raise MlfError(src.path, f"module {m!r} is AOT but defines no {entry}()")
        run = functions.get(mod.entry)
        # Interface: a struct-pointer entry point is the C interface; anything else is packed.
        if run is not None:
            packed = len(run.params) >= 5
            mod.interface = "packed" if packed else "c"
            callees = [name for kind, name, _s, _a in run.events if kind == "call" and name in functions]
            mod.inner_main = callees[0] if callees else None
        else:
            mod.interface = "c" if header is not None else "packed"
            for cand in (f"tvmgen_{m}___tvm_main__", f"tvmgen_{m}_run_model"):
                if cand in defined:
                    mod.inner_main = cand
        if mod.interface == "c" and header is None:
            raise MlfError(
                src.path,
                f"module {m!r} uses the AOT C interface but codegen/host/include/tvmgen_{m}.h is missing",
            )
        unpacked = mod.target_flag("unpacked-api")
        mod.unpacked_api = True if mod.interface == "c" else (unpacked in ("1", "true") if unpacked else None)
        for f in mod.c_sources():
            assert f.source is not None
            for arr in f.source.arrays.values():
                if not arr.const and arr.section and arr.section.startswith(".bss"):
                    mod.usmp_pools.append(arr.name)
        self._check_known_bad(mod, functions)
        self._aot_io(mod, functions, header)

    def _check_known_bad(self, mod: Module, functions: dict[str, Function]) -> None:
        """Spec §8.1: AOT C interface + system-lib declares tvmgen_<m>_run twice with different
        types (issues #14871, #17136, #17194)."""
        entry = f"tvmgen_{mod.name}_run"
        for f in mod.c_sources():
            assert f.source is not None
            decl = f.source.declarations.get(entry)
            if decl is not None and entry in f.source.functions:
                defined = f.source.functions[entry].params_text
                if " ".join(decl.split()) != defined:
                    mod.codegen_issues.append(
                        f"{f.filename} declares {entry}({decl}) for the system-lib registry but defines "
                        f"{entry}({defined}) for the C interface (TVM issue #14871)"
                    )

    def _aot_io(self, mod: Module, functions: dict[str, Function], header: _AotHeader | None) -> None:
        src = self.src
        inner = functions.get(mod.inner_main or "")
        relay = _relay_signature(src.read_text(mod.relay_member, MAX_JSON)) if mod.relay_member else None
        params = {p.name for p in mod.params}
        # 1) names and order
        if header is not None:
            in_names, out_names = header.inputs, header.outputs
            source = "aot_header"
        elif inner is not None:
            in_names, out_names = [], []
            for p in inner.params:
                local = next((a for a, t in inner.aliases.items() if t == p.name), p.name)
                clean = re.sub(r"_buffer_var$", "", local)
                (out_names if re.fullmatch(r"output\d*", clean) else in_names).append(clean)
            source = "aot_source"
        else:
            raise MlfError(
                src.path,
                f"module {mod.name!r}: cannot tell its inputs and outputs (no AOT header, no C source)",
            )
        if mod.meta.inputs is not None and len(mod.meta.inputs) == len(in_names):
            meta_in: dict[str, tuple[int, str]] = {i.name: (i.size, i.dtype) for i in mod.meta.inputs}
            source = "metadata"
        else:
            meta_in = {}
        meta_out: dict[str, tuple[int, str]] = {}
        if mod.meta.outputs is not None and len(mod.meta.outputs) == len(out_names):
            meta_out = {o.name: (o.size, o.dtype) for o in mod.meta.outputs}
        # Parameters bound by name are not user inputs; positions in the inner main still count.
        n_args_in = len(in_names)
        in_pos = {n: i for i, n in enumerate(in_names)}
        in_names = [n for n in in_names if n not in params]
        relay_inputs = [r for r in (relay or []) if r[0] not in params]
        use_relay_order = relay is not None and not any(n in {r[0] for r in relay_inputs} for n in in_names)

        def relay_for(i: int, name: str) -> tuple[str, tuple[int, ...], str] | None:
            for r in relay_inputs:
                if r[0] == name or re.sub(r"[^A-Za-z0-9_]", "_", r[0]) == name:
                    return r
            if use_relay_order and i < len(relay_inputs):
                return relay_inputs[i]
            return None

        def element(pos: int, name: str, is_output: bool) -> str | None:
            """A dtype from the C code: the inner main's parameter type, or how the operator it
            is passed to casts it."""
            if inner is None:
                return None
            idx = pos + n_args_in if is_output else in_pos[name]
            if idx >= len(inner.params):
                return None
            param = inner.params[idx].name
            ctype = inner.element_type(param)
            if ctype is None:
                local = next((a for a, t in inner.aliases.items() if t == param), param)
                for kind, callee, _s, args in inner.events:
                    if kind == "call" and local in args and callee in functions:
                        f = functions[callee]
                        k = args.index(local)
                        if k < len(f.params):
                            ctype = f.element_type(f.params[k].name)
                        if ctype:
                            break
            return _C_TYPES.get(ctype or "")

        sized: list[list] = []  # [is_output, name, dtype|None, shape|None, size|None]
        for i, name in enumerate(in_names):
            size = header.sizes.get(name) if header else None
            dtype = meta_in.get(name, (0, None))[1] if name in meta_in else None
            size = meta_in[name][0] if name in meta_in else size
            r = relay_for(i, name)
            shape = r[1] if r else None
            dtype = dtype or (r[2] if r else None) or element(i, name, False)
            label = r[0] if (r and use_relay_order and header is None) else name
            sized.append([False, label, dtype, shape, size])
        for i, name in enumerate(out_names):
            size = header.sizes.get(name) if header else None
            dtype = None
            if name in meta_out:
                size, dtype = meta_out[name]
            dtype = dtype or element(i, name, True)
            sized.append([True, name, dtype, None, size])
        # 2) sizes that only the total io_size_bytes can give
        for s in sized:
            if s[2] is None:
                raise MlfError(
                    src.path,
                    f"module {mod.name!r}: cannot tell the dtype of "
                    f"{'output' if s[0] else 'input'} {printable(s[1])!r}",
                )
            if s[3] is not None and s[4] is None:
                s[4] = parse_dtype(s[2], src.display()).nbytes(s[3])
        unknown = [s for s in sized if s[4] is None]
        if unknown:
            total = mod.meta.io_size_bytes
            if total is None:
                raise MlfError(
                    src.path, f"module {mod.name!r}: cannot tell the size of {printable(unknown[0][1])!r}"
                )
            rest = total - sum(s[4] for s in sized if s[4] is not None)
            items = [parse_dtype(s[2], src.display()).itemsize for s in unknown]
            if len(unknown) == 1:
                unknown[0][4] = rest
            elif rest == sum(items):
                for s, it in zip(unknown, items, strict=True):
                    s[4] = it
            else:
                names = ", ".join(printable(s[1]) for s in unknown)
                raise MlfError(
                    src.path,
                    f"module {mod.name!r} records only the total I/O size ({total} bytes), "
                    f"which does not determine the sizes of {names}",
                )
            source += "+io_size"
        tensors: list[tuple[bool, Tensor]] = []
        for is_out, name, dtype_s, shape, size in sized:
            dt = parse_dtype(dtype_s, src.display())
            if size < 0 or size % dt.itemsize:
                raise MlfError(
                    src.path,
                    f"module {mod.name!r}: {printable(name)!r} has {size} bytes, not a whole number of {dt}",
                )
            if shape is None or dt.nbytes(shape) != size:
                shape = (size // dt.itemsize,)
            tensors.append((is_out, Tensor(name, dt, tuple(shape))))
        mod.inputs = [t for o, t in tensors if not o]
        mod.outputs = [t for o, t in tensors if o]
        param_index = {p.name: i for i, p in enumerate(mod.params)}
        user_in = iter(range(len(mod.inputs)))
        for name in in_pos:
            mod.aot_args.append(
                ("param", param_index[name]) if name in param_index else ("input", next(user_in))
            )
        mod.aot_args += [("output", j) for j in range(len(mod.outputs))]
        if relay is not None and source != "metadata":
            source += "+relay"
        mod.io_source = source
        if header is not None:
            mod.external_pools = dict(header.pools)
            if header.devices:
                raise MlfError(
                    src.display(mod.header_member or ""),
                    f"module {mod.name!r} needs device hooks ({', '.join(header.devices)}), "
                    "which are not supported",
                )


# --------------------------------------------------------------------------------------------
@dataclass
class _AotHeader:
    inputs: list[str]
    outputs: list[str]
    pools: list[tuple[str, int]]
    devices: list[str]
    sizes: dict[str, int]
    workspace_size: int | None


def _struct_fields(text: str, struct: str) -> list[str] | None:
    m = re.search(rf"struct\s+{re.escape(struct)}\s*\{{(.*?)\}}", text, re.S)
    if m is None:
        return None
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", m.group(1), flags=re.S)
    return re.findall(r"\bvoid\s*\*\s*(\w+)\s*;", body)


def _parse_aot_header(text: str, m: str, where: str) -> _AotHeader:
    inputs = _struct_fields(text, f"tvmgen_{m}_inputs")
    outputs = _struct_fields(text, f"tvmgen_{m}_outputs")
    if inputs is None or outputs is None:
        raise MlfError(where, f"has no struct tvmgen_{m}_inputs/outputs")
    up = m.upper()
    macros = {k: int(v) for k, v in re.findall(r"#define\s+(\w+)\s+\(?(\d+)\)?", text)}
    sizes = {}
    for name in inputs + outputs:
        key = f"TVMGEN_{up}_{name.upper()}_SIZE"
        if key in macros:
            sizes[name] = macros[key]
    pools = []
    for pool in _struct_fields(text, f"tvmgen_{m}_workspace_pools") or []:
        key = f"TVMGEN_{up}_{pool.upper()}_WORKSPACE_POOL_SIZE"
        if key not in macros:
            raise MlfError(where, f"declares workspace pool {pool!r} without its size macro {key}")
        pools.append((pool, macros[key]))
    devices = _struct_fields(text, f"tvmgen_{m}_devices") or []
    return _AotHeader(inputs, outputs, pools, devices, sizes, macros.get(f"TVMGEN_{up}_WORKSPACE_SIZE"))


_RELAY_MAIN = re.compile(r"def\s+@main\s*\((.*?)\)\s*(->|\{)", re.S)
_RELAY_ARG = re.compile(r"%([\w.:/-]+)\s*:\s*Tensor\[\(([^)]*)\),\s*(\w+)\]")


def _relay_signature(text: str) -> list[tuple[str, tuple[int, ...], str]] | None:
    m = _RELAY_MAIN.search(text)
    if m is None:
        return None
    out = []
    for a in _RELAY_ARG.finditer(m.group(1)):
        dims = [d.strip() for d in a.group(2).split(",") if d.strip()]
        if not all(d.isdigit() for d in dims):
            return None  # dynamic shapes: leave it to other sources
        out.append((a.group(1), tuple(int(d) for d in dims), a.group(3)))
    return out


def _name_outputs(outputs: list[Tensor], meta: ModuleMeta) -> list[Tensor]:
    names = [("output" if len(outputs) == 1 else f"output{i}") for i in range(len(outputs))]
    if meta.outputs is not None and len(meta.outputs) == len(outputs):
        given = [o.name for o in meta.outputs]
        if len(given) == 1:
            names = given
        elif all(re.fullmatch(r"output\d+", n) for n in given):
            names = sorted(given, key=lambda n: int(n[6:]))
    return [Tensor(n, t.dtype, t.shape) for n, t in zip(names, outputs, strict=True)]


def _first(src: MlfSource, names: list[str]) -> str | None:
    return next((n for n in names if src.has(n)), None)


def _group_ignored(ignored: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One warning per junk folder rather than per file inside it."""
    out: list[tuple[str, str]] = []
    seen_dirs: set[str] = set()
    for name, reason in ignored:
        if reason == "editor or tool folder":
            top = name.split("/")[0]
            parts = name.split("/")
            idx = next(
                i
                for i, p in enumerate(parts)
                if p in {".git", ".svn", ".hg", ".vscode", ".idea", "__pycache__", ".ipynb_checkpoints"}
            )
            top = "/".join(parts[: idx + 1]) + "/"
            if top in seen_dirs:
                continue
            seen_dirs.add(top)
            out.append((top, reason))
        else:
            out.append((name, reason))
    return out


def _missing_metadata_message(src: MlfSource) -> str:
    have = sorted(
        {"/".join(n.split("/")[:2]) if n.startswith("codegen/") else n.split("/")[0] for n in src.members}
    )
    if not have:
        return "has no metadata.json and no MLF files: not a Model Library Format archive"
    missing = ["metadata.json"]
    if not src.names("parameters/"):
        missing.append("parameters/<model>.params")
    if not (src.names("src/") or src.has("relay.txt")):
        missing.append("src/ (the Relay text)")
    if any(n.startswith("codegen/") for n in src.members):
        return (
            f"is a partial MLF: it holds only {', '.join(have)} and lacks {', '.join(missing)}; "
            "export the complete tarball (tvm.micro.export_model_library_format) instead of the "
            "codegen folder a project generator copied"
        )
    return f"has no metadata.json (it holds {', '.join(have[:5])}): not a Model Library Format archive"
