// Kernel variant tests: every GEMM microkernel and im2col variant this CPU can
// run, against the reference kernels, built without CMake (from the repository root):
//
//   gcc -std=c11 -O1 -Wall -Wextra -D_GNU_SOURCE -I native/include -I native/src -I native/src/core native/tests/test_kernels.c $(python -c "import cnnrt; print(cnnrt.get_library_dir())")/libcnnrt.a -lpthread -lm -o /tmp/test_kernels && /tmp/test_kernels
//
/*
 * Comparison rules:
 *  - GEMM values: a SIMD kernel uses fused multiply-adds, the scalar one
 *    rounds each product, so they differ by rounding. Both are compared with
 *    a double-precision sum, within 1e-5 * sqrt(k) * sum_k |a_ik * b_kj|
 *    (relative to the magnitudes summed, since cancellation can make the
 *    result itself tiny).
 *  - Within one variant, results are exact: an element computed in a ragged
 *    edge tile equals, bit for bit, the same element computed in a full tile,
 *    because every element is one FMA chain in k order from zero (kernels.h).
 *  - Stores: nothing outside the mr x nr result may change (masked stores).
 *  - im2col variants copy values, so they must equal the reference exactly.
 *  - Activations: exact for ReLU/LeakyReLU/Clip/HardSigmoid/HardSwish; the
 *    transcendental ones (vector expf/erff) within 1e-6 * max(1, |ref|) and
 *    8 ulp (where the reference is normal) over ~4M inputs and special
 *    values. The AVX2 and AVX-512 activations are equal bit for bit.
 *    Binary ops: exact.
 *  - CNNRT_ISA=scalar / avx2 (read once per process) force the scalar / AVX2
 *    configs; checked in forked children (child_with_isa), as are avx512,
 *    neon and an unknown value.
 * The aarch64 build runs under qemu-user too (tests/test_cross_aarch64.py).
 * Variants whose ISA the CPU lacks are skipped, and the output says so.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnnrt/cnnrt.h"
#include "core/cpu.h"
#include "internal.h"
#include "kernels/f32-dwconv2d-layout.h"
#include "kernels/kernels.h"
#include "check.h"

static uint32_t random_u32(void) { return (uint32_t)(random_u64() >> 32); }
static float random_float(void) { return (float)(random_u32() >> 8) / (float)(1 << 24) * 2.0f - 1.0f; }
static size_t random_size(size_t low, size_t high) { return low + random_u32() % (high - low + 1); } /* inclusive */

static const float SENTINEL = 12345.0f;

/* One tile: mr x nr results of MR x NR operands, B read with stride b_stride. */
static void check_ukernel_tile(const cnnrt_f32_gemm_config* g, size_t mr, size_t nr, size_t k, size_t b_stride) {
  const size_t MR = g->mr, NR = g->nr, c_stride = NR + 3;
  float* a = malloc(MR * k * sizeof(float) + 1);
  float* b = malloc((k * b_stride + NR) * sizeof(float));
  float* c = malloc((MR * c_stride + 1) * sizeof(float));
  float* full = malloc(MR * NR * sizeof(float));
  for (size_t p = 0; p < k; p++) {
    for (size_t i = 0; i < MR; i++) a[p * MR + i] = i < mr ? random_float() : 0.0f;
  }
  for (size_t i = 0; i < k * b_stride + NR; i++) b[i] = random_float();
  for (size_t i = 0; i < MR * c_stride + 1; i++) c[i] = SENTINEL;
  g->ukernel(mr, nr, k, a, b, b_stride, c, c_stride);
  g->ukernel(MR, NR, k, a, b, b_stride, full, NR);
  for (size_t i = 0; i < MR; i++) {
    for (size_t j = 0; j < c_stride; j++) {
      const float got = c[i * c_stride + j];
      if (i >= mr || j >= nr) {
        CHECK(got == SENTINEL, "%s mr=%zu nr=%zu k=%zu: wrote C[%zu][%zu] outside the tile", g->name, mr, nr, k, i, j);
        continue;
      }
      double sum = 0.0, magnitude = 0.0;
      for (size_t p = 0; p < k; p++) {
        double product = (double)a[p * MR + i] * (double)b[p * b_stride + j];
        sum += product;
        magnitude += fabs(product);
      }
      const double bound = 1e-5 * sqrt((double)k) * magnitude + 1e-30;
      CHECK(fabs(got - sum) <= bound, "%s mr=%zu nr=%zu k=%zu C[%zu][%zu]: %.9g vs %.9g (bound %.3g)", g->name, mr,
            nr, k, i, j, got, sum, bound);
      CHECK(memcmp(&got, &full[i * NR + j], sizeof(float)) == 0,
            "%s mr=%zu nr=%zu k=%zu C[%zu][%zu]: %.9g in an edge tile, %.9g in a full tile", g->name, mr, nr, k, i,
            j, got, full[i * NR + j]);
    }
  }
  free(a);
  free(b);
  free(c);
  free(full);
}

static void test_ukernel(const cnnrt_f32_gemm_config* g) {
  for (size_t mr = 1; mr <= g->mr; mr++) {
    for (size_t nr = 1; nr <= g->nr; nr++) check_ukernel_tile(g, mr, nr, random_size(1, 40), g->nr);
  }
  static const size_t ks[] = {1, 2, 3, 7, 16, 17, 40, 64, 129, 600};
  for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
    check_ukernel_tile(g, g->mr, g->nr, ks[i], g->nr);
    check_ukernel_tile(g, random_size(1, g->mr), random_size(1, g->nr), ks[i], g->nr);
    /* B read in place from a wider matrix (the 1x1 convolution path). */
    check_ukernel_tile(g, random_size(1, g->mr), random_size(1, g->nr), ks[i], g->nr + random_size(1, 50));
  }
}


/* gemm over k1 then gemminc over k2 equals gemm over k1 + k2, bit for bit,
 * and gemminc touches nothing outside the mr x nr tile. */
static void test_gemminc(const cnnrt_f32_gemm_config* g) {
  for (int trial = 0; trial < 200; trial++) {
    const size_t MR = g->mr, NR = g->nr, c_stride = NR + 5;
    const size_t k1 = random_size(1, 300), k2 = random_size(1, 300), k = k1 + k2;
    const size_t mr = trial % 4 == 0 ? MR : random_size(1, MR), nr = trial % 4 == 0 ? NR : random_size(1, NR);
    const size_t b_stride = trial % 3 == 0 ? NR + random_size(1, 40) : NR;
    float* a = malloc(MR * k * sizeof(float));
    float* b = malloc((k * b_stride + NR) * sizeof(float));
    float* whole = malloc(MR * c_stride * sizeof(float));
    float* split = malloc(MR * c_stride * sizeof(float));
    for (size_t i = 0; i < MR * k; i++) a[i] = random_float();
    for (size_t i = 0; i < k * b_stride + NR; i++) b[i] = random_float();
    for (size_t i = 0; i < MR * c_stride; i++) whole[i] = split[i] = SENTINEL;
    /* The packed A of k1 + k2 steps is the k1 block followed by the k2 block. */
    g->ukernel(mr, nr, k, a, b, b_stride, whole, c_stride);
    g->ukernel(mr, nr, k1, a, b, b_stride, split, c_stride);
    g->ukernel_inc(mr, nr, k2, a + k1 * MR, b + k1 * b_stride, b_stride, split, c_stride);
    CHECK(memcmp(whole, split, MR * c_stride * sizeof(float)) == 0,
          "%s gemminc mr=%zu nr=%zu k=%zu+%zu differs from one gemm over k", g->name, mr, nr, k1, k2);
    free(a), free(b), free(whole), free(split);
  }
}

/* The indirect variants (A read from an image through tap offsets, rows
 * stride S apart) equal gemm / gemminc on the same values packed, bit for
 * bit, including what they leave untouched outside the mr x nr tile. */
