// NEON: the opt-in Q8 LM head (int8 weights with one float scale per 32-value block) times
// float32 activations, and the quantisation of F16 rows to it (row loop in qhead_neon.h).
#include <arm_neon.h>

#include "kernels/qhead_neon.h"

namespace bitnet::kernels::detail {
namespace {

// The 32 products of one block as 4 lane partial sums (two chains of 4 FMAs).
inline float32x4_t block_dot(const uint8_t *wu, const float *x) {
    const int8_t *w = reinterpret_cast<const int8_t *>(wu);
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

}  // namespace

void q8_gemm_neon(const int8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                  int64_t n_tok, float *y, int64_t ldy) {
    neon::quant_gemm<kQ8Block>(reinterpret_cast<const uint8_t *>(w), scale, k, n_rows, x, n_tok,
                               y, ldy, [](const uint8_t *wb, const float *xb) {
                                   return block_dot(wb, xb);  // a lambda: its own type, inlined
                               });
}

// Saturating narrows after the block quantisation (NaN -> -128, as round_to_i8).
void q8_quantize_f16_neon(const uint16_t *x, int64_t k, int8_t *q, float *scale) {
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        int32x4_t r[8];
        scale[b] = neon::quantize_f16_block(x + b * kQ8Block, 127.0f, -128, r);
        int16x8_t h[4];
        for (int j = 0; j < 4; ++j) h[j] = vcombine_s16(vqmovn_s32(r[2 * j]), vqmovn_s32(r[2 * j + 1]));
        vst1q_s8(q + b * kQ8Block, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
        vst1q_s8(q + b * kQ8Block + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
    }
}

}  // namespace bitnet::kernels::detail
