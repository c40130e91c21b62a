/*
 * Zephyr entry point of the waveform demo (examples/common/waveform_demo.c): the lines go to the
 * console through printk, and with CONFIG_SEMIHOST (QEMU, a debugger) the demo's status ends the
 * run as the exit status, 0 when every output matches the numpy reference (semihost_exit.c).
 */
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "semihost_exit.h"
#include "waveform_demo.h"

static void print_line(const char *line) {
  printk("%s\n", line);
}

int main(void) {
  int status = waveform_demo(print_line);
  semihost_exit(status);
  return status;
}
