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

// Amx = the AVX-512 table with the I2_S GEMM on AMX-INT8 tiles (prefill and batched decode;
// decode's gemv stays AVX-512).
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3, Amx = 4 };

const char *isa_name(Isa isa);
// True if the CPU (and this build) can run kernels of this ISA. For Amx this also asks Linux
// for the tile data state (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)), once per
// process, before any tile instruction runs.
bool isa_supported(Isa isa);
// Best supported ISA; BITNET_ISA=scalar|avx2|avx512|amx|neon overrides it (an unsupported or
// unknown value falls back to the best supported one, with a warning on stderr).
Isa best_isa();
// One line on AMX for version and bench output: "AMX-INT8 tiles in use for I2_S GEMM" or why
// not ("not built", "CPU has no AMX-TILE/AMX-INT8", "OS did not enable the tile state (XCR0)",
// "Linux refused the tile data permission (arch_prctl)", "needs AVX-512 as well").
const char *amx_status();

// Per-token int8 activation quantisation (BitLinear input; reference section 3.4):
//   max = max(1e-5, max_k |x_k|) (double);  s = (float)(127 / max);
//   q_k = clamp(round_half_even(x_k * s  [float32 product]), -128, 127)
// Writes n int8 values to q and returns s; *sum receives sum_k q_k. Non-finite input is
// handled identically everywhere: NaNs do not count towards the max and quantise to -128.
using QuantizeRowI8Fn = float (*)(const float *x, int64_t n, int8_t *q, int32_t *sum);

// I2_S (official x86 layout: 128-value blocks of 32 bytes, value j of a block in byte j%32,
// bits 7-2*(j/32) .. 6-2*(j/32); codes 0,1,2 = -1,0,+1) times int8 activations.
// Rows may be interleaved in groups of il (1 = the file's layout, row r at w + r*(k/4); 4 = the
// layout i2s_interleave makes at load time, where block b of the il rows of a group lie side by
// side): row r's block b is at w + (r/il)*il*(k/4) + b*il*32 + (r%il)*32. w points at the first
// row of a group; k % 128 == 0 and n_rows % il == 0.
// out[r] = sum_k t[r][k] * q[k]  (t in {-1,0,+1}; exact int32)  for r in [0, n_rows).
// Code 3 never occurs in valid data; every implementation decodes it as t = 3 - 1 = 2.
using I2sGemvFn = void (*)(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                           int32_t *out);
// Same for n_tok activation rows (row j at q + j*k): out[j*ldo + r].
using I2sGemmFn = void (*)(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                           int64_t n_tok, int32_t *out, int64_t ldo);

// F16 weights (IEEE half, row r at w + r*k) times float32 activations, float32 accumulation:
// y[r] = sum_k f16_to_f32(w[r][k]) * x[k] for r in [0, n_rows).
using F16GemvFn = void (*)(const uint16_t *w, int64_t k, int64_t n_rows, const float *x,
                           float *y);
// n_tok activation rows (x + j*k): y[j*ldy + r].
using F16GemmFn = void (*)(const uint16_t *w, int64_t k, int64_t n_rows, const float *x,
                           int64_t n_tok, float *y, int64_t ldy);

// F32 weights (row r at w + r*k) times float32 activations: y[j*ldy + r] = sum_i w[r][i] x[j*k+i]
// (attention scores against an F32 KV cache; small sizes, so no OpenBLAS call per head).
using F32GemmFn = void (*)(const float *w, int64_t k, int64_t n_rows, const float *x,
                           int64_t n_tok, float *y, int64_t ldy);

// Weighted sum of rows (attention output from V): for j < n_p and i < k,
// out[j*ldo + i] = sum_{r < n_rows} p[j*ldp + r] * v[r*k + i]   (overwrites out).
using F16WsumFn = void (*)(const uint16_t *v, int64_t k, int64_t n_rows, const float *p,
                           int64_t n_p, int64_t ldp, float *out, int64_t ldo);
using F32WsumFn = void (*)(const float *v, int64_t k, int64_t n_rows, const float *p,
                           int64_t n_p, int64_t ldp, float *out, int64_t ldo);

// int8 weights with one float scale per block of kQ8Block values of a row (the opt-in Q8 LM
// head; k % kQ8Block == 0) times float32 activations, float accumulation:
// y[j*ldy + r] = sum_b scale[r*(k/kQ8Block) + b] * sum_{i in block b} w[r*k + i] * x[j*k + i].
inline constexpr int64_t kQ8Block = 32;
using Q8GemmFn = void (*)(const int8_t *w, const float *scale, int64_t k, int64_t n_rows,
                          const float *x, int64_t n_tok, float *y, int64_t ldy);

