/*
 * Depthwise convolution with AVX-512 (NCHW).
 *
 * A band of rows of each input plane is first copied into scratch as
 * stride_h x stride_w "phase" planes with the zero padding made explicit
 * (f32-dwconv2d-layout.h): there the taps of a vector of 16 outputs are
 * plain loads, for stride 2 as for stride 1, with no edge cases. Then one of
 * three loops, chosen from the geometry alone:
 *  - rows (3x3 and 5x5, strides 1 and 2): blocks of 4 output rows by 2
 *    vectors of 16 columns. Each padded input row is loaded once per block
 *    and feeds every output row whose window holds it, and its kx taps are
 *    cut from 3 loads with valignd (a 3x3 stride-1 block: 18 loads and 24
 *    shifts for 72 fused multiply-adds; unaligned loads, which cost about two
 *    aligned ones, were the bottleneck). 8 accumulators cover the FMA latency.
 *  - flat (narrow planes: 7x7, or 14x14 at stride 2), where 16 lanes along
 *    one row would be mostly empty: vectors run along the flattened phase
 *    plane and cover several output rows each; the lanes of the padding
 *    columns are computed and dropped, the rest compressed into the output.
 *    Small planes are double-buffered across channels.
 *  - taps: any other kernel (1x1, 7x7, 3x5, stride 1x2, ...), rows of vectors
 *    with the taps in a loop.
 * Narrow outputs (at most 8 x 16: the 7x7 planes of the last stages) with
 * 16 or more channels take a fourth loop, channel-blocked (dw_blocked): 16
 * channels per vector, so that no lane is empty.
 * Each output sums its taps in (ky, kx) order with fused multiply-adds from
 * zero, taps over the padding adding 0 * w (the reference skips them: only
 * the sign of a zero can differ); bias, residual and activation follow in
 * registers, in cnnrt_f32_epilogue_ref's order.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/f32-activation-avx512.h"
#include "kernels/f32-dwconv2d-layout.h"
#include "kernels/f32-transpose16-avx512.h"
#include "kernels/kernels.h"

#define DW_INLINE static inline __attribute__((always_inline))
#define DW_UNROLL _Pragma("GCC unroll 64")

/* Output rows and 16-column vectors of a rows-mode block; vectors of a flat block. */
#define DW_BLOCK_ROWS 4
#define DW_BLOCK_VECTORS 2
#define DW_FLAT_VECTORS 4
/* Input rows the copy of rows wider than 32 prefetches ahead: large planes
 * come from L3 (a 112x112x96 layer's input is 4.8 MB) and the copy is
 * bound by that stream. */
#define DW_PREFETCH_ROWS 8

static inline __mmask16 tail_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* Copies phase rows [first, first + count) of input plane `plane` into rows
 * [0, count) of the phases in scratch. Padding columns are never written:
 * they keep the zeros scratch starts with; so do padding rows when the plane
 * is one band (`zero_rows` 0), else they are cleared. */