static void test_igemm(const cnnrt_f32_gemm_config* g) {
  for (int stride = 1; stride <= 2; stride++) {
    if (g->igemm[stride - 1] == NULL) continue;
    CHECK(g->igemminc[stride - 1] != NULL, "%s: igemm without igemminc for stride %d", g->name, stride);
    if (g->igemminc[stride - 1] == NULL) continue;
    for (int trial = 0; trial < 200; trial++) {
      const size_t MR = g->mr, NR = g->nr, c_stride = NR + 5;
      const size_t k1 = random_size(1, 200), k2 = random_size(0, 200), k = k1 + k2;
      const size_t mr = trial % 4 == 0 ? MR : random_size(1, MR), nr = trial % 4 == 0 ? NR : random_size(1, NR);
      const size_t b_stride = trial % 3 == 0 ? NR + random_size(1, 40) : NR;
      const size_t image_floats = 5000 + MR * (size_t)stride;
      float* image = malloc(image_floats * sizeof(float));
      size_t* offsets = malloc(k * sizeof(size_t));
      float* a = malloc(MR * k * sizeof(float));
      float* b = malloc((k * b_stride + NR) * sizeof(float));
      float* want = malloc(MR * c_stride * sizeof(float));
      float* got = malloc(MR * c_stride * sizeof(float));
      for (size_t i = 0; i < image_floats; i++) image[i] = random_float();
      for (size_t p = 0; p < k; p++) {
        offsets[p] = random_size(0, 5000 - 1);
        for (size_t i = 0; i < MR; i++) a[p * MR + i] = image[offsets[p] + i * (size_t)stride];
      }
      for (size_t i = 0; i < k * b_stride + NR; i++) b[i] = random_float();
      for (size_t i = 0; i < MR * c_stride; i++) want[i] = got[i] = SENTINEL;
      g->ukernel(mr, nr, k, a, b, b_stride, want, c_stride);
      g->igemm[stride - 1](mr, nr, k1, image, offsets, b, b_stride, got, c_stride);
      if (k2 > 0) g->igemminc[stride - 1](mr, nr, k2, image, offsets + k1, b + k1 * b_stride, b_stride, got, c_stride);
      CHECK(memcmp(want, got, MR * c_stride * sizeof(float)) == 0,
            "%s igemm stride %d mr=%zu nr=%zu k=%zu+%zu differs from gemm on the packed values", g->name, stride, mr,
            nr, k1, k2);
      free(image), free(offsets), free(a), free(b), free(want), free(got);
    }
  }
}

/* gemmep equals gemm (or gemm + gemminc when accumulating) followed by the
 * reference epilogue, bit for bit, for every clamp the conv path uses, and
 * writes nothing outside the tile. */
static void test_gemmep(const cnnrt_f32_gemm_config* g) {
  if (g->ukernel_ep == NULL) return;
  for (int trial = 0; trial < 300; trial++) {
    const size_t MR = g->mr, NR = g->nr, c_stride = NR + 7;
    const size_t k1 = random_size(1, 200), k2 = random_size(1, 200);
    const int accumulate = trial % 2;
    const size_t k = accumulate ? k1 + k2 : k1;
    const size_t mr = trial % 5 == 0 ? MR : random_size(1, MR), nr = trial % 5 == 0 ? NR : random_size(1, NR);
    const size_t b_stride = trial % 3 == 0 ? NR + random_size(1, 40) : NR;
    float* a = malloc(MR * k * sizeof(float));
    float* b = malloc((k * b_stride + NR) * sizeof(float));
    float* want = malloc(MR * c_stride * sizeof(float));
    float* got = malloc(MR * c_stride * sizeof(float));
    float* residual = malloc(MR * c_stride * sizeof(float));
    float bias[64];
    for (size_t i = 0; i < MR * k; i++) a[i] = random_float();
    for (size_t i = 0; i < k * b_stride + NR; i++) b[i] = random_float();
    for (size_t i = 0; i < MR * c_stride; i++) residual[i] = random_float();
    for (size_t i = 0; i < MR; i++) bias[i] = i % 3 == 0 ? 0.0f : random_float();
    for (size_t i = 0; i < MR * c_stride; i++) want[i] = got[i] = SENTINEL;
    /* A NaN and an infinity in the tile must come out as the reference's. */
    if (trial % 7 == 3) residual[0] = NAN;
    if (trial % 7 == 4) residual[0] = -INFINITY;
    const int kind = trial % 4; /* none, Relu, Clip(-0.25, 0.5), Clip(0, 6) */
    const int activation = kind == 0 ? CNNRT_ACT_NONE : kind == 1 ? CNNRT_ACT_RELU : CNNRT_ACT_CLIP;
    const float alpha = kind == 2 ? -0.25f : 0.0f, beta = kind == 2 ? 0.5f : 6.0f;
    const int with_bias = trial % 3 != 1, with_residual = trial % 3 != 2;
    cnnrt_f32_gemm_epilogue ep = {with_bias ? bias : NULL, with_residual ? residual : NULL,
                                  activation == CNNRT_ACT_NONE ? -INFINITY : alpha,
                                  activation == CNNRT_ACT_CLIP ? beta : INFINITY, accumulate};
    if (accumulate) {
      g->ukernel(mr, nr, k1, a, b, b_stride, want, c_stride);
      g->ukernel(mr, nr, k1, a, b, b_stride, got, c_stride);
      g->ukernel_inc(mr, nr, k2, a + k1 * MR, b + k1 * b_stride, b_stride, want, c_stride);
      g->ukernel_ep(mr, nr, k2, a + k1 * MR, b + k1 * b_stride, b_stride, got, c_stride, &ep);
    } else {
      g->ukernel(mr, nr, k, a, b, b_stride, want, c_stride);
      g->ukernel_ep(mr, nr, k, a, b, b_stride, got, c_stride, &ep);
    }
    for (size_t i = 0; i < mr; i++) {
      cnnrt_f32_epilogue_ref(want + i * c_stride, nr, with_bias ? bias[i] : 0.0f,
                             with_residual ? residual + i * c_stride : NULL, activation, alpha, beta);
    }
    CHECK(memcmp(want, got, MR * c_stride * sizeof(float)) == 0,
          "%s gemmep mr=%zu nr=%zu k=%zu accumulate=%d activation=%d bias=%d residual=%d differs from gemm + "
          "reference epilogue", g->name, mr, nr, k, accumulate, activation, with_bias, with_residual);
    free(a), free(b), free(want), free(got), free(residual);
  }
}

/* A whole m x n x k product through pack_a / pack_b and the tile loop ops use. */
static void check_gemm(const cnnrt_f32_gemm_config* g, size_t m, size_t n, size_t k) {
  float* a = malloc(m * k * sizeof(float));
  float* b = malloc(k * n * sizeof(float));
  float* c = malloc(m * n * sizeof(float));
  float* a_packed = malloc(cnnrt_f32_gemm_packed_a_floats(m, k, g->mr) * sizeof(float));
  float* b_packed = malloc(cnnrt_f32_gemm_packed_b_floats(k, n, g->nr) * sizeof(float));
  for (size_t i = 0; i < m * k; i++) a[i] = random_float();
  for (size_t i = 0; i < k * n; i++) b[i] = random_float();
  /* A transposed in memory (col_stride = m) to cover both packing strides. */
  float* at = malloc(m * k * sizeof(float));
  for (size_t i = 0; i < m; i++) {
    for (size_t p = 0; p < k; p++) at[p * m + i] = a[i * k + p];
  }
  cnnrt_f32_gemm_pack_a(m, k, at, 1, m, g->mr, a_packed);
  cnnrt_f32_gemm_pack_b(k, n, b, n, 1, g->nr, b_packed);
  for (size_t i = 0; i < m; i += g->mr) {
    for (size_t j = 0; j < n; j += g->nr) {
      g->ukernel(m - i < g->mr ? m - i : g->mr, n - j < g->nr ? n - j : g->nr, k, a_packed + i * k,
                 b_packed + j * k, g->nr, c + i * n + j, n);
    }
  }
  int bad = 0;
  for (size_t i = 0; i < m && !bad; i++) {
    for (size_t j = 0; j < n && !bad; j++) {
      double sum = 0.0, magnitude = 0.0;
      for (size_t p = 0; p < k; p++) {
        double product = (double)a[i * k + p] * (double)b[p * n + j];
        sum += product;
        magnitude += fabs(product);
      }
      const double bound = 1e-5 * sqrt((double)k) * magnitude + 1e-30;
      bad = !(fabs(c[i * n + j] - sum) <= bound);
      CHECK(!bad, "%s gemm %zux%zux%zu C[%zu][%zu]: %.9g vs %.9g", g->name, m, n, k, i, j, c[i * n + j], sum);
    }
  }
  free(a);
  free(at);
  free(b);
  free(c);
  free(a_packed);
  free(b_packed);
}

static void test_gemm(const cnnrt_f32_gemm_config* g) {
  for (int trial = 0; trial < 60; trial++) {
    check_gemm(g, random_size(1, 40), random_size(1, 40), trial % 10 == 9 ? random_size(41, 600) : random_size(1, 40));
  }
}

/* im2col into panels `nr` wide: the GEMM's B panels (nr = NR) or the
 * pixel-major path's A panels (nr = MR). */
static void check_im2col(const cnnrt_f32_gemm_config* g, const cnnrt_conv2d_geometry* geometry, size_t nr) {
  const size_t pixels = geometry->out_h * geometry->out_w;
  const size_t k = geometry->in_channels / geometry->groups * geometry->kernel_h * geometry->kernel_w;
  const size_t plane = geometry->in_h * geometry->in_w;
  float* x = malloc(geometry->in_channels * plane * sizeof(float));
  for (size_t i = 0; i < geometry->in_channels * plane; i++) x[i] = random_float();
  const size_t begin = random_size(0, pixels - 1);
  const size_t count = random_size(1, pixels - begin);
  const size_t floats = cnnrt_f32_gemm_packed_b_floats(k, count, nr);
  float* expected = malloc(floats * sizeof(float));
  float* got = malloc(floats * sizeof(float));
  for (size_t i = 0; i < floats; i++) got[i] = SENTINEL;
  cnnrt_f32_im2col_packed_ref(geometry, x, begin, count, nr, expected);
  g->im2col(geometry, x, begin, count, nr, got);
  CHECK(memcmp(expected, got, floats * sizeof(float)) == 0,
        "%s im2col (nr %zu) differs: in %zux%zu, kernel %zux%zu, stride %zux%zu, dilation %zux%zu, pad %td,%td, "
        "pixels %zu+%zu", g->name, nr, geometry->in_h, geometry->in_w, geometry->kernel_h, geometry->kernel_w, geometry->stride_h,
        geometry->stride_w, geometry->dilation_h, geometry->dilation_w, geometry->pad_top, geometry->pad_left, begin,
        count);
  free(x);
  free(expected);
  free(got);
}

