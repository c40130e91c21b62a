"""Build-time planning: where every tensor of a run lives and how big the arena must be.

Graph modules get a static plan from the graph JSON: each storage id is either bound to a
caller buffer (input/output), to const parameter data, or given an offset in the arena; the
operators' scratch (TVMBackendAllocWorkspace) comes after the static part. AOT modules only
need the scratch peak (and any external USMP pools). Sizes come from reading the generated C
where possible (exact) and from metadata.json otherwise (TVM's own bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .csource import align_up, workspace_peak
from .errors import MlfError, printable
from .graph import Entry, Graph
from .model import Model, Module
from .params import ParamTensor

ARENA_MIN_ALIGN = 16  # TVM_RUNTIME_ALLOC_ALIGNMENT_BYTES default; generated code assumes it

# Entry locations (emit/runner.py encodes them as MLF_ARG_* of mlf_runtime_internal.h)
ARENA, INPUT, OUTPUT, CONST = 0, 1, 2, 3


@dataclass(frozen=True)
class Slot:
    """Where one tensor of the plan lives."""

    loc: int
    index: int  # arena offset, input/output number, or parameter number
    entry: Entry | None = None  # graph entry (shape/dtype), None for AOT bindings


@dataclass
class GraphStep:
    func: str | None  # operator symbol, or None for a copy (args = [src, dst])
    args: list[int]  # indices into GraphPlan.slots


@dataclass
class GraphPlan:
    slots: list[Slot]
    steps: list[GraphStep]
    max_args: int


@dataclass
class Plan:
    module: Module
    align: int
    params_align: int
    static_size: int
    dynamic_size: int
    #: True when the scratch size was read from the C sources; False when bounded by metadata
    exact: bool
    graph: GraphPlan | None = None
    #: AOT external pools: (name, arena offset, size)
    pools: list[tuple[str, int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def workspace_size(self) -> int:
        return self.static_size + self.dynamic_size

    @property
    def params(self) -> list[ParamTensor]:
        return self.module.params

    @property
    def params_size(self) -> int:
        return sum(p.nbytes for p in self.module.params)


def plan_module(model: Model, mod: Module, align: int = ARENA_MIN_ALIGN, params_align: int = 16) -> Plan:
    if mod.style != "full-model" or mod.executor is None:
        raise MlfError(
            model.path,
            f"module {mod.name!r} is an operator-style export (tvm.build): it has no model to run",
        )
    if align <= 0 or align & (align - 1) or params_align <= 0 or params_align & (params_align - 1):
        raise MlfError(model.path, f"alignment must be a power of two (got {align})")
    arena_align = max(align, ARENA_MIN_ALIGN)
    plan = Plan(mod, arena_align, params_align, 0, 0, True)
    if mod.executor == "graph":
        assert mod.graph is not None
        _plan_graph(model, mod, mod.graph, plan)
    else:
        _plan_aot(model, mod, plan)
    return plan


def _op_scratch(model: Model, mod: Module, func: str, align: int) -> tuple[int, bool]:
    """Peak scratch of one operator call, and whether it is exact."""
    functions = mod.functions()
    if func in functions:
        peak = workspace_peak(functions, func, align)
        if peak is not None:
            return peak, True
    # An object file or non-constant sizes: TVM's per-function figure sums every allocation, so
    # it bounds the LIFO peak once each allocation's alignment padding is added.
    meta = mod.meta.operator_workspace.get(func)
    sites = 0
    for f in mod.objects():
        if f.elf is not None:
            sites += f.elf.alloc_sites.get(func, 0)
    if meta is not None:
        return align_up(meta, align) + max(sites, 1) * align, False
    if mod.meta.workspace_size_bytes is not None:
        return align_up(mod.meta.workspace_size_bytes, align) + max(sites, 1) * align, False
    raise MlfError(
        model.path,
        f"cannot size the workspace of {printable(func, 80)!r}: no C source and no "
        "memory.functions entry in metadata.json",
    )


def _plan_graph(model: Model, mod: Module, g: Graph, plan: Plan) -> None:
    params = {p.name: i for i, p in enumerate(mod.params)}
    sid_size: dict[int, int] = {}
    sid_users: dict[int, list[Entry]] = {}
    for e in g.entries:
        sid_size[e.storage_id] = max(sid_size.get(e.storage_id, 0), e.nbytes)
        sid_users.setdefault(e.storage_id, []).append(e)

    home: dict[int, Slot] = {}  # storage id -> where it lives
    copies_in: list[tuple[Slot, int]] = []  # (source, storage id)
    input_entries: set[int] = set()
    const_entries: set[int] = set()
    input_no = 0
    for nid in g.arg_nodes:
        node = g.nodes[nid]
        e = g.node_entry(nid)
        if node.name in params:
            src = Slot(CONST, params[node.name], e)
            const_entries.add(e.eid)
        else:
            src = Slot(INPUT, input_no, e)
            input_entries.add(e.eid)
            input_no += 1
        if len(sid_users[e.storage_id]) == 1 and e.storage_id not in home:
            home[e.storage_id] = src
        else:
            copies_in.append((src, e.storage_id))
    copies_out: list[tuple[int, int]] = []  # (storage id, output number)
    for j, eid in enumerate(g.heads):
        e = g.entries[eid]
        out_bytes = mod.outputs[j].nbytes
        sid = e.storage_id
        if eid in input_entries or eid in const_entries or sid in home or out_bytes < sid_size[sid]:
            copies_out.append((sid, j))
        else:
            home[sid] = Slot(OUTPUT, j, e)
    offset = 0
    for sid in sorted(sid_size):
        if sid not in home:
            home[sid] = Slot(ARENA, offset)
            offset = align_up(offset + sid_size[sid], plan.align)
    plan.static_size = offset

    slots: list[Slot] = []
    slot_of: dict[tuple[int, int, int], int] = {}

    def slot(loc: int, index: int, e: Entry) -> int:
        key = (loc, index, e.eid)
        if key not in slot_of:
            slot_of[key] = len(slots)
            slots.append(Slot(loc, index, e))
        return slot_of[key]

    def entry_slot(e: Entry) -> int:
        h = home[e.storage_id]
        return slot(h.loc, h.index, e)

    steps: list[GraphStep] = []
    for src, _sid in copies_in:
        assert src.entry is not None
        steps.append(GraphStep(None, [slot(src.loc, src.index, src.entry), entry_slot(src.entry)]))
    dynamic = 0
    for node in g.op_nodes():
        ins = [g.entries[i] for i in node.inputs]
        outs = [g.node_entry(node.nid, k) for k in range(node.num_outputs)]
        if node.func_name in ("__nop", "__copy"):
            # __nop aliases its output to its input (a reshape); copy only if the plan did not.
            for a, b in zip(ins, outs, strict=False):
                if node.func_name == "__copy" or a.storage_id != b.storage_id:
                    steps.append(GraphStep(None, [entry_slot(a), entry_slot(b)]))
            continue
        assert node.func_name is not None
        steps.append(GraphStep(node.func_name, [entry_slot(e) for e in ins + outs]))
        scratch, exact = _op_scratch(model, mod, node.func_name, plan.align)
        dynamic = max(dynamic, scratch)
        plan.exact = plan.exact and exact
    for sid, j in copies_out:
        e = g.entries[g.heads[j]]
        steps.append(GraphStep(None, [slot(home[sid].loc, home[sid].index, e), slot(OUTPUT, j, e)]))
    plan.dynamic_size = dynamic
    max_args = max((len(s.args) for s in steps if s.func is not None), default=0)
    if len(slots) > 0xFFFF or len(steps) > 0xFFFF:
        raise MlfError(model.path, f"module {mod.name!r} has too many graph entries for the runner")
    _check_arena(model, mod, plan)
    plan.graph = GraphPlan(slots, steps, max(max_args, 1))


#: The runtime addresses the arena with 32-bit offsets (mlf_graph_entry_t), for either executor.
MAX_ARENA = (1 << 32) - 1


def _check_arena(model: Model, mod: Module, plan: Plan) -> None:
    if plan.workspace_size > MAX_ARENA:
        raise MlfError(
            model.path, f"module {mod.name!r} needs a {plan.workspace_size}-byte arena (limit 4 GiB)"
        )


def _plan_aot(model: Model, mod: Module, plan: Plan) -> None:
    offset = 0
    for name, size in mod.external_pools.items():
        plan.pools.append((name, offset, size))
        offset = align_up(offset + size, plan.align)
    plan.static_size = offset
    functions = mod.functions()
    root = mod.entry if mod.entry in functions else mod.inner_main
    if root is not None and root in functions:
        peak = workspace_peak(functions, root, plan.align)
        if peak is not None:
            plan.dynamic_size = peak
            _check_arena(model, mod, plan)
            return
    plan.exact = False
    ws = mod.meta.workspace_size_bytes
    if ws is None:
        raise MlfError(
            model.path, f"module {mod.name!r}: cannot size its workspace (no C source, no metadata)"
        )
    sites = sum(sum(f.elf.alloc_sites.values()) for f in mod.objects() if f.elf is not None)
    plan.dynamic_size = align_up(ws, plan.align) + max(sites, 1) * plan.align
    plan.notes.append("workspace bounded from metadata.json (no C source to read)")
    _check_arena(model, mod, plan)
