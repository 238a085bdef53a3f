// AMX-INT8 I2_S GEMM: the tile emulation against the instructions' definition, the unpacking of
// ternary codes into VNNI B tiles against i2s_unpack, and the whole GEMM (tiling, tails, il = 4
// interleave, row ranges as the thread pool splits them) against the scalar reference.
// Test names say what ran: Emulated* on every CPU, *Avx512Unpack where the CPU has AVX-512,
// Hardware* only where it has AMX (skipped otherwise, with the reason).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/amx_tiles.h"
#include "kernels/kernels.h"
#include "kernels/kernels_isa.h"

namespace bitnet::kernels {
namespace {

using detail::amx::EmulatedTiles;
using detail::amx::full_tile_config;
using detail::amx::TileConfig;

std::vector<int8_t> random_bytes(size_t n, std::mt19937 &rng) {
    std::vector<int8_t> v(n);
    for (auto &x : v) x = (int8_t)(rng() & 0xff);
    return v;
}

// C (m x n int32) += A (m x 4kd bytes) . B (kd x 4n bytes) by the SDM's definition, 64-bit sums
// reduced modulo 2^32.
void reference_dot(const int8_t *a, int lda, const int8_t *b, int ldb, int32_t *c, int ldc, int m,
                   int n, int kd, bool a_signed, bool b_signed) {
    auto ext = [](int8_t v, bool s) -> int64_t { return s ? (int64_t)v : (int64_t)(uint8_t)v; };
    for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
            int64_t acc = c[i * ldc + j];
            for (int kk = 0; kk < kd; ++kk) {
                for (int e = 0; e < 4; ++e) {
                    acc += ext(a[i * lda + 4 * kk + e], a_signed) * ext(b[kk * ldb + 4 * j + e], b_signed);
                }
            }
            c[i * ldc + j] = (int32_t)(uint32_t)(uint64_t)acc;
        }
    }
}

// ---- the tile emulation ------------------------------------------------------------------------

TEST(AmxEmulatedTiles, DotProductsMatchDefinitionOnPartialShapes) {
    std::mt19937 rng(11);
    // M x K x N = 5 x 12 x 3 (tile shapes smaller than the maximum), then the full 16 x 64 x 16.
    for (int full = 0; full < 2; ++full) {
        const int m = full ? 16 : 5, kd = full ? 16 : 3, n = full ? 16 : 3;
        TileConfig cfg;
        cfg.palette_id = 1;
        cfg.rows[0] = (uint8_t)m, cfg.colsb[0] = (uint16_t)(4 * n);   // C
        cfg.rows[1] = (uint8_t)m, cfg.colsb[1] = (uint16_t)(4 * kd);  // A
        cfg.rows[2] = (uint8_t)kd, cfg.colsb[2] = (uint16_t)(4 * n);  // B
        for (int op = 0; op < 4; ++op) {
            const bool as = op < 2, bs = op % 2 == 0;  // ss, su, us, uu
            const auto a = random_bytes(16 * 64, rng), b = random_bytes(16 * 64, rng);
            std::vector<int32_t> c0(16 * 16), c(16 * 16, 0x7fffff00);
            for (auto &v : c0) v = (int32_t)rng();
            EmulatedTiles t;
            t.configure(cfg);
            t.load(0, c0.data(), 64);
            t.load(1, a.data(), 64);
            t.load(2, b.data(), 64);
            if (op == 0) t.dpbssd(0, 1, 2);
            if (op == 1) t.dpbsud(0, 1, 2);
            if (op == 2) t.dpbusd(0, 1, 2);
            if (op == 3) t.dpbuud(0, 1, 2);
            t.store(0, c.data(), 64);
            std::vector<int32_t> want = c0;
            reference_dot(a.data(), 64, b.data(), 64, want.data(), 16, m, n, kd, as, bs);
            for (int i = 0; i < 16; ++i) {
                for (int j = 0; j < 16; ++j) {
                    // Outside the configured m x n the store leaves the destination alone.
                    const int32_t expect = i < m && j < n ? want[i * 16 + j] : 0x7fffff00;
                    ASSERT_EQ(c[i * 16 + j], expect) << "op " << op << " at " << i << "," << j;
                }
            }
        }
    }
}

