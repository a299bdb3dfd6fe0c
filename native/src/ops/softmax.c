/* Softmax and LogSoftmax along one axis (or, with coerce_2d, over all dims
 * from the axis on, as before opset 13). */
#include <math.h>
#include <stdlib.h>

#include "op_common.h"

typedef struct softmax_state {
  int64_t axis;
  int coerce_2d;
  int log;
} softmax_state;

static cnnrt_status softmax_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  softmax_state state;
  int64_t coerce;
  if ((status = cnnrt_attr_int(node, "axis", -1, &state.axis)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "coerce_2d", 0, &coerce)) != CNNRT_OK) return status;
  if (coerce != 0 && coerce != 1) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'coerce_2d' expected 0 or 1, found %lld",
                            (long long)coerce);
  }
  state.coerce_2d = (int)coerce;
  state.log = node->op == 91;
  softmax_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status softmax_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                    cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const softmax_state* state = opaque;
  int32_t axis;
  int32_t rank = inputs[0].rank > 0 ? inputs[0].rank : 1;
  cnnrt_status status = cnnrt_node_axis(node, "axis", state->axis, rank, &axis);
  if (status != CNNRT_OK) return status;
  outputs[0] = inputs[0];
  info->workspace_bytes = 0;
  info->macs = cnnrt_numel(&inputs[0]);
  info->kernel = state->log ? "log_softmax_ref" : "softmax_ref";
  return CNNRT_OK;
}

typedef struct softmax_job {
  const softmax_state* state;
  size_t length, inner;
  const float* x;
  float* y;
} softmax_job;

static void softmax_task(void* opaque, size_t begin, size_t end, int thread) {
  const softmax_job* job = opaque;
  const size_t length = job->length, inner = job->inner;
  for (size_t line = begin; line < end; line++) {
    const size_t outer = line / inner, column = line % inner;
    const float* x = job->x + outer * length * inner + column;
    float* y = job->y + outer * length * inner + column;
    float maximum = -INFINITY;
    for (size_t i = 0; i < length; i++) maximum = x[i * inner] > maximum ? x[i * inner] : maximum;
    float sum = 0.0f;
    if (job->state->log) {
      for (size_t i = 0; i < length; i++) sum += expf(x[i * inner] - maximum);
      const float shift = maximum + logf(sum);
      for (size_t i = 0; i < length; i++) y[i * inner] = x[i * inner] - shift;
    } else {
      for (size_t i = 0; i < length; i++) {
        float e = expf(x[i * inner] - maximum);
        y[i * inner] = e;
        sum += e;
      }
      const float scale = 1.0f / sum;
      for (size_t i = 0; i < length; i++) y[i * inner] *= scale;
    }
  }
}

static void softmax_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                        const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const softmax_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  const int32_t rank = x->rank > 0 ? x->rank : 1;
  const int32_t axis = (int32_t)(state->axis < 0 ? state->axis + rank : state->axis);
  size_t outer = 1, length = 1, inner = 1;
  for (int32_t d = 0; d < x->rank; d++) {
    size_t dim = (size_t)x->dims[d];
    if (d < axis) outer *= dim;
    else if (d == axis || state->coerce_2d) length *= dim;
    else inner *= dim;
  }
  if (outer * length * inner == 0) return;
  softmax_job job = {.state = state, .length = length, .inner = inner, .x = inputs[0].data, .y = outputs[0].data};
  size_t lines = outer * inner;
  size_t min_grain = 4096 / length + 1;
  cnnrt_parallel_for(context->pool, lines, cnnrt_task_grain(lines, context->threads, min_grain), softmax_task, &job);
}

const cnnrt_op_def cnnrt_op_softmax = {
    .code = 90, .name = "Softmax", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = softmax_create, .destroy = cnnrt_op_state_free, .reshape = softmax_reshape, .run = softmax_run,
};
const cnnrt_op_def cnnrt_op_log_softmax = {
    .code = 91, .name = "LogSoftmax", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = softmax_create, .destroy = cnnrt_op_state_free, .reshape = softmax_reshape, .run = softmax_run,
};
