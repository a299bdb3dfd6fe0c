// Depthwise convolution kernel time per layer of MobileNetV2, MobileNetV3-Large
// and EfficientNet-B0 (224x224 input), single thread, batch 1, in one run.
//
// Build against an installed cnnrt (its static library keeps internal symbols):
//   LIB=$(python -c "import cnnrt; print(cnnrt.get_library_dir())")
//   cc -std=c11 -O2 -D_GNU_SOURCE -I native/include -I native/src -I native/src/core
//      benchmarks/bench_dwconv.c $LIB/libcnnrt.a -lpthread -lm -o /tmp/bench_dwconv && /tmp/bench_dwconv
// Options: a repeat count (default 7) and a substring of the layer names to run.
//
// For an A/B of two builds, build this file against each library and run the
// two binaries alternately; compare medians.
/*
 * Each layer runs the vector config's dwconv2d over all channels of one image
 * (as conv.c does with one thread) with the layer's fused epilogue: bias and
 * its activation. Reported: the median and the minimum over repeats of the
 * per-call time (each repeat runs the call enough times for ~20 ms; on a
 * shared machine the minimum is the steadier), and GFLOP/s of the median at
 * 2 flops per multiply-add. The models' totals sum their layers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnnrt/cnnrt.h"
#include "core/cpu.h"
#include "core/internal.h"
#include "kernels/kernels.h"

typedef struct layer {
  const char* model;
  int channels, size, kernel, stride, activation, count; /* count: layers of this shape in the model */
} layer;

enum { RELU = CNNRT_ACT_RELU, CLIP = CNNRT_ACT_CLIP, HSWISH = CNNRT_ACT_HARD_SWISH, SILU = CNNRT_ACT_SILU };

