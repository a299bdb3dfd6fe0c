/*
 * Conv (1-D and 2-D, groups, dilations, asymmetric pads, auto_pad) with the
 * fused epilogue. The algorithm is chosen once at load time from the weights'
 * shape and group count:
 *   depthwise (group == in channels)          -> direct depthwise kernel
 *   fewer than MR output channels per group   -> direct convolution
 *   1x1, stride 1, no padding                 -> GEMM on the input as is
 *   3x3, stride 1, group 1, >= 16 channels     -> Winograd F(4,3) or F(2,3)
 *                                                 (conv_winograd_tile)
 *   otherwise                                 -> im2col tiles + packed GEMM
 * Weights for the GEMM paths are packed into MR-row panels at load time.
 * The GEMM paths run channel-major (rows = output channels, vectors along
 * pixels) or, on small planes where pixel rows of 32 would be mostly padding
 * (7x7, 14x14), pixel-major (rows = tiles of 14 or 7 pixels, vectors along
 * output channels, k blocks of whole input channels im2col'ed one at a time,
 * then a transposed store with the epilogue): a fixed rule on the shapes
 * picks the one with less padding (conv_use_pixel_major). The
 * pixel-major weight panels are packed on the first reshape that needs them.
 * Work is split over output tiles only; every output element is summed over
 * the full reduction in one fixed order, so results do not depend on threads.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spatial.h"

enum { CONV_DIRECT, CONV_DEPTHWISE, CONV_GEMM_1X1, CONV_IM2COL_GEMM, CONV_WINOGRAD };

/* Below this many output channels per group the direct convolution wins over
 * a GEMM whose tiles would be mostly padding. A constant rather than the
 * kernel's MR, so that the algorithm does not change with the ISA. */
#define CONV_MIN_GEMM_CHANNELS 4

/* Cache blocking of the GEMM paths: a task im2cols one tile of up to
 * CONV_MAX_TILE_PIXELS pixels (at most CONV_IM2COL_BUDGET_FLOATS floats of
 * panels per thread), then runs the product in blocks of CONV_KC rows of K,
 * so that one block of B panels (CONV_KC x tile floats, 512 KiB at most)
 * stays in L2 while every weight panel of the task passes over it, and each
 * weight block (MR x CONV_KC) stays in L1 across the tile's columns. Blocks
 * after the first continue each element's FMA chain from C (gemminc), so the
 * sum is the same k-ordered chain as without blocking. */
#define CONV_KC 256

/* The k block of a channel-major GEMM over `reduction` rows: at most
 * CONV_KC, the blocks equal but for the last (576 = 3 x 192, not 256 + 256
 * + 64, whose short last block pays a full pass of loads and stores of C for
 * a quarter of the work). */
static size_t conv_kc(size_t reduction) {
  const size_t blocks = cnnrt_divide_round_up(reduction, CONV_KC);
  return blocks > 1 ? cnnrt_round_up(cnnrt_divide_round_up(reduction, blocks), 8) : reduction;
}
#define CONV_IM2COL_BUDGET_FLOATS (512 * 1024)
#define CONV_MAX_TILE_PIXELS 512
#define CONV_MC_FLOATS (128 * 1024)
/* B bytes per block of strips of the channel-major GEMM (see conv_gemm_task). */
#define CONV_CM_BLOCK_BYTES (16 * 1024)
#define CONV_PM_BUDGET_FLOATS (192 * 1024)
/* The same for the direct path (A read from the padded image, so the block is
 * all C): smaller, since its C block goes to L2 and is read back by the
 * transposed store while the output planes stream out. With the general
 * budget, SqueezeNet's stem (64 channels at 111 x 111) kept a 272 KB C block
 * beside 200 KB of input rows and its output, more than Zen 3's 512 KB L2:
 * the stems of EfficientNet-B0, SqueezeNet, MobileNetV2 and ResNet-50 ran
 * 10%, 6%, 5% and 2% faster with this one, its stride-2 3x3 layers 0-3%. */
#define CONV_PM_DIRECT_BUDGET_FLOATS (64 * 1024)
#define CONV_PM_ROW_PAD 16
/* The direct path's padded copy of one image, at most (4 MiB). */
#define CONV_DIRECT_BUDGET_FLOATS (1024 * 1024)

typedef struct conv_state {
  cnnrt_window window;
  size_t out_channels, in_channels_per_group, groups;
  const float* weights;
  const float* bias;
  int algorithm;
  const cnnrt_f32_gemm_config* gemm;
  const cnnrt_f32_gemm_config* gemm_narrow; /* half-width twin for a plane's last pixel strip, or NULL */
  const cnnrt_f32_vector_config* vector; /* SIMD depthwise and epilogue kernels (NULL entries: reference) */
  float* packed_weights;        /* groups panels sets of packed_group_floats */
  size_t packed_group_floats;
  char kernel[64];              /* the name reshape reports: algorithm and GEMM tile */
  /* Pixel-major GEMM: its tile, and W as NR-column panels (K x NR each,
   * k-major), packed once by the first reshape that picks this orientation
   * (under pm_lock: the model, and so this state, is shared by sessions). */
  const cnnrt_f32_gemm_config* gemm_pm;
  const cnnrt_f32_gemm_config* gemm_pm_short; /* half-height tile (same NR) for 49-pixel planes */
  int pixel_major_mode;         /* CNNRT_PIXEL_MAJOR: -1 auto, 0 never, 1 wherever the tile allows */
  int direct_mode;              /* CNNRT_CONV_DIRECT: -1 auto, 0 never, 1 wherever a tile takes the stride */
  pthread_mutex_t pm_lock;
  float* packed_pm;
  size_t packed_pm_group_floats;
  char kernel_pm[2][2][64];     /* pixel-major names: [direct][the short tile] */
  char kernel_gemv[64];
  char simd_kernel[64];         /* depthwise: the name when the SIMD kernel takes the shapes */
  size_t winograd_m;            /* Winograd: output tile m of F(m x m, 3 x 3); weights packed by it */
  const cnnrt_f32_winograd_config* winograd;
} conv_state;

/* How run() splits the work for one set of shapes. */
typedef struct conv_plan {
  cnnrt_conv2d_geometry geometry;
  size_t reduction;              /* K = in_channels_per_group * kernel_h * kernel_w */
  size_t pixels;                 /* out_h * out_w */
  size_t tile_pixels, tiles;     /* pixel tiles: the largest, and the count */
  size_t strips;                 /* pixel strips of nr; tile i has strips [i * strips / tiles, (i + 1) * strips / tiles) */
  size_t channel_block, channel_blocks; /* output channels per task (multiple of MR) */
  size_t scratch_bytes;          /* per thread, aligned */
  int simd_depthwise;            /* 1: the vector config's depthwise kernel runs */
  int pixel_major;               /* 1: the pixel-major GEMM (plan fields pm_*) */
  const cnnrt_f32_gemm_config* pm; /* its tile: gemm_pm, or gemm_pm_short where that pads fewer rows */
  int gemv;                      /* 1: a 1x1 convolution of a 1x1 plane as matrix-vector products */
  size_t pm_tiles, pm_tile_block, pm_tile_blocks;  /* pixel tiles of pm->mr, per task */
  size_t pm_oc_block, pm_oc_blocks;                /* output channels per task (multiple of nr) */
  size_t pm_a_floats;                               /* scratch: one k block of im2col panels, then the C block */
  size_t pm_chunk;                                  /* input channels per k block */
  /* Direct pixel-major GEMM (no im2col): A read from a zero-padded copy of
   * one image through per-tap offsets; tiles never cross output rows. */
  int pm_direct;
  size_t row_tiles;                                 /* tiles per output row */
  size_t padded_h, padded_w;                        /* the padded copy: rows and columns per channel */
  size_t shared_bytes;                              /* workspace after the threads' scratch: that copy */
  /* Winograd: tasks are (image, block of tile_rows tile rows, channel block). */
  cnnrt_winograd_geometry winograd;
  size_t tile_rows, row_blocks;
  size_t v_floats, c_floats;     /* transformed input and GEMM output of one task */
} conv_plan;

static void conv_destroy(void* opaque) {
  conv_state* state = opaque;
  if (state == NULL) return;
  free(state->packed_weights);
  if (state->algorithm == CONV_GEMM_1X1 || state->algorithm == CONV_IM2COL_GEMM) {
    pthread_mutex_destroy(&state->pm_lock);
    free(state->packed_pm);
  }
  free(state);
}

/* Winograd: tile choice and filter transform at load, work split per shape
 * (the section "Winograd" below). */
static size_t conv_winograd_tile(const cnnrt_graph* graph, const cnnrt_node* node, const conv_state* state);
static cnnrt_status conv_winograd_pack(conv_state* state);
static void conv_winograd_plan(const conv_state* state, int threads, conv_plan* plan);
static void conv_winograd_task(void* opaque, size_t begin, size_t end, int thread);

