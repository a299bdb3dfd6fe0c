/*
 * A 16 x 16 float transpose in AVX-512 registers (unpack, shuffle, 128-bit
 * lane permutes), for AVX-512 kernels only (include from *-avx512.c files):
 * the transposed epilogue store and the channel-blocked depthwise loop.
 */
#ifndef CNNRT_F32_TRANSPOSE16_AVX512_H
#define CNNRT_F32_TRANSPOSE16_AVX512_H

#include <immintrin.h>

/* r[0..15] rows in, columns out: r[j] lane i = old r[i] lane j. */
static inline void cnnrt_f32_transpose16_avx512(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  /* Now r[4q + s] holds, in each 128-bit lane L, elements (rows 4q..4q+3) of
   * column 4L + s. Gather the 128-bit lanes. */
  for (int s = 0; s < 4; s++) {
    const __m512 a = r[s], b = r[4 + s], c = r[8 + s], d = r[12 + s];
    const __m512 ab_lo = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)); /* a0 a1 b0 b1 */
    const __m512 ab_hi = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)); /* a2 a3 b2 b3 */
    const __m512 cd_lo = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 cd_hi = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 2, 3, 2));
    t[s] = _mm512_shuffle_f32x4(ab_lo, cd_lo, _MM_SHUFFLE(2, 0, 2, 0));      /* a0 b0 c0 d0: column s */
    t[4 + s] = _mm512_shuffle_f32x4(ab_lo, cd_lo, _MM_SHUFFLE(3, 1, 3, 1));  /* a1 b1 c1 d1: column 4 + s */
    t[8 + s] = _mm512_shuffle_f32x4(ab_hi, cd_hi, _MM_SHUFFLE(2, 0, 2, 0));  /* column 8 + s */
    t[12 + s] = _mm512_shuffle_f32x4(ab_hi, cd_hi, _MM_SHUFFLE(3, 1, 3, 1)); /* column 12 + s */
  }
  for (int i = 0; i < 16; i++) r[i] = t[i];
}

#endif
