/*
 * Sessions: shape inference and arena planning per set of input shapes (cached),
 * and runs that execute nodes in order on one pre-planned arena, allocating
 * nothing once a shape has been seen.
 *
 * Batch chunks: with several threads and a batch of at least 4 that the graph
 * computes image by image (plan_chunks says when), a run cuts the batch into
 * chunks of 2 images (the last one takes an odd image too) and hands them to
 * the threads, each running its chunks in a part session of its own (one
 * thread each; with fewer chunks than threads, one session per chunk with the
 * threads left over), instead of every node splitting its work over the
 * threads. A thread then keeps its images' activations in its caches and never
 * waits for the others between nodes. An image's result has the same bits
 * either way: kernel choices depend on the batch only where it is 1 (a
 * one-row Gemm), and a chunk has 2 images or more. Profiling sessions and
 * CNNRT_BATCH_SPLIT=0 keep the whole batch together.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

#define MAX_PLANS 16
#define ARENA_ALIGN 64u
#define PART_MIN_IMAGES 2u
#define MAX_RUN_OUTPUTS 64u

typedef struct plan {
  cnnrt_shape* input_shapes; /* the key: one per graph input */
  cnnrt_shape* shapes;       /* per tensor */
  uint64_t* offsets;         /* per tensor: arena offset, UINT64_MAX when not in the arena */
  cnnrt_reshape_info* infos; /* per node */
  uint64_t activation_bytes; /* planned activations */
  uint64_t workspace_offset; /* scratch shared by all nodes, after the activations */
  uint64_t workspace_bytes;
  uint64_t unplanned_bytes;  /* every activation in its own buffer */
  uint64_t last_used;
  uint32_t chunks;           /* the batch runs in this many chunks in part sessions; 1 = whole */
} plan;

struct cnnrt_session {
  cnnrt_model* model;
  int threads;
  uint32_t flags;
  cnnrt_threadpool* pool;
  plan* plans[MAX_PLANS];
  int plan_count;
  plan* current;
  uint64_t use_counter;
  void* arena;
  uint64_t arena_capacity;
  cnnrt_shape* requested;       /* per graph input, scratch for matching shapes */
  const void** input_data;      /* per graph input, set during a run */
  cnnrt_tensor_ref* refs;       /* scratch for one node's inputs then outputs */
  uint32_t max_refs;
  uint64_t* time_ns;            /* per node */
  int split_allowed;            /* CNNRT_BATCH_SPLIT is not 0 */
  cnnrt_session** parts;        /* batch chunks run in these sessions on the same model */
  uint32_t part_count;          /* part sessions made */
  int part_threads;             /* threads of each part session */
  cnnrt_tensor* part_inputs;    /* [part session][graph input] */
  cnnrt_tensor* part_outputs;   /* [part session][requested output] */
};

static void plan_free(plan* p) {
  if (!p) return;
  free(p->input_shapes);
  free(p->shapes);
  free(p->offsets);
  free(p->infos);
  free(p);
}

