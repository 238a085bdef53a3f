// NEON (dotprod): the opt-in Q4 LM head (kernels.h, Q4GemmFn) times block-quantised int8
// activations, and the quantisation of F16 rows to it. A block's 16 bytes are split into their
// low nibbles (values 0-15) and high nibbles (16-31), made signed, and multiplied with the
// activations by two sdot; four blocks' sums are reduced into one vector and scaled.
#include <arm_neon.h>

#include "kernels/qhead_neon.h"

namespace bitnet::kernels::detail {
namespace {

// sum_i v_i * xq_i over one block (v = nibble - 8) as 4 int32 lanes: two sdot.
inline int32x4_t block_dot(const uint8_t *w, const int8_t *xq) {
    const uint8x16_t v = vld1q_u8(w);
    const int8x16_t eight = vdupq_n_s8(8);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15))), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
    int32x4_t acc = vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(xq));
    return vdotq_s32(acc, hi, vld1q_s8(xq + 16));
}

void row_dot(const uint8_t *w, const float *scale, int64_t k, const int8_t *xq, const float *d,
             float *y) {
    const int64_t nb = k / kQ8Block;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b += 4) {  // 4 blocks a step; lanes past nb - b are zero
        const int left = nb - b < 4 ? (int)(nb - b) : 4;
        int32x4_t s[4];
        float sc[4] = {};
        for (int q = 0; q < 4; ++q) {
            s[q] = q < left ? block_dot(w + (b + q) * (kQ8Block / 2), xq + (b + q) * kQ8Block)
                            : vdupq_n_s32(0);
            if (q < left) sc[q] = scale[b + q] * d[b + q];
        }
        const int32x4_t isum = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
        acc = vfmaq_f32(acc, vcvtq_f32_s32(isum), vld1q_f32(sc));
    }
    *y = vaddvq_f32(acc);
}

}  // namespace

void q4_gemm_neon(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                  int64_t n_tok, float *y, int64_t ldy) {
    q4_gemm_with(w, scale, k, n_rows, x, n_tok, y, ldy,
                 [k](const uint8_t *wr, const float *sr, const int8_t *xq, const float *d,
                     const int32_t *, float *out) { row_dot(wr, sr, k, xq, d, out); });
}

// Clamp to [-8, 7] (NaN -> -8, as q4_round), + 8, narrow, then byte j | byte j + 16 << 4.
void q4_quantize_f16_neon(const uint16_t *x, int64_t k, uint8_t *q, float *scale) {
    const int32x4_t lo = vdupq_n_s32(-8), hi = vdupq_n_s32(7), eight = vdupq_n_s32(8);
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        int32x4_t r[8];
        scale[b] = neon::quantize_f16_block(x + b * kQ8Block, 7.0f, -8, r);
        alignas(16) uint8_t bytes[32];
        for (int j = 0; j < 8; ++j) {
            const int32x4_t c = vaddq_s32(vminq_s32(vmaxq_s32(r[j], lo), hi), eight);
            const uint16x4_t n16 = vmovn_u32(vreinterpretq_u32_s32(c));
            const uint8x8_t n8 = vmovn_u16(vcombine_u16(n16, n16));
            vst1_lane_u32(reinterpret_cast<uint32_t *>(bytes + 4 * j), vreinterpret_u32_u8(n8), 0);
        }
        const uint8x16_t first = vld1q_u8(bytes), second = vld1q_u8(bytes + 16);
        vst1q_u8(q + b * (kQ8Block / 2), vorrq_u8(first, vshlq_n_u8(second, 4)));
    }
}

}  // namespace bitnet::kernels::detail