static void dw_fill(const cnnrt_conv2d_geometry* g, const cnnrt_dwconv2d_layout* l, const float* plane,
                    size_t first, size_t count, int zero_rows, float* scratch) {
  const size_t sh = g->stride_h, sw = g->stride_w, pitch = l->pitch, pad_left = (size_t)g->pad_left;
  const size_t pad_top = (size_t)g->pad_top, in_w = g->in_w;
  for (size_t a = 0; a < sh; a++) {
    /* Phase row i holds padded row (first + i) * sh + a, input row that - pad_top. */
    const size_t padded = first * sh + a;
    size_t begin = padded >= pad_top ? 0 : (pad_top - padded + sh - 1) / sh;
    size_t end = pad_top + g->in_h > padded ? (pad_top + g->in_h - padded + sh - 1) / sh : 0;
    if (end > count) end = count;
    if (begin > end) begin = end;
    float* rows = scratch + a * sw * l->phase_floats;
    if (zero_rows) {
      for (size_t b = 0; b < sw; b++) {
        memset(rows + b * l->phase_floats, 0, begin * pitch * sizeof(float));
        memset(rows + b * l->phase_floats + end * pitch, 0, (count - end) * pitch * sizeof(float));
      }
    }
    if (begin == end) continue;
    const float* in = plane + ((first + begin) * sh + a - pad_top) * in_w;
    const size_t in_step = sh * in_w;
    if (sw == 1) {
      size_t copy = pitch > pad_left ? pitch - pad_left : 0;
      if (copy > in_w) copy = in_w;
      float* out = rows + begin * pitch + pad_left;
      if (copy <= 16) {
        const __mmask16 mask = tail_mask(copy);
        for (size_t i = begin; i < end; i++, in += in_step, out += pitch) {
          _mm512_mask_storeu_ps(out, mask, _mm512_maskz_loadu_ps(mask, in));
        }
      } else {
        const __mmask16 mask = tail_mask(copy % 16 == 0 ? 16 : copy % 16);
        const size_t full = (copy - 1) / 16 * 16;
        for (size_t i = begin; i < end; i++, in += in_step, out += pitch) {
          for (size_t j = 0; j < full; j += 16) {
            _mm_prefetch((const char*)(in + DW_PREFETCH_ROWS * in_step + j), _MM_HINT_T0);
            _mm512_storeu_ps(out + j, _mm512_loadu_ps(in + j));
          }
          _mm_prefetch((const char*)(in + DW_PREFETCH_ROWS * in_step + full), _MM_HINT_T0);
          _mm512_mask_storeu_ps(out + full, mask, _mm512_maskz_loadu_ps(mask, in + full));
        }
      }
      continue;
    }
    /* stride_w 2: input column ix is padded column ix + pad_left, of phase
     * (ix + pad_left) % 2 at column (ix + pad_left) / 2; even input columns
     * go to phase pad_left % 2, odd ones to the other. */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const size_t first_even = pad_left / 2, first_odd = (pad_left + 1) / 2;
    size_t copy_even = pitch > first_even ? pitch - first_even : 0;
    if (copy_even > (in_w + 1) / 2) copy_even = (in_w + 1) / 2;
    size_t copy_odd = pitch > first_odd ? pitch - first_odd : 0;
    if (copy_odd > in_w / 2) copy_odd = in_w / 2;
    const size_t columns = copy_even > copy_odd ? copy_even : copy_odd;
    float* to_even = rows + (pad_left % 2) * l->phase_floats + begin * pitch + first_even;
    float* to_odd = rows + ((pad_left + 1) % 2) * l->phase_floats + begin * pitch + first_odd;
    const int prefetch = in_w > 32;
    for (size_t i = begin; i < end; i++, in += in_step, to_even += pitch, to_odd += pitch) {
      for (size_t j = 0; j < columns; j += 16) {
        const size_t ix = 2 * j;
        if (prefetch) {
          _mm_prefetch((const char*)(in + DW_PREFETCH_ROWS * in_step + ix), _MM_HINT_T0);
          _mm_prefetch((const char*)(in + DW_PREFETCH_ROWS * in_step + ix + 16), _MM_HINT_T0);
        }
        const __m512 lo = _mm512_maskz_loadu_ps(tail_mask(in_w - ix), in + ix);
        const __m512 hi = _mm512_maskz_loadu_ps(in_w > ix + 16 ? tail_mask(in_w - ix - 16) : 0, in + ix + 16);
        if (j < copy_even) {
          _mm512_mask_storeu_ps(to_even + j, tail_mask(copy_even - j), _mm512_permutex2var_ps(lo, even, hi));
        }
        if (j < copy_odd) {
          _mm512_mask_storeu_ps(to_odd + j, tail_mask(copy_odd - j), _mm512_permutex2var_ps(lo, odd, hi));
        }
      }
    }
  }
}

/* The activation of n accumulators, the switch outside the loop. */
DW_INLINE void dw_activate(__m512* acc, int n, int activation, float alpha, float beta) {
  switch (activation) {
    case CNNRT_ACT_NONE:
      break;
    case CNNRT_ACT_RELU:
      DW_UNROLL for (int i = 0; i < n; i++) acc[i] = cnnrt_f32_activation_avx512(acc[i], CNNRT_ACT_RELU, alpha, beta);
      break;
    case CNNRT_ACT_CLIP:
      DW_UNROLL for (int i = 0; i < n; i++) acc[i] = cnnrt_f32_activation_avx512(acc[i], CNNRT_ACT_CLIP, alpha, beta);
      break;
    case CNNRT_ACT_HARD_SWISH:
      DW_UNROLL for (int i = 0; i < n; i++) {
        acc[i] = cnnrt_f32_activation_avx512(acc[i], CNNRT_ACT_HARD_SWISH, alpha, beta);
      }
      break;
    case CNNRT_ACT_SILU:
      DW_UNROLL for (int i = 0; i < n; i++) acc[i] = cnnrt_f32_activation_avx512(acc[i], CNNRT_ACT_SILU, alpha, beta);
      break;
    default:
      for (int i = 0; i < n; i++) acc[i] = cnnrt_f32_activation_avx512(acc[i], activation, alpha, beta);
      break;
  }
}

