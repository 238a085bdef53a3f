// Hugging Face tokenizer files -> GGUF tokenizer metadata (ternary-formats.md section 4.4):
// tokenizer.json (BPE model: vocab, merges as "a b" strings or [a, b] pairs, added_tokens,
// pre_tokenizer), tokenizer_config.json (bos/eos/pad/unk tokens, add_bos_token, add_eos_token,
// chat_template), special_tokens_map.json and generation_config.json where present.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "convert/hf_config.h"
#include "gguf/gguf.h"

namespace bitnet::convert {

struct GgufVocab {
    std::string model = "gpt2";        // tokenizer.ggml.model
    std::string pre;                   // tokenizer.ggml.pre
    std::vector<std::string> tokens;   // by id, padded to the config's vocab_size with [PAD<i>]
    std::vector<int32_t> types;        // 1 normal, 3 control, 4 user-defined, 5 unused
    std::vector<std::string> merges;   // "left right", priority order
    std::optional<uint32_t> bos, eos, pad, unk;
    std::optional<bool> add_bos, add_eos;
    std::string chat_template;         // empty: none
};

// Reads the folder's tokenizer files. IO when tokenizer.json is missing; BAD_FORMAT naming the
// file and field for malformed content; UNSUPPORTED for a non-BPE model or a pre-tokenizer
// other than Llama 3's (recognised from the pre_tokenizer JSON as `llama-bpe`).
GgufVocab read_hf_tokenizer(const std::string &dir, const HfConfig &config);

// tokenizer.json alone (vocab, types, merges, pre-tokenizer; no special ids).
struct JsonFile;
GgufVocab parse_hf_tokenizer_json(const JsonFile &tokenizer_json, const HfConfig &config);

// Adds the tokenizer.* keys.
void write_vocab(gguf::Writer &w, const GgufVocab &v);

}  // namespace bitnet::convert
