// Op tests against naive loops, built without CMake (from the repository root):
//
//   gcc -std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -I native/include -I native/src -I native/src/core native/tests/test_ops.c native/src/core/errors.c native/src/core/shape.c native/src/core/attrs.c native/src/core/threadpool.c native/src/ops/*.c native/src/kernels/*.c -lm -lpthread -o /tmp/test_ops && /tmp/test_ops
//
/*
 * (add -fsanitize=address,undefined -fno-omit-frame-pointer for a sanitizer run)
 *
 * Each test builds a one-node graph by hand, runs the op through its
 * create -> reshape -> run lifecycle and compares with a plain reference
 * computed here in double precision. Thread counts 1, 2 and 3 must give
 * bit-identical outputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels/kernels.h"
#include "check.h"


/* ---- a one-node graph -------------------------------------------------------- */

#define MAX_TENSORS 16
#define MAX_ATTRS 16

typedef struct test_node {
  cnnrt_tensor_def tensors[MAX_TENSORS];
  uint32_t tensor_count;
  uint32_t inputs[MAX_TENSORS], outputs[MAX_TENSORS];
  cnnrt_attr attrs[MAX_ATTRS];
  int64_t ints[MAX_ATTRS][16];
  double floats[MAX_ATTRS][16];
  cnnrt_node node;
  cnnrt_graph graph;
  /* input data for value inputs, by input position */
  const float* data[MAX_TENSORS];
} test_node;

static float random_float(void) { return (float)((random_u64() >> 40) / (double)(1 << 24)) * 2.0f - 1.0f; }
static int random_int(int low, int high) { /* inclusive */
  return low + (int)((random_float() + 1.0f) * 0.5f * (float)(high - low + 1) * 0.9999f);
}
static float* random_buffer(size_t n) {
  float* p = malloc((n > 0 ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = random_float();
  return p;
}

static cnnrt_shape make_shape(int rank, const int64_t* dims) {
  cnnrt_shape s;
  memset(&s, 0, sizeof(s));
  s.rank = rank;
  for (int i = 0; i < rank; i++) s.dims[i] = dims[i];
  return s;
}
#define SHAPE(...) make_shape((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static void tn_init(test_node* t, uint16_t op, const char* name) {
  memset(t, 0, sizeof(*t));
  t->node.name = name;
  t->node.op = op;
  t->node.inputs = t->inputs;
  t->node.outputs = t->outputs;
  t->node.attrs = t->attrs;
  t->node.def = cnnrt_op_find(op);
  t->graph.tensors = t->tensors;
  t->graph.nodes = &t->node;
  t->graph.node_count = 1;
}

static uint32_t add_tensor(test_node* t, cnnrt_shape shape, const float* constant) {
  uint32_t index = t->tensor_count++;
  cnnrt_tensor_def* d = &t->tensors[index];
  d->name = "t";
  d->dtype = CNNRT_DTYPE_FLOAT32;
  d->kind = constant != NULL ? CNNRT_TENSOR_CONSTANT : CNNRT_TENSOR_VALUE;
  d->shape = shape;
  d->data = constant;
  d->data_size = constant != NULL ? (uint64_t)cnnrt_shape_numel(&shape) * 4 : 0;
  t->graph.tensor_count = t->tensor_count;
  return index;
}
/* A value input with its data. */
static void tn_input(test_node* t, cnnrt_shape shape, const float* data) {
  uint32_t position = t->node.input_count++;
  t->inputs[position] = add_tensor(t, shape, NULL);
  t->data[position] = data;
}
static void tn_const(test_node* t, cnnrt_shape shape, const float* data) {
  uint32_t position = t->node.input_count++;
  t->inputs[position] = add_tensor(t, shape, data);
  t->data[position] = data;
}
static void tn_absent(test_node* t) { t->inputs[t->node.input_count++] = CNNRT_NO_TENSOR; }
static void tn_outputs(test_node* t, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) t->outputs[t->node.output_count++] = add_tensor(t, SHAPE(0), NULL);
}
static cnnrt_attr* new_attr(test_node* t, const char* name, uint8_t type) {
  cnnrt_attr* a = &t->attrs[t->node.attr_count];
  a->name = name;
  a->type = type;
  a->ints = t->ints[t->node.attr_count];
  a->floats = t->floats[t->node.attr_count];
  t->node.attr_count++;
  return a;
}
static void attr_int(test_node* t, const char* name, int64_t v) {
  cnnrt_attr* a = new_attr(t, name, CNNRT_ATTR_INT);
  t->ints[t->node.attr_count - 1][0] = v;
  a->count = 1;
}
static void attr_float(test_node* t, const char* name, double v) {
  cnnrt_attr* a = new_attr(t, name, CNNRT_ATTR_FLOAT);
  t->floats[t->node.attr_count - 1][0] = v;
  a->count = 1;
}
static void attr_ints(test_node* t, const char* name, int n, const int64_t* v) {
  cnnrt_attr* a = new_attr(t, name, CNNRT_ATTR_INTS);
  memcpy(t->ints[t->node.attr_count - 1], v, (size_t)n * sizeof(int64_t));
  a->count = (uint32_t)n;
}
static void attr_floats(test_node* t, const char* name, int n, const double* v) {
  cnnrt_attr* a = new_attr(t, name, CNNRT_ATTR_FLOATS);
  memcpy(t->floats[t->node.attr_count - 1], v, (size_t)n * sizeof(double));
  a->count = (uint32_t)n;
}
static void attr_string(test_node* t, const char* name, const char* v) {
  cnnrt_attr* a = new_attr(t, name, CNNRT_ATTR_STRING);
  a->str = v;
  a->count = 1;
}
#define INTS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

typedef struct run_result {
  cnnrt_status status;
  int output_count;
  cnnrt_shape shapes[8];
  float* outputs[8];
  const char* kernel;
} run_result;

static void result_free(run_result* r) {
  for (int i = 0; i < r->output_count; i++) free(r->outputs[i]);
  memset(r, 0, sizeof(*r));
}

/* create -> reshape -> run with `threads`; in_place runs output 0 in input 0's buffer. */
static run_result run_node_ex(test_node* t, int threads, int in_place) {
  run_result r;
  memset(&r, 0, sizeof(r));
  const cnnrt_op_def* def = t->node.def;
  void* state = NULL;
  r.status = def->create(&t->graph, &t->node, &state);
  if (r.status != CNNRT_OK) return r;
  cnnrt_shape in_shapes[MAX_TENSORS];
  cnnrt_tensor_ref in_refs[MAX_TENSORS], out_refs[8];
  memset(in_shapes, 0, sizeof(in_shapes));
  memset(in_refs, 0, sizeof(in_refs));
  for (uint32_t i = 0; i < t->node.input_count; i++) {
    if (t->inputs[i] == CNNRT_NO_TENSOR) continue;
    in_shapes[i] = t->tensors[t->inputs[i]].shape;
    in_refs[i].shape = in_shapes[i];
    in_refs[i].data = (void*)t->data[i];
  }
  cnnrt_reshape_info info = {.threads = threads};
  r.status = def->reshape(&t->node, state, in_shapes, r.shapes, &info);
  if (r.status != CNNRT_OK) {
    def->destroy(state);
    return r;
  }
  r.kernel = info.kernel;
  r.output_count = (int)t->node.output_count;
  float* in_copy = NULL;
  for (int i = 0; i < r.output_count; i++) {
    size_t n = (size_t)cnnrt_shape_numel(&r.shapes[i]);
    r.outputs[i] = malloc((n > 0 ? n : 1) * sizeof(float));
    for (size_t j = 0; j < n; j++) r.outputs[i][j] = NAN; /* catches unwritten elements */
    out_refs[i].data = r.outputs[i];
    out_refs[i].shape = r.shapes[i];
  }
  if (in_place) {
    size_t n = (size_t)cnnrt_shape_numel(&r.shapes[0]);
    memcpy(r.outputs[0], t->data[0], n * sizeof(float));
    in_refs[0].data = r.outputs[0];
  }
  void* workspace = NULL;
  if (info.workspace_bytes > 0) workspace = aligned_alloc(64, (info.workspace_bytes + 63) / 64 * 64);
  cnnrt_threadpool* pool = NULL;
  if (cnnrt_threadpool_create(threads, &pool) != CNNRT_OK) abort();
  cnnrt_run_context context = {.pool = pool, .threads = threads, .workspace = workspace,
                               .workspace_bytes = info.workspace_bytes};
  def->run(&context, &t->node, state, in_refs, out_refs);
  cnnrt_threadpool_destroy(pool);
  free(workspace);
  free(in_copy);
  def->destroy(state);
  return r;
}
static run_result run_node(test_node* t, int threads) { return run_node_ex(t, threads, 0); }

