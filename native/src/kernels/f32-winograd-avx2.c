/*
 * Winograd F(m x m, 3 x 3) transforms (m = 2 or 4) with AVX2 and FMA.
 *
 * Input: 8 tiles of a tile row at a time, for each channel. An input row is
 * read as 4-float chunks starting m columns apart; pairs of chunks four
 * apart fill the two 128-bit halves of a vector, so that one in-lane 4x4
 * transpose (F(4,3)) or one even/odd shuffle (F(2,3)) puts the columns of
 * the 8 tiles in tile order without a lane-crossing permute. Masked loads
 * give the zero padding. The horizontal pass runs on each row, the vertical
 * pass on the 8 tiles' columns, and the results go through staging rows of
 * the block's tiles into the packed-A panels (a panel of mr = 6 tiles takes
 * one 8-float store that runs into the next channel's lanes, rewritten
 * next).
 * Output: per tile, 8 output channels at once (contiguous in C); the m x m
 * pixels of each output row are turned into rows of 4 (or 2) pixels per
 * channel by an in-lane 4x4 transpose, one store per channel and row.
 * Same matrices as f32-winograd-ref.c, factored like the AVX-512 file;
 * results differ from the reference by rounding only.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

/* B^T d for d[0..5] (F(4,3)). */
static inline void input_1d_4(const __m256* d, __m256* r) {
  const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
  r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  const __m256 a = _mm256_fnmadd_ps(four, d[2], d[4]), b = _mm256_fnmadd_ps(four, d[1], d[3]);
  r[1] = _mm256_add_ps(a, b);
  r[2] = _mm256_sub_ps(a, b);
  const __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
  r[3] = _mm256_add_ps(c, e);
  r[4] = _mm256_sub_ps(c, e);
  r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

/* B^T d for d[0..3] (F(2,3)). */
static inline void input_1d_2(const __m256* d, __m256* r) {
  r[0] = _mm256_sub_ps(d[0], d[2]);
  r[1] = _mm256_add_ps(d[1], d[2]);
  r[2] = _mm256_sub_ps(d[2], d[1]);
  r[3] = _mm256_sub_ps(d[1], d[3]);
}

/* A^T s for s[0..5] (F(4,3)). */
static inline void output_1d_4(const __m256* s, __m256* o) {
  const __m256 a = _mm256_add_ps(s[1], s[2]), b = _mm256_sub_ps(s[1], s[2]);
  const __m256 c = _mm256_add_ps(s[3], s[4]), d = _mm256_sub_ps(s[3], s[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(s[0], a), c);
  o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d, b);
  o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), c, a);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d, b), s[5]);
}

/* A^T s for s[0..3] (F(2,3)). */
static inline void output_1d_2(const __m256* s, __m256* o) {
  o[0] = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]);
  o[1] = _mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]);
}

/* The chunks of one input row that 8 tiles need: chunk j holds the 4
 * columns from x0 + m * j (j < 9). Masks keep the reads inside [0, in_w)
 * and give the zero padding; groups with every chunk inside skip them. */
#define CHUNKS 9
typedef struct chunk_table {
  int32_t mask[CHUNKS][4];
  int32_t masked;
  int32_t unused[3];
} chunk_table;

static void chunk_table_init(chunk_table* table, ptrdiff_t x0, ptrdiff_t in_w, size_t m) {
  /* Unmasked, row_phases reads chunks 0..8 (F(4,3)) or 0..7 (F(2,3)) whole. */
  const ptrdiff_t read = (ptrdiff_t)(m == 4 ? 8 * 4 + 4 : 7 * 2 + 4);
  table->masked = x0 < 0 || x0 + read > in_w;
  for (size_t j = 0; j < CHUNKS; j++) {
    for (size_t lane = 0; lane < 4; lane++) {
      const ptrdiff_t column = x0 + (ptrdiff_t)(m * j + lane);
      table->mask[j][lane] = column >= 0 && column < in_w ? -1 : 0;
    }
  }
}

static inline __m128 load_chunk(const float* row, const chunk_table* table, size_t j, size_t m, int masked) {
  const float* source = row + (ptrdiff_t)(m * j);
  if (!masked) return _mm_loadu_ps(source);
  return _mm_maskload_ps(source, _mm_loadu_si128((const __m128i*)table->mask[j]));
}

