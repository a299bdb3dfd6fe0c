/*
 * Depthwise convolution with AVX-512, along output rows. Each input plane is
 * first copied into scratch with its zero padding made explicit (stride-2
 * rows split into even and odd columns), so every tap of a 16-wide output
 * block is one unaligned load and one fused multiply-add, with no edge
 * branches. Bias, residual and activation follow in registers.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/f32-activation-avx512.h"
#include "kernels/kernels.h"

static inline __mmask16 tail_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* Row length of the padded copy (the layout cnnrt_f32_dwconv2d_scratch_floats sizes). */
static size_t padded_row(const cnnrt_conv2d_geometry* g, size_t* half) {
  const size_t out_w16 = (g->out_w + 15) / 16 * 16;
  if (g->stride_w == 1) {
    *half = 0;
    return (out_w16 + g->kernel_w + 15) / 16 * 16;
  }
  *half = (out_w16 + g->kernel_w / 2 + 1 + 15) / 16 * 16;
  return 2 * *half;
}

/* Padded row r of the plane: input row r - pad_top, columns shifted by pad_left. */
static void pad_plane(const cnnrt_conv2d_geometry* g, const float* plane, float* scratch, size_t rows, size_t row,
                      size_t half) {
  const size_t pad_left = (size_t)g->pad_left;
  size_t copy = g->in_w;
  if (pad_left + copy > row) copy = row > pad_left ? row - pad_left : 0;
  float* temp = scratch + rows * row; /* stride 2: the row before its split */
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (size_t r = 0; r < rows; r++) {
    const ptrdiff_t iy = (ptrdiff_t)r - g->pad_top;
    float* out = scratch + r * row;
    if (iy < 0 || iy >= (ptrdiff_t)g->in_h || copy == 0) {
      memset(out, 0, row * sizeof(float));
      continue;
    }
    const float* in = plane + (size_t)iy * g->in_w;
    float* target = g->stride_w == 1 ? out : temp;
    memset(target, 0, pad_left * sizeof(float));
    memcpy(target + pad_left, in, copy * sizeof(float));
    memset(target + pad_left + copy, 0, (row - pad_left - copy) * sizeof(float));
    if (g->stride_w == 2) {
      for (size_t j = 0; j < half; j += 16) {
        const __m512 a = _mm512_loadu_ps(temp + 2 * j), b = _mm512_loadu_ps(temp + 2 * j + 16);
        _mm512_storeu_ps(out + j, _mm512_permutex2var_ps(a, even, b));
        _mm512_storeu_ps(out + half + j, _mm512_permutex2var_ps(a, odd, b));
      }
    }
  }
}

static inline __m512 finish(__m512 acc, const cnnrt_f32_epilogue_params* e, float bias, const float* residual,
                            __mmask16 mask) {
  if (bias != 0.0f) acc = _mm512_add_ps(acc, _mm512_set1_ps(bias));
  if (residual != NULL) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, residual));
  return cnnrt_f32_activation_avx512(acc, e->activation, e->alpha, e->beta);
}

void cnnrt_f32_dwconv2d__avx512(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                                const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin,
                                size_t oc_end, float* scratch) {
  const size_t multiplier = g->out_channels / g->groups;
  const size_t kh = g->kernel_h, kw = g->kernel_w, out_w = g->out_w;
  const size_t rows = (g->out_h - 1) * g->stride_h + kh;
  size_t half;
  const size_t row = padded_row(g, &half);
  const int vector_activation = cnnrt_f32_activation_avx512_has(e->activation);
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
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        for (size_t ky = 0; ky < kh; ky++) {
          const float* r = window + ky * row;
          for (size_t kx = 0; kx < kw; kx++) {
            const float* p = g->stride_w == 1 ? r + ox + kx : r + (kx & 1) * half + ox + kx / 2;
            const __m512 weight = _mm512_set1_ps(filter[ky * kw + kx]);
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(p), weight, acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16), weight, acc1);
          }
        }
        _mm512_storeu_ps(out + ox, finish(acc0, e, bias, residual != NULL ? residual + ox : NULL, 0xFFFF));
        _mm512_storeu_ps(out + ox + 16, finish(acc1, e, bias, residual != NULL ? residual + ox + 16 : NULL, 0xFFFF));
      }
      for (; ox < out_w; ox += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (size_t ky = 0; ky < kh; ky++) {
          const float* r = window + ky * row;
          for (size_t kx = 0; kx < kw; kx++) {
            const float* p = g->stride_w == 1 ? r + ox + kx : r + (kx & 1) * half + ox + kx / 2;
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(p), _mm512_set1_ps(filter[ky * kw + kx]), acc);
          }
        }
        const __mmask16 mask = tail_mask(out_w - ox);
        _mm512_mask_storeu_ps(out + ox, mask, finish(acc, e, bias, residual != NULL ? residual + ox : NULL, mask));
      }
      if (!vector_activation) cnnrt_f32_activation_ref(out, out_w, e->activation, e->alpha, e->beta);
    }
  }
}
