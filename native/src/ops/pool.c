/*
 * MaxPool, AveragePool (1-D and 2-D: ceil_mode, count_include_pad, dilations,
 * auto_pad) and GlobalAveragePool / GlobalMaxPool (any rank >= 3). Tasks are
 * whole (image, channel) planes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spatial.h"

typedef struct pool_state {
  cnnrt_window window;
  int is_max;
  int count_include_pad;
} pool_state;

typedef struct pool_geometry {
  size_t planes;               /* N * C */
  size_t in_h, in_w, out_h, out_w;
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  ptrdiff_t pad_top, pad_left, pad_bottom, pad_right;
} pool_geometry;

static cnnrt_status pool_create_common(const cnnrt_node* node, int is_max, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  pool_state state;
  memset(&state, 0, sizeof(state));
  state.is_max = is_max;
  const int64_t* kernel;
  uint32_t count;
  if ((status = cnnrt_attr_ints(node, "kernel_shape", &kernel, &count)) != CNNRT_OK) return status;
  if (kernel == NULL || count < 1 || count > 2) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'kernel_shape' expected 1 or 2 values (1-D or 2-D pooling), found %s",
                            kernel == NULL ? "none" : (count == 0 ? "0" : "more than 2"));
  }
  for (uint32_t i = 0; i < count; i++) {
    if (kernel[i] < 1 || kernel[i] > ((int64_t)1 << 30)) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'kernel_shape' expected positive sizes, found %lld at position %u",
                              (long long)kernel[i], i);
    }
  }
  state.window.kernel[0] = kernel[0];
  state.window.kernel[1] = count == 2 ? kernel[1] : 1;
  if ((status = cnnrt_window_parse(node, (int)count, 1, &state.window)) != CNNRT_OK) return status;
  int64_t ceil_mode, count_include_pad;
  if ((status = cnnrt_attr_int(node, "ceil_mode", 0, &ceil_mode)) != CNNRT_OK) return status;
  if (ceil_mode != 0 && ceil_mode != 1) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'ceil_mode' expected 0 or 1, found %lld",
                            (long long)ceil_mode);
  }
  state.window.ceil_mode = (int)ceil_mode;
  if ((status = cnnrt_attr_int(node, "count_include_pad", 0, &count_include_pad)) != CNNRT_OK) return status;
  if (count_include_pad != 0 && count_include_pad != 1) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'count_include_pad' expected 0 or 1, found %lld", (long long)count_include_pad);
  }
  state.count_include_pad = (int)count_include_pad;
  pool_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status max_pool_create(const cnnrt_graph* graph, const cnnrt_node* node, void** state) {
  return pool_create_common(node, 1, state);
}

static cnnrt_status average_pool_create(const cnnrt_graph* graph, const cnnrt_node* node, void** state) {
  return pool_create_common(node, 0, state);
}

static cnnrt_status pool_geometry_make(const cnnrt_node* node, const pool_state* state, const cnnrt_shape* x,
                                       pool_geometry* g) {
  const int spatial = state->window.spatial;
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", spatial + 2, spatial + 2);
  if (status != CNNRT_OK) return status;
  int64_t out[2] = {1, 1}, begin[2] = {0, 0}, end[2] = {0, 0};
  for (int d = 0; d < spatial; d++) {
    status = cnnrt_window_output(node, &state->window, d, x->dims[2 + d], &out[d], &begin[d], &end[d]);
    if (status != CNNRT_OK) return status;
  }
  memset(g, 0, sizeof(*g));
  g->planes = (size_t)(x->dims[0] * x->dims[1]);
  if (spatial == 2) {
    g->in_h = (size_t)x->dims[2];
    g->in_w = (size_t)x->dims[3];
    g->out_h = (size_t)out[0];
    g->out_w = (size_t)out[1];
    g->kernel_h = (size_t)state->window.kernel[0];
    g->kernel_w = (size_t)state->window.kernel[1];
    g->stride_h = (size_t)state->window.strides[0];
    g->stride_w = (size_t)state->window.strides[1];
    g->dilation_h = (size_t)state->window.dilations[0];
    g->dilation_w = (size_t)state->window.dilations[1];
    g->pad_top = (ptrdiff_t)begin[0];
    g->pad_left = (ptrdiff_t)begin[1];
    g->pad_bottom = (ptrdiff_t)end[0];
    g->pad_right = (ptrdiff_t)end[1];
  } else {
    g->in_h = g->out_h = g->kernel_h = g->stride_h = g->dilation_h = 1;
    g->in_w = (size_t)x->dims[2];
    g->out_w = (size_t)out[0];
    g->kernel_w = (size_t)state->window.kernel[0];
    g->stride_w = (size_t)state->window.strides[0];
    g->dilation_w = (size_t)state->window.dilations[0];
    g->pad_left = (ptrdiff_t)begin[0];
    g->pad_right = (ptrdiff_t)end[0];
  }
  return CNNRT_OK;
}

