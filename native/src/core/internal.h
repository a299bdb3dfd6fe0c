/*
 * Internal interfaces of the core: the loaded graph as ops see it, the op
 * lifecycle (create -> reshape -> run), errors, attributes and the thread pool.
 * Nothing here crosses the public API.
 */
#ifndef CNNRT_INTERNAL_H
#define CNNRT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cnnrt/cnnrt.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#  define CNNRT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define CNNRT_PRINTF(fmt, args)
#endif

#define CNNRT_NO_TENSOR 0xFFFFFFFFu

/* ---- errors --------------------------------------------------------------
 * Sets the calling thread's last-error message and returns `status`, so that a
 * failing check reads `return cnnrt_error(CNNRT_ERROR_INVALID_MODEL, "...", ...)`. */
cnnrt_status cnnrt_error(cnnrt_status status, const char* format, ...) CNNRT_PRINTF(2, 3);
/* Puts "prefix: " in front of the current message (adds context on the way up). */
void cnnrt_error_prefix(const char* format, ...) CNNRT_PRINTF(1, 2);

/* ---- shapes -------------------------------------------------------------- */
typedef struct cnnrt_shape {
  int32_t rank;
  int64_t dims[CNNRT_MAX_RANK];
} cnnrt_shape;

/* Elements of a shape; -1 when a dim is unknown or the count overflows int64. */
int64_t cnnrt_shape_numel(const cnnrt_shape* shape);
/* Writes "[1, 3, 224, 224]" into buf. */
const char* cnnrt_shape_format(const cnnrt_shape* shape, char* buf, size_t size);
int cnnrt_shape_equal(const cnnrt_shape* a, const cnnrt_shape* b);

/* ---- the loaded graph ---------------------------------------------------- */
enum {
  CNNRT_TENSOR_VALUE = 0,
  CNNRT_TENSOR_CONSTANT = 1
};

typedef struct cnnrt_tensor_def {
  const char* name;
  uint8_t dtype; /* cnnrt_dtype */
  uint8_t kind;  /* CNNRT_TENSOR_* */
  cnnrt_shape shape;     /* constants: exact; values: as declared (-1 = unknown) */
  const char* dim_names[CNNRT_MAX_RANK];
  const void* data;      /* constants: the data (in the mapped file, 64-byte aligned) */
  uint64_t data_size;
} cnnrt_tensor_def;

enum {
  CNNRT_ATTR_INT = 1,
  CNNRT_ATTR_FLOAT = 2,
  CNNRT_ATTR_INTS = 3,
  CNNRT_ATTR_FLOATS = 4,
  CNNRT_ATTR_STRING = 5
};

typedef struct cnnrt_attr {
  const char* name;
  uint8_t type;     /* CNNRT_ATTR_* */
  uint32_t count;
  const int64_t* ints;   /* INT / INTS */
  const double* floats;  /* FLOAT / FLOATS */
  const char* str;       /* STRING */
} cnnrt_attr;

/* Activation codes shared by fused epilogues and unary ops (docs/ops.md). */
typedef enum cnnrt_activation {
  CNNRT_ACT_NONE = 0,
  CNNRT_ACT_RELU = 1,
  CNNRT_ACT_LEAKY_RELU = 2,
  CNNRT_ACT_CLIP = 3,
  CNNRT_ACT_SIGMOID = 4,
  CNNRT_ACT_TANH = 5,
  CNNRT_ACT_HARD_SIGMOID = 6,
  CNNRT_ACT_HARD_SWISH = 7,
  CNNRT_ACT_SILU = 8,
  CNNRT_ACT_GELU = 9,
  CNNRT_ACT_GELU_TANH = 10,
  CNNRT_ACT_ELU = 11,
  CNNRT_ACT_SOFTPLUS = 12,
  CNNRT_ACT_COUNT
} cnnrt_activation;

const char* cnnrt_activation_name(int activation);

/* HardSwish is x * clamp(x * (1/6) + 1/2, 0, 1), ONNX's alpha = 1/6 as a
 * float: the same bits as HardSigmoid(alpha 1/6, beta 1/2) times x, which the
 * converter fuses into it, and a multiply where a divide by 6 costs a few
 * cycles per vector on the SIMD levels. */
#define CNNRT_ONE_SIXTH 0.16666667163372039795f

