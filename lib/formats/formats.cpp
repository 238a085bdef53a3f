// The weight-format table and the bindings built on it (formats.h).
#include "formats/formats.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>

#include "common/error.h"
#include "common/fp16.h"
#include "formats/dequant.h"
#include "kernels/kernels.h"
#include "runtime/threadpool.h"

namespace bitnet::formats {

using gguf::TensorType;

namespace {

constexpr Traits kF32{TensorType::F32, "F32", 1, 4, ScaleKind::None, false, true, f32_row};
constexpr Traits kF16{TensorType::F16, "F16", 1, 2, ScaleKind::None, false, true, f16_row};
constexpr Traits kBF16{TensorType::BF16, "BF16", 1, 2, ScaleKind::None, false, true, bf16_row};
constexpr Traits kQ8_0{TensorType::Q8_0, "Q8_0", 32, 34, ScaleKind::PerBlock, false, true,
                       q8_0_row};
constexpr Traits kQ4_0{TensorType::Q4_0, "Q4_0", 32, 18, ScaleKind::PerBlock, false, true,
                       q4_0_row};
constexpr Traits kQ6_K{TensorType::Q6_K, "Q6_K", 256, 210, ScaleKind::PerBlock, false, true,
                       q6_k_row};
constexpr Traits kTQ1_0{TensorType::TQ1_0, "TQ1_0", 256, 54, ScaleKind::PerBlock, true, true,
                        tq1_0_row};
constexpr Traits kTQ2_0{TensorType::TQ2_0, "TQ2_0", 256, 66, ScaleKind::PerBlock, true, true,
                        tq2_0_row};
constexpr Traits kI2_S{TensorType::I2_S, "I2_S", 128, 32, ScaleKind::PerTensor, true, false,
                       nullptr};

std::string shape_str(const gguf::TensorInfo &t) {
    std::string s = "{";
    for (uint32_t i = 0; i < t.n_dims; ++i) {
        if (i) s += ", ";
        s += std::to_string(t.ne[i]);
    }
    return s + "}";
}

Matrix view(const gguf::TensorInfo &t) {
    Matrix m;
    m.name = t.name;
    m.type = m.file_type = t.type;
    m.k = t.ne[0];
    m.rows = t.ne[1];
    m.data = t.data;
    return m;
}

void bind_i2s(gguf::File &f, const gguf::TensorInfo &t, const TernaryOptions &opt, Matrix &m) {
    std::memcpy(&m.scale, t.data + (m.k * m.rows) / 4, sizeof(float));
    if (!std::isfinite(m.scale)) {
        fail(BITNET_ERR_BAD_FORMAT, f.path() + ": I2_S tensor '" + t.name + "' has a non-finite scale");
    }
    if (opt.interleave && m.rows % kI2sInterleave == 0 && f.writable()) {
        // Same bytes, same values: only the order of the 32-byte blocks changes.
        kernels::i2s_interleave(f.writable_data(t), m.k, m.rows, kI2sInterleave);
        m.il = kI2sInterleave;
    }
}

// What the rows of a TQ tensor say about their block scales.
struct BlockScan {
    bool have = false;      // some block holds a non-zero trit
    bool uniform = true;    // all such blocks have the same d bits
    uint16_t d = 0;         // that d
    int64_t bad_row = -1;   // first row with a non-finite d or a code of 3 (TQ2_0)
};

// TQ2_0 / TQ1_0 -> I2_S codes (ternary-formats.md 2.7): the trits are the same, only the packing
// changes. Rows are independent, so they are converted on all cores.
void bind_tq(gguf::File &f, const gguf::TensorInfo &t, const TernaryOptions &opt, Storage &store,
             Matrix &m) {
    const int64_t k = m.k, rows = m.rows, nb = k / kernels::kTqBlock;
    const int64_t rb = row_bytes(t.type, k);
    const bool tq1 = t.type == TensorType::TQ1_0;
    uint8_t *codes = store.alloc((size_t)(k / 4 * rows));
    std::vector<float> bscale((size_t)(rows * nb));
    std::vector<BlockScan> scans;
    std::mutex mu;
    auto convert = [&](int ith, int nth) {
        BlockScan s;
        std::vector<int8_t> trit((size_t)k);
        std::vector<uint16_t> d((size_t)nb);
        for (int64_t r = rows * ith / nth; r < rows * (ith + 1) / nth; ++r) {
            const uint8_t *src = t.data + r * rb;
            tq1 ? kernels::tq1_unpack(src, k, trit.data(), d.data())
                : kernels::tq2_unpack(src, k, trit.data(), d.data());
            for (int64_t b = 0; b < nb; ++b) {
                const float df = f16_to_f32(d[(size_t)b]);
                bscale[(size_t)(r * nb + b)] = df;
                bool nonzero = false;
                for (int64_t i = b * kernels::kTqBlock; i < (b + 1) * kernels::kTqBlock; ++i) {
                    if (trit[(size_t)i] > 1 && s.bad_row < 0) s.bad_row = r;
                    nonzero |= trit[(size_t)i] != 0;
                }
                if (!std::isfinite(df) && s.bad_row < 0) s.bad_row = r;
                if (!nonzero) continue;
                if (!s.have) {
                    s.have = true;
                    s.d = d[(size_t)b];
                } else if (d[(size_t)b] != s.d) {
                    s.uniform = false;
                }
            }
            kernels::i2s_pack(trit.data(), k, codes + r * (k / 4));
        }
        std::lock_guard<std::mutex> lock(mu);
        scans.push_back(s);
    };
    runtime::ThreadPool pool(std::max(1, std::min(runtime::physical_core_count(), 16)));
    pool.run(convert);
    BlockScan all;
    for (const BlockScan &s : scans) {
        if (s.bad_row >= 0 && (all.bad_row < 0 || s.bad_row < all.bad_row)) all.bad_row = s.bad_row;
        if (!s.have) continue;
        if (!s.uniform || (all.have && s.d != all.d)) all.uniform = false;
        if (!all.have) all.d = s.d;
        all.have = true;
    }
    if (all.bad_row >= 0) {
        fail(BITNET_ERR_BAD_FORMAT, f.path() + ": " + traits(t.type).name + " tensor '" + t.name +
                                        "' row " + std::to_string(all.bad_row) +
                                        " has a non-finite block scale or a code outside -1/0/+1");
    }
    m.type = TensorType::I2_S;
    m.data = codes;
    if (all.uniform) {
        // One scale for the tensor: the same numbers as an I2_S file of these trits, and the
        // fast kernels of every ISA.
        m.scale = all.have ? f16_to_f32(all.d) : 0.0f;
        if (opt.interleave && rows % kI2sInterleave == 0) {
            kernels::i2s_interleave(codes, k, rows, kI2sInterleave);
            m.il = kI2sInterleave;
        }
    } else {
        store.floats.push_back(std::move(bscale));
        m.block_scale = store.floats.back().data();
    }
    f.release_pages(t);  // the TQ bytes are not read again
}

}  // namespace

uint8_t *Storage::alloc(size_t n) {
    bytes.push_back(std::make_unique<uint8_t[]>(n));
    n_bytes += n;
    return bytes.back().get();
}

const Traits &traits(TensorType t) {
    switch (t) {
        case TensorType::F32: return kF32;
        case TensorType::F16: return kF16;
        case TensorType::BF16: return kBF16;
        case TensorType::Q8_0: return kQ8_0;
        case TensorType::Q4_0: return kQ4_0;
        case TensorType::Q6_K: return kQ6_K;
        case TensorType::TQ1_0: return kTQ1_0;
        case TensorType::TQ2_0: return kTQ2_0;
        case TensorType::I2_S: return kI2_S;
    }
    fail(BITNET_ERR_INTERNAL, "formats::traits: unknown tensor type " + std::to_string((int)t));
}

int64_t row_bytes(TensorType t, int64_t k) {
    const Traits &tr = traits(t);
    if (t == TensorType::I2_S) return k / 4;
    return k / tr.block_values * tr.block_bytes;
}

Matrix bind_ternary(gguf::File &f, const gguf::TensorInfo &t, const TernaryOptions &opt,
                    Storage &store) {
    Matrix m = view(t);
    switch (t.type) {
        case TensorType::I2_S: bind_i2s(f, t, opt, m); break;
        case TensorType::TQ1_0:
        case TensorType::TQ2_0: bind_tq(f, t, opt, store, m); break;
        case TensorType::F32:
        case TensorType::F16: break;
        default:
            fail(BITNET_ERR_UNSUPPORTED,
                 f.path() + ": tensor '" + t.name + "' " + shape_str(t) + " has type " +
                     traits(t.type).name +
                     ", which is not supported for a BitLinear weight (I2_S, TQ2_0, TQ1_0, F32 or "
                     "F16)");
    }
    return m;
}

Matrix bind_float(const gguf::File &f, const gguf::TensorInfo &t) {
    const Traits &tr = traits(t.type);
    if (!tr.float_weight || tr.ternary) {
        fail(BITNET_ERR_UNSUPPORTED,
             f.path() + ": tensor '" + t.name + "' has type " + tr.name +
                 ", which is not supported for an embedding or output matrix (F32, F16, BF16, "
                 "Q8_0, Q6_K or Q4_0)");
    }
    return view(t);
}

Matrix head_matrix(const Matrix &m, Storage &store, int n_threads) {
    if (m.type == TensorType::F16 || m.type == TensorType::F32) return m;
    // Dequantised to F16 once: the product kernels of every ISA then apply (for Q8_0/Q4_0/Q6_K
    // values d*q this rounds to 11 significant bits, a relative 2^-12 at most).
    Matrix h = m;
    h.type = TensorType::F16;
    uint16_t *out = reinterpret_cast<uint16_t *>(store.alloc((size_t)(m.k * m.rows) * 2));
    runtime::ThreadPool pool(std::max(1, n_threads));
    pool.run([&](int ith, int nth) {
        std::vector<float> row((size_t)m.k);
        for (int64_t r = m.rows * ith / nth; r < m.rows * (ith + 1) / nth; ++r) {
            row_to_float(m, r, row.data());
            for (int64_t i = 0; i < m.k; ++i) out[r * m.k + i] = f32_to_f16(row[(size_t)i]);
        }
    });
    h.data = reinterpret_cast<const uint8_t *>(out);
    return h;
}

void row_to_float(const Matrix &m, int64_t row, float *out) {
    traits(m.type).to_float(m.data + row * row_bytes(m.type, m.k), m.k, out);
}

}  // namespace bitnet::formats
