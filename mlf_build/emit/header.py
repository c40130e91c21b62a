"""The public header ``<t>.h``: sizes as macros, I/O and parameter tables, the run calls."""

from __future__ import annotations

from string import Template

from ..naming import c_comment, macro_fragment
from ..plan.plan import Plan
from ..read.csource import align_up
from ..read.model import Model, Module, Tensor
from .common import Settings, banner, devices_symbol, fmt_shape


def io_size(mod: Module, align: int) -> int:
    """Bytes for all inputs and outputs laid end to end, each aligned (for callers that carve
    the buffers from one block, like the generated smoke test)."""
    return sum(align_up(t.nbytes, align) for t in mod.inputs + mod.outputs)


def _tensor_doc(kind: str, i: int, t: Tensor) -> str:
    return f" *   {kind} {i}: {c_comment(t.name)}  {t.dtype.name} {fmt_shape(t.dims)}  ({t.nbytes} bytes)\n"


def header_guard(s: Settings) -> str:
    return f"{s.upper}_H_"


def header_macros(model: Model, mod: Module, plan: Plan, s: Settings) -> list[tuple[str, str]]:
    """The macros of ``<t>.h``, (name, value) in order. Each input and output has a size macro by
    index and one by name (``macro_fragment`` never starts with a digit, so the two kinds
    cannot meet)."""
    macros = [
        ("FORMAT_VERSION", str(model.format_version)),
        ("EXECUTOR", f'"{mod.executor}"'),
        ("WORKSPACE_SIZE", str(plan.workspace_size)),
        ("WORKSPACE_ALIGN", str(plan.align)),
        ("NUM_INPUTS", str(len(mod.inputs))),
        ("NUM_OUTPUTS", str(len(mod.outputs))),
        ("NUM_PARAMS", str(len(mod.params))),
        ("PARAMS_SIZE", str(plan.params_size)),
        ("IO_SIZE", str(io_size(mod, plan.align))),
        ("NUM_DEVICES", str(len(mod.devices))),
    ]
    macros += [(f"DEVICE_{macro_fragment(d)}", str(i)) for i, d in enumerate(mod.devices)]
    for kind, tensors in (("INPUT", mod.inputs), ("OUTPUT", mod.outputs)):
        macros += [(f"{kind}_{i}_SIZE", str(x.nbytes)) for i, x in enumerate(tensors)]
        macros += [(f"{kind}_{macro_fragment(x.name)}_SIZE", str(x.nbytes)) for x in tensors]
    return [(f"{s.upper}_{name}", value) for name, value in macros]


_USAGE_STATIC = Template("""\
 *   int32_t status = ${t}_run(in, out);   (0 = MLF_OK, see mlf_strerror())
""")
_USAGE_CALLER = Template("""\
 *   static uint8_t arena[${T}_WORKSPACE_SIZE]
 *       __attribute__((aligned(${T}_WORKSPACE_ALIGN)));
 *   int32_t status = ${t}_run_with_workspace(in, out, arena, sizeof arena);
""")
_DOC = Template("""\
/*
 * Executor: ${executor}. Tensors:
${tensors} *
 * Arena: ${size} bytes${exact}, aligned to ${align}.
 *
 * Usage:
 *   const void *in[${T}_NUM_INPUTS] = { input0, ... };
 *   void *out[${T}_NUM_OUTPUTS] = { output0, ... };
${usage} */
""")
_OPEN = Template("""\
#ifndef ${guard}
#define ${guard}

#include <stddef.h>
#include <stdint.h>

#include "mlf_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

""")
_TABLES = Template("""
/* Inputs and outputs, in the order <${t}_run> takes them. */
extern const mlf_tensor_info_t ${t}_input_info[${inputs}];
extern const mlf_tensor_info_t ${t}_output_info[${outputs}];
/* Parameters, bound by the library (${T}_NUM_PARAMS entries). */
extern const mlf_param_t ${t}_params[${params}];

""")
_RUN = Template("""\
/* Runs the model once on the library's own arena (${T}_WORKSPACE_SIZE bytes).
 * inputs[i] and outputs[i] point to buffers of ${T}_INPUT_<i>_SIZE and
 * ${T}_OUTPUT_<i>_SIZE bytes; they must not overlap. Returns MLF_OK (0) or an
 * MLF_ERR_* code. Not re-entrant. */
int32_t ${t}_run(const void *const *inputs, void *const *outputs);

""")
_RUN_WITH_WORKSPACE = Template("""\
/* Runs the model on the caller's arena: workspace_size >= ${T}_WORKSPACE_SIZE bytes,
 * aligned to ${T}_WORKSPACE_ALIGN. A smaller arena yields MLF_ERR_WORKSPACE_TOO_SMALL;
 * nothing outside the arena is ever written. */
int32_t ${t}_run_with_workspace(const void *const *inputs, void *const *outputs,
${indent}void *workspace, size_t workspace_size);

""")
_CLOSE = Template("""\
#ifdef __cplusplus
}
#endif

#endif /* ${guard} */
""")


