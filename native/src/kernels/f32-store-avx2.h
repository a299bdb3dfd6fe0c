/*
 * Partial-vector stores for the AVX2 kernels.
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