/* Chunks j (low half) and j + 4 (high half). */
static inline __m256 chunk_pair(const float* row, const chunk_table* table, size_t j, size_t m, int masked) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(load_chunk(row, table, j, m, masked)),
                              load_chunk(row, table, j + 4, m, masked), 1);
}

/* d[ph] = columns x0 + m * i + ph of the row for tiles i = 0..7, ph < m + 2;
 * row points at column x0. */
static inline __attribute__((always_inline)) void row_phases(const float* row, const chunk_table* table, __m256* d,
                                                             size_t m, int masked) {
  if (m == 4) {
    /* p[j]: tile j's columns 0..3 | tile j + 4's. */
    const __m256 p0 = chunk_pair(row, table, 0, 4, masked), p1 = chunk_pair(row, table, 1, 4, masked);
    const __m256 p2 = chunk_pair(row, table, 2, 4, masked), p3 = chunk_pair(row, table, 3, 4, masked);
    const __m256 p4 = chunk_pair(row, table, 4, 4, masked);
    const __m256 u0 = _mm256_unpacklo_ps(p0, p1), u1 = _mm256_unpackhi_ps(p0, p1);
    const __m256 u2 = _mm256_unpacklo_ps(p2, p3), u3 = _mm256_unpackhi_ps(p2, p3);
    d[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(u0), _mm256_castps_pd(u2)));
    d[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(u0), _mm256_castps_pd(u2)));
    d[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(u1), _mm256_castps_pd(u3)));
    d[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(u1), _mm256_castps_pd(u3)));
    /* Columns 4 and 5 of tile i are columns 0 and 1 of tile i + 1. */
    const __m256 w0 = _mm256_unpacklo_ps(p1, p2), w1 = _mm256_unpacklo_ps(p3, p4);
    d[4] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(w0), _mm256_castps_pd(w1)));
    d[5] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(w0), _mm256_castps_pd(w1)));
  } else {
    /* Chunks 2 columns apart: even ones hold tiles 2i, 2i + 1 whole; odd
     * ones the same tiles' columns 2 and 3. */
    const __m256 a = chunk_pair(row, table, 0, 2, masked), b = chunk_pair(row, table, 2, 2, masked);
    const __m256 c = chunk_pair(row, table, 1, 2, masked), e = chunk_pair(row, table, 3, 2, masked);
    d[0] = _mm256_shuffle_ps(a, b, 0x88);
    d[1] = _mm256_shuffle_ps(a, b, 0xDD);
    d[2] = _mm256_shuffle_ps(c, e, 0x88);
    d[3] = _mm256_shuffle_ps(c, e, 0xDD);
  }
}

/* Channel k's staged values of the block's tiles into the panels of v.
 * Stores run up to 8 floats past a panel's mr lanes of channel k (into the
 * lanes of the channels after it, written later) where those lanes exist;
 * channels near the end store exactly. */
static inline void copy_to_panels(const float* stage, size_t stage_row, size_t rounded, size_t alpha, size_t mr,
                                  size_t channels, float* v, size_t v_stride, size_t panel_stride, size_t k) {
  const size_t wide_width = (mr + 7) / 8 * 8;
  const int wide = (channels - k) * mr >= wide_width;
  for (size_t e = 0; e < alpha * alpha; e++) {
    const float* source = stage + e * stage_row;
    float* target = v + e * v_stride + k * mr;
    if (mr == 8 || (mr < 8 && wide)) {
      for (size_t t = 0; t < rounded; t += mr, target += panel_stride) {
        _mm256_storeu_ps(target, _mm256_loadu_ps(source + t));
      }
      continue;
    }
    for (size_t t = 0; t < rounded; t += mr, target += panel_stride) {
      size_t lane = 0;
      for (; lane + 8 <= mr; lane += 8) _mm256_storeu_ps(target + lane, _mm256_loadu_ps(source + t + lane));
      if (lane < mr) {
        const __m256 rest = _mm256_loadu_ps(source + t + lane);
        if (wide) _mm256_storeu_ps(target + lane, rest);
        else cnnrt_f32_store_first_avx2(target + lane, rest, mr - lane);
      }
    }
  }
}

/* One body per tile size, so that every loop over alpha is unrolled. Per
 * channel, 8 tiles of a tile row at a time: the horizontal pass (d B) on
 * each input row straight from the image, then the vertical pass (B^T .)
 * into a staging row of the block's tiles per element; then each panel's
 * mr tiles are copied to their place in v. */
