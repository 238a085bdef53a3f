// config.json of a Hugging Face causal LM and the family it selects (ternary-formats.md 1.2-1.5,
// 3.6 step 1, 4.2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace bitnet::convert {

enum class Family {
    BitNetB158,     // BitNetForCausalLM (microsoft/bitnet-b1.58-2B-4T, packed or -bf16) -> bitnet-b1.58
    LlamaTernary,   // LlamaForCausalLM + quantization_config.quant_method "bitnet" -> llama
    Bitnet1bitLLM,  // BitnetForCausalLM (1bitLLM, latent weights) -> bitnet
};

// How a packed ternary weight's `weight_scale` turns into the real weight (section 1.5 table).
enum class ScaleRule { Multiply, Divide };

struct HfConfig {
    std::string path;          // config.json, for messages
    std::string architecture;  // architectures[0]
    Family family = Family::BitNetB158;
    std::string gguf_arch;     // "bitnet-b1.58", "llama", "bitnet"
    int64_t n_embd = 0, n_ff = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
    int64_t n_ctx = 0, n_vocab = 0;
    double rms_eps = 1e-5, rope_theta = 10000.0;
    bool tied = true;
    std::string hidden_act;    // "relu2", "silu"
    std::optional<int64_t> bos_id, eos_id, pad_id;
    ScaleRule packed_rule = ScaleRule::Divide;
    std::string linear_class, quantization_mode;  // as in quantization_config ("" if absent)
};

// Reads <dir>/config.json. BAD_FORMAT naming the field for a missing/mistyped/out-of-range
// field; UNSUPPORTED for an architecture or setting this converter does not handle.
HfConfig read_hf_config(const std::string &dir);
struct JsonFile;
HfConfig parse_hf_config(const JsonFile &config_json);

}  // namespace bitnet::convert
