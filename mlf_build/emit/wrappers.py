"""Per-file wrappers that compile TVM's generated C.

Each codegen source is compiled through a one-line wrapper that includes it. The wrapper scopes
off, for TVM's file only, the warnings TVM's generator is known to trigger (unused variables and
parameters, const-discarding calls, ...), so the rest of the library builds with -Wall -Wextra
-Werror; and for sources holding linked parameters (``static const __tvm_param__*`` arrays) it
adds aliases, so the parameter table points at those arrays instead of a second copy.
"""

from __future__ import annotations

from string import Template

from ..naming import c_comment
from ..read.model import CodegenFile, Model, Module
from ..validate import c_identifier, c_param_type
from .common import Settings, banner, linked_symbol

# Warnings TVM's C codegen (0.7-0.18) triggers under -Wall -Wextra with GCC or Clang.
TVM_WARNINGS = (
    "-Wunused-variable",
    "-Wunused-parameter",
    "-Wunused-but-set-variable",
    "-Wunused-function",
    "-Wunused-const-variable",
    "-Wunused-label",
    "-Wunused-value",
    "-Wmissing-braces",
    "-Wmissing-field-initializers",
    "-Wsign-compare",
    "-Wpointer-sign",
    "-Wdiscarded-qualifiers",
    "-Wincompatible-pointer-types-discards-qualifiers",
    "-Wincompatible-pointer-types",
    "-Wmaybe-uninitialized",
    "-Wuninitialized",
    "-Wstrict-aliasing",
    "-Wint-conversion",
    "-Wparentheses",
    "-Wtype-limits",
    "-Wimplicit-fallthrough",
    "-Wcast-function-type",
    "-Wunknown-pragmas",
    "-Wshift-count-overflow",
    "-Wsizeof-pointer-div",
    "-Wformat",
    # CMSIS-NN code: lib1.c of TVM 0.9-0.10 calls tvmgen_<m>_cmsis_nn_main_N without declaring
    # it (forward declarations came with #13522); TVM 0.12+ checks the status with
    # `switch (!status)` (tir_to_runtime.cc, #13643).
    "-Wimplicit-function-declaration",
    "-Wswitch-bool",
    # USMP constant pools: TVM 0.10+ declares every member after the first of
    # `struct global_const_workspace` `__attribute__((packed, aligned(N)))`, and GCC ignores
    # `packed` on an array of bytes with a warning (src/target/source/source_module.cc,
    # GenerateConstantBuffer, since 08723d0ce6 "[usmp] U3 use case", 2022-06).
    "-Wattributes",
)


def wrapper_name(s: Settings, f: CodegenFile) -> str:
    return f"codegen/{s.prefix}__{f.filename}"


def source_rel(f: CodegenFile) -> str:
    """Where the extracted source lives, relative to the output folder."""
    return f"codegen/src/{f.filename}"


def emit_wrapper(model: Model, mod: Module, f: CodegenFile, s: Settings) -> str:
    return wrap_source(model, mod, s, f"src/{f.filename}", f.filename, f, where=model.source.display(f.path))


# Newlib builds without long-long printf support (Debian's arm-none-eabi among them) leave the
# 64-bit PRI macros of <inttypes.h> undefined; TVM's CRT formats with them.
CRT_PRELUDE = (
    "#include <inttypes.h>\n"
    '#ifndef PRIu64\n#define PRIu64 "llu"\n#endif\n'
    '#ifndef PRId64\n#define PRId64 "lld"\n#endif\n'
)


# Each compiler is told to ignore the warnings the other (or an older version) does not know.
_WARNINGS_OFF = Template("""\
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"
${clang}#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
${gcc}#endif
""")
_WARNINGS_BACK = """\
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
"""


def _ignored(compiler: str, warnings: tuple[str, ...]) -> str:
    return "".join(f'#pragma {compiler} diagnostic ignored "{w}"\n' for w in warnings)


def wrap_source(
    model: Model,
    mod: Module,
    s: Settings,
    include: str,
    label: str,
    f: CodegenFile | None = None,
    prelude: str = "",
    where: str = "",
) -> str:
    """A translation unit that compiles ``include`` (relative to the wrapper) with TVM's known
    warnings off, plus aliases for parameters that file links in."""
    what = f"Compiles TVM's {c_comment(label)} with its known warnings off."
    lines = [banner(what, s.model_label, [mod.name], model.format_version)]
    lines.append(
        _WARNINGS_OFF.substitute(clang=_ignored("clang", TVM_WARNINGS), gcc=_ignored("GCC", TVM_WARNINGS))
    )
    lines.append(prelude)
    # TVM before mid-2021 called DLTensor's device field "ctx".
    old_ctx = f is not None and f.source is not None and f.source.uses_ctx
    if old_ctx:
        lines.append("#define ctx device\n")
    lines.append(f'#include "{include}"\n')
    if old_ctx:
        lines.append("#undef ctx\n")
    lines.append(_WARNINGS_BACK)
    if f is not None and f.source is not None:
        for i, p in enumerate(mod.params):
            array = mod.linked_params.get(p.name)
            if array is not None and array in f.source.arrays:
                a = f.source.arrays[array]
                sym = linked_symbol(s, i)
                # Names read from TVM's C, repeated in a declaration and an alias: identifiers only.
                c_identifier(a.name, where, "linked parameter array")
                c_param_type(a.ctype, where, f"linked parameter array {a.name}")
                lines.append(
                    f"extern const {a.ctype} {sym}[{a.count}];\n"
                    f'extern const {a.ctype} {sym}[{a.count}] __attribute__((alias("{array}")));\n'
                )
    return "".join(lines)
