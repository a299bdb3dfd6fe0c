/*
 * Winograd F(m x m, 3 x 3) transforms (m = 2 or 4) with AVX-512.
 *
 * Input: 16 tiles of a tile row at a time, for each channel: a horizontal
 * pass on each input row, whose stride-m columns are picked out with
 * two-source permutes (masked loads give the zero padding), then the
 * vertical pass in registers; the 16 tiles' values are stored into the
 * packed-A panels in runs of consecutive tiles.
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

/* The loads of one input row that the horizontal pass of 16 tiles needs:
 * part q covers columns x0 + shift + 16 q; shift is 0 for the first half
 * of them and m for the second (the phases past m). Masks keep reads inside
 * [0, in_w) and give the zero padding. */
typedef struct row_loads {
  ptrdiff_t offset[8];
  __mmask16 mask[8];
} row_loads;

static inline void row_loads_init(row_loads* loads, ptrdiff_t x0, ptrdiff_t in_w, size_t m) {
  const size_t parts = m;  /* m parts of 16 columns cover 16 tiles' first m phases */
  for (size_t half = 0; half < 2; half++) {
    for (size_t q = 0; q < parts; q++) {
      const ptrdiff_t begin = x0 + (ptrdiff_t)(half * m + 16 * q);
      __mmask16 mask = 0;
      for (int lane = 0; lane < 16; lane++) {
        if (begin + lane >= 0 && begin + lane < in_w) mask |= (__mmask16)(1u << lane);
      }
      loads->offset[half * parts + q] = begin;
      loads->mask[half * parts + q] = mask;
    }
  }
}

/* d[ph] = columns x0 + m * i + ph of the row for tiles i = 0..15, ph < m + 2. */
static inline void row_phases(const float* row, const row_loads* loads, __m512* d, size_t m) {
  __m512 part[8];
  for (size_t q = 0; q < 2 * m; q++) {
    part[q] = loads->mask[q] == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(loads->mask[q], row + loads->offset[q]);
  }
  if (m == 4) {
    for (size_t ph = 0; ph < 6; ph++) {
      const __m512* p = ph < 4 ? part : part + 4;
      const int s = (int)(ph < 4 ? ph : ph - 4);
      const __m512i index = _mm512_add_epi32(
          _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28), _mm512_set1_epi32(s));
      const __m512 low = _mm512_permutex2var_ps(p[0], index, p[1]);
      const __m512 high = _mm512_permutex2var_ps(p[2], index, p[3]);
      d[ph] = _mm512_shuffle_f32x4(low, high, 0x44);
    }
  } else {
    for (size_t ph = 0; ph < 4; ph++) {
      const __m512* p = ph < 2 ? part : part + 2;
      const int s = (int)(ph < 2 ? ph : ph - 2);
      const __m512i index = _mm512_add_epi32(
          _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), _mm512_set1_epi32(s));
      d[ph] = _mm512_permutex2var_ps(p[0], index, p[1]);
    }
  }
}

/* Channel k's staged values of the block's tiles into the panels of v. */
static inline void copy_to_panels(const float* stage, size_t stage_row, size_t rounded, size_t alpha,
                                  size_t mr, float* v, size_t v_stride, size_t panel_floats, size_t k) {
  const __mmask16 panel_mask = lanes_mask(mr);
  for (size_t e = 0; e < alpha * alpha; e++) {
    const float* source = stage + e * stage_row;
    float* target = v + e * v_stride + k * mr;
    if (mr == 8) {
      for (size_t t = 0; t < rounded; t += 8, target += panel_floats) {
        _mm256_storeu_ps(target, _mm256_loadu_ps(source + t));
      }
    } else {
      for (size_t t = 0; t < rounded; t += mr, target += panel_floats) {
        _mm512_mask_storeu_ps(target, panel_mask, _mm512_maskz_loadu_ps(panel_mask, source + t));
      }
    }
  }
}

/* One body per tile size, so that every loop over alpha is unrolled. Per
 * channel, 16 tiles of a tile row at a time: the horizontal pass (d B) on
 * each input row straight from the image, then the vertical pass (B^T .) in
 * registers, into a staging row of the block's tiles per element; then
 * each panel's mr tiles are copied to their place in v. */
