/*
 * Gemm (transA/transB, alpha, beta, C broadcast) and MatMul (numpy semantics:
 * 1-D operands, broadcast batch dims), both with the fused epilogue, on the
 * packed GEMM microkernel. A constant B is packed once at load time. Tasks are
 * (batch, row block, column block) tiles of the output; each output element
 * is summed over the whole of K in one order, whatever the split.
 * A Gemm of one row (a classifier at batch 1) with a constant transposed B
 * (PyTorch's Linear: W [n x k]) is n dot products instead: the matrix-vector
 * kernel reads W in place, where the GEMM tile would compute 8 rows for one
 * (ResNet-50's 2048 x 1000 classifier: 0.42 -> 0.2 ms). It sums in its own
 * fixed order, so that row's bits can differ from the same row in a larger
 * batch, never with the thread count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

#define GEMM_COLUMN_BLOCK 256

/* One matrix product C[m x n] = A[m x k] * B[k x n] with strided operands. */
typedef struct gemm_operands {
  size_t m, n, k;
  const float* a;
  size_t a_row_stride, a_col_stride;
  const float* b;                 /* used when b_packed is NULL */
  size_t b_row_stride, b_col_stride;
  const float* b_packed;          /* panels of nr columns covering all of n, or NULL */
  float* y;                       /* row stride n */
  /* Epilogue: y = alpha * acc + beta * C + residual, then the activation. */
  float alpha, beta;
  const float* c;                 /* NULL when absent; element (i, j) at c[i * c_row_stride + j * c_col_stride] */
  size_t c_row_stride, c_col_stride;
  const float* residual;          /* row stride n, or NULL */
  const cnnrt_epilogue* epilogue;
} gemm_operands;

typedef struct gemm_split {
  size_t row_block, row_blocks;      /* rows per task (multiple of MR) */
  size_t column_block, column_blocks;
  size_t scratch_bytes;              /* per thread */
} gemm_split;

static void gemm_split_make(const cnnrt_f32_gemm_config* config, size_t batch, size_t m, size_t n, size_t k,
                            int b_prepacked, int threads, gemm_split* split) {
  const size_t mr = config->mr, nr = config->nr;
  size_t column_block = cnnrt_round_up(n > 0 ? n : 1, nr);
  if (column_block > GEMM_COLUMN_BLOCK) column_block = GEMM_COLUMN_BLOCK;
  split->column_block = column_block;
  split->column_blocks = cnnrt_divide_round_up(n, column_block);
  size_t panels = cnnrt_divide_round_up(m > 0 ? m : 1, mr);
  size_t base = batch * split->column_blocks;
  size_t wanted = (size_t)(threads > 1 ? threads : 1) * 4;
  size_t blocks = 1;
  if (threads > 1 && base < wanted) blocks = cnnrt_divide_round_up(wanted, base > 0 ? base : 1);
  if (blocks > panels) blocks = panels;
  split->row_block = cnnrt_divide_round_up(panels, blocks) * mr;
  split->row_blocks = cnnrt_divide_round_up(m, split->row_block);
  size_t floats = mr * k + (b_prepacked ? 0 : k * column_block);
  split->scratch_bytes = cnnrt_round_up(floats * sizeof(float), CNNRT_WORKSPACE_ALIGN);
}

