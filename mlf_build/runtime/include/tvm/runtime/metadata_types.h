/*
 * The C metadata module's types (TVM 0.9-0.18, include/tvm/runtime/metadata_types.h): the
 * struct TVMMetadata a model's kTvmgenMetadata describes its run function with, which TVM
 * emits for the packed interface (AOT models, and graph models of TVM 0.9-0.11). Written by
 * mlf_build from the documented layout: mlf_build never reads kTvmgenMetadata, but the
 * translation unit holding it must compile when another one refers to it.
 */
#ifndef MLF_TVM_RUNTIME_METADATA_TYPES_H_
#define MLF_TVM_RUNTIME_METADATA_TYPES_H_

#include <inttypes.h>
#include <tvm/runtime/c_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One tensor argument of the run function. */
struct TVMTensorInfo {
  const char *name; /* as the Relay program names it (SanitizeName'd for inputs) */
  const int64_t *shape;
  int64_t num_shape;
  DLDataType dtype;
};

/* One constant of a constant pool, with its serialised NDArray. */
struct TVMConstantInfo {
  const char *name_hint;
  int64_t byte_offset;
  int64_t data_len;
  const void *data_bytes;
};

/* What the run function takes: inputs, then outputs, workspace pools, constant pools. */
struct TVMMetadata {
  int64_t version;
  const struct TVMTensorInfo *inputs;
  int64_t num_inputs;
  const struct TVMTensorInfo *outputs;
  int64_t num_outputs;
  const struct TVMTensorInfo *workspace_pools;
  int64_t num_workspace_pools;
  const struct TVMConstantInfo *constant_pools;
  int64_t num_constant_pools;
  const char *mod_name; /* "tvmgen_<m>" */
};

#ifdef __cplusplus
}
#endif
#endif /* MLF_TVM_RUNTIME_METADATA_TYPES_H_ */
