"""``<t>_runner.c``: the info tables and the run functions.

Graph modules get a table-driven static runner, ``<t>__graph`` (mlf_graph_t), which the shared
runtime walks: the operators in call order, and a byte program saying where each argument of
each step is (an arena offset, an offset in ``<t>_data.c``'s parameter blob, a parameter TVM
linked into its C code, a caller's buffer), each number in as few bytes as it needs (LEB128).
The ndim, dtype and shape of each argument are only there when an operator may read them
(csource.tensor_facts_read): that is most of a graph's table otherwise. AOT modules get a
direct call of TVM's entry point (C interface: its structs; packed interface: a one-step
table).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum

from ..dtypes import DType
from ..errors import MlfError
from ..naming import c_comment, c_string
from ..plan.plan import ARENA, CONST, INPUT, OUTPUT, GraphStep, Plan, Slot
from ..read.model import Model, Module, Tensor
from ..read.params import ParamTensor
from ..validate import c_identifier, c_param_type
from .common import Settings, arena_symbol, banner, devices_symbol, linked_symbol, param_symbol
from .crt import abort_symbol, begin_symbol
from .data import blob_offsets, blob_params, blob_symbol

_CANONICAL = (
    "TVMValue *args, int32_t *type_codes, int32_t num_args, TVMValue *ret, int32_t *ret_code, "
    "void *resource_handle"
)


class _FirstOccurrence:
    """Where a run of values first occurs in a list that only grows: a suffix automaton (Blumer
    et al., 1985), so appending and looking up take time linear in what is appended or looked
    up, however long the list (a graph of thousands of shapes made a plain search quadratic)."""

    def __init__(self) -> None:
        self.moves: list[dict[int, int]] = [{}]
        self.link = [-1]
        self.length = [0]
        self.end = [-1]  # where the first occurrence of the state's runs ends
        self.last = 0

    def _state(self, length: int, end: int, moves: dict[int, int]) -> int:
        self.moves.append(moves)
        self.link.append(-1)
        self.length.append(length)
        self.end.append(end)
        return len(self.length) - 1

    def append(self, value: int) -> None:
        pos = self.length[self.last]
        cur = self._state(pos + 1, pos, {})
        p = self.last
        while p != -1 and value not in self.moves[p]:
            self.moves[p][value] = cur
            p = self.link[p]
        if p == -1:
            self.link[cur] = 0
        else:
            q = self.moves[p][value]
            if self.length[p] + 1 == self.length[q]:
                self.link[cur] = q
            else:
                clone = self._state(self.length[p] + 1, self.end[q], dict(self.moves[q]))
                self.link[clone] = self.link[q]
                while p != -1 and self.moves[p].get(value) == q:
                    self.moves[p][value] = clone
                    p = self.link[p]
                self.link[q] = self.link[cur] = clone
        self.last = cur

    def find(self, values: list[int]) -> int | None:
        """The index where ``values`` (not empty) first occurs, or None."""
        state = 0
        for v in values:
            moved = self.moves[state].get(v)
            if moved is None:
                return None
            state = moved
        return self.end[state] - len(values) + 1


def _overlap(pool: list[int], dims: list[int]) -> int:
    """The longest k such that the pool ends with the first k of ``dims`` (k < len(dims)): the
    Knuth-Morris-Pratt matcher run over the pool's last len(dims) values."""
    fail = [0] * len(dims)
    k = 0
    for i in range(1, len(dims)):
        while k and dims[i] != dims[k]:
            k = fail[k - 1]
        if dims[i] == dims[k]:
            k += 1
        fail[i] = k
    k = 0
    for v in pool[-len(dims) :]:
        while k and (k == len(dims) or v != dims[k]):
            k = fail[k - 1]
        if v == dims[k]:
            k += 1
    return k


