// Kernel tests: the scalar reference against bitnet-reference.md section 3 and independent
// re-computations; every SIMD kernel this CPU supports against the scalar reference (bit-exact
// for integers and int8 quantisation, within rounding for float sums); fp16 conversions against
// the F16C instructions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "common/fp16.h"
#include "kernels/kernels.h"
#include "kernels/kernels_isa.h"
#include "kernel_isas.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bitnet::kernels {
namespace {

constexpr int64_t kIntK[] = {128, 256, 384, 2560, 6912};
constexpr int64_t kRows[] = {1, 3, 7, 65};
constexpr int64_t kTok[] = {1, 2, 3, 5, 8, 13};

// ---- data --------------------------------------------------------------------------------------

enum class Codes { Valid, AnyByte };

// n_rows rows of k values. Row r % 6: 0 all -1, 1 all +1, 2 all 0, otherwise random; with
// Codes::AnyByte the random rows are random bytes, so code 3 occurs as well.
std::vector<uint8_t> make_weights(int64_t k, int64_t n_rows, Codes codes, std::mt19937 &rng) {
    const int64_t row_bytes = k / 4;
    std::vector<uint8_t> w((size_t)(n_rows * row_bytes));
    std::vector<int8_t> t((size_t)k);
    for (int64_t r = 0; r < n_rows; ++r) {
        uint8_t *wr = w.data() + r * row_bytes;
        switch (r % 6) {
            case 0: std::memset(wr, 0x00, (size_t)row_bytes); break;
            case 1: std::memset(wr, 0xAA, (size_t)row_bytes); break;
            case 2: std::memset(wr, 0x55, (size_t)row_bytes); break;
            default:
                if (codes == Codes::AnyByte) {
                    for (int64_t i = 0; i < row_bytes; ++i) wr[i] = (uint8_t)(rng() & 0xff);
                } else {
                    for (auto &v : t) v = (int8_t)((int)(rng() % 3) - 1);
                    i2s_pack(t.data(), k, wr);
                }
        }
    }
    return w;
}

std::vector<int8_t> random_q(int64_t n, std::mt19937 &rng) {
    std::vector<int8_t> q((size_t)n);
    for (auto &v : q) v = (int8_t)(int)(rng() % 256 - 128);
    return q;
}

// sum_k t_k q_k from unpacked values: independent of every gemv implementation.
int32_t naive_dot(const uint8_t *w, int64_t k, const int8_t *q) {
    std::vector<int8_t> t((size_t)k);
    i2s_unpack(w, k, t.data());
    int32_t acc = 0;
    for (int64_t i = 0; i < k; ++i) acc += t[i] * q[i];
    return acc;
}

// ---- scalar reference: worked example and layout (reference sections 3.1, 3.2, 3.6) ---------

TEST(I2sReference, WorkedExample) {
    std::vector<int8_t> t(128);
    for (int j = 0; j < 128; ++j) {
        if (j < 32) t[j] = 1;
        else if (j < 64) t[j] = 0;
        else if (j < 96) t[j] = -1;
        else t[j] = (j % 2 == 0) ? 1 : -1;
    }
    uint8_t w[32];
    i2s_pack(t.data(), 128, w);
    for (int p = 0; p < 32; ++p) EXPECT_EQ(w[p], p % 2 == 0 ? 0x92 : 0x90) << "byte " << p;
    // Decode check: j = 97 -> byte 1 (0x90), group 3, (0x90 >> 0) & 3 = 0 -> -1.
    std::vector<int8_t> back(128);
    i2s_unpack(w, 128, back.data());
    EXPECT_EQ(back[97], -1);
    EXPECT_EQ(back, t);

    std::vector<float> x(128);
    for (int j = 0; j < 128; ++j) x[j] = j < 64 ? 1.0f : 0.5f;
    std::vector<int8_t> q(128);
    int32_t qsum = 0;
    const float s = quantize_row_i8_scalar(x.data(), 128, q.data(), &qsum);
    EXPECT_EQ(s, 127.0f);
    for (int j = 0; j < 128; ++j) EXPECT_EQ(q[j], j < 64 ? 127 : 64) << j;  // 63.5 -> 64 (even)
    EXPECT_EQ(qsum, 12224);

    int32_t dot = 0;
    i2s_gemv_scalar(w, 128, 1, 1, q.data(), &dot);
    EXPECT_EQ(dot, 2016);  // S - sum(q) = 14240 - 12224
    const float y = (float)dot / s * 0.8125f;
    EXPECT_EQ(y, 2016.0f / 127.0f * 0.8125f);
    EXPECT_NEAR(y, 12.8976, 1e-4);
}

TEST(I2sReference, PackedBytes) {
    std::vector<int8_t> t(128);
    uint8_t w[32];
    for (int8_t v : {-1, 0, 1}) {
        std::fill(t.begin(), t.end(), v);
        i2s_pack(t.data(), 128, w);
        const uint8_t want = v == -1 ? 0x00 : v == 0 ? 0x55 : 0xAA;
        for (uint8_t b : w) ASSERT_EQ(b, want) << "value " << (int)v;
    }
    // One value per position: value j lands in byte j % 32, bits 7-2g..6-2g, g = j / 32.
    for (int j = 0; j < 128; ++j) {
        std::fill(t.begin(), t.end(), -1);
        t[j] = 1;
        i2s_pack(t.data(), 128, w);
        for (int p = 0; p < 32; ++p) {
            const uint8_t want = p == j % 32 ? (uint8_t)(2 << (6 - 2 * (j / 32))) : 0;
            ASSERT_EQ(w[p], want) << "j " << j << " byte " << p;
        }
    }
}

TEST(I2sReference, PackUnpackRoundTrip) {
    std::mt19937 rng(1);
    for (int64_t n : {128, 256, 384, 2560 * 3}) {
        std::vector<int8_t> t((size_t)n), back((size_t)n);
        for (auto &v : t) v = (int8_t)((int)(rng() % 3) - 1);
        std::vector<uint8_t> w((size_t)(n / 4));
        i2s_pack(t.data(), n, w.data());
        i2s_unpack(w.data(), n, back.data());
        EXPECT_EQ(back, t) << "n " << n;
    }
    // Code 3 never occurs in valid data; it decodes to code - 1 = 2.
    std::vector<uint8_t> w3(32, 0xFF);
    std::vector<int8_t> t3(128);
    i2s_unpack(w3.data(), 128, t3.data());
    for (int8_t v : t3) EXPECT_EQ(v, 2);
}

TEST(I2sReference, GemvMatchesUnpackedDot) {
    std::mt19937 rng(2);
    for (int64_t k : kIntK) {
        const int64_t n_rows = 13;
        const auto w = make_weights(k, n_rows, Codes::AnyByte, rng);
        const auto q = random_q(k, rng);
        std::vector<int32_t> out((size_t)n_rows);
        i2s_gemv_scalar(w.data(), k, n_rows, 1, q.data(), out.data());
        for (int64_t r = 0; r < n_rows; ++r) {
            EXPECT_EQ(out[r], naive_dot(w.data() + r * (k / 4), k, q.data())) << k << " " << r;
        }
    }
}

TEST(I2sReference, ExtremeSumsNeedInt32) {
    const int64_t k = 6912;
    std::vector<uint8_t> w(3 * k / 4);
    std::memset(w.data(), 0x00, (size_t)k / 4);              // all -1
    std::memset(w.data() + k / 4, 0xAA, (size_t)k / 4);      // all +1
    std::memset(w.data() + 2 * k / 4, 0xFF, (size_t)k / 4);  // all code 3 (decodes to 2)
    std::vector<int8_t> q((size_t)k, -128);
    int32_t out[3];
    i2s_gemv_scalar(w.data(), k, 3, 1, q.data(), out);
    EXPECT_EQ(out[0], 128 * k);
    EXPECT_EQ(out[1], -128 * k);
    EXPECT_EQ(out[2], -256 * k);
}

TEST(I2sReference, GemmIsGemvPerToken) {
    std::mt19937 rng(3);
    const int64_t k = 384, n_rows = 7, n_tok = 5, ldo = 9;
    const auto w = make_weights(k, n_rows, Codes::AnyByte, rng);
    const auto q = random_q(k * n_tok, rng);
    std::vector<int32_t> out((size_t)(n_tok * ldo), 12345);
    i2s_gemm_scalar(w.data(), k, n_rows, 1, q.data(), n_tok, out.data(), ldo);
    for (int64_t j = 0; j < n_tok; ++j) {
        std::vector<int32_t> one((size_t)n_rows);
        i2s_gemv_scalar(w.data(), k, n_rows, 1, q.data() + j * k, one.data());
        for (int64_t r = 0; r < n_rows; ++r) EXPECT_EQ(out[j * ldo + r], one[r]);
        for (int64_t r = n_rows; r < ldo; ++r) EXPECT_EQ(out[j * ldo + r], 12345) << "padding";
    }
}

// ---- scalar reference: activation quantisation (reference section 3.4) ----------------------

TEST(QuantizeReference, HalfwayCasesRoundToEven) {
    // max = 127 gives s = 1, so x * s = x exactly.
    const std::vector<float> x = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f,
                                  3.5f, 0.49999997f, -127.0f};
    const std::vector<int8_t> want = {127, 0, 2, 2, 0, -2, -2, 126, -126, 4, 0, -127};
    std::vector<int8_t> q(x.size());
    int32_t sum = 0;
    const float s = quantize_row_i8_scalar(x.data(), (int64_t)x.size(), q.data(), &sum);
    EXPECT_EQ(s, 1.0f);
    EXPECT_EQ(q, want);
    int32_t want_sum = 0;
    for (int8_t v : want) want_sum += v;
    EXPECT_EQ(sum, want_sum);
}

