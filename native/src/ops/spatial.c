#include "spatial.h"

cnnrt_status cnnrt_window_read_ints(const cnnrt_node* node, const char* name, int spatial, int count,
                              int64_t fallback, int64_t minimum, int64_t* values) {
  const int64_t* list;
  uint32_t found;
  cnnrt_status status = cnnrt_attr_ints(node, name, &list, &found);
  if (status != CNNRT_OK) return status;
  for (int i = 0; i < count; i++) values[i] = fallback;
  if (list == NULL) return CNNRT_OK;
  if (found != (uint32_t)count) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute '%s' expected %d values for a %d-D window, found %u", name, count,
                            spatial, found);
  }
  for (int i = 0; i < count; i++) {
    if (list[i] < minimum || list[i] > ((int64_t)1 << 30)) {
      return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                              "attribute '%s' expected values in [%lld, 2^30], found %lld at position %d", name,
                              (long long)minimum, (long long)list[i], i);
    }
    values[i] = list[i];
  }
  return CNNRT_OK;
}

cnnrt_status cnnrt_window_parse(const cnnrt_node* node, int spatial, int allow_dilations, cnnrt_window* window) {
  cnnrt_status status;
  if (spatial < 1 || spatial > CNNRT_WINDOW_MAX_SPATIAL) {
    return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node, "a %d-D window: expected 1 to %d spatial dims", spatial,
                            CNNRT_WINDOW_MAX_SPATIAL);
  }
  window->spatial = spatial;
  for (int i = spatial; i < CNNRT_WINDOW_MAX_SPATIAL; i++) window->strides[i] = window->dilations[i] = 1;
  if ((status = cnnrt_window_read_ints(node, "strides", spatial, spatial, 1, 1, window->strides)) != CNNRT_OK)
    return status;
  if (allow_dilations) {
    status = cnnrt_window_read_ints(node, "dilations", spatial, spatial, 1, 1, window->dilations);
    if (status != CNNRT_OK) return status;
  } else {
    if (cnnrt_node_attr(node, "dilations") != NULL) {
      return cnnrt_node_error(CNNRT_ERROR_UNSUPPORTED, node, "attribute 'dilations' is not supported by this op");
    }
    for (int i = 0; i < spatial; i++) window->dilations[i] = 1;
  }
  if ((status = cnnrt_window_read_ints(node, "pads", spatial, 2 * spatial, 0, 0, window->pads)) != CNNRT_OK)
    return status;
  int64_t auto_pad;
  if ((status = cnnrt_attr_int(node, "auto_pad", 0, &auto_pad)) != CNNRT_OK) return status;
  if (auto_pad < 0 || auto_pad > 3) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_MODEL, node,
                            "attribute 'auto_pad' expected 0 (NOTSET), 1 (SAME_UPPER), 2 (SAME_LOWER) or 3 (VALID), found %lld",
                            (long long)auto_pad);
  }
  window->auto_pad = (int)auto_pad;
  window->ceil_mode = 0;
  return CNNRT_OK;
}

cnnrt_status cnnrt_window_output(const cnnrt_node* node, const cnnrt_window* window, int dim, int64_t in,
                                 int64_t* out, int64_t* pad_begin, int64_t* pad_end) {
  const int64_t stride = window->strides[dim];
  const int64_t effective = (window->kernel[dim] - 1) * window->dilations[dim] + 1;
  int64_t begin = window->pads[dim], end = window->pads[window->spatial + dim];
  if (window->auto_pad == CNNRT_AUTO_PAD_SAME_UPPER || window->auto_pad == CNNRT_AUTO_PAD_SAME_LOWER) {
    int64_t size = (in + stride - 1) / stride;
    int64_t total = (size - 1) * stride + effective - in;
    if (total < 0) total = 0;
    if (window->auto_pad == CNNRT_AUTO_PAD_SAME_UPPER) {
      begin = total / 2;
      end = total - begin;
    } else {
      end = total / 2;
      begin = total - end;
    }
    *out = size;
    *pad_begin = begin;
    *pad_end = end;
    return CNNRT_OK;
  }
  if (window->auto_pad == CNNRT_AUTO_PAD_VALID) begin = end = 0;
  int64_t padded = in + begin + end;
  if (padded < effective) {
    return cnnrt_node_error(CNNRT_ERROR_INVALID_ARGUMENT, node,
                            "input 0 (X) spatial dim %d expected at least %lld after padding (kernel %lld, dilation %lld), found %lld (%lld + pads %lld + %lld)",
                            dim, (long long)effective, (long long)window->kernel[dim],
                            (long long)window->dilations[dim], (long long)padded, (long long)in, (long long)begin,
                            (long long)end);
  }
  int64_t size;
  if (window->ceil_mode) {
    size = (padded - effective + stride - 1) / stride + 1;
    /* ONNX/PyTorch rule: the last window must start inside the input or the
     * begin padding, never entirely in the end padding. */
    if ((size - 1) * stride >= in + begin) size--;
  } else {
    size = (padded - effective) / stride + 1;
  }
  *out = size;
  *pad_begin = begin;
  *pad_end = end;
  return CNNRT_OK;
}

int cnnrt_window_unpadded(const cnnrt_window* window) {
  for (int i = 0; i < 2 * window->spatial; i++)
    if (window->pads[i] != 0) return 0;
  return 1;
}