static void test_im2col(const cnnrt_f32_gemm_config* g) {
  for (int trial = 0; trial < 300; trial++) {
    cnnrt_conv2d_geometry geometry;
    memset(&geometry, 0, sizeof(geometry));
    geometry.batch = 1;
    geometry.groups = 1;
    geometry.in_channels = random_size(1, 4);
    geometry.in_h = random_size(1, 12);
    geometry.in_w = random_size(1, trial % 3 == 0 ? 70 : 20);
    geometry.kernel_h = random_size(1, 4);
    geometry.kernel_w = random_size(1, 4);
    geometry.stride_h = random_size(1, 3);
    geometry.stride_w = random_size(1, 3);
    geometry.dilation_h = random_size(1, 2);
    geometry.dilation_w = random_size(1, 2);
    geometry.pad_top = (ptrdiff_t)random_size(0, 3);
    geometry.pad_left = (ptrdiff_t)random_size(0, 3);
    const ptrdiff_t span_h = (ptrdiff_t)((geometry.kernel_h - 1) * geometry.dilation_h + 1);
    const ptrdiff_t span_w = (ptrdiff_t)((geometry.kernel_w - 1) * geometry.dilation_w + 1);
    const ptrdiff_t padded_h = (ptrdiff_t)geometry.in_h + 2 * geometry.pad_top;
    const ptrdiff_t padded_w = (ptrdiff_t)geometry.in_w + 2 * geometry.pad_left;
    if (padded_h < span_h || padded_w < span_w) continue;
    geometry.out_h = (size_t)(padded_h - span_h) / geometry.stride_h + 1;
    geometry.out_w = (size_t)(padded_w - span_w) / geometry.stride_w + 1;
    geometry.out_channels = 1;
    check_im2col(g, &geometry, trial % 2 == 0 ? g->nr : g->mr);
  }
  /* 1x1, stride 1, unpadded (a copy of consecutive pixels per channel; the
   * AVX2 kernel has its own loop for it), panels NR and MR wide. */
  for (int trial = 0; trial < 200; trial++) {
    cnnrt_conv2d_geometry geometry;
    memset(&geometry, 0, sizeof(geometry));
    geometry.batch = geometry.groups = geometry.out_channels = 1;
    geometry.in_channels = random_size(1, 40);
    geometry.in_h = geometry.out_h = random_size(1, 9);
    geometry.in_w = geometry.out_w = random_size(1, 16);
    geometry.kernel_h = geometry.kernel_w = geometry.stride_h = geometry.stride_w = 1;
    geometry.dilation_h = geometry.dilation_w = 1;
    check_im2col(g, &geometry, trial % 2 == 0 ? g->nr : g->mr);
  }
}


/* ---- pools, depthwise convolution, epilogue: SIMD kernels vs oracles ---- */

/* The pool op's rule, written out plainly (the op's loops are the reference). */
static float pool_oracle(const cnnrt_pool2d_geometry* g, int kind, const float* x, size_t oy, size_t ox) {
  const ptrdiff_t y0 = (ptrdiff_t)(oy * g->stride_h) - g->pad_top, x0 = (ptrdiff_t)(ox * g->stride_w) - g->pad_left;
  float best = -INFINITY;
  double sum = 0.0;
  size_t inside = 0, padded = 0;
  for (size_t ky = 0; ky < g->kernel_h; ky++) {
    const ptrdiff_t iy = y0 + (ptrdiff_t)ky;
    if (iy < -g->pad_top || iy >= (ptrdiff_t)g->in_h + g->pad_bottom) continue;
    for (size_t kx = 0; kx < g->kernel_w; kx++) {
      const ptrdiff_t ix = x0 + (ptrdiff_t)kx;
      if (ix < -g->pad_left || ix >= (ptrdiff_t)g->in_w + g->pad_right) continue;
      padded++;
      if (iy < 0 || iy >= (ptrdiff_t)g->in_h || ix < 0 || ix >= (ptrdiff_t)g->in_w) continue;
      const float v = x[iy * (ptrdiff_t)g->in_w + ix];
      inside++;
      if (v > best || v != v) best = v;
      sum += v;
    }
  }
  if (kind == CNNRT_POOL2D_MAX) return best;
  const size_t divisor = g->count_include_pad ? padded : inside;
  return divisor > 0 ? (float)(sum / (double)divisor) : 0.0f;
}

static void test_pool(const cnnrt_f32_pool_config* config) {
  int tested = 0;
  for (int trial = 0; trial < 600; trial++) {
    cnnrt_pool2d_geometry g;
    memset(&g, 0, sizeof(g));
    g.kernel_h = trial % 4 == 0 ? 3 : random_size(1, 5);
    g.kernel_w = trial % 4 == 0 ? 3 : random_size(1, 5);
    g.stride_h = random_size(1, 3);
    g.stride_w = random_size(1, 2);
    g.in_h = random_size(1, 20);
    g.in_w = random_size(1, trial % 3 == 0 ? 150 : 40);
    g.pad_top = (ptrdiff_t)random_size(0, g.kernel_h - 1);
    g.pad_left = (ptrdiff_t)random_size(0, g.kernel_w - 1);
    g.pad_bottom = (ptrdiff_t)random_size(0, g.kernel_h - 1);
    g.pad_right = (ptrdiff_t)random_size(0, g.kernel_w - 1);
    g.count_include_pad = (int)random_size(0, 1);
    /* Pads past the kernel (rows of windows wholly in the padding). */
    if (trial % 9 == 4) g.pad_top = (ptrdiff_t)(g.kernel_h + random_size(0, 2));
    if (trial % 9 == 5) g.pad_bottom = (ptrdiff_t)(g.kernel_h + random_size(0, 2));
    const ptrdiff_t padded_h = (ptrdiff_t)g.in_h + g.pad_top + g.pad_bottom;
    const ptrdiff_t padded_w = (ptrdiff_t)g.in_w + g.pad_left + g.pad_right;
    if (padded_h < (ptrdiff_t)g.kernel_h || padded_w < (ptrdiff_t)g.kernel_w) continue;
    g.out_h = (size_t)(padded_h - (ptrdiff_t)g.kernel_h) / g.stride_h + 1;
    g.out_w = (size_t)(padded_w - (ptrdiff_t)g.kernel_w) / g.stride_w + 1;
    /* ceil_mode: one more output whose window runs past the end pad. */
    if (trial % 5 == 0 && (ptrdiff_t)(g.out_w * g.stride_w) < (ptrdiff_t)g.in_w + g.pad_left) g.out_w++;
    if (trial % 7 == 0 && (ptrdiff_t)(g.out_h * g.stride_h) < (ptrdiff_t)g.in_h + g.pad_top) g.out_h++;
    if (!cnnrt_f32_pool2d_supports(&g)) continue;
    const size_t in = g.in_h * g.in_w, out = g.out_h * g.out_w;
    float* x = malloc(in * sizeof(float));
    float* y = malloc((out + 1) * sizeof(float));
    /* Some planes of signed zeros and infinities only: +inf and -inf in one
     * window make the max pool's NaN-check sum NaN without a NaN input. (A tie
     * of -0 and +0 may keep either: the SIMD max reduces a window's columns
     * before its rows, the oracle goes row by row; values are compared.) */
    static const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, 1.0f, -1.0f};
    for (size_t i = 0; i < in; i++) x[i] = trial % 13 == 5 ? specials[random_size(0, 5)] : random_float();
    if (trial % 11 == 0) x[random_size(0, in - 1)] = NAN;
    for (int kind = CNNRT_POOL2D_MAX; kind <= CNNRT_POOL2D_AVERAGE; kind++) {
      y[out] = SENTINEL;
      config->pool2d(&g, kind, x, y);
      int bad = 0;
      for (size_t oy = 0; oy < g.out_h && !bad; oy++) {
        for (size_t ox = 0; ox < g.out_w && !bad; ox++) {
          const float want = pool_oracle(&g, kind, x, oy, ox), got = y[oy * g.out_w + ox];
          if (kind == CNNRT_POOL2D_MAX) {
            bad = !(want == got || (want != want && got != got));
          } else {
            bad = !(want == got || fabsf(want - got) <= 1e-6f * (float)(g.kernel_h * g.kernel_w) ||
                    (want != want && got != got));
          }
          CHECK(!bad, "%s pool2d kind %d in %zux%zu kernel %zux%zu stride %zux%zu pads %td,%td,%td,%td include %d: "
                "y[%zu][%zu] %.9g vs %.9g", config->name, kind, g.in_h, g.in_w, g.kernel_h, g.kernel_w, g.stride_h,
                g.stride_w, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right, g.count_include_pad, oy, ox, got, want);
        }
      }
      CHECK(y[out] == SENTINEL, "%s pool2d wrote past the output", config->name);
    }
    tested++;
    free(x);
    free(y);
  }
  CHECK(tested > 300, "only %d pool geometries tested", tested);
  for (int trial = 0; trial < 50; trial++) {
    const size_t plane = random_size(1, 300), planes = random_size(1, 5);
    float* x = malloc(plane * planes * sizeof(float));
    float y[6];
    for (size_t i = 0; i < plane * planes; i++) x[i] = random_float();
    y[planes] = SENTINEL;
    config->global_average(x, plane, planes, y);
    for (size_t p = 0; p < planes; p++) {
      double sum = 0.0;
      for (size_t i = 0; i < plane; i++) sum += x[p * plane + i];
      CHECK(fabs(y[p] - sum / (double)plane) <= 1e-6, "%s global average plane %zu: %.9g vs %.9g", config->name,
            plane, y[p], sum / (double)plane);
    }
    CHECK(y[planes] == SENTINEL, "%s global average wrote past the output", config->name);
    free(x);
  }
}

