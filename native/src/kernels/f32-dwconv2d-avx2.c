/*
 * Depthwise convolution with AVX2 + FMA, along output rows. Each input plane
 * is first copied into scratch with its zero padding made explicit (rows of a
 * stride-2 convolution split into their even and odd columns), so every tap
 * of an 8-wide output block is one unaligned load and one fused multiply-add
 * with no edge tests. Up to four blocks run side by side (independent FMA
 * chains). Each output sums its taps in (ky, kx) order from zero, as the
 * contract in kernels.h says; bias, residual and activation follow in
 * registers.
 *
 * Scratch layout (within cnnrt_f32_dwconv2d_scratch_floats, which sizes
 * 16-wide rows): padded rows of round8(round8(out_w) + kw - 1) floats for
 * stride 1; for stride 2, rows of 2 * half floats, half =
 * round8(round8(out_w) + kw / 2), even columns first, then odd ones, and one
 * more row past the plane where each row is built before its split.
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

/* scratch row r = input row r - pad_top, input column ix at ix + pad_left
 * (stride 2: split into even and odd padded columns). */
static void pad_plane(const cnnrt_conv2d_geometry* g, const float* plane, float* scratch, size_t rows, size_t row,
                      size_t half) {
  const size_t pad_left = (size_t)g->pad_left;
  const size_t copy = pad_left >= row ? 0 : (g->in_w < row - pad_left ? g->in_w : row - pad_left);
  float* build = scratch + rows * row;
  for (size_t r = 0; r < rows; r++) {
    const ptrdiff_t iy = (ptrdiff_t)r - g->pad_top;
    float* out = scratch + r * row;
    if (iy < 0 || iy >= (ptrdiff_t)g->in_h || copy == 0) {
      memset(out, 0, row * sizeof(float));
      continue;
    }
    float* target = g->stride_w == 1 ? out : build;
    memset(target, 0, pad_left * sizeof(float));
    memcpy(target + pad_left, plane + (size_t)iy * g->in_w, copy * sizeof(float));
    memset(target + pad_left + copy, 0, (row - pad_left - copy) * sizeof(float));
    if (g->stride_w == 2) {
      for (size_t j = 0; j < half; j += 8) {
        const __m256 a = _mm256_loadu_ps(build + 2 * j), b = _mm256_loadu_ps(build + 2 * j + 8);
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

void cnnrt_f32_dwconv2d__avx2(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                              const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin,
                              size_t oc_end, float* scratch) {
  const size_t multiplier = g->out_channels / g->groups;
  const size_t kh = g->kernel_h, kw = g->kernel_w, out_w = g->out_w, stride_w = g->stride_w;
  const size_t rows = (g->out_h - 1) * g->stride_h + kh;
  size_t half;
  const size_t row = padded_row_floats(g, &half);
  const int vector_activation = cnnrt_f32_activation_avx2_has(e->activation);
  const __m256i all = _mm256_set1_epi32(-1);
  size_t padded_channel = (size_t)-1;
  for (size_t oc = oc_begin; oc < oc_end; oc++) {
    const size_t channel = oc / multiplier;
    if (channel != padded_channel) {
      pad_plane(g, x + (n * g->in_channels + channel) * g->in_h * g->in_w, scratch, rows, row, half);
      padded_channel = channel;
    }
    const float* filter = w + oc * kh * kw;
    const float bias = e->bias != NULL ? e->bias[oc] : 0.0f;
    const size_t plane_offset = (n * g->out_channels + oc) * g->out_h * out_w;
    for (size_t oy = 0; oy < g->out_h; oy++) {
      const float* window = scratch + oy * g->stride_h * row;
      float* out = y + plane_offset + oy * out_w;
      const float* residual = e->residual != NULL ? e->residual + plane_offset + oy * out_w : NULL;
      size_t ox = 0;
      for (; ox + 32 <= out_w; ox += 32) {
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
        for (size_t ky = 0; ky < kh; ky++) {
          const float* r = window + ky * row;
          for (size_t kx = 0; kx < kw; kx++) {
            const float* p = stride_w == 1 ? r + ox + kx : r + (kx & 1) * half + ox + kx / 2;
            const __m256 weight = _mm256_broadcast_ss(filter + ky * kw + kx);
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), weight, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8), weight, acc1);
            acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 16), weight, acc2);
            acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 24), weight, acc3);
          }
        }
        const float* res = residual != NULL ? residual + ox : NULL;
        _mm256_storeu_ps(out + ox, finish(acc0, e, bias, res, all));
        _mm256_storeu_ps(out + ox + 8, finish(acc1, e, bias, res != NULL ? res + 8 : NULL, all));
        _mm256_storeu_ps(out + ox + 16, finish(acc2, e, bias, res != NULL ? res + 16 : NULL, all));
        _mm256_storeu_ps(out + ox + 24, finish(acc3, e, bias, res != NULL ? res + 24 : NULL, all));
      }
      for (; ox < out_w; ox += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (size_t ky = 0; ky < kh; ky++) {
          const float* r = window + ky * row;
          for (size_t kx = 0; kx < kw; kx++) {
            const float* p = stride_w == 1 ? r + ox + kx : r + (kx & 1) * half + ox + kx / 2;
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_broadcast_ss(filter + ky * kw + kx), acc);
          }
        }
        const __m256i mask = first_lanes(out_w - ox);
        _mm256_maskstore_ps(out + ox, mask, finish(acc, e, bias, residual != NULL ? residual + ox : NULL, mask));
      }
      if (!vector_activation) cnnrt_f32_activation_ref(out, out_w, e->activation, e->alpha, e->beta);
    }
  }
}
