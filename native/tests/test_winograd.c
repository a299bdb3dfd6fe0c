// Winograd convolution tests, built without CMake (from the repository root):
//
//   gcc -std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -I native/include -I native/src -I native/src/core native/tests/test_winograd.c build-dev/native/libcnnrt.a -lm -lpthread -o /tmp/test_winograd && /tmp/test_winograd
//
/*
 * 1. Every transform variant this CPU runs against the reference transforms,
 *    on planes with ragged tiles, pads 0 to 2, block edges and mr 1 to 16,
 *    fixed and random geometries.
 * 2. The whole F(2,3) and F(4,3) pipelines of each transform config (with an
 *    exact GEMM in double) against the direct convolution in double.
 * 3. The Conv op on the Winograd path (forced by CNNRT_WINOGRAD) against the
 *    direct convolution in double and cnnrt_f32_conv2d_direct_ref, with
 *    bias, residual and activation, threads 1, 2 and 3 bit-identical.
 * 4. The error bound docs/architecture.md states, on realistic values
 *    (N(0,1) or post-ReLU activations, He-initialised weights, up to 512
 *    input channels), for F(2,3), F(4,3) and im2col + GEMM.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "internal.h"
#include "kernels/kernels.h"
#include "check.h"


static double uniform(void) { /* [0, 1) */
  return (double)(random_u64() >> 11) / 9007199254740992.0;
}
static float random_float(void) { return (float)(uniform() * 2.0 - 1.0); }
static double normal(void) {
  double u = uniform(), v = uniform();
  return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}
static float* random_buffer(size_t n) {
  float* p = malloc((n > 0 ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = random_float();
  return p;
}

/* Direct convolution (3x3, stride 1) in double: y[n][oc][oy][ox]. */
static void direct_double(const float* x, const float* w, const float* bias, size_t batch, size_t ic, size_t oc,
                          size_t h, size_t wd, ptrdiff_t pt, ptrdiff_t pl, size_t oh, size_t ow, double* y) {
  for (size_t n = 0; n < batch; n++)
    for (size_t o = 0; o < oc; o++)
      for (size_t oy = 0; oy < oh; oy++)
        for (size_t ox = 0; ox < ow; ox++) {
          double acc = bias ? bias[o] : 0.0;
          for (size_t c = 0; c < ic; c++)
            for (int ky = 0; ky < 3; ky++) {
              ptrdiff_t iy = (ptrdiff_t)oy - pt + ky;
              if (iy < 0 || iy >= (ptrdiff_t)h) continue;
              for (int kx = 0; kx < 3; kx++) {
                ptrdiff_t ix = (ptrdiff_t)ox - pl + kx;
                if (ix < 0 || ix >= (ptrdiff_t)wd) continue;
                acc += (double)x[((n * ic + c) * h + (size_t)iy) * wd + (size_t)ix] * w[((o * ic + c) * 3 + ky) * 3 + kx];
              }
            }
          y[((n * oc + o) * oh + oy) * ow + ox] = acc;
        }
}

/* max |a - ref| / max(1e-30, max |ref|). */
static double normalised_error(const float* a, const double* ref, size_t n) {
  double scale = 1e-30, worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    scale = fmax(scale, fabs(ref[i]));
    double e = fabs((double)a[i] - ref[i]);
    if (!(e <= worst)) worst = e;  /* NaN counts as worst */
  }
  return worst / scale;
}

static cnnrt_winograd_geometry make_geometry(size_t m, size_t h, size_t w, size_t pad) {
  cnnrt_winograd_geometry g;
  memset(&g, 0, sizeof(g));
  g.m = m;
  g.in_h = h;
  g.in_w = w;
  g.out_h = h + 2 * pad - 2;
  g.out_w = w + 2 * pad - 2;
  g.pad_top = g.pad_left = (ptrdiff_t)pad;
  g.tiles_y = (g.out_h + m - 1) / m;
  g.tiles_x = (g.out_w + m - 1) / m;
  return g;
}

/* ---- 1. transform variants against the reference ------------------------------ */

/* |a - b| over a buffer, relative to its largest |b|; NaN or a value only one
 * of them wrote (the 12345 / -777 fill left in place) counts as infinite. */
static double relative_difference(const float* a, const float* b, size_t n, float fill) {
  double scale = 1e-30, worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    if ((a[i] == fill) != (b[i] == fill)) return INFINITY;
    if (b[i] != fill) scale = fmax(scale, fabs((double)b[i]));
    const double e = fabs((double)a[i] - b[i]);
    if (!(e <= worst)) worst = e;
  }
  return worst / scale;
}