static uint64_t align_up(uint64_t value) { return (value + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

static uint64_t shape_bytes(const cnnrt_shape* shape, uint8_t dtype) {
  int64_t numel = cnnrt_shape_numel(shape);
  return numel > 0 ? (uint64_t)numel * cnnrt_dtype_size((cnnrt_dtype)dtype) : 0;
}

/* Bytes of tensor t under plan p. */
static uint64_t value_bytes(const cnnrt_graph* g, const plan* p, uint32_t t) {
  return shape_bytes(&p->shapes[t], g->tensors[t].dtype);
}

/* Inputs placed inside the output of an input_views node (Concat), so that
 * their producers write them where the copy would have put them. Only where
 * every dim before the axis is 1 (each input one contiguous slice: batch 1 for
 * a channel concat), for inputs that a node computes, that are no graph output,
 * appear once, are not themselves a view or hold views (a concat of concats
 * copies the inner one), and start 64-byte aligned. Sets i_view (1: placed in
 * another tensor, 2: holds views), view_offset (bytes into the holder) and
 * root (the holder); a node whose inputs all became views runs no copies and
 * is named so in the profile. */
static void plan_input_views(const cnnrt_graph* g, const cnnrt_model* m, plan* p, uint8_t* i_view,
                             uint64_t* view_offset, uint32_t* root, cnnrt_status* st) {
  for (uint32_t i = 0; i < g->node_count; i++) {
    const cnnrt_node* n = &g->nodes[i];
    if (!n->def->input_views || n->output_count != 1 || n->input_count < 2) continue;
    const uint32_t out = n->outputs[0];
    const cnnrt_shape* shape = &p->shapes[out];
    int64_t axis = 0;
    if ((*st = cnnrt_attr_int(n, "axis", 0, &axis)) != CNNRT_OK) return;
    if (axis < 0) axis += shape->rank;
    if (axis < 0 || axis >= shape->rank) continue;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; d++) outer *= shape->dims[d];
    if (outer != 1) continue;
    uint64_t offset = 0;
    uint32_t placed = 0;
    for (uint32_t k = 0; k < n->input_count; k++) {
      const uint32_t t = n->inputs[k];
      int ok = t != CNNRT_NO_TENSOR && t != out && m->producer[t] != UINT32_MAX && !i_view[t] &&
               offset % ARENA_ALIGN == 0 && g->tensors[t].dtype == g->tensors[out].dtype;
      for (uint32_t j = 0; ok && j < n->input_count; j++) ok = j == k || n->inputs[j] != t;
      for (uint32_t j = 0; ok && j < g->output_count; j++) ok = g->outputs[j] != t;
      if (ok) {
        i_view[t] = 1;
        view_offset[t] = offset;
        root[t] = out;
        i_view[out] = 2;
        placed++;
      }
      if (t != CNNRT_NO_TENSOR) offset += value_bytes(g, p, t);
    }
    if (placed == n->input_count) p->infos[i].kernel = "concat_in_place";
  }
}

/* Infers every shape from the graph input shapes, then plans the arena. */
static cnnrt_status plan_build(cnnrt_session* s, const cnnrt_shape* input_shapes, plan** out) {
  const cnnrt_model* m = s->model;
  const cnnrt_graph* g = &m->graph;
  uint32_t tensor_count = g->tensor_count, node_count = g->node_count;
  plan* p = calloc(1, sizeof *p);
  uint32_t* root = malloc(sizeof *root * tensor_count);
  uint32_t* last_use = malloc(sizeof *last_use * tensor_count);
  cnnrt_plan_value* values = calloc(tensor_count, sizeof *values);
  uint64_t* root_offsets = malloc(sizeof *root_offsets * tensor_count);
  uint8_t* i_view = calloc(tensor_count ? tensor_count : 1, 1);
  uint64_t* view_offset = calloc(tensor_count ? tensor_count : 1, sizeof *view_offset);
  cnnrt_shape* in_shapes = NULL;
  cnnrt_status st = CNNRT_OK;
  if (p) {
    p->input_shapes = malloc(sizeof *p->input_shapes * (g->input_count ? g->input_count : 1));
    p->shapes = calloc(tensor_count, sizeof *p->shapes);
    p->offsets = malloc(sizeof *p->offsets * tensor_count);
    p->infos = calloc(node_count, sizeof *p->infos);
    in_shapes = malloc(sizeof *in_shapes * (s->max_refs ? s->max_refs : 1));
  }
  if (!p || !root || !last_use || !values || !root_offsets || !i_view || !view_offset || !p->input_shapes ||
      !p->shapes || !p->offsets || !p->infos || !in_shapes) {
    st = cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory planning the session");
    goto done;
  }
  memcpy(p->input_shapes, input_shapes, sizeof *input_shapes * g->input_count);
  for (uint32_t t = 0; t < tensor_count; t++) {
    if (g->tensors[t].kind == CNNRT_TENSOR_CONSTANT) p->shapes[t] = g->tensors[t].shape;
    root[t] = t;
    last_use[t] = 0;
    p->offsets[t] = UINT64_MAX;
  }
  for (uint32_t i = 0; i < g->input_count; i++) p->shapes[g->inputs[i]] = input_shapes[i];

  /* Shapes, node by node. */
  for (uint32_t i = 0; i < node_count && !st; i++) {
    const cnnrt_node* n = &g->nodes[i];
    for (uint32_t k = 0; k < n->input_count; k++) {
      uint32_t t = n->inputs[k];
      if (t == CNNRT_NO_TENSOR) memset(&in_shapes[k], 0, sizeof in_shapes[k]);
      else {
        in_shapes[k] = p->shapes[t];
        last_use[t] = i;
      }
    }
    cnnrt_shape* out_shapes = in_shapes + n->input_count;
    memset(out_shapes, 0, sizeof *out_shapes * n->output_count);
    cnnrt_reshape_info* info = &p->infos[i];
    info->threads = s->threads;
    st = n->def->reshape(n, n->state, in_shapes, out_shapes, info);
    if (st) break;
    if (!info->kernel) info->kernel = "reference";
    for (uint32_t k = 0; k < n->output_count; k++) {
      if (cnnrt_shape_numel(&out_shapes[k]) < 0) {
        char buf[160];
        st = cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "node '%s' (%s): output %u has shape %s, too large or "
                         "unknown", n->name, n->def->name, k, cnnrt_shape_format(&out_shapes[k], buf, sizeof buf));
        break;
      }
      p->shapes[n->outputs[k]] = out_shapes[k];
      last_use[n->outputs[k]] = i;
    }
  }
  if (st) goto done;
  for (uint32_t i = 0; i < g->output_count; i++) last_use[g->outputs[i]] = node_count;

  plan_input_views(g, m, p, i_view, view_offset, root, &st);
  if (st) goto done;

  /* In place: an element-wise node may write over input 0 when nothing reads
   * that buffer afterwards. Graph inputs belong to the caller and are never
   * written; nor is a buffer that holds views (or is one): its other parts
   * may still be read. */
  for (uint32_t i = 0; i < node_count; i++) {
    const cnnrt_node* n = &g->nodes[i];
    if (!n->def->in_place || n->input_count == 0 || n->output_count == 0) continue;
    uint32_t in = n->inputs[0], out = n->outputs[0];
    if (in == CNNRT_NO_TENSOR || m->producer[in] == UINT32_MAX || i_view[in] || i_view[out]) continue;
    if (last_use[in] != i || value_bytes(g, p, in) != value_bytes(g, p, out)) continue;
    root[out] = root[in];
  }
  /* A value lives from its first writer (the earliest producer of the tensors
   * sharing it: a concat's inputs placed inside it come before the concat) to its last reader. */
  for (uint32_t t = 0; t < tensor_count; t++)
    if (m->producer[t] != UINT32_MAX && root[t] == t) values[t].first = m->producer[t];
  for (uint32_t t = 0; t < tensor_count; t++) {
    if (m->producer[t] == UINT32_MAX) continue;
    uint64_t bytes = value_bytes(g, p, t);
    p->unplanned_bytes += align_up(bytes);
    cnnrt_plan_value* v = &values[root[t]];
    if (m->producer[t] < v->first) v->first = m->producer[t];
    if (bytes > v->size) v->size = bytes;
    if (last_use[t] > v->last) v->last = last_use[t];
  }
  /* A value read by nobody still needs a place while its node writes it. */
  for (uint32_t t = 0; t < tensor_count; t++)
    if (root[t] == t && values[t].size && values[t].last < values[t].first) values[t].last = values[t].first;
  st = cnnrt_plan_memory(values, tensor_count, root_offsets, &p->activation_bytes);
  if (st) goto done;
  for (uint32_t t = 0; t < tensor_count; t++)
    if (m->producer[t] != UINT32_MAX) p->offsets[t] = root_offsets[root[t]] + view_offset[t];
  p->workspace_offset = align_up(p->activation_bytes);
  for (uint32_t i = 0; i < node_count; i++)
    if (p->infos[i].workspace_bytes > p->workspace_bytes) p->workspace_bytes = p->infos[i].workspace_bytes;
  p->workspace_bytes = align_up(p->workspace_bytes);

done:
  free(root);
  free(i_view);
  free(view_offset);
  free(last_use);
  free(values);
  free(root_offsets);
  free(in_shapes);
  if (st) plan_free(p);
  else *out = p;
  return st;
}

