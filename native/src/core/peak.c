/* cnnrt_cpu_fma_peak_gflops: measured, not looked up, since clock speeds and
 * FMA widths vary (full-width 512-bit FMA on some CPUs, split on others). */
#include <time.h>

#include "cpu.h"
#include "internal.h"
#include "kernels/kernels.h"

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t scalar_loop(uint64_t iterations, float* sink) {
  float a[8] = {1.00f, 1.01f, 1.02f, 1.03f, 1.04f, 1.05f, 1.06f, 1.07f};
  for (uint64_t i = 0; i < iterations; i++)
    for (int k = 0; k < 8; k++) a[k] = a[k] * 0.999999f + 1e-7f;
  *sink = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
  return iterations * 8 * 2;
}

CNNRT_API double cnnrt_cpu_fma_peak_gflops(double seconds) {
  uint64_t (*loop)(uint64_t, float*) = scalar_loop;
#if defined(__x86_64__) || defined(_M_X64)
  cnnrt_isa_level level = cnnrt_cpu_level();
  if (level == CNNRT_ISA_AVX512) loop = cnnrt_f32_fma_loop__avx512;
  else if (level == CNNRT_ISA_AVX2) loop = cnnrt_f32_fma_loop__avx2;
#endif
  if (seconds <= 0) seconds = 0.2;
  volatile float sink_total = 0;
  float sink = 0;
  loop(100000, &sink); /* warm up: clocks ramp, code is paged in */
  double best = 0;
  double end = seconds_now() + seconds;
  while (seconds_now() < end) {
    double start = seconds_now();
    uint64_t flops = loop(2000000, &sink);
    double elapsed = seconds_now() - start;
    sink_total += sink;
    if (elapsed > 0 && flops / elapsed > best) best = (double)flops / elapsed;
  }
  return best / 1e9;
}
