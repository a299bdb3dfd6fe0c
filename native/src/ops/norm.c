/* BatchNormalization (inference form, folded to a per-channel scale and
 * shift at load time) and LRN across channels. */
#include <math.h>
#include <stdlib.h>

#include "op_common.h"

#define NORM_GRAIN_ELEMENTS 8192

typedef struct batch_norm_state {
  size_t channels;
  float* scale; /* channels scales then channels shifts */
} batch_norm_state;

static void batch_norm_destroy(void* opaque) {
  batch_norm_state* state = opaque;
  if (state == NULL) return;
  free(state->scale);
  free(state);
}

static cnnrt_status batch_norm_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 5, 5, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  static const char* const roles[4] = {"scale", "B", "mean", "var"};
  const cnnrt_tensor_def* params[4];
  for (uint32_t i = 0; i < 4; i++) {
    if ((status = cnnrt_node_constant_f32(graph, node, i + 1, roles[i], 1, 1, &params[i])) != CNNRT_OK) return status;
    if (params[i]->shape.dims[0] != params[0]->shape.dims[0]) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "input %u (%s) expected %lld values (as scale), found %lld", i + 1, roles[i],
                              (long long)params[0]->shape.dims[0], (long long)params[i]->shape.dims[0]);
    }
  }
  float epsilon;
  if ((status = cnnrt_attr_float(node, "epsilon", 1e-5f, &epsilon)) != CNNRT_OK) return status;
  batch_norm_state* state = malloc(sizeof(*state));
  if (state == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  state->channels = (size_t)params[0]->shape.dims[0];
  state->scale = malloc((2 * state->channels + 1) * sizeof(float));
  if (state->scale == NULL) {
    free(state);
    return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  }
  const float* scale = params[0]->data;
  const float* bias = params[1]->data;
  const float* mean = params[2]->data;
  const float* var = params[3]->data;
  for (size_t c = 0; c < state->channels; c++) {
    float s = scale[c] / sqrtf(var[c] + epsilon);
    state->scale[c] = s;
    state->scale[state->channels + c] = bias[c] - mean[c] * s;
  }
  *out_state = state;
  return CNNRT_OK;
}

static cnnrt_status channels_check(const cnnrt_node* node, const cnnrt_shape* x, size_t channels) {
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", 2, CNNRT_MAX_RANK);
  if (status != CNNRT_OK) return status;
  if (channels != 0 && x->dims[1] != (int64_t)channels) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node, "input 0 (X) expected %zu channels, found %lld (shape %s)",
                            channels, (long long)x->dims[1], cnnrt_shape_format(x, text, sizeof(text)));
  }
  return CNNRT_OK;
}

static cnnrt_status batch_norm_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                       cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const batch_norm_state* state = opaque;
  cnnrt_status status = channels_check(node, &inputs[0], state->channels);
  if (status != CNNRT_OK) return status;
  outputs[0] = inputs[0];
  info->workspace_bytes = 0;
  info->macs = cnnrt_numel(&inputs[0]);
  info->kernel = "batch_norm_ref";
  return CNNRT_OK;
}

typedef struct plane_job {
  const void* state;
  size_t channels, plane;
  const float* x;
  float* y;
  float alpha, beta, bias;
  int64_t size;
} plane_job;

static void batch_norm_task(void* opaque, size_t begin, size_t end, int thread) {
  const plane_job* job = opaque;
  const batch_norm_state* state = job->state;
  for (size_t p = begin; p < end; p++) {
    const size_t c = p % job->channels;
    const float scale = state->scale[c], shift = state->scale[job->channels + c];
    const float* x = job->x + p * job->plane;
    float* y = job->y + p * job->plane;
    for (size_t i = 0; i < job->plane; i++) y[i] = x[i] * scale + shift;
  }
}

static void plane_counts(const cnnrt_shape* x, size_t* planes, size_t* plane) {
  *planes = (size_t)(x->dims[0] * x->dims[1]);
  *plane = 1;
  for (int32_t d = 2; d < x->rank; d++) *plane *= (size_t)x->dims[d];
}

