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

// Software prefetch distance: the same spot kPrefetchRows rows further on (measured on
// 2B4T-shaped decode with 4-row tiles: 4 rows ahead +30%, 16 rows +40% tokens/s over none; 64
// is worse). In the interleaved layout that is 4 groups of 4 rows ahead.
constexpr int64_t kPrefetchRows = 16;

// Decode: NR weight rows (row j at w0 + j * row_step, blocks bstride apart) x one token.
template <int NR>
void gemv_tile(const uint8_t *w0, int64_t row_step, int64_t bstride, int64_t k, const int8_t *q,
               int32_t qsum, int32_t *out) {
    const int64_t prefetch = kPrefetchRows * (k / 4);
    __m256i acc[NR];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) acc[r] = _mm256_setzero_si256();
    for (int64_t b = 0; b < k / kI2sBlock; ++b) {
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            __m256i c[4];
            const uint8_t *wb = w0 + r * row_step + b * bstride;
            _mm_prefetch(reinterpret_cast<const char *>(wb + prefetch), _MM_HINT_T0);
            unpack_block(wb, c);
            acc[r] = _mm256_add_epi32(acc[r], block_dot(c, q + b * kI2sBlock));
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) out[r] = hsum_epi32(acc[r]) - qsum;
}

// Prefill tiles accumulate in int16. Each maddubs lane is at most 768 in magnitude (see
// block_dot), so a block adds at most 4 * 768 = 3072 to a lane and kChunkBlocks = 8 blocks
// (24576) fit in int16 before the lanes are widened to int32. That saves the widening madd of
// every block, leaving one maddubs and one add per 32 products, plus the unpacking of the
// weight bytes, done once for all the tile's tokens.
constexpr int64_t kChunkBlocks = 8;

// Any NR x NT tile, in intrinsics: the remainders (an odd last row, a last 1-3 tokens).
template <int NR, int NT>
void tile16(const uint8_t *w0, int64_t row_step, int64_t bstride, int64_t k, const int8_t *q,
            const int32_t *qsum, int32_t *out, int64_t ldo) {
    const int64_t n_blocks = k / kI2sBlock;
    const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i acc32[NR][NT];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc32[r][t] = _mm256_setzero_si256();
    }
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kChunkBlocks) {
        const int64_t b1 = std::min(n_blocks, b0 + kChunkBlocks);
        __m256i acc[NR][NT];
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_si256();
        }
        for (int64_t b = b0; b < b1; ++b) {
            BITNET_UNROLL
            for (int r = 0; r < NR; ++r) {
                const __m256i v = loadu(w0 + r * row_step + b * bstride);
                BITNET_UNROLL
                for (int g = 0; g < 4; ++g) {
                    const __m256i c = _mm256_and_si256(_mm256_srli_epi16(v, 6 - 2 * g), mask);
                    BITNET_UNROLL
                    for (int t = 0; t < NT; ++t) {
                        const __m256i p = _mm256_maddubs_epi16(
                            c, loadu(q + t * k + b * kI2sBlock + g * kI2sGroup));
                        acc[r][t] = _mm256_add_epi16(acc[r][t], p);
                    }
                }
            }
        }
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) {
                acc32[r][t] = _mm256_add_epi32(acc32[r][t], _mm256_madd_epi16(acc[r][t], ones));
            }
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) out[t * ldo + r] = hsum_epi32(acc32[r][t]) - qsum[t];
    }
}

// The main prefill tile, 2 weight rows x 4 tokens, with the block step in inline assembly: in
// intrinsics GCC 12 keeps the eight int16 accumulators in memory between blocks (clang does
// not), which cost 20-30%. Each 32-byte activation load feeds both rows. Measured at 2B4T
// shapes, one core: 165-195 GOP/s in intrinsics, 210-225 in assembly with a load per
// product, 240-250 with the shared loads. The step is exactly tile16<2, 4>'s: per group g of
// the block, the codes c_r = (bytes_r >> (6 - 2g)) & 3 of both rows, then
// acc[r][t] += maddubs(c_r, q_t[32g .. 32g+31]).
#define BITNET_I2S_TOKEN(OFF, Q, A0, A1)                                         \
    "vmovdqu " OFF "(%[" Q "]), %[x]\n\t"                                        \
    "vpmaddubsw %[x], %[c0], %[p]\n\t"                                           \
    "vpaddw %[p], %[" A0 "], %[" A0 "]\n\t"                                      \
    "vpmaddubsw %[x], %[c1], %[p]\n\t"                                           \
    "vpaddw %[p], %[" A1 "], %[" A1 "]\n\t"
#define BITNET_I2S_GROUP(CODES, OFF)                                              \
    CODES BITNET_I2S_TOKEN(OFF, "q0", "a00", "a10") BITNET_I2S_TOKEN(OFF, "q1", "a01", "a11") \
    BITNET_I2S_TOKEN(OFF, "q2", "a02", "a12") BITNET_I2S_TOKEN(OFF, "q3", "a03", "a13")
// Codes of groups 0-2: shift, then mask; group 3 is the low bits, masked straight from v.
#define BITNET_I2S_SHIFT(N)                                  \
    "vpsrlw $" N ", %[v0], %[c0]\n\tvpsrlw $" N ", %[v1], %[c1]\n\t" \
    "vpand %[m], %[c0], %[c0]\n\tvpand %[m], %[c1], %[c1]\n\t"
#define BITNET_I2S_LOW "vpand %[m], %[v0], %[c0]\n\tvpand %[m], %[v1], %[c1]\n\t"

