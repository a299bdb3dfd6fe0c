/*
 * Data movement ops: Concat, Split, Slice (negative steps, ONNX clamping),
 * Flatten, Reshape (0 / -1 / allowzero) and Transpose. Flatten and Reshape
 * may run in place: their output is the input's bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

/* Copies a strided view of `in` (element strides per output dim) into the
 * dense `out`, walking the last dim as the inner loop. */
static void strided_copy(int rank, const size_t* dims, const ptrdiff_t* strides, const float* in, float* out) {
  size_t count = 1;
  for (int d = 0; d < rank; d++) count *= dims[d];
  if (count == 0) return;
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  size_t index[CNNRT_MAX_RANK] = {0};
  const size_t inner = dims[rank - 1];
  const ptrdiff_t inner_stride = strides[rank - 1];
  ptrdiff_t offset = 0;
  for (size_t done = 0; done < count; done += inner) {
    const float* source = in + offset;
    if (inner_stride == 1) {
      memcpy(out + done, source, inner * sizeof(float));
    } else {
      for (size_t i = 0; i < inner; i++) out[done + i] = source[(ptrdiff_t)i * inner_stride];
    }
    for (int d = rank - 2; d >= 0; d--) {
      offset += strides[d];
      if (++index[d] < dims[d]) break;
      offset -= (ptrdiff_t)dims[d] * strides[d];
      index[d] = 0;
    }
  }
}

static void dense_strides(const cnnrt_shape* shape, size_t* strides) {
  size_t stride = 1;
  for (int32_t d = shape->rank - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= (size_t)shape->dims[d];
  }
}

/* ---- Concat ---------------------------------------------------------------- */

typedef struct axis_state {
  int64_t axis;
} axis_state;

static cnnrt_status concat_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 255, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  for (uint32_t i = 0; i < node->input_count; i++) {
    if (node->inputs[i] == CNNRT_NO_TENSOR) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input %u expected a tensor, found none", i);
    }
  }
  if (cnnrt_node_attr(node, "axis") == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'axis' is required, found none");
  }
  axis_state* state = malloc(sizeof(*state));
  if (state == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  if ((status = cnnrt_attr_int(node, "axis", 0, &state->axis)) != CNNRT_OK) {
    free(state);
    return status;
  }
  *out_state = state;
  return CNNRT_OK;
}

static cnnrt_status concat_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                   cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const axis_state* state = opaque;
  const cnnrt_shape* first = &inputs[0];
  int32_t axis;
  cnnrt_status status = cnnrt_node_axis(node, "axis", state->axis, first->rank, &axis);
  if (status != CNNRT_OK) return status;
  cnnrt_shape out = *first;
  for (uint32_t i = 1; i < node->input_count; i++) {
    const cnnrt_shape* shape = &inputs[i];
    int ok = shape->rank == first->rank;
    for (int32_t d = 0; ok && d < first->rank; d++) ok = d == axis || shape->dims[d] == first->dims[d];
    if (!ok) {
      char expected[CNNRT_SHAPE_TEXT_SIZE], found[CNNRT_SHAPE_TEXT_SIZE];
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input %u expected the shape of input 0 (%s) except along axis %d, found %s", i,
                              cnnrt_shape_format(first, expected, sizeof(expected)), axis,
                              cnnrt_shape_format(shape, found, sizeof(found)));
    }
    out.dims[axis] += shape->dims[axis];
  }
  outputs[0] = out;
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = "concat_copy";
  return CNNRT_OK;
}

static void concat_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                       const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const axis_state* state = opaque;
  const cnnrt_shape* out = &outputs[0].shape;
  const int32_t axis = (int32_t)(state->axis < 0 ? state->axis + out->rank : state->axis);
  size_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; d++) outer *= (size_t)out->dims[d];
  for (int32_t d = axis + 1; d < out->rank; d++) inner *= (size_t)out->dims[d];
  float* y = outputs[0].data;
  for (size_t o = 0; o < outer; o++) {
    for (uint32_t i = 0; i < node->input_count; i++) {
      size_t length = (size_t)inputs[i].shape.dims[axis] * inner;
      const float* from = (const float*)inputs[i].data + o * length;
      /* An input the planner placed in its slice (input_views) is there already. */
      if (length != 0 && from != y) memcpy(y, from, length * sizeof(float));
      y += length;
    }
  }
}

