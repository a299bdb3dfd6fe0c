/*
 * Configuration of the Winograd transforms: the SIMD ones of the ISA level
 * cpu.c reports, chosen once; the reference ones where a level has none (the
 * GEMM in the transformed domain is the level's, from f32-gemm-config.c).
 */
#include <pthread.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

static const cnnrt_f32_winograd_config winograd_ref = {cnnrt_f32_winograd_input_ref, cnnrt_f32_winograd_output_ref,
                                                       "ref"};
#if defined(__x86_64__) || defined(_M_X64)
static const cnnrt_f32_winograd_config winograd_avx512 = {cnnrt_f32_winograd_input__avx512,
                                                          cnnrt_f32_winograd_output__avx512, "avx512"};
static const cnnrt_f32_winograd_config winograd_avx2 = {cnnrt_f32_winograd_input__avx2,
                                                        cnnrt_f32_winograd_output__avx2, "avx2"};
#endif

const cnnrt_f32_winograd_config* cnnrt_f32_winograd_config_for_level(int level) {
#if defined(__x86_64__) || defined(_M_X64)
  if (level == CNNRT_ISA_AVX512) return &winograd_avx512;
  if (level == CNNRT_ISA_AVX2) return &winograd_avx2;
#endif
  (void)level;
  return &winograd_ref;
}

static const cnnrt_f32_winograd_config* chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) { chosen = cnnrt_f32_winograd_config_for_level((int)cnnrt_cpu_level()); }

const cnnrt_f32_winograd_config* cnnrt_f32_winograd_config_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}
