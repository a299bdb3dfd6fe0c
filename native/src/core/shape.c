#include <stdio.h>

#include "internal.h"

int64_t cnnrt_shape_numel(const cnnrt_shape* shape) {
  int has_zero = 0;
  for (int32_t i = 0; i < shape->rank; i++) {
    if (shape->dims[i] < 0) return -1;
    if (shape->dims[i] == 0) has_zero = 1;
  }
  /* A zero dim makes the count 0 even when the other dims would overflow. */
  if (has_zero) return 0;
  int64_t count = 1;
  for (int32_t i = 0; i < shape->rank; i++) {
    if (count > INT64_MAX / shape->dims[i]) return -1;
    count *= shape->dims[i];
  }
  return count;
}

const char* cnnrt_shape_format(const cnnrt_shape* shape, char* buf, size_t size) {
  if (size == 0) return buf;
  size_t used = 0;
  buf[0] = '\0';
  int written = snprintf(buf, size, "[");
  if (written > 0) used = (size_t)written < size ? (size_t)written : size - 1;
  int32_t rank = shape->rank < 0 ? 0 : (shape->rank > CNNRT_MAX_RANK ? CNNRT_MAX_RANK : shape->rank);
  for (int32_t i = 0; i < rank && used + 1 < size; i++) {
    const char* separator = i == 0 ? "" : ", ";
    if (shape->dims[i] < 0) {
      written = snprintf(buf + used, size - used, "%s?", separator);
    } else {
      written = snprintf(buf + used, size - used, "%s%lld", separator, (long long)shape->dims[i]);
    }
    if (written > 0) used += (size_t)written < size - used ? (size_t)written : size - used - 1;
  }
  if (used + 1 < size) snprintf(buf + used, size - used, "]");
  return buf;
}

int cnnrt_shape_equal(const cnnrt_shape* a, const cnnrt_shape* b) {
  if (a->rank != b->rank) return 0;
  for (int32_t i = 0; i < a->rank; i++) {
    if (a->dims[i] != b->dims[i]) return 0;
  }
  return 1;
}
