"""RUNTIME tvm_crt: build against the TVM CRT bundled in the MLF (``runtime/``) instead of
mlf_build's runtime.

Only the two CRT files a model needs are compiled (``crt_backend_api.c`` for the workspace
calls, ``stack_allocator.c`` behind them), configured by a generated ``crt_config.h``, plus the
platform hooks the CRT leaves to the firmware. The CRT aborts when the workspace runs out;
the hooks turn that abort into a ``longjmp`` back to ``<t>_run``, which returns
MLF_ERR_WORKSPACE_TOO_SMALL like the builtin runtime.
"""

from __future__ import annotations

from string import Template

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


_CRT_CONFIG = Template("""\
#ifndef MLF_CRT_CONFIG_H_
#define MLF_CRT_CONFIG_H_
/* Values of TVM's crt_config.h template (cmake/utils/CRTConfig.cmake, "crt"), except the
 * log level: errors only, since a failed allocation is reported as a status instead. */
#define TVM_CRT_LOG_LEVEL 0
#define TVM_CRT_DEBUG 0
#define TVM_CRT_MAX_NDIM 6
#define TVM_CRT_MAX_ARGS 10
#define TVM_CRT_GLOBAL_FUNC_REGISTRY_SIZE_BYTES 512
#define TVM_CRT_MAX_REGISTERED_MODULES 2
#define TVM_CRT_MAX_PACKET_SIZE_BYTES 2048
#define TVM_CRT_MAX_STRLEN_DLTYPE 10
#define TVM_CRT_MAX_STRLEN_FUNCTION_NAME 120
#define TVM_CRT_MAX_STRLEN_PARAM_NAME 80
#define TVM_CRT_MAX_FUNCTION_NAME_LENGTH_BYTES 30
/* Same alignment as the arena plan, so <${UPPER}>_WORKSPACE_SIZE holds for this allocator. */
#define TVM_RUNTIME_ALLOC_ALIGNMENT_BYTES ${align}
#endif
""")

_CRT_PLATFORM = Template("""\
#include <setjmp.h>
#include <stdarg.h>
#include <tvm/runtime/c_runtime_api.h>
#include <tvm/runtime/crt/platform.h>
#include <tvm/runtime/crt/stack_allocator.h>

#include "mlf_runtime_internal.h"

jmp_buf ${abort};
void ${begin}(uint8_t *base, size_t size);

static tvm_workspace_t g_workspace;
static uint8_t *g_base;

void ${begin}(uint8_t *base, size_t size) {
  g_base = base;
  StackMemoryManager_Init(&g_workspace, base, size);
}

tvm_crt_error_t TVMPlatformMemoryAllocate(size_t num_bytes, DLDevice dev, void **out_ptr) {
  (void)dev;
  tvm_crt_error_t err = StackMemoryManager_Allocate(&g_workspace, (int32_t)num_bytes, out_ptr);
  if (err == kTvmErrorNoError) {
    mlf_run_note_used((size_t)(g_workspace.next_alloc - g_base));
  } else {
    mlf_run_note_exhausted();
  }
  return err;
}

tvm_crt_error_t TVMPlatformMemoryFree(void *ptr, DLDevice dev) {
  (void)dev;
  return StackMemoryManager_Free(&g_workspace, ptr);
}

void TVMPlatformAbort(tvm_crt_error_t code) {
  longjmp(${abort}, code != 0 ? (int)code : 1);
}

void TVMLogf(const char *fmt, ...) { (void)fmt; }

int TVMFuncRegisterGlobal(const char *name, TVMFunctionHandle f, int override) {
  (void)name;
  (void)f;
  (void)override;
  return 0;
}
""")


def emit_crt_config(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    what = "crt_config.h - configuration of TVM's CRT for mlf_build."
    head = banner(what, s.model_label, [mod.name], model.format_version)
    return head + _CRT_CONFIG.substitute(UPPER=s.upper, align=plan.align)


def emit_crt_platform(model: Model, mod: Module, plan: Plan, s: Settings) -> str:
    what = f"{s.prefix}_crt_platform.c - the platform hooks TVM's CRT needs."
    head = banner(what, s.model_label, [mod.name], model.format_version)
    return head + _CRT_PLATFORM.substitute(abort=abort_symbol(s), begin=begin_symbol(s))
