/*
 * Zephyr's enum semihost_instr has no SYS_EXIT_EXTENDED, so its operation number is written out.
 * Plain SYS_EXIT (0x18) carries no status on 32-bit Arm: QEMU would exit with 0 or 1 only.
 * A fatal error (fault, failed assertion, stack overflow) ends the run too, with 100 + reason,
 * instead of leaving QEMU to the caller's timeout. docs/zephyr.md shows this file's code.
 */
#include "semihost_exit.h"

#include <zephyr/kernel.h>
#include <zephyr/fatal.h>
#include <zephyr/sys/printk.h>
#if defined(CONFIG_SEMIHOST)
#include <zephyr/arch/common/semihost.h>
#endif

void semihost_exit(int status) {
#if defined(CONFIG_SEMIHOST)
  /* SYS_EXIT_EXTENDED (0x20): {ADP_Stopped_ApplicationExit (0x20026), exit status} */
  long block[2] = {0x20026, status};
  (void)semihost_exec((enum semihost_instr)0x20, block);
#else
  ARG_UNUSED(status);
#endif
}

void k_sys_fatal_error_handler(unsigned int reason, const struct arch_esf *esf) {
  ARG_UNUSED(esf);
  printk("FATAL: Zephyr fatal error %u\n", reason);
  semihost_exit(100 + (int)reason);
  k_fatal_halt(reason);
}
