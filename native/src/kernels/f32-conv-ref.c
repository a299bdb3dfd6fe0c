/*
 * Reference convolution kernels: im2col into packed GEMM panels, the plain
 * direct convolution (the oracle for every faster path), depthwise and
 * transposed convolution. 1-D convolutions arrive as 2-D ones of height 1.
 */
#include <string.h>

#include "kernels/kernels.h"

#define CNNRT_IM2COL_MAX_NR 64

void cnnrt_f32_im2col_packed_ref(const cnnrt_conv2d_geometry* g, const float* x, size_t pixel_begin,
                                 size_t pixels, size_t nr, float* packed) {
  const size_t channels = g->in_channels / g->groups;
  const size_t k = channels * g->kernel_h * g->kernel_w;
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  ptrdiff_t iy0[CNNRT_IM2COL_MAX_NR], ix0[CNNRT_IM2COL_MAX_NR];
  for (size_t j0 = 0; j0 < pixels; j0 += nr) {
    size_t cols = pixels - j0 < nr ? pixels - j0 : nr;
    for (size_t t = 0; t < cols; t++) {
      size_t pixel = pixel_begin + j0 + t;
      iy0[t] = (ptrdiff_t)((pixel / g->out_w) * g->stride_h) - g->pad_top;
      ix0[t] = (ptrdiff_t)((pixel % g->out_w) * g->stride_w) - g->pad_left;
    }
    float* panel = packed + j0 * k;
    size_t row = 0;
    for (size_t c = 0; c < channels; c++) {
      const float* plane = x + c * g->in_h * g->in_w;
      for (size_t ky = 0; ky < g->kernel_h; ky++) {
        const ptrdiff_t dy = (ptrdiff_t)(ky * g->dilation_h);
        for (size_t kx = 0; kx < g->kernel_w; kx++, row++) {
          const ptrdiff_t dx = (ptrdiff_t)(kx * g->dilation_w);
          float* out = panel + row * nr;
          for (size_t t = 0; t < cols; t++) {
            ptrdiff_t iy = iy0[t] + dy, ix = ix0[t] + dx;
            out[t] = (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) ? plane[iy * in_w + ix] : 0.0f;
          }
          for (size_t t = cols; t < nr; t++) out[t] = 0.0f;
        }
      }
    }
  }
}

void cnnrt_f32_conv2d_direct_ref(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                                 const float* bias, float* y, size_t n, size_t oc_begin, size_t oc_end) {
  const size_t in_group = g->in_channels / g->groups;
  const size_t out_group = g->out_channels / g->groups;
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  const size_t kernel_size = g->kernel_h * g->kernel_w;
  for (size_t oc = oc_begin; oc < oc_end; oc++) {
    const size_t group = oc / out_group;
    const float* image = x + (n * g->in_channels + group * in_group) * g->in_h * g->in_w;
    const float* filter = w + oc * in_group * kernel_size;
    float* out = y + (n * g->out_channels + oc) * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; oy++) {
      for (size_t ox = 0; ox < g->out_w; ox++) {
        float acc = 0.0f;
        for (size_t c = 0; c < in_group; c++) {
          for (size_t ky = 0; ky < g->kernel_h; ky++) {
            ptrdiff_t iy = (ptrdiff_t)(oy * g->stride_h + ky * g->dilation_h) - g->pad_top;
            if (iy < 0 || iy >= in_h) continue;
            for (size_t kx = 0; kx < g->kernel_w; kx++) {
              ptrdiff_t ix = (ptrdiff_t)(ox * g->stride_w + kx * g->dilation_w) - g->pad_left;
              if (ix < 0 || ix >= in_w) continue;
              acc += image[(c * g->in_h + (size_t)iy) * g->in_w + (size_t)ix] *
                     filter[(c * g->kernel_h + ky) * g->kernel_w + kx];
            }
          }
        }
        out[oy * g->out_w + ox] = bias != NULL ? acc + bias[oc] : acc;
      }
    }
  }
}

/* Output positions o in [0, out) whose input position o*stride + offset lies
 * in [0, in): returns [*begin, *end). */
static void valid_range(ptrdiff_t offset, size_t stride, size_t in, size_t out, size_t* begin, size_t* end) {
  size_t lo = 0;
  if (offset < 0) lo = ((size_t)(-offset) + stride - 1) / stride;
  size_t hi = 0;
  ptrdiff_t last = (ptrdiff_t)in - 1 - offset;
  if (last >= 0) hi = (size_t)last / stride + 1;
  if (hi > out) hi = out;
  if (lo > hi) lo = hi;
  *begin = lo;
  *end = hi;
}