TEST(QuantizeReference, RoundAndClamp) {
    // x * s never leaves [-127.5, 127.5] for finite rows, but the clamp and the half-even rule
    // are part of the definition (the SIMD packs saturate the same way).
    EXPECT_EQ(detail::round_to_i8(127.5f), 127);  // 128 (even) -> clamped
    EXPECT_EQ(detail::round_to_i8(200.0f), 127);
    EXPECT_EQ(detail::round_to_i8(-128.5f), -128);
    EXPECT_EQ(detail::round_to_i8(-1e30f), -128);
    EXPECT_EQ(detail::round_to_i8(-127.5f), -128);
    EXPECT_EQ(detail::round_to_i8(126.5f), 126);
    EXPECT_EQ(detail::round_to_i8(-0.5f), 0);
    EXPECT_EQ(detail::round_to_i8(std::numeric_limits<float>::quiet_NaN()), -128);
}

TEST(QuantizeReference, ZeroRowUsesFloor) {
    std::vector<float> x(100, 0.0f);
    std::vector<int8_t> q(100, 7);
    int32_t sum = 1;
    const float s = quantize_row_i8_scalar(x.data(), 100, q.data(), &sum);
    EXPECT_EQ(s, 12700000.0f);  // (float)(127 / 1e-5)
    for (int8_t v : q) EXPECT_EQ(v, 0);
    EXPECT_EQ(sum, 0);

    // Below the floor the scale stays 127 / 1e-5: 1e-6 -> 12.7 -> 13.
    x[0] = 1e-6f;
    x[1] = -9e-6f;
    quantize_row_i8_scalar(x.data(), 100, q.data(), &sum);
    EXPECT_EQ(q[0], 13);
    EXPECT_EQ(q[1], -114);
}

TEST(QuantizeReference, MatchesDefinition) {
    std::mt19937 rng(4);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<float> x(2560);
    for (auto &v : x) v = dist(rng);
    std::vector<int8_t> q(x.size());
    int32_t sum = 0;
    const float s = quantize_row_i8_scalar(x.data(), (int64_t)x.size(), q.data(), &sum);
    double max = 1e-5;
    for (float v : x) max = std::max(max, (double)std::fabs(v));
    EXPECT_EQ(s, (float)(127.0 / max));
    int32_t want_sum = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const float prod = x[i] * s;
        // nearest_int of the fork: add 1.5 * 2^23 and read the mantissa.
        const float shifted = prod + 12582912.0f;
        int32_t bits;
        std::memcpy(&bits, &shifted, 4);
        const int32_t want = std::clamp((bits & 0x007fffff) - 0x00400000, -128, 127);
        ASSERT_EQ(q[i], want) << i;
        want_sum += want;
    }
    EXPECT_EQ(sum, want_sum);
}

// ---- F16 reference ---------------------------------------------------------------------------

TEST(F16Reference, SmallIntegersAreExact) {
    const int64_t k = 37, n_rows = 3;
    std::vector<uint16_t> w((size_t)(k * n_rows));
    std::vector<float> x((size_t)k);
    std::vector<double> want((size_t)n_rows, 0.0);
    for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t i = 0; i < k; ++i) {
            const float v = (float)((r + i) % 7) - 3.0f;
            w[r * k + i] = f32_to_f16(v);
            x[i] = (float)(i % 5) - 2.0f;
            want[r] += (double)v * x[i];
        }
    }
    std::vector<float> y((size_t)n_rows);
    f16_gemv_scalar(w.data(), k, n_rows, x.data(), y.data());
    for (int64_t r = 0; r < n_rows; ++r) EXPECT_EQ(y[r], (float)want[r]);
}

// ---- attention, F32, Q8 and conversion references ---------------------------------------------

// Random test data. V/K values are scaled so that products stay in a realistic range.
std::vector<float> random_f32(size_t n, std::mt19937 &rng, float scale = 1.0f) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto &e : v) e = normal(rng) * scale;
    return v;
}

std::vector<uint16_t> random_f16(size_t n, std::mt19937 &rng, float scale = 1.0f) {
    std::vector<uint16_t> v(n);
    const auto f = random_f32(n, rng, scale);
    for (size_t i = 0; i < n; ++i) v[i] = f32_to_f16(f[i]);
    return v;
}

std::vector<int8_t> random_i8(size_t n, std::mt19937 &rng) {
    std::vector<int8_t> v(n);
    for (auto &e : v) e = (int8_t)(int)(rng() % 256 - 128);
    return v;
}

inline float to_f32(float v) { return v; }
inline float to_f32(uint16_t v) { return f16_to_f32(v); }
inline float to_f32(int8_t v) { return (float)v; }

// y[j][r] = sum_i w[r][i] x[j][i] in double, and sum_i |w[r][i] x[j][i]| (n_tok x n_rows).
template <typename T>
void dot_reference(const T *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                   std::vector<double> &ref, std::vector<double> &abs_sum) {
    ref.assign((size_t)(n_tok * n_rows), 0.0);
    abs_sum.assign(ref.size(), 0.0);
    for (int64_t j = 0; j < n_tok; ++j) {
        for (int64_t r = 0; r < n_rows; ++r) {
            double s = 0, a = 0;
            for (int64_t i = 0; i < k; ++i) {
                const double p = (double)to_f32(w[r * k + i]) * x[j * k + i];
                s += p;
                a += std::fabs(p);
            }
            ref[j * n_rows + r] = s;
            abs_sum[j * n_rows + r] = a;
        }
    }
}

// out[j][i] = sum_r p[j][r] v[r][i] in double, and sum_r |p v| (n_p x k).
template <typename T>
void wsum_reference(const T *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                    int64_t ldp, std::vector<double> &ref, std::vector<double> &abs_sum) {
    ref.assign((size_t)(n_p * k), 0.0);
    abs_sum.assign(ref.size(), 0.0);
    for (int64_t j = 0; j < n_p; ++j) {
        for (int64_t r = 0; r < n_rows; ++r) {
            for (int64_t i = 0; i < k; ++i) {
                const double t = (double)p[j * ldp + r] * to_f32(v[r * k + i]);
                ref[j * k + i] += t;
                abs_sum[j * k + i] += std::fabs(t);
            }
        }
    }
}

// Q8: y[j][r] = sum_b scale[r][b] * sum_{i in block b} w[r][i] x[j][i] in double, and the same
// sum over |terms| (n_tok x n_rows).
void q8_reference(const int8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                  int64_t n_tok, std::vector<double> &ref, std::vector<double> &abs_sum) {
    const int64_t nb = k / kQ8Block;
    ref.assign((size_t)(n_tok * n_rows), 0.0);
    abs_sum.assign(ref.size(), 0.0);
    for (int64_t j = 0; j < n_tok; ++j) {
        for (int64_t r = 0; r < n_rows; ++r) {
            double s = 0, a = 0;
            for (int64_t i = 0; i < k; ++i) {
                const double t = (double)w[r * k + i] * x[j * k + i] * scale[r * nb + i / kQ8Block];
                s += t;
                a += std::fabs(t);
            }
            ref[j * n_rows + r] = s;
            abs_sum[j * n_rows + r] = a;
        }
    }
}

// The Q4 layout of kernels.h written out independently: values in [-8, 7], row r's block b at
// r * k/2 + b * 16, byte j = (v[j] + 8) | (v[j + 16] + 8) << 4.
std::vector<uint8_t> pack_q4(const std::vector<int8_t> &v, int64_t k, int64_t n_rows) {
    std::vector<uint8_t> out((size_t)(n_rows * k / 2));
    for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t b = 0; b < k / 32; ++b) {
            for (int64_t j = 0; j < 16; ++j) {
                const int lo = v[r * k + b * 32 + j] + 8, hi = v[r * k + b * 32 + j + 16] + 8;
                out[r * k / 2 + b * 16 + j] = (uint8_t)(lo | hi << 4);
            }
        }
    }
    return out;
}

std::vector<int8_t> unpack_q4(const uint8_t *q, int64_t k) {
    std::vector<int8_t> v((size_t)k);
    for (int64_t b = 0; b < k / 32; ++b) {
        for (int64_t j = 0; j < 16; ++j) {
            v[b * 32 + j] = (int8_t)((q[b * 16 + j] & 15) - 8);
            v[b * 32 + j + 16] = (int8_t)((q[b * 16 + j] >> 4) - 8);
        }
    }
    return v;
}

std::vector<int8_t> random_q4_values(size_t n, std::mt19937 &rng) {
    std::vector<int8_t> v(n);
    for (auto &e : v) e = (int8_t)((int)(rng() % 16) - 8);
    return v;
}