/* Rows [m0, m1) x columns [n0, n1) of one product. */
static void gemm_tile(const cnnrt_f32_gemm_config* config, const gemm_operands* op, size_t m0, size_t m1,
                      size_t n0, size_t n1, float* scratch) {
  const size_t mr = config->mr, nr = config->nr, k = op->k;
  float* a_panel = scratch;
  float* b_block = scratch + mr * k;
  const float* b_base;
  size_t b_stride;
  int b_direct = 0;
  if (op->b_packed != NULL) {
    b_base = op->b_packed + n0 * k;
    b_stride = nr;
  } else if (op->b_col_stride == 1 && n1 - n0 >= nr) {
    /* Full panels are read in place; only a ragged last panel is packed. */
    b_direct = 1;
    b_base = op->b;
    b_stride = op->b_row_stride;
    size_t full = (n1 - n0) / nr * nr;
    if (n0 + full < n1) {
      cnnrt_f32_gemm_pack_b(k, n1 - n0 - full, op->b + (n0 + full) * op->b_col_stride, op->b_row_stride,
                            op->b_col_stride, nr, b_block);
    }
  } else {
    cnnrt_f32_gemm_pack_b(k, n1 - n0, op->b + n0 * op->b_col_stride, op->b_row_stride, op->b_col_stride, nr,
                          b_block);
    b_base = b_block;
    b_stride = nr;
  }
  for (size_t i = m0; i < m1; i += mr) {
    const size_t rows = m1 - i < mr ? m1 - i : mr;
    cnnrt_f32_gemm_pack_a(rows, k, op->a + i * op->a_row_stride, op->a_row_stride, op->a_col_stride, mr, a_panel);
    for (size_t j = n0; j < n1; j += nr) {
      const size_t cols = n1 - j < nr ? n1 - j : nr;
      const float* b;
      size_t stride = b_stride;
      if (b_direct) {
        if (cols == nr) {
          b = b_base + j;
        } else {
          b = b_block;
          stride = nr;
        }
      } else {
        b = b_base + (j - n0) * k;
      }
      float* y = op->y + i * op->n + j;
      config->ukernel(rows, cols, k, a_panel, b, stride, y, op->n);
      for (size_t r = 0; r < rows; r++) {
        float* row = y + r * op->n;
        if (op->alpha != 1.0f) {
          for (size_t t = 0; t < cols; t++) row[t] *= op->alpha;
        }
        if (op->c != NULL) {
          const float* c = op->c + (i + r) * op->c_row_stride + j * op->c_col_stride;
          for (size_t t = 0; t < cols; t++) row[t] += op->beta * c[t * op->c_col_stride];
        }
        cnnrt_f32_epilogue_ref(row, cols, 0.0f, op->residual != NULL ? op->residual + (i + r) * op->n + j : NULL,
                               op->epilogue->activation, op->epilogue->alpha, op->epilogue->beta);
      }
    }
  }
}

/* ---- Gemm ------------------------------------------------------------------ */

typedef struct gemm_state {
  int trans_a, trans_b;
  float alpha, beta;
  const cnnrt_f32_gemm_config* config;
  float* b_packed; /* constant B, packed at load; NULL otherwise */
  size_t b_k, b_n;
  char kernel[48];  /* the name reshape reports */
  /* Matrix-vector path for one row: constant B with transB (W [n x k] in
   * the model file) and a SIMD kernel; NULL otherwise. */
  const float* gemv_weights;
  cnnrt_f32_gemv_fn gemv;
  char kernel_gemv[48];
} gemm_state;

static void gemm_destroy(void* opaque) {
  gemm_state* state = opaque;
  if (state == NULL) return;
  free(state->b_packed);
  free(state);
}

static cnnrt_status gemm_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 2, 3, 1, 1, CNNRT_EPILOGUE_FULL);
  if (status != CNNRT_OK) return status;
  gemm_state state;
  memset(&state, 0, sizeof(state));
  int64_t trans_a, trans_b;
  if ((status = cnnrt_attr_int(node, "transA", 0, &trans_a)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "transB", 0, &trans_b)) != CNNRT_OK) return status;
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attributes 'transA'/'transB' expected 0 or 1, found %lld/%lld",
                            (long long)trans_a, (long long)trans_b);
  }
  state.trans_a = (int)trans_a;
  state.trans_b = (int)trans_b;
  if ((status = cnnrt_attr_float(node, "alpha", 1.0f, &state.alpha)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_float(node, "beta", 1.0f, &state.beta)) != CNNRT_OK) return status;
  state.config = cnnrt_f32_gemm_config_get();
  snprintf(state.kernel, sizeof(state.kernel), "gemm_%s", state.config->name);
  gemm_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  if (cnnrt_node_constant(graph, node, 1) != NULL) {
    const cnnrt_tensor_def* b;
    if ((status = cnnrt_node_constant_f32(graph, node, 1, "B", 2, 2, &b)) != CNNRT_OK) {
      free(result);
      return status;
    }
    const size_t rows = (size_t)b->shape.dims[0], cols = (size_t)b->shape.dims[1];
    result->b_k = state.trans_b ? cols : rows;
    result->b_n = state.trans_b ? rows : cols;
    size_t floats = cnnrt_f32_gemm_packed_b_floats(result->b_k, result->b_n, state.config->nr);
    result->b_packed = malloc((floats > 0 ? floats : 1) * sizeof(float));
    if (result->b_packed == NULL) {
      free(result);
      return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory packing %zu weights", floats);
    }
    cnnrt_f32_gemm_pack_b(result->b_k, result->b_n, b->data, state.trans_b ? 1 : cols, state.trans_b ? cols : 1,
                          state.config->nr, result->b_packed);
    const cnnrt_f32_vector_config* vector = cnnrt_f32_vector_config_get();
    if (state.trans_b && vector->gemv != NULL) {
      result->gemv_weights = b->data;
      result->gemv = vector->gemv;
      snprintf(result->kernel_gemv, sizeof(result->kernel_gemv), "gemv_%s", vector->name);
    }
  }
  *out_state = result;
  return CNNRT_OK;
}