// Quantises one row of k F16 values (k % kQ8Block == 0) to the Q8 LM head's format: for each
// block b of kQ8Block values, amax = max |x| (NaNs skipped), scale[b] = amax > 0 ? amax / 127 : 1,
// q_i = clamp(round_half_even(x_i / scale[b]), -128, 127) (NaN -> -128, as quantize_row_i8).
// Bit-identical on every ISA.
using Q8QuantizeF16Fn = void (*)(const uint16_t *x, int64_t k, int8_t *q, float *scale);

// The opt-in Q4 LM head: 4-bit values v in [-8, 7] stored as v + 8, one float scale per block of
// kQ8Block (32) values of a row: row r's block b is 16 bytes at w + r*(k/2) + b*16, byte j holding
// value j in bits 0-3 and value j + 16 in bits 4-7 (as ggml's Q4_0, with a float scale).
// The activations are quantised per block of 32 as well (as ggml's Q8_0; q4_quantize_x below),
// so that each block's products are an exact integer sum:
// y[j*ldy + r] = sum_b (scale[r*(k/32) + b] * d_jb) * sum_{i in block b} v[r][i] * xq_j[i],
// the float sum over b in any order.
using Q4GemmFn = void (*)(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows,
                          const float *x, int64_t n_tok, float *y, int64_t ldy);
// Quantises one F16 row to Q4: amax per block (NaNs skipped), scale = amax > 0 ? amax / 7 : 1,
// v_i = clamp(round_half_even(x_i / scale), -8, 7) (NaN -> -8). Bit-identical on every ISA.
using Q4QuantizeF16Fn = void (*)(const uint16_t *x, int64_t k, uint8_t *q, float *scale);

// float32 -> F16 (round to nearest even), e.g. when appending to an F16 KV cache.
using F32ToF16Fn = void (*)(const float *x, uint16_t *y, int64_t n);

// Row-wise float operations of the forward pass (reference section 4.2). Every implementation
// gives bit-identical results (kernels_isa.h defines the shared operation order), so they do
// not make logits depend on the ISA.
//
// RMSNorm: y_i = (x_i * s) * w_i with s = 1 / sqrt((float)(sum_i x_i^2 / n) + eps), the sum of
// squares in double as 8 interleaved partial sums (element i into sum i % 8) combined in a fixed
// order. n > 0; y may be x (in place).
using RmsNormFn = void (*)(const float *x, const float *w, int64_t n, float eps, float *y);
// NeoX-style RoPE in place on n_heads heads of head_dim floats (v + h*head_dim): the first n_rot
// values of each head rotate in pairs (i, i + n_rot/2) by the angle whose cosine and sine are
// cos[i], sin[i] (i < n_rot/2): v_i' = v_i c - v_j s, v_j' = v_i s + v_j c. No fused multiply-add.
using RopeFn = void (*)(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                        const float *cos, const float *sin);
// Normal ("NORM", GPT-J style) RoPE, same contract as RopeFn but on adjacent pairs (2i, 2i + 1):
// v_2i' = v_2i c - v_2i+1 s, v_2i+1' = v_2i s + v_2i+1 c with c = cos[i], s = sin[i]. Arch `llama`
// (llama.cpp's converter permutes the Q/K rows so that this equals rotate-half RoPE).
using RopeNormFn = RopeFn;
// Softmax in place over n floats after scaling: s_i = x_i * scale, m = max_i s_i (NaNs skipped),
// e_i = exp(s_i - m) with the polynomial exp of kernels_isa.h (within 2 ulp of expf), then
// x_i = e_i * (float)(1 / sum_i e_i), the sum in double as RMSNorm's. n > 0.
using SoftmaxFn = void (*)(float *x, int64_t n, float scale);

struct KernelTable {
    Isa isa;
    QuantizeRowI8Fn quantize_row_i8;
    I2sGemvFn i2s_gemv;
    I2sGemmFn i2s_gemm;
    F16GemvFn f16_gemv;
    F16GemmFn f16_gemm;
    F32GemmFn f32_gemm;
    F16WsumFn f16_wsum;
    F32WsumFn f32_wsum;
    Q8GemmFn q8_gemm;
    F32ToF16Fn f32_to_f16;
    RmsNormFn rms_norm;
    RopeFn rope_neox;
    SoftmaxFn softmax;
    Q8QuantizeF16Fn q8_quantize_f16;
    Q4GemmFn q4_gemm;
    Q4QuantizeF16Fn q4_quantize_f16;
    RopeNormFn rope_norm;
};

// Table for an ISA (must be supported: throws std::invalid_argument otherwise); the scalar
// table always exists.
const KernelTable &table(Isa isa);
// Table of best_isa(), chosen once (or the one set_active_isa chose).
const KernelTable &active();
// Switches the table active() returns (must be supported): lets tests and benches run the
// whole engine on each ISA in one process. Not for use while evaluations are running.
void set_active_isa(Isa isa);

