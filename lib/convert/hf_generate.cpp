// Random HF checkpoint generator: see hf_generate.h.
#include "convert/hf_generate.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "convert/safetensors_writer.h"
#include "convert/spm_model.h"

namespace bitnet::convert {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

uint64_t splitmix64(uint64_t &s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint16_t bf16_of(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// Streams `n` bytes from a generator that fills a chunk, 1 MiB at a time.
SafetensorsWriter::Producer chunked(uint64_t n, uint64_t seed,
                                    std::function<void(uint64_t &rng, uint8_t *p, size_t k)> fill) {
    return [n, seed, fill](const SafetensorsWriter::Sink &sink) {
        std::vector<uint8_t> buf(1 << 20);
        uint64_t rng = seed;
        for (uint64_t done = 0; done < n;) {
            const size_t k = (size_t)std::min<uint64_t>(buf.size(), n - done);
            fill(rng, buf.data(), k);
            sink(buf.data(), k);
            done += k;
        }
    };
}

// BF16 values: 1 + 0.1 * u (norms, u in [-1, 1)) or 0.25 * u (embedding); k is even.
void fill_bf16(uint64_t &rng, uint8_t *p, size_t k, float base, float amp) {
    for (size_t i = 0; i + 1 < k; i += 2) {
        const float u = (float)(splitmix64(rng) >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
        const uint16_t h = bf16_of(base + amp * u);
        std::memcpy(p + i, &h, 2);
    }
}

// Packed ternary codes (0, 1, 2), four per byte.
void fill_packed(uint64_t &rng, uint8_t *p, size_t k) {
    for (size_t i = 0; i < k; ++i) {
        const uint64_t r = splitmix64(rng);
        uint8_t b = 0;
        for (int j = 0; j < 4; ++j) b |= (uint8_t)(((r >> (16 * j)) % 3) << (2 * j));
        p[i] = b;
    }
}

// GPT-2's byte-level spelling of byte b (printable Latin-1 as itself, the other 68 bytes as
// U+0100.. in byte order), as UTF-8.
std::string byte_token(int b) {
    auto printable = [](int x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174; };
    uint32_t cp = (uint32_t)b;
    if (!printable(b)) {
        cp = 256;
        for (int x = 0; x < b; ++x) cp += printable(x) ? 0 : 1;
    }
    std::string s;
    if (cp < 0x80) {
        s += (char)cp;
    } else {
        s += (char)(0xC0 | (cp >> 6));
        s += (char)(0x80 | (cp & 0x3F));
    }
    return s;
}

void write_json(const fs::path &p, const json &j) {
    std::ofstream out(p);
    out << j.dump(2) << "\n";
    if (!out) fail(BITNET_ERR_IO, p.string() + ": write failed");
}

// A minimal LLaMA-style SentencePiece model: everything is encoded by byte fallback except "▁".
SpmModel minimal_spm_model() {
    SpmModel m;
    m.model_type = 2;
    m.byte_fallback = true;
    m.normalizer_name = "identity";
    m.remove_extra_whitespaces = false;
    m.pieces = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        m.pieces.push_back({buf, 0, 6});
    }
    m.pieces.push_back({"\xE2\x96\x81", -1, 1});
    return m;
}

void write_spm_tokenizer(const fs::path &dir, const HfGenerateOptions &o) {
    const fs::path from = o.tokenizer_from.empty() ? fs::path() : fs::path(o.tokenizer_from);
    if (!from.empty() && fs::exists(from / "tokenizer.model")) {
        for (const char *f : {"tokenizer.model", "added_tokens.json", "tokenizer_config.json",
                              "special_tokens_map.json"}) {
            if (fs::exists(from / f)) fs::copy_file(from / f, dir / f, fs::copy_options::overwrite_existing);
        }
        return;
    }
    if (!from.empty()) fail(BITNET_ERR_INVALID_ARGUMENT, "gen-hf: " + from.string() + " has no tokenizer.model");
    const std::string bytes = serialize_spm_model(minimal_spm_model());
    std::ofstream out(dir / "tokenizer.model", std::ios::binary);
    out.write(bytes.data(), (std::streamsize)bytes.size());
    if (!out) fail(BITNET_ERR_IO, (dir / "tokenizer.model").string() + ": write failed");
    write_json(dir / "tokenizer_config.json", {{"add_bos_token", true}, {"add_eos_token", false},
                                               {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}});
}

void write_tokenizer(const fs::path &dir, const HfGenerateOptions &o) {
    if (o.layout == "1bitllm") return write_spm_tokenizer(dir, o);
    if (!o.tokenizer_from.empty()) {
        for (const char *f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
            const fs::path src = fs::path(o.tokenizer_from) / f;
            if (fs::exists(src)) fs::copy_file(src, dir / f, fs::copy_options::overwrite_existing);
        }
        return;
    }
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_token(b)] = b;
    const char *regex =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    json t;
    t["version"] = "1.0";
    t["added_tokens"] = json::array({{{"id", o.n_vocab - 256}, {"content", "<|begin_of_text|>"}, {"special", true}},
                                     {{"id", o.n_vocab - 255}, {"content", "<|end_of_text|>"}, {"special", true}}});
    t["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}},
                                                         {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
    t["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}};
    write_json(dir / "tokenizer.json", t);
    write_json(dir / "tokenizer_config.json", {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|end_of_text|>"}});
}

}  // namespace

HfGenerateOptions hf_preset_2b4t() {
    HfGenerateOptions o;
    o.n_embd = 2560;
    o.n_ff = 6912;
    o.n_layer = 30;
    o.n_head = 20;
    o.n_head_kv = 5;
    o.n_vocab = 128256;
    return o;
}

HfGenerateOptions hf_preset_1bitllm_tiny() {
    HfGenerateOptions o;
    o.layout = "1bitllm";
    o.n_head_kv = o.n_head;  // 1bitLLM has no GQA
    o.n_vocab = 1024;
    return o;
}

void generate_hf_checkpoint(const std::string &dir_s, const HfGenerateOptions &o) {
    const fs::path dir(dir_s);
    fs::create_directories(dir);
    if (o.shards < 1 || o.n_vocab < 512 || o.n_head % o.n_head_kv != 0 || o.n_embd % o.n_head != 0)
        fail(BITNET_ERR_INVALID_ARGUMENT, "gen-hf: inconsistent sizes");
    if (o.layout != "2b4t" && o.layout != "1bitllm")
        fail(BITNET_ERR_INVALID_ARGUMENT, "gen-hf: unknown layout '" + o.layout + "'");
    const bool onebit = o.layout == "1bitllm";
    std::vector<SafetensorsWriter> shards((size_t)o.shards);
    json weight_map = json::object();
    size_t next = 0;
    uint64_t seed = o.seed;
    auto put = [&](const std::string &name, const std::string &dtype, std::vector<uint64_t> shape,
                   uint64_t nbytes, SafetensorsWriter::Producer p) {
        const size_t s = next++ % shards.size();
        shards[s].add(name, dtype, shape, nbytes, std::move(p));
        weight_map[name] = shards.size() == 1 ? "model.safetensors"
                                              : "model-" + std::to_string(s + 1) + "-of-" + std::to_string(shards.size()) + ".safetensors";
    };
    auto bf16 = [&](const std::string &name, std::vector<uint64_t> shape, float base, float amp) {
        uint64_t n = 2;
        for (uint64_t d : shape) n *= d;
        put(name, "BF16", shape, n, chunked(n, splitmix64(seed), [base, amp](uint64_t &r, uint8_t *p, size_t k) { fill_bf16(r, p, k, base, amp); }));
    };
    auto proj = [&](const std::string &name, int64_t rows, int64_t cols) {
        if (onebit) {  // full-precision latent weights, ternarised by the converter
            bf16(name + ".weight", {(uint64_t)rows, (uint64_t)cols}, 0.0f, 0.05f);
            return;
        }
        const uint64_t n = (uint64_t)rows / 4 * (uint64_t)cols;
        put(name + ".weight", "U8", {(uint64_t)rows / 4, (uint64_t)cols}, n, chunked(n, splitmix64(seed), fill_packed));
        const float scale = 1.0f / std::sqrt((float)cols * 0.65f);
        std::vector<uint8_t> b(2);
        const uint16_t h = bf16_of(scale);
        std::memcpy(b.data(), &h, 2);
        auto d = std::make_shared<std::vector<uint8_t>>(b);
        put(name + ".weight_scale", "BF16", {1}, 2, [d](const SafetensorsWriter::Sink &s) { s(d->data(), 2); });
    };
    const int64_t hd = o.n_embd / o.n_head, kv = o.n_head_kv * hd;
    bf16("model.embed_tokens.weight", {(uint64_t)o.n_vocab, (uint64_t)o.n_embd}, 0.0f, 0.25f);
    for (int64_t il = 0; il < o.n_layer; ++il) {
        const std::string l = "model.layers." + std::to_string(il) + ".";
        bf16(l + "input_layernorm.weight", {(uint64_t)o.n_embd}, 1.0f, 0.1f);
        bf16(l + "post_attention_layernorm.weight", {(uint64_t)o.n_embd}, 1.0f, 0.1f);
        bf16(l + (onebit ? "self_attn.inner_attn_ln.weight" : "self_attn.attn_sub_norm.weight"), {(uint64_t)o.n_embd}, 1.0f, 0.1f);
        bf16(l + (onebit ? "mlp.ffn_layernorm.weight" : "mlp.ffn_sub_norm.weight"), {(uint64_t)o.n_ff}, 1.0f, 0.1f);
        proj(l + "self_attn.q_proj", o.n_embd, o.n_embd);
        proj(l + "self_attn.k_proj", kv, o.n_embd);
        proj(l + "self_attn.v_proj", kv, o.n_embd);
        proj(l + "self_attn.o_proj", o.n_embd, o.n_embd);
        proj(l + "mlp.gate_proj", o.n_ff, o.n_embd);
        proj(l + "mlp.up_proj", o.n_ff, o.n_embd);
        proj(l + "mlp.down_proj", o.n_embd, o.n_ff);
    }
    bf16("model.norm.weight", {(uint64_t)o.n_embd}, 1.0f, 0.1f);
    for (size_t s = 0; s < shards.size(); ++s)
        shards[s].write((dir / (shards.size() == 1 ? "model.safetensors"
                                                   : "model-" + std::to_string(s + 1) + "-of-" + std::to_string(shards.size()) + ".safetensors"))
                            .string());
    if (shards.size() > 1) write_json(dir / "model.safetensors.index.json", {{"metadata", json::object()}, {"weight_map", weight_map}});
    json c;
    if (onebit) {
        c["architectures"] = {"BitnetForCausalLM"};
        c["model_type"] = "llama";
        c["hidden_act"] = "silu";
        c["hidden_size"] = o.n_embd;
        c["intermediate_size"] = o.n_ff;
        c["num_hidden_layers"] = o.n_layer;
        c["num_attention_heads"] = o.n_head;
        c["num_key_value_heads"] = o.n_head_kv;
        c["max_position_embeddings"] = 2048;
        c["rms_norm_eps"] = 1e-5;
        c["rope_theta"] = 10000.0;
        c["vocab_size"] = o.n_vocab;
        c["bos_token_id"] = 1;
        c["eos_token_id"] = 2;
        c["tie_word_embeddings"] = true;
        c["torch_dtype"] = "bfloat16";
        write_json(dir / "config.json", c);
        write_tokenizer(dir, o);
        return;
    }
    c["architectures"] = {"BitNetForCausalLM"};
    c["model_type"] = "bitnet";
    c["hidden_act"] = "relu2";
    c["hidden_size"] = o.n_embd;
    c["intermediate_size"] = o.n_ff;
    c["num_hidden_layers"] = o.n_layer;
    c["num_attention_heads"] = o.n_head;
    c["num_key_value_heads"] = o.n_head_kv;
    c["max_position_embeddings"] = 4096;
    c["rms_norm_eps"] = 1e-5;
    c["rope_theta"] = 500000.0;
    c["vocab_size"] = o.n_vocab;
    c["bos_token_id"] = o.n_vocab - 256;
    c["eos_token_id"] = o.n_vocab - 255;
    c["tie_word_embeddings"] = true;
    c["torch_dtype"] = "bfloat16";
    c["quantization_config"] = {{"quant_method", "bitnet"}, {"linear_class", "autobitlinear"}, {"quantization_mode", "offline"}};
    write_json(dir / "config.json", c);
    write_tokenizer(dir, o);
}

}  // namespace bitnet::convert
