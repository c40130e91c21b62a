"""``<t>_runner.c``: the info tables and the run functions.

Graph modules get a table-driven static runner (the shared runtime walks the table); AOT
modules get a direct call of TVM's entry point (C interface: its structs; packed interface: a
one-step table). Parameters are referenced by symbol: blobs from ``<t>_data.c`` or, for
parameters TVM linked into its C code, aliases defined next to those arrays.
"""

from __future__ import annotations

from ..dtypes import DType
from ..errors import MlfError
from ..model import Model, Module, Tensor
from ..naming import c_string
from ..params import ParamTensor
from ..plan import ARENA, CONST, INPUT, OUTPUT, Plan, Slot
from .common import Settings, arena_symbol, banner, linked_symbol, param_symbol
from .crt import abort_symbol, begin_symbol

_CANONICAL = (
    "TVMValue *args, int32_t *type_codes, int32_t num_args, TVMValue *ret, int32_t *ret_code, "
    "void *resource_handle"
)
_LOC = {ARENA: "MLF_LOC_ARENA", INPUT: "MLF_LOC_INPUT", OUTPUT: "MLF_LOC_OUTPUT", CONST: "MLF_LOC_CONST"}
_C_ELEM = {
    "float32": "float",
    "float64": "double",
    "int8": "int8_t",
    "uint8": "uint8_t",
    "int16": "int16_t",
    "uint16": "uint16_t",
    "int32": "int32_t",
    "uint32": "uint32_t",
    "int64": "int64_t",
    "uint64": "uint64_t",
}


class _Shapes:
    """The shape pool: one ``static const int64_t`` array holding every shape the runner
    refers to, each stored once (a shape found inside the pool, or overlapping its end, is
    not stored again). Entries refer to a shape by the index of its first dimension."""

    MAX_INDEX = 0xFFFF  # mlf_graph_entry_t.shape is 16 bits

    def __init__(self, prefix: str, suffix: str = "shapes", graph: _Shapes | None = None) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.pool: list[int] = []
        self.used = False
        #: for an info-table pool: the graph's pool, referred to when it holds the shape already
        self.graph = graph

    @property
    def name(self) -> str:
        return f"{self.prefix}__{self.suffix}"

    def _find(self, dims: list[int]) -> int | None:
        n = len(dims)
        for i in range(len(self.pool) - n + 1):
            if self.pool[i : i + n] == dims:
                return i
        return None

    def index(self, shape: tuple[int, ...]) -> int:
        self.used = True
        if not shape:  # scalars: ndim 0, the pointer is never dereferenced
            if not self.pool:
                self.pool.append(1)
            return 0
        dims, n = list(shape), len(shape)
        found = self._find(dims)
        if found is not None:
            return found
        overlap = next((k for k in range(min(n, len(self.pool)), 0, -1) if self.pool[-k:] == dims[:k]), 0)
        start = len(self.pool) - overlap
        if start > self.MAX_INDEX:
            raise MlfError(self.prefix, f"the graph's shapes need more than {self.MAX_INDEX} dimensions")
        self.pool.extend(dims[overlap:])
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


def _dtype_byte(dt: DType, where: str) -> str:
    log2 = dt.bits.bit_length() - 1
    if dt.bits != 1 << log2 or dt.code > 15 or log2 > 15:
        raise MlfError(where, f"dtype {dt.name} cannot be described to the graph runtime")
    return f"MLF_DTYPE({dt.code}, {log2})"


def param_data_symbol(mod: Module, s: Settings, index: int) -> str:
    p = mod.params[index]
    return linked_symbol(s, index) if p.name in mod.linked_params else param_symbol(s, index)


def _param_decls(mod: Module, s: Settings) -> str:
    out = []
    for i, p in enumerate(mod.params):
        if p.name in mod.linked_params:
            elem = _linked_ctype(mod, p)
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


def _begin(mod: Module, plan: Plan, s: Settings) -> str:
    code = (
        f"  int32_t status = mlf_run_begin(inputs, {len(mod.inputs)}, outputs, {len(mod.outputs)}, "
        f"workspace, workspace_size, {plan.static_size}u, {plan.align}u);\n"
        "  if (status != MLF_OK) {\n    return status;\n  }\n"
    )
    if s.runtime == "tvm_crt":
        # TVM's CRT aborts when the workspace runs out; its abort hook jumps back here.
        code += (
            f"  {begin_symbol(s)}((uint8_t *)workspace + {plan.static_size}, "
            f"workspace_size - {plan.static_size}u);\n"
            f"  if (setjmp({abort_symbol(s)}) != 0) {{\n    return mlf_run_end(-1);\n  }}\n"
        )
    return code