static cnnrt_status conv_create(const cnnrt_graph* graph, const cnnrt_node* node, void** out_state) {
  *out_state = NULL;
  cnnrt_status status = cnnrt_node_check_io(node, 2, 3, 1, 1, CNNRT_EPILOGUE_FULL);
  if (status != CNNRT_OK) return status;
  const cnnrt_tensor_def* w;
  if ((status = cnnrt_node_constant_f32(graph, node, 1, "W", 3, 4, &w)) != CNNRT_OK) return status;
  const int spatial = w->shape.rank - 2;
  for (int32_t i = 0; i < w->shape.rank; i++) {
    if (w->shape.dims[i] < 1) {
      char text[CNNRT_SHAPE_TEXT_SIZE];
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node, "input 1 (W) expected non-empty dims, found shape %s",
                              cnnrt_shape_format(&w->shape, text, sizeof(text)));
    }
  }
  conv_state state;
  memset(&state, 0, sizeof(state));
  state.window.kernel[0] = w->shape.dims[2];
  state.window.kernel[1] = spatial == 2 ? w->shape.dims[3] : 1;
  if ((status = cnnrt_window_parse(node, spatial, 1, &state.window)) != CNNRT_OK) return status;
  const int64_t* kernel_shape;
  uint32_t kernel_count;
  if ((status = cnnrt_attr_ints(node, "kernel_shape", &kernel_shape, &kernel_count)) != CNNRT_OK) return status;
  if (kernel_shape != NULL) {
    if (kernel_count != (uint32_t)spatial) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute 'kernel_shape' expected %d values for a %d-D convolution, found %u", spatial,
                              spatial, kernel_count);
    }
    for (int i = 0; i < spatial; i++) {
      if (kernel_shape[i] != w->shape.dims[2 + i]) {
        return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                                "attribute 'kernel_shape' expected %lld at position %d (from W), found %lld",
                                (long long)w->shape.dims[2 + i], i, (long long)kernel_shape[i]);
      }
    }
  }
  int64_t group;
  if ((status = cnnrt_attr_int(node, "group", 1, &group)) != CNNRT_OK) return status;
  const int64_t out_channels = w->shape.dims[0];
  if (group < 1 || out_channels % group != 0) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'group' expected a positive divisor of the %lld output channels, found %lld",
                            (long long)out_channels, (long long)group);
  }
  state.out_channels = (size_t)out_channels;
  state.groups = (size_t)group;
  state.in_channels_per_group = (size_t)w->shape.dims[1];
  state.weights = w->data;
  if (cnnrt_node_has_input(node, 2)) {
    const cnnrt_tensor_def* b;
    if ((status = cnnrt_node_constant_f32(graph, node, 2, "B", 1, 1, &b)) != CNNRT_OK) return status;
    if (b->shape.dims[0] != out_channels) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "input 2 (B) expected %lld values (one per output channel), found %lld",
                              (long long)out_channels, (long long)b->shape.dims[0]);
    }
    state.bias = b->data;
  }
  state.gemm = cnnrt_f32_gemm_config_get();
  state.gemm_narrow = cnnrt_f32_gemm_config_narrow(state.gemm);
  state.vector = cnnrt_f32_vector_config_get();
  const size_t out_per_group = state.out_channels / state.groups;
  const size_t kernel_size = (size_t)(state.window.kernel[0] * state.window.kernel[1]);
  const int pointwise = kernel_size == 1 && state.window.strides[0] == 1 && state.window.strides[1] == 1 &&
                        state.window.auto_pad != CNNRT_AUTO_PAD_SAME_UPPER &&
                        state.window.auto_pad != CNNRT_AUTO_PAD_SAME_LOWER &&
                        (state.window.auto_pad == CNNRT_AUTO_PAD_VALID ||
                         cnnrt_window_unpadded(&state.window));
  if (state.in_channels_per_group == 1 && state.groups > 1) {
    state.algorithm = CONV_DEPTHWISE;
  } else if (out_per_group < CONV_MIN_GEMM_CHANNELS) {
    state.algorithm = CONV_DIRECT;
  } else {
    state.algorithm = pointwise ? CONV_GEMM_1X1 : CONV_IM2COL_GEMM;
  }
  if (state.algorithm == CONV_IM2COL_GEMM) {
    state.winograd_m = conv_winograd_tile(graph, node, &state);
    if (state.winograd_m != 0) {
      state.algorithm = CONV_WINOGRAD;
      state.winograd = cnnrt_f32_winograd_config_get();
    }
  }

  conv_state* result = malloc(sizeof(*result));
  if (result == NULL) return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory");
  *result = state;
  const char* kind = state.algorithm == CONV_GEMM_1X1 ? "1x1_gemm_" : "im2col_gemm_";
  if (state.algorithm == CONV_DEPTHWISE) {
    snprintf(result->kernel, sizeof(result->kernel), "dwconv%dd_ref", spatial);
    snprintf(result->simd_kernel, sizeof(result->simd_kernel), "dwconv%dd_%s", spatial, state.vector->name);
  } else if (state.algorithm == CONV_DIRECT) {
    snprintf(result->kernel, sizeof(result->kernel), "conv%dd_direct_ref", spatial);
  } else if (state.algorithm == CONV_WINOGRAD) {
    snprintf(result->kernel, sizeof(result->kernel), "conv2d_winograd_f%zu3_%s", state.winograd_m, state.gemm->name);
    if (conv_winograd_pack(result) != CNNRT_OK) {
      free(result);
      return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory transforming the Winograd filters");
    }
  } else {
    snprintf(result->kernel, sizeof(result->kernel), "conv%dd_%s%s", spatial, kind, state.gemm->name);
  }
  if (state.algorithm == CONV_GEMM_1X1 || state.algorithm == CONV_IM2COL_GEMM) {
    pthread_mutex_init(&result->pm_lock, NULL);
    result->gemm_pm = cnnrt_f32_gemm_config_pixel_major();
    result->gemm_pm_short = cnnrt_f32_gemm_config_pixel_major_short_for_level(result->gemm_pm->level);
    const char* mode = getenv("CNNRT_PIXEL_MAJOR");
    result->pixel_major_mode = mode == NULL || mode[0] == '\0' ? -1 : mode[0] == '0' ? 0 : 1;
    const char* direct = getenv("CNNRT_CONV_DIRECT");
    result->direct_mode = direct == NULL || direct[0] == '\0' ? -1 : direct[0] == '0' ? 0 : 1;
    for (int direct = 0; direct < 2; direct++) {
      for (int short_tile = 0; short_tile < 2; short_tile++) {
        snprintf(result->kernel_pm[direct][short_tile], sizeof(result->kernel_pm[direct][short_tile]),
                 "conv%dd_%spm_%s", spatial, direct ? "direct_" : kind,
                 (short_tile ? result->gemm_pm_short : result->gemm_pm)->name);
      }
    }
    snprintf(result->kernel_gemv, sizeof(result->kernel_gemv), "conv%dd_1x1_gemv_%s", spatial, state.vector->name);
    const size_t reduction = state.in_channels_per_group * kernel_size;
    result->packed_group_floats = cnnrt_f32_gemm_packed_a_floats(out_per_group, reduction, state.gemm->mr);
    result->packed_weights = malloc(result->packed_group_floats * state.groups * sizeof(float));
    if (result->packed_weights == NULL) {
      size_t floats = result->packed_group_floats * state.groups;
      pthread_mutex_destroy(&result->pm_lock);
      free(result);
      return cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory packing %zu weights", floats);
    }
    /* Packed in the order run() reads them: k block by k block (conv_kc
     * columns of W), and within a block MR-row panels of kc columns. */
    const size_t rows_rounded = cnnrt_round_up(out_per_group, state.gemm->mr);
    for (size_t g = 0; g < state.groups; g++) {
      const size_t block = conv_kc(reduction);
      for (size_t k0 = 0; k0 < reduction; k0 += block) {
        const size_t kc = reduction - k0 < block ? reduction - k0 : block;
        cnnrt_f32_gemm_pack_a(out_per_group, kc, state.weights + g * out_per_group * reduction + k0, reduction, 1,
                              state.gemm->mr, result->packed_weights + g * result->packed_group_floats + k0 * rows_rounded);
      }
    }
  }
  *out_state = result;
  return CNNRT_OK;
}

/* The fixed rule between the two GEMM orientations: the one whose tiles carry
 * less padding (pixels and channels rounded up to its tile), pixel-major only
 * when clearly better (5 points), with a reduction long enough to pay for the
 * transposed store (a wider margin for the 1x1 path; measured on
 * ResNet-50's last stages and EfficientNet-B0's 7 x 7 blocks: 3-20% per
 * layer). Of the two pixel-major tiles, the one that pads fewer rows
 * (conv_pm_tile: 7 rows for 49-pixel planes). CNNRT_PIXEL_MAJOR=0 / 1 turns
 * it off / on wherever the tile shapes differ (for tests and A/B
 * measurements). */
static const cnnrt_f32_gemm_config* conv_pm_tile(const conv_state* state, size_t pixels) {
  const cnnrt_f32_gemm_config* pm = state->gemm_pm;
  const cnnrt_f32_gemm_config* short_tile = state->gemm_pm_short;
  if (pm == NULL || short_tile == NULL || pixels == 0) return pm;
  return cnnrt_round_up(pixels, short_tile->mr) < cnnrt_round_up(pixels, pm->mr) ? short_tile : pm;
}