// A float sum of n terms in any order is within (n - 1) * 2^-24 * sum|terms| of the exact sum
// (to first order; + 2 for the products' and the result's own rounding).
double sum_bound(int64_t n_terms, double abs_sum) {
    return (double)(n_terms + 2) * std::ldexp(1.0, -24) * abs_sum + 1e-37;
}

TEST(AttnReference, F32GemmMatchesDouble) {
    std::mt19937 rng(20);
    for (int64_t k : {1, 7, 32, 128, 129}) {
        const int64_t n_rows = 5, n_tok = 3, ldy = n_rows + 2;
        const auto w = random_f32((size_t)(k * n_rows), rng);
        const auto x = random_f32((size_t)(k * n_tok), rng);
        std::vector<float> y((size_t)(n_tok * ldy), 42.0f);
        f32_gemm_scalar(w.data(), k, n_rows, x.data(), n_tok, y.data(), ldy);
        std::vector<double> ref, abs_sum;
        dot_reference(w.data(), k, n_rows, x.data(), n_tok, ref, abs_sum);
        for (int64_t j = 0; j < n_tok; ++j) {
            for (int64_t r = 0; r < n_rows; ++r) {
                const size_t o = (size_t)(j * n_rows + r);
                ASSERT_NEAR(y[j * ldy + r], ref[o], sum_bound(k, abs_sum[o])) << k << " " << j;
            }
            EXPECT_EQ(y[j * ldy + n_rows], 42.0f) << "padding";
        }
    }
}

TEST(AttnReference, WsumMatchesDouble) {
    std::mt19937 rng(21);
    for (int64_t n_rows : {0, 1, 6, 40}) {
        const int64_t k = 33, n_p = 3, ldp = n_rows + 1, ldo = k + 2;
        const auto v32 = random_f32((size_t)(k * n_rows), rng);
        const auto v16 = random_f16((size_t)(k * n_rows), rng);
        const auto p = random_f32((size_t)(n_p * ldp), rng, 0.2f);
        std::vector<float> o32((size_t)(n_p * ldo), 42.0f), o16(o32);
        f32_wsum_scalar(v32.data(), k, n_rows, p.data(), n_p, ldp, o32.data(), ldo);
        f16_wsum_scalar(v16.data(), k, n_rows, p.data(), n_p, ldp, o16.data(), ldo);
        std::vector<double> r32, a32, r16, a16;
        wsum_reference(v32.data(), k, n_rows, p.data(), n_p, ldp, r32, a32);
        wsum_reference(v16.data(), k, n_rows, p.data(), n_p, ldp, r16, a16);
        for (int64_t j = 0; j < n_p; ++j) {
            for (int64_t i = 0; i < k; ++i) {
                const size_t o = (size_t)(j * k + i);
                ASSERT_NEAR(o32[j * ldo + i], r32[o], sum_bound(n_rows, a32[o])) << n_rows;
                ASSERT_NEAR(o16[j * ldo + i], r16[o], sum_bound(n_rows, a16[o])) << n_rows;
            }
            EXPECT_EQ(o32[j * ldo + k], 42.0f) << "padding";
            EXPECT_EQ(o16[j * ldo + k], 42.0f) << "padding";
        }
    }
}

TEST(AttnReference, Q8GemmMatchesDouble) {
    std::mt19937 rng(22);
    for (int64_t k : {32, 96, 2560}) {
        const int64_t n_rows = 4, n_tok = 2, ldy = n_rows + 1, nb = k / kQ8Block;
        const auto w = random_i8((size_t)(k * n_rows), rng);
        const auto x = random_f32((size_t)(k * n_tok), rng);
        const auto scale = random_f32((size_t)(n_rows * nb), rng, 1e-2f);
        std::vector<float> y((size_t)(n_tok * ldy), 42.0f);
        q8_gemm_scalar(w.data(), scale.data(), k, n_rows, x.data(), n_tok, y.data(), ldy);
        std::vector<double> ref, abs_sum;
        q8_reference(w.data(), scale.data(), k, n_rows, x.data(), n_tok, ref, abs_sum);
        for (int64_t j = 0; j < n_tok; ++j) {
            for (int64_t r = 0; r < n_rows; ++r) {
                const size_t o = (size_t)(j * n_rows + r);
                ASSERT_NEAR(y[j * ldy + r], ref[o], sum_bound(k + nb, abs_sum[o]))
                    << k << " " << j << " " << r;
            }
            EXPECT_EQ(y[j * ldy + n_rows], 42.0f) << "padding";
        }
    }
}

// A head quantisation (qmax 127 for Q8, 7 for Q4) of the values f into v with one scale per block
// of 32: |v| <= qmax, every value within half a step of its block's scale, the block maximum at
// +-qmax, scale = amax / qmax, and an all-zero block with scale 1.
void expect_block_quantisation(const std::vector<float> &f, const std::vector<int8_t> &v,
                               const std::vector<float> &scale, int qmax) {
    for (size_t b = 0; b < scale.size(); ++b) {
        double amax = 0;
        for (size_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) amax = std::max(amax, (double)std::fabs(f[i]));
        if (amax == 0) {
            EXPECT_EQ(scale[b], 1.0f);
        } else {
            EXPECT_NEAR(scale[b], amax / qmax, amax / qmax * 1e-6) << b;
        }
        for (size_t i = b * kQ8Block; i < (b + 1) * kQ8Block; ++i) {
            EXPECT_LE(std::abs((int)v[i]), qmax) << i;
            EXPECT_LE(std::fabs((double)v[i] * scale[b] - f[i]), 0.5 * scale[b] * (1 + 1e-6)) << i;
            if (std::fabs(f[i]) == amax && amax > 0) EXPECT_EQ(std::abs((int)v[i]), qmax) << i;
        }
    }
}

// Four blocks of F16 values for the quantiser tests: random, block 2 all zeros, block 1 with its
// maximum -0.5 at index `at`; and the same values as floats.
void head_test_values(std::mt19937 &rng, int64_t at, std::vector<uint16_t> &h, std::vector<float> &f) {
    h = random_f16(4 * kQ8Block, rng, 0.05f);
    for (int64_t i = 2 * kQ8Block; i < 3 * kQ8Block; ++i) h[i] = 0;
    h[kQ8Block + at] = f32_to_f16(-0.5f);
    f.resize(h.size());
    for (size_t i = 0; i < h.size(); ++i) f[i] = f16_to_f32(h[i]);
}

// Q8 head quantisation against the definition, and the F16 and F32 entry points equal on the
// same values.
TEST(Q8Quantize, ReferenceMatchesDefinition) {
    std::mt19937 rng(23);
    std::vector<uint16_t> h;
    std::vector<float> f;
    head_test_values(rng, 5, h, f);
    const int64_t k = (int64_t)h.size();
    std::vector<int8_t> q16((size_t)k), q32((size_t)k);
    std::vector<float> s16(k / kQ8Block), s32(k / kQ8Block);
    q8_quantize_f16_scalar(h.data(), k, q16.data(), s16.data());
    q8_quantize_f32_scalar(f.data(), k, q32.data(), s32.data());
    EXPECT_EQ(q16, q32);
    EXPECT_EQ(s16, s32);
    expect_block_quantisation(f, q16, s16, 127);
    EXPECT_EQ(q16[kQ8Block + 5], -127);
    EXPECT_NEAR(s16[1], 0.5 / 127, 1e-9);
}

// Q4 head quantisation the same way (levels -7..7 for finite input), read back through the
// independent unpack_q4.
TEST(Q4Quantize, ReferenceMatchesDefinition) {
    std::mt19937 rng(25);
    std::vector<uint16_t> h;
    std::vector<float> f;
    head_test_values(rng, 20, h, f);
    const int64_t k = (int64_t)h.size();
    std::vector<uint8_t> q16((size_t)k / 2), q32((size_t)k / 2);
    std::vector<float> s16(k / kQ8Block), s32(k / kQ8Block);
    q4_quantize_f16_scalar(h.data(), k, q16.data(), s16.data());
    q4_quantize_f32_scalar(f.data(), k, q32.data(), s32.data());
    EXPECT_EQ(q16, q32);
    EXPECT_EQ(s16, s32);
    const auto v = unpack_q4(q16.data(), k);
    expect_block_quantisation(f, v, s16, 7);
    EXPECT_EQ(v[kQ8Block + 20], -7);
}

