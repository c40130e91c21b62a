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

from ..dtypes import DType
from ..errors import MlfError, printable
from ..naming import check_tvm_members, relay_name_candidates, tvm_sanitize
from .csource import Function
from .facts import Facts, IoOverride, IoTensor, settle
from .metadata import IoMeta, ModuleMeta
from .relay import RelayMain, RelayTensorType, RelayType

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
    """What ``tvmgen_<m>.h`` declares, member names exactly as TVM wrote them."""

    inputs: list[str]
    outputs: list[str]
    #: members of struct tvmgen_<m>_workspace_pools with their size macro, in order
    pools: list[tuple[str, int]]
    devices: list[str]
    sizes: dict[str, int]  # member -> TVMGEN_<M>_<MEMBER>_SIZE (TVM 0.11+)
    workspace_size: int | None
    #: members of the pools struct that are constant pools (``_CONSTANT_POOL_SIZE``), in order
    constant_pools: list[tuple[str, int]] = field(default_factory=list)


def _struct_fields(text: str, struct: str) -> list[str] | None:
    """Members of ``struct <struct> { void* <member>; ... }`` as written: interface_c.cc
    EmitStruct declares one ``void*`` per SanitizeName'd name. They are checked where they
    become C (a member like ``0`` is what TVM writes for a tensor named "0")."""
    m = re.search(rf"struct\s+{re.escape(struct)}\s*\{{", text)
    if m is None:
        return None
    end = text.find("}", m.end())
    if end < 0:  # then no later `struct ... {` has one either: the text is not scanned again
        return None
    # An unterminated comment runs to the end, as in C (and is not re-scanned from each '/*').
    body = re.sub(r"/\*.*?(?:\*/|\Z)|//[^\n]*", "", text[m.end() : end], flags=re.S)
    return re.findall(r"\bvoid\s*\*\s*([^\s;*]+)\s*;", body)


def parse_aot_header(text: str, m: str, where: str) -> AotHeader:
    inputs = _struct_fields(text, f"tvmgen_{m}_inputs")
    outputs = _struct_fields(text, f"tvmgen_{m}_outputs")
    if inputs is None or outputs is None:
        raise MlfError(where, f"has no struct tvmgen_{m}_inputs/outputs")
    for kind, members in (("input", inputs), ("output", outputs)):
        seen: set[str] = set()
        for x in members:
            if x in seen:  # TVM refuses to write this (interface_c.cc EmitStruct ICHECK)
                raise MlfError(where, f"declares the {kind} member {printable(x)!r} twice")
            seen.add(x)
    up = m.upper()
    # (a number of more than 18 digits is no size: it is left out, not converted)
    macros = {k: int(v) for k, v in re.findall(r"#define\s+(\w+)\s+\(?(\d+)\)?", text) if len(v) <= 18}
    defined = set(re.findall(r"#define\s+(\w+)", text))
    sizes = {}
    for name in inputs + outputs:
        key = f"TVMGEN_{up}_{name.upper()}_SIZE"
        if key in macros:
            sizes[name] = macros[key]
    pools, constant_pools = [], []
    for pool in _struct_fields(text, f"tvmgen_{m}_workspace_pools") or []:
        # interface_c.cc: external workspace pools get <POOL>_WORKSPACE_POOL_SIZE, external
        # constant pools <POOL>_CONSTANT_POOL_SIZE and the bytes as <POOL>_CONSTANT_POOL_DATA.
        key = f"TVMGEN_{up}_{pool.upper()}_WORKSPACE_POOL_SIZE"
        const = f"TVMGEN_{up}_{pool.upper()}_CONSTANT_POOL_SIZE"
        if key in macros:
            pools.append((pool, macros[key]))
        elif const in macros and f"TVMGEN_{up}_{pool.upper()}_CONSTANT_POOL_DATA" in defined:
            constant_pools.append((pool, macros[const]))
        else:
            raise MlfError(where, f"declares workspace pool {printable(pool)!r} without its size macro {key}")
    devices = _struct_fields(text, f"tvmgen_{m}_devices") or []
    return AotHeader(
        inputs, outputs, pools, devices, sizes, macros.get(f"TVMGEN_{up}_WORKSPACE_SIZE"), constant_pools
    )


