// AVX2 + FMA: the opt-in Q8 LM head (int8 weights with one float scale per 32-value block) times
// float32 activations, and the quantisation of F16 rows to it.
//
// The decode case (one token, 128256 x 2560 int8 = 328 MB + 41 MB of scales) is close to both
// the memory and the conversion bound: the weights are widened 8 at a time (vpmovsxbd +
// vcvtdq2ps, about one vector per cycle), and the rows are read in order with software prefetch
// (qhead_avx2.h).
#include <immintrin.h>

#include "kernels/qhead_avx2.h"

namespace bitnet::kernels::detail {
namespace {

inline __m256 load_i8x8(const uint8_t *p) {
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p))));
}

// One block's 32 products as 8 lane partial sums (one chain per block; the 8 blocks of a group
// are independent).
inline __m256 block_dot(const uint8_t *w, const float *x) {
    __m256 s = _mm256_mul_ps(load_i8x8(w), _mm256_loadu_ps(x));
    s = _mm256_fmadd_ps(load_i8x8(w + 8), _mm256_loadu_ps(x + 8), s);
    s = _mm256_fmadd_ps(load_i8x8(w + 16), _mm256_loadu_ps(x + 16), s);
    return _mm256_fmadd_ps(load_i8x8(w + 24), _mm256_loadu_ps(x + 24), s);
}

}  // namespace

void q8_gemm_avx2(const int8_t *w, const float *scale, int64_t k, int64_t n_rows, const float *x,
                  int64_t n_tok, float *y, int64_t ldy) {
    avx2::quant_gemm<kQ8Block>(reinterpret_cast<const uint8_t *>(w), scale, k, n_rows, x, n_tok,
                               y, ldy, [](const uint8_t *wb, const float *xb) {
                                   return block_dot(wb, xb);  // a lambda: its own type, inlined
                               });
}

// cvtps2dq then saturating packs: NaN -> INT_MIN -> -128, as round_to_i8.
void q8_quantize_f16_avx2(const uint16_t *x, int64_t k, int8_t *q, float *scale) {
    for (int64_t b = 0; b < k / kQ8Block; ++b) {
        __m256i r[4];
        scale[b] = avx2::quantize_f16_block(x + b * kQ8Block, 127.0f, r);
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(q + b * kQ8Block), avx2::pack_i32_to_i8(r));
    }
}

}  // namespace bitnet::kernels::detail