/* One depthwise geometry against cnnrt_f32_dwconv2d_ref with a fused
 * epilogue; g->out_h/out_w are derived here from the pads (pad_bottom and
 * pad_right extra). Channels run as two ranges split at a random point, and
 * must equal, bit for bit, the same channels run as one range (the kernel
 * must not depend on how conv.c splits channels over threads). Returns 0
 * when the geometry has no output or the kernel does not take it. */
static int check_dwconv(const cnnrt_f32_vector_config* config, cnnrt_conv2d_geometry g, size_t pad_bottom,
                        size_t pad_right, int activation, int with_bias, int with_residual) {
  const ptrdiff_t padded_h = (ptrdiff_t)(g.in_h + pad_bottom) + g.pad_top;
  const ptrdiff_t padded_w = (ptrdiff_t)(g.in_w + pad_right) + g.pad_left;
  if (padded_h < (ptrdiff_t)g.kernel_h || padded_w < (ptrdiff_t)g.kernel_w) return 0;
  g.out_h = (size_t)(padded_h - (ptrdiff_t)g.kernel_h) / g.stride_h + 1;
  g.out_w = (size_t)(padded_w - (ptrdiff_t)g.kernel_w) / g.stride_w + 1;
  if (!cnnrt_f32_dwconv2d_supports(&g)) return 0;
  const size_t x_size = g.batch * g.in_channels * g.in_h * g.in_w;
  const size_t y_size = g.batch * g.out_channels * g.out_h * g.out_w;
  const size_t taps = g.kernel_h * g.kernel_w;
  float* x = malloc(x_size * sizeof(float));
  float* w = malloc(g.out_channels * taps * sizeof(float));
  float* bias = malloc(g.out_channels * sizeof(float));
  float* residual = malloc(y_size * sizeof(float));
  float* want = malloc(y_size * sizeof(float));
  float* got = malloc((y_size + 1) * sizeof(float));
  float* whole = malloc(y_size * sizeof(float));
  float* magnitude = malloc(y_size * sizeof(float));
  float* absolute = malloc(x_size * sizeof(float));
  float* abs_w = malloc(g.out_channels * taps * sizeof(float));
  const size_t scratch_floats = cnnrt_f32_dwconv2d_scratch_floats(&g);
  float* scratch = malloc((scratch_floats + 1) * sizeof(float));
  for (size_t i = 0; i < x_size; i++) x[i] = random_float();
  for (size_t i = 0; i < g.out_channels * taps; i++) w[i] = random_float();
  for (size_t i = 0; i < g.out_channels; i++) bias[i] = random_float();
  for (size_t i = 0; i < y_size; i++) residual[i] = random_float();
  cnnrt_f32_epilogue_params e = {with_bias ? bias : NULL, with_residual ? residual : NULL, activation, 0.1f, 0.6f};
  if (activation == CNNRT_ACT_CLIP) e.alpha = -0.5f;
  if (activation == CNNRT_ACT_HARD_SIGMOID) e.alpha = 0.2f, e.beta = 0.5f;
  /* Bounds: the same convolution of |x| and |w|. */
  for (size_t i = 0; i < x_size; i++) absolute[i] = fabsf(x[i]);
  for (size_t i = 0; i < g.out_channels * taps; i++) abs_w[i] = fabsf(w[i]);
  for (size_t n = 0; n < g.batch; n++) {
    cnnrt_f32_dwconv2d_ref(&g, x, w, NULL, want, n, 0, g.out_channels);
    cnnrt_f32_dwconv2d_ref(&g, absolute, abs_w, NULL, magnitude, n, 0, g.out_channels);
  }
  const size_t plane = g.out_h * g.out_w;
  for (size_t p = 0; p < g.batch * g.out_channels; p++) {
    cnnrt_f32_epilogue_ref(want + p * plane, plane, e.bias != NULL ? bias[p % g.out_channels] : 0.0f,
                           e.residual != NULL ? residual + p * plane : NULL, activation, e.alpha, e.beta);
  }
  got[y_size] = SENTINEL;
  scratch[scratch_floats] = SENTINEL;
  for (size_t n = 0; n < g.batch; n++) {
    const size_t split = random_size(0, g.out_channels);
    config->dwconv2d(&g, x, w, &e, got, n, 0, split, scratch);
    config->dwconv2d(&g, x, w, &e, got, n, split, g.out_channels, scratch);
    config->dwconv2d(&g, x, w, &e, whole, n, 0, g.out_channels, scratch);
  }
  int bad = 0;
  for (size_t i = 0; i < y_size && !bad; i++) {
    bad = !(fabsf(got[i] - want[i]) <= 1e-6f * (magnitude[i] + 2.0f) || (got[i] != got[i] && want[i] != want[i]));
    CHECK(!bad, "%s dwconv batch %zu in %zux%zu kernel %zux%zu stride %zux%zu pad %td,%td,%zu,%zu channels %zu->%zu "
          "act %d bias %d residual %d: y[%zu] %.9g vs %.9g", config->name, g.batch, g.in_h, g.in_w, g.kernel_h,
          g.kernel_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left, pad_bottom, pad_right, g.in_channels,
          g.out_channels, activation, with_bias, with_residual, i, got[i], want[i]);
  }
  CHECK(memcmp(got, whole, y_size * sizeof(float)) == 0,
        "%s dwconv in %zux%zu kernel %zux%zu stride %zux%zu channels %zu: split channel ranges must give the "
        "same bits as one range", config->name, g.in_h, g.in_w, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w,
        g.out_channels);
  CHECK(got[y_size] == SENTINEL, "%s dwconv wrote past the output", config->name);
  CHECK(scratch[scratch_floats] == SENTINEL, "%s dwconv wrote past its scratch (%zu floats)", config->name,
        scratch_floats);
  free(x), free(w), free(bias), free(residual), free(want), free(got), free(whole), free(magnitude), free(absolute);
  free(abs_w), free(scratch);
  return 1;
}

/* Which loop of the AVX2 depthwise kernel a geometry (out_h, out_w set) takes. */
static void count_avx2_loop(const cnnrt_conv2d_geometry* g, int* rows, int blocked[5], int row_ends[8],
                            int* banded) {
  if (!cnnrt_dwconv2d_avx2_blocked(g)) {
    (*rows)++;
    return;
  }
  const int square3 = g->kernel_h == 3 && g->kernel_w == 3, square5 = g->kernel_h == 5 && g->kernel_w == 5;
  blocked[square3 ? (g->stride_w == 1 ? 0 : 1) : square5 ? (g->stride_w == 1 ? 2 : 3) : 4]++;
  if (square3 || square5) row_ends[g->out_w % 8]++;
  cnnrt_dwconv2d_avx2_window window;
  cnnrt_dwconv2d_avx2_window_make(g, &window);
  *banded += window.band < g->out_h;
}

