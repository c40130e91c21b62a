"""Build-time planning: where every tensor of a run lives and how big the arena must be.

Graph modules get a static plan from the graph JSON: each storage id is either bound to a
caller buffer (input/output), to const parameter data, or kept in the arena. Arena tensors get
offsets from their lifetimes (``packing``): a tensor and the operator scratch
(TVMBackendAllocWorkspace) of a step may take the bytes of tensors dead at that step, whatever
storage id TVM gave them. The plan TVM's storage ids imply (each storage id its own bytes, the
scratch after them) is kept as the fallback, and the smaller of the two is used. AOT modules
only need the scratch peak of TVM's own allocation sequence (and any external USMP pools); its
liveness bound is computed for ``inspect`` and the report. Sizes come from reading the
generated C where possible (exact) and from metadata.json otherwise (TVM's own bound).

The runtime serves all operator scratch from one window of the arena, LIFO from
``scratch_offset`` (mlf_arena.c): a step's scratch occupies [scratch_offset, scratch_offset +
its peak). The lifetime plan puts that window at offset 0 and keeps every tensor live at a
step above that step's scratch.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

from ..errors import MlfError, printable
from ..read.csource import Function, align_up, workspace_peak
from ..read.graph import Entry, Graph
from ..read.model import Model, Module
from ..read.params import ParamTensor
from . import packing

ARENA_MIN_ALIGN = 16  # TVM_RUNTIME_ALLOC_ALIGNMENT_BYTES default; generated code assumes it


class Location(IntEnum):
    """Where a tensor of the plan lives (Slot.loc); emit/runner.py encodes each as an MLF_ARG_*
    kind of mlf_runtime_internal.h."""

    ARENA = 0  # Slot.index: an offset in the arena
    INPUT = 1  # the caller's input number Slot.index
    OUTPUT = 2  # the caller's output number Slot.index
    CONST = 3  # parameter number Slot.index


ARENA, INPUT, OUTPUT, CONST = Location.ARENA, Location.INPUT, Location.OUTPUT, Location.CONST

# How a plan placed the arena (Plan.layout).
LIFETIMES = "lifetimes"  # graph: offsets from tensor lifetimes, scratch window at 0
STORAGE_IDS = "storage ids"  # graph: one region per TVM storage id, scratch after them
TVM_ORDER = "TVM's allocation order"  # AOT: TVM's code allocates, the runtime serves it LIFO


@dataclass(frozen=True)
class Slot:
    """Where one tensor of the plan lives."""

    loc: Location
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


@dataclass(frozen=True)
class Block:
    """Bytes of the arena held over a range of steps: a tensor, or one step's operator scratch."""

    name: str
    kind: str  # "tensor" or "scratch"
    offset: int
    size: int
    first: int
    last: int


@dataclass
class ArenaMap:
    """The plan as a picture: what each step runs and which bytes are held when."""

    steps: list[str]  # operator of each step, or "copy"
    blocks: list[Block]


