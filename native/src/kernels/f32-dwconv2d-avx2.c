/*
 * Depthwise convolution with AVX2 + FMA, along output rows. Each input plane
 * is first copied into scratch with its zero padding made explicit (rows of a
 * stride-2 convolution split into their even and odd columns), so every tap
 * of an 8-wide output block is one unaligned load and one fused multiply-add
 * with no edge tests. Four output vectors run side by side (independent FMA
 * chains). Each output sums its taps in (ky, kx) order from zero, as the
 * contract in kernels.h says; bias, residual and activation follow in
 * registers.
 *
 * Scratch layout (within cnnrt_f32_dwconv2d_scratch_floats, which sizes
 * 16-wide rows): padded rows of round8(round8(out_w) + kw - 1) floats for
 * stride 1; for stride 2, rows of 2 * half floats, half =
 * round8(round8(out_w) + kw / 2), even columns first, then odd ones.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/f32-activation-avx2.h"
#include "kernels/kernels.h"

static inline size_t round8(size_t n) { return (n + 7) / 8 * 8; }

static inline __m256i first_lanes(size_t n) {
  static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i*)(lanes + 8 - (n >= 8 ? 8 : n)));
}

/* The padded row length; *half is the length of the even (and of the odd)
 * part of a stride-2 row, 0 for stride 1. */
static size_t padded_row_floats(const cnnrt_conv2d_geometry* g, size_t* half) {
  if (g->stride_w == 1) {
    *half = 0;
    return round8(round8(g->out_w) + g->kernel_w - 1);
  }
  *half = round8(round8(g->out_w) + g->kernel_w / 2);
  return 2 * *half;
}

/* Lanes whose input column first + lane lies in [0, in_w). */
static inline __m256i columns_inside(ptrdiff_t first, ptrdiff_t in_w) {
  const __m256i column = _mm256_add_epi32(_mm256_set1_epi32((int32_t)first), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_and_si256(_mm256_cmpgt_epi32(column, _mm256_set1_epi32(-1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)in_w), column));
}

/* Input columns [first, first + 8) of one row, zero outside the row. maskload
 * never touches the lanes masked off, so nothing outside the row is read. */
static inline __m256 load_columns(const float* in, ptrdiff_t first, ptrdiff_t in_w) {
  if (first >= 0 && first + 8 <= in_w) return _mm256_loadu_ps(in + first);
  if (first >= 0) return _mm256_maskload_ps(in + first, columns_inside(first, in_w));
  /* The left edge: in + first would point before the row. */
  float lanes[8];
  for (ptrdiff_t l = 0; l < 8; l++) lanes[l] = first + l >= 0 && first + l < in_w ? in[first + l] : 0.0f;
  return _mm256_loadu_ps(lanes);
}

/* scratch row r = input row r - pad_top, input column ix at ix + pad_left
 * (stride 2: the even padded columns, then the odd ones, built 16 columns
 * at a time straight from the input). */
static void pad_plane(const cnnrt_conv2d_geometry* g, const float* plane, float* scratch, size_t rows, size_t row,
                      size_t half) {
  const ptrdiff_t pad_left = g->pad_left, in_w = (ptrdiff_t)g->in_w;
  for (size_t r = 0; r < rows; r++) {
    const ptrdiff_t iy = (ptrdiff_t)r - g->pad_top;
    float* out = scratch + r * row;
    if (iy < 0 || iy >= (ptrdiff_t)g->in_h) {
      for (size_t j = 0; j < row; j += 8) _mm256_storeu_ps(out + j, _mm256_setzero_ps());
      continue;
    }
    const float* in = plane + (size_t)iy * g->in_w;
    if (g->stride_w == 1) {
      const size_t left = (size_t)pad_left < row ? (size_t)pad_left : row;
      const size_t copy = g->in_w < row - left ? g->in_w : row - left;
      memset(out, 0, left * sizeof(float));
      memcpy(out + left, in, copy * sizeof(float));
      memset(out + left + copy, 0, (row - left - copy) * sizeof(float));
    } else {
      for (size_t j = 0; j < half; j += 8) {
        const ptrdiff_t first = (ptrdiff_t)(2 * j) - pad_left;
        const __m256 a = load_columns(in, first, in_w), b = load_columns(in, first + 8, in_w);
        /* Per 128-bit half: columns 0 2 8 10 | 4 6 12 14 (odd: 1 3 9 11 | 5 7 13 15);
         * the permute puts the 64-bit pairs in order. */
        const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 odd = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(out + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8)));
        _mm256_storeu_ps(out + half + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odd), 0xD8)));
      }
    }
  }
}

static inline __m256 finish(__m256 acc, const cnnrt_f32_epilogue_params* e, float bias, const float* residual,
                            __m256i mask) {
  if (bias != 0.0f) acc = _mm256_add_ps(acc, _mm256_set1_ps(bias));
  if (residual != NULL) acc = _mm256_add_ps(acc, _mm256_maskload_ps(residual, mask));
  return cnnrt_f32_activation_avx2(acc, e->activation, e->alpha, e->beta);
}

/* The taps of four output vectors at once (independent FMA chains), vector
 * i reading its first tap at wi; each sums in (ky, kx) order from zero. */
