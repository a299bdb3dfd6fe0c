/*
 * The activations of fused epilogues on 4 floats, for aarch64 NEON kernels
 * only (include from *-neon.c files).
 *
 * ReLU, LeakyReLU, Clip, HardSigmoid and HardSwish use the reference's
 * arithmetic (f32-activation-ref.c) operation for operation, comparisons and
 * selects where the reference has `?:`, so the results are equal bit for bit
 * (NaN passing through, -0.0 kept, as there). The transcendental activations
 * have no vector form here: kernels run cnnrt_f32_activation_ref over the row
 * instead, which is the reference itself.
 */
#ifndef CNNRT_F32_ACTIVATION_NEON_H
#define CNNRT_F32_ACTIVATION_NEON_H

#include <arm_neon.h>

#include "internal.h"

/* 1 when cnnrt_f32_activation_neon computes `activation`. */
static inline int cnnrt_f32_activation_neon_has(int activation) {
  return activation == CNNRT_ACT_NONE || activation == CNNRT_ACT_RELU || activation == CNNRT_ACT_LEAKY_RELU ||
         activation == CNNRT_ACT_CLIP || activation == CNNRT_ACT_HARD_SIGMOID || activation == CNNRT_ACT_HARD_SWISH;
}

/* vbslq_f32(mask, a, b): lanes of a where the comparison held, else of b. */
static inline float32x4_t cnnrt_f32_activation_neon(float32x4_t x, int activation, float alpha, float beta) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  switch (activation) {
    case CNNRT_ACT_RELU:
      return vbslq_f32(vcltq_f32(x, zero), zero, x);
    case CNNRT_ACT_LEAKY_RELU:
      return vbslq_f32(vcltq_f32(x, zero), vmulq_f32(vdupq_n_f32(alpha), x), x);
    case CNNRT_ACT_CLIP: {
      const float32x4_t low = vdupq_n_f32(alpha), high = vdupq_n_f32(beta);
      x = vbslq_f32(vcltq_f32(x, low), low, x);
      return vbslq_f32(vcgtq_f32(x, high), high, x);
    }
    case CNNRT_ACT_HARD_SIGMOID: {
      /* A multiply, then an add: the reference rounds the product. */
      float32x4_t y = vaddq_f32(vmulq_f32(vdupq_n_f32(alpha), x), vdupq_n_f32(beta));
      y = vbslq_f32(vcltq_f32(y, zero), zero, y);
      return vbslq_f32(vcgtq_f32(y, vdupq_n_f32(1.0f)), vdupq_n_f32(1.0f), y);
    }
    case CNNRT_ACT_HARD_SWISH: {
      float32x4_t gate = vaddq_f32(vmulq_f32(x, vdupq_n_f32(CNNRT_ONE_SIXTH)), vdupq_n_f32(0.5f));
      gate = vbslq_f32(vcltq_f32(gate, zero), zero, gate);
      gate = vbslq_f32(vcgtq_f32(gate, vdupq_n_f32(1.0f)), vdupq_n_f32(1.0f), gate);
      return vmulq_f32(x, gate);
    }
    default:
      return x;
  }
}

#endif /* CNNRT_F32_ACTIVATION_NEON_H */