/* 1 when this product is one row that the matrix-vector kernel takes: its
 * epilogue is the kernel's (C absent, or one bias per column with alpha and
 * beta 1). c: C's shape, NULL when absent. */
static int gemm_uses_gemv(const gemm_state* state, size_t m, size_t n, const cnnrt_shape* c) {
  if (state->gemv == NULL || m != 1) return 0;
  if (c == NULL) return state->alpha == 1.0f;
  const int per_column = (c->rank == 1 && (size_t)c->dims[0] == n) ||
                         (c->rank == 2 && c->dims[0] == 1 && (size_t)c->dims[1] == n);
  return per_column && n > 1 && state->alpha == 1.0f && state->beta == 1.0f;
}

static cnnrt_status gemm_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                 cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const gemm_state* state = opaque;
  cnnrt_status status;
  if ((status = cnnrt_node_check_rank(node, &inputs[0], 0, "A", 2, 2)) != CNNRT_OK) return status;
  if ((status = cnnrt_node_check_rank(node, &inputs[1], 1, "B", 2, 2)) != CNNRT_OK) return status;
  const int64_t m = state->trans_a ? inputs[0].dims[1] : inputs[0].dims[0];
  const int64_t k = state->trans_a ? inputs[0].dims[0] : inputs[0].dims[1];
  const int64_t kb = state->trans_b ? inputs[1].dims[1] : inputs[1].dims[0];
  const int64_t n = state->trans_b ? inputs[1].dims[0] : inputs[1].dims[1];
  char a_text[CNNRT_SHAPE_TEXT_SIZE], b_text[CNNRT_SHAPE_TEXT_SIZE];
  if (k != kb) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 1 (B) expected a reduction size of %lld to match A (shape %s, transA=%d), found %lld (shape %s, transB=%d)",
                            (long long)k, cnnrt_shape_format(&inputs[0], a_text, sizeof(a_text)), state->trans_a,
                            (long long)kb, cnnrt_shape_format(&inputs[1], b_text, sizeof(b_text)), state->trans_b);
  }
  if (cnnrt_node_has_input(node, 2)) {
    const cnnrt_shape* c = &inputs[2];
    int ok = c->rank <= 2;
    if (ok && c->rank == 2) ok = (c->dims[0] == 1 || c->dims[0] == m) && (c->dims[1] == 1 || c->dims[1] == n);
    if (ok && c->rank == 1) ok = c->dims[0] == 1 || c->dims[0] == n;
    if (!ok) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "input 2 (C) expected a shape that broadcasts to [%lld, %lld], found %s", (long long)m,
                              (long long)n, cnnrt_shape_format(c, a_text, sizeof(a_text)));
    }
  }
  outputs[0].rank = 2;
  outputs[0].dims[0] = m;
  outputs[0].dims[1] = n;
  if ((status = cnnrt_node_check_residual(node, inputs, &outputs[0])) != CNNRT_OK) return status;
  info->macs = (uint64_t)m * (uint64_t)n * (uint64_t)k;
  if (gemm_uses_gemv(state, (size_t)m, (size_t)n, cnnrt_node_has_input(node, 2) ? &inputs[2] : NULL)) {
    info->workspace_bytes = 0;
    info->kernel = state->kernel_gemv;
    return CNNRT_OK;
  }
  gemm_split split;
  gemm_split_make(state->config, 1, (size_t)m, (size_t)n, (size_t)k, state->b_packed != NULL, info->threads, &split);
  info->workspace_bytes = split.scratch_bytes * (size_t)(info->threads > 1 ? info->threads : 1);
  info->kernel = state->kernel;
  return CNNRT_OK;
}

typedef struct gemm_job {
  const cnnrt_run_context* context;
  const cnnrt_f32_gemm_config* config;
  const gemm_split* split;
  gemm_operands operands;          /* Gemm: the one product */
  /* MatMul: per-batch offsets (element strides of A and B per output batch index) */
  size_t batch_rank;
  int64_t batch_dims[CNNRT_MAX_RANK];
  size_t a_batch_strides[CNNRT_MAX_RANK], b_batch_strides[CNNRT_MAX_RANK];
  size_t b_packed_matrix_floats;
} gemm_job;

