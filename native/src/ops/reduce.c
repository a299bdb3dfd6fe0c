/* ReduceMean / ReduceSum / ReduceMax / ReduceMin / ReduceProd / ReduceL1 /
 * ReduceL2 / ReduceSumSquare / ReduceLogSum / ReduceLogSumExp over a set of
 * axes. Input elements are visited in memory order, so each output sums in a
 * fixed order. An empty reduction gives the identity element (0 for sums, 1
 * for products, -inf / +inf for max / min), then the op's final transform. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

enum {
  REDUCE_LOG_SUM = 88, REDUCE_LOG_SUM_EXP = 89, REDUCE_MEAN = 92, REDUCE_SUM = 93, REDUCE_MAX = 94,
  REDUCE_MIN = 95, REDUCE_PROD = 96, REDUCE_L1 = 97, REDUCE_L2 = 98, REDUCE_SUM_SQUARE = 99
};

typedef struct reduce_state {
  const int64_t* axes; /* NULL: all */
  uint32_t count;
  int keepdims;
} reduce_state;

static cnnrt_status reduce_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  reduce_state state;
  int64_t keepdims;
  if ((status = cnnrt_attr_ints(node, "axes", &state.axes, &state.count)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "keepdims", 1, &keepdims)) != CNNRT_OK) return status;
  if (keepdims != 0 && keepdims != 1) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'keepdims' expected 0 or 1, found %lld",
                            (long long)keepdims);
  }
  if (state.count == 0) state.axes = NULL;
  state.keepdims = (int)keepdims;
  reduce_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

/* Marks reduced dims of a rank-`rank` input. */
static cnnrt_status reduce_axes(const cnnrt_node* node, const reduce_state* state, int32_t rank, int* reduced) {
  for (int32_t d = 0; d < rank; d++) reduced[d] = state->axes == NULL;
  for (uint32_t i = 0; state->axes != NULL && i < state->count; i++) {
    int32_t axis;
    cnnrt_status status = cnnrt_node_axis(node, "axes", state->axes[i], rank, &axis);
    if (status != CNNRT_OK) return status;
    if (reduced[axis]) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'axes' names axis %d twice", axis);
    }
    reduced[axis] = 1;
  }
  return CNNRT_OK;
}

static cnnrt_status reduce_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                   cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const reduce_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  int reduced[CNNRT_MAX_RANK];
  cnnrt_status status = reduce_axes(node, state, x->rank, reduced);
  if (status != CNNRT_OK) return status;
  cnnrt_shape* y = &outputs[0];
  y->rank = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (!reduced[d]) y->dims[y->rank++] = x->dims[d];
    else if (state->keepdims) y->dims[y->rank++] = 1;
  }
  /* ReduceLogSumExp keeps the running sums of exp(x - max) beside the maxima. */
  info->workspace_bytes = node->op == REDUCE_LOG_SUM_EXP
                              ? cnnrt_round_up(cnnrt_numel(y) * sizeof(float), CNNRT_WORKSPACE_ALIGN)
                              : 0;
  info->macs = cnnrt_numel(x);
  info->kernel = "reduce_ref";
  return CNNRT_OK;
}

static void reduce_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                       const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const reduce_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  int reduced[CNNRT_MAX_RANK];
  if (reduce_axes(node, state, x->rank, reduced) != CNNRT_OK) return;
  const float* in = inputs[0].data;
  float* out = outputs[0].data;
  /* Output strides per input dim (0 on reduced dims). */
  size_t out_strides[CNNRT_MAX_RANK];
  size_t stride = 1, out_count = 1, group = 1;
  for (int32_t d = x->rank - 1; d >= 0; d--) {
    if (reduced[d]) {
      out_strides[d] = 0;
      group *= (size_t)x->dims[d];
    } else {
      out_strides[d] = stride;
      stride *= (size_t)x->dims[d];
      out_count *= (size_t)x->dims[d];
    }
  }
  const int op = node->op;
  const size_t count = cnnrt_numel(x);
  /* Pass 1 finds maxima (ReduceLogSumExp subtracts them before exp, so large
   * inputs do not overflow); the sums then accumulate in the workspace. */
  const int passes = op == REDUCE_LOG_SUM_EXP ? 2 : 1;
  for (int pass = 0; pass < passes; pass++) {
    const int kind = op == REDUCE_LOG_SUM_EXP && pass == 0 ? REDUCE_MAX : op;
    float* acc_base = op == REDUCE_LOG_SUM_EXP && pass == 1 ? (float*)context->workspace : out;
    const float initial = kind == REDUCE_MAX ? -INFINITY : (kind == REDUCE_MIN ? INFINITY : (kind == REDUCE_PROD ? 1.0f : 0.0f));
    for (size_t i = 0; i < out_count; i++) acc_base[i] = initial;
    size_t index[CNNRT_MAX_RANK] = {0};
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
      const float v = in[i];
      float* acc = &acc_base[offset];
      switch (kind) {
        case REDUCE_MAX: if (v > *acc || v != v) *acc = v; break;
        case REDUCE_MIN: if (v < *acc || v != v) *acc = v; break;
        case REDUCE_PROD: *acc *= v; break;
        case REDUCE_L1: *acc += fabsf(v); break;
        case REDUCE_L2:
        case REDUCE_SUM_SQUARE: *acc += v * v; break;
        case REDUCE_LOG_SUM_EXP: {
          const float m = out[offset];
          /* An infinite maximum is the result already (finished below). */
          if (isfinite(m)) *acc += expf(v - m);
          break;
        }
        default: *acc += v; break;
      }
      for (int32_t d = x->rank - 1; d >= 0; d--) {
        offset += out_strides[d];
        if (++index[d] < (size_t)x->dims[d]) break;
        offset -= (size_t)x->dims[d] * out_strides[d];
        index[d] = 0;
      }
    }
  }
  switch (op) {
    case REDUCE_MEAN: {
      const float divisor = (float)group;
      for (size_t i = 0; i < out_count; i++) out[i] /= divisor;
      break;
    }
    case REDUCE_L2: for (size_t i = 0; i < out_count; i++) out[i] = sqrtf(out[i]); break;
    case REDUCE_LOG_SUM: for (size_t i = 0; i < out_count; i++) out[i] = logf(out[i]); break;
    case REDUCE_LOG_SUM_EXP: {
      const float* sums = context->workspace;
      for (size_t i = 0; i < out_count; i++) {
        if (isfinite(out[i])) out[i] += logf(sums[i]);
      }
      break;
    }
    default: break;
  }
}

