// Scalar reference for quantising rows to the Q8 LM head's format (int8, one scale per block
// of kQ8Block values; see Q8QuantizeF16Fn). The product is q8_gemm_scalar (attn_scalar.cpp).
#include "common/fp16.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels {

void q8_quantize_f16_scalar(const uint16_t *x, int64_t k, int8_t *q, float *scale) {
    detail::quantize_head_row(
        k, 127.0f, scale, [x](int64_t i) { return f16_to_f32(x[i]); },
        [q](int64_t i, float v) { q[i] = detail::round_to_i8(v); });
}

void q8_quantize_f32_scalar(const float *x, int64_t k, int8_t *q, float *scale) {
    detail::quantize_head_row(
        k, 127.0f, scale, [x](int64_t i) { return x[i]; },
        [q](int64_t i, float v) { q[i] = detail::round_to_i8(v); });
}

}  // namespace bitnet::kernels
