/*
 * Executes a graph runner's table: the operator calls and copies mlf-build planned from the
 * graph JSON at build time. No JSON, no registry lookups and no heap on the device.
 */
#include <string.h>
#include <tvm/runtime/c_runtime_api.h>

#include "mlf_runtime_internal.h"

static void *entry_data(const mlf_graph_entry_t *e, const void *const *inputs, void *const *outputs,
                        uint8_t *arena) {
  switch (MLF_KIND_LOC(e->kind)) {
    case MLF_LOC_ARENA:
      return arena + e->u.offset;
    case MLF_LOC_INPUT:
      /* Operators only read their inputs; DLTensor just has no const-qualified data field. */
      return (void *)(uintptr_t)inputs[e->u.offset];
    case MLF_LOC_OUTPUT:
      return outputs[e->u.offset];
    default:
      return (void *)(uintptr_t)e->u.data;
  }
}

static size_t entry_nbytes(const mlf_graph_t *g, const mlf_graph_entry_t *e) {
  size_t n = ((size_t)MLF_DTYPE_BITS(e->dtype) + 7u) / 8u;
  const int64_t *shape = &g->shapes[e->shape];
  for (unsigned i = 0; i < MLF_KIND_NDIM(e->kind); ++i) {
    n *= (size_t)shape[i];
  }
  return n;
}

int32_t mlf_graph_run(const mlf_graph_t *g, const void *const *inputs, void *const *outputs,
                      uint8_t *arena, DLTensor *tensors, TVMValue *values, int32_t *codes) {
  for (unsigned i = 0; i < g->num_ops; ++i) {
    const mlf_graph_op_t *op = &g->ops[i];
    const uint16_t *args = &g->args[op->first_arg];
    if (op->func == NULL) {
      const mlf_graph_entry_t *src = &g->entries[args[0]];
      const mlf_graph_entry_t *dst = &g->entries[args[1]];
      memmove(entry_data(dst, inputs, outputs, arena), entry_data(src, inputs, outputs, arena),
              entry_nbytes(g, src));
      continue;
    }
    for (unsigned k = 0; k < op->num_args; ++k) {
      const mlf_graph_entry_t *e = &g->entries[args[k]];
      DLTensor *t = &tensors[k];
      memset(t, 0, sizeof(*t)); /* device_id, strides and byte_offset stay 0 */
      t->data = entry_data(e, inputs, outputs, arena);
      t->device.device_type = kDLCPU;
      t->ndim = MLF_KIND_NDIM(e->kind);
      t->dtype.code = MLF_DTYPE_CODE(e->dtype);
      t->dtype.bits = MLF_DTYPE_BITS(e->dtype);
      t->dtype.lanes = 1;
      /* Operators read shapes, never write them. */
      t->shape = (int64_t *)(uintptr_t)&g->shapes[e->shape];
      values[k].v_handle = t;
      codes[k] = kTVMDLTensorHandle;
    }
    TVMValue ret;
    int32_t ret_code = kTVMNullptr;
    ret.v_handle = NULL;
    if (op->func(values, codes, (int32_t)op->num_args, &ret, &ret_code, NULL) != 0) {
      return -1;
    }
  }
  return 0;
}
