// Row dequantisation of the GGML block types (formats.h Traits::to_float).
#pragma once

#include <cstdint>

namespace bitnet::formats {

void f32_row(const uint8_t *row, int64_t n, float *out);
void f16_row(const uint8_t *row, int64_t n, float *out);
void bf16_row(const uint8_t *row, int64_t n, float *out);
void q8_0_row(const uint8_t *row, int64_t n, float *out);
void q4_0_row(const uint8_t *row, int64_t n, float *out);
void q6_k_row(const uint8_t *row, int64_t n, float *out);
void tq1_0_row(const uint8_t *row, int64_t n, float *out);
void tq2_0_row(const uint8_t *row, int64_t n, float *out);

}  // namespace bitnet::formats
