/*
 * mlf_build runtime interface for generated code only (runners emitted by mlf-build). Not a
 * stable API for applications: include <name>.h and mlf_runtime.h instead.
 */
#ifndef MLF_RUNTIME_INTERNAL_H_
#define MLF_RUNTIME_INTERNAL_H_

#include <tvm/runtime/c_runtime_api.h>

#include "mlf_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start a run: checks the caller's pointers, then takes the arena. The first static_size bytes
 * hold the tensors planned at build time; TVMBackendAllocWorkspace() serves the rest, LIFO,
 * aligned to align. On MLF_OK the caller must finish with mlf_run_end(). */
int32_t mlf_run_begin(const void *const *inputs, size_t num_inputs, void *const *outputs,
                      size_t num_outputs, void *workspace, size_t workspace_size,
                      size_t static_size, size_t align);

/* Finish a run: maps the model's status and any arena exhaustion to an MLF_* code. */
int32_t mlf_run_end(int32_t model_status);

/* LIFO allocation from the active run's arena (what TVMBackendAllocWorkspace uses). */
void *mlf_arena_alloc(uint64_t nbytes);
int mlf_arena_free(void *ptr);

/* For other allocators (RUNTIME tvm_crt): record dynamic bytes in use, or a failed request. */
void mlf_run_note_used(size_t dynamic_bytes);
void mlf_run_note_exhausted(void);

/* Where a graph tensor lives. */
#define MLF_LOC_ARENA 0  /* at byte `u.offset` of the arena */
#define MLF_LOC_INPUT 1  /* the caller's input number `u.offset` */
#define MLF_LOC_OUTPUT 2 /* the caller's output number `u.offset` */
#define MLF_LOC_CONST 3  /* const data at `u.data` (a parameter) */

/* One tensor of the graph, 8 bytes on 32-bit targets: runners of large graphs hold one per
 * tensor, so this table is most of a runner's flash. */
typedef struct mlf_graph_entry {
  union {
    const void *data; /* MLF_LOC_CONST */
    uint32_t offset;  /* the others */
  } u;
  uint16_t shape; /* index of dimension 0 in the graph's shape pool */
  uint8_t kind;   /* MLF_KIND(loc, ndim) */
  uint8_t dtype;  /* MLF_DTYPE(code, log2 of the bits) */
} mlf_graph_entry_t;

#define MLF_KIND(loc, ndim) ((uint8_t)(((loc) << 6) | (ndim))) /* ndim < 64 */
#define MLF_KIND_LOC(kind) ((kind) >> 6)
#define MLF_KIND_NDIM(kind) ((kind)&63u)
#define MLF_DTYPE(code, log2_bits) ((uint8_t)(((code) << 4) | (log2_bits)))
#define MLF_DTYPE_CODE(dtype) ((uint8_t)((dtype) >> 4))
#define MLF_DTYPE_BITS(dtype) ((uint8_t)(1u << ((dtype)&15u)))

/* TVM's packed calling convention for operators (and packed-API AOT entry points). */
typedef int32_t (*mlf_packed_func_t)(TVMValue *args, int32_t *type_codes, int32_t num_args,
                                     TVMValue *ret, int32_t *ret_code, void *resource_handle);

/* One step: call func with DLTensors of entries args[first..first+num), or, when func is NULL,
 * copy the bytes of entry args[first] into entry args[first + 1]. */
typedef struct mlf_graph_op {
  mlf_packed_func_t func;
  uint16_t first_arg;
  uint16_t num_args;
} mlf_graph_op_t;

typedef struct mlf_graph {
  const mlf_graph_entry_t *entries;
  const int64_t *shapes; /* the shape pool: every entry's dimensions, shared where equal */
  const uint16_t *args;
  const mlf_graph_op_t *ops;
  uint16_t num_ops;
  uint16_t max_args;
} mlf_graph_t;

/* Run the steps of g. The caller provides max_args-long scratch arrays (on its stack). */
int32_t mlf_graph_run(const mlf_graph_t *g, const void *const *inputs, void *const *outputs,
                      uint8_t *arena, DLTensor *tensors, TVMValue *values, int32_t *codes);

#ifdef __cplusplus
}
#endif
#endif /* MLF_RUNTIME_INTERNAL_H_ */
