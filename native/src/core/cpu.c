/*
 * CPU detection (see cpu.h). Everything is computed once, under pthread_once,
 * so that concurrent first callers (sessions created on several threads) see
 * one consistent answer and kernel configurations never change afterwards.
 */
#include "cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#  define CNNRT_CPU_X86_64 1
#  include <cpuid.h>
#elif defined(__aarch64__)
#  define CNNRT_CPU_AARCH64 1
#endif

static struct {
  uint32_t features;
  cnnrt_isa_level detected;
  cnnrt_isa_level level;
  char description[320];
} cpu_state;

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

#if CNNRT_CPU_X86_64
/* XCR0 says which register states the OS saves on a context switch; a CPU
 * feature is usable only when its state is saved. Inline asm instead of the
 * _xgetbv intrinsic, which would need -mxsave on this file. */
static uint64_t read_xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static uint32_t detect_x86_features(void) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  const int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
  if (!osxsave || !avx) return 0;
  const uint64_t xcr0 = read_xcr0();
  const int ymm_saved = (xcr0 & 0x6) == 0x6;          /* SSE and AVX state */
  const int zmm_saved = (xcr0 & 0xE6) == 0xE6;        /* + opmask, ZMM_Hi256, Hi16_ZMM */
  const int amx_saved = (xcr0 & 0x60000) == 0x60000;  /* XTILECFG, XTILEDATA */
  if (!ymm_saved) return 0;
  uint32_t features = fma ? CNNRT_CPU_FMA : 0;
  if (__get_cpuid_max(0, NULL) < 7) return features;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned max_subleaf = eax;
  if ((ebx >> 5) & 1) features |= CNNRT_CPU_AVX2;
  if (zmm_saved) {
    if ((ebx >> 16) & 1) features |= CNNRT_CPU_AVX512F;
    if ((ebx >> 17) & 1) features |= CNNRT_CPU_AVX512DQ;
    if ((ebx >> 30) & 1) features |= CNNRT_CPU_AVX512BW;
    if ((ebx >> 31) & 1) features |= CNNRT_CPU_AVX512VL;
    if ((ecx >> 11) & 1) features |= CNNRT_CPU_AVX512VNNI;
  }
  if (amx_saved) {
    /* Linux also wants arch_prctl(ARCH_REQ_XCOMP_PERM) before a process
     * touches tile data; whoever adds an AMX kernel asks for it there. */
    if ((edx >> 24) & 1) features |= CNNRT_CPU_AMX_TILE;
    if ((edx >> 25) & 1) features |= CNNRT_CPU_AMX_INT8;
    if ((edx >> 22) & 1) features |= CNNRT_CPU_AMX_BF16;
  }
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    if ((eax >> 4) & 1) features |= CNNRT_CPU_AVXVNNI;
    if (zmm_saved && ((eax >> 5) & 1)) features |= CNNRT_CPU_AVX512BF16;
  }
  return features;
}
#endif

static cnnrt_isa_level level_from_features(uint32_t features) {
#if CNNRT_CPU_X86_64
  const uint32_t avx2 = CNNRT_CPU_AVX2 | CNNRT_CPU_FMA;
  const uint32_t avx512 = avx2 | CNNRT_CPU_AVX512F | CNNRT_CPU_AVX512DQ | CNNRT_CPU_AVX512BW | CNNRT_CPU_AVX512VL;
  if ((features & avx512) == avx512) return CNNRT_ISA_AVX512;
  if ((features & avx2) == avx2) return CNNRT_ISA_AVX2;
#elif CNNRT_CPU_AARCH64
  if (features & CNNRT_CPU_NEON) return CNNRT_ISA_NEON;
#endif
  return CNNRT_ISA_SCALAR;
}

static int level_rank(cnnrt_isa_level level) {
  return level == CNNRT_ISA_NEON ? 1 : (int)level; /* NEON is aarch64's first level above scalar */
}

static int level_within(cnnrt_isa_level level, cnnrt_isa_level detected) {
  if (level == CNNRT_ISA_SCALAR) return 1;
  if ((level == CNNRT_ISA_NEON) != (detected == CNNRT_ISA_NEON)) return 0; /* another architecture */
  return level_rank(level) <= level_rank(detected);
}