/* Both transforms of `config` against the reference ones for the block of
 * tile rows [ty0, ty1): every float of the panels (padding between panels
 * included) and of the output planes. The factored transforms differ from
 * the matrix products by rounding only: a few float epsilons of the
 * largest value. */
static void check_transforms(const cnnrt_f32_winograd_config* config, const cnnrt_winograd_geometry* g,
                             size_t channels, size_t ty0, size_t ty1, size_t mr, size_t oc) {
  const cnnrt_f32_winograd_config* ref = cnnrt_f32_winograd_config_for_level(CNNRT_ISA_SCALAR);
  const size_t m = g->m, alpha = m + 2;
  const size_t tiles = (ty1 - ty0) * g->tiles_x, rounded = (tiles + mr - 1) / mr * mr;
  /* Panels either exactly channels * mr apart or with padding floats. */
  const size_t panel_stride = channels * mr + (channels + mr) % 3 * 5, v_stride = rounded / mr * panel_stride + 3;
  float* x = random_buffer(channels * g->in_h * g->in_w);
  float* v_ref = malloc(alpha * alpha * v_stride * sizeof(float));
  float* v = malloc(alpha * alpha * v_stride * sizeof(float));
  for (size_t i = 0; i < alpha * alpha * v_stride; i++) v_ref[i] = v[i] = 12345.0f;
  float* scratch = malloc(cnnrt_f32_winograd_input_scratch_floats(g) * sizeof(float));
  ref->input(g, x, channels, ty0, ty1, mr, v_ref, v_stride, panel_stride, scratch);
  config->input(g, x, channels, ty0, ty1, mr, v, v_stride, panel_stride, scratch);
  double error = relative_difference(v, v_ref, alpha * alpha * v_stride, 12345.0f);
  CHECK(error <= 4 * FLT_EPSILON, "input transform %s m%zu %zux%zu pads %td,%td rows [%zu, %zu) mr %zu c %zu: error %g",
        config->name, m, g->in_h, g->in_w, g->pad_top, g->pad_left, ty0, ty1, mr, channels, error);
  /* Output: C rows of tiles with `oc` channels, row stride past it. */
  const size_t row = oc + 5, c_stride = rounded * row;
  float* c = random_buffer(alpha * alpha * c_stride);
  const size_t yn = oc * g->out_h * g->out_w;
  float* y_ref = malloc(yn * sizeof(float));
  float* y = malloc(yn * sizeof(float));
  for (size_t i = 0; i < yn; i++) y_ref[i] = y[i] = -777.0f;
  ref->output(g, c, c_stride, row, oc, ty0, ty1, y_ref, scratch);
  config->output(g, c, c_stride, row, oc, ty0, ty1, y, scratch);
  error = relative_difference(y, y_ref, yn, -777.0f);
  CHECK(error <= 4 * FLT_EPSILON, "output transform %s m%zu %zux%zu rows [%zu, %zu) c %zu: error %g", config->name, m,
        g->out_h, g->out_w, ty0, ty1, oc, error);
  /* Pixels of rows outside the block stay untouched; the others are written. */
  int untouched = 1, written = 1;
  const size_t first = ty0 * m * g->out_w, last = ty1 * m * g->out_w;
  for (size_t k = 0; k < oc; k++)
    for (size_t p = 0; p < g->out_h * g->out_w; p++) {
      const int inside = p >= first && p < last;
      const float value = y[k * g->out_h * g->out_w + p];
      if (!inside && value != -777.0f) untouched = 0;
      if (inside && value == -777.0f) written = 0;
    }
  CHECK(written, "output transform %s left pixels of its block unwritten", config->name);
  CHECK(untouched, "output transform %s wrote outside its block", config->name);
  free(x);
  free(v_ref);
  free(v);
  free(scratch);
  free(c);
  free(y_ref);
  free(y);
}

