// AVX2: the opt-in Q4 LM head (kernels.h, Q4GemmFn) times block-quantised activations, and the
// quantisation of F16 rows to it.
//
// With float activations the head was conversion-bound (nibble -> int32 -> float -> FMA, 5 GB/s
// on one core, slower than the F16 head). With int8 activations a block is one maddubs of the
// 32 unsigned nibbles (0..15) with the 32 int8 activations and one madd: per row, eight blocks'
// int32 sums are reduced into one vector (lane q = block b + q), corrected for the +8 offset
// (8 * the block's activation sum), converted and multiplied by the two scales.
#include <immintrin.h>

#include "kernels/qhead_avx2.h"

namespace bitnet::kernels::detail {
namespace {

// Lane q = the sum of the 8 int32 lanes of v[q].
inline __m256i hsum8_epi32(const __m256i v[8]) {
    const __m256i t0 = _mm256_hadd_epi32(v[0], v[1]);
    const __m256i t1 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i t2 = _mm256_hadd_epi32(v[4], v[5]);
    const __m256i t3 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i u0 = _mm256_hadd_epi32(t0, t1);
    const __m256i u1 = _mm256_hadd_epi32(t2, t3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20),
                            _mm256_permute2x128_si256(u0, u1, 0x31));
}

// sum_i nibble_i * xq_i over one block as 8 int32 lanes (|lane| <= 4 * 15 * 128).
inline __m256i block_dot(const uint8_t *w, const int8_t *xq) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w));
    const __m128i m = _mm_set1_epi8(15);
    const __m256i u = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
    const __m256i p = _mm256_maddubs_epi16(
        u, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xq)));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// Eight blocks from b (lanes past nb - b are zero): the corrected integer sums times the scales.
inline __m256 eight_blocks(const uint8_t *w, const float *scale, const int8_t *xq, const float *d,
                           const int32_t *xsum, int64_t b, int64_t nb) {
    const int left = nb - b < 8 ? (int)(nb - b) : 8;
    __m256i s[8];
    alignas(32) float sc[8] = {}, dd[8] = {};
    alignas(32) int32_t xs[8] = {};
    for (int q = 0; q < 8; ++q) {
        if (q < left) {
            s[q] = block_dot(w + (b + q) * (kQ8Block / 2), xq + (b + q) * kQ8Block);
            sc[q] = scale[b + q];
            dd[q] = d[b + q];
            xs[q] = xsum[b + q];
        } else {
            s[q] = _mm256_setzero_si256();
        }
    }
    const __m256i isum = _mm256_sub_epi32(
        hsum8_epi32(s), _mm256_slli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i *>(xs)), 3));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(isum),
                         _mm256_mul_ps(_mm256_load_ps(sc), _mm256_load_ps(dd)));
}

void row_dot(const uint8_t *w, const float *scale, int64_t k, const int8_t *xq, const float *d,
             const int32_t *xsum, float *y) {
    constexpr int64_t kPrefetch = 1024;
    const int64_t nb = k / kQ8Block;
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *wb = w + b * (kQ8Block / 2);
        _mm_prefetch(reinterpret_cast<const char *>(wb + kPrefetch), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char *>(wb + kPrefetch + 64), _MM_HINT_T0);
        __m256i s[8];
        BITNET_UNROLL
        for (int q = 0; q < 8; ++q) s[q] = block_dot(wb + q * (kQ8Block / 2), xq + (b + q) * kQ8Block);
        const __m256i isum = _mm256_sub_epi32(
            hsum8_epi32(s),
            _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(xsum + b)), 3));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum),
                              _mm256_mul_ps(_mm256_loadu_ps(scale + b), _mm256_loadu_ps(d + b)),
                              acc);
    }
    if (b < nb) acc = _mm256_add_ps(acc, eight_blocks(w, scale, xq, d, xsum, b, nb));
    *y = avx2::hsum(acc);
}

}  // namespace

void q4_gemm_avx2(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                  int64_t n_tok, float *y, int64_t ldy) {
    q4_gemm_with(w, scale, k, n_rows, x, n_tok, y, ldy,
                 [k](const uint8_t *wr, const float *sr, const int8_t *xq, const float *d,
                     const int32_t *xsum, float *out) { row_dot(wr, sr, k, xq, d, xsum, out); });
}

// Rounded quotients clamped to [-8, 7] (NaN's INT_MIN -> -8, as q4_round), + 8, packed to bytes,
// then byte j | byte j + 16 << 4.
void q4_quantize_f16_avx2(const uint16_t *x, int64_t k, uint8_t *q, float *scale) {
    const __m256i lo = _mm256_set1_epi32(-8), hi = _mm256_set1_epi32(7), eight = _mm256_set1_epi32(8);
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        __m256i r[4];
        scale[b] = avx2::quantize_f16_block(x + b * kQ8Block, 7.0f, r);
        for (auto &v : r) v = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(v, lo), hi), eight);
        const __m256i bytes = avx2::pack_i32_to_i8(r);  // values 0..15 in order
        const __m128i first = _mm256_castsi256_si128(bytes), second = _mm256_extracti128_si256(bytes, 1);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + b * (kQ8Block / 2)),
                         _mm_or_si128(first, _mm_slli_epi16(second, 4)));
    }
}

}  // namespace bitnet::kernels::detail
