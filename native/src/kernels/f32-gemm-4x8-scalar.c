/*
 * The portable GEMM microkernel: a 4x8 register tile of accumulators. The
 * inner loop over the 8 columns is a fixed-length loop over a local array so
 * that GCC/Clang at -O3 keep the tile in vector registers (two SSE or one AVX
 * register per row) without any intrinsics.
 */
#include "kernels/kernels.h"

#define MR 4
#define NR 8

void cnnrt_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nr, size_t k, const float* a_packed,
                                        const float* b, size_t b_stride, float* c, size_t c_stride) {
  float acc[MR][NR];
  for (int i = 0; i < MR; i++) {
    for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
  }
  for (size_t p = 0; p < k; p++) {
    const float* a = a_packed + p * MR;
    const float* brow = b + p * b_stride;
    float bv[NR];
    for (int j = 0; j < NR; j++) bv[j] = brow[j];
    for (int i = 0; i < MR; i++) {
      const float av = a[i];
      for (int j = 0; j < NR; j++) acc[i][j] += av * bv[j];
    }
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; i++) {
      for (int j = 0; j < NR; j++) c[i * c_stride + j] = acc[i][j];
    }
  } else {
    for (size_t i = 0; i < mr; i++) {
      for (size_t j = 0; j < nr; j++) c[i * c_stride + j] = acc[i][j];
    }
  }
}

/* The same tile starting from the values in C (see cnnrt_f32_gemminc_ukernel_fn). */
void cnnrt_f32_gemminc_ukernel_4x8__scalar(size_t mr, size_t nr, size_t k, const float* a_packed,
                                           const float* b, size_t b_stride, float* c, size_t c_stride) {
  float acc[MR][NR];
  for (size_t i = 0; i < MR; i++) {
    for (size_t j = 0; j < NR; j++) acc[i][j] = i < mr && j < nr ? c[i * c_stride + j] : 0.0f;
  }
  for (size_t p = 0; p < k; p++) {
    const float* a = a_packed + p * MR;
    const float* brow = b + p * b_stride;
    float bv[NR];
    for (int j = 0; j < NR; j++) bv[j] = brow[j];
    for (int i = 0; i < MR; i++) {
      const float av = a[i];
      for (int j = 0; j < NR; j++) acc[i][j] += av * bv[j];
    }
  }
  for (size_t i = 0; i < mr; i++) {
    for (size_t j = 0; j < nr; j++) c[i * c_stride + j] = acc[i][j];
  }
}

/* The tile with the fused epilogue (see cnnrt_f32_gemm_epilogue). */
void cnnrt_f32_gemmep_ukernel_4x8__scalar(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride,
                                          const cnnrt_f32_gemm_epilogue* ep) {
  if (ep->accumulate) {
    cnnrt_f32_gemminc_ukernel_4x8__scalar(mr, nr, k, a_packed, b, b_stride, c, c_stride);
  } else {
    cnnrt_f32_gemm_ukernel_4x8__scalar(mr, nr, k, a_packed, b, b_stride, c, c_stride);
  }
  for (size_t i = 0; i < mr; i++) {
    float* row = c + i * c_stride;
    const float bias = ep->bias != NULL ? ep->bias[i] : 0.0f;
    const float* residual = ep->residual != NULL ? ep->residual + i * c_stride : NULL;
    for (size_t j = 0; j < nr; j++) {
      float x = row[j];
      if (bias != 0.0f) x += bias;
      if (residual != NULL) x += residual[j];
      x = x < ep->min ? ep->min : x;
      row[j] = x > ep->max ? ep->max : x;
    }
  }
}
