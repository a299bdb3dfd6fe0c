/*
 * Resize: nearest (any dims, every nearest_mode), linear and cubic (the last
 * two dims, or the last one), with every coordinate transformation mode
 * in docs/ops.md; output size from scales or sizes, and per dim optionally
 * from a dim of a reference input (sizes_from) whose shape, never its data,
 * is read. Source coordinates are computed once per run into the workspace,
 * then planes are filled in parallel.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

enum { RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_CUBIC };
enum { COORD_HALF_PIXEL, COORD_ASYMMETRIC, COORD_ALIGN_CORNERS, COORD_PYTORCH_HALF_PIXEL, COORD_TF_HALF_PIXEL };
enum { NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL };

typedef struct resize_state {
  int mode, coordinates, nearest;
  float cubic_a;        /* cubic_coeff_a */
  int exclude_outside;  /* cubic: taps outside the input get weight 0, the rest renormalised */
  const double* scales; /* one per dim, or NULL */
  const int64_t* sizes; /* one per dim (-1 keeps), or NULL */
  uint32_t count;       /* values in scales / sizes / sizes_from (one per dim) */
  const int64_t* sizes_from; /* one per dim: dim of input 1 (Reference) giving the size, -1 = not; or NULL */
} resize_state;

static int pick(const char* value, const char* const* names, int count) {
  for (int i = 0; i < count; i++) {
    if (strcmp(value, names[i]) == 0) return i;
  }
  return -1;
}

static cnnrt_status resize_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 2, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  static const char* const modes[] = {"nearest", "linear", "cubic"};
  static const char* const coordinates[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                                            "tf_half_pixel_for_nn"};
  static const char* const nearest_modes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  resize_state state;
  memset(&state, 0, sizeof(state));
  const char* text;
  if ((status = cnnrt_attr_string(node, "mode", "nearest", &text)) != CNNRT_OK) return status;
  if ((state.mode = pick(text, modes, 3)) < 0) {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node,
                            "attribute 'mode' expected \"nearest\", \"linear\" or \"cubic\", found \"%s\"", text);
  }
  if ((status = cnnrt_attr_float(node, "cubic_coeff_a", -0.75f, &state.cubic_a)) != CNNRT_OK) return status;
  int64_t exclude_outside;
  if ((status = cnnrt_attr_int(node, "exclude_outside", 0, &exclude_outside)) != CNNRT_OK) return status;
  if (exclude_outside != 0 && exclude_outside != 1) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'exclude_outside' expected 0 or 1, found %lld",
                            (long long)exclude_outside);
  }
  state.exclude_outside = (int)exclude_outside;
  if ((status = cnnrt_attr_string(node, "coordinate_transformation_mode", "half_pixel", &text)) != CNNRT_OK) return status;
  if ((state.coordinates = pick(text, coordinates, 5)) < 0) {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node,
                            "attribute 'coordinate_transformation_mode' expected half_pixel, asymmetric, align_corners, pytorch_half_pixel or tf_half_pixel_for_nn, found \"%s\"",
                            text);
  }
  if ((status = cnnrt_attr_string(node, "nearest_mode", "round_prefer_floor", &text)) != CNNRT_OK) return status;
  if ((state.nearest = pick(text, nearest_modes, 4)) < 0) {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node,
                            "attribute 'nearest_mode' expected round_prefer_floor, round_prefer_ceil, floor or ceil, found \"%s\"",
                            text);
  }
  uint32_t scale_count, size_count, from_count;
  if ((status = cnnrt_attr_floats(node, "scales", &state.scales, &scale_count)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_ints(node, "sizes", &state.sizes, &size_count)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_ints(node, "sizes_from", &state.sizes_from, &from_count)) != CNNRT_OK) return status;
  const int has_reference = cnnrt_node_has_input(node, 1);
  if ((state.sizes_from != NULL) != has_reference) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'sizes_from' and input 1 (Reference) go together, found %s",
                            has_reference ? "the input without the attribute" : "the attribute without the input");
  }
  if (state.scales != NULL && state.sizes != NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "expected one of the attributes 'scales' and 'sizes', found both");
  }
  if (state.scales == NULL && state.sizes == NULL && state.sizes_from == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "expected one of the attributes 'scales', 'sizes' and 'sizes_from', found none");
  }
  state.count = state.scales != NULL ? scale_count : (state.sizes != NULL ? size_count : from_count);
  if (state.sizes_from != NULL && from_count != state.count) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'sizes_from' expected %u values (one per dim, as '%s'), found %u", state.count,
                            state.scales != NULL ? "scales" : "sizes", from_count);
  }
  for (uint32_t i = 0; i < state.count; i++) {
    if (state.scales != NULL && !(state.scales[i] > 0.0 && state.scales[i] < 1e6)) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'scales' expected positive values, found %g at position %u",
                              state.scales[i], i);
    }
    if (state.sizes != NULL && (state.sizes[i] < -1 || state.sizes[i] > ((int64_t)1 << 40))) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'sizes' expected sizes >= -1, found %lld at position %u",
                              (long long)state.sizes[i], i);
    }
    if (state.sizes_from != NULL && (state.sizes_from[i] < -1 || state.sizes_from[i] >= CNNRT_MAX_RANK)) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'sizes_from' expected -1 or a dim index in [0, %d), found %lld at position %u",
                              CNNRT_MAX_RANK, (long long)state.sizes_from[i], i);
    }
  }
  resize_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

