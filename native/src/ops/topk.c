/*
 * TopK: the k largest (or smallest) values along one axis and their int64
 * indices. Equal values keep index order (the lower index first, as ONNX
 * asks); NaN counts as larger than every number. The output is always in
 * sorted order (sorted = 0 leaves the order open, so sorted order is a valid
 * answer). Each column is selected on its own, in parallel, in a per-thread
 * slice of the workspace.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_common.h"

typedef struct topk_state {
  int64_t k, axis;
  int largest;
} topk_state;

typedef struct topk_entry {
  float value;
  int64_t index;
} topk_entry;

static cnnrt_status topk_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 1, 1, 1, 2, CNNRT_EPILOGUE_NONE);
  if (status != CNNRT_OK) return status;
  topk_state state;
  int64_t largest, sorted;
  if (cnnrt_node_attr(node, "k") == NULL) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'k' is required");
  }
  if ((status = cnnrt_attr_int(node, "k", 0, &state.k)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "axis", -1, &state.axis)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "largest", 1, &largest)) != CNNRT_OK) return status;
  if ((status = cnnrt_attr_int(node, "sorted", 1, &sorted)) != CNNRT_OK) return status;
  if (state.k < 0) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "attribute 'k' expected >= 0, found %lld",
                            (long long)state.k);
  }
  if ((largest != 0 && largest != 1) || (sorted != 0 && sorted != 1)) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attributes 'largest' and 'sorted' expected 0 or 1, found %lld and %lld",
                            (long long)largest, (long long)sorted);
  }
  state.largest = (int)largest;
  topk_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  *out_state = result;
  return CNNRT_OK;
}

static size_t topk_scratch_bytes(int64_t length) {
  return cnnrt_round_up((size_t)length * sizeof(topk_entry), CNNRT_WORKSPACE_ALIGN);
}

static cnnrt_status topk_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                 cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const topk_state* state = opaque;
  const cnnrt_shape* x = &inputs[0];
  int32_t axis;
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", 1, CNNRT_MAX_RANK);
  if (status != CNNRT_OK) return status;
  if ((status = cnnrt_node_axis(node, "axis", state->axis, x->rank, &axis)) != CNNRT_OK) return status;
  if (state->k > x->dims[axis]) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) expected at least k = %lld values along axis %d, found shape %s",
                            (long long)state->k, axis, cnnrt_shape_format(x, text, sizeof(text)));
  }
  outputs[0] = *x;
  outputs[0].dims[axis] = state->k;
  if (node->output_count > 1) outputs[1] = outputs[0];
  const int threads = info->threads > 1 ? info->threads : 1;
  info->workspace_bytes = state->k > 0 ? topk_scratch_bytes(x->dims[axis]) * (size_t)threads : 0;
  info->macs = cnnrt_numel(x);
  info->kernel = state->largest ? "topk_largest_ref" : "topk_smallest_ref";
  return CNNRT_OK;
}

/* 1 when a goes before b: the larger (smaller) value, NaN largest; on equal
 * values the lower index. */
static inline int before(const topk_entry* a, const topk_entry* b, int largest) {
  const int a_nan = isnan(a->value), b_nan = isnan(b->value);
  if (a_nan || b_nan) {
    if (a_nan && b_nan) return a->index < b->index;
    return largest ? a_nan : b_nan;
  }
  if (a->value != b->value) return largest ? a->value > b->value : a->value < b->value;
  return a->index < b->index;
}

static int compare_largest(const void* a, const void* b) {
  return before(a, b, 1) ? -1 : (before(b, a, 1) ? 1 : 0);
}

static int compare_smallest(const void* a, const void* b) {
  return before(a, b, 0) ? -1 : (before(b, a, 0) ? 1 : 0);
}

typedef struct topk_job {
  const cnnrt_run_context* context;
  const float* in;
  float* values;
  int64_t* indices;  /* NULL when the node has no Indices output */
  size_t length, inner, k, scratch_bytes;
  int largest;
} topk_job;

static void topk_task(void* opaque, size_t begin, size_t end, int thread) {
  const topk_job* job = opaque;
  topk_entry* entries = cnnrt_thread_scratch(job->context, job->scratch_bytes, thread);
  const size_t length = job->length, inner = job->inner, k = job->k;
  for (size_t column = begin; column < end; column++) {
    const size_t outer = column / inner, i = column % inner;
    const float* in = job->in + outer * length * inner + i;
    size_t count;
    if (k <= 16) {
      /* Insertion into a sorted run of at most k entries: O(length * k). */
      count = 0;
      for (size_t j = 0; j < length; j++) {
        const topk_entry entry = {in[j * inner], (int64_t)j};
        if (count == k && !before(&entry, &entries[k - 1], job->largest)) continue;
        size_t at = count < k ? count++ : k - 1;
        while (at > 0 && before(&entry, &entries[at - 1], job->largest)) {
          entries[at] = entries[at - 1];
          at--;
        }
        entries[at] = entry;
      }
    } else {
      for (size_t j = 0; j < length; j++) {
        entries[j].value = in[j * inner];
        entries[j].index = (int64_t)j;
      }
      qsort(entries, length, sizeof(topk_entry), job->largest ? compare_largest : compare_smallest);
      count = k;
    }
    float* values = job->values + outer * k * inner + i;
    for (size_t j = 0; j < count; j++) values[j * inner] = entries[j].value;
    if (job->indices != NULL) {
      int64_t* indices = job->indices + outer * k * inner + i;
      for (size_t j = 0; j < count; j++) indices[j * inner] = entries[j].index;
    }
  }
}

static void topk_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                     const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const topk_state* state = opaque;
  const cnnrt_shape* x = &inputs[0].shape;
  int32_t axis;
  if (cnnrt_node_axis(node, "axis", state->axis, x->rank, &axis) != CNNRT_OK) return;
  if (state->k == 0 || cnnrt_numel(x) == 0) return;
  topk_job job;
  job.context = context;
  job.in = inputs[0].data;
  job.values = outputs[0].data;
  job.indices = node->output_count > 1 ? outputs[1].data : NULL;
  job.length = (size_t)x->dims[axis];
  job.inner = 1;
  for (int32_t d = axis + 1; d < x->rank; d++) job.inner *= (size_t)x->dims[d];
  job.k = (size_t)state->k;
  job.scratch_bytes = topk_scratch_bytes(x->dims[axis]);
  job.largest = state->largest;
  const size_t columns = cnnrt_numel(x) / job.length;
  cnnrt_parallel_for(context->pool, columns, cnnrt_task_grain(columns, context->threads, 4096 / job.length + 1),
                     topk_task, &job);
}

const cnnrt_op_def cnnrt_op_topk = {
    .code = 82, .name = "TopK", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 2,
    .epilogue = CNNRT_EPILOGUE_NONE, .in_place = 0, .int64_outputs = 2,
    .create = topk_create, .destroy = cnnrt_op_state_free, .reshape = topk_reshape, .run = topk_run,
};