static void test_dwconv(const cnnrt_f32_vector_config* config) {
  static const int activations[] = {CNNRT_ACT_NONE,         CNNRT_ACT_RELU,      CNNRT_ACT_LEAKY_RELU,
                                    CNNRT_ACT_CLIP,         CNNRT_ACT_HARD_SIGMOID, CNNRT_ACT_HARD_SWISH,
                                    CNNRT_ACT_SILU,         CNNRT_ACT_SIGMOID,   CNNRT_ACT_TANH,
                                    CNNRT_ACT_GELU,         CNNRT_ACT_ELU};
  const int activation_count = (int)(sizeof(activations) / sizeof(activations[0]));
  /* Which of the AVX-512 kernel's loops (f32-dwconv2d-layout.h) ran, and
   * whether a plane was split into bands. */
  int modes[CNNRT_DWCONV2D_MODES] = {0}, banded = 0;
  /* Likewise for the AVX2 kernel (f32-dwconv2d-avx2.c): its row loop, its
   * channel-blocked loop by kernel (3x3 and 5x5 by column stride, any other),
   * row ends of every length (out_w % 8) and planes split into bands. */
  int avx2_rows = 0, avx2_blocked[5] = {0}, avx2_row_ends[8] = {0}, avx2_banded = 0;
  int tested = 0;
  for (int trial = 0; trial < 300; trial++) {
    cnnrt_conv2d_geometry g;
    memset(&g, 0, sizeof(g));
    const size_t kernels[] = {1, 3, 3, 5, 7, 2, 4};
    g.kernel_h = kernels[random_size(0, 6)];
    g.kernel_w = trial % 3 == 0 ? random_size(1, 7) : g.kernel_h;
    g.stride_h = random_size(1, trial % 5 == 0 ? 3 : 2);
    g.stride_w = random_size(1, 2);
    g.dilation_h = g.dilation_w = 1;
    g.batch = random_size(1, 2);
    g.groups = g.in_channels = random_size(1, 5);
    g.out_channels = g.groups * random_size(1, 3);
    if (trial % 4 == 1) { /* the AVX2 kernel's channel-blocked loop: one channel per group, 8 or more */
      g.groups = g.in_channels = g.out_channels = random_size(8, 20);
    }
    g.in_h = random_size(1, trial % 4 == 0 ? 90 : 20);
    g.in_w = random_size(1, trial % 4 == 0 ? 120 : 40);
    g.pad_top = (ptrdiff_t)random_size(0, g.kernel_h / 2 + 1);
    g.pad_left = (ptrdiff_t)random_size(0, g.kernel_w / 2 + 1);
    const size_t pad_bottom = random_size(0, g.kernel_h / 2 + 1), pad_right = random_size(0, g.kernel_w / 2 + 1);
    tested += check_dwconv(config, g, pad_bottom, pad_right, activations[trial % activation_count], trial % 2,
                           trial % 3 != 1);
  }
  CHECK(tested > 150, "only %d random depthwise geometries tested", tested);
  /* The mobile nets' layers and their edges: 3x3 and 5x5, strides 1 and 2,
   * planes from 112 down to 7 (and odd sizes), channel counts 1 to 255,
   * multipliers 1 to 3, every epilogue. */
  static const size_t sizes[][2] = {{7, 7}, {14, 14}, {13, 13}, {28, 28}, {27, 29}, {56, 56}, {57, 55}, {112, 112},
                                    {113, 111}, {9, 15}, {1, 40}, {40, 1}, {3, 3}};
  static const size_t channel_counts[] = {1, 3, 17, 64, 255};
  int listed = 0;
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    for (size_t k = 3; k <= 5; k += 2) {
      for (size_t stride = 1; stride <= 2; stride++) {
        for (int symmetric = 0; symmetric < 2; symmetric++) {
          cnnrt_conv2d_geometry g;
          memset(&g, 0, sizeof(g));
          g.kernel_h = g.kernel_w = k;
          g.stride_h = g.stride_w = stride;
          g.dilation_h = g.dilation_w = 1;
          g.in_h = sizes[s][0];
          g.in_w = sizes[s][1];
          /* Keep the reference's work bounded: fewer channels on big planes. */
          const size_t area = g.in_h * g.in_w;
          const size_t most = area >= 3000 ? 2 : area >= 700 ? 3 : 4;
          g.groups = g.in_channels = channel_counts[random_size(0, most)];
          g.out_channels = g.groups * (listed % 7 == 3 ? random_size(2, 3) : 1);
          g.batch = listed % 5 == 0 ? 2 : 1;
          /* Symmetric pads (PyTorch), or one fewer at the start and one more
           * at the end (stride 2: TensorFlow's SAME). */
          const size_t pad = k / 2;
          g.pad_top = g.pad_left = (ptrdiff_t)(symmetric ? pad : pad - 1);
          const size_t pad_end = symmetric || stride == 2 ? pad : pad + 1;
          const int activation = activations[listed % activation_count];
          if (check_dwconv(config, g, pad_end, pad_end, activation, listed % 4 != 3, listed % 3 == 0)) {
            g.out_h = (g.in_h + (size_t)g.pad_top + pad_end - k) / stride + 1;
            g.out_w = (g.in_w + (size_t)g.pad_left + pad_end - k) / stride + 1;
            cnnrt_dwconv2d_layout layout;
            cnnrt_dwconv2d_layout_make(&g, &layout);
            modes[layout.mode]++;
            banded += layout.band < g.out_h;
            count_avx2_loop(&g, &avx2_rows, avx2_blocked, avx2_row_ends, &avx2_banded);
            listed++;
          }
        }
      }
    }
  }
  CHECK(listed > 90, "only %d listed depthwise geometries tested", listed);
  if (strcmp(config->name, "avx512") == 0) {
    CHECK(modes[CNNRT_DWCONV2D_FLAT] > 0 && modes[CNNRT_DWCONV2D_ROWS] > 0 && modes[CNNRT_DWCONV2D_BLOCKED] > 0 &&
              banded > 0,
          "avx512 dwconv: the listed shapes must reach the flat (%d), rows (%d) and channel-blocked (%d) loops and "
          "banded planes (%d)",
          modes[CNNRT_DWCONV2D_FLAT], modes[CNNRT_DWCONV2D_ROWS], modes[CNNRT_DWCONV2D_BLOCKED], banded);
  }
  /* Kernels without an unrolled block (the taps loop): 7x7, 3x5, 1x1, stride 1x2. */
  static const size_t odd_kernels[][4] = {{7, 7, 1, 1}, {3, 5, 1, 1}, {1, 1, 2, 2}, {3, 3, 1, 2}, {5, 3, 2, 1}};
  for (size_t i = 0; i < sizeof(odd_kernels) / sizeof(odd_kernels[0]); i++) {
    for (size_t size = 7; size <= 70; size *= 3) {
      cnnrt_conv2d_geometry g;
      memset(&g, 0, sizeof(g));
      g.kernel_h = odd_kernels[i][0], g.kernel_w = odd_kernels[i][1];
      g.stride_h = odd_kernels[i][2], g.stride_w = odd_kernels[i][3];
      g.dilation_h = g.dilation_w = 1;
      g.batch = 1;
      g.groups = g.in_channels = g.out_channels = 17;
      g.in_h = g.in_w = size;
      g.pad_top = (ptrdiff_t)(g.kernel_h / 2), g.pad_left = (ptrdiff_t)(g.kernel_w / 2);
      const int activation = activations[(i * 3 + size) % activation_count];
      if (check_dwconv(config, g, g.kernel_h / 2, g.kernel_w / 2, activation, 1, size == 21)) {
        g.out_h = (g.in_h + 2 * (g.kernel_h / 2) - g.kernel_h) / g.stride_h + 1;
        g.out_w = (g.in_w + 2 * (g.kernel_w / 2) - g.kernel_w) / g.stride_w + 1;
        cnnrt_dwconv2d_layout layout;
        cnnrt_dwconv2d_layout_make(&g, &layout);
        modes[layout.mode]++;
        count_avx2_loop(&g, &avx2_rows, avx2_blocked, avx2_row_ends, &avx2_banded);
      }
    }
  }
  if (strcmp(config->name, "avx2") == 0) {
    int row_ends = 1;
    for (int i = 0; i < 8; i++) row_ends = row_ends && avx2_row_ends[i] > 0;
    CHECK(avx2_rows > 0 && avx2_blocked[0] > 0 && avx2_blocked[1] > 0 && avx2_blocked[2] > 0 &&
              avx2_blocked[3] > 0 && avx2_blocked[4] > 0 && row_ends && avx2_banded > 0,
          "avx2 dwconv: the listed shapes must reach the row loop (%d), the channel-blocked loop for 3x3 (%d, %d), "
          "5x5 (%d, %d) and other kernels (%d), row ends of every length and banded planes (%d)",
          avx2_rows, avx2_blocked[0], avx2_blocked[1], avx2_blocked[2], avx2_blocked[3], avx2_blocked[4],
          avx2_banded);
  }
  if (strcmp(config->name, "avx512") == 0) {
    CHECK(modes[CNNRT_DWCONV2D_TAPS] > 0, "avx512 dwconv: the taps loop must be reached");
  }
}

/* 1 for the activations the SIMD kernels compute with the reference's own
 * arithmetic (bit-exact); the others are built on vector expf/erff. */
static int exact_activation(int activation) {
  return activation == CNNRT_ACT_NONE || activation == CNNRT_ACT_RELU || activation == CNNRT_ACT_LEAKY_RELU ||
         activation == CNNRT_ACT_CLIP || activation == CNNRT_ACT_HARD_SIGMOID || activation == CNNRT_ACT_HARD_SWISH;
}

/* Distance in representable floats (ulp) between two finite floats. */
static double ulp_distance(float a, float b) {
  int32_t ia, ib;
  memcpy(&ia, &a, 4);
  memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return fabs((double)ia - (double)ib);
}

