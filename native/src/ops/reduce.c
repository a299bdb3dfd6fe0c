/* ReduceMean / ReduceSum / ReduceMax / ReduceMin over a set of axes. Input
 * elements are visited in memory order, so each output sums in a fixed order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

enum { REDUCE_MEAN = 92, REDUCE_SUM, REDUCE_MAX, REDUCE_MIN };

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
  info->workspace_bytes = 0;
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
  const float initial = op == REDUCE_MAX ? -INFINITY : (op == REDUCE_MIN ? INFINITY : 0.0f);
  for (size_t i = 0; i < out_count; i++) out[i] = initial;
  const size_t count = cnnrt_numel(x);
  size_t index[CNNRT_MAX_RANK] = {0};
  size_t offset = 0;
  for (size_t i = 0; i < count; i++) {
    const float v = in[i];
    float* acc = &out[offset];
    switch (op) {
      case REDUCE_MAX: if (v > *acc || v != v) *acc = v; break;
      case REDUCE_MIN: if (v < *acc || v != v) *acc = v; break;
      default: *acc += v; break;
    }
    for (int32_t d = x->rank - 1; d >= 0; d--) {
      offset += out_strides[d];
      if (++index[d] < (size_t)x->dims[d]) break;
      offset -= (size_t)x->dims[d] * out_strides[d];
      index[d] = 0;
    }
  }
  if (op == REDUCE_MEAN) {
    const float divisor = (float)group;
    for (size_t i = 0; i < out_count; i++) out[i] /= divisor;
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
