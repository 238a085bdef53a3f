// Hugging Face tokenizer -> GGUF tokenizer metadata: see hf_tokenizer.h.
#include "convert/hf_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "common/error.h"
#include "convert/json_file.h"

namespace bitnet::convert {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// The Llama 3 split regex as tokenizer.json writes it (meta-llama/Meta-Llama-3-8B).
const char *const kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

// obj[key] when obj is an object holding a string there, else "" (never throws: the JSON is
// untrusted, and json's value() throws on a type mismatch).
std::string str_at(const json &obj, const char *key) {
    if (!obj.is_object()) return "";
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// Recognises the pre-tokenizer: Sequence[Split(Llama 3 regex), ByteLevel(use_regex false)].
std::string recognise_pre(const JsonFile &f) {
    const json &p = f.doc.contains("pre_tokenizer") ? f.doc["pre_tokenizer"] : json();
    bool split = false, byte_level = false;
    if (str_at(p, "type") == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
        for (const json &s : p["pretokenizers"]) {
            const std::string type = str_at(s, "type");
            if (type == "Split" && s.is_object() && s.contains("pattern") &&
                str_at(s["pattern"], "Regex") == kLlama3Regex)
                split = true;
            else if (type == "ByteLevel" && s.contains("use_regex") && s["use_regex"].is_boolean() &&
                     !s["use_regex"].get<bool>())
                byte_level = true;
        }
    }
    if (split && byte_level) return "llama-bpe";
    fail(BITNET_ERR_UNSUPPORTED, f.path + ": field 'pre_tokenizer' is not the Llama 3 pre-tokenizer "
                                          "(Split on the Llama 3 regex, then ByteLevel); no other is supported");
}

void read_merges(const JsonFile &f, const json &model, GgufVocab &v) {
    const json &merges = f.require(model, "merges", JsonKind::Array);
    v.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
        const json &m = merges[i];
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            if (s.find(' ') == std::string::npos || s.front() == ' ' || s.back() == ' ')
                f.fail_field("model.merges[" + std::to_string(i) + "]", "is not of the form \"left right\"");
            v.merges.push_back(s);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            // A space inside a part is written as U+0120 (gguf-py SpecialVocab).
            auto part = [](std::string s) {
                std::string r;
                for (char c : s) r += c == ' ' ? std::string("\xC4\xA0") : std::string(1, c);
                return r;
            };
            v.merges.push_back(part(m[0].get<std::string>()) + " " + part(m[1].get<std::string>()));
        } else {
            f.fail_field("model.merges[" + std::to_string(i) + "]",
                         "must be a string \"a b\" or a pair [\"a\", \"b\"], found " + json_kind(m));
        }
    }
}

