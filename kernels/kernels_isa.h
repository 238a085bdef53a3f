// Internal to kernels/: the ISA-specific kernels behind the tables of dispatch.cpp, and the
// scalar pieces that every implementation must share bit for bit.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/kernels.h"

namespace bitnet::kernels::detail {

// Complete unrolling of the small fixed-count loops over a tile's rows and tokens: it is what
// lets the accumulator arrays live in registers, and GCC does not do it at -O2 on its own.
#define BITNET_UNROLL _Pragma("GCC unroll 16")

// One I2_S block: 128 values in 32 bytes.
inline constexpr int64_t kI2sBlock = 128;
inline constexpr int64_t kI2sBlockBytes = 32;
// A block holds four groups of 32 consecutive values, group g in bits 7-2g .. 6-2g of its bytes.
inline constexpr int64_t kI2sGroup = 32;

// Where the blocks of an I2_S matrix are when its rows are interleaved in groups of il
// (kernels.h, I2sGemvFn): row r's block b at row(r) + b * block_stride().
struct I2sRows {
    const uint8_t *w;
    int64_t row_bytes;  // k / 4
    int il;             // 1 = the file's layout

    const uint8_t *row(int64_t r) const {
        return w + (r / il) * il * row_bytes + (r % il) * kI2sBlockBytes;
    }
    int64_t block_stride() const { return il * kI2sBlockBytes; }
    // From row r to row r + 1 when both lie in one group of il rows (always when il == 1).
    int64_t row_step() const { return il == 1 ? row_bytes : kI2sBlockBytes; }
    // Whether rows r .. r + n - 1 lie in one group, so that row_step() leads from one to the next.
    bool in_one_group(int64_t r, int n) const { return il == 1 || r % il + n <= il; }
};

// The absmax floor and scale of quantize_row_i8 (reference section 3.4), in double as the fork
// computes them. amax is max|x| over the row, NaNs ignored.
inline float i8_scale(float amax) {
    const double max = amax > 1e-5 ? (double)amax : 1e-5;
    return (float)(127.0 / max);
}

// q = clamp(round_half_even(v), -128, 127) for v = x * s, as the SIMD kernels compute it:
// nearbyint follows the current rounding mode (round-to-nearest-even by default), as cvtps2dq
// and fcvtns do. NaN gives -128, the value cvtps2dq (0x80000000) followed by saturating packs
// produces; +-inf cannot occur since |x * s| <= ~127 whenever s is finite and non-zero.
inline int round_clamp(float v, int lo, int hi) {
    const float r = std::nearbyint(v);
    if (r >= (float)hi) return hi;
    if (r > (float)lo) return (int)r;
    return lo;  // also NaN
}
inline int8_t round_to_i8(float v) { return (int8_t)round_clamp(v, -128, 127); }

// ---- the shared operation order of the row-wise kernels (kernels.h, RmsNormFn ...) -----------
// Kernel files are compiled with -ffp-contract=off, so a multiply followed by an add is two
// roundings everywhere unless written as an explicit fused multiply-add (std::fma,
// _mm256_fmadd_ps, vfmaq_f32), which rounds once on every ISA.

// The 8 interleaved double partial sums (element i in s[i % 8]) combined in one fixed order:
// that of two 4-lane vectors added, then halves, then the last pair.
inline double combine8(const double s[8]) {
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

// RMSNorm's scale from the sum of squares, in float as ggml computes it.
inline float rms_scale(double sum_sq, int64_t n, float eps) {
    const float mean = (float)(sum_sq / (double)n);
    return 1.0f / std::sqrt(mean + eps);
}

// exp(x) for float: x clamped to [kExpLo, kExpHi] (NaN passes through), x = n ln2 + r with n =
// round-half-even(x log2 e) and |r| <= ln2/2 (ln2 in two parts, Cody-Waite), e^r by the degree-7
// polynomial of Cephes' expf, then scaled by 2^n built in the exponent bits. exp(0) = 1 exactly;
// below about -87 the result is the smallest normal range (~1e-38), not 0.
inline constexpr float kExpLo = -87.0f, kExpHi = 88.0f;
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
inline constexpr float kExpP0 = 1.9875691500e-4f, kExpP1 = 1.3981999507e-3f,
                       kExpP2 = 8.3334519073e-3f, kExpP3 = 4.1665795894e-2f,
                       kExpP4 = 1.6666665459e-1f, kExpP5 = 5.0000001201e-1f;

inline float exp_ref(float x) {
    x = kExpLo > x ? kExpLo : x;  // the operand order of maxps/minps: a NaN x stays NaN
    x = kExpHi < x ? kExpHi : x;
    if (x != x) return x;
    const float n = std::nearbyint(x * kLog2e);
    float r = std::fma(n, -kLn2Hi, x);
    r = std::fma(n, -kLn2Lo, r);
    float p = kExpP0;
    p = std::fma(p, r, kExpP1);
    p = std::fma(p, r, kExpP2);
    p = std::fma(p, r, kExpP3);
    p = std::fma(p, r, kExpP4);
    p = std::fma(p, r, kExpP5);
    const float r2 = r * r;
    float y = std::fma(p, r2, r);
    y = y + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float pow2n;
    static_assert(sizeof pow2n == sizeof bits);
    __builtin_memcpy(&pow2n, &bits, sizeof bits);
    return y * pow2n;
}

// The element steps of the row-wise kernels from element i0 on: the whole scalar reference
// (i0 = 0), and the tails that the SIMD versions leave after their vector steps, so that every
// element is computed by one definition.

// s[i % 8] += x_i^2 (exact: a float's square fits a double's mantissa).
inline void add_squares_from(const float *x, int64_t i0, int64_t n, double s[8]) {
    for (int64_t i = i0; i < n; ++i) s[i % 8] += (double)x[i] * (double)x[i];
}
// y_i = (x_i * scale) * w_i.
inline void scale_mul_from(const float *x, const float *w, int64_t i0, int64_t n, float scale,
                           float *y) {
    for (int64_t i = i0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}
// One head's NeoX rotation of pairs (i, i + half) for i in [i0, half).
inline void rope_pairs_from(float *v, int64_t i0, int64_t half, const float *cos,
                            const float *sin) {
    for (int64_t i = i0; i < half; ++i) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cos[i] - x1 * sin[i];
        v[i + half] = x0 * sin[i] + x1 * cos[i];
    }
}
// One head's normal (adjacent-pair) rotation of pairs (2i, 2i + 1) for i in [i0, half).
inline void rope_adjacent_from(float *v, int64_t i0, int64_t half, const float *cos,
                               const float *sin) {
    for (int64_t i = i0; i < half; ++i) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * cos[i] - x1 * sin[i];
        v[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
    }
}
// x_i *= scale, returning max(mx, the new x_i) (maxps(x, mx): a NaN x leaves mx).
inline float scale_max_from(float *x, int64_t i0, int64_t n, float scale, float mx) {
    for (int64_t i = i0; i < n; ++i) {
        x[i] = x[i] * scale;
        mx = x[i] > mx ? x[i] : mx;
    }
    return mx;
}
// x_i = exp_ref(x_i - mx), s[i % 8] += x_i.
inline void exp_sum_from(float *x, int64_t i0, int64_t n, float mx, double s[8]) {
    for (int64_t i = i0; i < n; ++i) {
        x[i] = exp_ref(x[i] - mx);
        s[i % 8] += (double)x[i];
    }
}
// x_i *= scale.
inline void scale_from(float *x, int64_t i0, int64_t n, float scale) {
    for (int64_t i = i0; i < n; ++i) x[i] = x[i] * scale;
}

// Block quantisation of the quantised LM heads (Q8: qmax 127, Q4: qmax 7), the reference
// order: amax over the block skipping NaNs, scale = amax > 0 ? amax / qmax : 1, then
// put(i, x_i / scale) for each value (the caller rounds and clamps).
template <class Load, class Put>
void quantize_head_row(int64_t k, float qmax, float *scale, Load load, Put put) {
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        float amax = 0.0f;
        for (int64_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) {
            const float a = std::fabs(load(i));
            amax = a > amax ? a : amax;  // maxps(a, amax): a NaN is skipped
        }
        const float s = amax > 0.0f ? amax / qmax : 1.0f;
        scale[b] = s;
        for (int64_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) put(i, load(i) / s);
    }
}

// The quantised heads' product loop: blocks of kRowBlock rows (80 KB of int8 at k = 2560, kept
// in L2) for all tokens (n_tok > 1 is the rare prompt case), so that the weights are read from
// memory once; fn(r, t) computes row r for token t.
template <class RowFn>
void for_rows_by_token(int64_t n_rows, int64_t n_tok, RowFn fn) {
    constexpr int64_t kRowBlock = 32;
    for (int64_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
        const int64_t r1 = n_rows - r0 < kRowBlock ? n_rows : r0 + kRowBlock;
        for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t r = r0; r < r1; ++r) fn(r, t);
        }
    }
}