TEST(AmxEmulatedTiles, SumsWrapModulo2To32) {
    // 64 products of (-128)(-128) = 2^20 added to INT32_MAX - 5 wrap, as the hardware's do.
    std::vector<int8_t> a(16 * 64, -128), b(16 * 64, -128);
    std::vector<int32_t> c(16 * 16, INT32_MAX - 5);
    EmulatedTiles t;
    t.configure(full_tile_config());
    t.load(0, c.data(), 64);
    t.load(4, a.data(), 64);
    t.load(6, b.data(), 64);
    t.dpbssd(0, 4, 6);
    t.store(0, c.data(), 64);
    const uint32_t want = (uint32_t)(INT32_MAX - 5) + (uint32_t)(64 * 128 * 128);
    for (int32_t v : c) ASSERT_EQ((uint32_t)v, want);
}

TEST(AmxEmulatedTiles, LoadZeroesPastTheConfiguredShapeAndZeroClears) {
    TileConfig cfg;
    cfg.palette_id = 1;
    cfg.rows[3] = 2, cfg.colsb[3] = 8;
    cfg.rows[5] = 16, cfg.colsb[5] = 64;
    std::vector<int8_t> src(16 * 64, 7), out(16 * 64, 1);
    EmulatedTiles t;
    t.configure(cfg);
    t.load(3, src.data(), 64);
    // Reading tile 3 back through a full-size view: store it as its own shape into a clean buffer.
    t.store(3, out.data(), 64);
    for (int i = 0; i < 16 * 64; ++i) {
        const bool inside = i / 64 < 2 && i % 64 < 8;
        ASSERT_EQ(out[i], inside ? 7 : 1) << i;
    }
    t.load(5, src.data(), 64);
    t.zero(5);
    t.store(5, out.data(), 64);
    for (int8_t v : out) ASSERT_EQ(v, 0);
}

TEST(AmxEmulatedTiles, FaultsWhereTheCpuWould) {
    EmulatedTiles t;
    std::vector<int8_t> buf(16 * 64);
    EXPECT_THROW(t.load(0, buf.data(), 64), std::logic_error);  // before LDTILECFG
    TileConfig bad = full_tile_config();
    bad.palette_id = 2;
    EXPECT_THROW(t.configure(bad), std::logic_error);
    bad = full_tile_config();
    bad.rows[1] = 17;
    EXPECT_THROW(t.configure(bad), std::logic_error);
    bad = full_tile_config();
    bad.colsb[2] = 0;  // rows without colsb
    EXPECT_THROW(t.configure(bad), std::logic_error);
    bad = full_tile_config();
    bad.rows[9] = 1, bad.colsb[9] = 4;  // there is no tmm9
    EXPECT_THROW(t.configure(bad), std::logic_error);

    TileConfig cfg = full_tile_config();
    cfg.rows[6] = 8;  // B with 8 rows cannot take A's 16 dwords per row
    t.configure(cfg);
    EXPECT_THROW(t.dpbssd(0, 4, 6), std::logic_error);
    EXPECT_NO_THROW(t.dpbssd(0, 4, 7));
    EXPECT_THROW(t.dpbssd(0, 0, 7), std::logic_error);  // repeated register
    t.release();
    EXPECT_THROW(t.zero(0), std::logic_error);
}

// ---- unpacking codes into B tiles --------------------------------------------------------------

using UnpackFn = void (*)(const uint8_t *const rows[16], int8_t *lo, int8_t *hi);

// Every code (including 3) in every position: the B tiles hold t_n[4kk + i] at kk*64 + 4n + i.
void expect_unpack_matches_definition(UnpackFn unpack) {
    std::mt19937 rng(5);
    std::vector<uint8_t> blocks(16 * 32);
    for (int rep = 0; rep < 20; ++rep) {
        for (auto &v : blocks) v = (uint8_t)(rng() & 0xff);
        const uint8_t *rows[16];
        for (int n = 0; n < 16; ++n) rows[n] = blocks.data() + 32 * n;
        std::vector<int8_t> lo(1024), hi(1024), t(128);
        unpack(rows, lo.data(), hi.data());
        for (int n = 0; n < 16; ++n) {
            i2s_unpack(rows[n], 128, t.data());
            for (int j = 0; j < 128; ++j) {
                const int8_t got = (j < 64 ? lo : hi)[(j % 64) / 4 * 64 + 4 * n + j % 4];
                ASSERT_EQ(got, t[j]) << "row " << n << " value " << j;
            }
        }
    }
}