static void gemm_task(void* opaque, size_t begin, size_t end, int thread) {
  const gemm_job* job = opaque;
  const gemm_split* split = job->split;
  float* scratch = cnnrt_thread_scratch(job->context, split->scratch_bytes, thread);
  for (size_t task = begin; task < end; task++) {
    size_t column_block = task % split->column_blocks;
    size_t rest = task / split->column_blocks;
    size_t row_block = rest % split->row_blocks;
    size_t batch = rest / split->row_blocks;
    gemm_operands op = job->operands;
    if (job->batch_rank > 0) {
      size_t a_offset = 0, b_offset = 0, b_matrix = 0, index = batch;
      for (size_t d = job->batch_rank; d-- > 0;) {
        size_t coordinate = index % (size_t)job->batch_dims[d];
        index /= (size_t)job->batch_dims[d];
        a_offset += coordinate * job->a_batch_strides[d];
        b_offset += coordinate * job->b_batch_strides[d];
      }
      op.a += a_offset * op.m * op.k;
      if (op.b_packed != NULL) {
        b_matrix = b_offset;
        op.b_packed += b_matrix * job->b_packed_matrix_floats;
      } else {
        op.b += b_offset * op.k * op.n;
      }
      op.y += batch * op.m * op.n;
      if (op.residual != NULL) op.residual += batch * op.m * op.n;
    }
    size_t m0 = row_block * split->row_block;
    size_t m1 = m0 + split->row_block < op.m ? m0 + split->row_block : op.m;
    size_t n0 = column_block * split->column_block;
    size_t n1 = n0 + split->column_block < op.n ? n0 + split->column_block : op.n;
    gemm_tile(job->config, &op, m0, m1, n0, n1, scratch);
  }
}

static void gemm_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                     const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const gemm_state* state = opaque;
  const cnnrt_shape* a = &inputs[0].shape;
  const cnnrt_shape* b = &inputs[1].shape;
  gemm_job job;
  memset(&job, 0, sizeof(job));
  gemm_operands* op = &job.operands;
  op->m = (size_t)(state->trans_a ? a->dims[1] : a->dims[0]);
  op->k = (size_t)(state->trans_a ? a->dims[0] : a->dims[1]);
  op->n = (size_t)(state->trans_b ? b->dims[0] : b->dims[1]);
  if (op->m == 0 || op->n == 0) return;
  if (gemm_uses_gemv(state, op->m, op->n, cnnrt_node_has_input(node, 2) ? &inputs[2].shape : NULL)) {
    /* A is one row (or, with transA, one column): k contiguous floats. */
    cnnrt_parallel_gemv(context, state->gemv, state->gemv_weights, op->n, op->k, 1, inputs[0].data,
                        cnnrt_node_has_input(node, 2) ? inputs[2].data : NULL,
                        node->epilogue.residual ? inputs[node->input_count - 1].data : NULL, &node->epilogue,
                        outputs[0].data);
    return;
  }
  op->a = inputs[0].data;
  op->a_row_stride = state->trans_a ? 1 : op->k;
  op->a_col_stride = state->trans_a ? op->m : 1;
  op->b = inputs[1].data;
  op->b_row_stride = state->trans_b ? 1 : op->n;
  op->b_col_stride = state->trans_b ? op->k : 1;
  op->b_packed = state->b_packed;
  op->y = outputs[0].data;
  op->alpha = state->alpha;
  op->beta = state->beta;
  if (cnnrt_node_has_input(node, 2)) {
    const cnnrt_shape* c = &inputs[2].shape;
    op->c = inputs[2].data;
    if (c->rank == 2) {
      op->c_row_stride = c->dims[0] == 1 ? 0 : (size_t)c->dims[1];
      op->c_col_stride = c->dims[1] == 1 ? 0 : 1;
    } else if (c->rank == 1) {
      op->c_row_stride = 0;
      op->c_col_stride = c->dims[0] == 1 ? 0 : 1;
    } else {
      op->c_row_stride = op->c_col_stride = 0;
    }
  }
  op->residual = node->epilogue.residual ? inputs[node->input_count - 1].data : NULL;
  op->epilogue = &node->epilogue;
  gemm_split split;
  gemm_split_make(state->config, 1, op->m, op->n, op->k, state->b_packed != NULL, context->threads, &split);
  job.context = context;
  job.config = state->config;
  job.split = &split;
  cnnrt_parallel_for(context->pool, split.row_blocks * split.column_blocks, 1, gemm_task, &job);
}

