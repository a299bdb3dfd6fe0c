/*
 * Error reporting: a per-thread message buffer, so that concurrent sessions
 * never see each other's messages, plus the small library-level queries of
 * the public API (version, status and dtype names).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define CNNRT_ERROR_MESSAGE_SIZE 1024

static _Thread_local char error_message[CNNRT_ERROR_MESSAGE_SIZE];

cnnrt_status cnnrt_error(cnnrt_status status, const char* format, ...) {
  /* Format into a scratch copy first: an argument may point into
   * error_message itself (a message re-raised with more context). */
  char message[CNNRT_ERROR_MESSAGE_SIZE];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  memcpy(error_message, message, sizeof(message));
  return status;
}

void cnnrt_error_prefix(const char* format, ...) {
  char prefix[CNNRT_ERROR_MESSAGE_SIZE];
  va_list args;
  va_start(args, format);
  vsnprintf(prefix, sizeof(prefix), format, args);
  va_end(args);
  char message[CNNRT_ERROR_MESSAGE_SIZE];
  size_t used = strlen(prefix);
  memcpy(message, prefix, used);
  const char separator[] = ": ";
  for (size_t i = 0; separator[i] != '\0' && used + 1 < sizeof(message); i++) message[used++] = separator[i];
  size_t rest = strlen(error_message);
  if (rest > sizeof(message) - 1 - used) rest = sizeof(message) - 1 - used;
  memcpy(message + used, error_message, rest);
  message[used + rest] = '\0';
  memcpy(error_message, message, sizeof(message));
}

CNNRT_API const char* cnnrt_last_error(void) { return error_message; }

CNNRT_API const char* cnnrt_status_string(cnnrt_status status) {
  switch (status) {
    case CNNRT_OK: return "ok";
    case CNNRT_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case CNNRT_ERROR_INVALID_MODEL: return "invalid model";
    case CNNRT_ERROR_UNSUPPORTED: return "unsupported";
    case CNNRT_ERROR_OUT_OF_MEMORY: return "out of memory";
    case CNNRT_ERROR_IO: return "i/o error";
    case CNNRT_ERROR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

CNNRT_API size_t cnnrt_dtype_size(cnnrt_dtype dtype) {
  switch (dtype) {
    case CNNRT_DTYPE_FLOAT32: return 4;
    case CNNRT_DTYPE_FLOAT16: return 2;
    case CNNRT_DTYPE_BFLOAT16: return 2;
    case CNNRT_DTYPE_INT8: return 1;
    case CNNRT_DTYPE_UINT8: return 1;
    case CNNRT_DTYPE_INT32: return 4;
    case CNNRT_DTYPE_INT64: return 8;
    case CNNRT_DTYPE_UNDEFINED: return 0;
  }
  return 0;
}

CNNRT_API const char* cnnrt_dtype_name(cnnrt_dtype dtype) {
  switch (dtype) {
    case CNNRT_DTYPE_UNDEFINED: return "undefined";
    case CNNRT_DTYPE_FLOAT32: return "float32";
    case CNNRT_DTYPE_FLOAT16: return "float16";
    case CNNRT_DTYPE_BFLOAT16: return "bfloat16";
    case CNNRT_DTYPE_INT8: return "int8";
    case CNNRT_DTYPE_UINT8: return "uint8";
    case CNNRT_DTYPE_INT32: return "int32";
    case CNNRT_DTYPE_INT64: return "int64";
  }
  return "unknown";
}

#define CNNRT_STRINGIFY_(x) #x
#define CNNRT_STRINGIFY(x) CNNRT_STRINGIFY_(x)

CNNRT_API const char* cnnrt_version_string(void) {
  return CNNRT_STRINGIFY(CNNRT_VERSION_MAJOR) "." CNNRT_STRINGIFY(CNNRT_VERSION_MINOR) "." CNNRT_STRINGIFY(
      CNNRT_VERSION_PATCH);
}

CNNRT_API uint32_t cnnrt_version(void) {
  return (uint32_t)(CNNRT_VERSION_MAJOR * 10000 + CNNRT_VERSION_MINOR * 100 + CNNRT_VERSION_PATCH);
}
