/*
 * The fused epilogue (bias, residual, activation) over one output row with
 * aarch64 NEON: the reference's arithmetic in the reference's order, in one
 * pass, so the results equal cnnrt_f32_epilogue_ref bit for bit. Activations
 * without a vector form (the transcendental ones) run the reference.
 */
#include <arm_neon.h>
#include <string.h>

#include "kernels/f32-activation-neon.h"
#include "kernels/kernels.h"

void cnnrt_f32_epilogue__neon(float* y, size_t n, float bias, const float* residual, int activation, float alpha,
                              float beta) {
  if (!cnnrt_f32_activation_neon_has(activation)) {
    cnnrt_f32_epilogue_ref(y, n, bias, residual, activation, alpha, beta);
    return;
  }
  if (bias == 0.0f && residual == NULL && activation == CNNRT_ACT_NONE) return;
  const float32x4_t vbias = vdupq_n_f32(bias);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float32x4_t v = vld1q_f32(y + i);
    if (bias != 0.0f) v = vaddq_f32(v, vbias);
    if (residual != NULL) v = vaddq_f32(v, vld1q_f32(residual + i));
    vst1q_f32(y + i, cnnrt_f32_activation_neon(v, activation, alpha, beta));
  }
  if (i < n) {
    /* The last n - i values, through a buffer: nothing past n is read or written. */
    float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f}, tail_residual[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(tail, y + i, (n - i) * sizeof(float));
    float32x4_t v = vld1q_f32(tail);
    if (bias != 0.0f) v = vaddq_f32(v, vbias);
    if (residual != NULL) {
      memcpy(tail_residual, residual + i, (n - i) * sizeof(float));
      v = vaddq_f32(v, vld1q_f32(tail_residual));
    }
    vst1q_f32(tail, cnnrt_f32_activation_neon(v, activation, alpha, beta));
    memcpy(y + i, tail, (n - i) * sizeof(float));
  }
}
