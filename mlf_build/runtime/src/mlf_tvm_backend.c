/*
 * TVM's backend calls (c_backend_api.h): workspace on mlf_build's arena, serial parallel-launch,
 * and no function registry. Kept in their own file because a model built with RUNTIME tvm_crt
 * compiles TVM's crt_backend_api.c, which defines the same calls; then this file is not linked.
 */
#include <tvm/runtime/c_backend_api.h>

#include <stddef.h>

#include "mlf_runtime_internal.h"

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes, int dtype_code_hint,
                               int dtype_bits_hint) {
  (void)device_type;
  (void)device_id;
  (void)dtype_code_hint;
  (void)dtype_bits_hint;
  return mlf_arena_alloc(nbytes);
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr) {
  (void)device_type;
  (void)device_id;
  return mlf_arena_free(ptr);
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
