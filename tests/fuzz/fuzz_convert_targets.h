// Body and seeds of the fuzz_safetensors harness (the Hugging Face readers of `bitnet convert`),
// shared by tests/fuzz/fuzz_safetensors.cpp (libFuzzer) and tests/test_fuzz_regressions.cpp.
//
// Input: the first byte picks the reader, the rest is its input:
//   0: a safetensors image (header length, JSON header, data) -> SafetensorsFile::from_memory
//   1: config.json text -> parse_hf_config
//   2: tokenizer.json text -> parse_hf_tokenizer_json (with a config of vocab_size 1024)
//   0xFF: a SentencePiece tokenizer.model -> parse_spm_model (a value of its own, so that the
//      modes of the inputs collected before it existed stay as they were)
// The readers must either accept the input or throw bitnet::Error with BAD_FORMAT, UNSUPPORTED
// or IO; anything else (another exception, INTERNAL) is a Finding. Accepted safetensors images
// must satisfy the invariants the reader promises (tensors inside the buffer, tiling it).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "convert/hf_config.h"
#include "convert/hf_tokenizer.h"
#include "convert/json_file.h"
#include "convert/safetensors.h"
#include "convert/safetensors_writer.h"
#include "convert/spm_model.h"

namespace bitnet::fuzz {

struct ConvertFinding : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline void check_safetensors(const convert::SafetensorsFile &f, const uint8_t *data, size_t size) {
    uint64_t total = 0;
    for (const auto &t : f.tensors()) {
        total += t.nbytes();
        if (t.nbytes() > size) throw ConvertFinding("tensor larger than the image: " + t.name);
        (void)data;
    }
    if (total > size) throw ConvertFinding("tensors cover more bytes than the image holds");
}

inline void run_safetensors(const uint8_t *data, size_t size) {
    if (size == 0) return;
    const uint8_t mode = data[0] == 0xFF ? 3 : data[0] % 3;
    const uint8_t *p = data + 1;
    const size_t n = size - 1;
    try {
        if (mode == 0) {
            auto f = convert::SafetensorsFile::from_memory(p, n, "fuzz.safetensors");
            check_safetensors(*f, p, n);
        } else if (mode == 1) {
            const auto c = convert::parse_hf_config(
                convert::JsonFile::parse(std::string(reinterpret_cast<const char *>(p), n), "config.json"));
            if (c.n_embd < 1 || c.n_head < 1 || c.n_head_kv < 1 || c.n_head % c.n_head_kv != 0)
                throw ConvertFinding("accepted an inconsistent config");
        } else if (mode == 3) {
            const auto m = convert::parse_spm_model(p, n, "tokenizer.model");
            const auto ids = {m.unk_id, m.bos_id, m.eos_id, m.pad_id};
            for (int32_t id : ids)
                if (id < -1 || id >= (int64_t)m.pieces.size()) throw ConvertFinding("accepted a special id outside the pieces");
            for (const auto &piece : m.pieces)
                if (piece.text.empty() || piece.type < 1 || piece.type > 6) throw ConvertFinding("accepted a bad piece");
        } else {
            static const convert::HfConfig cfg = convert::parse_hf_config(convert::JsonFile::parse(
                R"({"architectures": ["BitNetForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                    "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 1024})",
                "config.json"));
            const auto v = convert::parse_hf_tokenizer_json(
                convert::JsonFile::parse(std::string(reinterpret_cast<const char *>(p), n), "tokenizer.json"), cfg);
            if (v.tokens.size() != 1024 || v.types.size() != 1024)
                throw ConvertFinding("vocabulary not padded to vocab_size");
        }
    } catch (const bitnet::Error &e) {
        const bitnet_status s = e.status();
        if (s != BITNET_ERR_BAD_FORMAT && s != BITNET_ERR_UNSUPPORTED && s != BITNET_ERR_IO)
            throw ConvertFinding(std::string("undocumented status for bad input: ") + e.what());
    }
}

using ConvertSeed = std::pair<std::string, std::vector<uint8_t>>;

inline std::vector<ConvertSeed> safetensors_seeds() {
    std::vector<ConvertSeed> out;
    auto with_mode = [](uint8_t mode, const std::vector<uint8_t> &b) {
        std::vector<uint8_t> v{mode};
        v.insert(v.end(), b.begin(), b.end());
        return v;
    };
    convert::SafetensorsWriter w;
    w.add_bytes("model.layers.0.mlp.up_proj.weight", "U8", {2, 4}, std::vector<uint8_t>(8, 0x55));
    w.add_bytes("model.layers.0.mlp.up_proj.weight_scale", "BF16", {1}, {0x80, 0x3f});
    w.add_bytes("model.norm.weight", "F32", {2}, std::vector<uint8_t>(8, 0));
    w.add_bytes("model.embed_tokens.weight", "F16", {2, 2}, std::vector<uint8_t>(8, 0));
    out.emplace_back("st_small", with_mode(0, w.to_bytes()));
    const std::string cfg =
        R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 256, "intermediate_size": 512,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 64, "vocab_size": 128256, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
            "eos_token_id": [128001, 128009], "tie_word_embeddings": false, "hidden_act": "silu",
            "quantization_config": {"quant_method": "bitnet", "linear_class": "bitlinear"}})";
    out.emplace_back("config_llama", with_mode(1, {cfg.begin(), cfg.end()}));
    const std::string tok =
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3},
            "merges": ["a b", ["\u0120", "a"]]},
            "added_tokens": [{"id": 1000, "content": "<|begin_of_text|>", "special": true}],
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
              {"type": "ByteLevel", "use_regex": false}]}})";
    out.emplace_back("tokenizer_small", with_mode(2, {tok.begin(), tok.end()}));
    convert::SpmModel spm;
    spm.model_type = 2;
    spm.pieces = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}, {"<0x41>", 0, 6}, {"\xE2\x96\x81", -1, 1}};
    const std::string spm_bytes = convert::serialize_spm_model(spm);
    out.emplace_back("spm_model_small", with_mode(0xFF, {spm_bytes.begin(), spm_bytes.end()}));
    return out;
}

}  // namespace bitnet::fuzz