/* ---- Split ----------------------------------------------------------------- */

typedef struct split_state {
  int64_t axis;
  const int64_t* split; /* NULL: equal parts */
} split_state;

static cnnrt_status split_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 255, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  split_state state;
  uint32_t count;
  if ((status = cnnrt_attr_int(node, "axis", 0, &state.axis)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_ints(node, "split", &state.split, &count)) != CNNRT_OK) return status;
  if (state.split != NULL) {
    if (count != node->output_count) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'split' expected %u values (one per output), found %u", node->output_count,
                              count);
    }
    for (uint32_t i = 0; i < count; i++) {
      if (state.split[i] < 0) {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                                "attribute 'split' expected sizes >= 0, found %lld at position %u",
                                (long long)state.split[i], i);
      }
    }
  }
  split_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

/* Size of part i along the axis. */
static int64_t split_part(const split_state* state, uint32_t parts, int64_t dim, uint32_t i) {
  if (state->split != NULL) return state->split[i];
  int64_t part = (dim + parts - 1) / parts;
  int64_t start = part * i;
  if (start >= dim) return 0;
  return dim - start < part ? dim - start : part;
}

static cnnrt_status split_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                  cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const split_state* state = opaque;
  int32_t axis;
  cnnrt_status status = cnnrt_node_axis(node, "axis", state->axis, inputs[0].rank, &axis);
  if (status != CNNRT_OK) return status;
  const int64_t dim = inputs[0].dims[axis];
  int64_t total = 0;
  for (uint32_t i = 0; i < node->output_count; i++) {
    outputs[i] = inputs[0];
    outputs[i].dims[axis] = split_part(state, node->output_count, dim, i);
    total += outputs[i].dims[axis];
  }
  if (total != dim) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) expected %lld elements along axis %d (the sum of 'split'), found %lld (shape %s)",
                            (long long)total, axis, (long long)dim, cnnrt_shape_format(&inputs[0], text, sizeof(text)));
  }
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = "split_copy";
  return CNNRT_OK;
}

static void split_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                      const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const split_state* state = opaque;
  const cnnrt_shape* in = &inputs[0].shape;
  const int32_t axis = (int32_t)(state->axis < 0 ? state->axis + in->rank : state->axis);
  size_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; d++) outer *= (size_t)in->dims[d];
  for (int32_t d = axis + 1; d < in->rank; d++) inner *= (size_t)in->dims[d];
  const float* x = inputs[0].data;
  for (size_t o = 0; o < outer; o++) {
    for (uint32_t i = 0; i < node->output_count; i++) {
      size_t length = (size_t)outputs[i].shape.dims[axis] * inner;
      if (length == 0) continue;
      memcpy((float*)outputs[i].data + o * length, x, length * sizeof(float));
      x += length;
    }
  }
}

/* ---- Slice ----------------------------------------------------------------- */

typedef struct slice_state {
  uint32_t count;
  const int64_t* starts;
  const int64_t* ends;
  const int64_t* axes;  /* NULL: 0..count-1 */
  const int64_t* steps; /* NULL: 1s */
} slice_state;

typedef struct slice_plan {
  int64_t start[CNNRT_MAX_RANK], step[CNNRT_MAX_RANK], size[CNNRT_MAX_RANK];
} slice_plan;

