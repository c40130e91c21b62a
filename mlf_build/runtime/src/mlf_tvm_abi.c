/*
 * The rest of the TVM backend ABI that generated operators may call, plus status strings.
 * Weak platform hooks let an application substitute its own abort and logging.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <tvm/runtime/c_backend_api.h>

#include "mlf_runtime.h"

#ifndef MLF_RUNTIME_THREAD_LOCAL
#define MLF_RUNTIME_THREAD_LOCAL
#endif

static MLF_RUNTIME_THREAD_LOCAL const char *g_last_error;

void TVMAPISetLastError(const char *msg) { g_last_error = msg; }

const char *TVMGetLastError(void) { return g_last_error; }

const char *mlf_last_error(void) { return g_last_error; }

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

/* Operators compiled with parallel loops ask for num_task workers; on a microcontroller the
 * tasks simply run one after another on the calling thread. */
int TVMBackendParallelLaunch(FTVMParallelLambda flambda, void *cdata, int num_task) {
  TVMParallelGroupEnv env;
  env.sync_handle = NULL;
  env.num_task = num_task > 0 ? num_task : 1;
  for (int i = 0; i < env.num_task; ++i) {
    int rc = flambda(i, &env, cdata);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

int TVMBackendParallelBarrier(int task_id, TVMParallelGroupEnv *penv) {
  (void)task_id;
  (void)penv;
  return 0;
}

/* Packed functions looked up by name (extern calls) have no registry to come from. */
int TVMBackendGetFuncFromEnv(void *mod_node, const char *func_name, TVMFunctionHandle *out) {
  (void)mod_node;
  (void)func_name;
  if (out != NULL) {
    *out = NULL;
  }
  TVMAPISetLastError("TVMBackendGetFuncFromEnv: no function registry in mlf_build's runtime");
  return -1;
}

int TVMBackendRegisterSystemLibSymbol(const char *name, void *ptr) {
  (void)name;
  (void)ptr;
  return 0;
}

/* TVM's CRT and some BYOC code call these; applications may override them. */
__attribute__((weak, noreturn)) void TVMPlatformAbort(int error_code) {
  (void)error_code;
  abort();
}

__attribute__((weak)) void TVMLogf(const char *fmt, ...) { (void)fmt; }
