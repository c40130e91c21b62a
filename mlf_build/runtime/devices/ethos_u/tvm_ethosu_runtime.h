/*
 * tvm_ethosu_runtime.h - the functions TVM's Ethos-U code calls, as mlf_build provides them.
 *
 * Code TVM generated for an Ethos-U NPU (the "ethos-u" target) includes <tvm_ethosu_runtime.h>
 * and calls TVMEthosULaunch() once per NPU operator; the AOT entry point calls the four
 * TVMDeviceEthosU*() hooks around them. Each gets the device handle the application stored in
 * <t>_devices[<T>_DEVICE_ETHOS_U]. The declarations follow the ABI of TVM's own header
 * (apache/tvm v0.18.0 apps/microtvm/ethosu/include/tvm_ethosu_runtime.h; the calls are emitted by
 * src/relay/backend/contrib/ethosu/source_module.cc and aot_executor_codegen.cc); the
 * implementation is mlf_ethos_u.c, on top of the Arm Ethos-U core driver.
 */
#ifndef MLF_TVM_ETHOSU_RUNTIME_H_
#define MLF_TVM_ETHOSU_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The handle: a struct ethosu_driver *, or NULL for any initialised driver. */
typedef void tvm_device_ethos_u_t;

/* Runs one command stream: cms_data[cms_data_size] with num_tensors base addresses (the
 * weights, scratch and I/O regions of TVM's code). Returns 0, or -1 when the driver fails. */
int32_t TVMEthosULaunch(tvm_device_ethos_u_t *resource_handle, void *cms_data, size_t cms_data_size,
                        uint64_t *base_addrs, size_t *base_addrs_size, int num_tensors);

/* Hooks around a run (Activate/Deactivate) and around each NPU operator (Open/Close). */
int32_t TVMDeviceEthosUActivate(tvm_device_ethos_u_t *context);
int32_t TVMDeviceEthosUOpen(tvm_device_ethos_u_t *context);
int32_t TVMDeviceEthosUClose(tvm_device_ethos_u_t *context);
int32_t TVMDeviceEthosUDeactivate(tvm_device_ethos_u_t *context);

#ifdef __cplusplus
}
#endif

#endif /* MLF_TVM_ETHOSU_RUNTIME_H_ */
