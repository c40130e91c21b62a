"""A light reader for TVM-generated C: function definitions, their parameters, and the order
in which each function allocates workspace, frees it and calls other model functions.

TVM's C output is regular (no macros beyond ``__cplusplus`` guards), so a comment/string
stripper, a ``__cplusplus`` conditional evaluator and brace matching are enough. What it learns
sizes the arena exactly; where it cannot (non-constant sizes, recursion), callers fall back to
metadata.json.

The text comes from the archive, so the reader is built to take time linear in its size
whatever it holds: every regular expression either is anchored where a linear scan found a
candidate, or cannot backtrack over what an earlier attempt scanned; a definition is matched
backwards from its brace (on the reversed text before it); parentheses and commas are matched
with one stack. Blanking works in place on a byte buffer (no string per line or per comment),
and the things looked at one by one (comments, literals, directives, braces, calls,
declarations) are counted against ``MAX_ITEMS``.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import MlfError
from .limits import Budget, literal_body

#: comments, literals, preprocessor lines, braces, calls, parameters and declarations of one
#: file: TVM writes about one per 7 bytes of code (its largest sources hold some ten thousand);
#: this many take about a second and 250 MB to read
MAX_ITEMS = 1 << 20

# Comments and literals, each matched whole or up to the end of its line (literals) or of the
# file (comments): an unterminated one is consumed, never re-scanned from the next position.
_DQ_BODY, _SQ_BODY = literal_body('"'), literal_body("'")
_LITERAL = re.compile(
    rf"//[^\n]*|/\*.*?(?:\*/|\Z)|\"{_DQ_BODY}(?P<dq>\")?|'{_SQ_BODY}(?P<sq>')?".encode(), re.S
)
# Identifiers: a byte >= 0x80 counts as a letter (C23 and GCC >= 10 take UTF-8 in names, and the
# file is UTF-8), so that such a name is read whole and then refused where it would become a C
# identifier or a section name (validate.py), never skipped as if it were not code.
# A preprocessor line: found from the newline before it (a literal prefix the regular
# expression engine skips to quickly); the first line is tried on its own.
_DIRECTIVE = re.compile(rb"\n([ \t\f\v\r]*#([^\n]*))")
_FIRST_DIRECTIVE = re.compile(rb"([ \t\f\v\r]*#([^\n]*))")
_CONDITIONAL = re.compile(rb"#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)")
# A definition read backwards from its '{' (the text before the brace, reversed):
#   quals name ( params ) [__attribute__((...))] {
# with quals = [A-Za-z_][\w \t*]* starting as early on the line as it can.
_FUNC_REV = re.compile(
    rb"\{(?:\s*\)\)(?:[^()]*\)[^()]*\()*[^()]*\(\(\s*__etubirtta__)?\s*\)"
    rb"(?P<params>[^()]*)\(\s*(?P<name>[\w\x80-\xff]*[A-Za-z_\x80-\xff])(?=[ \t*])"
    rb"(?P<quals>[\w\x80-\xff \t*]*[A-Za-z_\x80-\xff])"
)
# Inside a body: a call (name and '('), or a parenthesis, comma or semicolon.
_TOKEN = re.compile(rb"(?<![\w\x80-\xff])([A-Za-z_\x80-\xff][\w\x80-\xff]*)\s*\(|[(),;]")
# `var = [(cast)] ` before TVMBackendAllocWorkspace, read backwards
_ASSIGN_REV = re.compile(rb"(?:\s*\)[^()]*\()?\s*=\s*([\w\x80-\xff]+)")
_AFTER_ALLOC = re.compile(rb"\s*[;)]")
_ALIAS = re.compile(rb"(?<![\w\x80-\xff])void\s*\*\s*([\w\x80-\xff]+)\s*=\s*([\w\x80-\xff]+)\s*;")
_CAST = re.compile(rb"\(\s*\(\s*([\w\x80-\xff]+)\s*\*\s*\)\s*([\w\x80-\xff]+)\s*\)")
_DECLARATION = re.compile(
    rb"(?<![\w\x80-\xff])([A-Za-z_\x80-\xff][\w\x80-\xff]*)\s*\(([^(){};]*)\)\s*;"
)  # at file scope
_DECL_TYPE = re.compile(rb"(?<![\w\x80-\xff])(int32_t|int|void)(?![\w\x80-\xff])")
# `static [const] T [__attribute__((...))] name[N] =|;`; an attribute written before `static`
# instead (TVM's USMP pools and constant pools) is read backwards from `static`. (The word is
# checked to start a word in code, which keeps the literal prefix the engine skips to.)
_STATIC_ARRAY = re.compile(
    rb"static\s+(?P<const>const\s+)?(?P<ctype>[A-Za-z_\x80-\xff][\w\x80-\xff]*)\s+"
    rb"(?:__attribute__\s*\(\((?P<attr>[^()\n]*(?:\([^()\n]*\)[^()\n]*)*)\)\)\s+)?"
    rb"(?P<name>[A-Za-z_\x80-\xff][\w\x80-\xff]*)\s*\[\s*(?P<count>\d{1,18})\s*\]\s*[=;]"
)
_PRE_ATTR_REV = re.compile(rb"\s*\)\)(?P<attr>(?:[^()]*\)[^()]*\()*[^()]*)\(\(\s*__etubirtta__")
_PRE_ATTR_REACH = 512  # bytes before `static` searched for that attribute
# section("...") in the blanked text (the name is kept aside when its literal is blanked)
_SECTION = re.compile(rb'section\s*\(\s*(")[^"]*"\s*\)')
_SECTION_OPEN = re.compile(rb"section\s*\(\s*\Z")
_TARGET = re.compile(rb"// tvm target: ?([^\n]*)")
_INCLUDE = re.compile(rb'#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]')
# USMP internal constant pools: ``static const struct <pool> {...} <pool> = {...};// of total
# size N bytes`` (source_module.cc GenerateConstantBuffer); the size comment is kept aside when
# comments are blanked
_CONST_POOL = re.compile(rb"static\s+const\s+struct\s+([\w\x80-\xff]+)\s*\{[^{}]*\}\s*\1\s*=")
_POOL_SIZE = re.compile(rb"// of total size (\d{1,18}) bytes")
_INT_LITERAL = re.compile(r"(\d{1,18})[uUlL]*")
_CASTS = re.compile(r"\(\s*u?int\d+_t\s*\)|\(\s*(unsigned\s+)?(long\s+)*int\s*\)")
_IDENT = re.compile(rb"[A-Za-z_\x80-\xff][\w\x80-\xff]*")
# A parameter's name, read backwards from the end of its text, and where it starts
_NAME_TAIL_REV = re.compile(r"[\w\u0080-\U0010ffff]*")
_NAME_START = re.compile(r"[A-Za-z_\u0080-\U0010ffff]")
_MAX_ARG = 256  # a call argument longer than this is not a name (only names are kept)
_BLANK = bytes(c if c == ord("\n") else ord(" ") for c in range(256))
_KEYWORDS = {
    "if",
    "for",
    "while",
    "switch",
    "return",
    "sizeof",
    "TVMBackendAllocWorkspace",
    "TVMBackendFreeWorkspace",
}
_CTYPE_SIZE = {
    "int8_t": 1,
    "uint8_t": 1,
    "int16_t": 2,
    "uint16_t": 2,
    "int32_t": 4,
    "uint32_t": 4,
    "float": 4,
    "int64_t": 8,
    "uint64_t": 8,
    "double": 8,
}


@dataclass(frozen=True, slots=True)
class Param:
    ctype: str
    name: str


@dataclass
class Function:
    name: str
    qualifiers: str  # e.g. "TVM_DLL int32_t", "static int32_t"
    params: list[Param]
    params_text: str
    #: ("alloc", var, size or None, ()) | ("free", var, 0, ()) | ("call", callee, 0, args); of a
    #: call's arguments only names are kept (others are "")
    events: list[tuple[str, str, int | None, tuple[str, ...]]] = field(default_factory=list)
    #: local variable -> parameter it aliases (``void* input = arg0;``)
    aliases: dict[str, str] = field(default_factory=dict)
    #: variable -> C element types it is cast to (``((int8_t*)T_cast)``)
    casts: dict[str, set[str]] = field(default_factory=dict)
    #: may read the ndim, dtype or shape of a DLTensor passed to it (see _tensor_facts_read)
    reads_tensor_facts: bool = True
    _index: _FunctionIndex | None = field(default=None, init=False, repr=False, compare=False)

    def _indexed(self) -> _FunctionIndex:
        # Built once, after parsing: the lookups below are then constant time (a model with
        # thousands of inputs asks about each of them).
        if self._index is None:
            self._index = _FunctionIndex(self)
        return self._index

    def alias_of(self, param: str) -> str:
        """The first local variable aliasing ``param`` (``void* x = param;``), else ``param``."""
        found = self._indexed().aliases_of.get(param)
        return found[0] if found else param

    def calls_with(self, name: str) -> list[tuple[str, int]]:
        """(callee, position of its first argument that is ``name``) of the calls passing
        ``name``, in order."""
        return self._indexed().calls_with.get(name, [])

    def element_type(self, param: str) -> str | None:
        """The C element type the function uses a pointer parameter as, if it tells."""
        index = self._indexed()
        declared = index.param_types.get(param)
        if declared is not None:
            return declared
        names = [param, *index.aliases_of.get(param, [])]
        types = set().union(*(self.casts.get(n, set()) for n in names))
        return next(iter(types)) if len(types) == 1 else None

    @property
    def is_static(self) -> bool:
        return "static" in self.qualifiers.split()


class _FunctionIndex:
    def __init__(self, fn: Function) -> None:
        #: parameter -> element type, from the first declaration of it as a typed pointer
        self.param_types: dict[str, str] = {}
        for p in fn.params:
            base = p.ctype.replace("const", "").replace("*", "").strip()
            if p.ctype.endswith("*") and base != "void":
                self.param_types.setdefault(p.name, base)
        self.aliases_of: dict[str, list[str]] = {}
        for alias, target in fn.aliases.items():
            self.aliases_of.setdefault(target, []).append(alias)
        self.calls_with: dict[str, list[tuple[str, int]]] = {}
        for kind, callee, _size, args in fn.events:
            if kind != "call":
                continue
            seen: set[str] = set()
            for k, arg in enumerate(args):
                if arg and arg not in seen:
                    seen.add(arg)
                    self.calls_with.setdefault(arg, []).append((callee, k))


@dataclass(frozen=True, slots=True)
class StaticArray:
    name: str
    ctype: str
    count: int
    const: bool
    section: str | None
    #: bytes, when the element type is a known scalar
    nbytes: int | None


@dataclass
class CSource:
    target: str | None
    includes: list[str]
    functions: dict[str, Function]
    arrays: dict[str, StaticArray]
    #: prototypes (the last one of each name), with their parameter text
    declarations: dict[str, str]
    #: uses DLTensor's pre-2021 field name (``.ctx.device_id``)
    uses_ctx: bool = False
    #: USMP internal constant pools: struct name -> bytes (``static const struct <pool> {...}
    #: <pool> = {...};// of total size N bytes``, source_module.cc GenerateConstantBuffer)
    constant_pools: dict[str, int] = field(default_factory=dict)


class _Items:
    """The items of MAX_ITEMS, counted in ``budget`` with those of the other C files."""

    def __init__(self, budget: Budget, where: str) -> None:
        self.budget = budget
        self.where = where

    def spend(self, n: int = 1) -> None:
        if not self.budget.take("c", n, MAX_ITEMS):
            raise MlfError(
                self.where,
                f"takes the C sources over {MAX_ITEMS} comments, literals, preprocessor lines, braces, "
                "calls and declarations in all; no TVM export comes near",
            )


def _text(b: bytes | bytearray) -> str:
    return b.decode("utf-8", "replace")


@dataclass
class _KeptAside:
    """What blanking removes and the reader still needs."""

    #: the text of each literal written as ``section("...")``, by the position of its quote
    sections: dict[int, bytes] = field(default_factory=dict)
    #: (position, bytes) of each ``// of total size N bytes`` that follows a ``};``, in order
    pool_sizes: list[tuple[int, int]] = field(default_factory=list)


def _blank_literals(buf: bytearray, items: _Items) -> _KeptAside:
    """Blank comments and string/char literals in place without moving anything (literals keep
    their quotes): braces, parentheses and directives in them are not code."""
    kept = _KeptAside()
    for m in _LITERAL.finditer(buf):
        items.spend()
        s, e = m.span()
        if buf.startswith(b"// of total size", s):
            size = _POOL_SIZE.match(buf, s, e)
            if size is not None and buf[max(0, s - 64) : s].rstrip().endswith(b"};"):
                kept.pool_sizes.append((s, int(size.group(1))))
        if buf[s] in b"\"'":
            closed = m.group("dq") is not None or m.group("sq") is not None
            if m.group("dq") is not None and _SECTION_OPEN.search(buf, max(0, s - 64), s):
                kept.sections[s] = bytes(buf[s + 1 : e - 1])
            s, e = s + 1, e - 1 if closed else e
        buf[s:e] = buf[s:e].translate(_BLANK)
    return kept


def _directives(buf: bytearray) -> Iterator[re.Match[bytes]]:
    """The preprocessor lines (group 1: the line, group 2: what follows the '#')."""
    first = _FIRST_DIRECTIVE.match(buf)
    if first is not None:
        yield first
    yield from _DIRECTIVE.finditer(buf)


def _truth(kind: str, cond: str) -> bool | None:
    """The value of an #if/#elif/#ifdef/#ifndef condition when it is known without running a
    preprocessor: constants (``#if 0``) and ``__cplusplus`` (this is C). None: unknown."""
    c = re.sub(r"\s+", "", cond)
    cxx = r"\(*(?:defined\(?__cplusplus\)?|__cplusplus)\)*"
    if kind in ("ifdef", "ifndef"):
        return None if c != "__cplusplus" else kind == "ifndef"
    if re.fullmatch(r"\(*0+[uUlL]*\)*", c):
        return False
    if re.fullmatch(r"\(*[1-9][0-9]*[uUlL]*\)*", c):
        return True
    if re.fullmatch(cxx, c):
        return False
    if re.fullmatch("!" + cxx, c):
        return True
    if "__cplusplus" in c:  # e.g. defined(__cplusplus) && __cplusplus >= 201103L
        return c.startswith("!")
    return None


def _preprocess(buf: bytearray, items: _Items) -> None:
    """Blank what the compiler does not see as code: directive lines (and their continuations),
    and the lines of dead branches. Known conditions are evaluated (``#if 0`` is dead,
    ``__cplusplus`` is undefined); of a conditional whose condition is unknown, the first branch
    is kept and the others dropped."""
    # per open conditional: [its parent is live, this branch is live (so are its parents), a
    # branch was taken]; "live here" is the top's second field, not a walk of the stack
    stack: list[list[bool]] = []
    kept_from = 0  # where the lines since the last directive start
    for m in _directives(buf):
        start, end = m.span(1)
        if start < kept_from:
            continue  # a '#' that starts a continuation line of the directive before
        items.spend()
        if stack and not stack[-1][1]:
            buf[kept_from:start] = buf[kept_from:start].translate(_BLANK)
        first = bytes(buf[start:end]).strip()
        line_start, line_end = start, end
        while buf[line_start:line_end].strip().endswith(b"\\") and line_end < len(buf):
            line_start = line_end + 1
            nl = buf.find(b"\n", line_start)
            line_end = nl if nl >= 0 else len(buf)
        buf[start:line_end] = buf[start:line_end].translate(_BLANK)
        kept_from = line_end
        d = _CONDITIONAL.match(first)
        if d is None:
            continue
        kind, cond = d.group(1).decode("latin-1"), d.group(2).decode("latin-1")
        parent = stack[-1][1] if stack else True
        if kind in ("if", "ifdef", "ifndef"):
            val = _truth(kind, cond)
            stack.append([parent, parent and val is not False, val is not False])
        elif kind == "elif" and stack:
            top = stack[-1]
            val = None if top[2] else _truth("if", cond)
            top[1] = top[0] and not top[2] and val is not False
            top[2] = top[2] or val is not False
        elif kind == "else" and stack:
            top = stack[-1]
            top[1], top[2] = top[0] and not top[2], True
        elif kind == "endif" and stack:
            stack.pop()
    if stack and not stack[-1][1]:
        buf[kept_from:] = buf[kept_from:].translate(_BLANK)


def _braces(clean: bytearray) -> Iterator[int]:
    """Positions of '{' and '}', in order (found by memchr-speed searches)."""
    opening, closing = clean.find(b"{"), clean.find(b"}")
    while opening >= 0 or closing >= 0:
        if closing < 0 or 0 <= opening < closing:
            yield opening
            opening = clean.find(b"{", opening + 1)
        else:
            yield closing
            closing = clean.find(b"}", closing + 1)


def _top_blocks(clean: bytearray, items: _Items) -> list[tuple[int, int]]:
    """(position of '{', position of its '}' or the end) of every block at file scope."""
    blocks: list[tuple[int, int]] = []
    depth = 0
    for pos in _braces(clean):
        items.spend()
        if clean[pos] == ord("{"):
            if depth == 0:
                blocks.append((pos, len(clean)))
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                blocks[-1] = (blocks[-1][0], pos)
    return blocks


def _split(clean: bytearray, start: int, end: int, commas: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each argument between ``start`` and ``end`` split at ``commas``; a last
    empty one is dropped, as in ``f(a,)``."""
    bounds = [start, *(c + 1 for c in commas)]
    spans = [(a, b) for a, b in zip(bounds, [*commas, end], strict=True)]
    if spans and not clean[spans[-1][0] : spans[-1][1]].strip():
        spans.pop()
    return spans


def _arg(clean: bytearray, span: tuple[int, int]) -> str:
    """A call argument when it is a name, else ""."""
    if span[1] - span[0] > _MAX_ARG:
        return ""
    text = bytes(clean[span[0] : span[1]]).strip()
    return _text(text) if _IDENT.fullmatch(text) else ""


def _int_literal(expr: str) -> int | None:
    e = _CASTS.sub("", expr)
    e = e.replace("(", "").replace(")", "").strip()
    m = _INT_LITERAL.fullmatch(e)
    return int(m.group(1)) if m else None


#: (kind, name, size, arguments): ("alloc", var, size or None, ()), ("free", pointer, 0, ()) or
#: ("call", callee, 0, arguments)
_Event = tuple[str, str, int | None, tuple[str, ...]]

#: words before a "(" that open no call in a body (_events)
_NOT_CALLS = frozenset(("if", "for", "while", "switch", "return", "sizeof"))


def _events(clean: bytearray, start: int, end: int, items: _Items) -> list[_Event]:
    """Workspace allocations, frees and calls in the body ``clean[start:end]``, in order. Calls
    inside the arguments of an allocation or free are not events."""
    events: list[_Event | None] = []
    # open parentheses: [kind, event index, start of the arguments, comma positions]
    stack: list[tuple[str, int, int, list[int]]] = []
    special = 0  # open TVMBackend{Alloc,Free}Workspace calls (at most one: no events inside)
    open_special = -1
    broken: set[int] = set()  # allocations and frees whose arguments hold a ';'
    for m in _TOKEN.finditer(clean, start, end):
        items.spend()
        word = m.group(1)
        if word is not None:
            kind, event = _opened(_text(word), special > 0, clean, start, m.start())
            if event is not None:
                events.append(event)
            stack.append((kind, len(events) - 1 if event is not None else -1, m.end(), []))
            if kind in ("alloc", "free"):
                open_special = len(events) - 1
                special += 1
            continue
        ch = clean[m.start()]
        if ch == ord("("):
            stack.append(("paren", -1, m.end(), []))
        elif ch == ord(","):
            if stack:
                stack[-1][3].append(m.start())
        elif ch == ord(";"):
            if special and open_special >= 0:
                broken.add(open_special)
        elif stack:  # ')'
            kind, i, arg_start, commas = stack.pop()
            if kind == "paren":
                continue
            spans = _split(clean, arg_start, m.start(), commas)
            if kind == "call":
                events[i] = ("call", events[i][1], 0, tuple(_arg(clean, s) for s in spans))  # type: ignore[index]
                continue
            special -= 1
            open_special = -1
            events[i] = _closed_special(clean, kind, events[i], spans, i in broken, m.end(), end)
    # Calls still open at the end of the body keep no arguments; allocations and frees are kept.
    return [e for e in events if e is not None]


def _opened(
    name: str, in_special: bool, clean: bytearray, body_start: int, at: int
) -> tuple[str, _Event | None]:
    """What ``name(`` opens: a plain parenthesis (a keyword, or anything inside the arguments of
    an allocation or free), an allocation, a free or a call; and its event, before the arguments
    are read."""
    if in_special or name in _NOT_CALLS:
        return "paren", None
    if name == "TVMBackendAllocWorkspace":
        return "alloc", ("alloc", _alloc_var(clean, body_start, at), None, ())
    if name == "TVMBackendFreeWorkspace":
        return "free", ("free", "", 0, ())
    return "call", ("call", name, 0, ())


def _closed_special(
    clean: bytearray,
    kind: str,
    event: _Event | None,
    spans: list[tuple[int, int]],
    broken: bool,
    after: int,
    end: int,
) -> _Event | None:
    """An allocation or free at its ')', with what its arguments say (the size, the pointer
    freed), or None where it is not a call TVM writes."""
    args = [_text(clean[a:b]).strip() for a, b in spans] if len(spans) in (3, 5) else []
    if broken:
        return None  # a ';' inside the arguments: not a call TVM writes
    if kind == "free":
        return ("free", args[2] if len(spans) == 3 else "", 0, ())
    if not _AFTER_ALLOC.match(clean, after, end):
        return None  # not a call TVM writes: `x = TVMBackendAllocWorkspace(...);`
    assert event is not None
    size = _int_literal(args[2]) if len(spans) == 5 else None
    return ("alloc", event[1], size, ())


def _alloc_var(clean: bytearray, body_start: int, call: int) -> str:
    """The variable ``var = [(cast)] TVMBackendAllocWorkspace(...)`` assigns, or ""."""
    before = bytes(clean[max(body_start, call - _MAX_ARG) : call])[::-1]
    m = _ASSIGN_REV.match(before)
    return _text(m.group(1)[::-1]) if m else ""


def _params(text: str, items: _Items) -> list[Param]:
    items.spend(text.count(","))
    raws = [r.strip() for r in text.split(",")]
    if raws and not raws[-1]:
        raws.pop()
    out = []
    for raw in raws:
        if not raw or raw == "void":
            continue
        # The name is the last word (from its first letter); the type is what comes before.
        word = _NAME_TAIL_REV.match(raw[::-1])
        tail = word.group(0)[::-1] if word else ""
        first = _NAME_START.search(tail)
        if first is None or not raw[: len(raw) - len(tail) + first.start()].strip():
            out.append(Param(raw, ""))
        else:
            cut = len(raw) - len(tail) + first.start()
            out.append(Param(sys.intern(" ".join(raw[:cut].split())), raw[cut:]))
    return out


def _functions(clean: bytearray, blocks: list[tuple[int, int]], items: _Items) -> dict[str, Function]:
    functions: dict[str, Function] = {}
    after_previous = 0
    for brace, close in blocks:
        before = bytes(clean[after_previous : brace + 1])[::-1]
        after_previous = close + 1
        m = _FUNC_REV.match(before)
        if m is None:
            continue
        name = _text(m.group("name")[::-1])
        quals = " ".join(_text(m.group("quals")[::-1]).split())
        if name in _KEYWORDS or quals.endswith(("struct", "union", "enum")):
            continue
        params_text = _text(m.group("params")[::-1])
        fn = Function(name, quals, _params(params_text, items), " ".join(params_text.split()))
        fn.events = _events(clean, brace + 1, close, items)
        param_names = {p.name for p in fn.params}
        for al in _ALIAS.finditer(clean, brace + 1, close):
            items.spend()
            if _text(al.group(2)) in param_names:
                fn.aliases[_text(al.group(1))] = _text(al.group(2))
        for ca in _CAST.finditer(clean, brace + 1, close):
            items.spend()
            fn.casts.setdefault(_text(ca.group(2)), set()).add(_text(ca.group(1)))
        fn.reads_tensor_facts = _tensor_facts_read(fn, clean, brace + 1, close, items)
        functions[name] = fn
    return functions


# TVM's packed functions take their DLTensor arguments as ``void* arg0 =
# (((TVMValue*)args)[0].v_handle);`` and read fields as ``(((DLTensor*)arg0)[0].data)``
# (tir::builtin::tvm_struct_get, printed by CodeGenC in src/target/source/codegen_c.cc; TVM < 0.7
# cast to ``TVMArray*`` and said ``ctx`` for ``device``). MakePackedAPI
# (src/tir/transforms/make_packed_api.cc, ArgBinder in arg_binder.cc) reads ndim, dtype and the
# shape's values only for its argument checks, which tir.disable_assert (microTVM's default)
# removes, and for symbolic shapes. Each pattern takes any name (checked afterwards): one pass
# over a body serves all its arguments.
_HANDLE = re.compile(
    rb"([\w\x80-\xff]+)\s*=\s*\(\s*\(\s*\(\s*TVMValue\s*\*\s*\)\s*([\w\x80-\xff]+)\s*\)\s*\[\s*\d+\s*\]\s*\.\s*v_\w+\s*\)"
)
# A field read straight out of args: ((DLTensor*)(((TVMValue*)args)[0].v_handle))[0].data
# (TVM 0.8's AOT run wrapper, default_lib0.c)
_DIRECT = re.compile(
    rb"\(\s*\(\s*(?:DLTensor|TVMArray)\s*\*\s*\)\s*\(\s*\(\s*\(\s*TVMValue\s*\*\s*\)\s*([\w\x80-\xff]+)\s*\)"
    rb"\s*\[\s*\d+\s*\]\s*\.\s*v_handle\s*\)\s*\)\s*\[\s*0\s*\]\s*\.\s*([\w\x80-\xff]+)"
)
_USES = (
    # a field read: (((DLTensor*)arg0)[0].data)
    re.compile(
        rb"\(\s*\(\s*\(\s*(?:DLTensor|TVMArray)\s*\*\s*\)\s*(?P<h>[\w\x80-\xff]+)\s*\)\s*\[\s*0\s*\]\s*\.\s*(?P<field>[\w\x80-\xff]+)"
    ),
    # a NULL test: arg0 == NULL, NULL != arg0
    re.compile(rb"(?<![\w\x80-\xff])(?P<h>[\w\x80-\xff]+)\s*[!=]=\s*NULL(?![\w\x80-\xff])"),
    re.compile(rb"(?<![\w\x80-\xff])NULL\s*[!=]=\s*(?P<h>[\w\x80-\xff]+)"),
)
# What a shape read may be stored in, read backwards: ``void* arg0_shape = `` or
# ``int64_t* arg0_shape = (int64_t*)``
_STORED_IN_REV = re.compile(rb"\s*(?:\)\s*\*\s*[\w\x80-\xff]+\s*\(\s*)?=\s*([\w\x80-\xff]+)")
_STATEMENT_END = re.compile(rb"\s*\)\s*;")
_WORD = re.compile(rb"[\w\x80-\xff]+")
#: bytes of packed function bodies looked at for the facts they read, in all the C files of an
#: archive; beyond it (and for a body over MAX_FACTS_BODY) a function is taken to read them
MAX_FACTS_BYTES = 32 << 20
MAX_FACTS_BODY = 1 << 20


def _tensor_facts_read(fn: Function, clean: bytearray, start: int, end: int, items: _Items) -> bool:
    """Whether a packed function may read the ndim, dtype or shape values of a DLTensor argument.

    False only when every use of each argument handle is a field read of something else (data,
    strides, byte_offset, device), a NULL test, or a shape pointer stored in a variable that is
    never used again; any other use (the handle or ``args`` passed on, ndim or dtype read, a
    shape value read) counts as a read, so that a table never leaves out what code might need.
    Each use is found in one pass over the body, and matched to its handle by name (names are
    counted once: a name used anywhere else than where the patterns account for is a read)."""
    if len(fn.params) not in (5, 6) or not fn.params[0].name:
        return True
    if end - start > MAX_FACTS_BODY or not items.budget.take("c-facts", end - start, MAX_FACTS_BYTES):
        return True
    args = fn.params[0].name.encode("utf-8")
    words = Counter(_WORD.findall(clean, start, end))
    handles = [h for h in _HANDLE.finditer(clean, start, end) if h.group(2) == args]
    direct = [d for d in _DIRECT.finditer(clean, start, end) if d.group(1) == args]
    if len(handles) + len(direct) != words[args]:
        return True  # args is used other than to take the arguments out of it
    if any(d.group(2) in (b"ndim", b"dtype", b"shape") for d in direct):
        return True
    uses: dict[bytes, list[re.Match[bytes]]] = {}
    for pattern in _USES:
        for use in pattern.finditer(clean, start, end):
            uses.setdefault(use.group("h"), []).append(use)
    for h in handles:
        accounted = {h.start(1)}
        for use in uses.get(h.group(1), []):
            accounted.add(use.start("h"))
            field_name = use.groupdict().get("field")
            if field_name in (b"ndim", b"dtype"):
                return True
            if field_name == b"shape":
                before = bytes(clean[max(start, use.start() - 200) : use.start()])[::-1]
                stored = _STORED_IN_REV.match(before)
                whole = _STATEMENT_END.match(clean, use.end(), end)
                if not (stored and whole) or words[stored.group(1)[::-1]] != 1:
                    return True
        if words[h.group(1)] != len(accounted):
            return True
    return False


def _declarations(clean: bytearray, blocks: list[tuple[int, int]], items: _Items) -> dict[str, str]:
    """Prototypes ``[...] int32_t|int|void ... name(params);`` at file scope (between the
    blocks: the bodies and initialisers, most of the bytes, are not read)."""
    declarations: dict[str, str] = {}
    bounds = [0]
    for opening, close in blocks:
        bounds += [opening, close + 1]
    bounds.append(len(clean))
    gaps = zip(bounds[::2], bounds[1::2], strict=True)
    for start, end in gaps:
        previous_end = start
        for m in _DECLARATION.finditer(clean, start, max(start, end)):
            items.spend()
            name = _text(m.group(1))
            # What precedes the name on its line, since the previous match (each byte read once).
            line_start = clean.rfind(b"\n", previous_end, m.start()) + 1
            prefix = clean[max(line_start, previous_end) : m.start()]
            previous_end = m.end()
            if name in _KEYWORDS or b"=" in prefix or b"return" in prefix:
                continue
            if _DECL_TYPE.search(prefix):
                declarations[name] = " ".join(_text(m.group(2)).split())
    return declarations


def _starts_word(buf: bytearray, pos: int) -> bool:
    return pos == 0 or not (chr(buf[pos - 1]).isalnum() or buf[pos - 1] == ord("_") or buf[pos - 1] >= 0x80)


def _arrays(clean: bytearray, sections: dict[int, bytes], items: _Items) -> dict[str, StaticArray]:
    arrays: dict[str, StaticArray] = {}
    for m in _STATIC_ARRAY.finditer(clean):
        items.spend()
        if not _starts_word(clean, m.start()):
            continue
        spans = [m.span("attr")] if m.group("attr") is not None else []
        reach = bytes(clean[max(0, m.start() - _PRE_ATTR_REACH) : m.start()])
        if reach.rstrip().endswith(b"))"):
            pre = _PRE_ATTR_REV.match(reach[::-1])
            if pre is not None:
                spans.append((m.start() - pre.end("attr"), m.start() - pre.start("attr")))
        # The attribute's section("...") (the last one, in code the compiler sees): its literal
        # was blanked, its text kept aside.
        sec = None
        for start, end in spans:
            found = [f for f in _SECTION.finditer(clean, start, end) if f.start(1) in sections]
            if found:
                sec = _text(sections[found[-1].start(1)])
        name = _text(m.group("name"))
        ctype, count = sys.intern(_text(m.group("ctype"))), int(m.group("count"))
        size = _CTYPE_SIZE.get(ctype)
        arrays[name] = StaticArray(
            name, ctype, count, bool(m.group("const")), sec, size * count if size else None
        )
    return arrays


def _constant_pools(clean: bytearray, sizes: list[tuple[int, int]], items: _Items) -> dict[str, int]:
    """USMP internal constant pools, each with the size the comment after its initialiser gives
    (the first such comment after the pool's declaration, found by bisection)."""
    pools: dict[str, int] = {}
    positions = [pos for pos, _size in sizes]
    for m in _CONST_POOL.finditer(clean):
        items.spend()
        if not _starts_word(clean, m.start()):
            continue
        k = bisect.bisect_left(positions, m.end())
        if k < len(sizes):
            pools[_text(m.group(1))] = sizes[k][1]
    return pools


def _target_and_includes(data: bytearray) -> tuple[str | None, list[str]]:
    """The ``// tvm target:`` line and the #include names, read before anything is blanked
    (each at the start of a line)."""
    target = None
    for m in _TARGET.finditer(data):
        if m.start() == 0 or data[m.start() - 1] == ord("\n"):
            target = _text(m.group(1)).strip()
            break
    includes = []
    previous_end = 0
    for m in _INCLUDE.finditer(data):
        # Only blanks before the '#' on its line, looked at since the previous match.
        newline = data.rfind(b"\n", previous_end, m.start())
        line_start = newline + 1 if newline >= 0 else 0 if previous_end == 0 else -1
        previous_end = m.end()
        if line_start >= 0 and not data[line_start : m.start()].strip(b" \t"):
            includes.append(_text(m.group(2)))
    return target, includes


def parse_c(data: str | bytes | bytearray, where: str = "C source", budget: Budget | None = None) -> CSource:
    """Read one C file (UTF-8 text). A bytearray is blanked in place (comments, literals and
    preprocessor lines become spaces), so a large file is held once. ``budget`` counts the
    items of MAX_ITEMS with those of the other files of one archive."""
    items = _Items(Budget() if budget is None else budget, where)
    if isinstance(data, str):
        data = data.encode("utf-8")
    clean = data if isinstance(data, bytearray) else bytearray(data)
    target, includes = _target_and_includes(clean)
    items.spend(len(includes))
    kept = _blank_literals(clean, items)
    _preprocess(clean, items)
    blocks = _top_blocks(clean, items)
    return CSource(
        target=target,
        includes=includes,
        functions=_functions(clean, blocks, items),
        arrays=_arrays(clean, kept.sections, items),
        declarations=_declarations(clean, blocks, items),
        uses_ctx=re.search(rb"\.ctx\.device_(id|type)", clean) is not None,
        constant_pools=_constant_pools(clean, kept.pool_sizes, items),
    )


def align_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


@dataclass
class _PeakFrame:
    """One function being walked by workspace_peak()."""

    name: str
    events: list[tuple[str, str, int | None, tuple[str, ...]]]
    i: int = 0
    cur: int = 0
    best: int = 0
    live: dict[str, list[int]] = field(default_factory=dict)


_RUNNING = object()  # workspace_peak(): no callee has just returned


def workspace_peak(
    functions: dict[str, Function], root: str, align: int, memo: dict[str, int | None] | None = None
) -> int | None:
    """Peak bytes of TVMBackendAllocWorkspace memory live while ``root`` runs, with each
    allocation rounded up to ``align`` as the runtime's LIFO allocator does. None if unknown
    (a size that is not a constant, or a call cycle). ``memo`` carries the figures from one call
    to the next; the call graph is walked with an explicit stack (a chain of calls from the
    archive may be deeper than Python's recursion limit)."""
    memo = {} if memo is None else memo
    if root in memo:
        return memo[root]
    if root not in functions:
        return 0
    memo[root] = None  # a function being walked: a call back to it is a cycle (unknown)
    stack = [_PeakFrame(root, functions[root].events)]
    returned: object = _RUNNING  # what the callee that just finished returned
    while stack:
        fr = stack[-1]
        if returned is not _RUNNING:
            if returned is None:  # unknown below: unknown here (its memo stays None)
                stack.pop()
                continue
            assert isinstance(returned, int)
            fr.best = max(fr.best, fr.cur + returned)
            returned = _RUNNING
        if fr.i == len(fr.events):
            memo[fr.name] = returned = fr.best
            stack.pop()
            continue
        kind, name, size, _args = fr.events[fr.i]
        fr.i += 1
        if kind == "alloc":
            if size is None:
                returned = None
                stack.pop()
                continue
            s = align_up(size, align) if size else 0
            fr.live.setdefault(name, []).append(s)
            fr.cur += s
            fr.best = max(fr.best, fr.cur)
        elif kind == "free":
            live = fr.live.get(name)
            if live:
                fr.cur -= live.pop()
        elif name in functions and name != fr.name:
            if name in memo:
                returned = memo[name]
            else:
                memo[name] = None
                stack.append(_PeakFrame(name, functions[name].events))
    return returned if isinstance(returned, int) else None
