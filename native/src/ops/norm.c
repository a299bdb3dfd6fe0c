/* BatchNormalization (inference form, folded to a per-channel scale and
 * shift at load time), LRN across channels, and the normalisations that take
 * statistics at run time: InstanceNormalization and GroupNormalization (per
 * (image, group) over channels-in-group x spatial, then a per-channel scale
 * and bias) and LayerNormalization (over the dims from `axis` on). Statistics
 * are two-pass (mean, then mean of squared deviations) in float32. */
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

/* ---- InstanceNormalization / GroupNormalization ------------------------- */

typedef struct group_norm_state {
  size_t channels, groups;
  float epsilon;
  const float* scale; /* channels values each, in the model */
  const float* bias;
} group_norm_state;

static cnnrt_status group_norm_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 3, 3, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  const cnnrt_tensor_def *scale, *bias;
  if ((status = cnnrt_node_constant_f32(graph, node, 1, "scale", 1, 1, &scale)) != CNNRT_OK) return status;
  if ((status = cnnrt_node_constant_f32(graph, node, 2, "B", 1, 1, &bias)) != CNNRT_OK) return status;
  if (bias->shape.dims[0] != scale->shape.dims[0]) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input 2 (B) expected %lld values (as scale), found %lld",
                            (long long)scale->shape.dims[0], (long long)bias->shape.dims[0]);
  }
  group_norm_state state = {.channels = (size_t)scale->shape.dims[0], .scale = scale->data, .bias = bias->data};
  if ((status = cnnrt_attr_float(node, "epsilon", 1e-5f, &state.epsilon)) != CNNRT_OK) return status;
  state.groups = state.channels;
  if (node->op == 104) {
    int64_t groups;
    if (cnnrt_node_attr(node, "num_groups") == NULL) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'num_groups' is required, found none");
    }
    if ((status = cnnrt_attr_int(node, "num_groups", 1, &groups)) != CNNRT_OK) return status;
    if (groups < 1 || state.channels % (size_t)groups != 0) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'num_groups' expected a positive divisor of the %zu channels, found %lld",
                              state.channels, (long long)groups);
    }
    state.groups = (size_t)groups;
  }
  group_norm_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status group_norm_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                       cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const group_norm_state* state = opaque;
  cnnrt_status status = channels_check(node, &inputs[0], state->channels);
  if (status != CNNRT_OK) return status;
  outputs[0] = inputs[0];
  info->workspace_bytes = 0;
  info->macs = 3 * cnnrt_numel(&inputs[0]);
  info->kernel = node->op == 104 ? "group_norm_ref" : "instance_norm_ref";
  return CNNRT_OK;
}

/* Normalises `count` contiguous values: y = (x - mean) / sqrt(var + epsilon),
 * times scale[i / run] plus bias[i / run] (one scale per run of values). */
static void normalize_span(const float* x, float* y, size_t count, size_t run, const float* scale, const float* bias,
                           float epsilon, float* mean_out, float* inv_std_out) {
  float sum = 0.0f;
  for (size_t i = 0; i < count; i++) sum += x[i];
  const float mean = count > 0 ? sum / (float)count : 0.0f;
  float squares = 0.0f;
  for (size_t i = 0; i < count; i++) {
    const float d = x[i] - mean;
    squares += d * d;
  }
  const float variance = count > 0 ? squares / (float)count : 0.0f;
  const float inv_std = 1.0f / sqrtf(variance + epsilon);
  if (mean_out != NULL) *mean_out = mean;
  if (inv_std_out != NULL) *inv_std_out = inv_std;
  for (size_t i = 0; i < count; i++) {
    const size_t k = i / run;
    const float normalized = (x[i] - mean) * inv_std;
    y[i] = normalized * scale[k] + (bias != NULL ? bias[k] : 0.0f);
  }
}

typedef struct group_norm_job {
  const group_norm_state* state;
  size_t plane;
  const float* x;
  float* y;
} group_norm_job;

static void group_norm_task(void* opaque, size_t begin, size_t end, int thread) {
  const group_norm_job* job = opaque;
  const group_norm_state* state = job->state;
  const size_t per_group = state->channels / state->groups;
  const size_t span = per_group * job->plane;
  for (size_t g = begin; g < end; g++) {
    const size_t first_channel = (g % state->groups) * per_group;
    normalize_span(job->x + g * span, job->y + g * span, span, job->plane, state->scale + first_channel,
                   state->bias + first_channel, state->epsilon, NULL, NULL);
  }
}

static void group_norm_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                           const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const group_norm_state* state = opaque;
  size_t planes;
  group_norm_job job = {.state = state, .x = inputs[0].data, .y = outputs[0].data};
  plane_counts(&inputs[0].shape, &planes, &job.plane);
  if (job.plane == 0) return;
  const size_t groups = (size_t)inputs[0].shape.dims[0] * state->groups;
  const size_t span = state->channels / state->groups * job.plane;
  cnnrt_parallel_for(context->pool, groups, cnnrt_task_grain(groups, context->threads, NORM_GRAIN_ELEMENTS / span + 1),
                     group_norm_task, &job);
}

/* ---- LayerNormalization ------------------------------------------------------ */

