// Ternary weights from Hugging Face tensors: see ternary.h.
#include "convert/ternary.h"

#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/fp16.h"

namespace bitnet::convert {
namespace {

[[noreturn]] void bad(const StTensor &t, const std::string &what) {
    fail(BITNET_ERR_BAD_FORMAT, t.file + ": tensor '" + t.name + "' " + what);
}

std::string shape_str(const std::vector<uint64_t> &s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

float scale_value(const Checkpoint &ckpt, const std::string &prefix, ScaleRule rule) {
    const StTensor &s = ckpt.require(prefix + ".weight_scale");
    require_float(s);
    if (s.numel != 1) bad(s, "must hold one value, found " + std::to_string(s.numel));
    const float v = st_value(s, 0);
    if (!std::isfinite(v) || v < 0 || (rule == ScaleRule::Divide && v == 0))
        bad(s, "has the invalid scale " + std::to_string(v));
    // Divide: the stored value is 1 / mean|W| (transformers BitLinear divides its output by it).
    return rule == ScaleRule::Multiply ? v : (float)(1.0 / (double)v);
}

void unpack_packed(const StTensor &w, TernaryMatrix &m) {
    const int64_t p_rows = m.rows / 4;
    for (int64_t p = 0; p < p_rows; ++p) {
        const uint8_t *src = w.data + p * m.cols;
        for (int i = 0; i < 4; ++i) {
            int8_t *dst = m.trits.data() + (i * p_rows + p) * m.cols;
            for (int64_t c = 0; c < m.cols; ++c) {
                const int code = (src[c] >> (2 * i)) & 3;
                if (code == 3)
                    bad(w, "holds the code 3 (not a trit) at packed row " + std::to_string(p) +
                               ", column " + std::to_string(c));
                dst[c] = (int8_t)(code - 1);
            }
        }
    }
}

void absmean(const StTensor &w, TernaryMatrix &m) {
    const uint64_t n = w.numel;
    double sum = 0.0;
    for (uint64_t i = 0; i < n; ++i) {
        const float v = st_value(w, i);
        if (!std::isfinite(v)) bad(w, "holds a non-finite value at element " + std::to_string(i));
        sum += std::fabs((double)v);
    }
    const float mean = (float)(sum / (double)n);
    m.scale = std::fmax(mean, 1e-5f);
    for (uint64_t i = 0; i < n; ++i) {
        const double q = std::nearbyint((double)st_value(w, i) / (double)m.scale);
        m.trits[i] = (int8_t)(q > 1 ? 1 : q < -1 ? -1 : q);
    }
}

}  // namespace

float st_value(const StTensor &t, uint64_t i) {
    switch (t.type) {
        case StType::F32: {
            float v;
            std::memcpy(&v, t.data + 4 * i, 4);
            return v;
        }
        case StType::F16: {
            uint16_t h;
            std::memcpy(&h, t.data + 2 * i, 2);
            return f16_to_f32(h);
        }
        case StType::BF16: {
            uint16_t h;
            std::memcpy(&h, t.data + 2 * i, 2);
            return bf16_to_f32(h);
        }
        case StType::U8: return (float)t.data[i];
        case StType::I8: return (float)(int8_t)t.data[i];
        default: bad(t, "has dtype " + t.dtype + ", which cannot be converted");
    }
}

void require_float(const StTensor &t) {
    if (t.type != StType::F16 && t.type != StType::BF16 && t.type != StType::F32)
        bad(t, "has dtype " + t.dtype + "; expected F16, BF16 or F32");
}

void require_shape(const StTensor &t, const std::vector<uint64_t> &shape) {
    if (t.shape != shape) bad(t, "has shape " + shape_str(t.shape) + ", expected " + shape_str(shape));
}

void check_ternary(const Checkpoint &ckpt, const std::string &prefix, int64_t rows, int64_t cols,
                   ScaleRule rule) {
    const StTensor &w = ckpt.require(prefix + ".weight");
    if (w.type == StType::U8) {
        if (rows % 4 != 0)
            bad(w, "is packed, but its " + std::to_string(rows) + " rows are not a multiple of 4");
        require_shape(w, {(uint64_t)rows / 4, (uint64_t)cols});
        (void)scale_value(ckpt, prefix, rule);
    } else {
        require_float(w);
        require_shape(w, {(uint64_t)rows, (uint64_t)cols});
    }
}

TernaryMatrix load_ternary(const Checkpoint &ckpt, const std::string &prefix, int64_t rows,
                           int64_t cols, ScaleRule rule) {
    check_ternary(ckpt, prefix, rows, cols, rule);
    const StTensor &w = ckpt.require(prefix + ".weight");
    TernaryMatrix m;
    m.rows = rows;
    m.cols = cols;
    m.trits.resize((size_t)(rows * cols));
    if (w.type == StType::U8) {
        m.scale = scale_value(ckpt, prefix, rule);
        unpack_packed(w, m);
    } else {
        absmean(w, m);
    }
    ckpt.release(w);
    return m;
}

void permute_rope_rows(TernaryMatrix &m, int64_t n_heads) {
    if (n_heads <= 0 || m.rows % n_heads != 0 || (m.rows / n_heads) % 2 != 0)
        fail(BITNET_ERR_BAD_FORMAT, "cannot permute " + std::to_string(m.rows) + " rows into " +
                                        std::to_string(n_heads) + " heads of an even size");
    const int64_t hd = m.rows / n_heads;
    std::vector<int8_t> out(m.trits.size());
    for (int64_t h = 0; h < n_heads; ++h) {
        for (int64_t r = 0; r < hd; ++r) {
            const int64_t src = h * hd + (r % 2) * (hd / 2) + r / 2;
            std::memcpy(out.data() + (h * hd + r) * m.cols, m.trits.data() + src * m.cols,
                        (size_t)m.cols);
        }
    }
    m.trits.swap(out);
}

}  // namespace bitnet::convert
