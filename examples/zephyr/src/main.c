/*
 * Zephyr entry point of the waveform demo (examples/common/waveform_demo.c): the lines go to the
 * console through printk, and with CONFIG_SEMIHOST (QEMU, a debugger) the demo's status ends the
 * run as the exit status, 0 when every output matches the numpy reference.
 */
#include <zephyr/kernel.h>
#include <zephyr/fatal.h>
#include <zephyr/sys/printk.h>
#if defined(CONFIG_SEMIHOST)
#include <zephyr/arch/common/semihost.h>
#endif

#include "waveform_demo.h"

static void print_line(const char *line) {
  printk("%s\n", line);
}

static void finish(int status) {
#if defined(CONFIG_SEMIHOST)
  /* SYS_EXIT_EXTENDED (0x20, not in enum semihost_instr): {ADP_Stopped_ApplicationExit, status} */
  long block[2] = {0x20026, status};
  (void)semihost_exec((enum semihost_instr)0x20, block);
#else
  ARG_UNUSED(status);
#endif
}

void k_sys_fatal_error_handler(unsigned int reason, const struct arch_esf *esf) {
  ARG_UNUSED(esf);
  printk("waveform: FATAL (Zephyr fatal error %u)\n", reason);
  finish(100 + (int)reason);
  k_fatal_halt(reason);
}

int main(void) {
  int status = waveform_demo(print_line);
  finish(status);
  return status;
}
