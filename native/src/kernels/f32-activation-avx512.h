/*
 * The activations of fused epilogues and unary ops on 16 floats, for AVX-512
 * kernels only (include from *-avx512.c files).
 *
 * ReLU, LeakyReLU, Clip, HardSigmoid and HardSwish use the reference's
 * arithmetic (f32-activation-ref.c) operation for operation, so the results
 * are equal bit for bit, NaN passing through as there.
 *
 * Sigmoid, SiLU, Tanh, GELU (both forms), ELU and Softplus are built on the
 * vector expf/expm1f/tanhf/erff below and the reference's formulas; they are
 * within a few ulp of the reference (test_kernels.c measures it over millions
 * of inputs), NaN, infinities, zeros and denormals going where the
 * reference's go.
 */
#ifndef CNNRT_F32_ACTIVATION_AVX512_H
#define CNNRT_F32_ACTIVATION_AVX512_H

#include <immintrin.h>

#include "internal.h"

/* 1 when cnnrt_f32_activation_avx512 computes `activation`: every one. */
static inline int cnnrt_f32_activation_avx512_has(int activation) {
  return activation >= 0 && activation < CNNRT_ACT_COUNT;
}

/* e^r - 1 = r + r^2 P(r) on |r| <= ln2/2 (Cephes expf polynomial, ~1 ulp). */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_expm1_poly_avx512(__m512 r) {
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  return _mm512_fmadd_ps(_mm512_mul_ps(r, r), p, r);
}

/* e^r - 1 for the reduced argument of x: n = round(x / ln 2), r = x - n ln 2
 * (Cody-Waite, two constants), e^r - 1 = r + r^2 P(r) on |r| <= ln2/2 (Cephes
 * expf polynomial, ~1 ulp). x is first clamped to [-104, 89], past which e^x
 * is 0 or inf in float; NaN stays NaN (max/min return their second operand). */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_expm1_reduced_avx512(__m512 x, __m512* n) {
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  *n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(0.693359375f), x); /* exact: n * 0.693359375 has <= 17 bits */
  r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(-2.12194440e-4f), r);
  return cnnrt_f32_expm1_poly_avx512(r);
}

/* expf: (1 + (e^r - 1)) * 2^n; scalef rounds once, so results that are
 * denormal round correctly, and it gives inf / 0 past the range. */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_exp_avx512(__m512 x) {
  __m512 n;
  const __m512 q = cnnrt_f32_expm1_reduced_avx512(x, &n);
  return _mm512_scalef_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), q), n);
}

/* e^x where that is a normal float or overflows: cnnrt_f32_exp_normal_avx2
 * (see there), operation for operation, so that both levels give the same
 * bits. */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_exp_normal_avx512(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-86.0f), x));
  const __m512 shifter = _mm512_set1_ps(12583038.0f); /* 0x1.8p23 + 126 */
  const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), shifter);
  const __m512 n = _mm512_sub_ps(t, shifter); /* exact */
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  const __m512 q = cnnrt_f32_expm1_poly_avx512(r);
  const __m512 half_scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23)); /* 2^(n-1) */
  return _mm512_mul_ps(_mm512_fmadd_ps(q, half_scale, half_scale), _mm512_set1_ps(2.0f));
}

/* expm1f: (e^r - 1) * 2^n + (2^n - 1), exact in its last step for n = 0
 * (|x| <= ln2/2), where e^x - 1 would cancel. */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_expm1_avx512(__m512 x) {
  __m512 n;
  const __m512 q = cnnrt_f32_expm1_reduced_avx512(x, &n);
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_add_ps(_mm512_scalef_ps(q, n), _mm512_sub_ps(_mm512_scalef_ps(one, n), one));
}

static inline __attribute__((always_inline)) __m512 cnnrt_f32_copysign_avx512(__m512 magnitude, __m512 sign) {
  const __m512 sign_bit = _mm512_set1_ps(-0.0f);
  return _mm512_or_ps(_mm512_andnot_ps(sign_bit, magnitude), _mm512_and_ps(sign_bit, sign));
}

/* tanhf (Cephes): x + x^3 P(x^2) for |x| < 0.625, else 1 - 2 / (e^2|x| + 1)
 * with x's sign (2 / inf = 0 gives +-1 for large |x| and +-inf). */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_tanh_avx512(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(x, z), p, x);
  const __m512 t = _mm512_abs_ps(x);
  const __m512 e = cnnrt_f32_exp_normal_avx512(_mm512_add_ps(t, t));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 large = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
  const __mmask16 is_small = _mm512_cmp_ps_mask(t, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, cnnrt_f32_copysign_avx512(large, x), small);
}