#define REDUCE_OP(symbol, op_code, op_name)                                                                   \
  const cnnrt_op_def symbol = {                                                                             \
      .code = op_code, .name = op_name, .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, \
      .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,                                                       \
      .create = reduce_create, .destroy = cnnrt_op_state_free, .reshape = reduce_reshape, .run = reduce_run, \
  }

REDUCE_OP(cnnrt_op_reduce_mean, 92, "ReduceMean");
REDUCE_OP(cnnrt_op_reduce_sum, 93, "ReduceSum");
REDUCE_OP(cnnrt_op_reduce_max, 94, "ReduceMax");
REDUCE_OP(cnnrt_op_reduce_min, 95, "ReduceMin");
REDUCE_OP(cnnrt_op_reduce_prod, 96, "ReduceProd");
REDUCE_OP(cnnrt_op_reduce_l1, 97, "ReduceL1");
REDUCE_OP(cnnrt_op_reduce_l2, 98, "ReduceL2");
REDUCE_OP(cnnrt_op_reduce_sum_square, 99, "ReduceSumSquare");
REDUCE_OP(cnnrt_op_reduce_log_sum, 88, "ReduceLogSum");
REDUCE_OP(cnnrt_op_reduce_log_sum_exp, 89, "ReduceLogSumExp");

/* ---- ArgMax / ArgMin ---------------------------------------------------------
 * The int64 index of the largest (smallest) value along one axis; ties go to
 * the first index, or the last with select_last_index. */

enum { ARG_MAX = 86, ARG_MIN = 87 };

typedef struct arg_state {
  int64_t axis;
  int keepdims, select_last_index;
} arg_state;

static cnnrt_status arg_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  arg_state state;
  int64_t keepdims, last;
  if ((status = cnnrt_attr_int(node, "axis", 0, &state.axis)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "keepdims", 1, &keepdims)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "select_last_index", 0, &last)) != CNNRT_OK) return status;
  if ((keepdims != 0 && keepdims != 1) || (last != 0 && last != 1)) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attributes 'keepdims' and 'select_last_index' expected 0 or 1, found %lld and %lld",
                            (long long)keepdims, (long long)last);
  }
  state.keepdims = (int)keepdims;
  state.select_last_index = (int)last;
  arg_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status arg_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const arg_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  int32_t axis;
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "data", 1, CNNRT_MAX_RANK);
  if (status != CNNRT_OK) return status;
  if ((status = cnnrt_node_axis(node, "axis", state->axis, x->rank, &axis)) != CNNRT_OK) return status;
  if (x->dims[axis] == 0 && cnnrt_numel(x) == 0 && x->rank > 0) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (data) expected a non-empty axis %d, found shape %s", axis,
                            cnnrt_shape_format(x, text, sizeof(text)));
  }
  cnnrt_shape* y = &outputs[0];
  y->rank = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d != axis) y->dims[y->rank++] = x->dims[d];
    else if (state->keepdims) y->dims[y->rank++] = 1;
  }
  info->workspace_bytes = 0;
  info->macs = cnnrt_numel(x);
  info->kernel = node->op == ARG_MAX ? "argmax_ref" : "argmin_ref";
  return CNNRT_OK;
}

static void arg_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                    const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const arg_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  int32_t axis;
  if (cnnrt_node_axis(node, "axis", state->axis, x->rank, &axis) != CNNRT_OK) return;
  size_t outer = 1, inner = 1;
  const size_t length = (size_t)x->dims[axis];
  for (int32_t d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
  for (int32_t d = axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
  const float* in = inputs[0].data;
  int64_t* out = outputs[0].data;
  const int is_max = node->op == ARG_MAX;
  for (size_t o = 0; o < outer; o++) {
    for (size_t i = 0; i < inner; i++) {
      const float* column = in + o * length * inner + i;
      float best = column[0];
      size_t best_index = 0;
      for (size_t k = 1; k < length; k++) {
        const float v = column[k * inner];
        const int better = is_max ? (v > best) : (v < best);
        if (better || (state->select_last_index && v == best)) {
          best = v;
          best_index = k;
        }
      }
      out[o * inner + i] = (int64_t)best_index;
    }
  }
}

const cnnrt_op_def cnnrt_op_arg_max = {
    .code = ARG_MAX, .name = "ArgMax", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0, .int64_outputs = 1,
    .create = arg_create, .destroy = cnnrt_op_state_free, .reshape = arg_reshape, .run = arg_run,
};
const cnnrt_op_def cnnrt_op_arg_min = {
    .code = ARG_MIN, .name = "ArgMin", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0, .int64_outputs = 1,
    .create = arg_create, .destroy = cnnrt_op_state_free, .reshape = arg_reshape, .run = arg_run,
};
