/*
 * MaxPool, AveragePool and LpPool (1-D, 2-D and 3-D: ceil_mode,
 * count_include_pad, dilations, auto_pad) and GlobalAveragePool /
 * GlobalMaxPool (any rank >= 3). Tasks are whole (image, channel) planes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spatial.h"

enum { POOL_MAX, POOL_AVERAGE, POOL_LP };

#define POOL_MAX_SPATIAL CNNRT_WINDOW_MAX_SPATIAL

typedef struct pool_state {
  int kind;  /* POOL_* */
  cnnrt_window window;  /* 1-D, 2-D or 3-D, with ceil_mode */
  int count_include_pad;
  float p;   /* LpPool exponent */
} pool_state;

/* Spatial dims are kept as (depth, height, width); 1-D and 2-D pools have
 * leading dims of size 1. */
typedef struct pool_geometry {
  size_t planes;  /* N * C */
  size_t in[POOL_MAX_SPATIAL], out[POOL_MAX_SPATIAL], kernel[POOL_MAX_SPATIAL], stride[POOL_MAX_SPATIAL],
      dilation[POOL_MAX_SPATIAL];
  ptrdiff_t pad_begin[POOL_MAX_SPATIAL], pad_end[POOL_MAX_SPATIAL];
} pool_geometry;

static cnnrt_status pool_flag(const cnnrt_node* node, const char* name, int* value) {
  int64_t flag;
  cnnrt_status status = cnnrt_attr_int(node, name, 0, &flag);
  if (status != CNNRT_OK) return status;
  if (flag != 0 && flag != 1) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute '%s' expected 0 or 1, found %lld", name,
                            (long long)flag);
  }
  *value = (int)flag;
  return CNNRT_OK;
}

static cnnrt_status pool_create_common(const cnnrt_node* node, int kind, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  pool_state state;
  memset(&state, 0, sizeof(state));
  state.kind = kind;
  const int64_t* kernel;
  uint32_t count;
  if ((status = cnnrt_attr_ints(node, "kernel_shape", &kernel, &count)) != CNNRT_OK) return status;
  if (kernel == NULL || count < 1 || count > POOL_MAX_SPATIAL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'kernel_shape' expected 1 to 3 values (1-D to 3-D pooling), found %s",
                            kernel == NULL ? "none" : (count == 0 ? "0" : "more than 3"));
  }
  const int spatial = (int)count;
  status = cnnrt_window_read_ints(node, "kernel_shape", spatial, spatial, 1, 1, state.window.kernel);
  if (status != CNNRT_OK) return status;
  if ((status = cnnrt_window_parse(node, spatial, 1, &state.window)) != CNNRT_OK) return status;
  if ((status = pool_flag(node, "ceil_mode", &state.window.ceil_mode)) != CNNRT_OK) return status;
  if ((status = pool_flag(node, "count_include_pad", &state.count_include_pad)) != CNNRT_OK) return status;
  if (kind == POOL_LP) {
    int64_t p;
    if ((status = cnnrt_attr_int(node, "p", 2, &p)) != CNNRT_OK) return status;
    if (p < 1 || p > 64) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'p' expected 1..64, found %lld", (long long)p);
    }
    state.p = (float)p;
  }
  pool_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status max_pool_create(const cnnrt_graph* graph, const cnnrt_node* node, void** state) {
  return pool_create_common(node, POOL_MAX, state);
}

static cnnrt_status average_pool_create(const cnnrt_graph* graph, const cnnrt_node* node, void** state) {
  return pool_create_common(node, POOL_AVERAGE, state);
}

static cnnrt_status lp_pool_create(const cnnrt_graph* graph, const cnnrt_node* node, void** state) {
  return pool_create_common(node, POOL_LP, state);
}

static cnnrt_status pool_geometry_make(const cnnrt_node* node, const pool_state* state, const cnnrt_shape* x,
                                       pool_geometry* g) {
  const int spatial = state->window.spatial;
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", spatial + 2, spatial + 2);
  if (status != CNNRT_OK) return status;
  g->planes = (size_t)(x->dims[0] * x->dims[1]);
  for (int d = 0; d < POOL_MAX_SPATIAL; d++) {
    g->in[d] = g->out[d] = g->kernel[d] = g->stride[d] = g->dilation[d] = 1;
    g->pad_begin[d] = g->pad_end[d] = 0;
  }
  for (int d = 0; d < spatial; d++) {
    int64_t out = 0, begin = 0, end = 0;
    if ((status = cnnrt_window_output(node, &state->window, d, x->dims[2 + d], &out, &begin, &end)) != CNNRT_OK) return status;
    const int k = POOL_MAX_SPATIAL - spatial + d;
    g->in[k] = (size_t)x->dims[2 + d];
    g->out[k] = (size_t)out;
    g->kernel[k] = (size_t)state->window.kernel[d];
    g->stride[k] = (size_t)state->window.strides[d];
    g->dilation[k] = (size_t)state->window.dilations[d];
    g->pad_begin[k] = (ptrdiff_t)begin;
    g->pad_end[k] = (ptrdiff_t)end;
  }
  return CNNRT_OK;
}

