// Scalar reference for quantising rows to the Q8 LM head's format (int8, one scale per block
// of kQ8Block values; see Q8QuantizeF16Fn).
#include <cmath>

#include "common/fp16.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels {
namespace {

template <class Load>
void quantize_blocks(int64_t k, int8_t *q, float *scale, Load load) {
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        float amax = 0.0f;
        for (int64_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) {
            const float a = std::fabs(load(i));
            amax = a > amax ? a : amax;  // maxps(a, amax): a NaN is skipped
        }
        const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        scale[b] = s;
        for (int64_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) {
            q[i] = detail::round_to_i8(load(i) / s);
        }
    }
}

}  // namespace

void q8_quantize_f16_scalar(const uint16_t *x, int64_t k, int8_t *q, float *scale) {
    quantize_blocks(k, q, scale, [x](int64_t i) { return f16_to_f32(x[i]); });
}

void q8_quantize_f32_scalar(const float *x, int64_t k, int8_t *q, float *scale) {
    quantize_blocks(k, q, scale, [x](int64_t i) { return x[i]; });
}

}  // namespace bitnet::kernels
