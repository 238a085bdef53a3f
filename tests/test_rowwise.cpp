// Row-wise float kernels (RMSNorm, NeoX RoPE, softmax): the scalar reference against
// double-precision re-computations and libm's exp, then every SIMD implementation this CPU runs
// against the scalar reference bit for bit (kernels.h promises identical results), over lengths
// that exercise the vector bodies and every tail, unaligned pointers, in-place use and
// non-finite input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_isas.h"
#include "kernels/kernels.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> normal_f32(size_t n, std::mt19937 &rng, float scale = 1.0f) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto &e : v) e = normal(rng) * scale;
    return v;
}

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// Distance in units in the last place between two finite floats of the same sign.
int64_t ulp_distance(float a, float b) { return std::llabs((int64_t)bits(a) - (int64_t)bits(b)); }

// Equal bit patterns, or both NaN (the NaN payload is not part of the contract).
::testing::AssertionResult same_float(float got, float want) {
    if (bits(got) == bits(want) || (std::isnan(got) && std::isnan(want))) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << got << " (0x" << std::hex << bits(got) << ") vs "
                                         << want << " (0x" << bits(want) << ")";
}

// ---- the scalar reference against independent truth --------------------------------------------

float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Every stride-th float from 0 up to hi and from -0 down to lo (hi > 0 > lo): all binades.
std::vector<float> float_sweep(float lo, float hi, uint32_t stride) {
    std::vector<float> out;
    for (uint32_t u = 0; u <= bits(hi); u += stride) out.push_back(from_bits(u));
    for (uint32_t u = 0x80000000u; u <= bits(lo); u += stride) out.push_back(from_bits(u));
    return out;
}

TEST(RowwiseReference, ExpWithin2UlpOfLibm) {
    int64_t worst = 0, n = 0;
    for (float x : float_sweep(-87.0f, 88.0f, 1009)) {
        const float want = (float)std::exp((double)x);
        const float got = detail::exp_ref(x);
        worst = std::max(worst, ulp_distance(got, want));
        ++n;
    }
    EXPECT_LE(worst, 2) << "over " << n << " inputs";
    EXPECT_GT(n, 2000000);
    RecordProperty("worst_ulp", (int)worst);
    EXPECT_EQ(detail::exp_ref(0.0f), 1.0f);
    EXPECT_EQ(detail::exp_ref(-0.0f), 1.0f);
    EXPECT_TRUE(std::isnan(detail::exp_ref(kNaN)));
    // Clamped below -87: tiny and positive, never negative, NaN or garbage.
    for (float x : {-87.5f, -100.0f, -1e30f, -kInf}) {
        const float e = detail::exp_ref(x);
        EXPECT_GT(e, 0.0f) << x;
        EXPECT_LE(e, 2e-38f) << x;
    }
}

TEST(RowwiseReference, RmsNormMatchesDouble) {
    std::mt19937 rng(31);
    for (int64_t n : {1, 7, 8, 9, 100, 2560, 6912}) {
        const auto x = normal_f32((size_t)n, rng, 3.0f);
        const auto w = normal_f32((size_t)n, rng);
        std::vector<float> y((size_t)n + 1, 42.0f);
        const float eps = 1e-5f;
        rms_norm_scalar(x.data(), w.data(), n, eps, y.data());
        double ss = 0;
        for (float v : x) ss += (double)v * v;
        const double scale = 1.0 / std::sqrt(ss / (double)n + eps);
        for (int64_t i = 0; i < n; ++i) {
            const double want = x[i] * scale * w[i];
            ASSERT_NEAR(y[i], want, 4e-7 * std::fabs(want) + 1e-30) << n << " " << i;
        }
        EXPECT_EQ(y[n], 42.0f) << "wrote past the end";
    }
}

