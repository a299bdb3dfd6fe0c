/*
 * The fused epilogue (bias, residual, activation) over one output row with
 * AVX-512: the reference's arithmetic in the reference's order, in one pass.
 * Activations with transcendental functions run the reference afterwards.
 */
#include <immintrin.h>

#include "kernels/f32-activation-avx512.h"
#include "kernels/kernels.h"

void cnnrt_f32_epilogue__avx512(float* y, size_t n, float bias, const float* residual, int activation, float alpha,
                                float beta) {
  const int vector_activation = cnnrt_f32_activation_avx512_has(activation);
  if (bias == 0.0f && residual == NULL && (activation == CNNRT_ACT_NONE || !vector_activation)) {
    cnnrt_f32_activation_ref(y, n, activation, alpha, beta);
    return;
  }
  const __m512 vbias = _mm512_set1_ps(bias);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    __m512 v = _mm512_maskz_loadu_ps(mask, y + i);
    if (bias != 0.0f) v = _mm512_add_ps(v, vbias);
    if (residual != NULL) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, residual + i));
    _mm512_mask_storeu_ps(y + i, mask, cnnrt_f32_activation_avx512(v, activation, alpha, beta));
  }
  if (!vector_activation) cnnrt_f32_activation_ref(y, n, activation, alpha, beta);
}
