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
 *  - CNNRT_ISA=scalar (read once per process) forces the scalar config; it is
 *    checked by running this program again (a fresh process) with it set.
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
#include "kernels/kernels.h"

static int failures = 0;
static int checks = 0;

#define CHECK(condition, ...)                                \
  do {                                                       \
    checks++;                                                \
    if (!(condition)) {                                      \
      if (failures++ < 20) {                                 \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                        \
        fprintf(stderr, "\n");                               \
      }                                                      \
    }                                                        \
  } while (0)

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t random_u32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 32);
}
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

static void check_im2col(const cnnrt_f32_gemm_config* g, const cnnrt_conv2d_geometry* geometry) {
  const size_t pixels = geometry->out_h * geometry->out_w;
  const size_t k = geometry->in_channels / geometry->groups * geometry->kernel_h * geometry->kernel_w;
  const size_t plane = geometry->in_h * geometry->in_w;
  float* x = malloc(geometry->in_channels * plane * sizeof(float));
  for (size_t i = 0; i < geometry->in_channels * plane; i++) x[i] = random_float();
  const size_t begin = random_size(0, pixels - 1);
  const size_t count = random_size(1, pixels - begin);
  const size_t floats = cnnrt_f32_gemm_packed_b_floats(k, count, g->nr);
  float* expected = malloc(floats * sizeof(float));
  float* got = malloc(floats * sizeof(float));
  for (size_t i = 0; i < floats; i++) got[i] = SENTINEL;
  cnnrt_f32_im2col_packed_ref(geometry, x, begin, count, g->nr, expected);
  g->im2col(geometry, x, begin, count, g->nr, got);
  CHECK(memcmp(expected, got, floats * sizeof(float)) == 0,
        "%s im2col differs: in %zux%zu, kernel %zux%zu, stride %zux%zu, dilation %zux%zu, pad %td,%td, pixels %zu+%zu",
        g->name, geometry->in_h, geometry->in_w, geometry->kernel_h, geometry->kernel_w, geometry->stride_h,
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
    check_im2col(g, &geometry);
  }
}

/* Runs this program again with CNNRT_ISA set, as `--child <check>` (the CPU
 * level is read once per process, so a fresh process is needed); its exit
 * status is the number of failed checks. */
static int child_with_isa(const char* value, const char* check) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("CNNRT_ISA", value, 1);
    execl("/proc/self/exe", "test_kernels", "--child", check, (char*)NULL);
    _exit(127);
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

static int forced_avx512(void) {
  /* A level above the CPU's is ignored; one it has is used. */
  int bad = cnnrt_cpu_level() != (cnnrt_cpu_supports(CNNRT_ISA_AVX512) ? CNNRT_ISA_AVX512 : cnnrt_cpu_detected_level());
  bad += cnnrt_cpu_detected_level() == CNNRT_ISA_AVX512 ? 0 : strstr(cnnrt_cpu_description(), "ignored") == NULL;
  if (bad) fprintf(stderr, "CNNRT_ISA=avx512: %s\n", cnnrt_cpu_description());
  return bad;
}

static int forced_unknown(void) {
  int bad = cnnrt_cpu_level() != cnnrt_cpu_detected_level();
  bad += strstr(cnnrt_cpu_description(), "ignored") == NULL;
  if (bad) fprintf(stderr, "CNNRT_ISA=sse9: %s\n", cnnrt_cpu_description());
  return bad;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--child") == 0) {
    if (strcmp(argv[2], "scalar") == 0) return forced_scalar();
    if (strcmp(argv[2], "avx512") == 0) return forced_avx512();
    return forced_unknown();
  }
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
    test_im2col(g);
    printf("%s %s\n", failures == before ? "ok     " : "FAILED ", g->name);
  }

  CHECK(child_with_isa("scalar", "scalar") == 0, "CNNRT_ISA=scalar must force the scalar config");
  CHECK(child_with_isa("avx512", "avx512") == 0, "CNNRT_ISA=avx512 must not raise the level");
  CHECK(child_with_isa("sse9", "unknown") == 0, "an unknown CNNRT_ISA must be ignored");

  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
