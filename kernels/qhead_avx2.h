// AVX2 + FMA pieces shared by the quantised LM head kernels (q8_avx2.cpp, q4_avx2.cpp): the row
// loop of the product with float32 activations and the quantisation of an F16 block. Include only
// from files compiled with the AVX2/FMA/F16C flags.
//
// The product's expression is the scalar one, y = sum_b scale_b * (sum of block b's products),
// with the additions in another order: each block's sum is formed as 8 lane partial sums (by the
// format's BlockDot), eight blocks' sums are reduced together into one vector (lane q = block
// b + q), multiplied by the 8 scales (fused with the accumulation) and the 8 accumulator lanes are
// added at the end.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail::avx2 {

// Lane q = the sum of the 8 lanes of v[q].
inline __m256 hsum8(const __m256 v[8]) {
    const __m256 t0 = _mm256_hadd_ps(v[0], v[1]);
    const __m256 t1 = _mm256_hadd_ps(v[2], v[3]);
    const __m256 t2 = _mm256_hadd_ps(v[4], v[5]);
    const __m256 t3 = _mm256_hadd_ps(v[6], v[7]);
    // u0 = v0..v3 summed over lanes 0-3 | the same over lanes 4-7; u1 likewise for v4..v7.
    const __m256 u0 = _mm256_hadd_ps(t0, t1);
    const __m256 u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                         _mm256_permute2f128_ps(u0, u1, 0x31));
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// One row for one token; BlockDot(wb, xb) gives block's 32 products as 8 lane partial sums from
// its kBlockBytes bytes. Rows go one at a time: measured faster than 2 or 4 interleaved rows when
// the weights stream from memory (fewer concurrent streams for the prefetchers, 14-15 GB/s
// against 9 GB/s), although 4 rows sharing the activation loads are 10% faster from cache.
// Software prefetch kPrefetch bytes ahead (into the next rows) covers the memory latency.
template <int64_t kBlockBytes, class BlockDot>
void quant_row_dot(const uint8_t *w, const float *scale, int64_t k, const float *x, float *y,
                   BlockDot block_dot) {
    constexpr int64_t kPrefetch = 2048;
    const int64_t nb = k / kQ8Block;
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *wb = w + b * kBlockBytes;
        const float *xb = x + b * kQ8Block;
        BITNET_UNROLL
        for (int l = 0; l < 8 * kBlockBytes; l += 64) {
            _mm_prefetch(reinterpret_cast<const char *>(wb + kPrefetch + l), _MM_HINT_T0);
        }
        __m256 s[8];
        BITNET_UNROLL
        for (int q = 0; q < 8; ++q) s[q] = block_dot(wb + q * kBlockBytes, xb + q * kQ8Block);
        acc = _mm256_fmadd_ps(hsum8(s), _mm256_loadu_ps(scale + b), acc);
    }
    if (b < nb) {  // 1-7 blocks left: zero sums and zero scales in the unused lanes
        const int left = (int)(nb - b);
        __m256 s[8];
        alignas(32) float sc[8] = {};
        for (int q = 0; q < 8; ++q) {
            s[q] = q < left ? block_dot(w + (b + q) * kBlockBytes, x + (b + q) * kQ8Block)
                            : _mm256_setzero_ps();
            if (q < left) sc[q] = scale[b + q];
        }
        acc = _mm256_fmadd_ps(hsum8(s), _mm256_load_ps(sc), acc);
    }
    *y = hsum(acc);
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

// One F16 block of 32 values as floats, its scale amax / qmax (amax over |x| by maxps, so a NaN
// is skipped, exactly as quantize_head_row) and the 32 rounded quotients x / scale as int32
// (cvtps2dq: half to even, NaN -> INT_MIN), for the format to clamp and pack.
inline float quantize_f16_block(const uint16_t *xb, float qmax, __m256i r[4]) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
        v[j] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(xb + 8 * j)));
        m = _mm256_max_ps(_mm256_and_ps(v[j], abs_mask), m);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const float s = amax > 0.0f ? amax / qmax : 1.0f;
    const __m256 vs = _mm256_set1_ps(s);
    for (int j = 0; j < 4; ++j) r[j] = _mm256_cvtps_epi32(_mm256_div_ps(v[j], vs));
    return s;
}

// 32 int32 values (in [-128, 127] after clamping, or to be saturated) as 32 bytes in order.
inline __m256i pack_i32_to_i8(const __m256i r[4]) {
    const __m256i packed =
        _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
    return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace bitnet::kernels::detail::avx2