static int shapes_match(const cnnrt_shape* a, const cnnrt_shape* b, uint32_t count) {
  for (uint32_t i = 0; i < count; i++)
    if (!cnnrt_shape_equal(&a[i], &b[i])) return 0;
  return 1;
}

/* Physical memory, or 0 when unknown. An arena larger than this could only
 * end in the process being killed, so such a plan is refused with an error. */
static uint64_t physical_memory_bytes(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/* Whether node n reads each image of the batch alone as far as its
 * attributes tell: an axis, axes or perm that names the batch dimension (a
 * softmax or a norm across images, a transpose moving it) does not. Shape
 * changes are checked on the tensors (plan_chunks). */
static int node_batch_local(const cnnrt_node* n, const plan* p) {
  int rank = n->input_count && n->inputs[0] != CNNRT_NO_TENSOR ? p->shapes[n->inputs[0]].rank : 0;
  for (uint32_t a = 0; a < n->attr_count; a++) {
    const cnnrt_attr* attr = &n->attrs[a];
    int axis = strcmp(attr->name, "axis") == 0 || strcmp(attr->name, "axes") == 0;
    int perm = strcmp(attr->name, "perm") == 0;
    if ((!axis && !perm) || !attr->ints) continue;
    for (uint32_t k = 0; k < attr->count; k++) {
      int64_t v = attr->ints[k];
      if (perm ? k == 0 && v != 0 : v == 0 || v == -(int64_t)rank) return 0;
    }
  }
  return 1;
}

static void release_parts(cnnrt_session* s) {
  for (uint32_t i = 0; i < s->part_count; i++) cnnrt_session_release(s->parts[i]);
  s->part_count = 0;
}

static cnnrt_status session_make(cnnrt_model* model, int threads, uint32_t flags, int part, cnnrt_session** out);

/* Chunks of a batch of n (at least 2 * PART_MIN_IMAGES): PART_MIN_IMAGES
 * images each, the last one the remainder too. */
static uint32_t chunk_count(uint64_t n) { return (uint32_t)(n / PART_MIN_IMAGES); }

static void chunk_range(uint64_t n, uint32_t chunk, uint64_t* begin, uint64_t* count) {
  *begin = (uint64_t)chunk * PART_MIN_IMAGES;
  *count = chunk + 1 == chunk_count(n) ? n - *begin : PART_MIN_IMAGES;
}

/* Part session `slot`'s input tensors, described for `count` images of plan
 * p's inputs (data is set per run). */
static cnnrt_tensor* part_inputs(cnnrt_session* s, size_t slot, const plan* p, uint64_t count) {
  const cnnrt_graph* g = &s->model->graph;
  cnnrt_tensor* x = s->part_inputs + slot * g->input_count;
  for (uint32_t j = 0; j < g->input_count; j++) {
    memset(&x[j], 0, sizeof x[j]);
    x[j].dtype = CNNRT_DTYPE_FLOAT32;
    x[j].rank = p->input_shapes[j].rank;
    for (int d = 0; d < x[j].rank; d++) x[j].dims[d] = d ? p->input_shapes[j].dims[d] : (int64_t)count;
  }
  return x;
}

/* Part sessions for plan p's chunks: one per thread, or (fewer chunks than
 * threads) one per chunk with the threads left over, each planned for every
 * chunk size. */
static cnnrt_status ensure_parts(cnnrt_session* s, const plan* p) {
  const cnnrt_graph* g = &s->model->graph;
  const uint32_t sessions = p->chunks < (uint32_t)s->threads ? p->chunks : (uint32_t)s->threads;
  const int threads = s->threads / (int)sessions;
  if (!s->parts) {
    s->parts = calloc((size_t)s->threads, sizeof *s->parts);
    s->part_inputs = calloc((size_t)s->threads * (g->input_count ? g->input_count : 1), sizeof *s->part_inputs);
    s->part_outputs = calloc((size_t)s->threads * MAX_RUN_OUTPUTS, sizeof *s->part_outputs);
    if (!s->parts || !s->part_inputs || !s->part_outputs)
      return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory creating batch part sessions");
  }
  if (s->part_threads != threads) release_parts(s);
  s->part_threads = threads;
  while (s->part_count < sessions) {
    cnnrt_status st = session_make(s->model, threads, 0, 1, &s->parts[s->part_count]);
    if (st) return st;
    s->part_count++;
  }
  const uint64_t n = (uint64_t)p->input_shapes[0].dims[0];
  uint64_t sizes[2] = {PART_MIN_IMAGES, 0}, begin;
  chunk_range(n, chunk_count(n) - 1, &begin, &sizes[1]);
  for (uint32_t i = 0; i < sessions; i++) {
    for (int k = 0; k < 2; k++) {
      if (k == 1 && sizes[1] == sizes[0]) break;
      cnnrt_status st = cnnrt_session_reshape(s->parts[i], g->input_count, part_inputs(s, i, p, sizes[k]));
      if (st) return st;
    }
  }
  return CNNRT_OK;
}

/* Whether every tensor of part session 0's current plan (a chunk of `count`
 * images) has plan p's shape with `count` as its first dimension. */
static int chunk_shapes_match(const cnnrt_session* s, const plan* p, uint64_t count) {
  const plan* q = s->parts[0]->current;
  for (uint32_t t = 0; t < s->model->graph.tensor_count; t++) {
    if (s->model->producer[t] == UINT32_MAX) continue;
    const cnnrt_shape *whole = &p->shapes[t], *part = &q->shapes[t];
    if (part->rank != whole->rank || part->dims[0] != (int64_t)count) return 0;
    for (int d = 1; d < whole->rank; d++)
      if (part->dims[d] != whole->dims[d]) return 0;
  }
  return 1;
}

/* Sets how many chunks plan p's batch runs in (see the top of the file): 1
 * (the whole batch at once) unless the session has threads to spare, the batch has
 * at least two chunks, every graph input is float32 with a symbolic batch
 * dimension, and every tensor the graph computes has the batch as its first
 * dimension, at the whole batch and at each chunk size, with no node reaching
 * across it. */
static void plan_chunks(cnnrt_session* s, plan* p) {
  const cnnrt_model* m = s->model;
  const cnnrt_graph* g = &m->graph;
  p->chunks = 1;
  if (!s->split_allowed || s->threads < 2 || (s->flags & CNNRT_SESSION_PROFILE) || g->input_count == 0) return;
  if (p->input_shapes[0].rank < 1) return;
  const int64_t n = p->input_shapes[0].dims[0];
  if (n < 2 * (int64_t)PART_MIN_IMAGES) return;
  for (uint32_t i = 0; i < g->input_count; i++) {
    const cnnrt_tensor_def* t = &g->tensors[g->inputs[i]];
    if (t->dtype != CNNRT_DTYPE_FLOAT32 || t->shape.rank < 1 || t->shape.dims[0] >= 0) return;
    if (p->input_shapes[i].dims[0] != n) return;
  }
  for (uint32_t t = 0; t < g->tensor_count; t++)
    if (m->producer[t] != UINT32_MAX && (p->shapes[t].rank < 1 || p->shapes[t].dims[0] != n)) return;
  for (uint32_t i = 0; i < g->node_count; i++)
    if (!node_batch_local(&g->nodes[i], p)) return;
  p->chunks = chunk_count((uint64_t)n);
  uint64_t begin, last;
  chunk_range((uint64_t)n, p->chunks - 1, &begin, &last);
  /* Session 0 is left planned for the last chunk size, then the first. */
  int ok = !ensure_parts(s, p) && chunk_shapes_match(s, p, last);
  if (ok && last != PART_MIN_IMAGES) {
    ok = !cnnrt_session_reshape(s->parts[0], g->input_count, part_inputs(s, 0, p, PART_MIN_IMAGES)) &&
         chunk_shapes_match(s, p, PART_MIN_IMAGES);
  }
  if (!ok) p->chunks = 1;
}

/* Makes the plan for these input shapes current: from the cache, or built and
 * cached (evicting the least recently used), growing the arena if needed. */
static cnnrt_status select_plan(cnnrt_session* s, const cnnrt_shape* input_shapes) {
  uint32_t input_count = s->model->graph.input_count;
  s->use_counter++;
  plan* found = NULL;
  if (s->current && shapes_match(s->current->input_shapes, input_shapes, input_count)) found = s->current;
  for (int i = 0; i < s->plan_count && !found; i++)
    if (shapes_match(s->plans[i]->input_shapes, input_shapes, input_count)) found = s->plans[i];
  if (found) {
    /* Switching back to a plan that runs in chunks: another plan may have
     * remade the part sessions (another thread count) since. */
    if (found->chunks > 1 && found != s->current) {
      cnnrt_status st = ensure_parts(s, found);
      if (st) return st;
    }
    s->current = found;
    s->current->last_used = s->use_counter;
    return CNNRT_OK;
  }
  plan* p = NULL;
  cnnrt_status st = plan_build(s, input_shapes, &p);
  if (st) return st;
  plan_chunks(s, p);
  /* A plan that runs in chunks uses the part sessions' arenas, not this one. */
  uint64_t need = p->chunks > 1 ? 0 : p->workspace_offset + p->workspace_bytes;
  uint64_t physical = physical_memory_bytes();
  if (physical && need > physical) {
    plan_free(p);
    return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "these input shapes need a %.1f GiB activation arena, more than "
                       "this machine's %.1f GiB of memory", need / 1073741824.0, physical / 1073741824.0);
  }
  if (need > s->arena_capacity) {
    void* arena = aligned_alloc(ARENA_ALIGN, need ? need : ARENA_ALIGN);
    if (!arena) {
      plan_free(p);
      return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory allocating a %llu-byte activation arena",
                         (unsigned long long)need);
    }
    free(s->arena);
    s->arena = arena;
    s->arena_capacity = need;
  }
  if (s->plan_count == MAX_PLANS) {
    int oldest = 0;
    for (int i = 1; i < s->plan_count; i++)
      if (s->plans[i]->last_used < s->plans[oldest]->last_used) oldest = i;
    plan_free(s->plans[oldest]);
    s->plans[oldest] = s->plans[--s->plan_count];
  }
  p->last_used = s->use_counter;
  s->plans[s->plan_count++] = p;
  s->current = p;
  return CNNRT_OK;
}

