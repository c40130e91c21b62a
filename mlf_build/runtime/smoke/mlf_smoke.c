/*
 * Generic smoke test for one mlf_build model library (add_mlf_library(... TEST),
 * mlf_library(test = True)). Runs the model on deterministic inputs, prints every output as
 * hex, and checks the arena contract:
 *   - a run with exactly <NAME>_WORKSPACE_SIZE bytes succeeds and uses at most that much (it
 *     also prints the most operator scratch held at once, which the tests compare with the
 *     plan: the lifetime plan lets scratch share bytes with tensors on that figure's word);
 *   - a run with one byte less than the run used fails with MLF_ERR_WORKSPACE_TOO_SMALL;
 *   - nothing is written outside the arena or the output buffers (guard bytes around them),
 *     and the inputs are left as they were (the library only reads them);
 *   - a successful run clears any earlier mlf_last_error() message.
 * Exits 0 only when every check holds. Build with
 *   -DMLF_SMOKE_HEADER='"net.h"' -DMLF_SMOKE_NAME=net -DMLF_SMOKE_UPPER=NET
 *
 * Inputs: element k of input i comes from xorshift32 seeded with 0x9E3779B9 ^ (i + 1);
 * floats take ((x >> 8) & 0xFFFF) / 32768 - 1, other types the low bits of x.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include MLF_SMOKE_HEADER
#include <tvm/runtime/c_runtime_api.h>

#include "mlf_runtime_internal.h" /* mlf_scratch_peak() */

#define MLF_CAT_(a, b) a##b
#define MLF_CAT(a, b) MLF_CAT_(a, b)
#define T_(x) MLF_CAT(MLF_SMOKE_UPPER, x)
#define t_(x) MLF_CAT(MLF_SMOKE_NAME, x)
#define MLF_STR_(x) #x
#define MLF_STR(x) MLF_STR_(x)

/* Under AddressSanitizer the guard regions are also poisoned while the model runs, so any read
 * or write of them (not only a write that changes a guard byte) stops the run with a report. */
#if defined(__SANITIZE_ADDRESS__)
#define MLF_SMOKE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLF_SMOKE_ASAN 1
#endif
#endif
#if defined(MLF_SMOKE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#define GUARD 64
#define GUARD_BYTE 0xA5u
#define N_IN T_(_NUM_INPUTS)
#define N_OUT T_(_NUM_OUTPUTS)
#define WS T_(_WORKSPACE_SIZE)
#define ALIGN T_(_WORKSPACE_ALIGN)
#define ROUND(n) (((size_t)(n) + ALIGN - 1) / ALIGN * ALIGN)

/* Each buffer is followed by GUARD bytes; the arena is also preceded by LEAD bytes, at least
 * GUARD and a multiple of the arena's alignment (ALIGN 128 and more). */
#define LEAD (ALIGN > GUARD ? ALIGN : GUARD)
static uint8_t g_io[T_(_IO_SIZE) + (N_IN + N_OUT) * GUARD + ALIGN] __attribute__((aligned(16)));
static uint8_t g_arena[LEAD + ROUND(WS) + GUARD] __attribute__((aligned(LEAD)));
static uint8_t g_first[N_OUT > 0 ? T_(_IO_SIZE) : 1];
static uint8_t g_inputs[N_IN > 0 ? T_(_IO_SIZE) + (N_IN + N_OUT) * GUARD + ALIGN : 1];