/* erff: x P(x^2) for |x| < 1 (relative error 5e-8 before rounding);
 * 1 - exp(Q(|x| - 2.5)) with x's sign for |x| >= 1, where Q approximates
 * log(erfc) on [1, 4] (absolute error 2e-7); |x| is clamped to 4, past which
 * erff is +-1. Both least-squares fits on Chebyshev nodes. */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_erf_avx512(__m512 x) {
  const __m512 s = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-0.0005625396152026951f);
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(0.004916023463010788f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-0.02670994959771633f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(0.11280130594968796f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-0.37612318992614746f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.1283791065216064f));
  const __m512 small = _mm512_mul_ps(x, p);
  const __m512 t = _mm512_abs_ps(x);
  const __m512 u = _mm512_sub_ps(_mm512_min_ps(_mm512_set1_ps(4.0f), t), _mm512_set1_ps(2.5f));
  __m512 q = _mm512_set1_ps(1.6140616025950294e-06f);
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-1.3309389942151029e-05f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(7.739442662568763e-05f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.0004201445553917438f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.0021651603747159243f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.01085851714015007f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.9438936114311218f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-5.352680683135986f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-7.806815147399902f));
  const __m512 large = _mm512_sub_ps(_mm512_set1_ps(1.0f), cnnrt_f32_exp_normal_avx512(q));
  const __mmask16 is_small = _mm512_cmp_ps_mask(t, _mm512_set1_ps(1.0f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, cnnrt_f32_copysign_avx512(large, x), small);
}

/* log1pf(t) for t in [0, 1] (and NaN): 2 atanh(s), s = t / (2 + t) <= 1/3,
 * as 2s (1 + z/3 + z^2/5 + ... + z^7/15), z = s^2 (truncation ~1e-9). */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_log1p_unit_avx512(__m512 t) {
  const __m512 s = _mm512_div_ps(t, _mm512_add_ps(_mm512_set1_ps(2.0f), t));
  const __m512 z = _mm512_mul_ps(s, s);
  __m512 p = _mm512_set1_ps(1.0f / 15.0f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 13.0f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 11.0f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 9.0f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 7.0f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 5.0f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / 3.0f));
  const __m512 s2 = _mm512_add_ps(s, s);
  return _mm512_fmadd_ps(_mm512_mul_ps(s2, z), p, s2);
}

/* max_ps/min_ps return their second operand when either is NaN and when both
 * are zeros, which is what the reference's `x < a ? a : x` does with a first. */
static inline __attribute__((always_inline)) __m512 cnnrt_f32_activation_avx512(__m512 x, int activation, float alpha, float beta) {
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
      __m512 gate = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(CNNRT_ONE_SIXTH)), _mm512_set1_ps(0.5f));
      gate = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), gate));
      return _mm512_mul_ps(x, gate);
    }
    case CNNRT_ACT_SIGMOID: {
      const __m512 one = _mm512_set1_ps(1.0f);
      return _mm512_div_ps(one, _mm512_add_ps(one, cnnrt_f32_exp_normal_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    }
    case CNNRT_ACT_SILU: {
      /* x / (1 + e^-x): the reference's x * (1 / (1 + e^-x)) with one rounding
       * less (NaN at -inf, as there: -inf / inf). */
      const __m512 e = cnnrt_f32_exp_normal_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
      return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    }
    case CNNRT_ACT_TANH:
      return cnnrt_f32_tanh_avx512(x);
    case CNNRT_ACT_GELU: {
      const __m512 erf = cnnrt_f32_erf_avx512(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752440f)));
      return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
    }
    case CNNRT_ACT_GELU_TANH: {
      const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), x), x);
      const __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.79788456080286535588f), _mm512_add_ps(x, cube));
      const __m512 th = cnnrt_f32_tanh_avx512(inner);
      return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), th));
    }
    case CNNRT_ACT_ELU: {
      const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(x, negative, _mm512_set1_ps(alpha), cnnrt_f32_expm1_avx512(x));
    }
    case CNNRT_ACT_SOFTPLUS: {
      /* max(x, 0) + log1p(e^-|x|): the reference's two branches in one. */
      const __m512 t = cnnrt_f32_exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
      return _mm512_add_ps(_mm512_max_ps(_mm512_setzero_ps(), x), cnnrt_f32_log1p_unit_avx512(t));
    }
    default:
      return x;
  }
}

#endif