/* max |a - ref| <= tolerance * max(1, max |ref|) */
static int close_to(const float* a, const double* ref, size_t n, double tolerance, const char* what) {
  double scale = 1.0, worst = 0.0;
  size_t worst_index = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)a[i] - ref[i]);
    if (!(e <= worst)) {
      worst = e;
      worst_index = i;
    }
  }
  int ok = worst <= tolerance * scale;
  CHECK(ok, "%s: max error %g at %zu (got %g, expected %g), tolerance %g", what, worst, worst_index,
        n ? a[worst_index] : 0.0, n ? ref[worst_index] : 0.0, tolerance * scale);
  return ok;
}

static int same_bits(const run_result* a, const run_result* b, const char* what) {
  size_t n = (size_t)cnnrt_shape_numel(&a->shapes[0]);
  int ok = cnnrt_shape_equal(&a->shapes[0], &b->shapes[0]) && memcmp(a->outputs[0], b->outputs[0], n * 4) == 0;
  CHECK(ok, "%s: outputs differ between thread counts", what);
  return ok;
}

static double reduction_tolerance(size_t k) { return 1e-4 * fmax(1.0, sqrt((double)k / 64.0)); }

/* ---- Conv -------------------------------------------------------------------- */

typedef struct conv_case {
  int spatial, n, c, m, group, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, bias, act, residual;
} conv_case;

static void conv_reference(const conv_case* p, const float* x, const float* w, const float* b, const float* r,
                           int oh, int ow, double* y) {
  int cg = p->c / p->group, mg = p->m / p->group;
  for (int n = 0; n < p->n; n++)
    for (int m = 0; m < p->m; m++) {
      int g = m / mg;
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          double acc = b ? b[m] : 0.0;
          for (int c = 0; c < cg; c++)
            for (int ky = 0; ky < p->kh; ky++)
              for (int kx = 0; kx < p->kw; kx++) {
                int iy = oy * p->sh - p->pt + ky * p->dh, ix = ox * p->sw - p->pl + kx * p->dw;
                if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w) continue;
                acc += (double)x[((n * p->c + g * cg + c) * p->h + iy) * p->w + ix] *
                       w[((m * cg + c) * p->kh + ky) * p->kw + kx];
              }
          size_t o = ((size_t)(n * p->m + m) * oh + oy) * ow + ox;
          if (r) acc += r[o];
          if (p->act == CNNRT_ACT_RELU && acc < 0) acc = 0;
          if (p->act == CNNRT_ACT_SILU) acc = acc / (1.0 + exp(-acc));
          y[o] = acc;
        }
    }
}

static void test_conv_case(const conv_case* p) {
  int oh = (p->h + p->pt + p->pb - ((p->kh - 1) * p->dh + 1)) / p->sh + 1;
  int ow = (p->w + p->pl + p->pr - ((p->kw - 1) * p->dw + 1)) / p->sw + 1;
  if (oh < 1 || ow < 1) return;
  size_t xn = (size_t)p->n * p->c * p->h * p->w, wn = (size_t)p->m * (p->c / p->group) * p->kh * p->kw;
  size_t yn = (size_t)p->n * p->m * oh * ow;
  float* x = random_buffer(xn);
  float* w = random_buffer(wn);
  float* b = p->bias ? random_buffer((size_t)p->m) : NULL;
  float* r = p->residual ? random_buffer(yn) : NULL;
  test_node t;
  tn_init(&t, 1, "conv");
  if (p->spatial == 2) {
    tn_input(&t, SHAPE(p->n, p->c, p->h, p->w), x);
    tn_const(&t, SHAPE(p->m, p->c / p->group, p->kh, p->kw), w);
    attr_ints(&t, "strides", INTS(p->sh, p->sw));
    attr_ints(&t, "dilations", INTS(p->dh, p->dw));
    attr_ints(&t, "pads", INTS(p->pt, p->pl, p->pb, p->pr));
  } else {
    tn_input(&t, SHAPE(p->n, p->c, p->w), x);
    tn_const(&t, SHAPE(p->m, p->c / p->group, p->kw), w);
    attr_ints(&t, "strides", INTS(p->sw));
    attr_ints(&t, "dilations", INTS(p->dw));
    attr_ints(&t, "pads", INTS(p->pl, p->pr));
  }
  if (b) tn_const(&t, SHAPE(p->m), b);
  else if (r) tn_absent(&t);
  if (r) {
    if (p->spatial == 2) tn_input(&t, SHAPE(p->n, p->m, oh, ow), r);
    else tn_input(&t, SHAPE(p->n, p->m, ow), r);
    t.node.epilogue.residual = 1;
  }
  t.node.epilogue.activation = (uint8_t)p->act;
  attr_int(&t, "group", p->group);
  tn_outputs(&t, 1);
  double* ref = malloc(yn * sizeof(double));
  conv_reference(p, x, w, b, r, oh, ow, ref);
  char what[256];
  snprintf(what, sizeof(what), "conv%dd n%d c%d m%d g%d %dx%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d", p->spatial, p->n,
           p->c, p->m, p->group, p->h, p->w, p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->pt, p->pl, p->pb, p->pr);
  run_result r1 = run_node(&t, 1);
  CHECK(r1.status == CNNRT_OK, "%s: %s", what, cnnrt_last_error());
  if (r1.status == CNNRT_OK) {
    CHECK(r1.shapes[0].dims[1] == p->m && r1.shapes[0].dims[r1.shapes[0].rank - 1] == ow, "%s: output shape", what);
    size_t k = (size_t)(p->c / p->group) * p->kh * p->kw;
    strncat(what, " ", sizeof(what) - strlen(what) - 1);
    strncat(what, r1.kernel, sizeof(what) - strlen(what) - 1);
    close_to(r1.outputs[0], ref, yn, reduction_tolerance(k), what);
    run_result r2 = run_node(&t, 2), r3 = run_node(&t, 3);
    same_bits(&r1, &r2, what);
    same_bits(&r1, &r3, what);
    /* The direct reference kernel agrees with the chosen path. */
    if (p->act == 0 && !p->residual) {
      cnnrt_conv2d_geometry g = {
          .batch = (size_t)p->n, .groups = (size_t)p->group, .in_channels = (size_t)p->c,
          .in_h = (size_t)(p->spatial == 2 ? p->h : 1), .in_w = (size_t)p->w, .out_channels = (size_t)p->m,
          .out_h = (size_t)(p->spatial == 2 ? oh : 1), .out_w = (size_t)ow,
          .kernel_h = (size_t)(p->spatial == 2 ? p->kh : 1), .kernel_w = (size_t)p->kw,
          .stride_h = (size_t)p->sh, .stride_w = (size_t)p->sw, .dilation_h = (size_t)p->dh,
          .dilation_w = (size_t)p->dw, .pad_top = p->spatial == 2 ? p->pt : 0, .pad_left = p->pl};
      float* direct = malloc(yn * sizeof(float));
      for (int n = 0; n < p->n; n++) cnnrt_f32_conv2d_direct_ref(&g, x, w, b, direct, (size_t)n, 0, (size_t)p->m);
      double* direct_d = malloc(yn * sizeof(double));
      for (size_t i = 0; i < yn; i++) direct_d[i] = direct[i];
      close_to(r1.outputs[0], direct_d, yn, reduction_tolerance(k), "conv vs conv2d_direct_ref");
      free(direct);
      free(direct_d);
    }
    result_free(&r2);
    result_free(&r3);
  }
  result_free(&r1);
  free(ref);
  free(x);
  free(w);
  free(b);
  free(r);
}

