/*
 * The model's input and output buffers, carved from one static block as the library's info
 * tables size them (each rounded up to NPU_WORKSPACE_ALIGN): shared by the glue test and the
 * firmware, which work with any model built as the library npu.
 */
#ifndef NPU_BUFFERS_H_
#define NPU_BUFFERS_H_

#include <stddef.h>
#include <stdint.h>

#include "npu.h"

static size_t npu_round_up(size_t n) {
  return (n + NPU_WORKSPACE_ALIGN - 1) / NPU_WORKSPACE_ALIGN * NPU_WORKSPACE_ALIGN;
}

static void npu_buffers(const void *in[NPU_NUM_INPUTS], void *out[NPU_NUM_OUTPUTS]) {
  static uint8_t io[NPU_IO_SIZE] __attribute__((aligned(NPU_WORKSPACE_ALIGN)));
  size_t used = 0;
  for (int i = 0; i < NPU_NUM_INPUTS; i++) {
    in[i] = io + used;
    used += npu_round_up(npu_input_info[i].nbytes);
  }
  for (int i = 0; i < NPU_NUM_OUTPUTS; i++) {
    out[i] = io + used;
    used += npu_round_up(npu_output_info[i].nbytes);
  }
}

#endif /* NPU_BUFFERS_H_ */