TEST(AmxUnpack, EmulatedScalarMatchesI2sUnpack) {
    expect_unpack_matches_definition(detail::i2s_amx_unpack_block_scalar);
}

TEST(AmxUnpack, Avx512MatchesI2sUnpack) {
#if defined(BITNET_AMX_KERNELS)
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
    expect_unpack_matches_definition(detail::i2s_amx_unpack_block_avx512);
#else
    GTEST_SKIP() << "AMX kernels not built (compiler without -mamx-tile)";
#endif
}

// ---- the GEMM ------------------------------------------------------------------------------------

// Weights: random codes including 3 (random bytes), with rows of all -1 and all +1; activations
// random with rows of all -128 (the extremes of every product).
struct Problem {
    int64_t k, n_rows, n_tok;
    int il;
    std::vector<uint8_t> w;
    std::vector<int8_t> q;
};

Problem make_problem(int64_t k, int64_t n_rows, int64_t n_tok, int il, std::mt19937 &rng) {
    Problem p{k, n_rows, n_tok, il, {}, {}};
    p.w.resize((size_t)(n_rows * k / 4));
    for (auto &v : p.w) v = (uint8_t)(rng() & 0xff);
    if (n_rows > 2) {
        std::memset(p.w.data(), 0x00, (size_t)(k / 4));          // row 0: all -1
        std::memset(p.w.data() + k / 4, 0xAA, (size_t)(k / 4));  // row 1: all +1
    }
    p.q = random_bytes((size_t)(n_tok * k), rng);
    std::memset(p.q.data(), -128, (size_t)k);
    if (il > 1) i2s_interleave(p.w.data(), k, n_rows, il);
    return p;
}

// The kernel over the whole matrix and over row ranges split as Context::matmul_i2s does
// (multiples of 16 rows), into an output with ldo > n_rows, against the scalar reference.
void expect_gemm_matches(I2sGemmFn gemm, const Problem &p, const char *what) {
    const int64_t ldo = p.n_rows + 3;
    std::vector<int32_t> want((size_t)(p.n_tok * ldo), -7), got(want.size(), -7);
    i2s_gemm_scalar(p.w.data(), p.k, p.n_rows, p.il, p.q.data(), p.n_tok, want.data(), ldo);
    gemm(p.w.data(), p.k, p.n_rows, p.il, p.q.data(), p.n_tok, got.data(), ldo);
    ASSERT_EQ(got, want) << what << " k=" << p.k << " rows=" << p.n_rows << " tok=" << p.n_tok
                         << " il=" << p.il;
    std::fill(got.begin(), got.end(), -7);
    const int64_t split[] = {0, 16, std::min<int64_t>(p.n_rows, 48), p.n_rows};
    for (int i = 0; i < 3; ++i) {
        const int64_t r0 = std::min(split[i], p.n_rows), r1 = std::min(split[i + 1], p.n_rows);
        if (r0 >= r1) continue;
        gemm(p.w.data() + r0 * (p.k / 4), p.k, r1 - r0, p.il, p.q.data(), p.n_tok, got.data() + r0,
             ldo);
    }
    ASSERT_EQ(got, want) << what << " in row ranges, k=" << p.k << " rows=" << p.n_rows
                         << " tok=" << p.n_tok << " il=" << p.il;
}

// Shapes covering every tail: tokens and rows below, at and past one and two tiles.
void expect_gemm_shapes(I2sGemmFn gemm, const char *what) {
    std::mt19937 rng(3);
    struct Shape {
        int64_t k, rows, tok;
    };
    const Shape shapes[] = {{128, 16, 16}, {128, 4, 1},   {256, 20, 5},  {384, 32, 17},
                            {128, 36, 33}, {256, 64, 40}, {128, 52, 31}, {256, 48, 32}};
    for (const Shape &s : shapes) {
        for (int il : {1, 4}) {
            const Problem p = make_problem(s.k, s.rows, s.tok, il, rng);
            expect_gemm_matches(gemm, p, what);
        }
    }
}