class _Shapes:
    """The shape pool: one ``static const int64_t`` array holding every shape the runner
    refers to, each stored once (a shape found inside the pool, or overlapping its end, is
    not stored again). Entries refer to a shape by the index of its first dimension."""

    MAX_INDEX = 0xFFFF  # mlf_graph_type_t.shape is 16 bits

    def __init__(self, prefix: str, suffix: str = "shapes", graph: _Shapes | None = None) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.pool: list[int] = []
        self._index = _FirstOccurrence()
        self.used = False
        #: for an info-table pool: the graph's pool, referred to when it holds the shape already
        self.graph = graph

    @property
    def name(self) -> str:
        return f"{self.prefix}__{self.suffix}"

    def _find(self, dims: list[int]) -> int | None:
        return self._index.find(dims)

    def _extend(self, dims: list[int]) -> None:
        self.pool.extend(dims)
        for d in dims:
            self._index.append(d)

    def index(self, shape: tuple[int, ...]) -> int:
        self.used = True
        if not shape:  # scalars: ndim 0, the pointer is never dereferenced
            if not self.pool:
                self._extend([1])
            return 0
        dims = list(shape)
        found = self._find(dims)
        if found is not None:
            return found
        overlap = _overlap(self.pool, dims)
        start = len(self.pool) - overlap
        if start > self.MAX_INDEX:
            raise MlfError(self.prefix, f"the graph's shapes need more than {self.MAX_INDEX} dimensions")
        self._extend(dims[overlap:])
        return start

    def ref(self, shape: tuple[int, ...]) -> str:
        """A pointer to ``shape``, for the info tables: into the graph's pool when it holds the
        shape, else into this pool, which is only kept by the linker with the info tables."""
        if self.graph is not None and self.graph.used:
            found = self.graph._find(list(shape))
            if found is not None:
                return f"&{self.graph.name}[{found}]"
        return f"&{self.name}[{self.index(shape)}]"

    def emit(self) -> str:
        if not self.used:
            return ""
        return f"static const int64_t {self.name}[{len(self.pool)}] = {{{', '.join(map(str, self.pool))}}};\n"


def param_data_symbol(mod: Module, s: Settings, index: int) -> str:
    p = mod.params[index]
    return linked_symbol(s, index) if p.name in mod.linked_params else param_symbol(s, index)


def _param_decls(model: Model, mod: Module, s: Settings) -> str:
    out = [f"extern const uint8_t {blob_symbol(s)}[];\n"] if blob_params(mod) else []
    for i, p in enumerate(mod.params):
        if p.name in mod.linked_params:
            elem = c_param_type(_linked_ctype(mod, p), str(model.path), f"linked parameter {i}")
            out.append(f"extern const {elem} {linked_symbol(s, i)}[];\n")
        else:
            out.append(f"extern const uint8_t {param_symbol(s, i)}[];\n")
    return "".join(out)


def _linked_ctype(mod: Module, p: ParamTensor) -> str:
    array = mod.linked_params[p.name]
    for f in mod.c_sources():
        if f.source is not None and array in f.source.arrays:
            return f.source.arrays[array].ctype
    raise AssertionError(array)


def _info(t: Tensor | ParamTensor, shapes: _Shapes, data: str | None = None) -> str:
    dt: DType = t.dtype
    dims = t.dims if isinstance(t, Tensor) else t.shape
    shape = shapes.ref(dims) if dims else "NULL"
    fields = f'{c_string(t.name)}, "{dt.name}", {dt.code}, {dt.bits}, {len(dims)}, {shape}, {t.nbytes}'
    if data is not None:
        fields += f", {data}"
    return f"    {{{fields}}},\n"


def _tables(mod: Module, s: Settings, shapes: _Shapes) -> str:
    t = s.prefix
    rows_in = "".join(_info(x, shapes) for x in mod.inputs) or "    {0},\n"
    rows_out = "".join(_info(x, shapes) for x in mod.outputs) or "    {0},\n"
    rows_p = "".join(_info(p, shapes, param_data_symbol(mod, s, i)) for i, p in enumerate(mod.params))
    return (
        f"const mlf_tensor_info_t {t}_input_info[{max(len(mod.inputs), 1)}] = {{\n{rows_in}}};\n"
        f"const mlf_tensor_info_t {t}_output_info[{max(len(mod.outputs), 1)}] = {{\n{rows_out}}};\n"
        f"const mlf_param_t {t}_params[{max(len(mod.params), 1)}] = {{\n{rows_p or '    {0},' + chr(10)}}};\n"
    )


