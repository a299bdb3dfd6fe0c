/*
 * Element-wise unary ops (codes 20-46). Activation-like ops share the
 * activation kernel with the fused epilogues; the rest are plain math. All
 * may run in place (output 0 aliasing input 0).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

#define UNARY_GRAIN 16384

enum {
  UNARY_EXP = 100, UNARY_LOG, UNARY_SQRT, UNARY_ABS, UNARY_NEG, UNARY_ERF, UNARY_RECIPROCAL, UNARY_FLOOR,
  UNARY_CEIL, UNARY_SELU, UNARY_CELU, UNARY_THRESHOLDED_RELU, UNARY_SOFTSIGN, UNARY_MISH, UNARY_SIGN, UNARY_ROUND
};

typedef struct unary_state {
  int function; /* a cnnrt_activation or UNARY_* */
  float alpha, beta;
  const cnnrt_f32_vector_config* vector;
} unary_state;

static cnnrt_status unary_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  unary_state state = {0, 0.0f, 0.0f, cnnrt_f32_vector_config_get()};
  switch (node->op) {
    case 20: state.function = CNNRT_ACT_RELU; break;
    case 21:
      state.function = CNNRT_ACT_LEAKY_RELU;
      status = cnnrt_attr_float(node, "alpha", 0.01f, &state.alpha);
      break;
    case 22:
      state.function = CNNRT_ACT_CLIP;
      status = cnnrt_attr_float(node, "min", -INFINITY, &state.alpha);
      if (status == CNNRT_OK) status = cnnrt_attr_float(node, "max", INFINITY, &state.beta);
      break;
    case 23: state.function = CNNRT_ACT_SIGMOID; break;
    case 24: state.function = CNNRT_ACT_TANH; break;
    case 25:
      state.function = CNNRT_ACT_HARD_SIGMOID;
      status = cnnrt_attr_float(node, "alpha", 0.2f, &state.alpha);
      if (status == CNNRT_OK) status = cnnrt_attr_float(node, "beta", 0.5f, &state.beta);
      break;
    case 26: state.function = CNNRT_ACT_HARD_SWISH; break;
    case 27: state.function = CNNRT_ACT_SILU; break;
    case 28: {
      const char* approximate;
      status = cnnrt_attr_string(node, "approximate", "none", &approximate);
      if (status != CNNRT_OK) break;
      if (strcmp(approximate, "none") == 0) {
        state.function = CNNRT_ACT_GELU;
      } else if (strcmp(approximate, "tanh") == 0) {
        state.function = CNNRT_ACT_GELU_TANH;
      } else {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                                "attribute 'approximate' expected \"none\" or \"tanh\", found \"%s\"", approximate);
      }
      break;
    }
    case 29:
      state.function = CNNRT_ACT_ELU;
      status = cnnrt_attr_float(node, "alpha", 1.0f, &state.alpha);
      break;
    case 30: state.function = CNNRT_ACT_SOFTPLUS; break;
    case 31: state.function = UNARY_EXP; break;
    case 32: state.function = UNARY_LOG; break;
    case 33: state.function = UNARY_SQRT; break;
    case 34: state.function = UNARY_ABS; break;
    case 35: state.function = UNARY_NEG; break;
    case 36: state.function = UNARY_ERF; break;
    case 37: state.function = UNARY_RECIPROCAL; break;
    case 38: state.function = UNARY_FLOOR; break;
    case 39: state.function = UNARY_CEIL; break;
    case 40:
      state.function = UNARY_SELU;
      status = cnnrt_attr_float(node, "alpha", 1.67326319217681884765625f, &state.alpha);
      if (status == CNNRT_OK) status = cnnrt_attr_float(node, "gamma", 1.05070102214813232421875f, &state.beta);
      break;
    case 41:
      state.function = UNARY_CELU;
      status = cnnrt_attr_float(node, "alpha", 1.0f, &state.alpha);
      if (status == CNNRT_OK && state.alpha == 0.0f) {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'alpha' expected a non-zero value, found 0");
      }
      break;
    case 42:
      state.function = UNARY_THRESHOLDED_RELU;
      status = cnnrt_attr_float(node, "alpha", 1.0f, &state.alpha);
      break;
    case 43: state.function = UNARY_SOFTSIGN; break;
    case 44: state.function = UNARY_MISH; break;
    case 45: state.function = UNARY_SIGN; break;
    case 46: state.function = UNARY_ROUND; break;
    default:
      return cnnrt_node_error(CNNRT_ERROR_INTERNAL, node, "op code %u is not a unary op", node->op);
  }
  if (status != CNNRT_OK) return status;
  unary_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status unary_reshape(const cnnrt_node* node, const void* state, const cnnrt_shape* inputs,
                                  cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  outputs[0] = inputs[0];
  info->workspace_bytes = 0;
  info->macs = cnnrt_numel(&inputs[0]);
  const unary_state* unary = state;
  const int vector = unary->function < CNNRT_ACT_COUNT && unary->vector->activation != NULL;
  const char* simd = strcmp(unary->vector->name, "avx2") == 0 ? "f32_unary_avx2" : "f32_unary_avx512";
  info->kernel = vector ? simd : "f32_unary_ref";
  return CNNRT_OK;
}

typedef struct unary_job {
  const unary_state* state;
  const float* x;
  float* y;
} unary_job;

