/*
 * The function registry a system-lib lib0.c defines (TVM CRT layout). mlf_build never looks
 * functions up by name - its runners call operators directly - but the registry must compile.
 */
#ifndef MLF_TVM_RUNTIME_CRT_FUNC_REGISTRY_H_
#define MLF_TVM_RUNTIME_CRT_FUNC_REGISTRY_H_

#include <tvm/runtime/c_backend_api.h>
#include <tvm/runtime/crt/error_codes.h> /* as TVM's func_registry.h does */

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t tvm_function_index_t;
typedef uint16_t tvm_module_index_t;

typedef struct TVMFuncRegistry {
  /* count (little-endian, 1 or 2 bytes depending on the TVM version), then NUL-separated names */
  const char *names;
  const TVMBackendPackedCFunc *funcs;
} TVMFuncRegistry;

#ifdef __cplusplus
}
#endif
#endif /* MLF_TVM_RUNTIME_CRT_FUNC_REGISTRY_H_ */
