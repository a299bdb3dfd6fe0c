/* Loading a model (file or memory), creating its ops, and the model queries of
 * the public API. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

static void model_destroy(cnnrt_model* model) {
  cnnrt_model_free_tables(model);
  if (model->bytes) {
    if (model->mapped) munmap(model->bytes, model->size);
    else free(model->bytes);
  }
  free(model);
}

/* Creates every node's op state: attributes and constant inputs are checked
 * and weights pre-packed here, once, so that runs make no decisions. */
static cnnrt_status create_ops(cnnrt_model* model) {
  for (uint32_t i = 0; i < model->graph.node_count; i++) {
    cnnrt_node* node = &model->nodes[i];
    if (!node->def->create) continue;
    cnnrt_status st = node->def->create(&model->graph, node, &node->state);
    if (st) return st;
  }
  return CNNRT_OK;
}

static cnnrt_status finish_load(cnnrt_model* model, const cnnrt_model_options* options, cnnrt_model** out) {
  uint32_t flags = 0;
  if (options) {
    if (options->struct_size < offsetof(cnnrt_model_options, flags) + sizeof options->flags) {
      model_destroy(model);
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT,
                         "cnnrt_model_options.struct_size is %zu, expected at least %zu (set it to "
                         "sizeof(cnnrt_model_options))", options->struct_size,
                         offsetof(cnnrt_model_options, flags) + sizeof options->flags);
    }
    flags = options->flags;
  }
  atomic_init(&model->references, 1);
  cnnrt_status st = cnnrt_model_parse(model, flags);
  if (!st) st = create_ops(model);
  if (st) {
    model_destroy(model);
    return st;
  }
  *out = model;
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_model_load_file(const char* path, const cnnrt_model_options* options,
                                             cnnrt_model** out) {
  if (!path || !out) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "cnnrt_model_load_file: path and model must not be NULL");
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cnnrt_error(CNNRT_ERROR_IO, "cannot open model file '%s': %s", path, strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return cnnrt_error(CNNRT_ERROR_IO, "'%s' is not a regular file", path);
  }
  cnnrt_model* model = calloc(1, sizeof *model);
  if (!model) {
    close(fd);
    return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory loading '%s'", path);
  }
  model->size = (size_t)info.st_size;
  if (model->size == 0) {
    close(fd);
    free(model);
    return cnnrt_error(CNNRT_ERROR_INVALID_MODEL, "invalid model file: '%s' is empty", path);
  }
  int no_mmap = options && options->struct_size >= sizeof(cnnrt_model_options) &&
                (options->flags & CNNRT_MODEL_NO_MMAP);
  if (!no_mmap) {
    void* map = mmap(NULL, model->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      model->bytes = map;
      model->mapped = 1;
    }
  }
  if (!model->bytes) {
    /* Reading into a 64-byte aligned buffer keeps weights aligned as in a mapping. */
    size_t rounded = (model->size + 63) / 64 * 64;
    model->bytes = aligned_alloc(64, rounded);
    if (!model->bytes) {
      size_t size = model->size;
      close(fd);
      free(model);
      return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory reading '%s' (%zu bytes)", path, size);
    }
    size_t done = 0;
    while (done < model->size) {
      ssize_t got = read(fd, (char*)model->bytes + done, model->size - done);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        close(fd);
        model_destroy(model);
        return cnnrt_error(CNNRT_ERROR_IO, "cannot read model file '%s'", path);
      }
      done += (size_t)got;
    }
  }
  close(fd);
  cnnrt_status st = finish_load(model, options, out);
  if (st) cnnrt_error_prefix("%s", path);
  return st;
}

