/*
 * TVM's last-error calls, status strings, and weak platform hooks an application (or TVM's
 * CRT, with RUNTIME tvm_crt) may replace.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <tvm/runtime/c_runtime_api.h>

#include "mlf_runtime.h"

#ifndef MLF_RUNTIME_THREAD_LOCAL
#define MLF_RUNTIME_THREAD_LOCAL
#endif

static MLF_RUNTIME_THREAD_LOCAL const char *g_last_error;

void TVMAPISetLastError(const char *msg) {
  g_last_error = msg;
}

const char *TVMGetLastError(void) {
  return g_last_error;
}

const char *mlf_last_error(void) {
  return g_last_error;
}

const char *mlf_strerror(int32_t status) {
  switch (status) {
    case MLF_OK:
      return "ok";
    case MLF_ERR_ARGUMENT:
      return "an input or output pointer is NULL";
    case MLF_ERR_WORKSPACE_TOO_SMALL:
      return "the workspace is smaller than the model needs";
    case MLF_ERR_WORKSPACE_ALIGNMENT:
      return "the workspace is not aligned as the model needs";
    case MLF_ERR_OPERATOR:
      return "an operator of the model failed";
    case MLF_ERR_BUSY:
      return "another run is in progress";
    default:
      return "unknown status";
  }
}

/* TVM's CRT and some BYOC code call these; applications may override them. */
__attribute__((weak, noreturn)) void TVMPlatformAbort(int error_code) {
  (void)error_code;
  abort();
}

__attribute__((weak)) void TVMLogf(const char *fmt, ...) {
  (void)fmt;
}