static cnnrt_status slice_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  slice_state state;
  uint32_t starts, ends, axes, steps;
  if ((status = cnnrt_attr_ints(node, "starts", &state.starts, &starts)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_ints(node, "ends", &state.ends, &ends)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_ints(node, "axes", &state.axes, &axes)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_ints(node, "steps", &state.steps, &steps)) != CNNRT_OK) return status;
  if (state.starts == NULL || state.ends == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attributes 'starts' and 'ends' are required, found %s",
                            state.starts == NULL ? "no 'starts'" : "no 'ends'");
  }
  if (ends != starts || (state.axes != NULL && axes != starts) || (state.steps != NULL && steps != starts) ||
      starts > CNNRT_MAX_RANK) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attributes 'starts', 'ends', 'axes', 'steps' expected the same count (at most %d), found %u, %u, %u, %u",
                            CNNRT_MAX_RANK, starts, ends, state.axes != NULL ? axes : starts,
                            state.steps != NULL ? steps : starts);
  }
  for (uint32_t i = 0; state.steps != NULL && i < steps; i++) {
    /* INT64_MIN is refused too: its magnitude does not fit in int64. */
    if (state.steps[i] == 0 || state.steps[i] == INT64_MIN) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'steps' expected non-zero values above INT64_MIN, found %lld at position %u",
                              (long long)state.steps[i], i);
    }
  }
  state.count = starts;
  slice_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static int64_t clamp64(int64_t value, int64_t low, int64_t high) {
  return value < low ? low : (value > high ? high : value);
}

static cnnrt_status slice_plan_make(const cnnrt_node* node, const slice_state* state, const cnnrt_shape* x,
                                    slice_plan* plan) {
  int seen[CNNRT_MAX_RANK] = {0};
  for (int32_t d = 0; d < x->rank; d++) {
    plan->start[d] = 0;
    plan->step[d] = 1;
    plan->size[d] = x->dims[d];
  }
  for (uint32_t i = 0; i < state->count; i++) {
    int32_t axis;
    cnnrt_status status = cnnrt_node_axis(node, "axes", state->axes != NULL ? state->axes[i] : (int64_t)i, x->rank, &axis);
    if (status != CNNRT_OK) return status;
    if (seen[axis]) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'axes' expected distinct axes, found axis %d twice", axis);
    }
    seen[axis] = 1;
    const int64_t dim = x->dims[axis];
    const int64_t step = state->steps != NULL ? state->steps[i] : 1;
    int64_t start = state->starts[i], end = state->ends[i];
    /* Adding dim to a negative value never overflows int64. */
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t size;
    if (step > 0) {
      start = clamp64(start, 0, dim);
      end = clamp64(end, 0, dim);
      size = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = clamp64(start, 0, dim - 1);
      end = clamp64(end, -1, dim - 1);
      size = start > end ? (start - end - 1) / (-step) + 1 : 0;
    }
    plan->start[axis] = size > 0 ? start : 0;
    plan->step[axis] = step;
    plan->size[axis] = size;
  }
  return CNNRT_OK;
}

static cnnrt_status slice_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                  cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  slice_plan plan;
  cnnrt_status status = slice_plan_make(node, opaque, &inputs[0], &plan);
  if (status != CNNRT_OK) return status;
  outputs[0].rank = inputs[0].rank;
  for (int32_t d = 0; d < inputs[0].rank; d++) outputs[0].dims[d] = plan.size[d];
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = "slice_copy";
  return CNNRT_OK;
}

static void slice_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                      const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const cnnrt_shape* x = &inputs[0].shape;
  slice_plan plan;
  if (slice_plan_make(node, opaque, x, &plan) != CNNRT_OK) return;
  size_t in_strides[CNNRT_MAX_RANK], dims[CNNRT_MAX_RANK];
  ptrdiff_t strides[CNNRT_MAX_RANK];
  dense_strides(x, in_strides);
  ptrdiff_t offset = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    dims[d] = (size_t)plan.size[d];
    strides[d] = (ptrdiff_t)plan.step[d] * (ptrdiff_t)in_strides[d];
    offset += (ptrdiff_t)plan.start[d] * (ptrdiff_t)in_strides[d];
  }
  if (cnnrt_numel(&outputs[0].shape) == 0) return;
  strided_copy(x->rank, dims, strides, (const float*)inputs[0].data + offset, outputs[0].data);
}

