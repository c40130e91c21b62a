/*
 * DLPack tensor types as TVM-generated code uses them (the layout of dlpack v0.4-v0.8, which
 * TVM 0.7-0.18 shipped). Written by mlf_build from the published ABI; only what MLF code needs.
 */
#ifndef MLF_DLPACK_DLPACK_H_
#define MLF_DLPACK_DLPACK_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLPACK_VERSION 60
#define DLPACK_DLL

typedef enum {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLExtDev = 12,
} DLDeviceType;

typedef struct {
  DLDeviceType device_type;
  int device_id;
} DLDevice;

/* TVM before mid-2021 called the same struct DLContext and the field "ctx". */
typedef DLDevice DLContext;

typedef enum {
  kDLInt = 0U,
  kDLUInt = 1U,
  kDLFloat = 2U,
  kDLOpaqueHandle = 3U,
  kDLBfloat = 4U,
  kDLComplex = 5U,
} DLDataTypeCode;

typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;

typedef struct {
  void *data;
  DLDevice device; /* "ctx" before mid-2021: mlf_build's wrappers map old code onto it */
  int ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
} DLTensor;

#ifdef __cplusplus
}
#endif
#endif /* MLF_DLPACK_DLPACK_H_ */
