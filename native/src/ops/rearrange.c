/*
 * Ops that only move values: DepthToSpace / SpaceToDepth (blocks of pixels to
 * channels and back), Expand (numpy broadcasting to a constant shape) and Tile
 * (constant repeats). Each output element reads exactly one input element, so
 * outputs are exact copies.
 */
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

enum { OP_DEPTH_TO_SPACE = 78, OP_SPACE_TO_DEPTH = 79, OP_EXPAND = 80, OP_TILE = 81 };

#define REARRANGE_GRAIN 16384

/* ---- DepthToSpace / SpaceToDepth ---------------------------------------------- */

typedef struct block_state {
  int64_t blocksize;
  int column_row_depth; /* mode "CRD" (else "DCR"): depth index c * b * b + i * b + j */
} block_state;

static cnnrt_status block_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  block_state state = {0, 0};
  if (cnnrt_node_attr(node, "blocksize") == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'blocksize' is required, found none");
  }
  if ((status = cnnrt_attr_int(node, "blocksize", 1, &state.blocksize)) != CNNRT_OK) return status;
  if (state.blocksize < 1 || state.blocksize > 65536) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'blocksize' expected 1..65536, found %lld",
                            (long long)state.blocksize);
  }
  const char* mode;
  if ((status = cnnrt_attr_string(node, "mode", "DCR", &mode)) != CNNRT_OK) return status;
  if (strcmp(mode, "CRD") == 0) {
    state.column_row_depth = 1;
  } else if (strcmp(mode, "DCR") != 0) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'mode' expected \"DCR\" or \"CRD\", found \"%s\"",
                            mode);
  }
  block_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status block_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                  cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const block_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", 4, 4);
  if (status != CNNRT_OK) return status;
  const int64_t b = state->blocksize;
  char text[CNNRT_SHAPE_TEXT_SIZE];
  cnnrt_shape* y = &outputs[0];
  *y = *x;
  if (node->op == OP_DEPTH_TO_SPACE) {
    if (x->dims[1] % (b * b) != 0) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 0 (X) expected channels divisible by blocksize^2 = %lld, found %lld (shape %s)",
                              (long long)(b * b), (long long)x->dims[1], cnnrt_shape_format(x, text, sizeof(text)));
    }
    y->dims[1] = x->dims[1] / (b * b);
    y->dims[2] = x->dims[2] * b;
    y->dims[3] = x->dims[3] * b;
  } else {
    if (x->dims[2] % b != 0 || x->dims[3] % b != 0) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 0 (X) expected height and width divisible by blocksize %lld, found shape %s",
                              (long long)b, cnnrt_shape_format(x, text, sizeof(text)));
    }
    y->dims[1] = x->dims[1] * b * b;
    y->dims[2] = x->dims[2] / b;
    y->dims[3] = x->dims[3] / b;
  }
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = node->op == OP_DEPTH_TO_SPACE ? "depth_to_space_ref" : "space_to_depth_ref";
  return CNNRT_OK;
}

typedef struct block_job {
  const block_state* state;
  int depth_to_space;
  size_t channels, height, width; /* of the space-side (large) tensor: [N, channels, height, width] */
  const float* x;
  float* y;
} block_job;

/* One task item is one row of the space-side tensor: (n, c, h). */
static void block_task(void* opaque, size_t begin, size_t end, int thread) {
  const block_job* job = opaque;
  const size_t b = (size_t)job->state->blocksize;
  const size_t small_h = job->height / b, small_w = job->width / b, depth = job->channels * b * b;
  for (size_t row = begin; row < end; row++) {
    const size_t h = row % job->height;
    const size_t c = (row / job->height) % job->channels;
    const size_t n = row / job->height / job->channels;
    const size_t i = h % b, sh = h / b;
    for (size_t w = 0; w < job->width; w++) {
      const size_t j = w % b, sw = w / b;
      size_t d;
      if (job->state->column_row_depth) d = (c * b + i) * b + j;
      else d = (i * b + j) * job->channels + c;
      const size_t depth_index = ((n * depth + d) * small_h + sh) * small_w + sw;
      const size_t space_index = row * job->width + w;
      if (job->depth_to_space) job->y[space_index] = job->x[depth_index];
      else job->y[depth_index] = job->x[space_index];
    }
  }
}

static void block_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                      const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const cnnrt_shape* space = node->op == OP_DEPTH_TO_SPACE ? &outputs[0].shape : &inputs[0].shape;
  block_job job = {.state = opaque, .depth_to_space = node->op == OP_DEPTH_TO_SPACE,
                   .channels = (size_t)space->dims[1], .height = (size_t)space->dims[2],
                   .width = (size_t)space->dims[3], .x = inputs[0].data, .y = outputs[0].data};
  const size_t rows = (size_t)space->dims[0] * job.channels * job.height;
  if (rows == 0 || job.width == 0) return;
  cnnrt_parallel_for(context->pool, rows, cnnrt_task_grain(rows, context->threads, REARRANGE_GRAIN / job.width + 1),
                     block_task, &job);
}

/* ---- Expand / Tile -------------------------------------------------------------- */

typedef struct repeat_state {
  const int64_t* values; /* Expand: the target shape; Tile: repeats per dim */
  uint32_t count;
} repeat_state;

