/*
 * The fp32 GEMM configuration: which microkernel (and so which MR x NR tile,
 * which decides how weights are packed) ops use on this CPU. Chosen once from
 * the ISA level cpu.c reports; ops read the config and never test CPU flags.
 */
#include <pthread.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

/* Every variant this build has. Each level uses its preferred variant (the
 * fastest tile measured with benchmarks/bench_gemm.c); a level with none
 * uses the scalar kernel. Tests and benchmarks walk the whole
 * table, so the other tiles stay correct and can be re-measured. */
static const cnnrt_f32_gemm_config variants[] = {
    {.ukernel = cnnrt_f32_gemm_ukernel_4x8__scalar,
     .im2col = cnnrt_f32_im2col_packed_ref,
     .mr = 4,
     .nr = 8,
     .isa = "scalar",
     .name = "4x8_scalar",
     .level = CNNRT_ISA_SCALAR,
     .preferred = 1,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_4x8__scalar,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_4x8__scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {.ukernel = cnnrt_f32_gemm_ukernel_5x16__avx2,
     .im2col = cnnrt_f32_im2col_packed__avx2,
     .mr = 5,
     .nr = 16,
     .isa = "avx2",
     .name = "5x16_avx2",
     .level = CNNRT_ISA_AVX2,
     .preferred = 0,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_5x16__avx2,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_5x16__avx2,
     .igemm = {cnnrt_f32_igemm_s1_ukernel_5x16__avx2, cnnrt_f32_igemm_s2_ukernel_5x16__avx2},
     .igemminc = {cnnrt_f32_igemminc_s1_ukernel_5x16__avx2, cnnrt_f32_igemminc_s2_ukernel_5x16__avx2},
     .pixel_major = 1,
     .pointwise_min = 256},
    {.ukernel = cnnrt_f32_gemm_ukernel_6x16__avx2,
     .im2col = cnnrt_f32_im2col_packed__avx2,
     .mr = 6,
     .nr = 16,
     .isa = "avx2",
     .name = "6x16_avx2",
     .level = CNNRT_ISA_AVX2,
     .preferred = 1,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_6x16__avx2,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_6x16__avx2},
    {.ukernel = cnnrt_f32_gemm_ukernel_6x32__avx512,
     .im2col = cnnrt_f32_im2col_packed__avx512,
     .mr = 6,
     .nr = 32,
     .isa = "avx512",
     .name = "6x32_avx512",
     .level = CNNRT_ISA_AVX512,
     .preferred = 0,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_6x32__avx512,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_6x32__avx512},
    {.ukernel = cnnrt_f32_gemm_ukernel_7x32__avx512,
     .im2col = cnnrt_f32_im2col_packed__avx512,
     .mr = 7,
     .nr = 32,
     .isa = "avx512",
     .name = "7x32_avx512",
     .level = CNNRT_ISA_AVX512,
     .preferred = 0,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_7x32__avx512,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_7x32__avx512,
     .igemm = {cnnrt_f32_igemm_s1_ukernel_7x32__avx512, cnnrt_f32_igemm_s2_ukernel_7x32__avx512},
     .igemminc = {cnnrt_f32_igemminc_s1_ukernel_7x32__avx512, cnnrt_f32_igemminc_s2_ukernel_7x32__avx512}},
    {.ukernel = cnnrt_f32_gemm_ukernel_8x16__avx512,
     .im2col = cnnrt_f32_im2col_packed__avx512,
     .mr = 8,
     .nr = 16,
     .isa = "avx512",
     .name = "8x16_avx512",
     .level = CNNRT_ISA_AVX512,
     .preferred = 0,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_8x16__avx512,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_8x16__avx512},
    {.ukernel = cnnrt_f32_gemm_ukernel_8x32__avx512,
     .im2col = cnnrt_f32_im2col_packed__avx512,
     .mr = 8,
     .nr = 32,
     .isa = "avx512",
     .name = "8x32_avx512",
     .level = CNNRT_ISA_AVX512,
     .preferred = 1,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_8x32__avx512,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_8x32__avx512},
    {.ukernel = cnnrt_f32_gemm_ukernel_12x32__avx512,
     .im2col = cnnrt_f32_im2col_packed__avx512,
     .mr = 12,
     .nr = 32,
     .isa = "avx512",
     .name = "12x32_avx512",
     .level = CNNRT_ISA_AVX512,
     .preferred = 0,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_12x32__avx512,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_12x32__avx512},
    {.ukernel = cnnrt_f32_gemm_ukernel_14x32__avx512,
     .im2col = cnnrt_f32_im2col_packed__avx512,
     .mr = 14,
     .nr = 32,
     .isa = "avx512",
     .name = "14x32_avx512",
     .level = CNNRT_ISA_AVX512,
     .preferred = 0,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_14x32__avx512,
     .ukernel_ep = cnnrt_f32_gemmep_ukernel_14x32__avx512,
     .igemm = {cnnrt_f32_igemm_s1_ukernel_14x32__avx512, cnnrt_f32_igemm_s2_ukernel_14x32__avx512},
     .igemminc = {cnnrt_f32_igemminc_s1_ukernel_14x32__avx512, cnnrt_f32_igemminc_s2_ukernel_14x32__avx512},
     .pixel_major = 1},
#endif
#if defined(__aarch64__)
    /* 8x8 preferred by register arithmetic (see gen_gemm.py), not yet by a
     * measurement on ARM hardware: re-measure with benchmarks/bench_gemm.c. */
    {.ukernel = cnnrt_f32_gemm_ukernel_8x8__neon,
     .im2col = cnnrt_f32_im2col_packed_ref,
     .mr = 8,
     .nr = 8,
     .isa = "neon",
     .name = "8x8_neon",
     .level = CNNRT_ISA_NEON,
     .preferred = 1,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_8x8__neon,
     .ukernel_ep = NULL},
    {.ukernel = cnnrt_f32_gemm_ukernel_6x16__neon,
     .im2col = cnnrt_f32_im2col_packed_ref,
     .mr = 6,
     .nr = 16,
     .isa = "neon",
     .name = "6x16_neon",
     .level = CNNRT_ISA_NEON,
     .preferred = 0,
     .ukernel_inc = cnnrt_f32_gemminc_ukernel_6x16__neon,
     .ukernel_ep = NULL},
#endif
};

size_t cnnrt_f32_gemm_variants(const cnnrt_f32_gemm_config** table) {
  *table = variants;
  return sizeof(variants) / sizeof(variants[0]);
}

const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_for_level(int level) {
  const cnnrt_f32_gemm_config* best = &variants[0];
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    if (variants[i].preferred && variants[i].level == level) best = &variants[i];
  }
  return best;
}

