// AVX2 int8 activation quantisation and I2_S x int8 products.
//
// I2_S: sum_k t_k q_k = sum_k c_k q_k - sum_k q_k with the unsigned codes c = t + 1, so the codes
// go straight into _mm256_maddubs_epi16 (u8 x s8) and the per-token sum of q is subtracted at the
// end. Results are exact int32 for every input, including code 3 and q = -128 (see block_dot16).
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

inline __m256i loadu(const void *p) { return _mm256_loadu_si256(static_cast<const __m256i *>(p)); }

inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// Sum of 32 int8 values as 8 int32 lanes.
inline __m256i sum_i8(__m256i v) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), v), _mm256_set1_epi16(1));
}

// sum_k q_k over the whole blocks of k (all of k, which is a multiple of 128 by contract).
int32_t sum_q(const int8_t *q, int64_t k) {
    const int64_t n = k / kI2sBlock * kI2sBlock;
    __m256i acc = _mm256_setzero_si256();
    for (int64_t i = 0; i < n; i += 32) acc = _mm256_add_epi32(acc, sum_i8(loadu(q + i)));
    return hsum_epi32(acc);
}

// The four 32-value groups of one block as bytes 0..3 (group g = bits 7-2g..6-2g). The 16-bit
// shifts pull bits of the neighbouring byte into bits 2-7, which the mask drops.
inline void unpack_block(const uint8_t *wb, __m256i c[4]) {
    const __m256i mask = _mm256_set1_epi8(3);
    const __m256i v = loadu(wb);
    c[0] = _mm256_and_si256(_mm256_srli_epi16(v, 6), mask);
    c[1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    c[2] = _mm256_and_si256(_mm256_srli_epi16(v, 2), mask);
    c[3] = _mm256_and_si256(v, mask);
}

// sum_j c_j q_j over one block as int32 lanes. Each maddubs lane is c_a q_a + c_b q_b with
// c <= 3 and |q| <= 128, so |lane| <= 768 (no saturation) and the int16 sum of the four groups
// stays within 3072; it is widened to int32 straight away.
inline __m256i block_dot(const __m256i c[4], const int8_t *qb) {
    const __m256i p0 = _mm256_maddubs_epi16(c[0], loadu(qb));
    const __m256i p1 = _mm256_maddubs_epi16(c[1], loadu(qb + 32));
    const __m256i p2 = _mm256_maddubs_epi16(c[2], loadu(qb + 64));
    const __m256i p3 = _mm256_maddubs_epi16(c[3], loadu(qb + 96));
    const __m256i s = _mm256_add_epi16(_mm256_add_epi16(p0, p1), _mm256_add_epi16(p2, p3));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

// Software prefetch distance in tiles (measured on 2B4T-shaped decode: 1 tile +30%, 4 tiles
// +40% tokens/s over none; 16 tiles is worse).
constexpr int kPrefetchTiles = 4;
// NR weight rows x NT activation rows; each block is unpacked once and used for all NT tokens.
template <int NR, int NT>
void tile(const uint8_t *w, int64_t k, const int8_t *q, const int32_t *qsum, int32_t *out,
          int64_t ldo) {
    const int64_t row_bytes = k / 4;
    __m256i acc[NR][NT];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_si256();
    }
    for (int64_t b = 0; b < k / kI2sBlock; ++b) {
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            __m256i c[4];
            const uint8_t *wb = w + r * row_bytes + b * kI2sBlockBytes;
            // Rows are short (640 B for k = 2560) and consecutive: fetch the same spot of the
            // tile after next, so the stream from memory runs ahead of the arithmetic.
            _mm_prefetch(reinterpret_cast<const char *>(wb + kPrefetchTiles * NR * row_bytes),
                         _MM_HINT_T0);
            unpack_block(wb, c);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) {
                acc[r][t] = _mm256_add_epi32(acc[r][t], block_dot(c, q + t * k + b * kI2sBlock));
            }
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) out[t * ldo + r] = hsum_epi32(acc[r][t]) - qsum[t];
    }
}

// All rows for NT tokens: NR-row tiles, then single rows.
template <int NR, int NT>
void rows(const uint8_t *w, int64_t k, int64_t n_rows, const int8_t *q, const int32_t *qsum,
          int32_t *out, int64_t ldo) {
    int64_t r = 0;
    for (; r + NR <= n_rows; r += NR) tile<NR, NT>(w + r * (k / 4), k, q, qsum, out + r, ldo);
    for (; r < n_rows; ++r) tile<1, NT>(w + r * (k / 4), k, q, qsum, out + r, ldo);
}

}  // namespace

float quantize_row_i8_avx2(const float *x, int64_t n, int8_t *q, int32_t *sum) {
    // max(|x|, m) with |x| first: maxps returns its second operand when either is NaN, so a NaN
    // is skipped exactly as in the scalar reference.
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m0 = _mm256_setzero_ps(), m1 = m0, m2 = m0, m3 = m0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m0);
        m1 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i + 8), abs_mask), m1);
        m2 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i + 16), abs_mask), m2);
        m3 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i + 24), abs_mask), m3);
    }
    float amax = hmax_ps(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
    for (; i < n; ++i) {
        const float a = std::fabs(x[i]);
        if (a > amax) amax = a;
    }
    const float s = i8_scale(amax);

    // cvtps2dq rounds half to even (default MXCSR), packs saturate to [-128, 127]; the two packs
    // interleave 4-value groups across the 128-bit lanes, which the permute undoes.
    const __m256 vs = _mm256_set1_ps(s);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i acc = _mm256_setzero_si256();
    i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
        const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs));
        const __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vs));
        const __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vs));
        const __m256i packed =
            _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        const __m256i q8 = _mm256_permutevar8x32_epi32(packed, order);
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(q + i), q8);
        acc = _mm256_add_epi32(acc, sum_i8(q8));
    }
    int32_t total = hsum_epi32(acc);
    for (; i < n; ++i) {
        const float v = x[i] * s;
        q[i] = round_to_i8(v);
        total += q[i];
    }
    *sum = total;
    return s;
}

void i2s_gemv_avx2(const uint8_t *w, int64_t k, int64_t n_rows, const int8_t *q, int32_t *out) {
    const int32_t qsum = sum_q(q, k);
    rows<4, 1>(w, k, n_rows, q, &qsum, out, 0);
}

// Token tiles outermost: four activation rows (<= 27 KB) stay in L1 while the weight rows stream
// past (measured faster than rows outermost, unlike F16 whose weight rows are 8x larger).
void i2s_gemm_avx2(const uint8_t *w, int64_t k, int64_t n_rows, const int8_t *q, int64_t n_tok,
                   int32_t *out, int64_t ldo) {
    for (int64_t t0 = 0; t0 < n_tok; t0 += 4) {
        const int nt = (int)std::min<int64_t>(4, n_tok - t0);
        int32_t qsum[4];
        for (int t = 0; t < nt; ++t) qsum[t] = sum_q(q + (t0 + t) * k, k);
        const int8_t *qt = q + t0 * k;
        int32_t *ot = out + t0 * ldo;
        switch (nt) {
            case 4: rows<1, 4>(w, k, n_rows, qt, qsum, ot, ldo); break;
            case 3: rows<1, 3>(w, k, n_rows, qt, qsum, ot, ldo); break;
            case 2: rows<1, 2>(w, k, n_rows, qt, qsum, ot, ldo); break;
            default: rows<1, 1>(w, k, n_rows, qt, qsum, ot, ldo); break;
        }
    }
}

}  // namespace bitnet::kernels::detail