// The Q4 product on one ISA: the activations of all tokens quantised once (q4_quantize_x), then
// row_dot(w_row, scale_row, xq, d, xsum, y) for every row and token.
template <class RowDot>
void q4_gemm_with(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                  int64_t n_tok, float *y, int64_t ldy, RowDot row_dot) {
    const int64_t nb = k / kQ8Block;
    std::vector<int8_t> xq((size_t)(k * n_tok));
    std::vector<float> d((size_t)(nb * n_tok));
    std::vector<int32_t> xsum((size_t)(nb * n_tok));
    for (int64_t t = 0; t < n_tok; ++t) {
        q4_quantize_x(x + t * k, k, xq.data() + t * k, d.data() + t * nb, xsum.data() + t * nb);
    }
    for_rows_by_token(n_rows, n_tok, [&](int64_t r, int64_t t) {
        row_dot(w + r * (k / 2), scale + r * nb, xq.data() + t * k, d.data() + t * nb,
                xsum.data() + t * nb, y + t * ldy + r);
    });
}

// round_half_even(v) clamped to [-8, 7], NaN -> -8 (cvtps2dq's INT_MIN clamped).
inline int q4_round(float v) { return round_clamp(v, -8, 7); }

#if defined(__x86_64__)
float quantize_row_i8_avx2(const float *x, int64_t n, int8_t *q, int32_t *sum);
void i2s_gemv_avx2(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int32_t *out);
void i2s_gemm_avx2(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int64_t n_tok, int32_t *out, int64_t ldo);
void f16_gemv_avx2(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, float *y);
void f16_gemm_avx2(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy);
void f32_gemm_avx2(const float *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy);
void f16_wsum_avx2(const uint16_t *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo);
void f32_wsum_avx2(const float *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo);
void q8_gemm_avx2(const int8_t *w, const float *scale, int64_t k, int64_t n_rows,
                  const float *x, int64_t n_tok, float *y, int64_t ldy);
