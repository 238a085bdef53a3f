// Compute kernels: pointers, sizes and strides only; no knowledge of models or files.
//
// Semantics are defined by the scalar reference kernels (kernels/*_scalar.cpp), which follow
// ../shared/docs/bitnet-reference.md sections 3.4-3.5. Every SIMD kernel must give identical
// integer results and identical int8 quantisation; float results may differ only by
// summation order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitnet::kernels {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };

const char *isa_name(Isa isa);
// True if the CPU (and this build) can run kernels of this ISA.
bool isa_supported(Isa isa);
// Best supported ISA; BITNET_ISA=scalar|avx2|avx512|neon overrides it (an unsupported or
// unknown value falls back to the best supported one, with a warning on stderr).
Isa best_isa();

// Per-token int8 activation quantisation (BitLinear input; reference section 3.4):
//   max = max(1e-5, max_k |x_k|) (double);  s = (float)(127 / max);
//   q_k = clamp(round_half_even(x_k * s  [float32 product]), -128, 127)
// Writes n int8 values to q and returns s; *sum receives sum_k q_k. Non-finite input is
// handled identically everywhere: NaNs do not count towards the max and quantise to -128.
using QuantizeRowI8Fn = float (*)(const float *x, int64_t n, int8_t *q, int32_t *sum);

// I2_S (official x86 layout: 128-value blocks of 32 bytes, value j of a block in byte j%32,
// bits 7-2*(j/32) .. 6-2*(j/32); codes 0,1,2 = -1,0,+1) times int8 activations.
// w points at row 0 of the rows to compute; row r starts at w + r*(k/4). k % 128 == 0.
// out[r] = sum_k t[r][k] * q[k]  (t in {-1,0,+1}; exact int32)  for r in [0, n_rows).
// Code 3 never occurs in valid data; every implementation decodes it as t = 3 - 1 = 2.
using I2sGemvFn = void (*)(const uint8_t *w, int64_t k, int64_t n_rows, const int8_t *q,
                           int32_t *out);
// Same for n_tok activation rows (row j at q + j*k): out[j*ldo + r].
using I2sGemmFn = void (*)(const uint8_t *w, int64_t k, int64_t n_rows, const int8_t *q,
                           int64_t n_tok, int32_t *out, int64_t ldo);

// F16 weights (IEEE half, row r at w + r*k) times float32 activations, float32 accumulation:
// y[r] = sum_k f16_to_f32(w[r][k]) * x[k] for r in [0, n_rows).
using F16GemvFn = void (*)(const uint16_t *w, int64_t k, int64_t n_rows, const float *x,
                           float *y);
// n_tok activation rows (x + j*k): y[j*ldy + r].
using F16GemmFn = void (*)(const uint16_t *w, int64_t k, int64_t n_rows, const float *x,
                           int64_t n_tok, float *y, int64_t ldy);

struct KernelTable {
    Isa isa;
    QuantizeRowI8Fn quantize_row_i8;
    I2sGemvFn i2s_gemv;
    I2sGemmFn i2s_gemm;
    F16GemvFn f16_gemv;
    F16GemmFn f16_gemm;
};

// Table for an ISA (must be supported: throws std::invalid_argument otherwise); the scalar
// table always exists.
const KernelTable &table(Isa isa);
// Table of best_isa(), chosen once.
const KernelTable &active();

// Scalar reference kernels (always available; also used by tests as ground truth).
float quantize_row_i8_scalar(const float *x, int64_t n, int8_t *q, int32_t *sum);
void i2s_gemv_scalar(const uint8_t *w, int64_t k, int64_t n_rows, const int8_t *q, int32_t *out);
void i2s_gemm_scalar(const uint8_t *w, int64_t k, int64_t n_rows, const int8_t *q, int64_t n_tok,
                     int32_t *out, int64_t ldo);
void f16_gemv_scalar(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, float *y);
void f16_gemm_scalar(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                     float *y, int64_t ldy);

// Helpers for tests/tools: pack ternary values (row-major, n % 128 == 0) into I2_S bytes
// (n/4 data bytes, scale not written) and unpack them again.
void i2s_pack(const int8_t *t, int64_t n, uint8_t *out);
void i2s_unpack(const uint8_t *w, int64_t n, int8_t *t);

}  // namespace bitnet::kernels
