// SentencePiece tokenizer.model -> GGUF "llama" vocabulary: see hf_tokenizer.h.
// Layout as bitnet.cpp's / llama.cpp's Model._set_vocab_sentencepiece (ternary-formats.md 4.4).
#include <filesystem>

#include "common/error.h"
#include "convert/hf_tokenizer.h"
#include "convert/json_file.h"
#include "convert/spm_model.h"

namespace bitnet::convert {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int32_t kUserDefined = 4, kControl = 3, kUnused = 5;
constexpr float kAddedScore = -1000.0f;

// Only what our runtime tokenizer implements exactly: BPE merges on text whose spaces are
// escaped and nothing else rewritten.
void check_supported(const SpmModel &m, const std::string &path) {
    auto unsupported = [&](const std::string &what) {
        fail(BITNET_ERR_UNSUPPORTED, path + ": " + what);
    };
    if (m.model_type != 2)
        unsupported("trainer_spec.model_type is " + std::to_string(m.model_type) +
                    " (1 unigram, 3 word, 4 char); only BPE SentencePiece models (2, as "
                    "LLaMA's and 1bitLLM's) are supported");
    if (m.has_charsmap)
        unsupported("normalizer_spec '" + m.normalizer_name +
                    "' rewrites text (precompiled_charsmap); only the identity normalizer is "
                    "supported");
    if (m.remove_extra_whitespaces)
        unsupported("normalizer_spec.remove_extra_whitespaces is true; only models that keep "
                    "whitespace (LLaMA's) are supported");
    if (!m.escape_whitespaces)
        unsupported("normalizer_spec.escape_whitespaces is false; spaces must be U+2581");
}

// Sets token `id` to an added token; BAD_FORMAT naming the file and field when out of range.
void put_added(const JsonFile &f, const std::string &field, int64_t id, const std::string &text,
               int32_t type, size_t n_pieces, GgufVocab &v) {
    if (text.empty()) f.fail_field(field, "is an empty token");
    // The model's own pieces may be listed again (LLaMA's tokenizer_config lists <unk>, <s>, </s>).
    if ((size_t)id < n_pieces && v.tokens[(size_t)id] == text) return;
    v.tokens[(size_t)id] = text;
    v.scores[(size_t)id] = kAddedScore;
    v.types[(size_t)id] = type;
}

void read_added_tokens(const std::string &dir, const HfConfig &cfg, size_t n_pieces, GgufVocab &v) {
    if (const auto at = JsonFile::read_optional((fs::path(dir) / "added_tokens.json").string())) {
        for (const auto &[text, id] : at->doc.items()) {
            json holder = json::object();
            holder[text] = id;
            const int64_t i = at->get_int(holder, text, 0, cfg.n_vocab - 1);
            put_added(*at, text, i, text, kUserDefined, n_pieces, v);
        }
    }
    const auto tc = JsonFile::read_optional((fs::path(dir) / "tokenizer_config.json").string());
    if (!tc || !tc->doc.contains("added_tokens_decoder") || tc->doc["added_tokens_decoder"].is_null())
        return;
    const json &dec = tc->require(tc->doc, "added_tokens_decoder", JsonKind::Object);
    for (const auto &[key, entry] : dec.items()) {
        const std::string field = "added_tokens_decoder." + key;
        if (key.empty() || key.size() > 10 || key.find_first_not_of("0123456789") != std::string::npos)
            tc->fail_field(field, "is not a token id");
        const int64_t id = std::stoll(key);
        if (id >= cfg.n_vocab) tc->fail_field(field, "is not below vocab_size " + std::to_string(cfg.n_vocab));
        if (!entry.is_object()) tc->fail_field(field, "must be an object");
        const std::string text = tc->require(entry, "content", JsonKind::String).get<std::string>();
        const bool special = tc->get_bool(entry, "special").value_or(false);
        put_added(*tc, field, id, text, special ? kControl : kUserDefined, n_pieces, v);
    }
}

}  // namespace

GgufVocab read_spm_tokenizer(const std::string &dir, const HfConfig &cfg) {
    const std::string path = (fs::path(dir) / "tokenizer.model").string();
    const SpmModel m = read_spm_model(path);
    check_supported(m, path);
    if ((int64_t)m.pieces.size() > cfg.n_vocab)
        fail(BITNET_ERR_BAD_FORMAT, path + ": " + std::to_string(m.pieces.size()) +
                                        " pieces, more than vocab_size " +
                                        std::to_string(cfg.n_vocab) + " in " + cfg.path);
    GgufVocab v;
    v.model = "llama";
    v.pre = "default";
    v.add_space_prefix = m.add_dummy_prefix;
    v.tokens.assign((size_t)cfg.n_vocab, std::string());
    v.scores.assign((size_t)cfg.n_vocab, kAddedScore);
    v.types.assign((size_t)cfg.n_vocab, 0);
    for (size_t i = 0; i < m.pieces.size(); ++i) {
        v.tokens[i] = m.pieces[i].text;
        v.scores[i] = m.pieces[i].score;
        v.types[i] = m.pieces[i].type;  // the proto's enum values are the GGUF token types
    }
    read_added_tokens(dir, cfg, m.pieces.size(), v);
    std::unordered_map<std::string, uint32_t> ids;
    for (size_t id = 0; id < v.tokens.size(); ++id) {
        if (v.types[id] == 0) {
            v.tokens[id] = "[PAD" + std::to_string(id) + "]";
            v.types[id] = kUnused;
        }
        ids.emplace(v.tokens[id], (uint32_t)id);  // the first id of a text
    }
    read_special_tokens(dir, cfg, v, ids);
    // Ids the tokenizer files do not give come from the model itself.
    auto model_id = [](int32_t id) { return id >= 0 ? std::optional<uint32_t>((uint32_t)id) : std::nullopt; };
    if (!v.bos) v.bos = model_id(m.bos_id);
    if (!v.eos) v.eos = model_id(m.eos_id);
    if (!v.unk) v.unk = model_id(m.unk_id);
    if (!v.pad) v.pad = model_id(m.pad_id);
    return v;
}

}  // namespace bitnet::convert