// The Q4 product: its activation quantisation re-done here from the definition (per block of 32,
// d = amax / 127 in float, round half to even), the result against the double sum of those exact
// integer block products, and against the float-activation product within the activations'
// rounding (half a step of d per value).
TEST(Q4Gemm, ReferenceMatchesDouble) {
    std::mt19937 rng(26);
    for (int64_t k : {32, 96, 2560}) {
        const int64_t n_rows = 4, n_tok = 2, ldy = n_rows + 1, nb = k / kQ8Block;
        const auto v = random_q4_values((size_t)(k * n_rows), rng);
        const auto w = pack_q4(v, k, n_rows);
        auto x = random_f32((size_t)(k * n_tok), rng);
        for (int64_t i = 0; i < kQ8Block; ++i) x[i] = 0.0f;  // a zero block (d = 1)
        const auto scale = random_f32((size_t)(n_rows * nb), rng, 1e-2f);
        std::vector<float> y((size_t)(n_tok * ldy), 42.0f);
        q4_gemm_scalar(w.data(), scale.data(), k, n_rows, x.data(), n_tok, y.data(), ldy);
        std::vector<double> fref, fabs_sum;
        q8_reference(v.data(), scale.data(), k, n_rows, x.data(), n_tok, fref, fabs_sum);
        for (int64_t j = 0; j < n_tok; ++j) {
            std::vector<int> xq((size_t)k);
            std::vector<float> d((size_t)nb);
            for (int64_t b = 0; b < nb; ++b) {
                float amax = 0;
                for (int64_t i = 0; i < kQ8Block; ++i) amax = std::max(amax, std::fabs(x[j * k + b * kQ8Block + i]));
                d[b] = amax > 0 ? amax / 127.0f : 1.0f;
                for (int64_t i = 0; i < kQ8Block; ++i) {
                    xq[b * kQ8Block + i] = (int)std::nearbyint(x[j * k + b * kQ8Block + i] / d[b]);
                }
            }
            for (int64_t r = 0; r < n_rows; ++r) {
                double ref = 0, abs_terms = 0, act_err = 0;
                for (int64_t b = 0; b < nb; ++b) {
                    long isum = 0, wabs = 0;
                    for (int64_t i = 0; i < kQ8Block; ++i) {
                        isum += (long)v[r * k + b * kQ8Block + i] * xq[b * kQ8Block + i];
                        wabs += std::abs((int)v[r * k + b * kQ8Block + i]);
                    }
                    const double t = (double)isum * ((double)scale[r * nb + b] * d[b]);
                    ref += t;
                    abs_terms += std::fabs(t);
                    act_err += 0.5 * d[b] * std::fabs(scale[r * nb + b]) * (double)wabs;
                }
                const float got = y[j * ldy + r];
                ASSERT_NEAR(got, ref, sum_bound(nb + 2, abs_terms) + 1e-6 * abs_terms) << k << " " << r;
                ASSERT_NEAR(got, fref[(size_t)(j * n_rows + r)], act_err * 1.001 + 1e-6) << k << " " << r;
            }
            EXPECT_EQ(y[j * ldy + n_rows], 42.0f) << "padding";
        }
    }
}

TEST(AttnReference, F32ToF16IsFp16Conversion) {
    const std::vector<float> x = {0.0f, -0.0f, 1.0f, 0.1f, -65504.0f, 65520.0f, 1e-8f, 3e-5f,
                                  std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::quiet_NaN()};
    std::vector<uint16_t> y(x.size() + 1, 0xabcd);
    f32_to_f16_scalar(x.data(), y.data(), (int64_t)x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], f32_to_f16(x[i])) << i;
    EXPECT_EQ(y[x.size()], 0xabcd);
    EXPECT_EQ(y[2], 0x3c00);
    EXPECT_EQ(y[5], 0x7c00);  // 65520 rounds up to infinity
}

// ---- SIMD kernels against the scalar reference ------------------------------------------------

// i2s_interleave only reorders 32-byte blocks: the scalar kernel reading the interleaved bytes
// with il = 4 gives what it gives on the file's bytes, and the blocks really moved.
TEST(I2sInterleave, ScalarResultsUnchangedAndBlocksMoved) {
    std::mt19937 rng(13);
    const int64_t k = 384, n_rows = 12;
    const auto w = make_weights(k, n_rows, Codes::AnyByte, rng);
    auto wi = w;
    i2s_interleave(wi.data(), k, n_rows, 4);
    EXPECT_NE(wi, w);
    // Row 1's block 0 now follows row 0's block 0; row 0's block 1 follows row 3's block 0.
    EXPECT_TRUE(std::equal(wi.begin() + 32, wi.begin() + 64, w.begin() + k / 4));
    EXPECT_TRUE(std::equal(wi.begin() + 128, wi.begin() + 160, w.begin() + 32));
    auto sorted = [](std::vector<uint8_t> v) { std::sort(v.begin(), v.end()); return v; };
    EXPECT_EQ(sorted(wi), sorted(w));
    const auto q = random_q(k, rng);
    std::vector<int32_t> want((size_t)n_rows), got((size_t)n_rows);
    i2s_gemv_scalar(w.data(), k, n_rows, 1, q.data(), want.data());
    i2s_gemv_scalar(wi.data(), k, n_rows, 4, q.data(), got.data());
    EXPECT_EQ(got, want);
}

class KernelIsa : public ::testing::TestWithParam<Isa> {
protected:
    const KernelTable &kt() const { return table(GetParam()); }
};

TEST_P(KernelIsa, TableIsa) { EXPECT_EQ(kt().isa, GetParam()); }

TEST_P(KernelIsa, GemvMatchesScalar) {
    std::mt19937 rng(10);
    for (Codes codes : {Codes::Valid, Codes::AnyByte}) {
        for (int64_t k : kIntK) {
            for (int64_t n_rows : kRows) {
                const auto w = make_weights(k, n_rows + 6, codes, rng);
                const auto q = random_q(k, rng);
                // Start at row 3 as well, so that every row pattern meets every tile position.
                for (int64_t r0 : {0, 3}) {
                    const uint8_t *wr = w.data() + r0 * (k / 4);
                    std::vector<int32_t> want((size_t)n_rows), got((size_t)n_rows + 1, 777);
                    i2s_gemv_scalar(wr, k, n_rows, 1, q.data(), want.data());
                    kt().i2s_gemv(wr, k, n_rows, 1, q.data(), got.data());
                    for (int64_t r = 0; r < n_rows; ++r) {
                        ASSERT_EQ(got[r], want[r]) << "k " << k << " rows " << n_rows << " r " << r;
                    }
                    EXPECT_EQ(got[n_rows], 777) << "wrote past the end";
                }
            }
        }
    }
}

TEST_P(KernelIsa, GemmMatchesScalar) {
    std::mt19937 rng(11);
    for (int64_t k : kIntK) {
        for (int64_t n_rows : kRows) {
            for (int64_t n_tok : kTok) {
                const auto w = make_weights(k, n_rows, Codes::AnyByte, rng);
                const auto q = random_q(k * n_tok, rng);
                const int64_t ldo = n_rows + 2;
                std::vector<int32_t> want((size_t)(n_tok * ldo), -5), got(want.size(), -5);
                i2s_gemm_scalar(w.data(), k, n_rows, 1, q.data(), n_tok, want.data(), ldo);
                kt().i2s_gemm(w.data(), k, n_rows, 1, q.data(), n_tok, got.data(), ldo);
                ASSERT_EQ(got, want) << "k " << k << " rows " << n_rows << " n_tok " << n_tok;
            }
        }
    }
}

// Prefill-sized token counts: the GEMM works through tokens in chunks (64 in the AVX-512
// kernel) and groups of 4; 64, 67 and 133 cross those boundaries with and without tails, on
// both layouts.
TEST_P(KernelIsa, GemmManyTokensMatchesScalar) {
    std::mt19937 rng(13);
    for (int64_t k : {128, 2560}) {
        for (int il : {1, 4}) {
            const int64_t n_rows = 12;
            const auto w = make_weights(k, n_rows, Codes::AnyByte, rng);
            auto wl = w;
            if (il == 4) i2s_interleave(wl.data(), k, n_rows, 4);
            for (int64_t n_tok : {64, 67, 133}) {
                const auto q = random_q(k * n_tok, rng);
                std::vector<int32_t> want((size_t)(n_tok * n_rows), -5), got(want.size(), -5);
                i2s_gemm_scalar(w.data(), k, n_rows, 1, q.data(), n_tok, want.data(), n_rows);
                kt().i2s_gemm(wl.data(), k, n_rows, il, q.data(), n_tok, got.data(), n_rows);
                ASSERT_EQ(got, want) << "k " << k << " il " << il << " n_tok " << n_tok;
            }
        }
    }
}

// The layout with rows interleaved by 4 (what the loader makes of I2_S tensors): every SIMD
// kernel on the interleaved bytes gives the scalar reference's results on the file's bytes.
TEST_P(KernelIsa, InterleavedLayoutMatchesScalarOnFileLayout) {
    std::mt19937 rng(12);
    for (int64_t k : kIntK) {
        for (int64_t n_rows : {4, 8, 68}) {
            const auto w = make_weights(k, n_rows, Codes::AnyByte, rng);
            auto wi = w;
            i2s_interleave(wi.data(), k, n_rows, 4);
            for (int64_t n_tok : kTok) {
                const auto q = random_q(k * n_tok, rng);
                const int64_t ldo = n_rows + 1;
                std::vector<int32_t> want((size_t)(n_tok * ldo), -5), got(want.size(), -5);
                i2s_gemm_scalar(w.data(), k, n_rows, 1, q.data(), n_tok, want.data(), ldo);
                kt().i2s_gemm(wi.data(), k, n_rows, 4, q.data(), n_tok, got.data(), ldo);
                ASSERT_EQ(got, want) << "k " << k << " rows " << n_rows << " n_tok " << n_tok;
                if (n_tok == 1) {
                    std::vector<int32_t> gv((size_t)n_rows);
                    kt().i2s_gemv(wi.data(), k, n_rows, 4, q.data(), gv.data());
                    ASSERT_EQ(gv, std::vector<int32_t>(want.begin(), want.begin() + n_rows));
                }
            }
        }
    }
}

