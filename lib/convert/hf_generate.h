// Writes a random-weight Hugging Face checkpoint folder in the layout of
// microsoft/bitnet-b1.58-2B-4T (packed U8 ternary projections + BF16 weight_scale,
// autobitlinear/offline quantization_config, BF16 embedding and norms), at any size, for
// conversion tests and the bounded-memory measurement of `bitnet convert`. Tensors are
// generated while they are written (memory ~ one chunk), optionally split into shards with a
// model.safetensors.index.json. The tokenizer is a minimal byte-level BPE (256 byte tokens, no
// merges, the Llama 3 pre-tokenizer, <|begin_of_text|>/<|end_of_text|>) padded to the vocabulary
// size, unless tokenizer files are copied from another folder.
#pragma once

#include <cstdint>
#include <string>

namespace bitnet::convert {

struct HfGenerateOptions {
    int64_t n_embd = 256, n_ff = 512, n_layer = 2, n_head = 4, n_head_kv = 2, n_vocab = 128256;
    int shards = 1;
    uint64_t seed = 1;
    std::string tokenizer_from;  // folder to copy tokenizer*.json / special_tokens_map.json from
};

// The sizes of microsoft/bitnet-b1.58-2B-4T (2560, 6912, 30 layers, 20/5 heads, 128256).
HfGenerateOptions hf_preset_2b4t();

void generate_hf_checkpoint(const std::string &dir, const HfGenerateOptions &o);

}  // namespace bitnet::convert