/* One output plane's band: where its phases, outputs and epilogue are. */
typedef struct dw_band {
  const float* phases;   /* scratch: the band's phase rows */
  size_t phase_floats, pitch;
  size_t rows;           /* output rows in this band */
  size_t out_w;
  float* out;            /* the band's first output row */
  const float* residual; /* its residual row, or NULL */
  float bias;            /* added when nonzero, as the reference does */
  int activation;        /* CNNRT_ACT_NONE when applied afterwards by the reference */
  float alpha, beta;
} dw_band;

/* Bias, residual (row pointer `residual` + 16 v per vector, the last one
 * masked), activation, store: the epilogue of R rows x V vectors. */
DW_INLINE void dw_finish_rows(const dw_band* c, __m512* acc, size_t oy, size_t ox, size_t last, int R, int V) {
  if (c->bias != 0.0f) {
    const __m512 bias = _mm512_set1_ps(c->bias);
    DW_UNROLL for (int i = 0; i < R * V; i++) acc[i] = _mm512_add_ps(acc[i], bias);
  }
  if (c->residual != NULL) {
    DW_UNROLL for (int r = 0; r < R; r++) {
      DW_UNROLL for (int v = 0; v < V; v++) {
        const __mmask16 mask = v == V - 1 ? tail_mask(last) : 0xFFFF;
        const float* residual = c->residual + (oy + r) * c->out_w + ox + 16 * v;
        acc[r * V + v] = _mm512_add_ps(acc[r * V + v], _mm512_maskz_loadu_ps(mask, residual));
      }
    }
  }
  dw_activate(acc, R * V, c->activation, c->alpha, c->beta);
  if (last == 16) {
    DW_UNROLL for (int r = 0; r < R; r++) {
      DW_UNROLL for (int v = 0; v < V; v++) _mm512_storeu_ps(c->out + (oy + r) * c->out_w + ox + 16 * v, acc[r * V + v]);
    }
  } else {
    DW_UNROLL for (int r = 0; r < R; r++) {
      DW_UNROLL for (int v = 0; v < V; v++) {
        const __mmask16 mask = v == V - 1 ? tail_mask(last) : 0xFFFF;
        _mm512_mask_storeu_ps(c->out + (oy + r) * c->out_w + ox + 16 * v, mask, acc[r * V + v]);
      }
    }
  }
}

/* ---- rows mode ------------------------------------------------------------
 * R output rows from oy by V vectors of columns from ox (the last vector
 * stores its first `last` lanes). Padded row p of the block holds tap row
 * ky = p - r * SH of block row r: it is loaded once per kx and used by every
 * row; each accumulator still sees its taps in (ky, kx) order. */
/* valignd by n lanes (1..15). The intrinsic wants an immediate; n is a
 * constant wherever the unrolled callers are optimised, and the switch folds
 * away there, but unoptimised builds (the sanitizer tests) need it spelled
 * out. */
DW_INLINE __m512i dw_alignr(__m512i hi, __m512i lo, int n) {
  switch (n) {
    case 1: return _mm512_alignr_epi32(hi, lo, 1);
    case 2: return _mm512_alignr_epi32(hi, lo, 2);
    case 3: return _mm512_alignr_epi32(hi, lo, 3);
    case 4: return _mm512_alignr_epi32(hi, lo, 4);
    case 5: return _mm512_alignr_epi32(hi, lo, 5);
    case 6: return _mm512_alignr_epi32(hi, lo, 6);
    case 7: return _mm512_alignr_epi32(hi, lo, 7);
    case 8: return _mm512_alignr_epi32(hi, lo, 8);
    case 9: return _mm512_alignr_epi32(hi, lo, 9);
    case 10: return _mm512_alignr_epi32(hi, lo, 10);
    case 11: return _mm512_alignr_epi32(hi, lo, 11);
    case 12: return _mm512_alignr_epi32(hi, lo, 12);
    case 13: return _mm512_alignr_epi32(hi, lo, 13);
    case 14: return _mm512_alignr_epi32(hi, lo, 14);
    case 15: return _mm512_alignr_epi32(hi, lo, 15);
    default: return lo;
  }
}

