/*
 * Reference (plain C) kernels: the oracle every faster variant is tested
 * against, and the path that runs on any CPU. Names follow
 * cnnrt_<dtype>_<op>_<variant>__<isa> (docs: /work/shared/STYLE.md).
 */
#ifndef CNNRT_KERNELS_H
#define CNNRT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM --------------------------------------------------------------
 * C[mr x nr] = A_panel * B for one register tile. a_packed holds an MR-row
 * panel of A, k-major: a_packed[k * MR + i] (rows past the matrix edge are
 * zero). b points at B's first column of the tile; row k of the tile starts
 * at b + k * b_stride (b_stride = NR for a packed panel, the matrix row
 * length when B is read in place). The kernel always reads a full MR x NR
 * tile of operands and writes only mr x nr results. Each C element is summed
 * in k order from zero, whatever the tile it lands in, so results do not
 * depend on how work is split between threads. */
typedef void (*cnnrt_f32_gemm_ukernel_fn)(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride);
/* The same product with A read from an image (convolutions without im2col):
 * k step j takes row i's value at a_base[a_offsets[j] + i * S] for the
 * kernel's stride S; otherwise the gemm / gemminc contract. */
typedef void (*cnnrt_f32_igemm_ukernel_fn)(size_t mr, size_t nr, size_t k, const float* a_base,
                                           const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                           size_t c_stride);

/* The fused epilogue a gemmep microkernel applies in registers before its
 * store: C = clamp(((A*B [+ C when accumulate]) + bias[i]) + residual, min, max),
 * each step only when given (bias NULL or bias[i] == 0: no add, as
 * cnnrt_f32_epilogue_ref). The clamp is the reference's comparisons
 * (x < min ? min : x, then x > max ? max : x: NaN passes), so none, Relu
 * (min 0, max inf) and Clip come out bit for bit as the reference epilogue. */
typedef struct cnnrt_f32_gemm_epilogue {
  const float* bias;      /* bias[i] for tile row i (rows < mr are read), or NULL */
  const float* residual;  /* laid out like C (same c_stride), or NULL */
  float min, max;
  int accumulate;         /* 1: chains start from the values in C (the last of several k blocks) */
} cnnrt_f32_gemm_epilogue;
typedef void (*cnnrt_f32_gemmep_ukernel_fn)(size_t mr, size_t nr, size_t k, const float* a_packed,
                                            const float* b, size_t b_stride, float* c, size_t c_stride,
                                            const cnnrt_f32_gemm_epilogue* ep);

struct cnnrt_conv2d_geometry;
/* im2col of a pixel range into packed-B panels of nr columns (see
 * cnnrt_f32_im2col_packed_ref, the reference every variant must match exactly). */
typedef void (*cnnrt_f32_im2col_fn)(const struct cnnrt_conv2d_geometry* geometry, const float* x,
                                    size_t pixel_begin, size_t pixels, size_t nr, float* packed);

typedef struct cnnrt_f32_gemm_config {
  cnnrt_f32_gemm_ukernel_fn ukernel;
  cnnrt_f32_im2col_fn im2col; /* the packing routine that feeds it B panels from an image */
  uint32_t mr, nr;
  const char* isa;   /* "scalar", "avx2", "avx512", "neon" */
  const char* name;  /* tile and ISA, "8x32_avx512": goes into kernel names ops report */
  int level;         /* the cnnrt_isa_level (core/cpu.h) the kernel needs */
  int preferred;     /* 1: the variant its level uses */
  /* The same tile whose FMA chains start from the values in C: the k blocks
   * after the first of a k-blocked product (cnnrt_f32_gemminc_ukernel_*). */
  cnnrt_f32_gemm_ukernel_fn ukernel_inc;
  /* The same tile with the fused epilogue in registers (NULL: the caller
   * runs the epilogue over C afterwards). */
  cnnrt_f32_gemmep_ukernel_fn ukernel_ep;
  /* Indirect variants for horizontal strides 1 and 2 ([stride - 1]; NULL
   * where the tile has none): igemm from zero, igemminc continuing C. */
  cnnrt_f32_igemm_ukernel_fn igemm[2], igemminc[2];
  /* 1: the tile its level uses for pixel-major products (rows = pixels). */
  int pixel_major;
  /* Pixel-major tiles: 1x1 convolutions whose reduction and output channels
   * are both at least this take the pixel-major path where its tiles pad no
   * more than the channel-major ones (0: only where they pad clearly less).
   * Measured per level (see conv_use_pixel_major). */
  int pointwise_min;
} cnnrt_f32_gemm_config;

