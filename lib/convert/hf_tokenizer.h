// Hugging Face tokenizer files -> GGUF tokenizer metadata (ternary-formats.md section 4.4):
// tokenizer.json (BPE model: vocab, merges as "a b" strings or [a, b] pairs, added_tokens,
// pre_tokenizer), tokenizer_config.json (bos/eos/pad/unk tokens, add_bos_token, add_eos_token,
// chat_template), special_tokens_map.json and generation_config.json where present.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "convert/hf_config.h"
#include "gguf/gguf.h"

namespace bitnet::convert {

struct GgufVocab {
    std::string model = "gpt2";        // tokenizer.ggml.model: "gpt2" or "llama" (SentencePiece)
    std::string pre;                   // tokenizer.ggml.pre
    std::vector<std::string> tokens;   // by id, padded to the config's vocab_size with [PAD<i>]
    std::vector<int32_t> types;        // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
    std::vector<std::string> merges;   // gpt2: "left right", priority order
    std::vector<float> scores;         // llama: one per token
    std::optional<bool> add_space_prefix;  // llama: the model's add_dummy_prefix
    std::optional<uint32_t> bos, eos, pad, unk;
    std::optional<bool> add_bos, add_eos;
    std::string chat_template;         // empty: none
};

// Reads the folder's tokenizer files. A SentencePiece `tokenizer.model` is used when there is no
// byte-level BPE tokenizer.json (none, or one with model.byte_fallback, which is the HF form of a
// SentencePiece model): see read_spm_tokenizer. Otherwise: IO when tokenizer.json is missing;
// BAD_FORMAT naming the file and field for malformed content; UNSUPPORTED for a non-BPE model or
// a pre-tokenizer other than Llama 3's (recognised from the pre_tokenizer JSON as `llama-bpe`).
GgufVocab read_hf_tokenizer(const std::string &dir, const HfConfig &config);

// tokenizer.model (SentencePiece BPE; hf_tokenizer_spm.cpp) -> "llama" vocabulary: the pieces with
// their scores and types, then added_tokens.json and tokenizer_config.json added_tokens_decoder
// entries (score -1000; USER_DEFINED, or CONTROL when special), then [PAD<i>] (score -1000,
// UNUSED) up to vocab_size, as bitnet.cpp's _set_vocab_sentencepiece writes it. Special ids from
// the tokenizer files as for BPE, else from the model's trainer_spec. UNSUPPORTED for a unigram
// model or one whose normalizer rewrites text (precompiled charsmap, collapsed whitespace).
GgufVocab read_spm_tokenizer(const std::string &dir, const HfConfig &config);

// bos/eos/pad/unk ids, add_bos/add_eos and the chat template from tokenizer_config.json,
// special_tokens_map.json, generation_config.json and config.json; `ids` maps token text to id.
void read_special_tokens(const std::string &dir, const HfConfig &cfg, GgufVocab &v,
                         const std::unordered_map<std::string, uint32_t> &ids);

// tokenizer.json alone (vocab, types, merges, pre-tokenizer; no special ids).
struct JsonFile;
GgufVocab parse_hf_tokenizer_json(const JsonFile &tokenizer_json, const HfConfig &config);

// Adds the tokenizer.* keys.
void write_vocab(gguf::Writer &w, const GgufVocab &v);

}  // namespace bitnet::convert
