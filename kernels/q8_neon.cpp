// NEON: int8 weights with one float scale per 32-value block (the opt-in Q8 LM head) times
// float32 activations, float32 accumulation. As in q8_avx2.cpp the expression is the scalar one
// with the additions reordered: each block's sum is formed as 4 lane partial sums, four blocks'
// sums are reduced together (lane q = block b + q), multiplied by their 4 scales (fused with the
// accumulation) and the accumulator lanes are added at the end.
#include <arm_neon.h>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

// The 32 products of one block as 4 lane partial sums (two chains of 4 FMAs).
inline float32x4_t block_dot(const int8_t *w, const float *x) {
    float32x4_t a = vdupq_n_f32(0.0f), b = vdupq_n_f32(0.0f);
    BITNET_UNROLL
    for (int h = 0; h < 2; ++h) {
        const int8x16_t v = vld1q_s8(w + 16 * h);
        const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
        const float *xh = x + 16 * h;
        a = vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), vld1q_f32(xh));
        b = vfmaq_f32(b, vcvtq_f32_s32(vmovl_high_s16(lo)), vld1q_f32(xh + 4));
        a = vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), vld1q_f32(xh + 8));
        b = vfmaq_f32(b, vcvtq_f32_s32(vmovl_high_s16(hi)), vld1q_f32(xh + 12));
    }
    return vaddq_f32(a, b);
}

// Lane q = the sum of the 4 lanes of v[q].
inline float32x4_t hsum4(const float32x4_t v[4]) {
    return vpaddq_f32(vpaddq_f32(v[0], v[1]), vpaddq_f32(v[2], v[3]));
}

void row_dot(const int8_t *w, const float *scale, int64_t k, const float *x, float *y) {
    const int64_t nb = k / kQ8Block;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        float32x4_t s[8];
        BITNET_UNROLL
        for (int q = 0; q < 8; ++q) {
            s[q] = block_dot(w + (b + q) * kQ8Block, x + (b + q) * kQ8Block);
        }
        acc0 = vfmaq_f32(acc0, hsum4(s), vld1q_f32(scale + b));
        acc1 = vfmaq_f32(acc1, hsum4(s + 4), vld1q_f32(scale + b + 4));
    }
    for (; b < nb; b += 4) {  // 1-7 blocks left: zero sums and zero scales in the unused lanes
        const int left = nb - b < 4 ? (int)(nb - b) : 4;
        float32x4_t s[4];
        float sc[4] = {};
        for (int q = 0; q < 4; ++q) {
            s[q] = q < left ? block_dot(w + (b + q) * kQ8Block, x + (b + q) * kQ8Block)
                            : vdupq_n_f32(0.0f);
            if (q < left) sc[q] = scale[b + q];
        }
        acc0 = vfmaq_f32(acc0, hsum4(s), vld1q_f32(sc));
    }
    *y = vaddvq_f32(vaddq_f32(acc0, acc1));
}

}  // namespace

void q8_gemm_neon(const int8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                  int64_t n_tok, float *y, int64_t ldy) {
    // Blocks of rows (kept in L2) for all tokens, so the weights are read from memory once.
    constexpr int64_t kRowBlock = 32;
    const int64_t nb = k / kQ8Block;
    for (int64_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
        const int64_t r1 = n_rows - r0 < kRowBlock ? n_rows : r0 + kRowBlock;
        for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t r = r0; r < r1; ++r) {
                row_dot(w + r * k, scale + r * nb, k, x + t * k, y + t * ldy + r);
            }
        }
    }
}

}  // namespace bitnet::kernels::detail

namespace bitnet::kernels::detail {

// As the AVX2 version: widen, |x| max by compare-and-select (a NaN is skipped), one scalar
// division for the scale, vector divisions, fcvtns (half to even) with NaN mapped to -128 as
// the reference does (fcvtns gives 0), saturating narrows.
void q8_quantize_f16_neon(const uint16_t *x, int64_t k, int8_t *q, float *scale) {
    const int32x4_t nan_q = vdupq_n_s32(-128);
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        const uint16_t *xb = x + b * kQ8Block;
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
        const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        scale[b] = s;
        const float32x4_t vs = vdupq_n_f32(s);
        int16x8_t h[4];
        for (int j = 0; j < 4; ++j) {
            const float32x4_t d0 = vdivq_f32(v[2 * j], vs), d1 = vdivq_f32(v[2 * j + 1], vs);
            const int32x4_t r0 = vbslq_s32(vceqq_f32(d0, d0), vcvtnq_s32_f32(d0), nan_q);
            const int32x4_t r1 = vbslq_s32(vceqq_f32(d1, d1), vcvtnq_s32_f32(d1), nan_q);
            h[j] = vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1));
        }
        vst1q_s8(q + b * kQ8Block, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
        vst1q_s8(q + b * kQ8Block + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
    }
}

}  // namespace bitnet::kernels::detail
