// AVX-512 VNNI I2_S x int8 products: vpdpbusd multiplies the unsigned codes c = t + 1 by the
// int8 activations and adds groups of four straight into int32 lanes (exact for all inputs);
// sum_k q_k is subtracted at the end, as in the AVX2 kernels.
// GCC 12 reports its own _mm512_undefined_* helpers (self-initialised on purpose) as used
// uninitialised once inlined (GCC bug 105593); the warning points into the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#include <algorithm>
#include <vector>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

inline __m512i load512(const void *p) { return _mm512_loadu_si512(p); }

// sum_k q_k over the whole blocks of k (all of k, which is a multiple of 128 by contract).
int32_t sum_q(const int8_t *q, int64_t k) {
    const int64_t n = k / kI2sBlock * kI2sBlock;
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i acc = _mm512_setzero_si512();
    for (int64_t i = 0; i < n; i += 64) acc = _mm512_dpbusd_epi32(acc, ones, load512(q + i));
    return _mm512_reduce_add_epi32(acc);
}

// Codes of groups 0|1 and 2|3 of one block, as bytes. Groups 0 and 1 pair with the 64
// contiguous activations q[0..63] of the block, groups 2 and 3 with q[64..127], so the 32 bytes
// are broadcast to both 256-bit halves and each half is shifted by its own group's amount
// (64-bit lane shifts pull in bits of the neighbouring byte, which the mask drops).
inline void unpack_block(const uint8_t *wb, __m512i &c01, __m512i &c23) {
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(wb)));
    const __m512i mask = _mm512_set1_epi8(3);
    c01 = _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 4, 4, 6, 6, 6, 6)), mask);
    c23 = _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(0, 0, 0, 0, 2, 2, 2, 2)), mask);
}

// Software prefetch distance for decode, as in the AVX2 gemv: the same spot kPrefetchRows rows
// further on (4 groups of 4 rows in the interleaved layout). Without it this kernel decoded 11%
// slower than the AVX2 one on a Sapphire Rapids class Xeon (issue 13). Measured on Zen 5, one
// thread, from memory (bench i2s_gemv_dram, medians of 4): 22.7 GB/s with it, 21.0 without,
// AVX2 20.2.
constexpr int64_t kPrefetchRows = 16;

// NR weight rows x NT activation rows. Two accumulators per output (groups 0|1 and 2|3) give
// 2*NR*NT independent vpdpbusd chains to cover its latency. Prefetch is for decode (NT == 1):
// with several tokens the rows are reused from cache and the hardware prefetcher keeps up.
template <int NR, int NT, bool Prefetch = (NT == 1)>
void tile(const uint8_t *w, int64_t row_step, int64_t bstride, int64_t k, const int8_t *q,
          const int32_t *qsum, int32_t *out, int64_t ldo) {
    const int64_t prefetch = kPrefetchRows * (k / 4);
    __m512i acc[NR][NT][2];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc[r][t][0] = acc[r][t][1] = _mm512_setzero_si512();
    }
    for (int64_t b = 0; b < k / kI2sBlock; ++b) {
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            __m512i c01, c23;
            const uint8_t *wb = w + r * row_step + b * bstride;
            if constexpr (Prefetch) {
                _mm_prefetch(reinterpret_cast<const char *>(wb + prefetch), _MM_HINT_T0);
            }
            unpack_block(wb, c01, c23);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) {
                const int8_t *qb = q + t * k + b * kI2sBlock;
                acc[r][t][0] = _mm512_dpbusd_epi32(acc[r][t][0], c01, load512(qb));
                acc[r][t][1] = _mm512_dpbusd_epi32(acc[r][t][1], c23, load512(qb + 64));
            }
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) {
            const __m512i s = _mm512_add_epi32(acc[r][t][0], acc[r][t][1]);
            out[t * ldo + r] = _mm512_reduce_add_epi32(s) - qsum[t];
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

// Prefill/batched tile: NR weight rows x NT tokens, one accumulator per output (4 x 4 = 16
// chains cover vpdpbusd's latency). The NT tokens' activations of a block are loaded once and
// reused by all NR rows, and each row's codes are unpacked once for all NT tokens: 8 loads and
// 4 unpacks feed 32 vpdpbusd, where the one-row tile needed 8 loads and 1 unpack for 8.
template <int NR, int NT>
void tile_gemm(const uint8_t *w, int64_t row_step, int64_t bstride, int64_t k, const int8_t *q,
               const int32_t *qsum, int32_t *out, int64_t ldo) {
    __m512i acc[NR][NT];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_si512();
    }
    for (int64_t b = 0; b < k / kI2sBlock; ++b) {
        __m512i qlo[NT], qhi[NT];
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) {
            qlo[t] = load512(q + t * k + b * kI2sBlock);
            qhi[t] = load512(q + t * k + b * kI2sBlock + 64);
        }
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            __m512i c01, c23;
            unpack_block(w + r * row_step + b * bstride, c01, c23);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) {
                acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], c01, qlo[t]);
                acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], c23, qhi[t]);
            }
        }
    }
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) out[t * ldo + r] = _mm512_reduce_add_epi32(acc[r][t]) - qsum[t];
    }
}

