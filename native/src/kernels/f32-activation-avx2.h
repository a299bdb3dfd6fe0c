/*
 * The activations of fused epilogues and unary ops on 8 floats, for AVX2 + FMA
 * kernels only (include from *-avx2.c files).
 *
 * ReLU, LeakyReLU, Clip, HardSigmoid and HardSwish use the reference's
 * arithmetic (f32-activation-ref.c) operation for operation, so the results
 * are equal bit for bit, NaN passing through as there.
 *
 * Sigmoid, SiLU, Tanh, GELU (both forms), ELU and Softplus are built on the
 * vector expf/expm1f/tanhf/erff below and the reference's formulas; they are
 * within a few ulp of the reference (test_kernels.c measures it over millions
 * of inputs), NaN, infinities, zeros and denormals going where the
 * reference's go. The approximations are those of f32-activation-avx512.h,
 * operation for operation; where AVX-512 scales by 2^n with one scalef, this
 * file multiplies by two powers of two (see cnnrt_f32_exp2_split_avx2), which
 * rounds once too, so both levels give the same bits.
 */
#ifndef CNNRT_F32_ACTIVATION_AVX2_H
#define CNNRT_F32_ACTIVATION_AVX2_H

#include <immintrin.h>

#include "internal.h"

/* 1 when cnnrt_f32_activation_avx2 computes `activation`: every one. */
static inline int cnnrt_f32_activation_avx2_has(int activation) {
  return activation >= 0 && activation < CNNRT_ACT_COUNT;
}

static inline __attribute__((always_inline)) __m256 cnnrt_f32_abs_avx2(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

/* n (an integer in [-150, 128], or NaN) as two powers of two whose product is
 * 2^n, each a normal float: 2^floor(n/2) and 2^(n - floor(n/2)), both within
 * [2^-75, 2^64]. v * first is then exact for v = e^r in [0.7, 1.42], and
 * (v * first) * second rounds once, as scalef does: to a denormal, to zero,
 * or to infinity past the range. For NaN n the pair is garbage, and the
 * product stays NaN because v is NaN too. */
static inline __attribute__((always_inline)) void cnnrt_f32_exp2_split_avx2(__m256 n, __m256* first, __m256* second) {
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256i rest = _mm256_sub_epi32(ni, half);
  const __m256i bias = _mm256_set1_epi32(127);
  *first = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  *second = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
}

static inline __attribute__((always_inline)) __m256 cnnrt_f32_scale_avx2(__m256 v, __m256 first, __m256 second) {
  return _mm256_mul_ps(_mm256_mul_ps(v, first), second);
}

/* e^r - 1 = r + r^2 P(r) on |r| <= ln2/2 (Cephes expf polynomial, ~1 ulp). */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_expm1_poly_avx2(__m256 r) {
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  return _mm256_fmadd_ps(_mm256_mul_ps(r, r), p, r);
}

/* e^r - 1 for the reduced argument of x: n = round(x / ln 2), r = x - n ln 2
 * (Cody-Waite, two constants), e^r - 1 = r + r^2 P(r) on |r| <= ln2/2 (Cephes
 * expf polynomial, ~1 ulp). x is first clamped to [-104, 89], past which e^x
 * is 0 or inf in float; NaN stays NaN (max/min return their second operand). */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_expm1_reduced_avx2(__m256 x, __m256* n) {
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
  *n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(*n, _mm256_set1_ps(0.693359375f), x); /* exact: n * 0.693359375 has <= 17 bits */
  r = _mm256_fnmadd_ps(*n, _mm256_set1_ps(-2.12194440e-4f), r);
  return cnnrt_f32_expm1_poly_avx2(r);
}

/* expf: (1 + (e^r - 1)) * 2^n, one rounding in the scaling. */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_exp_avx2(__m256 x) {
  __m256 n, first, second;
  const __m256 q = cnnrt_f32_expm1_reduced_avx2(x, &n);
  cnnrt_f32_exp2_split_avx2(n, &first, &second);
  return cnnrt_f32_scale_avx2(_mm256_add_ps(_mm256_set1_ps(1.0f), q), first, second);
}

/* expm1f: (e^r - 1) * 2^n + (2^n - 1), exact in its last step for n = 0
 * (|x| <= ln2/2), where e^x - 1 would cancel. */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_expm1_avx2(__m256 x) {
  __m256 n, first, second;
  const __m256 q = cnnrt_f32_expm1_reduced_avx2(x, &n);
  cnnrt_f32_exp2_split_avx2(n, &first, &second);
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_add_ps(cnnrt_f32_scale_avx2(q, first, second),
                       _mm256_sub_ps(_mm256_mul_ps(first, second), one));
}

/* e^x where that is a normal float or overflows (to inf past FLT_MAX, as
 * expf), for the callers in which e^x < 2^-24 is as good as any other tiny
 * value (1 + e^x rounds to 1 alike): x is clamped to [-86, 89], so e^x >=
 * e^-86 ~ 4e-38. n = round(x / ln 2) comes from one FMA with a shifter
 * (1.5 * 2^23 + 126), whose low bits are then n + 126, the exponent field of
 * 2^(n-1) (n in [-124, 128]); e^x = ((1 + q) 2^(n-1)) 2 with q = e^r - 1 as in
 * cnnrt_f32_expm1_reduced: the first product (one FMA) is a normal float and
 * rounds once, the doubling is exact or overflows as expf does. 16 operations against the 25 of
 * cnnrt_f32_exp (which keeps denormal results for Softplus). */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_exp_normal_avx2(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-86.0f), x));
  const __m256 shifter = _mm256_set1_ps(12583038.0f); /* 0x1.8p23 + 126 */
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), shifter);
  const __m256 n = _mm256_sub_ps(t, shifter); /* exact */
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  const __m256 q = cnnrt_f32_expm1_poly_avx2(r);
  const __m256 half_scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)); /* 2^(n-1) */
  return _mm256_mul_ps(_mm256_fmadd_ps(q, half_scale, half_scale), _mm256_set1_ps(2.0f));
}