/* Input channels per k block of the pixel-major GEMM: blocks of whole
 * channels (about CONV_KC rows of K), each im2col'ed just before its
 * product, so that only one block of A is live besides the C block. */
static size_t conv_pm_chunk(const conv_state* state, const conv_plan* plan) {
  const size_t window = plan->geometry.kernel_h * plan->geometry.kernel_w;
  size_t chunk = CONV_KC / (window > 0 ? window : 1);
  if (chunk < 1) chunk = 1;
  return chunk < state->in_channels_per_group ? chunk : state->in_channels_per_group;
}

/* Pixel tiles of mr rows one task's block may hold within an L2 budget (in
 * floats), with a_row floats of A per tile row (a k block of im2col panels; 0
 * for the direct path) beside one nr-wide panel of C. */
static size_t conv_pm_block_tiles(size_t budget, size_t mr, size_t nr, size_t a_row) {
  const size_t block = budget / (mr * (a_row + nr + CONV_PM_ROW_PAD));
  return block > 0 ? block : 1;
}

static int conv_use_pixel_major(const conv_state* state, const conv_plan* plan) {
  const cnnrt_f32_gemm_config* cm = state->gemm;
  const cnnrt_f32_gemm_config* pm = conv_pm_tile(state, plan->pixels);
  if (pm == NULL || state->pixel_major_mode == 0 || (pm->mr == cm->mr && pm->nr == cm->nr)) return 0;
  if (state->pixel_major_mode == 1) return 1;
  /* Only where one block of tiles takes the whole plane: each further block
   * streams all the weights again (from memory, in a model: ResNet-50's
   * stride-2 layers at 7x7 ran 1.2-1.3x slower so). */
  const size_t kc = conv_pm_chunk(state, plan) * plan->geometry.kernel_h * plan->geometry.kernel_w;
  const size_t fit_tiles = conv_pm_block_tiles(CONV_PM_BUDGET_FLOATS, pm->mr, pm->nr, kc);
  if (cnnrt_divide_round_up(plan->pixels, pm->mr) > fit_tiles) return 0;
  const size_t out_per_group = state->out_channels / state->groups;
  const size_t pixels = plan->pixels;
  if (plan->reduction < 32 || pixels == 0) return 0;
  /* Channel-major strips of NR, the last one half as wide where it fits. */
  size_t strips = cnnrt_round_up(pixels, cm->nr);
  if (state->gemm_narrow != NULL && pixels % cm->nr != 0 && pixels % cm->nr <= state->gemm_narrow->nr) {
    strips = pixels / cm->nr * cm->nr + state->gemm_narrow->nr;
  }
  const double channel_major =
      (double)pixels / (double)strips * (double)out_per_group / (double)cnnrt_round_up(out_per_group, cm->mr);
  const double pixel_major = (double)pixels / (double)cnnrt_round_up(pixels, pm->mr) * (double)out_per_group /
                             (double)cnnrt_round_up(out_per_group, pm->nr);
  /* The 1x1 path reads B in place where the pixel-major one im2cols it and
   * stores transposed: it keeps the 1x1 convolutions of 14 x 14 planes
   * (12.5% padding; measured as fast at one thread and up to 1.2x faster at
   * two on ResNet-50's third stage) and gives up those of 7 x 7 (23.5%). */
  const double margin = state->algorithm == CONV_GEMM_1X1 ? 0.15 : 0.05;
  /* Except (levels that set pointwise_min) 1x1 layers with a long reduction
   * and many output channels, where the transposed store is amortised and
   * the channel-major strips read k rows of B far apart: on Zen 3 (AVX2),
   * ResNet-50's 14 x 14 layers (256 <-> 1024 channels) ran 2-5% faster
   * pixel-major at 1 and 2 threads, the mobile nets' 14 x 14 layers (64-672
   * channels, one side under 256) 1-20% slower. */
  if (state->algorithm == CONV_GEMM_1X1 && pm->pointwise_min > 0 && plan->reduction >= (size_t)pm->pointwise_min &&
      out_per_group >= (size_t)pm->pointwise_min && pixel_major >= channel_major) {
    return 1;
  }
  return pixel_major > channel_major + margin;
}

/* The direct path's padded copy of one channel for tiles of mr pixels that
 * never cross output rows: the rows and columns every tile reads. */
