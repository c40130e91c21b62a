"""``mlf-build report`` and ``<t>_report.html``: where a model's bytes go, as one HTML page.

The page is self-contained (inline CSS and SVG, no script, nothing fetched) and its bytes depend
only on the model and the options. It shows the arena as a memory map (x: step, y: byte offset;
one rectangle per arena tensor and per step's operator scratch, named on hover by its
``<title>``; the liveness bound as a line), the flash and RAM the generator can account for
(and says what only the compiler knows), and the inputs and outputs. Every name from the
archive is escaped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from html import escape

from . import __version__
from .errors import one_line
from .plan.plan import LIFETIMES, STORAGE_IDS, Block, Plan
from .read.model import Model, Module, Tensor
from .read.params import ParamTensor

#: Per argument of an operator call, on the runner's stack: DLTensor (40 bytes with 32-bit
#: pointers: data, device, ndim, dtype, shape, strides, then byte_offset aligned to 8, see
#: dlpack.h), TVMValue (8) and the type code (4).
STACK_PER_ARG_32 = 40 + 8 + 4

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;
  color: #1d2430; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #d5dae1; }
p.meta, .note { color: #5a6372; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { text-align: left; padding: 0.15em 0.8em 0.15em 0; vertical-align: top; }
th { font-weight: 600; border-bottom: 1px solid #d5dae1; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td code { word-break: break-all; }
code { font-size: 0.95em; }
figure { margin: 1em 0; overflow-x: auto; }
svg.map text { font: 11px system-ui, sans-serif; fill: #3d4553; }
svg.map .frame { fill: #f6f8fa; stroke: #c9d0d9; }
svg.map rect.tensor, svg.map rect.scratch { stroke: #1d2430; stroke-width: 0.6px;
  vector-effect: non-scaling-stroke; }
svg.map rect.scratch { fill: #b8322a; fill-opacity: 0.7; }
svg.map rect.tensor:hover, svg.map rect.scratch:hover { fill-opacity: 1; stroke-width: 1.5px; }
svg.map line.bound { stroke: #1d2430; stroke-width: 1.5px; stroke-dasharray: 6 3;
  vector-effect: non-scaling-stroke; }
svg.map line.tick { stroke: #c9d0d9; stroke-width: 1px; }
tr.peak td { font-weight: 600; }
"""

PLOT_W_MIN, PLOT_W_MAX, PLOT_STEP_W, PLOT_H = 480, 1600, 36, 420
LEFT, TOP, BOTTOM = 96, 12, 44


@dataclass(frozen=True)
class _Row:
    cells: tuple[str, ...]  # already escaped
    cls: str = ""