TEST(RowwiseReference, RopeMatchesDoubleRotation) {
    std::mt19937 rng(32);
    const int64_t n_heads = 3, head_dim = 10, n_rot = 6;  // 4 values per head stay as they are
    auto v = normal_f32((size_t)(n_heads * head_dim), rng);
    const auto orig = v;
    std::vector<float> c(n_rot / 2), s(n_rot / 2);
    for (int64_t i = 0; i < n_rot / 2; ++i) {
        const double theta = 7.0 * std::pow(10000.0, -2.0 * (double)i / (double)n_rot);
        c[i] = (float)std::cos(theta);
        s[i] = (float)std::sin(theta);
    }
    rope_neox_scalar(v.data(), n_heads, head_dim, n_rot, c.data(), s.data());
    for (int64_t h = 0; h < n_heads; ++h) {
        const float *o = orig.data() + h * head_dim, *r = v.data() + h * head_dim;
        for (int64_t i = 0; i < n_rot / 2; ++i) {
            const double x0 = o[i], x1 = o[i + n_rot / 2];
            EXPECT_NEAR(r[i], x0 * c[i] - x1 * s[i], 1e-6) << h << " " << i;
            EXPECT_NEAR(r[i + n_rot / 2], x0 * s[i] + x1 * c[i], 1e-6) << h << " " << i;
            // A rotation keeps the pair's length.
            EXPECT_NEAR(std::hypot(r[i], r[i + n_rot / 2]), std::hypot(x0, x1), 1e-5);
        }
        for (int64_t i = n_rot; i < head_dim; ++i) EXPECT_EQ(r[i], o[i]) << "not rotated";
    }
}

TEST(RowwiseReference, SoftmaxMatchesDouble) {
    std::mt19937 rng(33);
    for (int64_t n : {1, 2, 7, 8, 9, 100, 513}) {
        for (float scale : {1.0f, 0.0884f}) {
            auto x = normal_f32((size_t)n, rng, 4.0f);
            const auto orig = x;
            softmax_scalar(x.data(), n, scale);
            double mx = -INFINITY, sum = 0;
            for (float v : orig) mx = std::max(mx, (double)(v * scale));
            for (float v : orig) sum += std::exp((double)(v * scale) - mx);
            double total = 0;
            for (int64_t i = 0; i < n; ++i) {
                const double d = (double)(orig[i] * scale) - mx;
                const double want = std::exp(d) / sum;
                // x - max is rounded to float (an absolute error of |d| 2^-24, which exp turns
                // into a relative one), exp_ref adds 2 ulp, the normalisation 2 more roundings.
                const double tol = (std::fabs(d) + 8.0) * std::ldexp(1.0, -23) * want;
                ASSERT_NEAR(x[i], want, tol + 1e-37) << n << " " << i;
                total += x[i];
            }
            EXPECT_NEAR(total, 1.0, 1e-6) << n;
        }
    }
    // Masked (-inf) scores get (almost) nothing; a NaN score makes the whole row NaN.
    std::vector<float> x = {0.5f, -kInf, 1.5f};
    softmax_scalar(x.data(), 3, 1.0f);
    EXPECT_LE(x[1], 1e-37f);
    EXPECT_NEAR(x[2], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
    x = {0.5f, kNaN, 1.5f};
    softmax_scalar(x.data(), 3, 1.0f);
    for (float v : x) EXPECT_TRUE(std::isnan(v));
}

// ---- SIMD implementations: bit-identical to the scalar reference --------------------------------

class RowwiseIsa : public ::testing::TestWithParam<Isa> {
protected:
    const KernelTable &kt() const { return table(GetParam()); }
};

// Lengths 1..40 (every tail of 4- and 8-wide steps) and the 2B4T sizes.
std::vector<int64_t> lengths() {
    std::vector<int64_t> out;
    for (int64_t n = 1; n <= 40; ++n) out.push_back(n);
    for (int64_t n : {128, 513, 2560, 6912}) out.push_back(n);
    return out;
}

TEST_P(RowwiseIsa, RmsNormIdentical) {
    std::mt19937 rng(41);
    for (int64_t n : lengths()) {
        // One float past an aligned start, so that the vector loads are unaligned.
        auto x = normal_f32((size_t)n + 1, rng, 2.0f);
        const auto w = normal_f32((size_t)n + 1, rng);
        std::vector<float> want((size_t)n + 2, 42.0f), got(want);
        rms_norm_scalar(x.data() + 1, w.data() + 1, n, 1e-6f, want.data() + 1);
        kt().rms_norm(x.data() + 1, w.data() + 1, n, 1e-6f, got.data() + 1);
        for (int64_t i = 0; i < n + 2; ++i) ASSERT_TRUE(same_float(got[i], want[i])) << n << " " << i;
        // In place, as the FFN sub-norm uses it.
        kt().rms_norm(x.data() + 1, w.data() + 1, n, 1e-6f, x.data() + 1);
        for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same_float(x[i + 1], want[i + 1])) << n;
    }
}

