// NEON row-wise float operations (RMSNorm, NeoX RoPE, softmax), bit-identical to
// rowwise_scalar.cpp: 8 elements per step as two float32x4 halves, the double sums as four
// float64x2 accumulators (s[0,1], s[2,3], s[4,5], s[6,7] of combine8), tails in scalar code on
// the same partial sums.
#include <arm_neon.h>

#include <cmath>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

struct Sums8 {
    float64x2_t s01 = vdupq_n_f64(0.0), s23 = vdupq_n_f64(0.0), s45 = vdupq_n_f64(0.0),
                s67 = vdupq_n_f64(0.0);
    // Adds a.x^2 (square) or a.x to the lanes of elements 0..3 (a) and 4..7 (b) of a step.
    void add(float32x4_t a, float32x4_t b) {
        s01 = vaddq_f64(s01, vcvt_f64_f32(vget_low_f32(a)));
        s23 = vaddq_f64(s23, vcvt_high_f64_f32(a));
        s45 = vaddq_f64(s45, vcvt_f64_f32(vget_low_f32(b)));
        s67 = vaddq_f64(s67, vcvt_high_f64_f32(b));
    }
    void add_squares(float32x4_t a, float32x4_t b) {
        const float64x2_t a0 = vcvt_f64_f32(vget_low_f32(a)), a1 = vcvt_high_f64_f32(a);
        const float64x2_t b0 = vcvt_f64_f32(vget_low_f32(b)), b1 = vcvt_high_f64_f32(b);
        s01 = vaddq_f64(s01, vmulq_f64(a0, a0));
        s23 = vaddq_f64(s23, vmulq_f64(a1, a1));
        s45 = vaddq_f64(s45, vmulq_f64(b0, b0));
        s67 = vaddq_f64(s67, vmulq_f64(b1, b1));
    }
    void store(double s[8]) const {
        vst1q_f64(s, s01);
        vst1q_f64(s + 2, s23);
        vst1q_f64(s + 4, s45);
        vst1q_f64(s + 6, s67);
    }
};

// exp_ref on 4 lanes, the same operations in the same order.
inline float32x4_t exp4(float32x4_t x) {
    // kExpLo > x ? kExpLo : x, keeping a NaN x (vmaxq would return NaN too, but spell it out).
    x = vbslq_f32(vcgtq_f32(vdupq_n_f32(kExpLo), x), vdupq_n_f32(kExpLo), x);
    x = vbslq_f32(vcltq_f32(vdupq_n_f32(kExpHi), x), vdupq_n_f32(kExpHi), x);
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(kLog2e)));
    float32x4_t r = vfmaq_f32(x, n, vdupq_n_f32(-kLn2Hi));
    r = vfmaq_f32(r, n, vdupq_n_f32(-kLn2Lo));
    float32x4_t p = vdupq_n_f32(kExpP0);
    p = vfmaq_f32(vdupq_n_f32(kExpP1), p, r);
    p = vfmaq_f32(vdupq_n_f32(kExpP2), p, r);
    p = vfmaq_f32(vdupq_n_f32(kExpP3), p, r);
    p = vfmaq_f32(vdupq_n_f32(kExpP4), p, r);
    p = vfmaq_f32(vdupq_n_f32(kExpP5), p, r);
    const float32x4_t r2 = vmulq_f32(r, r);
    float32x4_t y = vfmaq_f32(r, p, r2);
    y = vaddq_f32(y, vdupq_n_f32(1.0f));
    const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(y, vreinterpretq_f32_s32(bits));
}

// x > m ? x : m per lane (a NaN x leaves m), as the scalar loop.
inline float32x4_t max_keep(float32x4_t x, float32x4_t m) {
    return vbslq_f32(vcgtq_f32(x, m), x, m);
}

}  // namespace

void rms_norm_neon(const float *x, const float *w, int64_t n, float eps, float *y) {
    Sums8 acc;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc.add_squares(vld1q_f32(x + i), vld1q_f32(x + i + 4));
    double s[8];
    acc.store(s);
    add_squares_from(x, i, n, s);
    const float scale = rms_scale(combine8(s), n, eps);
    const float32x4_t vs = vdupq_n_f32(scale);
    for (i = 0; i + 4 <= n; i += 4) {
        vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), vs), vld1q_f32(w + i)));
    }
    scale_mul_from(x, w, i, n, scale, y);
}

void rope_neox_neon(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h, v += head_dim) {
        int64_t i = 0;
        for (; i + 4 <= half; i += 4) {
            const float32x4_t x0 = vld1q_f32(v + i), x1 = vld1q_f32(v + i + half);
            const float32x4_t c = vld1q_f32(cos + i), s = vld1q_f32(sin + i);
            vst1q_f32(v + i, vsubq_f32(vmulq_f32(x0, c), vmulq_f32(x1, s)));
            vst1q_f32(v + i + half, vaddq_f32(vmulq_f32(x0, s), vmulq_f32(x1, c)));
        }
        rope_pairs_from(v, i, half, cos, sin);
    }
}

// vld2q splits four pairs into x0 (even) and x1 (odd) lanes: the scalar operations per lane.
void rope_norm_neon(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h, v += head_dim) {
        int64_t i = 0;
        for (; i + 4 <= half; i += 4) {
            float32x4x2_t x = vld2q_f32(v + 2 * i);
            const float32x4_t c = vld1q_f32(cos + i), s = vld1q_f32(sin + i);
            float32x4x2_t y;
            y.val[0] = vsubq_f32(vmulq_f32(x.val[0], c), vmulq_f32(x.val[1], s));
            y.val[1] = vaddq_f32(vmulq_f32(x.val[0], s), vmulq_f32(x.val[1], c));
            vst2q_f32(v + 2 * i, y);
        }
        rope_adjacent_from(v, i, half, cos, sin);
    }
}

void softmax_neon(float *x, int64_t n, float scale) {
    const float32x4_t vs = vdupq_n_f32(scale);
    float32x4_t m4 = vdupq_n_f32(-INFINITY);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vmulq_f32(vld1q_f32(x + i), vs);
        vst1q_f32(x + i, v);
        m4 = max_keep(v, m4);
    }
    float mx = -INFINITY;
    for (int j = 0; j < 4; ++j) mx = m4[j] > mx ? m4[j] : mx;
    mx = scale_max_from(x, i, n, scale, mx);
    const float32x4_t vm = vdupq_n_f32(mx);
    Sums8 acc;
    for (i = 0; i + 8 <= n; i += 8) {
        const float32x4_t e0 = exp4(vsubq_f32(vld1q_f32(x + i), vm));
        const float32x4_t e1 = exp4(vsubq_f32(vld1q_f32(x + i + 4), vm));
        vst1q_f32(x + i, e0);
        vst1q_f32(x + i + 4, e1);
        acc.add(e0, e1);
    }
    double s[8];
    acc.store(s);
    exp_sum_from(x, i, n, mx, s);
    const float inv = (float)(1.0 / combine8(s));
    const float32x4_t vi = vdupq_n_f32(inv);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vi));
    scale_from(x, i, n, inv);
}

}  // namespace bitnet::kernels::detail
