"""One version-independent description of an MLF: its modules, their executor and interface,
inputs, outputs, parameters and codegen files. ``load_model`` is the entry point.

Everything is probed from what the artifact actually holds (TVM changed the layout several times
without a version bump; tests/fixtures/mlf_export.py lists the layouts with the TVM commits they
imitate); where a fact comes from is recorded (``io_source``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..dtypes import DType
from ..errors import MlfError, has_control, printable
from ..naming import check_unique, relay_name_candidates
from ..validate import is_c_identifier, relative_path
from .aot import AotHeader, name_graph_outputs, parse_aot_header, resolve_aot_io
from .archive import DEFAULT_MAX_TOTAL_SIZE, MlfSource, open_mlf
from .csource import CSource, Function, parse_c
from .elf import ElfInfo, parse_elf
from .facts import Facts, IoOverride, IoTensor, check_io_total, settle
from .graph import Graph, parse_graph
from .limits import Budget
from .metadata import IoMeta, Metadata, ModuleMeta, parse_metadata
from .params import ParamTensor, read_params
from .relay import RelayMain, RelayTensorType, RelayType, parse_relay_main

MAX_JSON = 64 << 20
MAX_SOURCE = 256 << 20
MAX_OBJECT = 256 << 20
_BYOC = {"cmsis-nn": "cmsis-nn", "ethos-u": "ethos-u", "ethosu": "ethos-u", "uma": "uma"}
#: The header every CMSIS-NN source of TVM includes (relay/backend/contrib/cmsisnn/
#: tir_to_runtime.cc, all versions): it marks the file even where no ``// tvm target:`` line does.
_CMSIS_NN_HEADER = "arm_nnfunctions.h"

CodegenKind = Literal["c", "c++", "object", "header"]


@dataclass(frozen=True)
class Tensor:
    """An input or output. ``name`` is the model's own name (``serving_default_input_1:0``),
    ``member`` the C name of TVM's AOT entry-point argument (``serving_default_input_1_0``)."""

    name: str
    dtype: DType
    shape: tuple[int, ...] | None  # None: the archive does not record it (old AOT exports)
    member: str | None = None
    #: fact ("shape", "dtype", "nbytes") -> the source it came from (see facts.py)
    origin: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: other sources that stated a fact and agreed
    checked: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.shape is not None

    @property
    def dims(self) -> tuple[int, ...]:
        """The shape, for code that runs only once every shape is known (generate checks)."""
        assert self.shape is not None, f"shape of {self.name!r} is not known"
        return self.shape

    @property
    def nbytes(self) -> int:
        return self.dtype.nbytes(self.dims)


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

    @property
    def c_metadata(self) -> bool:
        """TVM's C metadata module: ``kTvmgenMetadata`` and its getter, nothing else
        (source_module.cc CreateAotMetadataModule; packed AOT in TVM 0.9+, graph in 0.9-0.11)."""
        s = self.source
        return (
            s is not None
            and bool(s.functions)
            and all(name.endswith("get_c_metadata") for name in s.functions)
            and all(name.startswith("kTvmgenMetadata") for name in s.arrays)
        )


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
    #: AOT: members of struct tvmgen_<m>_devices, in order (e.g. ``ethos_u``): devices whose
    #: hooks (TVMDevice<Name>Activate/Open/Close/Deactivate) the model calls
    devices: list[str] = field(default_factory=list)
    #: problems with TVM's codegen found before compiling (workarounds.py)
    codegen_issues: list[str] = field(default_factory=list)
    #: AOT: the entry point's tensor arguments in order, as (role, index) with role
    #: "input", "output" or "param" (parameters bound from const data by name)
    aot_args: list[tuple[str, int]] = field(default_factory=list)
    #: AOT: the C name of each of those arguments (TVM's struct members for the C interface)
    aot_arg_names: list[str] = field(default_factory=list)
    #: AOT C interface: constant pools of struct tvmgen_<m>_workspace_pools (name -> bytes),
    #: which the library fills from TVM's _CONSTANT_POOL_DATA macro
    constant_pools: dict[str, int] = field(default_factory=dict)
    _functions: dict[str, Function] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def targets(self) -> list[str]:
        return self.meta.targets

    @property
    def direct_call(self) -> bool:
        """AOT whose entry is TVM's inner main with one pointer per tensor (no run wrapper)."""
        return self.executor == "aot" and self.entry != f"tvmgen_{self.name}_run" and bool(self.unpacked_api)

    def functions(self) -> dict[str, Function]:
        """The functions of the module's C sources (the last definition of a name wins). Made
        once: planning asks for every operator of the graph."""
        if self._functions is None:
            self._functions = {}
            for f in self.codegen:
                if f.source is not None:
                    self._functions.update(f.source.functions)
        return self._functions

    def defined_symbols(self) -> set[str]:
        names = set(self.functions())
        for f in self.codegen:
            if f.elf is not None:
                names |= set(f.elf.defined)
        return names

    def c_sources(self) -> list[CodegenFile]:
        return [f for f in self.codegen if f.kind in ("c", "c++")]

    def unused_sources(self) -> list[CodegenFile]:
        """Sources no other code of the module refers to, which the library leaves out: the C
        metadata module, unless a system-lib registry lists its getter (graph models of TVM
        0.9-0.11 do). The static runner never asks TVM's metadata for anything."""
        out = []
        for f in self.c_sources():
            if not f.c_metadata:
                continue
            assert f.source is not None
            names = set(f.source.functions)
            used = any(
                names
                & (
                    set(o.source.declarations)
                    | {c for fn in o.source.functions.values() for k, c, _s, _a in fn.events if k == "call"}
                )
                for o in self.c_sources()
                if o is not f and o.source is not None
            )
            if not used:
                out.append(f)
        return out

    def objects(self) -> list[CodegenFile]:
        return [f for f in self.codegen if f.kind == "object"]

    def uses_cmsis_nn(self) -> bool:
        return any(f.byoc == "cmsis-nn" for f in self.codegen)

    def cmsis_nn_functions(self) -> list[str]:
        """The CMSIS-NN functions (``arm_*``) TVM's cmsis-nn code calls, sorted: what the
        build must link (tir_to_runtime.cc emits one call per partitioned function)."""
        defined = self.defined_symbols()
        called: set[str] = set()
        for f in self.codegen:
            if f.byoc != "cmsis-nn" or f.source is None:
                continue
            for fn in f.source.functions.values():
                called.update(
                    name
                    for kind, name, _size, _args in fn.events
                    if kind == "call" and name.startswith("arm_") and name not in defined
                )
        return sorted(called)

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
def load_model(
    path: str | Path,
    max_total: int = DEFAULT_MAX_TOTAL_SIZE,
    io_overrides: dict[str, IoOverride] | None = None,
    aot_api: str | None = None,
) -> Model:
    """Read and check an MLF. ``io_overrides`` supplies shapes (and dtypes) of inputs/outputs
    that old AOT exports do not record; ``aot_api`` ("packed"/"unpacked") the calling
    convention of an AOT entry point compiled to an object, which the MLF does not record."""
    src = open_mlf(path, max_total)
    try:
        return _Loader(src, io_overrides or {}, aot_api).load()
    except BaseException:
        src.close()
        raise


