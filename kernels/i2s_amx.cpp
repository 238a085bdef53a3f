// AMX-INT8 I2_S x int8 GEMM (prefill and batched decode): the algorithm of i2s_amx_gemm.h on the
// real tiles, with the ternary codes unpacked into B tiles by AVX-512. Compiled with
// -mamx-tile -mamx-int8 and the AVX-512 flags; dispatched only where the CPU has AMX-TILE,
// AMX-INT8 and AVX-512 and the OS granted the tile state (dispatch.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC bug 105593, see i2s_avx512.cpp
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#include "kernels/amx_tiles_hw.h"
#include "kernels/i2s_amx_gemm.h"

namespace bitnet::kernels::detail {
namespace {

inline __m256i load256(const void *p) { return _mm256_loadu_si256(static_cast<const __m256i *>(p)); }

// 8 x 8 dword transposes in both 256-bit halves at once: out[p].dword[n] = z[n].dword[p] and
// out[p].dword[8 + n] = z[n].dword[8 + p] (the AVX 8 x 8 transpose: 32-bit and 64-bit unpacks
// within 128-bit lanes, then the lanes paired across registers).
inline void transpose8x8_halves(const __m512i z[8], __m512i out[8]) {
    __m512i t[8], s[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
    }
    for (int h = 0; h < 2; ++h) {  // rows 0-3 (h = 0) and 4-7 (h = 1)
        const __m512i *u = t + 4 * h;
        s[4 * h + 0] = _mm512_unpacklo_epi64(u[0], u[2]);
        s[4 * h + 1] = _mm512_unpackhi_epi64(u[0], u[2]);
        s[4 * h + 2] = _mm512_unpacklo_epi64(u[1], u[3]);
        s[4 * h + 3] = _mm512_unpackhi_epi64(u[1], u[3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int p = 0; p < 4; ++p) {
        out[p] = _mm512_permutex2var_epi64(s[p], lo, s[4 + p]);
        out[p + 4] = _mm512_permutex2var_epi64(s[p], hi, s[4 + p]);
    }
}

// The two B tiles of one block (Unpack::block of i2s_amx_gemm.h). The bytes of a block keep
// value j in byte j % 32, so values 4kk' .. 4kk'+3 of group g are dword kk' (bits of group g)
// of each row: transposing the 16 rows x 8 dwords of packed bytes gives, per dword p, one
// register holding that dword of all 16 rows, and each group's codes are then a shift and a
// mask away: B-tile row kk of values 64h .. 64h+63 is group 2h + kk / 8, dword kk % 8.
struct Avx512Unpack {
    static void block(const uint8_t *const rows[16], int8_t *lo, int8_t *hi) {
        __m512i z[8], d[8];
        for (int m = 0; m < 8; ++m) {
            z[m] = _mm512_inserti64x4(_mm512_castsi256_si512(load256(rows[m])), load256(rows[m + 8]), 1);
        }
        transpose8x8_halves(z, d);
        const __m512i mask = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
        for (int g = 0; g < 4; ++g) {
            int8_t *tile = (g < 2 ? lo : hi) + (g % 2) * 8 * 64;
            for (int p = 0; p < 8; ++p) {
                const __m512i c = _mm512_and_si512(_mm512_srli_epi16(d[p], 6 - 2 * g), mask);
                _mm512_storeu_si512(tile + p * 64, _mm512_sub_epi8(c, one));
            }
        }
    }
};

// Below this many tokens the AVX-512 VNNI kernel is used: unpacking the codes into B tiles costs
// about as much per weight as 16-32 tokens' worth of tile products (an estimate from
// instruction counts, to be measured on AMX hardware).
constexpr int64_t kAmxMinTokens = 32;

}  // namespace

void i2s_amx_unpack_block_avx512(const uint8_t *const rows[16], int8_t *lo, int8_t *hi) {
    Avx512Unpack::block(rows, lo, hi);
}

void i2s_gemm_amx_tiles(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                        int64_t n_tok, int32_t *out, int64_t ldo) {
    amx::HardwareTiles tiles;
    amx::i2s_gemm_tiles<amx::HardwareTiles, Avx512Unpack>(tiles, w, k, n_rows, il, q, n_tok, out,
                                                          ldo);
}

void i2s_gemm_amx(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                  int64_t n_tok, int32_t *out, int64_t ldo) {
    if (n_tok < kAmxMinTokens) {
        i2s_gemm_avx512(w, k, n_rows, il, q, n_tok, out, ldo);
    } else {
        i2s_gemm_amx_tiles(w, k, n_rows, il, q, n_tok, out, ldo);
    }
}

void i2s_gemm_amx_emulated_avx512(const uint8_t *w, int64_t k, int64_t n_rows, int il,
                                  const int8_t *q, int64_t n_tok, int32_t *out, int64_t ldo) {
    amx::EmulatedTiles tiles;
    amx::i2s_gemm_tiles<amx::EmulatedTiles, Avx512Unpack>(tiles, w, k, n_rows, il, q, n_tok, out,
                                                          ldo);
}

// One tile product on the hardware, for the tests that hold the emulation to it: C (16 x 16
// int32, row stride 64 bytes) += A (16 x 64 int8) . B (16 x 64 int8, VNNI), signed x signed
// (op 0) or unsigned A x signed B (op 1).
void amx_tile_dot_hw(int op, const int8_t *a, const int8_t *b, int32_t *c) {
    amx::HardwareTiles t;
    t.configure(amx::full_tile_config());
    t.load(0, c, 64);
    t.load(4, a, 64);
    t.load(6, b, 64);
    if (op == 0) {
        t.dpbssd(0, 4, 6);
    } else {
        t.dpbusd(0, 4, 6);
    }
    t.store(0, c, 64);
    t.release();
}

}  // namespace bitnet::kernels::detail
