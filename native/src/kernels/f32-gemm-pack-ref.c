/* GEMM operand packing (the configuration that picks a kernel is f32-gemm-config.c). */
#include <string.h>

#include "kernels/kernels.h"

void cnnrt_f32_gemm_pack_a(size_t m, size_t k, const float* a, size_t row_stride, size_t col_stride,
                           size_t mr, float* packed) {
  for (size_t i0 = 0; i0 < m; i0 += mr) {
    size_t rows = m - i0 < mr ? m - i0 : mr;
    float* panel = packed + i0 * k;
    for (size_t p = 0; p < k; p++) {
      for (size_t i = 0; i < rows; i++) panel[p * mr + i] = a[(i0 + i) * row_stride + p * col_stride];
      for (size_t i = rows; i < mr; i++) panel[p * mr + i] = 0.0f;
    }
  }
}

void cnnrt_f32_gemm_pack_b(size_t k, size_t n, const float* b, size_t row_stride, size_t col_stride,
                           size_t nr, float* packed) {
  for (size_t j0 = 0; j0 < n; j0 += nr) {
    size_t cols = n - j0 < nr ? n - j0 : nr;
    float* panel = packed + j0 * k;
    for (size_t p = 0; p < k; p++) {
      const float* row = b + p * row_stride + j0 * col_stride;
      if (col_stride == 1) {
        memcpy(panel + p * nr, row, cols * sizeof(float));
      } else {
        for (size_t j = 0; j < cols; j++) panel[p * nr + j] = row[j * col_stride];
      }
      for (size_t j = cols; j < nr; j++) panel[p * nr + j] = 0.0f;
    }
  }
}
