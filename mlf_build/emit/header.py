"""The public header ``<t>.h``: sizes as macros, I/O and parameter tables, the run calls."""

from __future__ import annotations

from ..csource import align_up
from ..naming import c_comment, macro_fragment
from ..plan.plan import Plan
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


def emit_header(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    T, t = s.upper, s.prefix
    guard = header_guard(s)
    docs = "".join(_tensor_doc("input", i, x) for i, x in enumerate(mod.inputs))
    docs += "".join(_tensor_doc("output", i, x) for i, x in enumerate(mod.outputs))
    out = [
        banner(f"{t}.h - the C API of model library {t}.", s.model_label, [mod.name], model.format_version)
    ]
    out.append(
        f"/*\n * Executor: {mod.executor}"
        + (f" ({mod.interface} interface)" if mod.interface else "")
        + f". Tensors:\n{docs} *\n"
        f" * Arena: {plan.workspace_size} bytes"
        + (" (exact)" if plan.exact else " (upper bound from metadata.json)")
        + f", aligned to {plan.align}.\n"
        " *\n * Usage:\n"
        f" *   const void *in[{T}_NUM_INPUTS] = {{ input0, ... }};\n"
        f" *   void *out[{T}_NUM_OUTPUTS] = {{ output0, ... }};\n"
        + (
            f" *   int32_t status = {t}_run(in, out);   (0 = MLF_OK, see mlf_strerror())\n"
            if s.static_arena
            else f" *   static uint8_t arena[{T}_WORKSPACE_SIZE]\n"
            f" *       __attribute__((aligned({T}_WORKSPACE_ALIGN)));\n"
            f" *   int32_t status = {t}_run_with_workspace(in, out, arena, sizeof arena);\n"
        )
        + " */\n"
    )
    out.append(f"#ifndef {guard}\n#define {guard}\n\n#include <stddef.h>\n#include <stdint.h>\n\n")
    out.append('#include "mlf_runtime.h"\n\n#ifdef __cplusplus\nextern "C" {\n#endif\n\n')
    for name, value in header_macros(model, mod, plan, s):
        out.append(f"#define {name} {value}\n")
    out.append(
        f"\n/* Inputs and outputs, in the order <{t}_run> takes them. */\n"
        f"extern const mlf_tensor_info_t {t}_input_info[{max(len(mod.inputs), 1)}];\n"
        f"extern const mlf_tensor_info_t {t}_output_info[{max(len(mod.outputs), 1)}];\n"
        f"/* Parameters, bound by the library ({T}_NUM_PARAMS entries). */\n"
        f"extern const mlf_param_t {t}_params[{max(len(mod.params), 1)}];\n\n"
    )
    if mod.devices:
        out.append(_devices_doc(mod, s))
    if s.static_arena:
        out.append(
            f"/* Runs the model once on the library's own arena ({T}_WORKSPACE_SIZE bytes).\n"
            f" * inputs[i] and outputs[i] point to buffers of {T}_INPUT_<i>_SIZE and\n"
            f" * {T}_OUTPUT_<i>_SIZE bytes; they must not overlap. Returns MLF_OK (0) or an\n"
            " * MLF_ERR_* code. Not re-entrant. */\n"
            f"int32_t {t}_run(const void *const *inputs, void *const *outputs);\n\n"
        )
    out.append(
        f"/* Runs the model on the caller's arena: workspace_size >= {T}_WORKSPACE_SIZE bytes,\n"
        f" * aligned to {T}_WORKSPACE_ALIGN. A smaller arena yields MLF_ERR_WORKSPACE_TOO_SMALL;\n"
        " * nothing outside the arena is ever written. */\n"
        f"int32_t {t}_run_with_workspace(const void *const *inputs, void *const *outputs,\n"
        f"{' ' * (len(t) + 28)}void *workspace, size_t workspace_size);\n\n"
    )
    out.append(f"#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */\n")
    return "".join(out)


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