static void test_transform_variants(void) {
  const cnnrt_f32_winograd_config* ref = cnnrt_f32_winograd_config_for_level(CNNRT_ISA_SCALAR);
#if defined(__x86_64__) || defined(_M_X64)
  /* x86-64 builds carry SIMD transforms for these levels: a level that fell
   * back to the reference would leave them untested here. */
  CHECK(strcmp(cnnrt_f32_winograd_config_for_level(CNNRT_ISA_AVX2)->name, "avx2") == 0, "AVX2 transforms not registered");
  CHECK(strcmp(cnnrt_f32_winograd_config_for_level(CNNRT_ISA_AVX512)->name, "avx512") == 0,
        "AVX-512 transforms not registered");
#endif
  const int levels[] = {CNNRT_ISA_AVX2, CNNRT_ISA_AVX512, CNNRT_ISA_NEON};
  for (size_t li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
    const cnnrt_f32_winograd_config* config = cnnrt_f32_winograd_config_for_level(levels[li]);
    if (config == ref) continue;
    if (!cnnrt_cpu_supports((cnnrt_isa_level)levels[li])) {
      printf("skip: winograd transforms %s (this CPU lacks %s)\n", config->name, cnnrt_isa_name((cnnrt_isa_level)levels[li]));
      continue;
    }
    /* Fixed planes: ragged tiles, pads 0 and 1, a block past the first row. */
    const size_t planes[][2] = {{1, 1}, {2, 2}, {5, 7}, {7, 7}, {14, 14}, {9, 37}, {56, 56}, {3, 70}};
    const size_t mrs[] = {8, 6, 14};
    for (size_t pi = 0; pi < sizeof(planes) / sizeof(planes[0]); pi++) {
      for (size_t m = 2; m <= 4; m += 2) {
        for (size_t pad = 0; pad <= 1; pad++) {
          if (planes[pi][0] + 2 * pad < 3 || planes[pi][1] + 2 * pad < 3) continue;
          cnnrt_winograd_geometry g = make_geometry(m, planes[pi][0], planes[pi][1], pad);
          const size_t channels = 1 + (pi * 7 + m + pad) % 19, mr = mrs[(pi + pad) % 3];
          const size_t ty0 = g.tiles_y > 2 ? 1 : 0;
          check_transforms(config, &g, channels, ty0, g.tiles_y, mr, 1 + (pi * 5 + m) % 37);
        }
      }
    }
    /* Random geometries: planes up to 80 wide (several 8- and 16-tile
     * groups, inside the image and at both edges), pads 0..2 on each side
     * (the output shrinks or grows), blocks of any tile rows, the channel
     * counts of real layers and odd ones, mr of every GEMM and others. */
    const size_t channel_choices[] = {1, 3, 17, 64, 2, 9};
    const size_t mr_choices[] = {6, 8, 16, 1, 4, 12, 6};
    for (int i = 0; i < 300; i++) {
      const size_t m = random_u64() % 2 ? 4 : 2;
      const size_t pad_top = random_u64() % 3, pad_left = random_u64() % 3;
      const size_t pad_bottom = random_u64() % 3, pad_right = random_u64() % 3;
      const size_t h = 1 + random_u64() % 40, w = 1 + random_u64() % 80;
      if (h + pad_top + pad_bottom < 3 || w + pad_left + pad_right < 3) continue;
      cnnrt_winograd_geometry g;
      memset(&g, 0, sizeof(g));
      g.m = m;
      g.in_h = h;
      g.in_w = w;
      g.out_h = h + pad_top + pad_bottom - 2;
      g.out_w = w + pad_left + pad_right - 2;
      g.pad_top = (ptrdiff_t)pad_top;
      g.pad_left = (ptrdiff_t)pad_left;
      g.tiles_y = (g.out_h + m - 1) / m;
      g.tiles_x = (g.out_w + m - 1) / m;
      const size_t ty0 = random_u64() % g.tiles_y, ty1 = ty0 + 1 + random_u64() % (g.tiles_y - ty0);
      const size_t channels = channel_choices[random_u64() % 6], oc = channel_choices[random_u64() % 6];
      check_transforms(config, &g, channels, ty0, ty1, mr_choices[random_u64() % 7], oc);
    }
  }
}

