// AMX-INT8 tile layer: the tile operations the AMX kernels use, in two implementations with one
// interface, so that each kernel is written once over them:
//   - EmulatedTiles: an exact scalar model of the tile registers and instructions (defined in
//     amx_tiles_emul.cpp, compiled without ISA flags, so it runs on every CPU and in CI);
//   - HardwareTiles (amx_tiles_hw.h, only in files compiled with -mamx-tile -mamx-int8): the
//     real LDTILECFG / TILELOADD / TILESTORED / TILEZERO / TDPBSSD / TDPBUSD intrinsics.
// Semantics follow the Intel SDM (vol. 2, "TDPBSSD/TDPBSUD/TDPBUSD/TDPBUUD", "TILELOADD",
// "LDTILECFG") and the Intel Intrinsics Guide pseudo-code.
#pragma once

#include <cstdint>

namespace bitnet::kernels::detail::amx {

inline constexpr int kNumTiles = 8;       // tmm0 .. tmm7
inline constexpr int kMaxRows = 16;       // palette 1: at most 16 rows ...
inline constexpr int kMaxColsBytes = 64;  // ... of at most 64 bytes per tile

// The 64-byte memory operand of LDTILECFG (palette 1): tile i is rows[i] x colsb[i] bytes.
// Entries 8-15 and the reserved bytes must be zero.
struct alignas(64) TileConfig {
    uint8_t palette_id = 0;
    uint8_t start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads exactly 64 bytes");

// Palette 1 with all eight tiles 16 rows x 64 bytes (16 x 64 int8, or 16 x 16 int32).
inline TileConfig full_tile_config() {
    TileConfig c;
    c.palette_id = 1;
    for (int i = 0; i < kNumTiles; ++i) {
        c.rows[i] = kMaxRows;
        c.colsb[i] = kMaxColsBytes;
    }
    return c;
}

// The tile registers and instructions, modelled exactly:
//   configure (LDTILECFG): checks the configuration as the CPU does (palette 1, rows <= 16,
//     colsb <= 64, rows and colsb both zero or both non-zero, entries 8-15 and reserved bytes
//     zero, start_row 0) and zeroes every tile;
//   load (TILELOADD): row m < rows of tile t = colsb bytes at base + m * stride; the rest of
//     each row and the rows past `rows` become zero;
//   store (TILESTORED): rows x colsb bytes to base + m * stride;
//   zero (TILEZERO): the whole tile;
//   dpbssd/dpbsud/dpbusd/dpbuud (C += A . B): for m < rows(C), n < colsb(C)/4, k < colsb(A)/4,
//     C[m].dword[n] += sum_{i<4} A[m].byte[4k+i] * B[k].byte[4n+i], bytes sign- or
//     zero-extended to 32 bits as the mnemonic says (s = signed, u = unsigned; first letter A,
//     second B), sums wrapping modulo 2^32 (no saturation). Requires, as the CPU does (#UD
//     otherwise), rows(A) == rows(C), rows(B) == colsb(A)/4, colsb(B) == colsb(C), all colsb
//     multiples of 4, and three distinct tiles.
// An operation the CPU would fault on (#GP/#UD) throws std::logic_error instead, so that a
// kernel bug is caught by the tests on any machine. Not thread-safe: one object per thread, as
// each thread has its own tile registers.
class EmulatedTiles {
public:
    EmulatedTiles();
    void configure(const TileConfig &cfg);
    void release();  // TILERELEASE: back to the init state (unconfigured, tiles zero)
    void load(int t, const void *base, int64_t stride);
    void store(int t, void *base, int64_t stride) const;
    void zero(int t);
    void dpbssd(int c, int a, int b) { dot(c, a, b, true, true); }
    void dpbsud(int c, int a, int b) { dot(c, a, b, true, false); }
    void dpbusd(int c, int a, int b) { dot(c, a, b, false, true); }
    void dpbuud(int c, int a, int b) { dot(c, a, b, false, false); }

private:
    void dot(int c, int a, int b, bool a_signed, bool b_signed);
    void check_tile(int t, const char *op) const;

    TileConfig cfg_;
    bool configured_ = false;
    alignas(64) uint8_t data_[kNumTiles][kMaxRows][kMaxColsBytes];
};

}  // namespace bitnet::kernels::detail::amx
