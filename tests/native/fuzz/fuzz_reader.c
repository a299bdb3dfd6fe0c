/*
 * Mutation fuzzer for the model reader and the load/run path, meant to be built
 * with AddressSanitizer and UndefinedBehaviorSanitizer over the library's own
 * sources (tests/test_sanitizers.py does that):
 *
 *   fuzz_reader MODEL.cnnrt ITERATIONS SEED
 *
 * Each iteration damages a copy of the file (bit flips, random byte runs,
 * extreme 32-bit values), recomputes the checksums on half of the iterations so
 * that the damage reaches the structural checks, then loads it and, when it
 * loads, plans and runs it once on a ones input. Any out-of-bounds access or
 * undefined behaviour aborts under the sanitizers; a clean finish prints counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt/cnnrt.h"

static uint64_t rng_state;
static uint64_t next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static uint32_t crc32_bytes(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}
static uint32_t rd32(const uint8_t* p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t* p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t* p, uint32_t v) { for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k)); }

/* Recomputes section and header checksums where the (damaged) table allows. */
static void fix_checksums(uint8_t* b, size_t size) {
  if (size < 64) return;
  uint32_t count = rd32(b + 32);
  if (count > 4096 || 64 + (uint64_t)count * 32 > size) return;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t* e = b + 64 + 32 * i;
    uint64_t offset = rd64(e + 8), length = rd64(e + 16);
    if (offset <= size && length <= size - offset) wr32(e + 24, crc32_bytes(0, b + offset, (size_t)length));
  }
  uint32_t crc = crc32_bytes(0, b, 40);
  crc = crc32_bytes(crc, b + 44, 20);
  crc = crc32_bytes(crc, b + 64, (size_t)count * 32);
  wr32(b + 40, crc);
}

static void try_run(cnnrt_model* model, int* ran) {
  /* 1-4 threads and a symbolic batch of 1, 4 or 5: batches of 4 and more run
   * in chunks on part sessions (two of two threads each at 4 threads, batch 4). */
  cnnrt_session_options options = {sizeof options, 1 + (int)(next_random() % 4), 0};
  const int64_t batches[3] = {1, 4, 5};
  const int64_t batch = batches[next_random() % 3];
  cnnrt_session* session = NULL;
  if (cnnrt_session_create(model, &options, &session) != CNNRT_OK) return;
  cnnrt_tensor_info info;
  if (cnnrt_model_input_count(model) == 1 && cnnrt_model_input_info(model, 0, &info) == CNNRT_OK) {
    cnnrt_tensor input = {NULL, CNNRT_DTYPE_FLOAT32, info.rank, {0}, NULL, 0};
    size_t count = 1;
    for (int d = 0; d < info.rank; d++) {
      input.dims[d] = info.dims[d] >= 0 ? info.dims[d] : d == 0 ? batch : 1;
      count *= (size_t)(input.dims[d] > 0 ? input.dims[d] : 1);
    }
    uint64_t arena = 0;
    if (count < (1u << 22) && cnnrt_session_reshape(session, 1, &input) == CNNRT_OK &&
        cnnrt_session_memory(session, &arena, NULL) == CNNRT_OK && arena < (256u << 20)) {
      float* x = malloc(count * sizeof *x);
      for (size_t i = 0; i < count; i++) x[i] = 1.0f;
      input.data = x;
      input.size_bytes = count * sizeof *x;
      cnnrt_tensor_info out;
      if (cnnrt_session_output_info(session, 0, &out) == CNNRT_OK) {
        size_t n = 1;
        for (int d = 0; d < out.rank; d++) n *= (size_t)out.dims[d];
        float* y = malloc((n ? n : 1) * sizeof *y);
        cnnrt_tensor output = {NULL, CNNRT_DTYPE_FLOAT32, 0, {0}, y, n * sizeof *y};
        if (cnnrt_session_run(session, 1, &input, 1, &output) == CNNRT_OK) (*ran)++;
        free(y);
      }
      free(x);
    }
  }
  cnnrt_session_release(session);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL ITERATIONS SEED\n", argv[0]);
    return 2;
  }
  FILE* f = fopen(argv[1], "rb");
  if (!f) return 2;
  fseek(f, 0, SEEK_END);
  size_t size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* original = malloc(size);
  if (fread(original, 1, size, f) != size) return 2;
  fclose(f);
  long iterations = atol(argv[2]);
  rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)atol(argv[3]) * 0x2545F4914F6CDD1Dull;
  int loaded = 0, refused = 0, ran = 0;
  for (long it = 0; it < iterations; it++) {
    size_t length = size;
    /* Exact-size copies let ASan see any read past the end. */
    if (it % 16 == 15) length = (size_t)(next_random() % size);
    uint8_t* b = malloc(length ? length : 1);
    memcpy(b, original, length);
    int mutations = 1 + (int)(next_random() % 4);
    for (int m = 0; m < mutations && length; m++) {
      size_t at = (size_t)(next_random() % length);
      switch (next_random() % 4) {
        case 0: b[at] ^= (uint8_t)(1u << (next_random() % 8)); break;
        case 1: {
          size_t n = 1 + (size_t)(next_random() % 32);
          for (size_t k = 0; k < n && at + k < length; k++) b[at + k] = (uint8_t)next_random();
          break;
        }
        case 2: if (at + 4 <= length) wr32(b + at, (uint32_t)next_random() % 2 ? 0x7FFFFFFFu : 0x80000000u); break;
        default: {
          /* Small integers in the tables (counts, indices, dims): off by a little. */
          size_t table = 64 + (size_t)(next_random() % 4096);
          if (table + 4 <= length) wr32(b + table, rd32(b + table) + (uint32_t)(next_random() % 5) - 2);
        }
      }
    }
    if (it % 2 == 0) fix_checksums(b, length);
    cnnrt_model* model = NULL;
    if (cnnrt_model_load_memory(b, length, NULL, &model) == CNNRT_OK) {
      loaded++;
      try_run(model, &ran);
      cnnrt_model_release(model);
    } else {
      refused++;
      if (strlen(cnnrt_last_error()) == 0) {
        fprintf(stderr, "iteration %ld: refused without a message\n", it);
        return 1;
      }
    }
    free(b);
  }
  free(original);
  printf("%ld iterations: %d loaded, %d refused, %d ran\n", iterations, loaded, refused, ran);
  return 0;
}