static inline __attribute__((always_inline)) void input_tiles(const cnnrt_winograd_geometry* g, const float* x,
                                                              size_t channels, size_t ty_begin, size_t ty_end,
                                                              size_t mr, float* v, size_t v_stride,
                                                              size_t panel_stride, float* scratch,
                                                              const size_t m) {
  const size_t alpha = m + 2;
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  const size_t tiles = (ty_end - ty_begin) * g->tiles_x;
  const size_t rounded = (tiles + mr - 1) / mr * mr;
  const size_t stage_row = (rounded + 16 + 15) / 16 * 16;
  const size_t groups = (g->tiles_x + 15) / 16;
  const size_t stage_floats = alpha * alpha * stage_row;
  float* stage = scratch;  /* two of [alpha * alpha][stage_row]: channels alternate */
  row_loads* loads = (row_loads*)(scratch + 2 * stage_floats);
  for (size_t group = 0; group < groups; group++) {
    row_loads_init(&loads[group], (ptrdiff_t)(group * 16 * m) - g->pad_left, in_w, m);
  }
  const size_t panel_floats = panel_stride;
  /* Input rows of the block (clipped to the image), prefetched one channel
   * ahead: on large planes each channel's rows lie far apart and would
   * otherwise be fetched from memory one miss at a time. */
  ptrdiff_t row_begin = (ptrdiff_t)(ty_begin * m) - g->pad_top, row_end = (ptrdiff_t)(ty_end * m + 2) - g->pad_top;
  if (row_begin < 0) row_begin = 0;
  if (row_end > in_h) row_end = in_h;
  for (size_t k = 0; k < channels; k++) {
    const float* plane = x + k * g->in_h * g->in_w;
    if (k + 1 < channels && row_end > row_begin) {
      const char* next = (const char*)(plane + g->in_h * g->in_w + row_begin * in_w);
      const size_t bytes = (size_t)(row_end - row_begin) * (size_t)in_w * sizeof(float);
      for (size_t offset = 0; offset < bytes; offset += 64) _mm_prefetch(next + offset, _MM_HINT_T0);
    }
    for (size_t ty = ty_begin; ty < ty_end; ty++) {
      const ptrdiff_t y0 = (ptrdiff_t)(ty * m) - g->pad_top;
      for (size_t group = 0; group < groups; group++) {
        /* Lanes past the row's last tile land on the next row's first tiles
         * (overwritten next) or past the block (zeroed below). */
        float* out = stage + (k % 2) * stage_floats + (ty - ty_begin) * g->tiles_x + group * 16;
        __m512 h[6][6];
        for (size_t j = 0; j < alpha; j++) {
          const ptrdiff_t iy = y0 + (ptrdiff_t)j;
          if (iy < 0 || iy >= in_h) {
            for (size_t i = 0; i < alpha; i++) h[j][i] = _mm512_setzero_ps();
            continue;
          }
          __m512 d[6];
          row_phases(plane + iy * in_w, &loads[group], d, m);
          if (m == 4) input_1d_4(d, h[j]);
          else input_1d_2(d, h[j]);
        }
        for (size_t i = 0; i < alpha; i++) {
          __m512 d[6], r[6];
          for (size_t j = 0; j < alpha; j++) d[j] = h[j][i];
          if (m == 4) input_1d_4(d, r);
          else input_1d_2(d, r);
          for (size_t j = 0; j < alpha; j++) _mm512_storeu_ps(out + (j * alpha + i) * stage_row, r[j]);
        }
      }
    }
    if (rounded > tiles) {  /* lanes of the last panel past the block */
      for (size_t e = 0; e < alpha * alpha; e++) {
        _mm512_storeu_ps(stage + (k % 2) * stage_floats + e * stage_row + tiles, _mm512_setzero_ps());
      }
    }
    /* Copy the previous channel: its staging stores (overlapping, of other
     * widths) have long left the store queue, so these loads do not wait. */
    if (k > 0) copy_to_panels(stage + ((k - 1) % 2) * stage_floats, stage_row, rounded, alpha, mr, v, v_stride,
                              panel_floats, k - 1);
  }
  copy_to_panels(stage + ((channels - 1) % 2) * stage_floats, stage_row, rounded, alpha, mr, v, v_stride,
                 panel_floats, channels - 1);
}

/* In place: r[p] lane q becomes r[q] lane p. */
static inline void transpose_16x16(__m512* r) {
  __m512 a[16], b[16];
  for (int i = 0; i < 8; i++) {
    a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    const __m512d a0 = _mm512_castps_pd(a[4 * i]), a1 = _mm512_castps_pd(a[4 * i + 1]);
    const __m512d a2 = _mm512_castps_pd(a[4 * i + 2]), a3 = _mm512_castps_pd(a[4 * i + 3]);
    b[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    b[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    b[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    b[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  /* b[4 i + j], 128-bit lane L: rows 4 i .. 4 i + 3 of column 4 L + j. */
  for (int j = 0; j < 4; j++) {
    const __m512 c1 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0x88), c2 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0x88);
    const __m512 d1 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0xDD), d2 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0xDD);
    r[j] = _mm512_shuffle_f32x4(c1, c2, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(c1, c2, 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(d1, d2, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(d1, d2, 0xDD);
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
      __m512 result[16];
      for (size_t a = 0; a < m; a++) {
        if (m == 4) output_1d_4(column[a], result + a * m);
        else output_1d_2(column[a], result + a * m);
      }
      if (m == 4) {
        /* result[pixel] holds 16 channels: transpose to 16 pixels per channel. */
        transpose_16x16(result);
        const __mmask8 col_mask = (__mmask8)((1u << cols) - 1u);
        for (size_t q = 0; q < lanes; q++) {
          float* out = corner + (k0 + q) * plane;
          for (size_t a = 0; a < rows; a++) {
            __m128 value;
            switch (a) { /* the lane index must be an immediate */
              case 0: value = _mm512_extractf32x4_ps(result[q], 0); break;
              case 1: value = _mm512_extractf32x4_ps(result[q], 1); break;
              case 2: value = _mm512_extractf32x4_ps(result[q], 2); break;
              default: value = _mm512_extractf32x4_ps(result[q], 3); break;
            }
            if (cols == 4) _mm_storeu_ps(out + a * g->out_w, value);
            else _mm_mask_storeu_ps(out + a * g->out_w, col_mask, value);
          }
        }
        continue;
      }
      for (size_t p = 0; p < m * m; p++) _mm512_storeu_ps(pixels[p], result[p]);
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
                                      size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride, size_t panel_stride,
                                      float* scratch) {
  if (g->m == 4) input_tiles(g, x, channels, ty_begin, ty_end, mr, v, v_stride, panel_stride, scratch, 4);
  else input_tiles(g, x, channels, ty_begin, ty_end, mr, v, v_stride, panel_stride, scratch, 2);
}

void cnnrt_f32_winograd_output__avx512(const cnnrt_winograd_geometry* g, const float* c, size_t c_stride,
                                       size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end,
                                       float* y, float* scratch) {
  (void)scratch;
  if (g->m == 4) output_tiles(g, c, c_stride, c_row_stride, channels, ty_begin, ty_end, y, 4);
  else output_tiles(g, c, c_stride, c_row_stride, channels, ty_begin, ty_end, y, 2);
}
