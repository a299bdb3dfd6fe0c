/*
 * Depthwise convolution with AVX2 + FMA (NCHW).
 *
 * One input channel per output channel and 8 or more channels (the mobile
 * nets' layers): the channel-blocked loop, 8 channels per vector, so that
 * every lane is used whatever the plane's width (a 7x7 plane along rows
 * leaves 1 lane in 8 empty, along the flattened plane half of the last
 * vector; a stride-2 row needs its columns split). Per block of 8 channels
 * and band of output rows (f32-dwconv2d-layout.h), the input rows the band
 * reads are transposed 8 x 8 in registers into a zero-padded [row][column][8]
 * window, so that the taps of 8 consecutive outputs of the flattened plane
 * (across row ends) are 8 aligned loads at offsets of the window, one fused
 * multiply-add each with the tap's 8 weights; the 8 accumulators (bias
 * added) wait in a [column][8] stage until the output row is done, and are
 * then transposed back 8 columns at a time, each vector 8 consecutive
 * outputs of one channel, residual and activation applied before the store
 * (transposing each group at once spilled its registers: a 96-channel 3x3
 * layer 4-7% slower on Zen 3). A stride-2
 * layer transposes 4 inputs per output, still cheaper than the row loop's
 * half-empty lanes.
 *
 * Other geometries (a channel multiplier, fewer than 8 channels) take the
 * row loop: each input plane is copied into scratch with its zero padding
 * made explicit (rows of a stride-2 convolution split into their even and
 * odd columns), so every tap of an 8-wide output block is one unaligned load
 * and one fused multiply-add with no edge tests, four output vectors side by
 * side.
 *
 * Each output sums its taps in (ky, kx) order with fused multiply-adds from
 * zero, as the contract in kernels.h says, whichever loop and block computed
 * it; bias, residual and activation follow in registers.
 *
 * Row loop scratch (within cnnrt_f32_dwconv2d_scratch_floats, which sizes
 * 16-wide rows): padded rows of round8(round8(out_w) + kw - 1) floats for
 * stride 1; for stride 2, rows of 2 * half floats, half =
 * round8(round8(out_w) + kw / 2), even columns first, then odd ones.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/f32-activation-avx2.h"
#include "kernels/f32-dwconv2d-layout.h"
#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

static inline size_t round8(size_t n) { return (n + 7) / 8 * 8; }

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

/* Lanes whose input column first + lane lies in [0, in_w). */
static inline __m256i columns_inside(ptrdiff_t first, ptrdiff_t in_w) {
  const __m256i column = _mm256_add_epi32(_mm256_set1_epi32((int32_t)first), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_and_si256(_mm256_cmpgt_epi32(column, _mm256_set1_epi32(-1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)in_w), column));
}

/* Input columns [first, first + 8) of one row, zero outside the row. maskload
 * never touches the lanes masked off, so nothing outside the row is read. */
static inline __m256 load_columns(const float* in, ptrdiff_t first, ptrdiff_t in_w) {
  if (first >= 0 && first + 8 <= in_w) return _mm256_loadu_ps(in + first);
  if (first >= 0) return _mm256_maskload_ps(in + first, columns_inside(first, in_w));
  /* The left edge: in + first would point before the row. */
  float lanes[8];
  for (ptrdiff_t l = 0; l < 8; l++) lanes[l] = first + l >= 0 && first + l < in_w ? in[first + l] : 0.0f;
  return _mm256_loadu_ps(lanes);
}

/* scratch row r = input row r - pad_top, input column ix at ix + pad_left
 * (stride 2: the even padded columns, then the odd ones, built 16 columns
 * at a time straight from the input). */
