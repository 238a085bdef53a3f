// Writes a random-weight Hugging Face checkpoint folder in the layout of
// microsoft/bitnet-b1.58-2B-4T (packed U8 ternary projections + BF16 weight_scale,
// autobitlinear/offline quantization_config, BF16 embedding and norms), at any size, for
// conversion tests and the bounded-memory measurement of `bitnet convert`. Tensors are
// generated while they are written (memory ~ one chunk), optionally split into shards with a
// model.safetensors.index.json. The tokenizer is a minimal byte-level BPE (256 byte tokens, no
// merges, the Llama 3 pre-tokenizer, <|begin_of_text|>/<|end_of_text|>) padded to the vocabulary
// size, unless tokenizer files are copied from another folder.
// The "1bitllm" layout is 1bitLLM/bitnet_b1_58-* instead (BitnetForCausalLM: BF16 latent
// projection weights, inner_attn_ln/ffn_layernorm sub-norms, SiLU) with a SentencePiece
// tokenizer.model: copied with added_tokens.json/tokenizer_config.json from tokenizer_from, or a
// minimal BPE model (<unk>, <s>, </s>, the 256 byte pieces, "▁").
#pragma once

#include <cstdint>
#include <string>

namespace bitnet::convert {

struct HfGenerateOptions {
    int64_t n_embd = 256, n_ff = 512, n_layer = 2, n_head = 4, n_head_kv = 2, n_vocab = 128256;
    int shards = 1;
    uint64_t seed = 1;
    std::string tokenizer_from;  // folder to copy tokenizer*.json / special_tokens_map.json from
    std::string layout = "2b4t";  // "2b4t" (BitNetForCausalLM, packed) or "1bitllm"
};

// Sizes for the 1bitLLM layout at test scale (256 hidden, 2 layers, 4 heads, vocab 1024).
HfGenerateOptions hf_preset_1bitllm_tiny();

// The sizes of microsoft/bitnet-b1.58-2B-4T (2560, 6912, 30 layers, 20/5 heads, 128256).
HfGenerateOptions hf_preset_2b4t();

void generate_hf_checkpoint(const std::string &dir, const HfGenerateOptions &o);

}  // namespace bitnet::convert