TEST_P(KernelIsa, ExtremeActivationsDoNotOverflow) {
    const int64_t k = 6912, n_rows = 5;
    std::vector<uint8_t> w((size_t)(n_rows * k / 4));
    const uint8_t fill[n_rows] = {0x00, 0xAA, 0xFF, 0x55, 0xA0};
    for (int64_t r = 0; r < n_rows; ++r) std::memset(w.data() + r * k / 4, fill[r], (size_t)k / 4);
    std::vector<int8_t> q((size_t)(3 * k));
    for (int64_t i = 0; i < k; ++i) {
        q[i] = -128;
        q[k + i] = 127;
        q[2 * k + i] = (i % 2) ? 127 : -128;
    }
    std::vector<int32_t> want(3 * n_rows), got(3 * n_rows);
    i2s_gemm_scalar(w.data(), k, n_rows, 1, q.data(), 3, want.data(), n_rows);
    kt().i2s_gemm(w.data(), k, n_rows, 1, q.data(), 3, got.data(), n_rows);
    EXPECT_EQ(got, want);
    EXPECT_EQ(want[0], 128 * k);
    EXPECT_EQ(want[2], -256 * k);
    for (int j = 0; j < 3; ++j) {
        kt().i2s_gemv(w.data(), k, n_rows, 1, q.data() + j * k, got.data());
        for (int64_t r = 0; r < n_rows; ++r) EXPECT_EQ(got[r], want[j * n_rows + r]) << j << r;
    }
}

void expect_quantize_equal(const KernelTable &kt, const std::vector<float> &x,
                           const std::string &what) {
    const int64_t n = (int64_t)x.size();
    std::vector<int8_t> want((size_t)n + 1, 99), got((size_t)n + 1, 99);
    int32_t want_sum = 0, got_sum = 0;
    const float want_s = quantize_row_i8_scalar(x.data(), n, want.data(), &want_sum);
    const float got_s = kt.quantize_row_i8(x.data(), n, got.data(), &got_sum);
    ASSERT_EQ(std::memcmp(&got_s, &want_s, 4), 0) << what << ": s " << got_s << " vs " << want_s;
    ASSERT_EQ(got, want) << what;  // includes the untouched byte past the end
    ASSERT_EQ(got_sum, want_sum) << what;
}

TEST_P(KernelIsa, QuantizeMatchesScalar) {
    std::mt19937 rng(12);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int64_t n : {1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 100, 128, 129, 255, 384, 2560, 6912}) {
        std::vector<float> x((size_t)n);
        for (auto &v : x) v = normal(rng);
        expect_quantize_equal(kt(), x, "normal n=" + std::to_string(n));
        for (auto &v : x) v = uniform(rng) * 1e3f;
        expect_quantize_equal(kt(), x, "uniform n=" + std::to_string(n));
        // Heavy tails: one outlier dominates.
        x[(size_t)(rng() % n)] = 5e4f;
        expect_quantize_equal(kt(), x, "outlier n=" + std::to_string(n));
        std::fill(x.begin(), x.end(), 0.0f);
        expect_quantize_equal(kt(), x, "zeros n=" + std::to_string(n));
        for (auto &v : x) v = normal(rng) * 1e-7f;  // below the 1e-5 floor
        expect_quantize_equal(kt(), x, "tiny n=" + std::to_string(n));
        for (auto &v : x) v = normal(rng) * 1e37f;
        expect_quantize_equal(kt(), x, "huge n=" + std::to_string(n));
    }
}

TEST_P(KernelIsa, QuantizeHalfwayCases) {
    // max 127 -> s = 1: every x + 0.5 is a tie, at every vector position and in the tail.
    for (int64_t n : {40, 77, 256}) {
        std::vector<float> x((size_t)n);
        for (int64_t i = 0; i < n; ++i) x[i] = (float)(i % 254 - 127) + 0.5f;
        x[n / 2] = 127.0f;
        expect_quantize_equal(kt(), x, "ties n=" + std::to_string(n));
    }
    // With s != 1: pick x so that x * s is a tie exactly. s = (float)(127 / 100).
    std::vector<float> x(67);
    x[0] = 100.0f;
    const float s = (float)(127.0 / 100.0);
    int ties = 0;
    for (size_t i = 1; i < x.size(); ++i) {
        const float target = (float)i - 33.5f;
        const float xi = target / s;
        x[i] = xi;
        if (xi * s == target) ++ties;
    }
    EXPECT_GT(ties, 0);
    expect_quantize_equal(kt(), x, "ties with s != 1");
}

TEST_P(KernelIsa, QuantizeNonFiniteAgrees) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t n : {5, 40, 100}) {
        std::vector<float> x((size_t)n);
        for (int64_t i = 0; i < n; ++i) x[i] = (float)i - 20.0f;
        x[3] = nan;
        x[n - 1] = nan;  // in the tail for n = 5, 40, 100
        expect_quantize_equal(kt(), x, "nan n=" + std::to_string(n));
        x[4] = inf;
        expect_quantize_equal(kt(), x, "nan+inf n=" + std::to_string(n));
    }
}

// F16: float sums may differ from the scalar order; compare to a double reference, within the
// worst-case bound of float summation, (k + 8) * 2^-24 * sum |w x| (+ the reference's own
// float rounding of y).
void expect_f16_close(const std::vector<float> &got, const std::vector<double> &ref,
                      const std::vector<double> &abs_sum, int64_t k, const std::string &what) {
    for (size_t i = 0; i < got.size(); ++i) {
        const double tol = (double)(k + 9) * std::ldexp(1.0, -24) * abs_sum[i] + 1e-30;
        ASSERT_NEAR(got[i], ref[i], tol) << what << " at " << i;
    }
}

TEST_P(KernelIsa, F16GemvGemmMatchReference) {
    std::mt19937 rng(13);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t k : {1, 3, 8, 17, 64, 128, 255, 2560, 2565}) {
        for (int64_t n_rows : {1, 3, 5, 7, 65}) {
            std::vector<uint16_t> w((size_t)(k * n_rows));
            for (auto &v : w) v = f32_to_f16(normal(rng) * 0.05f);
            const int64_t max_tok = 5;
            std::vector<float> x((size_t)(k * max_tok));
            for (auto &v : x) v = normal(rng);
            std::vector<double> ref((size_t)(n_rows * max_tok)), abs_sum(ref.size());
            for (int64_t j = 0; j < max_tok; ++j) {
                for (int64_t r = 0; r < n_rows; ++r) {
                    double s = 0, a = 0;
                    for (int64_t i = 0; i < k; ++i) {
                        const double p = (double)f16_to_f32(w[r * k + i]) * x[j * k + i];
                        s += p;
                        a += std::fabs(p);
                    }
                    ref[j * n_rows + r] = s;
                    abs_sum[j * n_rows + r] = a;
                }
            }
            const std::string shape = "k " + std::to_string(k) + " rows " + std::to_string(n_rows);
            std::vector<float> y((size_t)n_rows + 1, 42.0f);
            kt().f16_gemv(w.data(), k, n_rows, x.data(), y.data());
            EXPECT_EQ(y[n_rows], 42.0f) << "wrote past the end";
            y.pop_back();
            expect_f16_close(y, {ref.begin(), ref.begin() + n_rows},
                             {abs_sum.begin(), abs_sum.begin() + n_rows}, k, "gemv " + shape);
            for (int64_t n_tok : {1, 2, 3, 5}) {
                const int64_t ldy = n_rows + 1;
                std::vector<float> yg((size_t)(n_tok * ldy), 42.0f), got, want, tol;
                kt().f16_gemm(w.data(), k, n_rows, x.data(), n_tok, yg.data(), ldy);
                std::vector<double> r2, a2;
                for (int64_t j = 0; j < n_tok; ++j) {
                    EXPECT_EQ(yg[j * ldy + n_rows], 42.0f) << "padding";
                    for (int64_t r = 0; r < n_rows; ++r) {
                        got.push_back(yg[j * ldy + r]);
                        r2.push_back(ref[j * n_rows + r]);
                        a2.push_back(abs_sum[j * n_rows + r]);
                    }
                }
                expect_f16_close(got, r2, a2, k, "gemm " + shape + " n_tok " + std::to_string(n_tok));
            }
        }
    }
}

