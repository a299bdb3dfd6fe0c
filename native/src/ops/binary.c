/*
 * Element-wise binary ops (Add, Sub, Mul, Div, Pow, Max, Min) with numpy
 * broadcasting up to CNNRT_MAX_RANK. Dims are first collapsed (neighbouring
 * dims with the same broadcast pattern merge), so same-shape, scalar and
 * per-channel cases become one long inner loop with a unit or zero step.
 * Output 0 may alias input A when A has the output's shape: every element is
 * read at the index it is written to, before it is written.
 */
#include <math.h>
#include <string.h>

#include "op_common.h"

#define BINARY_GRAIN 16384

enum { BINARY_ADD = 50, BINARY_SUB, BINARY_MUL, BINARY_DIV, BINARY_POW, BINARY_MAX, BINARY_MIN };

static cnnrt_status binary_create(const cnnrt_graph* graph, const cnnrt_node* node, void** state) {
  *state = NULL;
  return cnnrt_node_check_io(node, 2, 2, 1, 1,
                             node->op == BINARY_ADD ? CNNRT_EPILOGUE_ACTIVATION : CNNRT_EPILOGUE_NONE);
}

/* The broadcast output shape of a and b, or an error naming both inputs. */
static cnnrt_status broadcast_shape(const cnnrt_node* node, const cnnrt_shape* a, const cnnrt_shape* b,
                                    cnnrt_shape* out) {
  const int32_t rank = a->rank > b->rank ? a->rank : b->rank;
  out->rank = rank;
  for (int32_t d = 0; d < rank; d++) {
    int32_t ad = d - (rank - a->rank), bd = d - (rank - b->rank);
    int64_t a_dim = ad >= 0 ? a->dims[ad] : 1, b_dim = bd >= 0 ? b->dims[bd] : 1;
    if (a_dim != b_dim && a_dim != 1 && b_dim != 1) {
      char a_text[CNNRT_SHAPE_TEXT_SIZE], b_text[CNNRT_SHAPE_TEXT_SIZE];
      return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                              "inputs 0 (A) shape %s and 1 (B) shape %s expected to broadcast, found %lld vs %lld at output dim %d",
                              cnnrt_shape_format(a, a_text, sizeof(a_text)), cnnrt_shape_format(b, b_text, sizeof(b_text)),
                              (long long)a_dim, (long long)b_dim, d);
    }
    out->dims[d] = a_dim == 1 ? b_dim : a_dim;
  }
  return CNNRT_OK;
}

static cnnrt_status binary_reshape(const cnnrt_node* node, const void* state, const cnnrt_shape* inputs,
                                   cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  cnnrt_status status = broadcast_shape(node, &inputs[0], &inputs[1], &outputs[0]);
  if (status != CNNRT_OK) return status;
  info->workspace_bytes = 0;
  info->macs = cnnrt_numel(&outputs[0]);
  const cnnrt_f32_vector_config* vector = cnnrt_f32_vector_config_get();
  const char* simd = strcmp(vector->name, "avx2") == 0 ? "f32_binary_broadcast_avx2" : "f32_binary_broadcast_avx512";
  info->kernel = node->op != BINARY_POW && vector->binary != NULL ? simd : "f32_binary_broadcast_ref";
  return CNNRT_OK;
}

/* The collapsed iteration space. */
typedef struct binary_job {
  int op;
  const cnnrt_epilogue* epilogue;
  int rank;                          /* collapsed dims, >= 1 */
  size_t dims[CNNRT_MAX_RANK];
  size_t a_strides[CNNRT_MAX_RANK], b_strides[CNNRT_MAX_RANK];
  const float* a;
  const float* b;
  float* y;
  const cnnrt_f32_vector_config* vector;
  int vector_op; /* CNNRT_F32_VBINARY_*, or -1 (Pow, or no SIMD kernel): the loops below */
} binary_job;

#define BINARY_LOOP(expression)                                                        \
  do {                                                                                 \
    if (a_step == 1 && b_step == 1) {                                                  \
      for (size_t i = 0; i < n; i++) { float va = a[i], vb = b[i]; y[i] = (expression); } \
    } else if (a_step == 1) {                                                          \
      const float vb = b[0];                                                           \
      for (size_t i = 0; i < n; i++) { float va = a[i]; y[i] = (expression); }        \
    } else if (b_step == 1) {                                                          \
      const float va = a[0];                                                           \
      for (size_t i = 0; i < n; i++) { float vb = b[i]; y[i] = (expression); }        \
    } else {                                                                           \
      const float va = a[0], vb = b[0];                                                \
      const float value = (expression);                                                \
      for (size_t i = 0; i < n; i++) y[i] = value;                                     \
    }                                                                                  \
  } while (0)

static void binary_span(int op, float* y, const float* a, size_t a_step, const float* b, size_t b_step, size_t n) {
  switch (op) {
    case BINARY_ADD: BINARY_LOOP(va + vb); break;
    case BINARY_SUB: BINARY_LOOP(va - vb); break;
    case BINARY_MUL: BINARY_LOOP(va * vb); break;
    case BINARY_DIV: BINARY_LOOP(va / vb); break;
    case BINARY_POW: BINARY_LOOP(powf(va, vb)); break;
    /* NaN propagates, as in numpy maximum/minimum. */
    case BINARY_MAX: BINARY_LOOP((va > vb || va != va) ? va : vb); break;
    case BINARY_MIN: BINARY_LOOP((va < vb || va != va) ? va : vb); break;
    default: break;
  }
}

