// The I2_S x int8 GEMM on AMX-INT8 tiles (kernels.h, I2sGemmFn), written once over the tile layer
// (amx_tiles.h) and an unpacker of ternary codes, and instantiated with the real tiles
// (i2s_amx.cpp) and with their exact emulation (i2s_amx_emul.cpp, i2s_amx.cpp), so that the
// whole algorithm (tiling, unpacking, VNNI layout, tails, row ranges) is tested on every CPU.
//
// C += A . B with TDPBSSD (int8 x int8, exact int32 sums):
//   A = 16 tokens x 64 activations, straight from q (row j at q + j * k, stride k);
//   B = 64 values x 16 weight rows in the VNNI layout: tile row kk holds, for each weight row n,
//       its ternary values 4kk .. 4kk+3 (t = code - 1 as int8) in bytes 4n .. 4n+3;
//   C = 16 tokens x 16 weight rows of int32, stored straight into out (row stride ldo).
// Because t is signed, C is sum_k t q exactly, with no correction for the code offset.
//
// The codes of 32 weight rows are unpacked once into a panel of B tiles and reused by every
// token tile of a block of tokens; 2 token tiles x 2 row tiles per step use all eight tile
// registers (C: tmm0-3, A: tmm4-5, B: tmm6-7, the roles HardwareTiles supports).
// Tails: a last partial token tile is read from a zero-padded copy; a partial row tile is
// unpacked from a block of zero codes for the missing rows; partial C tiles go through a buffer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/amx_tiles.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels::detail::amx {
// Internal linkage: each file instantiates these with its own ISA flags, and no file may link
// against another's copy.
namespace {

constexpr int64_t kTileDim = 16;     // tokens per A/C tile, weight rows per B/C tile
constexpr int64_t kTileK = 64;       // values of k per tile step (one A row, 16 B rows of 4)
constexpr int64_t kTileBytes = 1024; // 16 rows x 64 bytes
constexpr int kTileC = 0, kTileA = 4, kTileB = 6;
// Token block: its activations (kTokBlockBytes at most, or 32 tokens) are read once per panel
// of 32 weight rows, so they should stay in L2 (2 MB per core on Sapphire Rapids). A first
// estimate, to be tuned on AMX hardware.
constexpr int64_t kTokBlockBytes = 1 << 20;

// The B-tile layout from four values per row: tile[kk * 64 + 4n + i] = t_n[4kk + i].
// Unpack::block(rows, lo, hi): rows[n] points at the 32 bytes of one I2_S block of weight row n
// (n < 16); lo receives the B tile of the block's values 0-63 (groups 0 and 1), hi that of
// values 64-127 (groups 2 and 3).

// A 64-byte aligned scratch area that grows as needed (one per thread and instantiation).
struct Scratch {
    std::vector<int8_t> buf;
    int8_t *get(int64_t bytes) {
        if ((int64_t)buf.size() < bytes + 64) buf.resize((size_t)(bytes + 64));
        const auto p = reinterpret_cast<uintptr_t>(buf.data());
        return buf.data() + ((64 - p % 64) % 64);
    }
};

// Codes of missing rows: any value works (their outputs are never stored), reading them must not
// go past the matrix.
alignas(64) constexpr uint8_t kZeroBlock[kI2sBlockBytes] = {};

// The panel of rows r0 .. r0 + n_valid - 1 (n_valid <= 16 * n_rt): B tile of row tile j and
// chunk c (values 64c .. 64c + 63) at panel + (c * n_rt + j) * kTileBytes.
template <class Unpack>
void unpack_panel(const I2sRows &w, int64_t r0, int64_t n_valid, int n_rt, int64_t k,
                  int8_t *panel) {
    const int64_t n_blocks = k / kI2sBlock, bstride = w.block_stride();
    for (int j = 0; j < n_rt; ++j) {
        const uint8_t *row0[kTileDim];
        for (int n = 0; n < kTileDim; ++n) {
            const int64_t r = j * kTileDim + n;
            row0[n] = r < n_valid ? w.row(r0 + r) : nullptr;
        }
        for (int64_t b = 0; b < n_blocks; ++b) {
            const uint8_t *rows[kTileDim];
            for (int n = 0; n < kTileDim; ++n) rows[n] = row0[n] ? row0[n] + b * bstride : kZeroBlock;
            Unpack::block(rows, panel + (2 * b * n_rt + j) * kTileBytes,
                          panel + ((2 * b + 1) * n_rt + j) * kTileBytes);
        }
    }
}

// TT token tiles x RT row tiles over all of k: C(tt, rt) = tmm(2tt + rt), A(tt) = tmm(4 + tt),
// B(rt) = tmm(6 + rt). a[tt]: the token tile's activations (stride lda); c[tt][rt]: where its C
// tile goes (stride ldc[tt][rt] bytes).
template <int TT, int RT, class Tiles>
void multiply(Tiles &tl, const int8_t *const a[2], int64_t lda, const int8_t *panel,
              int64_t n_chunks, int32_t *const c[2][2], const int64_t ldc[2][2]) {
    BITNET_UNROLL
    for (int i = 0; i < TT * 2; ++i) {
        if (i % 2 < RT) tl.zero(kTileC + i);
    }
    for (int64_t ch = 0; ch < n_chunks; ++ch) {
        const int8_t *bp = panel + ch * RT * kTileBytes;
        BITNET_UNROLL
        for (int tt = 0; tt < TT; ++tt) tl.load(kTileA + tt, a[tt] + ch * kTileK, lda);
        BITNET_UNROLL
        for (int rt = 0; rt < RT; ++rt) tl.load(kTileB + rt, bp + rt * kTileBytes, kTileK);
        BITNET_UNROLL
        for (int tt = 0; tt < TT; ++tt) {
            BITNET_UNROLL
            for (int rt = 0; rt < RT; ++rt) tl.dpbssd(kTileC + 2 * tt + rt, kTileA + tt, kTileB + rt);
        }
    }
    BITNET_UNROLL
    for (int tt = 0; tt < TT; ++tt) {
        BITNET_UNROLL
        for (int rt = 0; rt < RT; ++rt) tl.store(kTileC + 2 * tt + rt, c[tt][rt], ldc[tt][rt]);
    }
}

template <class Tiles>
void multiply_any(int tt, int rt, Tiles &tl, const int8_t *const a[2], int64_t lda,
                  const int8_t *panel, int64_t n_chunks, int32_t *const c[2][2],
                  const int64_t ldc[2][2]) {
    if (tt == 2 && rt == 2) multiply<2, 2>(tl, a, lda, panel, n_chunks, c, ldc);
    else if (tt == 2) multiply<2, 1>(tl, a, lda, panel, n_chunks, c, ldc);
    else if (rt == 2) multiply<1, 2>(tl, a, lda, panel, n_chunks, c, ldc);
    else multiply<1, 1>(tl, a, lda, panel, n_chunks, c, ldc);
}

// Where the tiles of one step read and write: whole tiles straight from q and into out, a
// partial token tile from the padded copy `tail`, partial C tiles into cbuf (then copied).
struct Step {
    const int8_t *a[2] = {};
    int32_t *c[2][2] = {};
    int64_t ldc[2][2] = {};
    int64_t n_tok[2] = {}, n_row[2] = {};  // valid tokens / rows of each tile
};

Step plan_step(const int8_t *q, const int8_t *tail, int64_t k, int64_t n_tok, int64_t t0,
               int n_tt, int64_t r0, int64_t n_rows, int n_rt, int32_t *out, int64_t ldo,
               int32_t (*cbuf)[2][kTileDim * kTileDim]) {
    Step s;
    for (int tt = 0; tt < n_tt; ++tt) {
        const int64_t tok = t0 + tt * kTileDim;
        s.n_tok[tt] = std::min(kTileDim, n_tok - tok);
        s.a[tt] = s.n_tok[tt] == kTileDim ? q + tok * k : tail;
        for (int rt = 0; rt < n_rt; ++rt) {
            const int64_t row = r0 + rt * kTileDim;
            s.n_row[rt] = std::min(kTileDim, n_rows - row);
            const bool whole = s.n_tok[tt] == kTileDim && s.n_row[rt] == kTileDim;
            s.c[tt][rt] = whole ? out + tok * ldo + row : cbuf[tt][rt];
            s.ldc[tt][rt] = (whole ? ldo : kTileDim) * (int64_t)sizeof(int32_t);
        }
    }
    return s;
}

// The valid part of the partial C tiles of a step, from cbuf into out.
void copy_partial(const Step &s, int n_tt, int n_rt, int64_t t0, int64_t r0, int32_t *out,
                  int64_t ldo, int32_t (*cbuf)[2][kTileDim * kTileDim]) {
    for (int tt = 0; tt < n_tt; ++tt) {
        for (int rt = 0; rt < n_rt; ++rt) {
            if (s.c[tt][rt] != cbuf[tt][rt]) continue;
            for (int64_t m = 0; m < s.n_tok[tt]; ++m) {
                int32_t *dst = out + (t0 + tt * kTileDim + m) * ldo + r0 + rt * kTileDim;
                std::memcpy(dst, cbuf[tt][rt] + m * kTileDim, (size_t)s.n_row[rt] * sizeof(int32_t));
            }
        }
    }
}

// out[j * ldo + r] = sum_k t[r][k] q[j][k] for j < n_tok, r < n_rows (I2sGemmFn), on tiles tl.
template <class Tiles, class Unpack>
void i2s_gemm_tiles(Tiles &tl, const uint8_t *w, int64_t k, int64_t n_rows, int il,
                    const int8_t *q, int64_t n_tok, int32_t *out, int64_t ldo) {
    if (n_rows <= 0 || n_tok <= 0 || k <= 0) return;
    static thread_local Scratch panel_mem, tail_mem;
    const I2sRows wr{w, k / 4, il};
    const int64_t n_chunks = k / kTileK, n_full = n_tok / kTileDim * kTileDim;
    int8_t *panel = panel_mem.get(2 * kTileDim * k);
    int8_t *tail = nullptr;
    if (n_full < n_tok) {
        tail = tail_mem.get(kTileDim * k);
        std::memcpy(tail, q + n_full * k, (size_t)((n_tok - n_full) * k));
        std::memset(tail + (n_tok - n_full) * k, 0, (size_t)((kTileDim - (n_tok - n_full)) * k));
    }
    alignas(64) int32_t cbuf[2][2][kTileDim * kTileDim];
    const int64_t tok_block =
        std::max<int64_t>(2 * kTileDim, kTokBlockBytes / k / (2 * kTileDim) * (2 * kTileDim));
    tl.configure(full_tile_config());
    for (int64_t tb = 0; tb < n_tok; tb += tok_block) {
        const int64_t tb_end = std::min(n_tok, tb + tok_block);
        for (int64_t r0 = 0; r0 < n_rows; r0 += 2 * kTileDim) {
            const int64_t n_valid = std::min(2 * kTileDim, n_rows - r0);
            const int n_rt = n_valid > kTileDim ? 2 : 1;
            unpack_panel<Unpack>(wr, r0, n_valid, n_rt, k, panel);
            for (int64_t t0 = tb; t0 < tb_end; t0 += 2 * kTileDim) {
                const int n_tt = tb_end - t0 > kTileDim ? 2 : 1;
                const Step s = plan_step(q, tail, k, n_tok, t0, n_tt, r0, n_rows, n_rt, out, ldo, cbuf);
                multiply_any(n_tt, n_rt, tl, s.a, k, panel, n_chunks, s.c, s.ldc);
                copy_partial(s, n_tt, n_rt, t0, r0, out, ldo, cbuf);
            }
        }
    }
    tl.release();
}

}  // namespace
}  // namespace bitnet::kernels::detail::amx