static void conv_direct_padded(const cnnrt_conv2d_geometry* g, size_t mr, size_t* rows, size_t* columns) {
  *rows = (g->out_h - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
  *columns = (cnnrt_round_up(g->out_w, mr) - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
}

/* The direct path's tile: of the pixel-major tiles with an indirect kernel
 * for this horizontal stride, the one that pads output rows least (tiles
 * never cross rows); NULL when none applies or it is switched off. */
static const cnnrt_f32_gemm_config* conv_direct_tile(const conv_state* state, const conv_plan* plan) {
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  if (state->algorithm != CONV_IM2COL_GEMM || state->direct_mode == 0 || state->pixel_major_mode == 0 ||
      state->gemm_pm == NULL || g->stride_w < 1 || g->stride_w > 2 || g->out_w == 0) {
    return NULL;
  }
  const cnnrt_f32_gemm_config* best = NULL;
  const cnnrt_f32_gemm_config* tiles[2] = {state->gemm_pm, state->gemm_pm_short};
  for (int i = 0; i < 2; i++) {
    const cnnrt_f32_gemm_config* t = tiles[i];
    if (t == NULL || t->igemm[g->stride_w - 1] == NULL || t->igemminc[g->stride_w - 1] == NULL) continue;
    if (best == NULL || cnnrt_round_up(g->out_w, t->mr) < cnnrt_round_up(g->out_w, best->mr)) best = t;
  }
  /* The padded copy of one image lives in the workspace beside the
   * activations: bounded like the im2col tiles, so that large inputs (a
   * segmentation net at 1024 x 1024) keep im2col's small footprint. */
  if (best != NULL) {
    size_t rows, columns;
    conv_direct_padded(g, best->mr, &rows, &columns);
    if (g->in_channels * rows * columns > CONV_DIRECT_BUDGET_FLOATS) return NULL;
  }
  return best;
}

/* The fixed rule for the direct path: windows larger than 1x1 whose row
 * tiles are at least 85% full (the stems and strided 3x3 layers of the zoo's
 * ResNets and mobile nets), as it trades the im2col copy (K floats per
 * pixel) for a padded copy of the input (measured 1.04-1.22x faster on
 * ResNet-50's stem and stride-2 3x3 shapes). A strided 1x1 convolution keeps
 * im2col, which copies only the pixels it reads (a quarter of the input at
 * stride 2; direct was 1.1-1.2x slower). CNNRT_CONV_DIRECT=0 / 1 turns it
 * off / on wherever a tile takes the stride. */
static int conv_use_direct(const conv_state* state, const conv_plan* plan, const cnnrt_f32_gemm_config* tile) {
  if (tile == NULL) return 0;
  if (state->direct_mode == 1) return 1;
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  if (g->kernel_h * g->kernel_w < 2) return 0;
  return (double)g->out_w / (double)cnnrt_round_up(g->out_w, tile->mr) >= 0.85;
}

/* Work split of the pixel-major GEMM. A task holds its C block in L2, and on
 * the im2col path one block of A (a k block of its tiles' im2col): blocks of
 * pixel tiles (the whole plane wherever the budget allows, so the weights
 * stream once), then output-channel blocks that fit the rest of the budget,
 * split further when the tasks are too few for the threads. The direct path
 * (direct = 1) runs image by image and reads A from a padded copy of the
 * image in the shared workspace. */
static void conv_plan_pixel_major(const conv_state* state, conv_plan* plan, int threads,
                                  const cnnrt_f32_gemm_config* pm, int direct) {
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  const size_t mr = pm->mr, nr = pm->nr;
  const size_t out_per_group = state->out_channels / state->groups;
  plan->pixel_major = 1;
  plan->pm = pm;
  plan->pm_direct = direct;
  plan->pm_chunk = conv_pm_chunk(state, plan);
  const size_t kc = plan->pm_chunk * g->kernel_h * g->kernel_w;
  if (direct) {
    plan->row_tiles = cnnrt_divide_round_up(g->out_w, mr);
    plan->pm_tiles = g->out_h * plan->row_tiles;
    conv_direct_padded(g, mr, &plan->padded_h, &plan->padded_w);
    plan->shared_bytes =
        cnnrt_round_up(g->in_channels * plan->padded_h * plan->padded_w * sizeof(float), CNNRT_WORKSPACE_ALIGN);
  } else {
    plan->pm_tiles = cnnrt_divide_round_up(plan->pixels, mr);
  }
  const size_t a_row = direct ? 0 : kc; /* A floats per tile row that the budget holds */
  /* (With blocks past L2 the C block and the weights' pass spill to L3:
   * measured 1024 channels at 14 x 14, 0.58 -> 0.9 ms.) */
  const size_t budget = direct ? CONV_PM_DIRECT_BUDGET_FLOATS : CONV_PM_BUDGET_FLOATS;
  size_t block = conv_pm_block_tiles(budget, mr, nr, a_row);
  if (block > plan->pm_tiles) block = plan->pm_tiles;
  size_t tile_blocks = cnnrt_divide_round_up(plan->pm_tiles, block);
  const size_t panels = cnnrt_divide_round_up(out_per_group, nr);
  size_t fit = budget / (cnnrt_divide_round_up(plan->pm_tiles, tile_blocks) * mr);
  fit = fit > a_row + CONV_PM_ROW_PAD + nr ? (fit - a_row - CONV_PM_ROW_PAD) / nr : 1;
  size_t oc_blocks = cnnrt_divide_round_up(panels, fit);
  /* Too few tasks for the threads: split what costs less to repeat. Every
   * output-channel block im2cols the tiles again (k x pixels floats); every
   * tile block reads all the weights again (k x channels). */
  const size_t images = (direct ? 1 : g->batch) * g->groups;
  const size_t wanted = (size_t)(threads > 1 ? threads : 1);
  if (images * tile_blocks * oc_blocks < wanted) {
    if (out_per_group > plan->pixels || direct) {
      oc_blocks = cnnrt_divide_round_up(wanted, images * tile_blocks);
    } else {
      tile_blocks = cnnrt_divide_round_up(wanted, images * oc_blocks);
    }
  }
  if (oc_blocks > panels) oc_blocks = panels;
  if (tile_blocks > plan->pm_tiles) tile_blocks = plan->pm_tiles;
  plan->pm_tile_block = cnnrt_divide_round_up(plan->pm_tiles, tile_blocks);
  plan->pm_tile_blocks = cnnrt_divide_round_up(plan->pm_tiles, plan->pm_tile_block);
  /* The direct path's blocks (split by its budget, the weights a stem's few)
   * in a multiple of the threads, counting the blocks as cut: MobileNetV3-L's
   * stem ran 7 blocks on two threads (4 against 3). */
  while (direct && threads > 1 && plan->pm_tile_blocks > 1 && tile_blocks < plan->pm_tiles &&
         images * plan->pm_tile_blocks * oc_blocks % (size_t)threads != 0) {
    tile_blocks++;
    plan->pm_tile_block = cnnrt_divide_round_up(plan->pm_tiles, tile_blocks);
    plan->pm_tile_blocks = cnnrt_divide_round_up(plan->pm_tiles, plan->pm_tile_block);
  }
  const size_t rows = plan->pm_tile_block * mr;
  plan->pm_oc_block = cnnrt_divide_round_up(panels, oc_blocks) * nr;
  plan->pm_oc_blocks = cnnrt_divide_round_up(out_per_group, plan->pm_oc_block);
  /* Direct: the k block's tap offsets instead of its im2col panels. */
  const size_t a_floats = direct ? cnnrt_divide_round_up(kc * sizeof(size_t), sizeof(float)) : rows * kc;
  plan->pm_a_floats = cnnrt_round_up(a_floats, CNNRT_WORKSPACE_ALIGN / sizeof(float));
  const size_t c_floats = rows * (plan->pm_oc_block + CONV_PM_ROW_PAD);
  plan->scratch_bytes = cnnrt_round_up((plan->pm_a_floats + c_floats) * sizeof(float), CNNRT_WORKSPACE_ALIGN);
}

/* Packs W as the pixel-major GEMM's B panels, once (see conv_state). */
static cnnrt_status conv_pack_pixel_major(const cnnrt_node* node, conv_state* state, size_t reduction) {
  pthread_mutex_lock(&state->pm_lock);
  cnnrt_status status = CNNRT_OK;
  if (state->packed_pm == NULL) {
    const size_t out_per_group = state->out_channels / state->groups, nr = state->gemm_pm->nr;
    const size_t group_floats = cnnrt_f32_gemm_packed_b_floats(reduction, out_per_group, nr);
    float* packed = malloc(group_floats * state->groups * sizeof(float));
    if (packed == NULL) {
      status = cnnrt_node_error(CNNRT_ERROR_OUT_OF_MEMORY, node, "out of memory packing %zu weights",
                                group_floats * state->groups);
    } else {
      for (size_t g = 0; g < state->groups; g++) {
        /* B[k][oc] = W[oc][k] */
        cnnrt_f32_gemm_pack_b(reduction, out_per_group, state->weights + g * out_per_group * reduction, 1, reduction,
                              nr, packed + g * group_floats);
      }
      state->packed_pm_group_floats = group_floats;
      state->packed_pm = packed;
    }
  }
  pthread_mutex_unlock(&state->pm_lock);
  return status;
}

/* Geometry and work split for input shape x (an error naming the node on a bad shape). */
static cnnrt_status conv_plan_make(const cnnrt_node* node, const conv_state* state, const cnnrt_shape* x,
                                   int threads, conv_plan* plan) {
  memset(plan, 0, sizeof(*plan));
  const int spatial = state->window.spatial;
  cnnrt_status status = cnnrt_node_check_rank(node, x, 0, "X", spatial + 2, spatial + 2);
  if (status != CNNRT_OK) return status;
  const int64_t in_channels = (int64_t)(state->in_channels_per_group * state->groups);
  if (x->dims[1] != in_channels) {
    char text[CNNRT_SHAPE_TEXT_SIZE];
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) expected %lld channels, found %lld (shape %s)", (long long)in_channels,
                            (long long)x->dims[1], cnnrt_shape_format(x, text, sizeof(text)));
  }
  int64_t out[2] = {1, 1}, begin[2] = {0, 0}, end[2] = {0, 0};
  for (int d = 0; d < spatial; d++) {
    if ((status = cnnrt_window_output(node, &state->window, d, x->dims[2 + d], &out[d], &begin[d], &end[d])) !=
        CNNRT_OK) {
      return status;
    }
  }
  cnnrt_conv2d_geometry* g = &plan->geometry;
  g->batch = (size_t)x->dims[0];
  g->groups = state->groups;
  g->in_channels = (size_t)in_channels;
  g->out_channels = state->out_channels;
  if (spatial == 2) {
    g->in_h = (size_t)x->dims[2];
    g->in_w = (size_t)x->dims[3];
    g->out_h = (size_t)out[0];
    g->out_w = (size_t)out[1];
    g->kernel_h = (size_t)state->window.kernel[0];
    g->kernel_w = (size_t)state->window.kernel[1];
    g->stride_h = (size_t)state->window.strides[0];
    g->stride_w = (size_t)state->window.strides[1];
    g->dilation_h = (size_t)state->window.dilations[0];
    g->dilation_w = (size_t)state->window.dilations[1];
    g->pad_top = (ptrdiff_t)begin[0];
    g->pad_left = (ptrdiff_t)begin[1];
  } else {
    g->in_h = g->out_h = g->kernel_h = g->stride_h = g->dilation_h = 1;
    g->pad_top = 0;
    g->in_w = (size_t)x->dims[2];
    g->out_w = (size_t)out[0];
    g->kernel_w = (size_t)state->window.kernel[0];
    g->stride_w = (size_t)state->window.strides[0];
    g->dilation_w = (size_t)state->window.dilations[0];
    g->pad_left = (ptrdiff_t)begin[0];
  }
  plan->reduction = state->in_channels_per_group * g->kernel_h * g->kernel_w;
  plan->pixels = g->out_h * g->out_w;
  const size_t mr = state->gemm->mr, nr = state->gemm->nr;
  const size_t out_per_group = state->out_channels / state->groups;
  if (state->algorithm == CONV_IM2COL_GEMM || state->algorithm == CONV_GEMM_1X1) {
    size_t limit = CONV_IM2COL_BUDGET_FLOATS / (plan->reduction > 0 ? plan->reduction : 1) / nr * nr;
    if (limit > CONV_MAX_TILE_PIXELS) limit = CONV_MAX_TILE_PIXELS / nr * nr;
    if (limit < nr) limit = nr;
    /* Tiles as equal as strips of nr allow, as few as the limit allows; with
     * several threads, a count that gives every thread the same number of
     * tasks (the images times groups times tiles a multiple of threads). */
    plan->strips = cnnrt_divide_round_up(plan->pixels > 0 ? plan->pixels : 1, nr);
    size_t count = cnnrt_divide_round_up(plan->strips * nr, limit);
    if (threads > 1) {
      size_t base = g->batch * g->groups, multiple = (size_t)threads;
      for (size_t d = (size_t)threads; d > 1; d--) {
        if (base % d == 0 && (size_t)threads % d == 0) {
          multiple = (size_t)threads / d;
          break;
        }
      }
      count = cnnrt_round_up(count, multiple);
    }
    if (count > plan->strips) count = plan->strips;
    plan->tiles = count;
    plan->tile_pixels = cnnrt_divide_round_up(plan->strips, count) * nr;
    const size_t tile = plan->tile_pixels;
    /* Split output channels too when pixel tiles alone give too few tasks. */
    size_t panels = cnnrt_divide_round_up(out_per_group, mr);
    size_t base_tasks = g->batch * g->groups * plan->tiles;
    size_t wanted = (size_t)(threads > 1 ? threads : 1) * 2;
    size_t blocks = 1;
    if (threads > 1 && base_tasks < wanted) blocks = cnnrt_divide_round_up(wanted, base_tasks > 0 ? base_tasks : 1);
    if (blocks > panels) blocks = panels;
    if (blocks < 1) blocks = 1;
    plan->channel_block = cnnrt_divide_round_up(panels, blocks) * mr;
    plan->channel_blocks = cnnrt_divide_round_up(out_per_group, plan->channel_block);
    size_t floats = state->algorithm == CONV_IM2COL_GEMM ? plan->reduction * tile : plan->reduction * nr;
    plan->scratch_bytes = cnnrt_round_up(floats * sizeof(float), CNNRT_WORKSPACE_ALIGN);
    const cnnrt_f32_gemm_config* direct_tile = conv_direct_tile(state, plan);
    if (state->algorithm == CONV_GEMM_1X1 && plan->pixels == 1 && g->groups == 1 && state->vector->gemv != NULL) {
      /* One pixel: the GEMM's tiles would be 31/32 padding. */
      plan->gemv = 1;
      plan->scratch_bytes = 0;
    } else if (conv_use_direct(state, plan, direct_tile)) {
      conv_plan_pixel_major(state, plan, threads, direct_tile, 1);
    } else if (conv_use_pixel_major(state, plan)) {
      conv_plan_pixel_major(state, plan, threads, conv_pm_tile(state, plan->pixels), 0);
    }
  } else if (state->algorithm == CONV_WINOGRAD) {
    conv_winograd_plan(state, threads, plan);
  } else if (state->algorithm == CONV_DEPTHWISE && state->vector->dwconv2d != NULL && cnnrt_f32_dwconv2d_supports(g)) {
    plan->simd_depthwise = 1;
    plan->scratch_bytes =
        cnnrt_round_up(cnnrt_f32_dwconv2d_scratch_floats(g) * sizeof(float), CNNRT_WORKSPACE_ALIGN);
  }
  return CNNRT_OK;
}

