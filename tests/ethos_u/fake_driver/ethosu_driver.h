/*
 * A recording stand-in for the Arm Ethos-U core driver's API (the part mlf_build's Ethos-U glue
 * calls, with the signatures of driver 23.05's include/ethosu_driver.h), for host tests of what
 * reaches the driver. The real driver is built by tests/test_ethos_u.py when MLF_ETHOSU_DRIVER
 * names a checkout.
 */
#ifndef FAKE_ETHOSU_DRIVER_H_
#define FAKE_ETHOSU_DRIVER_H_

#include <stddef.h>
#include <stdint.h>

struct ethosu_driver {
  int id;
};

int ethosu_invoke_v3(struct ethosu_driver *drv, const void *custom_data_ptr,
                     const int custom_data_size, uint64_t *const base_addr,
                     const size_t *base_addr_size, const int num_base_addr, void *user_arg);

#define ethosu_invoke(drv, custom_data_ptr, custom_data_size, base_addr, base_addr_size, \
                      num_base_addr)                                                     \
  ethosu_invoke_v3(drv, custom_data_ptr, custom_data_size, base_addr, base_addr_size,    \
                   num_base_addr, 0)

struct ethosu_driver *ethosu_reserve_driver(void);
void ethosu_release_driver(struct ethosu_driver *drv);

/* What the stand-in saw, and what it answers. */
struct fake_ethosu_log {
  int invokes, reserves, releases;
  struct ethosu_driver *driver; /* of the last invoke */
  const void *cms;
  int cms_size;
  int num_base_addr;
  uint64_t base_addr[8];
  size_t base_addr_size[8];
  struct ethosu_driver *free_driver; /* what ethosu_reserve_driver() returns */
  int result;                        /* what ethosu_invoke_v3() returns */
};
extern struct fake_ethosu_log fake_ethosu;

#endif /* FAKE_ETHOSU_DRIVER_H_ */