void f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n);
void rms_norm_avx2(const float *x, const float *w, int64_t n, float eps, float *y);
void rope_neox_avx2(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin);
void rope_norm_avx2(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin);
void softmax_avx2(float *x, int64_t n, float scale);
void q8_quantize_f16_avx2(const uint16_t *x, int64_t k, int8_t *q, float *scale);
void q4_gemm_avx2(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows,
                  const float *x, int64_t n_tok, float *y, int64_t ldy);
void q4_quantize_f16_avx2(const uint16_t *x, int64_t k, uint8_t *q, float *scale);

// AVX-512 F/BW/VL/DQ + VNNI. I2_S has its own kernels, and the F16 GEMM (batched LM head,
// grouped attention scores; bit-identical to the AVX2 one); quantisation, the F16 gemv, F32, Q8
// and the other attention kernels (memory-bound or a small share of the time) reuse the AVX2 ones.
void i2s_gemv_avx512(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int32_t *out);
void i2s_gemm_avx512(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                     int64_t n_tok, int32_t *out, int64_t ldo);
void f16_gemm_avx512(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                     float *y, int64_t ldy);
#endif

// AMX-INT8 I2_S GEMM (i2s_amx_gemm.h). i2s_gemm_amx is the dispatched kernel (AVX-512 below a
// few tokens, tiles above); the others are for tests and benchmarks: i2s_gemm_amx_tiles always
// uses the tiles, the _emulated variants run the same algorithm on the exact tile emulation
// (amx_tiles.h) with the scalar (any CPU) or the AVX-512 (AVX-512 CPUs) unpacker of the codes.
// amx_tile_dot_hw: one 16 x 16 tile product on the hardware (op 0 TDPBSSD, 1 TDPBUSD), A and B
// 16 x 64 bytes, C 16 x 16 int32, all with 64-byte rows.
void i2s_gemm_amx_emulated(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                           int64_t n_tok, int32_t *out, int64_t ldo);
// The two B tiles (16 rows x 64 bytes each, VNNI layout) of one I2_S block of 16 weight rows:
// lo[kk * 64 + 4n + i] = t_n[4kk + i], hi[...] = t_n[64 + 4kk + i] (t = code - 1).
void i2s_amx_unpack_block_scalar(const uint8_t *const rows[16], int8_t *lo, int8_t *hi);
#if defined(BITNET_AMX_KERNELS)
void i2s_gemm_amx(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                  int64_t n_tok, int32_t *out, int64_t ldo);
void i2s_gemm_amx_tiles(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                        int64_t n_tok, int32_t *out, int64_t ldo);
void i2s_gemm_amx_emulated_avx512(const uint8_t *w, int64_t k, int64_t n_rows, int il,
                                  const int8_t *q, int64_t n_tok, int32_t *out, int64_t ldo);