/* |got - want| / max(1, |want|): the measure docs/ops.md bounds by 1e-4. NaN
 * must meet NaN and an infinity the same infinity (else returns 1). */
static double activation_error(float got, float want) {
  if (want != want || got != got) return (want != want) == (got != got) ? 0.0 : 1.0;
  if (isinf(want) || isinf(got)) return want == got ? 0.0 : 1.0;
  return fabs((double)got - (double)want) / fmax(1.0, fabs((double)want));
}

/* The vector activations (transcendental ones) against the reference over
 * ~4M inputs: a dense sweep of [-100, 100], random bit patterns of |x| <= 100
 * (denormals included), and special values. Reports the largest ulp distance
 * where the reference is a normal float and the largest ops.md error. */
static void test_activation_accuracy(const cnnrt_f32_vector_config* config) {
  static const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, -1e-40f,
                                   1.17549435e-38f, -1.17549435e-38f, 3.4028235e38f, -3.4028235e38f, 88.72f,
                                   -88.72f, 89.0f, -103.9f, -104.5f, 0.625f, -0.625f, 1.0f, -1.0f, 4.0f, -4.0f,
                                   1.41421354f, -1.41421354f, 5.65685415f, -5.65685415f, 1e-20f, -1e-20f};
  const size_t sweep = 1u << 21, randoms = 1u << 21, nspecial = sizeof(specials) / sizeof(specials[0]);
  const size_t n = sweep + randoms + nspecial;
  float* x = malloc(n * sizeof(float));
  float* want = malloc(n * sizeof(float));
  float* got = malloc((n + 1) * sizeof(float));
  for (size_t i = 0; i < sweep; i++) x[i] = -100.0f + 200.0f * (float)((double)i / (double)(sweep - 1));
  for (size_t i = 0; i < randoms;) {
    uint32_t bits = random_u32();
    float v;
    memcpy(&v, &bits, 4);
    if (fabsf(v) <= 100.0f) x[sweep + i++] = v;
  }
  memcpy(x + sweep + randoms, specials, sizeof(specials));
  static const int activations[] = {CNNRT_ACT_SIGMOID, CNNRT_ACT_SILU, CNNRT_ACT_TANH, CNNRT_ACT_GELU,
                                    CNNRT_ACT_GELU_TANH, CNNRT_ACT_ELU, CNNRT_ACT_SOFTPLUS};
  for (size_t a = 0; a < sizeof(activations) / sizeof(activations[0]); a++) {
    const int activation = activations[a];
    const float alpha = activation == CNNRT_ACT_ELU ? 0.7f : 0.0f;
    memcpy(want, x, n * sizeof(float));
    cnnrt_f32_activation_ref(want, n, activation, alpha, 0.0f);
    got[n] = SENTINEL;
    config->activation(x, got, n, activation, alpha, 0.0f);
    double max_ulp = 0.0, max_error = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
      const double error = activation_error(got[i], want[i]);
      if (error > max_error) max_error = error, worst = i;
      /* GELU's reference cancels in 1 + erf / 1 + tanh for x < 0 (an absolute
       * error of ~1e-7 there is many ulp of a tiny result): ulp from x >= 0. */
      const int gelu = activation == CNNRT_ACT_GELU || activation == CNNRT_ACT_GELU_TANH;
      if (isfinite(want[i]) && isfinite(got[i]) && fabsf(want[i]) >= 1.17549435e-38f && !(gelu && x[i] < 0.0f)) {
        const double ulp = ulp_distance(got[i], want[i]);
        if (ulp > max_ulp) max_ulp = ulp;
      }
    }
    printf("  %-10s %s: max ulp %.0f%s, max |d|/max(1,|ref|) %.3g (x = %.9g: %.9g vs %.9g)\n",
           cnnrt_activation_name(activation), config->name, max_ulp, activation >= CNNRT_ACT_GELU &&
           activation <= CNNRT_ACT_GELU_TANH ? " (x >= 0)" : "", max_error, x[worst], got[worst], want[worst]);
    /* ops.md allows 1e-4; the kernels are held to 1e-6 (a few ulp of 1), and
     * to a few ulp where the reference is a normal float (see above). */
    CHECK(max_error <= 1e-6, "%s %s: error %.3g at x = %.9g (%.9g vs %.9g)", config->name,
          cnnrt_activation_name(activation), max_error, x[worst], got[worst], want[worst]);
    CHECK(max_ulp <= 8.0, "%s %s: %.0f ulp from the reference", config->name, cnnrt_activation_name(activation),
          max_ulp);
    CHECK(got[n] == SENTINEL, "%s activation wrote past the end", config->name);
    /* In place, and through the epilogue: the same values. */
    memcpy(want, got, n * sizeof(float));
    memcpy(got, x, n * sizeof(float));
    config->activation(got, got, n, activation, alpha, 0.0f);
    CHECK(memcmp(want, got, n * sizeof(float)) == 0, "%s in-place activation differs", config->name);
    memcpy(got, x, n * sizeof(float));
    config->epilogue(got, n, 0.0f, NULL, activation, alpha, 0.0f);
    CHECK(memcmp(want, got, n * sizeof(float)) == 0, "%s epilogue activation differs", config->name);
  }
  free(x), free(want), free(got);
}

/* The activation over a GEMM tile's rows (activation_rows) against the
 * level's own activation row by row: the same bits, and the floats between
 * the rows (stride > cols) untouched. */
static void test_activation_rows(const cnnrt_f32_vector_config* config) {
  for (int trial = 0; trial < 300; trial++) {
    const int activation = (int)random_size(0, CNNRT_ACT_COUNT - 1);
    const size_t rows = random_size(1, 9), cols = random_size(1, 40), stride = cols + random_size(0, 9);
    const float alpha = activation == CNNRT_ACT_CLIP ? -0.5f : 0.3f, beta = activation == CNNRT_ACT_CLIP ? 0.7f : 0.4f;
    const size_t floats = (rows - 1) * stride + cols;
    float* got = malloc((floats + 1) * sizeof(float));
    float* want = malloc((floats + 1) * sizeof(float));
    for (size_t i = 0; i < floats; i++) got[i] = want[i] = random_float() * 8.0f;
    got[floats] = want[floats] = SENTINEL;
    config->activation_rows(got, rows, cols, stride, activation, alpha, beta);
    for (size_t r = 0; r < rows; r++) config->activation(want + r * stride, want + r * stride, cols, activation, alpha, beta);
    CHECK(memcmp(got, want, (floats + 1) * sizeof(float)) == 0,
          "%s activation_rows %s rows=%zu cols=%zu stride=%zu differs from the activation row by row", config->name,
          cnnrt_activation_name(activation), rows, cols, stride);
    free(got), free(want);
  }
}

/* The AVX2 activations are the AVX-512 ones operation for operation (2^n
 * applied as two exact-then-rounding products instead of one scalef), so a
 * model gives the same activations at both levels: equal bit for bit over a
 * dense sweep, random bit patterns and special values. */
static void test_activation_levels_agree(const cnnrt_f32_vector_config* avx2, const cnnrt_f32_vector_config* avx512) {
  static const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-40f, 3.4028235e38f,
                                   -3.4028235e38f, 88.72f, 89.0f, -103.9f, -104.5f, -87.3f, 0.625f, 1.0f, 4.0f};
  const size_t sweep = 1u << 19, randoms = 1u << 19, nspecial = sizeof(specials) / sizeof(specials[0]);
  const size_t n = sweep + randoms + nspecial;
  float* x = malloc(n * sizeof(float));
  float* a = malloc(n * sizeof(float));
  float* b = malloc(n * sizeof(float));
  for (size_t i = 0; i < sweep; i++) x[i] = -110.0f + 220.0f * (float)((double)i / (double)(sweep - 1));
  for (size_t i = 0; i < randoms; i++) {
    const uint32_t bits = random_u32();
    memcpy(&x[sweep + i], &bits, 4);
  }
  memcpy(x + sweep + randoms, specials, sizeof(specials));
  for (int activation = 0; activation < CNNRT_ACT_COUNT; activation++) {
    const float alpha = activation == CNNRT_ACT_CLIP ? -1.0f : 0.7f, beta = activation == CNNRT_ACT_CLIP ? 2.0f : 0.5f;
    avx2->activation(x, a, n, activation, alpha, beta);
    avx512->activation(x, b, n, activation, alpha, beta);
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
      const int same = memcmp(&a[i], &b[i], 4) == 0 || (a[i] != a[i] && b[i] != b[i]);
      if (!same && differ++ == 0) first = i;
    }
    CHECK(differ == 0, "%s: avx2 and avx512 differ at %zu inputs, first x = %.9g: %.9g vs %.9g",
          cnnrt_activation_name(activation), differ, x[first], a[first], b[first]);
  }
  free(x), free(a), free(b);
}