static int fully_known(const cnnrt_shape* shape) {
  for (int d = 0; d < shape->rank; d++)
    if (shape->dims[d] < 0) return 0;
  return 1;
}

CNNRT_API cnnrt_status cnnrt_session_create(cnnrt_model* model, const cnnrt_session_options* options,
                                            cnnrt_session** out) {
  if (!model || !out) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "cnnrt_session_create: model and session must not be NULL");
  *out = NULL;
  int threads = 1;
  uint32_t flags = 0;
  if (options) {
    if (options->struct_size < sizeof(cnnrt_session_options))
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "cnnrt_session_options.struct_size is %zu, expected %zu",
                         options->struct_size, sizeof(cnnrt_session_options));
    if (options->threads < 0 || options->threads > 256)
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "threads is %d, expected 0..256", options->threads);
    threads = options->threads ? options->threads : 1;
    flags = options->flags;
  }
  return session_make(model, threads, flags, 0, out);
}

/* A session; a part session (part = 1) never splits its batch again and plans
 * nothing until its part's shapes are set. */
static cnnrt_status session_make(cnnrt_model* model, int threads, uint32_t flags, int part, cnnrt_session** out) {
  cnnrt_session* s = calloc(1, sizeof *s);
  if (!s) return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory creating a session");
  const cnnrt_graph* g = &model->graph;
  s->model = model;
  s->threads = threads;
  s->flags = flags;
  uint32_t max_refs = 1;
  for (uint32_t i = 0; i < g->node_count; i++) {
    uint32_t refs = g->nodes[i].input_count + g->nodes[i].output_count;
    if (refs > max_refs) max_refs = refs;
  }
  s->max_refs = max_refs;
  s->refs = calloc(max_refs, sizeof *s->refs);
  s->requested = calloc(g->input_count ? g->input_count : 1, sizeof *s->requested);
  s->input_data = calloc(g->input_count ? g->input_count : 1, sizeof *s->input_data);
  s->time_ns = calloc(g->node_count, sizeof *s->time_ns);
  const char* split = getenv("CNNRT_BATCH_SPLIT");
  s->split_allowed = !part && !(split && strcmp(split, "0") == 0);
  cnnrt_model_retain(model);
  cnnrt_status st = CNNRT_OK;
  if (!s->refs || !s->requested || !s->input_data || !s->time_ns)
    st = cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory creating a session");
  if (!st && threads > 1) st = cnnrt_threadpool_create(threads, &s->pool);
  if (!st) {
    int known = 1;
    for (uint32_t i = 0; i < g->input_count; i++) {
      s->requested[i] = g->tensors[g->inputs[i]].shape;
      if (!fully_known(&s->requested[i])) known = 0;
    }
    if (known && !part) st = select_plan(s, s->requested);
  }
  if (st) {
    cnnrt_session_release(s);
    return st;
  }
  *out = s;
  return CNNRT_OK;
}

