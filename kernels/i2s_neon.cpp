// NEON (ARMv8.2 dot product) int8 activation quantisation and I2_S x int8 products.
// As on x86: sum_k t_k q_k = sum_k c_k q_k - sum_k q_k with the codes c = t + 1 (0..3, valid as
// signed bytes) fed to sdot, which adds groups of four products straight into int32 lanes.
#include <arm_neon.h>

#include <algorithm>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

// sum_k q_k over the whole blocks of k (all of k, which is a multiple of 128 by contract).
int32_t sum_q(const int8_t *q, int64_t k) {
    const int64_t n = k / kI2sBlock * kI2sBlock;
    const int8x16_t ones = vdupq_n_s8(1);
    int32x4_t acc = vdupq_n_s32(0);
    for (int64_t i = 0; i < n; i += 16) acc = vdotq_s32(acc, ones, vld1q_s8(q + i));
    return vaddvq_s32(acc);
}

struct BlockCodes {
    int8x16_t c[4][2];  // group g, bytes 0-15 / 16-31
};

inline BlockCodes unpack_block(const uint8_t *wb) {
    const uint8x16_t mask = vdupq_n_u8(3);
    BlockCodes bc;
    BITNET_UNROLL
    for (int h = 0; h < 2; ++h) {
        const uint8x16_t v = vld1q_u8(wb + 16 * h);
        bc.c[0][h] = vreinterpretq_s8_u8(vshrq_n_u8(v, 6));
        bc.c[1][h] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), mask));
        bc.c[2][h] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), mask));
        bc.c[3][h] = vreinterpretq_s8_u8(vandq_u8(v, mask));
    }
    return bc;
}

// NR weight rows x NT activation rows, two accumulators per output (block bytes 0-15 and
// 16-31) so that consecutive sdots are independent.
template <int NR, int NT>
void tile(const uint8_t *w, int64_t row_step, int64_t bstride, int64_t k, const int8_t *q,
          const int32_t *qsum, int32_t *out, int64_t ldo) {
    int32x4_t acc[NR][NT][2];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc[r][t][0] = acc[r][t][1] = vdupq_n_s32(0);
    }
    for (int64_t b = 0; b < k / kI2sBlock; ++b) {
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            const BlockCodes bc = unpack_block(w + r * row_step + b * bstride);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) {
                const int8_t *qb = q + t * k + b * kI2sBlock;
                BITNET_UNROLL
                for (int g = 0; g < 4; ++g) {
                    acc[r][t][0] = vdotq_s32(acc[r][t][0], bc.c[g][0], vld1q_s8(qb + 32 * g));
                    acc[r][t][1] = vdotq_s32(acc[r][t][1], bc.c[g][1], vld1q_s8(qb + 32 * g + 16));
                }
            }
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) {
            out[t * ldo + r] = vaddvq_s32(vaddq_s32(acc[r][t][0], acc[r][t][1])) - qsum[t];
        }
    }
}

template <int NR, int NT>
void rows(const I2sRows &w, int64_t k, int64_t n_rows, const int8_t *q, const int32_t *qsum,
          int32_t *out, int64_t ldo) {
    const int64_t step = w.row_step(), bstride = w.block_stride();
    int64_t r = 0;
    for (; r + NR <= n_rows && w.in_one_group(r, NR); r += NR) {
        tile<NR, NT>(w.row(r), step, bstride, k, q, qsum, out + r, ldo);
    }
    for (; r < n_rows; ++r) tile<1, NT>(w.row(r), step, bstride, k, q, qsum, out + r, ldo);
}

}  // namespace

float quantize_row_i8_neon(const float *x, int64_t n, int8_t *q, int32_t *sum) {
    // Compare-and-select rather than fmax/fmaxnm: a NaN must be skipped exactly as in the scalar
    // reference (fmax propagates it, fmaxnm does so for signalling NaNs).
    float32x4_t m[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        BITNET_UNROLL
        for (int j = 0; j < 4; ++j) {
            const float32x4_t a = vabsq_f32(vld1q_f32(x + i + 4 * j));
            m[j] = vbslq_f32(vcgtq_f32(a, m[j]), a, m[j]);
        }
    }
    float amax = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m[0], m[1]), vmaxq_f32(m[2], m[3])));
    for (; i < n; ++i) {
        const float a = std::fabs(x[i]);
        if (a > amax) amax = a;
    }
    const float s = i8_scale(amax);

    // fcvtns rounds half to even; NaN products become -128 as in the reference (fcvtns gives 0);
    // the narrowing moves saturate to [-128, 127].
    const float32x4_t vs = vdupq_n_f32(s);
    const int32x4_t nan_q = vdupq_n_s32(-128);
    int32_t total = 0;
    i = 0;
    for (; i + 16 <= n; i += 16) {
        int16x8_t h[2];
        BITNET_UNROLL
        for (int j = 0; j < 2; ++j) {
            const float32x4_t v0 = vmulq_f32(vld1q_f32(x + i + 8 * j), vs);
            const float32x4_t v1 = vmulq_f32(vld1q_f32(x + i + 8 * j + 4), vs);
            const int32x4_t r0 = vbslq_s32(vceqq_f32(v0, v0), vcvtnq_s32_f32(v0), nan_q);
            const int32x4_t r1 = vbslq_s32(vceqq_f32(v1, v1), vcvtnq_s32_f32(v1), nan_q);
            h[j] = vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1));
        }
        const int8x16_t q8 = vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1]));
        vst1q_s8(q + i, q8);
        total += vaddlvq_s8(q8);
    }
    for (; i < n; ++i) {
        const float v = x[i] * s;
        q[i] = round_to_i8(v);
        total += q[i];
    }
    *sum = total;
    return s;
}

void i2s_gemv_neon(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int32_t *out) {
    const I2sRows wr{w, k / 4, il};
    const int32_t qsum = sum_q(q, k);
    rows<4, 1>(wr, k, n_rows, q, &qsum, out, 0);
}

void i2s_gemm_neon(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int64_t n_tok, int32_t *out, int64_t ldo) {
    const I2sRows wr{w, k / 4, il};
    for (int64_t t0 = 0; t0 < n_tok; t0 += 4) {
        const int nt = (int)std::min<int64_t>(4, n_tok - t0);
        int32_t qsum[4];
        for (int t = 0; t < nt; ++t) qsum[t] = sum_q(q + (t0 + t) * k, k);
        const int8_t *qt = q + t0 * k;
        int32_t *ot = out + t0 * ldo;
        switch (nt) {
            case 4: rows<1, 4>(wr, k, n_rows, qt, qsum, ot, ldo); break;
            case 3: rows<1, 3>(wr, k, n_rows, qt, qsum, ot, ldo); break;
            case 2: rows<1, 2>(wr, k, n_rows, qt, qsum, ot, ldo); break;
            default: rows<1, 1>(wr, k, n_rows, qt, qsum, ot, ldo); break;
        }
    }
}

}  // namespace bitnet::kernels::detail