/* ---- Flatten / Reshape ------------------------------------------------------ */

static cnnrt_status flatten_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  axis_state* state = malloc(sizeof(*state));
  if (state == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  if ((status = cnnrt_attr_int(node, "axis", 1, &state->axis)) != CNNRT_OK) {
    free(state);
    return status;
  }
  *out_state = state;
  return CNNRT_OK;
}

static cnnrt_status flatten_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                    cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const axis_state* state = opaque;
  const int32_t rank = inputs[0].rank;
  /* Flatten accepts axis == rank (everything in the first dim). */
  if (state->axis < -(int64_t)rank || state->axis > (int64_t)rank) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "attribute 'axis' expected a value in [%d, %d] for a rank-%d input, found %lld", -rank, rank,
                            rank, (long long)state->axis);
  }
  const int32_t axis = (int32_t)(state->axis < 0 ? state->axis + rank : state->axis);
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; d++) outer *= inputs[0].dims[d];
  for (int32_t d = axis; d < rank; d++) inner *= inputs[0].dims[d];
  outputs[0].rank = 2;
  outputs[0].dims[0] = outer;
  outputs[0].dims[1] = inner;
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = "reshape_copy";
  return CNNRT_OK;
}

typedef struct reshape_state {
  const int64_t* shape;
  uint32_t rank;
  int allow_zero;
} reshape_state;

static cnnrt_status reshape_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  reshape_state state;
  int64_t allow_zero;
  if ((status = cnnrt_attr_ints(node, "shape", &state.shape, &state.rank)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "allowzero", 0, &allow_zero)) != CNNRT_OK) return status;
  if (cnnrt_node_attr(node, "shape") == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'shape' is required, found none");
  }
  if (state.rank > CNNRT_MAX_RANK) {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node, "attribute 'shape' expected at most %d dims, found %u",
                            CNNRT_MAX_RANK, state.rank);
  }
  int inferred = 0;
  for (uint32_t i = 0; i < state.rank; i++) {
    if (state.shape[i] < -1) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'shape' expected dims >= -1, found %lld at position %u",
                              (long long)state.shape[i], i);
    }
    if (state.shape[i] == -1 && inferred++) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'shape' expected at most one -1, found two");
    }
    if (state.shape[i] == 0 && allow_zero && inferred) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'shape' cannot hold both 0 and -1 with allowzero=1");
    }
  }
  state.allow_zero = allow_zero != 0;
  reshape_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status reshape_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                    cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const reshape_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  cnnrt_shape out;
  out.rank = (int32_t)state->rank;
  int inferred = -1;
  int64_t known = 1;
  char text[CNNRT_SHAPE_TEXT_SIZE];
  for (uint32_t i = 0; i < state->rank; i++) {
    int64_t dim = state->shape[i];
    if (dim == 0 && !state->allow_zero) {
      if ((int32_t)i >= x->rank) {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                                "attribute 'shape' copies input dim %u (0), but input 0 (X) has shape %s", i,
                                cnnrt_shape_format(x, text, sizeof(text)));
      }
      dim = x->dims[i];
    }
    if (dim == -1) {
      inferred = (int)i;
    } else {
      known *= dim;
    }
    out.dims[i] = dim;
  }
  const int64_t total = cnnrt_shape_numel(x);
  if (inferred >= 0) {
    if (known == 0 || total % known != 0) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 0 (X) of shape %s (%lld elements) cannot be reshaped: the known dims hold %lld",
                              cnnrt_shape_format(x, text, sizeof(text)), (long long)total, (long long)known);
    }
    out.dims[inferred] = total / known;
  } else if (known != total) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) expected %lld elements for the target shape, found %lld (shape %s)",
                            (long long)known, (long long)total, cnnrt_shape_format(x, text, sizeof(text)));
  }
  outputs[0] = out;
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = "reshape_copy";
  return CNNRT_OK;
}

