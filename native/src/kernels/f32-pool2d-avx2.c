/*
 * Max and average pooling of one plane with AVX2, one output row at a time:
 * the window's input rows are first reduced into a row buffer whose columns
 * in the padding hold the reduction's neutral value (-inf for max, 0 for the
 * sum), so that the pass along the row needs no edge tests; stride-2 columns
 * come from two loads, one shuffle and one permute. Partial vectors are
 * written with plain partial stores (f32-store-avx2.h). Max is exact (NaN wins,
 * as in the reference); the average sums rows first, then columns.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

/* max(best, v) where a NaN in either wins: max_ps returns its second operand
 * (best) when either is NaN, then v's NaN lanes are taken from v. */
static inline __m256 max_nan_wins(__m256 best, __m256 v) {
  return _mm256_blendv_ps(_mm256_max_ps(v, best), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

/* Even columns of p[0..15): p[0], p[2], ..., p[14]. */
static inline __m256 even_columns(const float* p) {
  const __m256 even = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8));
}

/* Taps of a window starting at `start` that lie in [low, high), along one dim. */
static size_t taps_inside(ptrdiff_t start, size_t kernel, ptrdiff_t low, ptrdiff_t high) {
  const ptrdiff_t a = start > low ? start : low;
  const ptrdiff_t b = start + (ptrdiff_t)kernel < high ? start + (ptrdiff_t)kernel : high;
  return b > a ? (size_t)(b - a) : 0;
}

void cnnrt_f32_pool2d__avx2(const cnnrt_pool2d_geometry* g, int kind, const float* x, float* y) {
  _Alignas(32) float row[CNNRT_F32_POOL2D_MAX_ROW];
  _Alignas(32) float column_taps[CNNRT_F32_POOL2D_MAX_ROW + 8];
  const int is_max = kind == CNNRT_POOL2D_MAX;
  const float neutral = is_max ? -INFINITY : 0.0f;
  const size_t in_w = g->in_w, out_w = g->out_w, kw = g->kernel_w, sw = g->stride_w;
  const ptrdiff_t pad_left = g->pad_left;
  /* row[j] holds input column j - pad_left, for every column an 8-wide output
   * block reads (a stride-2 block reads 16 columns per tap). */
  const size_t width = (out_w + 7) / 8 * 8 * sw + kw + 8;
  for (size_t j = 0; j < width; j++) row[j] = neutral;
  /* The input columns [first, last) that land in the buffer. */
  const size_t first = pad_left < 0 ? (size_t)(-pad_left) : 0;
  size_t last = in_w;
  if ((ptrdiff_t)last + pad_left > (ptrdiff_t)width) {
    last = (ptrdiff_t)width > pad_left ? (size_t)((ptrdiff_t)width - pad_left) : 0;
  }
  float* const image = row + pad_left; /* image[ix] is input column ix */
  if (!is_max) {
    const ptrdiff_t low = g->count_include_pad ? -g->pad_left : 0;
    const ptrdiff_t high = g->count_include_pad ? (ptrdiff_t)in_w + g->pad_right : (ptrdiff_t)in_w;
    for (size_t ox = 0; ox < out_w; ox++) {
      column_taps[ox] = (float)taps_inside((ptrdiff_t)(ox * sw) - pad_left, kw, low, high);
    }
    for (size_t ox = out_w; ox < out_w + 8; ox++) column_taps[ox] = 1.0f;
  }
  for (size_t oy = 0; oy < g->out_h; oy++) {
    const ptrdiff_t y0 = (ptrdiff_t)(oy * g->stride_h) - g->pad_top;
    const ptrdiff_t r0 = y0 < 0 ? 0 : y0;
    const ptrdiff_t r1 = y0 + (ptrdiff_t)g->kernel_h < (ptrdiff_t)g->in_h ? y0 + (ptrdiff_t)g->kernel_h
                                                                          : (ptrdiff_t)g->in_h;
    /* Down the window's rows, into the row buffer. */
    size_t ix = first;
    for (; ix + 8 <= last; ix += 8) {
      __m256 acc = _mm256_set1_ps(neutral);
      for (ptrdiff_t iy = r0; iy < r1; iy++) {
        const __m256 v = _mm256_loadu_ps(x + (size_t)iy * in_w + ix);
        acc = is_max ? max_nan_wins(acc, v) : _mm256_add_ps(acc, v);
      }
      _mm256_storeu_ps(image + ix, acc);
    }
    if (ix < last) {
      const __m256i mask = cnnrt_f32_first_lanes_avx2(last - ix);
      __m256 acc = _mm256_set1_ps(neutral);
      for (ptrdiff_t iy = r0; iy < r1; iy++) {
        const __m256 v = _mm256_maskload_ps(x + (size_t)iy * in_w + ix, mask);
        acc = is_max ? max_nan_wins(acc, v) : _mm256_add_ps(acc, v);
      }
      cnnrt_f32_store_first_avx2(image + ix, acc, last - ix);
    }
    /* Along the row buffer, 8 outputs at a time. */
    float* out = y + oy * out_w;
    __m256 rows_counted = _mm256_setzero_ps();
    if (!is_max) {
      const ptrdiff_t low = g->count_include_pad ? -g->pad_top : 0;
      const ptrdiff_t high = g->count_include_pad ? (ptrdiff_t)g->in_h + g->pad_bottom : (ptrdiff_t)g->in_h;
      rows_counted = _mm256_set1_ps((float)taps_inside(y0, g->kernel_h, low, high));
    }
    for (size_t ox = 0; ox < out_w; ox += 8) {
      const float* p = row + ox * sw;
      __m256 acc = _mm256_set1_ps(neutral);
      for (size_t kx = 0; kx < kw; kx++) {
        const __m256 v = sw == 1 ? _mm256_loadu_ps(p + kx) : even_columns(p + kx);
        acc = is_max ? max_nan_wins(acc, v) : _mm256_add_ps(acc, v);
      }
      if (!is_max) {
        __m256 divisor = _mm256_mul_ps(rows_counted, _mm256_loadu_ps(column_taps + ox));
        const __m256 empty = _mm256_cmp_ps(divisor, _mm256_setzero_ps(), _CMP_EQ_OQ);
        divisor = _mm256_blendv_ps(divisor, _mm256_set1_ps(1.0f), empty);
        acc = _mm256_div_ps(acc, divisor);
      }
      cnnrt_f32_store_first_avx2(out + ox, acc, out_w - ox);
    }
  }
}

void cnnrt_f32_global_average__avx2(const float* x, size_t plane, size_t planes, float* y) {
  for (size_t p = 0; p < planes; p++, x += plane) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= plane; i += 16) {
      acc0 = _mm256_add_ps(acc0, _mm256_loadu_ps(x + i));
      acc1 = _mm256_add_ps(acc1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i < plane; i += 8) acc0 = _mm256_add_ps(acc0, _mm256_maskload_ps(x + i, cnnrt_f32_first_lanes_avx2(plane - i)));
    const __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    y[p] = plane > 0 ? _mm_cvtss_f32(sum) / (float)plane : 0.0f;
  }
}