static cnnrt_status conv_reshape(const cnnrt_node* node, const void* opaque, const cnnrt_shape* inputs,
                                 cnnrt_shape* outputs, cnnrt_reshape_info* info) {
  const conv_state* state = opaque;
  conv_plan plan;
  cnnrt_status status = conv_plan_make(node, state, &inputs[0], info->threads, &plan);
  if (status != CNNRT_OK) return status;
  const cnnrt_conv2d_geometry* g = &plan.geometry;
  cnnrt_shape* y = &outputs[0];
  y->rank = inputs[0].rank;
  y->dims[0] = (int64_t)g->batch;
  y->dims[1] = (int64_t)g->out_channels;
  if (state->window.spatial == 2) {
    y->dims[2] = (int64_t)g->out_h;
    y->dims[3] = (int64_t)g->out_w;
  } else {
    y->dims[2] = (int64_t)g->out_w;
  }
  if ((status = cnnrt_node_check_residual(node, inputs, y)) != CNNRT_OK) return status;
  info->workspace_bytes = plan.scratch_bytes * (size_t)(info->threads > 1 ? info->threads : 1) + plan.shared_bytes;
  info->macs = (uint64_t)g->batch * g->out_channels * plan.pixels * plan.reduction;
  info->kernel = plan.simd_depthwise ? state->simd_kernel
                 : plan.pixel_major    ? state->kernel_pm[plan.pm_direct][plan.pm != state->gemm_pm]
                 : plan.gemv           ? state->kernel_gemv
                                       : state->kernel;
  if (plan.pixel_major) {
    /* The state is const for ops; its pixel-major panels are a cache filled
     * once under its lock (conv_state). */
    if ((status = conv_pack_pixel_major(node, (conv_state*)state, plan.reduction)) != CNNRT_OK) return status;
  }
  return CNNRT_OK;
}

typedef struct conv_job {
  const cnnrt_run_context* context;
  const cnnrt_node* node;
  const conv_state* state;
  const conv_plan* plan;
  const float* x;
  const float* residual;
  float* y;
  size_t image;     /* the direct path: the image its tasks compute */
  float* padded;    /* the direct path: that image's zero-padded copy (shared workspace) */
} conv_job;

/* Bias, residual and activation over `rows` output rows of `cols` pixels. */
static void conv_epilogue(const conv_job* job, size_t n, size_t oc, size_t rows, size_t pixel, size_t cols) {
  const cnnrt_epilogue* e = &job->node->epilogue;
  const size_t pixels = job->plan->pixels;
  const cnnrt_f32_epilogue_fn epilogue =
      job->state->vector->epilogue != NULL ? job->state->vector->epilogue : cnnrt_f32_epilogue_ref;
  for (size_t i = 0; i < rows; i++) {
    size_t offset = (n * job->state->out_channels + oc + i) * pixels + pixel;
    epilogue(job->y + offset, cols, job->state->bias != NULL ? job->state->bias[oc + i] : 0.0f,
                           job->residual != NULL ? job->residual + offset : NULL, e->activation, e->alpha,
                           e->beta);
  }
}

/* How the last k block of a GEMM tile finishes: bias and residual (and the
 * activation when it is a clamp: none, Relu, Clip) in the microkernel's
 * registers; any other activation runs over the stored tile afterwards. */
static void conv_tile_epilogue(const conv_job* job, cnnrt_f32_gemm_epilogue* ep, int* post_activation) {
  const cnnrt_epilogue* e = &job->node->epilogue;
  ep->bias = NULL;
  ep->residual = NULL;
  ep->min = -INFINITY;
  ep->max = INFINITY;
  ep->accumulate = 0;
  *post_activation = CNNRT_ACT_NONE;
  if (e->activation == CNNRT_ACT_RELU) {
    ep->min = 0.0f;
  } else if (e->activation == CNNRT_ACT_CLIP) {
    ep->min = e->alpha;
    ep->max = e->beta;
  } else {
    *post_activation = e->activation;
  }
}

/* ---- Winograd (3x3, stride 1) ------------------------------------------------
 * The tile is a fixed rule of the layer's shapes, so that the choice does not
 * depend on timing. CNNRT_WINOGRAD=0 turns Winograd off (im2col + GEMM for
 * every layer); CNNRT_WINOGRAD=2 or 4 forces F(2,3) or F(4,3) wherever the
 * layer qualifies (for A/B measurements and tests). */
#define CONV_WINOGRAD_MIN_CHANNELS 16
/* Per-task transformed input plus GEMM output, sized to stay in L2 (1 MiB
 * per core here) with the filter panels streaming past; but at least
 * CONV_WINOGRAD_MIN_TILES tiles, over which each filter panel read is used
 * (fewer leave the GEMM waiting on memory: measured with 256 channels at
 * 14 x 14, 240 -> 120 GFLOP/s). */
#define CONV_WINOGRAD_BUDGET_FLOATS (64 * 1024)
#define CONV_WINOGRAD_MIN_TILES 32

static size_t conv_winograd_tile(const cnnrt_graph* graph, const cnnrt_node* node, const conv_state* state) {
  const cnnrt_window* w = &state->window;
  if (w->spatial != 2 || w->kernel[0] != 3 || w->kernel[1] != 3 || w->strides[0] != 1 || w->strides[1] != 1 ||
      w->dilations[0] != 1 || w->dilations[1] != 1 || state->groups != 1 ||
      state->in_channels_per_group < CONV_WINOGRAD_MIN_CHANNELS || state->out_channels < CONV_WINOGRAD_MIN_CHANNELS) {
    return 0;
  }
  const char* setting = getenv("CNNRT_WINOGRAD");
  if (setting != NULL && strcmp(setting, "0") == 0) return 0;
  if (setting != NULL && strcmp(setting, "2") == 0) return 2;
  if (setting != NULL && strcmp(setting, "4") == 0) return 4;
  /* The plane the model file declares (the shape at load; other shapes
   * later keep this tile, which is correct for any plane). */
  int64_t height = 0, width = 0;
  const uint32_t input = node->inputs[0];
  if (input < graph->tensor_count && graph->tensors[input].shape.rank == 4) {
    height = graph->tensors[input].shape.dims[2];
    width = graph->tensors[input].shape.dims[3];
  }
  if (height > 0 && width > 0 && (height < 8 || width < 8)) return 2;
  return 4;
}

/* U = G g G^T for every (output, input) channel pair, packed for the GEMM. */
static cnnrt_status conv_winograd_pack(conv_state* state) {
  const size_t alpha = state->winograd_m + 2, nr = state->gemm->nr;
  const size_t ic = state->in_channels_per_group;
  state->packed_group_floats = alpha * alpha * ic * cnnrt_round_up(state->out_channels, nr);
  state->packed_weights = malloc(state->packed_group_floats * sizeof(float));
  if (state->packed_weights == NULL) return CNNRT_ERROR_OUT_OF_MEMORY;
  cnnrt_f32_winograd_filter_ref(state->winograd_m, state->weights, state->out_channels, ic, nr,
                                state->packed_weights);
  return CNNRT_OK;
}

/* Transformed-input panels are ic * mr floats apart plus one cache line, so
 * that the stores of one channel into all panels do not share a cache set. */
static size_t conv_winograd_panel_stride(size_t ic, size_t mr) { return ic * mr + 16; }

