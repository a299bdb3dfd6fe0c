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

struct cnnrt_conv2d_geometry;
/* im2col of a pixel range into packed-B panels of nr columns (see
 * cnnrt_f32_im2col_packed_ref, the reference every variant must match exactly). */
typedef void (*cnnrt_f32_im2col_fn)(const struct cnnrt_conv2d_geometry* geometry, const float* x,
                                    size_t pixel_begin, size_t pixels, size_t nr, float* packed);

typedef struct cnnrt_f32_gemm_config {
  cnnrt_f32_gemm_ukernel_fn ukernel;
  cnnrt_f32_im2col_fn im2col; /* the packing routine that feeds it B panels from an image */
  uint32_t mr, nr;
  const char* isa;   /* "scalar", "avx2", "avx512" */
  const char* name;  /* tile and ISA, "8x32_avx512": goes into kernel names ops report */
  int level;         /* the cnnrt_isa_level (core/cpu.h) the kernel needs */
  int preferred;     /* 1: the variant its level uses */
} cnnrt_f32_gemm_config;

void cnnrt_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nr, size_t k, const float* a_packed,
                                        const float* b, size_t b_stride, float* c, size_t c_stride);
/* Generated from gen/f32-gemm.c.in (gen/gen_gemm.py); x86-64 only. */
void cnnrt_f32_gemm_ukernel_6x16__avx2(size_t mr, size_t nr, size_t k, const float* a_packed,
                                       const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_6x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_8x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                         const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_12x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride);
void cnnrt_f32_gemm_ukernel_14x32__avx512(size_t mr, size_t nr, size_t k, const float* a_packed,
                                          const float* b, size_t b_stride, float* c, size_t c_stride);

/* The GEMM configuration ops use: the preferred variant of the ISA level
 * cnnrt_cpu_level() reports, chosen once (thread-safe) on first use. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_get(void);
/* The preferred variant of one level (cnnrt_isa_level); the scalar one when
 * that level has none. Does not check that the CPU supports the level. */
const cnnrt_f32_gemm_config* cnnrt_f32_gemm_config_for_level(int level);
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

#ifdef __cplusplus
}
#endif
#endif /* CNNRT_KERNELS_H */