static void pad_plane(const cnnrt_conv2d_geometry* g, const float* plane, float* scratch, size_t rows, size_t row,
                      size_t half) {
  const ptrdiff_t pad_left = g->pad_left, in_w = (ptrdiff_t)g->in_w;
  for (size_t r = 0; r < rows; r++) {
    const ptrdiff_t iy = (ptrdiff_t)r - g->pad_top;
    float* out = scratch + r * row;
    if (iy < 0 || iy >= (ptrdiff_t)g->in_h) {
      for (size_t j = 0; j < row; j += 8) _mm256_storeu_ps(out + j, _mm256_setzero_ps());
      continue;
    }
    const float* in = plane + (size_t)iy * g->in_w;
    if (g->stride_w == 1) {
      const size_t left = (size_t)pad_left < row ? (size_t)pad_left : row;
      const size_t copy = g->in_w < row - left ? g->in_w : row - left;
      memset(out, 0, left * sizeof(float));
      memcpy(out + left, in, copy * sizeof(float));
      memset(out + left + copy, 0, (row - left - copy) * sizeof(float));
    } else {
      for (size_t j = 0; j < half; j += 8) {
        const ptrdiff_t first = (ptrdiff_t)(2 * j) - pad_left;
        const __m256 a = load_columns(in, first, in_w), b = load_columns(in, first + 8, in_w);
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

/* The taps of four output vectors at once (independent FMA chains), vector
 * i reading its first tap at wi; each sums in (ky, kx) order from zero. */
static inline __attribute__((always_inline)) void taps4(const float* w0, const float* w1, const float* w2,
                                                        const float* w3, const float* filter, size_t kh, size_t kw,
                                                        size_t row, size_t half, size_t stride_w, __m256* acc) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  for (size_t ky = 0; ky < kh; ky++, w0 += row, w1 += row, w2 += row, w3 += row) {
    const float* taps = filter + ky * kw;
    for (size_t kx = 0; kx < kw; kx++) {
      const size_t offset = stride_w == 1 ? kx : (kx & 1) * half + kx / 2;
      const __m256 weight = _mm256_broadcast_ss(taps + kx);
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + offset), weight, acc0);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + offset), weight, acc1);
      acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + offset), weight, acc2);
      acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + offset), weight, acc3);
    }
  }
  acc[0] = acc0, acc[1] = acc1, acc[2] = acc2, acc[3] = acc3;
}

/* The first `lanes` of 8 results, after the epilogue, to out. */
static inline void store(__m256 acc, float* out, const float* residual, size_t lanes,
                         const cnnrt_f32_epilogue_params* e, float bias) {
  if (lanes >= 8) {
    _mm256_storeu_ps(out, finish(acc, e, bias, residual, _mm256_set1_epi32(-1)));
  } else {
    const __m256i mask = cnnrt_f32_first_lanes_avx2(lanes);
    cnnrt_f32_store_first_avx2(out, finish(acc, e, bias, residual, mask), lanes);
  }
}

/* The row loop. Rows wider than two vectors go along each row, 32 outputs at
 * a time (a ragged end reuses the last vector's window for the lanes it
 * drops). Narrow planes take their output vectors four at a time across
 * rows, so they get as many independent FMA chains as wide ones. */
static void dw_rows(const cnnrt_conv2d_geometry* g, const float* x, const float* w, const cnnrt_f32_epilogue_params* e,
                    float* y, size_t n, size_t oc_begin, size_t oc_end, float* scratch) {
  const size_t multiplier = g->out_channels / g->groups;
  const size_t kh = g->kernel_h, kw = g->kernel_w, out_w = g->out_w, out_h = g->out_h, stride_w = g->stride_w;
  const size_t rows = (out_h - 1) * g->stride_h + kh, step = g->stride_h;
  size_t half;
  const size_t row = padded_row_floats(g, &half);
  const size_t per_row = (out_w + 7) / 8, vectors = per_row * out_h;
  const int vector_activation = cnnrt_f32_activation_avx2_has(e->activation);
  size_t padded_channel = (size_t)-1;
  for (size_t oc = oc_begin; oc < oc_end; oc++) {
    const size_t channel = oc / multiplier;
    if (channel != padded_channel) {
      pad_plane(g, x + (n * g->in_channels + channel) * g->in_h * g->in_w, scratch, rows, row, half);
      padded_channel = channel;
    }
    const float* filter = w + oc * kh * kw;
    const float bias = e->bias != NULL ? e->bias[oc] : 0.0f;
    const size_t plane_offset = (n * g->out_channels + oc) * out_h * out_w;
    float* const plane = y + plane_offset;
    const float* const residual_plane = e->residual != NULL ? e->residual + plane_offset : NULL;
    __m256 acc[4];
    if (per_row > 2) {
      const size_t last = (per_row - 1) * 8; /* the last vector of a row */
      for (size_t oy = 0; oy < out_h; oy++) {
        const float* window = scratch + oy * step * row;
        float* out = plane + oy * out_w;
        const float* residual = residual_plane != NULL ? residual_plane + oy * out_w : NULL;
        for (size_t ox = 0; ox < out_w; ox += 32) {
          const size_t o1 = ox + 8 < last ? ox + 8 : last, o2 = ox + 16 < last ? ox + 16 : last;
          const size_t o3 = ox + 24 < last ? ox + 24 : last;
          taps4(window + ox, window + o1, window + o2, window + o3, filter, kh, kw, row, half, stride_w, acc);
          for (size_t i = 0; i < 4 && ox + 8 * i < out_w; i++) {
            const size_t at = ox + 8 * i;
            store(acc[i], out + at, residual != NULL ? residual + at : NULL, out_w - at, e, bias);
          }
        }
      }
    } else {
      size_t oy = 0, ox = 0; /* the next output vector */
      for (size_t v0 = 0; v0 < vectors; v0 += 4) {
        size_t at[4], lanes[4];
        const float* window[4];
        for (size_t i = 0; i < 4; i++) {
          if (v0 + i >= vectors) { /* past the plane: repeat the first vector, dropped */
            at[i] = at[0], window[i] = window[0], lanes[i] = 0;
            continue;
          }
          at[i] = oy * out_w + ox;
          window[i] = scratch + oy * step * row + ox;
          lanes[i] = out_w - ox < 8 ? out_w - ox : 8;
          ox += 8;
          if (ox >= out_w) ox = 0, oy++;
        }
        taps4(window[0], window[1], window[2], window[3], filter, kh, kw, row, half, stride_w, acc);
        for (size_t i = 0; i < 4 && lanes[i] != 0; i++) {
          store(acc[i], plane + at[i], residual_plane != NULL ? residual_plane + at[i] : NULL, lanes[i], e, bias);
        }
      }
    }
    if (!vector_activation) cnnrt_f32_activation_ref(plane, out_h * out_w, e->activation, e->alpha, e->beta);
  }
}