static inline __attribute__((always_inline)) void input_tiles(const cnnrt_winograd_geometry* g, const float* x,
                                                              size_t channels, size_t ty_begin, size_t ty_end,
                                                              size_t mr, float* v, size_t v_stride,
                                                              size_t panel_stride, float* scratch, const size_t m) {
  const size_t alpha = m + 2;
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  const size_t tiles = (ty_end - ty_begin) * g->tiles_x;
  const size_t rounded = (tiles + mr - 1) / mr * mr;
  const size_t stage_row = (rounded + 16 + 15) / 16 * 16;
  const size_t groups = (g->tiles_x + 7) / 8;
  const size_t stage_floats = alpha * alpha * stage_row;
  float* stage = scratch; /* two of [alpha * alpha][stage_row]: channels alternate */
  chunk_table* tables = (chunk_table*)(scratch + 2 * stage_floats);
  for (size_t group = 0; group < groups; group++) {
    chunk_table_init(&tables[group], (ptrdiff_t)(group * 8 * m) - g->pad_left, in_w, m);
  }
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
    float* channel_stage = stage + (k % 2) * stage_floats;
    for (size_t ty = ty_begin; ty < ty_end; ty++) {
      const ptrdiff_t y0 = (ptrdiff_t)(ty * m) - g->pad_top;
      for (size_t group = 0; group < groups; group++) {
        /* Lanes past the row's last tile land on the next row's first tiles
         * (overwritten next) or past the block (zeroed below). */
        float* out = channel_stage + (ty - ty_begin) * g->tiles_x + group * 8;
        const chunk_table* table = &tables[group];
        const ptrdiff_t x0 = (ptrdiff_t)(group * 8 * m) - g->pad_left;
        __m256 h[6][6];
        for (size_t j = 0; j < alpha; j++) {
          const ptrdiff_t iy = y0 + (ptrdiff_t)j;
          if (iy < 0 || iy >= in_h) {
            for (size_t i = 0; i < alpha; i++) h[j][i] = _mm256_setzero_ps();
            continue;
          }
          __m256 d[6];
          const float* row = plane + iy * in_w + x0;
          if (table->masked) row_phases(row, table, d, m, 1);
          else row_phases(row, table, d, m, 0);
          if (m == 4) input_1d_4(d, h[j]);
          else input_1d_2(d, h[j]);
        }
        for (size_t i = 0; i < alpha; i++) {
          __m256 d[6], r[6];
          for (size_t j = 0; j < alpha; j++) d[j] = h[j][i];
          if (m == 4) input_1d_4(d, r);
          else input_1d_2(d, r);
          for (size_t j = 0; j < alpha; j++) _mm256_storeu_ps(out + (j * alpha + i) * stage_row, r[j]);
        }
      }
    }
    if (rounded > tiles) { /* lanes of the last panel past the block (fewer than mr <= 16) */
      for (size_t e = 0; e < alpha * alpha; e++) {
        _mm256_storeu_ps(channel_stage + e * stage_row + tiles, _mm256_setzero_ps());
        _mm256_storeu_ps(channel_stage + e * stage_row + tiles + 8, _mm256_setzero_ps());
      }
    }
    /* Copy the previous channel: its staging stores have left the store
     * queue, so these loads (of other offsets) do not wait on them. */
    if (k > 0) {
      copy_to_panels(stage + ((k - 1) % 2) * stage_floats, stage_row, rounded, alpha, mr, channels, v, v_stride,
                     panel_stride, k - 1);
    }
  }
  copy_to_panels(stage + ((channels - 1) % 2) * stage_floats, stage_row, rounded, alpha, mr, channels, v, v_stride,
                 panel_stride, channels - 1);
}

/* In place, within each 128-bit half: r[p] element q becomes r[q] element p. */
static inline void transpose_4x4_halves(__m256* r) {
  const __m256 a = _mm256_unpacklo_ps(r[0], r[1]), b = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 c = _mm256_unpacklo_ps(r[2], r[3]), d = _mm256_unpackhi_ps(r[2], r[3]);
  r[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(a), _mm256_castps_pd(c)));
  r[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(a), _mm256_castps_pd(c)));
  r[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(b), _mm256_castps_pd(d)));
  r[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(b), _mm256_castps_pd(d)));
}

/* The first `cols` (1..4) floats of x. */
static inline void store_row(float* target, __m128 x, size_t cols) {
  switch (cols) {
    case 4: _mm_storeu_ps(target, x); break;
    case 3:
      _mm_storel_pi((__m64*)target, x);
      _mm_store_ss(target + 2, _mm_movehl_ps(x, x));
      break;
    case 2: _mm_storel_pi((__m64*)target, x); break;
    default: _mm_store_ss(target, x); break;
  }
}