/* Output dims and the scale used for coordinates, per dim. */
static cnnrt_status resize_dims(const cnnrt_node* node, const resize_state* state, const cnnrt_shape* x,
                                const cnnrt_shape* reference, cnnrt_shape* y, float* scales) {
  char text[CNNRT_SHAPE_TEXT_SIZE];
  if ((int32_t)state->count != x->rank) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) expected rank %u (one '%s' value per dim), found %d (shape %s)", state->count,
                            state->scales != NULL ? "scales" : (state->sizes != NULL ? "sizes" : "sizes_from"), x->rank,
                            cnnrt_shape_format(x, text, sizeof(text)));
  }
  y->rank = x->rank;
  for (int32_t d = 0; d < x->rank; d++) {
    if (state->sizes_from != NULL && state->sizes_from[d] >= 0) {
      const int64_t k = state->sizes_from[d];
      if (k >= reference->rank) {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                                "input 1 (Reference) expected rank > %lld ('sizes_from' reads its dim %lld for output dim %d), "
                                "found shape %s",
                                (long long)k, (long long)k, d, cnnrt_shape_format(reference, text, sizeof(text)));
      }
      y->dims[d] = reference->dims[k];
      scales[d] = x->dims[d] > 0 ? (float)y->dims[d] / (float)x->dims[d] : 1.0f;
    } else if (state->scales != NULL) {
      scales[d] = (float)state->scales[d];
      y->dims[d] = (int64_t)floor((double)x->dims[d] * state->scales[d]);
    } else {
      y->dims[d] = state->sizes == NULL || state->sizes[d] < 0 ? x->dims[d] : state->sizes[d];
      scales[d] = x->dims[d] > 0 ? (float)y->dims[d] / (float)x->dims[d] : 1.0f;
    }
    if (y->dims[d] > 0 && x->dims[d] == 0) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node, "input 0 (X) dim %d is empty and cannot be resized to %lld (shape %s)",
                              d, (long long)y->dims[d], cnnrt_shape_format(x, text, sizeof(text)));
    }
  }
  if (state->mode != RESIZE_NEAREST) {
    for (int32_t d = 0; d + 2 < x->rank; d++) {
      if (y->dims[d] != x->dims[d]) {
        return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node,
                                "%s mode resizes only the last two dims, but dim %d changes from %lld to %lld",
                                state->mode == RESIZE_LINEAR ? "linear" : "cubic", d,
                                (long long)x->dims[d], (long long)y->dims[d]);
      }
    }
  }
  return CNNRT_OK;
}

/* Bytes of coordinate tables: nearest, one index per output coordinate of
 * every dim; linear, two indices and a weight per output coordinate of the
 * last two dims; cubic, four indices and four weights. */
