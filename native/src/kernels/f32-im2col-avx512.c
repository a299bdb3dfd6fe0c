/*
 * im2col into packed-B panels (same output as cnnrt_f32_im2col_packed_ref)
 * with AVX-512 masked loads and stores. The pixels of one panel fall on a few
 * output rows ("segments"); within a segment, panel row (c, ky, kx) is a
 * contiguous (stride 1) or every-other (stride 2) run of one input row, so it
 * is copied 16 lanes at a time. Padding needs no branch per pixel: a lane
 * whose input column lies outside the row is masked off in the load, which
 * yields zero and never touches memory (so reads never stray outside x).
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

#define MAX_SEGMENTS 64

typedef struct segment {
  size_t t;       /* first panel column */
  size_t length;  /* panel columns (output pixels on this output row) */
  ptrdiff_t iy0;  /* input row for ky = 0 */
  ptrdiff_t ix0;  /* input column of the first pixel for kx = 0 */
} segment;

/* Lanes l of [0, 16) whose input column base + l lies in [0, in_w). */
static inline __mmask16 columns_inside(ptrdiff_t base, ptrdiff_t in_w) {
  if (base >= 0 && base + 16 <= in_w) return 0xFFFF;
  if (base >= in_w || base + 16 <= 0) return 0;
  const ptrdiff_t lo = base < 0 ? -base : 0;
  const ptrdiff_t hi = in_w - base < 16 ? in_w - base : 16;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

static inline __mmask16 first_lanes(size_t n) { return (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1u); }

static void copy_segment(const float* row, ptrdiff_t ix, ptrdiff_t in_w, size_t stride, size_t length, float* out) {
  if (stride == 1) {
    for (size_t t = 0; t < length; t += 16, ix += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(columns_inside(ix, in_w), row + ix);
      _mm512_mask_storeu_ps(out + t, first_lanes(length - t), v);
    }
  } else if (stride == 2) {
    /* 32 consecutive input columns, then their even lanes. */
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (size_t t = 0; t < length; t += 16, ix += 32) {
      const __m512 lo = _mm512_maskz_loadu_ps(columns_inside(ix, in_w), row + ix);
      const __m512 hi = _mm512_maskz_loadu_ps(columns_inside(ix + 16, in_w), row + ix + 16);
      _mm512_mask_storeu_ps(out + t, first_lanes(length - t), _mm512_permutex2var_ps(lo, even, hi));
    }
  } else {
    for (size_t t = 0; t < length; t++, ix += (ptrdiff_t)stride) out[t] = ix >= 0 && ix < in_w ? row[ix] : 0.0f;
  }
}

void cnnrt_f32_im2col_packed__avx512(const cnnrt_conv2d_geometry* g, const float* x, size_t pixel_begin,
                                     size_t pixels, size_t nr, float* packed) {
  const size_t channels = g->in_channels / g->groups;
  const size_t k = channels * g->kernel_h * g->kernel_w;
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  segment segments[MAX_SEGMENTS];
  for (size_t j0 = 0; j0 < pixels; j0 += nr) {
    const size_t cols = pixels - j0 < nr ? pixels - j0 : nr;
    if (nr > MAX_SEGMENTS) { /* never with today's tiles; stay correct anyway */
      cnnrt_f32_im2col_packed_ref(g, x, pixel_begin + j0, cols, nr, packed + j0 * k);
      continue;
    }
    size_t count = 0;
    for (size_t t = 0; t < cols;) {
      const size_t pixel = pixel_begin + j0 + t;
      const size_t oy = pixel / g->out_w, ox = pixel % g->out_w;
      size_t length = g->out_w - ox;
      if (length > cols - t) length = cols - t;
      segments[count].t = t;
      segments[count].length = length;
      segments[count].iy0 = (ptrdiff_t)(oy * g->stride_h) - g->pad_top;
      segments[count].ix0 = (ptrdiff_t)(ox * g->stride_w) - g->pad_left;
      count++;
      t += length;
    }
    float* out = packed + j0 * k;
    for (size_t c = 0; c < channels; c++) {
      const float* plane = x + c * g->in_h * g->in_w;
      for (size_t ky = 0; ky < g->kernel_h; ky++) {
        const ptrdiff_t dy = (ptrdiff_t)(ky * g->dilation_h);
        for (size_t kx = 0; kx < g->kernel_w; kx++, out += nr) {
          const ptrdiff_t dx = (ptrdiff_t)(kx * g->dilation_w);
          for (size_t s = 0; s < count; s++) {
            const segment* seg = &segments[s];
            const ptrdiff_t iy = seg->iy0 + dy;
            if (iy < 0 || iy >= in_h) {
              memset(out + seg->t, 0, seg->length * sizeof(float));
            } else {
              copy_segment(plane + iy * in_w, seg->ix0 + dx, in_w, g->stride_w, seg->length, out + seg->t);
            }
          }
          if (cols < nr) memset(out + cols, 0, (nr - cols) * sizeof(float));
        }
      }
    }
  }
}