static cnnrt_status repeat_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  const char* name = node->op == OP_EXPAND ? "shape" : "repeats";
  repeat_state state;
  if ((status = cnnrt_attr_ints(node, name, &state.values, &state.count)) != CNNRT_OK) return status;
  if (cnnrt_node_attr(node, name) == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute '%s' is required, found none", name);
  }
  if (state.count > CNNRT_MAX_RANK) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute '%s' expected at most %d values, found %u", name,
                            CNNRT_MAX_RANK, state.count);
  }
  for (uint32_t i = 0; i < state.count; i++) {
    if (state.values[i] < 0 || state.values[i] > ((int64_t)1 << 40)) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute '%s' expected values in [0, 2^40], found %lld at position %u", name,
                              (long long)state.values[i], i);
    }
  }
  repeat_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status repeat_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                   cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const repeat_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  cnnrt_shape* y = &outputs[0];
  char text[CNNRT_SHAPE_TEXT_SIZE];
  if (node->op == OP_TILE) {
    if ((uint32_t)x->rank != state->count) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 0 (input) expected rank %u (one per repeat), found %d (shape %s)", state->count,
                              x->rank, cnnrt_shape_format(x, text, sizeof(text)));
    }
    *y = *x;
    for (int32_t d = 0; d < x->rank; d++) y->dims[d] = x->dims[d] * state->values[d];
  } else {
    const int32_t rank = x->rank > (int32_t)state->count ? x->rank : (int32_t)state->count;
    y->rank = rank;
    for (int32_t d = 0; d < rank; d++) {
      const int32_t xd = d - (rank - x->rank), sd = d - (rank - (int32_t)state->count);
      const int64_t a = xd >= 0 ? x->dims[xd] : 1, b = sd >= 0 ? state->values[sd] : 1;
      if (a != b && a != 1 && b != 1) {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                                "input 0 (input) shape %s does not broadcast to the shape attribute: dim %d is %lld, "
                                "expected 1 or %lld",
                                cnnrt_shape_format(x, text, sizeof(text)), xd, (long long)a, (long long)b);
      }
      y->dims[d] = a == 1 ? b : a;
    }
  }
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = node->op == OP_TILE ? "tile_ref" : "expand_ref";
  return CNNRT_OK;
}

typedef struct repeat_job {
  int32_t rank;
  size_t out_dims[CNNRT_MAX_RANK], in_dims[CNNRT_MAX_RANK], in_strides[CNNRT_MAX_RANK];
  const float* x;
  float* y;
} repeat_job;

/* Items are output rows (all dims but the last); the input index of each output
 * element is its own index modulo the input dim (a broadcast dim has size 1). */
static void repeat_task(void* opaque, size_t begin, size_t end, int thread) {
  const repeat_job* job = opaque;
  const int32_t last = job->rank - 1;
  const size_t width = job->out_dims[last], in_width = job->in_dims[last];
  for (size_t row = begin; row < end; row++) {
    size_t rest = row, offset = 0;
    for (int32_t d = last - 1; d >= 0; d--) {
      const size_t index = rest % job->out_dims[d];
      rest /= job->out_dims[d];
      offset += (index % job->in_dims[d]) * job->in_strides[d];
    }
    const float* x = job->x + offset;
    float* y = job->y + row * width;
    if (in_width == 1) {
      for (size_t w = 0; w < width; w++) y[w] = x[0];
    } else {
      for (size_t w = 0; w < width; w += in_width) memcpy(y + w, x, in_width * sizeof(float));
    }
  }
}

static void repeat_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                       const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const cnnrt_shape* x = &inputs[0].shape;
  const cnnrt_shape* y = &outputs[0].shape;
  if (cnnrt_numel(y) == 0) return;
  repeat_job job = {.rank = y->rank, .x = inputs[0].data, .y = outputs[0].data};
  if (y->rank == 0) {
    job.y[0] = job.x[0];
    return;
  }
  size_t stride = 1;
  for (int32_t d = y->rank - 1; d >= 0; d--) {
    const int32_t xd = d - (y->rank - x->rank);
    job.out_dims[d] = (size_t)y->dims[d];
    job.in_dims[d] = xd >= 0 ? (size_t)x->dims[xd] : 1;
    job.in_strides[d] = stride;
    stride *= job.in_dims[d];
  }
  const size_t rows = cnnrt_numel(y) / job.out_dims[y->rank - 1];
  cnnrt_parallel_for(context->pool, rows,
                     cnnrt_task_grain(rows, context->threads, REARRANGE_GRAIN / job.out_dims[y->rank - 1] + 1),
                     repeat_task, &job);
}

const cnnrt_op_def cnnrt_op_depth_to_space = {
    .code = OP_DEPTH_TO_SPACE, .name = "DepthToSpace", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,
    .max_outputs = 1, .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = block_create, .destroy = cnnrt_op_state_free, .reshape = block_reshape, .run = block_run,
};
const cnnrt_op_def cnnrt_op_space_to_depth = {
    .code = OP_SPACE_TO_DEPTH, .name = "SpaceToDepth", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,
    .max_outputs = 1, .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = block_create, .destroy = cnnrt_op_state_free, .reshape = block_reshape, .run = block_run,
};
const cnnrt_op_def cnnrt_op_expand = {
    .code = OP_EXPAND, .name = "Expand", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = repeat_create, .destroy = cnnrt_op_state_free, .reshape = repeat_reshape, .run = repeat_run,
};
const cnnrt_op_def cnnrt_op_tile = {
    .code = OP_TILE, .name = "Tile", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = repeat_create, .destroy = cnnrt_op_state_free, .reshape = repeat_reshape, .run = repeat_run,
};
