/*
 * Two models in one image: the waveform demo (checked against numpy on the target), then the
 * mixer on fixed inputs, whose outputs are printed as float32 bit patterns for the test to
 * compare with numpy. The run's status is the exit status (0: both models ran and matched).
 */
#include <stdint.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "mixer.h"
#include "semihost_exit.h"
#include "waveform_demo.h"

static void print_line(const char *line) {
  printk("%s\n", line);
}

/* Inputs exact in binary (multiples of 1/8), so numpy gets the very same values. */
static int run_mixer(void) {
  static float a[4], b[4], mix[3];
  for (int i = 0; i < 4; ++i) {
    a[i] = 0.25f * (float)i;
    b[i] = 0.125f * (float)i - 0.5f;
  }
  const void *inputs[MIXER_NUM_INPUTS] = {a, b};
  void *outputs[MIXER_NUM_OUTPUTS] = {mix};
  int32_t status = mixer_run(inputs, outputs);
  printk("mixer: status %d, arena %u bytes\n", (int)status, (unsigned)MIXER_WORKSPACE_SIZE);
  for (int k = 0; k < 3; ++k) {
    uint32_t bits;
    memcpy(&bits, &mix[k], sizeof bits);
    printk("mixer: output %d 0x%08x\n", k, (unsigned)bits);
  }
  return status == MLF_OK ? 0 : 1;
}

int main(void) {
  int status = waveform_demo(print_line);
  status |= run_mixer();
  semihost_exit(status);
  return status;
}