static void test_conv(void) {
  const conv_case fixed[] = {
      /* spatial n c m group h w kh kw sh sw dh dw pt pl pb pr bias act residual */
      {2, 1, 3, 8, 1, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 2, 17, 16, 1, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, CNNRT_ACT_RELU, 1}, /* 1x1 GEMM path */
      {2, 1, 64, 64, 64, 10, 9, 3, 3, 2, 2, 1, 1, 1, 0, 2, 1, 1, CNNRT_ACT_SILU, 0}, /* depthwise */
      {2, 1, 16, 32, 16, 8, 8, 5, 5, 1, 1, 2, 2, 4, 4, 4, 4, 1, 0, 0},  /* depthwise multiplier 2, dilation */
      {2, 1, 3, 2, 1, 12, 12, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 0, 0},   /* direct: 2 outputs */
      {2, 2, 64, 64, 1, 14, 14, 3, 3, 2, 2, 2, 2, 2, 1, 0, 2, 1, CNNRT_ACT_RELU, 1},
      {2, 1, 16, 24, 4, 9, 13, 3, 5, 1, 2, 1, 1, 1, 2, 0, 1, 0, 0, 0},  /* groups */
      {1, 2, 17, 12, 1, 1, 30, 1, 5, 1, 2, 1, 2, 0, 1, 0, 3, 1, CNNRT_ACT_RELU, 0}, /* 1-D */
      {1, 1, 8, 8, 8, 1, 25, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0},    /* 1-D depthwise */
      {2, 1, 1, 1, 1, 5, 5, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
      {2, 1, 32, 40, 1, 23, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, /* several pixel tiles */
  };
  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) test_conv_case(&fixed[i]);
  static const int channels[] = {1, 3, 17, 64};
  static const int kernels[] = {1, 3, 5, 7};
  for (int trial = 0; trial < 40; trial++) {
    conv_case p;
    memset(&p, 0, sizeof(p));
    p.spatial = random_int(1, 2);
    p.n = random_int(1, 2);
    p.c = channels[random_int(0, 3)];
    int kind = random_int(0, 2); /* 0 dense, 1 grouped, 2 depthwise */
    if (kind == 2 && p.c > 1) {
      p.group = p.c;
      p.m = p.c * random_int(1, 2);
    } else if (kind == 1 && p.c % 2 == 0 && p.c > 1) {
      p.group = 2;
      p.m = 2 * random_int(1, 12);
    } else {
      p.group = 1;
      p.m = channels[random_int(0, 3)];
    }
    p.kh = p.spatial == 2 ? kernels[random_int(0, 3)] : 1;
    p.kw = kernels[random_int(0, 3)];
    p.h = p.spatial == 2 ? random_int(p.kh, 16) : 1;
    p.w = random_int(p.kw, 20);
    p.sh = p.spatial == 2 ? random_int(1, 2) : 1;
    p.sw = random_int(1, 2);
    p.dh = p.spatial == 2 ? random_int(1, 2) : 1;
    p.dw = random_int(1, 2);
    p.pt = p.spatial == 2 ? random_int(0, p.kh / 2 + 1) : 0;
    p.pb = p.spatial == 2 ? random_int(0, p.kh / 2) : 0;
    p.pl = random_int(0, p.kw / 2 + 1);
    p.pr = random_int(0, p.kw / 2);
    p.bias = random_int(0, 1);
    p.act = random_int(0, 1) ? CNNRT_ACT_RELU : 0;
    p.residual = random_int(0, 1);
    test_conv_case(&p);
  }
}

static void test_conv_errors(void) {
  float w[2 * 3 * 3 * 3] = {0}, x[1] = {0};
  test_node t;
  tn_init(&t, 1, "conv1");
  tn_input(&t, SHAPE(1, 4, 8, 8), x);
  tn_const(&t, SHAPE(2, 3, 3, 3), w);
  tn_outputs(&t, 1);
  attr_ints(&t, "strides", INTS(1, 1, 1));
  run_result r = run_node(&t, 1);
  CHECK(r.status == CNNRT_ERROR_INVALID_MODEL && strstr(cnnrt_last_error(), "'strides' expected 2 values"),
        "bad strides message: %s", cnnrt_last_error());
  t.node.attr_count = 0;
  attr_float(&t, "group", 1.0);
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_ERROR_INVALID_MODEL &&
            strstr(cnnrt_last_error(), "node 'conv1' (Conv): attribute 'group' expected int, found float"),
        "bad group type message: %s", cnnrt_last_error());
  t.node.attr_count = 0;
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_ERROR_INVALID_ARGUMENT &&
            strstr(cnnrt_last_error(), "input 0 (X) expected 3 channels, found 4 (shape [1, 4, 8, 8])"),
        "bad channel message: %s", cnnrt_last_error());
  result_free(&r);
}

/* ---- ConvTranspose ----------------------------------------------------------- */