/* The variant of `level` with this tile, or NULL. */
static const cnnrt_f32_gemm_config* find_tile(int level, size_t mr, size_t nr) {
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    if (variants[i].level == level && variants[i].mr == mr && variants[i].nr == nr) return &variants[i];
  }
  return NULL;
}

/* The tile for products whose rows are output pixels and whose columns are
 * output channels (small planes, ops/conv.c): the level's variant marked
 * pixel_major (rows of 14 or 5 fit the 7 x 2^k planes of CNNs, NR channels
 * a vector pair), else its preferred one. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major_for_level(int level) {
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    if (variants[i].level == level && variants[i].pixel_major) return &variants[i];
  }
  return cnnrt_f32_gemm_config_for_level(level);
}

const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major_short_for_level(int level) {
  const cnnrt_f32_gemm_config* pm = cnnrt_f32_gemm_config_pixel_major_for_level(level);
  const cnnrt_f32_gemm_config* half = pm->mr % 2 == 0 ? find_tile(level, pm->mr / 2, pm->nr) : NULL;
  return half != NULL ? half : pm;
}

const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_narrow(const cnnrt_f32_gemm_config* config) {
  const cnnrt_f32_gemm_config* half = config->nr % 2 == 0 ? find_tile(config->level, config->mr, config->nr / 2) : NULL;
  return half != NULL && half->ukernel_ep != NULL ? half : NULL;
}

static const cnnrt_f32_gemm_config* chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) { chosen = cnnrt_f32_gemm_config_for_level(cnnrt_cpu_level()); }

const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}

const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major(void) {
  return cnnrt_f32_gemm_config_pixel_major_for_level(cnnrt_f32_gemm_config_get()->level);
}
