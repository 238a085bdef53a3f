// AVX2 + F16C + FMA: F16 weights x float32 activations, float32 accumulation.
// Results differ from the scalar reference only by summation order (8 partial sums per output,
// tail elements added last).
#include <immintrin.h>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline __m256 load_f16x8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}

// NR weight rows x NT activation rows: each converted weight vector feeds NT FMAs and each
// activation vector NR FMAs; the NR*NT independent accumulators hide the FMA latency.
template <int NR, int NT>
void tile(const uint16_t *w, int64_t k, const float *x, float *y, int64_t ldy) {
    __m256 acc[NR][NT];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 xv[NT];
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) xv[t] = _mm256_loadu_ps(x + t * k + i);
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            const __m256 wv = load_f16x8(w + r * k + i);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) {
            float s = hsum_ps(acc[r][t]);
            for (int64_t j = i; j < k; ++j) s += _cvtsh_ss(w[r * k + j]) * x[t * k + j];
            y[t * ldy + r] = s;
        }
    }
}

// NR rows for all tokens, NT at a time. Rows outermost: the NR weight rows (20 KB at k = 2560)
// stay in L1 while the activations stream past, which measured 2x faster than streaming the
// whole weight matrix once per token tile.
template <int NR>
void tokens(const uint16_t *w, int64_t k, const float *x, int64_t n_tok, float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 3 <= n_tok; t += 3) tile<NR, 3>(w, k, x + t * k, y + t * ldy, ldy);
    if (n_tok - t == 2) tile<NR, 2>(w, k, x + t * k, y + t * ldy, ldy);
    if (n_tok - t == 1) tile<NR, 1>(w, k, x + t * k, y + t * ldy, ldy);
}

}  // namespace

void f16_gemm_avx2(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy) {
    int64_t r = 0;
    for (; r + 4 <= n_rows; r += 4) tokens<4>(w + r * k, k, x, n_tok, y + r, ldy);
    for (; r < n_rows; ++r) tokens<1>(w + r * k, k, x, n_tok, y + r, ldy);
}

void f16_gemv_avx2(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, float *y) {
    f16_gemm_avx2(w, k, n_rows, x, 1, y, 0);
}

}  // namespace bitnet::kernels::detail
