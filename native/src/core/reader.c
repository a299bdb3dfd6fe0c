/*
 * The .cnnrt reader (docs/format.md). It trusts nothing in the file: every
 * offset, size, count, index, enum and string is checked before use, with 64-bit
 * arithmetic that cannot overflow, so a truncated, corrupted or hostile file is
 * an error that names the section, entry and field, never an out-of-bounds read.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the reader uses index and value tables in place, which needs a little-endian CPU"
#endif

#define MAGIC "CNNRT\0\r\n"
#define HEADER_SIZE 64u
#define SECTION_ENTRY_SIZE 32u
#define MAX_SECTIONS 4096u
#define TENSOR_ENTRY_SIZE 128u
#define NODE_ENTRY_SIZE 48u
#define ATTR_ENTRY_SIZE 16u
#define QUANT_ENTRY_SIZE 24u
#define MAX_ATTR_VALUES 4096u
/* Dims beyond this are surely corrupt; it keeps products far from overflow. */
#define MAX_DIM ((int64_t)1 << 40)

#define SECTION_REQUIRED 1u
#define SECTION_HAS_CRC 2u
#define NODE_FLAG_RESIDUAL 1u

enum {
  SEC_STRS, SEC_TENS, SEC_NODE, SEC_INDX, SEC_ATTR, SEC_AVAL, SEC_GRPH, SEC_META, SEC_QNTZ, SEC_WGHT,
  SEC_KNOWN
};
static const char* const section_names[SEC_KNOWN] = {"STRS", "TENS", "NODE", "INDX", "ATTR",
                                                     "AVAL", "GRPH", "META", "QNTZ", "WGHT"};

typedef struct section {
  int present;
  uint32_t flags;
  uint64_t offset, size;
  const uint8_t* data;
} section;

typedef struct reader {
  const uint8_t* bytes;
  uint64_t size;
  section sections[SEC_KNOWN];
  uint64_t index_count, aval_count, quant_count;
} reader;