static uint32_t xorshift(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static void fill_input(const mlf_tensor_info_t *info, uint8_t *buf, uint32_t seed) {
  uint32_t s = seed;
  size_t esize = (info->dtype_bits + 7u) / 8u;
  size_t n = esize ? info->nbytes / esize : 0;
  for (size_t k = 0; k < n; ++k) {
    uint32_t x = xorshift(&s);
    uint8_t *p = buf + k * esize;
    if (info->dtype_code == MLF_DTYPE_FLOAT && info->dtype_bits == 32) {
      float f = (float)((x >> 8) & 0xFFFFu) / 32768.0f - 1.0f;
      memcpy(p, &f, 4);
    } else if (info->dtype_code == MLF_DTYPE_FLOAT && info->dtype_bits == 64) {
      double d = (double)((x >> 8) & 0xFFFFu) / 32768.0 - 1.0;
      memcpy(p, &d, 8);
    } else if (info->dtype_bits == 1) {
      p[0] = (uint8_t)(x & 1u);
    } else {
      for (size_t b = 0; b < esize; ++b) {
        p[b] = (uint8_t)(x >> (8 * (b % 4)));
      }
    }
  }
}

static void print_hex(const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char line[129];
  size_t used = 0;
  for (size_t i = 0; i < n; ++i) {
    line[used++] = digits[p[i] >> 4];
    line[used++] = digits[p[i] & 15u];
    if (used == sizeof line - 1) {
      line[used] = '\0';
      fputs(line, stdout);
      used = 0;
    }
  }
  line[used] = '\0';
  fputs(line, stdout);
}

static int guards_intact(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != GUARD_BYTE) {
      return 0;
    }
  }
  return 1;
}

/* Poison (on) or unpoison the guards behind every input and output and, unless arena_size is
 * SIZE_MAX, around the first arena_size bytes of the test arena. No-op without AddressSanitizer. */
static void poison_guards(int on, const void *const *in, void *const *out, size_t arena_size) {
  void (*set)(const volatile void *, size_t) = NULL;
#if defined(MLF_SMOKE_ASAN)
  set = on ? __asan_poison_memory_region : __asan_unpoison_memory_region;
#else
  (void)on;
#endif
  if (set == NULL) {
    (void)in, (void)out, (void)arena_size;
    return;
  }
  for (int i = 0; i < N_IN; ++i) {
    size_t n = t_(_input_info)[i].nbytes;
    set((const uint8_t *)in[i] + n, ROUND(n) - n + GUARD);
  }
  for (int i = 0; i < N_OUT; ++i) {
    size_t n = t_(_output_info)[i].nbytes;
    set((const uint8_t *)out[i] + n, ROUND(n) - n + GUARD);
  }
  if (arena_size != SIZE_MAX) {
    set(g_arena, LEAD);
    set(g_arena + LEAD + arena_size, sizeof g_arena - LEAD - arena_size);
  }
}

/* The outputs' guards intact, and the inputs (with their guards) as they were filled in. */
static int io_intact(void *const *out, size_t in_bytes, const char *when) {
  int ok = 1;
  if (memcmp(g_io, g_inputs, in_bytes) != 0) {
    printf("mlf-smoke: an input or its guard changed %s\n", when);
    ok = 0;
  }
  for (int i = 0; i < N_OUT; ++i) {
    size_t n = t_(_output_info)[i].nbytes;
    if (!guards_intact((const uint8_t *)out[i] + n, ROUND(n) - n + GUARD)) {
      printf("mlf-smoke: output %d guard overwritten %s\n", i, when);
      ok = 0;
    }
  }
  return ok;
}

