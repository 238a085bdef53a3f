// Scalar reference for the Q4 LM head (kernels.h, Q4GemmFn): quantisation of F16/F32 rows and
// the product with block-quantised activations (exact integer block sums, float accumulation
// over the blocks in order).
#include <cstring>
#include <vector>

#include "common/fp16.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels {
namespace {

// Stores value i (in [-8, 7]) of a row as its nibble.
void put_q4(uint8_t *q, int64_t i, int v) {
    const int64_t b = i / kQ8Block, j = i % kQ8Block;
    uint8_t &byte = q[b * (kQ8Block / 2) + j % (kQ8Block / 2)];
    const uint8_t nib = (uint8_t)(v + 8);
    byte = j < kQ8Block / 2 ? (uint8_t)((byte & 0xf0) | nib) : (uint8_t)((byte & 0x0f) | (nib << 4));
}

}  // namespace

void q4_quantize_f16_scalar(const uint16_t *x, int64_t k, uint8_t *q, float *scale) {
    std::memset(q, 0, (size_t)(k / 2));
    detail::quantize_head_row(
        k, 7.0f, scale, [x](int64_t i) { return f16_to_f32(x[i]); },
        [q](int64_t i, float v) { put_q4(q, i, detail::q4_round(v)); });
}

void q4_quantize_f32_scalar(const float *x, int64_t k, uint8_t *q, float *scale) {
    std::memset(q, 0, (size_t)(k / 2));
    detail::quantize_head_row(
        k, 7.0f, scale, [x](int64_t i) { return x[i]; },
        [q](int64_t i, float v) { put_q4(q, i, detail::q4_round(v)); });
}

void q4_quantize_x(const float *x, int64_t k, int8_t *xq, float *d, int32_t *xsum) {
    q8_quantize_f32_scalar(x, k, xq, d);
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        int32_t s = 0;
        for (int64_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) s += xq[i];
        xsum[b] = s;
    }
}

void q4_gemm_scalar(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows,
                    const float *x, int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = k / kQ8Block, half = kQ8Block / 2;
    std::vector<int8_t> xq((size_t)k);
    std::vector<float> d((size_t)nb);
    std::vector<int32_t> xsum((size_t)nb);
    for (int64_t j = 0; j < n_tok; ++j) {
        q4_quantize_x(x + j * k, k, xq.data(), d.data(), xsum.data());
        for (int64_t r = 0; r < n_rows; ++r) {
            const uint8_t *wr = w + r * (k / 2);
            float s = 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t *wb = wr + b * half;
                const int8_t *xb = xq.data() + b * kQ8Block;
                int32_t isum = 0;
                for (int64_t i = 0; i < half; ++i) isum += ((wb[i] & 15) - 8) * xb[i];
                for (int64_t i = 0; i < half; ++i) isum += ((wb[i] >> 4) - 8) * xb[half + i];
                s += (float)isum * (scale[r * nb + b] * d[b]);
            }
            y[j * ldy + r] = s;
        }
    }
}

}  // namespace bitnet::kernels
