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
    {cnnrt_f32_gemm_ukernel_4x8__scalar, cnnrt_f32_im2col_packed_ref, 4, 8, "scalar", "4x8_scalar", CNNRT_ISA_SCALAR, 1, cnnrt_f32_gemminc_ukernel_4x8__scalar, cnnrt_f32_gemmep_ukernel_4x8__scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {cnnrt_f32_gemm_ukernel_6x16__avx2, cnnrt_f32_im2col_packed__avx2, 6, 16, "avx2", "6x16_avx2", CNNRT_ISA_AVX2, 1, cnnrt_f32_gemminc_ukernel_6x16__avx2, cnnrt_f32_gemmep_ukernel_6x16__avx2},
    {cnnrt_f32_gemm_ukernel_6x32__avx512, cnnrt_f32_im2col_packed__avx512, 6, 32, "avx512", "6x32_avx512", CNNRT_ISA_AVX512, 0, cnnrt_f32_gemminc_ukernel_6x32__avx512, cnnrt_f32_gemmep_ukernel_6x32__avx512},
    {cnnrt_f32_gemm_ukernel_7x32__avx512, cnnrt_f32_im2col_packed__avx512, 7, 32, "avx512", "7x32_avx512", CNNRT_ISA_AVX512, 0, cnnrt_f32_gemminc_ukernel_7x32__avx512, cnnrt_f32_gemmep_ukernel_7x32__avx512,
     {cnnrt_f32_igemm_s1_ukernel_7x32__avx512, cnnrt_f32_igemm_s2_ukernel_7x32__avx512},
     {cnnrt_f32_igemminc_s1_ukernel_7x32__avx512, cnnrt_f32_igemminc_s2_ukernel_7x32__avx512}},
    {cnnrt_f32_gemm_ukernel_8x16__avx512, cnnrt_f32_im2col_packed__avx512, 8, 16, "avx512", "8x16_avx512", CNNRT_ISA_AVX512, 0, cnnrt_f32_gemminc_ukernel_8x16__avx512, cnnrt_f32_gemmep_ukernel_8x16__avx512},
    {cnnrt_f32_gemm_ukernel_8x32__avx512, cnnrt_f32_im2col_packed__avx512, 8, 32, "avx512", "8x32_avx512", CNNRT_ISA_AVX512, 1, cnnrt_f32_gemminc_ukernel_8x32__avx512, cnnrt_f32_gemmep_ukernel_8x32__avx512},
    {cnnrt_f32_gemm_ukernel_12x32__avx512, cnnrt_f32_im2col_packed__avx512, 12, 32, "avx512", "12x32_avx512", CNNRT_ISA_AVX512, 0, cnnrt_f32_gemminc_ukernel_12x32__avx512, cnnrt_f32_gemmep_ukernel_12x32__avx512},
    {cnnrt_f32_gemm_ukernel_14x32__avx512, cnnrt_f32_im2col_packed__avx512, 14, 32, "avx512", "14x32_avx512", CNNRT_ISA_AVX512, 0, cnnrt_f32_gemminc_ukernel_14x32__avx512, cnnrt_f32_gemmep_ukernel_14x32__avx512,
     {cnnrt_f32_igemm_s1_ukernel_14x32__avx512, cnnrt_f32_igemm_s2_ukernel_14x32__avx512},
     {cnnrt_f32_igemminc_s1_ukernel_14x32__avx512, cnnrt_f32_igemminc_s2_ukernel_14x32__avx512}},
#endif
#if defined(__aarch64__)
    /* 8x8 preferred by register arithmetic (see gen_gemm.py), not yet by a
     * measurement on ARM hardware: re-measure with benchmarks/bench_gemm.c. */
    {cnnrt_f32_gemm_ukernel_8x8__neon, cnnrt_f32_im2col_packed_ref, 8, 8, "neon", "8x8_neon", CNNRT_ISA_NEON, 1, cnnrt_f32_gemminc_ukernel_8x8__neon, NULL},
    {cnnrt_f32_gemm_ukernel_6x16__neon, cnnrt_f32_im2col_packed_ref, 6, 16, "neon", "6x16_neon", CNNRT_ISA_NEON, 0, cnnrt_f32_gemminc_ukernel_6x16__neon, NULL},
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

/* The tile for products whose rows are output pixels and whose columns are
 * output channels (small planes, ops/conv.c): rows a multiple of 7 fit the
 * 7 x 2^k planes of CNNs, and NR channels a vector pair. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major_for_level(int level) {
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    if (variants[i].level == level && variants[i].mr == 14 && variants[i].nr == 32) return &variants[i];
  }
  return cnnrt_f32_gemm_config_for_level(level);
}

const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major_short_for_level(int level) {
  const cnnrt_f32_gemm_config* pm = cnnrt_f32_gemm_config_pixel_major_for_level(level);
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    if (variants[i].level == level && 2 * variants[i].mr == pm->mr && variants[i].nr == pm->nr) return &variants[i];
  }
  return pm;
}

const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_narrow(const cnnrt_f32_gemm_config* config) {
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    if (variants[i].level == config->level && variants[i].mr == config->mr && 2 * variants[i].nr == config->nr &&
        variants[i].ukernel_ep != NULL) {
      return &variants[i];
    }
  }
  return NULL;
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
