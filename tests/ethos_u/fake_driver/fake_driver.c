/* The recording stand-in of fake_driver/ethosu_driver.h. */
#include "ethosu_driver.h"

struct fake_ethosu_log fake_ethosu;

int ethosu_invoke_v3(struct ethosu_driver *drv, const void *custom_data_ptr,
                     const int custom_data_size, uint64_t *const base_addr,
                     const size_t *base_addr_size, const int num_base_addr, void *user_arg) {
  (void)user_arg;
  fake_ethosu.invokes++;
  fake_ethosu.driver = drv;
  fake_ethosu.cms = custom_data_ptr;
  fake_ethosu.cms_size = custom_data_size;
  fake_ethosu.num_base_addr = num_base_addr;
  for (int i = 0; i < num_base_addr && i < 8; i++) {
    fake_ethosu.base_addr[i] = base_addr[i];
    fake_ethosu.base_addr_size[i] = base_addr_size[i];
  }
  return fake_ethosu.result;
}

struct ethosu_driver *ethosu_reserve_driver(void) {
  fake_ethosu.reserves++;
  return fake_ethosu.free_driver;
}

void ethosu_release_driver(struct ethosu_driver *drv) {
  (void)drv;
  fake_ethosu.releases++;
}
