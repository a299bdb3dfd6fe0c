/*
 * cnnrt — embedded inference runtime for convolutional neural networks.
 * Public C API. This header is the product's boundary: apps embed the library
 * through it, and the Python binding uses nothing else.
 *
 * Objects:
 *   cnnrt_model    a loaded .cnnrt file: graph, packed weights. Immutable once
 *                  loaded; any number of threads and sessions may share it.
 *   cnnrt_session  the state of one caller: planned activation arena, thread
 *                  pool, shapes. Use a session from one thread at a time.
 *
 * Every function that can fail returns a cnnrt_status; on failure the calling
 * thread's cnnrt_last_error() tells what was expected, what was found and where.
 * Option structs begin with their own size (struct_size) so that they can grow
 * without breaking binaries built against an older header.
 */
#ifndef CNNRT_CNNRT_H
#define CNNRT_CNNRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(CNNRT_BUILDING_LIBRARY)
#    define CNNRT_API __declspec(dllexport)
#  elif defined(CNNRT_STATIC)
#    define CNNRT_API
#  else
#    define CNNRT_API __declspec(dllimport)
#  endif
#else
#  define CNNRT_API __attribute__((visibility("default")))
#endif

#define CNNRT_VERSION_MAJOR 0
#define CNNRT_VERSION_MINOR 1
#define CNNRT_VERSION_PATCH 0
/* The largest tensor rank the runtime handles. */
#define CNNRT_MAX_RANK 8

typedef enum cnnrt_status {
  CNNRT_OK = 0,
  CNNRT_ERROR_INVALID_ARGUMENT = 1, /* a wrong call: bad shape, dtype, name, NULL pointer */
  CNNRT_ERROR_INVALID_MODEL = 2,    /* the model file is corrupt, truncated or inconsistent */
  CNNRT_ERROR_UNSUPPORTED = 3,      /* valid, but not supported by this build (op, dtype, version) */
  CNNRT_ERROR_OUT_OF_MEMORY = 4,
  CNNRT_ERROR_IO = 5,               /* the file could not be opened or read */
  CNNRT_ERROR_INTERNAL = 6
} cnnrt_status;

typedef enum cnnrt_dtype {
  CNNRT_DTYPE_UNDEFINED = 0,
  CNNRT_DTYPE_FLOAT32 = 1,
  CNNRT_DTYPE_FLOAT16 = 2,
  CNNRT_DTYPE_BFLOAT16 = 3,
  CNNRT_DTYPE_INT8 = 4,
  CNNRT_DTYPE_UINT8 = 5,
  CNNRT_DTYPE_INT32 = 6,
  CNNRT_DTYPE_INT64 = 7
} cnnrt_dtype;

typedef struct cnnrt_model cnnrt_model;
typedef struct cnnrt_session cnnrt_session;

/* ---- library ---------------------------------------------------------- */

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
CNNRT_API const char* cnnrt_version_string(void);
/* MAJOR * 10000 + MINOR * 100 + PATCH. */
CNNRT_API uint32_t cnnrt_version(void);
/* A short constant name for a status ("invalid model"). */
CNNRT_API const char* cnnrt_status_string(cnnrt_status status);
/* The message of the last failed call made by this thread (thread-local; valid
 * until this thread's next failing call). "" when there was none. */
CNNRT_API const char* cnnrt_last_error(void);
/* Bytes per element of a dtype, 0 for CNNRT_DTYPE_UNDEFINED or an unknown one. */
CNNRT_API size_t cnnrt_dtype_size(cnnrt_dtype dtype);
/* "float32", "int8", ... */
CNNRT_API const char* cnnrt_dtype_name(cnnrt_dtype dtype);
/* What cnnrt found about this CPU and which kernels it uses, one line, e.g.
 * "x86-64: avx2 fma avx512f avx512dq avx512bw avx512vl avx512vnni; using avx512".
 * The environment variable CNNRT_ISA=scalar|avx2|avx512 (read once, at first
 * use) lowers the level; a level the CPU lacks is ignored and the line says so.
 * The string is constant for the life of the process. */
CNNRT_API const char* cnnrt_cpu_description(void);
/* Measured single-core float32 FMA throughput in GFLOP/s (1 FMA = 2 FLOPs) at
 * the ISA level kernels use, the best of repeated loops over about `seconds`
 * (0 = 0.2 s). Benchmarks report GFLOP/s as a fraction of it. */
CNNRT_API double cnnrt_cpu_fma_peak_gflops(double seconds);

/* ---- model ------------------------------------------------------------ */

#define CNNRT_MODEL_VERIFY_WEIGHTS 1u /* check the CRC-32 of the weights too (slower load) */
#define CNNRT_MODEL_NO_MMAP 2u        /* read the file into memory instead of mapping it */

