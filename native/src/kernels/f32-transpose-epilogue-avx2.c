/*
 * Transposed store with the fused epilogue (AVX2 + FMA): the contract of
 * the AVX-512 kernel (kernels.h) on 8 lanes. A pixel-major tile of the GEMM
 * (rows = pixels, columns = channels) goes to NCHW rows of channels in
 * blocks of 8 x 8, transposed in registers (unpack, shuffle, 128-bit
 * permutes); then bias, residual and activation run on channel rows of 8
 * pixels with the reference epilogue's arithmetic. Partial rows are read
 * with maskload and written with plain partial stores (f32-store-avx2.h).
 */
#include <immintrin.h>

#include "kernels/f32-activation-avx2.h"
#include "kernels/f32-store-avx2.h"
#include "kernels/kernels.h"

/* In place: r[p] lane q becomes r[q] lane p. */
static inline void transpose_8x8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Channel blocks outer, pixels inner: each block of 8 channel rows is
 * written front to back (8 streams at a time) rather than 32 bytes of every
 * channel row per 8 pixels, which left a stem's 32-64 output rows each a
 * half-written cache line apart and cost 40% of MobileNetV2's stem. The loop
 * is compiled once per activation (CNNRT_ACTIVATION_SPECIALIZE). */
static inline __attribute__((always_inline)) void transpose_epilogue(const float* c, size_t ldc, size_t rows,
                                                                     size_t cols, float* y, size_t y_stride,
                                                                     const float* bias, const float* residual,
                                                                     const int activation, float alpha, float beta) {
  for (size_t j0 = 0; j0 < cols; j0 += 8) {
    const size_t cn = cols - j0 < 8 ? cols - j0 : 8;
    const __m256i col_mask = cnnrt_f32_first_lanes_avx2(cn);
    for (size_t i0 = 0; i0 < rows; i0 += 8) {
      const size_t rn = rows - i0 < 8 ? rows - i0 : 8;
      __m256 r[8];
      for (size_t i = 0; i < 8; i++) {
        if (i >= rn) {
          r[i] = _mm256_setzero_ps();
        } else if (cn == 8) {
          r[i] = _mm256_loadu_ps(c + (i0 + i) * ldc + j0);
        } else {
          r[i] = _mm256_maskload_ps(c + (i0 + i) * ldc + j0, col_mask);
        }
      }
      transpose_8x8(r);
      for (size_t j = 0; j < cn; j++) {
        __m256 v = r[j];
        const size_t offset = (j0 + j) * y_stride + i0;
        if (bias != NULL && bias[j0 + j] != 0.0f) v = _mm256_add_ps(v, _mm256_set1_ps(bias[j0 + j]));
        if (residual != NULL) {
          v = _mm256_add_ps(v, rn == 8 ? _mm256_loadu_ps(residual + offset)
                                       : _mm256_maskload_ps(residual + offset, cnnrt_f32_first_lanes_avx2(rn)));
        }
        v = cnnrt_f32_activation_avx2(v, activation, alpha, beta);
        if (rn == 8) {
          _mm256_storeu_ps(y + offset, v);
        } else {
          cnnrt_f32_store_first_avx2(y + offset, v, rn);
        }
      }
    }
  }
}

void cnnrt_f32_transpose_epilogue__avx2(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                        size_t y_stride, const float* bias, const float* residual, int activation,
                                        float alpha, float beta) {
  if (!cnnrt_f32_activation_avx2_has(activation)) {
    cnnrt_f32_transpose_epilogue_ref(c, ldc, rows, cols, y, y_stride, bias, residual, activation, alpha, beta);
    return;
  }
  CNNRT_ACTIVATION_SPECIALIZE(activation, transpose_epilogue(c, ldc, rows, cols, y, y_stride, bias, residual,
                                                             CNNRT_ACT_CONSTANT, alpha, beta));
}