/* y may equal x (in place): each element is read before it is written. */
static void unary_task(void* opaque, size_t begin, size_t end, int thread) {
  const unary_job* job = opaque;
  const float* x = job->x + begin;
  float* y = job->y + begin;
  const size_t n = end - begin;
  const int function = job->state->function;
  if (function < CNNRT_ACT_COUNT) {
    if (job->state->vector->activation != NULL) {
      job->state->vector->activation(x, y, n, function, job->state->alpha, job->state->beta);
      return;
    }
    if (y != x) memcpy(y, x, n * sizeof(float));
    cnnrt_f32_activation_ref(y, n, function, job->state->alpha, job->state->beta);
    return;
  }
  switch (function) {
    case UNARY_EXP: for (size_t i = 0; i < n; i++) y[i] = expf(x[i]); break;
    case UNARY_LOG: for (size_t i = 0; i < n; i++) y[i] = logf(x[i]); break;
    case UNARY_SQRT: for (size_t i = 0; i < n; i++) y[i] = sqrtf(x[i]); break;
    case UNARY_ABS: for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]); break;
    case UNARY_NEG: for (size_t i = 0; i < n; i++) y[i] = -x[i]; break;
    case UNARY_ERF: for (size_t i = 0; i < n; i++) y[i] = erff(x[i]); break;
    case UNARY_RECIPROCAL: for (size_t i = 0; i < n; i++) y[i] = 1.0f / x[i]; break;
    case UNARY_FLOOR: for (size_t i = 0; i < n; i++) y[i] = floorf(x[i]); break;
    case UNARY_CEIL: for (size_t i = 0; i < n; i++) y[i] = ceilf(x[i]); break;
    case UNARY_SELU: {
      const float alpha = job->state->alpha, gamma = job->state->beta;
      for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? gamma * x[i] : gamma * alpha * expm1f(x[i]);
      break;
    }
    case UNARY_CELU: {
      const float alpha = job->state->alpha;
      for (size_t i = 0; i < n; i++) {
        const float v = x[i];
        y[i] = v > 0.0f ? v : alpha * expm1f(v / alpha);
      }
      break;
    }
    case UNARY_THRESHOLDED_RELU: {
      const float alpha = job->state->alpha;
      for (size_t i = 0; i < n; i++) y[i] = x[i] > alpha ? x[i] : 0.0f;
      break;
    }
    case UNARY_SOFTSIGN: for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + fabsf(x[i])); break;
    case UNARY_MISH:
      /* softplus written to stay finite for large x: max(x, 0) + log1p(exp(-|x|)). */
      for (size_t i = 0; i < n; i++) {
        const float v = x[i];
        y[i] = v * tanhf(fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v))));
      }
      break;
    case UNARY_SIGN:
      for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? 1.0f : (x[i] < 0.0f ? -1.0f : x[i]);
      break;
    /* The default floating-point environment rounds half to even, as ONNX Round does. */
    case UNARY_ROUND: for (size_t i = 0; i < n; i++) y[i] = nearbyintf(x[i]); break;
    default: break;
  }
}

static void unary_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* state,
                      const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  unary_job job = {.state = state, .x = inputs[0].data, .y = outputs[0].data};
  size_t count = cnnrt_numel(&inputs[0].shape);
  cnnrt_parallel_for(context->pool, count, cnnrt_task_grain(count, context->threads, UNARY_GRAIN), unary_task, &job);
}

#define UNARY_OP(symbol, op_code, op_name)                                                                  \
  const cnnrt_op_def symbol = {                                                                           \
      .code = op_code, .name = op_name, .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, \
      .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,                                                     \
      .create = unary_create, .destroy = cnnrt_op_state_free, .reshape = unary_reshape, .run = unary_run,  \
  }

UNARY_OP(cnnrt_op_relu, 20, "Relu");
UNARY_OP(cnnrt_op_leaky_relu, 21, "LeakyRelu");
UNARY_OP(cnnrt_op_clip, 22, "Clip");
UNARY_OP(cnnrt_op_sigmoid, 23, "Sigmoid");
UNARY_OP(cnnrt_op_tanh, 24, "Tanh");
UNARY_OP(cnnrt_op_hard_sigmoid, 25, "HardSigmoid");
UNARY_OP(cnnrt_op_hard_swish, 26, "HardSwish");
UNARY_OP(cnnrt_op_silu, 27, "SiLU");
UNARY_OP(cnnrt_op_gelu, 28, "Gelu");
UNARY_OP(cnnrt_op_elu, 29, "Elu");
UNARY_OP(cnnrt_op_softplus, 30, "Softplus");
UNARY_OP(cnnrt_op_exp, 31, "Exp");
UNARY_OP(cnnrt_op_log, 32, "Log");
UNARY_OP(cnnrt_op_sqrt, 33, "Sqrt");
UNARY_OP(cnnrt_op_abs, 34, "Abs");
UNARY_OP(cnnrt_op_neg, 35, "Neg");
UNARY_OP(cnnrt_op_erf, 36, "Erf");
UNARY_OP(cnnrt_op_reciprocal, 37, "Reciprocal");
UNARY_OP(cnnrt_op_floor, 38, "Floor");
UNARY_OP(cnnrt_op_ceil, 39, "Ceil");
UNARY_OP(cnnrt_op_selu, 40, "Selu");
UNARY_OP(cnnrt_op_celu, 41, "Celu");
UNARY_OP(cnnrt_op_thresholded_relu, 42, "ThresholdedRelu");
UNARY_OP(cnnrt_op_softsign, 43, "Softsign");
UNARY_OP(cnnrt_op_mish, 44, "Mish");
UNARY_OP(cnnrt_op_sign, 45, "Sign");
UNARY_OP(cnnrt_op_round, 46, "Round");