/* ---- the channel-blocked loop ----------------------------------------------- */
#define DW_INLINE static inline __attribute__((always_inline))
#define DW_UNROLL _Pragma("GCC unroll 64")

/* r[i] lane j becomes r[j] lane i. */
DW_INLINE void dw_transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* The activation of 8 vectors, the switch outside the loop. */
DW_INLINE void dw_activate8(__m256* v, int activation, float alpha, float beta) {
  switch (activation) {
    case CNNRT_ACT_NONE:
      break;
    case CNNRT_ACT_RELU:
      DW_UNROLL for (int i = 0; i < 8; i++) v[i] = cnnrt_f32_activation_avx2(v[i], CNNRT_ACT_RELU, alpha, beta);
      break;
    case CNNRT_ACT_CLIP:
      DW_UNROLL for (int i = 0; i < 8; i++) v[i] = cnnrt_f32_activation_avx2(v[i], CNNRT_ACT_CLIP, alpha, beta);
      break;
    case CNNRT_ACT_HARD_SWISH:
      DW_UNROLL for (int i = 0; i < 8; i++) v[i] = cnnrt_f32_activation_avx2(v[i], CNNRT_ACT_HARD_SWISH, alpha, beta);
      break;
    case CNNRT_ACT_SILU:
      DW_UNROLL for (int i = 0; i < 8; i++) v[i] = cnnrt_f32_activation_avx2(v[i], CNNRT_ACT_SILU, alpha, beta);
      break;
    default:
      for (int i = 0; i < 8; i++) v[i] = cnnrt_f32_activation_avx2(v[i], activation, alpha, beta);
      break;
  }
}

/* One block of 8 channels from c0 (`channels` of them real) and one band of
 * output rows: what the group loop needs. */
typedef struct dw_block {
  const float* window;   /* the band's window, [row][column][8] */
  const float* filters;  /* [tap][8] */
  size_t row_floats;     /* pitch * 8 */
  size_t stride_h, stride_w, kernel_h, kernel_w, out_w;
  size_t rows;           /* output rows in the band */
  size_t channels, out_plane;
  float* out;            /* channel c0's plane at the band's first output */
  const float* residual; /* likewise, or NULL */
  const float* bias;     /* the block's 8 biases (0 where there is none) */
  int has_bias;
  float* stage;          /* one output row's sums, [column][8] */
  int activation;
  float alpha, beta;
} dw_block;

/* The accumulators of outputs [at, at + lanes) of the band, transposed to
 * one vector per channel, through the epilogue into the output planes. */
/* Transposed sums (one vector per channel, bias included) of outputs
 * [at, at + lanes): residual, activation, store. */