def _signature(s: Settings) -> str:
    return (
        f"int32_t {s.prefix}_run_with_workspace(const void *const *inputs, void *const *outputs,\n"
        f"{' ' * (len(s.prefix) + 30)}void *workspace, size_t workspace_size) {{\n"
    )


def _graph_body(mod: Module, plan: Plan, s: Settings, shapes: _Shapes, slots: list[Slot], steps: list) -> str:  # type: ignore[type-arg]
    t = s.prefix
    out = []
    rows = []
    for sl in slots:
        e = sl.entry
        assert e is not None
        where = f"{{.offset = {sl.index}u}}"
        if sl.loc == CONST:
            where = f"{{.data = {param_data_symbol(mod, s, sl.index)}}}"
        if len(e.shape) > 63:
            raise MlfError(mod.name, f"a tensor of the graph has {len(e.shape)} dimensions (at most 63)")
        rows.append(
            f"    {{{where}, {shapes.index(e.shape)}u, MLF_KIND({_LOC[sl.loc]}, {len(e.shape)}), "
            f"{_dtype_byte(e.dtype, mod.name)}}},\n"
        )
    args: list[int] = []
    ops = []
    for st in steps:
        first = len(args)
        args.extend(st.args)
        func = st.func if st.func is not None else "NULL"
        ops.append(f"    {{{func}, {first}, {len(st.args)}}},\n")
    out.append(f"static const mlf_graph_entry_t {t}__entries[{len(rows)}] = {{\n{''.join(rows)}}};\n")
    out.append(
        f"static const uint16_t {t}__args[{max(len(args), 1)}] = {{{', '.join(map(str, args)) or '0'}}};\n"
    )
    op_rows = "".join(ops) or "    {NULL, 0, 0},\n"
    out.append(f"static const mlf_graph_op_t {t}__ops[{max(len(ops), 1)}] = {{\n{op_rows}}};\n")
    max_args = max((len(st.args) for st in steps if st.func is not None), default=1)
    out.append(
        f"static const mlf_graph_t {t}__graph = {{\n    {t}__entries, {shapes.name}, {t}__args, {t}__ops, "
        f"{len(ops)}, {max_args}}};\n\n"
    )
    out.append(_signature(s))
    out.append(
        f"  DLTensor tensors[{max_args}];\n  TVMValue values[{max_args}];\n  int32_t codes[{max_args}];\n"
    )
    out.append(_begin(mod, plan, s))
    out.append(
        f"  return mlf_run_end(mlf_graph_run(&{t}__graph, inputs, outputs, (uint8_t *)workspace, tensors,\n"
        "                                    values, codes));\n}\n"
    )
    return "".join(out)


def _op_declarations(mod: Module, funcs: list[str]) -> tuple[str, dict[str, str]]:
    """Prototypes for the operators the table calls, and a trampoline name for any operator
    TVM defined with the old five-argument signature (no resource_handle)."""
    functions = mod.functions()
    decls: list[str] = []
    rename: dict[str, str] = {}
    for f in sorted(set(funcs)):
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


def _aot_c_body(mod: Module, plan: Plan, s: Settings) -> str:
    """TVM's tvmgen_<m>_run() called with its structs, filled member by member under the names
    TVM's header gave them (``in.serving_default_input_1_0``, not the model's own name)."""
    m = mod.name
    out = [_signature(s), _begin(mod, plan, s)]
    out.append(f"  struct tvmgen_{m}_inputs in;\n  struct tvmgen_{m}_outputs out;\n")
    if plan.pools or mod.constant_pools:
        out.append(f"  struct tvmgen_{m}_workspace_pools pools;\n")
    for (role, idx), member in zip(mod.aot_args, mod.aot_arg_names, strict=True):
        if role == "param":
            out.append(f"  in.{member} = (void *)(uintptr_t){param_data_symbol(mod, s, idx)};\n")
        elif role == "input":
            out.append(f"  in.{member} = (void *)(uintptr_t)inputs[{idx}];\n")
        else:
            out.append(f"  out.{member} = outputs[{idx}];\n")
    for name, offset, _size in plan.pools:
        out.append(f"  pools.{name} = (uint8_t *)workspace + {offset};\n")
    for k, name in enumerate(mod.constant_pools):
        out.append(f"  pools.{name} = (void *)(uintptr_t){constant_pool_symbol(s, k)};\n")
    call_args = "&in, &out" + (", &pools" if plan.pools or mod.constant_pools else "")
    out.append(f"  return mlf_run_end({mod.entry}({call_args}));\n}}\n")
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


