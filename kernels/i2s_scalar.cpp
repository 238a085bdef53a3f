// Scalar reference for int8 activation quantisation and I2_S x int8 products
// (bitnet-reference.md sections 3.1-3.5). These define the semantics every SIMD kernel matches.
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels {

using detail::kI2sBlock;
using detail::kI2sBlockBytes;

float quantize_row_i8_scalar(const float *x, int64_t n, int8_t *q, int32_t *sum) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        if (a > amax) amax = a;  // written so that a NaN never becomes the maximum
    }
    const float s = detail::i8_scale(amax);
    int32_t total = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i] * s;
        q[i] = detail::round_to_i8(v);
        total += q[i];
    }
    *sum = total;
    return s;
}

// Value j of a block sits in byte j % 32, bits 7-2g..6-2g with g = j / 32; the ternary value is
// code - 1 (code 3 never occurs in valid data and decodes to 2).
void i2s_gemv_scalar(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                     int32_t *out) {
    const detail::I2sRows rows{w, k / 4, il};
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t *wr = rows.row(r);
        int32_t acc = 0;
        for (int64_t b = 0; b < k / kI2sBlock; ++b) {
            const uint8_t *wb = wr + b * rows.block_stride();
            const int8_t *qb = q + b * kI2sBlock;
            for (int g = 0; g < 4; ++g) {
                for (int p = 0; p < 32; ++p) {
                    const int t = ((wb[p] >> (6 - 2 * g)) & 3) - 1;
                    acc += t * qb[32 * g + p];
                }
            }
        }
        out[r] = acc;
    }
}

void i2s_gemm_scalar(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                     int64_t n_tok, int32_t *out, int64_t ldo) {
    for (int64_t j = 0; j < n_tok; ++j) {
        i2s_gemv_scalar(w, k, n_rows, il, q + j * k, out + j * ldo);
    }
}

void i2s_interleave(uint8_t *w, int64_t k, int64_t n_rows, int il) {
    const int64_t row_bytes = k / 4, group_bytes = il * row_bytes, n_blocks = k / kI2sBlock;
    std::vector<uint8_t> group((size_t)group_bytes);
    for (int64_t g0 = 0; g0 + il <= n_rows; g0 += il) {
        uint8_t *dst = w + g0 * row_bytes;
        std::memcpy(group.data(), dst, (size_t)group_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            for (int r = 0; r < il; ++r) {
                std::memcpy(dst + (b * il + r) * kI2sBlockBytes,
                            group.data() + r * row_bytes + b * kI2sBlockBytes,
                            (size_t)kI2sBlockBytes);
            }
        }
    }
}

void i2s_pack(const int8_t *t, int64_t n, uint8_t *out) {
    for (int64_t b = 0; b < n / kI2sBlock; ++b) {
        const int8_t *tb = t + b * kI2sBlock;
        for (int p = 0; p < 32; ++p) {
            uint8_t byte = 0;
            for (int g = 0; g < 4; ++g) byte |= (uint8_t)(((tb[32 * g + p] + 1) & 3) << (6 - 2 * g));
            out[b * kI2sBlockBytes + p] = byte;
        }
    }
}

void i2s_unpack(const uint8_t *w, int64_t n, int8_t *t) {
    for (int64_t b = 0; b < n / kI2sBlock; ++b) {
        const uint8_t *wb = w + b * kI2sBlockBytes;
        for (int g = 0; g < 4; ++g) {
            for (int p = 0; p < 32; ++p) {
                t[b * kI2sBlock + 32 * g + p] = (int8_t)(((wb[p] >> (6 - 2 * g)) & 3) - 1);
            }
        }
    }
}

}  // namespace bitnet::kernels