/* ---- 2. whole pipelines of the transform configs --------------------------------- */

/* Winograd convolution of one image with `config`'s transforms and an exact GEMM. */
static void winograd_pipeline(const cnnrt_f32_winograd_config* config, size_t m, const float* x, const float* w,
                              size_t ic, size_t oc, size_t h, size_t wd, size_t pad, float* y) {
  cnnrt_winograd_geometry g = make_geometry(m, h, wd, pad);
  const size_t alpha = m + 2, nr = 16, mr = 8, oc_rounded = (oc + nr - 1) / nr * nr;
  float* u = malloc(alpha * alpha * ic * oc_rounded * sizeof(float));
  cnnrt_f32_winograd_filter_ref(m, w, oc, ic, nr, u);
  const size_t tiles = g.tiles_y * g.tiles_x, rounded = (tiles + mr - 1) / mr * mr;
  float* v = malloc(alpha * alpha * rounded * ic * sizeof(float));
  float* c = malloc(alpha * alpha * rounded * oc * sizeof(float));
  float* scratch = malloc(cnnrt_f32_winograd_input_scratch_floats(&g) * sizeof(float));
  config->input(&g, x, ic, 0, g.tiles_y, mr, v, rounded * ic, ic * mr, scratch);
  for (size_t e = 0; e < alpha * alpha; e++)
    for (size_t t = 0; t < tiles; t++)
      for (size_t o = 0; o < oc; o++) {
        double s = 0.0;
        for (size_t k = 0; k < ic; k++)
          s += (double)v[e * rounded * ic + (t / mr) * ic * mr + k * mr + t % mr] *
               u[e * ic * oc_rounded + ((o / nr) * ic + k) * nr + o % nr];
        c[e * rounded * oc + t * oc + o] = (float)s;
      }
  config->output(&g, c, rounded * oc, oc, oc, 0, g.tiles_y, y, scratch);
  free(u);
  free(v);
  free(c);
  free(scratch);
}

static void test_pipelines(void) {
  const int levels[] = {CNNRT_ISA_SCALAR, CNNRT_ISA_AVX2, CNNRT_ISA_AVX512};
  for (size_t li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
    if (!cnnrt_cpu_supports((cnnrt_isa_level)levels[li])) continue;
    const cnnrt_f32_winograd_config* config = cnnrt_f32_winograd_config_for_level(levels[li]);
    const size_t shapes[][5] = {{3, 5, 7, 7, 1}, {17, 4, 5, 7, 0}, {1, 2, 2, 2, 1}, {8, 3, 14, 14, 1}, {2, 2, 11, 6, 0}};
    for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
      for (size_t m = 2; m <= 4; m += 2) {
        const size_t ic = shapes[si][0], oc = shapes[si][1], h = shapes[si][2], wd = shapes[si][3], pad = shapes[si][4];
        const size_t oh = h + 2 * pad - 2, ow = wd + 2 * pad - 2;
        float* x = random_buffer(ic * h * wd);
        float* w = random_buffer(oc * ic * 9);
        float* y = malloc(oc * oh * ow * sizeof(float));
        for (size_t i = 0; i < oc * oh * ow; i++) y[i] = NAN;
        double* ref = malloc(oc * oh * ow * sizeof(double));
        direct_double(x, w, NULL, 1, ic, oc, h, wd, (ptrdiff_t)pad, (ptrdiff_t)pad, oh, ow, ref);
        winograd_pipeline(config, m, x, w, ic, oc, h, wd, pad, y);
        double error = normalised_error(y, ref, oc * oh * ow);
        CHECK(error <= (m == 4 ? 2e-5 : 4e-6), "pipeline %s F(%zu,3) ic %zu oc %zu %zux%zu pad %zu: error %g",
              config->name, m, ic, oc, h, wd, pad, error);
        free(x);
        free(w);
        free(y);
        free(ref);
      }
    }
  }
}