DW_INLINE void dw_rows_block(const dw_band* c, const __m512* w, size_t oy, size_t ox, size_t last, int KH, int KW,
                             int SH, int SW, int R, int V) {
  __m512 acc[DW_BLOCK_ROWS * DW_BLOCK_VECTORS];
  DW_UNROLL for (int i = 0; i < R * V; i++) acc[i] = _mm512_setzero_ps();
  const float* base = c->phases + oy * c->pitch + ox;
  DW_UNROLL for (int p = 0; p < (R - 1) * SH + KH; p++) {
    /* Row p of each column phase b, V + 1 vectors: tap kx is phase kx % SW
     * shifted by kx / SW columns, cut out with valignd (loads are the
     * bottleneck: unaligned ones cost about two). */
    __m512i rows[2][DW_BLOCK_VECTORS + 1];
    DW_UNROLL for (int b = 0; b < SW; b++) {
      const float* row = base + (size_t)((p % SH) * SW + b) * c->phase_floats + (size_t)(p / SH) * c->pitch;
      DW_UNROLL for (int u = 0; u <= V; u++) {
        __m512 x = _mm512_loadu_ps(row + 16 * u);
        /* Keeps x in a register: the compiler would otherwise fold the load
         * into the instructions that use it, loading it several times. */
        __asm__("" : "+v"(x));
        rows[b][u] = _mm512_castps_si512(x);
      }
    }
    DW_UNROLL for (int kx = 0; kx < KW; kx++) {
      DW_UNROLL for (int v = 0; v < V; v++) {
        const __m512i* row = rows[kx % SW];
        const __m512 x = _mm512_castsi512_ps(kx / SW == 0 ? row[v] : dw_alignr(row[v + 1], row[v], kx / SW));
        DW_UNROLL for (int r = 0; r < R; r++) {
          const int ky = p - r * SH;
          if (ky >= 0 && ky < KH) acc[r * V + v] = _mm512_fmadd_ps(x, w[ky * KW + kx], acc[r * V + v]);
        }
      }
    }
  }
  dw_finish_rows(c, acc, oy, ox, last, R, V);
}

/* R output rows from oy, every column. */
DW_INLINE void dw_rows_strip(const dw_band* c, const __m512* w, size_t oy, int KH, int KW, int SH, int SW, int R) {
  const size_t out_w = c->out_w;
  size_t ox = 0;
  for (; ox + 16 * DW_BLOCK_VECTORS <= out_w; ox += 16 * DW_BLOCK_VECTORS) {
    dw_rows_block(c, w, oy, ox, 16, KH, KW, SH, SW, R, DW_BLOCK_VECTORS);
  }
  if (out_w - ox > 16) {
    dw_rows_block(c, w, oy, ox, out_w - ox - 16, KH, KW, SH, SW, R, 2);
  } else if (ox < out_w) {
    dw_rows_block(c, w, oy, ox, out_w - ox, KH, KW, SH, SW, R, 1);
  }
}

DW_INLINE void dw_rows_band(const dw_band* c, const float* filter, int KH, int KW, int SH, int SW) {
  __m512 w[25];
  DW_UNROLL for (int t = 0; t < KH * KW; t++) w[t] = _mm512_set1_ps(filter[t]);
  size_t oy = 0;
  if (c->out_w <= 16) {
    /* One vector per row (14x14 planes): 8 rows give the 8 accumulators. */
    for (; oy + 2 * DW_BLOCK_ROWS <= c->rows; oy += 2 * DW_BLOCK_ROWS) {
      dw_rows_block(c, w, oy, 0, c->out_w, KH, KW, SH, SW, 2 * DW_BLOCK_ROWS, 1);
    }
  }
  for (; oy + DW_BLOCK_ROWS <= c->rows; oy += DW_BLOCK_ROWS) dw_rows_strip(c, w, oy, KH, KW, SH, SW, DW_BLOCK_ROWS);
  if (c->rows - oy >= 2) {
    dw_rows_strip(c, w, oy, KH, KW, SH, SW, 2);
    oy += 2;
  }
  if (oy < c->rows) dw_rows_strip(c, w, oy, KH, KW, SH, SW, 1);
}

typedef void (*dw_rows_fn)(const dw_band* c, const float* filter);
#define DW_ROWS_BAND(name, KH, KW, SH, SW) \
  static void name(const dw_band* c, const float* filter) { dw_rows_band(c, filter, KH, KW, SH, SW); }
DW_ROWS_BAND(dw_rows_3x3s1, 3, 3, 1, 1)
DW_ROWS_BAND(dw_rows_3x3s2, 3, 3, 2, 2)
DW_ROWS_BAND(dw_rows_5x5s1, 5, 5, 1, 1)
DW_ROWS_BAND(dw_rows_5x5s2, 5, 5, 2, 2)