/* The SIMD plane kernel for this pool, or NULL when the reference loops
 * must run (no kernel at this ISA level, 3-D, dilations, LpPool, wide rows). */
static cnnrt_f32_pool2d_fn pool_plane_kernel(const pool_state* state, const pool_geometry* g,
                                              cnnrt_pool2d_geometry* plane) {
  const cnnrt_f32_pool_config* config = cnnrt_f32_pool_config_get();
  if (config->pool2d == NULL || state->kind == POOL_LP || g->in[0] != 1 || g->out[0] != 1 || g->kernel[0] != 1 ||
      g->dilation[1] != 1 || g->dilation[2] != 1) {
    return NULL;
  }
  memset(plane, 0, sizeof(*plane));
  plane->in_h = g->in[1];
  plane->in_w = g->in[2];
  plane->out_h = g->out[1];
  plane->out_w = g->out[2];
  plane->kernel_h = g->kernel[1];
  plane->kernel_w = g->kernel[2];
  plane->stride_h = g->stride[1];
  plane->stride_w = g->stride[2];
  plane->pad_top = g->pad_begin[1];
  plane->pad_left = g->pad_begin[2];
  plane->pad_bottom = g->pad_end[1];
  plane->pad_right = g->pad_end[2];
  plane->count_include_pad = state->count_include_pad;
  return cnnrt_f32_pool2d_supports(plane) ? config->pool2d : NULL;
}

static cnnrt_status pool_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                 cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const pool_state* state = opaque;
  pool_geometry g;
  cnnrt_status status = pool_geometry_make(node, state, &inputs[0], &g);
  if (status != CNNRT_OK) return status;
  cnnrt_shape* y = &outputs[0];
  *y = inputs[0];
  for (int d = 0; d < state->window.spatial; d++) y->dims[2 + d] = (int64_t)g.out[POOL_MAX_SPATIAL - state->window.spatial + d];
  info->workspace_bytes = 0;
  info->macs = (uint64_t)g.planes;
  for (int d = 0; d < POOL_MAX_SPATIAL; d++) info->macs *= (uint64_t)(g.out[d] * g.kernel[d]);
  static const char* const names[3][3] = {{"maxpool1d_ref", "maxpool2d_ref", "maxpool3d_ref"},
                                          {"avgpool1d_ref", "avgpool2d_ref", "avgpool3d_ref"},
                                          {"lppool1d_ref", "lppool2d_ref", "lppool3d_ref"}};
  info->kernel = names[state->kind][state->window.spatial - 1];
  cnnrt_pool2d_geometry plane;
  if (pool_plane_kernel(state, &g, &plane) != NULL) {
    /* The SIMD kernel's name: its config's ISA level (avx2 or avx512). */
    const int avx2 = strcmp(cnnrt_f32_pool_config_get()->name, "avx2") == 0;
    info->kernel = state->kind == POOL_MAX ? (avx2 ? "maxpool2d_avx2" : "maxpool2d_avx512")
                                           : (avx2 ? "avgpool2d_avx2" : "avgpool2d_avx512");
  }
  return CNNRT_OK;
}

typedef struct pool_job {
  const pool_state* state;
  const pool_geometry* geometry;
  const float* x;
  float* y;
  cnnrt_f32_pool2d_fn plane_kernel;    /* NULL: the reference loops */
  const cnnrt_pool2d_geometry* plane;
} pool_job;