DW_INLINE void dw_block_finish(const dw_block* b, __m256* acc, size_t at, size_t lanes) {
  if (b->residual != NULL) {
    const __m256i mask = cnnrt_f32_first_lanes_avx2(lanes);
    DW_UNROLL for (size_t c = 0; c < 8; c++) {
      if (c < b->channels) {
        const float* residual = b->residual + c * b->out_plane + at;
        acc[c] = _mm256_add_ps(acc[c], lanes == 8 ? _mm256_loadu_ps(residual) : _mm256_maskload_ps(residual, mask));
      }
    }
  }
  dw_activate8(acc, b->activation, b->alpha, b->beta);
  if (b->channels == 8) {
    DW_UNROLL for (size_t c = 0; c < 8; c++) cnnrt_f32_store_first_avx2(b->out + c * b->out_plane + at, acc[c], lanes);
  } else {
    DW_UNROLL for (size_t c = 0; c < 8; c++) {
      if (c < b->channels) cnnrt_f32_store_first_avx2(b->out + c * b->out_plane + at, acc[c], lanes);
    }
  }
}

DW_INLINE void dw_block_store(const dw_block* b, __m256* acc, size_t at, size_t lanes) {
  /* The bias (one vector across the 8 channels) before the transpose: the
   * same additions as after it, without a broadcast per channel. */
  if (b->has_bias) {
    const __m256 bias = _mm256_loadu_ps(b->bias);
    DW_UNROLL for (size_t i = 0; i < 8; i++) acc[i] = _mm256_add_ps(acc[i], bias);
  }
  dw_transpose8(acc);
  dw_block_finish(b, acc, at, lanes);
}

/* One output row's staged sums (bias included), 8 columns at a time,
 * transposed into the channels' planes with residual and activation. */
static void dw_flush_row(const dw_block* b, size_t at) {
  for (size_t ox = 0; ox < b->out_w; ox += 8) {
    const size_t lanes = b->out_w - ox < 8 ? b->out_w - ox : 8;
    __m256 v[8];
    DW_UNROLL for (size_t i = 0; i < 8; i++) v[i] = _mm256_loadu_ps(b->stage + (ox + i) * 8);
    dw_transpose8(v);
    switch (lanes) { /* constant lane counts for the partial stores */
      case 1: dw_block_finish(b, v, at + ox, 1); break;
      case 2: dw_block_finish(b, v, at + ox, 2); break;
      case 3: dw_block_finish(b, v, at + ox, 3); break;
      case 4: dw_block_finish(b, v, at + ox, 4); break;
      case 5: dw_block_finish(b, v, at + ox, 5); break;
      case 6: dw_block_finish(b, v, at + ox, 6); break;
      case 7: dw_block_finish(b, v, at + ox, 7); break;
      default: dw_block_finish(b, v, at + ox, 8); break;
    }
  }
}

/* V consecutive outputs of one row (V <= 8), their window at `base`, a
 * KH x KW kernel with column stride SW. Each input column of a kernel row is
 * loaded once and feeds every output whose window holds it (a 3x3 stride-1
 * row: 10 loads for 24 fused multiply-adds); an output still sees its taps in
 * (ky, kx) order. */
DW_INLINE void dw_group(const dw_block* b, const float* base, float* stage, int KH, int KW, int SW, int V) {
  __m256 acc[8];
  DW_UNROLL for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
  DW_UNROLL for (int ky = 0; ky < KH; ky++) {
    const float* row = base + (size_t)ky * b->row_floats;
    __m256 weight[7];
    DW_UNROLL for (int kx = 0; kx < KW; kx++) weight[kx] = _mm256_loadu_ps(b->filters + (ky * KW + kx) * 8);
    DW_UNROLL for (int j = 0; j < (V - 1) * SW + KW; j++) {
      const __m256 x = _mm256_loadu_ps(row + j * 8);
      DW_UNROLL for (int kx = 0; kx < KW; kx++) {
        const int i = (j - kx) / SW;
        if (j >= kx && (j - kx) % SW == 0 && i < V) acc[i] = _mm256_fmadd_ps(x, weight[kx], acc[i]);
      }
    }
  }
  /* The row's sums wait in the stage (8 registers free for the next group's
   * sums; transposing here spilled them), the bias added on the way. */
  const __m256 bias = b->has_bias ? _mm256_loadu_ps(b->bias) : _mm256_setzero_ps();
  DW_UNROLL for (int i = 0; i < V; i++) _mm256_storeu_ps(stage + i * 8, b->has_bias ? _mm256_add_ps(acc[i], bias) : acc[i]);
}

/* Any kernel and column stride: 8 outputs (the window has columns for them
 * all; those past the row are dropped), the taps in loops. */