int main(void) {
  const void *in[N_IN > 0 ? N_IN : 1];
  void *out[N_OUT > 0 ? N_OUT : 1];
  uint8_t *cursor = g_io;
  int ok = 1;

  memset(g_io, GUARD_BYTE, sizeof g_io);
  for (int i = 0; i < N_IN; ++i) {
    fill_input(&t_(_input_info)[i], cursor, 0x9E3779B9u ^ (uint32_t)(i + 1));
    in[i] = cursor;
    cursor += ROUND(t_(_input_info)[i].nbytes) + GUARD;
  }
  size_t in_bytes = (size_t)(cursor - g_io);
  memcpy(g_inputs, g_io, in_bytes);
  for (int i = 0; i < N_OUT; ++i) {
    out[i] = cursor;
    cursor += ROUND(t_(_output_info)[i].nbytes) + GUARD;
  }
  printf("mlf-smoke: model %s inputs %d outputs %d workspace %lu\n", MLF_STR(MLF_SMOKE_NAME), N_IN,
         N_OUT, (unsigned long)WS);
#if defined(MLF_SMOKE_ASAN)
  puts("mlf-smoke: guard regions poisoned (AddressSanitizer)");
#endif

  /* 1. Exactly WS bytes of arena, guarded on both sides. */
  memset(g_arena, GUARD_BYTE, sizeof g_arena);
  TVMAPISetLastError("mlf-smoke: a message from before the run");
  poison_guards(1, in, out, WS);
  int32_t status = t_(_run_with_workspace)(in, out, g_arena + LEAD, WS);
  poison_guards(0, in, out, WS);
  size_t peak = mlf_workspace_peak();
  printf("mlf-smoke: status %ld peak %lu scratch %lu\n", (long)status, (unsigned long)peak,
         (unsigned long)mlf_scratch_peak());
  if (status != MLF_OK || peak > WS) {
    ok = 0;
  }
  if (status == MLF_OK && mlf_last_error() != NULL) {
    printf("mlf-smoke: a successful run left mlf_last_error() = \"%s\"\n", mlf_last_error());
    ok = 0;
  }
  if (!guards_intact(g_arena, LEAD) ||
      !guards_intact(g_arena + LEAD + WS, sizeof g_arena - LEAD - WS)) {
    printf("mlf-smoke: arena guard overwritten\n");
    ok = 0;
  }
  uint8_t *copy = g_first;
  for (int i = 0; i < N_OUT; ++i) {
    size_t n = t_(_output_info)[i].nbytes;
    printf("mlf-smoke: output %d %s %lu ", i, t_(_output_info)[i].dtype, (unsigned long)n);
    print_hex((const uint8_t *)out[i], n);
    printf("\n");
    if (!guards_intact((const uint8_t *)out[i] + n, ROUND(n) - n + GUARD)) {
      printf("mlf-smoke: output %d guard overwritten\n", i);
      ok = 0;
    }
    memcpy(copy, out[i], n);
    copy += n;
  }
  ok &= io_intact(out, in_bytes, "by the run");

  /* 2. One byte less than the run used must be refused, without writing past the end. */
  if (status == MLF_OK && peak > 0) {
    memset(g_arena, GUARD_BYTE, sizeof g_arena);
    poison_guards(1, in, out, peak - 1);
    int32_t short_status = t_(_run_with_workspace)(in, out, g_arena + LEAD, peak - 1);
    poison_guards(0, in, out, peak - 1);
    printf("mlf-smoke: short-arena %lu status %ld\n", (unsigned long)(peak - 1),
           (long)short_status);
    if (short_status != MLF_ERR_WORKSPACE_TOO_SMALL) {
      ok = 0;
    }
    if (!guards_intact(g_arena + LEAD + peak - 1, sizeof g_arena - LEAD - (peak - 1))) {
      printf("mlf-smoke: short arena overflowed\n");
      ok = 0;
    }
    ok &= io_intact(out, in_bytes, "by the short-arena run");
  }

#if defined(MLF_SMOKE_STATIC_RUN)
  /* 3. The library's own arena gives the same outputs. */
  poison_guards(1, in, out, SIZE_MAX);
  if (t_(_run)(in, out) != MLF_OK) {
    ok = 0;
  }
  poison_guards(0, in, out, SIZE_MAX);
  copy = g_first;
  for (int i = 0; i < N_OUT; ++i) {
    size_t n = t_(_output_info)[i].nbytes;
    if (memcmp(copy, out[i], n) != 0) {
      printf("mlf-smoke: output %d differs on the static arena\n", i);
      ok = 0;
    }
    copy += n;
  }
  ok &= io_intact(out, in_bytes, "by the static-arena run");
#endif
  puts(ok ? "mlf-smoke: PASS" : "mlf-smoke: FAIL");
  return ok ? 0 : 1;
}
