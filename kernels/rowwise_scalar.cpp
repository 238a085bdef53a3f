// Scalar reference for the row-wise float operations: RMSNorm, NeoX and normal RoPE, softmax, made of the
// element steps of kernels_isa.h (which the SIMD versions use for their tails and reproduce bit
// for bit in their vector steps).
#include <cmath>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels {

using namespace detail;

void rms_norm_scalar(const float *x, const float *w, int64_t n, float eps, float *y) {
    double s[8] = {};
    add_squares_from(x, 0, n, s);
    scale_mul_from(x, w, 0, n, rms_scale(combine8(s), n, eps), y);
}

void rope_neox_scalar(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                      const float *cos, const float *sin) {
    for (int64_t h = 0; h < n_heads; ++h, v += head_dim) rope_pairs_from(v, 0, n_rot / 2, cos, sin);
}

void rope_norm_scalar(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                      const float *cos, const float *sin) {
    for (int64_t h = 0; h < n_heads; ++h, v += head_dim) {
        rope_adjacent_from(v, 0, n_rot / 2, cos, sin);
    }
}

void softmax_scalar(float *x, int64_t n, float scale) {
    const float mx = scale_max_from(x, 0, n, scale, -INFINITY);
    double s[8] = {};
    exp_sum_from(x, 0, n, mx, s);
    scale_from(x, 0, n, (float)(1.0 / combine8(s)));
}

}  // namespace bitnet::kernels