TEST_P(KernelIsa, F16SmallIntegersAreExact) {
    // Products and partial sums are exact in float, so any summation order gives the same y:
    // this catches indexing mistakes that the tolerance above could hide.
    for (int64_t k : {5, 8, 33, 2561}) {
        const int64_t n_rows = 9, n_tok = 3;
        std::vector<uint16_t> w((size_t)(k * n_rows));
        std::vector<float> x((size_t)(k * n_tok));
        for (size_t i = 0; i < w.size(); ++i) w[i] = f32_to_f16((float)((i * 7) % 9) - 4.0f);
        for (size_t i = 0; i < x.size(); ++i) x[i] = (float)((i * 5) % 11) - 5.0f;
        std::vector<float> want((size_t)(n_rows * n_tok)), got(want.size());
        f16_gemm_scalar(w.data(), k, n_rows, x.data(), n_tok, want.data(), n_rows);
        kt().f16_gemm(w.data(), k, n_rows, x.data(), n_tok, got.data(), n_rows);
        EXPECT_EQ(got, want) << "gemm k " << k;
        kt().f16_gemv(w.data(), k, n_rows, x.data(), got.data());
        for (int64_t r = 0; r < n_rows; ++r) EXPECT_EQ(got[r], want[r]) << "gemv k " << k;
    }
}

// ---- attention, F32, Q8 and conversion kernels against the scalar reference -------------------
// Float results may differ from the scalar kernels by summation order only: both lie within
// sum_bound of the exact sum, so they differ by at most twice that. The small-integer tests
// (exact in any order) catch indexing mistakes that a tolerance could hide.

// Runs want_fn(y, ldy) and got_fn(y, ldy) (n_tok x n_rows outputs, rows padded to ldy) and
// compares them; output (j, r) is a sum of n_terms terms whose absolute values sum to
// abs_sum[j * n_rows + r].
template <typename Want, typename Got>
void expect_gemm_close(Want want_fn, Got got_fn, int64_t n_terms, int64_t n_rows, int64_t n_tok,
                       const std::vector<double> &abs_sum, const std::string &what) {
    const int64_t ldy = n_rows + 3;
    std::vector<float> want((size_t)(n_tok * ldy), 42.0f), got(want.size(), 42.0f);
    want_fn(want.data(), ldy);
    got_fn(got.data(), ldy);
    for (int64_t j = 0; j < n_tok; ++j) {
        for (int64_t r = 0; r < n_rows; ++r) {
            const double tol = 2 * sum_bound(n_terms, abs_sum[j * n_rows + r]);
            ASSERT_NEAR(got[j * ldy + r], want[j * ldy + r], tol)
                << what << " token " << j << " row " << r;
        }
        for (int64_t r = n_rows; r < ldy; ++r) {
            ASSERT_EQ(got[j * ldy + r], 42.0f) << what << ": wrote into the padding";
        }
    }
}

constexpr int64_t kAttnRows[] = {1, 3, 17, 200};

TEST_P(KernelIsa, F32GemmMatchesScalar) {
    std::mt19937 rng(30);
    for (int64_t k : {1, 3, 8, 17, 32, 100, 128, 2565}) {
        for (int64_t n_rows : kAttnRows) {
            const int64_t max_tok = 9;
            const auto w = random_f32((size_t)(k * n_rows), rng);
            const auto x = random_f32((size_t)(k * max_tok), rng);
            std::vector<double> ref, abs_sum;
            dot_reference(w.data(), k, n_rows, x.data(), max_tok, ref, abs_sum);
            for (int64_t n_tok : {1, 2, 3, 4, 5, 8, 9}) {
                expect_gemm_close(
                    [&](float *y, int64_t ldy) {
                        f32_gemm_scalar(w.data(), k, n_rows, x.data(), n_tok, y, ldy);
                    },
                    [&](float *y, int64_t ldy) {
                        kt().f32_gemm(w.data(), k, n_rows, x.data(), n_tok, y, ldy);
                    },
                    k, n_rows, n_tok, abs_sum,
                    "f32_gemm k " + std::to_string(k) + " rows " + std::to_string(n_rows) +
                        " n_tok " + std::to_string(n_tok));
            }
        }
    }
}

TEST_P(KernelIsa, F16GemmAttentionShapes) {
    // Scores against an F16 K cache: k = head_dim, n_tok = the query heads of one KV head.
    std::mt19937 rng(31);
    for (int64_t k : {32, 64, 128}) {
        for (int64_t n_rows : {1, 3, 17, 200, 513}) {
            const auto w = random_f16((size_t)(k * n_rows), rng);
            const auto x = random_f32((size_t)(k * 8), rng);
            std::vector<double> ref, abs_sum;
            dot_reference(w.data(), k, n_rows, x.data(), 8, ref, abs_sum);
            for (int64_t n_tok : {1, 4, 8}) {
                expect_gemm_close(
                    [&](float *y, int64_t ldy) {
                        f16_gemm_scalar(w.data(), k, n_rows, x.data(), n_tok, y, ldy);
                    },
                    [&](float *y, int64_t ldy) {
                        kt().f16_gemm(w.data(), k, n_rows, x.data(), n_tok, y, ldy);
                    },
                    k, n_rows, n_tok, abs_sum,
                    "f16_gemm k " + std::to_string(k) + " rows " + std::to_string(n_rows) +
                        " n_tok " + std::to_string(n_tok));
            }
        }
    }
}

// Every F16 bit pattern (NaNs, infinities, subnormals included) in random blocks, then blocks of
// finite values whose first 32 are `first` (ties of the rounding) and with one `special` value.
std::vector<uint16_t> f16_patterns(std::mt19937 &rng, const std::vector<float> &first,
                                   uint16_t special) {
    std::vector<uint16_t> h(65536);
    for (uint32_t i = 0; i < 65536; ++i) h[i] = (uint16_t)i;
    std::shuffle(h.begin(), h.end(), rng);
    auto finite = random_f16(4096, rng, 0.03f);
    for (size_t i = 0; i < first.size(); ++i) finite[i] = f32_to_f16(first[i]);
    finite[40] = special;
    h.insert(h.end(), finite.begin(), finite.end());
    return h;
}

