// Host-side launchers of the CUDA backend's kernels (cuda/kernels.cu), with plain pointers and
// sizes only: what backend.cpp composes into the forward pass. Every launcher enqueues on
// `stream` and returns cudaGetLastError() (cudaSuccess when the launch was accepted).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace bitnet::cuda::launch {

// Up to three I2_S matrices with the same input, evaluated in one launch (Q/K/V, gate/up):
// matrix m covers global rows [row_end[m-1], row_end[m]), its rows in the file's layout
// (row r at w[m] + r * k / 4), output y[m][t * ldy[m] + r] = (float)dot / s[t] * scale[m].
// dot, when not null, receives the integer products of matrix 0 (tests).
struct MatSet {
    const uint8_t *w[3] = {};
    int32_t row_end[3] = {};
    float scale[3] = {};
    float *y[3] = {};
    int64_t ldy[3] = {};
    int32_t n = 0;
    int32_t *dot = nullptr;
};

// Quantised activations in the permuted layout of kernels.cuh, one row of ldq bytes per token
// (ldq >= perm_row_bytes(k)), per-token scale s and sum of the int8 values.
struct QuantBuf {
    int8_t *q = nullptr;
    int64_t ldq = 0;
    float *s = nullptr;
    int32_t *sum = nullptr;
};

int64_t perm_row_bytes(int64_t k);
int64_t perm_offset(int64_t e);

// x[t] = row tokens[t] of the embedding table (F16 or F32, d values a row), as float.
cudaError_t embed(cudaStream_t stream, const void *table, bool f16, int64_t d,
                  const int32_t *tokens, int n_tok, float *x);

// Per token t < n_tok, over n values of row x + t * ldx:
//   if add: x += add (written back; the residual connection);
//   if gate_u: v = relu(x)^2 * u  (the FFN gate, u with stride ldx);
//   if w: v = RMSNorm(v) * w (reference section 4.2; sum of squares in double);
//   then, if qb.q, quantise v (reference section 3.4) into qb; if y, store v at y + t * ldx.
cudaError_t norm_quant(cudaStream_t stream, int n_tok, int64_t n, float *x, int64_t ldx,
                       const float *add, const float *gate_u, const float *w, float eps,
                       const QuantBuf &qb, float *y);

// The ternary products of ms with the activations of qb (see MatSet), n_tok tokens.
cudaError_t i2s_matmul(cudaStream_t stream, const MatSet &ms, int64_t k, const QuantBuf &qb,
                       int n_tok);

// NeoX RoPE (pairs i, i + n_rot/2; theta = pos * inv_freq[i] in double, inv_freq[i] =
// base^(-2i/n_rot) from the host) of q [n_tok][n_head * hd] in place and of k [n_tok]
// [n_head_kv * hd]; writes the rotated keys and the values v to the caches kc, vc
// [n_head_kv][n_ctx][hd] (F16, or F32 if kv_f32) at positions *pos0 + t.
cudaError_t rope_kv(cudaStream_t stream, int n_tok, const int32_t *pos0, const double *inv_freq,
                    float *q, const float *k, const float *v, int n_head, int n_head_kv, int hd,
                    int n_rot, bool kv_f32, void *kc, void *vc, int n_ctx);

// Causal GQA attention of each token t (position *pos0 + t) over the cached keys 0..pos:
// out[t][h * hd ..] = softmax(q_h . k_j / sqrt(hd)) . v_j, KV head h / (n_head / n_head_kv).
cudaError_t attention(cudaStream_t stream, int n_tok, const int32_t *pos0, const float *q,
                      bool kv_f32, const void *kc, const void *vc, int n_ctx, int n_head,
                      int n_head_kv, int hd, float *out);

// y[t][r] = sum_i w[r][i] * x[t][i] for F16 or F32 weights (rows of k values, k % 8 == 0),
// float accumulation: the LM head.
cudaError_t head(cudaStream_t stream, const void *w, bool f16, int64_t k, int rows, const float *x,
                 int n_tok, float *y);

// Raises the dynamic shared-memory limits of norm_quant (n up to max_n) and attention (n_ctx,
// hd); returns false when the device cannot give that much.
bool prepare_shared_memory(int64_t max_n, int n_ctx, int hd);

}  // namespace bitnet::cuda::launch