/* ---- any kernel ------------------------------------------------------------
 * Offset in the phases of tap (ky, kx) of output (0, 0) (stride_w 1 or 2). */
static inline size_t dw_tap_offset(const cnnrt_conv2d_geometry* g, size_t phase_floats, size_t pitch, size_t ky,
                                   size_t kx) {
  const size_t sw = g->stride_w;
  return ((ky % g->stride_h) * sw + (kx & (sw - 1))) * phase_floats + ky / g->stride_h * pitch + (kx >> (sw - 1));
}

/* Rows of pairs of vectors, the taps in loops. */
static void dw_taps_band(const dw_band* c, const cnnrt_conv2d_geometry* g, const float* filter) {
  const size_t out_w = c->out_w, sw = g->stride_w;
  for (size_t oy = 0; oy < c->rows; oy++) {
    for (size_t ox = 0; ox < out_w; ox += 32) {
      const float* base = c->phases + oy * c->pitch + ox;
      __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
      for (size_t ky = 0; ky < g->kernel_h; ky++) {
        const float* row = base + dw_tap_offset(g, c->phase_floats, c->pitch, ky, 0);
        for (size_t kx = 0; kx < g->kernel_w; kx++) {
          const float* p = row + (kx & (sw - 1)) * c->phase_floats + (kx >> (sw - 1));
          const __m512 weight = _mm512_set1_ps(filter[ky * g->kernel_w + kx]);
          acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(p), weight, acc[0]);
          acc[1] = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16), weight, acc[1]);
        }
      }
      if (out_w - ox > 16) {
        dw_finish_rows(c, acc, oy, ox, out_w - ox - 16, 1, 2);
      } else {
        dw_finish_rows(c, acc, oy, ox, out_w - ox, 1, 1);
      }
    }
  }
}

/* ---- flat mode --------------------------------------------------------------
 * Vector v covers positions [16 v, 16 v + 16) of the phases' rows of pitch
 * floats; lanes[v] marks the outputs among them (column < out_w, row <
 * out_h), first[v] is where the first one goes in the output plane and
 * packed[v] the mask of popcount(lanes[v]) lanes. offsets[t]: tap t's
 * dw_tap_offset (kernels of up to 25 taps). */
typedef struct dw_flat {
  size_t vectors;
  __mmask16 lanes[CNNRT_DWCONV2D_FLAT_MAX];
  __mmask16 packed[CNNRT_DWCONV2D_FLAT_MAX];
  uint32_t first[CNNRT_DWCONV2D_FLAT_MAX];
  size_t offsets[25];
} dw_flat;

static void dw_flat_make(const cnnrt_conv2d_geometry* g, const cnnrt_dwconv2d_layout* l, dw_flat* f) {
  f->vectors = l->flat_vectors;
  size_t done = 0, row = 0, column = 0; /* of position 16 v + i */
  for (size_t v = 0; v < f->vectors; v++) {
    unsigned lanes = 0;
    for (size_t i = 0; i < 16; i++) {
      if (row < g->out_h && column < g->out_w) lanes |= 1u << i;
      if (++column == l->pitch) column = 0, row++;
    }
    f->lanes[v] = (__mmask16)lanes;
    f->packed[v] = tail_mask((size_t)__builtin_popcount(lanes));
    f->first[v] = (uint32_t)done;
    done += (size_t)__builtin_popcount(lanes);
  }
  if (g->kernel_h * g->kernel_w <= 25) {
    for (size_t ky = 0; ky < g->kernel_h; ky++) {
      for (size_t kx = 0; kx < g->kernel_w; kx++) {
        f->offsets[ky * g->kernel_w + kx] = dw_tap_offset(g, l->phase_floats, l->pitch, ky, kx);
      }
    }
  }
}

/* U vectors from v; T taps at f->offsets, or with T = 0 any kernel's taps in
 * loops. */
