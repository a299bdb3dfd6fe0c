/*
 * im2col into packed-B panels (same output as cnnrt_f32_im2col_packed_ref)
 * with AVX2. A panel's pixels fall on a few output rows ("runs"); within a
 * run, panel row (c, ky, kx) reads one input row at columns ix, ix + s,
 * ix + 2s, ... So each run splits into a left part in the padding (zeros),
 * a middle part inside the row (copied 8 lanes at a time for s = 1 and 2),
 * and a right part in the padding. Partial vectors use maskload, which never
 * touches masked-off lanes, so reads stay inside the row, and plain partial
 * stores (f32-store-avx2.h).
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

#define MAX_RUNS 64 /* and at most 64 columns per run: uint8_t below */
#define MAX_KW 16

typedef struct run {
  size_t t;       /* first panel column */
  size_t length;  /* panel columns (output pixels on this output row) */
  ptrdiff_t iy0;  /* input row for ky = 0 */
  ptrdiff_t ix0;  /* input column of the first pixel for kx = 0 */
} run;

/* Columns t of [0, length) whose input column ix + t * stride lies in
 * [0, in_w) form [*begin, *end). */
static void inside_range(ptrdiff_t ix, ptrdiff_t in_w, size_t stride, size_t length, size_t* begin, size_t* end) {
  const ptrdiff_t s = (ptrdiff_t)stride, n = (ptrdiff_t)length;
  ptrdiff_t lo = ix < 0 ? (-ix + s - 1) / s : 0;
  ptrdiff_t hi = in_w > ix ? (in_w - ix + s - 1) / s : 0;
  if (lo > n) lo = n;
  if (hi > n) hi = n;
  if (hi < lo) hi = lo;
  *begin = (size_t)lo;
  *end = (size_t)hi;
}

/* Panel row columns [0, length) from input columns ix, ix + stride, ...:
 * zeros outside [begin, end) (the columns inside the row, inside_range). */
static void copy_run(const float* row, ptrdiff_t ix, size_t stride, size_t length, size_t begin, size_t end,
                     float* out) {
  for (size_t t = 0; t < begin; t++) out[t] = 0.0f;
  for (size_t t = end; t < length; t++) out[t] = 0.0f;
  const float* in = row + (ix + (ptrdiff_t)(begin * stride));
  size_t t = begin;
  if (stride == 1) {
    for (; t + 8 <= end; t += 8, in += 8) _mm256_storeu_ps(out + t, _mm256_loadu_ps(in));
    if (t < end) {
      const __m256i mask = cnnrt_f32_first_lanes_avx2(end - t);
      cnnrt_f32_store_first_avx2(out + t, _mm256_maskload_ps(in, mask), end - t);
    }
  } else if (stride == 2) {
    /* 15 consecutive columns (the 16th is never needed, so not read), then
     * their even ones: shuffle picks 0 2 8 10 | 4 6 12 14 per 128-bit half,
     * the permute puts the halves in order. */
    const __m256i seven = cnnrt_f32_first_lanes_avx2(7);
    for (; t + 8 <= end; t += 8, in += 16) {
      const __m256 lo = _mm256_loadu_ps(in), hi = _mm256_maskload_ps(in + 8, seven);
      const __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
      _mm256_storeu_ps(out + t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8)));
    }
    for (; t < end; t++, in += 2) out[t] = in[0];
  } else {
    for (; t < end; t++, in += stride) out[t] = in[0];
  }
}

/* A 1x1, stride-1, unpadded convolution: pixel p of the panel reads input
 * offset p of each channel plane, so a panel row is `cols` consecutive
 * floats. For panels up to 8 wide (the pixel-major tiles) each row is one
 * masked load (zeros past cols) and one 8-lane store whose spill into the
 * next row is overwritten by that row's store; the last row is stored
 * exactly. (The general loop spent 40% of a 1152 -> 192 channel layer at
 * 7 x 7 here, against 44% in the GEMM.) */