@dataclass
class AotIo:
    inputs: list[IoTensor]
    outputs: list[IoTensor]
    #: the entry point's tensor arguments: ("input", i) | ("param", k) | ("output", j)
    args: list[tuple[str, int]]
    #: the C names of those arguments, in the same order (members of TVM's structs for the C
    #: interface)
    arg_names: list[str]
    source: str


def _raw_names(members: list[str], candidates: list[str]) -> list[str]:
    """The model's own names of the tensors TVM calls ``members`` in C: for each, the first
    candidate not taken yet that is the member or sanitizes to it, else the member itself (the
    archive keeps no other name)."""
    # Each candidate under its own name and under its C name, in order; a cursor per key skips
    # those taken (each candidate is sanitized and stepped over once: a model of thousands of
    # inputs made the search of each quadratic).
    exact: dict[str, list[str]] = {}
    sanitized: dict[str, list[str]] = {}
    for c in candidates:
        exact.setdefault(c, []).append(c)
        sanitized.setdefault(tvm_sanitize(c), []).append(c)
    cursor: dict[tuple[int, str], int] = {}
    taken: set[str] = set()

    def first_free(table: dict[str, list[str]], kind: int, key: str) -> str | None:
        found = table.get(key, [])
        i = cursor.get((kind, key), 0)
        while i < len(found) and found[i] in taken:
            i += 1
        cursor[(kind, key)] = i
        return found[i] if i < len(found) else None

    out = []
    for member in members:
        name = first_free(exact, 0, member)
        if name is None:
            name = first_free(sanitized, 1, member) or member
        taken.add(name)
        out.append(name)
    return out


@dataclass
class _Clues:
    """What the archive says about the entry point's tensors besides the C, indexed for lookup."""

    #: weight name -> its index in the params file (the first, if a name repeats)
    param_index: dict[str, int]
    #: Relay parameters that are not weights of the params file, by the names they can have had
    #: before the printer wrote them (relay_name_candidates), with their types
    relay_inputs: list[tuple[list[str], RelayType | None]]
    meta_in: dict[str, IoMeta]
    meta_out: dict[str, IoMeta]
    relay_out_names: list[str]


@dataclass
class _Names:
    """The model's own names of the entry point's tensors."""

    user_inputs: list[str]  # the C names of the inputs that are not weights
    inputs: list[str]
    in_types: list[RelayType | None]  # the Relay type of each input, where known
    outputs: list[str]


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
    # The steps run in this order so that, of several problems, the first one reported stays
    # the same: the arguments, then the names, then the --io-shape names, then each tensor.
    clues = _clues(meta, relay, params)
    in_args, out_args, source = _entry_args(module, header, inner, clues, where)
    names = _model_names(header is not None, in_args, out_args, clues, where)
    members = names.user_inputs + out_args
    returns = relay.returns if relay else None
    facts = _gather_facts(names, in_args, out_args, clues, header, inner, functions, returns)
    _check_overrides(overrides, facts, members, where)
    tensors, used = _settle_all(module, facts, members, overrides, header is not None, where)
    order = ["aot_header", "aot_source", "graph_json", "metadata", "relay", "c_source", "flat", "override"]
    sources = {source} | used
    return AotIo(
        tensors[: len(names.inputs)],
        tensors[len(names.inputs) :],
        _arg_order(in_args, clues.param_index, len(names.user_inputs), len(out_args)),
        in_args + out_args,
        "+".join(x for x in order if x in sources),
    )


def _clues(meta: ModuleMeta, relay: RelayMain | None, params: list[str]) -> _Clues:
    param_index = {name: k for k, name in reversed(list(enumerate(params)))}
    relay_inputs: list[tuple[list[str], RelayType | None]] = []
    for printed, rtype in relay.params if relay else []:
        names = relay_name_candidates(printed)
        if not any(n in param_index for n in names):
            relay_inputs.append((names, rtype))
    return _Clues(
        param_index,
        relay_inputs,
        {i.name: i for i in meta.inputs or []},
        {o.name: o for o in meta.outputs or []},
        relay.output_names if relay and relay.output_names else [],
    )