static inline __attribute__((always_inline)) void taps4(const float* w0, const float* w1, const float* w2,
                                                        const float* w3, const float* filter, size_t kh, size_t kw,
                                                        size_t row, size_t half, size_t stride_w, __m256* acc) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  for (size_t ky = 0; ky < kh; ky++, w0 += row, w1 += row, w2 += row, w3 += row) {
    const float* taps = filter + ky * kw;
    for (size_t kx = 0; kx < kw; kx++) {
      const size_t offset = stride_w == 1 ? kx : (kx & 1) * half + kx / 2;
      const __m256 weight = _mm256_broadcast_ss(taps + kx);
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + offset), weight, acc0);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + offset), weight, acc1);
      acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + offset), weight, acc2);
      acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + offset), weight, acc3);
    }
  }
  acc[0] = acc0, acc[1] = acc1, acc[2] = acc2, acc[3] = acc3;
}

/* The first `lanes` of 8 results, after the epilogue, to out. */
static inline void store(__m256 acc, float* out, const float* residual, size_t lanes,
                         const cnnrt_f32_epilogue_params* e, float bias) {
  if (lanes >= 8) {
    _mm256_storeu_ps(out, finish(acc, e, bias, residual, _mm256_set1_epi32(-1)));
  } else {
    const __m256i mask = first_lanes(lanes);
    _mm256_maskstore_ps(out, mask, finish(acc, e, bias, residual, mask));
  }
}

/* Rows wider than two vectors go along each row, 32 outputs at a time (a
 * ragged end reuses the last vector's window for the lanes it drops). Narrow
 * planes (7 x 7, 14 x 14) take their output vectors four at a time across
 * rows, so they get as many independent FMA chains as wide ones. */
void cnnrt_f32_dwconv2d__avx2(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                              const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin,
                              size_t oc_end, float* scratch) {
  const size_t multiplier = g->out_channels / g->groups;
  const size_t kh = g->kernel_h, kw = g->kernel_w, out_w = g->out_w, out_h = g->out_h, stride_w = g->stride_w;
  const size_t rows = (out_h - 1) * g->stride_h + kh, step = g->stride_h;
  size_t half;
  const size_t row = padded_row_floats(g, &half);
  const size_t per_row = (out_w + 7) / 8, vectors = per_row * out_h;
  const int vector_activation = cnnrt_f32_activation_avx2_has(e->activation);
  size_t padded_channel = (size_t)-1;
  for (size_t oc = oc_begin; oc < oc_end; oc++) {
    const size_t channel = oc / multiplier;
    if (channel != padded_channel) {
      pad_plane(g, x + (n * g->in_channels + channel) * g->in_h * g->in_w, scratch, rows, row, half);
      padded_channel = channel;
    }
    const float* filter = w + oc * kh * kw;
    const float bias = e->bias != NULL ? e->bias[oc] : 0.0f;
    const size_t plane_offset = (n * g->out_channels + oc) * out_h * out_w;
    float* const plane = y + plane_offset;
    const float* const residual_plane = e->residual != NULL ? e->residual + plane_offset : NULL;
    __m256 acc[4];
    if (per_row > 2) {
      const size_t last = (per_row - 1) * 8; /* the last vector of a row */
      for (size_t oy = 0; oy < out_h; oy++) {
        const float* window = scratch + oy * step * row;
        float* out = plane + oy * out_w;
        const float* residual = residual_plane != NULL ? residual_plane + oy * out_w : NULL;
        for (size_t ox = 0; ox < out_w; ox += 32) {
          const size_t o1 = ox + 8 < last ? ox + 8 : last, o2 = ox + 16 < last ? ox + 16 : last;
          const size_t o3 = ox + 24 < last ? ox + 24 : last;
          taps4(window + ox, window + o1, window + o2, window + o3, filter, kh, kw, row, half, stride_w, acc);
          for (size_t i = 0; i < 4 && ox + 8 * i < out_w; i++) {
            const size_t at = ox + 8 * i;
            store(acc[i], out + at, residual != NULL ? residual + at : NULL, out_w - at, e, bias);
          }
        }
      }
    } else {
      size_t oy = 0, ox = 0; /* the next output vector */
      for (size_t v0 = 0; v0 < vectors; v0 += 4) {
        size_t at[4], lanes[4];
        const float* window[4];
        for (size_t i = 0; i < 4; i++) {
          if (v0 + i >= vectors) { /* past the plane: repeat the first vector, dropped */
            at[i] = at[0], window[i] = window[0], lanes[i] = 0;
            continue;
          }
          at[i] = oy * out_w + ox;
          window[i] = scratch + oy * step * row + ox;
          lanes[i] = out_w - ox < 8 ? out_w - ox : 8;
          ox += 8;
          if (ox >= out_w) ox = 0, oy++;
        }
        taps4(window[0], window[1], window[2], window[3], filter, kh, kw, row, half, stride_w, acc);
        for (size_t i = 0; i < 4 && lanes[i] != 0; i++) {
          store(acc[i], plane + at[i], residual_plane != NULL ? residual_plane + at[i] : NULL, lanes[i], e, bias);
        }
      }
    }
    if (!vector_activation) cnnrt_f32_activation_ref(plane, out_h * out_w, e->activation, e->alpha, e->beta);
  }
}
