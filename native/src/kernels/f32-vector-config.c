/*
 * Configurations of the pool, depthwise and element-wise kernels: the SIMD
 * variants of the ISA level cpu.c reports, chosen once. Where a level has
 * none, the entries are NULL and ops run their reference loops.
 */
#include <pthread.h>

#include "core/cpu.h"
#include "kernels/f32-dwconv2d-layout.h"
#include "kernels/kernels.h"

static const cnnrt_f32_pool_config pool_scalar = {NULL, NULL, "ref"};
#if defined(__x86_64__) || defined(_M_X64)
static const cnnrt_f32_pool_config pool_avx512 = {cnnrt_f32_pool2d__avx512, cnnrt_f32_global_average__avx512,
                                                  "avx512"};
#endif

/* AVX2 + FMA (CNNRT_ISA_AVX2): the AVX-512 kernels' contracts on 8 lanes. */
#if defined(__x86_64__) || defined(_M_X64)
static const cnnrt_f32_pool_config pool_avx2 = {cnnrt_f32_pool2d__avx2, cnnrt_f32_global_average__avx2, "avx2"};
static const cnnrt_f32_vector_config vector_avx2 = {.epilogue = cnnrt_f32_epilogue__avx2,
                                                    .dwconv2d = cnnrt_f32_dwconv2d__avx2,
                                                    .activation = cnnrt_f32_activation__avx2,
                                                    .binary = cnnrt_f32_vbinary__avx2,
                                                    .name = "avx2",
                                                    .transpose_epilogue = cnnrt_f32_transpose_epilogue__avx2,
                                                    .gemv = cnnrt_f32_gemv__avx2,
                                                    .activation_rows = cnnrt_f32_activation_rows__avx2,
                                                    .dwconv2d_block = 8};
#endif

/* Designated initializers: entries a level lacks are NULL (the reference). */
static const cnnrt_f32_vector_config vector_scalar = {.name = "ref"};
#if defined(__x86_64__) || defined(_M_X64)
static const cnnrt_f32_vector_config vector_avx512 = {.epilogue = cnnrt_f32_epilogue__avx512,
                                                      .dwconv2d = cnnrt_f32_dwconv2d__avx512,
                                                      .activation = cnnrt_f32_activation__avx512,
                                                      .binary = cnnrt_f32_vbinary__avx512,
                                                      .name = "avx512",
                                                      .transpose_epilogue = cnnrt_f32_transpose_epilogue__avx512,
                                                      .gemv = cnnrt_f32_gemv__avx512,
                                                      .activation_rows = cnnrt_f32_activation_rows__avx512};
#endif
#if defined(__aarch64__)
static const cnnrt_f32_vector_config vector_neon = {
    .epilogue = cnnrt_f32_epilogue__neon, .dwconv2d = cnnrt_f32_dwconv2d__neon, .name = "neon"};
#endif

const cnnrt_f32_pool_config* cnnrt_f32_pool_config_for_level(int level) {
#if defined(__x86_64__) || defined(_M_X64)
  if (level == CNNRT_ISA_AVX512) return &pool_avx512;
#endif
#if defined(__x86_64__) || defined(_M_X64)
  if (level == CNNRT_ISA_AVX2) return &pool_avx2;
#endif
  (void)level;
  return &pool_scalar;
}

const cnnrt_f32_vector_config* cnnrt_f32_vector_config_for_level(int level) {
#if defined(__x86_64__) || defined(_M_X64)
  if (level == CNNRT_ISA_AVX512) return &vector_avx512;
#endif
#if defined(__aarch64__)
  if (level == CNNRT_ISA_NEON) return &vector_neon;
#endif
#if defined(__x86_64__) || defined(_M_X64)
  if (level == CNNRT_ISA_AVX2) return &vector_avx2;
#endif
  (void)level;
  return &vector_scalar;
}

static const cnnrt_f32_pool_config* chosen_pool;
static const cnnrt_f32_vector_config* chosen_vector;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
  const int level = (int)cnnrt_cpu_level();
  chosen_pool = cnnrt_f32_pool_config_for_level(level);
  chosen_vector = cnnrt_f32_vector_config_for_level(level);
}

const cnnrt_f32_pool_config* cnnrt_f32_pool_config_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen_pool;
}

const cnnrt_f32_vector_config* cnnrt_f32_vector_config_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen_vector;
}

/* The padded-plane layout the SIMD depthwise kernels share (vectors of up to
 * 16 floats): rows of round_up(out_w, 16) outputs plus the kernel's overhang;
 * stride-2 rows are split into their even and odd columns. */
int cnnrt_f32_dwconv2d_supports(const cnnrt_conv2d_geometry* g) {
  return g->dilation_h == 1 && g->dilation_w == 1 && (g->stride_w == 1 || g->stride_w == 2) && g->kernel_w <= 64 &&
         g->kernel_h <= 64 && g->pad_top >= 0 && g->pad_left >= 0;
}

size_t cnnrt_f32_dwconv2d_scratch_floats(const cnnrt_conv2d_geometry* g) {
  const size_t out_w16 = (g->out_w + 15) / 16 * 16;
  size_t row;
  if (g->stride_w == 1) {
    row = (out_w16 + g->kernel_w + 15) / 16 * 16;
  } else {
    row = 2 * ((out_w16 + g->kernel_w / 2 + 1 + 15) / 16 * 16);
  }
  const size_t rows = (g->out_h - 1) * g->stride_h + g->kernel_h;
  /* One more row: the stride-2 split is built in a row past the plane. */
  const size_t padded = (rows + 1) * row;
  /* The AVX-512 kernel's phase planes (f32-dwconv2d-layout.h). */
  cnnrt_dwconv2d_layout layout;
  cnnrt_dwconv2d_layout_make(g, &layout);
  const size_t phases = cnnrt_dwconv2d_layout_floats(&layout, g);
  /* The AVX2 kernel's channel-blocked window. */
  const size_t window = cnnrt_dwconv2d_avx2_floats(g);
  const size_t most = padded > phases ? padded : phases;
  return most > window ? most : window;
}
