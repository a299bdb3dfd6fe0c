/*
 * Element-wise binary ops with AVX2 over one span whose operands each step by
 * 1 or 0 (a full row or a broadcast scalar): one IEEE operation per element,
 * so results equal the reference loops (ops/binary.c) bit for bit. y may
 * alias a or b: each vector is loaded before its results are stored. The
 * last partial vector uses maskload and plain partial stores (f32-store-avx2.h;
 * nothing past the span is touched).
 */
#include <immintrin.h>

#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

static inline __m256 load(const float* p, size_t step, size_t i) {
  return step != 0 ? _mm256_loadu_ps(p + i) : _mm256_broadcast_ss(p);
}
static inline __m256 load_tail(const float* p, size_t step, size_t i, __m256i mask) {
  return step != 0 ? _mm256_maskload_ps(p + i, mask) : _mm256_broadcast_ss(p);
}

#define VBINARY_LOOP(expression)                                        \
  do {                                                                  \
    size_t i = 0;                                                       \
    for (; i + 8 <= n; i += 8) {                                        \
      const __m256 va = load(a, a_step, i), vb = load(b, b_step, i);    \
      _mm256_storeu_ps(y + i, (expression));                            \
    }                                                                   \
    if (i < n) {                                                        \
      const __m256i mask = cnnrt_f32_first_lanes_avx2(n - i);                            \
      const __m256 va = load_tail(a, a_step, i, mask);                  \
      const __m256 vb = load_tail(b, b_step, i, mask);                  \
      cnnrt_f32_store_first_avx2(y + i, (expression), n - i);           \
    }                                                                   \
  } while (0)

/* Max / Min: `(a > b || a != a) ? a : b` (and `<`), NaN in a winning, b's
 * NaN or zero otherwise, exactly as the reference. */
static inline __m256 vmax(__m256 va, __m256 vb) {
  const __m256 take_a = _mm256_or_ps(_mm256_cmp_ps(va, vb, _CMP_GT_OQ), _mm256_cmp_ps(va, va, _CMP_UNORD_Q));
  return _mm256_blendv_ps(vb, va, take_a);
}
static inline __m256 vmin(__m256 va, __m256 vb) {
  const __m256 take_a = _mm256_or_ps(_mm256_cmp_ps(va, vb, _CMP_LT_OQ), _mm256_cmp_ps(va, va, _CMP_UNORD_Q));
  return _mm256_blendv_ps(vb, va, take_a);
}

void cnnrt_f32_vbinary__avx2(int op, float* y, const float* a, size_t a_step, const float* b, size_t b_step,
                             size_t n) {
  switch (op) {
    case CNNRT_F32_VBINARY_ADD: VBINARY_LOOP(_mm256_add_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_SUB: VBINARY_LOOP(_mm256_sub_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_MUL: VBINARY_LOOP(_mm256_mul_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_DIV: VBINARY_LOOP(_mm256_div_ps(va, vb)); break;
    case CNNRT_F32_VBINARY_MAX: VBINARY_LOOP(vmax(va, vb)); break;
    case CNNRT_F32_VBINARY_MIN: VBINARY_LOOP(vmin(va, vb)); break;
    default: break;
  }
}
