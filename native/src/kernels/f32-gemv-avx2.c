/*
 * Matrix-vector product with AVX2 + FMA: the contract of the AVX-512 kernel
 * (f32-gemv-avx512.c; kernels.h) on 8 lanes. y[i] = W[i, :] . x over rows
 * [row_begin, row_end), W read in its own row-major layout (the classifier
 * of a batch-1 Gemm, the squeeze-and-excitation layers). Six rows at a time
 * share each load of x, with two independent vectors of partial sums per
 * row (12 accumulators): lane l of the pair sums k = l mod 16 in k order,
 * the tail masked on load; the pair and then the lanes are added in a fixed
 * tree, so a row's result never depends on the rows it was computed with.
 * Bias, residual and activation follow as the reference epilogue.
 */
#include <immintrin.h>

#include "kernels/f32-activation-avx2.h"
#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

#define ROWS 6

static inline float sum_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

void cnnrt_f32_gemv__avx2(const float* w, size_t k, const float* x, const cnnrt_f32_epilogue_params* e, float* y,
                          size_t row_begin, size_t row_end) {
  for (size_t i = row_begin; i < row_end; i += ROWS) {
    const size_t rows = row_end - i < ROWS ? row_end - i : ROWS;
    __m256 acc0[ROWS], acc1[ROWS];
    const float* row[ROWS];
    for (size_t r = 0; r < ROWS; r++) {
      acc0[r] = _mm256_setzero_ps();
      acc1[r] = _mm256_setzero_ps();
      row[r] = w + (i + (r < rows ? r : 0)) * k; /* rows past the end repeat the first; never stored */
    }
    size_t p = 0;
    for (; p + 16 <= k; p += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + 8);
      for (size_t r = 0; r < ROWS; r++) {
        acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(row[r] + p), x0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(row[r] + p + 8), x1, acc1[r]);
      }
    }
    if (p < k) {
      const __m256i m0 = cnnrt_f32_first_lanes_avx2(k - p), m1 = cnnrt_f32_first_lanes_avx2(k - p > 8 ? k - p - 8 : 0);
      const __m256 x0 = _mm256_maskload_ps(x + p, m0), x1 = _mm256_maskload_ps(x + p + 8, m1);
      for (size_t r = 0; r < ROWS; r++) {
        acc0[r] = _mm256_fmadd_ps(_mm256_maskload_ps(row[r] + p, m0), x0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(_mm256_maskload_ps(row[r] + p + 8, m1), x1, acc1[r]);
      }
    }
    for (size_t r = 0; r < rows; r++) {
      float v = sum_lanes(_mm256_add_ps(acc0[r], acc1[r]));
      if (e->bias != NULL && e->bias[i + r] != 0.0f) v += e->bias[i + r];
      if (e->residual != NULL) v += e->residual[i + r];
      y[i + r] = v;
    }
  }
  if (e->activation != CNNRT_ACT_NONE) {
    for (size_t p = row_begin; p < row_end; p += 8) {
      const __m256 v = _mm256_maskload_ps(y + p, cnnrt_f32_first_lanes_avx2(row_end - p));
      cnnrt_f32_store_first_avx2(y + p, cnnrt_f32_activation_avx2(v, e->activation, e->alpha, e->beta), row_end - p);
    }
  }
}