/* Runs STATEMENT with CNNRT_ACT_CONSTANT defined as `activation`, a constant
 * in each case: loops whose per-vector activation is an always-inline switch
 * (the SIMD epilogues) are then compiled once per activation, with the
 * switch and the activation's constants out of the loop. */
#define CNNRT_ACTIVATION_SPECIALIZE(activation, STATEMENT) \
  switch (activation) {                                     \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_NONE, STATEMENT)        \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_RELU, STATEMENT)        \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_LEAKY_RELU, STATEMENT)  \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_CLIP, STATEMENT)        \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_SIGMOID, STATEMENT)     \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_TANH, STATEMENT)        \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_HARD_SIGMOID, STATEMENT) \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_HARD_SWISH, STATEMENT)  \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_SILU, STATEMENT)        \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_GELU, STATEMENT)        \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_GELU_TANH, STATEMENT)   \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_ELU, STATEMENT)         \
    CNNRT_ACTIVATION_CASE(CNNRT_ACT_SOFTPLUS, STATEMENT)    \
    default:                                                \
      break;                                                \
  }
#define CNNRT_ACTIVATION_CASE(value, STATEMENT) \
  case value: {                                 \
    enum { CNNRT_ACT_CONSTANT = value };        \
    STATEMENT;                                  \
  } break;

typedef struct cnnrt_epilogue {
  uint8_t activation; /* cnnrt_activation */
  uint8_t residual;   /* 1: the node's last input is added before the activation */
  float alpha, beta;
} cnnrt_epilogue;

struct cnnrt_op_def;

typedef struct cnnrt_node {
  uint32_t index;
  const char* name;
  uint16_t op;          /* op code, docs/ops.md */
  uint16_t op_version;
  uint32_t input_count, output_count, attr_count;
  const uint32_t* inputs;   /* tensor indices; CNNRT_NO_TENSOR = absent optional input */
  const uint32_t* outputs;
  const cnnrt_attr* attrs;
  cnnrt_epilogue epilogue;
  const struct cnnrt_op_def* def;
  void* state;              /* made by def->create at load; read-only afterwards */
} cnnrt_node;

/* The graph as ops see it at load time (a part of the model). */
typedef struct cnnrt_graph {
  uint32_t tensor_count, node_count, input_count, output_count;
  const cnnrt_tensor_def* tensors;
  const cnnrt_node* nodes;
  const uint32_t* inputs;   /* tensor indices of graph inputs */
  const uint32_t* outputs;
} cnnrt_graph;

/* The constant tensor behind a node input, or NULL when the input is absent or
 * not a constant. */
const cnnrt_tensor_def* cnnrt_node_constant(const cnnrt_graph* graph, const cnnrt_node* node,
                                            uint32_t input);

/* ---- attributes ------------------------------------------------------------
 * Each getter returns CNNRT_OK and the default when the attribute is absent, and
 * an INVALID_MODEL error naming node and attribute when it has the wrong type
 * or count. Float attributes are stored as f64 in the file. */
const cnnrt_attr* cnnrt_node_attr(const cnnrt_node* node, const char* name);
cnnrt_status cnnrt_attr_int(const cnnrt_node* node, const char* name, int64_t fallback, int64_t* value);
cnnrt_status cnnrt_attr_float(const cnnrt_node* node, const char* name, float fallback, float* value);
/* Ints list: *values points into the model (valid while it lives); *count = 0
 * and *values = NULL when absent. */
cnnrt_status cnnrt_attr_ints(const cnnrt_node* node, const char* name, const int64_t** values,
                             uint32_t* count);
cnnrt_status cnnrt_attr_floats(const cnnrt_node* node, const char* name, const double** values,
                               uint32_t* count);
cnnrt_status cnnrt_attr_string(const cnnrt_node* node, const char* name, const char* fallback,
                               const char** value);

/* ---- thread pool ------------------------------------------------------------
 * parallel_for splits [0, count) into tasks of `grain` items (the last may be
 * shorter) and calls fn(context, begin, end, thread) for each, where thread is
 * in [0, threads) and identifies per-thread scratch. Work is split so that the
 * result never depends on which thread ran which task. With pool == NULL or one
 * thread, fn runs on the caller's thread. */