void read_vocab(const JsonFile &f, const HfConfig &cfg, GgufVocab &v,
                std::unordered_map<std::string, uint32_t> &ids) {
    const json &model = f.require(f.doc, "model", JsonKind::Object);
    const auto type = f.get_string(model, "type");
    if (type != "BPE")
        fail(BITNET_ERR_UNSUPPORTED, f.path + ": field 'model.type' is '" + type.value_or("(absent)") +
                                         "'; only byte-level BPE tokenizers are supported");
    const json &vocab = f.require(model, "vocab", JsonKind::Object);
    std::vector<std::pair<std::string, int64_t>> entries;
    for (const auto &[tok, id] : vocab.items()) {
        json holder = json::object();
        holder["model.vocab." + tok] = id;
        entries.emplace_back(tok, f.get_int(holder, "model.vocab." + tok, 0, cfg.n_vocab - 1));
    }
    std::vector<std::pair<std::string, int32_t>> added;  // content, type
    std::vector<int64_t> added_ids;
    if (f.doc.contains("added_tokens") && !f.doc["added_tokens"].is_null()) {
        const json &at = f.require(f.doc, "added_tokens", JsonKind::Array);
        for (size_t i = 0; i < at.size(); ++i) {
            const std::string field = "added_tokens[" + std::to_string(i) + "]";
            if (!at[i].is_object()) f.fail_field(field, "must be an object");
            const int64_t id = f.get_int(at[i], "id", 0, cfg.n_vocab - 1);
            const json &content = f.require(at[i], "content", JsonKind::String);
            const bool special = f.get_bool(at[i], "special").value_or(false);
            added.emplace_back(content.get<std::string>(), special ? kControl : kUserDefined);
            added_ids.push_back(id);
        }
    }
    v.tokens.assign((size_t)cfg.n_vocab, std::string());
    v.types.assign((size_t)cfg.n_vocab, 0);
    auto put = [&](int64_t id, const std::string &tok, int32_t type) {
        if (v.types[(size_t)id] != 0 && v.tokens[(size_t)id] != tok)
            f.fail_field("model.vocab", "gives id " + std::to_string(id) + " to two tokens ('" +
                                            v.tokens[(size_t)id] + "' and '" + tok + "')");
        v.tokens[(size_t)id] = tok;
        v.types[(size_t)id] = type;
        ids[tok] = (uint32_t)id;
    };
    for (const auto &[tok, id] : entries) put(id, tok, kNormal);
    for (size_t i = 0; i < added.size(); ++i) put(added_ids[i], added[i].first, added[i].second);
    for (size_t id = 0; id < v.tokens.size(); ++id) {
        if (v.types[id] == 0) {
            v.tokens[id] = "[PAD" + std::to_string(id) + "]";
            v.types[id] = kUnused;
        }
    }
    read_merges(f, model, v);
}

// A special token given as "text" or {"content": "text"}, resolved to its id.
std::optional<uint32_t> special_id(const JsonFile &f, const std::string &field,
                                   const std::unordered_map<std::string, uint32_t> &ids) {
    if (!f.doc.contains(field) || f.doc[field].is_null()) return std::nullopt;
    const json &v = f.doc[field];
    std::string text;
    if (v.is_string())
        text = v.get<std::string>();
    else if (v.is_object() && v.contains("content") && v["content"].is_string())
        text = v["content"].get<std::string>();
    else
        f.fail_field(field, "must be a string or an object with 'content', found " + json_kind(v));
    auto it = ids.find(text);
    if (it == ids.end()) f.fail_field(field, "names '" + text + "', which is not in the vocabulary");
    return it->second;
}

}  // namespace

