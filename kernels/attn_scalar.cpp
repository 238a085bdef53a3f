// Scalar reference kernels for attention (scores and weighted sums over the KV cache), the
// F32 matrix product, F16 conversion and the Q8 LM head.
#include <cstring>

#include "common/fp16.h"
#include "kernels/kernels.h"

namespace bitnet::kernels {

void f32_gemm_scalar(const float *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                     float *y, int64_t ldy) {
    for (int64_t j = 0; j < n_tok; ++j) {
        const float *xj = x + j * k;
        for (int64_t r = 0; r < n_rows; ++r) {
            const float *wr = w + r * k;
            float s = 0.0f;
            for (int64_t i = 0; i < k; ++i) s += wr[i] * xj[i];
            y[j * ldy + r] = s;
        }
    }
}

void f16_wsum_scalar(const uint16_t *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                     int64_t ldp, float *out, int64_t ldo) {
    for (int64_t j = 0; j < n_p; ++j) {
        float *o = out + j * ldo;
        std::memset(o, 0, (size_t)k * sizeof(float));
        for (int64_t r = 0; r < n_rows; ++r) {
            const float pr = p[j * ldp + r];
            const uint16_t *vr = v + r * k;
            for (int64_t i = 0; i < k; ++i) o[i] += pr * f16_to_f32(vr[i]);
        }
    }
}

void f32_wsum_scalar(const float *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                     int64_t ldp, float *out, int64_t ldo) {
    for (int64_t j = 0; j < n_p; ++j) {
        float *o = out + j * ldo;
        std::memset(o, 0, (size_t)k * sizeof(float));
        for (int64_t r = 0; r < n_rows; ++r) {
            const float pr = p[j * ldp + r];
            const float *vr = v + r * k;
            for (int64_t i = 0; i < k; ++i) o[i] += pr * vr[i];
        }
    }
}

void q8_gemm_scalar(const int8_t *w, const float *scale, int64_t k, int64_t n_rows,
                    const float *x, int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = k / kQ8Block;
    for (int64_t j = 0; j < n_tok; ++j) {
        const float *xj = x + j * k;
        for (int64_t r = 0; r < n_rows; ++r) {
            const int8_t *wr = w + r * k;
            float s = 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                float sb = 0.0f;
                for (int64_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) sb += (float)wr[i] * xj[i];
                s += sb * scale[r * nb + b];
            }
            y[j * ldy + r] = s;
        }
    }
}

void f32_to_f16_scalar(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

}  // namespace bitnet::kernels
