/*
 * Cortex-M55 firmware for an Ethos-U55 (Corstone-300 memory map) running the devices-struct
 * fixture through the Arm Ethos-U core driver. Built and linked by tests/test_ethos_u.py to prove
 * the library, mlf_build's glue and the driver fit together; it is not run (no NPU in QEMU).
 */
#include <stdint.h>
#include <stdio.h>

#include "ethosu_driver.h"
#include "npu.h"
#include "npu_buffers.h"

#define ETHOSU_BASE_ADDRESS 0x48102000u /* Corstone-300 (Arm MPS3 AN547) */

static struct ethosu_driver npu_driver;

int main(void) {
  const void *in[NPU_NUM_INPUTS];
  void *out[NPU_NUM_OUTPUTS];
  npu_buffers(in, out);
  if (ethosu_init(&npu_driver, (void *)ETHOSU_BASE_ADDRESS, NULL, 0, 1, 1) != 0) {
    printf("npu: ethosu_init failed\n");
    return 1;
  }
  npu_devices[NPU_DEVICE_ETHOS_U] = &npu_driver;
  int32_t status = npu_run(in, out);
  printf("npu: status %ld\n", (long)status);
  return status != MLF_OK;
}