CNNRT_API cnnrt_status cnnrt_model_load_memory(const void* data, size_t size, const cnnrt_model_options* options,
                                               cnnrt_model** out) {
  if (!out) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "cnnrt_model_load_memory: model must not be NULL");
  *out = NULL;
  if (!data && size) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "cnnrt_model_load_memory: data is NULL");
  cnnrt_model* model = calloc(1, sizeof *model);
  if (!model) return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory loading a model");
  size_t rounded = (size + 63) / 64 * 64;
  model->bytes = aligned_alloc(64, rounded ? rounded : 64);
  if (!model->bytes) {
    free(model);
    return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory copying a %zu-byte model", size);
  }
  if (size) memcpy(model->bytes, data, size);
  model->size = size;
  return finish_load(model, options, out);
}

void cnnrt_model_retain(cnnrt_model* model) { atomic_fetch_add(&model->references, 1); }

CNNRT_API void cnnrt_model_release(cnnrt_model* model) {
  if (model && atomic_fetch_sub(&model->references, 1) == 1) model_destroy(model);
}

CNNRT_API size_t cnnrt_model_input_count(const cnnrt_model* model) { return model ? model->graph.input_count : 0; }
CNNRT_API size_t cnnrt_model_output_count(const cnnrt_model* model) { return model ? model->graph.output_count : 0; }

static void fill_info(const cnnrt_tensor_def* t, cnnrt_tensor_info* info) {
  memset(info, 0, sizeof *info);
  info->name = t->name;
  info->dtype = (cnnrt_dtype)t->dtype;
  info->rank = t->shape.rank;
  for (int d = 0; d < t->shape.rank; d++) {
    info->dims[d] = t->shape.dims[d];
    info->dim_names[d] = t->dim_names[d];
  }
}

static cnnrt_status io_info(const cnnrt_model* model, size_t index, cnnrt_tensor_info* info, int output) {
  if (!model || !info) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "model and info must not be NULL");
  size_t count = output ? model->graph.output_count : model->graph.input_count;
  if (index >= count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "%s index %zu out of range: the model has %zu",
                       output ? "output" : "input", index, count);
  fill_info(&model->tensors[output ? model->graph.outputs[index] : model->graph.inputs[index]], info);
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_model_input_info(const cnnrt_model* model, size_t index, cnnrt_tensor_info* info) {
  return io_info(model, index, info, 0);
}
CNNRT_API cnnrt_status cnnrt_model_output_info(const cnnrt_model* model, size_t index, cnnrt_tensor_info* info) {
  return io_info(model, index, info, 1);
}

/* Struct-size check for caller-owned result structs that grow over versions. */
#define CHECK_STRUCT(ptr, type)                                                                       \
  do {                                                                                                \
    if (!(ptr)) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, #type " pointer is NULL");           \
    if ((ptr)->struct_size < sizeof(type))                                                            \
      return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, #type ".struct_size is %zu, expected %zu",     \
                         (ptr)->struct_size, sizeof(type));                                           \
  } while (0)

CNNRT_API cnnrt_status cnnrt_model_get_stats(const cnnrt_model* model, cnnrt_model_stats* stats) {
  if (!model) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "model is NULL");
  CHECK_STRUCT(stats, cnnrt_model_stats);
  stats->node_count = model->graph.node_count;
  stats->tensor_count = model->graph.tensor_count;
  stats->weights_bytes = model->weights_bytes;
  stats->packed_bytes = model->packed_bytes;
  stats->param_count = model->param_count;
  return CNNRT_OK;
}

CNNRT_API size_t cnnrt_model_metadata_count(const cnnrt_model* model) { return model ? model->metadata_count : 0; }

CNNRT_API cnnrt_status cnnrt_model_metadata_entry(const cnnrt_model* model, size_t index, const char** key,
                                                  const char** value) {
  if (!model || !key || !value) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "NULL argument");
  if (index >= model->metadata_count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "metadata index %zu out of range (%u entries)", index,
                       model->metadata_count);
  *key = model->metadata_keys[index];
  *value = model->metadata_values[index];
  return CNNRT_OK;
}