static cnnrt_status pool_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                 cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const pool_state* state = opaque;
  pool_geometry g;
  cnnrt_status status = pool_geometry_make(node, state, &inputs[0], &g);
  if (status != CNNRT_OK) return status;
  cnnrt_shape* y = &outputs[0];
  *y = inputs[0];
  if (state->window.spatial == 2) {
    y->dims[2] = (int64_t)g.out_h;
    y->dims[3] = (int64_t)g.out_w;
  } else {
    y->dims[2] = (int64_t)g.out_w;
  }
  info->workspace_bytes = 0;
  info->macs = (uint64_t)g.planes * g.out_h * g.out_w * g.kernel_h * g.kernel_w;
  if (state->window.spatial == 2) {
    info->kernel = state->is_max ? "maxpool2d_ref" : "avgpool2d_ref";
  } else {
    info->kernel = state->is_max ? "maxpool1d_ref" : "avgpool1d_ref";
  }
  return CNNRT_OK;
}

typedef struct pool_job {
  const pool_state* state;
  const pool_geometry* geometry;
  const float* x;
  float* y;
} pool_job;

static void pool_task(void* opaque, size_t begin, size_t end, int thread) {
  const pool_job* job = opaque;
  const pool_geometry* g = job->geometry;
  const ptrdiff_t in_h = (ptrdiff_t)g->in_h, in_w = (ptrdiff_t)g->in_w;
  for (size_t plane = begin; plane < end; plane++) {
    const float* x = job->x + plane * g->in_h * g->in_w;
    float* y = job->y + plane * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; oy++) {
      const ptrdiff_t y0 = (ptrdiff_t)(oy * g->stride_h) - g->pad_top;
      for (size_t ox = 0; ox < g->out_w; ox++) {
        const ptrdiff_t x0 = (ptrdiff_t)(ox * g->stride_w) - g->pad_left;
        if (job->state->is_max) {
          float best = -INFINITY;
          for (size_t ky = 0; ky < g->kernel_h; ky++) {
            ptrdiff_t iy = y0 + (ptrdiff_t)(ky * g->dilation_h);
            if (iy < 0 || iy >= in_h) continue;
            for (size_t kx = 0; kx < g->kernel_w; kx++) {
              ptrdiff_t ix = x0 + (ptrdiff_t)(kx * g->dilation_w);
              if (ix < 0 || ix >= in_w) continue;
              float v = x[iy * in_w + ix];
              /* NaN wins, as in ONNX Runtime's max. */
              if (v > best || v != v) best = v;
            }
          }
          y[oy * g->out_w + ox] = best;
        } else {
          float sum = 0.0f;
          size_t inside = 0, padded = 0;
          for (size_t ky = 0; ky < g->kernel_h; ky++) {
            ptrdiff_t iy = y0 + (ptrdiff_t)(ky * g->dilation_h);
            if (iy < -g->pad_top || iy >= in_h + g->pad_bottom) continue;
            int row_inside = iy >= 0 && iy < in_h;
            for (size_t kx = 0; kx < g->kernel_w; kx++) {
              ptrdiff_t ix = x0 + (ptrdiff_t)(kx * g->dilation_w);
              if (ix < -g->pad_left || ix >= in_w + g->pad_right) continue;
              /* Taps in the explicit padding count with count_include_pad;
               * taps past it (from ceil_mode) never count. */
              padded++;
              if (row_inside && ix >= 0 && ix < in_w) {
                sum += x[iy * in_w + ix];
                inside++;
              }
            }
          }
          size_t divisor = job->state->count_include_pad ? padded : inside;
          y[oy * g->out_w + ox] = divisor > 0 ? sum / (float)divisor : 0.0f;
        }
      }
    }
  }
}

