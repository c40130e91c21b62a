"""A light reader for TVM-generated C: function definitions, their parameters, and the order
in which each function allocates workspace, frees it and calls other model functions.

TVM's C output is regular (no macros beyond ``__cplusplus`` guards), so a comment/string
stripper, a ``__cplusplus`` conditional evaluator and brace matching are enough. What it learns
sizes the arena exactly; where it cannot (non-constant sizes, recursion), callers fall back to
metadata.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STRIP = re.compile(
    r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'",
    re.S,
)
_FUNC = re.compile(
    r"([A-Za-z_][\w \t\*]*?)\b([A-Za-z_]\w*)\s*\(([^()]*)\)\s*"
    r"(?:__attribute__\s*\(\([^()]*(?:\([^()]*\)[^()]*)*\)\)\s*)?\{"
)
_EVENT = re.compile(
    r"(?:\b(\w+)\s*=\s*(?:\([^()]*\)\s*)?)?\bTVMBackendAllocWorkspace\s*\(([^;]*?)\)\s*[;)]"
    r"|\bTVMBackendFreeWorkspace\s*\(([^;]*?)\)"
    r"|\b([A-Za-z_]\w*)\s*\("
)
_ALIAS = re.compile(r"\bvoid\s*\*\s*(\w+)\s*=\s*(\w+)\s*;")
_CAST = re.compile(r"\(\s*\(\s*(\w+)\s*\*\s*\)\s*(\w+)\s*\)")
# `static [const] T [__attribute__((...))] name[N] =|;`, the attribute possibly written before
# `static` instead (TVM's USMP pools and constant pools).
_STATIC_ARRAY = re.compile(
    r"(?:__attribute__\s*\(\((?P<pre>[^;{}]*?)\)\)\s*)?"
    r"\bstatic\s+(?P<const>const\s+)?(?P<ctype>[A-Za-z_]\w*)\s+"
    r"(?:__attribute__\s*\(\((?P<attr>.*?)\)\)\s+)?"
    r"(?P<name>[A-Za-z_]\w*)\s*\[\s*(?P<count>\d+)\s*\]\s*(=|;)"
)
_SECTION = re.compile(r'section\s*\(\s*"([^"]*)"\s*\)')
_TARGET = re.compile(r"^// tvm target: ?(.*)$", re.M)
_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
_CONST_POOL = re.compile(r"\bstatic\s+const\s+struct\s+(\w+)\s*\{[^{}]*\}\s*\1\s*=")
_POOL_SIZE = re.compile(r"\};\s*// of total size (\d+) bytes")
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


@dataclass(frozen=True)
class Param:
    ctype: str
    name: str


@dataclass
class Function:
    name: str
    qualifiers: str  # e.g. "TVM_DLL int32_t", "static int32_t"
    params: list[Param]
    params_text: str
    #: ("alloc", var, size or None, ()) | ("free", var, 0, ()) | ("call", callee, 0, args)
    events: list[tuple[str, str, int | None, tuple[str, ...]]] = field(default_factory=list)
    #: local variable -> parameter it aliases (``void* input = arg0;``)
    aliases: dict[str, str] = field(default_factory=dict)
    #: variable -> C element types it is cast to (``((int8_t*)T_cast)``)
    casts: dict[str, set[str]] = field(default_factory=dict)
    #: may read the ndim, dtype or shape of a DLTensor passed to it (see tensor_facts_read)
    reads_tensor_facts: bool = True

    def element_type(self, param: str) -> str | None:
        """The C element type the function uses a pointer parameter as, if it tells."""
        for p in self.params:
            if p.name == param:
                base = p.ctype.replace("const", "").replace("*", "").strip()
                if p.ctype.endswith("*") and base != "void":
                    return base
        names = {param} | {a for a, target in self.aliases.items() if target == param}
        types = set().union(*(self.casts.get(n, set()) for n in names))
        return next(iter(types)) if len(types) == 1 else None

    @property
    def is_static(self) -> bool:
        return "static" in self.qualifiers.split()


@dataclass(frozen=True)
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


_LITERAL = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'")


def _blank_comment(m: re.Match[str]) -> str:
    """Blank a comment (keep a literal) without moving anything: offsets into the result stay
    valid in the original."""
    text = m.group(0)
    if text.startswith(("//", "/*")):
        return "".join(c if c == "\n" else " " for c in text)
    return text


def _blank_literal(m: re.Match[str]) -> str:
    text = m.group(0)
    return text[0] + " " * (len(text) - 2) + text[-1]


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


def _live_lines(clean: str) -> list[bool]:
    """Per line of ``clean`` (comments and literals blanked): whether the compiler sees it as
    code. Directive lines (and their continuations) are not code. Known conditions are
    evaluated (``#if 0`` is dead, ``__cplusplus`` is undefined); of a conditional whose
    condition is unknown, the first branch is kept and the others dropped."""
    live: list[bool] = []
    # per open conditional: [parent is live, this branch is live, a branch was taken]
    stack: list[list[bool]] = []
    continued = False
    for line in clean.split("\n"):
        s = line.strip()
        if continued or s.startswith("#"):
            live.append(False)
            was_continued, continued = continued, s.endswith("\\")
            if was_continued:
                continue
            m = re.match(r"#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", s)
            if m is None:
                continue
            kind, cond = m.group(1), m.group(2)
            parent = all(b[1] for b in stack)
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
            continue
        live.append(all(b[1] for b in stack))
    return live


def _keep_live(text: str, live: list[bool]) -> str:
    """``text`` with every line that is not live code blanked (same length, same offsets)."""
    return "\n".join(
        line if keep else " " * len(line) for line, keep in zip(text.split("\n"), live, strict=True)
    )


def _split_args(text: str) -> list[str]:
    args: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur.append(ch)
    if "".join(cur).strip():
        args.append("".join(cur).strip())
    return args


def _call_args(body: str, start: int) -> list[str]:
    """The arguments of the call whose '(' ends just before ``start``."""
    depth, i = 1, start
    while i < len(body) and depth:
        depth += body[i] == "("
        depth -= body[i] == ")"
        i += 1
    return _split_args(body[start : i - 1]) if depth == 0 else []


def _int_literal(expr: str) -> int | None:
    e = re.sub(r"\(\s*u?int\d+_t\s*\)|\(\s*(unsigned\s+)?(long\s+)*int\s*\)", "", expr)
    e = e.replace("(", "").replace(")", "").strip()
    m = re.fullmatch(r"(\d+)[uUlL]*", e)
    return int(m.group(1)) if m else None


def _params(text: str) -> list[Param]:
    out = []
    for raw in _split_args(text):
        raw = raw.strip()
        if not raw or raw == "void":
            continue
        m = re.match(r"(.*?)([A-Za-z_]\w*)\s*$", raw, re.S)
        if m is None or not m.group(1).strip():
            out.append(Param(raw, ""))
        else:
            out.append(Param(" ".join(m.group(1).split()), m.group(2)))
    return out


def parse_c(text: str) -> CSource:
    target_m = _TARGET.search(text)
    includes = [m.group(2) for m in _INCLUDE.finditer(text)]
    # What the compiler sees: ``code`` without comments and dead lines (literals kept, for the
    # section names read below), and ``clean``, the same with literals blanked too, which the
    # structure is read from. Both keep every offset of the original.
    code = _STRIP.sub(_blank_comment, text)
    clean = _LITERAL.sub(_blank_literal, code)
    live = _live_lines(clean)
    code, clean = _keep_live(code, live), _keep_live(clean, live)
    # Brace depth at each position, from one pass over the braces only.
    braces = [(m.start(), m.group(0)) for m in re.finditer(r"[{}]", clean)]
    depth_at: dict[int, int] = {}
    depth = 0
    close_of: dict[int, int] = {}
    open_stack: list[int] = []
    for pos, ch in braces:
        if ch == "{":
            depth_at[pos] = depth
            open_stack.append(pos)
            depth += 1
        else:
            depth = max(depth - 1, 0)
            if open_stack:
                close_of[open_stack.pop()] = pos
    functions: dict[str, Function] = {}
    for m in _FUNC.finditer(clean):
        brace = m.end() - 1
        if depth_at.get(brace) != 0:
            continue
        quals = " ".join(m.group(1).split())
        name = m.group(2)
        if name in _KEYWORDS or "=" in quals or quals.endswith(("struct", "union", "enum")):
            continue
        fn = Function(name, quals, _params(m.group(3)), " ".join(m.group(3).split()))
        body = clean[brace + 1 : close_of.get(brace, len(clean))]
        for ev in _EVENT.finditer(body):
            if ev.group(2) is not None:
                args = _split_args(ev.group(2))
                size = _int_literal(args[2]) if len(args) == 5 else None
                fn.events.append(("alloc", ev.group(1) or "", size, ()))
            elif ev.group(3) is not None:
                args = _split_args(ev.group(3))
                fn.events.append(("free", args[2] if len(args) == 3 else "", 0, ()))
            elif ev.group(4) not in _KEYWORDS:
                fn.events.append(("call", ev.group(4), 0, tuple(_call_args(body, ev.end()))))
        param_names = {p.name for p in fn.params}
        for al in _ALIAS.finditer(body):
            if al.group(2) in param_names:
                fn.aliases[al.group(1)] = al.group(2)
        for ca in _CAST.finditer(body):
            fn.casts.setdefault(ca.group(2), set()).add(ca.group(1))
        fn.reads_tensor_facts = tensor_facts_read(fn, body)
        functions[name] = fn
    declarations: dict[str, str] = {}
    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(([^(){};]*)\)\s*;", clean):
        name = m.group(1)
        line_start = clean.rfind("\n", 0, m.start()) + 1
        prefix = clean[line_start : m.start()]
        if name in _KEYWORDS or "=" in prefix or "return" in prefix:
            continue
        if re.search(r"\b(int32_t|int|void)\b", prefix):
            declarations[name] = " ".join(m.group(2).split())
    arrays: dict[str, StaticArray] = {}
    for m in _STATIC_ARRAY.finditer(clean):
        # Section names live in string literals, which ``clean`` has blanked: read them from
        # ``code``, never from the original text (a comment or an ``#if 0`` block is not code).
        sec = None
        for part in ("attr", "pre"):
            if m.group(part) is not None and "section" in m.group(part):
                found = _SECTION.findall(code, m.start(part), m.end(part))
                sec = found[-1] if found else sec
        ctype, count = m.group("ctype"), int(m.group("count"))
        size = _CTYPE_SIZE.get(ctype)
        arrays[m.group("name")] = StaticArray(
            m.group("name"), ctype, count, bool(m.group("const")), sec, size * count if size else None
        )
    pools = {}
    for m in _CONST_POOL.finditer(text):
        total = _POOL_SIZE.search(text, m.end())
        if total is not None:
            pools[m.group(1)] = int(total.group(1))
    return CSource(
        target=target_m.group(1).strip() if target_m else None,
        includes=includes,
        functions=functions,
        arrays=arrays,
        declarations=declarations,
        uses_ctx=bool(re.search(r"\.ctx\.device_(id|type)", clean)),
        constant_pools=pools,
    )


# TVM's packed functions take their DLTensor arguments as ``void* arg0 =
# (((TVMValue*)args)[0].v_handle);`` and read fields as ``(((DLTensor*)arg0)[0].data)``
# (tir::builtin::tvm_struct_get, printed by CodeGenC in src/target/source/codegen_c.cc; TVM < 0.7
# cast to ``TVMArray*`` and said ``ctx`` for ``device``). MakePackedAPI
# (src/tir/transforms/make_packed_api.cc, ArgBinder in arg_binder.cc) reads ndim, dtype and the
# shape's values only for its argument checks, which tir.disable_assert (microTVM's default)
# removes, and for symbolic shapes.
_HANDLE = r"(\w+)\s*=\s*\(\s*\(\s*\(\s*TVMValue\s*\*\s*\)\s*{args}\s*\)\s*\[\s*\d+\s*\]\s*\.\s*v_\w+\s*\)"
# A field read straight out of args: ((DLTensor*)(((TVMValue*)args)[0].v_handle))[0].data
# (TVM 0.8's AOT run wrapper, default_lib0.c)
_DIRECT = (
    r"\(\s*\(\s*(?:DLTensor|TVMArray)\s*\*\s*\)\s*\(\s*(?P<handle>\(\s*\(\s*TVMValue\s*\*\s*\)\s*{args}\s*\)"
    r"\s*\[\s*\d+\s*\]\s*\.\s*v_handle)\s*\)\s*\)\s*\[\s*0\s*\]\s*\.\s*(?P<field>\w+)"
)
_USES = (
    # a field read: (((DLTensor*)arg0)[0].data)
    r"\(\s*\(\s*\(\s*(?:DLTensor|TVMArray)\s*\*\s*\)\s*(?P<h>{h})\s*\)\s*\[\s*0\s*\]\s*\.\s*(?P<field>\w+)",
    # a NULL test: arg0 == NULL, NULL != arg0
    r"\b(?P<h>{h})\s*[!=]=\s*NULL\b",
    r"\bNULL\s*[!=]=\s*(?P<h>{h})\b",
)
# What a shape read may be stored in: ``void* arg0_shape = `` or ``int64_t* arg0_shape = (int64_t*)``
_STORED_IN = re.compile(r"\b(\w+)\s*=\s*(?:\(\s*\w+\s*\*\s*\)\s*)?$")
_STATEMENT_END = re.compile(r"\s*\)\s*;")


def tensor_facts_read(fn: Function, body: str) -> bool:
    """Whether a packed function may read the ndim, dtype or shape values of a DLTensor argument.

    False only when every use of each argument handle is a field read of something else (data,
    strides, byte_offset, device), a NULL test, or a shape pointer stored in a variable that is
    never used again; any other use (the handle or ``args`` passed on, ndim or dtype read, a
    shape value read) counts as a read, so that a table never leaves out what code might need."""
    if len(fn.params) not in (5, 6) or not fn.params[0].name:
        return True
    args = re.escape(fn.params[0].name)
    handles = list(re.finditer(_HANDLE.format(args=args), body))
    direct = list(re.finditer(_DIRECT.format(args=args), body))
    if len(handles) + len(direct) != len(re.findall(rf"\b{args}\b", body)):
        return True  # args is used other than to take the arguments out of it
    if any(d.group("field") in ("ndim", "dtype", "shape") for d in direct):
        return True
    for h in handles:
        name = re.escape(h.group(1))
        accounted = {h.start(1)}
        for pattern in _USES:
            for use in re.finditer(pattern.format(h=name), body):
                accounted.add(use.start("h"))
                field_name = use.groupdict().get("field")
                if field_name in ("ndim", "dtype"):
                    return True
                if field_name == "shape":
                    stored = _STORED_IN.search(body, max(0, use.start() - 200), use.start())
                    whole = _STATEMENT_END.match(body, use.end())
                    if not (stored and whole) or len(re.findall(rf"\b{stored.group(1)}\b", body)) != 1:
                        return True
        if any(m.start() not in accounted for m in re.finditer(rf"\b{name}\b", body)):
            return True
    return False


def align_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def workspace_peak(
    functions: dict[str, Function], root: str, align: int, memo: dict[str, int | None] | None = None
) -> int | None:
    """Peak bytes of TVMBackendAllocWorkspace memory live while ``root`` runs, with each
    allocation rounded up to ``align`` as the runtime's LIFO allocator does. None if unknown."""
    memo = {} if memo is None else memo
    if root in memo:
        return memo[root]
    memo[root] = None  # recursion guard: a cycle stays unknown
    fn = functions.get(root)
    if fn is None:
        return 0
    cur = best = 0
    live: dict[str, list[int]] = {}
    for kind, name, size, _args in fn.events:
        if kind == "alloc":
            if size is None:
                return None
            s = align_up(size, align) if size else 0
            live.setdefault(name, []).append(s)
            cur += s
            best = max(best, cur)
        elif kind == "free":
            stack = live.get(name)
            if stack:
                cur -= stack.pop()
        elif name in functions and name != root:
            sub = workspace_peak(functions, name, align, memo)
            if sub is None:
                return None
            best = max(best, cur + sub)
    memo[root] = best
    return best
