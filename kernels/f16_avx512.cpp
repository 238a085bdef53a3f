// AVX-512 F16 x float32 GEMM (LM head of a batch, attention scores of the grouped query heads).
// Bit-identical to f16_gemm_avx2 / f16_gemv_avx2 by construction: every output keeps the AVX2
// kernels' one 8-lane accumulator, fed by the same fused multiply-adds in the same k order,
// reduced by the same hadd sequence, with the tail added last in scalar. A zmm register holds the
// 8-lane accumulators of TWO tokens of one row (the row's 8 weights duplicated into both halves),
// so each FMA does the work of two AVX2 FMAs. Keeping the results equal to the AVX2 kernels
// matters beyond tests: a sequence decoded alone (gemv) and inside a batch (gemm) must give the
// same logits (tests/test_batch.cpp), on every ISA.
// GCC 12 reports its own _mm512_undefined_* helpers as used uninitialised once inlined (GCC bug
// 105593; see i2s_avx512.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

// The 8 weights w[0..7] as floats in both 256-bit halves.
inline __m512 load8_twice(const uint16_t *w) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w));
    return _mm512_cvtph_ps(_mm256_broadcastsi128_si256(h));
}

// x[a .. a+7] in the low half, x[b .. b+7] in the high half.
inline __m512 load8_pair(const float *a, const float *b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(a)), _mm256_loadu_ps(b), 1);
}

// The AVX2 kernels' reduction (avx2::hsum4 in dot_avx2.h, repeated here because that header's
// inline functions must not be compiled with AVX-512 flags): lanes 0-3 = sums of a, b, c, d.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b);
    const __m256 cd = _mm256_hadd_ps(c, d);
    const __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

inline __m256 half(__m512 v, int h) {
    return h == 0 ? _mm512_castps512_ps256(v)
                  : _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// NR weight rows x 2*NP tokens (NP pairs). acc[r][p] holds token 2p (low) and 2p+1 (high).
template <int NR, int NP>
void tile_pairs(const uint16_t *w, int64_t k, const float *x, float *y, int64_t ldy) {
    __m512 acc[NR][NP];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m512 xv[NP];
        BITNET_UNROLL
        for (int p = 0; p < NP; ++p) xv[p] = load8_pair(x + 2 * p * k + i, x + (2 * p + 1) * k + i);
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            const __m512 wv = load8_twice(w + r * k + i);
            BITNET_UNROLL
            for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_fmadd_ps(wv, xv[p], acc[r][p]);
        }
    }
    constexpr int NR4 = (NR + 3) / 4 * 4;
    BITNET_UNROLL
    for (int t = 0; t < 2 * NP; ++t) {
        const int p = t / 2, h = t % 2;
        alignas(16) float s[NR4];
        BITNET_UNROLL
        for (int r0 = 0; r0 < NR; r0 += 4) {
            const __m256 z = _mm256_setzero_ps();
            const __m128 v = hsum4(half(acc[r0][p], h), r0 + 1 < NR ? half(acc[r0 + 1][p], h) : z,
                                   r0 + 2 < NR ? half(acc[r0 + 2][p], h) : z,
                                   r0 + 3 < NR ? half(acc[r0 + 3][p], h) : z);
            _mm_store_ps(s + r0, v);
        }
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            for (int64_t j = i; j < k; ++j) s[r] += _cvtsh_ss(w[r * k + j]) * x[t * k + j];
            y[t * ldy + r] = s[r];
        }
    }
}

// NR weight rows x one token, in 256-bit registers: the AVX2 kernels' single-token tile.
template <int NR>
void tile_one(const uint16_t *w, int64_t k, const float *x, float *y) {
    __m256 acc[NR];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) acc[r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            const __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(w + r * k + i)));
            acc[r] = _mm256_fmadd_ps(wv, xv, acc[r]);
        }
    }
    constexpr int NR4 = (NR + 3) / 4 * 4;
    alignas(16) float s[NR4];
    BITNET_UNROLL
    for (int r0 = 0; r0 < NR; r0 += 4) {
        const __m256 z = _mm256_setzero_ps();
        _mm_store_ps(s + r0, hsum4(acc[r0], r0 + 1 < NR ? acc[r0 + 1] : z,
                                   r0 + 2 < NR ? acc[r0 + 2] : z, r0 + 3 < NR ? acc[r0 + 3] : z));
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        for (int64_t j = i; j < k; ++j) s[r] += _cvtsh_ss(w[r * k + j]) * x[j];
        y[r] = s[r];
    }
}

// NR rows for all tokens: four pairs at a time, then one pair, then a last odd token. Rows
// outermost, as in the AVX2 kernel: the NR weight rows stay in L1 while the tokens pass.
template <int NR>
void tokens(const uint16_t *w, int64_t k, const float *x, int64_t n_tok, float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 8 <= n_tok; t += 8) tile_pairs<NR, 4>(w, k, x + t * k, y + t * ldy, ldy);
    for (; t + 2 <= n_tok; t += 2) tile_pairs<NR, 1>(w, k, x + t * k, y + t * ldy, ldy);
    if (t < n_tok) tile_one<NR>(w, k, x + t * k, y + t * ldy);
}

}  // namespace

void f16_gemm_avx512(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                     float *y, int64_t ldy) {
    int64_t r = 0;
    for (; r + 4 <= n_rows; r += 4) tokens<4>(w + r * k, k, x, n_tok, y + r, ldy);
    for (; r < n_rows; ++r) tokens<1>(w + r * k, k, x, n_tok, y + r, ldy);
}

}  // namespace bitnet::kernels::detail