def _table(head: tuple[str, ...], rows: list[_Row], numeric: frozenset[int] = frozenset()) -> str:
    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag} class="n">{text}</{tag}>' if i in numeric else f"<{tag}>{text}</{tag}>"

    out = ["<table>", "<tr>" + "".join(cell("th", i, h) for i, h in enumerate(head)) + "</tr>"]
    for r in rows:
        attr = f' class="{r.cls}"' if r.cls else ""
        out.append(f"<tr{attr}>" + "".join(cell("td", i, c) for i, c in enumerate(r.cells)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _b(n: int) -> str:
    return f"{n:,} B"


def _shape(t: Tensor | ParamTensor) -> str:
    if t.shape is None:
        return "not recorded"
    return "×".join(str(d) for d in t.shape) or "scalar"


def _live_per_step(blocks: list[Block], steps: int) -> list[int]:
    """Bytes held at each step. From the changes at each block's ends (a running sum), not by
    adding each block into every step it spans: an archive's AOT main may hold thousands of
    allocations across thousands of calls."""
    change = [0] * (steps + 1)
    for b in blocks:
        if b.first <= b.last:
            change[b.first] += b.size
            change[b.last + 1] -= b.size
    return list(itertools.accumulate(change[:steps]))


def _svg(plan: Plan) -> str:
    """The memory map. The plot is an inner <svg> whose user units are steps (x) and bytes (y,
    offset 0 at the bottom), so each rectangle's attributes are the plan's numbers exactly."""
    assert plan.arena_map is not None
    amap = plan.arena_map
    steps = max(len(amap.steps), 1)
    height = max(plan.workspace_size, plan.lower_bound or 0, 1)
    pw = min(max(steps * PLOT_STEP_W, PLOT_W_MIN), PLOT_W_MAX)
    ph = PLOT_H
    out = [
        f'<svg class="map" xmlns="http://www.w3.org/2000/svg" width="{LEFT + pw + 16}" '
        f'height="{TOP + ph + BOTTOM}" role="img" aria-label="arena memory map">',
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}"/>',
    ]
    for k in range(5):  # byte offsets
        value = height * k // 4
        y = TOP + ph - ph * value / height
        out.append(f'<line class="tick" x1="{LEFT - 4}" x2="{LEFT}" y1="{y:.2f}" y2="{y:.2f}"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.2f}" text-anchor="end">{value:,}</text>')
    every = max(1, steps // 24)
    for t in range(0, steps, every):  # steps
        x = LEFT + pw * (t + 0.5) / steps
        out.append(f'<text x="{x:.2f}" y="{TOP + ph + 16}" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{LEFT + pw / 2:.2f}" y="{TOP + ph + 36}" text-anchor="middle">step</text>')
    out.append(
        f'<text x="14" y="{TOP + ph / 2:.2f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + ph / 2:.2f})">byte offset</text>'
    )
    out.append(
        f'<svg class="plot" x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" '
        f'viewBox="0 0 {steps} {height}" preserveAspectRatio="none">'
    )
    tensors = 0
    for b in amap.blocks:
        if b.kind == "tensor":
            # Hues from yellow to violet: red is the scratch's.
            fill = f' fill="hsl({50 + tensors * 47 % 230}, 50%, 64%)"'
            tensors += 1
        else:
            fill = ""
        span = f"step {b.first}" if b.first == b.last else f"steps {b.first}–{b.last}"
        title = f"{b.name}: {_b(b.size)} at offset {b.offset:,}, {span}"
        out.append(
            f'<rect class="{b.kind}" x="{b.first}" y="{height - b.offset - b.size}" '
            f'width="{b.last - b.first + 1}" height="{b.size}"{fill} data-offset="{b.offset}" '
            f'data-size="{b.size}" data-first="{b.first}" data-last="{b.last}">'
            f"<title>{escape(title)}</title></rect>"
        )
    if plan.lower_bound is not None:
        y = height - plan.lower_bound
        out.append(
            f'<line class="bound" x1="0" x2="{steps}" y1="{y}" y2="{y}">'
            f"<title>liveness bound: {_b(plan.lower_bound)}</title></line>"
        )
    out.append("</svg></svg>")
    return "\n".join(out)


def _arena_section(plan: Plan) -> str:
    out = ['<section id="arena">', "<h2>Arena</h2>"]
    if plan.arena_map is None:
        out.append(
            f'<p class="note">{_b(plan.workspace_size)}, bounded from metadata.json: without TVM\'s '
            "C code there is no allocation sequence to draw.</p></section>"
        )
        return "\n".join(out)
    how = {
        LIFETIMES: "tensors placed by their lifetimes; the operators' scratch window starts at offset 0 and "
        "every tensor live at a step lies above that step's scratch",
        STORAGE_IDS: "TVM's storage ids end to end, the operators' scratch above them",
    }.get(
        plan.layout, "TVM's code allocates each buffer in this order; the runtime serves it last-in first-out"
    )
    bound = "unknown" if plan.lower_bound is None else _b(plan.lower_bound)
    out.append(
        f"<p>{_b(plan.workspace_size)} ({'exact' if plan.exact else 'upper bound from metadata.json'}): "
        f"{escape(how)}. Liveness bound: {bound} (dashed line), the most bytes live at one step; no plan "
        "of these operators needs less.</p>"
    )
    if plan.layout == STORAGE_IDS:
        why = plan.notes[0] if plan.notes else "the lifetime plan was not smaller"
        out.append(f"<p>{escape(why[:1].upper() + why[1:])}.</p>")
    if plan.storage_id_size is not None and plan.layout == LIFETIMES:
        old = _b(plan.storage_id_size)
        out.append(f"<p>TVM's storage ids laid end to end with the scratch above would need {old}.</p>")
    if plan.lower_bound is not None and plan.layout not in (LIFETIMES, STORAGE_IDS):
        extra = plan.workspace_size - plan.lower_bound
        if extra > 0:
            out.append(
                f"<p>TVM's allocation order holds {_b(extra)} more than the buffers' lifetimes need.</p>"
            )
    out.append(
        '<p class="note">Each rectangle is a tensor (light colours) or one step\'s operator scratch '
        "(dark red) over the steps it is held; hover for its name, size and offset.</p>"
    )
    out.append(f"<figure>{_svg(plan)}</figure>")
    amap = plan.arena_map
    live = _live_per_step(amap.blocks, len(amap.steps))
    top = max(live, default=0)
    scratch = {b.first: b.size for b in amap.blocks if b.kind == "scratch"}
    rows = [
        _Row(
            (str(t), f"<code>{escape(name)}</code>", _b(scratch.get(t, 0)), _b(live[t])),
            "peak" if live[t] == top else "",
        )
        for t, name in enumerate(amap.steps)
    ]
    out.append(_table(("step", "runs", "its scratch", "held at this step"), rows, frozenset({0, 2, 3})))
    out.append("</section>")
    return "\n".join(out)


def _flash_section(mod: Module, plan: Plan, prefix: str | None) -> str:
    out = ['<section id="flash">', "<h2>Flash</h2>", "<h3>Operator code</h3>"]
    rows = []
    for f in mod.codegen:
        if f.kind == "object" and f.elf is not None:
            code = sum(size for _n, _t, flags, size in f.elf.sections if flags & 0x4)  # SHF_EXECINSTR
            size = f"{_b(code)} of code as TVM compiled it ({escape(f.elf.abi)})"
        elif f.kind in ("c", "c++"):
            n = len(f.source.functions) if f.source is not None else 0
            size = f"not known before compiling ({n} functions of C)"
        else:
            continue
        rows.append(_Row((f"<code>{escape(f.path)}</code>", escape(f.kind), size)))
    out.append(_table(("file", "kind", "size"), rows))
    if plan.arena_map is not None:
        calls: dict[str, int] = {}
        for name in plan.arena_map.steps:
            if name != "copy":
                calls[name] = calls.get(name, 0) + 1
        listed = ", ".join(
            f"<code>{escape(n)}</code>" + (f" ×{c}" if c > 1 else "") for n, c in calls.items()
        )
        out.append(f"<p>Operators the run calls: {listed or 'none'}.</p>")
    out.append("<h3>Parameters</h3>")
    rows = []
    padded = 0
    for p in mod.params:
        if p.name in mod.linked_params:
            where = f"TVM's C (<code>{escape(mod.linked_params[p.name])}</code>)"
        else:
            where = f"<code>{escape(prefix or '<name>')}_params.bin</code>"
            padded += -p.nbytes % plan.params_align
        rows.append(_Row((escape(p.name), escape(p.dtype.name), escape(_shape(p)), _b(p.nbytes), where)))
    total = sum(p.nbytes for p in mod.params)
    rows.append(_Row(("total", "", "", _b(total), f"plus up to {_b(padded)} of alignment padding"), "peak"))
    out.append(_table(("name", "dtype", "shape", "bytes", "stored in"), rows, frozenset({3})))
    out.append("<h3>Glue</h3>")
    if plan.graph is not None:
        g = plan.graph
        args = sum(len(s.args) for s in g.steps)
        out.append(
            f"<p>The runner's table: {len(g.steps)} steps (an operator each, or a copy) and where each of "
            f"their {args} arguments is; with the run functions and the shared runtime, its size is only "
            "known once compiled (<code>mlf-build check-size</code> measures the built library).</p>"
        )
    else:
        out.append(
            "<p>A direct call of TVM's entry point and the tensor info tables; their size is only known once "
            "compiled (<code>mlf-build check-size</code> measures the built library).</p>"
        )
    out.append("</section>")
    return "\n".join(out)


def _ram_section(mod: Module, plan: Plan) -> str:
    out = ['<section id="ram">', "<h2>RAM</h2>"]
    rows = [
        _Row(
            (
                "arena",
                _b(plan.workspace_size),
                "the library's static arena (NOBITS), or the caller's buffer with WORKSPACE caller",
            )
        )
    ]
    for name in mod.usmp_pools:
        size = next(
            (f.source.arrays[name].nbytes for f in mod.c_sources() if f.source and name in f.source.arrays),
            None,
        )
        shown = _b(size) if size is not None else "unknown"
        rows.append(
            _Row((f"<code>{escape(name)}</code>", shown, "USMP pool declared in TVM's C, outside the arena"))
        )
    if plan.graph is not None:
        n = plan.graph.max_args
        note = f"during a run, on 32-bit targets: {n} operator arguments × {STACK_PER_ARG_32} B"
        rows.append(_Row(("runner stack", _b(n * STACK_PER_ARG_32), note)))
    rows.append(
        _Row(("runtime state", "a few dozen B", "once per firmware, however many models; target-dependent"))
    )
    out.append(_table(("what", "bytes", "note"), rows, frozenset({1})))
    out.append("</section>")
    return "\n".join(out)


def _io_section(mod: Module) -> str:
    rows = []
    for kind, tensors in (("input", mod.inputs), ("output", mod.outputs)):
        for i, t in enumerate(tensors):
            size = _b(t.nbytes) if t.known else "not recorded (give --io-shape)"
            rows.append(_Row((f"{kind} {i}", escape(t.name), escape(t.dtype.name), escape(_shape(t)), size)))
    table = _table(("", "name", "dtype", "shape", "bytes"), rows, frozenset({4}))
    return f'<section id="io">\n<h2>Inputs and outputs</h2>\n{table}\n</section>'


def render_report(model: Model, mod: Module, plan: Plan, label: str, prefix: str | None = None) -> str:
    """The report of one module: ``label`` names the model (a file name, never a path) and
    ``prefix`` the library's C prefix (for the files it names), when there is a library."""
    # A file name may hold control characters and bytes that are not UTF-8 (surrogate escapes),
    # which neither HTML nor the page's UTF-8 encoding can carry: shown as '?'.
    label = one_line(label)
    title = f"{label}, module {mod.name}"
    params = sum(p.nbytes for p in mod.params)
    summary = _table(
        ("", "bytes", ""),
        [
            _Row(("RAM: arena", _b(plan.workspace_size), "tensors and operator scratch of one run")),
            _Row(("Flash: parameters", _b(params), f"{len(mod.params)} tensors")),
            _Row(
                (
                    "Flash: operator code and glue",
                    "see below",
                    "only known once compiled, except TVM's objects",
                )
            ),
        ],
        frozenset({1}),
    )
    body = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)} — mlf_build report</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(mod.executor or "?")} executor, MLF format version {model.format_version}; '
        f"report by mlf_build {escape(__version__)}.</p>",
        summary,
        _arena_section(plan),
        _flash_section(mod, plan, prefix),
        _ram_section(mod, plan),
        _io_section(mod),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(body)
