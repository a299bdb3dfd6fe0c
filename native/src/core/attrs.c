/*
 * Attribute getters. Types are strict: the converter writes each attribute in
 * exactly one form (docs/ops.md), so any other form means a broken model.
 */
#include <string.h>

#include "internal.h"

static const char* attr_type_name(uint8_t type) {
  switch (type) {
    case CNNRT_ATTR_INT: return "int";
    case CNNRT_ATTR_FLOAT: return "float";
    case CNNRT_ATTR_INTS: return "ints";
    case CNNRT_ATTR_FLOATS: return "floats";
    case CNNRT_ATTR_STRING: return "string";
  }
  return "unknown type";
}

static const char* op_name(const cnnrt_node* node) {
  const cnnrt_op_def* def = node->def != NULL ? node->def : cnnrt_op_find(node->op);
  return def != NULL ? def->name : "unknown op";
}

static cnnrt_status type_mismatch(const cnnrt_node* node, const cnnrt_attr* attr, uint8_t expected) {
  return cnnrt_error(CNNRT_ERROR_INVALID_MODEL, "node '%s' (%s): attribute '%s' expected %s, found %s",
                     node->name != NULL ? node->name : "", op_name(node), attr->name,
                     attr_type_name(expected), attr_type_name(attr->type));
}

static cnnrt_status count_mismatch(const cnnrt_node* node, const cnnrt_attr* attr) {
  return cnnrt_error(CNNRT_ERROR_INVALID_MODEL,
                     "node '%s' (%s): attribute '%s' expected 1 %s value, found %u",
                     node->name != NULL ? node->name : "", op_name(node), attr->name,
                     attr_type_name(attr->type), attr->count);
}

const cnnrt_attr* cnnrt_node_attr(const cnnrt_node* node, const char* name) {
  for (uint32_t i = 0; i < node->attr_count; i++) {
    if (node->attrs[i].name != NULL && strcmp(node->attrs[i].name, name) == 0) return &node->attrs[i];
  }
  return NULL;
}

cnnrt_status cnnrt_attr_int(const cnnrt_node* node, const char* name, int64_t fallback, int64_t* value) {
  const cnnrt_attr* attr = cnnrt_node_attr(node, name);
  *value = fallback;
  if (attr == NULL) return CNNRT_OK;
  if (attr->type != CNNRT_ATTR_INT) return type_mismatch(node, attr, CNNRT_ATTR_INT);
  if (attr->count != 1 || attr->ints == NULL) return count_mismatch(node, attr);
  *value = attr->ints[0];
  return CNNRT_OK;
}

cnnrt_status cnnrt_attr_float(const cnnrt_node* node, const char* name, float fallback, float* value) {
  const cnnrt_attr* attr = cnnrt_node_attr(node, name);
  *value = fallback;
  if (attr == NULL) return CNNRT_OK;
  if (attr->type != CNNRT_ATTR_FLOAT) return type_mismatch(node, attr, CNNRT_ATTR_FLOAT);
  if (attr->count != 1 || attr->floats == NULL) return count_mismatch(node, attr);
  *value = (float)attr->floats[0];
  return CNNRT_OK;
}

cnnrt_status cnnrt_attr_ints(const cnnrt_node* node, const char* name, const int64_t** values,
                             uint32_t* count) {
  const cnnrt_attr* attr = cnnrt_node_attr(node, name);
  *values = NULL;
  *count = 0;
  if (attr == NULL) return CNNRT_OK;
  if (attr->type != CNNRT_ATTR_INTS) return type_mismatch(node, attr, CNNRT_ATTR_INTS);
  if (attr->count > 0 && attr->ints == NULL) return count_mismatch(node, attr);
  *values = attr->ints;
  *count = attr->count;
  return CNNRT_OK;
}

cnnrt_status cnnrt_attr_floats(const cnnrt_node* node, const char* name, const double** values,
                               uint32_t* count) {
  const cnnrt_attr* attr = cnnrt_node_attr(node, name);
  *values = NULL;
  *count = 0;
  if (attr == NULL) return CNNRT_OK;
  if (attr->type != CNNRT_ATTR_FLOATS) return type_mismatch(node, attr, CNNRT_ATTR_FLOATS);
  if (attr->count > 0 && attr->floats == NULL) return count_mismatch(node, attr);
  *values = attr->floats;
  *count = attr->count;
  return CNNRT_OK;
}

cnnrt_status cnnrt_attr_string(const cnnrt_node* node, const char* name, const char* fallback,
                               const char** value) {
  const cnnrt_attr* attr = cnnrt_node_attr(node, name);
  *value = fallback;
  if (attr == NULL) return CNNRT_OK;
  if (attr->type != CNNRT_ATTR_STRING) return type_mismatch(node, attr, CNNRT_ATTR_STRING);
  if (attr->str == NULL) return count_mismatch(node, attr);
  *value = attr->str;
  return CNNRT_OK;
}

const cnnrt_tensor_def* cnnrt_node_constant(const cnnrt_graph* graph, const cnnrt_node* node,
                                            uint32_t input) {
  if (input >= node->input_count) return NULL;
  uint32_t index = node->inputs[input];
  if (index == CNNRT_NO_TENSOR || index >= graph->tensor_count) return NULL;
  const cnnrt_tensor_def* tensor = &graph->tensors[index];
  return tensor->kind == CNNRT_TENSOR_CONSTANT ? tensor : NULL;
}