/* One output value: the window starting at (z0, y0, x0) in input coordinates. */
static float pool_window(const pool_state* state, const pool_geometry* g, const float* x, ptrdiff_t z0, ptrdiff_t y0,
                         ptrdiff_t x0) {
  const ptrdiff_t in_d = (ptrdiff_t)g->in[0], in_h = (ptrdiff_t)g->in[1], in_w = (ptrdiff_t)g->in[2];
  float best = -INFINITY, sum = 0.0f;
  size_t inside = 0, padded = 0;
  for (size_t kz = 0; kz < g->kernel[0]; kz++) {
    const ptrdiff_t iz = z0 + (ptrdiff_t)(kz * g->dilation[0]);
    if (iz < -g->pad_begin[0] || iz >= in_d + g->pad_end[0]) continue;
    const int plane_inside = iz >= 0 && iz < in_d;
    for (size_t ky = 0; ky < g->kernel[1]; ky++) {
      const ptrdiff_t iy = y0 + (ptrdiff_t)(ky * g->dilation[1]);
      if (iy < -g->pad_begin[1] || iy >= in_h + g->pad_end[1]) continue;
      const int row_inside = plane_inside && iy >= 0 && iy < in_h;
      for (size_t kx = 0; kx < g->kernel[2]; kx++) {
        const ptrdiff_t ix = x0 + (ptrdiff_t)(kx * g->dilation[2]);
        if (ix < -g->pad_begin[2] || ix >= in_w + g->pad_end[2]) continue;
        /* Taps in the explicit padding count with count_include_pad; taps
         * past it (from ceil_mode) never count. */
        padded++;
        if (!row_inside || ix < 0 || ix >= in_w) continue;
        const float v = x[(iz * in_h + iy) * in_w + ix];
        inside++;
        switch (state->kind) {
          /* NaN wins, as in ONNX Runtime's max. */
          case POOL_MAX: if (v > best || v != v) best = v; break;
          case POOL_AVERAGE: sum += v; break;
          default: {
            const float a = fabsf(v);
            sum += state->p == 1.0f ? a : (state->p == 2.0f ? a * a : powf(a, state->p));
            break;
          }
        }
      }
    }
  }
  switch (state->kind) {
    case POOL_MAX: return best;
    case POOL_AVERAGE: {
      const size_t divisor = state->count_include_pad ? padded : inside;
      return divisor > 0 ? sum / (float)divisor : 0.0f;
    }
    default: return state->p == 1.0f ? sum : (state->p == 2.0f ? sqrtf(sum) : powf(sum, 1.0f / state->p));
  }
}

static void pool_task(void* opaque, size_t begin, size_t end, int thread) {
  const pool_job* job = opaque;
  const pool_geometry* g = job->geometry;
  const size_t in_plane = g->in[0] * g->in[1] * g->in[2], out_plane = g->out[0] * g->out[1] * g->out[2];
  for (size_t plane = begin; plane < end; plane++) {
    const float* x = job->x + plane * in_plane;
    float* y = job->y + plane * out_plane;
    if (job->plane_kernel != NULL) {
      job->plane_kernel(job->plane, job->state->kind == POOL_MAX ? CNNRT_POOL2D_MAX : CNNRT_POOL2D_AVERAGE, x, y);
      continue;
    }
    for (size_t oz = 0; oz < g->out[0]; oz++) {
      const ptrdiff_t z0 = (ptrdiff_t)(oz * g->stride[0]) - g->pad_begin[0];
      for (size_t oy = 0; oy < g->out[1]; oy++) {
        const ptrdiff_t y0 = (ptrdiff_t)(oy * g->stride[1]) - g->pad_begin[1];
        for (size_t ox = 0; ox < g->out[2]; ox++) {
          const ptrdiff_t x0 = (ptrdiff_t)(ox * g->stride[2]) - g->pad_begin[2];
          *y++ = pool_window(job->state, g, x, z0, y0, x0);
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
  cnnrt_pool2d_geometry plane;
  pool_job job = {.state = state, .geometry = &g, .x = inputs[0].data, .y = outputs[0].data};
  job.plane_kernel = pool_plane_kernel(state, &g, &plane);
  job.plane = &plane;
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
  const cnnrt_f32_pool_config* config = cnnrt_f32_pool_config_get();
  const char* simd = strcmp(config->name, "avx2") == 0 ? "global_avgpool_avx2" : "global_avgpool_avx512";
  info->kernel = node->op == 5 ? (config->global_average != NULL ? simd : "global_avgpool_ref") : "global_maxpool_ref";
  return CNNRT_OK;
}

typedef struct global_pool_job {
  int is_max;
  cnnrt_f32_global_average_fn average; /* NULL: the reference loop */
  size_t plane;
  const float* x;
  float* y;
} global_pool_job;

static void global_pool_task(void* opaque, size_t begin, size_t end, int thread) {
  const global_pool_job* job = opaque;
  if (!job->is_max && job->average != NULL) {
    job->average(job->x + begin * job->plane, job->plane, end - begin, job->y + begin);
    return;
  }
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
      .average = cnnrt_f32_pool_config_get()->global_average,
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

const cnnrt_op_def cnnrt_op_lp_pool = {
    .code = 9, .name = "LpPool", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = lp_pool_create, .destroy = cnnrt_op_state_free, .reshape = pool_reshape, .run = pool_run,
};
