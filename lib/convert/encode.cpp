// Tensor encoders: see encode.h.
#include "convert/encode.h"

#include <algorithm>
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

// ggml block_q6_K (256 values: ql[128] low 4 bits, qh[64] high 2 bits, int8 scales[16] of the
// 16-value sub-blocks, F16 d; value = d * scale[sub] * (q - 32), q in 0..63). The layout is
// ggml's (dequantize_row_q6_K); the scales are chosen simply, not by ggml's search: per
// sub-block the value of largest magnitude maps to q - 32 = -32 (as in ggml), d = max|sub
// scale| / 127, and each int8 scale is rounded away from zero so that no value is clamped:
// every value is then within one step (|scale| * d) of the original, half a step but for the
// +32 edge.
void q6_k_block(const float *x, uint8_t *out) {
    float sub[16];
    float amax_sub = 0.0f;
    for (int j = 0; j < 16; ++j) {
        float m = 0.0f;  // signed value of largest magnitude
        for (int i = 0; i < 16; ++i)
            if (std::fabs(x[16 * j + i]) > std::fabs(m)) m = x[16 * j + i];
        sub[j] = m / -32.0f;
        amax_sub = std::fmax(amax_sub, std::fabs(sub[j]));
    }
    uint8_t *ql = out, *qh = out + 128;
    int8_t *scales = reinterpret_cast<int8_t *>(out + 192);
    std::memset(out, 0, 210);
    uint16_t dh = f32_to_f16(amax_sub / 127.0f);
    if (f16_to_f32(dh) != 0.0f && amax_sub / f16_to_f32(dh) > 127.0f) ++dh;  // keep |scale| <= 127
    std::memcpy(out + 208, &dh, 2);
    const float dr = f16_to_f32(dh);
    if (dr == 0.0f) {  // all zero (or below F16's range): q = 32, scales 0
        for (int i = 0; i < 64; ++i) qh[i] = 0xAA;  // high bits 2 -> q = 32
        return;
    }
    uint8_t q[256];
    for (int j = 0; j < 16; ++j) {
        const float r = std::ceil(std::fabs(sub[j]) / dr);
        scales[j] = (int8_t)(sub[j] < 0 ? -std::fmin(r, 127.0f) : std::fmin(r, 127.0f));
        const float step = dr * scales[j];
        for (int i = 0; i < 16; ++i) {
            const int v = step != 0.0f ? (int)std::lround(x[16 * j + i] / step) : 0;
            q[16 * j + i] = (uint8_t)(std::clamp(v, -32, 31) + 32);
        }
    }
    for (int n = 0; n < 2; ++n) {
        const uint8_t *L = q + 128 * n;
        for (int l = 0; l < 32; ++l) {
            ql[64 * n + l] = (uint8_t)((L[l] & 0xF) | ((L[l + 64] & 0xF) << 4));
            ql[64 * n + l + 32] = (uint8_t)((L[l + 32] & 0xF) | ((L[l + 96] & 0xF) << 4));
            qh[32 * n + l] = (uint8_t)((L[l] >> 4) | ((L[l + 32] >> 4) << 2) | ((L[l + 64] >> 4) << 4) |
                                       ((L[l + 96] >> 4) << 6));
        }
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
    if (type == TensorType::Q6_K && cols % 256 != 0)
        unsupported(name, "Q6_K needs rows of a multiple of 256 values, found " + std::to_string(cols));
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
            case TensorType::Q6_K:
                out.resize((size_t)cols / 256 * 210);
                for (int64_t b = 0; b < cols / 256; ++b) q6_k_block(x.data() + 256 * b, out.data() + 210 * b);
                break;
            default:
                unsupported(name, std::string("cannot write float data as ") + gguf::tensor_type_name(type));
        }
        sink(out.data(), out.size());
    }
}

}  // namespace bitnet::convert