static inline __attribute__((always_inline)) __m256 cnnrt_f32_copysign_avx2(__m256 magnitude, __m256 sign) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(sign_bit, magnitude), _mm256_and_ps(sign_bit, sign));
}

/* tanhf (Cephes): x + x^3 P(x^2) for |x| < 0.625, else 1 - 2 / (e^2|x| + 1)
 * with x's sign (2 / inf = 0 gives +-1 for large |x| and +-inf). */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_tanh_avx2(__m256 x) {
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, z), p, x);
  const __m256 t = cnnrt_f32_abs_avx2(x);
  const __m256 e = cnnrt_f32_exp_normal_avx2(_mm256_add_ps(t, t));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  const __m256 is_small = _mm256_cmp_ps(t, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
  return _mm256_blendv_ps(cnnrt_f32_copysign_avx2(large, x), small, is_small);
}

/* erff: x P(x^2) for |x| < 1 (relative error 5e-8 before rounding);
 * 1 - exp(Q(|x| - 2.5)) with x's sign for |x| >= 1, where Q approximates
 * log(erfc) on [1, 4] (absolute error 2e-7); |x| is clamped to 4, past which
 * erff is +-1. The fits of f32-activation-avx512.h. */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_erf_avx2(__m256 x) {
  const __m256 s = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-0.0005625396152026951f);
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(0.004916023463010788f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-0.02670994959771633f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(0.11280130594968796f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-0.37612318992614746f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.1283791065216064f));
  const __m256 small = _mm256_mul_ps(x, p);
  const __m256 t = cnnrt_f32_abs_avx2(x);
  const __m256 u = _mm256_sub_ps(_mm256_min_ps(_mm256_set1_ps(4.0f), t), _mm256_set1_ps(2.5f));
  __m256 q = _mm256_set1_ps(1.6140616025950294e-06f);
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-1.3309389942151029e-05f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(7.739442662568763e-05f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.0004201445553917438f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(0.0021651603747159243f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.01085851714015007f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.9438936114311218f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-5.352680683135986f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-7.806815147399902f));
  const __m256 large = _mm256_sub_ps(_mm256_set1_ps(1.0f), cnnrt_f32_exp_normal_avx2(q));
  const __m256 is_small = _mm256_cmp_ps(t, _mm256_set1_ps(1.0f), _CMP_LT_OQ);
  return _mm256_blendv_ps(cnnrt_f32_copysign_avx2(large, x), small, is_small);
}