typedef struct cnnrt_model_options {
  size_t struct_size; /* sizeof(cnnrt_model_options) */
  uint32_t flags;     /* CNNRT_MODEL_* */
} cnnrt_model_options;

/* Loads a .cnnrt file. options may be NULL. On success *model holds a new
 * reference that the caller releases with cnnrt_model_release. */
CNNRT_API cnnrt_status cnnrt_model_load_file(const char* path, const cnnrt_model_options* options,
                                             cnnrt_model** model);
/* Loads a model from a buffer of `size` bytes; the buffer is copied, so the
 * caller may free it when this returns. */
CNNRT_API cnnrt_status cnnrt_model_load_memory(const void* data, size_t size,
                                               const cnnrt_model_options* options,
                                               cnnrt_model** model);
/* Drops a reference. Sessions keep their model alive, so a model may be
 * released while sessions created from it are still in use. NULL is ignored. */
CNNRT_API void cnnrt_model_release(cnnrt_model* model);

/* Shape and type of a graph input or output. dims[i] is -1 for a size known
 * only at run time, with dim_names[i] its symbol ("batch") or "" when unnamed. */
typedef struct cnnrt_tensor_info {
  const char* name;
  cnnrt_dtype dtype;
  int32_t rank;
  int64_t dims[CNNRT_MAX_RANK];
  const char* dim_names[CNNRT_MAX_RANK];
} cnnrt_tensor_info;

CNNRT_API size_t cnnrt_model_input_count(const cnnrt_model* model);
CNNRT_API size_t cnnrt_model_output_count(const cnnrt_model* model);
CNNRT_API cnnrt_status cnnrt_model_input_info(const cnnrt_model* model, size_t index,
                                              cnnrt_tensor_info* info);
CNNRT_API cnnrt_status cnnrt_model_output_info(const cnnrt_model* model, size_t index,
                                               cnnrt_tensor_info* info);

/* What the model holds, in total. */
typedef struct cnnrt_model_stats {
  size_t struct_size;       /* sizeof(cnnrt_model_stats), set by the caller */
  uint64_t node_count;
  uint64_t tensor_count;
  uint64_t weights_bytes;   /* bytes of constant data in the file */
  uint64_t packed_bytes;    /* bytes the runtime allocated for packed weights */
  uint64_t param_count;     /* elements of constant data in the file */
} cnnrt_model_stats;
CNNRT_API cnnrt_status cnnrt_model_get_stats(const cnnrt_model* model, cnnrt_model_stats* stats);

/* Metadata written by the converter (docs/format.md, META): producer,
 * source_sha256, param_count, labels, ... */
CNNRT_API size_t cnnrt_model_metadata_count(const cnnrt_model* model);
CNNRT_API cnnrt_status cnnrt_model_metadata_entry(const cnnrt_model* model, size_t index,
                                                  const char** key, const char** value);
/* The value for `key`, or NULL when absent. */
CNNRT_API const char* cnnrt_model_metadata(const cnnrt_model* model, const char* key);

/* One node as loaded. Pointers stay valid while the model lives. */
typedef struct cnnrt_node_info {
  size_t struct_size;      /* sizeof(cnnrt_node_info), set by the caller */
  const char* name;
  const char* op;          /* "Conv", "Relu", ... */
  uint32_t op_version;     /* ONNX opset of the source semantics */
  const char* activation;  /* fused epilogue activation, "" when none */
  int32_t has_residual;    /* 1 when a residual add is fused into the node */
  uint32_t input_count;
  uint32_t output_count;
  uint64_t param_count;    /* elements of the node's constant inputs */
} cnnrt_node_info;
CNNRT_API size_t cnnrt_model_node_count(const cnnrt_model* model);
CNNRT_API cnnrt_status cnnrt_model_node_info(const cnnrt_model* model, size_t index,
                                             cnnrt_node_info* info);
/* Name of the node's `which`-th input or output tensor; NULL when out of range
 * or the optional input is absent. */
CNNRT_API const char* cnnrt_model_node_input_name(const cnnrt_model* model, size_t node, size_t which);
CNNRT_API const char* cnnrt_model_node_output_name(const cnnrt_model* model, size_t node, size_t which);

/* One attribute of a node, as the converter normalised it (docs/ops.md).
 * Pointers stay valid while the model lives. */
typedef enum cnnrt_attribute_type {
  CNNRT_ATTRIBUTE_INT = 1,
  CNNRT_ATTRIBUTE_FLOAT = 2,
  CNNRT_ATTRIBUTE_INTS = 3,
  CNNRT_ATTRIBUTE_FLOATS = 4,
  CNNRT_ATTRIBUTE_STRING = 5
} cnnrt_attribute_type;