void tile_2x4(const uint8_t *w, int64_t row_step, int64_t bstride, int64_t k, const int8_t *q,
              const int32_t *qsum, int32_t *out, int64_t ldo) {
    const int64_t n_blocks = k / kI2sBlock, prefetch = kPrefetchRows * (k / 4);
    const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i s[2][4];
    for (auto &row : s) {
        for (auto &v : row) v = _mm256_setzero_si256();
    }
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kChunkBlocks) {
        const int64_t b1 = std::min(n_blocks, b0 + kChunkBlocks);
        __m256i a00 = _mm256_setzero_si256(), a01 = a00, a02 = a00, a03 = a00, a10 = a00,
                a11 = a00, a12 = a00, a13 = a00;
        for (int64_t b = b0; b < b1; ++b) {
            const uint8_t *w0 = w + b * bstride, *w1 = w0 + row_step;
            const int8_t *q0 = q + b * kI2sBlock, *q1 = q0 + k, *q2 = q1 + k, *q3 = q2 + k;
            _mm_prefetch(reinterpret_cast<const char *>(w0 + prefetch), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char *>(w1 + prefetch), _MM_HINT_T0);
            __m256i v0, v1, c0, c1, x, p;
            __asm__(
                "vmovdqu (%[w0]), %[v0]\n\t"
                "vmovdqu (%[w1]), %[v1]\n\t"  //
                BITNET_I2S_GROUP(BITNET_I2S_SHIFT("6"), "0")
                BITNET_I2S_GROUP(BITNET_I2S_SHIFT("4"), "32")
                BITNET_I2S_GROUP(BITNET_I2S_SHIFT("2"), "64")
                BITNET_I2S_GROUP(BITNET_I2S_LOW, "96")
                : [a00] "+x"(a00), [a01] "+x"(a01), [a02] "+x"(a02), [a03] "+x"(a03),
                  [a10] "+x"(a10), [a11] "+x"(a11), [a12] "+x"(a12), [a13] "+x"(a13),
                  [v0] "=&x"(v0), [v1] "=&x"(v1), [c0] "=&x"(c0), [c1] "=&x"(c1),
                  [x] "=&x"(x), [p] "=&x"(p)
                : [w0] "r"(w0), [w1] "r"(w1), [q0] "r"(q0), [q1] "r"(q1), [q2] "r"(q2),
                  [q3] "r"(q3), [m] "x"(mask)
                // reads w0/w1 and q0..q3 (a block each); "memory" stands for those inputs,
                // since naming each as an "m" operand exceeds GCC's 30 operands
                : "memory");
        }
        const __m256i a[2][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}};
        for (int r = 0; r < 2; ++r) {
            for (int t = 0; t < 4; ++t) {
                s[r][t] = _mm256_add_epi32(s[r][t], _mm256_madd_epi16(a[r][t], ones));
            }
        }
    }
    for (int r = 0; r < 2; ++r) {
        for (int t = 0; t < 4; ++t) out[t * ldo + r] = hsum_epi32(s[r][t]) - qsum[t];
    }
}
#undef BITNET_I2S_TOKEN
#undef BITNET_I2S_GROUP
#undef BITNET_I2S_SHIFT
#undef BITNET_I2S_LOW

// All rows for NT tokens: 2-row tiles (assembly for 4 tokens), then a last odd row.
template <int NT>
void rows16(const I2sRows &w, int64_t k, int64_t n_rows, const int8_t *q, const int32_t *qsum,
            int32_t *out, int64_t ldo) {
    const int64_t step = w.row_step(), bstride = w.block_stride();
    int64_t r = 0;
    for (; r + 2 <= n_rows && w.in_one_group(r, 2); r += 2) {
        if constexpr (NT == 4) {
            tile_2x4(w.row(r), step, bstride, k, q, qsum, out + r, ldo);
        } else {
            tile16<2, NT>(w.row(r), step, bstride, k, q, qsum, out + r, ldo);
        }
    }
    for (; r < n_rows; ++r) tile16<1, NT>(w.row(r), step, bstride, k, q, qsum, out + r, ldo);
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

void i2s_gemv_avx2(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int32_t *out) {
    const I2sRows rows{w, k / 4, il};
    const int32_t qsum = sum_q(q, k);
    const int64_t step = rows.row_step(), bstride = rows.block_stride();
    int64_t r = 0;
    for (; r + 4 <= n_rows && rows.in_one_group(r, 4); r += 4) {
        gemv_tile<4>(rows.row(r), step, bstride, k, q, qsum, out + r);
    }
    for (; r < n_rows; ++r) gemv_tile<1>(rows.row(r), step, bstride, k, q, qsum, out + r);
}

// Token tiles outermost: four activation rows (<= 27 KB) stay in L1 while the weight rows stream
// past (measured: blocking the rows for L2 reuse gave nothing, the weights come from L3 fast
// enough).
void i2s_gemm_avx2(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int64_t n_tok, int32_t *out, int64_t ldo) {
    const I2sRows rows{w, k / 4, il};
    for (int64_t t0 = 0; t0 < n_tok; t0 += 4) {
        const int nt = (int)std::min<int64_t>(4, n_tok - t0);
        int32_t qsum[4];
        for (int t = 0; t < nt; ++t) qsum[t] = sum_q(q + (t0 + t) * k, k);
        const int8_t *qt = q + t0 * k;
        int32_t *ot = out + t0 * ldo;
        switch (nt) {
            case 4: rows16<4>(rows, k, n_rows, qt, qsum, ot, ldo); break;
            case 3: rows16<3>(rows, k, n_rows, qt, qsum, ot, ldo); break;
            case 2: rows16<2>(rows, k, n_rows, qt, qsum, ot, ldo); break;
            default: rows16<1>(rows, k, n_rows, qt, qsum, ot, ldo); break;
        }
    }
}

}  // namespace bitnet::kernels::detail
