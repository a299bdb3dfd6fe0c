/* The loaded model and the session, as the core sees them. */
#ifndef CNNRT_MODEL_H
#define CNNRT_MODEL_H

#include <stdatomic.h>

#include "internal.h"

struct cnnrt_model {
  atomic_int references;
  /* The file's bytes: mapped (munmap on release) or a 64-byte aligned copy. */
  void* bytes;
  size_t size;
  int mapped;

  cnnrt_graph graph;
  cnnrt_tensor_def* tensors;
  cnnrt_node* nodes;
  cnnrt_attr* attrs;
  uint32_t* producer;        /* per tensor: index of the node producing it, or UINT32_MAX */

  uint32_t metadata_count;
  const char** metadata_keys;
  const char** metadata_values;

  uint64_t weights_bytes;
  uint64_t param_count;
  uint64_t packed_bytes;
};

void cnnrt_model_retain(cnnrt_model* model);

/* Parses and validates a .cnnrt image (docs/format.md) that stays alive in
 * model->bytes; fills graph, tables and metadata. Does not create ops. */
cnnrt_status cnnrt_model_parse(cnnrt_model* model, uint32_t flags);
/* Frees what cnnrt_model_parse allocated and destroys op states. */
void cnnrt_model_free_tables(cnnrt_model* model);

/* ---- memory planner (planner.c) -------------------------------------------
 * Each value lives from the node that produces it to the last node that reads
 * it (inclusive). The planner assigns arena offsets so that values whose
 * lifetimes overlap never overlap in memory: largest first, each into the
 * lowest gap that fits (aligned to 64 bytes). Returns the arena size. */
typedef struct cnnrt_plan_value {
  uint64_t size;     /* bytes; 0 = not placed */
  uint32_t first;    /* first node (step) that needs it */
  uint32_t last;     /* last node (step) that needs it */
} cnnrt_plan_value;

cnnrt_status cnnrt_plan_memory(const cnnrt_plan_value* values, size_t count, uint64_t* offsets,
                               uint64_t* arena_bytes);

#endif /* CNNRT_MODEL_H */
