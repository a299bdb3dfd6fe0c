/*
 * CPU detection, in one place: the features this CPU and its OS support (cpuid
 * and xgetbv on x86-64, NEON assumed on aarch64), reduced to one ISA level.
 * Kernel configurations (kernels/f32-gemm-config.c and the like) read the
 * level once; ops never test CPU flags themselves.
 */
#ifndef CNNRT_CPU_H
#define CNNRT_CPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ISA levels, ordered: a kernel for level L runs on every CPU at level >= L.
 * x86-64 uses SCALAR < AVX2 < AVX512; aarch64 uses SCALAR < NEON. */
typedef enum cnnrt_isa_level {
  CNNRT_ISA_SCALAR = 0,
  CNNRT_ISA_AVX2 = 1,   /* AVX2 + FMA, with the OS saving YMM state */
  CNNRT_ISA_AVX512 = 2, /* AVX-512 F, BW, VL, DQ (+ AVX2, FMA), with the OS saving ZMM state */
  CNNRT_ISA_NEON = 3    /* aarch64 Advanced SIMD (always present there) */
} cnnrt_isa_level;

/* Feature flags (cnnrt_cpu_features). Several are only reported today (VNNI,
 * BF16, AMX): no kernel uses them yet. */
enum {
  CNNRT_CPU_AVX2 = 1u << 0,
  CNNRT_CPU_FMA = 1u << 1,
  CNNRT_CPU_AVX512F = 1u << 2,
  CNNRT_CPU_AVX512DQ = 1u << 3,
  CNNRT_CPU_AVX512BW = 1u << 4,
  CNNRT_CPU_AVX512VL = 1u << 5,
  CNNRT_CPU_AVX512VNNI = 1u << 6,
  CNNRT_CPU_AVX512BF16 = 1u << 7,
  CNNRT_CPU_AVXVNNI = 1u << 8,
  CNNRT_CPU_AMX_TILE = 1u << 9,
  CNNRT_CPU_AMX_INT8 = 1u << 10,
  CNNRT_CPU_AMX_BF16 = 1u << 11,
  CNNRT_CPU_NEON = 1u << 12
};

/* Features the CPU and OS support (CNNRT_CPU_* bits); CNNRT_ISA does not change them. */
uint32_t cnnrt_cpu_features(void);
/* The highest level the CPU supports. */
cnnrt_isa_level cnnrt_cpu_detected_level(void);
/* The level kernels use: the detected one, lowered by the environment variable
 * CNNRT_ISA=scalar|avx2|avx512|neon when that names a level the CPU has (a
 * higher or unknown one is ignored). Read once, on first use, thread-safely. */
cnnrt_isa_level cnnrt_cpu_level(void);
/* "scalar", "avx2", "avx512", "neon". */
const char* cnnrt_isa_name(cnnrt_isa_level level);
/* 1 when code for `level` can run on this CPU (the detected level, not the forced one). */
int cnnrt_cpu_supports(cnnrt_isa_level level);
/* The text of the public cnnrt_cpu_description() comes from here too (cpu.c). */

#ifdef __cplusplus
}
#endif
#endif /* CNNRT_CPU_H */
