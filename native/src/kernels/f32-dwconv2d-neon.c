/*
 * Depthwise convolution with aarch64 NEON, along output rows. Each input
 * plane is first copied into scratch with its zero padding made explicit
 * (stride-2 rows split into even and odd columns), in the layout
 * cnnrt_f32_dwconv2d_scratch_floats sizes (shared with the AVX-512 kernel),
 * so every tap of a 4-wide output block is one unaligned load and one fused
 * multiply-add, with no edge branches. Bias, residual and the activations
 * without transcendental functions follow in registers, with the reference's
 * arithmetic; the others run the reference activation over the finished row.
 */
#include <arm_neon.h>
#include <string.h>

#include "kernels/f32-activation-neon.h"
#include "kernels/kernels.h"

/* Row length of the padded copy; must agree with cnnrt_f32_dwconv2d_scratch_floats. */
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
      for (size_t j = 0; j < half; j += 4) {
        const float32x4x2_t split = vld2q_f32(temp + 2 * j); /* even columns, odd columns */
        vst1q_f32(out + j, split.val[0]);
        vst1q_f32(out + half + j, split.val[1]);
      }
    }
  }
}

/* acc + bias + residual, then the activation when it has a vector form; the
 * additions in the reference's order (bias skipped when zero, as there). */
static inline float32x4_t finish(float32x4_t acc, const cnnrt_f32_epilogue_params* e, int vector_activation,
                                 float bias, const float* residual) {
  if (bias != 0.0f) acc = vaddq_f32(acc, vdupq_n_f32(bias));
  if (residual != NULL) acc = vaddq_f32(acc, vld1q_f32(residual));
  return vector_activation ? cnnrt_f32_activation_neon(acc, e->activation, e->alpha, e->beta) : acc;
}

void cnnrt_f32_dwconv2d__neon(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                              const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin,
                              size_t oc_end, float* scratch) {
  const size_t multiplier = g->out_channels / g->groups;
  const size_t kh = g->kernel_h, kw = g->kernel_w, out_w = g->out_w;
  const size_t rows = (g->out_h - 1) * g->stride_h + kh;
  size_t half;
  const size_t row = padded_row(g, &half);
  const int vector_activation = cnnrt_f32_activation_neon_has(e->activation);
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
      for (; ox + 16 <= out_w; ox += 16) {
        float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
        float32x4_t acc2 = vdupq_n_f32(0.0f), acc3 = vdupq_n_f32(0.0f);
        for (size_t ky = 0; ky < kh; ky++) {
          const float* r = window + ky * row;
          for (size_t kx = 0; kx < kw; kx++) {
            const float* p = g->stride_w == 1 ? r + ox + kx : r + (kx & 1) * half + ox + kx / 2;
            const float weight = filter[ky * kw + kx];
            acc0 = vfmaq_n_f32(acc0, vld1q_f32(p), weight);
            acc1 = vfmaq_n_f32(acc1, vld1q_f32(p + 4), weight);
            acc2 = vfmaq_n_f32(acc2, vld1q_f32(p + 8), weight);
            acc3 = vfmaq_n_f32(acc3, vld1q_f32(p + 12), weight);
          }
        }
        vst1q_f32(out + ox, finish(acc0, e, vector_activation, bias, residual != NULL ? residual + ox : NULL));
        vst1q_f32(out + ox + 4, finish(acc1, e, vector_activation, bias, residual != NULL ? residual + ox + 4 : NULL));
        vst1q_f32(out + ox + 8, finish(acc2, e, vector_activation, bias, residual != NULL ? residual + ox + 8 : NULL));
        vst1q_f32(out + ox + 12,
                  finish(acc3, e, vector_activation, bias, residual != NULL ? residual + ox + 12 : NULL));
      }
      /* The rest in blocks of 4; the padded rows run to a multiple of 16
       * outputs, so the last block's loads stay inside scratch. */
      for (; ox < out_w; ox += 4) {
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (size_t ky = 0; ky < kh; ky++) {
          const float* r = window + ky * row;
          for (size_t kx = 0; kx < kw; kx++) {
            const float* p = g->stride_w == 1 ? r + ox + kx : r + (kx & 1) * half + ox + kx / 2;
            acc = vfmaq_n_f32(acc, vld1q_f32(p), filter[ky * kw + kx]);
          }
        }
        const size_t left = out_w - ox;
        if (left >= 4) {
          vst1q_f32(out + ox, finish(acc, e, vector_activation, bias, residual != NULL ? residual + ox : NULL));
        } else {
          /* Only `left` outputs (and residual values) belong to this row. */
          float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          if (residual != NULL) memcpy(tail, residual + ox, left * sizeof(float));
          vst1q_f32(tail, finish(acc, e, vector_activation, bias, residual != NULL ? tail : NULL));
          memcpy(out + ox, tail, left * sizeof(float));
        }
      }
      if (!vector_activation) cnnrt_f32_activation_ref(out, out_w, e->activation, e->alpha, e->beta);
    }
  }
}