def emit_header(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    T, t = s.upper, s.prefix
    guard = header_guard(s)
    out = [
        banner(f"{t}.h - the C API of model library {t}.", s.model_label, [mod.name], model.format_version)
    ]
    out.append(_header_doc(mod, plan, s))
    out.append(_OPEN.substitute(guard=guard))
    out += [f"#define {name} {value}\n" for name, value in header_macros(model, mod, plan, s)]
    counts = {"inputs": len(mod.inputs), "outputs": len(mod.outputs), "params": len(mod.params)}
    out.append(_TABLES.substitute(t=t, T=T, **{k: max(n, 1) for k, n in counts.items()}))
    if mod.devices:
        out.append(_devices_doc(mod, s))
    if s.static_arena:
        out.append(_RUN.substitute(t=t, T=T))
    out.append(_RUN_WITH_WORKSPACE.substitute(t=t, T=T, indent=" " * (len(t) + 28)))
    out.append(_CLOSE.substitute(guard=guard))
    return "".join(out)


def _header_doc(mod: Module, plan: Plan, s: Settings) -> str:
    """The header's first comment: executor, tensors, arena, and how to call the run."""
    tensors = "".join(_tensor_doc("input", i, x) for i, x in enumerate(mod.inputs))
    tensors += "".join(_tensor_doc("output", i, x) for i, x in enumerate(mod.outputs))
    usage = _USAGE_STATIC if s.static_arena else _USAGE_CALLER
    return _DOC.substitute(
        executor=f"{mod.executor}" + (f" ({mod.interface} interface)" if mod.interface else ""),
        tensors=tensors,
        size=plan.workspace_size,
        exact=" (exact)" if plan.exact else " (upper bound from metadata.json)",
        align=plan.align,
        T=s.upper,
        usage=usage.substitute(t=s.prefix, T=s.upper),
    )


# What each device's handle is, for devices whose glue mlf_build ships (devices.py).
_DEVICE_HANDLES = {
    "ethos_u": "a struct ethosu_driver * set up with ethosu_init(), or NULL to reserve\n"
    " *     any initialised driver for each NPU operator (ethosu_reserve_driver())",
}


def _devices_doc(mod: Module, s: Settings) -> str:
    T = s.upper
    lines = [
        f"/* Device handles, one per device the model runs operators on (TVM's struct\n"
        f" * tvmgen_{mod.name}_devices), handed to the device's code on every run; set them before\n"
        " * running (they start NULL):\n"
    ]
    for d in mod.devices:
        what = _DEVICE_HANDLES.get(d, f"whatever your TVMDevice*() hooks and {c_comment(d)} code expect")
        lines.append(f" *   [{T}_DEVICE_{macro_fragment(d)}] {c_comment(d)}: {what}.\n")
    lines.append(f" */\nextern void *{devices_symbol(s)}[{T}_NUM_DEVICES];\n\n")
    return "".join(lines)


def emit_umbrella(model: Model, prefix: str, apis: list[Settings]) -> str:
    """``<t>.h`` of a library built from several modules (ALL_MODULES): one API per module."""
    guard = f"{prefix.upper()}_H_"  # header_guard() of the library's own prefix
    what = f"{prefix}.h - model library {prefix}: one API per module of the MLF."
    # ALL_MODULES builds every module of the archive.
    modules = [m.name for m in model.modules]
    lines = [
        banner(what, apis[0].model_label, modules, model.format_version),
        f"#ifndef {guard}\n#define {guard}\n\n",
    ]
    lines += [f'#include "{api.prefix}.h"\n' for api in apis]
    lines.append(f"\n#endif /* {guard} */\n")
    return "".join(lines)
