// NEON: F16 weights x float32 activations, float32 accumulation. Results differ from the scalar
// reference only by summation order (8 partial sums per output, tail elements added last).
#include <arm_neon.h>

#include "common/fp16.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

// NR weight rows x NT activation rows, 8 values per step as two float32x4 halves.
template <int NR, int NT>
void tile(const uint16_t *w, int64_t k, const float *x, float *y, int64_t ldy) {
    float32x4_t acc[NR][NT][2];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc[r][t][0] = acc[r][t][1] = vdupq_n_f32(0.0f);
    }
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        float32x4_t xv[NT][2];
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) {
            xv[t][0] = vld1q_f32(x + t * k + i);
            xv[t][1] = vld1q_f32(x + t * k + i + 4);
        }
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(w + r * k + i));
            const float32x4_t w0 = vcvt_f32_f16(vget_low_f16(h));
            const float32x4_t w1 = vcvt_high_f32_f16(h);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) {
                acc[r][t][0] = vfmaq_f32(acc[r][t][0], w0, xv[t][0]);
                acc[r][t][1] = vfmaq_f32(acc[r][t][1], w1, xv[t][1]);
            }
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) {
            float s = vaddvq_f32(vaddq_f32(acc[r][t][0], acc[r][t][1]));
            for (int64_t j = i; j < k; ++j) s += f16_to_f32(w[r * k + j]) * x[t * k + j];
            y[t * ldy + r] = s;
        }
    }
}

// NR rows for all tokens, NT at a time; rows outermost so that the NR weight rows stay in L1
// while the activations stream past.
template <int NR>
void tokens(const uint16_t *w, int64_t k, const float *x, int64_t n_tok, float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 2 <= n_tok; t += 2) tile<NR, 2>(w, k, x + t * k, y + t * ldy, ldy);
    if (t < n_tok) tile<NR, 1>(w, k, x + t * k, y + t * ldy, ldy);
}

}  // namespace

void f16_gemm_neon(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy) {
    int64_t r = 0;
    for (; r + 4 <= n_rows; r += 4) tokens<4>(w + r * k, k, x, n_tok, y + r, ldy);
    for (; r < n_rows; ++r) tokens<1>(w + r * k, k, x, n_tok, y + r, ldy);
}

void f16_gemv_neon(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, float *y) {
    f16_gemm_neon(w, k, n_rows, x, 1, y, 0);
}

}  // namespace bitnet::kernels::detail