static void im2col_pointwise(size_t channels, size_t plane, const float* x, size_t pixel_begin, size_t pixels,
                             size_t nr, float* packed) {
  for (size_t j0 = 0; j0 < pixels; j0 += nr) {
    const size_t cols = pixels - j0 < nr ? pixels - j0 : nr;
    const float* in = x + pixel_begin + j0;
    float* out = packed + j0 * channels;
    if (nr <= 8) {
      const __m256i mask = cnnrt_f32_first_lanes_avx2(cols);
      size_t c = 0;
      for (; c + 1 < channels; c++) _mm256_storeu_ps(out + c * nr, _mm256_maskload_ps(in + c * plane, mask));
      cnnrt_f32_store_first_avx2(out + c * nr, _mm256_maskload_ps(in + c * plane, mask), nr);
    } else {
      for (size_t c = 0; c < channels; c++) {
        copy_run(in + c * plane, 0, 1, nr, 0, cols, out + c * nr);
      }
    }
  }
}

void cnnrt_f32_im2col_packed__avx2(const cnnrt_conv2d_geometry* g, const float* x, size_t pixel_begin,
                                   size_t pixels, size_t nr, float* packed) {
  const size_t channels = g->in_channels / g->groups;
  const size_t k = channels * g->kernel_h * g->kernel_w;
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  if (channels == 0 || pixels == 0) return;
  if (g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
      g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w) {
    im2col_pointwise(channels, g->in_h * g->in_w, x, pixel_begin, pixels, nr, packed);
    return;
  }
  run runs[MAX_RUNS];
  /* The columns inside the row per (kx, run), the same for every channel and
   * ky: computed once per panel (divisions), for kernels up to MAX_KW wide. */
  uint8_t begins[MAX_KW][MAX_RUNS], ends[MAX_KW][MAX_RUNS];
  for (size_t j0 = 0; j0 < pixels; j0 += nr) {
    const size_t cols = pixels - j0 < nr ? pixels - j0 : nr;
    if (nr > MAX_RUNS) { /* never with today's tiles; stay correct anyway */
      cnnrt_f32_im2col_packed_ref(g, x, pixel_begin + j0, cols, nr, packed + j0 * k);
      continue;
    }
    size_t count = 0;
    for (size_t t = 0; t < cols;) {
      const size_t pixel = pixel_begin + j0 + t;
      const size_t oy = pixel / g->out_w, ox = pixel % g->out_w;
      const size_t length = g->out_w - ox < cols - t ? g->out_w - ox : cols - t;
      runs[count].t = t;
      runs[count].length = length;
      runs[count].iy0 = (ptrdiff_t)(oy * g->stride_h) - g->pad_top;
      runs[count].ix0 = (ptrdiff_t)(ox * g->stride_w) - g->pad_left;
      count++;
      t += length;
    }
    const int hoisted = g->kernel_w <= MAX_KW;
    for (size_t kx = 0; hoisted && kx < g->kernel_w; kx++) {
      for (size_t r = 0; r < count; r++) {
        size_t begin, end;
        inside_range(runs[r].ix0 + (ptrdiff_t)(kx * g->dilation_w), in_w, g->stride_w, runs[r].length, &begin, &end);
        begins[kx][r] = (uint8_t)begin;
        ends[kx][r] = (uint8_t)end;
      }
    }
    float* out = packed + j0 * k;
    for (size_t c = 0; c < channels; c++) {
      const float* plane = x + c * g->in_h * g->in_w;
      for (size_t ky = 0; ky < g->kernel_h; ky++) {
        const ptrdiff_t dy = (ptrdiff_t)(ky * g->dilation_h);
        for (size_t kx = 0; kx < g->kernel_w; kx++, out += nr) {
          const ptrdiff_t dx = (ptrdiff_t)(kx * g->dilation_w);
          for (size_t r = 0; r < count; r++) {
            const ptrdiff_t iy = runs[r].iy0 + dy;
            if (iy < 0 || iy >= in_h) {
              memset(out + runs[r].t, 0, runs[r].length * sizeof(float));
            } else {
              size_t begin, end;
              if (hoisted) {
                begin = begins[kx][r];
                end = ends[kx][r];
              } else {
                inside_range(runs[r].ix0 + dx, in_w, g->stride_w, runs[r].length, &begin, &end);
              }
              copy_run(plane + iy * in_w, runs[r].ix0 + dx, g->stride_w, runs[r].length, begin, end, out + runs[r].t);
            }
          }
          if (cols < nr) memset(out + cols, 0, (nr - cols) * sizeof(float));
        }
      }
    }
  }
}
