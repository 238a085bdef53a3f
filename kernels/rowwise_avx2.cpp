// AVX2 + FMA row-wise float operations (RMSNorm, NeoX RoPE, softmax), bit-identical to
// rowwise_scalar.cpp: lane j of the 8-wide steps is element i with i % 8 == j, the double sums
// are two 4-lane accumulators (elements i % 8 < 4 and >= 4) combined as combine8 does, and the
// tails continue in scalar code on the same partial sums.
#include <immintrin.h>

#include <cmath>

#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail {
namespace {

// s[0..3] and s[4..7] of combine8 from the two accumulators.
inline void store8(__m256d lo, __m256d hi, double s[8]) {
    _mm256_storeu_pd(s, lo);
    _mm256_storeu_pd(s + 4, hi);
}

// exp_ref on 8 lanes, the same operations in the same order.
inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(kExpLo), x);  // kExpLo > x ? kExpLo : x
    x = _mm256_min_ps(_mm256_set1_ps(kExpHi), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Hi), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Lo), r);
    __m256 p = _mm256_set1_ps(kExpP0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP5));
    const __m256 r2 = _mm256_mul_ps(r, r);
    __m256 y = _mm256_fmadd_ps(p, r2, r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    // n is integral; for a NaN lane the exponent bits are garbage but y is NaN already.
    const __m256i bits = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

inline float hmax(__m256 v) {
    alignas(32) float l[8];
    _mm256_store_ps(l, v);
    float m = l[0];
    for (int j = 1; j < 8; ++j) m = l[j] > m ? l[j] : m;
    return m;
}

}  // namespace

void rms_norm_avx2(const float *x, const float *w, int64_t n, float eps, float *y) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        const __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
    }
    double s[8];
    store8(lo, hi, s);
    add_squares_from(x, i, n, s);
    const float scale = rms_scale(combine8(s), n, eps);
    const __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, _mm256_loadu_ps(w + i)));
    }
    scale_mul_from(x, w, i, n, scale, y);
}

void rope_neox_avx2(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h, v += head_dim) {
        int64_t i = 0;
        for (; i + 8 <= half; i += 8) {
            const __m256 x0 = _mm256_loadu_ps(v + i), x1 = _mm256_loadu_ps(v + i + half);
            const __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
            _mm256_storeu_ps(v + i, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
            _mm256_storeu_ps(v + i + half,
                             _mm256_add_ps(_mm256_mul_ps(x0, s), _mm256_mul_ps(x1, c)));
        }
        rope_pairs_from(v, i, half, cos, sin);
    }
}

// Four pairs per step: lane 2j holds x0 = v[2i], lane 2j + 1 holds x1 = v[2i + 1]. With c and s
// duplicated per pair and the sine's sign flipped on even lanes, x*c + swap(x)*s' gives
// x0 c + x1 (-s) = x0 c - x1 s and x1 c + x0 s = x0 s + x1 c: the scalar values bit for bit
// (negation is exact, addition commutes).
void rope_norm_avx2(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos,
                    const float *sin) {
    const int64_t half = n_rot / 2;
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256 sign = _mm256_setr_ps(-0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f);
    for (int64_t h = 0; h < n_heads; ++h, v += head_dim) {
        int64_t i = 0;
        for (; i + 4 <= half; i += 4) {
            const __m256 x = _mm256_loadu_ps(v + 2 * i);
            const __m256 c = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(cos + i)), dup);
            const __m256 s = _mm256_xor_ps(
                _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(sin + i)), dup), sign);
            const __m256 sw = _mm256_permute_ps(x, 0xb1);  // swap the two values of each pair
            _mm256_storeu_ps(v + 2 * i, _mm256_add_ps(_mm256_mul_ps(x, c), _mm256_mul_ps(sw, s)));
        }
        rope_adjacent_from(v, i, half, cos, sin);
    }
}

void softmax_avx2(float *x, int64_t n, float scale) {
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        _mm256_storeu_ps(x + i, v);
        m8 = _mm256_max_ps(v, m8);  // v > m ? v : m, as the scalar loop
    }
    // max is exact and order-free for non-NaN values (NaNs never enter); a +-0 tie does not
    // change any exp(x - m).
    const float mx = scale_max_from(x, i, n, scale, hmax(m8));
    const __m256 vm = _mm256_set1_ps(mx);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double s[8];
    store8(lo, hi, s);
    exp_sum_from(x, i, n, mx, s);
    const float inv = (float)(1.0 / combine8(s));
    const __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
    scale_from(x, i, n, inv);
}

}  // namespace bitnet::kernels::detail