// Scalar reference kernels (always available; also used by tests as ground truth).
float quantize_row_i8_scalar(const float *x, int64_t n, int8_t *q, int32_t *sum);
void i2s_gemv_scalar(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                     int32_t *out);
void i2s_gemm_scalar(const uint8_t *w, int64_t k, int64_t n_rows, int il, const int8_t *q,
                     int64_t n_tok, int32_t *out, int64_t ldo);
void f16_gemv_scalar(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, float *y);
void f16_gemm_scalar(const uint16_t *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                     float *y, int64_t ldy);

void f32_gemm_scalar(const float *w, int64_t k, int64_t n_rows, const float *x, int64_t n_tok,
                     float *y, int64_t ldy);
void f16_wsum_scalar(const uint16_t *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                     int64_t ldp, float *out, int64_t ldo);
void f32_wsum_scalar(const float *v, int64_t k, int64_t n_rows, const float *p, int64_t n_p,
                     int64_t ldp, float *out, int64_t ldo);
void q8_gemm_scalar(const int8_t *w, const float *scale, int64_t k, int64_t n_rows,
                    const float *x, int64_t n_tok, float *y, int64_t ldy);
void f32_to_f16_scalar(const float *x, uint16_t *y, int64_t n);
void q8_quantize_f16_scalar(const uint16_t *x, int64_t k, int8_t *q, float *scale);
// The same for float32 rows (F32 LM heads; not dispatched).
void q8_quantize_f32_scalar(const float *x, int64_t k, int8_t *q, float *scale);
void q4_gemm_scalar(const uint8_t *w, const float *scale, int64_t k, int64_t n_rows,
                    const float *x, int64_t n_tok, float *y, int64_t ldy);
void q4_quantize_f16_scalar(const uint16_t *x, int64_t k, uint8_t *q, float *scale);
void q4_quantize_f32_scalar(const float *x, int64_t k, uint8_t *q, float *scale);
// The Q4 product's activation quantisation, shared by every ISA (a few thousand values per
// token, so not vectorised): per block of 32, d = amax / 127 (amax over |x|, NaNs skipped;
// d = 1 for a zero block), xq_i = clamp(round_half_even(x_i / d), -128, 127), and the block's
// sum of xq (for the +8 offset of the stored nibbles). k % 32 == 0.
void q4_quantize_x(const float *x, int64_t k, int8_t *xq, float *d, int32_t *xsum);
void rms_norm_scalar(const float *x, const float *w, int64_t n, float eps, float *y);
void rope_neox_scalar(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                      const float *cos, const float *sin);
void rope_norm_scalar(float *v, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                      const float *cos, const float *sin);
void softmax_scalar(float *x, int64_t n, float scale);

// Helpers for tests/tools: pack ternary values (row-major, n % 128 == 0) into I2_S bytes
// (n/4 data bytes, scale not written) and unpack them again.
void i2s_pack(const int8_t *t, int64_t n, uint8_t *out);
void i2s_unpack(const uint8_t *w, int64_t n, int8_t *t);
// Rearranges an I2_S matrix (n_rows rows of k values, file layout, n_rows % il == 0) into the
// layout with rows interleaved in groups of il (see I2sGemvFn), in place. Decode streams the
// rows of a 4-row tile as one sequential run of bytes instead of four, which the hardware
// prefetchers follow far better (measured: 11-12 against 17 GB/s on one core).
void i2s_interleave(uint8_t *w, int64_t k, int64_t n_rows, int il);

// TQ1_0 / TQ2_0 (ggml's block_tq1_0 / block_tq2_0, ternary-formats.md sections 2.2-2.3): blocks
// of kTqBlock values along a row, the block's scale d as IEEE half in its last two bytes.
// pack: n % kTqBlock == 0 ternary values (row-major) into n / kTqBlock blocks, every block with
// scale d. unpack: the ternary values back (a code of 3, never written by ggml, decodes to +2 for
// TQ2_0) and, when d is not null, each block's scale bits (n / kTqBlock halves).
inline constexpr int64_t kTqBlock = 256;
inline constexpr int64_t kTq1BlockBytes = 54;
inline constexpr int64_t kTq2BlockBytes = 66;
void tq1_pack(const int8_t *t, int64_t n, uint16_t d, uint8_t *out);
void tq1_unpack(const uint8_t *w, int64_t n, int8_t *t, uint16_t *d);
void tq2_pack(const int8_t *t, int64_t n, uint16_t d, uint8_t *out);
void tq2_unpack(const uint8_t *w, int64_t n, int8_t *t, uint16_t *d);

}  // namespace bitnet::kernels