// A head quantiser (Q8: int8 per value, Q4: a byte per two values) against the scalar one on
// f16_patterns: identical bytes and scale bits, nothing written past the ends.
template <typename Q, typename Fn>
void expect_quantizer_identical(const std::vector<uint16_t> &h, int64_t bytes_per_32, Fn ref,
                                Fn got_fn) {
    const int64_t k = (int64_t)h.size(), nb = k / kQ8Block, n = nb * bytes_per_32;
    std::vector<Q> want((size_t)n), got((size_t)n + 1, (Q)77);
    std::vector<float> sw((size_t)nb), sg((size_t)nb + 1, 77.0f);
    ref(h.data(), k, want.data(), sw.data());
    got_fn(h.data(), k, got.data(), sg.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << "byte " << i;
    for (int64_t b = 0; b < nb; ++b) {
        uint32_t a, c;
        std::memcpy(&a, &sg[b], 4);
        std::memcpy(&c, &sw[b], 4);
        ASSERT_EQ(a, c) << "block " << b;
    }
    EXPECT_EQ(got[n], (Q)77) << "wrote past the end";
    EXPECT_EQ(sg[nb], 77.0f) << "wrote past the end";
}

TEST_P(KernelIsa, Q8QuantizeMatchesScalar) {
    std::mt19937 rng(24);
    std::vector<float> halves;  // x / scale lands on .5 for many of these
    for (int i = 0; i < 32; ++i) halves.push_back(0.5f * (float)i - 8.0f);
    expect_quantizer_identical<int8_t>(f16_patterns(rng, halves, 0x7c00 /* +inf */), 32,
                                       q8_quantize_f16_scalar, kt().q8_quantize_f16);
}

TEST_P(KernelIsa, Q4QuantizeMatchesScalar) {
    std::mt19937 rng(27);
    std::vector<float> ties;
    for (int i = 0; i < 32; ++i) ties.push_back(0.25f * (float)i - 3.5f);
    expect_quantizer_identical<uint8_t>(f16_patterns(rng, ties, 0xfc00 /* -inf */), 16,
                                        q4_quantize_f16_scalar, kt().q4_quantize_f16);
}

// The Q8 (bits 8) or Q4 (bits 4) product against its scalar reference: k % 32 == 0 with 8-block
// groups and every count of leftover blocks, several row and token counts.
void expect_head_gemm_matches(const KernelTable &kt, int bits, uint32_t seed) {
    std::mt19937 rng(seed);
    for (int64_t k : {32, 64, 96, 224, 256, 288, 480, 2560}) {
        for (int64_t n_rows : {1, 3, 4, 5, 17, 200}) {
            const int64_t max_tok = 7, nb = k / kQ8Block;
            const auto v = bits == 8 ? random_i8((size_t)(k * n_rows), rng)
                                     : random_q4_values((size_t)(k * n_rows), rng);
            const auto q4 = bits == 4 ? pack_q4(v, k, n_rows) : std::vector<uint8_t>();
            const auto x = random_f32((size_t)(k * max_tok), rng);
            const auto scale = random_f32((size_t)(n_rows * nb), rng, 1e-2f);
            std::vector<double> ref, abs_sum;
            q8_reference(v.data(), scale.data(), k, n_rows, x.data(), max_tok, ref, abs_sum);
            for (int64_t n_tok : {1, 2, 3, 4, 7}) {
                auto product = [&](const KernelTable &t) {
                    return [&, n_tok](float *y, int64_t ldy) {
                        if (bits == 8) {
                            t.q8_gemm(v.data(), scale.data(), k, n_rows, x.data(), n_tok, y, ldy);
                        } else {
                            t.q4_gemm(q4.data(), scale.data(), k, n_rows, x.data(), n_tok, y, ldy);
                        }
                    };
                };
                expect_gemm_close(product(table(Isa::Scalar)), product(kt), k + nb, n_rows, n_tok,
                                  abs_sum,
                                  "q" + std::to_string(bits) + "_gemm k " + std::to_string(k) +
                                      " rows " + std::to_string(n_rows) + " n_tok " +
                                      std::to_string(n_tok));
            }
        }
    }
}

TEST_P(KernelIsa, Q4GemmMatchesScalar) { expect_head_gemm_matches(kt(), 4, 28); }

TEST_P(KernelIsa, Q8GemmMatchesScalar) { expect_head_gemm_matches(kt(), 8, 32); }

// want/got wsum over n_p outputs of k floats, padded to ldo; p rows padded to ldp.
template <typename T, typename Got>
void expect_wsum_close(const std::vector<T> &v, int64_t k, int64_t n_rows, int64_t n_p,
                       std::mt19937 &rng, Got got_fn, const std::string &what) {
    const int64_t ldp = n_rows + 5, ldo = k + 3;
    auto p = random_f32((size_t)(n_p * ldp), rng, 0.3f);
    for (int64_t j = 0; j < n_p; ++j) {  // NaN in the padding of p: must not be read
        for (int64_t r = n_rows; r < ldp; ++r) {
            p[j * ldp + r] = std::numeric_limits<float>::quiet_NaN();
        }
    }
    std::vector<double> ref, abs_sum;
    wsum_reference(v.data(), k, n_rows, p.data(), n_p, ldp, ref, abs_sum);
    std::vector<float> want((size_t)(n_p * ldo), 42.0f), got(want.size(), 42.0f);
    if constexpr (std::is_same_v<T, float>) {
        f32_wsum_scalar(v.data(), k, n_rows, p.data(), n_p, ldp, want.data(), ldo);
    } else {
        f16_wsum_scalar(v.data(), k, n_rows, p.data(), n_p, ldp, want.data(), ldo);
    }
    got_fn(v.data(), k, n_rows, p.data(), n_p, ldp, got.data(), ldo);
    for (int64_t j = 0; j < n_p; ++j) {
        for (int64_t i = 0; i < k; ++i) {
            const double tol = 2 * sum_bound(n_rows, abs_sum[j * k + i]);
            ASSERT_NEAR(got[j * ldo + i], want[j * ldo + i], tol)
                << what << " head " << j << " i " << i;
        }
        for (int64_t i = k; i < ldo; ++i) {
            ASSERT_EQ(got[j * ldo + i], 42.0f) << what << ": wrote into the padding";
        }
    }
}

TEST_P(KernelIsa, WsumMatchesScalar) {
    std::mt19937 rng(33);
    for (int64_t k : {1, 7, 8, 15, 16, 17, 32, 100, 128, 129}) {
        for (int64_t n_rows : {0, 1, 3, 17, 200, 600}) {
            const auto v32 = random_f32((size_t)(k * n_rows), rng);
            const auto v16 = random_f16((size_t)(k * n_rows), rng);
            for (int64_t n_p : {1, 2, 3, 4, 5, 8}) {
                const std::string shape = " k " + std::to_string(k) + " rows " +
                                          std::to_string(n_rows) + " n_p " + std::to_string(n_p);
                expect_wsum_close(v32, k, n_rows, n_p, rng, kt().f32_wsum, "f32_wsum" + shape);
                expect_wsum_close(v16, k, n_rows, n_p, rng, kt().f16_wsum, "f16_wsum" + shape);
            }
        }
    }
}

TEST_P(KernelIsa, AttentionSmallIntegersAreExact) {
    // Every product and partial sum is an integer below 2^24: any order gives the same floats.
    const auto ints = [](size_t n, int mod, int mul) {
        std::vector<float> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = (float)((int)((i * mul) % mod) - mod / 2);
        return v;
    };
    for (int64_t k : {5, 8, 32, 33, 128, 2560, 2561}) {
        for (int64_t n_rows : {1, 3, 17, 200}) {
            const int64_t n_tok = 5, ldy = n_rows + 1, ldo = k + 1;
            const auto w32 = ints((size_t)(k * n_rows), 9, 7);
            std::vector<uint16_t> w16(w32.size());
            std::vector<int8_t> w8(w32.size());
            for (size_t i = 0; i < w32.size(); ++i) {
                w16[i] = f32_to_f16(w32[i]);
                w8[i] = (int8_t)(int)(w32[i] * 31.0f);  // up to +-124
            }
            const auto x = ints((size_t)(k * n_tok), 11, 5);
            // Q8 (k % 32 == 0 only): block scales 1/4, 1/2, 1 keep every partial sum exact.
            std::vector<float> scale((size_t)(n_rows * (k / kQ8Block)));
            for (size_t i = 0; i < scale.size(); ++i) scale[i] = std::ldexp(1.0f, -(int)(i % 3));
            const std::string shape = " k " + std::to_string(k) + " rows " + std::to_string(n_rows);
            std::vector<float> want((size_t)(n_tok * ldy)), got(want.size());
            f32_gemm_scalar(w32.data(), k, n_rows, x.data(), n_tok, want.data(), ldy);
            kt().f32_gemm(w32.data(), k, n_rows, x.data(), n_tok, got.data(), ldy);
            for (int64_t j = 0; j < n_tok; ++j) {
                for (int64_t r = 0; r < n_rows; ++r) {
                    ASSERT_EQ(got[j * ldy + r], want[j * ldy + r]) << "f32_gemm" << shape;
                }
            }
            f16_gemm_scalar(w16.data(), k, n_rows, x.data(), n_tok, want.data(), ldy);
            kt().f16_gemm(w16.data(), k, n_rows, x.data(), n_tok, got.data(), ldy);
            for (int64_t j = 0; j < n_tok; ++j) {
                for (int64_t r = 0; r < n_rows; ++r) {
                    ASSERT_EQ(got[j * ldy + r], want[j * ldy + r]) << "f16_gemm" << shape;
                }
            }
            if (k % kQ8Block == 0) {
                q8_gemm_scalar(w8.data(), scale.data(), k, n_rows, x.data(), n_tok, want.data(),
                               ldy);
                kt().q8_gemm(w8.data(), scale.data(), k, n_rows, x.data(), n_tok, got.data(),
                             ldy);
                for (int64_t j = 0; j < n_tok; ++j) {
                    for (int64_t r = 0; r < n_rows; ++r) {
                        ASSERT_EQ(got[j * ldy + r], want[j * ldy + r]) << "q8_gemm" << shape;
                    }
                }
            }
            // Weighted sums: p in -2..2 (the rows of x serve as p), v in -4..4.
            const int64_t n_p = 5, ldp = n_rows;
            const auto p = ints((size_t)(n_p * ldp), 5, 3);
            std::vector<float> wo((size_t)(n_p * ldo)), go(wo.size());
            f32_wsum_scalar(w32.data(), k, n_rows, p.data(), n_p, ldp, wo.data(), ldo);
            kt().f32_wsum(w32.data(), k, n_rows, p.data(), n_p, ldp, go.data(), ldo);
            for (int64_t j = 0; j < n_p; ++j) {
                for (int64_t i = 0; i < k; ++i) {
                    ASSERT_EQ(go[j * ldo + i], wo[j * ldo + i]) << "f32_wsum" << shape;
                }
            }
            f16_wsum_scalar(w16.data(), k, n_rows, p.data(), n_p, ldp, wo.data(), ldo);
            kt().f16_wsum(w16.data(), k, n_rows, p.data(), n_p, ldp, go.data(), ldo);
            for (int64_t j = 0; j < n_p; ++j) {
                for (int64_t i = 0; i < k; ++i) {
                    ASSERT_EQ(go[j * ldo + i], wo[j * ldo + i]) << "f16_wsum" << shape;
                }
            }
        }
    }
}

TEST_P(KernelIsa, F32ToF16MatchesScalar) {
    // Every half exactly, the ties between neighbouring halves and one float ulp either side
    // (normal and subnormal ranges), overflow, underflow, and a stride through all floats
    // (both signs, infinities, NaNs with payloads).
    const auto bits = [](float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        return u;
    };
    std::vector<uint32_t> in;
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = f16_to_f32((uint16_t)h);
        in.push_back(bits(f));
        if ((h & 0x7c00) != 0x7c00 && (h & 0x7fff) != 0x7bff && (h & 0x7fff) != 0x7fff) {
            const uint32_t mid = bits((f + f16_to_f32((uint16_t)(h + 1))) / 2);
            for (uint32_t d : {0u, 1u, 0xffffffffu}) in.push_back(mid + d);
        }
    }
    for (float f : {65504.0f, 65519.0f, 65520.0f, 65536.0f, 1e9f, 5.9604645e-08f, 2.9802322e-08f,
                    1e-10f, 1e-45f}) {
        for (uint32_t d : {0u, 1u, 0xffffffffu, 0x80000000u}) in.push_back(bits(f) + d);
    }
    for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) in.push_back((uint32_t)u);
    for (uint32_t u : {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffbfffffu,
                       0x7fa02000u, 0xffc00001u, 0x7f802000u}) {
        in.push_back(u);
    }
    std::vector<float> x(in.size());
    std::memcpy(x.data(), in.data(), in.size() * 4);
    const int64_t n = (int64_t)x.size();
    std::vector<uint16_t> want((size_t)n), got((size_t)n + 1, 0xabcd);
    f32_to_f16_scalar(x.data(), want.data(), n);
    kt().f32_to_f16(x.data(), got.data(), n);
    size_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (got[i] != want[i] && ++bad <= 10) {
            ADD_FAILURE() << std::hex << "float 0x" << in[i] << ": 0x" << got[i] << " vs 0x"
                          << want[i];
        }
    }
    EXPECT_EQ(bad, 0u) << "of " << n;
    EXPECT_EQ(got[n], 0xabcd) << "wrote past the end";
    // Every length up to 40 (vector body and tails) at an odd offset.
    for (int64_t len = 0; len <= 40; ++len) {
        std::vector<uint16_t> y((size_t)len + 1, 0xabcd);
        kt().f32_to_f16(x.data() + 65539, y.data(), len);
        for (int64_t i = 0; i < len; ++i) ASSERT_EQ(y[i], want[65539 + i]) << "len " << len;
        ASSERT_EQ(y[len], 0xabcd) << "len " << len << ": wrote past the end";
    }
}