static size_t resize_table_bytes(const resize_state* state, const cnnrt_shape* y) {
  size_t entries = 0;
  for (int32_t d = 0; d < y->rank; d++) entries += (size_t)y->dims[d];
  return cnnrt_round_up(entries * 4 * (sizeof(int64_t) + sizeof(float)) + 64, CNNRT_WORKSPACE_ALIGN);
}

static cnnrt_status resize_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                   cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const resize_state* state = opaque;
  float scales[CNNRT_MAX_RANK];
  cnnrt_status status = resize_dims(node, state, &inputs[0], state->sizes_from != NULL ? &inputs[1] : NULL, &outputs[0],
                                    scales);
  if (status != CNNRT_OK) return status;
  info->workspace_bytes = resize_table_bytes(state, &outputs[0]);
  info->macs = cnnrt_numel(&outputs[0]) * (state->mode == RESIZE_CUBIC ? 16 : (state->mode == RESIZE_LINEAR ? 4 : 1));
  static const char* const kernels[] = {"resize_nearest_ref", "resize_linear_ref", "resize_cubic_ref"};
  info->kernel = kernels[state->mode];
  return CNNRT_OK;
}

static float source_coordinate(int mode, float x, float scale, int64_t in, int64_t out) {
  switch (mode) {
    case COORD_ASYMMETRIC: return x / scale;
    case COORD_ALIGN_CORNERS: return out > 1 ? x * (float)(in - 1) / (float)(out - 1) : 0.0f;
    case COORD_PYTORCH_HALF_PIXEL: return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case COORD_TF_HALF_PIXEL: return (x + 0.5f) / scale;
    default: return (x + 0.5f) / scale - 0.5f;
  }
}

static int64_t nearest_index(int mode, float x, int64_t in) {
  float value;
  switch (mode) {
    case NEAREST_FLOOR: value = floorf(x); break;
    case NEAREST_CEIL: value = ceilf(x); break;
    case NEAREST_ROUND_PREFER_CEIL: value = (x == floorf(x) + 0.5f) ? ceilf(x) : roundf(x); break;
    default: value = (x == floorf(x) + 0.5f) ? floorf(x) : roundf(x); break;
  }
  if (!(value >= 0.0f)) return 0;
  if (value >= (float)(in - 1)) return in - 1;
  return (int64_t)value;
}

typedef struct resize_job {
  const resize_state* state;
  const cnnrt_shape* x;
  const cnnrt_shape* y;
  const float* in;
  float* out;
  /* nearest: index tables per dim; linear: for H and W, index0, index1, weight */
  const int64_t* nearest[CNNRT_MAX_RANK];
  const int64_t* low[2];
  const int64_t* high[2];
  const float* weight[2];
  const int64_t* taps[2];        /* cubic: 4 input indices per output coordinate */
  const float* tap_weights[2];   /* cubic: 4 weights per output coordinate */
  size_t in_h, in_w, out_h, out_w, row_count; /* linear planes; nearest output rows */
} resize_job;

static void resize_nearest_task(void* opaque, size_t begin, size_t end, int thread) {
  const resize_job* job = opaque;
  const cnnrt_shape* x = job->x;
  const cnnrt_shape* y = job->y;
  const int32_t rank = y->rank, last = rank - 1;
  size_t in_strides[CNNRT_MAX_RANK];
  size_t stride = 1;
  for (int32_t d = rank - 1; d >= 0; d--) {
    in_strides[d] = stride;
    stride *= (size_t)x->dims[d];
  }
  const size_t row_length = (size_t)y->dims[last];
  const int64_t* columns = job->nearest[last];
  for (size_t row = begin; row < end; row++) {
    size_t rest = row, offset = 0;
    for (int32_t d = last - 1; d >= 0; d--) {
      size_t coordinate = rest % (size_t)y->dims[d];
      rest /= (size_t)y->dims[d];
      offset += (size_t)job->nearest[d][coordinate] * in_strides[d];
    }
    const float* in_row = job->in + offset;
    float* out_row = job->out + row * row_length;
    for (size_t i = 0; i < row_length; i++) out_row[i] = in_row[columns[i]];
  }
}

