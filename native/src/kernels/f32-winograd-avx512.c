/*
 * Winograd F(m x m, 3 x 3) transforms (m = 2 or 4) with AVX-512.
 *
 * Input: per channel and tile row, a vertical pass over whole padded rows
 * (contiguous vectors, masked loads give the zero padding), then a
 * horizontal pass over 16 tiles of the row at once, whose stride-m columns
 * are picked out with two-source permutes. The 16 tiles' values are then
 * stored into the packed-A panels in runs of consecutive tiles.
 * Output: per tile, 16 output channels at once (contiguous in C), then the
 * m x m pixels of each channel go to their planes.
 * Same matrices as f32-winograd-ref.c, factored; results differ from the
 * reference by rounding only.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

static inline __mmask16 lanes_mask(size_t count) {
  return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1u);
}

/* B^T d for d[0..5] (F(4,3)). */
static inline void input_1d_4(const __m512* d, __m512* r) {
  const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
  r[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
  const __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]), b = _mm512_fnmadd_ps(four, d[1], d[3]);
  r[1] = _mm512_add_ps(a, b);
  r[2] = _mm512_sub_ps(a, b);
  const __m512 c = _mm512_sub_ps(d[4], d[2]), e = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
  r[3] = _mm512_add_ps(c, e);
  r[4] = _mm512_sub_ps(c, e);
  r[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

/* B^T d for d[0..3] (F(2,3)). */
static inline void input_1d_2(const __m512* d, __m512* r) {
  r[0] = _mm512_sub_ps(d[0], d[2]);
  r[1] = _mm512_add_ps(d[1], d[2]);
  r[2] = _mm512_sub_ps(d[2], d[1]);
  r[3] = _mm512_sub_ps(d[1], d[3]);
}

/* A^T s for s[0..5] (F(4,3)). */
static inline void output_1d_4(const __m512* s, __m512* o) {
  const __m512 a = _mm512_add_ps(s[1], s[2]), b = _mm512_sub_ps(s[1], s[2]);
  const __m512 c = _mm512_add_ps(s[3], s[4]), d = _mm512_sub_ps(s[3], s[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(s[0], a), c);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d, b);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), c, a);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d, b), s[5]);
}

/* A^T s for s[0..3] (F(2,3)). */
static inline void output_1d_2(const __m512* s, __m512* o) {
  o[0] = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]);
  o[1] = _mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]);
}

/* Columns base + m * i + j of a row for tiles i = 0..15 (the row holds
 * base + 16 * m + alpha floats at least). */
static inline __m512 tile_columns(const float* row, size_t m) {
  if (m == 4) {
    const __m512i index = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    const __m512 low = _mm512_permutex2var_ps(_mm512_loadu_ps(row), index, _mm512_loadu_ps(row + 16));
    const __m512 high = _mm512_permutex2var_ps(_mm512_loadu_ps(row + 32), index, _mm512_loadu_ps(row + 48));
    return _mm512_shuffle_f32x4(low, high, 0x44);
  }
  const __m512i index = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(_mm512_loadu_ps(row), index, _mm512_loadu_ps(row + 16));
}