static void binary_task(void* opaque, size_t begin, size_t end, int thread) {
  const binary_job* job = opaque;
  const int inner = job->rank - 1;
  const size_t row_length = job->dims[inner];
  size_t position = begin;
  while (position < end) {
    size_t row = position / row_length, column = position % row_length;
    size_t a_offset = column * job->a_strides[inner], b_offset = column * job->b_strides[inner];
    for (int d = inner - 1; d >= 0; d--) {
      size_t coordinate = row % job->dims[d];
      row /= job->dims[d];
      a_offset += coordinate * job->a_strides[d];
      b_offset += coordinate * job->b_strides[d];
    }
    size_t n = row_length - column;
    if (n > end - position) n = end - position;
    float* y = job->y + position;
    if (job->vector_op >= 0) {
      job->vector->binary(job->vector_op, y, job->a + a_offset, job->a_strides[inner], job->b + b_offset,
                          job->b_strides[inner], n);
    } else {
      binary_span(job->op, y, job->a + a_offset, job->a_strides[inner], job->b + b_offset, job->b_strides[inner], n);
    }
    if (job->epilogue->activation != CNNRT_ACT_NONE) {
      if (job->vector->activation != NULL) {
        job->vector->activation(y, y, n, job->epilogue->activation, job->epilogue->alpha, job->epilogue->beta);
      } else {
        cnnrt_f32_activation_ref(y, n, job->epilogue->activation, job->epilogue->alpha, job->epilogue->beta);
      }
    }
    position += n;
  }
}

static void binary_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* state,
                       const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const cnnrt_shape* a = &inputs[0].shape;
  const cnnrt_shape* b = &inputs[1].shape;
  cnnrt_shape out;
  if (broadcast_shape(node, a, b, &out) != CNNRT_OK) return;
  binary_job job;
  memset(&job, 0, sizeof(job));
  job.op = node->op;
  job.epilogue = &node->epilogue;
  job.a = inputs[0].data;
  job.b = inputs[1].data;
  job.y = outputs[0].data;
  job.vector = cnnrt_f32_vector_config_get();
  job.vector_op = -1;
  if (job.vector->binary != NULL) {
    switch (job.op) {
      case BINARY_ADD: job.vector_op = CNNRT_F32_VBINARY_ADD; break;
      case BINARY_SUB: job.vector_op = CNNRT_F32_VBINARY_SUB; break;
      case BINARY_MUL: job.vector_op = CNNRT_F32_VBINARY_MUL; break;
      case BINARY_DIV: job.vector_op = CNNRT_F32_VBINARY_DIV; break;
      case BINARY_MAX: job.vector_op = CNNRT_F32_VBINARY_MAX; break;
      case BINARY_MIN: job.vector_op = CNNRT_F32_VBINARY_MIN; break;
      default: break;
    }
  }
  /* Collapse: drop size-1 output dims, merge neighbours whose A and B are
   * both full or both broadcast in the same way. */
  int a_full[CNNRT_MAX_RANK], b_full[CNNRT_MAX_RANK];
  int rank = 0;
  for (int32_t d = 0; d < out.rank; d++) {
    if (out.dims[d] == 1) continue;
    int32_t ad = d - (out.rank - a->rank), bd = d - (out.rank - b->rank);
    int af = ad >= 0 && a->dims[ad] != 1, bf = bd >= 0 && b->dims[bd] != 1;
    if (rank > 0 && a_full[rank - 1] == af && b_full[rank - 1] == bf) {
      job.dims[rank - 1] *= (size_t)out.dims[d];
    } else {
      a_full[rank] = af;
      b_full[rank] = bf;
      job.dims[rank] = (size_t)out.dims[d];
      rank++;
    }
  }
  if (rank == 0) {
    a_full[0] = b_full[0] = 1;
    job.dims[0] = 1;
    rank = 1;
  }
  job.rank = rank;
  size_t a_stride = 1, b_stride = 1;
  for (int d = rank - 1; d >= 0; d--) {
    job.a_strides[d] = a_full[d] ? a_stride : 0;
    job.b_strides[d] = b_full[d] ? b_stride : 0;
    if (a_full[d]) a_stride *= job.dims[d];
    if (b_full[d]) b_stride *= job.dims[d];
  }
  size_t count = cnnrt_numel(&out);
  if (count == 0) return;
  cnnrt_parallel_for(context->pool, count, cnnrt_task_grain(count, context->threads, BINARY_GRAIN), binary_task, &job);
}

#define BINARY_OP(symbol, op_code, op_name, epilogue_kind)                                                  \
  const cnnrt_op_def symbol = {                                                                           \
      .code = op_code, .name = op_name, .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1, \
      .epilogue = epilogue_kind, .in_place = 1,                                                           \
      .create = binary_create, .destroy = cnnrt_op_state_free, .reshape = binary_reshape, .run = binary_run, \
  }

BINARY_OP(cnnrt_op_add, 50, "Add", CNNRT_EPILOGUE_ACTIVATION);
BINARY_OP(cnnrt_op_sub, 51, "Sub", CNNRT_EPILOGUE_NONE);
BINARY_OP(cnnrt_op_mul, 52, "Mul", CNNRT_EPILOGUE_NONE);
BINARY_OP(cnnrt_op_div, 53, "Div", CNNRT_EPILOGUE_NONE);
BINARY_OP(cnnrt_op_pow, 54, "Pow", CNNRT_EPILOGUE_NONE);
BINARY_OP(cnnrt_op_max, 55, "Max", CNNRT_EPILOGUE_NONE);
BINARY_OP(cnnrt_op_min, 56, "Min", CNNRT_EPILOGUE_NONE);