static void conv_winograd_plan(const conv_state* state, int threads, conv_plan* plan) {
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  cnnrt_winograd_geometry* w = &plan->winograd;
  const size_t m = state->winograd_m, alpha = m + 2, mr = state->gemm->mr, nr = state->gemm->nr;
  w->m = m;
  w->in_h = g->in_h;
  w->in_w = g->in_w;
  w->out_h = g->out_h;
  w->out_w = g->out_w;
  w->pad_top = g->pad_top;
  w->pad_left = g->pad_left;
  w->tiles_y = cnnrt_divide_round_up(g->out_h, m);
  w->tiles_x = cnnrt_divide_round_up(g->out_w, m);
  /* Output channels split only when images x row blocks give too few tasks. */
  const size_t panels = cnnrt_divide_round_up(state->out_channels, nr);
  const size_t per_tile = alpha * alpha * (g->in_channels + panels * nr);
  size_t rows = CONV_WINOGRAD_BUDGET_FLOATS / (per_tile * (w->tiles_x > 0 ? w->tiles_x : 1));
  const size_t rows_for_reuse = cnnrt_divide_round_up(CONV_WINOGRAD_MIN_TILES, w->tiles_x > 0 ? w->tiles_x : 1);
  if (rows < rows_for_reuse) rows = rows_for_reuse;
  if (rows > w->tiles_y) rows = w->tiles_y;
  plan->row_blocks = cnnrt_divide_round_up(w->tiles_y, rows);
  plan->tile_rows = cnnrt_divide_round_up(w->tiles_y, plan->row_blocks);
  /* As many tasks as threads, not more: each channel block transforms the
   * input again, and the weights stream from memory, which two threads
   * share (ResNet-50 at 2 threads 3% faster, ResNet-18 7%, than with twice
   * as many). */
  size_t blocks = 1;
  const size_t base_tasks = g->batch * plan->row_blocks, wanted = (size_t)(threads > 1 ? threads : 1);
  if (threads > 1 && base_tasks < wanted) blocks = cnnrt_divide_round_up(wanted, base_tasks > 0 ? base_tasks : 1);
  if (blocks > panels) blocks = panels;
  plan->channel_block = cnnrt_divide_round_up(panels, blocks) * nr;
  plan->channel_blocks = cnnrt_divide_round_up(state->out_channels, plan->channel_block);
  const size_t tiles_rounded = cnnrt_round_up(plan->tile_rows * w->tiles_x, mr);
  plan->v_floats = cnnrt_round_up(alpha * alpha * (tiles_rounded / mr * conv_winograd_panel_stride(g->in_channels, mr) + 16), 16);
  /* Elements 16 floats further apart than their rows need: the output
   * transform reads all alpha^2 of them at once, and with strides of a
   * power of two they would share one cache set. */
  plan->c_floats = cnnrt_round_up(alpha * alpha * (tiles_rounded * plan->channel_block + 16), 16);
  const size_t floats = plan->v_floats + plan->c_floats + cnnrt_f32_winograd_input_scratch_floats(w);
  plan->scratch_bytes = cnnrt_round_up(floats * sizeof(float), CNNRT_WORKSPACE_ALIGN);
}

static void conv_winograd_task(void* opaque, size_t begin, size_t end, int thread) {
  const conv_job* job = opaque;
  const conv_state* state = job->state;
  const conv_plan* plan = job->plan;
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  const cnnrt_winograd_geometry* w = &plan->winograd;
  const cnnrt_f32_gemm_config* gemm = state->gemm;
  const size_t alpha = w->m + 2, mr = gemm->mr, nr = gemm->nr, ic = g->in_channels;
  const size_t oc_rounded = cnnrt_round_up(state->out_channels, nr);
  float* v = cnnrt_thread_scratch(job->context, plan->scratch_bytes, thread);
  float* c = v + plan->v_floats;
  float* transform_scratch = c + plan->c_floats;
  for (size_t task = begin; task < end; task++) {
    const size_t block = task % plan->channel_blocks;
    const size_t row_block = task / plan->channel_blocks % plan->row_blocks;
    const size_t n = task / plan->channel_blocks / plan->row_blocks;
    const size_t ty0 = row_block * plan->tile_rows;
    const size_t ty1 = ty0 + plan->tile_rows < w->tiles_y ? ty0 + plan->tile_rows : w->tiles_y;
    const size_t tiles = (ty1 - ty0) * w->tiles_x;
    const size_t tiles_rounded = cnnrt_round_up(tiles, mr);
    const size_t oc0 = block * plan->channel_block;
    const size_t oc1 = oc0 + plan->channel_block < state->out_channels ? oc0 + plan->channel_block : state->out_channels;
    const size_t c_row = cnnrt_round_up(oc1 - oc0, nr);
    const size_t panel_stride = conv_winograd_panel_stride(ic, mr);
    const size_t v_stride = tiles_rounded / mr * panel_stride + 16, c_stride = tiles_rounded * c_row + 16;
    state->winograd->input(w, job->x + n * ic * g->in_h * g->in_w, ic, ty0, ty1, mr, v, v_stride, panel_stride,
                           transform_scratch);
    for (size_t e = 0; e < alpha * alpha; e++) {
      const float* u = state->packed_weights + e * ic * oc_rounded;
      for (size_t j = oc0; j < oc1; j += nr) {
        const size_t cols = oc1 - j < nr ? oc1 - j : nr;
        const float* b = u + (j / nr) * ic * nr;
        for (size_t t = 0; t < tiles; t += mr) {
          const size_t rows = tiles - t < mr ? tiles - t : mr;
          gemm->ukernel(rows, cols, ic, v + e * v_stride + t / mr * panel_stride, b, nr, c + e * c_stride + t * c_row + (j - oc0),
                        c_row);
        }
      }
    }
    const size_t plane = g->out_h * g->out_w;
    state->winograd->output(w, c, c_stride, c_row, oc1 - oc0, ty0, ty1,
                            job->y + (n * state->out_channels + oc0) * plane, transform_scratch);
    const size_t y0 = ty0 * w->m, y1 = ty1 * w->m < g->out_h ? ty1 * w->m : g->out_h;
    conv_epilogue(job, n, oc0, oc1 - oc0, y0 * g->out_w, (y1 - y0) * g->out_w);
  }
}