TEST_P(RowwiseIsa, RopeIdentical) {
    std::mt19937 rng(42);
    struct Shape {
        int64_t n_heads, head_dim, n_rot;
    };
    for (Shape sh : {Shape{20, 128, 128}, Shape{5, 128, 128}, Shape{3, 64, 32}, Shape{2, 6, 6},
                     Shape{4, 34, 34}, Shape{1, 2, 2}, Shape{3, 40, 22}}) {
        const int64_t n = sh.n_heads * sh.head_dim, half = sh.n_rot / 2;
        const auto v = normal_f32((size_t)n, rng, 3.0f);
        std::vector<float> c(half), s(half);
        for (int64_t i = 0; i < half; ++i) {
            const double theta = 123.0 * std::pow(500000.0, -2.0 * (double)i / (double)sh.n_rot);
            c[i] = (float)std::cos(theta);
            s[i] = (float)std::sin(theta);
        }
        std::vector<float> want(v), got(v);
        rope_neox_scalar(want.data(), sh.n_heads, sh.head_dim, sh.n_rot, c.data(), s.data());
        kt().rope_neox(got.data(), sh.n_heads, sh.head_dim, sh.n_rot, c.data(), s.data());
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_TRUE(same_float(got[i], want[i])) << sh.head_dim << " " << sh.n_rot << " " << i;
        }
        // Normal RoPE (adjacent pairs, arch llama), same shapes and angles.
        want = v;
        got = v;
        rope_norm_scalar(want.data(), sh.n_heads, sh.head_dim, sh.n_rot, c.data(), s.data());
        kt().rope_norm(got.data(), sh.n_heads, sh.head_dim, sh.n_rot, c.data(), s.data());
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_TRUE(same_float(got[i], want[i])) << "norm " << sh.head_dim << " " << sh.n_rot << " " << i;
        }
    }
}

TEST_P(RowwiseIsa, SoftmaxIdentical) {
    std::mt19937 rng(43);
    for (int64_t n : lengths()) {
        for (float spread : {1.0f, 30.0f, 300.0f}) {  // 300: many scores below the exp clamp
            const auto x = normal_f32((size_t)n + 1, rng, spread);
            std::vector<float> want(x), got(x);
            softmax_scalar(want.data() + 1, n, 0.0884f);
            kt().softmax(got.data() + 1, n, 0.0884f);
            for (int64_t i = 0; i <= n; ++i) ASSERT_TRUE(same_float(got[i], want[i])) << n << " " << i;
        }
    }
    // Non-finite scores, in the vector body and in the tail.
    for (int64_t n : {5, 19}) {
        for (float bad : {-kInf, kInf, kNaN}) {
            for (int64_t at : {int64_t(0), n - 1}) {
                auto x = normal_f32((size_t)n, rng);
                x[(size_t)at] = bad;
                std::vector<float> want(x), got(x);
                softmax_scalar(want.data(), n, 1.0f);
                kt().softmax(got.data(), n, 1.0f);
                for (int64_t i = 0; i < n; ++i) {
                    ASSERT_TRUE(same_float(got[i], want[i])) << n << " " << bad << " at " << at;
                }
            }
        }
    }
}

TEST_P(RowwiseIsa, ExpIdenticalOverTheRange) {
    // The vector exp through softmax: exp(x - 0) for every 1009th float in [-90, 0]; with the
    // maximum 0 in the row, both implementations normalise by the same sum.
    std::vector<float> xs;
    for (float x : float_sweep(-90.0f, 0.0f, 1009)) xs.push_back(x);
    xs.push_back(0.0f);  // the maximum: exp(0) = 1
    std::vector<float> want(xs), got(xs);
    softmax_scalar(want.data(), (int64_t)want.size(), 1.0f);
    kt().softmax(got.data(), (int64_t)got.size(), 1.0f);
    size_t bad = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
        if (!same_float(got[i], want[i]) && ++bad <= 10) ADD_FAILURE() << "x = " << xs[i];
    }
    EXPECT_EQ(bad, 0u) << "of " << xs.size();
}

INSTANTIATE_TEST_SUITE_P(Simd, RowwiseIsa, ::testing::ValuesIn(simd_isas()), IsaParamName());
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RowwiseIsa);

}  // namespace
}  // namespace bitnet::kernels