typedef struct layer_norm_state {
  int64_t axis;
  float epsilon;
  size_t size;        /* values in scale (and bias): the normalised block */
  const float* scale;
  const float* bias;  /* NULL: none */
} layer_norm_state;

static cnnrt_status layer_norm_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 2, 3, 1, 3, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  const cnnrt_tensor_def *scale, *bias = NULL;
  if ((status = cnnrt_node_constant_f32(graph, node, 1, "Scale", 0, CNNRT_MAX_RANK, &scale)) != CNNRT_OK) return status;
  layer_norm_state state = {.scale = scale->data, .size = (size_t)cnnrt_shape_numel(&scale->shape)};
  if (cnnrt_node_has_input(node, 2)) {
    if ((status = cnnrt_node_constant_f32(graph, node, 2, "B", 0, CNNRT_MAX_RANK, &bias)) != CNNRT_OK) return status;
    if ((size_t)cnnrt_shape_numel(&bias->shape) != state.size) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input 2 (B) expected %zu values (as Scale), found %lld",
                              state.size, (long long)cnnrt_shape_numel(&bias->shape));
    }
    state.bias = bias->data;
  }
  if ((status = cnnrt_attr_int(node, "axis", -1, &state.axis)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_float(node, "epsilon", 1e-5f, &state.epsilon)) != CNNRT_OK) return status;
  layer_norm_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

/* Rows (the dims before axis) and the normalised block (the dims from axis on). */
static cnnrt_status layer_norm_split(const cnnrt_node* node, const layer_norm_state* state, const cnnrt_shape* x,
                                     int32_t* axis, size_t* rows, size_t* block) {
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", 1, CNNRT_MAX_RANK);
  if (status != CNNRT_OK) return status;
  if ((status = cnnrt_node_axis(node, "axis", state->axis, x->rank, axis)) != CNNRT_OK) return status;
  *rows = 1;
  *block = 1;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < *axis) *rows *= (size_t)x->dims[d];
    else *block *= (size_t)x->dims[d];
  }
  return CNNRT_OK;
}

static cnnrt_status layer_norm_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                       cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const layer_norm_state* state = opaque;
  int32_t axis;
  size_t rows, block;
  cnnrt_status status = layer_norm_split(node, state, &inputs[0], &axis, &rows, &block);
  if (status != CNNRT_OK) return status;
  if (block != state->size) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) expected %zu values from axis %d on (as Scale), found %zu (shape %s)",
                            state->size, axis, block, cnnrt_shape_format(&inputs[0], text, sizeof(text)));
  }
  outputs[0] = inputs[0];
  for (uint32_t k = 1; k < node->output_count; k++) {
    outputs[k] = inputs[0];
    for (int32_t d = axis; d < inputs[0].rank; d++) outputs[k].dims[d] = 1;
  }
  info->workspace_bytes = 0;
  info->macs = 3 * cnnrt_numel(&inputs[0]);
  info->kernel = "layer_norm_ref";
  return CNNRT_OK;
}

typedef struct layer_norm_job {
  const layer_norm_state* state;
  size_t block;
  const float* x;
  float* y;
  float* mean;     /* NULL when the output is not wanted */
  float* inv_std;
} layer_norm_job;

static void layer_norm_task(void* opaque, size_t begin, size_t end, int thread) {
  const layer_norm_job* job = opaque;
  const layer_norm_state* state = job->state;
  for (size_t r = begin; r < end; r++) {
    normalize_span(job->x + r * job->block, job->y + r * job->block, job->block, 1, state->scale, state->bias,
                   state->epsilon, job->mean != NULL ? &job->mean[r] : NULL,
                   job->inv_std != NULL ? &job->inv_std[r] : NULL);
  }
}

static void layer_norm_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                           const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const layer_norm_state* state = opaque;
  int32_t axis;
  size_t rows;
  layer_norm_job job = {.state = state, .x = inputs[0].data, .y = outputs[0].data,
                        .mean = node->output_count > 1 ? outputs[1].data : NULL,
                        .inv_std = node->output_count > 2 ? outputs[2].data : NULL};
  if (layer_norm_split(node, state, &inputs[0].shape, &axis, &rows, &job.block) != CNNRT_OK) return;
  cnnrt_parallel_for(context->pool, rows,
                     cnnrt_task_grain(rows, context->threads, NORM_GRAIN_ELEMENTS / (job.block + 1) + 1),
                     layer_norm_task, &job);
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
const cnnrt_op_def cnnrt_op_instance_normalization = {
    .code = 102, .name = "InstanceNormalization", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = group_norm_create, .destroy = cnnrt_op_state_free, .reshape = group_norm_reshape, .run = group_norm_run,
};
const cnnrt_op_def cnnrt_op_layer_normalization = {
    .code = 103, .name = "LayerNormalization", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 3,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = layer_norm_create, .destroy = cnnrt_op_state_free, .reshape = layer_norm_reshape, .run = layer_norm_run,
};
const cnnrt_op_def cnnrt_op_group_normalization = {
    .code = 104, .name = "GroupNormalization", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = group_norm_create, .destroy = cnnrt_op_state_free, .reshape = group_norm_reshape, .run = group_norm_run,
};