void cnnrt_f32_dwconv2d_ref(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                            const float* bias, float* y, size_t n, size_t oc_begin, size_t oc_end) {
  const size_t multiplier = g->out_channels / g->groups;
  const size_t kernel_size = g->kernel_h * g->kernel_w;
  for (size_t oc = oc_begin; oc < oc_end; oc++) {
    const float* plane = x + (n * g->in_channels + oc / multiplier) * g->in_h * g->in_w;
    const float* filter = w + oc * kernel_size;
    float* out = y + (n * g->out_channels + oc) * g->out_h * g->out_w;
    /* Taps outer, output columns inner: a stride-1 row is a contiguous
     * multiply-add the compiler vectorises. Each output still sums its taps
     * in (ky, kx) order. */
    for (size_t oy = 0; oy < g->out_h; oy++) {
      float* out_row = out + oy * g->out_w;
      for (size_t ox = 0; ox < g->out_w; ox++) out_row[ox] = 0.0f;
      for (size_t ky = 0; ky < g->kernel_h; ky++) {
        ptrdiff_t iy = (ptrdiff_t)(oy * g->stride_h + ky * g->dilation_h) - g->pad_top;
        if (iy < 0 || iy >= (ptrdiff_t)g->in_h) continue;
        const float* in_row = plane + (size_t)iy * g->in_w;
        for (size_t kx = 0; kx < g->kernel_w; kx++) {
          const float weight = filter[ky * g->kernel_w + kx];
          ptrdiff_t offset = (ptrdiff_t)(kx * g->dilation_w) - g->pad_left;
          size_t begin, end;
          valid_range(offset, g->stride_w, g->in_w, g->out_w, &begin, &end);
          if (g->stride_w == 1) {
            for (size_t ox = begin; ox < end; ox++) out_row[ox] += in_row[(ptrdiff_t)ox + offset] * weight;
          } else {
            for (size_t ox = begin; ox < end; ox++) {
              out_row[ox] += in_row[(ptrdiff_t)(ox * g->stride_w) + offset] * weight;
            }
          }
        }
      }
      if (bias != NULL) {
        for (size_t ox = 0; ox < g->out_w; ox++) out_row[ox] += bias[oc];
      }
    }
  }
}

void cnnrt_f32_deconv2d_ref(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                            const float* bias, float* y, size_t n, size_t oc_begin, size_t oc_end) {
  const size_t in_group = g->in_channels / g->groups;
  const size_t out_group = g->out_channels / g->groups;
  const size_t kernel_size = g->kernel_h * g->kernel_w;
  const size_t out_plane = g->out_h * g->out_w;
  /* Each task owns whole output planes and scatters into them only, so no two
   * threads ever write the same element. */
  for (size_t oc = oc_begin; oc < oc_end; oc++) {
    const size_t group = oc / out_group, local_oc = oc % out_group;
    float* out = y + (n * g->out_channels + oc) * out_plane;
    memset(out, 0, out_plane * sizeof(float));
    for (size_t c = 0; c < in_group; c++) {
      const size_t ic = group * in_group + c;
      const float* plane = x + (n * g->in_channels + ic) * g->in_h * g->in_w;
      const float* filter = w + (ic * out_group + local_oc) * kernel_size;
      for (size_t ky = 0; ky < g->kernel_h; ky++) {
        for (size_t kx = 0; kx < g->kernel_w; kx++) {
          const float weight = filter[ky * g->kernel_w + kx];
          const ptrdiff_t offset_x = (ptrdiff_t)(kx * g->dilation_w) - g->pad_left;
          for (size_t iy = 0; iy < g->in_h; iy++) {
            ptrdiff_t oy = (ptrdiff_t)(iy * g->stride_h + ky * g->dilation_h) - g->pad_top;
            if (oy < 0 || oy >= (ptrdiff_t)g->out_h) continue;
            float* out_row = out + (size_t)oy * g->out_w;
            const float* in_row = plane + iy * g->in_w;
            for (size_t ix = 0; ix < g->in_w; ix++) {
              ptrdiff_t ox = (ptrdiff_t)(ix * g->stride_w) + offset_x;
              if (ox < 0 || ox >= (ptrdiff_t)g->out_w) continue;
              out_row[ox] += in_row[ix] * weight;
            }
          }
        }
      }
    }
    if (bias != NULL) {
      for (size_t i = 0; i < out_plane; i++) out[i] += bias[oc];
    }
  }
}
