// config.json -> HfConfig: see hf_config.h.
#include "convert/hf_config.h"

#include <filesystem>

#include "common/error.h"
#include "convert/json_file.h"

namespace bitnet::convert {
namespace {

using json = nlohmann::json;

constexpr int64_t kMaxDim = int64_t(1) << 24;

// An id given as an integer or as a list of integers (eos_token_id may be a list: the first).
std::optional<int64_t> token_id(const JsonFile &f, const json &c, const std::string &field) {
    if (!c.contains(field) || c.at(field).is_null()) return std::nullopt;
    const json &v = c.at(field);
    if (v.is_array()) {
        if (v.empty()) return std::nullopt;
        json first = json::object();
        first[field] = v.at(0);
        return f.get_int(first, field, 0, INT32_MAX);
    }
    return f.get_int(c, field, 0, INT32_MAX);
}

void read_quantization(const JsonFile &f, const json &c, HfConfig &h) {
    if (!c.contains("quantization_config") || c.at("quantization_config").is_null()) return;
    const json &q = f.require(c, "quantization_config", JsonKind::Object);
    const auto method = f.get_string(q, "quant_method");
    if (method && *method != "bitnet")
        fail(BITNET_ERR_UNSUPPORTED, f.path + ": field 'quantization_config.quant_method' is '" +
                                         *method + "'; only \"bitnet\" is supported");
    h.linear_class = f.get_string(q, "linear_class").value_or("");
    h.quantization_mode = f.get_string(q, "quantization_mode").value_or("");
    if (!h.linear_class.empty() && h.linear_class != "bitlinear" && h.linear_class != "autobitlinear")
        fail(BITNET_ERR_UNSUPPORTED, f.path + ": field 'quantization_config.linear_class' is '" +
                                         h.linear_class + "' (known: bitlinear, autobitlinear)");
    if (f.get_bool(q, "use_rms_norm").value_or(false))
        fail(BITNET_ERR_UNSUPPORTED, f.path + ": field 'quantization_config.use_rms_norm' is true "
                                              "(per-projection input norms are not supported)");
    // transformers: AutoBitLinear multiplies its output by weight_scale, BitLinear divides.
    h.packed_rule = h.linear_class == "autobitlinear" ? ScaleRule::Multiply : ScaleRule::Divide;
}

}  // namespace

HfConfig read_hf_config(const std::string &dir) {
    return parse_hf_config(JsonFile::read((std::filesystem::path(dir) / "config.json").string()));
}

HfConfig parse_hf_config(const JsonFile &f) {
    const json &c = f.doc;
    HfConfig h;
    h.path = f.path;
    const json &archs = f.require(c, "architectures", JsonKind::Array);
    if (archs.empty() || !archs.at(0).is_string())
        f.fail_field("architectures", "must be a non-empty array of strings");
    h.architecture = archs.at(0).get<std::string>();
    read_quantization(f, c, h);
    const bool bitnet_quant = c.contains("quantization_config") && !c["quantization_config"].is_null();
    if (h.architecture == "BitNetForCausalLM") {
        h.family = Family::BitNetB158;
        h.gguf_arch = "bitnet-b1.58";
    } else if (h.architecture == "BitnetForCausalLM") {
        h.family = Family::Bitnet1bitLLM;
        h.gguf_arch = "bitnet";
    } else if (h.architecture == "LlamaForCausalLM" && bitnet_quant) {
        h.family = Family::LlamaTernary;
        h.gguf_arch = "llama";
    } else {
        fail(BITNET_ERR_UNSUPPORTED,
             f.path + ": field 'architectures' is '" + h.architecture +
                 "'; supported: BitNetForCausalLM, BitnetForCausalLM, LlamaForCausalLM with "
                 "quantization_config.quant_method \"bitnet\"");
    }
    h.n_embd = f.get_int(c, "hidden_size", 1, kMaxDim);
    h.n_ff = f.get_int(c, "intermediate_size", 1, kMaxDim);
    h.n_layer = f.get_int(c, "num_hidden_layers", 1, 4096);
    h.n_head = f.get_int(c, "num_attention_heads", 1, 4096);
    h.n_head_kv = f.get_int(c, "num_key_value_heads", 1, h.n_head, h.n_head);
    if (h.n_head % h.n_head_kv != 0)
        f.fail_field("num_key_value_heads", "(" + std::to_string(h.n_head_kv) +
                                                ") must divide num_attention_heads (" +
                                                std::to_string(h.n_head) + ")");
    if (h.n_embd % h.n_head != 0 && !c.contains("head_dim"))
        f.fail_field("hidden_size", "is not a multiple of num_attention_heads and there is no head_dim");
    h.head_dim = f.get_int(c, "head_dim", 2, 65536, h.n_embd / h.n_head);
    if (h.head_dim % 2 != 0) f.fail_field("head_dim", "must be even (RoPE rotates pairs)");
    h.n_ctx = f.get_int(c, "max_position_embeddings", 1, INT32_MAX, 4096);
    h.n_vocab = f.get_int(c, "vocab_size", 1, INT32_MAX);
    h.rms_eps = f.get_positive(c, "rms_norm_eps", 1e-5);
    h.rope_theta = f.get_positive(c, "rope_theta", 10000.0);
    if (c.contains("rope_scaling") && !c["rope_scaling"].is_null())
        fail(BITNET_ERR_UNSUPPORTED, f.path + ": field 'rope_scaling' is set; RoPE scaling is not supported");
    h.tied = f.get_bool(c, "tie_word_embeddings").value_or(h.family != Family::LlamaTernary);
    h.hidden_act = f.get_string(c, "hidden_act").value_or(h.family == Family::BitNetB158 ? "relu2" : "silu");
    const std::string want_act = h.family == Family::BitNetB158 ? "relu2" : "silu";
    if (h.hidden_act != want_act)
        f.fail_field("hidden_act", "is '" + h.hidden_act + "', but " + h.architecture +
                                       " uses '" + want_act + "'");
    h.bos_id = token_id(f, c, "bos_token_id");
    h.eos_id = token_id(f, c, "eos_token_id");
    h.pad_id = token_id(f, c, "pad_token_id");
    return h;
}

}  // namespace bitnet::convert