static void resize_linear_task(void* opaque, size_t begin, size_t end, int thread) {
  const resize_job* job = opaque;
  for (size_t plane = begin; plane < end; plane++) {
    const float* in = job->in + plane * job->in_h * job->in_w;
    float* out = job->out + plane * job->out_h * job->out_w;
    for (size_t oy = 0; oy < job->out_h; oy++) {
      const float* top = in + (size_t)job->low[0][oy] * job->in_w;
      const float* bottom = in + (size_t)job->high[0][oy] * job->in_w;
      const float wy = job->weight[0][oy];
      float* out_row = out + oy * job->out_w;
      for (size_t ox = 0; ox < job->out_w; ox++) {
        const int64_t x0 = job->low[1][ox], x1 = job->high[1][ox];
        const float wx = job->weight[1][ox];
        const float upper = top[x0] + (top[x1] - top[x0]) * wx;
        const float lower = bottom[x0] + (bottom[x1] - bottom[x0]) * wx;
        out_row[ox] = upper + (lower - upper) * wy;
      }
    }
  }
}

static void resize_cubic_task(void* opaque, size_t begin, size_t end, int thread) {
  const resize_job* job = opaque;
  for (size_t plane = begin; plane < end; plane++) {
    const float* in = job->in + plane * job->in_h * job->in_w;
    float* out = job->out + plane * job->out_h * job->out_w;
    for (size_t oy = 0; oy < job->out_h; oy++) {
      const int64_t* rows = job->taps[0] + 4 * oy;
      const float* wy = job->tap_weights[0] + 4 * oy;
      for (size_t ox = 0; ox < job->out_w; ox++) {
        const int64_t* columns = job->taps[1] + 4 * ox;
        const float* wx = job->tap_weights[1] + 4 * ox;
        float sum = 0.0f;
        for (int i = 0; i < 4; i++) {
          const float* row = in + (size_t)rows[i] * job->in_w;
          const float across = row[columns[0]] * wx[0] + row[columns[1]] * wx[1] + row[columns[2]] * wx[2] +
                               row[columns[3]] * wx[3];
          sum += across * wy[i];
        }
        out[oy * job->out_w + ox] = sum;
      }
    }
  }
}

/* Keys' cubic convolution weights for the taps floor(s)-1 .. floor(s)+2 of
 * source coordinate s (ONNX Resize, cubic_coeff_a = a); taps past the edges
 * read the edge value, or (exclude_outside) get weight 0 with the rest
 * renormalised. */
static void cubic_taps(float source, int64_t in, float a, int exclude_outside, int64_t* taps, float* weights) {
  const float base = floorf(source);
  const float t = source - base;
  const float d[4] = {t + 1.0f, t, 1.0f - t, 2.0f - t};
  float total = 0.0f;
  for (int i = 0; i < 4; i++) {
    const float x = d[i];
    float w = x <= 1.0f ? ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f
                        : ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
    int64_t index = (int64_t)base - 1 + i;
    if (index < 0 || index >= in) {
      if (exclude_outside) w = 0.0f;
      index = index < 0 ? 0 : in - 1;
    }
    taps[i] = index;
    weights[i] = w;
    total += w;
  }
  if (exclude_outside && total != 0.0f) {
    for (int i = 0; i < 4; i++) weights[i] /= total;
  }
}

