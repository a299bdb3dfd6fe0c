/*
 * How the AVX-512 depthwise kernel (f32-dwconv2d-avx512.c), and the AVX2
 * kernel's channel-blocked loop (at the end), lay out their scratch, shared
 * with cnnrt_f32_dwconv2d_scratch_floats (f32-vector-config.c) so that the
 * size asked for and the size used come from one formula.
 *
 * The kernel copies a band of rows of one input plane into stride_h x
 * stride_w "phase" planes with the zero padding made explicit: phase (a, b),
 * row i, column j holds the padded input at row (band_start + i) * stride_h
 * + a, column j * stride_w + b. Tap (ky, kx) of output (oy, ox) of the band
 * is then row oy + ky / stride_h, column ox + kx / stride_w of phase
 * (ky % stride_h, kx % stride_w): strided convolutions read their taps as
 * stride-1 ones do. Bands keep the phases small enough for L1. Small planes
 * (one band) have two buffers, for the current and the next input channel.
 */
#ifndef CNNRT_F32_DWCONV2D_LAYOUT_H
#define CNNRT_F32_DWCONV2D_LAYOUT_H

#include <stddef.h>

#include "kernels/kernels.h"

/* Phase floats of one band, at most (when the plane needs more than one band). */
#define CNNRT_DWCONV2D_BAND_FLOATS 6144
/* Planes of one band up to this many phase floats (and flat mode's) are
 * double-buffered across channels. */
#define CNNRT_DWCONV2D_DOUBLE_FLOATS 2048
/* Vectors of 16 outputs that flat mode may cover (one band, the whole plane). */
#define CNNRT_DWCONV2D_FLAT_MAX 128

enum { CNNRT_DWCONV2D_FLAT, CNNRT_DWCONV2D_ROWS, CNNRT_DWCONV2D_TAPS, CNNRT_DWCONV2D_BLOCKED, CNNRT_DWCONV2D_MODES };

/* Channel-blocked mode: outputs at most 8 wide (one row of 8 accumulators:
 * the 7x7 planes of the mobile nets' last stages) and 16 tall, kernels up to
 * 7x7. At 14x14 the rows loop is as fast (EfficientNet-B0's 5x5 layers) or
 * faster (its 3x3 ones: 0.044 against 0.052 ms): there its lanes are full,
 * and the transposes are not free. */
#define CNNRT_DWCONV2D_BLOCKED_COLUMNS 8
#define CNNRT_DWCONV2D_BLOCKED_MAX_ROWS 16
#define CNNRT_DWCONV2D_BLOCKED_MAX_KERNEL 7

typedef struct cnnrt_dwconv2d_layout {
  size_t pitch;        /* floats per phase row: out_w + (kernel_w - 1) / stride_w */
  size_t band;         /* output rows per band */
  size_t rows;         /* phase rows per band: band + (kernel_h - 1) / stride_h */
  size_t phase_floats; /* floats per phase: rows + 1 rows and 32 floats, a multiple of 16 */
  size_t flat_vectors; /* vectors of 16 over the flattened plane: out_h * pitch / 16, up */
  size_t buffers;      /* 2: the plane (flat mode, or small) is double-buffered across channels; else 1 */
  int mode;            /* CNNRT_DWCONV2D_FLAT, _ROWS (unrolled 3x3, 5x5), _TAPS (any kernel) or _BLOCKED */
} cnnrt_dwconv2d_layout;

/* 1 for the geometries with unrolled row blocks: 3x3 and 5x5, strides 1x1 and 2x2. */
static inline int cnnrt_dwconv2d_unrolled(const cnnrt_conv2d_geometry* g) {
  const int square = (g->kernel_h == 3 && g->kernel_w == 3) || (g->kernel_h == 5 && g->kernel_w == 5);
  return square && g->stride_h == g->stride_w && (g->stride_h == 1 || g->stride_h == 2);
}

static inline size_t cnnrt_dwconv2d_phase_floats(size_t rows, size_t pitch) {
  return ((rows + 1) * pitch + 32 + 15) / 16 * 16;
}

/* Channel-blocked mode: 16 channels per vector, each pixel's channels
 * transposed into a zero-padded [row][column][16] copy of the window, so that
 * a narrow plane (7 x 7: 49 outputs, 4 vectors of 16 along the plane with 15
 * lanes empty, or 7 vectors of 7 along rows) fills every lane. One input
 * channel per output channel, and 16 or more of them (a block is computed
 * whole whatever its channel count). In scratch: the padded window (rows x
 * pitch x 16: pitch = the columns CNNRT_DWCONV2D_BLOCKED_COLUMNS outputs
 * read), the block's outputs (pixels x 16, rounded up to 16 pixels) and its
 * filters (taps x 16). */
static inline int cnnrt_dwconv2d_blocked(const cnnrt_conv2d_geometry* g) {
  return g->out_w <= CNNRT_DWCONV2D_BLOCKED_COLUMNS && g->out_h <= CNNRT_DWCONV2D_BLOCKED_MAX_ROWS &&
         g->kernel_h <= CNNRT_DWCONV2D_BLOCKED_MAX_KERNEL && g->kernel_w <= CNNRT_DWCONV2D_BLOCKED_MAX_KERNEL &&
         g->out_channels == g->groups && g->in_channels == g->groups && g->groups >= 16;
}

/* Flat mode (vectors along the flattened plane, several rows each) when it
 * needs clearly fewer vectors than rows of 16-column vectors (a 7-wide plane:
 * 4 vectors instead of 7), since row blocks reuse each load across rows.
 * Decided from the geometry alone, so that results do not depend on how
 * channels are split over threads. */