/* Binary ops against plain loops: bit-exact, every step pattern, in place. */
static float binary_oracle(int op, float va, float vb) {
  switch (op) {
    case CNNRT_F32_VBINARY_ADD: return va + vb;
    case CNNRT_F32_VBINARY_SUB: return va - vb;
    case CNNRT_F32_VBINARY_MUL: return va * vb;
    case CNNRT_F32_VBINARY_DIV: return va / vb;
    case CNNRT_F32_VBINARY_MAX: return (va > vb || va != va) ? va : vb;
    default: return (va < vb || va != va) ? va : vb;
  }
}

static void test_vbinary(const cnnrt_f32_vector_config* config) {
  static const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -3.4028235e38f, 1.0f};
  for (int op = CNNRT_F32_VBINARY_ADD; op <= CNNRT_F32_VBINARY_MIN; op++) {
    for (int trial = 0; trial < 80; trial++) {
      const size_t n = random_size(1, 100);
      const size_t a_step = trial % 4 < 2, b_step = trial % 2;
      const int in_place = trial % 8 >= 4 && a_step == 1;
      float* a = malloc(n * sizeof(float));
      float* b = malloc(n * sizeof(float));
      float* want = malloc(n * sizeof(float));
      float* got = malloc((n + 1) * sizeof(float));
      for (size_t i = 0; i < n; i++) {
        a[i] = random_u32() % 8 == 0 ? specials[random_u32() % 8] : random_float() * 4.0f;
        b[i] = random_u32() % 8 == 0 ? specials[random_u32() % 8] : random_float() * 4.0f;
      }
      for (size_t i = 0; i < n; i++) want[i] = binary_oracle(op, a[i * a_step], b[i * b_step]);
      got[n] = SENTINEL;
      if (in_place) {
        memcpy(got, a, n * sizeof(float));
        config->binary(op, got, got, 1, b, b_step, n);
      } else {
        config->binary(op, got, a, a_step, b, b_step, n);
      }
      CHECK(memcmp(want, got, n * sizeof(float)) == 0, "%s binary op %d steps %zu,%zu n=%zu%s differs", config->name,
            op, a_step, b_step, n, in_place ? " in place" : "");
      CHECK(got[n] == SENTINEL, "%s binary wrote past the end", config->name);
      free(a), free(b), free(want), free(got);
    }
  }
}

static void test_epilogue(const cnnrt_f32_vector_config* config) {
  for (int activation = 0; activation < CNNRT_ACT_COUNT; activation++) {
    for (int trial = 0; trial < 20; trial++) {
      const size_t n = random_size(1, 100);
      float* want = malloc(n * sizeof(float));
      float* got = malloc((n + 1) * sizeof(float));
      float* residual = malloc(n * sizeof(float));
      for (size_t i = 0; i < n; i++) want[i] = got[i] = random_float() * 8.0f, residual[i] = random_float();
      if (trial == 3) want[0] = got[0] = NAN;
      if (trial == 4) want[n - 1] = got[n - 1] = -0.0f;
      got[n] = SENTINEL;
      const float bias = trial % 3 == 0 ? 0.0f : random_float();
      const float* r = trial % 2 ? residual : NULL;
      const float alpha = activation == CNNRT_ACT_CLIP ? -1.0f : 0.2f, beta = activation == CNNRT_ACT_CLIP ? 2.0f : 0.5f;
      cnnrt_f32_epilogue_ref(want, n, bias, r, activation, alpha, beta);
      config->epilogue(got, n, bias, r, activation, alpha, beta);
      if (exact_activation(activation)) {
        CHECK(memcmp(want, got, n * sizeof(float)) == 0, "%s epilogue activation %d n=%zu differs from the reference",
              config->name, activation, n);
      } else {
        double error = 0.0;
        for (size_t i = 0; i < n; i++) error = fmax(error, activation_error(got[i], want[i]));
        CHECK(error <= 1e-6, "%s epilogue activation %d n=%zu: error %.3g", config->name, activation, n, error);
      }
      CHECK(got[n] == SENTINEL, "%s epilogue wrote past the end", config->name);
      free(want), free(got), free(residual);
    }
  }
}

/* The matrix-vector kernel against the plain dot products: rows and lengths
 * off the vector width, row ranges, every epilogue input; the result of a row
 * does not depend on the range it was computed in. */
static void test_gemv(const cnnrt_f32_vector_config* config) {
  static const int activations[] = {CNNRT_ACT_NONE, CNNRT_ACT_RELU, CNNRT_ACT_SILU, CNNRT_ACT_HARD_SIGMOID};
  for (int trial = 0; trial < 200; trial++) {
    const size_t rows = random_size(1, 70), k = trial < 16 ? (size_t)trial + 1 : random_size(1, 1100);
    float* w = malloc(rows * k * sizeof(float));
    float* x = malloc(k * sizeof(float));
    float* bias = malloc(rows * sizeof(float));
    float* residual = malloc(rows * sizeof(float));
    float* want = malloc(rows * sizeof(float));
    float* got = malloc((rows + 1) * sizeof(float));
    float* again = malloc(rows * sizeof(float));
    for (size_t i = 0; i < rows * k; i++) w[i] = random_float();
    for (size_t i = 0; i < k; i++) x[i] = random_float();
    for (size_t i = 0; i < rows; i++) bias[i] = random_float(), residual[i] = random_float();
    const int activation = activations[trial % 4];
    cnnrt_f32_epilogue_params e = {trial % 2 ? bias : NULL, trial % 3 == 0 ? residual : NULL, activation, 0.2f, 0.5f};
    cnnrt_f32_gemv_ref(w, k, x, &e, want, 0, rows);
    got[rows] = SENTINEL;
    const size_t split = random_size(0, rows);
    config->gemv(w, k, x, &e, got, 0, split);
    config->gemv(w, k, x, &e, got, split, rows);
    config->gemv(w, k, x, &e, again, 0, rows);
    for (size_t i = 0; i < rows; i++) {
      double magnitude = 1.0;
      for (size_t p = 0; p < k; p++) magnitude += fabs((double)w[i * k + p] * x[p]);
      CHECK(fabs((double)got[i] - want[i]) <= 1e-6 * magnitude, "%s gemv rows=%zu k=%zu act=%d y[%zu]: %.9g vs %.9g",
            config->name, rows, k, activation, i, got[i], want[i]);
      CHECK(memcmp(&got[i], &again[i], sizeof(float)) == 0, "%s gemv rows=%zu k=%zu: row %zu depends on the range",
            config->name, rows, k, i);
    }
    CHECK(got[rows] == SENTINEL, "%s gemv wrote past the rows", config->name);
    free(w), free(x), free(bias), free(residual), free(want), free(got), free(again);
  }
}

/* The transposed store with epilogue against its reference: exact for the
 * activations without transcendental functions, within 8 ulp (or 1e-6
 * absolute near zero) for the others; nothing written outside each row. */
static void test_transpose_epilogue(const cnnrt_f32_vector_config* config) {
  static const int activations[] = {CNNRT_ACT_NONE, CNNRT_ACT_RELU, CNNRT_ACT_CLIP, CNNRT_ACT_SILU,
                                    CNNRT_ACT_HARD_SWISH, CNNRT_ACT_SIGMOID, CNNRT_ACT_LEAKY_RELU};
  for (int trial = 0; trial < 400; trial++) {
    const size_t rows = trial < 20 ? (size_t)trial + 1 : random_size(1, 45), cols = random_size(1, 70);
    const size_t ldc = cols + random_size(0, 9), y_stride = rows + random_size(0, 5);
    const int activation = activations[trial % 7];
    const float alpha = activation == CNNRT_ACT_CLIP ? -0.3f : 0.1f, beta = activation == CNNRT_ACT_CLIP ? 0.4f : 0.6f;
    float* c = malloc(rows * ldc * sizeof(float));
    float* bias = malloc(cols * sizeof(float));
    float* residual = malloc(cols * y_stride * sizeof(float));
    float* want = malloc(cols * y_stride * sizeof(float));
    float* got = malloc(cols * y_stride * sizeof(float));
    for (size_t i = 0; i < rows * ldc; i++) c[i] = 3.0f * random_float();
    for (size_t j = 0; j < cols; j++) bias[j] = j % 4 == 0 ? 0.0f : random_float();
    for (size_t i = 0; i < cols * y_stride; i++) residual[i] = random_float(), want[i] = got[i] = SENTINEL;
    const int with_bias = trial % 3 != 0, with_residual = trial % 2 == 0;
    cnnrt_f32_transpose_epilogue_ref(c, ldc, rows, cols, want, y_stride, with_bias ? bias : NULL,
                                     with_residual ? residual : NULL, activation, alpha, beta);
    config->transpose_epilogue(c, ldc, rows, cols, got, y_stride, with_bias ? bias : NULL,
                               with_residual ? residual : NULL, activation, alpha, beta);
    const int exact = activation == CNNRT_ACT_NONE || activation == CNNRT_ACT_RELU || activation == CNNRT_ACT_CLIP ||
                      activation == CNNRT_ACT_LEAKY_RELU || activation == CNNRT_ACT_HARD_SWISH;
    for (size_t j = 0; j < cols; j++) {
      for (size_t i = 0; i < y_stride; i++) {
        const float w = want[j * y_stride + i], g = got[j * y_stride + i];
        if (i >= rows) {
          CHECK(g == SENTINEL, "%s transpose_epilogue rows=%zu cols=%zu wrote y[%zu][%zu] past the row",
                config->name, rows, cols, j, i);
          continue;
        }
        const int ok = exact ? memcmp(&w, &g, sizeof(float)) == 0
                             : (ulp_distance(w, g) <= 8.0 || fabsf(w - g) <= 1e-6f);
        CHECK(ok, "%s transpose_epilogue rows=%zu cols=%zu activation=%d y[%zu][%zu]: %.9g vs reference %.9g",
              config->name, rows, cols, activation, j, i, g, w);
      }
    }
    free(c), free(bias), free(residual), free(want), free(got);
  }
}