void cnnrt_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nr, size_t k, const float* a_packed,
                                        const float* b, size_t b_stride, float* c, size_t c_stride);
/* Generated from gen/f32-gemm.c.in (gen/gen_gemm.py); x86-64 only. */
void cnnrt_f32_gemm_ukernel_6x16__avx2(size_t mr, size_t nr, size_t k, const float* a_packed,
                                       const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_5x16__avx2(size_t mr, size_t nr, size_t k, const float* a_packed,
                                       const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_6x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_7x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_8x16__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_8x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_12x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride);

/* gemminc: C[mr x nr] += A_panel * B, continuing each element's FMA chain
 * from the value in C (rows past mr and columns past nr are neither read nor
 * written), so that gemm over k = k1 + k2 equals gemm over k1 then gemminc
 * over k2, bit for bit. */
void cnnrt_f32_gemminc_ukernel_4x8__scalar(size_t mr, size_t nr, size_t k, const float* a_packed,
                                           const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_6x16__avx2(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_5x16__avx2(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_6x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                            const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_7x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                            const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_8x16__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                            const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_8x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                            const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_12x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                             const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                             const float* b, size_t b_stride, float* c, size_t c_stride);

/* gemmep: gemm (gemminc when ep->accumulate) + the fused epilogue (cnnrt_f32_gemm_epilogue). */
void cnnrt_f32_gemmep_ukernel_4x8__scalar(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride,
                                          const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_6x16__avx2(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride,
                                         const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_5x16__avx2(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride,
                                         const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_6x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                           const float* b, size_t b_stride, float* c, size_t c_stride,
                                           const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_7x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                           const float* b, size_t b_stride, float* c, size_t c_stride,
                                           const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_8x16__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                           const float* b, size_t b_stride, float* c, size_t c_stride,
                                           const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_8x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                           const float* b, size_t b_stride, float* c, size_t c_stride,
                                           const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_12x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                            const float* b, size_t b_stride, float* c, size_t c_stride,
                                            const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_gemmep_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                            const float* b, size_t b_stride, float* c, size_t c_stride,
                                            const cnnrt_f32_gemm_epilogue* ep);
void cnnrt_f32_igemm_s1_ukernel_5x16__avx2(size_t mr, size_t nr, size_t k, const float* a_base,
                                           const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                           size_t c_stride);
void cnnrt_f32_igemminc_s1_ukernel_5x16__avx2(size_t mr, size_t nr, size_t k, const float* a_base,
                                              const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                              size_t c_stride);
void cnnrt_f32_igemm_s2_ukernel_5x16__avx2(size_t mr, size_t nr, size_t k, const float* a_base,
                                           const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                           size_t c_stride);
void cnnrt_f32_igemminc_s2_ukernel_5x16__avx2(size_t mr, size_t nr, size_t k, const float* a_base,
                                              const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                              size_t c_stride);
void cnnrt_f32_igemm_s1_ukernel_7x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                             const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                             size_t c_stride);
void cnnrt_f32_igemminc_s1_ukernel_7x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                                const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                                size_t c_stride);
void cnnrt_f32_igemm_s2_ukernel_7x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                             const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                             size_t c_stride);
void cnnrt_f32_igemminc_s2_ukernel_7x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                                const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                                size_t c_stride);
void cnnrt_f32_igemm_s1_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                              const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                              size_t c_stride);
void cnnrt_f32_igemminc_s1_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                                 const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                                 size_t c_stride);
void cnnrt_f32_igemm_s2_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                              const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                              size_t c_stride);
void cnnrt_f32_igemminc_s2_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_base,
                                                 const size_t* a_offsets, const float* b, size_t b_stride, float* c,
                                                 size_t c_stride);

