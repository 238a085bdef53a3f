// The AMX I2_S GEMM (i2s_amx_gemm.h) on emulated tiles with a scalar unpacker: the whole
// algorithm on every CPU, compiled without ISA flags. For tests; bit-identical to the scalar
// reference by construction of the tile emulation (amx_tiles.h).
#include "kernels/i2s_amx_gemm.h"

namespace bitnet::kernels::detail {

// The B tiles of one block by definition: value j of the block (group j / 32, byte j % 32).
void i2s_amx_unpack_block_scalar(const uint8_t *const rows[16], int8_t *lo, int8_t *hi) {
    for (int half = 0; half < 2; ++half) {
        int8_t *tile = half == 0 ? lo : hi;
        for (int kk = 0; kk < 16; ++kk) {
            for (int n = 0; n < 16; ++n) {
                for (int i = 0; i < 4; ++i) {
                    const int j = 64 * half + 4 * kk + i, g = j / 32, p = j % 32;
                    tile[kk * 64 + 4 * n + i] = (int8_t)(((rows[n][p] >> (6 - 2 * g)) & 3) - 1);
                }
            }
        }
    }
}

namespace {
struct ScalarUnpack {
    static void block(const uint8_t *const rows[16], int8_t *lo, int8_t *hi) {
        i2s_amx_unpack_block_scalar(rows, lo, hi);
    }
};
}  // namespace

void i2s_gemm_amx_emulated(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                           int64_t n_tok, int32_t *out, int64_t ldo) {
    amx::EmulatedTiles tiles;
    amx::i2s_gemm_tiles<amx::EmulatedTiles, ScalarUnpack>(tiles, w, k, n_rows, il, q, n_tok, out,
                                                          ldo);
}

}  // namespace bitnet::kernels::detail