static const layer layers[] = {
    {"mobilenet_v2", 32, 112, 3, 1, CLIP, 1},
    {"mobilenet_v2", 96, 112, 3, 2, CLIP, 1},
    {"mobilenet_v2", 144, 56, 3, 1, CLIP, 1},
    {"mobilenet_v2", 144, 56, 3, 2, CLIP, 1},
    {"mobilenet_v2", 192, 28, 3, 1, CLIP, 2},
    {"mobilenet_v2", 192, 28, 3, 2, CLIP, 1},
    {"mobilenet_v2", 384, 14, 3, 1, CLIP, 4},
    {"mobilenet_v2", 576, 14, 3, 1, CLIP, 2},
    {"mobilenet_v2", 576, 14, 3, 2, CLIP, 1},
    {"mobilenet_v2", 960, 7, 3, 1, CLIP, 3},
    {"mobilenet_v3_large", 16, 112, 3, 1, RELU, 1},
    {"mobilenet_v3_large", 64, 112, 3, 2, RELU, 1},
    {"mobilenet_v3_large", 72, 56, 3, 1, RELU, 1},
    {"mobilenet_v3_large", 72, 56, 5, 2, RELU, 1},
    {"mobilenet_v3_large", 120, 28, 5, 1, RELU, 2},
    {"mobilenet_v3_large", 240, 28, 3, 2, HSWISH, 1},
    {"mobilenet_v3_large", 200, 14, 3, 1, HSWISH, 1},
    {"mobilenet_v3_large", 184, 14, 3, 1, HSWISH, 2},
    {"mobilenet_v3_large", 480, 14, 3, 1, HSWISH, 1},
    {"mobilenet_v3_large", 672, 14, 3, 1, HSWISH, 1},
    {"mobilenet_v3_large", 672, 14, 5, 2, HSWISH, 1},
    {"mobilenet_v3_large", 960, 7, 5, 1, HSWISH, 2},
    {"efficientnet_b0", 32, 112, 3, 1, SILU, 1},
    {"efficientnet_b0", 96, 112, 3, 2, SILU, 1},
    {"efficientnet_b0", 144, 56, 3, 1, SILU, 1},
    {"efficientnet_b0", 144, 56, 5, 2, SILU, 1},
    {"efficientnet_b0", 240, 28, 5, 1, SILU, 1},
    {"efficientnet_b0", 240, 28, 3, 2, SILU, 1},
    {"efficientnet_b0", 480, 14, 3, 1, SILU, 2},
    {"efficientnet_b0", 480, 14, 5, 1, SILU, 1},
    {"efficientnet_b0", 672, 14, 5, 1, SILU, 2},
    {"efficientnet_b0", 672, 14, 5, 2, SILU, 1},
    {"efficientnet_b0", 1152, 7, 5, 1, SILU, 3},
    {"efficientnet_b0", 1152, 7, 3, 1, SILU, 1},
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float* buffer(size_t floats) {
  float* p = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
  for (size_t i = 0; i < floats; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  return p;
}

static int compare(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? atoi(argv[1]) : 7;
  const char* filter = argc > 2 ? argv[2] : "";
  const cnnrt_f32_vector_config* config = cnnrt_f32_vector_config_get();
  if (config->dwconv2d == NULL) {
    printf("no SIMD depthwise kernel on this CPU (%s)\n", config->name);
    return 0;
  }
  printf("dwconv2d_%s, 1 thread, batch 1; median of %d repeats\n", config->name, repeats);
  printf("%-20s %5s %4s %3s %3s %6s %8s %8s %8s  %s\n", "model", "ch", "in", "k", "s", "act", "us", "min us",
         "GFLOP/s", "layers");
  const char* model = NULL;
  double model_total = 0.0, model_best = 0.0;
  const size_t count = sizeof(layers) / sizeof(layers[0]);
  for (size_t l = 0; l <= count; l++) {
    if (model != NULL && (l == count || strcmp(layers[l].model, model) != 0)) {
      printf("%-20s total of its depthwise layers: %.1f us (of minimums %.1f us)\n", model, model_total, model_best);
      model_total = model_best = 0.0;
    }
    if (l == count) break;
    const layer* L = &layers[l];
    model = L->model;
    char name[128];
    snprintf(name, sizeof(name), "%s %dx%d k%d s%d c%d", L->model, L->size, L->size, L->kernel, L->stride,
             L->channels);
    if (strstr(name, filter) == NULL) continue;
    cnnrt_conv2d_geometry g;
    memset(&g, 0, sizeof(g));
    g.batch = 1;
    g.groups = g.in_channels = g.out_channels = (size_t)L->channels;
    g.in_h = g.in_w = (size_t)L->size;
    g.kernel_h = g.kernel_w = (size_t)L->kernel;
    g.stride_h = g.stride_w = (size_t)L->stride;
    g.dilation_h = g.dilation_w = 1;
    g.pad_top = g.pad_left = L->kernel / 2;
    g.out_h = g.out_w = (g.in_h + 2 * (size_t)g.pad_top - g.kernel_h) / g.stride_h + 1;
    float* x = buffer(g.in_channels * g.in_h * g.in_w);
    float* w = buffer(g.out_channels * g.kernel_h * g.kernel_w);
    float* bias = buffer(g.out_channels);
    float* y = buffer(g.out_channels * g.out_h * g.out_w);
    float* scratch = buffer(cnnrt_f32_dwconv2d_scratch_floats(&g));
    cnnrt_f32_epilogue_params e = {bias, NULL, L->activation, 0.0f, 6.0f};
    double t0 = now();
    size_t calls = 0;
    do {
      config->dwconv2d(&g, x, w, &e, y, 0, 0, g.out_channels, scratch);
      calls++;
    } while (now() - t0 < 0.02);
    double times[64];
    const int runs = repeats < 64 ? repeats : 64;
    for (int r = 0; r < runs; r++) {
      t0 = now();
      for (size_t c = 0; c < calls; c++) config->dwconv2d(&g, x, w, &e, y, 0, 0, g.out_channels, scratch);
      times[r] = (now() - t0) / (double)calls;
    }
    qsort(times, (size_t)runs, sizeof(double), compare);
    const double median = times[runs / 2], best = times[0];
    const double flops = 2.0 * (double)(g.out_channels * g.out_h * g.out_w * g.kernel_h * g.kernel_w);
    const char* act = L->activation == CLIP ? "relu6" : L->activation == RELU ? "relu"
                    : L->activation == SILU ? "silu" : "hswish";
    printf("%-20s %5d %4d %3d %3d %6s %8.1f %8.1f %8.1f  x%d\n", L->model, L->channels, L->size, L->kernel,
           L->stride, act, median * 1e6, best * 1e6, flops / median / 1e9, L->count);
    model_total += median * 1e6 * L->count;
    model_best += best * 1e6 * L->count;
    free(x), free(w), free(bias), free(y), free(scratch);
  }
  return 0;
}