def _direct_declaration(mod: Module) -> str:
    functions = mod.functions()
    assert mod.entry is not None
    fn = functions.get(mod.entry)
    if fn is not None:
        return f"int32_t {mod.entry}({fn.params_text});\n"
    return f"int32_t {mod.entry}({', '.join(['void *'] * len(mod.aot_args))});\n"


def _aot_direct_body(mod: Module, plan: Plan, s: Settings) -> str:
    """TVM's inner main called with one pointer per tensor (unpacked API, no run wrapper)."""
    args = []
    for role, idx in mod.aot_args:
        if role == "param":
            args.append(f"(void *)(uintptr_t){param_data_symbol(mod, s, idx)}")
        elif role == "input":
            args.append(f"(void *)(uintptr_t)inputs[{idx}]")
        else:
            args.append(f"outputs[{idx}]")
    call = f"{mod.entry}({', '.join(args)})"
    return _signature(s) + _begin(mod, plan, s) + f"  return mlf_run_end({call});\n}}\n"


def _aot_packed_slots(mod: Module) -> list[Slot]:
    from ..graph import Entry

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
    t = s.prefix
    shapes = _Shapes(t)
    out = [banner(model, mod, s, f"{t}_runner.c - info tables and run functions of {t}.")]
    out.append('#include <stddef.h>\n#include <stdint.h>\n\n#include "mlf_runtime_internal.h"\n')
    if mod.executor == "aot" and mod.interface == "c":
        out.append(f"#include <tvmgen_{mod.name}.h>\n")
    out.append(f'#include "{t}.h"\n\n')
    if s.runtime == "tvm_crt":
        out.append(
            f"#include <setjmp.h>\n\nextern jmp_buf {abort_symbol(s)};\n"
            f"void {begin_symbol(s)}(uint8_t *base, size_t size);\n"
        )
    decls = _param_decls(mod, s)
    body: str
    if mod.executor == "graph":
        assert plan.graph is not None
        funcs = [st.func for st in plan.graph.steps if st.func is not None]
        op_decls, rename = _op_declarations(mod, funcs)
        for st in plan.graph.steps:
            if st.func in rename:
                st.func = rename[st.func]
        decls += op_decls
        body = _graph_body(mod, plan, s, shapes, plan.graph.slots, plan.graph.steps)
    elif mod.interface == "c":
        decls += _constant_pools(mod, s)
        body = _aot_c_body(mod, plan, s)
    elif mod.direct_call:
        decls += _direct_declaration(mod)
        body = _aot_direct_body(mod, plan, s)
    else:
        from ..plan import GraphStep

        assert mod.entry is not None
        op_decls, rename = _op_declarations(mod, [mod.entry])
        decls += op_decls
        slots = _aot_packed_slots(mod)
        step = GraphStep(rename.get(mod.entry, mod.entry), list(range(len(slots))))
        body = _graph_body(mod, plan, s, shapes, slots, [step])
    # After the graph table: info-table shapes the graph pool lacks go to a pool of their own.
    info_shapes = _Shapes(t, "info_shapes", graph=shapes)
    tables = _tables(mod, s, info_shapes)
    out.append(decls)
    if s.static_arena:
        out.append(f"extern uint8_t {arena_symbol(s)}[];\n")
    out.append("\n")
    out.append(shapes.emit())
    out.append(info_shapes.emit())
    out.append("\n")
    out.append(tables)
    out.append("\n")
    out.append(body)
    if s.static_arena:
        out.append(
            f"\nint32_t {t}_run(const void *const *inputs, void *const *outputs) {{\n"
            f"  return {t}_run_with_workspace(inputs, outputs, {arena_symbol(s)},\n"
            f"{' ' * (len(t) + 30)}{plan.workspace_size}u);\n}}\n"
        )
    return "".join(out)
