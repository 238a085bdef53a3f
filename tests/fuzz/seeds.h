// Seed inputs of the fuzz harnesses, generated (nothing binary is committed): small valid GGUF
// models from tests/tiny_model.h, texts for the tokenizer, and operation records for the
// chat/sampling harness. Used by make_seeds (writes the corpora) and by
// tests/test_fuzz_regressions.cpp (replays them).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tiny_model.h"

namespace bitnet::fuzz {

using Seed = std::pair<std::string, std::vector<uint8_t>>;  // file name, bytes

inline std::vector<uint8_t> bytes_of(const std::string &s) { return {s.begin(), s.end()}; }

inline std::vector<Seed> gguf_seeds() {
    using test::TinyModelOptions;
    using gguf::TensorType;
    std::vector<Seed> out;
    TinyModelOptions micro = test::MicroModel();
    out.push_back({"micro-f32.gguf", test::make_tiny_model(micro)});

    TinyModelOptions o = micro;
    o.weight_type = TensorType::F16;
    o.embd_type = TensorType::F16;
    o.arch = "bitnet-25";
    o.tied_output = false;
    o.n_layer = 2;
    o.n_head_kv = 2;
    o.pre = "";
    o.alignment = 64;
    o.seed = 2;
    out.push_back({"micro-f16-bitnet25-untied.gguf", test::make_tiny_model(o)});

    o = micro;
    o.weight_type = TensorType::I2_S;
    o.n_embd = 128;
    o.n_ff = 128;
    o.n_head = 4;
    o.n_head_kv = 2;
    o.seed = 3;
    out.push_back({"small-i2s.gguf", test::make_tiny_model(o)});

    out.push_back({"tiny-i2s-bytevocab.gguf", test::make_tiny_model(TinyModelOptions{})});

    // The other families and ternary types (issue 10): llama (no sub-norms, normal RoPE) in
    // TQ2_0, bitnet with `.scale` tensors in TQ1_0, llama with F32 weights and an untied head.
    o = micro;
    o.arch = "llama";
    o.tied_output = false;
    o.seed = 4;
    out.push_back({"micro-llama-f32-untied.gguf", test::make_tiny_model(o)});
    o = micro;
    o.arch = "llama";
    o.weight_type = TensorType::TQ2_0;
    o.n_embd = 256;
    o.n_ff = 256;
    o.n_head = 4;
    o.n_head_kv = 2;
    o.seed = 5;
    out.push_back({"small-llama-tq2.gguf", test::make_tiny_model(o)});
    o.arch = "bitnet";
    o.weight_type = TensorType::TQ1_0;
    o.scale_tensors = true;
    o.seed = 6;
    out.push_back({"small-bitnet-tq1-scale.gguf", test::make_tiny_model(o)});
    return out;
}

// First byte: flags of fuzz_tokenizer (bit 0 parse_special, bit 1 add_bos, bits 2-3 vocabulary).
inline std::vector<Seed> tokenizer_seeds() {
    const std::vector<std::string> texts = {
        "The quick brown fox jumps over the lazy dog.",
        "Hello, world! I'm here; you're there. We've 12345 items and 3.14159...",
        "<|begin_of_text|>System: hi<|eot_id|>User: <tool> x<|eot_id|>Assistant: ",
        "Ternary weights: -1, 0, +1. \xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe2\x9c\x93 "
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80",
        "invalid \xff\xfe utf-8 \xc3 \xe2\x82 \xf0\x9f\x9a \x80\x80 end",
        "   leading spaces\n\n\ttabs\r\n  trailing   ",
        "abcabc bad head cafe beef    ",
        std::string("nul\0inside", 10),
    };
    std::vector<Seed> out;
    int i = 0;
    for (const std::string &t : texts) {
        for (uint8_t flags : {0, 3, 4, 7, 8, 11}) {
            std::vector<uint8_t> b{flags};
            b.insert(b.end(), t.begin(), t.end());
            out.push_back({"text" + std::to_string(i) + "-" + std::to_string(flags), b});
        }
        ++i;
    }
    return out;
}

// First byte: 0 chat, 1 sampler, 2 generation (see run_chat_sampling).
inline std::vector<Seed> chat_sampling_seeds() {
    std::vector<Seed> out;
    auto add = [&](const std::string &name, std::vector<uint8_t> b) { out.push_back({name, b}); };
    auto with_text = [](std::vector<uint8_t> b, const std::string &t) {
        b.insert(b.end(), t.begin(), t.end());
        return b;
    };
    // chat: 2 messages (role index, content length + bytes, null flag), generation prompt.
    add("chat-2", with_text({0, 2, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 1, 4, ' ', 'h', 'i', ' ', 0},
                            "\x01"));
    add("chat-bad-role", {0, 1, 201, 3, 'b', 'o', 't', 2, 'h', 'i', 0, 0});
    // sampler: field selectors, ints, n_vocab, fill, rounds, then per-round bytes.
    add("sampler-default", {1, 0, 0, 0, 1, 0, 1, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    add("sampler-nan", {1, 0x55, 9, 9, 9, 9, 0, 16, 0, 1, 3, 0, 0});
    add("sampler-greedy-inf", {1, 0x01, 7, 0, 100, 0, 2, 5});
    // generation: op, max_tokens, sampling selectors..., flags, prompt.
    add("gen-text", with_text({2, 0, 8, 0, 0, 0x03}, "The quick brown fox"));
    add("gen-tokens", {2, 1, 4, 0, 0, 0x00, 5, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0});
    add("gen-ppl", with_text({2, 2, 4, 1}, "the quick brown fox jumps over the lazy dog again"));
    add("gen-bench", {2, 3, 4, 2, 1, 1});
    return out;
}

}  // namespace bitnet::fuzz