static uint16_t rd16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t* p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static float rdf32(const uint8_t* p) {
  uint32_t bits = rd32(p);
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

/* CRC-32 (IEEE 802.3, reflected, as zlib.crc32). */
static uint32_t crc_table[256];
static void crc_init_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}
static uint32_t crc_update(uint32_t crc, const uint8_t* data, uint64_t size) {
  static int ready; /* benign race: every thread computes the same table */
  if (!ready) {
    crc_init_table();
    ready = 1;
  }
  crc = ~crc;
  for (uint64_t i = 0; i < size; i++) crc = crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

static cnnrt_status corrupt(const char* format, ...) CNNRT_PRINTF(1, 2);
#include <stdarg.h>
#include <stdio.h>
static cnnrt_status corrupt(const char* format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  return cnnrt_error(CNNRT_ERROR_INVALID_MODEL, "invalid model file: %s", message);
}

/* Names reach callers that decode them (Python, JSON tools): reject bytes
 * that are not well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF). */
static int valid_utf8(const uint8_t* p, const uint8_t* end) {
  while (p < end) {
    uint8_t c = *p;
    int extra;
    uint32_t min, value;
    if (c < 0x80) { p++; continue; }
    if ((c & 0xE0) == 0xC0) { extra = 1; min = 0x80; value = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { extra = 2; min = 0x800; value = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { extra = 3; min = 0x10000; value = c & 0x07; }
    else return 0;
    if (end - p <= extra) return 0;
    for (int k = 1; k <= extra; k++) {
      if ((p[k] & 0xC0) != 0x80) return 0;
      value = (value << 6) | (p[k] & 0x3F);
    }
    if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
    p += extra + 1;
  }
  return 1;
}

/* Reads a string reference; fails unless the string ends inside STRS. */
static cnnrt_status read_string(const reader* r, uint32_t ref, const char** out, const char* where) {
  const section* s = &r->sections[SEC_STRS];
  if (ref >= s->size)
    return corrupt("%s: string reference %u is outside the string table (%llu bytes)", where, ref,
                   (unsigned long long)s->size);
  const void* end = memchr(s->data + ref, 0, (size_t)(s->size - ref));
  if (end == NULL) return corrupt("%s: string at %u is not terminated inside the string table", where, ref);
  const uint8_t* p = s->data + ref;
  if (!valid_utf8(p, (const uint8_t*)end))
    return corrupt("%s: string at %u is not valid UTF-8", where, ref);
  *out = (const char*)p;
  return CNNRT_OK;
}

/* A table section: 8-byte preamble with a count, then fixed-size entries. */
static cnnrt_status table_count(const reader* r, int kind, uint64_t entry_size, uint64_t* count) {
  const section* s = &r->sections[kind];
  *count = 0;
  if (!s->present) return CNNRT_OK;
  if (s->size < 8) return corrupt("section %s is %llu bytes, shorter than its 8-byte preamble",
                                  section_names[kind], (unsigned long long)s->size);
  uint64_t n = rd32(s->data);
  if (n > (s->size - 8) / entry_size)
    return corrupt("section %s declares %llu entries of %llu bytes, but holds only %llu bytes",
                   section_names[kind], (unsigned long long)n, (unsigned long long)entry_size,
                   (unsigned long long)(s->size - 8));
  *count = n;
  return CNNRT_OK;
}

static cnnrt_status read_header_and_sections(reader* r, uint32_t flags) {
  const uint8_t* b = r->bytes;
  if (r->size < HEADER_SIZE)
    return corrupt("the file is %llu bytes, shorter than the 64-byte header (truncated?)",
                   (unsigned long long)r->size);
  if (memcmp(b, MAGIC, 8) != 0) return corrupt("bad magic: this is not a .cnnrt model file");
  uint16_t major = rd16(b + 8), minor = rd16(b + 10);
  if (major != 1)
    return cnnrt_error(CNNRT_ERROR_UNSUPPORTED,
                       "model file format version %u.%u: this runtime reads version 1.x", major, minor);
  if (rd32(b + 12) != HEADER_SIZE) return corrupt("header size %u, expected 64", rd32(b + 12));
  uint64_t file_size = rd64(b + 16);
  if (file_size != r->size)
    return corrupt("header says the file is %llu bytes, but it is %llu bytes (truncated or padded)",
                   (unsigned long long)file_size, (unsigned long long)r->size);
  uint64_t table_offset = rd64(b + 24);
  uint32_t section_count = rd32(b + 32);
  if (table_offset != HEADER_SIZE) return corrupt("section table at %llu, expected 64",
                                                  (unsigned long long)table_offset);
  if (section_count == 0 || section_count > MAX_SECTIONS)
    return corrupt("section count %u, expected 1..%u", section_count, MAX_SECTIONS);
  uint64_t table_bytes = (uint64_t)section_count * SECTION_ENTRY_SIZE;
  if (table_bytes > r->size - HEADER_SIZE)
    return corrupt("the section table (%u entries) runs past the end of the file", section_count);
  if (rd32(b + 36) != 0) return corrupt("header flags 0x%x, expected 0", rd32(b + 36));

  uint32_t crc = crc_update(0, b, 40);
  crc = crc_update(crc, b + 44, HEADER_SIZE - 44);
  crc = crc_update(crc, b + HEADER_SIZE, table_bytes);
  if (crc != rd32(b + 40))
    return corrupt("header checksum mismatch (stored 0x%08x, computed 0x%08x): the header or section "
                   "table is damaged", rd32(b + 40), crc);

  uint64_t tables_end = HEADER_SIZE + table_bytes;
  for (uint32_t i = 0; i < section_count; i++) {
    const uint8_t* e = b + HEADER_SIZE + (uint64_t)i * SECTION_ENTRY_SIZE;
    uint32_t kind_code = rd32(e);
    uint32_t sflags = rd32(e + 4);
    uint64_t offset = rd64(e + 8), size = rd64(e + 16);
    char kind_name[5] = {(char)e[0], (char)e[1], (char)e[2], (char)e[3], 0};
    for (int k = 0; k < 4; k++)
      if (kind_name[k] < 0x20 || kind_name[k] > 0x7e) kind_name[k] = '?';
    if (offset < tables_end || offset > r->size || size > r->size - offset)
      return corrupt("section %u (%s): range [%llu, +%llu) lies outside the file body [%llu, %llu)", i,
                     kind_name, (unsigned long long)offset, (unsigned long long)size,
                     (unsigned long long)tables_end, (unsigned long long)r->size);
    int kind = -1;
    for (int k = 0; k < SEC_KNOWN; k++)
      if (kind_code == rd32((const uint8_t*)section_names[k])) kind = k;
    if (kind < 0) {
      if (sflags & SECTION_REQUIRED)
        return cnnrt_error(CNNRT_ERROR_UNSUPPORTED,
                           "model file: section %u has kind '%s', which this runtime does not know and "
                           "the file marks as required", i, kind_name);
      continue;
    }
    section* s = &r->sections[kind];
    if (s->present) return corrupt("section %s appears twice", section_names[kind]);
    uint64_t align = kind == SEC_WGHT ? 64 : 8;
    if (offset % align != 0)
      return corrupt("section %s starts at %llu, not a multiple of %llu", section_names[kind],
                     (unsigned long long)offset, (unsigned long long)align);
    s->present = 1;
    s->flags = sflags;
    s->offset = offset;
    s->size = size;
    s->data = b + offset;
    int check = (sflags & SECTION_HAS_CRC) && (kind != SEC_WGHT || (flags & CNNRT_MODEL_VERIFY_WEIGHTS));
    if (kind != SEC_WGHT && !(sflags & SECTION_HAS_CRC))
      return corrupt("section %s carries no checksum", section_names[kind]);
    if (check) {
      uint32_t computed = crc_update(0, s->data, size);
      if (computed != rd32(e + 24))
        return corrupt("section %s checksum mismatch (stored 0x%08x, computed 0x%08x): its contents "
                       "are damaged", section_names[kind], rd32(e + 24), computed);
    }
  }
  /* Overlap check among known sections (few of them: quadratic is fine). */
  for (int i = 0; i < SEC_KNOWN; i++)
    for (int j = i + 1; j < SEC_KNOWN; j++) {
      const section *a = &r->sections[i], *c = &r->sections[j];
      if (!a->present || !c->present || a->size == 0 || c->size == 0) continue;
      if (a->offset < c->offset + c->size && c->offset < a->offset + a->size)
        return corrupt("sections %s and %s overlap", section_names[i], section_names[j]);
    }
  static const int required[] = {SEC_STRS, SEC_TENS, SEC_NODE, SEC_INDX, SEC_ATTR, SEC_AVAL, SEC_GRPH};
  for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
    if (!r->sections[required[k]].present)
      return corrupt("required section %s is missing", section_names[required[k]]);
  const section* strs = &r->sections[SEC_STRS];
  if (strs->size == 0 || strs->data[0] != 0)
    return corrupt("the string table must begin with the empty string");
  if (r->sections[SEC_INDX].size % 4 != 0) return corrupt("section INDX size is not a multiple of 4");
  if (r->sections[SEC_AVAL].size % 8 != 0) return corrupt("section AVAL size is not a multiple of 8");
  r->index_count = r->sections[SEC_INDX].size / 4;
  r->aval_count = r->sections[SEC_AVAL].size / 8;
  return CNNRT_OK;
}

/* A byte range [offset, offset+size) inside WGHT, `align`-aligned. */
static cnnrt_status check_weights_range(const reader* r, uint64_t offset, uint64_t size, uint64_t align,
                                        const char* where) {
  const section* w = &r->sections[SEC_WGHT];
  if (!w->present) return corrupt("%s: refers to weights, but the file has no WGHT section", where);
  if (offset % align != 0)
    return corrupt("%s: data offset %llu is not a multiple of %llu", where, (unsigned long long)offset,
                   (unsigned long long)align);
  if (offset < w->offset || offset - w->offset > w->size || size > w->size - (offset - w->offset))
    return corrupt("%s: data [%llu, +%llu) lies outside the weights section [%llu, +%llu)", where,
                   (unsigned long long)offset, (unsigned long long)size, (unsigned long long)w->offset,
                   (unsigned long long)w->size);
  return CNNRT_OK;
}

static cnnrt_status read_tensors(reader* r, cnnrt_model* m) {
  uint64_t count;
  cnnrt_status st = table_count(r, SEC_TENS, TENSOR_ENTRY_SIZE, &count);
  if (st) return st;
  if (count == 0) return corrupt("the model has no tensors");
  if (count >= UINT32_MAX) return corrupt("too many tensors");
  uint64_t quant_count;
  if ((st = table_count(r, SEC_QNTZ, QUANT_ENTRY_SIZE, &quant_count))) return st;
  m->tensors = calloc((size_t)count, sizeof *m->tensors);
  if (!m->tensors) return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory reading %llu tensors",
                                      (unsigned long long)count);
  m->graph.tensor_count = (uint32_t)count;
  const uint8_t* base = r->sections[SEC_TENS].data + 8;
  for (uint64_t i = 0; i < count; i++) {
    const uint8_t* e = base + i * TENSOR_ENTRY_SIZE;
    cnnrt_tensor_def* t = &m->tensors[i];
    char where[64];
    snprintf(where, sizeof where, "tensor %llu", (unsigned long long)i);
    if ((st = read_string(r, rd32(e), &t->name, where))) return st;
    if (t->name[0] == 0) return corrupt("%s has an empty name", where);
    snprintf(where, sizeof where, "tensor %llu ('%.40s')", (unsigned long long)i, t->name);
    t->dtype = e[4];
    uint8_t rank = e[5];
    t->kind = e[6];
    if (t->dtype < CNNRT_DTYPE_FLOAT32 || t->dtype > CNNRT_DTYPE_INT64)
      return corrupt("%s: dtype code %u, expected 1..7", where, t->dtype);
    if (rank > CNNRT_MAX_RANK) return corrupt("%s: rank %u, expected at most %d", where, rank, CNNRT_MAX_RANK);
    if (t->kind > CNNRT_TENSOR_CONSTANT) return corrupt("%s: kind %u, expected 0 or 1", where, t->kind);
    uint32_t quant = rd32(e + 8);
    if (quant != UINT32_MAX && quant >= quant_count)
      return corrupt("%s: quantization index %u, but the file has %llu entries", where, quant,
                     (unsigned long long)quant_count);
    t->shape.rank = rank;
    uint64_t numel = 1;
    int known = 1;
    for (int d = 0; d < rank; d++) {
      int64_t dim = (int64_t)rd64(e + 32 + 8 * d);
      if (dim < -1 || dim > MAX_DIM)
        return corrupt("%s: dim %d is %lld, expected -1 (symbolic) or 0..2^40", where, d, (long long)dim);
      t->shape.dims[d] = dim;
      if ((st = read_string(r, rd32(e + 96 + 4 * d), &t->dim_names[d], where))) return st;
      if (dim < 0) {
        known = 0;
      } else if (numel != 0) {
        if (dim != 0 && numel > ((uint64_t)1 << 62) / (uint64_t)dim)
          return corrupt("%s: element count overflows", where);
        numel *= (uint64_t)dim;
      }
    }
    uint64_t data_offset = rd64(e + 16), data_size = rd64(e + 24);
    if (t->kind == CNNRT_TENSOR_CONSTANT) {
      if (!known) return corrupt("%s: a constant must have fully known dims", where);
      uint64_t expected = numel * cnnrt_dtype_size((cnnrt_dtype)t->dtype);
      if (data_size != expected)
        return corrupt("%s: data size %llu bytes, expected %llu for its shape and dtype", where,
                       (unsigned long long)data_size, (unsigned long long)expected);
      if ((st = check_weights_range(r, data_offset, data_size, 64, where))) return st;
      t->data = r->bytes + data_offset;
      t->data_size = data_size;
      m->weights_bytes += data_size;
      m->param_count += numel;
    } else if (data_offset != 0 || data_size != 0) {
      return corrupt("%s: a computed value must not carry data (offset %llu, size %llu)", where,
                     (unsigned long long)data_offset, (unsigned long long)data_size);
    }
  }
  /* Names must be unique: inputs and outputs are found by name. */
  for (uint32_t i = 0; i < m->graph.tensor_count; i++)
    for (uint32_t j = i + 1; j < m->graph.tensor_count; j++)
      if (strcmp(m->tensors[i].name, m->tensors[j].name) == 0)
        return corrupt("tensors %u and %u share the name '%.60s'", i, j, m->tensors[i].name);
  r->quant_count = quant_count;
  for (uint64_t q = 0; q < quant_count; q++) {
    const uint8_t* e = r->sections[SEC_QNTZ].data + 8 + q * QUANT_ENTRY_SIZE;
    char where[48];
    snprintf(where, sizeof where, "quantization entry %llu", (unsigned long long)q);
    int32_t axis = (int32_t)rd32(e);
    uint32_t n = rd32(e + 4);
    if (axis < -1 || axis >= CNNRT_MAX_RANK) return corrupt("%s: axis %d, expected -1..7", where, axis);
    if (n == 0 || n > (1u << 24)) return corrupt("%s: count %u, expected 1..2^24", where, n);
    if ((st = check_weights_range(r, rd64(e + 8), (uint64_t)n * 4, 4, where))) return st;
    if ((st = check_weights_range(r, rd64(e + 16), (uint64_t)n * 4, 4, where))) return st;
  }
  return CNNRT_OK;
}

static cnnrt_status read_index_range(const reader* r, uint64_t first, uint64_t count, const uint32_t** out,
                                     const char* where, const char* what) {
  if (first > r->index_count || count > r->index_count - first)
    return corrupt("%s: %s [%llu, +%llu) lie outside the index pool (%llu entries)", where, what,
                   (unsigned long long)first, (unsigned long long)count,
                   (unsigned long long)r->index_count);
  /* INDX starts 8-aligned and holds u32s: the pointer is aligned and little-endian is checked at build. */
  *out = (const uint32_t*)(r->sections[SEC_INDX].data) + first;
  return CNNRT_OK;
}

static cnnrt_status read_attributes(reader* r, cnnrt_model* m, uint64_t* count_out) {
  uint64_t count;
  cnnrt_status st = table_count(r, SEC_ATTR, ATTR_ENTRY_SIZE, &count);
  if (st) return st;
  *count_out = count;
  if (count == 0) return CNNRT_OK;
  m->attrs = calloc((size_t)count, sizeof *m->attrs);
  if (!m->attrs) return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory reading attributes");
  const uint8_t* base = r->sections[SEC_ATTR].data + 8;
  const uint8_t* aval = r->sections[SEC_AVAL].data;
  for (uint64_t i = 0; i < count; i++) {
    const uint8_t* e = base + i * ATTR_ENTRY_SIZE;
    cnnrt_attr* a = &m->attrs[i];
    char where[96];
    snprintf(where, sizeof where, "attribute %llu", (unsigned long long)i);
    if ((st = read_string(r, rd32(e), &a->name, where))) return st;
    snprintf(where, sizeof where, "attribute %llu ('%.40s')", (unsigned long long)i, a->name);
    a->type = e[4];
    a->count = rd32(e + 8);
    uint32_t first = rd32(e + 12);
    switch (a->type) {
      case CNNRT_ATTR_INT:
      case CNNRT_ATTR_FLOAT:
        if (a->count != 1) return corrupt("%s: a single value must have count 1, found %u", where, a->count);
        /* fall through */
      case CNNRT_ATTR_INTS:
      case CNNRT_ATTR_FLOATS:
        if (a->count > MAX_ATTR_VALUES)
          return corrupt("%s: %u values, expected at most %u", where, a->count, MAX_ATTR_VALUES);
        if ((uint64_t)first > r->aval_count || a->count > r->aval_count - first)
          return corrupt("%s: values [%u, +%u) lie outside the value pool (%llu slots)", where, first,
                         a->count, (unsigned long long)r->aval_count);
        if (a->type == CNNRT_ATTR_INT || a->type == CNNRT_ATTR_INTS)
          a->ints = a->count ? (const int64_t*)(aval) + first : NULL;
        else
          a->floats = a->count ? (const double*)(aval) + first : NULL;
        break;
      case CNNRT_ATTR_STRING:
        if (a->count != 1) return corrupt("%s: a string must have count 1, found %u", where, a->count);
        if ((st = read_string(r, first, &a->str, where))) return st;
        break;
      default:
        return corrupt("%s: type code %u, expected 1..5", where, a->type);
    }
  }
  return CNNRT_OK;
}

static cnnrt_status read_nodes(reader* r, cnnrt_model* m, uint64_t attr_count) {
  uint64_t count;
  cnnrt_status st = table_count(r, SEC_NODE, NODE_ENTRY_SIZE, &count);
  if (st) return st;
  if (count == 0) return corrupt("the model has no nodes");
  if (count >= UINT32_MAX) return corrupt("too many nodes");
  m->nodes = calloc((size_t)count, sizeof *m->nodes);
  if (!m->nodes) return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory reading nodes");
  m->graph.node_count = (uint32_t)count;
  const uint8_t* base = r->sections[SEC_NODE].data + 8;
  for (uint64_t i = 0; i < count; i++) {
    const uint8_t* e = base + i * NODE_ENTRY_SIZE;
    cnnrt_node* n = &m->nodes[i];
    char where[128];
    n->index = (uint32_t)i;
    snprintf(where, sizeof where, "node %llu", (unsigned long long)i);
    if ((st = read_string(r, rd32(e), &n->name, where))) return st;
    n->op = rd16(e + 4);
    n->op_version = rd16(e + 6);
    n->def = cnnrt_op_find(n->op);
    snprintf(where, sizeof where, "node %llu ('%.40s', %s)", (unsigned long long)i, n->name,
             n->def ? n->def->name : "?");
    if (!n->def)
      return cnnrt_error(CNNRT_ERROR_UNSUPPORTED, "model file: node %llu ('%.60s') has op code %u, which this "
                         "runtime does not know (see docs/ops.md)", (unsigned long long)i, n->name, n->op);
    uint32_t in_first = rd32(e + 8), in_count = rd32(e + 12);
    uint32_t out_first = rd32(e + 16), out_count = rd32(e + 20);
    uint32_t attr_first = rd32(e + 24);
    n->attr_count = rd32(e + 28);
    if ((st = read_index_range(r, in_first, in_count, &n->inputs, where, "inputs"))) return st;
    if ((st = read_index_range(r, out_first, out_count, &n->outputs, where, "outputs"))) return st;
    n->input_count = in_count;
    n->output_count = out_count;
    if ((uint64_t)attr_first > attr_count || n->attr_count > attr_count - attr_first)
      return corrupt("%s: attributes [%u, +%u) lie outside the attribute table (%llu)", where, attr_first,
                     n->attr_count, (unsigned long long)attr_count);
    n->attrs = n->attr_count ? m->attrs + attr_first : NULL;
    n->epilogue.activation = e[32];
    uint8_t flags = e[33];
    n->epilogue.alpha = rdf32(e + 36);
    n->epilogue.beta = rdf32(e + 40);
    if (n->epilogue.activation >= CNNRT_ACT_COUNT)
      return corrupt("%s: epilogue activation code %u, expected 0..%d", where, n->epilogue.activation,
                     CNNRT_ACT_COUNT - 1);
    if (flags & ~NODE_FLAG_RESIDUAL) return corrupt("%s: unknown node flags 0x%x", where, flags);
    n->epilogue.residual = (flags & NODE_FLAG_RESIDUAL) ? 1 : 0;
    const cnnrt_op_def* def = n->def;
    if (n->epilogue.activation && def->epilogue == CNNRT_EPILOGUE_NONE)
      return corrupt("%s: carries a fused activation, which %s does not take", where, def->name);
    if (n->epilogue.residual && def->epilogue != CNNRT_EPILOGUE_FULL)
      return corrupt("%s: carries a fused residual add, which %s does not take", where, def->name);
    uint32_t op_inputs = in_count - n->epilogue.residual;
    if (in_count < n->epilogue.residual || op_inputs < def->min_inputs ||
        (def->max_inputs != 255 && op_inputs > def->max_inputs))
      return corrupt("%s: %u inputs, expected %u..%u%s", where, op_inputs, def->min_inputs,
                     def->max_inputs == 255 ? 9999u : def->max_inputs,
                     n->epilogue.residual ? " plus the residual" : "");
    if (out_count < def->min_outputs || (def->max_outputs != 255 && out_count > def->max_outputs))
      return corrupt("%s: %u outputs, expected %u..%u", where, out_count, def->min_outputs,
                     def->max_outputs == 255 ? 9999u : def->max_outputs);
  }
  return CNNRT_OK;
}

/* Topology: every input is a constant, a graph input or produced earlier;
 * every value is produced once; graph outputs are produced. */
static cnnrt_status check_graph(reader* r, cnnrt_model* m) {
  const section* g = &r->sections[SEC_GRPH];
  if (g->size < 16) return corrupt("section GRPH is %llu bytes, expected 16", (unsigned long long)g->size);
  uint32_t in_count = rd32(g->data), in_first = rd32(g->data + 4);
  uint32_t out_count = rd32(g->data + 8), out_first = rd32(g->data + 12);
  cnnrt_status st;
  if ((st = read_index_range(r, in_first, in_count, &m->graph.inputs, "graph", "inputs"))) return st;
  if ((st = read_index_range(r, out_first, out_count, &m->graph.outputs, "graph", "outputs"))) return st;
  m->graph.input_count = in_count;
  m->graph.output_count = out_count;
  if (out_count == 0) return corrupt("the graph has no outputs");
  uint32_t tensor_count = m->graph.tensor_count;
  m->producer = malloc(sizeof *m->producer * tensor_count);
  uint8_t* is_input = calloc(tensor_count, 1);
  if (!m->producer || !is_input) {
    free(is_input);
    return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory");
  }
  for (uint32_t t = 0; t < tensor_count; t++) m->producer[t] = UINT32_MAX;
  st = CNNRT_OK;
  for (uint32_t i = 0; i < in_count && !st; i++) {
    uint32_t t = m->graph.inputs[i];
    if (t >= tensor_count) st = corrupt("graph input %u: tensor index %u out of range (%u tensors)", i, t, tensor_count);
    else if (m->tensors[t].kind != CNNRT_TENSOR_VALUE) st = corrupt("graph input %u ('%.60s') is a constant", i, m->tensors[t].name);
    else if (is_input[t]) st = corrupt("graph input %u ('%.60s') is listed twice", i, m->tensors[t].name);
    else if (m->tensors[t].dtype != CNNRT_DTYPE_FLOAT32)
      st = cnnrt_error(CNNRT_ERROR_UNSUPPORTED, "graph input '%.60s' has dtype %s; this runtime takes float32 inputs",
                       m->tensors[t].name, cnnrt_dtype_name((cnnrt_dtype)m->tensors[t].dtype));
    else is_input[t] = 1;
  }
  for (uint32_t i = 0; i < m->graph.node_count && !st; i++) {
    const cnnrt_node* n = &m->nodes[i];
    for (uint32_t k = 0; k < n->input_count && !st; k++) {
      uint32_t t = n->inputs[k];
      if (t == CNNRT_NO_TENSOR) {
        if (n->epilogue.residual && k == n->input_count - 1)
          st = corrupt("node %u ('%.60s'): the residual input is absent", i, n->name);
        continue;
      }
      if (t >= tensor_count)
        st = corrupt("node %u ('%.60s'): input %u refers to tensor %u, but there are %u", i, n->name, k, t, tensor_count);
      else if (m->tensors[t].kind == CNNRT_TENSOR_VALUE && m->tensors[t].dtype != CNNRT_DTYPE_FLOAT32)
        st = cnnrt_error(CNNRT_ERROR_UNSUPPORTED, "node %u ('%.60s', %s): input %u ('%.60s') is a computed %s "
                         "tensor; the op reads float32", i, n->name, n->def->name, k, m->tensors[t].name,
                         cnnrt_dtype_name((cnnrt_dtype)m->tensors[t].dtype));
      else if (m->tensors[t].kind == CNNRT_TENSOR_VALUE && !is_input[t] && m->producer[t] == UINT32_MAX)
        st = corrupt("node %u ('%.60s'): input %u ('%.60s') is not computed before the node runs (nodes out "
                     "of order, or a dangling input)", i, n->name, k, m->tensors[t].name);
    }
    for (uint32_t k = 0; k < n->output_count && !st; k++) {
      uint32_t t = n->outputs[k];
      if (t == CNNRT_NO_TENSOR || t >= tensor_count)
        st = corrupt("node %u ('%.60s'): output %u refers to tensor %u, but there are %u", i, n->name, k, t, tensor_count);
      else if (m->tensors[t].kind != CNNRT_TENSOR_VALUE || is_input[t])
        st = corrupt("node %u ('%.60s'): output %u ('%.60s') is a constant or a graph input", i, n->name, k,
                     m->tensors[t].name);
      else if (m->producer[t] != UINT32_MAX)
        st = corrupt("node %u ('%.60s'): output '%.60s' is already computed by node %u", i, n->name,
                     m->tensors[t].name, m->producer[t]);
      else if (m->tensors[t].dtype != ((n->def->int64_outputs >> k) & 1 ? CNNRT_DTYPE_INT64 : CNNRT_DTYPE_FLOAT32))
        st = corrupt("node %u ('%.60s', %s): output %u ('%.60s') has dtype %s, but the op computes %s", i, n->name,
                     n->def->name, k, m->tensors[t].name, cnnrt_dtype_name((cnnrt_dtype)m->tensors[t].dtype),
                     (n->def->int64_outputs >> k) & 1 ? "int64" : "float32");
      else m->producer[t] = i;
    }
  }
  for (uint32_t i = 0; i < out_count && !st; i++) {
    uint32_t t = m->graph.outputs[i];
    if (t >= tensor_count) st = corrupt("graph output %u: tensor index %u out of range", i, t);
    else if (m->producer[t] == UINT32_MAX)
      st = corrupt("graph output %u ('%.60s') is not computed by any node", i, m->tensors[t].name);
    for (uint32_t j = 0; j < i && !st; j++)
      if (m->graph.outputs[j] == t) st = corrupt("graph output '%.60s' is listed twice", m->tensors[t].name);
  }
  free(is_input);
  return st;
}

static cnnrt_status read_metadata(reader* r, cnnrt_model* m) {
  uint64_t count;
  cnnrt_status st = table_count(r, SEC_META, 8, &count);
  if (st || count == 0) return st;
  m->metadata_keys = calloc((size_t)count, sizeof(char*));
  m->metadata_values = calloc((size_t)count, sizeof(char*));
  if (!m->metadata_keys || !m->metadata_values)
    return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "out of memory reading metadata");
  const uint8_t* base = r->sections[SEC_META].data + 8;
  for (uint64_t i = 0; i < count; i++) {
    char where[48];
    snprintf(where, sizeof where, "metadata entry %llu", (unsigned long long)i);
    if ((st = read_string(r, rd32(base + 8 * i), &m->metadata_keys[i], where))) return st;
    if ((st = read_string(r, rd32(base + 8 * i + 4), &m->metadata_values[i], where))) return st;
  }
  m->metadata_count = (uint32_t)count;
  return CNNRT_OK;
}

cnnrt_status cnnrt_model_parse(cnnrt_model* model, uint32_t flags) {
  reader r;
  memset(&r, 0, sizeof r);
  r.bytes = model->bytes;
  r.size = model->size;
  uint64_t attr_count = 0;
  cnnrt_status st;
  if ((st = read_header_and_sections(&r, flags))) return st;
  if ((st = read_tensors(&r, model))) return st;
  if ((st = read_attributes(&r, model, &attr_count))) return st;
  if ((st = read_nodes(&r, model, attr_count))) return st;
  if ((st = check_graph(&r, model))) return st;
  if ((st = read_metadata(&r, model))) return st;
  model->graph.tensors = model->tensors;
  model->graph.nodes = model->nodes;
  return CNNRT_OK;
}

void cnnrt_model_free_tables(cnnrt_model* model) {
  if (model->nodes) {
    for (uint32_t i = 0; i < model->graph.node_count; i++)
      if (model->nodes[i].state && model->nodes[i].def && model->nodes[i].def->destroy)
        model->nodes[i].def->destroy(model->nodes[i].state);
  }
  free(model->nodes);
  free(model->tensors);
  free(model->attrs);
  free(model->producer);
  free((void*)model->metadata_keys);
  free((void*)model->metadata_values);
}
