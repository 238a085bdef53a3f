// AVX2 + FMA + F16C attention kernels: scores against an F32 KV cache (f32_gemm), weighted sums
// of V rows (f16_wsum, f32_wsum) and float32 -> F16 conversion.
// Float results differ from the scalar reference only by summation order; f32_to_f16 is
// bit-identical (vcvtps2ph rounds to nearest even and keeps NaN payloads as fp16.h does).
#include <immintrin.h>

#include <algorithm>

#include "kernels/dot_avx2.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

using avx2::dot_tile;
using avx2::load1;
using avx2::load8;

// ---- f32_gemm ----------------------------------------------------------------------------------

// All rows for NT tokens: NR rows at a time, then the remaining rows one by one.
template <int NR, int NT, typename T>
void dot_rows(const T *w, int64_t k, int64_t n_rows, const float *x, float *y, int64_t ldy) {
    int64_t r = 0;
    for (; r + NR <= n_rows; r += NR) dot_tile<NR, NT>(w + r * k, k, x, y + r, ldy);
    for (; r < n_rows; ++r) dot_tile<1, NT>(w + r * k, k, x, y + r, ldy);
}

// ---- f16_wsum / f32_wsum -----------------------------------------------------------------------

// Columns [i, i + 8 * NV) of NP outputs over rows [r0, r1) of v: out[j] (+)= sum_r p[j][r] v[r].
// The NP * NV accumulators stay in registers over the rows; `first` starts them at zero instead
// of the partial sums in out.
template <int NP, int NV, typename T>
inline void wsum_chunk(const T *v, int64_t k, int64_t r0, int64_t r1, const float *p, int64_t ldp,
                       float *out, int64_t ldo, int64_t i, bool first) {
    __m256 acc[NP][NV];
    BITNET_UNROLL
    for (int j = 0; j < NP; ++j) {
        BITNET_UNROLL
        for (int u = 0; u < NV; ++u) {
            acc[j][u] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(out + j * ldo + i + 8 * u);
        }
    }
    const T *vr = v + r0 * k + i;
    for (int64_t r = r0; r < r1; ++r, vr += k) {
        __m256 vv[NV];
        BITNET_UNROLL
        for (int u = 0; u < NV; ++u) vv[u] = load8(vr + 8 * u);
        BITNET_UNROLL
        for (int j = 0; j < NP; ++j) {
            const __m256 pj = _mm256_broadcast_ss(p + j * ldp + r);
            BITNET_UNROLL
            for (int u = 0; u < NV; ++u) acc[j][u] = _mm256_fmadd_ps(pj, vv[u], acc[j][u]);
        }
    }
    BITNET_UNROLL
    for (int j = 0; j < NP; ++j) {
        BITNET_UNROLL
        for (int u = 0; u < NV; ++u) _mm256_storeu_ps(out + j * ldo + i + 8 * u, acc[j][u]);
    }
}

// NP outputs (heads). Rows go in blocks small enough to stay in L1 while the column chunks pass
// over them, so V is read from memory once and sequentially; the accumulators go through out
// (L1) between blocks.
template <int NP, typename T>
void wsum_heads(const T *v, int64_t k, int64_t n_rows, const float *p, int64_t ldp, float *out,
                int64_t ldo) {
    const int64_t row_bytes = std::max<int64_t>(k * (int64_t)sizeof(T), 1);
    const int64_t block = std::clamp<int64_t>(16384 / row_bytes, 8, 256);
    const int64_t k16 = k / 16 * 16, k8 = k / 8 * 8;
    int64_t r0 = 0;
    do {  // at least once: n_rows == 0 still zeroes out
        const int64_t r1 = std::min(n_rows, r0 + block);
        const bool first = r0 == 0;
        for (int64_t i = 0; i < k16; i += 16) {
            wsum_chunk<NP, 2>(v, k, r0, r1, p, ldp, out, ldo, i, first);
        }
        if (k8 > k16) wsum_chunk<NP, 1>(v, k, r0, r1, p, ldp, out, ldo, k16, first);
        for (int64_t i = k8; i < k; ++i) {
            BITNET_UNROLL
            for (int j = 0; j < NP; ++j) {
                float s = first ? 0.0f : out[j * ldo + i];
                for (int64_t r = r0; r < r1; ++r) s += p[j * ldp + r] * load1(v + r * k + i);
                out[j * ldo + i] = s;
            }
        }
        r0 = r1;
    } while (r0 < n_rows);
}

// Four heads at a time (2 x 4 accumulators of 8 floats, 16 columns), then the rest.
template <typename T>
void wsum(const T *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p, int64_t ldp,
          float *out, int64_t ldo) {
    int64_t j = 0;
    for (; j + 4 <= n_p; j += 4) wsum_heads<4>(v, k, n_rows, p + j * ldp, ldp, out + j * ldo, ldo);
    switch (n_p - j) {
        case 3: wsum_heads<3>(v, k, n_rows, p + j * ldp, ldp, out + j * ldo, ldo); break;
        case 2: wsum_heads<2>(v, k, n_rows, p + j * ldp, ldp, out + j * ldo, ldo); break;
        case 1: wsum_heads<1>(v, k, n_rows, p + j * ldp, ldp, out + j * ldo, ldo); break;
        default: break;
    }
}

}  // namespace

void f32_gemm_avx2(const float *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy) {
    // Token tiles of 4 (the query heads sharing a KV head), then 3, 2 or 1. 3 rows x 4 tokens
    // measured fastest for k = 128 (30% over 2 x 4 or 4 x 4); the other tiles keep NR * NT
    // accumulators + NT activation vectors + 1 weight vector within the 16 registers.
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) dot_rows<3, 4>(w, k, n_rows, x + t * k, y + t * ldy, ldy);
    switch (n_tok - t) {
        case 3: dot_rows<4, 3>(w, k, n_rows, x + t * k, y + t * ldy, ldy); break;
        case 2: dot_rows<4, 2>(w, k, n_rows, x + t * k, y + t * ldy, ldy); break;
        case 1: dot_rows<8, 1>(w, k, n_rows, x + t * k, y + t * ldy, ldy); break;
        default: break;
    }
}

void f16_wsum_avx2(const uint16_t *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo) {
    wsum(v, k, n_rows, p, n_p, ldp, out, ldo);
}

void f32_wsum_avx2(const float *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo) {
    wsum(v, k, n_rows, p, n_p, ldp, out, ldo);
}

void f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n) {
    constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i a = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), kRound);
        const __m128i b = _mm256_cvtps_ph(_mm256_loadu_ps(x + i + 8), kRound);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(y + i), a);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(y + i + 8), b);
    }
    if (i + 8 <= n) {
        _mm_storeu_si128(reinterpret_cast<__m128i *>(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), kRound));
        i += 8;
    }
    for (; i < n; ++i) y[i] = (uint16_t)_cvtss_sh(x[i], kRound);
}

}  // namespace bitnet::kernels::detail
