// Scalar reference for the row-wise float operations: RMSNorm, NeoX RoPE and softmax, in the
// operation order of kernels_isa.h that the SIMD versions reproduce bit for bit.
#include <cmath>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels {

using detail::combine8;
using detail::exp_ref;
using detail::rms_scale;

void rms_norm_scalar(const float *x, const float *w, int64_t n, float eps, float *y) {
    double s[8] = {};
    for (int64_t i = 0; i < n; ++i) s[i % 8] += (double)x[i] * (double)x[i];
    const float scale = rms_scale(combine8(s), n, eps);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rope_neox_scalar(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                      const float *cos, const float *sin) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h, v += head_dim) {
        for (int64_t i = 0; i < half; ++i) {
            const float x0 = v[i], x1 = v[i + half];
            v[i] = x0 * cos[i] - x1 * sin[i];
            v[i + half] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

void softmax_scalar(float *x, int64_t n, float scale) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = x[i] * scale;
        mx = x[i] > mx ? x[i] : mx;  // maxps(x, mx): a NaN x leaves mx
    }
    double s[8] = {};
    for (int64_t i = 0; i < n; ++i) {
        x[i] = exp_ref(x[i] - mx);
        s[i % 8] += (double)x[i];
    }
    const float inv = (float)(1.0 / combine8(s));
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] * inv;
}

}  // namespace bitnet::kernels
