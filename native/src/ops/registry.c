/* The op registry: op code -> definition (docs/ops.md). */
#include "op_common.h"

extern const cnnrt_op_def cnnrt_op_conv, cnnrt_op_conv_transpose, cnnrt_op_max_pool, cnnrt_op_average_pool,
    cnnrt_op_global_average_pool, cnnrt_op_global_max_pool, cnnrt_op_gemm, cnnrt_op_matmul;
extern const cnnrt_op_def cnnrt_op_relu, cnnrt_op_leaky_relu, cnnrt_op_clip, cnnrt_op_sigmoid, cnnrt_op_tanh,
    cnnrt_op_hard_sigmoid, cnnrt_op_hard_swish, cnnrt_op_silu, cnnrt_op_gelu, cnnrt_op_elu, cnnrt_op_softplus,
    cnnrt_op_exp, cnnrt_op_log, cnnrt_op_sqrt, cnnrt_op_abs, cnnrt_op_neg, cnnrt_op_erf, cnnrt_op_reciprocal,
    cnnrt_op_floor, cnnrt_op_ceil, cnnrt_op_selu, cnnrt_op_celu, cnnrt_op_thresholded_relu, cnnrt_op_softsign,
    cnnrt_op_mish, cnnrt_op_sign, cnnrt_op_round;
extern const cnnrt_op_def cnnrt_op_add, cnnrt_op_sub, cnnrt_op_mul, cnnrt_op_div, cnnrt_op_pow, cnnrt_op_max,
    cnnrt_op_min;
extern const cnnrt_op_def cnnrt_op_concat, cnnrt_op_split, cnnrt_op_slice, cnnrt_op_flatten, cnnrt_op_reshape,
    cnnrt_op_transpose, cnnrt_op_pad, cnnrt_op_resize, cnnrt_op_depth_to_space, cnnrt_op_space_to_depth,
    cnnrt_op_expand, cnnrt_op_tile;
extern const cnnrt_op_def cnnrt_op_softmax, cnnrt_op_log_softmax, cnnrt_op_reduce_mean, cnnrt_op_reduce_sum,
    cnnrt_op_reduce_max, cnnrt_op_reduce_min, cnnrt_op_reduce_prod, cnnrt_op_reduce_l1, cnnrt_op_reduce_l2,
    cnnrt_op_reduce_sum_square, cnnrt_op_reduce_log_sum, cnnrt_op_reduce_log_sum_exp, cnnrt_op_batch_normalization,
    cnnrt_op_lrn, cnnrt_op_instance_normalization, cnnrt_op_layer_normalization, cnnrt_op_group_normalization;
extern const cnnrt_op_def cnnrt_op_lp_pool, cnnrt_op_arg_max, cnnrt_op_arg_min, cnnrt_op_topk;

static const cnnrt_op_def* const all_ops[] = {
    &cnnrt_op_conv, &cnnrt_op_conv_transpose, &cnnrt_op_max_pool, &cnnrt_op_average_pool,
    &cnnrt_op_global_average_pool, &cnnrt_op_global_max_pool, &cnnrt_op_gemm, &cnnrt_op_matmul,
    &cnnrt_op_relu, &cnnrt_op_leaky_relu, &cnnrt_op_clip, &cnnrt_op_sigmoid, &cnnrt_op_tanh,
    &cnnrt_op_hard_sigmoid, &cnnrt_op_hard_swish, &cnnrt_op_silu, &cnnrt_op_gelu, &cnnrt_op_elu,
    &cnnrt_op_softplus, &cnnrt_op_exp, &cnnrt_op_log, &cnnrt_op_sqrt, &cnnrt_op_abs, &cnnrt_op_neg,
    &cnnrt_op_erf, &cnnrt_op_reciprocal, &cnnrt_op_floor, &cnnrt_op_ceil, &cnnrt_op_selu, &cnnrt_op_celu,
    &cnnrt_op_thresholded_relu, &cnnrt_op_softsign, &cnnrt_op_mish, &cnnrt_op_sign, &cnnrt_op_round,
    &cnnrt_op_add, &cnnrt_op_sub, &cnnrt_op_mul, &cnnrt_op_div, &cnnrt_op_pow, &cnnrt_op_max, &cnnrt_op_min,
    &cnnrt_op_concat, &cnnrt_op_split, &cnnrt_op_slice, &cnnrt_op_flatten, &cnnrt_op_reshape,
    &cnnrt_op_transpose, &cnnrt_op_pad, &cnnrt_op_resize, &cnnrt_op_depth_to_space, &cnnrt_op_space_to_depth,
    &cnnrt_op_expand, &cnnrt_op_tile,
    &cnnrt_op_softmax, &cnnrt_op_log_softmax, &cnnrt_op_reduce_mean, &cnnrt_op_reduce_sum,
    &cnnrt_op_reduce_max, &cnnrt_op_reduce_min, &cnnrt_op_reduce_prod, &cnnrt_op_reduce_l1, &cnnrt_op_reduce_l2,
    &cnnrt_op_reduce_sum_square, &cnnrt_op_reduce_log_sum, &cnnrt_op_reduce_log_sum_exp,
    &cnnrt_op_batch_normalization, &cnnrt_op_lrn, &cnnrt_op_instance_normalization,
    &cnnrt_op_layer_normalization, &cnnrt_op_group_normalization, &cnnrt_op_lp_pool, &cnnrt_op_arg_max,
    &cnnrt_op_arg_min, &cnnrt_op_topk,
};

const cnnrt_op_def* cnnrt_op_find(uint16_t code) {
  for (size_t i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
    if (all_ops[i]->code == code) return all_ops[i];
  }
  return NULL;
}