typedef struct cnnrt_attribute {
  const char* name;
  cnnrt_attribute_type type;
  uint32_t count;           /* values (1 for INT, FLOAT and STRING) */
  const int64_t* ints;      /* INT, INTS */
  const double* floats;     /* FLOAT, FLOATS */
  const char* string;       /* STRING */
} cnnrt_attribute;
CNNRT_API size_t cnnrt_model_node_attribute_count(const cnnrt_model* model, size_t node);
CNNRT_API cnnrt_status cnnrt_model_node_attribute(const cnnrt_model* model, size_t node, size_t index,
                                                  cnnrt_attribute* attribute);

/* Any tensor of the model by name: graph inputs and outputs, intermediate
 * values (declared shapes, -1 where known only at run time) and constants
 * (exact shapes). */
CNNRT_API cnnrt_status cnnrt_model_tensor_info(const cnnrt_model* model, const char* name,
                                               cnnrt_tensor_info* info);

/* ---- session ---------------------------------------------------------- */

#define CNNRT_SESSION_PROFILE 1u /* time every node on each run (see cnnrt_session_node_stats) */

typedef struct cnnrt_session_options {
  size_t struct_size; /* sizeof(cnnrt_session_options) */
  int32_t threads;    /* worker threads including the caller's; 0 = 1 */
  uint32_t flags;     /* CNNRT_SESSION_* */
} cnnrt_session_options;

/* Creates a session on a model. The session takes its own model reference.
 * options may be NULL (one thread). The arena is planned for the model's
 * declared input shapes when they are fully known, otherwise on the first
 * reshape or run. With 2 threads or more, a batch of 4 or more of a model
 * that computes each image alone runs in chunks of 2 images side by side on
 * the threads (same bits as the whole batch; not in profiling sessions;
 * CNNRT_BATCH_SPLIT=0 in the environment turns it off). */
CNNRT_API cnnrt_status cnnrt_session_create(cnnrt_model* model, const cnnrt_session_options* options,
                                            cnnrt_session** session);
CNNRT_API void cnnrt_session_release(cnnrt_session* session);

/* A tensor as the caller sees it: dense, row-major (NCHW for images). */
typedef struct cnnrt_tensor {
  const char* name;          /* graph input/output name; NULL = by position */
  cnnrt_dtype dtype;
  int32_t rank;
  int64_t dims[CNNRT_MAX_RANK];
  void* data;                /* inputs: read only; outputs: written by run */
  size_t size_bytes;         /* bytes available at data */
} cnnrt_tensor;

/* Sets concrete input shapes (data is ignored): infers every shape and plans
 * the arena. Packed weights are kept; a plan is cached per set of input shapes
 * so that switching back to a seen shape costs nothing. Either all inputs are
 * given by name or all by position; inputs not given keep their shape. */
CNNRT_API cnnrt_status cnnrt_session_reshape(cnnrt_session* session, size_t input_count,
                                             const cnnrt_tensor* inputs);

/* Runs the model. Inputs are matched by name (or by position when name is
 * NULL); their shapes may differ from the last run (the session reshapes).
 * Outputs likewise: the caller provides data and size_bytes; run writes rank
 * and dims and fills data. output_count may be smaller than the model's output
 * count (the rest are computed but not copied). Allocates nothing once the
 * shapes have been seen. */
CNNRT_API cnnrt_status cnnrt_session_run(cnnrt_session* session, size_t input_count,
                                         const cnnrt_tensor* inputs, size_t output_count,
                                         cnnrt_tensor* outputs);

/* Shape of a graph output for the current input shapes. */
CNNRT_API cnnrt_status cnnrt_session_output_info(const cnnrt_session* session, size_t index,
                                                 cnnrt_tensor_info* info);
/* Bytes of the activation arena planned for the current shapes (for a batch
 * that runs in chunks, the arenas of the part sessions that run them), and
 * what the same activations would take with no reuse at all. */
CNNRT_API cnnrt_status cnnrt_session_memory(const cnnrt_session* session, uint64_t* arena_bytes,
                                            uint64_t* unplanned_bytes);

/* One node for the current shapes; time_ns is the node's last run time when
 * the session profiles (0 otherwise). */
typedef struct cnnrt_node_stats {
  size_t struct_size;       /* sizeof(cnnrt_node_stats), set by the caller */
  const char* kernel;       /* the kernel chosen: "conv2d_im2col_gemm_ref", ... */
  int32_t output_rank;      /* of output 0 */
  int64_t output_dims[CNNRT_MAX_RANK];
  uint64_t macs;            /* multiply-accumulates for the current shapes */
  uint64_t output_bytes;    /* bytes of all outputs */
  uint64_t workspace_bytes; /* scratch the node needs */
  uint64_t time_ns;
} cnnrt_node_stats;
CNNRT_API cnnrt_status cnnrt_session_node_stats(const cnnrt_session* session, size_t index,
                                                cnnrt_node_stats* stats);

#ifdef __cplusplus
}
#endif
#endif /* CNNRT_CNNRT_H */