def _spec(mod: Module, plan: Plan) -> str:
    """The mlf_run_spec_t initializer of a run."""
    if max(len(mod.inputs), len(mod.outputs)) > 0xFFFF:
        n = max(len(mod.inputs), len(mod.outputs))
        raise MlfError(mod.name, f"the model has {n} inputs or outputs (the runner takes at most 65535)")
    return (
        f"{{{plan.tensors_size}u, {plan.scratch_offset}u, {len(mod.inputs)}u, {len(mod.outputs)}u, "
        f"{plan.align}u}}"
    )


def _begin(mod: Module, plan: Plan, s: Settings) -> str:
    code = (
        f"  static const mlf_run_spec_t spec = {_spec(mod, plan)};\n"
        "  int32_t status = mlf_run_begin(inputs, outputs, workspace, workspace_size, &spec);\n"
        "  if (status != MLF_OK) {\n    return status;\n  }\n"
    )
    if s.runtime == "tvm_crt":
        # TVM's CRT aborts when the workspace runs out; its abort hook jumps back here. Its
        # allocator serves the same scratch as mlf_arena.c (mlf_run_begin checked the size).
        code += (
            f"  {begin_symbol(s)}((uint8_t *)workspace + {plan.scratch_offset}, "
            f"workspace_size - {plan.scratch_offset}u);\n"
            f"  if (setjmp({abort_symbol(s)}) != 0) {{\n    return mlf_run_end(-1);\n  }}\n"
        )
    return code


def _signature(s: Settings) -> str:
    return (
        f"int32_t {s.prefix}_run_with_workspace(const void *const *inputs, void *const *outputs,\n"
        f"{' ' * (len(s.prefix) + 30)}void *workspace, size_t workspace_size) {{\n"
    )


def _leb128(value: int) -> list[int]:
    """Unsigned LEB128, as next_number() in mlf_graph.c reads it."""
    out = []
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return out


class _ArgKind(IntEnum):
    """The MLF_ARG_* kinds of mlf_runtime_internal.h: where a step's argument is."""

    ARENA = 0  # at an offset in the arena
    PARAM = 1  # at an offset in the parameter blob
    LINKED = 2  # a parameter TVM linked into its C
    IO = 3  # a caller's input or output


_ARG_ARENA, _ARG_PARAM, _ARG_LINKED, _ARG_IO = _ArgKind.ARENA, _ArgKind.PARAM, _ArgKind.LINKED, _ArgKind.IO
_ARG_KIND_BITS = 2  # MLF_ARG_KIND_BITS


@dataclass
class _Args:
    """How the program names where each tensor of the plan is (MLF_ARG_* numbers), the linked
    parameters it points at, and, when the graph has types, the distinct types."""

    mod: Module
    blob: dict[int, int]  # blob parameter -> offset in the blob
    typed: bool
    shift: int  # arena and blob offsets are stored >> shift
    linked: list[int] = dataclasses.field(default_factory=list)  # parameter numbers, in linked[] order
    types: list[tuple[DType, tuple[int, ...]]] = dataclasses.field(default_factory=list)
    # where each is in those lists (a graph has thousands of slots)
    _linked_at: dict[int, int] = dataclasses.field(default_factory=dict)
    _type_at: dict[tuple[DType, tuple[int, ...]], int] = dataclasses.field(default_factory=dict)

    def number(self, sl: Slot) -> tuple[int, str]:
        """The MLF_ARG_* number of a slot, and how a comment names it."""
        if sl.loc == ARENA:
            kind, x, name = _ARG_ARENA, sl.index >> self.shift, f"arena+{sl.index}"
        elif sl.loc == CONST and sl.index in self.blob:
            kind, x, name = _ARG_PARAM, self.blob[sl.index] >> self.shift, f"param {sl.index}"
        elif sl.loc == CONST:
            if sl.index not in self._linked_at:
                self._linked_at[sl.index] = len(self.linked)
                self.linked.append(sl.index)
            kind, x, name = _ARG_LINKED, self._linked_at[sl.index], f"param {sl.index}"
        elif sl.loc == INPUT:
            kind, x, name = _ARG_IO, sl.index, f"input {sl.index}"
        else:
            kind, x, name = _ARG_IO, len(self.mod.inputs) + sl.index, f"output {sl.index}"
        return x << _ARG_KIND_BITS | kind, name

    def encode(self, sl: Slot) -> tuple[list[int], str]:
        """A slot's numbers in the program: its MLF_ARG_* number, then its type number if typed."""
        n, name = self.number(sl)
        if not self.typed:
            return [n], name
        assert sl.entry is not None
        t = (sl.entry.dtype, sl.entry.shape)
        if t not in self._type_at:
            self._type_at[t] = len(self.types)
            self.types.append(t)
        return [n, self._type_at[t]], name


