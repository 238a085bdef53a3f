// Hugging Face checkpoint folder -> GGUF (ternary-formats.md 3.4-3.6), and GGUF -> GGUF between
// the ternary types (quantize). Both stream tensor by tensor: each tensor is read, converted
// and written while the file is being written, so memory stays near the largest tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "gguf/gguf.h"

namespace bitnet::convert {

struct ConvertOptions {
    // Ternary projections: I2_S, TQ2_0 or TQ1_0; nullopt = I2_S for bitnet-b1.58, TQ2_0 else.
    std::optional<gguf::TensorType> ternary_type;
    // Embedding and LM head: F16 (default), BF16, F32, Q8_0 or Q6_K. nullopt = keep (quantize) / F16.
    std::optional<gguf::TensorType> embd_type;
    std::string name;  // general.name; empty: the folder's name (convert) / unchanged (quantize)
};

// Called after each tensor is written: 1-based index, count, name, bytes written so far.
// Returning false stops the conversion (bitnet::Error ABORTED; no output file is left).
using ProgressFn = std::function<bool(int i, int n, const std::string &tensor, uint64_t bytes)>;

// Converts the model folder `dir` (config.json, *.safetensors, tokenizer files) to `out`.
void convert_hf(const std::string &dir, const std::string &out, const ConvertOptions &opt,
                const ProgressFn &progress);

// Rewrites the GGUF `in` as `out` with its ternary tensors in opt.ternary_type (the same trits
// and scale: UNSUPPORTED when the target type cannot hold them exactly) and token_embd/output in
// opt.embd_type when set (F16/BF16/F32 source -> F16/BF16/F32/Q8_0/Q6_K). Other tensors and metadata are
// copied; general.file_type follows the ternary type.
void quantize_gguf(const std::string &in, const std::string &out, const ConvertOptions &opt,
                   const ProgressFn &progress);

// general.file_type (llama_ftype) of a model whose ternary tensors are `t`: I2_S 40 (bitnet.cpp),
// TQ1_0 36, TQ2_0 37.
uint32_t ftype_of(gguf::TensorType t);

}  // namespace bitnet::convert