def _entry_args(
    module: str, header: AotHeader | None, inner: Function | None, clues: _Clues, where: str
) -> tuple[list[str], list[str], str]:
    """1) The entry point's input and output arguments, in order, as TVM's C names them, and
    the source that told."""
    if header is not None:
        return list(header.inputs), list(header.outputs), "aot_header"
    if inner is not None:
        in_args, out_args = _args_of_inner_main(inner, clues)
        return in_args, out_args, "aot_source"
    return _args_of_objects(module, clues, where)


def _args_of_inner_main(inner: Function, clues: _Clues) -> tuple[list[str], list[str]]:
    # TVM's inner main takes inputs, then outputs (then pools): everything from the first
    # known output name on is an output.
    known_outputs = {tvm_sanitize(n) for n in [*clues.meta_out, *clues.relay_out_names]}
    in_args: list[str] = []
    out_args: list[str] = []
    for p in inner.params:
        clean = re.sub(r"_buffer_var$", "", inner.alias_of(p.name))
        if re.search(r"workspace|_pool|^device_context_", clean):
            continue  # USMP pool pointers are bound inside lib0.c; devices come last
        if out_args or clean in known_outputs or re.fullmatch(r"output\d*", clean):
            out_args.append(clean)
        else:
            in_args.append(clean)
    return in_args, out_args


def _args_of_objects(module: str, clues: _Clues, where: str) -> tuple[list[str], list[str], str]:
    # Objects only: metadata lists the real inputs (relay also lists weights it bound).
    relay_first = [names[-1] for names, _t in clues.relay_inputs]
    in_args = [n for n in relay_first if n in clues.meta_in] if clues.meta_in else relay_first
    listed = set(in_args)
    in_args += sorted(n for n in clues.meta_in if n not in listed)
    out_args = clues.relay_out_names or sorted(clues.meta_out)
    if not in_args or not out_args:
        raise MlfError(
            where, f"module {module!r}: cannot tell its inputs and outputs (no header, no C source)"
        )
    return in_args, out_args, "metadata" if clues.meta_in else "relay"


def _model_names(
    has_header: bool, in_args: list[str], out_args: list[str], clues: _Clues, where: str
) -> _Names:
    """2) The model's own names, and which Relay parameter each input is."""
    relay_inputs = clues.relay_inputs
    in_candidates = [*clues.meta_in] + [n for names, _t in relay_inputs for n in names]
    user_inputs = [a for a in in_args if a not in clues.param_index]
    in_names = _raw_names(user_inputs, in_candidates)
    by_name = {n: t for names, t in relay_inputs for n in names}
    in_types: list[RelayType | None] = [by_name.get(n) for n in in_names]
    if not has_header and relay_inputs and not any(n in by_name for n in in_names):
        # 2021 AOT mains name their arguments arg0, arg1, ...: the Relay order is the order.
        in_types = [relay_inputs[i][1] if i < len(relay_inputs) else None for i in range(len(in_names))]
        in_names = [relay_inputs[i][0][-1] if i < len(relay_inputs) else a for i, a in enumerate(user_inputs)]
    out_names = _raw_names(out_args, [*clues.meta_out, *clues.relay_out_names])
    if not has_header and len(clues.relay_out_names) == len(out_args) and out_names == out_args:
        out_names = list(clues.relay_out_names)  # TVM's C names them output<N>; Relay has the names
    check_tvm_members(in_names, "input", where)
    check_tvm_members(out_names, "output", where)
    return _Names(user_inputs, in_names, in_types, out_names)


