// Exact scalar emulation of the AMX tile registers and instructions (amx_tiles.h). Compiled
// without ISA flags: it runs on every CPU, which is what lets the AMX kernels be tested where
// the hardware is absent.
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/amx_tiles.h"

namespace bitnet::kernels::detail::amx {

namespace {
[[noreturn]] void fault(const std::string &what) {
    throw std::logic_error("AMX emulation: " + what + " (the CPU would fault)");
}
}  // namespace

EmulatedTiles::EmulatedTiles() { std::memset(data_, 0, sizeof data_); }

void EmulatedTiles::configure(const TileConfig &cfg) {
    if (cfg.palette_id != 1) fault("LDTILECFG with palette " + std::to_string(cfg.palette_id));
    if (cfg.start_row != 0) fault("LDTILECFG with start_row != 0");
    for (uint8_t r : cfg.reserved) {
        if (r != 0) fault("LDTILECFG with non-zero reserved bytes");
    }
    for (int i = 0; i < 16; ++i) {
        const bool used = i < kNumTiles;
        const int rows = cfg.rows[i], colsb = cfg.colsb[i];
        if (!used && (rows != 0 || colsb != 0)) fault("LDTILECFG configures tile " + std::to_string(i));
        if (rows > kMaxRows || colsb > kMaxColsBytes) {
            fault("LDTILECFG: tile " + std::to_string(i) + " is " + std::to_string(rows) + " x " +
                  std::to_string(colsb) + " bytes");
        }
        if ((rows == 0) != (colsb == 0)) {
            fault("LDTILECFG: tile " + std::to_string(i) + " has only one of rows/colsb zero");
        }
    }
    cfg_ = cfg;
    configured_ = true;
    std::memset(data_, 0, sizeof data_);
}

void EmulatedTiles::release() {
    cfg_ = TileConfig{};
    configured_ = false;
    std::memset(data_, 0, sizeof data_);
}

void EmulatedTiles::check_tile(int t, const char *op) const {
    if (!configured_) fault(std::string(op) + " before LDTILECFG");
    if (t < 0 || t >= kNumTiles) fault(std::string(op) + " on tile " + std::to_string(t));
    if (cfg_.rows[t] == 0) fault(std::string(op) + " on unconfigured tile " + std::to_string(t));
}

void EmulatedTiles::load(int t, const void *base, int64_t stride) {
    check_tile(t, "TILELOADD");
    const auto *src = static_cast<const uint8_t *>(base);
    std::memset(data_[t], 0, sizeof data_[t]);
    for (int m = 0; m < cfg_.rows[t]; ++m) std::memcpy(data_[t][m], src + m * stride, cfg_.colsb[t]);
}

void EmulatedTiles::store(int t, void *base, int64_t stride) const {
    check_tile(t, "TILESTORED");
    auto *dst = static_cast<uint8_t *>(base);
    for (int m = 0; m < cfg_.rows[t]; ++m) std::memcpy(dst + m * stride, data_[t][m], cfg_.colsb[t]);
}

void EmulatedTiles::zero(int t) {
    check_tile(t, "TILEZERO");
    std::memset(data_[t], 0, sizeof data_[t]);
}

// C[m].dword[n] += sum_k sum_i ext(A[m].byte[4k+i]) * ext(B[k].byte[4n+i]), modulo 2^32 (the
// order of the additions does not matter modulo 2^32).
void EmulatedTiles::dot(int c, int a, int b, bool a_signed, bool b_signed) {
    check_tile(c, "TDPB*D");
    check_tile(a, "TDPB*D");
    check_tile(b, "TDPB*D");
    if (c == a || c == b || a == b) fault("TDPB*D with repeated tile registers");
    const int m_rows = cfg_.rows[c], n_cols = cfg_.colsb[c] / 4, k_cols = cfg_.colsb[a] / 4;
    if (cfg_.colsb[c] % 4 != 0 || cfg_.colsb[a] % 4 != 0 || cfg_.rows[a] != m_rows ||
        cfg_.rows[b] != k_cols || cfg_.colsb[b] != cfg_.colsb[c]) {
        fault("TDPB*D with mismatched tile shapes");
    }
    auto ext = [](uint8_t v, bool is_signed) -> uint32_t {
        return is_signed ? (uint32_t)(int32_t)(int8_t)v : (uint32_t)v;
    };
    for (int m = 0; m < m_rows; ++m) {
        for (int n = 0; n < n_cols; ++n) {
            uint32_t acc;
            std::memcpy(&acc, &data_[c][m][4 * n], 4);
            for (int k = 0; k < k_cols; ++k) {
                for (int i = 0; i < 4; ++i) {
                    acc += ext(data_[a][m][4 * k + i], a_signed) * ext(data_[b][k][4 * n + i], b_signed);
                }
            }
            std::memcpy(&data_[c][m][4 * n], &acc, 4);
        }
    }
}

}  // namespace bitnet::kernels::detail::amx
