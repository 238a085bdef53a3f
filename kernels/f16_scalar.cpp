// Scalar reference for F16 weights x float32 activations (float32 accumulation, in k order).
#include "common/fp16.h"
#include "kernels/kernels.h"

namespace bitnet::kernels {

void f16_gemv_scalar(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, float *y) {
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint16_t *wr = w + r * k;
        float acc = 0.0f;
        for (int64_t i = 0; i < k; ++i) acc += f16_to_f32(wr[i]) * x[i];
        y[r] = acc;
    }
}

void f16_gemm_scalar(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                     float *y, int64_t ldy) {
    for (int64_t j = 0; j < n_tok; ++j) f16_gemv_scalar(w, k, n_rows, x + j * k, y + j * ldy);
}

}  // namespace bitnet::kernels
