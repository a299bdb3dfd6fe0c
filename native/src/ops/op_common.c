#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "op_common.h"

cnnrt_status cnnrt_node_error(cnnrt_status status, const cnnrt_node* node, const char* format, ...) {
  char message[768];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  const cnnrt_op_def* def = node->def != NULL ? node->def : cnnrt_op_find(node->op);
  const char* op = def != NULL ? def->name : "unknown op";
  if (node->name == NULL || node->name[0] == '\0') {
    return cnnrt_error(status, "node #%u (%s): %s", node->index, op, message);
  }
  return cnnrt_error(status, "node '%s' (%s): %s", node->name, op, message);
}

cnnrt_status cnnrt_node_check_io(const cnnrt_node* node, uint32_t min_inputs, uint32_t max_inputs,
                                 uint32_t min_outputs, uint32_t max_outputs, int epilogue) {
  if (node->epilogue.activation >= CNNRT_ACT_COUNT) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "epilogue activation expected 0..%d, found %u",
                            CNNRT_ACT_COUNT - 1, node->epilogue.activation);
  }
  if (epilogue == CNNRT_EPILOGUE_NONE && node->epilogue.activation != CNNRT_ACT_NONE) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "takes no fused activation, found '%s'",
                            cnnrt_activation_name(node->epilogue.activation));
  }
  if (epilogue != CNNRT_EPILOGUE_FULL && node->epilogue.residual) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "takes no fused residual add, found one");
  }
  if (node->epilogue.residual &&
      (node->input_count == 0 || node->inputs[node->input_count - 1] == CNNRT_NO_TENSOR)) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "fused residual expected as the last input, found none");
  }
  uint32_t inputs = cnnrt_node_main_inputs(node);
  if (inputs < min_inputs || inputs > max_inputs) {
    if (min_inputs == max_inputs) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "expected %u inputs, found %u", min_inputs,
                              inputs);
    }
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "expected %u to %u inputs, found %u",
                            min_inputs, max_inputs, inputs);
  }
  for (uint32_t i = 0; i < min_inputs; i++) {
    if (node->inputs[i] == CNNRT_NO_TENSOR) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input %u is required, found none", i);
    }
  }
  if (node->output_count < min_outputs || node->output_count > max_outputs) {
    if (min_outputs == max_outputs) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "expected %u outputs, found %u", min_outputs,
                              node->output_count);
    }
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "expected %u to %u outputs, found %u",
                            min_outputs, max_outputs, node->output_count);
  }
  return CNNRT_OK;
}

cnnrt_status cnnrt_node_constant_f32(const cnnrt_graph* graph, const cnnrt_node* node, uint32_t input,
                                     const char* role, int32_t min_rank, int32_t max_rank,
                                     const cnnrt_tensor_def** tensor) {
  *tensor = NULL;
  if (input >= node->input_count || node->inputs[input] == CNNRT_NO_TENSOR) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input %u (%s) expected a constant, found none",
                            input, role);
  }
  const cnnrt_tensor_def* constant = cnnrt_node_constant(graph, node, input);
  if (constant == NULL) {
    const char* name = node->inputs[input] < graph->tensor_count ? graph->tensors[node->inputs[input]].name : "?";
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node,
                            "input %u (%s) expected a constant tensor, found the computed value '%s'", input,
                            role, name != NULL ? name : "");
  }
  if (constant->dtype != CNNRT_DTYPE_FLOAT32) {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node, "input %u (%s) expected float32, found %s", input,
                            role, cnnrt_dtype_name((cnnrt_dtype)constant->dtype));
  }
  if (constant->shape.rank < min_rank || constant->shape.rank > max_rank) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    cnnrt_shape_format(&constant->shape, text, sizeof(text));
    if (min_rank == max_rank) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input %u (%s) expected rank %d, found %d (shape %s)",
                              input, role, min_rank, constant->shape.rank, text);
    }
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "input %u (%s) expected rank %d to %d, found %d (shape %s)", input, role, min_rank,
                            max_rank, constant->shape.rank, text);
  }
  int64_t count = cnnrt_shape_numel(&constant->shape);
  if (count < 0 || (uint64_t)count * sizeof(float) > constant->data_size || (count > 0 && constant->data == NULL)) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "input %u (%s) expected %lld float32 values of data, found %llu bytes", input, role,
                            (long long)count, (unsigned long long)constant->data_size);
  }
  *tensor = constant;
  return CNNRT_OK;
}