/* ---- 3. the Conv op --------------------------------------------------------------- */

typedef struct op_result {
  cnnrt_status status;
  float* y;
  char kernel[64]; /* a copy: the op state that holds the name is destroyed */
} op_result;

/* One Conv node (3x3, stride 1, pads `pad`) through create -> reshape -> run. */
static op_result run_conv(const float* x, const float* w, const float* bias, const float* residual, int activation,
                          size_t batch, size_t ic, size_t oc, size_t h, size_t wd, size_t pad, int threads) {
  op_result r = {CNNRT_OK, NULL, ""};
  cnnrt_tensor_def tensors[5];
  memset(tensors, 0, sizeof(tensors));
  uint32_t inputs[4], outputs[1];
  const size_t oh = h + 2 * pad - 2, ow = wd + 2 * pad - 2;
  const int64_t xs[4] = {(int64_t)batch, (int64_t)ic, (int64_t)h, (int64_t)wd};
  const int64_t ws[4] = {(int64_t)oc, (int64_t)ic, 3, 3};
  const int64_t ys[4] = {(int64_t)batch, (int64_t)oc, (int64_t)oh, (int64_t)ow};
  uint32_t count = 0, input_count = 0;
  cnnrt_tensor_def* d;
#define ADD_TENSOR(DIMS, RANK, CONSTANT)                               \
  d = &tensors[count];                                                 \
  d->name = "t";                                                       \
  d->dtype = CNNRT_DTYPE_FLOAT32;                                      \
  d->kind = (CONSTANT) ? CNNRT_TENSOR_CONSTANT : CNNRT_TENSOR_VALUE;   \
  d->shape.rank = RANK;                                                \
  for (int i = 0; i < RANK; i++) d->shape.dims[i] = (DIMS)[i];         \
  d->data = (CONSTANT);                                                \
  d->data_size = (CONSTANT) ? (uint64_t)cnnrt_shape_numel(&d->shape) * 4 : 0;
  ADD_TENSOR(xs, 4, (const float*)NULL);
  inputs[input_count++] = count++;
  ADD_TENSOR(ws, 4, w);
  inputs[input_count++] = count++;
  const int64_t bs[1] = {(int64_t)oc};
  if (bias != NULL) {
    ADD_TENSOR(bs, 1, bias);
    inputs[input_count++] = count++;
  } else if (residual != NULL) {
    inputs[input_count++] = CNNRT_NO_TENSOR;
  }
  if (residual != NULL) {
    ADD_TENSOR(ys, 4, (const float*)NULL);
    inputs[input_count++] = count++;
  }
  ADD_TENSOR(ys, 4, (const float*)NULL);
  outputs[0] = count++;
#undef ADD_TENSOR
  int64_t pads[4] = {(int64_t)pad, (int64_t)pad, (int64_t)pad, (int64_t)pad};
  cnnrt_attr attrs[1];
  memset(attrs, 0, sizeof(attrs));
  attrs[0].name = "pads";
  attrs[0].type = CNNRT_ATTR_INTS;
  attrs[0].ints = pads;
  attrs[0].count = 4;
  cnnrt_node node;
  memset(&node, 0, sizeof(node));
  node.name = "conv";
  node.op = 1;
  node.def = cnnrt_op_find(1);
  node.inputs = inputs;
  node.input_count = input_count;
  node.outputs = outputs;
  node.output_count = 1;
  node.attrs = attrs;
  node.attr_count = 1;
  node.epilogue.activation = (uint8_t)activation;
  node.epilogue.residual = residual != NULL;
  cnnrt_graph graph;
  memset(&graph, 0, sizeof(graph));
  graph.tensors = tensors;
  graph.tensor_count = count;
  graph.nodes = &node;
  graph.node_count = 1;
  const cnnrt_op_def* def = node.def;
  void* state = NULL;
  if ((r.status = def->create(&graph, &node, &state)) != CNNRT_OK) return r;
  cnnrt_shape in_shapes[4], out_shape;
  cnnrt_tensor_ref in_refs[4], out_ref;
  memset(in_shapes, 0, sizeof(in_shapes));
  memset(in_refs, 0, sizeof(in_refs));
  const float* data[4] = {x, w, bias, residual};
  for (uint32_t i = 0; i < input_count; i++) {
    if (inputs[i] == CNNRT_NO_TENSOR) continue;
    in_shapes[i] = tensors[inputs[i]].shape;
    in_refs[i].shape = in_shapes[i];
    in_refs[i].data = (void*)(i == input_count - 1 && residual != NULL ? residual : data[i]);
  }
  cnnrt_reshape_info info = {.threads = threads};
  if ((r.status = def->reshape(&node, state, in_shapes, &out_shape, &info)) != CNNRT_OK) {
    def->destroy(state);
    return r;
  }
  snprintf(r.kernel, sizeof(r.kernel), "%s", info.kernel);
  const size_t yn = batch * oc * oh * ow;
  r.y = malloc(yn * sizeof(float));
  for (size_t i = 0; i < yn; i++) r.y[i] = NAN;
  out_ref.shape = out_shape;
  out_ref.data = r.y;
  void* workspace = info.workspace_bytes > 0 ? aligned_alloc(64, (info.workspace_bytes + 63) / 64 * 64) : NULL;
  cnnrt_threadpool* pool = NULL;
  if (cnnrt_threadpool_create(threads, &pool) != CNNRT_OK) abort();
  cnnrt_run_context context = {.pool = pool, .threads = threads, .workspace = workspace,
                               .workspace_bytes = info.workspace_bytes};
  def->run(&context, &node, state, in_refs, &out_ref);
  cnnrt_threadpool_destroy(pool);
  free(workspace);
  def->destroy(state);
  return r;
}

