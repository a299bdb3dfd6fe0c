/*
 * Max and average pooling of one plane with AVX2, one output row at a time:
 * the window's input rows are first reduced into a row buffer whose columns
 * in the padding hold the reduction's neutral value (-inf for max, 0 for the
 * sum), so that the pass along the row needs no edge tests; stride-2 columns
 * come from two loads, one shuffle and one permute. Partial vectors are
 * written with plain partial stores (f32-store-avx2.h). Max is exact (NaN wins,
 * as in the reference): planes without a NaN take plain maxima with a NaN
 * check beside them (below), the others the loop that tests every tap; the
 * average sums rows first, then columns.
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

/* ---- max pool, fast path ---------------------------------------------------
 * A row of outputs from plain maxima: with no NaN among the inputs, max_ps(v,
 * acc) in tap order gives the bits of max_nan_wins (ties and -0/+0 resolved
 * the same way). Each column's window rows are also summed as a NaN check (a
 * NaN in any of them makes the sum NaN; so does inf - inf, harmlessly); a
 * plane whose check fires is computed again by the exact loop. Kernel sizes and
 * strides are constants (KH, KW, SW; 0 = the geometry's), so the common
 * windows (3x3 and 2x2) are unrolled. */
#define POOL_INLINE static inline __attribute__((always_inline))

/* Vertical maxima of input rows [r0, r1) into image[first, last); returns the NaN check (all-ones lanes
 * where a column's sum was NaN). */
POOL_INLINE __m256 max_rows(const float* x, size_t in_w, ptrdiff_t r0, ptrdiff_t r1, size_t first, size_t last,
                            float* image, int KH) {
  __m256 check = _mm256_setzero_ps();
  const size_t rows = r1 > r0 ? (size_t)(r1 - r0) : 0; /* a window wholly in the padding reads no row */
  const float* top = x + (size_t)r0 * in_w;
  size_t ix = first;
  if (KH != 0 && rows == (size_t)KH) {
    for (; ix + 16 <= last; ix += 16) {
      __m256 m0 = _mm256_loadu_ps(top + ix), m1 = _mm256_loadu_ps(top + ix + 8);
      __m256 s0 = m0, s1 = m1;
      for (int r = 1; r < KH; r++) {
        const __m256 v0 = _mm256_loadu_ps(top + r * in_w + ix), v1 = _mm256_loadu_ps(top + r * in_w + ix + 8);
        m0 = _mm256_max_ps(v0, m0), m1 = _mm256_max_ps(v1, m1);
        s0 = _mm256_add_ps(s0, v0), s1 = _mm256_add_ps(s1, v1);
      }
      _mm256_storeu_ps(image + ix, m0);
      _mm256_storeu_ps(image + ix + 8, m1);
      check = _mm256_or_ps(check, _mm256_cmp_ps(s0, s1, _CMP_UNORD_Q));
    }
  }
  for (; ix < last; ix += 8) {
    const size_t n = last - ix < 8 ? last - ix : 8;
    const __m256i mask = cnnrt_f32_first_lanes_avx2(n);
    __m256 m = _mm256_set1_ps(-INFINITY), sum = _mm256_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
      const __m256 v = n == 8 ? _mm256_loadu_ps(top + r * in_w + ix) : _mm256_maskload_ps(top + r * in_w + ix, mask);
      m = _mm256_max_ps(v, m);
      sum = _mm256_add_ps(sum, v);
    }
    cnnrt_f32_store_first_avx2(image + ix, m, n);
    check = _mm256_or_ps(check, _mm256_cmp_ps(sum, sum, _CMP_UNORD_Q));
  }
  return check;
}

/* Odd columns of p[0..15): p[1], p[3], ..., p[15]. */
static inline __m256 odd_columns(const float* p) {
  const __m256 odd = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odd), 0xD8));
}

/* Tap kx of 8 outputs from the row buffer at p (the block's first window), columns `step` apart. */
POOL_INLINE __m256 max_tap(const float* p, size_t kx, size_t step) {
  if (step == 1) return _mm256_loadu_ps(p + kx);
  return kx % 2 == 0 ? even_columns(p + kx) : odd_columns(p + kx - 1);
}

POOL_INLINE void max_columns(const float* row, size_t out_w, size_t kw, size_t sw, float* out, int KW, int SW) {
  const size_t taps = KW != 0 ? (size_t)KW : kw, step = SW != 0 ? (size_t)SW : sw;
  size_t ox = 0;
  for (; ox + 16 <= out_w; ox += 16) {
    const float* p0 = row + ox * step;
    const float* p1 = row + (ox + 8) * step;
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = _mm256_set1_ps(-INFINITY);
    for (size_t kx = 0; kx < taps; kx++) {
      m0 = _mm256_max_ps(max_tap(p0, kx, step), m0);
      m1 = _mm256_max_ps(max_tap(p1, kx, step), m1);
    }
    _mm256_storeu_ps(out + ox, m0);
    _mm256_storeu_ps(out + ox + 8, m1);
  }
  for (; ox < out_w; ox += 8) {
    const float* p = row + ox * step;
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (size_t kx = 0; kx < taps; kx++) m = _mm256_max_ps(max_tap(p, kx, step), m);
    cnnrt_f32_store_first_avx2(out + ox, m, out_w - ox);
  }
}

/* The output rows of a max pool; 0 when a row met a NaN check (the caller redoes the plane exactly). */
POOL_INLINE int max_plane(const cnnrt_pool2d_geometry* g, const float* x, float* y, float* row, size_t first,
                          size_t last, int KH, int KW, int SW) {
  float* const image = row + g->pad_left;
  for (size_t oy = 0; oy < g->out_h; oy++) {
    const ptrdiff_t y0 = (ptrdiff_t)(oy * g->stride_h) - g->pad_top;
    const ptrdiff_t r0 = y0 < 0 ? 0 : y0;
    const ptrdiff_t r1 = y0 + (ptrdiff_t)g->kernel_h < (ptrdiff_t)g->in_h ? y0 + (ptrdiff_t)g->kernel_h
                                                                          : (ptrdiff_t)g->in_h;
    const __m256 check = max_rows(x, g->in_w, r0, r1, first, last, image, KH);
    if (_mm256_movemask_ps(check) != 0) return 0;
    max_columns(row, g->out_w, g->kernel_w, g->stride_w, y + oy * g->out_w, KW, SW);
  }
  return 1;
}

static int max_plane_any(const cnnrt_pool2d_geometry* g, const float* x, float* y, float* row, size_t first,
                         size_t last) {
  const size_t kh = g->kernel_h, kw = g->kernel_w, sw = g->stride_w;
  if (kh == 3 && kw == 3 && sw == 2) return max_plane(g, x, y, row, first, last, 3, 3, 2);
  if (kh == 3 && kw == 3 && sw == 1) return max_plane(g, x, y, row, first, last, 3, 3, 1);
  if (kh == 2 && kw == 2 && sw == 2) return max_plane(g, x, y, row, first, last, 2, 2, 2);
  return max_plane(g, x, y, row, first, last, 0, 0, 0);
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
  /* Otherwise (a NaN) the exact loop below; both write the same columns of the row buffer. */
  if (is_max && max_plane_any(g, x, y, row, first, last)) return;
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
