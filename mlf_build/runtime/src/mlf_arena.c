/*
 * The state of a run and the arena behind TVMBackendAllocWorkspace: a bounded LIFO allocator
 * over the caller's buffer, from the plan's scratch offset on. It never hands out memory outside
 * [workspace, workspace + size): when a request does not fit it returns NULL (TVM-generated code
 * then returns -1) and the run ends with MLF_ERR_WORKSPACE_TOO_SMALL even if the generated code
 * ignored the failure.
 *
 * The scratch may share bytes with planned tensors (the lifetime plan starts it at offset 0):
 * the plan keeps every tensor live at a step above the scratch that step's operator needs, from
 * each operator's exact (or TVM-bounded) peak, which the smoke test checks (mlf_scratch_peak).
 */
#include "mlf_runtime_internal.h"

#ifndef MLF_RUNTIME_THREAD_LOCAL
#define MLF_RUNTIME_THREAD_LOCAL
#endif

typedef struct {
  uint8_t *base;   /* start of the scratch (workspace + spec->scratch_offset) */
  size_t capacity; /* bytes from there to the end of the workspace */
  size_t top;      /* bytes in use */
  size_t align;
  const mlf_run_spec_t *spec; /* of the most recent run that got as far as the sizes */
  size_t scratch_peak;        /* highest top */
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
  g_arena.spec = spec;
  g_arena.scratch_peak = 0;
  /* scratch_offset <= tensors_size (plan.py), so the scratch starts inside the workspace. */
  if (workspace_size < spec->tensors_size) {
    return MLF_ERR_WORKSPACE_TOO_SMALL;
  }
  g_arena.base = (uint8_t *)workspace + spec->scratch_offset;
  g_arena.capacity = workspace_size - spec->scratch_offset;
  g_arena.top = 0;
  g_arena.align = align;
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
  const mlf_run_spec_t *spec = g_arena.spec;
  if (spec == NULL) {
    return 0;
  }
  size_t scratch_end = spec->scratch_offset + g_arena.scratch_peak;
  return scratch_end > spec->tensors_size ? scratch_end : spec->tensors_size;
}

size_t mlf_scratch_peak(void) {
  return g_arena.scratch_peak;
}

void mlf_run_note_used(size_t scratch_bytes) {
  if (scratch_bytes > g_arena.scratch_peak) {
    g_arena.scratch_peak = scratch_bytes;
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