/* One body per tile size, so that every loop over alpha is unrolled. */
static inline __attribute__((always_inline)) void input_tiles(const cnnrt_winograd_geometry* g, const float* x,
                                                              size_t channels, size_t ty_begin, size_t ty_end,
                                                              size_t mr, float* v, size_t v_stride, float* scratch,
                                                              const size_t m) {
  const size_t alpha = m + 2;
  const size_t tiles16 = (g->tiles_x + 15) / 16 * 16;
  const size_t row = tiles16 * m + 16;  /* what the horizontal pass reads */
  float* rows = scratch;                /* alpha rows of the vertical pass */
  float* tile_values = scratch + alpha * row; /* [alpha * alpha][tiles16] */
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  const size_t tiles = (ty_end - ty_begin) * g->tiles_x;
  const size_t panel_floats = channels * mr;
  for (size_t k = 0; k < channels; k++) {
    const float* plane = x + k * g->in_h * g->in_w;
    for (size_t ty = ty_begin; ty < ty_end; ty++) {
      const ptrdiff_t y0 = (ptrdiff_t)(ty * m) - g->pad_top;
      for (size_t c0 = 0; c0 < row; c0 += 16) {
        const ptrdiff_t ix = (ptrdiff_t)c0 - g->pad_left;
        __mmask16 mask = 0;
        for (int lane = 0; lane < 16; lane++) {
          if (ix + lane >= 0 && ix + lane < in_w) mask |= (__mmask16)(1u << lane);
        }
        __m512 d[6], r[6];
        for (size_t j = 0; j < alpha; j++) {
          const ptrdiff_t iy = y0 + (ptrdiff_t)j;
          d[j] = iy >= 0 && iy < in_h && mask != 0
                     ? _mm512_maskz_loadu_ps(mask, plane + iy * in_w + ix)
                     : _mm512_setzero_ps();
        }
        if (m == 4) input_1d_4(d, r);
        else input_1d_2(d, r);
        for (size_t i = 0; i < alpha; i++) _mm512_storeu_ps(rows + i * row + c0, r[i]);
      }
      for (size_t tx0 = 0; tx0 < g->tiles_x; tx0 += 16) {
        for (size_t i = 0; i < alpha; i++) {
          __m512 d[6], r[6];
          for (size_t j = 0; j < alpha; j++) d[j] = tile_columns(rows + i * row + tx0 * m + j, m);
          if (m == 4) input_1d_4(d, r);
          else input_1d_2(d, r);
          for (size_t j = 0; j < alpha; j++) _mm512_storeu_ps(tile_values + (i * alpha + j) * tiles16 + tx0, r[j]);
        }
      }
      /* Runs of consecutive tiles that share a panel. */
      const size_t t_base = (ty - ty_begin) * g->tiles_x;
      for (size_t tx = 0; tx < g->tiles_x;) {
        const size_t t = t_base + tx;
        size_t run = mr - t % mr;
        if (run > g->tiles_x - tx) run = g->tiles_x - tx;
        const __mmask16 mask = lanes_mask(run);
        float* out = v + (t / mr) * panel_floats + k * mr + t % mr;
        for (size_t e = 0; e < alpha * alpha; e++) {
          _mm512_mask_storeu_ps(out + e * v_stride, mask, _mm512_maskz_loadu_ps(mask, tile_values + e * tiles16 + tx));
        }
        tx += run;
      }
    }
  }
  const size_t rounded = (tiles + mr - 1) / mr * mr;
  if (rounded > tiles) {
    const __mmask16 mask = lanes_mask(rounded - tiles);
    float* out = v + (tiles / mr) * panel_floats + tiles % mr;
    for (size_t e = 0; e < alpha * alpha; e++) {
      for (size_t k = 0; k < channels; k++) _mm512_mask_storeu_ps(out + e * v_stride + k * mr, mask, _mm512_setzero_ps());
    }
  }
}

static inline __attribute__((always_inline)) void output_tiles(const cnnrt_winograd_geometry* g, const float* c,
                                                               size_t c_stride, size_t c_row_stride, size_t channels,
                                                               size_t ty_begin, size_t ty_end, float* y,
                                                               const size_t m) {
  const size_t alpha = m + 2;
  const size_t tiles = (ty_end - ty_begin) * g->tiles_x;
  const size_t plane = g->out_h * g->out_w;
  float pixels[16][16];
  for (size_t t = 0; t < tiles; t++) {
    const size_t ty = ty_begin + t / g->tiles_x, tx = t % g->tiles_x;
    const size_t rows = g->out_h - ty * m < m ? g->out_h - ty * m : m;
    const size_t cols = g->out_w - tx * m < m ? g->out_w - tx * m : m;
    float* corner = y + (ty * m) * g->out_w + tx * m;
    for (size_t k0 = 0; k0 < channels; k0 += 16) {
      const size_t lanes = channels - k0 < 16 ? channels - k0 : 16;
      const __mmask16 mask = lanes_mask(lanes);
      const float* source = c + t * c_row_stride + k0;
      __m512 column[4][6];
      for (size_t j = 0; j < alpha; j++) {
        __m512 s[6], o[4];
        for (size_t i = 0; i < alpha; i++) s[i] = _mm512_maskz_loadu_ps(mask, source + (i * alpha + j) * c_stride);
        if (m == 4) output_1d_4(s, o);
        else output_1d_2(s, o);
        for (size_t a = 0; a < m; a++) column[a][j] = o[a];
      }
      for (size_t a = 0; a < m; a++) {
        __m512 o[4];
        if (m == 4) output_1d_4(column[a], o);
        else output_1d_2(column[a], o);
        for (size_t b = 0; b < m; b++) _mm512_storeu_ps(pixels[a * m + b], o[b]);
      }
      for (size_t q = 0; q < lanes; q++) {
        float* out = corner + (k0 + q) * plane;
        for (size_t a = 0; a < rows; a++) {
          for (size_t b = 0; b < cols; b++) out[a * g->out_w + b] = pixels[a * m + b][q];
        }
      }
    }
  }
}

void cnnrt_f32_winograd_input__avx512(const cnnrt_winograd_geometry* g, const float* x, size_t channels,
                                      size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride,
                                      float* scratch) {
  if (g->m == 4) input_tiles(g, x, channels, ty_begin, ty_end, mr, v, v_stride, scratch, 4);
  else input_tiles(g, x, channels, ty_begin, ty_end, mr, v, v_stride, scratch, 2);
}

void cnnrt_f32_winograd_output__avx512(const cnnrt_winograd_geometry* g, const float* c, size_t c_stride,
                                       size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end,
                                       float* y, float* scratch) {
  (void)scratch;
  if (g->m == 4) output_tiles(g, c, c_stride, c_row_stride, channels, ty_begin, ty_end, y, 4);
  else output_tiles(g, c, c_stride, c_row_stride, channels, ty_begin, ty_end, y, 2);
}