def _shift(offsets: list[int]) -> int:
    """How many low bits every offset has clear (at most 15): the program stores them shifted."""
    bits = 15
    for o in offsets:
        if o:
            bits = min(bits, (o & -o).bit_length() - 1)
    return bits


def _program(args: _Args, slots: list[Slot], steps: list[GraphStep]) -> tuple[list[str], int]:
    """The rows of the step program (one per step, with a comment saying what it does) and the
    longest argument list (a copy binds two)."""
    rows, longest = [], 1
    for i, st in enumerate(steps):
        numbers: list[int] = []
        names: list[str] = []
        for a in st.args:
            n, name = args.encode(slots[a])
            numbers += n
            names.append(name)
        if st.func is None:
            src = slots[st.args[0]].entry
            assert src is not None and len(st.args) == 2
            numbers.append(src.nbytes)
            what = f"copy {src.nbytes} bytes from {names[0]} to {names[1]}"
            longest = max(longest, 2)
        else:
            numbers.insert(0, len(st.args))
            what = f"{st.func}({', '.join(names)})"
            longest = max(longest, len(st.args))
        code = ", ".join(str(b) for v in numbers for b in _leb128(v))
        rows.append(f"    /* {i}: {c_comment(what)} */\n    {code},\n")
    return rows, longest


def _dtype_byte(dt: DType, where: str) -> str:
    log2 = dt.bits.bit_length() - 1
    if dt.bits != 1 << log2 or dt.code > 15 or log2 > 15:
        raise MlfError(where, f"dtype {dt.name} cannot be described to the graph runtime")
    return f"MLF_DTYPE({dt.code}, {log2})"


def _types(mod: Module, s: Settings, args: _Args, shapes: _Shapes) -> str:
    t = s.prefix
    rows = []
    for dtype, shape in args.types:
        if len(shape) > 255:
            raise MlfError(mod.name, f"a tensor of the graph has {len(shape)} dimensions (at most 255)")
        rows.append(f"    {{{shapes.index(shape)}u, {len(shape)}u, {_dtype_byte(dtype, mod.name)}}},\n")
    return (
        f"static const mlf_graph_type_t {t}__type_of[{len(rows)}] = {{\n{''.join(rows)}}};\n"
        f"static const mlf_graph_types_t {t}__types = {{mlf_graph_describe, {t}__type_of, {shapes.name}}};\n"
    )


def needs_types(mod: Module, funcs: list[str]) -> bool:
    """Whether the table must say each tensor's ndim, dtype and shape: when an operator may read
    them, or is not C this generator can read (an object file)."""
    functions = mod.functions()
    return any(f not in functions or functions[f].reads_tensor_facts for f in funcs)


#: Arguments of one operator call the runner takes: it keeps a DLTensor, a value and a type code
#: per argument of the longest call (about 60 bytes each on a 32-bit target) on the stack of
#: whoever calls <t>_run. TVM's operators take a handful; more than this is no model for a
#: microcontroller, and is refused rather than left to overflow its stack.
MAX_CALL_ARGS = 0xFFFF


def _check_calls(model: Model, mod: Module, steps: list[GraphStep]) -> None:
    for st in steps:
        if len(st.args) > MAX_CALL_ARGS:
            raise MlfError(
                model.path,
                f"module {mod.name!r} calls {st.func} with {len(st.args)} arguments, more than "
                f"{MAX_CALL_ARGS} (the runner keeps each call's arguments on its stack)",
            )