DW_INLINE void dw_flat_block(const dw_band* c, const cnnrt_conv2d_geometry* g, const dw_flat* f, const float* filter,
                             size_t v, int T, int KW, int U) {
  __m512 acc[DW_FLAT_VECTORS];
  DW_UNROLL for (int u = 0; u < U; u++) acc[u] = _mm512_setzero_ps();
  const float* base = c->phases + 16 * v;
  if (KW > 0) {
    /* stride_w 1: the taps of one kernel row are one row of the phases
     * shifted by kx, cut from U + 1 loads (valignd) rather than loaded
     * unaligned KW times each: flat mode is bound by its loads. */
    DW_UNROLL for (int ky = 0; ky < T / KW; ky++) {
      __m512i row[DW_FLAT_VECTORS + 1];
      DW_UNROLL for (int u = 0; u <= U; u++) {
        row[u] = _mm512_castps_si512(_mm512_loadu_ps(base + f->offsets[ky * KW] + 16 * u));
      }
      DW_UNROLL for (int kx = 0; kx < KW; kx++) {
        const __m512 weight = _mm512_set1_ps(filter[ky * KW + kx]);
        DW_UNROLL for (int u = 0; u < U; u++) {
          const __m512i x = kx == 0 ? row[u] : dw_alignr(row[u + 1], row[u], kx);
          acc[u] = _mm512_fmadd_ps(_mm512_castsi512_ps(x), weight, acc[u]);
        }
      }
    }
  } else if (T > 0) {
    DW_UNROLL for (int t = 0; t < T; t++) {
      const __m512 weight = _mm512_set1_ps(filter[t]);
      DW_UNROLL for (int u = 0; u < U; u++) {
        acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(base + f->offsets[t] + 16 * u), weight, acc[u]);
      }
    }
  } else {
    const size_t sw = g->stride_w;
    for (size_t ky = 0; ky < g->kernel_h; ky++) {
      const float* row = base + dw_tap_offset(g, c->phase_floats, c->pitch, ky, 0);
      for (size_t kx = 0; kx < g->kernel_w; kx++) {
        const float* p = row + (kx & (sw - 1)) * c->phase_floats + (kx >> (sw - 1));
        const __m512 weight = _mm512_set1_ps(filter[ky * g->kernel_w + kx]);
        DW_UNROLL for (int u = 0; u < U; u++) acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16 * u), weight, acc[u]);
      }
    }
  }
  if (c->bias != 0.0f) {
    DW_UNROLL for (int u = 0; u < U; u++) acc[u] = _mm512_add_ps(acc[u], _mm512_set1_ps(c->bias));
  }
  if (c->residual != NULL) {
    DW_UNROLL for (int u = 0; u < U; u++) {
      const __m512 packed = _mm512_maskz_loadu_ps(f->packed[v + u], c->residual + f->first[v + u]);
      acc[u] = _mm512_add_ps(acc[u], _mm512_maskz_expand_ps(f->lanes[v + u], packed));
    }
  }
  dw_activate(acc, U, c->activation, c->alpha, c->beta);
  DW_UNROLL for (int u = 0; u < U; u++) {
    _mm512_mask_storeu_ps(c->out + f->first[v + u], f->packed[v + u], _mm512_maskz_compress_ps(f->lanes[v + u], acc[u]));
  }
}

DW_INLINE void dw_flat_band(const dw_band* c, const cnnrt_conv2d_geometry* g, const dw_flat* f, const float* filter,
                            int T, int KW) {
  size_t v = 0;
  for (; v + DW_FLAT_VECTORS <= f->vectors; v += DW_FLAT_VECTORS) {
    dw_flat_block(c, g, f, filter, v, T, KW, DW_FLAT_VECTORS);
  }
  if (f->vectors - v >= 2) {
    dw_flat_block(c, g, f, filter, v, T, KW, 2);
    v += 2;
  }
  if (v < f->vectors) dw_flat_block(c, g, f, filter, v, T, KW, 1);
}

typedef void (*dw_flat_fn)(const dw_band* c, const cnnrt_conv2d_geometry* g, const dw_flat* f, const float* filter);
/* T taps from the offsets table (any 9- or 25-tap kernel), or KW x KW with
 * stride_w 1 from shifted rows. */
#define DW_FLAT_BAND(name, T, KW)                                                                            \
  static void name(const dw_band* c, const cnnrt_conv2d_geometry* g, const dw_flat* f, const float* filter) { \
    dw_flat_band(c, g, f, filter, T, KW);                                                                    \
  }
DW_FLAT_BAND(dw_flat_9, 9, 0)
DW_FLAT_BAND(dw_flat_25, 25, 0)
DW_FLAT_BAND(dw_flat_3x3s1, 9, 3)
DW_FLAT_BAND(dw_flat_5x5s1, 25, 5)
DW_FLAT_BAND(dw_flat_any, 0, 0)

