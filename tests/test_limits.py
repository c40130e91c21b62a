"""The machinery that keeps hostile inputs cheap (denial of service, docs/security.md), checked against
plain reference versions of what it replaced and against real compilers' output: the shape
pool's index, the iterative workspace walk, the readers' shared budgets, the decompressed
spool of a .tar.gz, and the ELF/ar reading of --abi-probe and check-size. The cost of the
hostile inputs themselves is measured by tests/fuzz/measure_hostile.py, not asserted here."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlf_build import report
from mlf_build.budget import measure
from mlf_build.emit.runner import _Shapes
from mlf_build.errors import MlfError
from mlf_build.plan import packing, plan
from mlf_build.plan.plan import ArenaMap, Block
from mlf_build.read import archive, csource, elf, jsonio
from mlf_build.read.archive import open_mlf
from mlf_build.read.csource import Function, parse_c, workspace_peak
from mlf_build.read.limits import Budget
from mlf_build.read.model import load_model
from tests import elf_factory
from tests.conftest import needs_host_cc
from tests.mlf_factory import minimal_files, tar_bytes, write_tar


# -- the shape pool -----------------------------------------------------------------------------
class NaivePool:
    """The pool as first written: a search of the whole pool for each shape."""

    def __init__(self) -> None:
        self.pool: list[int] = []

    def index(self, shape: tuple[int, ...]) -> int:
        dims, n = list(shape), len(shape)
        if not dims:
            if not self.pool:
                self.pool.append(1)
            return 0
        for i in range(len(self.pool) - n + 1):
            if self.pool[i : i + n] == dims:
                return i
        k = next((k for k in range(min(n, len(self.pool)), 0, -1) if self.pool[-k:] == dims[:k]), 0)
        start = len(self.pool) - k
        self.pool.extend(dims[k:])
        return start


shapes = st.lists(st.lists(st.integers(1, 4), max_size=5).map(tuple), max_size=40)


@given(shapes)
@settings(max_examples=300, deadline=None)
def test_shape_pool_matches_the_plain_search(seq: list[tuple[int, ...]]) -> None:
    fast, naive = _Shapes("t"), NaivePool()
    for shape in seq:
        assert fast.index(shape) == naive.index(shape)
    assert fast.pool == naive.pool


# -- the workspace walk -------------------------------------------------------------------------
def recursive_peak(
    functions: dict[str, Function], root: str, align: int, memo: dict[str, int | None]
) -> int | None:
    """workspace_peak() as first written, recursively."""
    if root in memo:
        return memo[root]
    memo[root] = None
    fn = functions.get(root)
    if fn is None:
        return 0
    cur = best = 0
    live: dict[str, list[int]] = {}
    for kind, name, size, _args in fn.events:
        if kind == "alloc":
            if size is None:
                return None
            s = csource.align_up(size, align) if size else 0
            live.setdefault(name, []).append(s)
            cur += s
            best = max(best, cur)
        elif kind == "free":
            if live.get(name):
                cur -= live[name].pop()
        elif name in functions and name != root:
            sub = recursive_peak(functions, name, align, memo)
            if sub is None:
                return None
            best = max(best, cur + sub)
    memo[root] = best
    return best


event = st.one_of(
    st.tuples(st.just("alloc"), st.sampled_from("ab"), st.sampled_from([0, 5, 16, 33, None]), st.just(())),
    st.tuples(st.just("free"), st.sampled_from("abc"), st.just(0), st.just(())),
    st.tuples(st.just("call"), st.sampled_from(["f0", "f1", "f2", "f3", "ext"]), st.just(0), st.just(())),
)


@given(
    st.lists(st.lists(event, max_size=6), min_size=1, max_size=4),
    st.lists(st.sampled_from(["f0", "f1", "f2", "f3"])),
)
@settings(max_examples=400, deadline=None)
def test_workspace_walk_matches_the_recursive_one(bodies: list[list[tuple]], roots: list[str]) -> None:  # type: ignore[type-arg]
    functions = {f"f{i}": Function(f"f{i}", "", [], "", list(body)) for i, body in enumerate(bodies)}
    shared: dict[str, int | None] = {}
    for root in [r for r in roots if r in functions]:
        assert workspace_peak(functions, root, 16) == recursive_peak(functions, root, 16, {})
        # one memo for a whole graph's operators gives what a fresh walk of each gives
        assert workspace_peak(functions, root, 16, shared) == recursive_peak(functions, root, 16, {})


def test_workspace_walk_follows_a_call_chain_deeper_than_python_recursion() -> None:
    chain = {
        f"f{i}": Function(
            f"f{i}", "", [], "", [("alloc", "a", 16, ()), ("call", f"f{i + 1}", 0, ()), ("free", "a", 0, ())]
        )
        for i in range(20_000)
    }
    assert workspace_peak(chain, "f0", 16) == 20_000 * 16


# -- the AOT liveness replay ---------------------------------------------------------------------
def plain_aot_liveness(
    functions: dict[str, Function], fn: Function, align: int, base: int
) -> tuple[int, ArenaMap] | None:
    """plan._aot_liveness() as first written: each call's arguments matched against every
    allocation held, each free against every allocation held.

    TVM's own allocation sequence replayed: each TVMBackendAllocWorkspace of the inner main
    at the offset the runtime's LIFO allocator gives it, each call's internal scratch above the
    allocations held at that call. Returns the liveness bound (allocations live at a call, from
    the first call that passes them to the last, plus that call's scratch) and the picture;
    None when a size is not a constant."""
    steps: list[str] = []
    scratch_at: list[tuple[int, int]] = []  # (offset, bytes) of each call's scratch
    held: list[tuple[str, int, int, int]] = []  # LIFO: (variable, offset, size, step allocated)
    reserved: list[tuple[str, int, int, int, int]] = []  # (variable, offset, size, first, last)
    uses: dict[tuple[str, int], list[int]] = {}  # (variable, offset) -> steps passing it
    top = 0
    for kind, name, size, args in fn.events:
        if kind == "alloc":
            if size is None:
                return None
            n = csource.align_up(size, align) if size else 0
            held.append((name, top, n, len(steps)))
            top += n
        elif kind == "free" and any(h[0] == name for h in held):
            # The runtime releases the block and everything allocated after it.
            while held:
                var, off, n, since = held.pop()
                reserved.append((var, off, n, since, len(steps) - 1))
                top = off
                if var == name:
                    break
        elif name in functions and name != fn.name:
            peak = workspace_peak(functions, name, align)
            if peak is None:
                return None
            words = set(re.findall(r"\b\w+\b", " ".join(args)))
            for var, off, _n, _since in held:
                if var in words:
                    uses.setdefault((var, off), []).append(len(steps))
            steps.append(name)
            scratch_at.append((top, peak))
    for var, off, n, since in held:  # never freed: held to the end
        reserved.append((var, off, n, since, len(steps) - 1))
    blocks = []
    live: list[packing.Buffer] = []
    for var, off, n, first, last in sorted(reserved, key=lambda r: (r[1], r[3])):
        if n == 0 or last < first:
            continue  # nothing held, or held across no call
        used = uses.get((var, off))
        # An allocation no call names (passed some other way) counts as live while held.
        lo, hi = (min(used), max(used)) if used else (first, last)
        live.append(packing.Buffer(n, lo, hi))
        blocks.append(Block(var, "tensor", base + off, n, first, last))
    for t, (off, peak) in enumerate(scratch_at):
        if peak:
            blocks.append(Block(f"scratch of {steps[t]}", "scratch", base + off, peak, t, t))
    bound = packing.liveness_bound(live, len(steps), [p for _o, p in scratch_at])
    return bound, ArenaMap(steps, blocks)


aot_event = st.one_of(
    st.tuples(st.just("alloc"), st.sampled_from("abc"), st.sampled_from([0, 5, 16, 33, None]), st.just(())),
    st.tuples(st.just("free"), st.sampled_from("abcd"), st.just(0), st.just(())),
    st.tuples(
        st.just("call"),
        st.sampled_from(["f0", "f1", "main", "ext"]),
        st.just(0),
        st.lists(st.sampled_from(["a", "b", "c", "d", ""]), max_size=3).map(tuple),
    ),
)


@given(st.lists(aot_event, max_size=30), st.lists(event, max_size=4))
@settings(max_examples=400, deadline=None)
def test_aot_liveness_matches_the_plain_replay(main: list[tuple], f0: list[tuple]) -> None:  # type: ignore[type-arg]
    functions = {
        "main": Function("main", "", [], "", list(main)),
        "f0": Function("f0", "", [], "", list(f0)),
        "f1": Function("f1", "", [], "", [("alloc", "t", 8, ()), ("free", "t", 0, ())]),
    }
    fast = plan._aot_liveness(functions, functions["main"], 16, 64)
    assert fast == plain_aot_liveness(functions, functions["main"], 16, 64)


def test_aot_liveness_is_linear_in_the_allocations_held() -> None:
    # 20000 allocations held across 20000 calls, freed last to first: each call and each free
    # was matched against every allocation held (4 * 10^8 steps; a 2.5 MB C file took 27 s)
    n = 20_000
    events = [("alloc", f"s{k}", 16, ()) for k in range(n)]
    events += [("call", "f1", 0, (f"s{k}", f"s{(k + 1) % n}")) for k in range(n)]
    events += [("free", f"s{k}", 0, ()) for k in reversed(range(n))]
    f1 = Function("f1", "", [], "", [("alloc", "t", 8, ())])
    main = Function("main", "", [], "", events)
    replay = plan._aot_liveness({"main": main, "f1": f1}, main, 16, 0)
    assert replay is not None
    bound, arena = replay
    # two neighbours live at each call, s0 throughout (the last call passes it), and f1's scratch
    assert bound == 4 * 16 and len(arena.blocks) == 2 * n


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 100)), max_size=20))
@settings(max_examples=300, deadline=None)
def test_report_bytes_per_step_match_the_plain_sum(spans: list[tuple[int, int, int]]) -> None:
    blocks = [Block("b", "tensor", 0, size, first, last) for first, last, size in spans]
    plain = [0] * 10
    for b in blocks:
        for t in range(b.first, b.last + 1):
            plain[t] += b.size
    assert report._live_per_step(blocks, 10) == plain


# -- budgets shared by the members of one archive ------------------------------------------------
def test_c_budget_counts_all_the_files_of_an_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = b"int a; int b; int c; int d; int e;\n{}{}{}{}{}{}{}{}{}{}\n"
    budget = Budget()
    monkeypatch.setattr(csource, "MAX_ITEMS", 30)
    parse_c(one, "a.c", budget)  # 20 braces: under the limit alone
    with pytest.raises(MlfError, match="takes the C sources over 30"):
        parse_c(one, "b.c", budget)  # and over it with the first one
    parse_c(one, "c.c")  # a budget of its own


def test_json_budget_counts_all_the_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonio, "MAX_VALUES", 10)
    budget = Budget()
    assert jsonio.loads("[1, 2, 3, 4, 5]", "a.json", budget) == [1, 2, 3, 4, 5]
    with pytest.raises(MlfError, match="takes the JSON files over 10 values"):
        jsonio.loads("[1, 2, 3, 4, 5, 6]", "b.json", budget)


def test_bytes_read_whole_are_bounded_in_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = minimal_files()
    files["codegen/host/src/default_lib2.c"] = b"int x;\n" * 2000
    model = write_tar(tmp_path / "model.tar", files)
    load_model(model).close()
    monkeypatch.setattr(archive, "MAX_READ_TOTAL", 10_000)
    with pytest.raises(MlfError, match="over 10000 bytes in all"):
        load_model(model)


def test_parse_c_blanks_a_bytearray_in_place() -> None:
    text = bytearray(b'int32_t f(void* a) { /* x */ return g("y"); }\n')
    src = parse_c(text, "f.c")
    assert src.functions["f"].events == [("call", "g", 0, ("",))]
    assert text == bytearray(b'int32_t f(void* a) {         return g(" "); }\n')


# -- a .tar.gz decompressed once ------------------------------------------------------------------
def test_compressed_members_read_in_any_order(tmp_path: Path) -> None:
    files = {f"codegen/host/src/f{i}.c": os.urandom(3000) for i in range(40)}
    files["junk/big.bin"] = bytes(5 << 20)  # ignored: not kept in the spool
    path = tmp_path / "model.tar.gz"
    path.write_bytes(tar_bytes(list(files.items()), compress=True))
    with open_mlf(path) as src:
        for name in reversed(sorted(n for n in files if n.endswith(".c"))):
            assert bytes(src.read_bytes(name, 1 << 20)) == files[name]
        spool = src._spool  # type: ignore[attr-defined]
        assert spool is not None
        used = os.fstat(spool.fileno()).st_blocks * 512
        assert used < 2 << 20, f"{used} bytes stored: the ignored member was kept"
        out = tmp_path / "copy.c"
        src.copy_to("codegen/host/src/f7.c", out)  # from the spool, by the kernel
        assert out.read_bytes() == files["codegen/host/src/f7.c"]


# -- objects and libraries the build gives (--abi-probe, check-size) -------------------------------
def _readelf_sizes(path: Path) -> tuple[int, int]:
    """(flash, RAM) of an object or library from readelf -S, as check-size counts them."""
    flash = ram = 0
    out = subprocess.run(["readelf", "-SW", str(path)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) < 8 or not parts[0].startswith("[") or parts[0] == "[Nr]":
            continue
        typ, size, flags = parts[2], int(parts[5], 16), parts[7] if len(parts) > 10 else ""
        if "A" not in flags:
            continue
        if typ == "NOBITS":
            ram += size
        elif "W" in flags:
            flash += size
            ram += size
        else:
            flash += size
    return flash, ram


ALLOC_C = """
#include <stdint.h>
void* TVMBackendAllocWorkspace(int, int, uint64_t, int, int);
int TVMBackendFreeWorkspace(int, int, void*);
int32_t one(void) {
  void* p = TVMBackendAllocWorkspace(1, 0, 16, 2, 32);
  return TVMBackendFreeWorkspace(1, 0, p);
}
int32_t two(void) {
  void* p = TVMBackendAllocWorkspace(1, 0, 16, 2, 32);
  void* q = TVMBackendAllocWorkspace(1, 0, 32, 2, 32);
  return TVMBackendFreeWorkspace(1, 0, q) + TVMBackendFreeWorkspace(1, 0, p);
}
static float table[64];
const float weights[16] = {1};
float* use(void) { return table; }
"""


@needs_host_cc
@pytest.mark.skipif(not shutil.which("readelf") or not shutil.which("ar"), reason="needs readelf and ar")
def test_objects_of_a_real_compiler(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text(ALLOC_C)
    objects = []
    for flags in (["-O0"], ["-O2", "-ffunction-sections", "-fdata-sections"]):
        obj = tmp_path / f"a{len(objects)}.o"
        subprocess.run(["gcc", "-c", *flags, str(tmp_path / "a.c"), "-o", str(obj)], check=True)
        objects.append(obj)
        info = elf.parse_elf(obj.read_bytes(), str(obj))
        assert info.alloc_sites == {"one": 1, "two": 2}, flags
        assert {"one", "two", "use", "weights"} <= set(info.defined)
        assert measure(str(obj)) == _readelf_sizes(obj)
    lib = tmp_path / "libm.a"
    subprocess.run(["ar", "rcs", str(lib), *map(str, objects)], check=True)  # with its symbol table
    assert measure(str(lib)) == tuple(map(sum, zip(*(_readelf_sizes(o) for o in objects), strict=True)))
    assert elf.first_object(str(lib)).machine == elf.parse_elf(objects[0].read_bytes(), "a").machine


def test_object_files_the_build_names_are_read_where_they_lie(tmp_path: Path) -> None:
    fifo = tmp_path / "probe.o"
    os.mkfifo(fifo)
    with pytest.raises(MlfError, match="is not a regular file"):
        elf.first_object(str(fifo))  # not opened: it would wait for a writer
    big = tmp_path / "lib.a"
    obj = elf_factory.function_object(2, 1)
    with open(big, "wb") as f:  # 4 GiB of archive, almost all of it a hole
        f.write(elf_factory.ar_archive([("a.o", obj)]))
        f.write(f"{'huge.bin/':16}{0:<12}{0:<6}{0:<6}{644:<8}{4 << 30:<10}`\n".encode())
        f.truncate(f.tell() + (4 << 30))
    alone = tmp_path / "a.o"
    alone.write_bytes(obj)
    assert measure(str(big)) == measure(str(alone))  # the 4 GiB member is not read
    assert elf.first_object(str(big)).machine == "arm"


def test_ar_sizes_are_plain_decimal(tmp_path: Path) -> None:
    obj = elf_factory.function_object(1, 0)
    for size in ("-60", "+60", "0x10", "1_0", "\u0663", "9" * 10):
        lib = tmp_path / "lib.a"
        lib.write_bytes(elf_factory.ar_archive([("a.o", obj)], {"a.o": size}))
        with pytest.raises(MlfError, match="is a damaged ar archive"):
            measure(str(lib))


def test_elf_entry_budget_counts_all_the_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    obj = elf_factory.function_object(10, 0)  # 6 sections, 12 symbols
    monkeypatch.setattr(elf, "MAX_ENTRIES", 30)
    budget = Budget()
    elf.parse_elf(obj, "a.o", budget=budget)
    with pytest.raises(MlfError, match="takes the objects over 30 sections and symbols"):
        elf.parse_elf(obj, "b.o", budget=budget)


def test_symbol_names_are_read_once(tmp_path: Path) -> None:
    # Names that overlap in the string table ("add" inside "fused_add"), as linkers merge them.
    strtab = b"\0tvmgen_default_fused_add\0"
    rows = (
        b"\0" * 16
        + struct.pack("<IIIBBH", 1, 0, 4, 0x12, 0, 1)
        + struct.pack("<IIIBBH", 22, 4, 4, 0x12, 0, 1)
    )
    obj = elf_factory.build_elf(
        [
            elf_factory.Section(".text", elf_factory.SHT_NOBITS, flags=6, size=8),
            elf_factory.Section(".symtab", elf_factory.SHT_SYMTAB, rows, link=3, info=1, entsize=16),
            elf_factory.Section(".strtab", elf_factory.SHT_STRTAB, strtab),
        ]
    )
    assert set(elf.parse_elf(obj, "a.o").defined) == {"tvmgen_default_fused_add", "add"}


def test_tar_members_of_a_compressed_archive_are_the_tar_s(tmp_path: Path) -> None:
    files = minimal_files()
    path = tmp_path / "model.tar.xz"
    with tarfile.open(path, "w:xz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with open_mlf(path) as src:
        assert {n: bytes(src.read_bytes(n, 1 << 20)) for n in files} == files