static inline __attribute__((always_inline)) void output_tiles(const cnnrt_winograd_geometry* g, const float* c,
                                                               size_t c_stride, size_t c_row_stride, size_t channels,
                                                               size_t ty_begin, size_t ty_end, float* y,
                                                               const size_t m) {
  const size_t alpha = m + 2;
  const size_t tiles = (ty_end - ty_begin) * g->tiles_x;
  const size_t plane = g->out_h * g->out_w, out_w = g->out_w;
  int32_t tail_lanes[8];
  for (size_t q = 0; q < 8; q++) tail_lanes[q] = q < channels % 8 ? -1 : 0;
  const __m256i tail_mask = _mm256_loadu_si256((const __m256i*)tail_lanes);
  for (size_t t = 0; t < tiles; t++) {
    const size_t ty = ty_begin + t / g->tiles_x, tx = t % g->tiles_x;
    const size_t rows = g->out_h - ty * m < m ? g->out_h - ty * m : m;
    const size_t cols = g->out_w - tx * m < m ? g->out_w - tx * m : m;
    float* corner = y + (ty * m) * out_w + tx * m;
    for (size_t k0 = 0; k0 < channels; k0 += 8) {
      const size_t lanes = channels - k0 < 8 ? channels - k0 : 8;
      const float* source = c + t * c_row_stride + k0;
      __m256 column[4][6];
      for (size_t j = 0; j < alpha; j++) {
        __m256 s[6], o[4];
        for (size_t i = 0; i < alpha; i++) {
          const float* element = source + (i * alpha + j) * c_stride;
          s[i] = lanes == 8 ? _mm256_loadu_ps(element) : _mm256_maskload_ps(element, tail_mask);
        }
        if (m == 4) output_1d_4(s, o);
        else output_1d_2(s, o);
        for (size_t a = 0; a < m; a++) column[a][j] = o[a];
      }
      float* out = corner + k0 * plane;
      if (m == 4) {
        for (size_t a = 0; a < rows; a++) {
          /* r[b]: pixel (a, b) of 8 channels -> r[q]: pixels (a, 0..3) of channels q | q + 4. */
          __m256 r[4];
          output_1d_4(column[a], r);
          transpose_4x4_halves(r);
          float* target = out + a * out_w;
          for (size_t q = 0; q < 4 && q < lanes; q++) {
            store_row(target + q * plane, _mm256_castps256_ps128(r[q]), cols);
          }
          for (size_t q = 4; q < lanes; q++) {
            store_row(target + q * plane, _mm256_extractf128_ps(r[q - 4], 1), cols);
          }
        }
      } else {
        /* r[2 a + b]: pixel (a, b) -> r[q]: pixels (0, 0), (0, 1), (1, 0), (1, 1) of channels q | q + 4. */
        __m256 r[4];
        output_1d_2(column[0], r);
        output_1d_2(column[1], r + 2);
        transpose_4x4_halves(r);
        for (size_t q = 0; q < lanes; q++) {
          const __m128 pixels = q < 4 ? _mm256_castps256_ps128(r[q]) : _mm256_extractf128_ps(r[q - 4], 1);
          float* target = out + q * plane;
          store_row(target, pixels, cols);
          if (rows > 1) store_row(target + out_w, _mm_movehl_ps(pixels, pixels), cols);
        }
      }
    }
  }
}

void cnnrt_f32_winograd_input__avx2(const cnnrt_winograd_geometry* g, const float* x, size_t channels,
                                    size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride,
                                    size_t panel_stride, float* scratch) {
  if (g->m == 4) input_tiles(g, x, channels, ty_begin, ty_end, mr, v, v_stride, panel_stride, scratch, 4);
  else input_tiles(g, x, channels, ty_begin, ty_end, mr, v, v_stride, panel_stride, scratch, 2);
}

void cnnrt_f32_winograd_output__avx2(const cnnrt_winograd_geometry* g, const float* c, size_t c_stride,
                                     size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end, float* y,
                                     float* scratch) {
  (void)scratch;
  if (g->m == 4) output_tiles(g, c, c_stride, c_row_stride, channels, ty_begin, ty_end, y, 4);
  else output_tiles(g, c, c_stride, c_row_stride, channels, ty_begin, ty_end, y, 2);
}