/* ---- the kernel --------------------------------------------------------- */
/* The channel-blocked loop (cnnrt_dwconv2d_blocked): per block of 16
 * channels, the filters and the input plane are transposed (16 x 16 in
 * registers) into [tap][16] and a zero-padded [row][column][16] window, each
 * output row (at most 8 outputs) is 8 accumulators of 16 channels over the
 * taps in (ky, kx) order, and the transposed store adds bias and residual and
 * applies the activation (cnnrt_f32_transpose_epilogue__avx512, the epilogue's
 * arithmetic). A channel's lane computes what the other loops compute for
 * it, whichever block it falls in. The window's padding is zeroed once by the
 * caller: each block writes the same in-plane positions. */
static void dw_blocked(const cnnrt_conv2d_geometry* g, const cnnrt_dwconv2d_layout* l, const float* x,
                       const float* w, const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin,
                       size_t oc_end, float* scratch) {
  enum { COLUMNS = CNNRT_DWCONV2D_BLOCKED_COLUMNS };
  const size_t taps = g->kernel_h * g->kernel_w, pitch = l->pitch, rows = l->rows;
  const size_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
  float* window = scratch;
  float* out = window + l->phase_floats;
  float* filters = out + (out_plane + 15) / 16 * 16 * 16;
  const size_t pad_top = (size_t)g->pad_top, pad_left = (size_t)g->pad_left;
  for (size_t c0 = oc_begin; c0 < oc_end; c0 += 16) {
    const size_t channels = oc_end - c0 < 16 ? oc_end - c0 : 16;
    __m512 r[16];
    for (size_t t0 = 0; t0 < taps; t0 += 16) {
      const size_t count = taps - t0 < 16 ? taps - t0 : 16;
      const __mmask16 mask = tail_mask(count);
      for (size_t i = 0; i < 16; i++) {
        r[i] = i < channels ? _mm512_maskz_loadu_ps(mask, w + (c0 + i) * taps + t0) : _mm512_setzero_ps();
      }
      cnnrt_f32_transpose16_avx512(r);
      for (size_t j = 0; j < count; j++) _mm512_storeu_ps(filters + (t0 + j) * 16, r[j]);
    }
    const float* plane = x + (n * g->in_channels + c0) * in_plane;
    size_t iy = 0, ix = 0;
    for (size_t p0 = 0; p0 < in_plane; p0 += 16) {
      const size_t count = in_plane - p0 < 16 ? in_plane - p0 : 16;
      const __mmask16 mask = tail_mask(count);
      for (size_t i = 0; i < 16; i++) {
        r[i] = i < channels ? _mm512_maskz_loadu_ps(mask, plane + i * in_plane + p0) : _mm512_setzero_ps();
      }
      cnnrt_f32_transpose16_avx512(r);
      for (size_t j = 0; j < count; j++) {
        if (iy + pad_top < rows && ix + pad_left < pitch) {
          _mm512_storeu_ps(window + ((iy + pad_top) * pitch + ix + pad_left) * 16, r[j]);
        }
        if (++ix == g->in_w) ix = 0, iy++;
      }
    }
    for (size_t oy = 0; oy < g->out_h; oy++) {
      __m512 acc[COLUMNS];
      DW_UNROLL for (int i = 0; i < COLUMNS; i++) acc[i] = _mm512_setzero_ps();
      for (size_t ky = 0; ky < g->kernel_h; ky++) {
        const float* row = window + (oy * g->stride_h + ky) * pitch * 16;
        const float* filter = filters + ky * g->kernel_w * 16;
        for (size_t kx = 0; kx < g->kernel_w; kx++) {
          const __m512 weight = _mm512_loadu_ps(filter + kx * 16);
          const float* in = row + kx * 16;
          if (g->stride_w == 1) {
            DW_UNROLL for (int i = 0; i < COLUMNS; i++) {
              acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(in + i * 16), weight, acc[i]);
            }
          } else {
            DW_UNROLL for (int i = 0; i < COLUMNS; i++) {
              acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(in + i * 32), weight, acc[i]);
            }
          }
        }
      }
      float* dst = out + oy * g->out_w * 16;
      DW_UNROLL for (int i = 0; i < COLUMNS; i++) {
        if ((size_t)i < g->out_w) _mm512_storeu_ps(dst + i * 16, acc[i]);
      }
    }
    const size_t offset = (n * g->out_channels + c0) * out_plane;
    cnnrt_f32_transpose_epilogue__avx512(out, 16, out_plane, channels, y + offset, out_plane,
                                         e->bias != NULL ? e->bias + c0 : NULL,
                                         e->residual != NULL ? e->residual + offset : NULL, e->activation, e->alpha,
                                         e->beta);
  }
}