static void pool_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                     const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const pool_state* state = opaque;
  pool_geometry g;
  if (pool_geometry_make(node, state, &inputs[0].shape, &g) != CNNRT_OK) return;
  pool_job job = {.state = state, .geometry = &g, .x = inputs[0].data, .y = outputs[0].data};
  cnnrt_parallel_for(context->pool, g.planes, cnnrt_task_grain(g.planes, context->threads, 1), pool_task, &job);
}

/* ---- global pools ---------------------------------------------------------- */

static cnnrt_status global_pool_create(const cnnrt_graph* graph, const cnnrt_node* node, void** state) {
  *state = NULL;
  return cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
}

static cnnrt_status global_pool_reshape(const cnnrt_node* node, const void* state, const cnnrt_shape* inputs,
                                        cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  cnnrt_status status = cnnrt_node_check_rank(node, &inputs[0], 0, "X", 3, CNNRT_MAX_RANK);
  if (status != CNNRT_OK) return status;
  outputs[0] = inputs[0];
  for (int32_t i = 2; i < inputs[0].rank; i++) outputs[0].dims[i] = 1;
  info->workspace_bytes = 0;
  info->macs = cnnrt_numel(&inputs[0]);
  info->kernel = node->op == 5 ? "global_avgpool_ref" : "global_maxpool_ref";
  return CNNRT_OK;
}

typedef struct global_pool_job {
  int is_max;
  size_t plane;
  const float* x;
  float* y;
} global_pool_job;

static void global_pool_task(void* opaque, size_t begin, size_t end, int thread) {
  const global_pool_job* job = opaque;
  for (size_t p = begin; p < end; p++) {
    const float* x = job->x + p * job->plane;
    if (job->is_max) {
      float best = -INFINITY;
      for (size_t i = 0; i < job->plane; i++) {
        if (x[i] > best || x[i] != x[i]) best = x[i];
      }
      job->y[p] = best;
    } else {
      float sum = 0.0f;
      for (size_t i = 0; i < job->plane; i++) sum += x[i];
      job->y[p] = job->plane > 0 ? sum / (float)job->plane : 0.0f;
    }
  }
}

static void global_pool_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* state,
                            const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const cnnrt_shape* x = &inputs[0].shape;
  size_t planes = (size_t)(x->dims[0] * x->dims[1]);
  global_pool_job job = {
      .is_max = node->op == 6,
      .plane = planes > 0 ? cnnrt_numel(x) / planes : 0,
      .x = inputs[0].data,
      .y = outputs[0].data,
  };
  size_t min_grain = job.plane > 0 ? 4096 / job.plane + 1 : 1;
  cnnrt_parallel_for(context->pool, planes, cnnrt_task_grain(planes, context->threads, min_grain), global_pool_task,
                     &job);
}

const cnnrt_op_def cnnrt_op_max_pool = {
    .code = 3, .name = "MaxPool", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = max_pool_create, .destroy = cnnrt_op_state_free, .reshape = pool_reshape, .run = pool_run,
};

const cnnrt_op_def cnnrt_op_average_pool = {
    .code = 4, .name = "AveragePool", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = average_pool_create, .destroy = cnnrt_op_state_free, .reshape = pool_reshape, .run = pool_run,
};

const cnnrt_op_def cnnrt_op_global_average_pool = {
    .code = 5, .name = "GlobalAveragePool", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = global_pool_create, .destroy = cnnrt_op_state_free, .reshape = global_pool_reshape, .run = global_pool_run,
};

const cnnrt_op_def cnnrt_op_global_max_pool = {
    .code = 6, .name = "GlobalMaxPool", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = global_pool_create, .destroy = cnnrt_op_state_free, .reshape = global_pool_reshape, .run = global_pool_run,
};