void read_special_tokens(const std::string &dir, const HfConfig &cfg, GgufVocab &v,
                         const std::unordered_map<std::string, uint32_t> &ids) {
    const auto tc = JsonFile::read_optional((fs::path(dir) / "tokenizer_config.json").string());
    const auto sm = JsonFile::read_optional((fs::path(dir) / "special_tokens_map.json").string());
    const auto gc = JsonFile::read_optional((fs::path(dir) / "generation_config.json").string());
    auto resolve = [&](const char *field, const char *config_field, std::optional<uint32_t> &out) {
        if (tc) out = special_id(*tc, field, ids);
        if (!out && sm) out = special_id(*sm, field, ids);
        std::optional<int64_t> id;
        if (!out && gc && gc->doc.contains(config_field) && !gc->doc[config_field].is_null()) {
            json h = json::object();
            h[config_field] = gc->doc[config_field].is_array() && !gc->doc[config_field].empty()
                                  ? gc->doc[config_field][0]
                                  : gc->doc[config_field];
            id = gc->get_int(h, config_field, 0, cfg.n_vocab - 1);
        }
        if (!out && !id) {
            if (std::string(config_field) == "bos_token_id") id = cfg.bos_id;
            if (std::string(config_field) == "eos_token_id") id = cfg.eos_id;
            if (std::string(config_field) == "pad_token_id") id = cfg.pad_id;
        }
        if (!out && id) {
            if (*id >= cfg.n_vocab)
                fail(BITNET_ERR_BAD_FORMAT, cfg.path + ": field '" + config_field + "' (" +
                                                std::to_string(*id) + ") is not below vocab_size");
            out = (uint32_t)*id;
        }
    };
    resolve("bos_token", "bos_token_id", v.bos);
    resolve("eos_token", "eos_token_id", v.eos);
    resolve("pad_token", "pad_token_id", v.pad);
    if (tc) {
        v.unk = special_id(*tc, "unk_token", ids);
        v.add_bos = tc->get_bool(tc->doc, "add_bos_token");
        v.add_eos = tc->get_bool(tc->doc, "add_eos_token");
        if (tc->doc.contains("chat_template") && !tc->doc["chat_template"].is_null()) {
            const json &t = tc->doc["chat_template"];
            if (t.is_string()) {
                v.chat_template = t.get<std::string>();
            } else if (t.is_array()) {  // [{name, template}, ...]: the "default" one
                for (const json &e : t)
                    if (str_at(e, "name") == "default" && e.contains("template") && e["template"].is_string())
                        v.chat_template = e["template"].get<std::string>();
            } else {
                tc->fail_field("chat_template", "must be a string or a list, found " + json_kind(t));
            }
        }
    }
    const fs::path jinja = fs::path(dir) / "chat_template.jinja";
    if (v.chat_template.empty() && fs::exists(jinja)) {
        std::ifstream in(jinja, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        v.chat_template = ss.str();
    }
}

namespace {

// A SentencePiece tokenizer.model with no byte-level BPE tokenizer.json beside it (HF writes
// SentencePiece vocabularies into tokenizer.json as BPE with byte_fallback).
bool use_sentencepiece(const std::string &dir) {
    if (!fs::exists(fs::path(dir) / "tokenizer.model")) return false;
    const auto tj = JsonFile::read_optional((fs::path(dir) / "tokenizer.json").string());
    if (!tj) return true;
    const json &model = tj->doc.contains("model") ? tj->doc["model"] : json();
    return model.is_object() && model.contains("byte_fallback") &&
           model["byte_fallback"].is_boolean() && model["byte_fallback"].get<bool>();
}

}  // namespace

GgufVocab parse_hf_tokenizer_json(const JsonFile &f, const HfConfig &config) {
    GgufVocab v;
    std::unordered_map<std::string, uint32_t> ids;
    read_vocab(f, config, v, ids);
    v.pre = recognise_pre(f);
    return v;
}

GgufVocab read_hf_tokenizer(const std::string &dir, const HfConfig &config) {
    if (use_sentencepiece(dir)) return read_spm_tokenizer(dir, config);
    const JsonFile f = JsonFile::read((fs::path(dir) / "tokenizer.json").string());
    GgufVocab v;
    std::unordered_map<std::string, uint32_t> ids;
    read_vocab(f, config, v, ids);
    v.pre = recognise_pre(f);
    read_special_tokens(dir, config, v, ids);
    return v;
}

void write_vocab(gguf::Writer &w, const GgufVocab &v) {
    w.add_string("tokenizer.ggml.model", v.model);
    w.add_string("tokenizer.ggml.pre", v.pre);
    w.add_string_array("tokenizer.ggml.tokens", v.tokens);
    w.add_i32_array("tokenizer.ggml.token_type", v.types);
    if (v.model == "llama") {
        w.add_f32_array("tokenizer.ggml.scores", v.scores);
        if (v.add_space_prefix) w.add_bool("tokenizer.ggml.add_space_prefix", *v.add_space_prefix);
    } else {
        w.add_string_array("tokenizer.ggml.merges", v.merges);
    }
    if (v.bos) w.add_u32("tokenizer.ggml.bos_token_id", *v.bos);
    if (v.eos) w.add_u32("tokenizer.ggml.eos_token_id", *v.eos);
    if (v.unk) w.add_u32("tokenizer.ggml.unknown_token_id", *v.unk);
    if (v.pad) w.add_u32("tokenizer.ggml.padding_token_id", *v.pad);
    if (v.add_bos) w.add_bool("tokenizer.ggml.add_bos_token", *v.add_bos);
    if (v.add_eos) w.add_bool("tokenizer.ggml.add_eos_token", *v.add_eos);
    if (!v.chat_template.empty()) w.add_string("tokenizer.ggml.chat_template", v.chat_template);
}

}  // namespace bitnet::convert