/* log1pf(t) for t in [0, 1] (and NaN): 2 atanh(s), s = t / (2 + t) <= 1/3,
 * as 2s (1 + z/3 + z^2/5 + ... + z^7/15), z = s^2 (truncation ~1e-9). */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_log1p_unit_avx2(__m256 t) {
  const __m256 s = _mm256_div_ps(t, _mm256_add_ps(_mm256_set1_ps(2.0f), t));
  const __m256 z = _mm256_mul_ps(s, s);
  __m256 p = _mm256_set1_ps(1.0f / 15.0f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.0f / 13.0f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.0f / 11.0f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.0f / 9.0f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.0f / 7.0f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.0f / 5.0f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.0f / 3.0f));
  const __m256 s2 = _mm256_add_ps(s, s);
  return _mm256_fmadd_ps(_mm256_mul_ps(s2, z), p, s2);
}

/* max_ps/min_ps return their second operand when either is NaN and when both
 * are zeros, which is what the reference's `x < a ? a : x` does with a first.
 * blendv_ps(a, b, mask) takes b where mask is set. */
static inline __attribute__((always_inline)) __m256 cnnrt_f32_activation_avx2(__m256 x, int activation, float alpha, float beta) {
  switch (activation) {
    case CNNRT_ACT_RELU:
      return _mm256_max_ps(_mm256_setzero_ps(), x);
    case CNNRT_ACT_LEAKY_RELU: {
      const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
      return _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(alpha)), negative);
    }
    case CNNRT_ACT_CLIP:
      return _mm256_min_ps(_mm256_set1_ps(beta), _mm256_max_ps(_mm256_set1_ps(alpha), x));
    case CNNRT_ACT_HARD_SIGMOID: {
      const __m256 y = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(alpha), x), _mm256_set1_ps(beta));
      return _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), y));
    }
    case CNNRT_ACT_HARD_SWISH: {
      __m256 gate = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(CNNRT_ONE_SIXTH)), _mm256_set1_ps(0.5f));
      gate = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), gate));
      return _mm256_mul_ps(x, gate);
    }
    case CNNRT_ACT_SIGMOID: {
      const __m256 one = _mm256_set1_ps(1.0f);
      return _mm256_div_ps(one, _mm256_add_ps(one, cnnrt_f32_exp_normal_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    }
    case CNNRT_ACT_SILU: {
      /* x / (1 + e^-x): the reference's x * (1 / (1 + e^-x)) with one rounding
       * less (NaN at -inf, as there: -inf / inf). */
      const __m256 e = cnnrt_f32_exp_normal_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
      return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    }
    case CNNRT_ACT_TANH:
      return cnnrt_f32_tanh_avx2(x);
    case CNNRT_ACT_GELU: {
      const __m256 erf = cnnrt_f32_erf_avx2(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752440f)));
      return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
    }
    case CNNRT_ACT_GELU_TANH: {
      const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), x), x);
      const __m256 inner = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286535588f), _mm256_add_ps(x, cube));
      const __m256 th = cnnrt_f32_tanh_avx2(inner);
      return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), th));
    }
    case CNNRT_ACT_ELU: {
      const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
      return _mm256_blendv_ps(x, _mm256_mul_ps(_mm256_set1_ps(alpha), cnnrt_f32_expm1_avx2(x)), negative);
    }
    case CNNRT_ACT_SOFTPLUS: {
      /* max(x, 0) + log1p(e^-|x|): the reference's two branches in one. */
      const __m256 t = cnnrt_f32_exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), cnnrt_f32_abs_avx2(x)));
      return _mm256_add_ps(_mm256_max_ps(_mm256_setzero_ps(), x), cnnrt_f32_log1p_unit_avx2(t));
    }
    default:
      return x;
  }
}

#endif