typedef struct cnnrt_threadpool cnnrt_threadpool;
typedef void (*cnnrt_task_fn)(void* context, size_t begin, size_t end, int thread);

cnnrt_status cnnrt_threadpool_create(int threads, cnnrt_threadpool** pool);
void cnnrt_threadpool_destroy(cnnrt_threadpool* pool);
int cnnrt_threadpool_threads(const cnnrt_threadpool* pool); /* 1 for NULL */
void cnnrt_parallel_for(cnnrt_threadpool* pool, size_t count, size_t grain, cnnrt_task_fn fn,
                        void* context);

/* ---- op lifecycle ---------------------------------------------------------- */

/* A tensor during a run: dense row-major, float32 unless the op's
 * int64_outputs says otherwise for one of its outputs. */
typedef struct cnnrt_tensor_ref {
  void* data;          /* NULL for an absent optional input */
  cnnrt_shape shape;
} cnnrt_tensor_ref;

/* What reshape reports back for one node and one set of input shapes. */
typedef struct cnnrt_reshape_info {
  int threads;             /* in: threads the session runs with */
  size_t workspace_bytes;  /* out: scratch bytes run() needs (all threads together) */
  uint64_t macs;           /* out: multiply-accumulates */
  const char* kernel;      /* out: name of the kernel/algorithm run() will use */
} cnnrt_reshape_info;

typedef struct cnnrt_run_context {
  cnnrt_threadpool* pool;
  int threads;
  void* workspace;         /* 64-byte aligned, workspace_bytes from reshape */
  size_t workspace_bytes;
} cnnrt_run_context;

enum {
  CNNRT_EPILOGUE_NONE = 0,        /* the op takes no fused epilogue */
  CNNRT_EPILOGUE_ACTIVATION = 1,  /* activation only */
  CNNRT_EPILOGUE_FULL = 2         /* activation and residual add */
};

typedef struct cnnrt_op_def {
  uint16_t code;
  const char* name;          /* ONNX-style name: "Conv" */
  uint8_t min_inputs, max_inputs;   /* max_inputs 255 = any number; residual not counted */
  uint8_t min_outputs, max_outputs; /* 255 = any number */
  uint8_t epilogue;          /* CNNRT_EPILOGUE_* */
  uint8_t in_place;          /* 1: output 0 may share input 0's buffer when both have the same size */
  /* 1: output 0 is the inputs laid end to end along the node's "axis" attribute (Concat). Where every
   * dim before the axis is 1, each input is a contiguous slice of the output, and the planner may place
   * an input there (its producer then writes it in place); run() must skip an input whose data already
   * is its slice of the output. */
  uint8_t input_views;
  uint8_t int64_outputs;     /* bit k set: output k holds int64 (indices); all other values are float32 */
  /* Load time, once per model: check attributes and constant inputs (dtype,
   * shape), parse them, pre-pack weights; store what run needs in *state (may
   * stay NULL). Errors name the node. */
  cnnrt_status (*create)(const cnnrt_graph* graph, const cnnrt_node* node, void** state);
  void (*destroy)(void* state);
  /* Per set of input shapes: check the input shapes (errors name the node and
   * say expected vs found), write the output shapes, fill info. inputs[i] has
   * rank 0 and dims unset for an absent optional input (check node->inputs[i]). */
  cnnrt_status (*reshape)(const cnnrt_node* node, const void* state, const cnnrt_shape* inputs,
                          cnnrt_shape* outputs, cnnrt_reshape_info* info);
  /* Computes outputs. Must not allocate, fail or keep state between calls. The
   * residual (when node->epilogue.residual) is inputs[node->input_count - 1]. */
  void (*run)(const cnnrt_run_context* context, const cnnrt_node* node, const void* state,
              const cnnrt_tensor_ref* inputs, const cnnrt_tensor_ref* outputs);
} cnnrt_op_def;

/* The registry (native/src/ops/registry.c): NULL for an unknown code. */
const cnnrt_op_def* cnnrt_op_find(uint16_t code);

/* Applies an activation in place to n floats (reference kernel; shared by
 * epilogues and unary ops). */
void cnnrt_f32_activation_ref(float* data, size_t n, int activation, float alpha, float beta);

#ifdef __cplusplus
}
#endif
#endif /* CNNRT_INTERNAL_H */
