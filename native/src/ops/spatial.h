/*
 * Window geometry shared by Conv, ConvTranspose and the pools: parsing of
 * strides / dilations / pads / auto_pad, and output sizes. Spatial rank is 1 or
 * 2; kernels treat 1-D as 2-D with height 1.
 */
#ifndef CNNRT_OPS_SPATIAL_H
#define CNNRT_OPS_SPATIAL_H

#include "op_common.h"

enum { CNNRT_AUTO_PAD_NOTSET = 0, CNNRT_AUTO_PAD_SAME_UPPER = 1, CNNRT_AUTO_PAD_SAME_LOWER = 2,
       CNNRT_AUTO_PAD_VALID = 3 };

typedef struct cnnrt_window {
  int spatial;            /* 1 or 2 */
  int64_t kernel[2];
  int64_t strides[2];
  int64_t dilations[2];
  int64_t pads[4];        /* begin of each dim, then end of each dim (ONNX order) */
  int auto_pad;
  int ceil_mode;
} cnnrt_window;

/* Reads strides, dilations (when allow_dilations), pads and auto_pad for
 * `spatial` dims; window->kernel must be set already. Validates counts and
 * values (strides > 0, dilations > 0, pads >= 0 unless allow_negative_pads). */
cnnrt_status cnnrt_window_parse(const cnnrt_node* node, int spatial, int allow_dilations, cnnrt_window* window);

/* Output size and the effective pads for one spatial dim of a Conv or pool
 * input of size `in`; an error (naming the node) when the window does not fit. */
cnnrt_status cnnrt_window_output(const cnnrt_node* node, const cnnrt_window* window, int dim, int64_t in,
                                 int64_t* out, int64_t* pad_begin, int64_t* pad_end);

#endif