static void conv_gemm_task(void* opaque, size_t begin, size_t end, int thread) {
  const conv_job* job = opaque;
  const conv_state* state = job->state;
  const conv_plan* plan = job->plan;
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  const cnnrt_f32_gemm_config* gemm = state->gemm;
  const size_t mr = gemm->mr, nr = gemm->nr, k = plan->reduction;
  const size_t out_per_group = state->out_channels / state->groups;
  float* scratch = cnnrt_thread_scratch(job->context, plan->scratch_bytes, thread);
  for (size_t task = begin; task < end; task++) {
    size_t rest = task;
    const size_t block = rest % plan->channel_blocks;
    rest /= plan->channel_blocks;
    const size_t tile = rest % plan->tiles;
    rest /= plan->tiles;
    const size_t group = rest % g->groups;
    const size_t n = rest / g->groups;
    const size_t pixel0 = tile * plan->strips / plan->tiles * nr;
    const size_t pixel_end = (tile + 1) * plan->strips / plan->tiles * nr;
    const size_t pixels = (pixel_end < plan->pixels ? pixel_end : plan->pixels) - pixel0;
    const size_t oc_begin = block * plan->channel_block;
    const size_t oc_end = oc_begin + plan->channel_block < out_per_group ? oc_begin + plan->channel_block : out_per_group;
    const float* image = job->x + (n * g->in_channels + group * state->in_channels_per_group) * g->in_h * g->in_w;
    const float* packed_group = state->packed_weights + group * state->packed_group_floats;
    const int im2col = state->algorithm == CONV_IM2COL_GEMM;
    const size_t ragged = pixels % nr;
    if (im2col) {
      gemm->im2col(g, image, pixel0, pixels, nr, scratch);
    } else if (ragged != 0) {
      /* The 1x1 path reads B in place; its ragged last columns are packed
       * once so that the kernel can read full rows of nr. */
      cnnrt_f32_gemm_pack_b(k, ragged, image + pixel0 + pixels - ragged, plan->pixels, 1, nr, scratch);
    }
    const size_t rows_rounded = cnnrt_round_up(out_per_group, mr);
    cnnrt_f32_gemm_epilogue ep;
    int post_activation;
    conv_tile_epilogue(job, &ep, &post_activation);
    const cnnrt_epilogue* e = &job->node->epilogue;
    const cnnrt_f32_activation_rows_fn activation_rows =
        state->vector->activation_rows != NULL ? state->vector->activation_rows : cnnrt_f32_activation_rows_ref;
    const size_t k_block = conv_kc(k);
    for (size_t k0 = 0; k0 < k; k0 += k_block) {
      const size_t kc = k - k0 < k_block ? k - k0 : k_block;
      const int last = k0 + kc == k;
      const int fused = last && gemm->ukernel_ep != NULL;
      ep.accumulate = k0 != 0;
      /* Output channels in chunks whose weight panels (mc x kc) stay in L2
       * while the tile's B panels pass under them, each B panel staying in
       * L1 across the chunk's weight panels. */
      size_t mc = CONV_MC_FLOATS / kc / mr * mr;
      if (mc < mr) mc = mr;
      /* Strips in blocks whose B (kc x block) stays in L1 while each weight
       * panel runs over the block: the output rows of one panel are then
       * written in runs of the block (a few streams at a time) rather than a
       * cache line of every output channel per strip (a layer's 96-256 rows
       * are more streams than the prefetchers follow and pages than the L1
       * TLB holds; 16 -> 96 channels at 112 x 112 0.69 -> 0.64 ms, 64 -> 256
       * at 56 x 56 1.33 -> 1.22 ms on Zen 3, whole models 0.5-1.5% faster).
       * Large k leaves one strip per block: the order before. */
      size_t block_px = CONV_CM_BLOCK_BYTES / (kc * sizeof(float)) / nr * nr;
      if (block_px < nr) block_px = nr;
      for (size_t oc_chunk = oc_begin; oc_chunk < oc_end; oc_chunk += mc) {
        const size_t oc_chunk_end = oc_chunk + mc < oc_end ? oc_chunk + mc : oc_end;
        for (size_t jb = 0; jb < pixels; jb += block_px) {
          const size_t jb_end = pixels - jb < block_px ? pixels : jb + block_px;
          for (size_t oc = oc_chunk; oc < oc_chunk_end; oc += mr) {
            const size_t rows = oc_chunk_end - oc < mr ? oc_chunk_end - oc : mr;
            const float* a = packed_group + k0 * rows_rounded + oc * kc;
            const size_t channel = group * out_per_group + oc;
            for (size_t j = jb; j < jb_end; j += nr) {
              const size_t cols = pixels - j < nr ? pixels - j : nr;
              /* A last strip that fits the half-width tile runs it (same
               * weight panels, B read with the same stride): 196 pixels pad
               * to 208, not 224. */
              const cnnrt_f32_gemm_config* tile =
                  state->gemm_narrow != NULL && cols <= state->gemm_narrow->nr ? state->gemm_narrow : gemm;
              const float* b;
              size_t b_stride;
              if (im2col) {
                b = scratch + j * k + k0 * nr;
                b_stride = nr;
              } else if (cols == nr) {
                b = image + pixel0 + j + k0 * plan->pixels;
                b_stride = plan->pixels;
              } else {
                b = scratch + k0 * nr;
                b_stride = nr;
              }
              const size_t offset = (n * state->out_channels + channel) * plan->pixels + pixel0 + j;
              float* c = job->y + offset;
              if (!fused) {
                (k0 == 0 ? tile->ukernel : tile->ukernel_inc)(rows, cols, kc, a, b, b_stride, c, plan->pixels);
                if (last) conv_epilogue(job, n, channel, rows, pixel0 + j, cols);
                continue;
              }
              ep.bias = state->bias != NULL ? state->bias + channel : NULL;
              ep.residual = job->residual != NULL ? job->residual + offset : NULL;
              if (j + nr < pixels) {
                /* The next strip's residual (read) and output (written) rows
                 * of this panel: both usually miss every cache level (the
                 * residual was made a block ago). */
                for (size_t i = 0; i < rows; i++) {
                  if (ep.residual != NULL) {
                    __builtin_prefetch(ep.residual + i * plan->pixels + nr, 0, 3);
                    __builtin_prefetch(ep.residual + i * plan->pixels + nr + 16, 0, 3);
                  }
                  __builtin_prefetch(c + i * plan->pixels + nr, 1, 3);
                  __builtin_prefetch(c + i * plan->pixels + nr + 16, 1, 3);
                }
              }
              tile->ukernel_ep(rows, cols, kc, a, b, b_stride, c, plan->pixels, &ep);
              if (post_activation != CNNRT_ACT_NONE) {
                activation_rows(c, rows, cols, plan->pixels, post_activation, e->alpha, e->beta);
              }
            }
          }
        }
      }
    }
  }
}

/* Pixel-major GEMM: C[pixels x channels] = im2col(X)^T * W^T per task, in k
 * blocks (the C block stays in the thread's scratch), then the transposed
 * store with the epilogue. Each C element is one FMA chain in k order,
 * whatever the task split. */
/* Tile t's share (per_tile cache lines) of the next weight slice, into L2. */
static inline void conv_prefetch_panel(const char* next, size_t lines, size_t per_tile, size_t t) {
  if (next == NULL) return;
  const size_t end = (t + 1) * per_tile < lines ? (t + 1) * per_tile : lines;
  for (size_t l = t * per_tile; l < end; l++) __builtin_prefetch(next + l * 64, 0, 2);
}

static void conv_gemm_pm_task(void* opaque, size_t begin, size_t end, int thread) {
  const conv_job* job = opaque;
  const conv_state* state = job->state;
  const conv_plan* plan = job->plan;
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  const cnnrt_f32_gemm_config* gemm = plan->pm;
  const size_t mr = gemm->mr, nr = gemm->nr, k = plan->reduction;
  const size_t out_per_group = state->out_channels / state->groups;
  float* scratch = cnnrt_thread_scratch(job->context, plan->scratch_bytes, thread);
  float* panels = scratch;
  float* cblock = scratch + plan->pm_a_floats;
  const cnnrt_epilogue* e = &job->node->epilogue;
  const cnnrt_f32_transpose_epilogue_fn store =
      state->vector->transpose_epilogue != NULL ? state->vector->transpose_epilogue : cnnrt_f32_transpose_epilogue_ref;
  for (size_t task = begin; task < end; task++) {
    size_t rest = task;
    const size_t block = rest % plan->pm_oc_blocks;
    rest /= plan->pm_oc_blocks;
    const size_t tile_block = rest % plan->pm_tile_blocks;
    rest /= plan->pm_tile_blocks;
    const size_t group = rest % g->groups;
    const size_t n = plan->pm_direct ? job->image : rest / g->groups;
    /* The block's tiles [tile0, tile0 + tiles) and its pixels [pixel0,
     * pixel0 + pixels): tiles of mr pixels along the plane, or (direct)
     * along each output row, the last of a row shorter. */
    const size_t tile0 = tile_block * plan->pm_tile_block;
    if (tile0 >= plan->pm_tiles) continue;
    const size_t tiles = plan->pm_tiles - tile0 < plan->pm_tile_block ? plan->pm_tiles - tile0 : plan->pm_tile_block;
    size_t pixel0, pixels;
    if (plan->pm_direct) {
      const size_t last = tile0 + tiles - 1, last_x = last % plan->row_tiles * mr;
      pixel0 = tile0 / plan->row_tiles * g->out_w + tile0 % plan->row_tiles * mr;
      pixels = last / plan->row_tiles * g->out_w + last_x + (g->out_w - last_x < mr ? g->out_w - last_x : mr) - pixel0;
    } else {
      pixel0 = tile0 * mr;
      pixels = plan->pixels - pixel0 < tiles * mr ? plan->pixels - pixel0 : tiles * mr;
    }
    const size_t oc_begin = block * plan->pm_oc_block;
    const size_t oc_end = oc_begin + plan->pm_oc_block < out_per_group ? oc_begin + plan->pm_oc_block : out_per_group;
    /* Rows a cache line longer than a multiple of NR: 14 rows 2^k floats
     * apart would all fall in one L1 set. */
    const size_t ldc = cnnrt_round_up(oc_end - oc_begin, nr) + CONV_PM_ROW_PAD;
    const float* image = job->x + (n * g->in_channels + group * state->in_channels_per_group) * g->in_h * g->in_w;
    const float* packed_group = state->packed_pm + group * state->packed_pm_group_floats;
    const size_t window = g->kernel_h * g->kernel_w, plane = g->in_h * g->in_w;
    const size_t padded_plane = plan->padded_h * plan->padded_w;
    const float* padded = plan->pm_direct ? job->padded + group * state->in_channels_per_group * padded_plane : NULL;
    size_t* offsets = (size_t*)panels;
    if (plan->pm_direct) {
      /* Tap (channel, ky, kx) of a k block: its offset in the padded copy
       * from a tile's first input pixel in the block's first channel (the
       * same for every block). */
      size_t* o = offsets;
      for (size_t c = 0; c < plan->pm_chunk; c++) {
        for (size_t ky = 0; ky < g->kernel_h; ky++) {
          for (size_t kx = 0; kx < g->kernel_w; kx++) {
            *o++ = c * padded_plane + ky * g->dilation_h * plan->padded_w + kx * g->dilation_w;
          }
        }
      }
    }
    cnnrt_conv2d_geometry chunk = *g;
    chunk.groups = 1;
    for (size_t c0 = 0; c0 < state->in_channels_per_group; c0 += plan->pm_chunk) {
      chunk.in_channels = state->in_channels_per_group - c0 < plan->pm_chunk ? state->in_channels_per_group - c0
                                                                              : plan->pm_chunk;
      const size_t k0 = c0 * window, kc = chunk.in_channels * window;
      if (!plan->pm_direct) state->gemm->im2col(&chunk, image + c0 * plane, pixel0, pixels, mr, panels);
      /* The weight slice (kc x nr) stays in L1 across the block's tiles,
       * whose im2col slices (or input rows) and C tiles stay in L2 (the
       * block's budget). */
      for (size_t oc = oc_begin; oc < oc_end; oc += nr) {
        const size_t cols = oc_end - oc < nr ? oc_end - oc : nr;
        const float* b = packed_group + (oc / nr) * k * nr + k0 * nr;
        /* The next weight slice (the next panel's, same k block), a share
         * per tile into L2 while this slice runs: the panels of a layer's
         * weights are read once per task, usually from L3 (the model's
         * weights do not stay in L2 between runs), and the first tile of
         * each otherwise waited for them (MobileNetV2's 7 x 7 1x1 layers
         * 5-9% faster on Zen 3). */
        const char* next = oc + nr < oc_end ? (const char*)(b + k * nr) : NULL;
        const size_t next_lines = kc * nr * sizeof(float) / 64, per_tile = next_lines / tiles + 1;
        if (plan->pm_direct) {
          const cnnrt_f32_igemm_ukernel_fn ukernel =
              k0 == 0 ? gemm->igemm[g->stride_w - 1] : gemm->igemminc[g->stride_w - 1];
          for (size_t t = tile0; t < tile0 + tiles; t++) {
            conv_prefetch_panel(next, next_lines, per_tile, t - tile0);
            const size_t oy = t / plan->row_tiles, ox = t % plan->row_tiles * mr;
            const size_t rows = g->out_w - ox < mr ? g->out_w - ox : mr;
            const float* base = padded + c0 * padded_plane + oy * g->stride_h * plan->padded_w + ox * g->stride_w;
            float* c = cblock + (oy * g->out_w + ox - pixel0) * ldc + (oc - oc_begin);
            ukernel(rows, cols, kc, base, offsets, b, nr, c, ldc);
          }
        } else {
          const cnnrt_f32_gemm_ukernel_fn ukernel = k0 == 0 ? gemm->ukernel : gemm->ukernel_inc;
          for (size_t t = 0; t < tiles; t++) {
            const size_t rows = pixels - t * mr < mr ? pixels - t * mr : mr;
            conv_prefetch_panel(next, next_lines, per_tile, t);
            ukernel(rows, cols, kc, panels + t * kc * mr, b, nr, cblock + t * mr * ldc + (oc - oc_begin), ldc);
          }
        }
      }
    }
    const size_t channel = group * out_per_group + oc_begin;
    const size_t offset = (n * state->out_channels + channel) * plan->pixels + pixel0;
    store(cblock, ldc, pixels, oc_end - oc_begin, job->y + offset, plan->pixels,
          state->bias != NULL ? state->bias + channel : NULL, job->residual != NULL ? job->residual + offset : NULL,
          e->activation, e->alpha, e->beta);
  }
}

