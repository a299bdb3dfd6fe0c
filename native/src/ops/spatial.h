/*
 * Window geometry shared by Conv, ConvTranspose and the pools: parsing of
 * strides / dilations / pads / auto_pad, and output sizes. Spatial rank is 1 to
 * 3 (convolutions use 1 or 2; kernels treat 1-D as 2-D with height 1).
 */
#ifndef CNNRT_OPS_SPATIAL_H
#define CNNRT_OPS_SPATIAL_H

#include "op_common.h"

enum { CNNRT_AUTO_PAD_NOTSET = 0, CNNRT_AUTO_PAD_SAME_UPPER = 1, CNNRT_AUTO_PAD_SAME_LOWER = 2,
       CNNRT_AUTO_PAD_VALID = 3 };

#define CNNRT_WINDOW_MAX_SPATIAL 3

typedef struct cnnrt_window {
  int spatial;            /* 1 to CNNRT_WINDOW_MAX_SPATIAL */
  int64_t kernel[CNNRT_WINDOW_MAX_SPATIAL];     /* set by the op (from W or kernel_shape) */
  int64_t strides[CNNRT_WINDOW_MAX_SPATIAL];    /* dims past `spatial` are 1 */
  int64_t dilations[CNNRT_WINDOW_MAX_SPATIAL];
  int64_t pads[2 * CNNRT_WINDOW_MAX_SPATIAL];   /* ONNX order: begins of the `spatial` dims, then ends */
  int auto_pad;
  int ceil_mode;          /* pools set it; 0 for convolutions */
} cnnrt_window;

/* Reads an ints attribute of exactly `count` values in [minimum, 2^30], or
 * fills `fallback` when it is absent; errors name node and attribute. */
cnnrt_status cnnrt_window_read_ints(const cnnrt_node* node, const char* name, int spatial, int count,
                                    int64_t fallback, int64_t minimum, int64_t* values);

/* Reads strides, dilations (when allow_dilations), pads and auto_pad for
 * `spatial` dims; window->kernel must be set already. Validates counts and
 * values (strides > 0, dilations > 0, pads >= 0). */
cnnrt_status cnnrt_window_parse(const cnnrt_node* node, int spatial, int allow_dilations, cnnrt_window* window);

/* Output size and the effective pads for one spatial dim of a Conv or pool
 * input of size `in` (ceil_mode with the ONNX rule that the last window starts
 * inside the input or the begin padding); an error naming the node when the
 * window does not fit. */
cnnrt_status cnnrt_window_output(const cnnrt_node* node, const cnnrt_window* window, int dim, int64_t in,
                                 int64_t* out, int64_t* pad_begin, int64_t* pad_end);

/* 1 when every explicit pad is 0. */
int cnnrt_window_unpadded(const cnnrt_window* window);

#endif
