"""The signature of ``@main`` in the Relay text an MLF carries (relay.txt / src/<m>.relay):
parameter names and types, the return type, and ``output_tensor_names``.

TVM writes ``str(mod.ir_mod)``, the module given to ``relay.build``, with the Relay printer
(RelayTextPrinter::PrintFunc, src/relay/printer/relay_text_printer.cc): parameters as
``%name: Type``, then the function's attributes (``output_tensor_names=[...]`` from TVM 0.9's
TFLite frontend), then ``) -> RetType {`` when the module was type-checked before the build.
Names are printed raw (``%serving_default_input_1:0``, ``%input.1``, ``%dense/BiasAdd``), with a
'v' in front when they do not start with an ASCII letter (``%v0``, ``%v_param_1``), so a name
ends at the ``:`` that a type follows, not at the first ``:``.

The text comes from the archive: whitespace and skipped values are scanned by regular
expressions (at most MAX_ITEMS brackets, commas and quotes, and as many parameters), a name's
``:`` is looked for only up to the next ``,`` or ``)``, types nest at most MAX_DEPTH deep, and no
pattern can re-scan what a failed attempt scanned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .limits import literal_body

_MAIN = re.compile(r"def\s+@main\s*\(")
_OUTPUT_NAMES = re.compile(r"output_tensor_names\s*=\s*\[")
# A string ends at its closing quote or, unterminated, at the end: never scanned twice.
_STRING_BODY = literal_body('"', stop="")
_STRING = re.compile(f'"({_STRING_BODY})("?)', re.S)
_WS = re.compile(r"[ \t\r\n]*")
_VALUE_PART = re.compile(r'[^()\[\]{},"]*(?:[()\[\]{},"]|\Z)')
#: brackets, commas and quotes skipped in attribute values, and parameters read: a Relay text's
#: @main has a few per parameter, and models some hundreds of parameters
MAX_ITEMS = 1 << 20
MAX_PARAMS = 1 << 16
#: tuple types nested deeper than this are not read (the parser recurses)
MAX_DEPTH = 64
_DTYPE = re.compile(r"(?:int|uint|float|bfloat)\d+|bool|e4m3_float8|e5m2_float8|handle")
#: A dimension as IntImmToString prints it (src/support/scalars.cc): 32-bit ints bare, others
#: with a width suffix; anything else (``?``, a size variable) is a dynamic dimension.
_DIM = re.compile(r"(\d{1,18})(?:i16|i32|i64)?")
#: How many ':' a parameter's name may hold before the parser gives up on it, and how long the
#: name and its annotations may be (hostile input must not make finding the name quadratic).
_MAX_COLONS = 64
_MAX_NAME = 4096


@dataclass(frozen=True)
class RelayTensorType:
    shape: tuple[int, ...] | None  # None when a dimension is not a constant
    dtype: str


#: A Relay type: a tensor type, or a tuple of types (tuples nest).
RelayType = RelayTensorType | tuple["RelayType", ...]


@dataclass(frozen=True)
class RelayMain:
    #: (name as printed, type) of every parameter of @main, in order; type None when the
    #: parameter is not annotated with a type this parser reads
    params: list[tuple[str, RelayType | None]]
    #: the return type flattened as TVM flattens a tuple of outputs (depth first), or None
    #: when the text has no ``-> type``
    returns: list[RelayTensorType] | None
    output_names: list[str] | None

    @property
    def args(self) -> list[tuple[str, tuple[int, ...] | None, str]]:
        """(printed name, shape, dtype) of the parameters that are tensors."""
        return [(n, t.shape, t.dtype) for n, t in self.params if isinstance(t, RelayTensorType)]


def flatten(t: RelayType) -> list[RelayTensorType]:
    """Tensor types of a type, depth first: the order of TVM's outputs for a tuple
    (_flatten_tuple_outputs in model_library_format.py, FlattenTupleType in AOT codegen)."""
    if isinstance(t, RelayTensorType):
        return [t]
    return [x for field in t for x in flatten(field)]


class _Parser:
    """A cursor over the text after ``def @main(``; every method returns None (and leaves the
    cursor where it was) when the text there is not what it reads."""

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos
        self.depth = 0  # of tuple types being read
        self.items = 0  # brackets, commas and quotes skipped so far
        self.limit = len(text)  # where the parameter being read ends at the latest

    def skip_ws(self) -> None:
        m = _WS.match(self.text, self.pos)
        assert m is not None
        self.pos = m.end()

    def take(self, literal: str) -> bool:
        self.skip_ws()
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def type(self) -> RelayType | None:
        start = self.pos
        self.skip_ws()
        t: RelayType | None
        if self.take("Tensor["):
            t = self._tensor_rest()
        elif self.depth < MAX_DEPTH and self.take("("):
            self.depth += 1
            t = self._tuple_rest()
            self.depth -= 1
        else:
            m = _DTYPE.match(self.text, self.pos)
            t = RelayTensorType((), m.group(0)) if m else None  # a scalar prints as its dtype
            if m:
                self.pos = m.end()
        if t is None:
            self.pos = start
        return t

    def _tensor_rest(self) -> RelayTensorType | None:
        if not self.take("("):
            return None
        # The dimensions, up to the ')' (not searched for beyond the parameter).
        end = self.text.find(")", self.pos, min(self.limit, self.pos + _MAX_NAME))
        if end < 0:
            return None
        dims = [d.strip() for d in self.text[self.pos : end].split(",") if d.strip()]
        self.pos = end + 1
        shape: tuple[int, ...] | None = tuple(
            int(m.group(1)) for m in (_DIM.fullmatch(d) for d in dims) if m is not None
        )
        if len(shape or ()) != len(dims):
            shape = None
        if not self.take(","):
            return None
        self.skip_ws()
        m = _DTYPE.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return RelayTensorType(shape, m.group(0)) if self.take("]") else None

    def _tuple_rest(self) -> tuple[RelayType, ...] | None:
        fields: list[RelayType] = []
        while not self.take(")"):
            t = self.type()
            if t is None:
                return None
            fields.append(t)
            if not self.take(","):  # (A, B) or (A,)
                return tuple(fields) if self.take(")") else None
        return tuple(fields)

    def param(self) -> tuple[str, RelayType | None] | None:
        """``%name[ {virtual_device=...}]: type`` followed by ',' or ')'. The name is the
        shortest one after which a type follows."""
        start = self.pos
        colon = self.pos
        # The ':' and the type's brackets are not looked for beyond the next parameter (a name
        # holds no '%'), nor further than _MAX_NAME: each parameter is read in its own text.
        following = self.text.find("%", start + 1, start + _MAX_NAME)
        self.limit = limit = following if following >= 0 else start + _MAX_NAME
        try:
            for _ in range(_MAX_COLONS):
                colon = self.text.find(":", colon + 1, limit)
                if colon < 0:
                    break
                # A virtual device annotation (``%x {virtual_device=...}: T``) is not the name.
                name = self.text[start + 1 : colon].split(" {", 1)[0]
                self.pos = colon + 1
                t = self.type()
                if t is not None and name and self._at_separator():
                    return name, t
        finally:
            self.limit = len(self.text)
        self.pos = start
        return None

    def _at_separator(self) -> bool:
        self.skip_ws()
        return self.text.startswith((",", ")"), self.pos)

    def skip_value(self) -> None:
        """Skip an attribute value: to the next ',' or ')' outside brackets and strings (or,
        after MAX_ITEMS brackets, commas and quotes in all, to the end)."""
        depth, i, text = 0, self.pos, self.text
        while i < len(text):
            self.items += 1
            if self.items > MAX_ITEMS:
                i = len(text)
                break
            m = _VALUE_PART.match(text, i)
            assert m is not None
            i = m.end()
            ch = text[i - 1] if i > m.start() and text[i - 1] in '()[]{},"' else ""
            if not ch:
                break  # the end
            if ch == '"':
                s = _STRING.match(text, i - 1)
                assert s is not None
                i = s.end()
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    i -= 1
                    break
                depth -= 1
            elif depth == 0:  # ','
                i -= 1
                break
        self.pos = i


def parse_relay_main(text: str) -> RelayMain | None:
    m = _MAIN.search(text)
    if m is None:
        return None
    p = _Parser(text, m.end())
    params: list[tuple[str, RelayType | None]] = []
    while not p.take(")"):
        if len(params) >= MAX_PARAMS:
            return None
        p.skip_ws()
        start = p.pos
        if start >= len(text):
            return RelayMain(params, None, None)
        if text.startswith("%", start):
            got = p.param()
            if got is None:  # a parameter whose type this parser does not read
                p.skip_value()
                got = (text[start + 1 : p.pos].split(":", 1)[0].strip(), None)
            params.append(got)
        else:  # an attribute, name=value
            p.skip_value()
        if not p.take(",") and not p.take(")"):
            return RelayMain(params, None, None)
        if text[p.pos - 1] == ")":
            break
    signature = text[m.end() : p.pos]
    returns = None
    if p.take("->"):
        rt = p.type()
        returns = flatten(rt) if rt is not None else None
    return RelayMain(params, returns, _output_names(signature))


def _output_names(signature: str) -> list[str] | None:
    m = _OUTPUT_NAMES.search(signature)
    if m is None:
        return None
    end = signature.find("]", m.end())
    if end < 0:  # no later occurrence can have one either
        return None
    return [s.group(1) for s in _STRING.finditer(signature, m.end(), end) if s.group(2)]
