// The real AMX tile instructions behind the EmulatedTiles interface (amx_tiles.h). Include only
// from files compiled with -mamx-tile -mamx-int8 (kernels/*_amx.cpp); the class has internal
// linkage so that no other file can pick up its code.
#pragma once

// GCC spells the feature macros __AMX_TILE__/__AMX_INT8__, clang __AMXTILE__/__AMXINT8__.
#if !(defined(__AMX_TILE__) || defined(__AMXTILE__)) || !(defined(__AMX_INT8__) || defined(__AMXINT8__))
#error "amx_tiles_hw.h needs -mamx-tile -mamx-int8"
#endif

#include <immintrin.h>

#include <cstdlib>

#include "kernels/amx_tiles.h"

namespace bitnet::kernels::detail::amx {
namespace {

// The intrinsics take the tile number as a literal (it becomes part of the instruction), so each
// operation switches over the literals; called with constants, the switch folds away.
#define BITNET_TILE_CASES(OP, ...)                            \
    switch (t) {                                              \
        case 0: OP(0, __VA_ARGS__); break;                    \
        case 1: OP(1, __VA_ARGS__); break;                    \
        case 2: OP(2, __VA_ARGS__); break;                    \
        case 3: OP(3, __VA_ARGS__); break;                    \
        case 4: OP(4, __VA_ARGS__); break;                    \
        case 5: OP(5, __VA_ARGS__); break;                    \
        case 6: OP(6, __VA_ARGS__); break;                    \
        case 7: OP(7, __VA_ARGS__); break;                    \
        default: std::abort();                                \
    }
#define BITNET_TILE_ZERO(T, unused) _tile_zero(T)
// The dot products support the 2 x 2 register blocking of the kernels: accumulators tmm0-3
// (C[i][j] = tmm(2i + j)), A tiles tmm4-5 (A_i), B tiles tmm6-7 (B_j).
#define BITNET_TILE_DOT_CASES(OP)                                   \
    switch (c * 64 + a * 8 + b) {                                   \
        case 0 * 64 + 4 * 8 + 6: OP(0, 4, 6); break;                \
        case 1 * 64 + 4 * 8 + 7: OP(1, 4, 7); break;                \
        case 2 * 64 + 5 * 8 + 6: OP(2, 5, 6); break;                \
        case 3 * 64 + 5 * 8 + 7: OP(3, 5, 7); break;                \
        default: std::abort();                                      \
    }

class HardwareTiles {
public:
    void configure(const TileConfig &cfg) { _tile_loadconfig(&cfg); }
    void release() { _tile_release(); }
    __attribute__((always_inline)) void load(int t, const void *base, int64_t stride) {
        BITNET_TILE_CASES(_tile_loadd, base, stride)
    }
    __attribute__((always_inline)) void store(int t, void *base, int64_t stride) const {
        BITNET_TILE_CASES(_tile_stored, base, stride)
    }
    __attribute__((always_inline)) void zero(int t) { BITNET_TILE_CASES(BITNET_TILE_ZERO, 0) }
    __attribute__((always_inline)) void dpbssd(int c, int a, int b) {
        BITNET_TILE_DOT_CASES(_tile_dpbssd)
    }
    __attribute__((always_inline)) void dpbusd(int c, int a, int b) {
        BITNET_TILE_DOT_CASES(_tile_dpbusd)
    }
};

#undef BITNET_TILE_CASES
#undef BITNET_TILE_ZERO
#undef BITNET_TILE_DOT_CASES

}  // namespace
}  // namespace bitnet::kernels::detail::amx
