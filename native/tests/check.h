/*
 * What the native unit tests share: the CHECK macro with its counters (each
 * test program reports "N checks, M failures" and exits non-zero on any) and a
 * seeded xorshift generator, so runs are repeatable.
 */
#ifndef CNNRT_TESTS_CHECK_H
#define CNNRT_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int failures = 0;
static int checks = 0;

/* Counts a check; prints the first 20 failures with their place. */
#define CHECK(condition, ...)                                \
  do {                                                       \
    checks++;                                                \
    if (!(condition)) {                                      \
      if (failures++ < 20) {                                 \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                        \
        fprintf(stderr, "\n");                               \
      }                                                      \
    }                                                        \
  } while (0)

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

/* The next 64 random bits (xorshift64). */
static inline uint64_t random_u64(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

#endif /* CNNRT_TESTS_CHECK_H */
