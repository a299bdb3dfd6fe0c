/*
 * The fused epilogue (bias, residual, activation) over one output row with
 * AVX2 + FMA: the reference's arithmetic in the reference's order, in one
 * pass; and the activations alone, for the unary ops. The last partial
 * vector is read with maskload and written with plain partial stores
 * (f32-store-avx2.h); neither touches memory past the row.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/f32-activation-avx2.h"
#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

/* The loops, inlined into one copy per activation (CNNRT_ACTIVATION_SPECIALIZE;
 * GCC had otherwise called the activation, switch inside, once per vector). */
static inline __attribute__((always_inline)) void epilogue_loop(float* y, size_t n, float bias, const float* residual,
                                                                const int activation, float alpha, float beta) {
  const __m256 vbias = _mm256_set1_ps(bias);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(y + i);
    if (bias != 0.0f) v = _mm256_add_ps(v, vbias);
    if (residual != NULL) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + i));
    _mm256_storeu_ps(y + i, cnnrt_f32_activation_avx2(v, activation, alpha, beta));
  }
  if (i < n) {
    const __m256i mask = cnnrt_f32_first_lanes_avx2(n - i);
    __m256 v = _mm256_maskload_ps(y + i, mask);
    if (bias != 0.0f) v = _mm256_add_ps(v, vbias);
    if (residual != NULL) v = _mm256_add_ps(v, _mm256_maskload_ps(residual + i, mask));
    cnnrt_f32_store_first_avx2(y + i, cnnrt_f32_activation_avx2(v, activation, alpha, beta), n - i);
  }
}

static inline __attribute__((always_inline)) void activation_loop(const float* x, float* y, size_t n,
                                                                  const int activation, float alpha, float beta) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, cnnrt_f32_activation_avx2(_mm256_loadu_ps(x + i), activation, alpha, beta));
  }
  if (i < n) {
    const __m256 v = _mm256_maskload_ps(x + i, cnnrt_f32_first_lanes_avx2(n - i));
    cnnrt_f32_store_first_avx2(y + i, cnnrt_f32_activation_avx2(v, activation, alpha, beta), n - i);
  }
}

void cnnrt_f32_epilogue__avx2(float* y, size_t n, float bias, const float* residual, int activation, float alpha,
                              float beta) {
  if (!cnnrt_f32_activation_avx2_has(activation)) {
    cnnrt_f32_epilogue_ref(y, n, bias, residual, activation, alpha, beta);
    return;
  }
  if (bias == 0.0f && residual == NULL && activation == CNNRT_ACT_NONE) return;
  CNNRT_ACTIVATION_SPECIALIZE(activation, epilogue_loop(y, n, bias, residual, CNNRT_ACT_CONSTANT, alpha, beta));
}

void cnnrt_f32_activation__avx2(const float* x, float* y, size_t n, int activation, float alpha, float beta) {
  if (!cnnrt_f32_activation_avx2_has(activation)) {
    if (y != x) memmove(y, x, n * sizeof(float));
    cnnrt_f32_activation_ref(y, n, activation, alpha, beta);
    return;
  }
  CNNRT_ACTIVATION_SPECIALIZE(activation, activation_loop(x, y, n, CNNRT_ACT_CONSTANT, alpha, beta));
}

void cnnrt_f32_activation_rows__avx2(float* y, size_t rows, size_t cols, size_t stride, int activation, float alpha,
                                   float beta) {
  if (!cnnrt_f32_activation_avx2_has(activation)) {
    cnnrt_f32_activation_rows_ref(y, rows, cols, stride, activation, alpha, beta);
    return;
  }
  CNNRT_ACTIVATION_SPECIALIZE(activation, for (size_t r = 0; r < rows; r++) activation_loop(
                                              y + r * stride, y + r * stride, cols, CNNRT_ACT_CONSTANT, alpha, beta));
}