const char* cnnrt_isa_name(cnnrt_isa_level level) {
  switch (level) {
    case CNNRT_ISA_SCALAR: return "scalar";
    case CNNRT_ISA_AVX2: return "avx2";
    case CNNRT_ISA_AVX512: return "avx512";
    case CNNRT_ISA_NEON: return "neon";
  }
  return "unknown";
}

static void append(char* text, size_t size, const char* word) {
  size_t used = strlen(text);
  snprintf(text + used, size - used, "%s", word);
}

static void cpu_init(void) {
  uint32_t features = 0;
  const char* architecture = "unknown architecture";
#if CNNRT_CPU_X86_64
  features = detect_x86_features();
  architecture = "x86-64";
#elif CNNRT_CPU_AARCH64
  features = CNNRT_CPU_NEON; /* Advanced SIMD is mandatory on aarch64 */
  architecture = "aarch64";
#endif
  cpu_state.features = features;
  cpu_state.detected = level_from_features(features);
  cpu_state.level = cpu_state.detected;

  char* text = cpu_state.description;
  const size_t size = sizeof(cpu_state.description);
  snprintf(text, size, "%s:", architecture);
  static const struct { uint32_t bit; const char* name; } names[] = {
      {CNNRT_CPU_AVX2, " avx2"},           {CNNRT_CPU_FMA, " fma"},
      {CNNRT_CPU_AVX512F, " avx512f"},     {CNNRT_CPU_AVX512DQ, " avx512dq"},
      {CNNRT_CPU_AVX512BW, " avx512bw"},   {CNNRT_CPU_AVX512VL, " avx512vl"},
      {CNNRT_CPU_AVX512VNNI, " avx512vnni"}, {CNNRT_CPU_AVX512BF16, " avx512bf16"},
      {CNNRT_CPU_AVXVNNI, " avxvnni"},     {CNNRT_CPU_AMX_TILE, " amx-tile"},
      {CNNRT_CPU_AMX_INT8, " amx-int8"},   {CNNRT_CPU_AMX_BF16, " amx-bf16"},
      {CNNRT_CPU_NEON, " neon"},
  };
  int any = 0;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (features & names[i].bit) {
      append(text, size, names[i].name);
      any = 1;
    }
  }
  if (!any) append(text, size, " (no SIMD features used by cnnrt)");

  /* CNNRT_ISA may only lower the level: forcing a higher one would run
   * instructions the CPU lacks. */
  const char* requested = getenv("CNNRT_ISA");
  char note[96] = "";
  if (requested != NULL && requested[0] != '\0') {
    static const cnnrt_isa_level levels[] = {CNNRT_ISA_SCALAR, CNNRT_ISA_AVX2, CNNRT_ISA_AVX512, CNNRT_ISA_NEON};
    int known = 0;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
      if (strcmp(requested, cnnrt_isa_name(levels[i])) != 0) continue;
      known = 1;
      if (level_within(levels[i], cpu_state.detected)) {
        cpu_state.level = levels[i];
        snprintf(note, sizeof(note), " (forced by CNNRT_ISA)");
      } else {
        snprintf(note, sizeof(note), " (CNNRT_ISA=%.16s ignored: not supported here)", requested);
      }
    }
    if (!known) snprintf(note, sizeof(note), " (CNNRT_ISA=%.16s ignored: expected scalar, avx2, avx512 or neon)", requested);
  }
  append(text, size, "; using ");
  append(text, size, cnnrt_isa_name(cpu_state.level));
  append(text, size, note);
}

uint32_t cnnrt_cpu_features(void) {
  pthread_once(&cpu_once, cpu_init);
  return cpu_state.features;
}

cnnrt_isa_level cnnrt_cpu_detected_level(void) {
  pthread_once(&cpu_once, cpu_init);
  return cpu_state.detected;
}

int cnnrt_cpu_supports(cnnrt_isa_level level) { return level_within(level, cnnrt_cpu_detected_level()); }

cnnrt_isa_level cnnrt_cpu_level(void) {
  pthread_once(&cpu_once, cpu_init);
  return cpu_state.level;
}

CNNRT_API const char* cnnrt_cpu_description(void) {
  pthread_once(&cpu_once, cpu_init);
  return cpu_state.description;
}