static void dw_group_any(const dw_block* b, const float* base, size_t at, size_t lanes) {
  __m256 acc[8];
  DW_UNROLL for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
  const size_t step = b->stride_w * 8;
  for (size_t ky = 0; ky < b->kernel_h; ky++) {
    for (size_t kx = 0; kx < b->kernel_w; kx++) {
      const __m256 weight = _mm256_loadu_ps(b->filters + (ky * b->kernel_w + kx) * 8);
      const float* x = base + ky * b->row_floats + kx * 8;
      DW_UNROLL for (int i = 0; i < 8; i++) acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * step), weight, acc[i]);
    }
  }
  switch (lanes) { /* constant lane counts for the partial stores */
    case 1: dw_block_store(b, acc, at, 1); break;
    case 2: dw_block_store(b, acc, at, 2); break;
    case 3: dw_block_store(b, acc, at, 3); break;
    case 4: dw_block_store(b, acc, at, 4); break;
    case 5: dw_block_store(b, acc, at, 5); break;
    case 6: dw_block_store(b, acc, at, 6); break;
    case 7: dw_block_store(b, acc, at, 7); break;
    default: dw_block_store(b, acc, at, 8); break;
  }
}

/* The band's rows, 8 outputs at a time; a row's last group has exactly its
 * remaining outputs (no lane computes a column past the row). */
DW_INLINE void dw_block_rows(const dw_block* b, int KH, int KW, int SW) {
  const size_t out_w = b->out_w, full = out_w / 8 * 8, step = b->stride_h * b->row_floats;
  for (size_t oy = 0; oy < b->rows; oy++) {
    const float* row = b->window + oy * step;
    for (size_t ox = 0; ox < full; ox += 8) dw_group(b, row + ox * SW * 8, b->stage + ox * 8, KH, KW, SW, 8);
    const float* base = row + full * SW * 8;
    float* stage = b->stage + full * 8;
    switch (out_w - full) {
      case 1: dw_group(b, base, stage, KH, KW, SW, 1); break;
      case 2: dw_group(b, base, stage, KH, KW, SW, 2); break;
      case 3: dw_group(b, base, stage, KH, KW, SW, 3); break;
      case 4: dw_group(b, base, stage, KH, KW, SW, 4); break;
      case 5: dw_group(b, base, stage, KH, KW, SW, 5); break;
      case 6: dw_group(b, base, stage, KH, KW, SW, 6); break;
      case 7: dw_group(b, base, stage, KH, KW, SW, 7); break;
      default: break;
    }
    dw_flush_row(b, oy * out_w);
  }
}

typedef void (*dw_block_fn)(const dw_block* b);
static void dw_block_3x3s1(const dw_block* b) { dw_block_rows(b, 3, 3, 1); }
static void dw_block_3x3s2(const dw_block* b) { dw_block_rows(b, 3, 3, 2); }
static void dw_block_5x5s1(const dw_block* b) { dw_block_rows(b, 5, 5, 1); }
static void dw_block_5x5s2(const dw_block* b) { dw_block_rows(b, 5, 5, 2); }
static void dw_block_any(const dw_block* b) {
  const size_t step = b->stride_h * b->row_floats;
  for (size_t oy = 0; oy < b->rows; oy++) {
    for (size_t ox = 0; ox < b->out_w; ox += 8) {
      const size_t lanes = b->out_w - ox < 8 ? b->out_w - ox : 8;
      dw_group_any(b, b->window + oy * step + ox * b->stride_w * 8, oy * b->out_w + ox, lanes);
    }
  }
}

/* Window rows [0, rows) from padded row `first` of the 8 channel planes at
 * `planes` (`channels` real, the others zero): input columns [0, in_w) at
 * pad_left, zeros elsewhere. */
