// Tensor encoders: see encode.h.
#include "convert/encode.h"

#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/fp16.h"
#include "kernels/kernels.h"

namespace bitnet::convert {
namespace {

using gguf::TensorType;

[[noreturn]] void unsupported(const std::string &name, const std::string &what) {
    fail(BITNET_ERR_UNSUPPORTED, "tensor '" + name + "': " + what);
}

// Round to nearest even, NaN kept quiet.
uint16_t f32_to_bf16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

void q8_0_row(const float *x, int64_t k, uint8_t *out) {
    for (int64_t b = 0; b < k / 32; ++b) {
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(x[b * 32 + i]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t *blk = out + b * 34;
        const uint16_t dh = f32_to_f16(d);
        std::memcpy(blk, &dh, 2);
        for (int i = 0; i < 32; ++i) blk[2 + i] = (uint8_t)(int8_t)std::lround(x[b * 32 + i] * id);
    }
}

}  // namespace

bool is_ternary_type(TensorType t) {
    return t == TensorType::I2_S || t == TensorType::TQ1_0 || t == TensorType::TQ2_0;
}

std::vector<uint8_t> encode_ternary(const std::string &name, const int8_t *trits, int64_t rows,
                                    int64_t cols, float scale, TensorType type, bool exact_scale) {
    const int64_t ne[4] = {cols, rows, 1, 1};
    uint64_t nbytes = 0;
    std::string why;
    if (!gguf::tensor_nbytes_checked(type, ne, &nbytes, &why))
        unsupported(name, why + (type == TensorType::I2_S ? "" : " (try --type i2_s)"));
    const int64_t n = rows * cols;
    std::vector<uint8_t> out(nbytes, 0);
    if (type == TensorType::I2_S) {
        kernels::i2s_pack(trits, n, out.data());
        std::memcpy(out.data() + n / 4, &scale, 4);  // then 28 zero bytes
        return out;
    }
    const uint16_t d = f32_to_f16(scale);
    if (exact_scale && f16_to_f32(d) != scale)
        unsupported(name, "its scale " + std::to_string(scale) +
                              " is not exact in F16, so TQ1_0/TQ2_0 would change it");
    if (type == TensorType::TQ2_0)
        kernels::tq2_pack(trits, n, d, out.data());
    else
        kernels::tq1_pack(trits, n, d, out.data());
    return out;
}

Trits decode_ternary(const std::string &name, TensorType type, const uint8_t *data, int64_t ne0,
                     int64_t ne1) {
    const int64_t n = ne0 * ne1;
    Trits r;
    r.t.resize((size_t)n);
    if (type == TensorType::I2_S) {
        kernels::i2s_unpack(data, n, r.t.data());
        std::memcpy(&r.scale, data + n / 4, 4);
        return r;
    }
    std::vector<uint16_t> d((size_t)(n / kernels::kTqBlock));
    if (type == TensorType::TQ2_0)
        kernels::tq2_unpack(data, n, r.t.data(), d.data());
    else if (type == TensorType::TQ1_0)
        kernels::tq1_unpack(data, n, r.t.data(), d.data());
    else
        unsupported(name, std::string("type ") + gguf::tensor_type_name(type) + " is not ternary");
    bool have = false;
    uint16_t one = 0;
    for (size_t b = 0; b < d.size(); ++b) {
        bool nonzero = false;
        for (int64_t i = 0; i < kernels::kTqBlock; ++i) {
            const int8_t t = r.t[b * kernels::kTqBlock + i];
            if (t < -1 || t > 1) unsupported(name, "holds the code 3 (+2), which is not a trit");
            nonzero = nonzero || t != 0;
        }
        if (!nonzero) continue;
        if (have && d[b] != one)
            unsupported(name, "its blocks carry different scales; one scale per tensor cannot "
                              "hold them exactly");
        have = true;
        one = d[b];
    }
    r.scale = have ? f16_to_f32(one) : 0.0f;
    return r;
}

void encode_float_rows(const std::string &name, int64_t rows, int64_t cols, TensorType type,
                       const RowSource &row, const ByteSink &sink) {
    if (type == TensorType::Q8_0 && cols % 32 != 0)
        unsupported(name, "Q8_0 needs rows of a multiple of 32 values, found " + std::to_string(cols));
    std::vector<float> x((size_t)cols);
    std::vector<uint8_t> out;
    for (int64_t r = 0; r < rows; ++r) {
        row(r, x.data());
        switch (type) {
            case TensorType::F32:
                sink(x.data(), (size_t)cols * 4);
                continue;
            case TensorType::F16:
            case TensorType::BF16: {
                out.resize((size_t)cols * 2);
                for (int64_t i = 0; i < cols; ++i) {
                    uint16_t h;
                    if (type == TensorType::F16) {
                        h = f32_to_f16(x[i]);
                        if (std::isfinite(x[i]) && (h & 0x7c00u) == 0x7c00u)
                            fail(BITNET_ERR_BAD_FORMAT,
                                 "tensor '" + name + "': value " + std::to_string(x[i]) + " at row " +
                                     std::to_string(r) + " is beyond the F16 range (use --embd-type bf16 or f32)");
                    } else {
                        h = f32_to_bf16(x[i]);
                    }
                    std::memcpy(out.data() + 2 * i, &h, 2);
                }
                break;
            }
            case TensorType::Q8_0:
                out.resize((size_t)cols / 32 * 34);
                q8_0_row(x.data(), cols, out.data());
                break;
            default:
                unsupported(name, std::string("cannot write float data as ") + gguf::tensor_type_name(type));
        }
        sink(out.data(), out.size());
    }
}

}  // namespace bitnet::convert