CNNRT_API void cnnrt_session_release(cnnrt_session* s) {
  if (!s) return;
  release_parts(s);
  free(s->parts);
  free(s->part_inputs);
  free(s->part_outputs);
  for (int i = 0; i < s->plan_count; i++) plan_free(s->plans[i]);
  cnnrt_threadpool_destroy(s->pool);
  free(s->arena);
  free(s->refs);
  free(s->requested);
  free(s->input_data);
  free(s->time_ns);
  cnnrt_model_release(s->model);
  free(s);
}

static void format_declared(const cnnrt_tensor_def* t, char* buf, size_t size) {
  size_t used = 0;
  used += (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < t->shape.rank && used < size; d++) {
    if (t->shape.dims[d] >= 0)
      used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", (long long)t->shape.dims[d]);
    else
      used += (size_t)snprintf(buf + used, size - used, "%s%s", d ? ", " : "",
                               t->dim_names[d][0] ? t->dim_names[d] : "?");
  }
  if (used < size) snprintf(buf + used, size - used, "]");
}

/* Matches caller tensors to graph inputs (all by name or all by position) and
 * checks dtype and shape against the declaration; fills s->requested (and
 * input_data when want_data). */
static cnnrt_status match_inputs(cnnrt_session* s, size_t count, const cnnrt_tensor* inputs, int want_data) {
  const cnnrt_graph* g = &s->model->graph;
  if (count > g->input_count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "%zu inputs given, but the model has %u", count, g->input_count);
  if (count && !inputs) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "inputs is NULL");
  int by_name = count && inputs[0].name != NULL;
  uint8_t given[256] = {0};
  if (g->input_count > sizeof given)
    return cnnrt_error(CNNRT_ERROR_UNSUPPORTED, "models with more than 256 inputs are not supported");
  for (uint32_t i = 0; i < g->input_count; i++) {
    if (!s->current) s->requested[i] = g->tensors[g->inputs[i]].shape;
    else s->requested[i] = s->current->input_shapes[i];
    s->input_data[i] = NULL;
  }
  for (size_t k = 0; k < count; k++) {
    const cnnrt_tensor* x = &inputs[k];
    uint32_t index = (uint32_t)k;
    if ((x->name != NULL) != by_name)
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "give all inputs by name or all by position (input %zu %s a name)",
                         k, x->name ? "has" : "lacks");
    if (by_name) {
      index = UINT32_MAX;
      for (uint32_t i = 0; i < g->input_count; i++)
        if (strcmp(g->tensors[g->inputs[i]].name, x->name) == 0) index = i;
      if (index == UINT32_MAX) {
        char names[256] = "";
        size_t used = 0;
        for (uint32_t i = 0; i < g->input_count && used < sizeof names; i++)
          used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'", i ? ", " : "",
                                   g->tensors[g->inputs[i]].name);
        return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "no model input is named '%s'; the inputs are %s", x->name, names);
      }
    }
    const cnnrt_tensor_def* t = &g->tensors[g->inputs[index]];
    if (given[index]) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s' is given twice", t->name);
    given[index] = 1;
    char declared[160], found[160];
    format_declared(t, declared, sizeof declared);
    if (x->dtype != CNNRT_DTYPE_FLOAT32)
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': expected dtype float32, found %s", t->name,
                         cnnrt_dtype_name(x->dtype)[0] ? cnnrt_dtype_name(x->dtype) : "an unknown dtype");
    if (x->rank < 0 || x->rank > CNNRT_MAX_RANK)
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': rank %d, expected %d (shape %s)", t->name, x->rank,
                         t->shape.rank, declared);
    cnnrt_shape shape = {x->rank, {0}};
    for (int d = 0; d < x->rank; d++) shape.dims[d] = x->dims[d];
    cnnrt_shape_format(&shape, found, sizeof found);
    if (x->rank != t->shape.rank)
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': expected rank %d (shape %s), found rank %d (shape %s)",
                         t->name, t->shape.rank, declared, x->rank, found);
    for (int d = 0; d < x->rank; d++) {
      /* A dim of 0 is legitimate ONNX (an empty tensor); the planner gives it no space. */
      if (x->dims[d] < 0)
        return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': dim %d is %lld, expected at least 0 (shape %s)",
                           t->name, d, (long long)x->dims[d], found);
      if (t->shape.dims[d] >= 0 && x->dims[d] != t->shape.dims[d])
        return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': expected shape %s, found %s (dim %d must be %lld)",
                           t->name, declared, found, d, (long long)t->shape.dims[d]);
    }
    if (cnnrt_shape_numel(&shape) < 0)
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': shape %s is too large", t->name, found);
    if (want_data) {
      uint64_t need = shape_bytes(&shape, CNNRT_DTYPE_FLOAT32);
      if (!x->data && need > 0) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': data is NULL", t->name);
      if (x->size_bytes < need)
        return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s': shape %s needs %llu bytes, but size_bytes is %zu",
                           t->name, found, (unsigned long long)need, x->size_bytes);
      s->input_data[index] = x->data;
    }
    s->requested[index] = shape;
  }
  for (uint32_t i = 0; i < g->input_count; i++) {
    const cnnrt_tensor_def* t = &g->tensors[g->inputs[i]];
    if (want_data && !given[i])
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s' was not given (the model has %u inputs)", t->name,
                         g->input_count);
    if (!fully_known(&s->requested[i])) {
      char declared[160];
      format_declared(t, declared, sizeof declared);
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "input '%s'%s has symbolic dims %s: give its concrete shape",
                         t->name, given[i] ? "" : " was not given and", declared);
    }
  }
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_session_reshape(cnnrt_session* s, size_t count, const cnnrt_tensor* inputs) {
  if (!s) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "session is NULL");
  cnnrt_status st = match_inputs(s, count, inputs, 0);
  if (!st) st = select_plan(s, s->requested);
  return st;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void* tensor_data(cnnrt_session* s, uint32_t t) {
  const cnnrt_model* m = s->model;
  const cnnrt_tensor_def* def = &m->graph.tensors[t];
  if (def->kind == CNNRT_TENSOR_CONSTANT) return (void*)def->data;
  if (s->current->offsets[t] != UINT64_MAX) return (char*)s->arena + s->current->offsets[t];
  for (uint32_t i = 0; i < m->graph.input_count; i++)
    if (m->graph.inputs[i] == t) return (void*)s->input_data[i];
  return NULL;
}