static void test_conv_op(void) {
  const size_t channels[] = {1, 3, 17, 64, 255};
  const size_t planes[][2] = {{1, 1}, {2, 2}, {5, 7}, {7, 7}, {14, 14}, {56, 56}};
  int case_index = 0;
  for (size_t m = 2; m <= 4; m += 2) {
    setenv("CNNRT_WINOGRAD", m == 2 ? "2" : "4", 1);
    for (size_t pi = 0; pi < sizeof(planes) / sizeof(planes[0]); pi++) {
      for (size_t ci = 0; ci < sizeof(channels) / sizeof(channels[0]); ci++, case_index++) {
        /* Output channels vary with the case; the large products stay few. */
        const size_t ic = channels[ci], oc = channels[(ci + pi + m) % 5];
        const size_t h = planes[pi][0], wd = planes[pi][1];
        if (h * wd * ic * oc > 14 * 14 * 64 * 64) continue;
        const size_t pad = (h < 3 || wd < 3) ? 1 : (size_t)(case_index % 2);
        const size_t batch = 1 + (size_t)(case_index % 3 == 0);
        const int with_bias = case_index % 2 == 0, with_residual = case_index % 3 != 1;
        const int activation = case_index % 4 == 0 ? CNNRT_ACT_NONE : CNNRT_ACT_RELU;
        const size_t oh = h + 2 * pad - 2, ow = wd + 2 * pad - 2, yn = batch * oc * oh * ow;
        float* x = random_buffer(batch * ic * h * wd);
        float* w = random_buffer(oc * ic * 9);
        float* bias = with_bias ? random_buffer(oc) : NULL;
        float* residual = with_residual ? random_buffer(yn) : NULL;
        double* ref = malloc(yn * sizeof(double));
        direct_double(x, w, bias, batch, ic, oc, h, wd, (ptrdiff_t)pad, (ptrdiff_t)pad, oh, ow, ref);
        for (size_t i = 0; i < yn; i++) {
          if (residual) ref[i] += residual[i];
          if (activation == CNNRT_ACT_RELU && ref[i] < 0) ref[i] = 0;
        }
        char what[160];
        snprintf(what, sizeof(what), "conv F(%zu,3) n%zu ic%zu oc%zu %zux%zu pad %zu bias %d residual %d act %d", m,
                 batch, ic, oc, h, wd, pad, with_bias, with_residual, activation);
        op_result r1 = run_conv(x, w, bias, residual, activation, batch, ic, oc, h, wd, pad, 1);
        CHECK(r1.status == CNNRT_OK, "%s: %s", what, cnnrt_last_error());
        if (r1.status == CNNRT_OK) {
          const int winograd = ic >= 16 && oc >= 16;
          char expected[32];
          snprintf(expected, sizeof(expected), "winograd_f%zu3_", m);
          CHECK(winograd == (strstr(r1.kernel, expected) != NULL), "%s: kernel %s", what, r1.kernel);
          /* The bound of docs/architecture.md for uniform [-1, 1) values,
           * relative to the largest output (ic * 9 terms). */
          const double bound = (m == 4 ? 3e-6 : 1e-6) * sqrt((double)ic * 9.0) + 1e-6;
          double error = normalised_error(r1.y, ref, yn);
          CHECK(error <= bound, "%s (%s): error %g, bound %g", what, r1.kernel, error, bound);
          op_result r2 = run_conv(x, w, bias, residual, activation, batch, ic, oc, h, wd, pad, 2);
          op_result r3 = run_conv(x, w, bias, residual, activation, batch, ic, oc, h, wd, pad, 3);
          CHECK(r2.y && memcmp(r1.y, r2.y, yn * 4) == 0, "%s: 1 and 2 threads differ", what);
          CHECK(r3.y && memcmp(r1.y, r3.y, yn * 4) == 0, "%s: 1 and 3 threads differ", what);
          free(r2.y);
          free(r3.y);
          if (!with_residual && activation == CNNRT_ACT_NONE) {
            /* The direct reference kernel agrees within the same bound. */
            cnnrt_conv2d_geometry g = {.batch = batch, .groups = 1, .in_channels = ic, .in_h = h, .in_w = wd,
                                       .out_channels = oc, .out_h = oh, .out_w = ow, .kernel_h = 3, .kernel_w = 3,
                                       .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                       .pad_top = (ptrdiff_t)pad, .pad_left = (ptrdiff_t)pad};
            float* direct = malloc(yn * sizeof(float));
            for (size_t n = 0; n < batch; n++) cnnrt_f32_conv2d_direct_ref(&g, x, w, bias, direct, n, 0, oc);
            double* direct_d = malloc(yn * sizeof(double));
            for (size_t i = 0; i < yn; i++) direct_d[i] = direct[i];
            error = normalised_error(r1.y, direct_d, yn);
            CHECK(error <= 2 * bound, "%s vs conv2d_direct_ref: error %g", what, error);
            free(direct);
            free(direct_d);
          }
        }
        free(r1.y);
        free(x);
        free(w);
        free(bias);
        free(residual);
        free(ref);
      }
    }
  }
  unsetenv("CNNRT_WINOGRAD");
}

