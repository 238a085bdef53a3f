// NEON attention kernels: scores against an F32 KV cache (f32_gemm), weighted sums of V rows
// (f16_wsum, f32_wsum) and float32 -> F16 conversion.
// Float results differ from the scalar reference only by summation order; f32_to_f16 is
// bit-identical (fcvtn rounds to nearest even under the default FPCR, keeps NaN payloads and
// produces F16 subnormals, as fp16.h does).
#include <arm_neon.h>

#include <algorithm>

#include "common/fp16.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

inline float32x4_t load4(const float *p) { return vld1q_f32(p); }
inline float32x4_t load4(const uint16_t *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}
inline float load1(const float *p) { return *p; }
inline float load1(const uint16_t *p) { return f16_to_f32(*p); }

// ---- f32_gemm ----------------------------------------------------------------------------------

// NR weight rows x NT activation rows, 4 values per step; NR * NT accumulators (<= 16 of the 32
// registers) hide the FMA latency. Horizontal sums four rows at a time with pairwise adds.
template <int NR, int NT>
void dot_tile(const float *w, int64_t k, const float *x, float *y, int64_t ldy) {
    float32x4_t acc[NR][NT];
    BITNET_UNROLL
    for (int r = 0; r < NR; ++r) {
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) acc[r][t] = vdupq_n_f32(0.0f);
    }
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
        float32x4_t xv[NT];
        BITNET_UNROLL
        for (int t = 0; t < NT; ++t) xv[t] = vld1q_f32(x + t * k + i);
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            const float32x4_t wv = vld1q_f32(w + r * k + i);
            BITNET_UNROLL
            for (int t = 0; t < NT; ++t) acc[r][t] = vfmaq_f32(acc[r][t], wv, xv[t]);
        }
    }
    constexpr int NR4 = (NR + 3) / 4 * 4;
    BITNET_UNROLL
    for (int t = 0; t < NT; ++t) {
        float s[NR4];
        BITNET_UNROLL
        for (int r0 = 0; r0 < NR; r0 += 4) {
            const float32x4_t z = vdupq_n_f32(0.0f);
            const float32x4_t ab = vpaddq_f32(acc[r0][t], r0 + 1 < NR ? acc[r0 + 1][t] : z);
            const float32x4_t cd = vpaddq_f32(r0 + 2 < NR ? acc[r0 + 2][t] : z,
                                              r0 + 3 < NR ? acc[r0 + 3][t] : z);
            vst1q_f32(s + r0, vpaddq_f32(ab, cd));
        }
        BITNET_UNROLL
        for (int r = 0; r < NR; ++r) {
            for (int64_t j = i; j < k; ++j) s[r] += w[r * k + j] * x[t * k + j];
            y[t * ldy + r] = s[r];
        }
    }
}

template <int NR, int NT>
void dot_rows(const float *w, int64_t k, int64_t n_rows, const float *x, float *y, int64_t ldy) {
    int64_t r = 0;
    for (; r + NR <= n_rows; r += NR) dot_tile<NR, NT>(w + r * k, k, x, y + r, ldy);
    for (; r < n_rows; ++r) dot_tile<1, NT>(w + r * k, k, x, y + r, ldy);
}

// ---- f16_wsum / f32_wsum -----------------------------------------------------------------------

// Columns [i, i + 4 * NV) of NP outputs over rows [r0, r1); see attn_avx2.cpp.
template <int NP, int NV, typename T>
inline void wsum_chunk(const T *v, int64_t k, int64_t r0, int64_t r1, const float *p, int64_t ldp,
                       float *out, int64_t ldo, int64_t i, bool first) {
    float32x4_t acc[NP][NV];
    BITNET_UNROLL
    for (int j = 0; j < NP; ++j) {
        BITNET_UNROLL
        for (int u = 0; u < NV; ++u) {
            acc[j][u] = first ? vdupq_n_f32(0.0f) : vld1q_f32(out + j * ldo + i + 4 * u);
        }
    }
    const T *vr = v + r0 * k + i;
    for (int64_t r = r0; r < r1; ++r, vr += k) {
        float32x4_t vv[NV];
        BITNET_UNROLL
        for (int u = 0; u < NV; ++u) vv[u] = load4(vr + 4 * u);
        BITNET_UNROLL
        for (int j = 0; j < NP; ++j) {
            const float pj = p[j * ldp + r];
            BITNET_UNROLL
            for (int u = 0; u < NV; ++u) acc[j][u] = vfmaq_n_f32(acc[j][u], vv[u], pj);
        }
    }
    BITNET_UNROLL
    for (int j = 0; j < NP; ++j) {
        BITNET_UNROLL
        for (int u = 0; u < NV; ++u) vst1q_f32(out + j * ldo + i + 4 * u, acc[j][u]);
    }
}

// NP heads; rows in blocks that stay in L1 while the column chunks pass over them.
template <int NP, typename T>
void wsum_heads(const T *v, int64_t k, int64_t n_rows, const float *p, int64_t ldp, float *out,
                int64_t ldo) {
    const int64_t row_bytes = std::max<int64_t>(k * (int64_t)sizeof(T), 1);
    const int64_t block = std::clamp<int64_t>(16384 / row_bytes, 8, 256);
    const int64_t k16 = k / 16 * 16, k4 = k / 4 * 4;
    int64_t r0 = 0;
    do {  // at least once: n_rows == 0 still zeroes out
        const int64_t r1 = std::min(n_rows, r0 + block);
        const bool first = r0 == 0;
        for (int64_t i = 0; i < k16; i += 16) {
            wsum_chunk<NP, 4>(v, k, r0, r1, p, ldp, out, ldo, i, first);
        }
        for (int64_t i = k16; i < k4; i += 4) {
            wsum_chunk<NP, 1>(v, k, r0, r1, p, ldp, out, ldo, i, first);
        }
        for (int64_t i = k4; i < k; ++i) {
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

void f32_gemm_neon(const float *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) dot_rows<4, 4>(w, k, n_rows, x + t * k, y + t * ldy, ldy);
    switch (n_tok - t) {
        case 3: dot_rows<4, 3>(w, k, n_rows, x + t * k, y + t * ldy, ldy); break;
        case 2: dot_rows<6, 2>(w, k, n_rows, x + t * k, y + t * ldy, ldy); break;
        case 1: dot_rows<8, 1>(w, k, n_rows, x + t * k, y + t * ldy, ldy); break;
        default: break;
    }
}

void f16_wsum_neon(const uint16_t *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo) {
    wsum(v, k, n_rows, p, n_p, ldp, out, ldo);
}

void f32_wsum_neon(const float *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo) {
    wsum(v, k, n_rows, p, n_p, ldp, out, ldo);
}

void f32_to_f16_neon(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t h =
            vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x + i)), vld1q_f32(x + i + 4));
        vst1q_u16(y + i, vreinterpretq_u16_f16(h));
    }
    if (i + 4 <= n) {
        vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
        i += 4;
    }
    for (; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

}  // namespace bitnet::kernels::detail
