"""The arena plan against the liveness bound, computed here from the graph JSON and the
operators' scratch without the planner: on every graph fixture and every graph model of the
corpus the lifetime plan is no larger than the storage-id plan and within 5% (or 64 bytes) of
the bound. Also: the packing itself (no two live buffers share a byte, floors hold, stable
output, bounded work), aliasing (in-place operators keep sharing bytes) and the AOT bound."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlf_build import get_runtime_dir
from mlf_build.plan import packing
from mlf_build.plan import plan as plan_mod
from mlf_build.plan.plan import ARENA, LIFETIMES, STORAGE_IDS, TVM_ORDER, plan_module
from mlf_build.read.csource import align_up, parse_c, workspace_peak
from mlf_build.read.model import load_model
from tests import fixtures
from tests.conftest import corpus_dir, corpus_item, have, run_cli
from tests.firmware import Smoke, run
from tests.mlf_factory import minimal_files, write_tar

ALIGN = 16
GRAPH_LAYOUTS = [x for x in fixtures.LAYOUTS if fixtures.layout_info(x)["executor"] == "graph"]
CORPUS_GRAPHS = [
    "arduino-yesno-v4-graph",
    "gtvm-v2-graph-c-lib0only",
    "gtvm-v2-graph-c-syslib",
    "nitesh-llvm-aarch64-v5-graph",
    "snu-v7-graph",
]
GRAPH_MEMBERS = ("executor-config/graph/", "runtime-config/graph/")


# --------------------------------------------------------------------------------------------
# The bound, from the archive alone


@dataclass
class Independent:
    bound: int  # liveness bound: most bytes of arena tensors + scratch live at one step
    storage_ids: int  # TVM's storage ids end to end, plus the largest scratch (the old plan)
    tensors: int  # arena tensors (aliases counted once) of at least one byte


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {
            m.name.removeprefix("./"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _scratch(files: dict[str, bytes], path: Path) -> dict[str, int]:
    """Peak TVMBackendAllocWorkspace bytes of each operator: read from TVM's C where there is
    C, else TVM's per-operator figure in metadata.json plus one alignment per allocation site
    (objects: TVM sums the allocations, padding not included)."""
    functions = {}
    for name, data in files.items():
        if name.startswith("codegen/host/src/") and name.endswith(".c"):
            functions.update(parse_c(data.decode()).functions)
    if functions:
        return {f: workspace_peak(functions, f, ALIGN) or 0 for f in functions}
    model = load_model(path)
    (mod,) = model.modules
    sites: dict[str, int] = {}
    for f in mod.objects():
        assert f.elf is not None
        for func, n in f.elf.alloc_sites.items():
            sites[func] = sites.get(func, 0) + n
    model.close()
    return {
        f: align_up(ws, ALIGN) + max(sites.get(f, 0), 1) * ALIGN
        for f, ws in mod.meta.operator_workspace.items()
    }


def independent(path: Path) -> Independent:
    files = _members(path)
    (graph_name,) = [n for n in files if n.startswith(GRAPH_MEMBERS) and n.endswith((".graph", ".json"))]
    g = json.loads(files[graph_name])
    scratch_of = _scratch(files, path)
    nodes = g["nodes"]
    row = [0]
    for node in nodes:
        row.append(row[-1] + int(node.get("attrs", {}).get("num_outputs", 1)))
    sids, shapes, dtypes = (g["attrs"][k][1] for k in ("storage_id", "shape", "dltype"))

    def nbytes(eid: int) -> int:
        m = re.fullmatch(r"[a-z_]+?(\d*)(?:x(\d+))?", dtypes[eid])
        assert m is not None, dtypes[eid]
        n = (int(m.group(1) or 8) * int(m.group(2) or 1) + 7) // 8  # bool: one byte
        for d in shapes[eid]:
            n *= d
        return n

    # Caller and parameter buffers: the storage of every graph input and parameter, and of an
    # output where the caller's buffer can hold all of that storage's tensors (else the output
    # is copied out of the arena at the end).
    sid_bytes: dict[int, int] = {}
    for e, sid in enumerate(sids):
        sid_bytes[sid] = max(sid_bytes.get(sid, 0), nbytes(e))
    args = {row[n] for n in g["arg_nodes"]}
    outside = {sids[e] for e in args}
    copied_out = []
    for h in g["heads"]:
        e = row[h[0]] + h[1]
        if e in args or sids[e] in outside or nbytes(e) < sid_bytes[sids[e]]:
            copied_out.append(e)
        else:
            outside.add(sids[e])
    # Tensors sharing bytes: an operator output with its input's storage id (reshape-only
    # calls, __nop or not, which TVM plans in place).
    alias = {e: e for e in range(len(sids))}

    def root(e: int) -> int:
        while alias[e] != e:
            e = alias[e]
        return e

    steps: list[tuple[list[int], int]] = []  # (entries touched, scratch) per step
    for nid, node in enumerate(nodes):
        if node["op"] == "null":
            continue
        ins = [row[i[0]] + i[1] for i in node["inputs"]]
        outs = list(range(row[nid], row[nid + 1]))
        for o in outs:
            for i in ins:
                if sids[i] == sids[o]:
                    alias[root(o)] = root(i)
        func = node["attrs"]["func_name"]
        if func == "__nop" and all(sids[i] == sids[o] for i, o in zip(ins, outs, strict=False)):
            continue  # no step: nothing runs
        steps.append((ins + outs, 0 if func in ("__nop", "__copy") else scratch_of[func]))
    steps += [([e], 0) for e in copied_out]
    span: dict[int, list[int]] = {}
    size: dict[int, int] = {}
    for t, (touched, _) in enumerate(steps):
        for e in touched:
            if sids[e] in outside:
                continue
            r = root(e)
            lo, hi = span.get(r, [t, t])
            span[r] = [min(lo, t), max(hi, t)]
            size[r] = max(size.get(r, 0), align_up(nbytes(e), ALIGN))
    bound = max(
        sum(size[r] for r, (lo, hi) in span.items() if lo <= t <= hi) + scratch
        for t, (_, scratch) in enumerate(steps)
    )
    arena = [align_up(n, ALIGN) for sid, n in sid_bytes.items() if sid not in outside]
    old = sum(arena) + max(s for _, s in steps)
    return Independent(bound, old, sum(1 for n in size.values() if n))


def _graph_models(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    out = []
    tmp = tmp_path_factory.mktemp("graphs")
    for layout in GRAPH_LAYOUTS:
        llvm = fixtures.layout_info(layout)["llvm"]
        if llvm and not have("gcc"):
            continue
        out.append((layout, fixtures.export(layout, tmp / layout, cc="gcc" if llvm else None)))
    if corpus_dir().is_dir():
        out += [(name, corpus_item(corpus_dir(), name)) for name in CORPUS_GRAPHS]
    return out


@pytest.fixture(scope="module")
def graph_models(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    return _graph_models(tmp_path_factory)


def test_arena_at_the_liveness_bound(graph_models: list[tuple[str, Path]]) -> None:
    """Every graph: lifetime plan <= storage-id plan, and <= 1.05x (or 64 B over) the bound."""
    rows = []
    for name, path in graph_models:
        ref = independent(path)
        with load_model(path) as model:
            plan = plan_module(model, model.modules[0])
        rows.append(f"{name:32} old {ref.storage_ids:8} new {plan.workspace_size:8} bound {ref.bound:8}")
        assert plan.storage_id_size == ref.storage_ids, name
        assert plan.workspace_size <= ref.storage_ids, name
        assert plan.lower_bound == ref.bound, name
        assert plan.workspace_size <= max(ref.bound * 105 // 100, ref.bound + 64), rows[-1]
    print("\n" + "\n".join(rows))
    names = [n for n, _ in graph_models]
    assert len(names) >= len(GRAPH_LAYOUTS) - 1, names


@pytest.mark.skipif(not corpus_dir().is_dir(), reason="MLF corpus not found")
def test_keyword_spotting_graph_reaches_its_bound() -> None:
    # The case that motivated the lifetime plan: TVM's storage ids need 17,392 B end to end
    # (12,032 of tensors + 5,360 of scratch); the liveness bound is 13,280.
    path = corpus_item(corpus_dir(), "arduino-yesno-v4-graph")
    with load_model(path) as model:
        plan = plan_module(model, model.modules[0])
    assert (plan.storage_id_size, plan.lower_bound, plan.workspace_size) == (17392, 13280, 13280)
    assert plan.layout == LIFETIMES and plan.scratch_offset == 0


def test_plan_is_deterministic_and_aliases_share_bytes(graph_models: list[tuple[str, Path]]) -> None:
    for name, path in graph_models:
        with load_model(path) as m1, load_model(path) as m2:
            p1, p2 = plan_module(m1, m1.modules[0]), plan_module(m2, m2.modules[0])
            g = m1.modules[0].graph
        assert p1.graph is not None and p2.graph is not None and g is not None
        assert [(s.loc, s.index, s.entry) for s in p1.graph.slots] == [
            (s.loc, s.index, s.entry) for s in p2.graph.slots
        ], name
        # An operator whose output has its input's storage id ran in place in TVM's plan: it
        # still does (the kernel may rely on it), every other pair of tensors is free to move.
        offset = {s.entry.eid: s.index for s in p1.graph.slots if s.loc == ARENA and s.entry}
        for node in g.op_nodes():
            for i in node.inputs:
                o = g.node_entry(node.nid)
                if g.entries[i].storage_id == o.storage_id and i in offset and o.eid in offset:
                    assert offset[i] == offset[o.eid], (name, node.name)


def test_live_tensors_and_scratch_never_overlap(graph_models: list[tuple[str, Path]]) -> None:
    """Replay each plan step by step: the bytes of every tensor an operator touches, and of its
    scratch, are disjoint from those of every other tensor still to be read."""
    for name, path in graph_models:
        with load_model(path) as model:
            plan = plan_module(model, model.modules[0])
        assert plan.graph is not None and plan.arena_map is not None
        steps = plan.graph.steps
        last_use: dict[int, int] = {}
        for t, step in enumerate(steps):
            for a in step.args:
                last_use[a] = t
        first_use = {}
        for t in reversed(range(len(steps))):
            for a in steps[t].args:
                first_use[a] = t
        for t in range(len(steps)):
            live = [
                (s.index, align_up(s.entry.nbytes, ALIGN), s.entry.eid)
                for a, s in enumerate(plan.graph.slots)
                if s.loc == ARENA
                and s.entry is not None
                and first_use.get(a, 1 << 30) <= t <= last_use.get(a, -1)
            ]
            scratch = [b for b in plan.arena_map.blocks if b.kind == "scratch" and b.first == t]
            regions = live + [(b.offset, b.size, -1) for b in scratch]
            for x, (o1, n1, e1) in enumerate(regions):
                assert o1 + n1 <= plan.workspace_size, (name, t)
                for o2, n2, e2 in regions[x + 1 :]:
                    same_bytes = (o1, n1) == (o2, n2) or e1 == e2
                    shared = o1 < o2 + n2 and o2 < o1 + n1
                    assert not shared or (same_bytes and e1 >= 0 and e2 >= 0 and _aliased(plan, e1, e2)), (
                        name,
                        t,
                    )


def _aliased(plan, e1: int, e2: int) -> bool:  # type: ignore[no-untyped-def]
    g = plan.module.graph
    return g.entries[e1].storage_id == g.entries[e2].storage_id


def test_storage_id_plan_when_lifetimes_do_not_help() -> None:
    # Ties keep TVM's own layout (and its scratch-after-tensors exactness proof).
    path = corpus_item(corpus_dir(), "nitesh-llvm-aarch64-v5-graph") if corpus_dir().is_dir() else None
    if path is None:
        pytest.skip("MLF corpus not found")
    with load_model(path) as model:
        plan = plan_module(model, model.modules[0])
    assert plan.layout == STORAGE_IDS and plan.workspace_size == plan.storage_id_size == 864
    assert plan.scratch_offset == plan.tensors_size


# --------------------------------------------------------------------------------------------
# AOT: TVM's allocation order against the same bound


@pytest.mark.skipif(not corpus_dir().is_dir(), reason="MLF corpus not found")
def test_aot_bound_from_the_allocation_sequence() -> None:
    # run_model allocates sid_6 (8000), sid_5 (4000), sid_3 and sid_2 (16 each) up front; the
    # convolution (call 1, 5360 B of its own scratch) needs only sid_6 and sid_5: 17,360 B.
    # TVM's order holds the two 16-byte buffers across it too: 17,392 B.
    path = corpus_item(corpus_dir(), "arduino-yesno-v5-aot")
    with load_model(path) as model:
        plan = plan_module(model, model.modules[0])
    assert plan.layout == TVM_ORDER
    assert (plan.workspace_size, plan.lower_bound) == (17392, 17360)
    assert plan.arena_map is not None and len(plan.arena_map.steps) == 6
    held = {b.name: (b.offset, b.size) for b in plan.arena_map.blocks if b.kind == "tensor"}
    assert held == {"sid_6": (0, 8000), "sid_5": (8000, 4000), "sid_3": (12000, 16), "sid_2": (12016, 16)}
    conv = [b for b in plan.arena_map.blocks if b.kind == "scratch" and b.first == 1]
    assert [(b.offset, b.size) for b in conv] == [(12032, 5360)]


def test_usmp_modules_have_no_bound(fixture_models: dict[str, Path]) -> None:
    with load_model(fixture_models["v7-aot-c-usmp"]) as model:
        plan = plan_module(model, model.modules[0])
    assert plan.lower_bound is None and plan.workspace_size == 0


# --------------------------------------------------------------------------------------------
# Packing


buffers_st = st.lists(
    st.builds(
        lambda size, first, length, floor: packing.Buffer(size * 16, first, first + length, floor * 16),
        st.integers(0, 64),
        st.integers(0, 30),
        st.integers(0, 10),
        st.integers(0, 8),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(buffers_st)
def test_packing_is_valid(buffers: list[packing.Buffer]) -> None:
    steps = max((b.last for b in buffers), default=0) + 1
    offsets = packing.pack(buffers, steps)
    assert offsets is not None and len(offsets) == len(buffers)
    assert packing.overlaps(buffers, offsets) is None
    assert all(o >= b.floor and o % 16 == 0 for o, b in zip(offsets, buffers, strict=True))
    size = packing.extent(buffers, offsets)
    assert size >= packing.liveness_bound(buffers, steps)
    # Never worse than every buffer stacked above the highest floor.
    assert size <= max((b.floor for b in buffers), default=0) + sum(b.size for b in buffers)
    assert packing.pack(buffers, steps) == offsets


def test_packing_finds_the_order_size_first_misses() -> None:
    # The keyword-spotting graph's shape: size-first (TFLM) puts the 8000-byte tensor at 0 and
    # ends at 15,920; the bound is 13,280 (a at the bottom, the rest above).
    a, b, c = (
        packing.Buffer(4000, 1, 2, 5360),
        packing.Buffer(3920, 0, 1, 5360),
        packing.Buffer(8000, 2, 3, 16),
    )
    buffers = [a, b, c]
    scratch = [0, 5360, 0, 16]
    size_first = packing.first_fit(buffers, packing.conflicts(buffers) or [], [2, 0, 1])
    assert packing.extent(buffers, size_first) > 13280
    offsets = packing.pack(buffers, 4, packing.liveness_bound(buffers, 4, scratch))
    assert offsets is not None and packing.extent(buffers, offsets) == 13280


def test_packing_gives_up_on_too_many_live_buffers() -> None:
    # 1,500 buffers live at one step are 1.1 M pairs: beyond the budget, no packing.
    crowd = [packing.Buffer(16, 0, 0)] * 1500
    assert packing.conflicts(crowd) is None and packing.pack(crowd, 1) is None
    assert packing.liveness_bound(crowd, 1) == 24000


def test_range_max() -> None:
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    query = packing.range_max(values)
    for lo in range(len(values)):
        for hi in range(lo, len(values)):
            assert query(lo, hi) == max(values[lo : hi + 1])


# --------------------------------------------------------------------------------------------
# Outputs: the lifetime plan computes what the storage-id plan computed


def _smoke(gen: Path, exe: Path) -> Smoke:
    """Build the generated library with the runtime and its smoke test, natively, and run it."""
    m = json.loads((gen / "net_manifest.json").read_text())
    rt = get_runtime_dir()
    cmd = ["gcc", "-O1", "-std=gnu99", "-Wall", "-Wextra", "-Werror", "-o", exe, f"-I{rt / 'include'}"]
    cmd += [f"-I{gen / d}" for d in m["include_dirs"]]
    cmd += [
        '-DMLF_SMOKE_HEADER="net.h"',
        "-DMLF_SMOKE_NAME=net",
        "-DMLF_SMOKE_UPPER=NET",
        "-DMLF_SMOKE_STATIC_RUN",
    ]
    cmd += [gen / s for s in m["sources"]] + [gen / o for o in m["objects"]]
    cmd += [rt / s for s in m["runtime_sources"]] + [rt / "smoke" / "mlf_smoke.c", "-lm"]
    run(cmd)
    return Smoke.parse(run([exe]).stdout)


@pytest.mark.slow
@pytest.mark.skipif(not have("gcc"), reason="needs gcc")
def test_outputs_unchanged_by_the_lifetime_plan(
    graph_models: list[tuple[str, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each graph built twice for the host, with the storage-id plan (the lifetime planner
    switched off) and with the lifetime plan: same output bytes, both smoke tests pass."""
    smaller = []
    for name, path in graph_models:
        if name == "nitesh-llvm-aarch64-v5-graph":
            continue  # aarch64 objects: not runnable here
        results = {}
        for layout in (STORAGE_IDS, LIFETIMES):
            with monkeypatch.context() as mp:
                if layout == STORAGE_IDS:
                    mp.setattr(plan_mod, "_lifetime_offsets", lambda *_: None)
                gen = tmp_path / name / layout.replace(" ", "_")
                r = run_cli(["generate", path, "--name", "net", "--out", gen])
                assert r.code == 0, r.err
            s = _smoke(gen, gen / "smoke")
            assert s.passed and s.status == 0, f"{name} ({layout}):\n{s.text[-2000:]}"
            results[layout] = s
        old, new = results[STORAGE_IDS], results[LIFETIMES]
        assert new.outputs == old.outputs, name
        assert new.workspace <= old.workspace, name
        if new.workspace < old.workspace:
            smaller.append(name)  # two different layouts were run
    assert "v7-graph" in smaller, smaller
    assert "arduino-yesno-v4-graph" in smaller or not corpus_dir().is_dir(), smaller


