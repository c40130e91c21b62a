/*
 * mlf_ethos_u.c - TVMEthosULaunch() and the Ethos-U device hooks on the Arm Ethos-U core driver.
 *
 * Compiled into each model library built with DEVICES ethos_u=<driver> (CMake), devices =
 * {<driver>: "ethos_u"} (Bazel) or mlf-build --device=ethos_u, against that driver's
 * <ethosu_driver.h>. The driver API used, ethosu_invoke() (a function until 22.05, then a macro
 * over ethosu_invoke_v3()) and ethosu_reserve_driver() / ethosu_release_driver(), is in every
 * core driver release from 21.05 on; TVM 0.8 to 0.18 pinned 21.05, 21.11, 22.08 and 23.05
 * (docker/install/ubuntu_install_ethosu_driver_stack.sh), and mlf_build's tests build against
 * 23.05, the pin of TVM 0.13-0.18.
 */
#include "tvm_ethosu_runtime.h"

#include <ethosu_driver.h>

int32_t TVMEthosULaunch(tvm_device_ethos_u_t *resource_handle, void *cms_data, size_t cms_data_size,
                        uint64_t *base_addrs, size_t *base_addrs_size, int num_tensors) {
  struct ethosu_driver *driver = (struct ethosu_driver *)resource_handle;
  /* No handle given: borrow any driver the application initialised (ethosu_init()) for this
   * operator, as the driver's own single-NPU API does. */
  int borrowed = driver == NULL;
  if (borrowed) {
    driver = ethosu_reserve_driver();
    if (driver == NULL) {
      return -1;
    }
  }
  int result =
      ethosu_invoke(driver, cms_data, (int)cms_data_size, base_addrs, base_addrs_size, num_tensors);
  if (borrowed) {
    ethosu_release_driver(driver);
  }
  return result == 0 ? 0 : -1;
}

/* The driver powers the NPU and locks it per inference itself: the hooks have nothing to add. */
int32_t TVMDeviceEthosUActivate(tvm_device_ethos_u_t *context) {
  (void)context;
  return 0;
}

int32_t TVMDeviceEthosUOpen(tvm_device_ethos_u_t *context) {
  (void)context;
  return 0;
}

int32_t TVMDeviceEthosUClose(tvm_device_ethos_u_t *context) {
  (void)context;
  return 0;
}

int32_t TVMDeviceEthosUDeactivate(tvm_device_ethos_u_t *context) {
  (void)context;
  return 0;
}
