// Tiny ternary GGUF models built in memory with gguf::Writer, for tests and fuzz seeds.
//
// make_tiny_model(options) returns the bytes of a complete, loadable model (any architecture of
// lib/arch -- bitnet-b1.58, bitnet-25, bitnet, llama -- with the tensors its table entry names,
// random ternary BitLinear weights in I2_S, TQ2_0, TQ1_0, F32 or F16, F16 or F32 embedding,
// byte-level BPE vocabulary). Defaults: n_embd 128, 1 layer, 2 heads / 1 KV head,
// n_ff 128, I2_S weights, a 256-byte vocabulary plus ~40 merges and 4 special tokens: about
// 100 KB. Everything is deterministic for a given options.seed.
//
// Shapes must suit the weight type: I2_S needs n_embd and n_ff to be multiples of 128, TQ2_0 and
// TQ1_0 of 256. F32/F16
// weights have no such rule, which makes models of a few KB possible (MicroModel()).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "common/error.h"
#include "common/fp16.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "tokenizer/tokenizer_internal.h"

namespace bitnet::test {

struct TinyModelOptions {
    std::string arch = "bitnet-b1.58";  // any name of lib/arch: bitnet-25, bitnet, llama
    int64_t n_embd = 128;
    int64_t n_layer = 1;
    int64_t n_head = 2;
    int64_t n_head_kv = 1;
    int64_t n_ff = 128;
    uint32_t n_ctx_train = 256;
    float rope_base = 10000.0f;
    gguf::TensorType weight_type = gguf::TensorType::I2_S;  // I2_S, TQ2_0, TQ1_0, F32, F16
    bool scale_tensors = false;  // arch bitnet: `.scale` tensors (weights then pure trits)
    gguf::TensorType embd_type = gguf::TensorType::F16;     // token_embd: F16 or F32
    bool tied_output = true;  // false: a separate output.weight (same type as the embedding)
    // Vocabulary: full_bytes = all 256 byte tokens (any text tokenizes and round-trips);
    // otherwise only the bytes of "abcdefgh " (tiny files for fuzz seeds).
    bool full_bytes = true;
    int n_merges = 40;                      // merges learned from a few English words (at most)
    bool user_defined_token = true;         // add one USER_DEFINED token ("<tool>")
    std::string pre = "llama-bpe";          // tokenizer.ggml.pre; "" = key absent
    uint32_t alignment = 0;                 // general.alignment; 0 = key absent (32)
    uint64_t seed = 1;
};

// A few KB: F32 weights, n_embd 16, n_ff 32, the small vocabulary.
inline TinyModelOptions MicroModel() {
    TinyModelOptions o;
    o.n_embd = 16;
    o.n_ff = 32;
    o.n_head = 2;
    o.n_head_kv = 1;
    o.weight_type = gguf::TensorType::F32;
    o.embd_type = gguf::TensorType::F32;
    o.full_bytes = false;
    o.n_merges = 6;
    o.user_defined_token = false;
    o.n_ctx_train = 64;
    return o;
}

struct TinyVocab {
    std::vector<std::string> tokens;  // GPT-2 byte-to-unicode form
    std::vector<int32_t> types;
    std::vector<std::string> merges;
    int32_t bos = -1, eos = -1, eot = -1;
};

namespace tiny_detail {

inline uint64_t splitmix64(uint64_t &s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x2545F4914F6CDD1Dull + 7) {}
    uint64_t next() { return splitmix64(s); }
    double uniform() { return (double)(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

inline std::string encode_byte(unsigned char b) {
    std::string s;
    const char c = (char)b;
    tokenizer_detail::append_byte_encoded(std::string_view(&c, 1), s);
    return s;
}

}  // namespace tiny_detail

// Byte tokens first, then merged tokens, then <|begin_of_text|>, <|end_of_text|>, <|eot_id|>
// (CONTROL) and optionally <tool> (USER_DEFINED).
inline TinyVocab tiny_vocab(const TinyModelOptions &o) {
    using tiny_detail::encode_byte;
    TinyVocab v;
    std::set<std::string> known;
    const std::string small = "abcdefgh ";
    for (int b = 0; b < 256; ++b) {
        if (!o.full_bytes && small.find((char)b) == std::string::npos) continue;
        v.tokens.push_back(encode_byte((unsigned char)b));
        v.types.push_back(1);
        known.insert(v.tokens.back());
    }
    // Left-to-right merges of each word: "t h" -> "th", "th e" -> "the", ...
    static const char *const kWords[] = {" the", " and", "ing", " of", " to", " fox", " quick",
                                         " brown", " dog", " lazy", " over", "er", "on", " a",
                                         " is", "abc", " bad", "head", " cafe", "beef"};
    for (const char *w : kWords) {
        std::string acc;
        for (const char *p = w; *p; ++p) {
            const std::string next = encode_byte((unsigned char)*p);
            if (!known.count(next)) {
                acc.clear();
                break;
            }
            if (acc.empty()) {
                acc = next;
                continue;
            }
            if ((int)v.merges.size() >= o.n_merges) break;
            const std::string merged = acc + next;
            const std::string m = acc + " " + next;
            bool dup = false;
            for (const auto &x : v.merges) dup = dup || x == m;
            if (!dup) v.merges.push_back(m);
            if (known.insert(merged).second) {
                v.tokens.push_back(merged);
                v.types.push_back(1);
            }
            acc = merged;
        }
    }
    const int32_t first = (int32_t)v.tokens.size();
    for (const char *s : {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}) {
        v.tokens.push_back(s);
        v.types.push_back(3);  // CONTROL
    }
    v.bos = first;
    v.eos = first + 1;
    v.eot = first + 2;
    if (o.user_defined_token) {
        v.tokens.push_back("<tool>");
        v.types.push_back(4);  // USER_DEFINED
    }
    return v;
}

// Serialised GGUF of the model.
inline std::vector<uint8_t> make_tiny_model(const TinyModelOptions &o = {}) {
    using gguf::TensorType;
    tiny_detail::Rng rng(o.seed);
    const TinyVocab v = tiny_vocab(o);
    const int64_t nv = (int64_t)v.tokens.size(), d = o.n_embd, ff = o.n_ff;
    const int64_t head_dim = d / o.n_head, kv = head_dim * o.n_head_kv;

    gguf::Writer w;
    const std::string a = o.arch + ".";
    w.add_string("general.architecture", o.arch);
    w.add_string("general.name", "tiny-test-model");
    if (o.alignment) w.add_u32("general.alignment", o.alignment);
    w.add_u32(a + "block_count", (uint32_t)o.n_layer);
    w.add_u32(a + "context_length", o.n_ctx_train);
    w.add_u32(a + "embedding_length", (uint32_t)d);
    w.add_u32(a + "feed_forward_length", (uint32_t)ff);
    w.add_u32(a + "attention.head_count", (uint32_t)o.n_head);
    w.add_u32(a + "attention.head_count_kv", (uint32_t)o.n_head_kv);
    w.add_f32(a + "rope.freq_base", o.rope_base);
    w.add_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_u32(a + "rope.dimension_count", (uint32_t)head_dim);
    w.add_u32(a + "vocab_size", (uint32_t)nv);
    w.add_string("tokenizer.ggml.model", "gpt2");
    if (!o.pre.empty()) w.add_string("tokenizer.ggml.pre", o.pre);
    w.add_string_array("tokenizer.ggml.tokens", v.tokens);
    w.add_i32_array("tokenizer.ggml.token_type", v.types);
    w.add_string_array("tokenizer.ggml.merges", v.merges);
    w.add_u32("tokenizer.ggml.bos_token_id", (uint32_t)v.bos);
    w.add_u32("tokenizer.ggml.eos_token_id", (uint32_t)v.eos);
    w.add_u32("tokenizer.ggml.eot_token_id", (uint32_t)v.eot);
    w.add_bool("tokenizer.ggml.add_bos_token", true);

    auto floats = [&](const std::string &name, TensorType type, std::vector<int64_t> ne,
                      double lo, double hi) {
        int64_t n = 1;
        for (int64_t x : ne) n *= x;
        std::vector<uint8_t> bytes;
        if (type == TensorType::F16) {
            bytes.resize((size_t)n * 2);
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = f32_to_f16((float)(lo + (hi - lo) * rng.uniform()));
                std::memcpy(bytes.data() + i * 2, &h, 2);
            }
        } else {
            bytes.resize((size_t)n * 4);
            for (int64_t i = 0; i < n; ++i) {
                const float f = (float)(lo + (hi - lo) * rng.uniform());
                std::memcpy(bytes.data() + i * 4, &f, 4);
            }
        }
        w.add_tensor(name, type, ne, std::move(bytes));
    };
    // Ternary weights (a third zeros), scale 1/sqrt(k) (in the `.scale` tensor when asked for).
    auto bitlinear = [&](const std::string &name, int64_t k, int64_t rows) {
        const int64_t n = k * rows;
        std::vector<int8_t> t((size_t)n);
        for (auto &x : t) x = (int8_t)((int)(rng.next() % 3) - 1);
        float scale = (float)(1.0 / std::sqrt((double)k));
        if (o.scale_tensors) {
            const std::string sname = name.substr(0, name.size() - 6) + "scale";  // "weight"
            w.add_tensor(sname, TensorType::F32, {1}, &scale, 4);
            scale = 1.0f;
        }
        std::vector<uint8_t> bytes;
        if (o.weight_type == TensorType::TQ2_0 || o.weight_type == TensorType::TQ1_0) {
            const bool tq1 = o.weight_type == TensorType::TQ1_0;
            const uint16_t dh = f32_to_f16(scale);
            bytes.resize((size_t)(n / kernels::kTqBlock *
                                  (tq1 ? kernels::kTq1BlockBytes : kernels::kTq2BlockBytes)));
            tq1 ? kernels::tq1_pack(t.data(), n, dh, bytes.data())
                : kernels::tq2_pack(t.data(), n, dh, bytes.data());
        } else if (o.weight_type == TensorType::I2_S) {
            bytes.assign((size_t)(n / 4 + 32), 0);
            kernels::i2s_pack(t.data(), n, bytes.data());
            std::memcpy(bytes.data() + n / 4, &scale, 4);
        } else if (o.weight_type == TensorType::F16) {
            bytes.resize((size_t)n * 2);
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = f32_to_f16(scale * t[(size_t)i]);
                std::memcpy(bytes.data() + i * 2, &h, 2);
            }
        } else {
            bytes.resize((size_t)n * 4);
            for (int64_t i = 0; i < n; ++i) {
                const float f = scale * t[(size_t)i];
                std::memcpy(bytes.data() + i * 4, &f, 4);
            }
        }
        w.add_tensor(name, o.weight_type, {k, rows}, std::move(bytes));
    };

