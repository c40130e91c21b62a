"""The shape, dtype and size of each input and output, from every source of the archive that
states them: the most direct source present wins, every other one must agree.

Sources, most direct first (the labels ``inspect`` reports in each tensor's ``from``):

``override``     ``--io-shape`` / ``IO_SHAPES``: settles what the archive does not (or
                 contradicts); nothing is checked against it
``graph_json``   the graph executor's JSON (shape and dtype of every input and output)
``aot_header``   ``TVMGEN_<M>_<NAME>_SIZE`` of the AOT header (TVM 0.11+; size only)
``relay``        the Relay ``@main``: parameter types for inputs, the return type for outputs
``metadata``     ``main[0].inputs`` / ``outputs`` of metadata.json (TVM 0.11+; size, dtype)
``c_source``     the element type TVM's C gives the entry point's pointer (dtype only, and
                 only when no other source states it: it is read from casts, so never used
                 to contradict a recorded dtype)
``flat``         a shape of one dimension, ``nbytes / itemsize``, when only the size is known

``io_size_bytes`` of metadata.json is never a source. TVM computes it in
``UpdateMainWorkspaceSize`` (src/relay/backend/te_compiler.cc) as the sizes of every ``Var`` of
main plus its body: the body is counted once per output of a tuple, and since AOT main is in
A-normal form (bc7f45e765, 2022-05-07, "[AOT] Enable A-Normal Form in the AOT executor", in
every release from v0.9.0 on) every let-bound intermediate is a ``Var`` too, so AOT exports of
TVM 0.9-0.18 over-count by every intermediate tensor. It is a bound only: the inputs and
outputs can never take more (``check_io_total``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..dtypes import DType, parse_dtype
from ..errors import MlfError, printable
from .graph import MAX_ELEMENTS


@dataclass
class IoOverride:
    shape: tuple[int, ...]
    dtype: str | None = None


def parse_io_override(text: str) -> tuple[str, IoOverride]:
    """``NAME=1x4`` or ``NAME=1x4:int8`` (``--io-shape``, CMake IO_SHAPES)."""
    m = re.fullmatch(r"(.+)=([0-9]+(?:x[0-9]+)*|scalar)(?::(\w+))?", text)
    if m is None:
        raise MlfError("--io-shape", f"{printable(text)!r} is not NAME=D0xD1...[:dtype]")
    dims = [] if m.group(2) == "scalar" else m.group(2).split("x")
    # Each dimension bounded before int() (which refuses more than 4300 digits), then the product.
    elements = 1
    for d in dims:
        elements *= int(d) if len(d.lstrip("0")) <= 15 else MAX_ELEMENTS + 1
    if any(len(d.lstrip("0")) > 15 for d in dims) or elements > MAX_ELEMENTS:
        raise MlfError("--io-shape", f"{printable(text)!r}: the shape is impossibly large")
    return m.group(1), IoOverride(tuple(int(d) for d in dims), m.group(3))


RANK = ("override", "graph_json", "aot_header", "relay", "metadata", "c_source", "flat")
_SAID_BY = {
    "override": "--io-shape",
    "graph_json": "the graph JSON",
    "aot_header": "the AOT header",
    "relay": "the Relay text",
    "metadata": "metadata.json",
    "c_source": "TVM's C",
}


@dataclass
class Facts:
    """What the sources say about one input or output."""

    kind: str  # "input" | "output"
    name: str  # the model's own name
    shapes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    dtypes: list[tuple[str, str]] = field(default_factory=list)
    sizes: list[tuple[str, int]] = field(default_factory=list)
    #: a dtype read from how TVM's C casts the pointer: used only when nothing else says
    c_dtype: str | None = None


@dataclass(frozen=True)
class Settled:
    dtype: DType
    shape: tuple[int, ...] | None  # None: no source records it
    #: fact ("shape", "dtype", "nbytes") -> source it was taken from
    origin: dict[str, str]
    #: sources that stated a fact and agreed with the one taken
    checked: tuple[str, ...]


def _first(items: list[tuple[str, str]]) -> str:
    return min((src for src, _ in items), key=RANK.index)


def _disagree(
    module: str, f: Facts, what: str, a: tuple[str, str], b: tuple[str, str], where: str
) -> MlfError:
    name = printable(f.name)
    return MlfError(
        where,
        f"module {module!r}: {f.kind} {name!r} {what} {a[1]} in {_SAID_BY[a[0]]} but {b[1]} in "
        f"{_SAID_BY[b[0]]}; settle it with --io-shape {name}=<dims>[:<dtype>]",
    )


def settle(module: str, f: Facts, override: IoOverride | None, where: str) -> Settled:
    """One shape, dtype and size from ``f``, or a one-line error when two sources disagree."""
    origin: dict[str, str] = {}
    if override is not None:
        text = override.dtype or (min(f.dtypes, key=lambda x: RANK.index(x[0]))[1] if f.dtypes else f.c_dtype)
        if text is None:
            raise _no_dtype(module, f, where)
        origin = {"shape": "override", "nbytes": "override"}
        origin["dtype"] = "override" if override.dtype else (_first(f.dtypes) if f.dtypes else "c_source")
        return Settled(parse_dtype(text, where), override.shape, origin, ())
    checked: set[str] = set()
    # dtype: every recorded one alike
    if f.dtypes:
        best = min(f.dtypes, key=lambda x: RANK.index(x[0]))
        for other in f.dtypes:
            if other[1] != best[1]:
                raise _disagree(module, f, "has dtype", best, other, where)
            checked.add(other[0])
        dtype, origin["dtype"] = parse_dtype(best[1], where), best[0]
    elif f.c_dtype is not None:
        dtype, origin["dtype"] = parse_dtype(f.c_dtype, where), "c_source"
    else:
        raise _no_dtype(module, f, where)
    # shape: every recorded one alike
    shape: tuple[int, ...] | None = None
    if f.shapes:
        best_shape = min(f.shapes, key=lambda x: RANK.index(x[0]))
        for other_shape in f.shapes:
            if other_shape[1] != best_shape[1]:
                raise _disagree(
                    module, f, "has shape", (best_shape[0], _dims(best_shape[1])),
                    (other_shape[0], _dims(other_shape[1])), where,
                )  # fmt: skip
            checked.add(other_shape[0])
        shape, origin["shape"] = best_shape[1], best_shape[0]
    # size: from the shape when there is one, and every recorded size alike
    sizes = list(f.sizes)
    if shape is not None:
        sizes.insert(0, (origin["shape"], dtype.nbytes(shape)))
    if sizes:
        best_size = min(sizes, key=lambda x: RANK.index(x[0]))
        for other_size in sizes:
            if other_size[1] != best_size[1]:
                raise _disagree(
                    module, f, "is", (best_size[0], f"{best_size[1]} bytes"),
                    (other_size[0], f"{other_size[1]} bytes"), where,
                )  # fmt: skip
            checked.add(other_size[0])
        origin["nbytes"] = best_size[0]
        if shape is None:
            if best_size[1] % dtype.itemsize:
                raise MlfError(
                    where,
                    f"module {module!r}: {printable(f.name)!r} has {best_size[1]} bytes, not a whole "
                    f"number of {dtype}",
                )
            shape, origin["shape"] = (best_size[1] // dtype.itemsize,), "flat"
    taken = set(origin.values())
    return Settled(dtype, shape, origin, tuple(s for s in RANK if s in checked and s not in taken))


def _dims(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _no_dtype(module: str, f: Facts, where: str) -> MlfError:
    return MlfError(
        where,
        f"module {module!r}: cannot tell the dtype of {f.kind} {printable(f.name)!r}; give it with "
        f"--io-shape {f.name}=<dims>:<dtype>",
    )


def check_io_total(
    module: str, io_size_bytes: int | None, total: int, where: str, given: Sequence[str] = ()
) -> None:
    """TVM's io_size_bytes counts at least every input and output (see the module docstring):
    inputs and outputs that take more than it contradict the archive's own bookkeeping, or a
    shape the user gave (``given``: the tensors --io-shape sized) is too big."""
    if io_size_bytes is not None and total > io_size_bytes:
        head = (
            f"module {module!r}: its inputs and outputs take {total} bytes but metadata.json's "
            f"io_size_bytes counts only {io_size_bytes}"
        )
        if given:
            names = ", ".join(repr(printable(n)) for n in given)
            raise MlfError(where, f"{head}; check the size --io-shape gives {names}")
        raise MlfError(
            where,
            f"{head}; the archive is inconsistent (export it again), or give the shapes with --io-shape",
        )


@dataclass(frozen=True)
class IoTensor:
    """An input or output as the resolvers settle it."""

    name: str  # the model's own name
    member: str | None  # the C name of TVM's AOT entry-point argument, when it has one
    facts: Settled
