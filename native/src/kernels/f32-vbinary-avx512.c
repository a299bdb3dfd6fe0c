/*
 * Element-wise binary ops with AVX-512 over one span whose operands each step
 * by 1 or 0 (a full row or a broadcast scalar): one IEEE operation per
 * element, so results equal the reference loops (ops/binary.c) bit for bit.
 * y may alias a or b: each vector is loaded before its results are stored.
 */
#include <immintrin.h>

#include "kernels/kernels.h"

static inline __m512 load(const float* p, size_t step, size_t i, __mmask16 mask) {
  return step != 0 ? _mm512_maskz_loadu_ps(mask, p + i) : _mm512_set1_ps(p[0]);
}

#define VBINARY_LOOP(expression)                                                              \
  for (size_t i = 0; i < n; i += 16) {                                                        \
    const __mmask16 mask = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u); \
    const __m512 va = load(a, a_step, i, mask), vb = load(b, b_step, i, mask);                \
    _mm512_mask_storeu_ps(y + i, mask, (expression));                                         \
  }

/* Max / Min: `(a > b || a != a) ? a : b` (and `<`), NaN in a winning, b's
 * NaN or zero otherwise, exactly as the reference. */
static inline __m512 vmax(__m512 va, __m512 vb) {
  const __mmask16 take_a = _mm512_cmp_ps_mask(va, vb, _CMP_GT_OQ) | _mm512_cmp_ps_mask(va, va, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(take_a, vb, va);
}
static inline __m512 vmin(__m512 va, __m512 vb) {
  const __mmask16 take_a = _mm512_cmp_ps_mask(va, vb, _CMP_LT_OQ) | _mm512_cmp_ps_mask(va, va, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(take_a, vb, va);
}

void cnnrt_f32_vbinary__avx512(int op, float* y, const float* a, size_t a_step, const float* b, size_t b_step,
                               size_t n) {
  switch (op) {
    case CNNRT_F32_VBINARY_ADD: VBINARY_LOOP(_mm512_add_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_SUB: VBINARY_LOOP(_mm512_sub_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_MUL: VBINARY_LOOP(_mm512_mul_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_DIV: VBINARY_LOOP(_mm512_div_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_MAX: VBINARY_LOOP(vmax(va, vb)); break;
    case CNNRT_F32_VBINARY_MIN: VBINARY_LOOP(vmin(va, vb)); break;
    default: break;
  }
}
