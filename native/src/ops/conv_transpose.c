/*
 * ConvTranspose (1-D and 2-D, groups, dilations, output_padding,
 * output_shape, pads/auto_pad) with a fused activation. Run with the direct
 * scatter kernel: each task owns whole output planes.
 */
#include <stdlib.h>
#include <string.h>

#include "spatial.h"

typedef struct deconv_state {
  cnnrt_window window;
  int64_t output_padding[2];
  int64_t output_shape[2];
  int has_output_shape;
  size_t in_channels, out_channels, groups;
  const float* weights;
  const float* bias;
} deconv_state;

static cnnrt_status deconv_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 2, 3, 1, 1, CNNRT_EPILOGUE_ACTIVATION);
  if (status != CNNRT_OK) return status;
  const cnnrt_tensor_def* w;
  if ((status = cnnrt_node_constant_f32(graph, node, 1, "W", 3, 4, &w)) != CNNRT_OK) return status;
  const int spatial = w->shape.rank - 2;
  deconv_state state;
  memset(&state, 0, sizeof(state));
  for (int32_t i = 0; i < w->shape.rank; i++) {
    if (w->shape.dims[i] < 1) {
      char text[CNNRT_SHAPE_TEXT_SIZE];
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input 1 (W) expected non-empty dims, found shape %s",
                              cnnrt_shape_format(&w->shape, text, sizeof(text)));
    }
  }
  state.window.kernel[0] = w->shape.dims[2];
  state.window.kernel[1] = spatial == 2 ? w->shape.dims[3] : 1;
  if ((status = cnnrt_window_parse(node, spatial, 1, &state.window)) != CNNRT_OK) return status;
  int64_t group;
  if ((status = cnnrt_attr_int(node, "group", 1, &group)) != CNNRT_OK) return status;
  if (group < 1 || w->shape.dims[0] % group != 0) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'group' expected a positive divisor of the %lld input channels (W dim 0), found %lld",
                            (long long)w->shape.dims[0], (long long)group);
  }
  state.groups = (size_t)group;
  state.in_channels = (size_t)w->shape.dims[0];
  state.out_channels = (size_t)w->shape.dims[1] * state.groups;
  state.weights = w->data;
  const int64_t* list;
  uint32_t count;
  if ((status = cnnrt_attr_ints(node, "output_padding", &list, &count)) != CNNRT_OK) return status;
  if (list != NULL && count != (uint32_t)spatial) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'output_padding' expected %d values for a %d-D convolution, found %u", spatial,
                            spatial, count);
  }
  for (int i = 0; i < spatial; i++) {
    int64_t value = list != NULL ? list[i] : 0;
    int64_t limit = state.window.strides[i] > state.window.dilations[i] ? state.window.strides[i]
                                                                         : state.window.dilations[i];
    if (value < 0 || value >= limit) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'output_padding' expected values in [0, %lld) (below stride or dilation), found %lld at position %d",
                              (long long)limit, (long long)value, i);
    }
    state.output_padding[i] = value;
  }
  if ((status = cnnrt_attr_ints(node, "output_shape", &list, &count)) != CNNRT_OK) return status;
  if (list != NULL) {
    if (count != (uint32_t)spatial) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'output_shape' expected %d spatial values, found %u", spatial, count);
    }
    for (int i = 0; i < spatial; i++) {
      if (list[i] < 1 || list[i] > ((int64_t)1 << 30)) {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                                "attribute 'output_shape' expected positive sizes, found %lld at position %d",
                                (long long)list[i], i);
      }
      state.output_shape[i] = list[i];
    }
    state.has_output_shape = 1;
  }
  if (cnnrt_node_has_input(node, 2)) {
    const cnnrt_tensor_def* b;
    if ((status = cnnrt_node_constant_f32(graph, node, 2, "B", 1, 1, &b)) != CNNRT_OK) return status;
    if (b->shape.dims[0] != (int64_t)state.out_channels) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "input 2 (B) expected %zu values (one per output channel), found %lld",
                              state.out_channels, (long long)b->shape.dims[0]);
    }
    state.bias = b->data;
  }
  deconv_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status deconv_geometry(const cnnrt_node* node, const deconv_state* state, const cnnrt_shape* x,
                                    cnnrt_conv2d_geometry* g) {
  const int spatial = state->window.spatial;
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", spatial + 2, spatial + 2);
  if (status != CNNRT_OK) return status;
  if (x->dims[1] != (int64_t)state->in_channels) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) expected %zu channels, found %lld (shape %s)", state->in_channels,
                            (long long)x->dims[1], cnnrt_shape_format(x, text, sizeof(text)));
  }
  int64_t out[2] = {1, 1}, begin[2] = {0, 0};
  for (int d = 0; d < spatial; d++) {
    const int64_t in = x->dims[2 + d], stride = state->window.strides[d];
    const int64_t effective = (state->window.kernel[d] - 1) * state->window.dilations[d] + 1;
    const int64_t full = stride * (in - 1) + state->output_padding[d] + effective;
    const int auto_pad = state->window.auto_pad;
    int64_t size, pad_begin;
    if (state->has_output_shape || auto_pad == CNNRT_AUTO_PAD_SAME_UPPER || auto_pad == CNNRT_AUTO_PAD_SAME_LOWER) {
      size = state->has_output_shape ? state->output_shape[d] : in * stride;
      int64_t total = full - size;
      if (total < 0) total = 0;
      pad_begin = auto_pad == CNNRT_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    } else if (auto_pad == CNNRT_AUTO_PAD_VALID) {
      size = full;
      pad_begin = 0;
    } else {
      pad_begin = state->window.pads[d];
      size = full - state->window.pads[d] - state->window.pads[spatial + d];
    }
    if (in < 1 || size < 1) {
      char text[CNNRT_SHAPE_TEXT_SIZE];
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 0 (X) gives an empty output along spatial dim %d (output size %lld, shape %s)", d,
                              (long long)size, cnnrt_shape_format(x, text, sizeof(text)));
    }
    out[d] = size;
    begin[d] = pad_begin;
  }
  memset(g, 0, sizeof(*g));
  g->batch = (size_t)x->dims[0];
  g->groups = state->groups;
  g->in_channels = state->in_channels;
  g->out_channels = state->out_channels;
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
  } else {
    g->in_h = g->out_h = g->kernel_h = g->stride_h = g->dilation_h = 1;
    g->in_w = (size_t)x->dims[2];
    g->out_w = (size_t)out[0];
    g->kernel_w = (size_t)state->window.kernel[0];
    g->stride_w = (size_t)state->window.strides[0];
    g->dilation_w = (size_t)state->window.dilations[0];
    g->pad_left = (ptrdiff_t)begin[0];
  }
  return CNNRT_OK;
}

