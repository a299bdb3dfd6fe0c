/*
 * Partial vectors for the AVX2 kernels: the mask of a vector's first n lanes
 * (for masked loads), and stores of its first n lanes.
 *
 * _mm256_maskstore_ps (vmaskmovps to memory) is microcoded on AMD Zen 2/3:
 * measured here on a Zen 3 EPYC at 7-13 ns per store, against about 1 ns for
 * a plain store, whatever the mask (all lanes on included). So the AVX2
 * kernels store the first n lanes of a vector with plain stores of 4, 2 and
 * 1 floats instead: like the masked store, nothing past p[n - 1] is written.
 * Masked loads (vmaskmovps from memory) are as fast as plain ones there and
 * stay in use.
 */
#ifndef CNNRT_F32_STORE_AVX2_H
#define CNNRT_F32_STORE_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* Lanes [0, min(n, 8)) set: the mask of a masked load of n floats. */
static inline __attribute__((always_inline)) __m256i cnnrt_f32_first_lanes_avx2(size_t n) {
  static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i*)(lanes + 8 - (n >= 8 ? 8 : n)));
}

/* p[0 .. n) = the first n lanes of v (n <= 8; n >= 8 stores all 8). Inlined,
 * so that a constant n leaves only its own stores. */
static inline __attribute__((always_inline)) void cnnrt_f32_store_first_avx2(float* p, __m256 v, size_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128(v);
  if (n & 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
  }
  if (n & 2) {
    _mm_storel_pi((__m64*)p, part);
    part = _mm_movehl_ps(part, part);
    p += 2;
  }
  if (n & 1) _mm_store_ss(p, part);
}

#endif
