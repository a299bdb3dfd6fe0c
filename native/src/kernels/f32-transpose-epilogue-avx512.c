/*
 * Transposed store with the fused epilogue (AVX-512): a pixel-major tile of
 * the GEMM (rows = pixels, columns = channels) goes to NCHW rows of channels.
 * Blocks of 16 x 16 are transposed in registers (unpack, shuffle, 128-bit
 * lane permutes), then bias, residual and activation run on whole channel
 * rows of 16 pixels with the reference epilogue's arithmetic.
 */
#include <immintrin.h>

#include "kernels/f32-activation-avx512.h"
#include "kernels/f32-transpose16-avx512.h"
#include "kernels/kernels.h"

static inline __mmask16 tail_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

void cnnrt_f32_transpose_epilogue__avx512(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                          size_t y_stride, const float* bias, const float* residual,
                                          int activation, float alpha, float beta) {
  if (!cnnrt_f32_activation_avx512_has(activation)) {
    cnnrt_f32_transpose_epilogue_ref(c, ldc, rows, cols, y, y_stride, bias, residual, activation, alpha, beta);
    return;
  }
  for (size_t i0 = 0; i0 < rows; i0 += 16) {
    const size_t rn = rows - i0 < 16 ? rows - i0 : 16;
    const __mmask16 row_mask = tail_mask(rn);
    for (size_t j0 = 0; j0 < cols; j0 += 16) {
      const size_t cn = cols - j0 < 16 ? cols - j0 : 16;
      const __mmask16 col_mask = tail_mask(cn);
      __m512 r[16];
      for (size_t i = 0; i < 16; i++) {
        r[i] = i < rn ? _mm512_maskz_loadu_ps(col_mask, c + (i0 + i) * ldc + j0) : _mm512_setzero_ps();
      }
      cnnrt_f32_transpose16_avx512(r);
      for (size_t j = 0; j < cn; j++) {
        __m512 v = r[j];
        const size_t offset = (j0 + j) * y_stride + i0;
        if (bias != NULL && bias[j0 + j] != 0.0f) v = _mm512_add_ps(v, _mm512_set1_ps(bias[j0 + j]));
        if (residual != NULL) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(row_mask, residual + offset));
        _mm512_mask_storeu_ps(y + offset, row_mask, cnnrt_f32_activation_avx512(v, activation, alpha, beta));
      }
    }
  }
}