# --------------------------------------------------------------------------------------------
# Size: bounded work on graphs built to be expensive


def wide_graph(tmp: Path, n: int, fan_in: bool) -> Path:
    """n additions of the input and p0: a chain (each reads the one before) or n independent
    ones all read by one last node (n tensors live at once)."""
    files = minimal_files()
    g = json.loads(files["executor-config/graph/default.graph"])
    add = g["nodes"][2]
    nodes = g["nodes"][:2]
    for k in range(n):
        src = [k + 1, 0, 0] if not fan_in and k else [0, 0, 0]
        nodes.append({**add, "name": f"add{k}", "inputs": [src, [1, 0, 0]]})
    if fan_in:
        nodes.append({**add, "name": "sum", "inputs": [[k + 2, 0, 0] for k in range(n)]})
    count = len(nodes)
    g["nodes"] = nodes
    g["heads"] = [[count - 1, 0, 0]]
    g["attrs"] = {
        "dltype": ["list_str", ["float32"] * count],
        "storage_id": ["list_int", list(range(count))],
        "shape": ["list_shape", [[1, 4], [4]] + [[1, 4]] * (count - 2)],
    }
    del g["node_row_ptr"]
    files["executor-config/graph/default.graph"] = json.dumps(g).encode()
    return write_tar(tmp / f"wide-{n}-{fan_in}.tar", files)


