/*
 * run_model: load a .cnnrt file and run it once, as an embedding app would.
 *
 *   run_model MODEL.cnnrt [INPUT.f32 [THREADS]]
 *
 * INPUT.f32 holds the raw float32 input (NCHW, little-endian); without it the
 * input is a fixed pattern. Symbolic input dims (batch) are set to 1. Prints
 * the output shape, a checksum and, for a classifier, the top-5 classes.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cnnrt/cnnrt.h>

static int fail(const char* what) {
  fprintf(stderr, "run_model: %s: %s\n", what, cnnrt_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.cnnrt [INPUT.f32 [THREADS]]\n", argv[0]);
    return 2;
  }
  printf("cnnrt %s\n", cnnrt_version_string());
  cnnrt_model* model = NULL;
  if (cnnrt_model_load_file(argv[1], NULL, &model) != CNNRT_OK) return fail("load");
  if (cnnrt_model_input_count(model) != 1) {
    fprintf(stderr, "run_model: this example takes models with one input\n");
    cnnrt_model_release(model);
    return 1;
  }
  cnnrt_session_options options = {sizeof options, argc > 3 ? atoi(argv[3]) : 1, 0};
  cnnrt_session* session = NULL;
  if (cnnrt_session_create(model, &options, &session) != CNNRT_OK) return fail("session");

  cnnrt_tensor_info in_info;
  cnnrt_model_input_info(model, 0, &in_info);
  cnnrt_tensor input = {in_info.name, CNNRT_DTYPE_FLOAT32, in_info.rank, {0}, NULL, 0};
  size_t count = 1;
  for (int d = 0; d < in_info.rank; d++) {
    input.dims[d] = in_info.dims[d] < 0 ? 1 : in_info.dims[d];
    count *= (size_t)input.dims[d];
  }
  float* x = malloc(count * sizeof *x);
  if (argc > 2) {
    FILE* f = fopen(argv[2], "rb");
    if (!f || fread(x, sizeof *x, count, f) != count) {
      fprintf(stderr, "run_model: cannot read %zu floats from %s\n", count, argv[2]);
      return 1;
    }
    fclose(f);
  } else {
    for (size_t i = 0; i < count; i++) x[i] = (float)((i * 7919u) % 255u) / 127.5f - 1.0f;
  }
  input.data = x;
  input.size_bytes = count * sizeof *x;
  if (cnnrt_session_reshape(session, 1, &input) != CNNRT_OK) return fail("reshape");

  cnnrt_tensor_info out_info;
  if (cnnrt_session_output_info(session, 0, &out_info) != CNNRT_OK) return fail("output info");
  size_t out_count = 1;
  for (int d = 0; d < out_info.rank; d++) out_count *= (size_t)out_info.dims[d];
  float* y = malloc(out_count * sizeof *y);
  cnnrt_tensor output = {NULL, CNNRT_DTYPE_FLOAT32, 0, {0}, y, out_count * sizeof *y};
  if (cnnrt_session_run(session, 1, &input, 1, &output) != CNNRT_OK) return fail("run");

  printf("output %s: [", out_info.name);
  for (int d = 0; d < output.rank; d++) printf("%s%lld", d ? ", " : "", (long long)output.dims[d]);
  double sum = 0;
  for (size_t i = 0; i < out_count; i++) sum += y[i];
  printf("] sum %.6f\n", sum);
  if (output.rank == 2) {
    size_t classes = (size_t)output.dims[1];
    printf("top-5:");
    for (int k = 0; k < 5 && (size_t)k < classes; k++) {
      size_t best = 0;
      for (size_t c = 1; c < classes; c++)
        if (y[c] > y[best]) best = c;
      printf(" %zu (%.4f)", best, y[best]);
      y[best] = -1e30f;
    }
    printf("\n");
  }
  free(x);
  free(y);
  cnnrt_session_release(session);
  cnnrt_model_release(model);
  return 0;
}
