// fp32 GEMM microkernel throughput, every variant this CPU runs, in one run.
//
// Build against an installed cnnrt (its static library keeps internal symbols):
//   LIB=$(python -c "import cnnrt; print(cnnrt.get_library_dir())")
//   cc -std=c11 -O2 -D_GNU_SOURCE -I native/include -I native/src -I native/src/core
//      benchmarks/bench_gemm.c $LIB/libcnnrt.a -lpthread -lm -o /tmp/bench_gemm && /tmp/bench_gemm
//
/*
 * Two numbers per variant, single thread:
 *   ukernel: one MR x NR tile over k, operands hot in L1/L2 (the kernel's own ceiling);
 *   gemm:    C[M x N] = A * B with A packed once (conv weights are packed at load)
 *            and B packed per call (as im2col does), so packing costs are included.
 * GFLOP/s count 2 flops per multiply-add, ragged tile padding not counted.
 * Compare with the machine's FMA peak: cores x GHz x (2 FMA pipes x lanes x 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cnnrt/cnnrt.h"
#include "core/cpu.h"
#include "kernels/kernels.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float* buffer(size_t floats) {
  float* p = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
  for (size_t i = 0; i < floats; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  return p;
}

/* The FMA peak of one core, measured: 24 independent chains of 512-bit (or,
 * without AVX-512, 256-bit) FMAs, enough to cover latency x throughput. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,fma"))) static double fma_peak_avx512(void) {
  __m512 acc[24];
#pragma GCC unroll 24
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
  const long iterations = 20000000;
  double t0 = now();
  for (long n = 0; n < iterations; n++) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  double seconds = now() - t0;
  float sink = 0.0f;
  for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
  if (sink == 1.0f) printf(" ");
  return 24.0 * 16 * 2 * (double)iterations / seconds / 1e9;
}
#endif

/* Best of several timed repetitions of `calls` kernel calls, in GFLOP/s. */
static double bench_ukernel(const cnnrt_f32_gemm_config* g, size_t k) {
  float* a = buffer(g->mr * k);
  float* b = buffer(g->nr * k);
  float* c = buffer(g->mr * g->nr);
  size_t calls = 1 + (size_t)(2e8 / (double)(g->mr * g->nr * k));
  double best = 0.0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (size_t i = 0; i < calls; i++) g->ukernel(g->mr, g->nr, k, a, b, g->nr, c, g->nr);
    double rate = 2.0 * (double)(g->mr * g->nr * k) * (double)calls / (now() - t0) / 1e9;
    if (rate > best) best = rate;
  }
  free(a);
  free(b);
  free(c);
  return best;
}

/* C = A * B for M x K times K x N, blocked as conv.c blocks an im2col
 * convolution: B in tiles of about 128 KiB (at least NR columns), each packed
 * once, then every weight panel of A runs over the tile. */
static double bench_gemm(const cnnrt_f32_gemm_config* g, size_t m, size_t n, size_t k) {
  size_t tile = 32768 / k / g->nr * g->nr;
  if (tile < g->nr) tile = g->nr;
  if (tile > 512) tile = 512;
  float* a = buffer(m * k);
  float* b = buffer(k * n);
  float* c = buffer(m * n);
  float* a_packed = buffer(cnnrt_f32_gemm_packed_a_floats(m, k, g->mr));
  float* b_packed = buffer(cnnrt_f32_gemm_packed_b_floats(k, tile, g->nr));
  cnnrt_f32_gemm_pack_a(m, k, a, k, 1, g->mr, a_packed);
  double best = 0.0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (size_t j0 = 0; j0 < n; j0 += tile) {
      const size_t cols = n - j0 < tile ? n - j0 : tile;
      cnnrt_f32_gemm_pack_b(k, cols, b + j0, n, 1, g->nr, b_packed);
      for (size_t i = 0; i < m; i += g->mr) {
        for (size_t j = 0; j < cols; j += g->nr) {
          g->ukernel(m - i < g->mr ? m - i : g->mr, cols - j < g->nr ? cols - j : g->nr, k, a_packed + i * k,
                     b_packed + j * k, g->nr, c + i * n + j0 + j, n);
        }
      }
    }
    double rate = 2.0 * (double)(m * n * k) / (now() - t0) / 1e9;
    if (rate > best) best = rate;
  }
  free(a);
  free(b);
  free(c);
  free(a_packed);
  free(b_packed);
  return best;
}

