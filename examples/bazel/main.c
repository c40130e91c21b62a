/* The example program: on the host it prints to stdout, on Cortex-M firmware under QEMU
 * semihosting forwards stdout (startup code: @mlf_build//bazel/qemu:support). */
#include <stdio.h>

#include "waveform_demo.h"

static void print_line(const char *line) {
  puts(line);
}

int main(void) {
  return waveform_demo(print_line);
}