def _graph_tables(
    mod: Module, plan: Plan, s: Settings, shapes: _Shapes, slots: list[Slot], steps: list[GraphStep]
) -> tuple[str, int]:
    """The mlf_graph_t of a graph and what it points at; and how long the scratch arrays of a
    run must be."""
    t = s.prefix
    blob = blob_offsets(mod, plan)
    typed = needs_types(mod, [st.func for st in steps if st.func is not None])
    arena = [sl.index for sl in slots if sl.loc == ARENA]
    args = _Args(mod, blob, typed, _shift(arena + list(blob.values())))
    program, longest = _program(args, slots, steps)
    funcs = "".join(f"    {st.func or 'NULL'},\n" for st in steps) or "    NULL,\n"
    out = [f"static const mlf_packed_func_t {t}__funcs[{max(len(steps), 1)}] = {{\n{funcs}}};\n"]
    out.append(f"static const uint8_t {t}__program[] = {{\n{''.join(program) or '    0,' + chr(10)}}};\n")
    linked = "NULL"
    if args.linked:
        rows = "".join(f"    {param_data_symbol(mod, s, i)},\n" for i in args.linked)
        out.append(f"static const void *const {t}__linked[{len(args.linked)}] = {{\n{rows}}};\n")
        linked = f"{t}__linked"
    types = "NULL"
    if args.typed:
        out.append(_types(mod, s, args, shapes))
        types = f"&{t}__types"
    params = blob_symbol(s) if blob else "NULL"
    out.append(
        f"static const mlf_graph_t {t}__graph = {{\n    {_spec(mod, plan)}, {t}__funcs, {t}__program, "
        f"{params}, {linked}, {types}, {len(steps)}u, {args.shift}u}};\n\n"
    )
    return "".join(out), longest


def _graph_body(
    mod: Module, plan: Plan, s: Settings, shapes: _Shapes, slots: list[Slot], steps: list[GraphStep]
) -> str:
    t = s.prefix
    tables, n = _graph_tables(mod, plan, s, shapes, slots, steps)
    scratch = f"  DLTensor tensors[{n}];\n  TVMValue values[{n}];\n  int32_t codes[{n}];\n"
    if s.runtime == "tvm_crt":
        run = _begin(mod, plan, s) + (
            f"  return mlf_run_end(mlf_graph_walk(&{t}__graph, inputs, outputs, (uint8_t *)workspace,\n"
            "                                     tensors, values, codes));\n"
        )
    else:
        run = (
            f"  return mlf_graph_run(inputs, outputs, workspace, workspace_size, &{t}__graph, tensors,\n"
            "                       values, codes);\n"
        )
    return tables + _signature(s) + scratch + run + "}\n"


def _op_declarations(model: Model, mod: Module, funcs: list[str]) -> tuple[str, dict[str, str]]:
    """Prototypes for the operators the table calls, and a trampoline name for any operator
    TVM defined with the old five-argument signature (no resource_handle). Operator names come
    from the graph JSON (or the AOT entry point) and are pasted into C: identifiers only."""
    functions = mod.functions()
    decls: list[str] = []
    rename: dict[str, str] = {}
    where = model.source.display(mod.graph_member) if mod.graph_member else str(model.path)
    for f in sorted(set(funcs)):
        c_identifier(f, where, "operator")
        fn = functions.get(f)
        if fn is not None and len(fn.params) == 5:
            tramp = f"mlf_tramp_{len(rename)}"
            rename[f] = tramp
            decls.append(
                f"int32_t {f}(TVMValue *args, int32_t *type_codes, int32_t num_args, TVMValue *ret, "
                f"int32_t *ret_code);\n"
                f"static int32_t {tramp}({_CANONICAL}) {{\n  (void)resource_handle;\n"
                f"  return {f}(args, type_codes, num_args, ret, ret_code);\n}}\n"
            )
        elif fn is not None and len(fn.params) not in (5, 6):
            raise MlfError(mod.name, f"operator {f} has {len(fn.params)} parameters; packed operators take 6")
        else:
            # Declared with the canonical types, as TVM's own registry (lib0.c) declares them.
            decls.append(f"int32_t {f}({_CANONICAL});\n")
    return "".join(decls), rename


