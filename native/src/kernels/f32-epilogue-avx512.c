/*
 * The fused epilogue (bias, residual, activation) over one output row with
 * AVX-512: the reference's arithmetic in the reference's order, in one pass;
 * and the activations alone, for the unary ops.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/f32-activation-avx512.h"
#include "kernels/kernels.h"

static inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* The loops, inlined into one copy per activation (CNNRT_ACTIVATION_SPECIALIZE). */
static inline __attribute__((always_inline)) void epilogue_loop(float* y, size_t n, float bias, const float* residual,
                                                                const int activation, float alpha, float beta) {
  const __m512 vbias = _mm512_set1_ps(bias);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = tail_mask(n - i);
    __m512 v = _mm512_maskz_loadu_ps(mask, y + i);
    if (bias != 0.0f) v = _mm512_add_ps(v, vbias);
    if (residual != NULL) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, residual + i));
    _mm512_mask_storeu_ps(y + i, mask, cnnrt_f32_activation_avx512(v, activation, alpha, beta));
  }
}

static inline __attribute__((always_inline)) void activation_loop(const float* x, float* y, size_t n,
                                                                  const int activation, float alpha, float beta) {
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    _mm512_mask_storeu_ps(y + i, mask, cnnrt_f32_activation_avx512(v, activation, alpha, beta));
  }
}

void cnnrt_f32_epilogue__avx512(float* y, size_t n, float bias, const float* residual, int activation, float alpha,
                                float beta) {
  if (!cnnrt_f32_activation_avx512_has(activation)) {
    cnnrt_f32_epilogue_ref(y, n, bias, residual, activation, alpha, beta);
    return;
  }
  if (bias == 0.0f && residual == NULL && activation == CNNRT_ACT_NONE) return;
  CNNRT_ACTIVATION_SPECIALIZE(activation, epilogue_loop(y, n, bias, residual, CNNRT_ACT_CONSTANT, alpha, beta));
}

void cnnrt_f32_activation__avx512(const float* x, float* y, size_t n, int activation, float alpha, float beta) {
  if (!cnnrt_f32_activation_avx512_has(activation)) {
    if (y != x) memmove(y, x, n * sizeof(float));
    cnnrt_f32_activation_ref(y, n, activation, alpha, beta);
    return;
  }
  CNNRT_ACTIVATION_SPECIALIZE(activation, activation_loop(x, y, n, CNNRT_ACT_CONSTANT, alpha, beta));
}

void cnnrt_f32_activation_rows__avx512(float* y, size_t rows, size_t cols, size_t stride, int activation, float alpha,
                                   float beta) {
  if (!cnnrt_f32_activation_avx512_has(activation)) {
    cnnrt_f32_activation_rows_ref(y, rows, cols, stride, activation, alpha, beta);
    return;
  }
  CNNRT_ACTIVATION_SPECIALIZE(activation, for (size_t r = 0; r < rows; r++) activation_loop(
                                              y + r * stride, y + r * stride, cols, CNNRT_ACT_CONSTANT, alpha, beta));
}