static void dw_fill_window(const cnnrt_conv2d_geometry* g, const cnnrt_dwconv2d_avx2_window* l, const float* planes,
                           size_t channels, size_t first, size_t rows, float* window) {
  const size_t in_w = g->in_w, in_plane = g->in_h * in_w, pad_left = (size_t)g->pad_left;
  const size_t written = pad_left + (in_w + 7) / 8 * 8, row_floats = l->pitch * 8;
  const __m256 zero = _mm256_setzero_ps();
  const __m256i tail = cnnrt_f32_first_lanes_avx2(in_w % 8 == 0 ? 8 : in_w % 8);
  for (size_t r = 0; r < rows; r++) {
    float* out = window + r * row_floats;
    const ptrdiff_t iy = (ptrdiff_t)(first + r) - g->pad_top;
    if (iy < 0 || iy >= (ptrdiff_t)g->in_h) {
      for (size_t j = 0; j < row_floats; j += 8) _mm256_storeu_ps(out + j, zero);
      continue;
    }
    for (size_t j = 0; j < pad_left; j++) _mm256_storeu_ps(out + j * 8, zero);
    for (size_t j = written; j < l->pitch; j++) _mm256_storeu_ps(out + j * 8, zero);
    const float* in = planes + (size_t)iy * in_w;
    float* to = out + pad_left * 8;
    for (size_t ix = 0; ix < in_w; ix += 8, to += 64) {
      __m256 v[8];
      if (ix + 8 <= in_w) {
        for (size_t c = 0; c < 8; c++) v[c] = c < channels ? _mm256_loadu_ps(in + c * in_plane + ix) : zero;
      } else {
        for (size_t c = 0; c < 8; c++) v[c] = c < channels ? _mm256_maskload_ps(in + c * in_plane + ix, tail) : zero;
      }
      dw_transpose8(v);
      DW_UNROLL for (int j = 0; j < 8; j++) _mm256_storeu_ps(to + 8 * j, v[j]);
    }
  }
}

static void dw_blocked(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                       const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin, size_t oc_end,
                       float* scratch) {
  cnnrt_dwconv2d_avx2_window l;
  cnnrt_dwconv2d_avx2_window_make(g, &l);
  const size_t taps = g->kernel_h * g->kernel_w, in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
  float* window = scratch;
  float* filters = scratch + l.rows * l.pitch * 8;
  float* stage = filters + taps * 8;
  /* The last group of 8 columns of a row may be partial: its other stage
   * columns are read (and dropped) by the transpose, so they hold zeros. */
  memset(stage, 0, (g->out_w + 7) / 8 * 64 * sizeof(float));
  dw_block_fn band = dw_block_any;
  if (g->kernel_h == 3 && g->kernel_w == 3) band = g->stride_w == 1 ? dw_block_3x3s1 : dw_block_3x3s2;
  if (g->kernel_h == 5 && g->kernel_w == 5) band = g->stride_w == 1 ? dw_block_5x5s1 : dw_block_5x5s2;
  float bias[8];
  dw_block b = {window, filters, l.pitch * 8, g->stride_h, g->stride_w, g->kernel_h, g->kernel_w, g->out_w, 0, 0,
                out_plane, NULL, NULL, bias, e->bias != NULL, stage, e->activation, e->alpha, e->beta};
  for (size_t c0 = oc_begin; c0 < oc_end; c0 += 8) {
    b.channels = oc_end - c0 < 8 ? oc_end - c0 : 8;
    for (size_t t = 0; t < taps; t++) {
      for (size_t c = 0; c < 8; c++) filters[t * 8 + c] = c < b.channels ? w[(c0 + c) * taps + t] : 0.0f;
    }
    for (size_t c = 0; c < 8; c++) bias[c] = e->bias != NULL && c < b.channels ? e->bias[c0 + c] : 0.0f;
    const float* planes = x + (n * g->in_channels + c0) * in_plane;
    const size_t plane_offset = (n * g->out_channels + c0) * out_plane;
    for (size_t oy = 0; oy < g->out_h; oy += l.band) {
      const size_t rows = g->out_h - oy < l.band ? g->out_h - oy : l.band;
      dw_fill_window(g, &l, planes, b.channels, oy * g->stride_h, (rows - 1) * g->stride_h + g->kernel_h, window);
      b.out = y + plane_offset + oy * g->out_w;
      b.residual = e->residual != NULL ? e->residual + plane_offset + oy * g->out_w : NULL;
      b.rows = rows;
      band(&b);
    }
  }
}

void cnnrt_f32_dwconv2d__avx2(const cnnrt_conv2d_geometry* g, const float* x, const float* w,
                              const cnnrt_f32_epilogue_params* e, float* y, size_t n, size_t oc_begin,
                              size_t oc_end, float* scratch) {
  if (oc_begin >= oc_end || g->out_h == 0 || g->out_w == 0) return;
  if (cnnrt_dwconv2d_avx2_blocked(g)) {
    dw_blocked(g, x, w, e, y, n, oc_begin, oc_end, scratch);
  } else {
    dw_rows(g, x, w, e, y, n, oc_begin, oc_end, scratch);
  }
}
