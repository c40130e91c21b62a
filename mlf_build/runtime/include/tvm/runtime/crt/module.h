/* The system-lib module object lib0.c returns from TVMSystemLibEntryPoint() (TVM CRT layout). */
#ifndef MLF_TVM_RUNTIME_CRT_MODULE_H_
#define MLF_TVM_RUNTIME_CRT_MODULE_H_

#include <tvm/runtime/c_backend_api.h>
#include <tvm/runtime/crt/func_registry.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct TVMModule {
  const TVMFuncRegistry *registry;
} TVMModule;

const TVMModule *TVMSystemLibEntryPoint(void);

#ifdef __cplusplus
}
#endif
#endif /* MLF_TVM_RUNTIME_CRT_MODULE_H_ */
