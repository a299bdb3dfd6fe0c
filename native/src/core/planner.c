/*
 * The activation memory planner. Values whose lifetimes overlap must not
 * overlap in memory; placing the largest first, each at the lowest offset that
 * clears every already-placed value it lives alongside, keeps the arena close
 * to the peak of simultaneously live bytes on CNN graphs.
 */
#include <stdlib.h>

#include "model.h"

#define PLAN_ALIGN 64u

typedef struct placed {
  uint64_t offset, end;
  uint32_t first, last;
} placed;

static _Thread_local const cnnrt_plan_value* sort_values;
static int by_size_desc(const void* a, const void* b) {
  size_t ia = *(const size_t*)a, ib = *(const size_t*)b;
  const cnnrt_plan_value *va = &sort_values[ia], *vb = &sort_values[ib];
  if (va->size != vb->size) return va->size > vb->size ? -1 : 1;
  if (va->first != vb->first) return va->first < vb->first ? -1 : 1;
  return ia < ib ? -1 : (ia > ib); /* stable: the plan must not depend on qsort's order */
}

static int by_offset(const void* a, const void* b) {
  const placed *pa = a, *pb = b;
  return pa->offset < pb->offset ? -1 : (pa->offset > pb->offset);
}

cnnrt_status cnnrt_plan_memory(const cnnrt_plan_value* values, size_t count, uint64_t* offsets,
                               uint64_t* arena_bytes) {
  size_t* order = malloc(sizeof *order * (count ? count : 1));
  placed* done = malloc(sizeof *done * (count ? count : 1));
  placed* live = malloc(sizeof *live * (count ? count : 1));
  if (!order || !done || !live) {
    free(order), free(done), free(live);
    return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory planning %zu values", count);
  }
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    offsets[i] = UINT64_MAX;
    if (values[i].size) order[n++] = i;
  }
  /* qsort takes no context pointer: the values reach the comparator through a
   * thread-local, so sessions on different threads can plan at once. */
  sort_values = values;
  qsort(order, n, sizeof *order, by_size_desc);
  size_t placed_count = 0;
  uint64_t total = 0;
  for (size_t k = 0; k < n; k++) {
    const cnnrt_plan_value* v = &values[order[k]];
    uint64_t size = (v->size + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
    size_t live_count = 0;
    for (size_t j = 0; j < placed_count; j++)
      if (done[j].first <= v->last && v->first <= done[j].last) live[live_count++] = done[j];
    qsort(live, live_count, sizeof *live, by_offset);
    uint64_t offset = 0;
    for (size_t j = 0; j < live_count; j++) {
      if (live[j].offset >= offset + size) break; /* the gap before this one fits */
      if (live[j].end > offset) offset = live[j].end;
    }
    offsets[order[k]] = offset;
    done[placed_count++] = (placed){offset, offset + size, v->first, v->last};
    if (offset + size > total) total = offset + size;
  }
  free(order), free(done), free(live);
  *arena_bytes = total;
  return CNNRT_OK;
}