/* im2col of a whole image, panel by panel as conv.c does, in Gfloat/s written. */
static double bench_im2col(const cnnrt_f32_gemm_config* g, const cnnrt_conv2d_geometry* geometry) {
  const size_t pixels = geometry->out_h * geometry->out_w;
  const size_t k = geometry->in_channels * geometry->kernel_h * geometry->kernel_w;
  float* x = buffer(geometry->in_channels * geometry->in_h * geometry->in_w);
  /* One reused tile of panels, L2-sized as in conv.c. */
  float* packed = buffer(cnnrt_f32_gemm_packed_b_floats(k, 4 * g->nr, g->nr));
  double best = 0.0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (size_t p = 0; p < pixels; p += 4 * g->nr) {
      size_t count = pixels - p < 4 * g->nr ? pixels - p : 4 * g->nr;
      g->im2col(geometry, x, p, count, g->nr, packed);
    }
    double rate = (double)(cnnrt_f32_gemm_packed_b_floats(k, pixels, g->nr)) / (now() - t0) / 1e9;
    if (rate > best) best = rate;
  }
  free(x);
  free(packed);
  return best;
}

int main(int argc, char** argv) {
  printf("cpu: %s\n", cnnrt_cpu_description());
  double peak = argc > 1 ? atof(argv[1]) : 0.0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (peak <= 0.0 && cnnrt_cpu_supports(CNNRT_ISA_AVX512)) peak = fma_peak_avx512();
#endif
  if (peak <= 0.0) peak = 100.0;
  printf("peak used for %%: %.0f GFLOP/s per core (measured 512-bit FMA loop; or pass one as argv[1])\n", peak);
  const cnnrt_f32_gemm_config* table;
  size_t count = cnnrt_f32_gemm_variants(&table);
  static const size_t shapes[][3] = {{64, 3136, 576}, {128, 784, 1152}, {256, 196, 2304}, {512, 49, 4608}, {512, 512, 512}};
  printf("%-14s %9s %9s %9s", "variant", "k=64", "k=256", "k=1024");
  for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
    char label[32];
    snprintf(label, sizeof(label), "%zux%zux%zu", shapes[s][0], shapes[s][1], shapes[s][2]);
    printf(" %14s", label);
  }
  printf("   (ukernel GFLOP/s, then M x N x K gemm GFLOP/s)\n");
  for (size_t v = 0; v < count; v++) {
    const cnnrt_f32_gemm_config* g = &table[v];
    if (!cnnrt_cpu_supports((cnnrt_isa_level)g->level)) {
      printf("%-14s skipped: this CPU lacks %s\n", g->name, g->isa);
      continue;
    }
    printf("%-14s", g->name);
    const size_t ks[] = {64, 256, 1024};
    for (int i = 0; i < 3; i++) {
      double rate = bench_ukernel(g, ks[i]);
      printf(" %5.1f/%2.0f%%", rate, 100.0 * rate / peak);
    }
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
      double rate = bench_gemm(g, shapes[s][0], shapes[s][1], shapes[s][2]);
      printf(" %8.1f (%2.0f%%)", rate, 100.0 * rate / peak);
    }
    printf("%s\n", g->preferred && g->level == (int)cnnrt_cpu_level() ? "  <- used" : "");
  }
  /* ResNet-18's first conv (7x7 stride 2) and a 3x3 stride-1 layer. */
  const cnnrt_conv2d_geometry geometries[2] = {
      {1, 1, 3, 224, 224, 64, 112, 112, 7, 7, 2, 2, 1, 1, 3, 3},
      {1, 1, 64, 56, 56, 64, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1},
  };
  printf("\nim2col, Gfloat/s written: %-10s %-10s\n", "7x7/2", "3x3/1");
  for (size_t v = 0; v < count; v++) {
    const cnnrt_f32_gemm_config* g = &table[v];
    if (!cnnrt_cpu_supports((cnnrt_isa_level)g->level)) continue;
    printf("%-25s", g->name);
    for (int i = 0; i < 2; i++) printf(" %-10.2f", bench_im2col(g, &geometries[i]));
    printf("\n");
  }
  return 0;
}