void i2s_amx_unpack_block_avx512(const uint8_t *const rows[16], int8_t *lo, int8_t *hi);
void amx_tile_dot_hw(int op, const int8_t *a, const int8_t *b, int32_t *c);
#endif

#if defined(__aarch64__)
float quantize_row_i8_neon(const float *x, int64_t n, int8_t *q, int32_t *sum);
void i2s_gemv_neon(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int32_t *out);
void i2s_gemm_neon(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                   int64_t n_tok, int32_t *out, int64_t ldo);
void f16_gemv_neon(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, float *y);
void f16_gemm_neon(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy);
void f32_gemm_neon(const float *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   float *y, int64_t ldy);
void f16_wsum_neon(const uint16_t *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo);
void f32_wsum_neon(const float *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                   int64_t ldp, float *out, int64_t ldo);
void q8_gemm_neon(const int8_t *w, const float *scale, int64_t k, int64_t n_rows,
                  const float *x, int64_t n_tok, float *y, int64_t ldy);
void f32_to_f16_neon(const float *x, uint16_t *y, int64_t n);
void rms_norm_neon(const float *x, const float *w, int64_t n, float eps, float *y);
void rope_neox_neon(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin);
void rope_norm_neon(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin);
void softmax_neon(float *x, int64_t n, float scale);
void q8_quantize_f16_neon(const uint16_t *x, int64_t k, int8_t *q, float *scale);
void q4_gemm_neon(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows,
                  const float *x, int64_t n_tok, float *y, int64_t ldy);
void q4_quantize_f16_neon(const uint16_t *x, int64_t k, uint8_t *q, float *scale);
#endif

}  // namespace bitnet::kernels::detail