TEST(AmxGemm, EmulatedTilesMatchScalarReference) {
    expect_gemm_shapes(detail::i2s_gemm_amx_emulated, "emulated tiles, scalar unpack");
}

TEST(AmxGemm, EmulatedTilesAvx512UnpackMatchScalarReference) {
#if defined(BITNET_AMX_KERNELS)
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
    expect_gemm_shapes(detail::i2s_gemm_amx_emulated_avx512, "emulated tiles, AVX-512 unpack");
#else
    GTEST_SKIP() << "AMX kernels not built (compiler without -mamx-tile)";
#endif
}

TEST(AmxGemm, EmulatedTilesTokenBlocksAtModelShape) {
    // k = 6912 makes the token block 128 tokens (1 MiB of activations): 130 tokens cross it.
    std::mt19937 rng(8);
    const Problem p = make_problem(6912, 20, 130, 4, rng);
    expect_gemm_matches(detail::i2s_gemm_amx_emulated, p, "emulated tiles, token blocks");
}

// ---- real tiles ----------------------------------------------------------------------------------

TEST(AmxHardware, TileProductsMatchEmulation) {
#if defined(BITNET_AMX_KERNELS)
    if (!isa_supported(Isa::Amx)) GTEST_SKIP() << amx_status();
    std::mt19937 rng(21);
    for (int rep = 0; rep < 50; ++rep) {
        for (int op = 0; op < 2; ++op) {
            auto a = random_bytes(1024, rng), b = random_bytes(1024, rng);
            if (rep == 0) std::fill(a.begin(), a.end(), (int8_t)-128), std::fill(b.begin(), b.end(), (int8_t)-128);
            std::vector<int32_t> c(256), e(256);
            for (auto &v : c) v = (int32_t)rng();
            if (rep == 0) std::fill(c.begin(), c.end(), INT32_MAX);
            e = c;
            detail::amx_tile_dot_hw(op, a.data(), b.data(), c.data());
            EmulatedTiles t;
            t.configure(full_tile_config());
            t.load(0, e.data(), 64);
            t.load(4, a.data(), 64);
            t.load(6, b.data(), 64);
            op == 0 ? t.dpbssd(0, 4, 6) : t.dpbusd(0, 4, 6);
            t.store(0, e.data(), 64);
            ASSERT_EQ(c, e) << (op == 0 ? "TDPBSSD" : "TDPBUSD") << " rep " << rep;
        }
    }
#else
    GTEST_SKIP() << "AMX kernels not built (compiler without -mamx-tile)";
#endif
}

TEST(AmxHardware, TilesMatchScalarReference) {
#if defined(BITNET_AMX_KERNELS)
    if (!isa_supported(Isa::Amx)) GTEST_SKIP() << amx_status();
    expect_gemm_shapes(detail::i2s_gemm_amx_tiles, "hardware tiles");
    std::mt19937 rng(9);
    expect_gemm_matches(detail::i2s_gemm_amx_tiles, make_problem(6912, 20, 130, 4, rng),
                        "hardware tiles, token blocks");
    expect_gemm_matches(table(Isa::Amx).i2s_gemm, make_problem(2560, 64, 70, 4, rng),
                        "dispatched AMX table");
#else
    GTEST_SKIP() << "AMX kernels not built (compiler without -mamx-tile)";
#endif
}

TEST(AmxDispatch, StatusAndFallback) {
    const char *status = amx_status();
    ASSERT_NE(status, nullptr);
    if (isa_supported(Isa::Amx)) {
        EXPECT_EQ(table(Isa::Amx).isa, Isa::Amx);
        EXPECT_EQ(best_isa() == Isa::Amx || std::getenv("BITNET_ISA") != nullptr, true);
        EXPECT_EQ(table(Isa::Amx).i2s_gemv, table(Isa::Avx512).i2s_gemv);  // decode stays AVX-512
    } else {
        EXPECT_NE(std::string(status).find("AMX not used"), std::string::npos) << status;
        EXPECT_THROW(table(Isa::Amx), std::invalid_argument);
        EXPECT_NE(best_isa(), Isa::Amx);
    }
    EXPECT_STREQ(isa_name(Isa::Amx), "amx");
}

}  // namespace
}  // namespace bitnet::kernels