/* The direct path's zero-padded copy of image job->image: channels [begin,
 * end), each padded_h x padded_w with the input at (pad_top, pad_left). */
static void conv_pad_task(void* opaque, size_t begin, size_t end, int thread) {
  const conv_job* job = opaque;
  const conv_plan* plan = job->plan;
  const cnnrt_conv2d_geometry* g = &plan->geometry;
  const size_t pad_top = (size_t)g->pad_top, pad_left = (size_t)g->pad_left;
  const size_t copy = plan->padded_w > pad_left ? (g->in_w < plan->padded_w - pad_left ? g->in_w
                                                                                        : plan->padded_w - pad_left)
                                                : 0;
  for (size_t c = begin; c < end; c++) {
    const float* plane = job->x + (job->image * g->in_channels + c) * g->in_h * g->in_w;
    float* out = job->padded + c * plan->padded_h * plan->padded_w;
    for (size_t r = 0; r < plan->padded_h; r++, out += plan->padded_w) {
      if (r < pad_top || r - pad_top >= g->in_h || copy == 0) {
        memset(out, 0, plan->padded_w * sizeof(float));
        continue;
      }
      memset(out, 0, pad_left * sizeof(float)); /* copy > 0: pad_left < padded_w */
      memcpy(out + pad_left, plane + (r - pad_top) * g->in_w, copy * sizeof(float));
      memset(out + pad_left + copy, 0, (plan->padded_w - pad_left - copy) * sizeof(float));
    }
  }
  (void)thread;
}

static void conv_direct_task(void* opaque, size_t begin, size_t end, int thread) {
  const conv_job* job = opaque;
  const conv_state* state = job->state;
  const cnnrt_conv2d_geometry* g = &job->plan->geometry;
  if (job->plan->simd_depthwise) {
    const cnnrt_epilogue* e = &job->node->epilogue;
    const cnnrt_f32_epilogue_params params = {state->bias, job->residual, e->activation, e->alpha, e->beta};
    float* scratch = cnnrt_thread_scratch(job->context, job->plan->scratch_bytes, thread);
    for (size_t task = begin; task < end;) {
      const size_t n = task / state->out_channels, oc = task % state->out_channels;
      const size_t count = end - task < state->out_channels - oc ? end - task : state->out_channels - oc;
      state->vector->dwconv2d(g, job->x, state->weights, &params, job->y, n, oc, oc + count, scratch);
      task += count;
    }
    return;
  }
  for (size_t task = begin; task < end; task++) {
    const size_t n = task / state->out_channels, oc = task % state->out_channels;
    if (state->algorithm == CONV_DEPTHWISE) {
      cnnrt_f32_dwconv2d_ref(g, job->x, state->weights, NULL, job->y, n, oc, oc + 1);
    } else {
      cnnrt_f32_conv2d_direct_ref(g, job->x, state->weights, NULL, job->y, n, oc, oc + 1);
    }
    conv_epilogue(job, n, oc, 1, 0, job->plan->pixels);
  }
}

static void conv_run(const cnnrt_run_context* context, const cnnrt_node* node, const void* opaque,
                     const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs) {
  const conv_state* state = opaque;
  conv_plan plan;
  if (conv_plan_make(node, state, &inputs[0].shape, context->threads, &plan) != CNNRT_OK) return;
  conv_job job = {
      .context = context,
      .node = node,
      .state = state,
      .plan = &plan,
      .x = inputs[0].data,
      .residual = node->epilogue.residual ? inputs[node->input_count - 1].data : NULL,
      .y = outputs[0].data,
  };
  const cnnrt_conv2d_geometry* g = &plan.geometry;
  if (plan.pixels == 0 || g->batch == 0) return;
  if (state->algorithm == CONV_WINOGRAD) {
    size_t tasks = g->batch * plan.row_blocks * plan.channel_blocks;
    cnnrt_parallel_for(context->pool, tasks, 1, conv_winograd_task, &job);
  } else if (plan.gemv) {
    cnnrt_parallel_gemv(context, state->vector->gemv, state->weights, state->out_channels, g->in_channels, g->batch,
                        job.x, state->bias, job.residual, &node->epilogue, job.y);
  } else if (plan.pm_direct) {
    job.padded = (float*)((char*)context->workspace + plan.scratch_bytes * (size_t)(context->threads > 1 ? context->threads : 1));
    for (size_t n = 0; n < g->batch; n++) {
      job.image = n;
      cnnrt_parallel_for(context->pool, g->in_channels, cnnrt_task_grain(g->in_channels, context->threads, 1),
                         conv_pad_task, &job);
      size_t tasks = g->groups * plan.pm_tile_blocks * plan.pm_oc_blocks;
      cnnrt_parallel_for(context->pool, tasks, 1, conv_gemm_pm_task, &job);
    }
  } else if (plan.pixel_major) {
    size_t tasks = g->batch * g->groups * plan.pm_tile_blocks * plan.pm_oc_blocks;
    cnnrt_parallel_for(context->pool, tasks, 1, conv_gemm_pm_task, &job);
  } else if (state->algorithm == CONV_IM2COL_GEMM || state->algorithm == CONV_GEMM_1X1) {
    size_t tasks = g->batch * g->groups * plan.tiles * plan.channel_blocks;
    cnnrt_parallel_for(context->pool, tasks, 1, conv_gemm_task, &job);
  } else {
    size_t tasks = g->batch * g->out_channels;
    size_t grain = cnnrt_task_grain(tasks, context->threads, 1);
    /* The SIMD depthwise kernels block channels 8 (AVX2) or 16 (AVX-512) to
     * a vector: chunks of 16 keep the blocks whole (chunks of 12 at two
     * threads left MobileNetV2's depthwise layers no faster than at one);
     * where that leaves a thread without a chunk, chunks of the kernel's own
     * block (MobileNetV3-L's 16 channels at 112 x 112: one task of 16 before,
     * two of 8 now at two threads). */
    if (plan.simd_depthwise) {
      const size_t block = state->vector->dwconv2d_block != 0 ? state->vector->dwconv2d_block : 16;
      grain = cnnrt_round_up(grain, 16);
      if (cnnrt_divide_round_up(tasks, grain) < (size_t)context->threads) {
        grain = cnnrt_round_up(cnnrt_divide_round_up(tasks, (size_t)context->threads), block);
      }
    }
    cnnrt_parallel_for(context->pool, tasks, grain, conv_direct_task, &job);
  }
}

const cnnrt_op_def cnnrt_op_conv = {
    .code = 1,
    .name = "Conv",
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .epilogue = CNNRT_EPILOGUE_FULL,
    .in_place = 0,
    .create = conv_create,
    .destroy = conv_destroy,
    .reshape = conv_reshape,
    .run = conv_run,
};