static cnnrt_status match_outputs(cnnrt_session* s, size_t count, cnnrt_tensor* outputs, uint32_t* which) {
  const cnnrt_graph* g = &s->model->graph;
  if (count > g->output_count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "%zu outputs requested, but the model has %u", count, g->output_count);
  if (count && !outputs) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "outputs is NULL");
  for (size_t k = 0; k < count; k++) {
    cnnrt_tensor* y = &outputs[k];
    uint32_t index = (uint32_t)k;
    if (y->name) {
      index = UINT32_MAX;
      for (uint32_t i = 0; i < g->output_count; i++)
        if (strcmp(g->tensors[g->outputs[i]].name, y->name) == 0) index = i;
      if (index == UINT32_MAX)
        return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "no model output is named '%s'", y->name);
    }
    uint32_t t = g->outputs[index];
    uint64_t need = value_bytes(g, s->current, t);
    if (!y->data)
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "output '%s': data is NULL", g->tensors[t].name);
    if (y->size_bytes < need) {
      char buf[160];
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "output '%s': shape %s needs %llu bytes, but size_bytes is %zu",
                         g->tensors[t].name, cnnrt_shape_format(&s->current->shapes[t], buf, sizeof buf),
                         (unsigned long long)need, y->size_bytes);
    }
    which[k] = t;
  }
  return CNNRT_OK;
}