class _Loader:
    def __init__(self, src: MlfSource, overrides: dict[str, IoOverride], aot_api: str | None) -> None:
        self.src = src
        self.overrides = overrides
        self.aot_api = aot_api
        self.warnings: list[str] = []
        #: items looked at one by one, counted across all the members (limits.py)
        self.budget = Budget()

    def load(self) -> Model:
        src = self.src
        self.warnings += _ignored_warnings(src, _group_ignored(src.ignored))
        if not src.has("metadata.json"):
            raise MlfError(src.path, _missing_metadata_message(src))
        meta = parse_metadata(
            src.read_text("metadata.json", MAX_JSON), src.display("metadata.json"), self.budget
        )
        self.warnings += [f"{src.display('metadata.json')}: {n}" for n in meta.notes]
        names = [m.name for m in meta.modules]
        if len(set(names)) != len(names):
            raise MlfError(src.display("metadata.json"), "names the same module twice")
        codegen = self._codegen(names)
        # Each module's files, and those no module name claims, in codegen order.
        own: dict[str | None, list[int]] = {}
        for i, f in enumerate(codegen):
            own.setdefault(f.module, []).append(i)
        shared = own.get(None, [])
        modules = [
            self._module(mm, meta, [codegen[i] for i in sorted(own.get(mm.name, []) + shared)])
            for mm in meta.modules
        ]
        runtime_files = src.names("runtime/")
        for name in runtime_files:
            if name.startswith("runtime/include/") and name.endswith(".h"):  # copied for tvm_crt
                _check_copied_name(src, name, len("runtime/"))
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
    def _codegen(self, module_names: list[str]) -> list[CodegenFile]:
        src = self.src
        out: list[CodegenFile] = []
        single = module_names[0] if len(module_names) == 1 else None
        known = set(module_names)
        for name in src.names("codegen/host/"):
            _check_copied_name(src, name, len("codegen/host/"))
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
                # The longest module name the file name starts with, followed by '_' or '.'.
                stem = fname[len("tvmgen_") :] if fname.startswith("tvmgen_") else fname
                cuts = [m.start() for m in re.finditer(r"[_.]", stem)]
                owner = next((stem[:k] for k in reversed(cuts) if stem[:k] in known), None)
            cf = CodegenFile(name, kind, owner)
            if kind == "object":
                data = src.read_bytes(name, MAX_OBJECT)
                cf.elf = parse_elf(data, src.display(name), budget=self.budget)
            elif kind in ("c", "c++"):
                cf.source = parse_c(src.read_utf8(name, MAX_SOURCE), src.display(name), self.budget)
                cf.target = cf.source.target
                if cf.target:
                    kind_word = cf.target.split()[0]
                    cf.byoc = _BYOC.get(kind_word)
                if cf.byoc is None and _CMSIS_NN_HEADER in cf.source.includes:
                    cf.byoc = "cmsis-nn"
                if cf.byoc is None and _calls(cf.source, "TVMEthosULaunch"):
                    cf.byoc = "ethos-u"  # the NPU module's C has no "// tvm target:" line
            out.append(cf)
        return out

    # -- one module ------------------------------------------------------------------------
    def _module(self, mm: ModuleMeta, meta: Metadata, codegen: list[CodegenFile]) -> Module:
        src = self.src
        executor = mm.executors[0] if mm.executors else None
        if mm.style == "operator":
            executor = None
        mod = Module(name=mm.name, meta=mm, style=mm.style, executor=executor, codegen=codegen)
        if mm.style == "full-model" and not is_c_identifier(mm.name, part=True):
            raise MlfError(
                src.display("metadata.json"), f"module name {printable(mm.name)!r} is not a C identifier"
            )
        m = mm.name
        self._find_members(mod, len(meta.modules) == 1)
        if mm.style == "operator":
            return mod
        if executor is None:
            executor = mod.executor = "graph" if mod.graph_member else "aot"
            self.warnings.append(f"{src.display('metadata.json')}: no executor recorded; assuming {executor}")
        if mod.params_member is not None:
            mod.params = read_params(src, mod.params_member, self.budget)
        elif executor == "graph":
            raise MlfError(src.path, f"module {m!r} has no parameters/{m}.params")
        if not codegen or not any(f.kind in ("c", "c++", "object") for f in codegen):
            raise MlfError(src.path, f"module {m!r} has no code in codegen/host/src or codegen/host/lib")
        self._link_options(mod)
        if executor == "graph":
            self._graph_module(mod)
        else:
            self._aot_module(mod)
        self._check_tensor_names(mod)
        return mod

    def _find_members(self, mod: Module, single_module: bool) -> None:
        """Where the module's graph JSON, Relay text, AOT header and params file are, under the
        names each TVM version gave them."""
        src, m = self.src, mod.name
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
        if mod.params_member is None and single_module:
            candidates = src.names("parameters/")
            if len(candidates) == 1:
                mod.params_member = candidates[0]

    def _link_options(self, mod: Module) -> None:
        """link-params and system-lib, from the target string or from what the code defines, and
        the parameters TVM linked into its C."""
        flag = mod.target_flag
        mod.link_params = flag("link-params") in ("1", "true")
        mod.system_lib = (
            flag("system-lib") in ("1", "true") or "TVMSystemLibEntryPoint" in mod.defined_symbols()
        )
        linked = {}
        for f in mod.codegen:
            if f.source is None:
                continue
            for arr in f.source.arrays.values():
                if arr.const and arr.name.startswith("__tvm_param__"):
                    linked[arr.name[len("__tvm_param__") :]] = arr.name
        mod.linked_params = {p.name: linked[p.name] for p in mod.params if p.name in linked}
        self._check_linked_sizes(mod)
        if linked:
            mod.link_params = True

    def _check_tensor_names(self, mod: Module) -> None:
        """Names printable and unique, and the inputs and outputs within metadata.json's bound."""
        src = self.src
        for kind, tensors in (("input", mod.inputs), ("output", mod.outputs), ("parameter", mod.params)):
            for t in tensors:
                if has_control(t.name):
                    raise MlfError(src.path, f"{kind} name {printable(t.name)!r} contains control characters")
        check_unique([t.name for t in mod.inputs], "input", src.display())
        check_unique([t.name for t in mod.outputs], "output", src.display())
        io = mod.inputs + mod.outputs
        if all(t.known for t in io):
            given = [t.name for t in io if t.origin.get("shape") == "override"]
            total = sum(t.nbytes for t in io)
            check_io_total(mod.name, mod.meta.io_size_bytes, total, src.display("metadata.json"), given)

    def _graph_module(self, mod: Module) -> None:
        src = self.src
        if mod.graph_member is None:
            raise MlfError(src.path, f"module {mod.name!r} uses the graph executor but has no graph JSON")
        where = src.display(mod.graph_member)
        g = parse_graph(src.read_text(mod.graph_member, MAX_JSON), where, self.budget)
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
        relay = self._relay(mod)
        relay_types = {
            n: t for printed, t in (relay.params if relay else []) for n in relay_name_candidates(printed)
        }
        meta_in = {i.name: i for i in mod.meta.inputs or []}
        meta_out = {o.name: o for o in mod.meta.outputs or []}
        facts: list[Facts] = []
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
            f = Facts("input", node.name, [("graph_json", e.shape)], [("graph_json", e.dtype.name)])
            _relay_facts(f, relay_types.get(node.name))
            _meta_facts(f, meta_in.get(node.name))
            facts.append(f)
        heads = [(g.entries[eid].dtype, g.entries[eid].shape) for eid in g.heads]
        names, warning = name_graph_outputs(heads, mod.meta, relay)
        if warning:
            self.warnings.append(f"{src.display('metadata.json')}: {warning}")
        returns = relay.returns if relay and relay.returns and len(relay.returns) == len(heads) else None
        for j, (name, (dt, shape)) in enumerate(zip(names, heads, strict=True)):
            f = Facts("output", name, [("graph_json", shape)], [("graph_json", dt.name)])
            _relay_facts(f, returns[j] if returns else None)
            _meta_facts(f, meta_out.get(name))
            facts.append(f)
        tensors = self._settle(mod, [(f, None) for f in facts], src.display("metadata.json"))
        mod.inputs = tensors[: len(facts) - len(heads)]
        mod.outputs = tensors[len(facts) - len(heads) :]
        mod.io_source = "graph_json"

    def _settle(self, mod: Module, facts: list[tuple[Facts, str | None]], where: str) -> list[Tensor]:
        """Tensors from what every source says: one value per fact, or a one-line error."""
        known = {f.name for f, _m in facts} | {m for _f, m in facts if m}
        for name in self.overrides:
            if name not in known:
                raise MlfError(
                    self.src.path,
                    f"--io-shape names {printable(name)!r}, which is not an input or output "
                    f"({', '.join(sorted(f.name for f, _m in facts))})",
                )
        out = []
        for f, member in facts:
            over = self.overrides.get(f.name) or (self.overrides.get(member) if member else None)
            out.append(_tensor(IoTensor(f.name, member, settle(mod.name, f, over, where))))
        return out

    # -- AOT ---------------------------------------------------------------------------------
    def _aot_module(self, mod: Module) -> None:
        src = self.src
        m = mod.name
        functions = mod.functions()
        header: AotHeader | None = None
        if mod.header_member is not None:
            header = parse_aot_header(
                src.read_text(mod.header_member, MAX_JSON), m, src.display(mod.header_member)
            )
        self._aot_entry(mod, functions, header)
        for f in mod.c_sources():
            assert f.source is not None
            for arr in f.source.arrays.values():
                if not arr.const and arr.section and arr.section.startswith(".bss"):
                    mod.usmp_pools.append(arr.name)
        self._check_known_bad(mod, functions)
        self._aot_io(mod, functions, header)

    def _aot_entry(self, mod: Module, functions: dict[str, Function], header: AotHeader | None) -> None:
        """The entry point, the inner main it forwards to, and the interface: C (structs) or
        packed, and whether the packed one is unpacked (one pointer per tensor)."""
        src, m = self.src, mod.name
        defined = mod.defined_symbols()
        # tvmgen_<m>_run is the entry point; LLVM exports (no C metadata module) offer only the
        # packed __tvm_main__, and 2021 exports named the inner function run_model.
        candidates = [f"tvmgen_{m}_run", f"tvmgen_{m}___tvm_main__", f"tvmgen_{m}_run_model"]
        mod.entry = next((c for c in candidates if c in defined), None)
        if mod.entry is None:
            raise MlfError(src.path, f"module {m!r} is AOT but defines no tvmgen_{m}_run()")
        run = functions.get(mod.entry)
        unpacked = mod.target_flag("unpacked-api")
        mod.unpacked_api = unpacked in ("1", "true") if unpacked else None
        # Interface: a struct-pointer entry point is the C interface; anything else is packed.
        if run is not None and mod.entry == f"tvmgen_{m}_run":
            mod.interface = "packed" if len(run.params) >= 5 else "c"
            callees = [name for kind, name, _s, _a in run.events if kind == "call" and name in functions]
            mod.inner_main = callees[0] if callees else None
        elif run is not None:
            # No run() wrapper: the inner main itself, packed or with one pointer per tensor.
            mod.interface = "packed"
            mod.unpacked_api = len(run.params) < 5 or "TVMValue" not in run.params_text
            mod.inner_main = mod.entry
        else:
            mod.interface = "c" if header is not None else "packed"
            for cand in (f"tvmgen_{m}___tvm_main__", f"tvmgen_{m}_run_model"):
                if cand in defined and cand != mod.entry:
                    mod.inner_main = cand
            if mod.entry != f"tvmgen_{m}_run" and self.aot_api is not None:
                mod.unpacked_api = self.aot_api == "unpacked"
        if mod.interface == "c" and header is None:
            raise MlfError(
                src.path,
                f"module {m!r} uses the AOT C interface but codegen/host/include/tvmgen_{m}.h is missing",
            )
        if mod.interface == "c":
            mod.unpacked_api = True

    def _aot_io(self, mod: Module, functions: dict[str, Function], header: AotHeader | None) -> None:
        """Inputs, outputs and the entry point's arguments (aot.resolve_aot_io), and what the
        header declares besides: external pools, constant pools, devices."""
        io = resolve_aot_io(
            module=mod.name,
            meta=mod.meta,
            header=header,
            inner=functions.get(mod.inner_main or ""),
            functions=functions,
            relay=self._relay(mod),
            params=[p.name for p in mod.params],
            overrides=self.overrides,
            where=str(self.src.path),
        )
        mod.inputs = [_tensor(t) for t in io.inputs]
        mod.outputs = [_tensor(t) for t in io.outputs]
        mod.aot_args = io.args
        mod.aot_arg_names = io.arg_names
        mod.io_source = io.source
        if header is not None:
            mod.external_pools = dict(header.pools)
            mod.constant_pools = dict(header.constant_pools)
            # Described by inspect; generate says what building them needs (never a reason to
            # refuse reading a well-formed archive).
            mod.devices = list(header.devices)

    def _check_linked_sizes(self, mod: Module) -> None:
        """A parameter TVM linked into its C is read through the array: the array must hold
        exactly the bytes the params file gives the parameter (a shorter one is read past its
        end at run time)."""
        for p in mod.params:
            array = mod.linked_params.get(p.name)
            if array is None:
                continue
            for f in mod.c_sources():
                assert f.source is not None
                arr = f.source.arrays.get(array)
                if arr is not None and arr.nbytes != p.nbytes:
                    have = f"{arr.nbytes} bytes" if arr.nbytes is not None else f"{arr.ctype} elements"
                    raise MlfError(
                        self.src.display(f.path),
                        f"array {printable(array)} holds {have}, but parameter {printable(p.name)!r} is "
                        f"{p.nbytes} bytes in {mod.params_member}",
                    )

    def _relay(self, mod: Module) -> RelayMain | None:
        if mod.relay_member is None:
            return None
        return parse_relay_main(self.src.read_text(mod.relay_member, MAX_JSON))

    def _check_known_bad(self, mod: Module, functions: dict[str, Function]) -> None:
        """AOT C interface + system-lib declares tvmgen_<m>_run twice with different types
        (TVM issues #14871, #17136, #17194)."""
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