static inline void cnnrt_dwconv2d_layout_make(const cnnrt_conv2d_geometry* g, cnnrt_dwconv2d_layout* l) {
  const size_t phases = g->stride_h * g->stride_w, overhang = (g->kernel_h - 1) / g->stride_h;
  if (cnnrt_dwconv2d_blocked(g)) {
    l->mode = CNNRT_DWCONV2D_BLOCKED;
    l->pitch = (CNNRT_DWCONV2D_BLOCKED_COLUMNS - 1) * g->stride_w + g->kernel_w;
    l->rows = (g->out_h - 1) * g->stride_h + g->kernel_h;
    l->band = g->out_h;
    l->phase_floats = l->rows * l->pitch * 16;
    l->flat_vectors = 0;
    l->buffers = 1;
    return;
  }
  l->pitch = g->out_w + (g->kernel_w - 1) / g->stride_w;
  l->flat_vectors = (g->out_h * l->pitch + 15) / 16;
  const size_t row_vectors = g->out_h * ((g->out_w + 15) / 16);
  const int unrolled = cnnrt_dwconv2d_unrolled(g);
  if (l->flat_vectors <= CNNRT_DWCONV2D_FLAT_MAX &&
      (4 * l->flat_vectors < 3 * row_vectors || (!unrolled && l->flat_vectors < row_vectors))) {
    l->mode = CNNRT_DWCONV2D_FLAT;
    l->band = g->out_h;
  } else {
    l->mode = unrolled ? CNNRT_DWCONV2D_ROWS : CNNRT_DWCONV2D_TAPS;
    /* As many rows (a multiple of 4, the row block) as fit the budget. */
    const size_t fit = CNNRT_DWCONV2D_BAND_FLOATS / phases / l->pitch;
    size_t band = fit > overhang + 2 ? (fit - overhang - 2) / 4 * 4 : 0;
    if (band < 4) band = 4;
    l->band = band < g->out_h ? band : g->out_h;
  }
  l->rows = l->band + overhang;
  l->phase_floats = cnnrt_dwconv2d_phase_floats(l->rows, l->pitch);
  const int small = l->band == g->out_h && phases * l->phase_floats <= CNNRT_DWCONV2D_DOUBLE_FLOATS;
  l->buffers = l->mode == CNNRT_DWCONV2D_FLAT || small ? 2 : 1;
}

static inline size_t cnnrt_dwconv2d_layout_floats(const cnnrt_dwconv2d_layout* l, const cnnrt_conv2d_geometry* g) {
  if (l->mode == CNNRT_DWCONV2D_BLOCKED) {
    return l->phase_floats + (g->out_h * g->out_w + 15) / 16 * 16 * 16 + g->kernel_h * g->kernel_w * 16;
  }
  return l->buffers * g->stride_h * g->stride_w * l->phase_floats;
}

/* ---- the AVX2 kernel's channel-blocked loop (f32-dwconv2d-avx2.c) ---------
 * 8 channels per vector for every plane size: a band of output rows reads a
 * zero-padded [row][column][8] window of the input, transposed 8 x 8 in
 * registers from the channels' planes; a band keeps the window within
 * CNNRT_DWCONV2D_AVX2_WINDOW_FLOATS (L1 and L2 hold it) unless one output
 * row needs more. One input channel per output channel, and 8 or more of
 * them; the other geometries take the kernel's row loop. In scratch: the
 * window (rows x pitch x 8), the block's filters (taps x 8), then one output
 * row's sums as [column][8] (out_w rounded up to 8), transposed to the
 * channels' planes once the row is done. */
#define CNNRT_DWCONV2D_AVX2_WINDOW_FLOATS 12288

typedef struct cnnrt_dwconv2d_avx2_window {
  size_t pitch; /* columns per window row: those the taps of whole groups of 8 outputs read, and every input
                   column rounded up to 8 */
  size_t band;  /* output rows per band */
  size_t rows;  /* window rows per band: (band - 1) * stride_h + kernel_h */
} cnnrt_dwconv2d_avx2_window;

static inline int cnnrt_dwconv2d_avx2_blocked(const cnnrt_conv2d_geometry* g) {
  return g->out_channels == g->groups && g->in_channels == g->groups && g->groups >= 8;
}

static inline void cnnrt_dwconv2d_avx2_window_make(const cnnrt_conv2d_geometry* g, cnnrt_dwconv2d_avx2_window* w) {
  /* Columns for whole groups of 8 outputs (the loop for any kernel computes them all). */
  const size_t read = ((g->out_w + 7) / 8 * 8 - 1) * g->stride_w + g->kernel_w;
  const size_t written = (size_t)g->pad_left + (g->in_w + 7) / 8 * 8;
  w->pitch = read > written ? read : written;
  const size_t fit = CNNRT_DWCONV2D_AVX2_WINDOW_FLOATS / (w->pitch * 8);
  size_t band = fit > g->kernel_h ? (fit - g->kernel_h) / g->stride_h + 1 : 1;
  w->band = band < g->out_h ? band : g->out_h;
  w->rows = (w->band - 1) * g->stride_h + g->kernel_h;
}

static inline size_t cnnrt_dwconv2d_avx2_floats(const cnnrt_conv2d_geometry* g) {
  if (!cnnrt_dwconv2d_avx2_blocked(g)) return 0;
  cnnrt_dwconv2d_avx2_window w;
  cnnrt_dwconv2d_avx2_window_make(g, &w);
  return w.rows * w.pitch * 8 + g->kernel_h * g->kernel_w * 8 + (g->out_w + 7) / 8 * 64;
}

#endif