CNNRT_API const char* cnnrt_model_metadata(const cnnrt_model* model, const char* key) {
  if (!model || !key) return NULL;
  for (uint32_t i = 0; i < model->metadata_count; i++)
    if (strcmp(model->metadata_keys[i], key) == 0) return model->metadata_values[i];
  return NULL;
}

CNNRT_API size_t cnnrt_model_node_count(const cnnrt_model* model) { return model ? model->graph.node_count : 0; }

CNNRT_API cnnrt_status cnnrt_model_node_info(const cnnrt_model* model, size_t index, cnnrt_node_info* info) {
  if (!model) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "model is NULL");
  CHECK_STRUCT(info, cnnrt_node_info);
  if (index >= model->graph.node_count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "node index %zu out of range (%u nodes)", index,
                       model->graph.node_count);
  const cnnrt_node* n = &model->nodes[index];
  info->name = n->name;
  info->op = n->def->name;
  info->op_version = n->op_version;
  info->activation = n->epilogue.activation ? cnnrt_activation_name(n->epilogue.activation) : "";
  info->has_residual = n->epilogue.residual;
  info->input_count = n->input_count;
  info->output_count = n->output_count;
  uint64_t params = 0;
  for (uint32_t k = 0; k < n->input_count; k++) {
    uint32_t t = n->inputs[k];
    if (t != CNNRT_NO_TENSOR && model->tensors[t].kind == CNNRT_TENSOR_CONSTANT) {
      int64_t numel = cnnrt_shape_numel(&model->tensors[t].shape);
      if (numel > 0) params += (uint64_t)numel;
    }
  }
  info->param_count = params;
  return CNNRT_OK;
}

static const char* node_tensor_name(const cnnrt_model* model, size_t node, size_t which, int output) {
  if (!model || node >= model->graph.node_count) return NULL;
  const cnnrt_node* n = &model->nodes[node];
  if (which >= (output ? n->output_count : n->input_count)) return NULL;
  uint32_t t = output ? n->outputs[which] : n->inputs[which];
  return t == CNNRT_NO_TENSOR ? NULL : model->tensors[t].name;
}

CNNRT_API const char* cnnrt_model_node_input_name(const cnnrt_model* model, size_t node, size_t which) {
  return node_tensor_name(model, node, which, 0);
}
CNNRT_API const char* cnnrt_model_node_output_name(const cnnrt_model* model, size_t node, size_t which) {
  return node_tensor_name(model, node, which, 1);
}

CNNRT_API size_t cnnrt_model_node_attribute_count(const cnnrt_model* model, size_t node) {
  return model && node < model->graph.node_count ? model->nodes[node].attr_count : 0;
}

CNNRT_API cnnrt_status cnnrt_model_node_attribute(const cnnrt_model* model, size_t node, size_t index,
                                                  cnnrt_attribute* attribute) {
  if (!model || !attribute) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "model and attribute must not be NULL");
  if (node >= model->graph.node_count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "node index %zu out of range (%u nodes)", node,
                       model->graph.node_count);
  const cnnrt_node* n = &model->nodes[node];
  if (index >= n->attr_count)
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "node '%s' has %u attributes, index %zu is out of range", n->name,
                       n->attr_count, index);
  const cnnrt_attr* a = &n->attrs[index];
  attribute->name = a->name;
  attribute->type = (cnnrt_attribute_type)a->type;
  attribute->count = a->count;
  attribute->ints = a->ints;
  attribute->floats = a->floats;
  attribute->string = a->str;
  return CNNRT_OK;
}

CNNRT_API cnnrt_status cnnrt_model_tensor_info(const cnnrt_model* model, const char* name, cnnrt_tensor_info* info) {
  if (!model || !name || !info) return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "NULL argument");
  for (uint32_t t = 0; t < model->graph.tensor_count; t++)
    if (strcmp(model->tensors[t].name, name) == 0) {
      fill_info(&model->tensors[t], info);
      return CNNRT_OK;
    }
  return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "the model has no tensor named '%s'", name);
}
