/*
 * Numbers are printed with integer arithmetic only (no %f): the same lines come out of newlib,
 * picolibc and glibc, so the CMake, Bazel and Zephyr runs can be compared line by line.
 */
#include "waveform_demo.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "waveform.h"
#include "waveform_cases.h"

/* v with 4 decimals, e.g. "0.9699", "-12.3056". */
static int format_fixed4(char *buf, size_t size, float v) {
  long scaled = lroundf(fabsf(v) * 10000.0f);
  return snprintf(buf, size, "%s%ld.%04ld", v < 0.0f && scaled != 0 ? "-" : "", scaled / 10000,
                  scaled % 10000);
}

static int close_enough(float got, float want) {
  return fabsf(got - want) <= 1e-5f * fabsf(want) + 1e-6f;
}

int waveform_demo(waveform_print_fn print) {
  char line[200];
  int passed = 0;
  snprintf(line, sizeof line,
           "waveform: %d inputs, %d outputs, arena %lu bytes, %d parameters (%lu bytes)",
           WAVEFORM_NUM_INPUTS, WAVEFORM_NUM_OUTPUTS, (unsigned long)WAVEFORM_WORKSPACE_SIZE,
           WAVEFORM_NUM_PARAMS, (unsigned long)WAVEFORM_PARAMS_SIZE);
  print(line);
  for (int c = 0; c < WAVEFORM_NUM_CASES; ++c) {
    float logits[WAVEFORM_NUM_CLASSES];
    float probs[WAVEFORM_NUM_CLASSES];
    const void *inputs[WAVEFORM_NUM_INPUTS] = {waveform_case_inputs[c]};
    void *outputs[WAVEFORM_NUM_OUTPUTS] = {logits, probs};
    int32_t status = waveform_run(inputs, outputs);
    if (status != MLF_OK) {
      snprintf(line, sizeof line, "waveform: case %d failed: %s", c, mlf_strerror(status));
      print(line);
      continue;
    }
    int best = 0;
    int match = 1;
    for (int k = 0; k < WAVEFORM_NUM_CLASSES; ++k) {
      best = probs[k] > probs[best] ? k : best;
      match &= close_enough(logits[k], waveform_case_logits[c][k]);
      match &= close_enough(probs[k], waveform_case_probs[c][k]);
    }
    int used = snprintf(line, sizeof line, "waveform: %-8s -> %-8s p=[", waveform_case_names[c],
                        waveform_classes[best]);
    for (int k = 0; k < WAVEFORM_NUM_CLASSES && used < (int)sizeof line; ++k) {
      used += format_fixed4(line + used, sizeof line - (size_t)used, probs[k]);
      if (k + 1 < WAVEFORM_NUM_CLASSES && used < (int)sizeof line) {
        line[used++] = ' ';
      }
    }
    snprintf(line + used, sizeof line - (size_t)used, "] %s",
             match ? "matches numpy" : "DIFFERS FROM NUMPY");
    print(line);
    passed += match;
  }
  snprintf(line, sizeof line, "waveform: %s (%d/%d cases match the numpy reference)",
           passed == WAVEFORM_NUM_CASES ? "PASS" : "FAIL", passed, WAVEFORM_NUM_CASES);
  print(line);
  return passed == WAVEFORM_NUM_CASES ? 0 : 1;
}