static void test_conv_transpose(void) {
  for (int trial = 0; trial < 12; trial++) {
    int spatial = trial % 3 == 2 ? 1 : 2;
    int n = 1 + trial % 2, group = trial % 4 == 1 ? 2 : 1, c = 2 * random_int(1, 3), mg = random_int(1, 3);
    int h = spatial == 2 ? random_int(2, 6) : 1, w = random_int(2, 7);
    int kh = spatial == 2 ? random_int(1, 4) : 1, kw = random_int(1, 4);
    int sh = spatial == 2 ? random_int(1, 3) : 1, sw = random_int(1, 3), dh = spatial == 2 ? random_int(1, 2) : 1,
        dw = random_int(1, 2);
    int pt = spatial == 2 ? random_int(0, kh - 1) : 0, pb = spatial == 2 ? random_int(0, kh - 1) : 0;
    int pl = random_int(0, kw - 1), pr = random_int(0, kw - 1);
    int oph = spatial == 2 ? random_int(0, (sh > dh ? sh : dh) - 1) : 0, opw = random_int(0, (sw > dw ? sw : dw) - 1);
    int m = mg * group;
    int oh = sh * (h - 1) + oph + (kh - 1) * dh + 1 - pt - pb, ow = sw * (w - 1) + opw + (kw - 1) * dw + 1 - pl - pr;
    if (oh < 1 || ow < 1) continue;
    float* x = random_buffer((size_t)n * c * h * w);
    float* wt = random_buffer((size_t)c * mg * kh * kw);
    float* b = random_buffer((size_t)m);
    test_node t;
    tn_init(&t, 2, "deconv");
    if (spatial == 2) {
      tn_input(&t, SHAPE(n, c, h, w), x);
      tn_const(&t, SHAPE(c, mg, kh, kw), wt);
      attr_ints(&t, "strides", INTS(sh, sw));
      attr_ints(&t, "dilations", INTS(dh, dw));
      attr_ints(&t, "pads", INTS(pt, pl, pb, pr));
      attr_ints(&t, "output_padding", INTS(oph, opw));
    } else {
      tn_input(&t, SHAPE(n, c, w), x);
      tn_const(&t, SHAPE(c, mg, kw), wt);
      attr_ints(&t, "strides", INTS(sw));
      attr_ints(&t, "dilations", INTS(dw));
      attr_ints(&t, "pads", INTS(pl, pr));
      attr_ints(&t, "output_padding", INTS(opw));
    }
    tn_const(&t, SHAPE(m), b);
    attr_int(&t, "group", group);
    tn_outputs(&t, 1);
    size_t yn = (size_t)n * m * oh * ow;
    double* ref = calloc(yn, sizeof(double));
    int cg = c / group;
    for (int in = 0; in < n; in++)
      for (int ic = 0; ic < c; ic++)
        for (int iy = 0; iy < h; iy++)
          for (int ix = 0; ix < w; ix++)
            for (int j = 0; j < mg; j++)
              for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++) {
                  int oy = iy * sh - pt + ky * dh, ox = ix * sw - pl + kx * dw;
                  if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                  int oc = (ic / cg) * mg + j;
                  ref[((size_t)(in * m + oc) * oh + oy) * ow + ox] +=
                      (double)x[((in * c + ic) * h + iy) * w + ix] * wt[((ic * mg + j) * kh + ky) * kw + kx];
                }
    for (size_t i = 0; i < yn; i++) ref[i] += b[(i / ((size_t)oh * ow)) % (size_t)m];
    run_result r1 = run_node(&t, 1);
    CHECK(r1.status == CNNRT_OK, "conv_transpose: %s", cnnrt_last_error());
    if (r1.status == CNNRT_OK) {
      CHECK(r1.shapes[0].dims[r1.shapes[0].rank - 1] == ow, "conv_transpose: width %lld vs %d",
            (long long)r1.shapes[0].dims[r1.shapes[0].rank - 1], ow);
      close_to(r1.outputs[0], ref, yn, 1e-4, "conv_transpose");
      run_result r3 = run_node(&t, 3);
      same_bits(&r1, &r3, "conv_transpose");
      result_free(&r3);
    }
    result_free(&r1);
    free(ref);
    free(x);
    free(wt);
    free(b);
  }
  /* output_shape with SAME_UPPER-style split: total padding 1 goes to the end. */
  float x[4] = {1, 2, 3, 4}, w[3] = {1, 1, 1};
  test_node t;
  tn_init(&t, 2, "deconv_shape");
  tn_input(&t, SHAPE(1, 1, 4), x);
  tn_const(&t, SHAPE(1, 1, 3), w);
  attr_ints(&t, "strides", INTS(2));
  attr_ints(&t, "output_shape", INTS(8));
  attr_int(&t, "auto_pad", 1);
  tn_outputs(&t, 1);
  run_result r = run_node(&t, 1);
  /* full output (9): 1 1 3 2 5 3 7 4 4; SAME_UPPER crops begin 0, end 1 */
  double expected[8] = {1, 1, 3, 2, 5, 3, 7, 4};
  CHECK(r.status == CNNRT_OK && r.shapes[0].dims[2] == 8, "conv_transpose output_shape: %s", cnnrt_last_error());
  if (r.status == CNNRT_OK) close_to(r.outputs[0], expected, 8, 1e-6, "conv_transpose output_shape");
  result_free(&r);
}

/* ---- Gemm / MatMul ----------------------------------------------------------- */

static void test_gemm(void) {
  for (int trial = 0; trial < 24; trial++) {
    int m = random_int(1, 37), n = random_int(1, 70), k = random_int(1, 90);
    int trans_a = trial & 1, trans_b = (trial >> 1) & 1, b_constant = (trial >> 2) & 1;
    int c_kind = trial % 4; /* 0 none, 1 [N], 2 [M,1], 3 [M,N] */
    float alpha = 0.5f + (float)(trial % 3), beta = trial % 2 ? 1.0f : -0.5f;
    float* a = random_buffer((size_t)m * k);
    float* b = random_buffer((size_t)k * n);
    float* c = random_buffer((size_t)m * n);
    test_node t;
    tn_init(&t, 7, "gemm");
    if (trans_a) tn_input(&t, SHAPE(k, m), a);
    else tn_input(&t, SHAPE(m, k), a);
    cnnrt_shape bs = trans_b ? SHAPE(n, k) : SHAPE(k, n);
    if (b_constant) tn_const(&t, bs, b);
    else tn_input(&t, bs, b);
    if (c_kind == 1) tn_input(&t, SHAPE(n), c);
    if (c_kind == 2) tn_input(&t, SHAPE(m, 1), c);
    if (c_kind == 3) tn_input(&t, SHAPE(m, n), c);
    attr_int(&t, "transA", trans_a);
    attr_int(&t, "transB", trans_b);
    attr_float(&t, "alpha", alpha);
    attr_float(&t, "beta", beta);
    t.node.epilogue.activation = trial % 5 == 0 ? CNNRT_ACT_RELU : 0;
    tn_outputs(&t, 1);
    double* ref = malloc((size_t)m * n * sizeof(double));
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int p = 0; p < k; p++) {
          double av = trans_a ? a[p * m + i] : a[i * k + p];
          double bv = trans_b ? b[j * k + p] : b[p * n + j];
          acc += av * bv;
        }
        acc *= alpha;
        if (c_kind == 1) acc += beta * c[j];
        if (c_kind == 2) acc += beta * c[i];
        if (c_kind == 3) acc += beta * c[i * n + j];
        if (t.node.epilogue.activation && acc < 0) acc = 0;
        ref[i * n + j] = acc;
      }
    run_result r1 = run_node(&t, 1);
    CHECK(r1.status == CNNRT_OK, "gemm: %s", cnnrt_last_error());
    if (r1.status == CNNRT_OK) {
      char what[128];
      snprintf(what, sizeof(what), "gemm m%d n%d k%d tA%d tB%d constB%d C%d", m, n, k, trans_a, trans_b, b_constant, c_kind);
      close_to(r1.outputs[0], ref, (size_t)m * n, reduction_tolerance((size_t)k), what);
      run_result r2 = run_node(&t, 2), r3 = run_node(&t, 3);
      same_bits(&r1, &r2, what);
      same_bits(&r1, &r3, what);
      result_free(&r2);
      result_free(&r3);
    }
    result_free(&r1);
    free(ref);
    free(a);
    free(b);
    free(c);
  }
}

