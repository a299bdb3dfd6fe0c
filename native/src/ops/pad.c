/*
 * Pad: constant / reflect / edge, any rank; negative pads crop. Each output
 * row (last dim) is filled from one input row or the constant.
 */
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

typedef struct pad_state {
  const int64_t* pads;
  uint32_t count;
  int mode;
  float value;
} pad_state;

static cnnrt_status pad_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 1, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  pad_state state;
  const char* mode;
  if ((status = cnnrt_attr_ints(node, "pads", &state.pads, &state.count)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_string(node, "mode", "constant", &mode)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_float(node, "value", 0.0f, &state.value)) != CNNRT_OK) return status;
  if (cnnrt_node_attr(node, "pads") == NULL || state.count % 2 != 0 || state.count > 2 * CNNRT_MAX_RANK) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'pads' expected 2 * rank values (begins then ends), found %u", state.count);
  }
  for (uint32_t i = 0; i < state.count; i++) {
    if (state.pads[i] < -((int64_t)1 << 40) || state.pads[i] > ((int64_t)1 << 40)) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'pads' value %lld at position %u is out of range",
                              (long long)state.pads[i], i);
    }
  }
  if (strcmp(mode, "constant") == 0) {
    state.mode = PAD_CONSTANT;
  } else if (strcmp(mode, "reflect") == 0) {
    state.mode = PAD_REFLECT;
  } else if (strcmp(mode, "edge") == 0) {
    state.mode = PAD_EDGE;
  } else {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node,
                            "attribute 'mode' expected \"constant\", \"reflect\" or \"edge\", found \"%s\"", mode);
  }
  pad_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static cnnrt_status pad_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const pad_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  char text[CNNRT_SHAPE_TEXT_SIZE];
  if ((int32_t)state->count != 2 * x->rank) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (data) expected rank %u (from 'pads'), found %d (shape %s)", state->count / 2,
                            x->rank, cnnrt_shape_format(x, text, sizeof(text)));
  }
  outputs[0].rank = x->rank;
  for (int32_t d = 0; d < x->rank; d++) {
    int64_t size = x->dims[d] + state->pads[d] + state->pads[d + x->rank];
    if (size < 0) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 0 (data) dim %d of size %lld is cropped below zero by pads %lld, %lld (shape %s)", d,
                              (long long)x->dims[d], (long long)state->pads[d], (long long)state->pads[d + x->rank],
                              cnnrt_shape_format(x, text, sizeof(text)));
    }
    if (state->mode != PAD_CONSTANT && x->dims[d] == 0 && size > 0) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 0 (data) dim %d is empty, so mode reflect/edge has nothing to pad with (shape %s)", d,
                              cnnrt_shape_format(x, text, sizeof(text)));
    }
    outputs[0].dims[d] = size;
  }
  info->workspace_bytes = 0;
  info->macs = 0;
  info->kernel = "pad_ref";
  return CNNRT_OK;
}

/* Input index for output index `o` along a dim, or -1 for the constant. */
static int64_t pad_source(int mode, int64_t o, int64_t begin, int64_t size) {
  int64_t i = o - begin;
  if (i >= 0 && i < size) return i;
  if (mode == PAD_CONSTANT) return -1;
  if (mode == PAD_EDGE) return i < 0 ? 0 : size - 1;
  if (size == 1) return 0;
  /* Reflection without repeating the edge element has period 2 * (size - 1). */
  const int64_t period = 2 * (size - 1);
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < size ? m : period - m;
}

static void pad_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                    const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const pad_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  const cnnrt_shape* y = &outputs[0].shape;
  const int32_t rank = x->rank;
  const float* in = inputs[0].data;
  float* out = outputs[0].data;
  const size_t count = cnnrt_numel(y);
  if (count == 0) return;
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  size_t in_strides[CNNRT_MAX_RANK];
  size_t stride = 1;
  for (int32_t d = rank - 1; d >= 0; d--) {
    in_strides[d] = stride;
    stride *= (size_t)x->dims[d];
  }
  const int32_t last = rank - 1;
  const int64_t row = y->dims[last];
  int64_t index[CNNRT_MAX_RANK] = {0};
  for (size_t done = 0; done < count; done += (size_t)row) {
    float* out_row = out + done;
    int64_t offset = 0;
    int outside = 0;
    for (int32_t d = 0; d < last && !outside; d++) {
      int64_t source = pad_source(state->mode, index[d], state->pads[d], x->dims[d]);
      if (source < 0) outside = 1;
      else offset += source * (int64_t)in_strides[d];
    }
    if (outside) {
      for (int64_t i = 0; i < row; i++) out_row[i] = state->value;
    } else {
      const float* in_row = in + offset;
      for (int64_t i = 0; i < row; i++) {
        int64_t source = pad_source(state->mode, i, state->pads[last], x->dims[last]);
        out_row[i] = source < 0 ? state->value : in_row[source];
      }
    }
    for (int32_t d = last - 1; d >= 0; d--) {
      if (++index[d] < y->dims[d]) break;
      index[d] = 0;
    }
  }
}

const cnnrt_op_def cnnrt_op_pad = {
    .code = 76, .name = "Pad", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0,
    .create = pad_create, .destroy = cnnrt_op_state_free, .reshape = pad_reshape, .run = pad_run,
};