static void batch_norm_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                           const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const batch_norm_state* state = opaque;
  plane_job job = {.state = state, .channels = state->channels, .x = inputs[0].data, .y = outputs[0].data};
  size_t planes;
  plane_counts(&inputs[0].shape, &planes, &job.plane);
  size_t min_grain = NORM_GRAIN_ELEMENTS / (job.plane + 1) + 1;
  cnnrt_parallel_for(context->pool, planes, cnnrt_task_grain(planes, context->threads, min_grain), batch_norm_task, &job);
}

/* ---- LRN ------------------------------------------------------------------- */

typedef struct lrn_state {
  int64_t size;
  float alpha, beta, bias;
} lrn_state;

static cnnrt_status lrn_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  lrn_state state;
  if (cnnrt_node_attr(node, "size") == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'size' is required, found none");
  }
  if ((status = cnnrt_attr_int(node, "size", 1, &state.size)) != CNNRT_OK) return status;
  if (state.size < 1 || state.size > 65536) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'size' expected a positive value, found %lld",
                            (long long)state.size);
  }
  if ((status = cnnrt_attr_float(node, "alpha", 1e-4f, &state.alpha)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_float(node, "beta", 0.75f, &state.beta)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_float(node, "bias", 1.0f, &state.bias)) != CNNRT_OK) return status;
  lrn_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status lrn_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const lrn_state* state = opaque;
  cnnrt_status status = channels_check(node, &inputs[0], 0);
  if (status != CNNRT_OK) return status;
  outputs[0] = inputs[0];
  info->workspace_bytes = 0;
  info->macs = cnnrt_numel(&inputs[0]) * (uint64_t)state->size;
  info->kernel = "lrn_ref";
  return CNNRT_OK;
}

static void lrn_task(void* opaque, size_t begin, size_t end, int thread) {
  const plane_job* job = opaque;
  const int64_t channels = (int64_t)job->channels;
  const int64_t before = (job->size - 1) / 2, after = job->size - 1 - before;
  const float coefficient = job->alpha / (float)job->size;
  for (size_t p = begin; p < end; p++) {
    const int64_t c = (int64_t)(p % job->channels);
    const float* image = job->x + (p - (size_t)c) * job->plane;
    const int64_t first = c - before < 0 ? 0 : c - before;
    const int64_t last = c + after >= channels ? channels - 1 : c + after;
    const float* x = job->x + p * job->plane;
    float* y = job->y + p * job->plane;
    for (size_t i = 0; i < job->plane; i++) {
      float sum = 0.0f;
      for (int64_t k = first; k <= last; k++) {
        float v = image[(size_t)k * job->plane + i];
        sum += v * v;
      }
      y[i] = x[i] / powf(job->bias + coefficient * sum, job->beta);
    }
  }
}

static void lrn_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                    const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const lrn_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  plane_job job = {.state = state, .channels = (size_t)x->dims[1], .x = inputs[0].data, .y = outputs[0].data,
                   .alpha = state->alpha, .beta = state->beta, .bias = state->bias, .size = state->size};
  size_t planes;
  plane_counts(x, &planes, &job.plane);
  if (job.channels == 0) return;
  size_t min_grain = NORM_GRAIN_ELEMENTS / (job.plane + 1) + 1;
  cnnrt_parallel_for(context->pool, planes, cnnrt_task_grain(planes, context->threads, min_grain), lrn_task, &job);
}

const cnnrt_op_def cnnrt_op_batch_normalization = {
    .code = 100, .name = "BatchNormalization", .min_inputs = 5, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = batch_norm_create, .destroy = batch_norm_destroy, .reshape = batch_norm_reshape, .run = batch_norm_run,
};
const cnnrt_op_def cnnrt_op_lrn = {
    .code = 101, .name = "LRN", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = lrn_create, .destroy = cnnrt_op_state_free, .reshape = lrn_reshape, .run = lrn_run,
};