@dataclass
class Plan:
    module: Module
    align: int
    params_align: int
    #: end of the highest planned tensor (or USMP pool): a run needs at least this many bytes
    tensors_size: int
    #: the operators' scratch window: the runtime serves it LIFO from this offset (at most
    #: tensors_size); scratch_size is the most any one step holds
    scratch_offset: int
    scratch_size: int
    #: True when the scratch size was read from the C sources; False when bounded by metadata
    exact: bool
    graph: GraphPlan | None = None
    #: AOT external pools: (name, arena offset, size)
    pools: list[tuple[str, int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layout: str = TVM_ORDER
    #: the most bytes live at any one step (tensors plus that step's scratch); no plan of the
    #: same graph and operators needs fewer. None when the code does not tell (no C source).
    lower_bound: int | None = None
    #: graph: what the storage-id plan would need (the fallback); AOT: None
    storage_id_size: int | None = None
    arena_map: ArenaMap | None = None

    @property
    def workspace_size(self) -> int:
        return max(self.tensors_size, self.scratch_offset + self.scratch_size)

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
    plan = Plan(mod, arena_align, params_align, 0, 0, 0, True)
    if mod.executor == "graph":
        assert mod.graph is not None
        _plan_graph(model, mod, mod.graph, plan)
    else:
        _plan_aot(model, mod, plan)
    # The runtime starts the scratch inside the tensors' extent (mlf_arena.c checks only that).
    assert plan.scratch_offset <= plan.tensors_size
    _check_arena(model, mod, plan)
    return plan


#: The runtime addresses the arena with 32-bit offsets (mlf_run_spec_t), for either executor.
MAX_ARENA = (1 << 32) - 1


def _check_arena(model: Model, mod: Module, plan: Plan) -> None:
    if plan.workspace_size > MAX_ARENA:
        raise MlfError(
            model.path, f"module {mod.name!r} needs a {plan.workspace_size}-byte arena (limit 4 GiB)"
        )


class _Scratch:
    """Peak scratch of operator calls: the call graph is walked once for all operators, and the
    allocator's call sites counted once for all objects (a graph may call thousands)."""

    def __init__(self, model: Model, mod: Module, align: int) -> None:
        self.model = model
        self.mod = mod
        self.align = align
        self.functions = mod.functions()
        self.memo: dict[str, int | None] = {}
        self.sites: dict[str, int] = {}
        for f in mod.objects():
            if f.elf is not None:
                for func, n in f.elf.alloc_sites.items():
                    self.sites[func] = self.sites.get(func, 0) + n

    def of(self, func: str) -> tuple[int, bool]:
        """Peak scratch of one operator call, and whether it is exact."""
        mod, align = self.mod, self.align
        if func in self.functions:
            peak = workspace_peak(self.functions, func, align, self.memo)
            if peak is not None:
                return peak, True
        # An object file or non-constant sizes: TVM's per-function figure sums every allocation, so
        # it bounds the LIFO peak once each allocation's alignment padding is added.
        meta = mod.meta.operator_workspace.get(func)
        sites = self.sites.get(func, 0)
        if meta is not None:
            return align_up(meta, align) + max(sites, 1) * align, False
        if mod.meta.workspace_size_bytes is not None:
            return align_up(mod.meta.workspace_size_bytes, align) + max(sites, 1) * align, False
        raise MlfError(
            self.model.path,
            f"cannot size the workspace of {printable(func, 80)!r}: no C source and no "
            "memory.functions entry in metadata.json",
        )


# --------------------------------------------------------------------------------------------
# Graph modules


@dataclass
class _Binding:
    """Which storage ids live in the caller's buffers or in parameter data, and the copies
    needed where TVM's storage plan shares such a buffer."""

    home: dict[int, Slot]  # storage id -> caller or const buffer
    copies_in: list[tuple[Slot, Entry]]  # (source, entry whose storage receives it)
    copies_out: list[tuple[Entry, int]]  # (head entry, output number)


def _bind_storage(mod: Module, g: Graph) -> _Binding:
    params = {p.name: i for i, p in enumerate(mod.params)}
    sid_size: dict[int, int] = {}
    sid_users: dict[int, int] = {}
    for e in g.entries:
        sid_size[e.storage_id] = max(sid_size.get(e.storage_id, 0), e.nbytes)
        sid_users[e.storage_id] = sid_users.get(e.storage_id, 0) + 1
    b = _Binding({}, [], [])
    bound_entries: set[int] = set()
    input_no = 0
    for nid in g.arg_nodes:
        node = g.nodes[nid]
        e = g.node_entry(nid)
        if node.name in params:
            src = Slot(CONST, params[node.name], e)
        else:
            src = Slot(INPUT, input_no, e)
            input_no += 1
        bound_entries.add(e.eid)
        if sid_users[e.storage_id] == 1 and e.storage_id not in b.home:
            b.home[e.storage_id] = src
        else:
            b.copies_in.append((src, e))
    for j, eid in enumerate(g.heads):
        e = g.entries[eid]
        sid = e.storage_id
        if eid in bound_entries or sid in b.home or mod.outputs[j].nbytes < sid_size[sid]:
            b.copies_out.append((e, j))
        else:
            b.home[sid] = Slot(OUTPUT, j, e)
    return b


#: A step argument before placement: a fixed slot, or an arena entry (placed by the layout).
_Arg = tuple[Slot | None, Entry]


@dataclass
class _Steps:
    funcs: list[str | None]
    args: list[list[_Arg]]
    scratch: list[int]  # peak operator scratch of each step (0 for copies)


def _graph_steps(model: Model, mod: Module, g: Graph, b: _Binding, plan: Plan) -> _Steps:
    def where(e: Entry) -> _Arg:
        return (b.home.get(e.storage_id), e)

    s = _Steps([], [], [])

    def add(func: str | None, args: list[_Arg], scratch: int = 0) -> None:
        s.funcs.append(func)
        s.args.append(args)
        s.scratch.append(scratch)

    scratch_of = _Scratch(model, mod, plan.align)
    for src, e in b.copies_in:
        add(None, [(src, e), where(e)])
    for node in g.op_nodes():
        ins = [g.entries[i] for i in node.inputs]
        outs = [g.node_entry(node.nid, k) for k in range(node.num_outputs)]
        if node.func_name in ("__nop", "__copy"):
            # __nop aliases its output to its input (a reshape); copy only if the plan did not.
            for a, o in zip(ins, outs, strict=False):
                if node.func_name == "__copy" or a.storage_id != o.storage_id:
                    add(None, [where(a), where(o)])
            continue
        assert node.func_name is not None
        scratch, exact = scratch_of.of(node.func_name)
        plan.exact = plan.exact and exact
        add(node.func_name, [where(e) for e in ins + outs], scratch)
    for e, j in b.copies_out:
        add(None, [where(e), (Slot(OUTPUT, j, e), e)])
    return s


def _alias_groups(g: Graph) -> dict[int, int]:
    """Entry id -> the entry whose bytes it shares. An operator's output shares bytes with an
    input only where TVM gave both one storage id: TVM's graph memory planner ties a
    reshape-only call's output to its input (ReuseInputToken), and the graph codegen turns such
    a call into ``__nop`` (src/relay/backend/graph_plan_memory.cc, graph_executor_codegen.cc, at
    a531d170b9^); exports that still call the reshape kernel run it in place. Every other call
    gets fresh storage tokens, so any other storage id shared by two tensors is reuse of bytes
    TVM knew to be dead: the lifetime plan is free to separate those."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for node in g.op_nodes():
        for k in range(node.num_outputs):
            o = g.node_entry(node.nid, k)
            for i in node.inputs:
                a = g.entries[i]
                if a.storage_id == o.storage_id and root(o.eid) != root(a.eid):
                    parent[root(o.eid)] = root(a.eid)
    return {eid: root(eid) for eid in parent}


@dataclass
class _Tensor:
    """One arena tensor: an entry with its aliases, over the steps that touch it."""

    members: list[Entry]
    first: int
    last: int
    size: int


def _arena_tensors(g: Graph, steps: _Steps, align: int) -> dict[int, _Tensor]:
    alias = _alias_groups(g)
    tensors: dict[int, _Tensor] = {}
    for t, args in enumerate(steps.args):
        for slot, e in args:
            if slot is not None:
                continue
            key = alias.get(e.eid, e.eid)
            x = tensors.get(key)
            if x is None:
                tensors[key] = _Tensor([e], t, t, align_up(e.nbytes, align))
                continue
            if e not in x.members:
                x.members.append(e)
            x.first, x.last = min(x.first, t), max(x.last, t)
            x.size = max(x.size, align_up(e.nbytes, align))
    return tensors


def _storage_id_offsets(g: Graph, b: _Binding, align: int) -> tuple[dict[int, int], int]:
    """TVM's storage ids laid end to end: offset of each storage id kept in the arena."""
    sid_size: dict[int, int] = {}
    for e in g.entries:
        sid_size[e.storage_id] = max(sid_size.get(e.storage_id, 0), e.nbytes)
    offsets: dict[int, int] = {}
    end = 0
    for sid in sorted(sid_size):
        if sid not in b.home:
            offsets[sid] = end
            end = align_up(end + sid_size[sid], align)
    return offsets, end


def _lifetime_offsets(tensors: list[_Tensor], scratch: list[int]) -> list[int] | None:
    """Offsets from lifetimes, each tensor above the scratch of every step it spans (the
    window starts at 0). None when the graph is too large to pack in bounded time."""
    highest = packing.range_max(scratch or [0])
    buffers = [packing.Buffer(x.size, x.first, x.last, highest(x.first, x.last)) for x in tensors]
    bound = packing.liveness_bound(buffers, len(scratch), scratch)
    offsets = packing.pack(buffers, len(scratch), bound)
    if offsets is not None:
        blocks = buffers + [packing.Buffer(n, t, t) for t, n in enumerate(scratch) if n]
        where = offsets + [0] * (len(blocks) - len(buffers))
        clash = packing.overlaps(blocks, where)
        assert clash is None, f"lifetime plan overlaps live buffers {clash}"
        assert all(o >= b.floor for o, b in zip(offsets, buffers, strict=True))
    return offsets


def _entry_label(g: Graph, e: Entry) -> str:
    node = g.nodes[e.node]
    return node.name if node.num_outputs == 1 else f"{node.name}:{e.index}"


def _plan_graph(model: Model, mod: Module, g: Graph, plan: Plan) -> None:
    binding = _bind_storage(mod, g)
    steps = _graph_steps(model, mod, g, binding, plan)
    if len(steps.funcs) > 0xFFFF:  # before planning: packing is sized for the runner's tables
        raise MlfError(model.path, f"module {mod.name!r} has too many graph entries for the runner")
    tensors = _arena_tensors(g, steps, plan.align)
    keys = sorted(tensors)
    ordered = [tensors[k] for k in keys]
    plan.lower_bound = packing.liveness_bound(
        [packing.Buffer(x.size, x.first, x.last) for x in ordered], len(steps.scratch), steps.scratch
    )
    offsets = _arena_offsets(g, binding, steps, tensors, plan)
    plan.graph = _graph_plan(model, mod, g, steps, offsets)
    blocks = [
        Block(
            " = ".join(_entry_label(g, e) for e in x.members), "tensor", offsets[k], x.size, x.first, x.last
        )
        for k, x in zip(keys, ordered, strict=True)
        if x.size
    ]
    blocks += [
        Block(f"scratch of {steps.funcs[t]}", "scratch", plan.scratch_offset, n, t, t)
        for t, n in enumerate(steps.scratch)
        if n
    ]
    plan.arena_map = ArenaMap([f or "copy" for f in steps.funcs], blocks)


def _arena_offsets(
    g: Graph, binding: _Binding, steps: _Steps, tensors: dict[int, _Tensor], plan: Plan
) -> dict[int, int]:
    """The offset of each arena tensor (by alias group): the storage-id plan, or the lifetime
    plan when it needs fewer bytes. Sets the plan's layout, sizes and scratch window."""
    keys = sorted(tensors)
    ordered = [tensors[k] for k in keys]
    peak_scratch = max(steps.scratch, default=0)
    sid_offsets, sid_end = _storage_id_offsets(g, binding, plan.align)
    plan.storage_id_size = sid_end + peak_scratch
    offset_of = {k: sid_offsets[tensors[k].members[0].storage_id] for k in keys}
    plan.layout, plan.tensors_size, plan.scratch_offset = STORAGE_IDS, sid_end, sid_end
    plan.scratch_size = peak_scratch
    lifetime = _lifetime_offsets(ordered, steps.scratch)
    if lifetime is None:
        plan.notes.append("too many tensors live at once for the lifetime planner: storage-id plan used")
    else:
        end = max((o + x.size for o, x in zip(lifetime, ordered, strict=True)), default=0)
        if max(end, peak_scratch) < plan.storage_id_size:
            plan.layout, plan.tensors_size, plan.scratch_offset = LIFETIMES, end, 0
            offset_of = dict(zip(keys, lifetime, strict=True))
    return offset_of


def _graph_plan(model: Model, mod: Module, g: Graph, steps: _Steps, offset_of: dict[int, int]) -> GraphPlan:
    """The runner's table: one slot per distinct (location, index, entry), the steps by slot."""
    alias = _alias_groups(g)
    slots: list[Slot] = []
    slot_of: dict[tuple[int, int, int], int] = {}

    def slot(arg: _Arg) -> int:
        fixed, e = arg
        if fixed is None:
            fixed = Slot(ARENA, offset_of[alias.get(e.eid, e.eid)])
        key = (fixed.loc, fixed.index, e.eid)
        if key not in slot_of:
            slot_of[key] = len(slots)
            slots.append(Slot(fixed.loc, fixed.index, e))
        return slot_of[key]

    graph_steps = [
        GraphStep(f, [slot(a) for a in args]) for f, args in zip(steps.funcs, steps.args, strict=True)
    ]
    max_args = max((len(s.args) for s in graph_steps if s.func is not None), default=0)
    if len(slots) > 0xFFFF or len(graph_steps) > 0xFFFF:
        raise MlfError(model.path, f"module {mod.name!r} has too many graph entries for the runner")
    return GraphPlan(slots, graph_steps, max(max_args, 1))


# --------------------------------------------------------------------------------------------
# AOT modules


def _allocating_function(functions: dict[str, Function], root: str) -> Function | None:
    """The function whose allocation sequence is the run's: TVM's inner main, reached from
    the entry point through the wrappers that only forward to it."""
    seen = set()
    fn = functions.get(root)
    while fn is not None and fn.name not in seen:
        seen.add(fn.name)
        if any(kind == "alloc" for kind, *_ in fn.events):
            return fn
        callees = [name for kind, name, _, _ in fn.events if kind == "call" and name in functions]
        if len(callees) != 1:
            return fn
        fn = functions[callees[0]]
    return fn


def _aot_liveness(
    functions: dict[str, Function], fn: Function, align: int, base: int
) -> tuple[int, ArenaMap] | None:
    """TVM's own allocation sequence replayed: each TVMBackendAllocWorkspace of the inner main
    at the offset the runtime's LIFO allocator gives it, each call's internal scratch above the
    allocations held at that call. Returns the liveness bound (allocations live at a call, from
    the first call that passes them to the last, plus that call's scratch) and the picture;
    None when a size is not a constant. Linear in the events: the main comes from the archive,
    and may hold many thousands of allocations across as many calls."""
    steps: list[str] = []
    scratch_at: list[tuple[int, int]] = []  # (offset, bytes) of each call's scratch
    held: list[tuple[str, int, int, int]] = []  # LIFO: (variable, offset, size, step allocated)
    held_names: Counter[str] = Counter()  # the variables in ``held``
    reserved: list[_Reserved] = []  # (variable, offset, size, first, last)
    passed: dict[str, list[int]] = {}  # variable -> steps of the calls passing it while held
    memo: dict[str, int | None] = {}  # one walk of the call graph for all the calls
    top = 0
    for kind, name, size, args in fn.events:
        if kind == "alloc":
            if size is None:
                return None
            n = align_up(size, align) if size else 0
            held.append((name, top, n, len(steps)))
            held_names[name] += 1
            top += n
        elif kind == "free" and held_names[name]:
            # The runtime releases the block and everything allocated after it.
            while held:
                var, off, n, since = held.pop()
                held_names[var] -= 1
                reserved.append((var, off, n, since, len(steps) - 1))
                top = off
                if var == name:
                    break
        elif name in functions and name != fn.name:
            peak = workspace_peak(functions, name, align, memo)
            if peak is None:
                return None
            for word in set(re.findall(r"\b\w+\b", " ".join(args))):
                if held_names[word]:
                    passed.setdefault(word, []).append(len(steps))
            steps.append(name)
            scratch_at.append((top, peak))
    for var, off, n, since in held:  # never freed: held to the end
        reserved.append((var, off, n, since, len(steps) - 1))
    return _aot_picture(reserved, _passing_calls(reserved, passed), steps, scratch_at, base)


#: An allocation of the replay: (variable, offset, size, first step held, last step held)
_Reserved = tuple[str, int, int, int, int]


def _passing_calls(
    reserved: list[_Reserved], passed: dict[str, list[int]]
) -> dict[tuple[str, int], tuple[int, int]]:
    """(variable, offset) -> the first and last step of a call passing it while it was held
    there (``passed``: each variable's calls, in step order)."""
    uses: dict[tuple[str, int], tuple[int, int]] = {}
    for var, off, _n, first, last in reserved:
        at = passed.get(var, [])
        lo, hi = bisect.bisect_left(at, first), bisect.bisect_right(at, last) - 1
        if lo <= hi:
            was = uses.get((var, off), (at[lo], at[hi]))
            uses[(var, off)] = (min(was[0], at[lo]), max(was[1], at[hi]))
    return uses


def _aot_picture(
    reserved: list[_Reserved],
    uses: dict[tuple[str, int], tuple[int, int]],
    steps: list[str],
    scratch_at: list[tuple[int, int]],
    base: int,
) -> tuple[int, ArenaMap]:
    """The liveness bound of the replay and its picture (allocations and each call's scratch)."""
    blocks = []
    live: list[packing.Buffer] = []
    for var, off, n, first, last in sorted(reserved, key=lambda r: (r[1], r[3])):
        if n == 0 or last < first:
            continue  # nothing held, or held across no call
        # An allocation no call names (passed some other way) counts as live while held.
        lo, hi = uses.get((var, off), (first, last))
        live.append(packing.Buffer(n, lo, hi))
        blocks.append(Block(var, "tensor", base + off, n, first, last))
    for t, (off, peak) in enumerate(scratch_at):
        if peak:
            blocks.append(Block(f"scratch of {steps[t]}", "scratch", base + off, peak, t, t))
    bound = packing.liveness_bound(live, len(steps), [p for _o, p in scratch_at])
    return bound, ArenaMap(steps, blocks)


def _plan_aot(model: Model, mod: Module, plan: Plan) -> None:
    offset = 0
    for name, size in mod.external_pools.items():
        plan.pools.append((name, offset, size))
        offset = align_up(offset + size, plan.align)
    plan.tensors_size = plan.scratch_offset = offset
    functions = mod.functions()
    root = mod.entry if mod.entry in functions else mod.inner_main
    if root is not None and root in functions:
        peak = workspace_peak(functions, root, plan.align)
        if peak is not None:
            plan.scratch_size = peak
            fn = _allocating_function(functions, root)
            found = _aot_liveness(functions, fn, plan.align, offset) if fn is not None else None
            if found is not None:
                bound, plan.arena_map = found
                steps = len(plan.arena_map.steps)
                pools = [
                    Block(n, "tensor", o, size, 0, max(steps - 1, 0)) for n, o, size in plan.pools if size
                ]
                plan.arena_map.blocks[:0] = pools
                # With USMP, TVM placed the tensors in its pools itself: no bound to compare with.
                if not mod.usmp_pools and not mod.external_pools:
                    plan.lower_bound = bound
            return
    plan.exact = False
    ws = mod.meta.workspace_size_bytes
    if ws is None:
        raise MlfError(
            model.path, f"module {mod.name!r}: cannot size its workspace (no C source, no metadata)"
        )
    sites = sum(sum(f.elf.alloc_sites.values()) for f in mod.objects() if f.elf is not None)
    plan.scratch_size = align_up(ws, plan.align) + max(sites, 1) * plan.align
    plan.notes.append("workspace bounded from metadata.json (no C source to read)")
