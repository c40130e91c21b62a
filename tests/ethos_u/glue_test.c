/*
 * Host test of the Ethos-U plumbing, with the fixture v7-aot-ethosu (its last dense layer, which
 * writes the first output, offloaded): npu_devices[NPU_DEVICE_ETHOS_U] reaches the driver through
 * TVM's entry point, TVM's NPU operator and mlf_build's TVMEthosULaunch(); a NULL handle borrows
 * a driver with ethosu_reserve_driver(); driver failures become a failed run. Prints
 * "glue: PASS" and returns 0 when every check holds.
 */
#include <stdint.h>
#include <stdio.h>

#include "ethosu_driver.h"
#include "npu.h"
#include "npu_buffers.h"

static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    printf("glue: FAIL %s\n", what);
    failures++;
  }
}

static int in_range(uint64_t addr, const void *base, size_t size) {
  return addr == (uint64_t)(uintptr_t)base && size > 0;
}

int main(void) {
  const void *in[NPU_NUM_INPUTS];
  void *out[NPU_NUM_OUTPUTS];
  npu_buffers(in, out);
  struct ethosu_driver mine = {1}, spare = {2};

  check(NPU_NUM_DEVICES == 1 && NPU_DEVICE_ETHOS_U == 0, "device macros");

  /* A handle given: used as the driver, nothing reserved. */
  npu_devices[NPU_DEVICE_ETHOS_U] = &mine;
  check(npu_run(in, out) == MLF_OK, "run with a driver");
  check(fake_ethosu.invokes == 1 && fake_ethosu.driver == &mine, "invoked on the given driver");
  check(fake_ethosu.reserves == 0 && fake_ethosu.releases == 0, "nothing reserved");
  check(fake_ethosu.num_base_addr == 6, "six base addresses");
  check(fake_ethosu.cms_size > 4 && ((const char *)fake_ethosu.cms)[0] == 'C', "command stream");
  /* regions: 0 weights, 3 the layer's input (in TVM's pool), 4 its output (the first output) */
  check(fake_ethosu.base_addr[0] != 0 && fake_ethosu.base_addr_size[0] > 0, "weights region");
  check(fake_ethosu.base_addr[3] != 0 && fake_ethosu.base_addr_size[3] > 0, "input region");
  check(in_range(fake_ethosu.base_addr[4], out[0], fake_ethosu.base_addr_size[4]), "output region");
  check(fake_ethosu.base_addr_size[4] == npu_output_info[0].nbytes, "output size");

  /* No handle: a driver is borrowed for the operator and given back. */
  npu_devices[NPU_DEVICE_ETHOS_U] = NULL;
  fake_ethosu.free_driver = &spare;
  check(npu_run(in, out) == MLF_OK, "run without a handle");
  check(fake_ethosu.driver == &spare, "invoked on the reserved driver");
  check(fake_ethosu.reserves == 1 && fake_ethosu.releases == 1, "reserved and released once");

  /* No driver to borrow, or a failing inference: the run fails, nothing stays reserved. */
  fake_ethosu.free_driver = NULL;
  check(npu_run(in, out) != MLF_OK, "no driver fails the run");
  check(fake_ethosu.invokes == 2 && fake_ethosu.releases == 1, "no invoke without a driver");
  fake_ethosu.free_driver = &spare;
  fake_ethosu.result = -1;
  check(npu_run(in, out) != MLF_OK, "a driver error fails the run");
  check(fake_ethosu.reserves == 3 && fake_ethosu.releases == 2, "released after an error");

  printf(failures ? "glue: FAIL (%d)\n" : "glue: PASS\n", failures);
  return failures != 0;
}
