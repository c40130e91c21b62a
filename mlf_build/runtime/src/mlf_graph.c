/*
 * Executes a graph runner's table: the operator calls and copies mlf-build planned from the
 * graph JSON at build time. No JSON, no registry lookups and no heap on the device.
 */
#include <string.h>
#include <tvm/runtime/c_runtime_api.h>

#include "mlf_runtime_internal.h"

/* The next number of the step program (LEB128: 7 bits a byte, low bits first). */
static size_t next_number(const uint8_t **p) {
  size_t value = 0;
  unsigned shift = 0;
  uint8_t byte;
  do {
    byte = *(*p)++;
    value |= (size_t)(byte & 0x7Fu) << shift;
    shift += 7;
  } while (byte & 0x80u);
  return value;
}

void mlf_graph_describe(const mlf_graph_types_t *types, const uint8_t **program, DLTensor *t) {
  const mlf_graph_type_t *ty = &types->of[next_number(program)];
  t->ndim = ty->ndim;
  t->dtype.code = MLF_DTYPE_CODE(ty->dtype);
  t->dtype.bits = MLF_DTYPE_BITS(ty->dtype);
  t->dtype.lanes = 1;
  /* Operators read shapes, never write them. */
  t->shape = (int64_t *)(uintptr_t)&types->shapes[ty->shape];
}

/* Inlined into both callers: a firmware links one of them (--gc-sections drops the other). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int32_t
walk(const mlf_graph_t *g, const void *const *inputs, void *const *outputs, uint8_t *arena,
     DLTensor *tensors, TVMValue *values, int32_t *codes) {
  const uint8_t *p = g->program;
  size_t ready = 0; /* scratch entries set up in this run */
  for (unsigned i = 0; i < g->num_steps; ++i) {
    /* A copy's source and destination are bound like an operator's two arguments. */
    mlf_packed_func_t func = g->funcs[i];
    size_t num_args = func != NULL ? next_number(&p) : 2u;
    for (size_t k = 0; k < num_args; ++k) {
      size_t arg = next_number(&p);
      size_t x = arg >> MLF_ARG_KIND_BITS;
      DLTensor *t = &tensors[k];
      if (k == ready) {
        /* First use in this run: what no step changes (operators only read their arguments;
         * device_id, strides and byte_offset stay 0, and ndim, dtype and shape without types). */
        memset(t, 0, sizeof(*t));
        t->device.device_type = kDLCPU;
        values[k].v_handle = t;
        codes[k] = kTVMDLTensorHandle;
        ++ready;
      }
      /* Operators only read parameters and inputs; DLTensor has no const-qualified data. */
      switch (arg & MLF_ARG_KIND_MASK) {
        case MLF_ARG_ARENA:
        case MLF_ARG_PARAM:
          t->data =
              ((arg & MLF_ARG_PARAM) ? (uint8_t *)(uintptr_t)g->params : arena) + (x << g->shift);
          break;
        case MLF_ARG_LINKED:
          t->data = (void *)(uintptr_t)g->linked[x];
          break;
        default: /* MLF_ARG_IO */
          t->data =
              x < g->run.num_inputs ? (void *)(uintptr_t)inputs[x] : outputs[x - g->run.num_inputs];
          break;
      }
      if (g->types != NULL) {
        g->types->describe(g->types, &p, t);
      }
    }
    if (func == NULL) {
      memmove(tensors[1].data, tensors[0].data, next_number(&p));
      continue;
    }
    TVMValue ret; /* operators return nothing there */
    int32_t ret_code;
    if (func(values, codes, (int32_t)num_args, &ret, &ret_code, NULL) != 0) {
      return -1;
    }
  }
  return 0;
}

int32_t mlf_graph_walk(const mlf_graph_t *g, const void *const *inputs, void *const *outputs,
                       uint8_t *arena, DLTensor *tensors, TVMValue *values, int32_t *codes) {
  return walk(g, inputs, outputs, arena, tensors, values, codes);
}

int32_t mlf_graph_run(const void *const *inputs, void *const *outputs, void *workspace,
                      size_t workspace_size, const mlf_graph_t *g, DLTensor *tensors,
                      TVMValue *values, int32_t *codes) {
  int32_t status = mlf_run_begin(inputs, outputs, workspace, workspace_size, &g->run);
  if (status != MLF_OK) {
    return status;
  }
  return mlf_run_end(walk(g, inputs, outputs, workspace, tensors, values, codes));
}
