// NEON pieces shared by the quantised LM head kernels (q8_neon.cpp, q4_neon.cpp): the row loop
// of the product with float32 activations and the quantisation of an F16 block. As in
// qhead_avx2.h the expression is the scalar one with the additions reordered: each block's sum
// is formed as 4 lane partial sums (by the format's BlockDot), four blocks' sums are reduced
// together (lane q = block b + q), multiplied by their 4 scales (fused with the accumulation) and
// the accumulator lanes are added at the end.
#pragma once

#include <arm_neon.h>

#include <cstdint>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail::neon {

// Lane q = the sum of the 4 lanes of v[q].
inline float32x4_t hsum4(const float32x4_t v[4]) {
    return vpaddq_f32(vpaddq_f32(v[0], v[1]), vpaddq_f32(v[2], v[3]));
}

template <int64_t kBlockBytes, class BlockDot>
void quant_row_dot(const uint8_t *w, const float *scale, int64_t k, const float *x, float *y,
                   BlockDot block_dot) {
    const int64_t nb = k / kQ8Block;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        float32x4_t s[8];
        BITNET_UNROLL
        for (int q = 0; q < 8; ++q) {
            s[q] = block_dot(w + (b + q) * kBlockBytes, x + (b + q) * kQ8Block);
        }
        acc0 = vfmaq_f32(acc0, hsum4(s), vld1q_f32(scale + b));
        acc1 = vfmaq_f32(acc1, hsum4(s + 4), vld1q_f32(scale + b + 4));
    }
    for (; b < nb; b += 4) {  // 1-7 blocks left: zero sums and zero scales in the unused lanes
        const int left = nb - b < 4 ? (int)(nb - b) : 4;
        float32x4_t s[4];
        float sc[4] = {};
        for (int q = 0; q < 4; ++q) {
            s[q] = q < left ? block_dot(w + (b + q) * kBlockBytes, x + (b + q) * kQ8Block)
                            : vdupq_n_f32(0.0f);
            if (q < left) sc[q] = scale[b + q];
        }
        acc0 = vfmaq_f32(acc0, hsum4(s), vld1q_f32(sc));
    }
    *y = vaddvq_f32(vaddq_f32(acc0, acc1));
}

// All rows for all tokens (for_rows_by_token).
template <int64_t kBlockBytes, class BlockDot>
void quant_gemm(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                int64_t n_tok, float *y, int64_t ldy, BlockDot block_dot) {
    const int64_t nb = k / kQ8Block, row_bytes = nb * kBlockBytes;
    for_rows_by_token(n_rows, n_tok, [&](int64_t r, int64_t t) {
        quant_row_dot<kBlockBytes>(w + r * row_bytes, scale + r * nb, k, x + t * k,
                                   y + t * ldy + r, block_dot);
    });
}

// One F16 block as in qhead_avx2.h: widen, |x| max by compare-and-select (a NaN is skipped), one
// scalar division for the scale amax / qmax, vector divisions, fcvtns (half to even) with NaN
// mapped to nan_value as the reference does (fcvtns gives 0). r[j] holds values 4j .. 4j+3.
inline float quantize_f16_block(const uint16_t *xb, float qmax, int32_t nan_value,
                                int32x4_t r[8]) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < 4; ++j) {
        const float16x8_t hv = vreinterpretq_f16_u16(vld1q_u16(xb + 8 * j));
        v[2 * j] = vcvt_f32_f16(vget_low_f16(hv));
        v[2 * j + 1] = vcvt_high_f32_f16(hv);
    }
    for (int j = 0; j < 8; ++j) {
        const float32x4_t a = vabsq_f32(v[j]);
        m = vbslq_f32(vcgtq_f32(a, m), a, m);
    }
    float amax = 0.0f;
    for (int j = 0; j < 4; ++j) amax = m[j] > amax ? m[j] : amax;
    const float s = amax > 0.0f ? amax / qmax : 1.0f;
    const float32x4_t vs = vdupq_n_f32(s);
    const int32x4_t nan_q = vdupq_n_s32(nan_value);
    for (int j = 0; j < 8; ++j) {
        const float32x4_t d = vdivq_f32(v[j], vs);
        r[j] = vbslq_s32(vceqq_f32(d, d), vcvtnq_s32_f32(d), nan_q);
    }
    return s;
}

}  // namespace bitnet::kernels::detail::neon
