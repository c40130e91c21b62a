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

/* What a run checks the caller's buffers against, and where its operators' scratch goes. */
typedef struct mlf_run_spec {
  uint32_t tensors_size;   /* the tensors planned at build time lie in the arena's first bytes */
  uint32_t scratch_offset; /* where the operators' scratch starts; at most tensors_size */
  uint16_t num_inputs;
  uint16_t num_outputs;
  uint32_t align; /* of the arena */
} mlf_run_spec_t;

/* Start a run: checks the caller's pointers, then takes the arena. The tensors planned at build
 * time lie within its first tensors_size bytes; TVMBackendAllocWorkspace() serves the arena
 * from scratch_offset on, LIFO, aligned to align. The scratch may share bytes with tensors (the
 * lifetime plan starts it at 0): the plan keeps every tensor live at a step above the scratch
 * that step's operator needs. On MLF_OK the caller must finish with mlf_run_end(). */
int32_t mlf_run_begin(const void *const *inputs, void *const *outputs, void *workspace,
                      size_t workspace_size, const mlf_run_spec_t *spec);

/* Finish a run: maps the model's status and any arena exhaustion to an MLF_* code. */
int32_t mlf_run_end(int32_t model_status);

/* LIFO allocation from the active run's arena (what TVMBackendAllocWorkspace uses). */
void *mlf_arena_alloc(uint64_t nbytes);
int mlf_arena_free(void *ptr);

/* The most scratch bytes the most recent run held at once (for the smoke test, which checks it
 * against the plan: the lifetime plan lets scratch share bytes with tensors on its word). */
size_t mlf_scratch_peak(void);

/* For other allocators (RUNTIME tvm_crt): record scratch bytes in use (from scratch_offset), or
 * a failed request. */
void mlf_run_note_used(size_t scratch_bytes);
void mlf_run_note_exhausted(void);

/* What a DLTensor says of a tensor besides where its data is. Tables only hold these when an
 * operator of the graph may read them (TVM's argument checks do; code built with
 * tir.disable_assert, microTVM's default, does not). */
typedef struct mlf_graph_type {
  uint16_t shape; /* index of dimension 0 in the shape pool */
  uint8_t ndim;
  uint8_t dtype; /* MLF_DTYPE(code, log2 of the bits) */
} mlf_graph_type_t;

#define MLF_DTYPE(code, log2_bits) ((uint8_t)(((code) << 4) | (log2_bits)))
#define MLF_DTYPE_CODE(dtype) ((uint8_t)((dtype) >> 4))
#define MLF_DTYPE_BITS(dtype) ((uint8_t)(1u << ((dtype)&15u)))

typedef struct mlf_graph_types mlf_graph_types_t;
struct mlf_graph_types {
  /* mlf_graph_describe */
  void (*describe)(const mlf_graph_types_t *types, const uint8_t **program, DLTensor *t);
  const mlf_graph_type_t *of; /* per type number */
  const int64_t *shapes;      /* the shape pool */
};

/* Fill in the ndim, dtype and shape of t from the type whose number comes next in program. */
void mlf_graph_describe(const mlf_graph_types_t *types, const uint8_t **program, DLTensor *t);

/* TVM's packed calling convention for operators (and packed-API AOT entry points). */
typedef int32_t (*mlf_packed_func_t)(TVMValue *args, int32_t *type_codes, int32_t num_args,
                                     TVMValue *ret, int32_t *ret_code, void *resource_handle);

/* Where an operator argument is: the low MLF_ARG_KIND_BITS of its number say which kind, the
 * rest (x) where: */
#define MLF_ARG_ARENA 0u  /* at byte x << shift of the arena */
#define MLF_ARG_PARAM 1u  /* at byte x << shift of the parameter blob (params) */
#define MLF_ARG_LINKED 2u /* at linked[x], a parameter TVM defined in its C */
#define MLF_ARG_IO 3u     /* the caller's input x, or output x - num_inputs */
#define MLF_ARG_KIND_BITS 2u
#define MLF_ARG_KIND_MASK 3u

/* The steps of a graph: step i calls funcs[i] or, when that is NULL, copies bytes. The numbers
 * they need follow one another in `program` as unsigned LEB128 (7 bits a byte, low bits first,
 * 0x80 set on every byte but a number's last): for a call, the argument count, then per
 * argument its MLF_ARG_* number (and its type number when the graph has types); for a copy, the
 * source's and destination's numbers (and type numbers), then the byte count. */
typedef struct mlf_graph {
  mlf_run_spec_t run;
  const mlf_packed_func_t *funcs;
  const uint8_t *program;
  const uint8_t *params;          /* the parameter blob, <t>__params, or NULL */
  const void *const *linked;      /* parameters TVM defined in its C, or NULL */
  const mlf_graph_types_t *types; /* NULL when no operator reads ndim, dtype or shape */
  uint16_t num_steps;
  uint8_t shift; /* arena and blob offsets are stored shifted right by this */
} mlf_graph_t;

/* Run the steps of g (after mlf_run_begin). The caller provides scratch arrays as long as the
 * longest argument list, and at least 2 long if g copies (on its stack). Returns 0, or -1 when
 * an operator failed. */
int32_t mlf_graph_walk(const mlf_graph_t *g, const void *const *inputs, void *const *outputs,
                       uint8_t *arena, DLTensor *tensors, TVMValue *values, int32_t *codes);

/* A whole run of g: mlf_run_begin, mlf_graph_walk and mlf_run_end. */
int32_t mlf_graph_run(const void *const *inputs, void *const *outputs, void *workspace,
                      size_t workspace_size, const mlf_graph_t *g, DLTensor *tensors,
                      TVMValue *values, int32_t *codes);

#ifdef __cplusplus
}
#endif
#endif /* MLF_RUNTIME_INTERNAL_H_ */