def _aot_c_body(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    """TVM's tvmgen_<m>_run() called with its structs, filled member by member under the names
    TVM's header gave them (``in.serving_default_input_1_0``, not the model's own name)."""
    m = mod.name
    where = model.source.display(mod.header_member) if mod.header_member else str(model.path)
    out = [_signature(s), _begin(mod, plan, s)]
    out.append(f"  struct tvmgen_{m}_inputs in;\n  struct tvmgen_{m}_outputs out;\n")
    if plan.pools or mod.constant_pools:
        out.append(f"  struct tvmgen_{m}_workspace_pools pools;\n")
    for (role, idx), member in zip(mod.aot_args, mod.aot_arg_names, strict=True):
        c_identifier(
            member, where, f"member of struct tvmgen_{m}_{'outputs' if role == 'output' else 'inputs'}"
        )
        out.append(f"  {'out' if role == 'output' else 'in'}.{member} = {_aot_arg(mod, s, role, idx)};\n")
    for name in [p[0] for p in plan.pools] + list(mod.constant_pools):
        c_identifier(name, where, f"member of struct tvmgen_{m}_workspace_pools")
    for name in mod.devices:
        c_identifier(name, where, f"member of struct tvmgen_{m}_devices")
    for name, offset, _size in plan.pools:
        out.append(f"  pools.{name} = (uint8_t *)workspace + {offset};\n")
    for k, name in enumerate(mod.constant_pools):
        out.append(f"  pools.{name} = (void *)(uintptr_t){constant_pool_symbol(s, k)};\n")
    if mod.devices:
        # interface_c.cc: the devices struct comes last, one void* per device, in header order.
        out.append(f"  struct tvmgen_{m}_devices devices;\n")
        out += [f"  devices.{d} = {devices_symbol(s)}[{i}];\n" for i, d in enumerate(mod.devices)]
    call_args = "&in, &out" + (", &pools" if plan.pools or mod.constant_pools else "")
    call_args += ", &devices" if mod.devices else ""
    out.append(f"  return mlf_run_end({_entry(model, mod)}({call_args}));\n}}\n")
    return "".join(out)


def constant_pool_symbol(s: Settings, index: int) -> str:
    return f"{s.prefix}__cpool_{index}"


def _constant_pools(mod: Module, s: Settings) -> str:
    """TVM's external constant pools, initialised from the bytes its header carries
    (interface_c.cc EmitConstantPool: ``TVMGEN_<M>_<POOL>_CONSTANT_POOL_DATA``)."""
    out = []
    for k, (name, size) in enumerate(mod.constant_pools.items()):
        macro = f"TVMGEN_{mod.name.upper()}_{name.upper()}_CONSTANT_POOL_DATA"
        out.append(
            f"static const uint8_t {constant_pool_symbol(s, k)}[{max(size, 1)}] "
            f"__attribute__((aligned(16))) = {{{macro}}};\n"
        )
    return "".join(out)


def _entry(model: Model, mod: Module) -> str:
    assert mod.entry is not None
    return c_identifier(mod.entry, str(model.path), "AOT entry point")


def _direct_declaration(model: Model, mod: Module) -> str:
    """The prototype of TVM's inner main, rebuilt from its parsed parameters (types and names
    checked), never copied as text from the archive's C."""
    entry = _entry(model, mod)
    fn = mod.functions().get(entry)
    if fn is None:
        return f"int32_t {entry}({', '.join(['void *'] * len(mod.aot_args))});\n"
    where = model.source.display(
        next(f.path for f in mod.c_sources() if f.source and entry in f.source.functions)
    )
    params = []
    for p in fn.params:
        what = f"a parameter of {entry}"
        ctype = c_param_type(p.ctype, where, what)
        params.append(f"{ctype} {c_identifier(p.name, where, what)}" if p.name else ctype)
    return f"int32_t {entry}({', '.join(params) or 'void'});\n"


def _aot_arg(mod: Module, s: Settings, role: str, idx: int) -> str:
    """What the run passes TVM's entry point for one tensor argument (as a ``void *``)."""
    if role == "param":
        return f"(void *)(uintptr_t){param_data_symbol(mod, s, idx)}"
    if role == "input":
        return f"(void *)(uintptr_t)inputs[{idx}]"
    return f"outputs[{idx}]"


def _aot_direct_body(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    """TVM's inner main called with one pointer per tensor (unpacked API, no run wrapper)."""
    args = [_aot_arg(mod, s, role, idx) for role, idx in mod.aot_args]
    call = f"{_entry(model, mod)}({', '.join(args)})"
    return _signature(s) + _begin(mod, plan, s) + f"  return mlf_run_end({call});\n}}\n"


def _aot_packed_slots(mod: Module) -> list[Slot]:
    from ..read.graph import Entry

    slots = []
    for role, idx in mod.aot_args:
        if role == "param":
            p = mod.params[idx]
            slots.append(Slot(CONST, idx, Entry(0, 0, 0, p.dtype, p.shape, 0)))
        else:
            t = (mod.inputs if role == "input" else mod.outputs)[idx]
            slots.append(Slot(INPUT if role == "input" else OUTPUT, idx, Entry(0, 0, 0, t.dtype, t.dims, 0)))
    return slots


def emit_runner(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    """``<t>_runner.c``. The plan is only read: operators TVM defined with the old signature are
    called through trampolines by renaming them in a copy of the steps."""
    t = s.prefix
    shapes = _Shapes(t)
    decls, body = _runner_body(model, mod, plan, s, shapes)
    # After the graph's types: info-table shapes its pool lacks go to a pool of their own.
    info_shapes = _Shapes(t, "info_shapes", graph=shapes)
    tables = _tables(mod, s, info_shapes)
    out = [_runner_preamble(model, mod, s), decls]
    if s.static_arena:
        out.append(f"extern uint8_t {arena_symbol(s)}[];\n")
    if mod.devices:
        out.append(f"void *{devices_symbol(s)}[{len(mod.devices)}];\n")
    out += ["\n", shapes.emit(), info_shapes.emit(), "\n", tables, "\n", body]
    if s.static_arena:
        out.append(_static_run(plan, s))
    return "".join(out)


def _runner_preamble(model: Model, mod: Module, s: Settings) -> str:
    t = s.prefix
    out = [
        banner(
            f"{t}_runner.c - info tables and run functions of {t}.",
            s.model_label,
            [mod.name],
            model.format_version,
        )
    ]
    out.append('#include <stddef.h>\n#include <stdint.h>\n\n#include "mlf_runtime_internal.h"\n')
    if mod.executor == "aot" and mod.interface == "c":
        out.append(f"#include <tvmgen_{mod.name}.h>\n")
    out.append(f'#include "{t}.h"\n\n')
    if s.runtime == "tvm_crt":
        out.append(
            f"#include <setjmp.h>\n\nextern jmp_buf {abort_symbol(s)};\n"
            f"void {begin_symbol(s)}(uint8_t *base, size_t size);\n"
        )
    return "".join(out)


def _runner_body(model: Model, mod: Module, plan: Plan, s: Settings, shapes: _Shapes) -> tuple[str, str]:
    """The declarations the run function needs, and the run function (with the graph's
    tables), for each kind of module."""
    decls = _param_decls(model, mod, s)
    if mod.executor == "graph":
        assert plan.graph is not None
        funcs = [st.func for st in plan.graph.steps if st.func is not None]
        op_decls, rename = _op_declarations(model, mod, funcs)
        # A copy of the steps with the trampolines' names: the plan stays as the planner made it.
        steps = [
            GraphStep(rename.get(st.func, st.func), st.args) if st.func else st for st in plan.graph.steps
        ]
        _check_calls(model, mod, steps)
        return decls + op_decls, _graph_body(mod, plan, s, shapes, plan.graph.slots, steps)
    if mod.interface == "c":
        return decls + _constant_pools(mod, s), _aot_c_body(model, mod, plan, s)
    if mod.direct_call:
        return decls + _direct_declaration(model, mod), _aot_direct_body(model, mod, plan, s)
    assert mod.entry is not None
    op_decls, rename = _op_declarations(model, mod, [mod.entry])
    slots = _aot_packed_slots(mod)
    step = GraphStep(rename.get(mod.entry, mod.entry), list(range(len(slots))))
    _check_calls(model, mod, [step])
    return decls + op_decls, _graph_body(mod, plan, s, shapes, slots, [step])


def _static_run(plan: Plan, s: Settings) -> str:
    """``<t>_run()``: the run on the library's own arena."""
    t = s.prefix
    return (
        f"\nint32_t {t}_run(const void *const *inputs, void *const *outputs) {{\n"
        f"  return {t}_run_with_workspace(inputs, outputs, {arena_symbol(s)},\n"
        f"{' ' * (len(t) + 30)}{plan.workspace_size}u);\n}}\n"
    )
