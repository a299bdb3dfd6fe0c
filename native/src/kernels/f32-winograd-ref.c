/*
 * Reference Winograd F(m x m, 3 x 3) transforms (m = 2 or 4): plain matrix
 * products with the transform matrices, one tile at a time. The oracle for
 * the SIMD transforms, and the transforms of levels that have none.
 *
 * Interpolation points 0, 1, -1, 2, -2 and infinity (F(4,3)); 0, 1, -1 and
 * infinity (F(2,3)). Larger tiles need more points, whose powers grow and
 * cost accuracy: docs/architecture.md gives the error measured against the
 * direct convolution.
 */
#include <string.h>

#include "kernels/kernels.h"

static const float input_2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double filter_2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const float output_2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

static const float input_4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double filter_4[6][3] = {{1.0 / 4, 0, 0},
                                      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                      {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                      {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                      {0, 0, 1}};
static const float output_4[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

#define ALPHA_MAX 6

static const float* input_matrix(size_t m) { return m == 2 ? &input_2[0][0] : &input_4[0][0]; }
static const float* output_matrix(size_t m) { return m == 2 ? &output_2[0][0] : &output_4[0][0]; }

void cnnrt_f32_winograd_filter_ref(size_t m, const float* w, size_t oc, size_t ic, size_t nr, float* u) {
  const size_t alpha = m + 2;
  const double* G = m == 2 ? &filter_2[0][0] : &filter_4[0][0];
  const size_t oc_rounded = (oc + nr - 1) / nr * nr;
  memset(u, 0, alpha * alpha * ic * oc_rounded * sizeof(float));
  for (size_t o = 0; o < oc; o++) {
    for (size_t k = 0; k < ic; k++) {
      const float* g = w + (o * ic + k) * 9;
      double t[ALPHA_MAX][3];
      for (size_t i = 0; i < alpha; i++) {
        for (size_t b = 0; b < 3; b++) {
          double s = 0.0;
          for (size_t a = 0; a < 3; a++) s += G[i * 3 + a] * (double)g[a * 3 + b];
          t[i][b] = s;
        }
      }
      for (size_t i = 0; i < alpha; i++) {
        for (size_t j = 0; j < alpha; j++) {
          double s = 0.0;
          for (size_t b = 0; b < 3; b++) s += t[i][b] * G[j * 3 + b];
          const size_t e = i * alpha + j;
          u[e * ic * oc_rounded + ((o / nr) * ic + k) * nr + o % nr] = (float)s;
        }
      }
    }
  }
}

size_t cnnrt_f32_winograd_input_scratch_floats(const cnnrt_winograd_geometry* g) {
  /* The SIMD transforms' two sets of staging rows for a block of all tile rows, and
   * their per-group load tables (AVX-512: 80 bytes per 16 tiles; AVX2: 160
   * bytes per 8 tiles; counted generously). */
  const size_t alpha = g->m + 2, tiles = g->tiles_y * g->tiles_x;
  const size_t stage_row = (tiles + 16 + 16 + 15) / 16 * 16;
  return 2 * alpha * alpha * stage_row + ((g->tiles_x + 7) / 8) * 48 + 16;
}

void cnnrt_f32_winograd_input_ref(const cnnrt_winograd_geometry* g, const float* x, size_t channels,
                                  size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride, size_t panel_stride,
                                  float* scratch) {
  (void)scratch;
  const size_t m = g->m, alpha = m + 2;
  const float* BT = input_matrix(m);
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  const size_t tiles = (ty_end - ty_begin) * g->tiles_x;
  const size_t panel_floats = panel_stride;
  for (size_t k = 0; k < channels; k++) {
    const float* plane = x + k * g->in_h * g->in_w;
    for (size_t t = 0; t < tiles; t++) {
      const size_t ty = ty_begin + t / g->tiles_x, tx = t % g->tiles_x;
      const ptrdiff_t y0 = (ptrdiff_t)(ty * m) - g->pad_top, x0 = (ptrdiff_t)(tx * m) - g->pad_left;
      float d[ALPHA_MAX][ALPHA_MAX], s[ALPHA_MAX][ALPHA_MAX];
      for (size_t i = 0; i < alpha; i++) {
        for (size_t j = 0; j < alpha; j++) {
          const ptrdiff_t iy = y0 + (ptrdiff_t)i, ix = x0 + (ptrdiff_t)j;
          d[i][j] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? plane[iy * in_w + ix] : 0.0f;
        }
      }
      for (size_t i = 0; i < alpha; i++) {
        for (size_t j = 0; j < alpha; j++) {
          float sum = 0.0f;
          for (size_t l = 0; l < alpha; l++) sum += BT[i * alpha + l] * d[l][j];
          s[i][j] = sum;
        }
      }
      float* out = v + (t / mr) * panel_floats + k * mr + t % mr;
      for (size_t i = 0; i < alpha; i++) {
        for (size_t j = 0; j < alpha; j++) {
          float sum = 0.0f;
          for (size_t l = 0; l < alpha; l++) sum += s[i][l] * BT[j * alpha + l];
          out[(i * alpha + j) * v_stride] = sum;
        }
      }
    }
  }
  /* Tiles past the block in its last panel: zero rows the GEMM reads. */
  const size_t rounded = (tiles + mr - 1) / mr * mr;
  for (size_t e = 0; e < alpha * alpha; e++) {
    for (size_t t = tiles; t < rounded; t++) {
      float* out = v + e * v_stride + (t / mr) * panel_floats + t % mr;
      for (size_t k = 0; k < channels; k++) out[k * mr] = 0.0f;
    }
  }
}

void cnnrt_f32_winograd_output_ref(const cnnrt_winograd_geometry* g, const float* c, size_t c_stride,
                                   size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end, float* y,
                                   float* scratch) {
  (void)scratch;
  const size_t m = g->m, alpha = m + 2;
  const float* AT = output_matrix(m);
  const size_t tiles = (ty_end - ty_begin) * g->tiles_x;
  const size_t plane = g->out_h * g->out_w;
  for (size_t t = 0; t < tiles; t++) {
    const size_t ty = ty_begin + t / g->tiles_x, tx = t % g->tiles_x;
    for (size_t k = 0; k < channels; k++) {
      float s[4][ALPHA_MAX];
      for (size_t a = 0; a < m; a++) {
        for (size_t j = 0; j < alpha; j++) {
          float sum = 0.0f;
          for (size_t i = 0; i < alpha; i++) sum += AT[a * alpha + i] * c[(i * alpha + j) * c_stride + t * c_row_stride + k];
          s[a][j] = sum;
        }
      }
      for (size_t a = 0; a < m; a++) {
        const size_t oy = ty * m + a;
        if (oy >= g->out_h) break;
        for (size_t b = 0; b < m; b++) {
          const size_t ox = tx * m + b;
          if (ox >= g->out_w) break;
          float sum = 0.0f;
          for (size_t j = 0; j < alpha; j++) sum += s[a][j] * AT[b * alpha + j];
          y[k * plane + oy * g->out_w + ox] = sum;
        }
      }
    }
  }
}
