/*
 * Helpers shared by the op implementations (native/src/ops): error messages
 * that name the node, input checks, the fused epilogue and per-thread
 * workspace slices. Not part of internal.h because only ops use them.
 */
#ifndef CNNRT_OP_COMMON_H
#define CNNRT_OP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kernels/kernels.h"

/* Per-thread workspace slices start on this boundary. */
#define CNNRT_WORKSPACE_ALIGN 64

/* An error whose message starts "node 'name' (Op): ". */
cnnrt_status cnnrt_node_error(cnnrt_status status, const cnnrt_node* node, const char* format, ...)
    CNNRT_PRINTF(3, 4);

/* Inputs of the op proper: all inputs but the fused residual. */
static inline uint32_t cnnrt_node_main_inputs(const cnnrt_node* node) {
  return node->epilogue.residual && node->input_count > 0 ? node->input_count - 1 : node->input_count;
}
/* 1 when optional input i of the op proper is given. */
static inline int cnnrt_node_has_input(const cnnrt_node* node, uint32_t i) {
  return i < cnnrt_node_main_inputs(node) && node->inputs[i] != CNNRT_NO_TENSOR;
}

/* Checks the op's own input count (without the residual) against [min, max]
 * and that required inputs are present, and the epilogue against what the op
 * supports (CNNRT_EPILOGUE_*). */
cnnrt_status cnnrt_node_check_io(const cnnrt_node* node, uint32_t min_inputs, uint32_t max_inputs,
                                 uint32_t min_outputs, uint32_t max_outputs, int epilogue);

/* The constant float32 tensor behind input i, checked: present, constant,
 * float32, rank in [min_rank, max_rank]. role is the ONNX input name ("W"). */
cnnrt_status cnnrt_node_constant_f32(const cnnrt_graph* graph, const cnnrt_node* node, uint32_t input,
                                     const char* role, int32_t min_rank, int32_t max_rank,
                                     const cnnrt_tensor_def** tensor);

/* Shape checks at reshape time (INVALID_ARGUMENT, "input 0 (X) expected ..."). */
cnnrt_status cnnrt_node_check_rank(const cnnrt_node* node, const cnnrt_shape* shape, uint32_t input,
                                   const char* role, int32_t min_rank, int32_t max_rank);
/* With a residual, checks that it has exactly the output's shape. */
cnnrt_status cnnrt_node_check_residual(const cnnrt_node* node, const cnnrt_shape* inputs,
                                       const cnnrt_shape* output);
/* Resolves a possibly negative axis against rank (axis in [-rank, rank)). */
cnnrt_status cnnrt_node_axis(const cnnrt_node* node, const char* attribute, int64_t axis, int32_t rank,
                             int32_t* resolved);

static inline size_t cnnrt_numel(const cnnrt_shape* shape) {
  size_t count = 1;
  for (int32_t i = 0; i < shape->rank; i++) count *= (size_t)shape->dims[i];
  return count;
}

static inline size_t cnnrt_round_up(size_t value, size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

static inline size_t cnnrt_divide_round_up(size_t value, size_t divisor) {
  return (value + divisor - 1) / divisor;
}

/* Thread `thread`'s slice of the workspace, per_thread_bytes each (rounded up
 * to CNNRT_WORKSPACE_ALIGN by the op in both reshape and run). */
static inline void* cnnrt_thread_scratch(const cnnrt_run_context* context, size_t per_thread_bytes,
                                         int thread) {
  return (char*)context->workspace + (size_t)thread * per_thread_bytes;
}

/* A shape as text for messages, in a caller-provided buffer. */
#define CNNRT_SHAPE_TEXT_SIZE 160

/* Task grain that gives each thread a few tasks (for dynamic balance) while
 * keeping tasks at least min_grain items. */
static inline size_t cnnrt_task_grain(size_t count, int threads, size_t min_grain) {
  size_t tasks = (size_t)(threads > 1 ? threads : 1) * 4;
  size_t grain = (count + tasks - 1) / tasks;
  return grain < min_grain ? min_grain : (grain == 0 ? 1 : grain);
}


/* destroy for ops whose state is one malloc'ed block (or NULL). */
void cnnrt_op_state_free(void* state);

/* y[n][i] = epilogue(W[i, :] . x[n]) for `batch` vectors x of k floats and
 * the `rows` rows of the row-major W, with the matrix-vector kernel `gemv`,
 * on the pool in tasks of (vector, block of rows). bias: one per row or
 * NULL; residual: laid out like y or NULL. Each row's sum is the kernel's
 * fixed order whatever the split. Used by 1x1 convolutions of 1x1 planes and
 * by one-row Gemms. */
void cnnrt_parallel_gemv(const cnnrt_run_context* context, cnnrt_f32_gemv_fn gemv, const float* w, size_t rows,
                         size_t k, size_t batch, const float* x, const float* bias, const float* residual,
                         const cnnrt_epilogue* epilogue, float* y);

#endif /* CNNRT_OP_COMMON_H */
