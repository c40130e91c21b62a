/*
 * The part of TVM's C runtime ABI that MLF-generated code refers to: TVMValue, the argument
 * type codes, TVM_DLL and the last-error call. Written by mlf_build from the documented ABI
 * (include/tvm/runtime/c_runtime_api.h of TVM 0.8-0.18 has the same layout).
 */
#ifndef MLF_TVM_RUNTIME_C_RUNTIME_API_H_
#define MLF_TVM_RUNTIME_C_RUNTIME_API_H_

#include <dlpack/dlpack.h>
#include <stddef.h>
#include <stdint.h>

#ifndef TVM_DLL
#define TVM_DLL
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef int64_t tvm_index_t;

typedef enum {
  kTVMArgInt = kDLInt,
  kTVMArgFloat = kDLFloat,
  kTVMOpaqueHandle = 3U,
  kTVMNullptr = 4U,
  kTVMDataType = 5U,
  kDLDevice = 6U,
  kTVMDLTensorHandle = 7U,
  kTVMObjectHandle = 8U,
  kTVMModuleHandle = 9U,
  kTVMPackedFuncHandle = 10U,
  kTVMStr = 11U,
  kTVMBytes = 12U,
  kTVMNDArrayHandle = 13U,
  kTVMObjectRValueRefArg = 14U,
  kTVMExtBegin = 15U,
} TVMArgTypeCode;

typedef union {
  int64_t v_int64;
  double v_float64;
  void *v_handle;
  const char *v_str;
  DLDataType v_type;
  DLDevice v_device;
} TVMValue;

typedef void *TVMModuleHandle;
typedef void *TVMFunctionHandle;
typedef void *TVMRetValueHandle;
typedef void *TVMStreamHandle;
typedef void *TVMObjectHandle;

/* Records a message for the caller; mlf_build keeps the pointer (see mlf_last_error()). */
TVM_DLL void TVMAPISetLastError(const char *msg);
TVM_DLL const char *TVMGetLastError(void);

#ifdef __cplusplus
}
#endif
#endif /* MLF_TVM_RUNTIME_C_RUNTIME_API_H_ */