cnnrt_status cnnrt_node_check_rank(const cnnrt_node* node, const cnnrt_shape* shape, uint32_t input,
                                   const char* role, int32_t min_rank, int32_t max_rank) {
  if (shape->rank >= min_rank && shape->rank <= max_rank) return CNNRT_OK;
  char text[CNNRT_SHAPE_TEXT_SIZE];
  cnnrt_shape_format(shape, text, sizeof(text));
  if (min_rank == max_rank) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node, "input %u (%s) expected rank %d, found %d (shape %s)",
                            input, role, min_rank, shape->rank, text);
  }
  return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                          "input %u (%s) expected rank %d to %d, found %d (shape %s)", input, role, min_rank,
                          max_rank, shape->rank, text);
}

cnnrt_status cnnrt_node_check_residual(const cnnrt_node* node, const cnnrt_shape* inputs,
                                       const cnnrt_shape* output) {
  if (!node->epilogue.residual) return CNNRT_OK;
  const cnnrt_shape* residual = &inputs[node->input_count - 1];
  if (cnnrt_shape_equal(residual, output)) return CNNRT_OK;
  char expected[CNNRT_SHAPE_TEXT_SIZE], found[CNNRT_SHAPE_TEXT_SIZE];
  return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                          "input %u (fused residual) expected the output shape %s, found %s",
                          node->input_count - 1, cnnrt_shape_format(output, expected, sizeof(expected)),
                          cnnrt_shape_format(residual, found, sizeof(found)));
}

cnnrt_status cnnrt_node_axis(const cnnrt_node* node, const char* attribute, int64_t axis, int32_t rank,
                             int32_t* resolved) {
  if (axis < -(int64_t)rank || axis >= (int64_t)rank) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "attribute '%s' expected an axis in [%d, %d] for a rank-%d input, found %lld",
                            attribute, -rank, rank - 1, rank, (long long)axis);
  }
  *resolved = (int32_t)(axis < 0 ? axis + rank : axis);
  return CNNRT_OK;
}

void cnnrt_op_state_free(void* state) { free(state); }

#define GEMV_BLOCK_ROWS 64

typedef struct gemv_job {
  cnnrt_f32_gemv_fn gemv;
  const float *w, *x, *bias, *residual;
  size_t rows, k;
  const cnnrt_epilogue* epilogue;
  float* y;
} gemv_job;

static void gemv_task(void* opaque, size_t begin, size_t end, int thread) {
  const gemv_job* job = opaque;
  const size_t blocks = cnnrt_divide_round_up(job->rows, GEMV_BLOCK_ROWS);
  for (size_t task = begin; task < end; task++) {
    const size_t n = task / blocks, row0 = task % blocks * GEMV_BLOCK_ROWS;
    const size_t row1 = row0 + GEMV_BLOCK_ROWS < job->rows ? row0 + GEMV_BLOCK_ROWS : job->rows;
    const cnnrt_f32_epilogue_params params = {job->bias, job->residual != NULL ? job->residual + n * job->rows : NULL,
                                              job->epilogue->activation, job->epilogue->alpha, job->epilogue->beta};
    job->gemv(job->w, job->k, job->x + n * job->k, &params, job->y + n * job->rows, row0, row1);
  }
  (void)thread;
}

void cnnrt_parallel_gemv(const cnnrt_run_context* context, cnnrt_f32_gemv_fn gemv, const float* w, size_t rows,
                         size_t k, size_t batch, const float* x, const float* bias, const float* residual,
                         const cnnrt_epilogue* epilogue, float* y) {
  gemv_job job = {gemv, w, x, bias, residual, rows, k, epilogue, y};
  cnnrt_parallel_for(context->pool, batch * cnnrt_divide_round_up(rows, GEMV_BLOCK_ROWS), 1, gemv_task, &job);
}