static void test_matmul(void) {
  typedef struct { int ar; int64_t ad[4]; int br; int64_t bd[4]; int b_constant; } mm_case;
  const mm_case cases[] = {
      {2, {5, 7}, 2, {7, 9}, 0},
      {3, {3, 4, 6}, 2, {6, 33}, 1},
      {1, {6}, 3, {2, 6, 5}, 0},
      {3, {2, 5, 6}, 1, {6}, 0},
      {4, {2, 1, 3, 8}, 3, {3, 8, 4}, 0},
      {4, {1, 3, 9, 10}, 4, {2, 1, 10, 17}, 1},
      {1, {12}, 1, {12}, 0},
  };
  for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
    const mm_case* c = &cases[ci];
    cnnrt_shape as = make_shape(c->ar, c->ad), bs = make_shape(c->br, c->bd);
    float* a = random_buffer((size_t)cnnrt_shape_numel(&as));
    float* b = random_buffer((size_t)cnnrt_shape_numel(&bs));
    test_node t;
    tn_init(&t, 8, "matmul");
    tn_input(&t, as, a);
    if (c->b_constant) tn_const(&t, bs, b);
    else tn_input(&t, bs, b);
    tn_outputs(&t, 1);
    run_result r1 = run_node(&t, 1);
    CHECK(r1.status == CNNRT_OK, "matmul case %zu: %s", ci, cnnrt_last_error());
    if (r1.status != CNNRT_OK) continue;
    /* Reference with numpy rules, written independently: promote to rank-4. */
    int64_t A[4] = {1, 1, 1, 1}, B[4] = {1, 1, 1, 1};
    int64_t m = c->ar == 1 ? 1 : c->ad[c->ar - 2], k = c->ad[c->ar - 1];
    int64_t n = c->br == 1 ? 1 : c->bd[c->br - 1];
    for (int i = 0; i < c->ar - 2; i++) A[4 - (c->ar - 2) - 2 + i] = c->ad[i];
    for (int i = 0; i < c->br - 2; i++) B[4 - (c->br - 2) - 2 + i] = c->bd[i];
    int64_t b0 = A[0] > B[0] ? A[0] : B[0], b1 = A[1] > B[1] ? A[1] : B[1];
    size_t yn = (size_t)(b0 * b1 * m * n);
    CHECK((size_t)cnnrt_shape_numel(&r1.shapes[0]) == yn, "matmul case %zu: output size", ci);
    double* ref = malloc(yn * sizeof(double));
    for (int64_t i0 = 0; i0 < b0; i0++)
      for (int64_t i1 = 0; i1 < b1; i1++)
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            const float* am = a + (((A[0] > 1 ? i0 : 0) * A[1] + (A[1] > 1 ? i1 : 0)) * m * k);
            const float* bm = b + (((B[0] > 1 ? i0 : 0) * B[1] + (B[1] > 1 ? i1 : 0)) * k * n);
            for (int64_t p = 0; p < k; p++) acc += (double)am[i * k + p] * bm[p * n + j];
            ref[((i0 * b1 + i1) * m + i) * n + j] = acc;
          }
    close_to(r1.outputs[0], ref, yn, 1e-4, "matmul");
    run_result r3 = run_node(&t, 3);
    same_bits(&r1, &r3, "matmul");
    result_free(&r3);
    result_free(&r1);
    free(ref);
    free(a);
    free(b);
  }
}

/* ---- pools ------------------------------------------------------------------- */

static void test_pools(void) {
  for (int trial = 0; trial < 30; trial++) {
    int is_max = trial % 2, spatial = trial % 5 == 4 ? 1 : 2;
    int n = 2, c = 3, h = spatial == 2 ? random_int(3, 12) : 1, w = random_int(3, 12);
    int kh = spatial == 2 ? random_int(1, 3) : 1, kw = random_int(1, 3);
    int sh = spatial == 2 ? random_int(1, 3) : 1, sw = random_int(1, 3);
    int dh = is_max && spatial == 2 ? random_int(1, 2) : 1, dw = is_max ? random_int(1, 2) : 1;
    int pt = spatial == 2 ? random_int(0, kh / 2) : 0, pb = spatial == 2 ? random_int(0, kh / 2) : 0;
    int pl = random_int(0, kw / 2), pr = random_int(0, kw / 2);
    int ceil_mode = random_int(0, 1), include_pad = random_int(0, 1);
    int ekh = (kh - 1) * dh + 1, ekw = (kw - 1) * dw + 1;
    if (h + pt + pb < ekh || w + pl + pr < ekw) continue;
    int oh, ow;
    if (ceil_mode) {
      oh = (h + pt + pb - ekh + sh - 1) / sh + 1;
      ow = (w + pl + pr - ekw + sw - 1) / sw + 1;
      if ((oh - 1) * sh >= h + pt) oh--;
      if ((ow - 1) * sw >= w + pl) ow--;
    } else {
      oh = (h + pt + pb - ekh) / sh + 1;
      ow = (w + pl + pr - ekw) / sw + 1;
    }
    float* x = random_buffer((size_t)n * c * h * w);
    test_node t;
    tn_init(&t, is_max ? 3 : 4, "pool");
    if (spatial == 2) {
      tn_input(&t, SHAPE(n, c, h, w), x);
      attr_ints(&t, "kernel_shape", INTS(kh, kw));
      attr_ints(&t, "strides", INTS(sh, sw));
      attr_ints(&t, "pads", INTS(pt, pl, pb, pr));
      if (is_max) attr_ints(&t, "dilations", INTS(dh, dw));
    } else {
      tn_input(&t, SHAPE(n, c, w), x);
      attr_ints(&t, "kernel_shape", INTS(kw));
      attr_ints(&t, "strides", INTS(sw));
      attr_ints(&t, "pads", INTS(pl, pr));
      if (is_max) attr_ints(&t, "dilations", INTS(dw));
    }
    attr_int(&t, "ceil_mode", ceil_mode);
    if (!is_max) attr_int(&t, "count_include_pad", include_pad);
    tn_outputs(&t, 1);
    size_t yn = (size_t)n * c * oh * ow;
    double* ref = malloc(yn * sizeof(double));
    for (int p = 0; p < n * c; p++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          double best = -INFINITY, sum = 0;
          int count = 0;
          int y0 = oy * sh - pt, x0 = ox * sw - pl;
          /* average: window clipped to the padded input (ONNX Runtime's rule) */
          int y_end = y0 + ekh < h + pb ? y0 + ekh : h + pb, x_end = x0 + ekw < w + pr ? x0 + ekw : w + pr;
          for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
              int iy = y0 + ky * dh, ix = x0 + kx * dw;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              double v = x[(p * h + iy) * w + ix];
              best = v > best ? v : best;
              sum += v;
              count++;
            }
          if (!is_max && include_pad) count = (y_end - y0) * (x_end - x0);
          ref[(p * oh + oy) * ow + ox] = is_max ? best : sum / count;
        }
    run_result r1 = run_node(&t, 1);
    CHECK(r1.status == CNNRT_OK, "pool: %s", cnnrt_last_error());
    if (r1.status == CNNRT_OK) {
      char what[160];
      snprintf(what, sizeof(what), "%s %dd %dx%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d ceil%d incl%d", is_max ? "maxpool" : "avgpool",
               spatial, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil_mode, include_pad);
      CHECK(cnnrt_shape_numel(&r1.shapes[0]) == (int64_t)yn, "%s: output shape", what);
      if (cnnrt_shape_numel(&r1.shapes[0]) == (int64_t)yn) close_to(r1.outputs[0], ref, yn, 1e-5, what);
      run_result r2 = run_node(&t, 2);
      same_bits(&r1, &r2, what);
      result_free(&r2);
    }
    result_free(&r1);
    free(ref);
    free(x);
  }
  /* global pools, rank 5 */
  float* x = random_buffer(2 * 3 * 4 * 5 * 2);
  for (int op = 5; op <= 6; op++) {
    test_node t;
    tn_init(&t, (uint16_t)op, "global");
    tn_input(&t, SHAPE(2, 3, 4, 5, 2), x);
    tn_outputs(&t, 1);
    run_result r = run_node(&t, 2);
    CHECK(r.status == CNNRT_OK && r.shapes[0].rank == 5 && r.shapes[0].dims[4] == 1, "global pool shape");
    double ref[6];
    for (int p = 0; p < 6; p++) {
      double s = 0, mx = -INFINITY;
      for (int i = 0; i < 40; i++) {
        s += x[p * 40 + i];
        mx = fmax(mx, x[p * 40 + i]);
      }
      ref[p] = op == 5 ? s / 40 : mx;
    }
    if (r.status == CNNRT_OK) close_to(r.outputs[0], ref, 6, 1e-5, "global pool");
    result_free(&r);
  }
  free(x);
}