def _gather_facts(
    names: _Names,
    in_args: list[str],
    out_args: list[str],
    clues: _Clues,
    header: AotHeader | None,
    inner: Function | None,
    functions: dict[str, Function],
    returns: list[RelayTensorType] | None,
) -> list[Facts]:
    """3) What each source says about each tensor."""
    facts = [Facts("input", n) for n in names.inputs] + [Facts("output", n) for n in names.outputs]
    members = names.user_inputs + out_args
    n_in = len(names.inputs)
    # Relay's return types are the outputs' only when there is one per output.
    out_types = returns if returns and len(returns) == len(out_args) else None
    in_pos = {a: k for k, a in reversed(list(enumerate(in_args)))}
    out_pos = {a: k for k, a in reversed(list(enumerate(out_args)))}
    for k, f in enumerate(facts):
        is_out = k >= n_in
        rtype = (out_types[k - n_in] if out_types else None) if is_out else names.in_types[k]
        if isinstance(rtype, RelayTensorType):
            f.dtypes.append(("relay", rtype.dtype))
            if rtype.shape is not None:
                f.shapes.append(("relay", rtype.shape))
        mi = _metadata_entry(
            clues.meta_out if is_out else clues.meta_in, f.name, is_out and len(out_args) == 1
        )
        if mi is not None:
            f.sizes.append(("metadata", mi.size))
            f.dtypes.append(("metadata", mi.dtype))
        if header is not None and members[k] in header.sizes:
            f.sizes.append(("aot_header", header.sizes[members[k]]))
        if inner is not None:
            pos = (len(in_args) + out_pos[members[k]]) if is_out else in_pos[members[k]]
            f.c_dtype = _c_dtype(inner, functions, pos)
    return facts


def _metadata_entry(table: dict[str, IoMeta], name: str, single_output: bool) -> IoMeta | None:
    mi = table.get(name)
    if mi is None and single_output and len(table) == 1:
        mi = next(iter(table.values()))  # TVM renamed a single output (output -> Identity)
    return mi


def _check_overrides(
    overrides: dict[str, IoOverride], facts: list[Facts], members: list[str], where: str
) -> None:
    """4a) Every --io-shape names a tensor, by the model's name or TVM's C name."""
    known = {f.name for f in facts} | set(members)
    for name in overrides:
        if name not in known:
            raise MlfError(
                where,
                f"--io-shape names {printable(name)!r}, which is not an input or output "
                f"({', '.join(sorted(f.name for f in facts))})",
            )


def _settle_all(
    module: str,
    facts: list[Facts],
    members: list[str],
    overrides: dict[str, IoOverride],
    has_header: bool,
    where: str,
) -> tuple[list[IoTensor], set[str]]:
    """4b) One value per fact, or the disagreement in one line; and the sources used."""
    sources: set[str] = set()
    tensors = []
    for f, member in zip(facts, members, strict=True):
        settled = settle(module, f, overrides.get(f.name) or overrides.get(member), where)
        sources |= set(settled.origin.values()) | set(settled.checked)
        # Only the C interface has struct members; the packed one passes an array.
        tensors.append(IoTensor(f.name, member if has_header else None, settled))
    return tensors, sources


def _arg_order(
    in_args: list[str], param_index: dict[str, int], n_user: int, n_out: int
) -> list[tuple[str, int]]:
    """5) The entry point's tensor arguments: inputs (weights among them by their index in the
    params file), then outputs."""
    args: list[tuple[str, int]] = []
    user = iter(range(n_user))
    for a in in_args:
        args.append(("param", param_index[a]) if a in param_index else ("input", next(user)))
    args += [("output", j) for j in range(n_out)]
    return args


def _c_dtype(inner: Function, functions: dict[str, Function], pos: int) -> str | None:
    """A dtype from TVM's C: the inner main's parameter type, or how the operator it is passed
    to casts it (``((int8_t*)T_cast)[i]``)."""
    if pos >= len(inner.params):
        return None
    param = inner.params[pos].name
    ctype = inner.element_type(param)
    if ctype is None:
        for callee, k in inner.calls_with(inner.alias_of(param)):
            if callee in functions:
                f = functions[callee]
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
    if all(re.fullmatch(r"output[0-9]{1,18}", g) for g in given):
        return sorted(given, key=lambda g: int(g[6:])), None
    # Match by size and dtype where that is unambiguous.
    by_key: dict[tuple[int, str], list[str]] = {}
    for o in meta.outputs or []:
        by_key.setdefault((o.size, o.dtype), []).append(o.name)
    picked: list[str] = []
    taken: set[str] = set()
    for dt, shape in dtypes_shapes:
        found = by_key.get((dt.nbytes(shape), dt.name), [])
        # (two outputs matching the one name of their size: a damaged archive, no match either)
        if len(found) != 1 or found[0] in taken:
            return (
                names,
                "metadata.json names the outputs, but not in an order that can be matched; using output<N>",
            )
        picked.append(found[0])
        taken.add(found[0])
    return picked, None