/* A run's output tensor y: graph tensor t's dtype and shape under plan p. */
static void describe_output(const cnnrt_graph* g, const plan* p, uint32_t t, cnnrt_tensor* y) {
  const cnnrt_shape* shape = &p->shapes[t];
  y->dtype = (cnnrt_dtype)g->tensors[t].dtype;
  y->rank = shape->rank;
  for (int d = 0; d < CNNRT_MAX_RANK; d++) y->dims[d] = d < shape->rank ? shape->dims[d] : 0;
}

typedef struct part_job {
  cnnrt_session* session;
  const plan* plan;
  size_t output_count;
  cnnrt_tensor* outputs;
  const uint32_t* which;
  int by_thread;                 /* more chunks than part sessions: the thread's session */
  cnnrt_status status;           /* of the first failing chunk */
  char error[512];               /* its message */
  atomic_flag failed;
} part_job;

/* Runs chunks [begin, end) in part sessions: each reads its images of the
 * inputs in place and writes its images of the outputs straight into the
 * caller's buffers. */
static void part_task(void* opaque, size_t begin, size_t end, int thread) {
  part_job* job = opaque;
  cnnrt_session* s = job->session;
  const plan* p = job->plan;
  const cnnrt_graph* g = &s->model->graph;
  const uint64_t n = (uint64_t)p->input_shapes[0].dims[0];
  for (size_t chunk = begin; chunk < end; chunk++) {
    const size_t slot = job->by_thread ? (size_t)thread : chunk;
    uint64_t first, count;
    chunk_range(n, (uint32_t)chunk, &first, &count);
    cnnrt_tensor* x = part_inputs(s, slot, p, count);
    for (uint32_t j = 0; j < g->input_count; j++) {
      const uint64_t image = shape_bytes(&p->input_shapes[j], CNNRT_DTYPE_FLOAT32) / n;
      x[j].data = (char*)s->input_data[j] + first * image;
      x[j].size_bytes = (size_t)(count * image);
    }
    cnnrt_tensor* y = s->part_outputs + slot * MAX_RUN_OUTPUTS;
    for (size_t k = 0; k < job->output_count; k++) {
      const uint64_t image = value_bytes(g, p, job->which[k]) / n;
      memset(&y[k], 0, sizeof y[k]);
      y[k].name = g->tensors[job->which[k]].name;
      y[k].data = (char*)job->outputs[k].data + first * image;
      y[k].size_bytes = (size_t)(count * image);
    }
    cnnrt_status st = cnnrt_session_run(s->parts[slot], g->input_count, x, job->output_count, y);
    if (st && !atomic_flag_test_and_set(&job->failed)) {
      job->status = st;
      snprintf(job->error, sizeof job->error, "batch images %llu..%llu: %s", (unsigned long long)first,
               (unsigned long long)(first + count - 1), cnnrt_last_error());
    }
  }
}

