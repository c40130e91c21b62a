/* Bare-metal (or host) entry point: lines go to stdout, which QEMU's semihosting forwards. */
#include <stdio.h>

#include "waveform_demo.h"

static void print_line(const char *line) {
  puts(line);
}

int main(void) {
  return waveform_demo(print_line);
}
