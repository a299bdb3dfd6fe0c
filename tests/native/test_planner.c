/*
 * Unit test of the activation memory planner (native/src/core/planner.c):
 * random lifetimes and sizes; no two values alive at the same step may share
 * bytes, the arena is never smaller than the peak of live bytes, and on chains
 * (the common CNN case) it stays close to that peak.
 * Built and run by tests/test_native_units.py against the static library.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static uint64_t next_random(uint64_t* state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

static int check_case(const cnnrt_plan_value* values, size_t n, uint32_t steps, double max_ratio, const char* label) {
  uint64_t* offsets = malloc(sizeof *offsets * n);
  uint64_t arena = 0;
  if (cnnrt_plan_memory(values, n, offsets, &arena) != CNNRT_OK) {
    printf("%s: planner failed: %s\n", label, cnnrt_last_error());
    return 1;
  }
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    if (!values[i].size) continue;
    if (offsets[i] % 64 != 0 || offsets[i] + values[i].size > arena) {
      printf("%s: value %zu misplaced (offset %llu, size %llu, arena %llu)\n", label, i,
             (unsigned long long)offsets[i], (unsigned long long)values[i].size, (unsigned long long)arena);
      failures++;
    }
    for (size_t j = i + 1; j < n; j++) {
      if (!values[j].size) continue;
      int live_together = values[i].first <= values[j].last && values[j].first <= values[i].last;
      int overlap = offsets[i] < offsets[j] + values[j].size && offsets[j] < offsets[i] + values[i].size;
      if (live_together && overlap) {
        printf("%s: values %zu and %zu live together and overlap\n", label, i, j);
        failures++;
      }
    }
  }
  uint64_t peak = 0;
  for (uint32_t s = 0; s <= steps; s++) {
    uint64_t live = 0;
    for (size_t i = 0; i < n; i++)
      if (values[i].size && values[i].first <= s && s <= values[i].last) live += (values[i].size + 63) / 64 * 64;
    if (live > peak) peak = live;
  }
  if (arena < peak || (double)arena > max_ratio * (double)peak) {
    printf("%s: arena %llu bytes vs peak live %llu (allowed ratio %.2f)\n", label, (unsigned long long)arena,
           (unsigned long long)peak, max_ratio);
    failures++;
  }
  free(offsets);
  return failures;
}

int main(void) {
  int failures = 0, cases = 0;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int trial = 0; trial < 200; trial++) {
    size_t n = 1 + next_random(&state) % 60;
    uint32_t steps = (uint32_t)(1 + next_random(&state) % 40);
    cnnrt_plan_value* values = calloc(n, sizeof *values);
    for (size_t i = 0; i < n; i++) {
      values[i].size = next_random(&state) % 5 == 0 ? 0 : 1 + next_random(&state) % 100000;
      values[i].first = (uint32_t)(next_random(&state) % steps);
      values[i].last = values[i].first + (uint32_t)(next_random(&state) % (steps - values[i].first + 1));
    }
    char label[32];
    snprintf(label, sizeof label, "random %d", trial);
    failures += check_case(values, n, steps, 1e9, label);
    free(values);
    cases++;
  }
  /* A chain (each value read by the next node only): two buffers suffice. */
  for (int trial = 0; trial < 50; trial++) {
    size_t n = 2 + next_random(&state) % 50;
    cnnrt_plan_value* values = calloc(n, sizeof *values);
    for (size_t i = 0; i < n; i++) values[i] = (cnnrt_plan_value){64 * (1 + next_random(&state) % 1000), (uint32_t)i, (uint32_t)i + 1};
    char label[32];
    snprintf(label, sizeof label, "chain %d", trial);
    failures += check_case(values, n, (uint32_t)n, 2.0, label);
    free(values);
    cases++;
  }
  printf("%d passed, %d failed\n", cases - (failures ? 1 : 0), failures ? 1 : 0);
  return failures ? 1 : 0;
}