/* ---- 4. error on realistic values ------------------------------------------------ */

static void test_error_bound(void) {
  /* Layers of ResNet / VGG shape, cut to few output channels to stay quick. */
  const size_t layers[][3] = {{64, 56, 16}, {128, 28, 16}, {256, 14, 32}, {512, 7, 32}, {512, 14, 16}};
  const char* settings[] = {"0", "2", "4"};
  double worst[3][2] = {{0}};
  for (size_t li = 0; li < sizeof(layers) / sizeof(layers[0]); li++) {
    const size_t ic = layers[li][0], h = layers[li][1], oc = layers[li][2], yn = oc * h * h;
    for (int relu = 0; relu <= 1; relu++) {
      float* x = malloc(ic * h * h * sizeof(float));
      for (size_t i = 0; i < ic * h * h; i++) {
        double value = normal();
        x[i] = (float)(relu ? fmax(value, 0.0) : value);
      }
      float* w = malloc(oc * ic * 9 * sizeof(float));
      const double he = sqrt(2.0 / (double)(ic * 9));
      for (size_t i = 0; i < oc * ic * 9; i++) w[i] = (float)(normal() * he);
      double* ref = malloc(yn * sizeof(double));
      direct_double(x, w, NULL, 1, ic, oc, h, h, 1, 1, h, h, ref);
      for (int s = 0; s < 3; s++) {
        setenv("CNNRT_WINOGRAD", settings[s], 1);
        op_result r = run_conv(x, w, NULL, NULL, CNNRT_ACT_NONE, 1, ic, oc, h, h, 1, 1);
        /* Winograd off: the direct GEMM (im2col where no direct tile fits). */
        CHECK(r.status == CNNRT_OK && (strstr(r.kernel, s == 0 ? "im2col" : (s == 1 ? "f23" : "f43")) ||
                                       (s == 0 && strstr(r.kernel, "direct"))),
              "error bound run %s", r.status == CNNRT_OK ? r.kernel : cnnrt_last_error());
        if (r.y != NULL) worst[s][relu] = fmax(worst[s][relu], normalised_error(r.y, ref, yn));
        free(r.y);
      }
      free(x);
      free(w);
      free(ref);
    }
  }
  unsetenv("CNNRT_WINOGRAD");
  printf("max |error| / max |output| (N(0,1) | post-ReLU inputs, He weights, ic 64..512):\n");
  printf("  im2col+GEMM %.2e | %.2e\n  F(2,3)      %.2e | %.2e\n  F(4,3)      %.2e | %.2e\n", worst[0][0],
         worst[0][1], worst[1][0], worst[1][1], worst[2][0], worst[2][1]);
  /* The bounds docs/architecture.md states. */
  CHECK(worst[0][0] <= 5e-6 && worst[0][1] <= 5e-6, "im2col error above 5e-6");
  CHECK(worst[1][0] <= 3e-6 && worst[1][1] <= 3e-6, "F(2,3) error above 3e-6");
  CHECK(worst[2][0] <= 4e-5 && worst[2][1] <= 4e-5, "F(4,3) error above 4e-5");
}

int main(int argc, char** argv) {
  (void)argc;
  test_transform_variants();
  test_pipelines();
  test_conv_op();
  test_error_bound();
  /* The op takes its kernels from the level chosen once per process: run
   * this test again with the lower levels forced (reference transforms with
   * the scalar and AVX2 GEMMs) unless this run is such a child. */
  if (getenv("CNNRT_ISA") == NULL) {
    const char* levels[] = {"scalar", "avx2"};
    for (int i = 0; i < 2; i++) {
      if (strcmp(levels[i], "avx2") == 0 && !cnnrt_cpu_supports(CNNRT_ISA_AVX2)) continue;
      char command[4200];
      snprintf(command, sizeof(command), "CNNRT_ISA=%s '%s'", levels[i], argv[0]);
      const int status = system(command);
      CHECK(status == 0, "the test with CNNRT_ISA=%s failed (status %d)", levels[i], status);
    }
  } else {
    printf("(CNNRT_ISA=%s) ", getenv("CNNRT_ISA"));
  }
  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
