"""The AOT executor's interface: TVM's ``tvmgen_<m>.h`` header, and the inputs and outputs of an
AOT module pieced together from whichever sources the artifact has.

MLF recorded AOT I/O better over time: v0.8-0.10 headers name the struct fields only; v0.11+
add size macros and metadata ``inputs``/``outputs`` (keyed, and JSON-sorted, by name); v0.12+
Relay text carries ``output_tensor_names`` (the true output order). The resolver takes each
fact from the best source present and records which ones it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .csource import Function
from .dtypes import DType, parse_dtype
from .errors import MlfError, printable
from .metadata import ModuleMeta
from .relay import RelayMain

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


@dataclass
class AotHeader:
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


def parse_aot_header(text: str, m: str, where: str) -> AotHeader:
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
    return AotHeader(inputs, outputs, pools, devices, sizes, macros.get(f"TVMGEN_{up}_WORKSPACE_SIZE"))


@dataclass
class IoOverride:
    shape: tuple[int, ...]
    dtype: str | None = None


def parse_io_override(text: str) -> tuple[str, IoOverride]:
    """``NAME=1x4`` or ``NAME=1x4:int8`` (``--io-shape``, CMake IO_SHAPES)."""
    m = re.fullmatch(r"(.+)=(\d+(?:x\d+)*|scalar)(?::(\w+))?", text)
    if m is None:
        raise MlfError("--io-shape", f"{text!r} is not NAME=D0xD1...[:dtype]")
    shape = () if m.group(2) == "scalar" else tuple(int(d) for d in m.group(2).split("x"))
    return m.group(1), IoOverride(shape, m.group(3))


@dataclass
class _Slot:
    is_output: bool
    arg: str  # the name in TVM's code (header field or parameter)
    name: str  # the name reported to users
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    size: int | None = None
    sources: set[str] = field(default_factory=set)


@dataclass
class AotIo:
    #: (name, dtype, shape) of the user's inputs and outputs
    inputs: list[tuple[str, DType, tuple[int, ...]]]
    outputs: list[tuple[str, DType, tuple[int, ...]]]
    #: the entry point's tensor arguments: ("input", i) | ("param", k) | ("output", j)
    args: list[tuple[str, int]]
    source: str


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def resolve_aot_io(
    *,
    module: str,
    meta: ModuleMeta,
    header: AotHeader | None,
    inner: Function | None,
    functions: dict[str, Function],
    relay: RelayMain | None,
    params: list[str],
    overrides: dict[str, IoOverride],
    where: str,
) -> AotIo:
    relay_inputs = [a for a in (relay.args if relay else []) if a[0] not in params]
    meta_in = {i.name: i for i in meta.inputs or []}
    meta_out = {o.name: o for o in meta.outputs or []}
    sources: set[str] = set()

    # 1) the entry point's arguments, in order
    if header is not None:
        in_args, out_args = list(header.inputs), list(header.outputs)
        sources.add("aot_header")
    elif inner is not None:
        # TVM's inner main takes inputs, then outputs (then pools): everything from the first
        # known output name on is an output.
        known_outputs = set(meta_out) | set(relay.output_names if relay and relay.output_names else [])
        in_args, out_args = [], []
        for p in inner.params:
            local = next((a for a, t in inner.aliases.items() if t == p.name), p.name)
            clean = re.sub(r"_buffer_var$", "", local)
            if re.search(r"workspace|_pool", clean):
                continue  # USMP pool pointers are bound inside lib0.c
            if out_args or clean in known_outputs or re.fullmatch(r"output\d*", clean):
                out_args.append(clean)
            else:
                in_args.append(clean)
        sources.add("aot_source")
    else:
        # Objects only: metadata lists the real inputs (relay also lists weights it bound).
        in_args = [a[0] for a in relay_inputs if a[0] in meta_in] if meta_in else [a[0] for a in relay_inputs]
        in_args += sorted(n for n in meta_in if n not in in_args)
        out_args = (relay.output_names if relay and relay.output_names else None) or sorted(meta_out)
        if not in_args or not out_args:
            raise MlfError(
                where, f"module {module!r}: cannot tell its inputs and outputs (no header, no C source)"
            )
        sources.add("metadata" if meta_in else "relay")

    # 2) user-facing names and what each source knows
    slots: list[_Slot] = []
    by_relay_order = relay is not None and not any(
        a == r[0] or a == _sanitize(r[0]) for a in in_args for r in relay_inputs
    )
    user_inputs = [a for a in in_args if a not in params]
    for i, arg in enumerate(user_inputs):
        r = next((r for r in relay_inputs if arg in (r[0], _sanitize(r[0]))), None)
        if r is None and by_relay_order and i < len(relay_inputs) and header is None:
            r = relay_inputs[i]
        s = _Slot(False, arg, r[0] if r else arg)
        if r is not None:
            s.shape, s.dtype = r[1], r[2]
            sources.add("relay")
        slots.append(s)
    out_names = list(out_args)
    if relay and relay.output_names and len(relay.output_names) == len(out_args):
        out_names = list(relay.output_names)
        sources.add("relay")
    for arg, name in zip(out_args, out_names, strict=True):
        slots.append(_Slot(True, arg, name))

    for s in slots:
        table = meta_out if s.is_output else meta_in
        m = table.get(s.name) or table.get(s.arg)
        if m is not None:
            s.size, s.dtype = m.size, s.dtype or m.dtype
            sources.add("metadata")
        if s.size is None and header is not None and s.arg in header.sizes:
            s.size = header.sizes[s.arg]
    # A single output may take the metadata entry whatever its name (TVM renamed outputs).
    outs = [s for s in slots if s.is_output]
    if len(outs) == 1 and outs[0].size is None and len(meta_out) == 1:
        only = next(iter(meta_out.values()))
        outs[0].size, outs[0].dtype = only.size, outs[0].dtype or only.dtype
        sources.add("metadata")
    if inner is not None:
        n_in = len(in_args)
        for s in slots:
            if s.dtype is None:
                pos = (n_in + out_args.index(s.arg)) if s.is_output else in_args.index(s.arg)
                s.dtype = _c_dtype(inner, functions, pos)
                if s.dtype:
                    sources.add("aot_source")

    # 3) what the user said, then what io_size_bytes can settle
    names = {s.name for s in slots}
    for name in overrides:
        if name not in names:
            raise MlfError(
                where,
                f"--io-shape names {printable(name)!r}, which is not an input or output "
                f"({', '.join(sorted(names))})",
            )
    for s in slots:
        o = overrides.get(s.name)
        if o is not None:
            s.shape = o.shape
            s.dtype = o.dtype or s.dtype
            if s.dtype is not None:
                s.size = parse_dtype(s.dtype, where).nbytes(o.shape)
            sources.add("override")
        if s.dtype is None:
            raise MlfError(
                where,
                f"module {module!r}: cannot tell the dtype of {'output' if s.is_output else 'input'} "
                f"{printable(s.name)!r}; give it with --io-shape {s.name}=<dims>:<dtype>",
            )
        if s.size is None and s.shape is not None:
            s.size = parse_dtype(s.dtype, where).nbytes(s.shape)
    _settle_sizes(module, meta, slots, where, sources)

    inputs: list[tuple[str, DType, tuple[int, ...]]] = []
    outputs: list[tuple[str, DType, tuple[int, ...]]] = []
    for s in slots:
        dt = parse_dtype(s.dtype, where)
        assert s.size is not None
        if s.size % dt.itemsize:
            raise MlfError(
                where,
                f"module {module!r}: {printable(s.name)!r} has {s.size} bytes, not a whole number of {dt}",
            )
        shape = s.shape if s.shape is not None and dt.nbytes(s.shape) == s.size else (s.size // dt.itemsize,)
        (outputs if s.is_output else inputs).append((s.name, dt, tuple(shape)))
    args: list[tuple[str, int]] = []
    user = iter(range(len(user_inputs)))
    for a in in_args:
        args.append(("param", params.index(a)) if a in params else ("input", next(user)))
    args += [("output", j) for j in range(len(out_args))]
    order = ["aot_header", "aot_source", "metadata", "relay", "io_size", "override"]
    return AotIo(inputs, outputs, args, "+".join(x for x in order if x in sources))


def _settle_sizes(module: str, meta: ModuleMeta, slots: list[_Slot], where: str, sources: set[str]) -> None:
    """Sizes only the total ``io_size_bytes`` can give. TVM counts a tuple's outputs twice in
    that total, so it is used only for models with a single output."""
    unknown = [s for s in slots if s.size is None]
    if not unknown:
        return
    total = meta.io_size_bytes
    n_out = sum(s.is_output for s in slots)
    items = [parse_dtype(s.dtype or "", where).itemsize for s in unknown]
    rest = None if total is None else total - sum(s.size for s in slots if s.size is not None)
    if rest is not None and n_out == 1 and len(unknown) == 1:
        unknown[0].size = rest
    elif rest is not None and n_out == 1 and rest == sum(items):
        for s, it in zip(unknown, items, strict=True):
            s.size = it
    else:
        names = ", ".join(printable(s.name) for s in unknown)
        raise MlfError(
            where,
            f"module {module!r} does not record the sizes of {names}; give them with "
            + " ".join(f"--io-shape {s.name}=<dims>" for s in unknown),
        )
    sources.add("io_size")


def _c_dtype(inner: Function, functions: dict[str, Function], pos: int) -> str | None:
    """A dtype from TVM's C: the inner main's parameter type, or how the operator it is passed
    to casts it (``((int8_t*)T_cast)[i]``)."""
    if pos >= len(inner.params):
        return None
    param = inner.params[pos].name
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


def name_graph_outputs(
    dtypes_shapes: list[tuple[DType, tuple[int, ...]]], meta: ModuleMeta, relay: RelayMain | None
) -> tuple[list[str], str | None]:
    """Names for a graph's outputs (the graph JSON has none): TVM's own ``output``/``output<N>``
    unless metadata.json names them and the order is known. Returns (names, warning)."""
    n = len(dtypes_shapes)
    names = ["output"] if n == 1 else [f"output{i}" for i in range(n)]
    given = [o.name for o in meta.outputs or []]
    if len(given) != n:
        return names, None
    if n == 1:
        return given, None
    if relay is not None and relay.output_names and sorted(relay.output_names) == sorted(given):
        return list(relay.output_names), None
    if all(re.fullmatch(r"output\d+", g) for g in given):
        return sorted(given, key=lambda g: int(g[6:])), None
    # Match by size and dtype where that is unambiguous.
    meta_by = {o.name: (o.size, o.dtype) for o in meta.outputs or []}
    picked: list[str] = []
    for dt, shape in dtypes_shapes:
        key = (dt.nbytes(shape), dt.name)
        cands = [g for g in given if meta_by[g] == key and g not in picked]
        if len([g for g in given if meta_by[g] == key]) != 1:
            return (
                names,
                "metadata.json names the outputs, but not in an order that can be matched; using output<N>",
            )
        picked.extend(cands[:1])
    return picked, None