/* ---- element-wise ------------------------------------------------------------ */

static void test_binary(void) {
  typedef struct { int ar; int64_t ad[4]; int br; int64_t bd[4]; } bc_case;
  const bc_case cases[] = {
      {4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}}, {4, {2, 3, 4, 5}, 0, {0}}, {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}},
      {2, {4, 1}, 3, {2, 1, 6}},          {1, {5}, 3, {3, 4, 5}},    {3, {3, 1, 5}, 3, {1, 4, 1}},
      {0, {0}, 2, {3, 3}},                 {4, {2, 64, 33, 33}, 4, {2, 64, 33, 33}},
  };
  for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
    for (int op = 50; op <= 56; op++) {
      const bc_case* c = &cases[ci];
      cnnrt_shape as = make_shape(c->ar, c->ad), bs = make_shape(c->br, c->bd);
      float* a = random_buffer((size_t)cnnrt_shape_numel(&as));
      float* b = random_buffer((size_t)cnnrt_shape_numel(&bs));
      if (op == 54) {
        for (int64_t i = 0; i < cnnrt_shape_numel(&as); i++) a[i] = fabsf(a[i]) + 0.1f;
      }
      if (op == 53) {
        for (int64_t i = 0; i < cnnrt_shape_numel(&bs); i++) b[i] = b[i] < 0 ? b[i] - 0.5f : b[i] + 0.5f;
      }
      test_node t;
      tn_init(&t, (uint16_t)op, "binary");
      tn_input(&t, as, a);
      tn_input(&t, bs, b);
      if (op == 50) t.node.epilogue.activation = CNNRT_ACT_RELU;
      tn_outputs(&t, 1);
      run_result r = run_node(&t, 3);
      CHECK(r.status == CNNRT_OK, "binary: %s", cnnrt_last_error());
      if (r.status != CNNRT_OK) continue;
      const cnnrt_shape* ys = &r.shapes[0];
      size_t yn = (size_t)cnnrt_shape_numel(ys);
      double* ref = malloc(yn * sizeof(double));
      for (size_t i = 0; i < yn; i++) {
        size_t rest = i, ai = 0, bi = 0, astride = 1, bstride = 1;
        for (int d = ys->rank - 1; d >= 0; d--) {
          size_t coordinate = rest % (size_t)ys->dims[d];
          rest /= (size_t)ys->dims[d];
          int ad = d - (ys->rank - as.rank), bd = d - (ys->rank - bs.rank);
          if (ad >= 0) {
            if (as.dims[ad] != 1) ai += coordinate * astride;
            astride *= (size_t)as.dims[ad];
          }
          if (bd >= 0) {
            if (bs.dims[bd] != 1) bi += coordinate * bstride;
            bstride *= (size_t)bs.dims[bd];
          }
        }
        double va = a[ai], vb = b[bi], v = 0;
        switch (op) {
          case 50: v = va + vb; v = v < 0 ? 0 : v; break;
          case 51: v = va - vb; break;
          case 52: v = va * vb; break;
          case 53: v = va / vb; break;
          case 54: v = pow(va, vb); break;
          case 55: v = fmax(va, vb); break;
          case 56: v = fmin(va, vb); break;
        }
        ref[i] = v;
      }
      char what[64];
      snprintf(what, sizeof(what), "binary op %d case %zu", op, ci);
      close_to(r.outputs[0], ref, yn, 1e-5, what);
      /* in place: output in A's buffer when A has the output's size */
      if ((size_t)cnnrt_shape_numel(&as) == yn) {
        run_result ip = run_node_ex(&t, 2, 1);
        CHECK(ip.status == CNNRT_OK && memcmp(ip.outputs[0], r.outputs[0], yn * 4) == 0, "%s: in place differs", what);
        result_free(&ip);
      }
      result_free(&r);
      free(ref);
      free(a);
      free(b);
    }
  }
}

static void test_unary(void) {
  const size_t n = 1000;
  float* x = random_buffer(n);
  for (size_t i = 0; i < n; i++) x[i] *= 6.0f;
  for (int op = 20; op <= 39; op++) {
    test_node t;
    tn_init(&t, (uint16_t)op, "unary");
    float* input = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) input[i] = (op == 32 || op == 33) ? fabsf(x[i]) + 0.01f : x[i];
    tn_input(&t, SHAPE(10, 100), input);
    if (op == 22) {
      attr_float(&t, "min", -1.5);
      attr_float(&t, "max", 2.0);
    }
    if (op == 28) attr_string(&t, "approximate", "tanh");
    tn_outputs(&t, 1);
    run_result r = run_node(&t, 2);
    CHECK(r.status == CNNRT_OK, "unary %d: %s", op, cnnrt_last_error());
    double* ref = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
      double v = input[i], y = 0;
      switch (op) {
        case 20: y = v < 0 ? 0 : v; break;
        case 21: y = v < 0 ? 0.01 * v : v; break;
        case 22: y = fmin(2.0, fmax(-1.5, v)); break;
        case 23: y = 1 / (1 + exp(-v)); break;
        case 24: y = tanh(v); break;
        case 25: y = fmax(0, fmin(1, 0.2 * v + 0.5)); break;
        case 26: y = v * fmax(0, fmin(1, v / 6 + 0.5)); break;
        case 27: y = v / (1 + exp(-v)); break;
        case 28: y = 0.5 * v * (1 + tanh(sqrt(2 / 3.14159265358979) * (v + 0.044715 * v * v * v))); break;
        case 29: y = v < 0 ? exp(v) - 1 : v; break;
        case 30: y = log(1 + exp(v)); break;
        case 31: y = exp(v); break;
        case 32: y = log(v); break;
        case 33: y = sqrt(v); break;
        case 34: y = fabs(v); break;
        case 35: y = -v; break;
        case 36: y = erf(v); break;
        case 37: y = 1 / v; break;
        case 38: y = floor(v); break;
        case 39: y = ceil(v); break;
      }
      ref[i] = y;
    }
    if (r.status == CNNRT_OK) {
      char what[32];
      snprintf(what, sizeof(what), "unary op %d", op);
      close_to(r.outputs[0], ref, n, op == 37 ? 1e-4 : 2e-5, what);
      run_result ip = run_node_ex(&t, 1, 1);
      CHECK(memcmp(ip.outputs[0], r.outputs[0], n * 4) == 0, "%s in place differs", what);
      result_free(&ip);
    }
    result_free(&r);
    free(ref);
    free(input);
  }
  /* gelu (erf form) */
  test_node t;
  tn_init(&t, 28, "gelu");
  tn_input(&t, SHAPE(1000), x);
  tn_outputs(&t, 1);
  run_result r = run_node(&t, 1);
  double* ref = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) ref[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
  close_to(r.outputs[0], ref, n, 2e-5, "gelu");
  free(ref);
  result_free(&r);
  free(x);
}

/* ---- Resize ------------------------------------------------------------------ */