    // Tensor names and which tensors exist: the architecture table the loader reads.
    using arch::Role;
    const arch::Arch *ai = arch::find(o.arch);
    const bool sub_norms = ai ? ai->sub_norms : true;  // an unknown arch: the b1.58 layout
    auto name = [](Role r, int64_t il = -1) { return arch::tensor_name(r, (int)il); };
    floats(name(Role::TokenEmbd), o.embd_type, {d, nv}, -0.5, 0.5);
    if (!o.tied_output) floats(name(Role::Output), o.embd_type, {d, nv}, -0.5, 0.5);
    floats(name(Role::OutputNorm), TensorType::F32, {d}, 0.8, 1.2);
    for (int64_t il = 0; il < o.n_layer; ++il) {
        floats(name(Role::AttnNorm, il), TensorType::F32, {d}, 0.8, 1.2);
        if (sub_norms) floats(name(Role::AttnSubNorm, il), TensorType::F32, {d}, 0.8, 1.2);
        floats(name(Role::FfnNorm, il), TensorType::F32, {d}, 0.8, 1.2);
        if (sub_norms) floats(name(Role::FfnSubNorm, il), TensorType::F32, {ff}, 0.8, 1.2);
        bitlinear(name(Role::AttnQ, il), d, d);
        bitlinear(name(Role::AttnK, il), d, kv);
        bitlinear(name(Role::AttnV, il), d, kv);
        bitlinear(name(Role::AttnOutput, il), d, d);
        bitlinear(name(Role::FfnGate, il), d, ff);
        bitlinear(name(Role::FfnUp, il), d, ff);
        bitlinear(name(Role::FfnDown, il), ff, d);
    }
    return w.to_bytes();
}

// Writes the model to `path` (throws bitnet::Error on I/O failure).
inline void make_tiny_model(const std::string &path, const TinyModelOptions &o = {}) {
    const std::vector<uint8_t> bytes = make_tiny_model(o);
    std::FILE *f = std::fopen(path.c_str(), "wb");
    const bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (f && std::fclose(f) != 0) f = nullptr;
    if (!ok || !f) fail(BITNET_ERR_IO, "cannot write " + path);
}

}  // namespace bitnet::test