/* ---- MatMul ---------------------------------------------------------------- */

typedef struct matmul_state {
  const cnnrt_f32_gemm_config* config;
  float* b_packed;          /* constant B: every batch matrix packed; NULL otherwise */
  size_t b_matrix_floats;
  char kernel[48];  /* the name reshape reports */
} matmul_state;

static void matmul_destroy(void* opaque) {
  matmul_state* state = opaque;
  if (state == NULL) return;
  free(state->b_packed);
  free(state);
}

static cnnrt_status matmul_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 2, 2, 1, 1, CNNRT_EPILOGUE_FULL);
  if (status != CNNRT_OK) return status;
  matmul_state* state = calloc(1, sizeof(*state));
  if (state == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  state->config = cnnrt_f32_gemm_config_get();
  snprintf(state->kernel, sizeof(state->kernel), "matmul_gemm_%s", state->config->name);
  if (cnnrt_node_constant(graph, node, 1) != NULL) {
    const cnnrt_tensor_def* b;
    if ((status = cnnrt_node_constant_f32(graph, node, 1, "B", 1, CNNRT_MAX_RANK, &b)) != CNNRT_OK) {
      free(state);
      return status;
    }
    const int32_t rank = b->shape.rank;
    const size_t k = (size_t)(rank == 1 ? b->shape.dims[0] : b->shape.dims[rank - 2]);
    const size_t n = rank == 1 ? 1 : (size_t)b->shape.dims[rank - 1];
    size_t matrices = 1;
    for (int32_t i = 0; i + 2 < rank; i++) matrices *= (size_t)b->shape.dims[i];
    state->b_matrix_floats = cnnrt_f32_gemm_packed_b_floats(k, n, state->config->nr);
    size_t floats = state->b_matrix_floats * matrices;
    state->b_packed = malloc((floats > 0 ? floats : 1) * sizeof(float));
    if (state->b_packed == NULL) {
      free(state);
      return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory packing %zu weights", floats);
    }
    for (size_t i = 0; i < matrices; i++) {
      cnnrt_f32_gemm_pack_b(k, n, (const float*)b->data + i * k * n, n, 1, state->config->nr,
                            state->b_packed + i * state->b_matrix_floats);
    }
  }
  *out_state = state;
  return CNNRT_OK;
}

/* Shapes of a MatMul: batch dims (broadcast), m, k, n, and the output shape. */
typedef struct matmul_shapes {
  int32_t batch_rank;
  int64_t batch_dims[CNNRT_MAX_RANK];
  size_t a_batch_strides[CNNRT_MAX_RANK], b_batch_strides[CNNRT_MAX_RANK]; /* in matrices */
  size_t batch, m, k, n;
  cnnrt_shape output;
} matmul_shapes;

static cnnrt_status matmul_shapes_make(const cnnrt_node* node, const cnnrt_shape* a, const cnnrt_shape* b,
                                       matmul_shapes* s) {
  cnnrt_status status;
  if ((status = cnnrt_node_check_rank(node, a, 0, "A", 1, CNNRT_MAX_RANK)) != CNNRT_OK) return status;
  if ((status = cnnrt_node_check_rank(node, b, 1, "B", 1, CNNRT_MAX_RANK)) != CNNRT_OK) return status;
  memset(s, 0, sizeof(*s));
  s->m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2];
  s->k = (size_t)a->dims[a->rank - 1];
  size_t kb = (size_t)(b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2]);
  s->n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
  char a_text[CNNRT_SHAPE_TEXT_SIZE], b_text[CNNRT_SHAPE_TEXT_SIZE];
  if (s->k != kb) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 1 (B) expected %zu rows to match the columns of A (shape %s), found %zu (shape %s)",
                            s->k, cnnrt_shape_format(a, a_text, sizeof(a_text)), kb,
                            cnnrt_shape_format(b, b_text, sizeof(b_text)));
  }
  const int32_t a_batch = a->rank > 2 ? a->rank - 2 : 0, b_batch = b->rank > 2 ? b->rank - 2 : 0;
  s->batch_rank = a_batch > b_batch ? a_batch : b_batch;
  size_t a_stride = 1, b_stride = 1;
  s->batch = 1;
  for (int32_t d = s->batch_rank - 1; d >= 0; d--) {
    int32_t ad = d - (s->batch_rank - a_batch), bd = d - (s->batch_rank - b_batch);
    int64_t a_dim = ad >= 0 ? a->dims[ad] : 1, b_dim = bd >= 0 ? b->dims[bd] : 1;
    if (a_dim != b_dim && a_dim != 1 && b_dim != 1) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "inputs A (shape %s) and B (shape %s) expected broadcastable batch dims, found %lld and %lld",
                              cnnrt_shape_format(a, a_text, sizeof(a_text)), cnnrt_shape_format(b, b_text, sizeof(b_text)),
                              (long long)a_dim, (long long)b_dim);
    }
    s->batch_dims[d] = a_dim == 1 ? b_dim : a_dim;
    s->a_batch_strides[d] = a_dim == 1 ? 0 : a_stride;
    s->b_batch_strides[d] = b_dim == 1 ? 0 : b_stride;
    a_stride *= (size_t)a_dim;
    b_stride *= (size_t)b_dim;
    s->batch *= (size_t)s->batch_dims[d];
  }
  cnnrt_shape* y = &s->output;
  y->rank = 0;
  for (int32_t d = 0; d < s->batch_rank; d++) y->dims[y->rank++] = s->batch_dims[d];
  if (a->rank > 1) y->dims[y->rank++] = (int64_t)s->m;
  if (b->rank > 1) y->dims[y->rank++] = (int64_t)s->n;
  return CNNRT_OK;
}