static cnnrt_status deconv_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                   cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const deconv_state* state = opaque;
  cnnrt_conv2d_geometry g;
  cnnrt_status status = deconv_geometry(node, state, &inputs[0], &g);
  if (status != CNNRT_OK) return status;
  cnnrt_shape* y = &outputs[0];
  y->rank = inputs[0].rank;
  y->dims[0] = (int64_t)g.batch;
  y->dims[1] = (int64_t)g.out_channels;
  if (state->window.spatial == 2) {
    y->dims[2] = (int64_t)g.out_h;
    y->dims[3] = (int64_t)g.out_w;
  } else {
    y->dims[2] = (int64_t)g.out_w;
  }
  info->workspace_bytes = 0;
  info->macs = (uint64_t)g.batch * g.in_channels * g.in_h * g.in_w * (g.out_channels / g.groups) * g.kernel_h *
               g.kernel_w;
  info->kernel = state->window.spatial == 2 ? "deconv2d_direct_ref" : "deconv1d_direct_ref";
  return CNNRT_OK;
}

typedef struct deconv_job {
  const cnnrt_node* node;
  const deconv_state* state;
  const cnnrt_conv2d_geometry* geometry;
  const float* x;
  float* y;
} deconv_job;

static void deconv_task(void* opaque, size_t begin, size_t end, int thread) {
  const deconv_job* job = opaque;
  const cnnrt_conv2d_geometry* g = job->geometry;
  const size_t plane = g->out_h * g->out_w;
  const cnnrt_epilogue* e = &job->node->epilogue;
  for (size_t task = begin; task < end; task++) {
    const size_t n = task / g->out_channels, oc = task % g->out_channels;
    cnnrt_f32_deconv2d_ref(g, job->x, job->state->weights, job->state->bias, job->y, n, oc, oc + 1);
    cnnrt_f32_activation_ref(job->y + task * plane, plane, e->activation, e->alpha, e->beta);
  }
}

static void deconv_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                       const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const deconv_state* state = opaque;
  cnnrt_conv2d_geometry g;
  if (deconv_geometry(node, state, &inputs[0].shape, &g) != CNNRT_OK) return;
  deconv_job job = {.node = node, .state = state, .geometry = &g, .x = inputs[0].data, .y = outputs[0].data};
  size_t tasks = g.batch * g.out_channels;
  cnnrt_parallel_for(context->pool, tasks, cnnrt_task_grain(tasks, context->threads, 1), deconv_task, &job);
}

const cnnrt_op_def cnnrt_op_conv_transpose = {
    .code = 2,
    .name = "ConvTranspose",
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_ACTIVATION,
    .in_place = 0,
    .create = deconv_create,
    .destroy = cnnrt_op_state_free,
    .reshape = deconv_reshape,
    .run = deconv_run,
};
