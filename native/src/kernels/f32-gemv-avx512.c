/*
 * Matrix-vector product with AVX-512 for 1x1 convolutions on 1x1 planes
 * (the squeeze-and-excitation blocks' two fully connected layers, the heads
 * of conv nets that end in 1x1 convolutions): y[i] = W[i, :] . x over rows
 * [row_begin, row_end), reading W in its own row-major layout. Eight rows at
 * a time share each 16-float load of x; each row keeps 16 partial sums
 * (lane l sums k = l mod 16, in k order, the tail masked) and adds them up
 * in a fixed tree at the end, so a row's result never depends on which rows
 * it was computed with. Bias, residual and activation follow as the
 * reference epilogue.
 */
#include <immintrin.h>

#include "kernels/f32-activation-avx512.h"
#include "kernels/kernels.h"

static inline __mmask16 tail_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

#define ROWS 8

void cnnrt_f32_gemv__avx512(const float* w, size_t k, const float* x, const cnnrt_f32_epilogue_params* e, float* y,
                            size_t row_begin, size_t row_end) {
  size_t i = row_begin;
  for (; i < row_end; i += ROWS) {
    const size_t rows = row_end - i < ROWS ? row_end - i : ROWS;
    __m512 acc[ROWS];
    const float* row[ROWS];
    for (size_t r = 0; r < ROWS; r++) {
      acc[r] = _mm512_setzero_ps();
      row[r] = w + (i + (r < rows ? r : 0)) * k; /* rows past the end repeat the first; never stored */
    }
    for (size_t p = 0; p < k; p += 16) {
      const __mmask16 mask = tail_mask(k - p);
      const __m512 vx = _mm512_maskz_loadu_ps(mask, x + p);
      for (size_t r = 0; r < ROWS; r++) acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, row[r] + p), vx, acc[r]);
    }
    float sums[ROWS];
    for (size_t r = 0; r < ROWS; r++) sums[r] = _mm512_reduce_add_ps(acc[r]);
    for (size_t r = 0; r < rows; r++) {
      float v = sums[r];
      if (e->bias != NULL && e->bias[i + r] != 0.0f) v += e->bias[i + r];
      if (e->residual != NULL) v += e->residual[i + r];
      y[i + r] = v;
    }
  }
  if (e->activation != CNNRT_ACT_NONE) {
    for (size_t p = row_begin; p < row_end; p += 16) {
      const __mmask16 mask = tail_mask(row_end - p);
      const __m512 v = _mm512_maskz_loadu_ps(mask, y + p);
      _mm512_mask_storeu_ps(y + p, mask, cnnrt_f32_activation_avx512(v, e->activation, e->alpha, e->beta));
    }
  }
}