static cnnrt_status matmul_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                   cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const matmul_state* state = opaque;
  matmul_shapes s;
  cnnrt_status status = matmul_shapes_make(node, &inputs[0], &inputs[1], &s);
  if (status != CNNRT_OK) return status;
  outputs[0] = s.output;
  if ((status = cnnrt_node_check_residual(node, inputs, &outputs[0])) != CNNRT_OK) return status;
  gemm_split split;
  gemm_split_make(state->config, s.batch, s.m, s.n, s.k, state->b_packed != NULL, info->threads, &split);
  info->workspace_bytes = split.scratch_bytes * (size_t)(info->threads > 1 ? info->threads : 1);
  info->macs = (uint64_t)s.batch * s.m * s.n * s.k;
  info->kernel = state->kernel;
  return CNNRT_OK;
}

static void matmul_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                       const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const matmul_state* state = opaque;
  matmul_shapes s;
  if (matmul_shapes_make(node, &inputs[0].shape, &inputs[1].shape, &s) != CNNRT_OK) return;
  if (s.batch == 0 || s.m == 0 || s.n == 0) return;
  gemm_job job;
  memset(&job, 0, sizeof(job));
  gemm_operands* op = &job.operands;
  op->m = s.m;
  op->n = s.n;
  op->k = s.k;
  op->a = inputs[0].data;
  op->a_row_stride = s.k;
  op->a_col_stride = 1;
  op->b = inputs[1].data;
  op->b_row_stride = s.n;
  op->b_col_stride = 1;
  op->b_packed = state->b_packed;
  op->y = outputs[0].data;
  op->alpha = 1.0f;
  op->beta = 0.0f;
  op->residual = node->epilogue.residual ? inputs[node->input_count - 1].data : NULL;
  op->epilogue = &node->epilogue;
  job.batch_rank = (size_t)s.batch_rank;
  for (int32_t d = 0; d < s.batch_rank; d++) {
    job.batch_dims[d] = s.batch_dims[d];
    job.a_batch_strides[d] = s.a_batch_strides[d];
    job.b_batch_strides[d] = s.b_batch_strides[d];
  }
  job.b_packed_matrix_floats = state->b_matrix_floats;
  gemm_split split;
  gemm_split_make(state->config, s.batch, s.m, s.n, s.k, state->b_packed != NULL, context->threads, &split);
  job.context = context;
  job.config = state->config;
  job.split = &split;
  cnnrt_parallel_for(context->pool, s.batch * split.row_blocks * split.column_blocks, 1, gemm_task, &job);
}

const cnnrt_op_def cnnrt_op_gemm = {
    .code = 7, .name = "Gemm", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_FULL, .in_place = 0,
    .create = gemm_create, .destroy = gemm_destroy, .reshape = gemm_reshape, .run = gemm_run,
};

const cnnrt_op_def cnnrt_op_matmul = {
    .code = 8, .name = "MatMul", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_FULL, .in_place = 0,
    .create = matmul_create, .destroy = matmul_destroy, .reshape = matmul_reshape, .run = matmul_run,
};
