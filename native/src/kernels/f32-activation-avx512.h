/*
 * The activations of fused epilogues on 16 floats, for AVX-512 kernels only
 * (include from *-avx512.c files). Each uses the reference's arithmetic
 * (f32-activation-ref.c) operation for operation, so the results are equal
 * bit for bit, NaN passing through as there. Activations with transcendental
 * functions are not here: callers store, then run the reference on the row.
 */
#ifndef CNNRT_F32_ACTIVATION_AVX512_H
#define CNNRT_F32_ACTIVATION_AVX512_H

#include <immintrin.h>

#include "internal.h"

/* 1 when cnnrt_f32_activation_avx512 computes `activation` (else the caller
 * runs cnnrt_f32_activation_ref after storing). */
static inline int cnnrt_f32_activation_avx512_has(int activation) {
  return activation == CNNRT_ACT_NONE || activation == CNNRT_ACT_RELU || activation == CNNRT_ACT_LEAKY_RELU ||
         activation == CNNRT_ACT_CLIP || activation == CNNRT_ACT_HARD_SIGMOID || activation == CNNRT_ACT_HARD_SWISH;
}

/* max_ps/min_ps return their second operand when either is NaN and when both
 * are zeros, which is what the reference's `x < a ? a : x` does with a first. */
static inline __m512 cnnrt_f32_activation_avx512(__m512 x, int activation, float alpha, float beta) {
  switch (activation) {
    case CNNRT_ACT_RELU:
      return _mm512_max_ps(_mm512_setzero_ps(), x);
    case CNNRT_ACT_LEAKY_RELU: {
      const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(x, negative, x, _mm512_set1_ps(alpha));
    }
    case CNNRT_ACT_CLIP:
      return _mm512_min_ps(_mm512_set1_ps(beta), _mm512_max_ps(_mm512_set1_ps(alpha), x));
    case CNNRT_ACT_HARD_SIGMOID: {
      const __m512 y = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(alpha), x), _mm512_set1_ps(beta));
      return _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), y));
    }
    case CNNRT_ACT_HARD_SWISH: {
      __m512 gate = _mm512_add_ps(_mm512_div_ps(x, _mm512_set1_ps(6.0f)), _mm512_set1_ps(0.5f));
      gate = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), gate));
      return _mm512_mul_ps(x, gate);
    }
    default:
      return x;
  }
}

#endif