# --------------------------------------------------------------------------------------------
def _tensor(t: IoTensor) -> Tensor:
    f = t.facts
    return Tensor(t.name, f.dtype, f.shape, t.member, dict(f.origin), f.checked)


def _relay_facts(f: Facts, t: RelayType | None) -> None:
    if isinstance(t, RelayTensorType):
        f.dtypes.append(("relay", t.dtype))
        if t.shape is not None:
            f.shapes.append(("relay", t.shape))


def _meta_facts(f: Facts, m: IoMeta | None) -> None:
    if m is not None:
        f.sizes.append(("metadata", m.size))
        f.dtypes.append(("metadata", m.dtype))


def _check_copied_name(src: MlfSource, name: str, skip: int) -> None:
    """A member the generator may copy into the output must have a name build files can hold."""
    relative_path(name[skip:], src.display(name))


def _calls(source: CSource, name: str) -> bool:
    return any(
        kind == "call" and callee == name
        for fn in source.functions.values()
        for kind, callee, _s, _a in fn.events
    )


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


#: Ignored files named one warning each up to this many; more are summed up in one line.
MAX_IGNORED_LISTED = 10


def _ignored_warnings(src: MlfSource, ignored: list[tuple[str, str]]) -> list[str]:
    if len(ignored) <= MAX_IGNORED_LISTED:
        return [f"{src.display(name)}: ignored ({reason})" for name, reason in ignored]
    reasons = "; ".join(sorted({reason for _, reason in ignored}))
    first = ", ".join(printable(name, 60) for name, _ in ignored[:3])
    return [f"{src.display()}: ignored {len(ignored)} files ({reasons}), e.g. {first}"]


def _missing_metadata_message(src: MlfSource) -> str:
    every = list(src.members) + [name for name, _reason in src.ignored]
    if every and all(re.fullmatch(r"(lib\d+|devc)\.(o|c|cc|cpp)", n) for n in every):
        # runtime.Module.export_library("mod.tar"): the objects (or C) of a shared library.
        return (
            f"is a TVM export_library() archive ({', '.join(sorted(every)[:4])}), not a Model Library "
            "Format archive; export the built module with tvm.micro.export_model_library_format "
            "(TVM 0.8-0.18) instead"
        )
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