static void resize_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                       const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const resize_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  cnnrt_shape y;
  float scales[CNNRT_MAX_RANK];
  if (resize_dims(node, state, x, state->sizes_from != NULL ? &inputs[1].shape : NULL, &y, scales) != CNNRT_OK) return;
  if (cnnrt_numel(&y) == 0) return;
  resize_job job;
  memset(&job, 0, sizeof(job));
  job.state = state;
  job.x = x;
  job.y = &outputs[0].shape;
  job.in = inputs[0].data;
  job.out = outputs[0].data;
  int64_t* indices = context->workspace;
  if (y.rank == 0) {
    job.out[0] = job.in[0];
    return;
  }
  if (state->mode == RESIZE_NEAREST) {
    for (int32_t d = 0; d < y.rank; d++) {
      job.nearest[d] = indices;
      /* An axis that keeps its size at scale 1 is copied, as in the linear
       * mode (and ONNX Runtime): tf_half_pixel_for_nn would shift it. */
      const int copy = x->dims[d] == y.dims[d] && scales[d] == 1.0f;
      for (int64_t o = 0; o < y.dims[d]; o++) {
        float source = source_coordinate(state->coordinates, (float)o, scales[d], x->dims[d], y.dims[d]);
        indices[o] = copy ? o : nearest_index(state->nearest, source, x->dims[d]);
      }
      indices += y.dims[d];
    }
    job.row_count = cnnrt_numel(&y) / (size_t)y.dims[y.rank - 1];
    cnnrt_parallel_for(context->pool, job.row_count, cnnrt_task_grain(job.row_count, context->threads, 16),
                       resize_nearest_task, &job);
    return;
  }
  /* Linear and cubic over (H, W) = the last two dims; a rank-1 input has H = 1. */
  const int32_t rank = y.rank;
  const int64_t in_dims[2] = {rank >= 2 ? x->dims[rank - 2] : 1, x->dims[rank - 1]};
  const int64_t out_dims[2] = {rank >= 2 ? y.dims[rank - 2] : 1, y.dims[rank - 1]};
  const float dim_scales[2] = {rank >= 2 ? scales[rank - 2] : 1.0f, scales[rank - 1]};
  job.in_h = (size_t)in_dims[0];
  job.in_w = (size_t)in_dims[1];
  job.out_h = (size_t)out_dims[0];
  job.out_w = (size_t)out_dims[1];
  const size_t planes = cnnrt_numel(&y) / (job.out_h * job.out_w);
  const size_t min_grain = 4096 / (job.out_h * job.out_w) + 1;
  if (state->mode == RESIZE_CUBIC) {
    float* tap_weights = (float*)(indices + 4 * (out_dims[0] + out_dims[1]));
    for (int axis = 0; axis < 2; axis++) {
      job.taps[axis] = indices;
      job.tap_weights[axis] = tap_weights;
      for (int64_t o = 0; o < out_dims[axis]; o++) {
        const float source = (in_dims[axis] == out_dims[axis] && dim_scales[axis] == 1.0f)
                                 ? (float)o
                                 : source_coordinate(state->coordinates, (float)o, dim_scales[axis], in_dims[axis],
                                                     out_dims[axis]);
        cubic_taps(source, in_dims[axis], state->cubic_a, state->exclude_outside, indices + 4 * o,
                   tap_weights + 4 * o);
      }
      indices += 4 * out_dims[axis];
      tap_weights += 4 * out_dims[axis];
    }
    cnnrt_parallel_for(context->pool, planes, cnnrt_task_grain(planes, context->threads, min_grain), resize_cubic_task,
                       &job);
    return;
  }
  float* weights = (float*)(indices + 2 * (out_dims[0] + out_dims[1]));
  for (int axis = 0; axis < 2; axis++) {
    int64_t* low = indices;
    int64_t* high = indices + out_dims[axis];
    indices += 2 * out_dims[axis];
    for (int64_t o = 0; o < out_dims[axis]; o++) {
      float source = (in_dims[axis] == out_dims[axis] && dim_scales[axis] == 1.0f)
                         ? (float)o
                         : source_coordinate(state->coordinates, (float)o, dim_scales[axis], in_dims[axis], out_dims[axis]);
      const float limit = (float)(in_dims[axis] - 1);
      source = source < 0.0f ? 0.0f : (source > limit ? limit : source);
      int64_t base = (int64_t)floorf(source);
      low[o] = base;
      high[o] = base + 1 < in_dims[axis] ? base + 1 : in_dims[axis] - 1;
      weights[o] = source - (float)base;
    }
    job.low[axis] = low;
    job.high[axis] = high;
    job.weight[axis] = weights;
    weights += out_dims[axis];
  }
  cnnrt_parallel_for(context->pool, planes, cnnrt_task_grain(planes, context->threads, min_grain), resize_linear_task, &job);
}

const cnnrt_op_def cnnrt_op_resize = {
    .code = 77, .name = "Resize", .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = resize_create, .destroy = cnnrt_op_state_free, .reshape = resize_reshape, .run = resize_run,
};
