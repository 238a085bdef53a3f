// Ternary projection weights of a Hugging Face checkpoint -> trits {-1, 0, +1} and one real
// scale per matrix (ternary-formats.md sections 1.0, 1.5, 3.6 steps 3-4).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/hf_config.h"
#include "convert/safetensors.h"

namespace bitnet::convert {

// rows x cols trits, row-major in Hugging Face order ([out_features, in_features]); the real
// weight is scale * trit.
struct TernaryMatrix {
    int64_t rows = 0, cols = 0;
    std::vector<int8_t> trits;
    float scale = 0.0f;
};

// Element i of a tensor of type F16/BF16/F32/U8/I8 as float (BAD_FORMAT for other dtypes is
// the caller's check: see require_float).
float st_value(const StTensor &t, uint64_t i);
// Fails (BAD_FORMAT, naming tensor and file) unless t's dtype is F16, BF16 or F32.
void require_float(const StTensor &t);
// Fails unless t.shape == shape.
void require_shape(const StTensor &t, const std::vector<uint64_t> &shape);

// `<prefix>.weight` of a rows x cols projection:
//  - U8 [rows/4, cols] packed as transformers' pack_weights (row i*rows/4 + p in bits 2i..2i+1
//    of packed row p, code = trit + 1) with `<prefix>.weight_scale` (one value): real weight =
//    trit * s (ScaleRule::Multiply) or trit / s (Divide);
//  - F16/BF16/F32 [rows, cols] latent weights: absmean ternarisation, m = max(mean|W|, 1e-5),
//    trit = clamp(round_half_even(W / m), -1, 1), scale m.
// Checks what load_ternary will read (tensors present, dtypes, shapes, the scale) without
// reading the weights, so that a conversion fails before it writes anything.
void check_ternary(const Checkpoint &ckpt, const std::string &prefix, int64_t rows, int64_t cols,
                   ScaleRule rule);
TernaryMatrix load_ternary(const Checkpoint &ckpt, const std::string &prefix, int64_t rows,
                           int64_t cols, ScaleRule rule);

// The Q/K row order that arch `llama` (normal RoPE on adjacent pairs) expects, from Hugging
// Face's rotate-half order: within each head of head_dim rows, stored row 2i + j = HF row
// j * head_dim / 2 + i (llama.cpp convert_hf_to_gguf.py LlamaModel.permute).
void permute_rope_rows(TernaryMatrix &m, int64_t n_heads);

}  // namespace bitnet::convert
