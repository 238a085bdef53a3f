// Row dequantisation of the GGML block types (ggml's dequantize_row_* semantics; layouts in
// ../shared/docs/ternary-formats.md section 2 and ggml-common.h): value = d * q, the products in
// float32 as ggml computes them.
#include "formats/dequant.h"

#include <cstring>

#include "common/fp16.h"
#include "kernels/kernels.h"

namespace bitnet::formats {

namespace {
inline uint16_t half_at(const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return h;
}
}  // namespace

void f32_row(const uint8_t *row, int64_t n, float *out) {
    std::memcpy(out, row, (size_t)n * sizeof(float));
}

void f16_row(const uint8_t *row, int64_t n, float *out) {
    for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(half_at(row + 2 * i));
}

void bf16_row(const uint8_t *row, int64_t n, float *out) {
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(half_at(row + 2 * i));
}

// block_q8_0: f16 d, int8 qs[32].
void q8_0_row(const uint8_t *row, int64_t n, float *out) {
    for (int64_t b = 0; b < n / 32; ++b, row += 34, out += 32) {
        const float d = f16_to_f32(half_at(row));
        for (int j = 0; j < 32; ++j) out[j] = (float)(int8_t)row[2 + j] * d;
    }
}

// block_q4_0: f16 d, qs[16]; value j in the low nibble of byte j, value j + 16 in its high
// nibble, both offset by 8.
void q4_0_row(const uint8_t *row, int64_t n, float *out) {
    for (int64_t b = 0; b < n / 32; ++b, row += 18, out += 32) {
        const float d = f16_to_f32(half_at(row));
        for (int j = 0; j < 16; ++j) {
            out[j] = (float)((row[2 + j] & 0x0f) - 8) * d;
            out[j + 16] = (float)((row[2 + j] >> 4) - 8) * d;
        }
    }
}

// block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d; 256 values in
// two halves of 128, each 4 quarter-rows of 32 whose 16-value groups have their own scale.
void q6_k_row(const uint8_t *row, int64_t n, float *out) {
    for (int64_t b = 0; b < n / 256; ++b, row += 210) {
        const uint8_t *ql = row, *qh = row + 128;
        const int8_t *sc = reinterpret_cast<const int8_t *>(row + 192);
        const float d = f16_to_f32(half_at(row + 208));
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, out += 128) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = (int)((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32;
                const int q2 = (int)((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                out[l] = d * (float)sc[is] * (float)q1;
                out[l + 32] = d * (float)sc[is + 2] * (float)q2;
                out[l + 64] = d * (float)sc[is + 4] * (float)q3;
                out[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

void tq1_0_row(const uint8_t *row, int64_t n, float *out) {
    int8_t t[kernels::kTqBlock];
    for (int64_t b = 0; b < n / kernels::kTqBlock; ++b) {
        uint16_t d;
        kernels::tq1_unpack(row + b * kernels::kTq1BlockBytes, kernels::kTqBlock, t, &d);
        const float df = f16_to_f32(d);
        for (int64_t i = 0; i < kernels::kTqBlock; ++i) *out++ = (float)t[i] * df;
    }
}

void tq2_0_row(const uint8_t *row, int64_t n, float *out) {
    int8_t t[kernels::kTqBlock];
    for (int64_t b = 0; b < n / kernels::kTqBlock; ++b) {
        uint16_t d;
        kernels::tq2_unpack(row + b * kernels::kTq2BlockBytes, kernels::kTqBlock, t, &d);
        const float df = f16_to_f32(d);
        for (int64_t i = 0; i < kernels::kTqBlock; ++i) *out++ = (float)t[i] * df;
    }
}

}  // namespace bitnet::formats