def test_long_chain_is_planned_by_lifetime(tmp_path: Path) -> None:
    with load_model(wide_graph(tmp_path, 20000, fan_in=False)) as model:
        plan = plan_module(model, model.modules[0])
    # Two 16-byte tensors live per step plus 16 bytes of scratch: 20,000 storage ids shrink to 48 B.
    assert plan.layout == LIFETIMES and plan.workspace_size == plan.lower_bound == 48
    assert plan.storage_id_size == 19999 * 16 + 16


def test_too_many_live_tensors_fall_back_to_storage_ids(tmp_path: Path) -> None:
    with load_model(wide_graph(tmp_path, 1500, fan_in=True)) as model:
        plan = plan_module(model, model.modules[0])
    assert plan.layout == STORAGE_IDS and any("too many tensors" in n for n in plan.notes)
    assert plan.lower_bound == plan.workspace_size


def test_too_many_steps_for_the_runner(tmp_path: Path) -> None:
    model = wide_graph(tmp_path, 0x10000, fan_in=False)
    r = run_cli(["generate", model, "--name", "net", "--out", tmp_path / "out", "--list"])
    assert r.code == 2 and "too many graph entries for the runner" in r.err


# --------------------------------------------------------------------------------------------
# inspect: the plan against the bound


@pytest.mark.skipif(not corpus_dir().is_dir(), reason="MLF corpus not found")
def test_inspect_reports_the_plan_against_the_bound() -> None:
    graph = corpus_item(corpus_dir(), "arduino-yesno-v4-graph")
    arena = json.loads(run_cli(["inspect", graph, "--json"]).out)["modules"][0]["arena"]
    assert arena == {
        "bytes": 13280,
        "lower_bound_bytes": 13280,
        "layout": "lifetimes",
        "storage_id_bytes": 17392,
        "planned_tensors_bytes": 13280,
        "scratch_offset": 0,
        "scratch_bytes": 5360,
        "align": 16,
        "exact": True,
    }
    text = run_cli(["inspect", graph]).out
    line = "13280 B (exact), placed by lifetimes; liveness bound 13280 B, storage-id plan 17392 B"
    assert f"arena:          {line}\n" in text
    aot = corpus_item(corpus_dir(), "arduino-yesno-v5-aot")
    arena = json.loads(run_cli(["inspect", aot, "--json"]).out)["modules"][0]["arena"]
    assert (arena["bytes"], arena["lower_bound_bytes"], arena["layout"]) == (17392, 17360, TVM_ORDER)
    assert (
        arena["storage_id_bytes"] is None and arena["scratch_offset"] == arena["planned_tensors_bytes"] == 0
    )
    assert "TVM's allocation order holds 32 B more than the lifetimes need" in run_cli(["inspect", aot]).out
