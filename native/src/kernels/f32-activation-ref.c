/*
 * Activations (docs/ops.md, "Activations"), shared by fused epilogues and the
 * unary ops. The switch sits outside the loops so that each loop is a plain
 * element-wise loop the compiler can vectorise.
 */
#include <math.h>

#include "internal.h"
#include "kernels/kernels.h"

#define CNNRT_SQRT1_2 0.70710678118654752440f
#define CNNRT_SQRT_2_OVER_PI 0.79788456080286535588f

const char* cnnrt_activation_name(int activation) {
  switch (activation) {
    case CNNRT_ACT_NONE: return "";
    case CNNRT_ACT_RELU: return "relu";
    case CNNRT_ACT_LEAKY_RELU: return "leaky_relu";
    case CNNRT_ACT_CLIP: return "clip";
    case CNNRT_ACT_SIGMOID: return "sigmoid";
    case CNNRT_ACT_TANH: return "tanh";
    case CNNRT_ACT_HARD_SIGMOID: return "hard_sigmoid";
    case CNNRT_ACT_HARD_SWISH: return "hard_swish";
    case CNNRT_ACT_SILU: return "silu";
    case CNNRT_ACT_GELU: return "gelu";
    case CNNRT_ACT_GELU_TANH: return "gelu_tanh";
    case CNNRT_ACT_ELU: return "elu";
    case CNNRT_ACT_SOFTPLUS: return "softplus";
  }
  return "unknown";
}

void cnnrt_f32_activation_ref(float* data, size_t n, int activation, float alpha, float beta) {
  switch (activation) {
    case CNNRT_ACT_NONE:
      break;
    case CNNRT_ACT_RELU:
      /* Written so that NaN passes through, as in ONNX Relu. */
      for (size_t i = 0; i < n; i++) data[i] = data[i] < 0.0f ? 0.0f : data[i];
      break;
    case CNNRT_ACT_LEAKY_RELU:
      for (size_t i = 0; i < n; i++) data[i] = data[i] < 0.0f ? alpha * data[i] : data[i];
      break;
    case CNNRT_ACT_CLIP:
      for (size_t i = 0; i < n; i++) {
        float x = data[i];
        x = x < alpha ? alpha : x;
        data[i] = x > beta ? beta : x;
      }
      break;
    case CNNRT_ACT_SIGMOID:
      for (size_t i = 0; i < n; i++) data[i] = 1.0f / (1.0f + expf(-data[i]));
      break;
    case CNNRT_ACT_TANH:
      for (size_t i = 0; i < n; i++) data[i] = tanhf(data[i]);
      break;
    case CNNRT_ACT_HARD_SIGMOID:
      for (size_t i = 0; i < n; i++) {
        float y = alpha * data[i] + beta;
        y = y < 0.0f ? 0.0f : y;
        data[i] = y > 1.0f ? 1.0f : y;
      }
      break;
    case CNNRT_ACT_HARD_SWISH:
      for (size_t i = 0; i < n; i++) {
        float gate = data[i] * CNNRT_ONE_SIXTH + 0.5f;
        gate = gate < 0.0f ? 0.0f : gate;
        gate = gate > 1.0f ? 1.0f : gate;
        data[i] = data[i] * gate;
      }
      break;
    case CNNRT_ACT_SILU:
      for (size_t i = 0; i < n; i++) data[i] = data[i] * (1.0f / (1.0f + expf(-data[i])));
      break;
    case CNNRT_ACT_GELU:
      for (size_t i = 0; i < n; i++) data[i] = 0.5f * data[i] * (1.0f + erff(data[i] * CNNRT_SQRT1_2));
      break;
    case CNNRT_ACT_GELU_TANH:
      for (size_t i = 0; i < n; i++) {
        float x = data[i];
        data[i] = 0.5f * x * (1.0f + tanhf(CNNRT_SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
      }
      break;
    case CNNRT_ACT_ELU:
      for (size_t i = 0; i < n; i++) data[i] = data[i] < 0.0f ? alpha * expm1f(data[i]) : data[i];
      break;
    case CNNRT_ACT_SOFTPLUS:
      /* log(1 + exp(x)) without overflow for large x. */
      for (size_t i = 0; i < n; i++) {
        float x = data[i];
        data[i] = x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
      }
      break;
    default:
      break;
  }
}

void cnnrt_f32_epilogue_ref(float* y, size_t n, float bias, const float* residual, int activation,
                            float alpha, float beta) {
  if (bias != 0.0f) {
    for (size_t i = 0; i < n; i++) y[i] += bias;
  }
  if (residual != NULL) {
    for (size_t i = 0; i < n; i++) y[i] += residual[i];
  }
  cnnrt_f32_activation_ref(y, n, activation, alpha, beta);
}

void cnnrt_f32_transpose_epilogue_ref(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                      size_t y_stride, const float* bias, const float* residual, int activation,
                                      float alpha, float beta) {
  for (size_t j = 0; j < cols; j++) {
    float* out = y + j * y_stride;
    for (size_t i = 0; i < rows; i++) out[i] = c[i * ldc + j];
    cnnrt_f32_epilogue_ref(out, rows, bias != NULL ? bias[j] : 0.0f, residual != NULL ? residual + j * y_stride : NULL,
                           activation, alpha, beta);
  }
}

void cnnrt_f32_gemv_ref(const float* w, size_t k, const float* x, const cnnrt_f32_epilogue_params* e, float* y,
                        size_t row_begin, size_t row_end) {
  for (size_t i = row_begin; i < row_end; i++) {
    float acc = 0.0f;
    for (size_t p = 0; p < k; p++) acc += w[i * k + p] * x[p];
    y[i] = acc;
    cnnrt_f32_epilogue_ref(y + i, 1, e->bias != NULL ? e->bias[i] : 0.0f, e->residual != NULL ? e->residual + i : NULL,
                           e->activation, e->alpha, e->beta);
  }
}

void cnnrt_f32_activation_rows_ref(float* y, size_t rows, size_t cols, size_t stride, int activation, float alpha,
                                   float beta) {
  for (size_t r = 0; r < rows; r++) cnnrt_f32_activation_ref(y + r * stride, cols, activation, alpha, beta);
}