static void copy_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                     const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  if (outputs[0].data == inputs[0].data) return;
  memcpy(outputs[0].data, inputs[0].data, cnnrt_numel(&inputs[0].shape) * sizeof(float));
}

/* ---- Transpose ------------------------------------------------------------- */

typedef struct transpose_state {
  const int64_t* perm; /* NULL: reverse */
  uint32_t count;
} transpose_state;

static cnnrt_status transpose_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  transpose_state state;
  if ((status = cnnrt_attr_ints(node, "perm", &state.perm, &state.count)) != CNNRT_OK) return status;
  int seen[CNNRT_MAX_RANK] = {0};
  if (state.perm != NULL && state.count > CNNRT_MAX_RANK) {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node, "attribute 'perm' expected at most %d axes, found %u",
                            CNNRT_MAX_RANK, state.count);
  }
  for (uint32_t i = 0; state.perm != NULL && i < state.count; i++) {
    if (state.perm[i] < 0 || state.perm[i] >= (int64_t)state.count || seen[state.perm[i]]) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'perm' expected a permutation of 0..%u, found %lld at position %u",
                              state.count - 1, (long long)state.perm[i], i);
    }
    seen[state.perm[i]] = 1;
  }
  transpose_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status transpose_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                      cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const transpose_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  if (state->perm != NULL && (int32_t)state->count != x->rank) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node, "input 0 (data) expected rank %u (from 'perm'), found %d (shape %s)",
                            state->count, x->rank, cnnrt_shape_format(x, text, sizeof(text)));
  }
  outputs[0].rank = x->rank;
  for (int32_t d = 0; d < x->rank; d++) {
    int64_t axis = state->perm != NULL ? state->perm[d] : x->rank - 1 - d;
    outputs[0].dims[d] = x->dims[axis];
  }
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = "transpose_copy";
  return CNNRT_OK;
}

static void transpose_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                          const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const transpose_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  size_t in_strides[CNNRT_MAX_RANK], dims[CNNRT_MAX_RANK];
  ptrdiff_t strides[CNNRT_MAX_RANK];
  dense_strides(x, in_strides);
  for (int32_t d = 0; d < x->rank; d++) {
    int64_t axis = state->perm != NULL ? state->perm[d] : x->rank - 1 - d;
    dims[d] = (size_t)x->dims[axis];
    strides[d] = (ptrdiff_t)in_strides[axis];
  }
  if (cnnrt_numel(x) == 0) return;
  strided_copy(x->rank, dims, strides, inputs[0].data, outputs[0].data);
}

const cnnrt_op_def cnnrt_op_concat = {
    .code = 70, .name = "Concat", .min_inputs = 1, .max_inputs = 255, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = concat_create, .destroy = cnnrt_op_state_free, .reshape = concat_reshape, .run = concat_run,
    .input_views = 1,
};
const cnnrt_op_def cnnrt_op_split = {
    .code = 71, .name = "Split", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 255,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = split_create, .destroy = cnnrt_op_state_free, .reshape = split_reshape, .run = split_run,
};
const cnnrt_op_def cnnrt_op_slice = {
    .code = 72, .name = "Slice", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = slice_create, .destroy = cnnrt_op_state_free, .reshape = slice_reshape, .run = slice_run,
};
const cnnrt_op_def cnnrt_op_flatten = {
    .code = 73, .name = "Flatten", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = flatten_create, .destroy = cnnrt_op_state_free, .reshape = flatten_reshape, .run = copy_run,
};
const cnnrt_op_def cnnrt_op_reshape = {
    .code = 74, .name = "Reshape", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 1,
    .create = reshape_create, .destroy = cnnrt_op_state_free, .reshape = reshape_reshape, .run = copy_run,
};
const cnnrt_op_def cnnrt_op_transpose = {
    .code = 75, .name = "Transpose", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = transpose_create, .destroy = cnnrt_op_state_free, .reshape = transpose_reshape, .run = transpose_run,
};
