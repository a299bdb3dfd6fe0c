/*
 * Transposed store with the fused epilogue (AVX-512): a pixel-major tile of
 * the GEMM (rows = pixels, columns = channels) goes to NCHW rows of channels.
 * Blocks of 16 x 16 are transposed in registers (unpack, shuffle, 128-bit
 * lane permutes), then bias, residual and activation run on whole channel
 * rows of 16 pixels with the reference epilogue's arithmetic.
 */
#include <immintrin.h>

#include "kernels/f32-activation-avx512.h"
#include "kernels/kernels.h"

static inline __mmask16 tail_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* r[0..15] rows in, columns out: r[j] lane i = old r[i] lane j. */
static inline void transpose16(__m512 r[16]) {
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

void cnnrt_f32_transpose_epilogue__avx512(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                          size_t y_stride, const float* bias, const float* residual,
                                          int activation, float alpha, float beta) {
  if (!cnnrt_f32_activation_avx512_has(activation)) {
    cnnrt_f32_transpose_epilogue_ref(c, ldc, rows, cols, y, y_stride, bias, residual, activation, alpha, beta);
    return;
  }
  for (size_t i0 = 0; i0 < rows; i0 += 16) {
    const size_t rn = rows - i0 < 16 ? rows - i0 : 16;
    const __mmask16 row_mask = tail_mask(rn);
    for (size_t j0 = 0; j0 < cols; j0 += 16) {
      const size_t cn = cols - j0 < 16 ? cols - j0 : 16;
      const __mmask16 col_mask = tail_mask(cn);
      __m512 r[16];
      for (size_t i = 0; i < 16; i++) {
        r[i] = i < rn ? _mm512_maskz_loadu_ps(col_mask, c + (i0 + i) * ldc + j0) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (size_t j = 0; j < cn; j++) {
        __m512 v = r[j];
        const size_t offset = (j0 + j) * y_stride + i0;
        if (bias != NULL && bias[j0 + j] != 0.0f) v = _mm512_add_ps(v, _mm512_set1_ps(bias[j0 + j]));
        if (residual != NULL) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(row_mask, residual + offset));
        _mm512_mask_storeu_ps(y + offset, row_mask, cnnrt_f32_activation_avx512(v, activation, alpha, beta));
      }
    }
  }
}