void cnnrt_f32_dwconv2d__avx512(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                                const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin,
                                size_t oc_end, float* scratch) {
  if (oc_begin >= oc_end || g->out_h == 0 || g->out_w == 0) return;
  const size_t multiplier = g->out_channels / g->groups;
  const size_t taps = g->kernel_h * g->kernel_w, overhang = (g->kernel_h - 1) / g->stride_h;
  cnnrt_dwconv2d_layout l;
  cnnrt_dwconv2d_layout_make(g, &l);
  memset(scratch, 0, cnnrt_dwconv2d_layout_floats(&l, g) * sizeof(float));
  if (l.mode == CNNRT_DWCONV2D_BLOCKED) {
    dw_blocked(g, &l, x, w, e, y, n, oc_begin, oc_end, scratch);
    return;
  }
  dw_rows_fn rows = NULL;
  if (l.mode == CNNRT_DWCONV2D_ROWS) {
    if (g->kernel_h == 3) {
      rows = g->stride_h == 1 ? dw_rows_3x3s1 : dw_rows_3x3s2;
    } else {
      rows = g->stride_h == 1 ? dw_rows_5x5s1 : dw_rows_5x5s2;
    }
  }
  dw_flat flat;
  dw_flat_fn flat_band = taps == 9 ? dw_flat_9 : taps == 25 ? dw_flat_25 : dw_flat_any;
  if (g->stride_w == 1 && g->kernel_h == g->kernel_w && (taps == 9 || taps == 25)) {
    flat_band = taps == 9 ? dw_flat_3x3s1 : dw_flat_5x5s1;
  }
  if (l.mode == CNNRT_DWCONV2D_FLAT) dw_flat_make(g, &l, &flat);
  /* Every activation has a vector form today; one without would run after. */
  const int vector_activation = cnnrt_f32_activation_avx512_has(e->activation);
  dw_band c = {scratch, l.phase_floats, l.pitch, 0, g->out_w, NULL, NULL, 0.0f,
               vector_activation ? e->activation : CNNRT_ACT_NONE, e->alpha, e->beta};
  const size_t out_plane = g->out_h * g->out_w, in_plane = g->in_h * g->in_w;
  const size_t first = oc_begin / multiplier, last = (oc_end - 1) / multiplier; /* input channels */
  const size_t buffer_floats = g->stride_h * g->stride_w * l.phase_floats;
  /* Small planes are double-buffered: the next input channel is copied
   * before the current one is computed, so that its stores have long left
   * the store buffer when its loads come (a load that spans several pending
   * stores waits for them). */
  if (l.buffers == 2) dw_fill(g, &l, x + (n * g->in_channels + first) * in_plane, 0, l.rows, 0, scratch);
  for (size_t channel = first; channel <= last; channel++) {
    const float* plane = x + (n * g->in_channels + channel) * in_plane;
    if (l.buffers == 2) {
      c.phases = scratch + (channel - first) % 2 * buffer_floats;
      if (channel < last) {
        dw_fill(g, &l, plane + in_plane, 0, l.rows, 0, scratch + (channel + 1 - first) % 2 * buffer_floats);
      }
    }
    const size_t oc_first = channel * multiplier > oc_begin ? channel * multiplier : oc_begin;
    const size_t oc_last = (channel + 1) * multiplier < oc_end ? (channel + 1) * multiplier : oc_end;
    for (size_t oc = oc_first; oc < oc_last; oc++) {
      const float* filter = w + oc * taps;
      float* out = y + (n * g->out_channels + oc) * out_plane;
      const float* residual = e->residual != NULL ? e->residual + (n * g->out_channels + oc) * out_plane : NULL;
      c.bias = e->bias != NULL ? e->bias[oc] : 0.0f;
      for (size_t oy = 0; oy < g->out_h; oy += l.band) {
        c.rows = g->out_h - oy < l.band ? g->out_h - oy : l.band;
        if (l.buffers == 1) dw_fill(g, &l, plane, oy, c.rows + overhang, 1, scratch);
        c.out = out + oy * g->out_w;
        c.residual = residual != NULL ? residual + oy * g->out_w : NULL;
        if (l.mode == CNNRT_DWCONV2D_ROWS) {
          rows(&c, filter);
        } else if (l.mode == CNNRT_DWCONV2D_FLAT) {
          flat_band(&c, g, &flat, filter);
        } else {
          dw_taps_band(&c, g, filter);
        }
      }
      if (!vector_activation) cnnrt_f32_activation_ref(out, out_plane, e->activation, e->alpha, e->beta);
    }
  }
}