/* aarch64 NEON kernels (files *-neon.c, built for aarch64 only). The GEMM
 * tiles are generated from gen/f32-gemm-neon.c.in; the depthwise and epilogue
 * kernels follow the cnnrt_f32_dwconv2d_fn / cnnrt_f32_epilogue_fn contracts
 * below, bit-exact with the reference epilogue for every activation. */
void cnnrt_f32_gemm_ukernel_8x8__neon(size_t mr, size_t nr, size_t k, const float* a_packed, const float* b,
                                      size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_8x8__neon(size_t mr, size_t nr, size_t k, const float* a_packed, const float* b,
                                         size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_6x16__neon(size_t mr, size_t nr, size_t k, const float* a_packed, const float* b,
                                       size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemminc_ukernel_6x16__neon(size_t mr, size_t nr, size_t k, const float* a_packed, const float* b,
                                          size_t b_stride, float* c, size_t c_stride);
struct cnnrt_f32_epilogue_params;
void cnnrt_f32_dwconv2d__neon(const struct cnnrt_conv2d_geometry* geometry, const float* x, const float* w,
                              const struct cnnrt_f32_epilogue_params* epilogue, float* y, size_t n, size_t oc_begin,
                              size_t oc_end, float* scratch);
void cnnrt_f32_epilogue__neon(float* y, size_t n, float bias, const float* residual, int activation, float alpha,
                              float beta);

/* The GEMM configuration ops use: the preferred variant of the ISA level
 * cnnrt_cpu_level() reports, chosen once (thread-safe) on first use. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_get(void);
/* The preferred variant of one level (cnnrt_isa_level); the scalar one when
 * that level has none. Does not check that the CPU supports the level. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_for_level(int level);
/* The variant for pixel-major products (rows = output pixels, columns =
 * output channels, ops/conv.c on small planes): 14x32 with AVX-512, else the
 * level's preferred tile. Chosen from the level alone. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major(void);
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major_for_level(int level);
/* Its half-height twin for planes whose pixel count is an odd multiple of 7
 * (7 x 7 = 49 rows: seven whole 7x32 tiles instead of four 14-row tiles, one
 * half padding): 7x32 with AVX-512, else the pixel-major variant itself. The
 * same NR, so both read the same packed weights. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_pixel_major_short_for_level(int level);
/* The half-width twin of `config` (same MR and level, NR / 2: 8x16 for
 * 8x32), for the last pixel strip of a plane when it fits; NULL if none. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_narrow(const cnnrt_f32_gemm_config* config);
/* All variants this build has (for tests and benchmarks): *table and the count. */
size_t cnnrt_f32_gemm_variants(const cnnrt_f32_gemm_config** table);

/* Packs rows [0, m) of A (element (i, k) at a[i * row_stride + k * col_stride])
 * into ceil(m / mr) panels of mr * k floats, zero-padding the last panel. */
void cnnrt_f32_gemm_pack_a(size_t m, size_t k, const float* a, size_t row_stride, size_t col_stride,
                           size_t mr, float* packed);
/* Packs columns [0, n) of B (element (k, j) at b[k * row_stride + j * col_stride])
 * into ceil(n / nr) panels of k * nr floats, zero-padding the last panel. */
void cnnrt_f32_gemm_pack_b(size_t k, size_t n, const float* b, size_t row_stride, size_t col_stride,
                           size_t nr, float* packed);
static inline size_t cnnrt_f32_gemm_packed_a_floats(size_t m, size_t k, size_t mr) {
  return (m + mr - 1) / mr * mr * k;
}
static inline size_t cnnrt_f32_gemm_packed_b_floats(size_t k, size_t n, size_t nr) {
  return (n + nr - 1) / nr * nr * k;
}

/* ---- convolution geometry (1-D convs use in_h = out_h = kernel_h = 1) --- */
typedef struct cnnrt_conv2d_geometry {
  size_t batch, groups;
  size_t in_channels, in_h, in_w;
  size_t out_channels, out_h, out_w;
  size_t kernel_h, kernel_w;
  size_t stride_h, stride_w;
  size_t dilation_h, dilation_w;
  ptrdiff_t pad_top, pad_left; /* ConvTranspose: the pads cropped from the full output */
} cnnrt_conv2d_geometry;

/* im2col of one group of image x (x points at the group's first channel) for
 * output pixels [pixel_begin, pixel_begin + pixels), written straight into
 * packed-B panels of nr columns: rows are (channel, ky, kx) in W's order. */
void cnnrt_f32_im2col_packed_ref(const cnnrt_conv2d_geometry* geometry, const float* x,
                                 size_t pixel_begin, size_t pixels, size_t nr, float* packed);
/* The same with AVX-512 masked loads (x86-64 with AVX-512 F/BW/VL/DQ only). */
void cnnrt_f32_im2col_packed__avx512(const cnnrt_conv2d_geometry* geometry, const float* x,
                                     size_t pixel_begin, size_t pixels, size_t nr, float* packed);

/* Plain direct convolution (the oracle): output channels [oc_begin, oc_end)
 * of image n; y points at the whole output tensor. bias may be NULL. */
void cnnrt_f32_conv2d_direct_ref(const cnnrt_conv2d_geometry* geometry, const float* x, const float* w,
                                 const float* bias, float* y, size_t n, size_t oc_begin, size_t oc_end);
/* Depthwise convolution (groups == in_channels, out_channels = groups * multiplier):
 * output channels [oc_begin, oc_end) of image n. */
void cnnrt_f32_dwconv2d_ref(const cnnrt_conv2d_geometry* geometry, const float* x, const float* w,
                            const float* bias, float* y, size_t n, size_t oc_begin, size_t oc_end);
/* Transposed convolution: output channels [oc_begin, oc_end) of image n.
 * W is [in_channels, out_channels / groups, kh, kw]. */
void cnnrt_f32_deconv2d_ref(const cnnrt_conv2d_geometry* geometry, const float* x, const float* w,
                            const float* bias, float* y, size_t n, size_t oc_begin, size_t oc_end);

/* ---- element-wise ------------------------------------------------------ */
/* y[i] = activation(y[i] + bias + residual[i]); residual may be NULL. Same
 * arithmetic as adding then calling cnnrt_f32_activation_ref. */
void cnnrt_f32_epilogue_ref(float* y, size_t n, float bias, const float* residual, int activation,
                            float alpha, float beta);

/* ---- FMA throughput loops (cnnrt_cpu_fma_peak_gflops) ------------------
 * Run `iterations` rounds of independent FMA chains; return the FLOPs done. */
uint64_t cnnrt_f32_fma_loop__avx512(uint64_t iterations, float* sink);
uint64_t cnnrt_f32_fma_loop__avx2(uint64_t iterations, float* sink);


/* ---- pooling -------------------------------------------------------------
 * One 2-D plane (1-D pools are planes of height 1), dilation 1. pad_* are the
 * explicit pads: taps in them count for average pooling with
 * count_include_pad; taps past them (ceil_mode) never count. Max pooling:
 * NaN wins; a window with no input tap gives -inf. Average pooling: the sum
 * over input taps divided by the tap count (0 when that is 0); the sum's
 * order may differ from the reference by rounding. */
typedef struct cnnrt_pool2d_geometry {
  size_t in_h, in_w, out_h, out_w;
  size_t kernel_h, kernel_w, stride_h, stride_w;
  ptrdiff_t pad_top, pad_left, pad_bottom, pad_right;
  int count_include_pad;
} cnnrt_pool2d_geometry;

enum { CNNRT_POOL2D_MAX = 0, CNNRT_POOL2D_AVERAGE = 1 };

/* Widest padded input row the SIMD pool kernels take: they keep one row of
 * reductions on the stack. */
#define CNNRT_F32_POOL2D_MAX_ROW 2048

typedef void (*cnnrt_f32_pool2d_fn)(const cnnrt_pool2d_geometry* geometry, int kind, const float* x, float* y);
/* y[p] = mean of the `plane` floats of plane p, for p in [0, planes). */
typedef void (*cnnrt_f32_global_average_fn)(const float* x, size_t plane, size_t planes, float* y);

typedef struct cnnrt_f32_pool_config {
  cnnrt_f32_pool2d_fn pool2d;           /* NULL: the op's reference loops */
  cnnrt_f32_global_average_fn global_average; /* NULL: the op's reference loop */
  const char* name;                     /* "avx512" */
} cnnrt_f32_pool_config;

/* Which geometries pool2d takes: stride_w 1 or 2, a padded row that fits
 * CNNRT_F32_POOL2D_MAX_ROW. Others use the op's reference loops. */
static inline int cnnrt_f32_pool2d_supports(const cnnrt_pool2d_geometry* g) {
  const size_t row = (g->out_w + 16) * g->stride_w + g->kernel_w + 32;
  return (g->stride_w == 1 || g->stride_w == 2) && g->kernel_w <= 64 && row <= CNNRT_F32_POOL2D_MAX_ROW &&
         g->out_w <= CNNRT_F32_POOL2D_MAX_ROW;
}

void cnnrt_f32_pool2d__avx512(const cnnrt_pool2d_geometry* geometry, int kind, const float* x, float* y);
void cnnrt_f32_global_average__avx512(const float* x, size_t plane, size_t planes, float* y);

/* The pool configuration of the cnnrt_cpu_level() (no SIMD kernels: NULLs). */
const cnnrt_f32_pool_config* cnnrt_f32_pool_config_get(void);
const cnnrt_f32_pool_config* cnnrt_f32_pool_config_for_level(int level);

/* ---- fused epilogue --------------------------------------------------------
 * What follows a convolution's sum: y = activation(y + bias + residual). */
typedef struct cnnrt_f32_epilogue_params {
  const float* bias;      /* per output channel, or NULL */
  const float* residual;  /* laid out like y, or NULL */
  int activation;         /* cnnrt_activation */
  float alpha, beta;
} cnnrt_f32_epilogue_params;

/* Same contract as cnnrt_f32_epilogue_ref: the same arithmetic, so results
 * equal it exactly for the activations without transcendental functions and
 * are within a few ulp for the others (f32-activation-avx512.h). */
typedef void (*cnnrt_f32_epilogue_fn)(float* y, size_t n, float bias, const float* residual, int activation,
                                      float alpha, float beta);
void cnnrt_f32_epilogue__avx512(float* y, size_t n, float bias, const float* residual, int activation, float alpha,
                                float beta);

/* ---- transposed store with the fused epilogue ------------------------------
 * For pixel-major products: c holds `rows` pixels x `cols` channels (row i at
 * c + i * ldc); channel j of the result goes to y + j * y_stride, pixel i at
 * [i], as y[j][i] = activation(c[i][j] + bias[j] + residual[j][i]) with the
 * reference epilogue's arithmetic (bias or residual NULL: not added; bias[j]
 * == 0: not added). Exact for the activations without transcendental
 * functions, within a few ulp for the others. */
typedef void (*cnnrt_f32_transpose_epilogue_fn)(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                                size_t y_stride, const float* bias, const float* residual,
                                                int activation, float alpha, float beta);
void cnnrt_f32_transpose_epilogue_ref(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                      size_t y_stride, const float* bias, const float* residual, int activation,
                                      float alpha, float beta);
void cnnrt_f32_transpose_epilogue__avx512(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                          size_t y_stride, const float* bias, const float* residual,
                                          int activation, float alpha, float beta);
void cnnrt_f32_transpose_epilogue__avx2(const float* c, size_t ldc, size_t rows, size_t cols, float* y,
                                        size_t y_stride, const float* bias, const float* residual, int activation,
                                        float alpha, float beta);

/* ---- matrix-vector product (1x1 convolutions on 1x1 planes) ---------------
 * y[i] = epilogue(W[i, :] . x) for rows [row_begin, row_end) of the row-major
 * W [rows x k]; the epilogue as cnnrt_f32_epilogue_ref with bias[i] and
 * residual[i] per row (NULL: not added). The SIMD kernels sum each row in a
 * fixed order of their own (lanes, then a fixed tree), the same whatever the
 * row range. */
typedef void (*cnnrt_f32_gemv_fn)(const float* w, size_t k, const float* x, const cnnrt_f32_epilogue_params* epilogue,
                                  float* y, size_t row_begin, size_t row_end);
void cnnrt_f32_gemv_ref(const float* w, size_t k, const float* x, const cnnrt_f32_epilogue_params* epilogue, float* y,
                        size_t row_begin, size_t row_end);
void cnnrt_f32_gemv__avx512(const float* w, size_t k, const float* x, const cnnrt_f32_epilogue_params* epilogue,
                            float* y, size_t row_begin, size_t row_end);
void cnnrt_f32_gemv__avx2(const float* w, size_t k, const float* x, const cnnrt_f32_epilogue_params* epilogue,
                          float* y, size_t row_begin, size_t row_end);

/* ---- depthwise convolution ------------------------------------------------
 * Direct depthwise convolution (groups == in_channels) of output channels
 * [oc_begin, oc_end) of image n, with the fused epilogue; y and the residual
 * point at whole tensors (y aliases neither x nor the residual). scratch holds
 * cnnrt_f32_dwconv2d_scratch_floats() floats (zero-padded copies of input
 * rows; the AVX-512 and AVX2 layouts are in f32-dwconv2d-layout.h). Each
 * output sums its taps in (ky, kx) order with fused multiply-adds from zero,
 * a tap over the padding adding 0 * w, and is the same whatever [oc_begin,
 * oc_end) it was computed in. */
typedef void (*cnnrt_f32_dwconv2d_fn)(const cnnrt_conv2d_geometry* geometry, const float* x, const float* w,
                                      const cnnrt_f32_epilogue_params* epilogue, float* y, size_t n,
                                      size_t oc_begin, size_t oc_end, float* scratch);
void cnnrt_f32_dwconv2d__avx512(const cnnrt_conv2d_geometry* geometry, const float* x, const float* w,
                                const cnnrt_f32_epilogue_params* epilogue, float* y, size_t n, size_t oc_begin,
                                size_t oc_end, float* scratch);
/* Which geometries the SIMD depthwise kernels take: dilation 1, stride_w 1 or 2. */
int cnnrt_f32_dwconv2d_supports(const cnnrt_conv2d_geometry* geometry);
size_t cnnrt_f32_dwconv2d_scratch_floats(const cnnrt_conv2d_geometry* geometry);

/* ---- activations alone (unary ops) ----------------------------------------
 * y[i] = activation(x[i]) for i in [0, n); y may equal x. Within a few ulp of
 * cnnrt_f32_activation_ref (exact for those without transcendental functions). */
typedef void (*cnnrt_f32_activation_fn)(const float* x, float* y, size_t n, int activation, float alpha, float beta);
void cnnrt_f32_activation__avx512(const float* x, float* y, size_t n, int activation, float alpha, float beta);
/* In place over `rows` rows of `cols` floats, row r at y + r * stride: what a
 * GEMM tile needs after its store (one call and one dispatch per tile rather
 * than per row of a few vectors). The same values as the activation_fn. */
typedef void (*cnnrt_f32_activation_rows_fn)(float* y, size_t rows, size_t cols, size_t stride, int activation,
                                             float alpha, float beta);
void cnnrt_f32_activation_rows__avx512(float* y, size_t rows, size_t cols, size_t stride, int activation, float alpha,
                                       float beta);
void cnnrt_f32_activation_rows_ref(float* y, size_t rows, size_t cols, size_t stride, int activation, float alpha,
                                   float beta);

/* ---- element-wise binary ops ----------------------------------------------
 * y[i] = a[i * a_step] op b[i * b_step] for i in [0, n), steps 0 or 1, one
 * IEEE operation per element (Max / Min: NaN in either input gives NaN, as
 * ops/binary.c), so equal to the plain loops bit for bit. y may alias a or b. */
enum {
  CNNRT_F32_VBINARY_ADD = 0,
  CNNRT_F32_VBINARY_SUB,
  CNNRT_F32_VBINARY_MUL,
  CNNRT_F32_VBINARY_DIV,
  CNNRT_F32_VBINARY_MAX,
  CNNRT_F32_VBINARY_MIN
};
typedef void (*cnnrt_f32_vbinary_fn)(int op, float* y, const float* a, size_t a_step, const float* b, size_t b_step,
                                     size_t n);
void cnnrt_f32_vbinary__avx512(int op, float* y, const float* a, size_t a_step, const float* b, size_t b_step,
                               size_t n);

/* Element-wise and depthwise kernels of one ISA level (NULL: use the reference). */
typedef struct cnnrt_f32_vector_config {
  cnnrt_f32_epilogue_fn epilogue;
  cnnrt_f32_dwconv2d_fn dwconv2d;
  cnnrt_f32_activation_fn activation;
  cnnrt_f32_vbinary_fn binary;
  const char* name;  /* "avx512" */
  cnnrt_f32_transpose_epilogue_fn transpose_epilogue; /* NULL: the reference */
  cnnrt_f32_gemv_fn gemv;                               /* NULL: 1x1 planes take the GEMM path */
  cnnrt_f32_activation_rows_fn activation_rows;         /* NULL: `activation` row by row */
  /* Channels per vector of dwconv2d's channel-blocked loop (8 for AVX2): a
   * task's channel range need only be a multiple of it (0: 16). */
  size_t dwconv2d_block;
} cnnrt_f32_vector_config;

const cnnrt_f32_vector_config* cnnrt_f32_vector_config_get(void);
const cnnrt_f32_vector_config* cnnrt_f32_vector_config_for_level(int level);

/* ---- AVX2 + FMA variants (x86-64; CNNRT_ISA_AVX2) -------------------------
 * Each has the contract of its AVX-512 sibling above and is tested the same
 * way (native/tests/test_kernels.c): im2col equal to the reference exactly,
 * pools, depthwise, epilogue and activations within the same bounds (the
 * activations of f32-activation-avx2.h give the same bits as the AVX-512
 * ones), binary ops bit-exact. */
void cnnrt_f32_im2col_packed__avx2(const cnnrt_conv2d_geometry* geometry, const float* x, size_t pixel_begin,
                                   size_t pixels, size_t nr, float* packed);
void cnnrt_f32_pool2d__avx2(const cnnrt_pool2d_geometry* geometry, int kind, const float* x, float* y);
void cnnrt_f32_global_average__avx2(const float* x, size_t plane, size_t planes, float* y);
void cnnrt_f32_epilogue__avx2(float* y, size_t n, float bias, const float* residual, int activation, float alpha,
                              float beta);
void cnnrt_f32_activation__avx2(const float* x, float* y, size_t n, int activation, float alpha, float beta);
void cnnrt_f32_activation_rows__avx2(float* y, size_t rows, size_t cols, size_t stride, int activation, float alpha,
                                     float beta);
void cnnrt_f32_dwconv2d__avx2(const cnnrt_conv2d_geometry* geometry, const float* x, const float* w,
                              const cnnrt_f32_epilogue_params* epilogue, float* y, size_t n, size_t oc_begin,
                              size_t oc_end, float* scratch);
void cnnrt_f32_vbinary__avx2(int op, float* y, const float* a, size_t a_step, const float* b, size_t b_step,
                             size_t n);

/* ---- Winograd convolution F(m x m, 3 x 3), m = 2 or 4 ---------------------
 * A 3x3 stride-1 convolution over output tiles of m x m pixels: each tile's
 * (m + 2) x (m + 2) input patch d becomes V = B^T d B, each filter g becomes
 * U = G g G^T (at load), and for each of the (m + 2)^2 elements e the tiles
 * of a block are multiplied by the filters as one GEMM, C_e[tiles x oc] =
 * V_e[tiles x ic] * U_e[ic x oc]; a tile's output is then A^T C A. Points 0,
 * +-1, +-2 and infinity (docs/architecture.md, "Winograd", gives the error
 * bound). Tile (ty, tx) reads input rows ty * m - pad_top + [0, m + 2) and
 * columns tx * m - pad_left + [0, m + 2), zero outside the image. */
typedef struct cnnrt_winograd_geometry {
  size_t m;                    /* output tile: 2 or 4 */
  size_t in_h, in_w, out_h, out_w;
  ptrdiff_t pad_top, pad_left;
  size_t tiles_y, tiles_x;     /* ceil(out_h / m), ceil(out_w / m) */
} cnnrt_winograd_geometry;

/* Filter transform (load time, in double precision, rounded once): w is
 * [oc][ic][3][3]; u gets (m + 2)^2 element matrices, element e at
 * u + e * ic * oc_rounded, each packed like cnnrt_f32_gemm_pack_b: panels of
 * nr output channels, row k (input channel) of panel j at
 * (j * ic + k) * nr. Channels past oc are zero. oc_rounded = round_up(oc, nr). */
void cnnrt_f32_winograd_filter_ref(size_t m, const float* w, size_t oc, size_t ic, size_t nr, float* u);

/* Input transform of the tile rows [ty_begin, ty_end) of one image (x: its
 * first channel, planes of in_h * in_w) for all `channels`. The block's tiles
 * t = (ty - ty_begin) * tiles_x + tx go into packed-A panels of mr tiles:
 * element e of (tile t, channel k) at v[e * v_stride + (t / mr) * panel_stride
 * + k * mr + t % mr] (panel_stride >= channels * mr: a few padding floats
 * keep the panels of one channel's stores off one cache set); lanes of the
 * last panel past the block's tiles are zero.
 * scratch holds cnnrt_f32_winograd_input_scratch_floats() floats. */
typedef void (*cnnrt_f32_winograd_input_fn)(const cnnrt_winograd_geometry* geometry, const float* x, size_t channels,
                                            size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride, size_t panel_stride,
                                            float* scratch);
/* Output transform of the same block: c holds, for element e, rows of tiles
 * at c + e * c_stride + t * c_row_stride, one float per output channel; the
 * m x m pixels of each tile (those inside out_h x out_w) of `channels`
 * channels are written to y (the block's first output channel; planes of
 * out_h * out_w floats). No bias or activation: the op's epilogue follows. */
typedef void (*cnnrt_f32_winograd_output_fn)(const cnnrt_winograd_geometry* geometry, const float* c, size_t c_stride,
                                             size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end,
                                             float* y, float* scratch);
size_t cnnrt_f32_winograd_input_scratch_floats(const cnnrt_winograd_geometry* geometry);

void cnnrt_f32_winograd_input_ref(const cnnrt_winograd_geometry* geometry, const float* x, size_t channels,
                                  size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride, size_t panel_stride,
                                  float* scratch);
void cnnrt_f32_winograd_output_ref(const cnnrt_winograd_geometry* geometry, const float* c, size_t c_stride,
                                   size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end, float* y,
                                   float* scratch);
/* AVX-512 (x86-64 only): the same transforms vectorised over 16 tiles of a
 * tile row (input) and 16 output channels (output); mr <= 16. */
void cnnrt_f32_winograd_input__avx512(const cnnrt_winograd_geometry* geometry, const float* x, size_t channels,
                                      size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride, size_t panel_stride,
                                      float* scratch);
void cnnrt_f32_winograd_output__avx512(const cnnrt_winograd_geometry* geometry, const float* c, size_t c_stride,
                                       size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end,
                                       float* y, float* scratch);
/* AVX2 + FMA (x86-64 only): 8 tiles of a tile row (input) and 8 output
 * channels (output) per vector; any mr <= 16, mr = 6 the fast case. */
void cnnrt_f32_winograd_input__avx2(const cnnrt_winograd_geometry* geometry, const float* x, size_t channels,
                                    size_t ty_begin, size_t ty_end, size_t mr, float* v, size_t v_stride,
                                    size_t panel_stride, float* scratch);
void cnnrt_f32_winograd_output__avx2(const cnnrt_winograd_geometry* geometry, const float* c, size_t c_stride,
                                     size_t c_row_stride, size_t channels, size_t ty_begin, size_t ty_end, float* y,
                                     float* scratch);

typedef struct cnnrt_f32_winograd_config {
  cnnrt_f32_winograd_input_fn input;
  cnnrt_f32_winograd_output_fn output;
  const char* name; /* "ref", "avx2", "avx512" */
} cnnrt_f32_winograd_config;
/* The transforms of the cnnrt_cpu_level() (reference ones where a level has none). */
const cnnrt_f32_winograd_config* cnnrt_f32_winograd_config_get(void);
const cnnrt_f32_winograd_config* cnnrt_f32_winograd_config_for_level(int level);

#ifdef __cplusplus
}
#endif
#endif /* CNNRT_KERNELS_H */