INSTANTIATE_TEST_SUITE_P(Simd, KernelIsa, ::testing::ValuesIn(simd_isas()), IsaParamName());
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KernelIsa);

// ---- dispatch ---------------------------------------------------------------------------------

// The AVX-512 F16 GEMM keeps the AVX2 kernels' summation order exactly (f16_avx512.cpp), so a
// sequence's logits do not depend on the ISA's tile shapes or on the batch it is decoded in:
// bit-identical to the AVX2 GEMM and, per token, to the AVX2 gemv.
TEST(F16Avx512, BitIdenticalToAvx2GemmAndGemv) {
    if (!isa_supported(Isa::Avx512) || !isa_supported(Isa::Avx2)) {
        GTEST_SKIP() << "this CPU has no AVX-512 (F/BW/VL/DQ/VNNI): the kernel cannot run here";
    }
    const KernelTable &t512 = table(Isa::Avx512), &t2 = table(Isa::Avx2);
    std::mt19937 rng(21);
    for (int64_t k : {8, 13, 128, 2560, 2567}) {
        for (int64_t n_rows : {1, 4, 7}) {
            const auto w = random_f16((size_t)(k * n_rows), rng);
            for (int64_t n_tok : {1, 2, 3, 8, 9, 17}) {
                const auto x = random_f32((size_t)(k * n_tok), rng);
                const int64_t ldy = n_rows + 1;
                std::vector<float> a((size_t)(n_tok * ldy), 42.0f), b(a.size(), 42.0f);
                t2.f16_gemm(w.data(), k, n_rows, x.data(), n_tok, a.data(), ldy);
                t512.f16_gemm(w.data(), k, n_rows, x.data(), n_tok, b.data(), ldy);
                ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
                    << "k " << k << " rows " << n_rows << " n_tok " << n_tok;
                for (int64_t j = 0; j < n_tok; ++j) {
                    std::vector<float> g((size_t)n_rows);
                    t2.f16_gemv(w.data(), k, n_rows, x.data() + j * k, g.data());
                    ASSERT_EQ(0, std::memcmp(g.data(), b.data() + j * ldy, g.size() * sizeof(float)))
                        << "gemv k " << k << " rows " << n_rows << " token " << j;
                }
            }
        }
    }
}

TEST(Dispatch, ScalarTable) {
    EXPECT_TRUE(isa_supported(Isa::Scalar));
    const KernelTable &t = table(Isa::Scalar);
    EXPECT_EQ(t.isa, Isa::Scalar);
    EXPECT_EQ(t.i2s_gemv, &i2s_gemv_scalar);
    EXPECT_EQ(t.quantize_row_i8, &quantize_row_i8_scalar);
}

TEST(Dispatch, NamesAndSupport) {
    EXPECT_STREQ(isa_name(Isa::Scalar), "scalar");
    EXPECT_STREQ(isa_name(Isa::Avx2), "avx2");
    EXPECT_STREQ(isa_name(Isa::Avx512), "avx512");
    EXPECT_STREQ(isa_name(Isa::Neon), "neon");
    EXPECT_STREQ(isa_name(Isa::Amx), "amx");
#if defined(__x86_64__)
    EXPECT_FALSE(isa_supported(Isa::Neon));
    if (isa_supported(Isa::Avx512)) {
        EXPECT_TRUE(isa_supported(Isa::Avx2));
    }
    if (isa_supported(Isa::Amx)) {
        EXPECT_TRUE(isa_supported(Isa::Avx512));
    }
#elif defined(__aarch64__)
    EXPECT_FALSE(isa_supported(Isa::Avx2));
    EXPECT_FALSE(isa_supported(Isa::Avx512));
    EXPECT_FALSE(isa_supported(Isa::Amx));
#endif
    for (Isa isa : {Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::Amx}) {
        if (!isa_supported(isa)) {
            EXPECT_THROW(table(isa), std::invalid_argument) << isa_name(isa);
        }
    }
    EXPECT_TRUE(isa_supported(active().isa));
}

TEST(Dispatch, EnvOverride) {
    const char *old = std::getenv("BITNET_ISA");
    const std::string saved = old ? old : "";
    unsetenv("BITNET_ISA");
    const Isa best = best_isa();
    EXPECT_TRUE(isa_supported(best));
    setenv("BITNET_ISA", "scalar", 1);
    EXPECT_EQ(best_isa(), Isa::Scalar);
    setenv("BITNET_ISA", "no-such-isa", 1);
    EXPECT_EQ(best_isa(), best);
    for (Isa isa : {Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::Amx}) {
        setenv("BITNET_ISA", isa_name(isa), 1);
        EXPECT_EQ(best_isa(), isa_supported(isa) ? isa : best) << isa_name(isa);
    }
    if (old) setenv("BITNET_ISA", saved.c_str(), 1);
    else unsetenv("BITNET_ISA");
}

// ---- fp16 conversions (lib/common/fp16.h) against the F16C instructions -----------------------

#if defined(__x86_64__)
__attribute__((target("f16c"))) float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

class Fp16 : public ::testing::Test {
protected:
    void SetUp() override {
        // The AVX2 kernels require F16C, so their ISA check covers it.
        if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no F16C on this CPU";
    }
};

TEST_F(Fp16, AllHalvesToFloat) {
    for (uint32_t h = 0; h < 65536; ++h) {
        ASSERT_EQ(bits_of(f16_to_f32((uint16_t)h)), bits_of(hw_f16_to_f32((uint16_t)h)))
            << std::hex << "half 0x" << h;
    }
}

TEST_F(Fp16, FloatToHalf) {
    std::vector<uint32_t> inputs;
    for (uint32_t h = 0; h < 65536; ++h) {
        // Every half exactly, the midpoints (ties) to the next half, and one float ulp either side.
        const uint32_t f = bits_of(hw_f16_to_f32((uint16_t)h));
        const uint32_t next = bits_of(hw_f16_to_f32((uint16_t)(h + 1)));
        inputs.push_back(f);
        if ((h & 0x7c00) != 0x7c00 && (h & 0x7fff) != 0x7bff && (h & 0x7fff) != 0x7fff) {
            const float mid = (float_of(f) + float_of(next)) / 2;  // exact: halves have 11 bits
            for (int d = -1; d <= 1; ++d) inputs.push_back(bits_of(mid) + (uint32_t)d);
        }
    }
    // Around the overflow threshold 65520 and below the smallest subnormal 2^-24.
    for (float f : {65504.0f, 65519.0f, 65520.0f, 65536.0f, 1e9f, 5.9604645e-08f, 2.9802322e-08f,
                    2.9802326e-08f, 2.9802319e-08f, 1e-10f, 1e-45f}) {
        inputs.push_back(bits_of(f));
        inputs.push_back(bits_of(f) + 1);
        inputs.push_back(bits_of(f) - 1);
    }
    // A stride through all floats (both signs, subnormals, infinities, NaNs with payloads).
    for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) inputs.push_back((uint32_t)u);
    for (uint32_t u : {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffbfffffu,
                       0x7fa02000u}) {
        inputs.push_back(u);
    }
    size_t bad = 0;
    for (uint32_t u : inputs) {
        const float f = float_of(u);
        const uint16_t got = f32_to_f16(f), want = hw_f32_to_f16(f);
        if (got != want && ++bad <= 10) {
            ADD_FAILURE() << std::hex << "float 0x" << u << ": 0x" << got << " vs F16C 0x" << want;
        }
    }
    EXPECT_EQ(bad, 0u) << "of " << inputs.size();
}
#endif

}  // namespace
}  // namespace bitnet::kernels
