// CUDA backend of the bitnet-b1.58 / bitnet-25 forward pass (issue 14): the whole graph of
// lib/model/context.cpp on one NVIDIA GPU, with the CPU's integer semantics (per-token int8
// absmax activations, exact int32 ternary products, y = (float)dot / s_act * scale).
//
// This header is plain C++ (no CUDA types), so lib/ can hold a backend whether or not the
// library was built with BITNET_CUDA: without it, create() fails with BITNET_ERR_UNSUPPORTED.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace bitnet {
class Model;
}

namespace bitnet::cuda {

// Whether this build contains the CUDA backend (CMake option BITNET_CUDA).
bool compiled();

// Number of CUDA devices the driver reports; 0 when none, when there is no driver, or when the
// backend is not compiled in. Never throws.
int device_count();

// Why `model` cannot run on the GPU ("" when it can): architecture, weight types (layer matrices
// I2_S, embedding and head F16 or F32), no load-time quantised LM head, head size.
std::string unsupported_reason(const Model &model);

// One sequence's GPU state: the uploaded weights, the device KV cache [layer][n_head_kv][n_ctx]
// [head_dim] (F16, or F32 with kv_f32), scratch for n_batch tokens, and the decode step's CUDA
// graph.
class Backend {
public:
    // Uploads the model's weights (ternary kept packed, 2 bits per weight) and allocates the KV
    // cache. Throws bitnet::Error: UNSUPPORTED (not compiled in, no device or driver, model not
    // supported: see unsupported_reason), OUT_OF_MEMORY (device allocation failed), INTERNAL.
    static std::unique_ptr<Backend> create(const Model &model, uint32_t n_ctx, int32_t n_batch,
                                           bool kv_f32);
    virtual ~Backend() = default;

    // Evaluates n_tok <= n_batch tokens at positions pos0 .. pos0 + n_tok - 1 (their keys and
    // values are written to the cache), then, if want_logits, copies the logits of the last
    // token (all_logits = false: n_vocab floats) or of every token (n_tok * n_vocab floats) to
    // logits_out. Token ids and positions are the caller's to validate. Throws bitnet::Error.
    virtual void forward(const int32_t *tokens, int64_t n_tok, int64_t pos0, bool want_logits,
                         bool all_logits, float *logits_out) = 0;
};

// Test hook (tests/test_cuda.cpp): one BitLinear on the GPU with the backend's kernels, for
// n_tok rows of x (k floats each) and an I2_S matrix of `rows` rows in the file's layout
// (row r at w + r * k / 4). Writes the quantised activations q [n_tok][k], their scales s
// [n_tok], the integer products dot [n_tok][rows] and y [n_tok][rows]. Throws bitnet::Error
// (UNSUPPORTED without a device).
void bitlinear_for_test(const float *x, int64_t n_tok, int64_t k, const uint8_t *w, int64_t rows,
                        float scale, int8_t *q, float *s, int32_t *dot, float *y);

}  // namespace bitnet::cuda