/* Runs `check` in a child process with CNNRT_ISA set; its exit status is the
 * number of failed checks. The CPU level is read once per process, so this
 * must be called before this process reads it: the forked child then reads
 * it afresh, with no exec (which an emulator such as qemu-user, used to run
 * the aarch64 build on x86, cannot follow without binfmt_misc). */
static int child_with_isa(const char* value, int (*check)(void)) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("CNNRT_ISA", value, 1);
    _exit(check());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

static int forced_scalar(void) {
  int bad = 0;
  bad += cnnrt_cpu_level() != CNNRT_ISA_SCALAR;
  bad += strcmp(cnnrt_f32_gemm_config_get()->isa, "scalar") != 0;
  bad += strstr(cnnrt_cpu_description(), "using scalar") == NULL;
  if (bad) fprintf(stderr, "CNNRT_ISA=scalar: %s, config %s\n", cnnrt_cpu_description(), cnnrt_f32_gemm_config_get()->name);
  return bad;
}

/* CNNRT_ISA=avx2 on a CPU that has it: every kernel configuration is the AVX2 one. */
static int forced_avx2(void) {
  if (!cnnrt_cpu_supports(CNNRT_ISA_AVX2)) return cnnrt_cpu_level() != cnnrt_cpu_detected_level();
  int bad = cnnrt_cpu_level() != CNNRT_ISA_AVX2;
  bad += strcmp(cnnrt_f32_gemm_config_get()->isa, "avx2") != 0;
#if defined(__x86_64__) || defined(_M_X64)
  bad += cnnrt_f32_gemm_config_get()->im2col != cnnrt_f32_im2col_packed__avx2;
#endif
  bad += strcmp(cnnrt_f32_pool_config_get()->name, "avx2") != 0;
  bad += strcmp(cnnrt_f32_vector_config_get()->name, "avx2") != 0;
  if (bad) {
    fprintf(stderr, "CNNRT_ISA=avx2: %s, configs %s / %s / %s\n", cnnrt_cpu_description(),
            cnnrt_f32_gemm_config_get()->name, cnnrt_f32_pool_config_get()->name, cnnrt_f32_vector_config_get()->name);
  }
  return bad;
}

static int forced_avx512(void) {
  /* A level above the CPU's is ignored; one it has is used. */
  int bad = cnnrt_cpu_level() != (cnnrt_cpu_supports(CNNRT_ISA_AVX512) ? CNNRT_ISA_AVX512 : cnnrt_cpu_detected_level());
  bad += cnnrt_cpu_detected_level() == CNNRT_ISA_AVX512 ? 0 : strstr(cnnrt_cpu_description(), "ignored") == NULL;
  if (bad) fprintf(stderr, "CNNRT_ISA=avx512: %s\n", cnnrt_cpu_description());
  return bad;
}

static int forced_neon(void) {
  /* NEON where the CPU has it (aarch64), ignored elsewhere. */
  const int neon = cnnrt_cpu_supports(CNNRT_ISA_NEON);
  int bad = cnnrt_cpu_level() != (neon ? CNNRT_ISA_NEON : cnnrt_cpu_detected_level());
  bad += neon ? strcmp(cnnrt_f32_gemm_config_get()->isa, "neon") != 0 : strstr(cnnrt_cpu_description(), "ignored") == NULL;
  if (bad) fprintf(stderr, "CNNRT_ISA=neon: %s, config %s\n", cnnrt_cpu_description(), cnnrt_f32_gemm_config_get()->name);
  return bad;
}

static int forced_unknown(void) {
  int bad = cnnrt_cpu_level() != cnnrt_cpu_detected_level();
  bad += strstr(cnnrt_cpu_description(), "ignored") == NULL;
  if (bad) fprintf(stderr, "CNNRT_ISA=sse9: %s\n", cnnrt_cpu_description());
  return bad;
}

int main(void) {
  /* First, before this process reads the CPU level (see child_with_isa). */
  const int forced[5] = {child_with_isa("scalar", forced_scalar), child_with_isa("avx512", forced_avx512),
                         child_with_isa("neon", forced_neon), child_with_isa("sse9", forced_unknown),
                         child_with_isa("avx2", forced_avx2)};
  printf("cpu: %s\n", cnnrt_cpu_description());
  CHECK(cnnrt_cpu_level() == cnnrt_cpu_detected_level() || getenv("CNNRT_ISA") != NULL,
        "level %s differs from the detected %s without CNNRT_ISA", cnnrt_isa_name(cnnrt_cpu_level()),
        cnnrt_isa_name(cnnrt_cpu_detected_level()));
  const cnnrt_f32_gemm_config* chosen = cnnrt_f32_gemm_config_get();
  CHECK(chosen == cnnrt_f32_gemm_config_get(), "config_get must return the one config chosen");
  CHECK(chosen->level == (int)cnnrt_cpu_level() || chosen->level == CNNRT_ISA_SCALAR,
        "config %s does not match level %s", chosen->name, cnnrt_isa_name(cnnrt_cpu_level()));
  printf("gemm config: %s\n", chosen->name);

  const cnnrt_f32_gemm_config* table;
  const size_t count = cnnrt_f32_gemm_variants(&table);
  for (size_t v = 0; v < count; v++) {
    const cnnrt_f32_gemm_config* g = &table[v];
    if (!cnnrt_cpu_supports((cnnrt_isa_level)g->level)) {
      printf("skipped %s: this CPU lacks %s\n", g->name, g->isa);
      continue;
    }
    const int before = failures;
    test_ukernel(g);
    test_gemm(g);
    test_gemminc(g);
    test_igemm(g);
    test_gemmep(g);
    test_im2col(g);
    printf("%s %s\n", failures == before ? "ok     " : "FAILED ", g->name);
  }

  for (int level = CNNRT_ISA_AVX2; level <= CNNRT_ISA_NEON; level++) {
    const cnnrt_f32_pool_config* pool = cnnrt_f32_pool_config_for_level(level);
    const cnnrt_f32_vector_config* vector = cnnrt_f32_vector_config_for_level(level);
    if (pool->pool2d == NULL && vector->dwconv2d == NULL) continue;
    if (!cnnrt_cpu_supports((cnnrt_isa_level)level)) {
      printf("skipped pool/dwconv/epilogue %s: this CPU lacks it\n", cnnrt_isa_name((cnnrt_isa_level)level));
      continue;
    }
    const int before = failures;
    if (pool->pool2d != NULL) test_pool(pool);
    if (vector->dwconv2d != NULL) test_dwconv(vector);
    if (vector->epilogue != NULL) test_epilogue(vector);
    if (vector->activation != NULL) test_activation_accuracy(vector);
    if (vector->activation_rows != NULL) test_activation_rows(vector);
    if (vector->binary != NULL) test_vbinary(vector);
    if (vector->transpose_epilogue != NULL) test_transpose_epilogue(vector);
    if (vector->gemv != NULL) test_gemv(vector);
    printf("%s pool/dwconv/epilogue %s\n", failures == before ? "ok     " : "FAILED ", vector->name);
  }

  if (cnnrt_cpu_supports(CNNRT_ISA_AVX2) && cnnrt_cpu_supports(CNNRT_ISA_AVX512)) {
    const cnnrt_f32_vector_config* avx2 = cnnrt_f32_vector_config_for_level(CNNRT_ISA_AVX2);
    const cnnrt_f32_vector_config* avx512 = cnnrt_f32_vector_config_for_level(CNNRT_ISA_AVX512);
    CHECK(avx2->activation != NULL && avx512->activation != NULL, "x86-64 levels lack vector activations (%s, %s)",
          avx2->name, avx512->name);
    if (avx2->activation != NULL && avx512->activation != NULL) test_activation_levels_agree(avx2, avx512);
  }

  CHECK(forced[0] == 0, "CNNRT_ISA=scalar must force the scalar config");
  CHECK(forced[1] == 0, "CNNRT_ISA=avx512 must not raise the level");
  CHECK(forced[2] == 0, "CNNRT_ISA=neon must be used where the CPU has NEON, and ignored elsewhere");
  CHECK(forced[3] == 0, "an unknown CNNRT_ISA must be ignored");
  CHECK(forced[4] == 0, "CNNRT_ISA=avx2 must force the AVX2 configs where the CPU has AVX2");

  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
