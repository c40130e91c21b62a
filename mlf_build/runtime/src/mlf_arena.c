/*
 * The state of a run and the arena behind TVMBackendAllocWorkspace: a bounded LIFO allocator
 * over the caller's buffer. It never hands out memory outside [workspace, workspace + size):
 * when a request does not fit it returns NULL (TVM-generated code then returns -1) and the
 * run ends with MLF_ERR_WORKSPACE_TOO_SMALL even if the generated code ignored the failure.
 */
#include "mlf_runtime_internal.h"

#ifndef MLF_RUNTIME_THREAD_LOCAL
#define MLF_RUNTIME_THREAD_LOCAL
#endif

typedef struct {
  uint8_t *base;   /* start of the dynamic region (after the static tensors) */
  size_t capacity; /* bytes in the dynamic region */
  size_t top;      /* bytes in use */
  size_t align;
  size_t static_size;
  size_t peak; /* static_size + highest top, for mlf_workspace_peak() */
  uint8_t active;
  uint8_t exhausted;
} mlf_arena_t;

static MLF_RUNTIME_THREAD_LOCAL mlf_arena_t g_arena;

/* Whether a caller's array of n buffer pointers is NULL or holds NULL. */
static int has_null(const void *const *p, size_t n) {
  if (n != 0 && p == NULL) {
    return 1;
  }
  while (n-- != 0) {
    if (p[n] == NULL) {
      return 1;
    }
  }
  return 0;
}

int32_t mlf_run_begin(const void *const *inputs, void *const *outputs, void *workspace,
                      size_t workspace_size, const mlf_run_spec_t *spec) {
  size_t static_size = spec->static_size;
  size_t align = spec->align;
  if (g_arena.active) {
    return MLF_ERR_BUSY;
  }
  /* A message left by an earlier run must not be blamed on this one (mlf_last_error()). */
  TVMAPISetLastError(NULL);
  if (has_null(inputs, spec->num_inputs) ||
      has_null((const void *const *)outputs, spec->num_outputs)) {
    return MLF_ERR_ARGUMENT;
  }
  /* align is a power of two: plan_module() refuses others. */
  if (((uintptr_t)workspace & (align - 1)) != 0) {
    return MLF_ERR_WORKSPACE_ALIGNMENT;
  }
  if (workspace == NULL && workspace_size != 0) {
    return MLF_ERR_ARGUMENT;
  }
  if (workspace_size < static_size) {
    g_arena.peak = static_size;
    return MLF_ERR_WORKSPACE_TOO_SMALL;
  }
  g_arena.base = (uint8_t *)workspace + static_size;
  g_arena.capacity = workspace_size - static_size;
  g_arena.top = 0;
  g_arena.align = align;
  g_arena.static_size = static_size;
  g_arena.peak = static_size;
  g_arena.exhausted = 0;
  g_arena.active = 1;
  return MLF_OK;
}

int32_t mlf_run_end(int32_t model_status) {
  g_arena.active = 0;
  if (g_arena.exhausted) {
    return MLF_ERR_WORKSPACE_TOO_SMALL;
  }
  return model_status == 0 ? MLF_OK : MLF_ERR_OPERATOR;
}

size_t mlf_workspace_peak(void) {
  return g_arena.peak;
}

void mlf_run_note_used(size_t dynamic_bytes) {
  if (g_arena.static_size + dynamic_bytes > g_arena.peak) {
    g_arena.peak = g_arena.static_size + dynamic_bytes;
  }
}

void mlf_run_note_exhausted(void) {
  g_arena.exhausted = 1;
}

void *mlf_arena_alloc(uint64_t nbytes) {
  if (!g_arena.active) {
    return NULL;
  }
  /* Sizes round up to the alignment, like TVM's stack allocator, so the next block starts
   * aligned and the build-time arena size matches either runtime. */
  size_t room = g_arena.capacity - g_arena.top;
  size_t mask = g_arena.align - 1;
  size_t size = ((size_t)nbytes + mask) & ~mask;
  if (nbytes > (uint64_t)room || size > room) {
    g_arena.exhausted = 1;
    return NULL;
  }
  void *ptr = g_arena.base + g_arena.top;
  g_arena.top += size;
  mlf_run_note_used(g_arena.top);
  return ptr;
}

int mlf_arena_free(void *ptr) {
  uint8_t *p = (uint8_t *)ptr;
  /* LIFO: freeing a block releases it and everything allocated after it. */
  if (!g_arena.active || p < g_arena.base || p > g_arena.base + g_arena.top) {
    return -1;
  }
  g_arena.top = (size_t)(p - g_arena.base);
  return 0;
}
