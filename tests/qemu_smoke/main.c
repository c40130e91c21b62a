/* main.c: smoke firmware for mlf::qemu_support (tests/test_qemu_support.py checks its output).
 * Prints an int and a float (%f needs -u _printf_float), mallocs, writes and reads back an 8 MiB
 * static .bss buffer, touches one const array in .rodata.model_a and one buffer in .bss.arena_a
 * (the linker script must put them in FLASH and RAM), and returns 3 (QEMU's exit code). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG_BYTES (8u * 1024u * 1024u)

__attribute__((section(".rodata.model_a"))) const uint8_t model_a_weights[4096] = {1, 2, 3, 4, 5};
__attribute__((section(".bss.arena_a"))) uint8_t arena_a[64 * 1024];
/* TVM's own section names for constants and the workspace. */
__attribute__((section(".rodata.tvm"))) const uint32_t tvm_const[4] = {7, 11, 13, 17};
__attribute__((section(".bss.noinit.tvm"))) uint32_t tvm_workspace[1024];

static uint32_t big_buffer[BIG_BYTES / sizeof(uint32_t)];

int main(void) {
  volatile float scale = 2.5f;
  printf("mlf_qemu_smoke: int=%d float=%f\n", 42, (double)(scale * 1.25f));

  char *p = malloc(1024);
  if (p == NULL) {
    printf("mlf_qemu_smoke: malloc failed\n");
    return 1;
  }
  strcpy(p, "heap-ok");

  /* volatile: really write and re-read all 8 MiB instead of letting the compiler fold it */
  volatile uint32_t *big = big_buffer;
  uint32_t n = BIG_BYTES / sizeof(uint32_t), sum_w = 0, sum_r = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t v = i * 2654435761u;
    big[i] = v;
    sum_w += v;
  }
  for (uint32_t i = 0; i < n; i++)
    sum_r += big[i];

  /* volatile reads: keep the compiler from folding the const data away (then --gc-sections
   * would drop the sections the test looks for) */
  const volatile uint8_t *weights = model_a_weights;
  const volatile uint32_t *tvm_c = tvm_const;
  uint32_t sum_model = 0;
  for (size_t i = 0; i < sizeof model_a_weights; i++) {
    arena_a[i] = (uint8_t)(weights[i] + 1u);
    sum_model += arena_a[i];
  }
  tvm_workspace[0] = tvm_c[3];

  printf("mlf_qemu_smoke: malloc=%s big=%08lx/%08lx %s model=%lu tvm=%lu\n", p,
         (unsigned long)sum_w, (unsigned long)sum_r, sum_w == sum_r ? "match" : "MISMATCH",
         (unsigned long)sum_model, (unsigned long)tvm_workspace[0]);
  free(p);
  return sum_w == sum_r ? 3 : 2;
}