// Tokens are taken in chunks whose activations stay in L2 (64 x k bytes: 160 KB at k = 2560,
// 432 KB at 6912) while the NR rows' codes (NR x k / 4 bytes) stay in L1 across the chunk's
// token groups; the weights are then streamed once per chunk, not once per 4 tokens.
constexpr int64_t kGemmTokenChunk = 64;

// Rows r .. r + NR - 1 against tokens c0 .. c1 - 1, four tokens at a time.
template <int NR>
void token_groups(const I2sRows &w, int64_t r, int64_t k, const int8_t *q, const int32_t *qsum,
                  int64_t c0, int64_t c1, int32_t *out, int64_t ldo) {
    const uint8_t *wr = w.row(r);
    const int64_t step = w.row_step(), bstride = w.block_stride();
    int64_t t = c0;
    for (; t + 4 <= c1; t += 4) {
        tile_gemm<NR, 4>(wr, step, bstride, k, q + t * k, qsum + t, out + t * ldo + r, ldo);
    }
    switch (c1 - t) {
        case 3: tile_gemm<NR, 3>(wr, step, bstride, k, q + t * k, qsum + t, out + t * ldo + r, ldo); break;
        case 2: tile_gemm<NR, 2>(wr, step, bstride, k, q + t * k, qsum + t, out + t * ldo + r, ldo); break;
        case 1: tile_gemm<NR, 1>(wr, step, bstride, k, q + t * k, qsum + t, out + t * ldo + r, ldo); break;
        default: break;
    }
}

}  // namespace

void i2s_gemv_avx512(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int32_t *out) {
    const I2sRows wr{w, k / 4, il};
    const int32_t qsum = sum_q(q, k);
    rows<4, 1>(wr, k, n_rows, q, &qsum, out, 0);
}

void i2s_gemm_avx512(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int64_t n_tok, int32_t *out, int64_t ldo) {
    const I2sRows wr{w, k / 4, il};
    std::vector<int32_t> qsum((size_t)n_tok);
    for (int64_t t = 0; t < n_tok; ++t) qsum[(size_t)t] = sum_q(q + t * k, k);
    for (int64_t c0 = 0; c0 < n_tok; c0 += kGemmTokenChunk) {
        const int64_t c1 = std::min(n_tok, c0 + kGemmTokenChunk);
        int64_t r = 0;
        for (; r + 4 <= n_rows && wr.in_one_group(r, 4); r += 4) {
            token_groups<4>(wr, r, k, q, qsum.data(), c0, c1, out, ldo);
        }
        for (; r < n_rows; ++r) token_groups<1>(wr, r, k, q, qsum.data(), c0, c1, out, ldo);
    }
}

}  // namespace bitnet::kernels::detail