static void test_resize(void) {
  /* nearest, asymmetric + floor, scale 2 (Upsample) */
  float x[6] = {1, 2, 3, 4, 5, 6};
  test_node t;
  tn_init(&t, 77, "up");
  tn_input(&t, SHAPE(1, 1, 2, 3), x);
  attr_floats(&t, "scales", 4, (double[]){1, 1, 2, 2});
  attr_string(&t, "coordinate_transformation_mode", "asymmetric");
  attr_string(&t, "nearest_mode", "floor");
  tn_outputs(&t, 1);
  run_result r = run_node(&t, 2);
  double expected[24];
  for (int y = 0; y < 4; y++)
    for (int xx = 0; xx < 6; xx++) expected[y * 6 + xx] = x[(y / 2) * 3 + xx / 2];
  CHECK(r.status == CNNRT_OK && r.shapes[0].dims[2] == 4 && r.shapes[0].dims[3] == 6, "resize nearest shape");
  if (r.status == CNNRT_OK) close_to(r.outputs[0], expected, 24, 0, "resize nearest asymmetric floor");
  result_free(&r);

  /* linear, every coordinate mode, against formulas written here */
  const char* modes[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"};
  const int64_t sizes[][2] = {{5, 7}, {2, 3}, {1, 9}, {8, 1}};
  float* input = random_buffer(2 * 4 * 5);
  for (int mi = 0; mi < 4; mi++) {
    for (int si = 0; si < 4; si++) {
      int64_t oh = sizes[si][0], ow = sizes[si][1];
      tn_init(&t, 77, "linear");
      tn_input(&t, SHAPE(1, 2, 4, 5), input);
      attr_string(&t, "mode", "linear");
      attr_string(&t, "coordinate_transformation_mode", modes[mi]);
      attr_ints(&t, "sizes", INTS(-1, 2, oh, ow));
      tn_outputs(&t, 1);
      r = run_node(&t, 2);
      CHECK(r.status == CNNRT_OK, "resize linear: %s", cnnrt_last_error());
      if (r.status != CNNRT_OK) continue;
      double ref[2 * 8 * 9];
      for (int p = 0; p < 2; p++)
        for (int64_t oy = 0; oy < oh; oy++)
          for (int64_t ox = 0; ox < ow; ox++) {
            double src[2];
            int64_t in_dims[2] = {4, 5}, out_dims[2] = {oh, ow}, o[2] = {oy, ox};
            for (int a = 0; a < 2; a++) {
              double scale = (double)out_dims[a] / in_dims[a], s;
              if (mi == 0) s = (o[a] + 0.5) / scale - 0.5;
              else if (mi == 1) s = o[a] / scale;
              else if (mi == 2) s = out_dims[a] > 1 ? o[a] * (in_dims[a] - 1.0) / (out_dims[a] - 1.0) : 0;
              else s = out_dims[a] > 1 ? (o[a] + 0.5) / scale - 0.5 : 0;
              src[a] = fmin(fmax(s, 0), in_dims[a] - 1.0);
            }
            int y0 = (int)floor(src[0]), x0 = (int)floor(src[1]);
            int y1 = y0 + 1 < 4 ? y0 + 1 : 3, x1 = x0 + 1 < 5 ? x0 + 1 : 4;
            double fy = src[0] - y0, fx = src[1] - x0;
            const float* plane = input + p * 20;
            double top = plane[y0 * 5 + x0] * (1 - fx) + plane[y0 * 5 + x1] * fx;
            double bottom = plane[y1 * 5 + x0] * (1 - fx) + plane[y1 * 5 + x1] * fx;
            ref[(p * oh + oy) * ow + ox] = top * (1 - fy) + bottom * fy;
          }
      char what[64];
      snprintf(what, sizeof(what), "resize linear %s %lldx%lld", modes[mi], (long long)oh, (long long)ow);
      close_to(r.outputs[0], ref, (size_t)(2 * oh * ow), 1e-5, what);
      result_free(&r);
    }
  }
  /* nearest half_pixel round_prefer_ceil, downscale 5 -> 2 along W */
  tn_init(&t, 77, "down");
  tn_input(&t, SHAPE(1, 1, 1, 5), input);
  attr_ints(&t, "sizes", INTS(1, 1, 1, 2));
  attr_string(&t, "nearest_mode", "round_prefer_ceil");
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  /* x = (o + 0.5) * 2.5 - 0.5 = 0.75, 3.25 -> 1, 3 */
  double down[2] = {input[1], input[3]};
  if (r.status == CNNRT_OK) close_to(r.outputs[0], down, 2, 0, "resize nearest downscale");
  result_free(&r);
  free(input);
}

/* ---- shape ops, pad, softmax, reduce, norm ------------------------------------ */

static void test_misc(void) {
  float* x = random_buffer(2 * 3 * 4 * 5);
  test_node t;
  run_result r;
  /* Slice with a negative step and clamped ends */
  tn_init(&t, 72, "slice");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_ints(&t, "starts", INTS(-1, 100, 1));
  attr_ints(&t, "ends", INTS(INT64_MIN, -100, 2));
  attr_ints(&t, "axes", INTS(3, 1, 0));
  attr_ints(&t, "steps", INTS(-2, -1, 1));
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_OK && r.shapes[0].dims[0] == 1 && r.shapes[0].dims[1] == 3 && r.shapes[0].dims[3] == 3,
        "slice shape: %s", cnnrt_last_error());
  if (r.status == CNNRT_OK) {
    double ref[1 * 3 * 4 * 3];
    for (int c = 0; c < 3; c++)
      for (int h = 0; h < 4; h++)
        for (int w = 0; w < 3; w++) ref[(c * 4 + h) * 3 + w] = x[((1 * 3 + (2 - c)) * 4 + h) * 5 + (4 - 2 * w)];
    close_to(r.outputs[0], ref, 36, 0, "slice");
  }
  result_free(&r);
  /* Transpose NCHW -> NHWC */
  tn_init(&t, 75, "transpose");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_ints(&t, "perm", INTS(0, 2, 3, 1));
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  {
    double ref[120];
    for (int n = 0; n < 2; n++)
      for (int h = 0; h < 4; h++)
        for (int w = 0; w < 5; w++)
          for (int c = 0; c < 3; c++) ref[((n * 4 + h) * 5 + w) * 3 + c] = x[((n * 3 + c) * 4 + h) * 5 + w];
    if (r.status == CNNRT_OK) close_to(r.outputs[0], ref, 120, 0, "transpose");
  }
  result_free(&r);
  /* Concat along axis 1, then Split back (equal parts, the last smaller) */
  tn_init(&t, 70, "concat");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_int(&t, "axis", -3);
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_OK && r.shapes[0].dims[1] == 6, "concat shape");
  if (r.status == CNNRT_OK) CHECK(memcmp(r.outputs[0] + 60, x, 60 * 4) == 0 && memcmp(r.outputs[0] + 180, x + 60, 60 * 4) == 0, "concat data");
  result_free(&r);
  tn_init(&t, 71, "split");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_int(&t, "axis", 3);
  tn_outputs(&t, 2);
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_OK && r.shapes[0].dims[3] == 3 && r.shapes[1].dims[3] == 2, "split shapes");
  if (r.status == CNNRT_OK) CHECK(r.outputs[1][0] == x[3] && r.outputs[1][1] == x[4] && r.outputs[0][3] == x[5], "split data");
  result_free(&r);
  /* Reshape with 0 and -1 */
  tn_init(&t, 74, "reshape");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_ints(&t, "shape", INTS(0, -1, 5));
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_OK && r.shapes[0].rank == 3 && r.shapes[0].dims[1] == 12, "reshape shape");
  result_free(&r);
  tn_init(&t, 73, "flatten");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_int(&t, "axis", 2);
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_OK && r.shapes[0].dims[0] == 6 && r.shapes[0].dims[1] == 20 && memcmp(r.outputs[0], x, 480) == 0,
        "flatten");
  result_free(&r);
  /* Pad: reflect, edge, constant with cropping */
  const char* pad_modes[] = {"constant", "reflect", "edge"};
  for (int mode = 0; mode < 3; mode++) {
    tn_init(&t, 76, "pad");
    tn_input(&t, SHAPE(1, 2, 4, 5), x);
    attr_ints(&t, "pads", INTS(0, 0, 3, -1, 0, 1, 2, 4));
    attr_string(&t, "mode", pad_modes[mode]);
    attr_float(&t, "value", 9.5);
    tn_outputs(&t, 1);
    r = run_node(&t, 1);
    CHECK(r.status == CNNRT_OK && r.shapes[0].dims[1] == 3 && r.shapes[0].dims[2] == 9 && r.shapes[0].dims[3] == 8,
          "pad %s shape: %s", pad_modes[mode], cnnrt_last_error());
    if (r.status == CNNRT_OK) {
      double ref[3 * 9 * 8];
      for (int c = 0; c < 3; c++)
        for (int h = 0; h < 9; h++)
          for (int w = 0; w < 8; w++) {
            int ih = h - 3, iw = w + 1, ic = c;
            int outside = ic >= 2 || ih < 0 || ih >= 4 || iw >= 5;
            double v;
            if (mode == 0) {
              v = outside ? 9.5 : x[(ic * 4 + ih) * 5 + iw];
            } else {
              if (mode == 1) {
                ic = ic >= 2 ? 2 * 1 - ic : ic;
                ih = ih < 0 ? -ih : (ih >= 4 ? 6 - ih : ih);
                if (ih < 0) ih = -ih;
                iw = iw >= 5 ? 8 - iw : iw;
              } else {
                ic = ic > 1 ? 1 : ic;
                ih = ih < 0 ? 0 : (ih > 3 ? 3 : ih);
                iw = iw > 4 ? 4 : iw;
              }
              v = x[(ic * 4 + ih) * 5 + iw];
            }
            ref[(c * 9 + h) * 8 + w] = v;
          }
      char what[32];
      snprintf(what, sizeof(what), "pad %s", pad_modes[mode]);
      close_to(r.outputs[0], ref, 216, 0, what);
    }
    result_free(&r);
  }
  /* Softmax over axis 1 and LogSoftmax with coerce_2d */
  for (int op = 90; op <= 91; op++) {
    tn_init(&t, (uint16_t)op, "softmax");
    tn_input(&t, SHAPE(2, 3, 4, 5), x);
    attr_int(&t, "axis", op == 90 ? 1 : 2);
    if (op == 91) attr_int(&t, "coerce_2d", 1);
    tn_outputs(&t, 1);
    r = run_node(&t, 2);
    double ref[120];
    if (op == 90) {
      for (int n = 0; n < 2; n++)
        for (int i = 0; i < 20; i++) {
          double s = 0;
          for (int c = 0; c < 3; c++) s += exp(x[(n * 3 + c) * 20 + i]);
          for (int c = 0; c < 3; c++) ref[(n * 3 + c) * 20 + i] = exp(x[(n * 3 + c) * 20 + i]) / s;
        }
    } else {
      for (int o = 0; o < 6; o++) {
        double s = 0;
        for (int i = 0; i < 20; i++) s += exp(x[o * 20 + i]);
        for (int i = 0; i < 20; i++) ref[o * 20 + i] = x[o * 20 + i] - log(s);
      }
    }
    if (r.status == CNNRT_OK) close_to(r.outputs[0], ref, 120, 1e-5, op == 90 ? "softmax" : "log_softmax coerce_2d");
    result_free(&r);
  }
  /* ReduceMean over axes (1, 3), keepdims 0; ReduceMax over all */
  tn_init(&t, 92, "reduce");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_ints(&t, "axes", INTS(1, -1));
  attr_int(&t, "keepdims", 0);
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  CHECK(r.status == CNNRT_OK && r.shapes[0].rank == 2 && r.shapes[0].dims[1] == 4, "reduce shape");
  if (r.status == CNNRT_OK) {
    double ref[8];
    for (int n = 0; n < 2; n++)
      for (int h = 0; h < 4; h++) {
        double s = 0;
        for (int c = 0; c < 3; c++)
          for (int w = 0; w < 5; w++) s += x[((n * 3 + c) * 4 + h) * 5 + w];
        ref[n * 4 + h] = s / 15;
      }
    close_to(r.outputs[0], ref, 8, 1e-5, "reduce_mean");
  }
  result_free(&r);
  tn_init(&t, 94, "reducemax");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  {
    double mx = -INFINITY;
    for (int i = 0; i < 120; i++) mx = fmax(mx, x[i]);
    CHECK(r.status == CNNRT_OK && r.shapes[0].rank == 4 && r.outputs[0][0] == (float)mx, "reduce_max all");
  }
  result_free(&r);
  /* BatchNormalization and LRN */
  float scale[3] = {1.5f, -0.5f, 2.0f}, bias[3] = {0.1f, 0.2f, 0.3f}, mean[3] = {0.0f, 0.5f, -0.5f}, var[3] = {1.0f, 0.25f, 4.0f};
  tn_init(&t, 100, "bn");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  tn_const(&t, SHAPE(3), scale);
  tn_const(&t, SHAPE(3), bias);
  tn_const(&t, SHAPE(3), mean);
  tn_const(&t, SHAPE(3), var);
  tn_outputs(&t, 1);
  r = run_node(&t, 2);
  {
    double ref[120];
    for (int i = 0; i < 120; i++) {
      int c = (i / 20) % 3;
      ref[i] = (x[i] - mean[c]) / sqrt(var[c] + 1e-5) * scale[c] + bias[c];
    }
    if (r.status == CNNRT_OK) close_to(r.outputs[0], ref, 120, 1e-5, "batch_norm");
    CHECK(r.status == CNNRT_OK, "batch_norm: %s", cnnrt_last_error());
  }
  result_free(&r);
  tn_init(&t, 101, "lrn");
  tn_input(&t, SHAPE(2, 3, 4, 5), x);
  attr_int(&t, "size", 2);
  attr_float(&t, "alpha", 0.5);
  tn_outputs(&t, 1);
  r = run_node(&t, 1);
  {
    double ref[120];
    for (int i = 0; i < 120; i++) {
      int c = (i / 20) % 3, base = i - c * 20;
      double s = 0;
      for (int k = c; k <= c + 1 && k < 3; k++) s += (double)x[base + k * 20] * x[base + k * 20];
      ref[i] = x[i] / pow(1.0 + 0.5 / 2 * s, 0.75);
    }
    if (r.status == CNNRT_OK) close_to(r.outputs[0], ref, 120, 1e-5, "lrn");
  }
  result_free(&r);
  free(x);
}

static void test_registry(void) {
  static const int codes[] = {1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
                              35, 36, 37, 38, 39, 50, 51, 52, 53, 54, 55, 56, 70, 71, 72, 73, 74, 75, 76, 77,
                              90, 91, 92, 93, 94, 95, 100, 101};
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    const cnnrt_op_def* def = cnnrt_op_find((uint16_t)codes[i]);
    CHECK(def != NULL && def->code == codes[i] && def->create && def->destroy && def->reshape && def->run,
          "op %d registered", codes[i]);
  }
  CHECK(cnnrt_op_find(999) == NULL && cnnrt_op_find(0) == NULL, "unknown op codes");
}

int main(void) {
  rng_state = 0x9E3779B97F4A7C15ull; /* this program's own seed */
  test_registry();
  test_conv_errors();
  test_conv();
  test_conv_transpose();
  test_gemm();
  test_matmul();
  test_pools();
  test_binary();
  test_unary();
  test_resize();
  test_misc();
  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
