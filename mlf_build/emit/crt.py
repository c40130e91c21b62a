"""RUNTIME tvm_crt: build against the TVM CRT bundled in the MLF (``runtime/``) instead of
mlf_build's runtime.

Only the two CRT files a model needs are compiled (``crt_backend_api.c`` for the workspace
calls, ``stack_allocator.c`` behind them), configured by a generated ``crt_config.h``, plus the
platform hooks the CRT leaves to the firmware. The CRT aborts when the workspace runs out;
the hooks turn that abort into a ``longjmp`` back to ``<t>_run``, which returns
MLF_ERR_WORKSPACE_TOO_SMALL like the builtin runtime.
"""

from __future__ import annotations

from ..plan.plan import Plan
from ..read.model import Model, Module
from .common import Settings, banner

CRT_SOURCES = (
    "runtime/src/runtime/crt/common/crt_backend_api.c",
    "runtime/src/runtime/crt/memory/stack_allocator.c",
)


def crt_members(model: Model) -> list[str]:
    """Members of the bundled runtime to extract: its headers and the two sources."""
    missing = [s for s in CRT_SOURCES if not model.source.has(s)]
    if missing:
        from ..errors import MlfError

        raise MlfError(model.path, f"the bundled runtime lacks {', '.join(missing)}")
    headers = [n for n in model.runtime_files if n.startswith("runtime/include/") and n.endswith(".h")]
    return headers + list(CRT_SOURCES)


def crt_rel(member: str) -> str:
    """Where a runtime member is written, relative to the output folder."""
    return "crt/" + member[len("runtime/") :]


def abort_symbol(s: Settings) -> str:
    return f"{s.prefix}__crt_abort"


def begin_symbol(s: Settings) -> str:
    return f"{s.prefix}__crt_begin"


def emit_crt_config(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    return banner(
        "crt_config.h - configuration of TVM's CRT for mlf_build.",
        s.model_label,
        [mod.name],
        model.format_version,
    ) + (
        "#ifndef MLF_CRT_CONFIG_H_\n#define MLF_CRT_CONFIG_H_\n"
        '/* Values of TVM\'s crt_config.h template (cmake/utils/CRTConfig.cmake, "crt"), except the\n'
        " * log level: errors only, since a failed allocation is reported as a status instead. */\n"
        "#define TVM_CRT_LOG_LEVEL 0\n"
        "#define TVM_CRT_DEBUG 0\n"
        "#define TVM_CRT_MAX_NDIM 6\n"
        "#define TVM_CRT_MAX_ARGS 10\n"
        "#define TVM_CRT_GLOBAL_FUNC_REGISTRY_SIZE_BYTES 512\n"
        "#define TVM_CRT_MAX_REGISTERED_MODULES 2\n"
        "#define TVM_CRT_MAX_PACKET_SIZE_BYTES 2048\n"
        "#define TVM_CRT_MAX_STRLEN_DLTYPE 10\n"
        "#define TVM_CRT_MAX_STRLEN_FUNCTION_NAME 120\n"
        "#define TVM_CRT_MAX_STRLEN_PARAM_NAME 80\n"
        "#define TVM_CRT_MAX_FUNCTION_NAME_LENGTH_BYTES 30\n"
        f"/* Same alignment as the arena plan, so <{s.upper}>_WORKSPACE_SIZE holds for this allocator. */\n"
        f"#define TVM_RUNTIME_ALLOC_ALIGNMENT_BYTES {plan.align}\n"
        "#endif\n"
    )


def emit_crt_platform(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    t = s.prefix
    return banner(
        f"{t}_crt_platform.c - the platform hooks TVM's CRT needs.",
        s.model_label,
        [mod.name],
        model.format_version,
    ) + (
        "#include <setjmp.h>\n#include <stdarg.h>\n"
        "#include <tvm/runtime/c_runtime_api.h>\n#include <tvm/runtime/crt/platform.h>\n"
        "#include <tvm/runtime/crt/stack_allocator.h>\n\n"
        '#include "mlf_runtime_internal.h"\n\n'
        f"jmp_buf {abort_symbol(s)};\n"
        f"void {begin_symbol(s)}(uint8_t *base, size_t size);\n\n"
        "static tvm_workspace_t g_workspace;\nstatic uint8_t *g_base;\n\n"
        f"void {begin_symbol(s)}(uint8_t *base, size_t size) {{\n"
        "  g_base = base;\n  StackMemoryManager_Init(&g_workspace, base, size);\n}\n\n"
        "tvm_crt_error_t TVMPlatformMemoryAllocate(size_t num_bytes, DLDevice dev, void **out_ptr) {\n"
        "  (void)dev;\n"
        "  tvm_crt_error_t err = StackMemoryManager_Allocate(&g_workspace, (int32_t)num_bytes, out_ptr);\n"
        "  if (err == kTvmErrorNoError) {\n"
        "    mlf_run_note_used((size_t)(g_workspace.next_alloc - g_base));\n"
        "  } else {\n    mlf_run_note_exhausted();\n  }\n  return err;\n}\n\n"
        "tvm_crt_error_t TVMPlatformMemoryFree(void *ptr, DLDevice dev) {\n"
        "  (void)dev;\n  return StackMemoryManager_Free(&g_workspace, ptr);\n}\n\n"
        "void TVMPlatformAbort(tvm_crt_error_t code) {\n"
        f"  longjmp({abort_symbol(s)}, code != 0 ? (int)code : 1);\n}}\n\n"
        "void TVMLogf(const char *fmt, ...) { (void)fmt; }\n\n"
        "int TVMFuncRegisterGlobal(const char *name, TVMFunctionHandle f, int override) {\n"
        "  (void)name;\n  (void)f;\n  (void)override;\n  return 0;\n}\n"
    )
