// AVX2 + FMA + F16C pieces shared by the float kernels (f16_avx2.cpp, attn_avx2.cpp): loads of
// F32 or F16 values and the NR x NT dot-product tile. Include only from files compiled with
// those ISA flags (kernels/*_avx2.cpp).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail::avx2 {

// Weights or values as float32 or F16.
inline __m256 load8(const float *p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}
inline float load1(const float *p) { return *p; }
inline float load1(const uint16_t *p) { return _cvtsh_ss(*p); }

// Lanes 0-3 = the horizontal sums of a, b, c, d.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b);  // a01 a23 b01 b23 | a45 a67 b45 b67
    const __m256 cd = _mm256_hadd_ps(c, d);
    const __m256 abcd = _mm256_hadd_ps(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// NR weight rows x NT activation rows. Each weight vector feeds NT FMAs and each activation
// vector NR FMAs; the NR * NT accumulators are reduced four rows at a time.
template <int NR, int NT, typename T>
void dot_tile(const T *w, int64_t k, const float *x, float *y, int64_t ldy) {
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
            const __m256 wv = load8(w + r * k + i);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    constexpr int NR4 = (NR + 3) / 4 * 4;
    BITNET_UNROLL
    for (int t = 0; t < NT; ++t) {
        alignas(16) float s[NR4];
        BITNET_UNROLL
        for (int r0 = 0; r0 < NR; r0 += 4) {
            const __m256 z = _mm256_setzero_ps();
            const __m128 v = hsum4(acc[r0][t], r0 + 1 < NR ? acc[r0 + 1][t] : z,
                                   r0 + 2 < NR ? acc[r0 + 2][t] : z,
                                   r0 + 3 < NR ? acc[r0 + 3][t] : z);
            _mm_store_ps(s + r0, v);
        }
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            for (int64_t j = i; j < k; ++j) s[r] += load1(w + r * k + j) * x[t * k + j];
            y[t * ldy + r] = s[r];
        }
    }
}

}  // namespace bitnet::kernels::detail::avx2