static cnnrt_status run_chunks(cnnrt_session* s, const plan* p, size_t output_count, cnnrt_tensor* outputs,
                               const uint32_t* which) {
  part_job job = {.session = s, .plan = p, .output_count = output_count, .outputs = outputs, .which = which,
                  .by_thread = p->chunks > s->part_count, .failed = ATOMIC_FLAG_INIT};
  cnnrt_parallel_for(s->pool, p->chunks, 1, part_task, &job);
  if (atomic_flag_test_and_set(&job.failed)) return cnnrt_error(job.status, "%s", job.error);
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_session_run(cnnrt_session* s, size_t input_count, const cnnrt_tensor* inputs,
                                         size_t output_count, cnnrt_tensor* outputs) {
  if (!s) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "session is NULL");
  cnnrt_status st = match_inputs(s, input_count, inputs, 1);
  if (!st) st = select_plan(s, s->requested);
  if (st) return st;
  uint32_t which[MAX_RUN_OUTPUTS];
  if (output_count > MAX_RUN_OUTPUTS)
    return cnnrt_error(CNNRT_ERROR_UNSUPPORTED, "at most %u outputs may be requested at once", MAX_RUN_OUTPUTS);
  if ((st = match_outputs(s, output_count, outputs, which))) return st;

  const cnnrt_graph* g = &s->model->graph;
  plan* p = s->current;
  if (p->chunks > 1) {
    if ((st = run_chunks(s, p, output_count, outputs, which))) return st;
    for (size_t k = 0; k < output_count; k++) describe_output(g, p, which[k], &outputs[k]);
    return CNNRT_OK;
  }
  cnnrt_run_context context = {s->pool, s->threads, (char*)s->arena + p->workspace_offset, p->workspace_bytes};
  int profile = (s->flags & CNNRT_SESSION_PROFILE) != 0;
  for (uint32_t i = 0; i < g->node_count; i++) {
    const cnnrt_node* n = &g->nodes[i];
    cnnrt_tensor_ref* refs = s->refs;
    for (uint32_t k = 0; k < n->input_count; k++) {
      uint32_t t = n->inputs[k];
      if (t == CNNRT_NO_TENSOR) {
        memset(&refs[k], 0, sizeof refs[k]);
      } else {
        refs[k].data = tensor_data(s, t);
        refs[k].shape = p->shapes[t];
      }
    }
    for (uint32_t k = 0; k < n->output_count; k++) {
      uint32_t t = n->outputs[k];
      refs[n->input_count + k].data = tensor_data(s, t);
      refs[n->input_count + k].shape = p->shapes[t];
    }
    uint64_t start = profile ? now_ns() : 0;
    n->def->run(&context, n, n->state, refs, refs + n->input_count);
    if (profile) s->time_ns[i] = now_ns() - start;
  }
  for (size_t k = 0; k < output_count; k++) {
    memcpy(outputs[k].data, tensor_data(s, which[k]), value_bytes(g, p, which[k]));
    describe_output(g, p, which[k], &outputs[k]);
  }
  return CNNRT_OK;
}

static cnnrt_status need_plan(const cnnrt_session* s) {
  if (!s) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "session is NULL");
  if (!s->current)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "the model's inputs have symbolic dims: call "
                       "cnnrt_session_reshape (or run) with concrete shapes first");
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_session_output_info(const cnnrt_session* s, size_t index, cnnrt_tensor_info* info) {
  cnnrt_status st = need_plan(s);
  if (st) return st;
  if ((st = cnnrt_model_output_info(s->model, index, info))) return st;
  const cnnrt_shape* shape = &s->current->shapes[s->model->graph.outputs[index]];
  info->rank = shape->rank;
  for (int d = 0; d < CNNRT_MAX_RANK; d++) info->dims[d] = d < shape->rank ? shape->dims[d] : 0;
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_session_memory(const cnnrt_session* s, uint64_t* arena_bytes, uint64_t* unplanned_bytes) {
  cnnrt_status st = need_plan(s);
  if (st) return st;
  uint64_t arena = s->current->workspace_offset + s->current->workspace_bytes;
  if (s->current->chunks > 1) {
    /* The part sessions' arenas hold the activations; this session's holds none. */
    arena = 0;
    for (uint32_t i = 0; i < s->part_count; i++) arena += s->parts[i]->arena_capacity;
  }
  if (arena_bytes) *arena_bytes = arena;
  if (unplanned_bytes) *unplanned_bytes = s->current->unplanned_bytes + s->current->workspace_bytes;
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_session_node_stats(const cnnrt_session* s, size_t index, cnnrt_node_stats* stats) {
  cnnrt_status st = need_plan(s);
  if (st) return st;
  if (!stats || stats->struct_size < sizeof(cnnrt_node_stats))
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "cnnrt_node_stats pointer is NULL or its struct_size is too small");
  const cnnrt_graph* g = &s->model->graph;
  if (index >= g->node_count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "node index %zu out of range (%u nodes)", index, g->node_count);
  const cnnrt_node* n = &g->nodes[index];
  const cnnrt_reshape_info* info = &s->current->infos[index];
  stats->kernel = info->kernel;
  const cnnrt_shape* shape = &s->current->shapes[n->outputs[0]];
  stats->output_rank = shape->rank;
  for (int d = 0; d < CNNRT_MAX_RANK; d++) stats->output_dims[d] = d < shape->rank ? shape->dims[d] : 0;
  stats->macs = info->macs;
  stats->output_bytes = 0;
  for (uint32_t k = 0; k < n->output_count; k++) stats->output_bytes += value_bytes(g, s->current, n->outputs[k]);
  stats->workspace_bytes = info->workspace_bytes;
  stats->time_ns = s->time_ns[index];
  return CNNRT_OK;
}
