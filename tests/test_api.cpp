// The C API contract: statuses, messages, buffers, generation, limits, abort, lifetime.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bitnet.h"
#include "fixture_model.h"

using bitnet::test::fixture;

namespace {

class Api : public bitnet::test::FixtureModelSuite {
protected:
    bitnet_context *new_ctx(uint32_t n_ctx = 128, int threads = 2) {
        bitnet_context_params p = bitnet_context_default_params();
        p.n_ctx = n_ctx;
        p.n_threads = threads;
        bitnet_context *c = nullptr;
        EXPECT_EQ(bitnet_context_new(model_, &p, &c), BITNET_OK) << bitnet_last_error_message();
        return c;
    }
};

TEST_F(Api, VersionAndStatusStrings) {
    EXPECT_EQ(bitnet_version_number(), BITNET_VERSION_NUMBER);
    EXPECT_STREQ(bitnet_status_string(BITNET_OK), "ok");
    EXPECT_STREQ(bitnet_status_string(BITNET_ERR_CONTEXT_FULL), "context full");
    EXPECT_STREQ(bitnet_status_string((bitnet_status)999), "unknown status");
}

TEST_F(Api, ModelAccessors) {
    EXPECT_EQ(bitnet_model_n_vocab(model_), 128256);
    EXPECT_EQ(bitnet_model_n_embd(model_), 128);
    EXPECT_EQ(bitnet_model_n_layer(model_), 2);
    EXPECT_EQ(bitnet_model_n_head(model_), 4);
    EXPECT_EQ(bitnet_model_n_head_kv(model_), 2);
    EXPECT_EQ(bitnet_model_n_ctx_train(model_), 512);
    EXPECT_STREQ(bitnet_model_architecture(model_), "bitnet-b1.58");
    EXPECT_EQ(bitnet_token_bos(model_), 128000);
    EXPECT_EQ(bitnet_token_eos(model_), 128001);
    EXPECT_EQ(bitnet_token_eot(model_), 128009);
    EXPECT_TRUE(bitnet_token_is_eog(model_, 128001));
    EXPECT_TRUE(bitnet_token_is_eog(model_, 128009));
    EXPECT_FALSE(bitnet_token_is_eog(model_, 13));
    EXPECT_TRUE(bitnet_model_add_bos(model_));
    EXPECT_GT(bitnet_model_size_bytes(model_), 30u << 20);
    EXPECT_EQ(bitnet_model_n_vocab(nullptr), 0);
    EXPECT_STREQ(bitnet_model_architecture(nullptr), "");
}

TEST_F(Api, Metadata) {
    const int32_t n = bitnet_model_meta_count(model_);
    ASSERT_GT(n, 10);
    bool found_arch = false;
    for (int32_t i = 0; i < n; ++i) {
        size_t need = 0;
        EXPECT_EQ(bitnet_model_meta_key(model_, i, nullptr, 0, &need), BITNET_ERR_BUFFER_TOO_SMALL);
        std::string key(need, '\0');
        ASSERT_EQ(bitnet_model_meta_key(model_, i, key.data(), key.size(), &need), BITNET_OK);
        key.resize(need - 1);
        found_arch |= key == "general.architecture";
    }
    EXPECT_TRUE(found_arch);
    char buf[64];
    size_t need = 0;
    ASSERT_EQ(bitnet_model_meta_get(model_, "bitnet-b1.58.embedding_length", buf, sizeof buf, &need),
              BITNET_OK);
    EXPECT_STREQ(buf, "128");
    ASSERT_EQ(bitnet_model_meta_get(model_, "tokenizer.ggml.tokens", buf, sizeof buf, &need),
              BITNET_OK);
    EXPECT_NE(std::string(buf).find("128256"), std::string::npos);
    EXPECT_EQ(bitnet_model_meta_get(model_, "no.such.key", buf, sizeof buf, &need),
              BITNET_ERR_NOT_FOUND);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("no.such.key"), std::string::npos);
    EXPECT_EQ(bitnet_model_meta_get(model_, "general.architecture", buf, 3, &need),
              BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(need, sizeof("bitnet-b1.58"));
    EXPECT_EQ(bitnet_model_meta_key(model_, n, buf, sizeof buf, &need), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_model_meta_get(nullptr, "x", buf, sizeof buf, &need),
              BITNET_ERR_INVALID_ARGUMENT);
}

TEST_F(Api, TokenizeBuffersAndRoundTrip) {
    const std::string text = "The quick brown fox jumps over the lazy dog.";
    size_t n = 0;
    EXPECT_EQ(bitnet_tokenize(model_, text.data(), text.size(), 1, 0, nullptr, 0, &n),
              BITNET_ERR_BUFFER_TOO_SMALL);
    ASSERT_EQ(n, 11u);
    std::vector<bitnet_token> ids(n);
    ASSERT_EQ(bitnet_tokenize(model_, text.data(), text.size(), 1, 0, ids.data(), ids.size(), &n),
              BITNET_OK);
    EXPECT_EQ(ids, (std::vector<bitnet_token>{128000, 791, 4062, 14198, 39935, 35308, 927, 279,
                                               16053, 5679, 13}));
    size_t nb = 0;
    EXPECT_EQ(bitnet_detokenize(model_, ids.data() + 1, n - 1, 0, nullptr, 0, &nb),
              BITNET_ERR_BUFFER_TOO_SMALL);
    std::string back(nb, '\0');
    ASSERT_EQ(bitnet_detokenize(model_, ids.data() + 1, n - 1, 0, back.data(), back.size(), &nb),
              BITNET_OK);
    EXPECT_EQ(back, text);
    // special tokens render only on request
    const bitnet_token eot = 128009;
    EXPECT_EQ(bitnet_token_to_piece(model_, eot, 0, nullptr, 0, &nb), BITNET_OK);
    EXPECT_EQ(nb, 0u);
    char buf[32];
    ASSERT_EQ(bitnet_token_to_piece(model_, eot, 1, buf, sizeof buf, &nb), BITNET_OK);
    EXPECT_EQ(std::string(buf, nb), "<|eot_id|>");
    EXPECT_EQ(bitnet_token_to_piece(model_, 128256, 1, buf, sizeof buf, &nb),
              BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_token_to_piece(model_, -1, 1, buf, sizeof buf, &nb),
              BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_tokenize(nullptr, "a", 1, 1, 0, ids.data(), ids.size(), &n),
              BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_tokenize(model_, nullptr, 5, 1, 0, ids.data(), ids.size(), &n),
              BITNET_ERR_INVALID_ARGUMENT);
    // empty text with BOS
    ASSERT_EQ(bitnet_tokenize(model_, "", 0, 1, 0, ids.data(), ids.size(), &n), BITNET_OK);
    EXPECT_EQ(n, 1u);
}

TEST_F(Api, LoadErrors) {
    bitnet_model *m = reinterpret_cast<bitnet_model *>(1);
    EXPECT_EQ(bitnet_model_load("/nonexistent/model.gguf", nullptr, &m), BITNET_ERR_IO);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("/nonexistent/model.gguf"),
              std::string::npos);
    EXPECT_EQ(bitnet_model_load(nullptr, nullptr, &m), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_model_load(fixture("tiny-b158-i2s.gguf").c_str(), nullptr, nullptr),
              BITNET_ERR_INVALID_ARGUMENT);
    bitnet_model_params p = bitnet_model_default_params();
    p.size = 3;
    EXPECT_EQ(bitnet_model_load(fixture("tiny-b158-i2s.gguf").c_str(), &p, &m),
              BITNET_ERR_INVALID_ARGUMENT);
    // A vocabulary-only file has no tensors: a clear format error, not a crash.
    // (Its architecture, "llama", is supported: the first missing tensor is named.)
    EXPECT_EQ(bitnet_model_load(fixture("llama3-vocab.gguf").c_str(), nullptr, &m),
              BITNET_ERR_BAD_FORMAT);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("missing tensor 'token_embd.weight'"),
              std::string::npos);
}

TEST_F(Api, TruncatedModelFilesFailCleanly) {
    std::ifstream in(fixture("tiny-b158-i2s.gguf"), std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    const std::string path = ::testing::TempDir() + "bitnet_truncated.gguf";
    for (size_t len : {size_t(0), size_t(3), size_t(24), size_t(1000), size_t(100000),
                       bytes.size() / 2, bytes.size() - 1}) {
        std::ofstream(path, std::ios::binary).write(bytes.data(), (std::streamsize)len);
        bitnet_model *m = nullptr;
        const bitnet_status s = bitnet_model_load(path.c_str(), nullptr, &m);
        EXPECT_TRUE(s == BITNET_ERR_BAD_FORMAT || s == BITNET_ERR_IO) << "length " << len;
        EXPECT_EQ(m, nullptr);
        EXPECT_GT(std::string(bitnet_last_error_message()).size(), 10u);
    }
    std::remove(path.c_str());
}

TEST_F(Api, ContextParameters) {
    bitnet_context_params p = bitnet_context_default_params();
    bitnet_context *c = nullptr;
    p.n_ctx = 1u << 30;
    EXPECT_EQ(bitnet_context_new(model_, &p, &c), BITNET_ERR_INVALID_ARGUMENT);
    p = bitnet_context_default_params();
    p.n_threads = -1;
    EXPECT_EQ(bitnet_context_new(model_, &p, &c), BITNET_ERR_INVALID_ARGUMENT);
    p = bitnet_context_default_params();
    p.kv_type = 7;
    EXPECT_EQ(bitnet_context_new(model_, &p, &c), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_context_new(nullptr, nullptr, &c), BITNET_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(bitnet_context_new(model_, nullptr, &c), BITNET_OK);
    EXPECT_EQ(bitnet_context_n_ctx(c), 512u);  // min(training length 512, 4096)
    EXPECT_GE(bitnet_context_n_threads(c), 1);
    bitnet_context_free(c);
    bitnet_context_free(nullptr);
}

TEST_F(Api, EvalErrorsAndContextFull) {
    bitnet_context *c = new_ctx(8);
    const bitnet_token bad = 200000;
    EXPECT_EQ(bitnet_eval(c, &bad, 1, BITNET_LOGITS_LAST), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_eval(c, nullptr, 1, BITNET_LOGITS_LAST), BITNET_ERR_INVALID_ARGUMENT);
    const bitnet_token ids[9] = {128000, 1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_EQ(bitnet_eval(c, ids, 0, BITNET_LOGITS_LAST), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_eval(c, ids, 1, 9), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_eval(c, ids, 9, BITNET_LOGITS_LAST), BITNET_ERR_CONTEXT_FULL);
    EXPECT_EQ(bitnet_context_n_past(c), 0u);
    ASSERT_EQ(bitnet_eval(c, ids, 8, BITNET_LOGITS_NONE), BITNET_OK);
    EXPECT_EQ(bitnet_n_logits(c), 0);
    EXPECT_EQ(bitnet_get_logits(c, -1), nullptr);
    EXPECT_EQ(bitnet_eval(c, ids, 1, BITNET_LOGITS_LAST), BITNET_ERR_CONTEXT_FULL);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("8 of 8"), std::string::npos)
        << bitnet_last_error_message();
    ASSERT_EQ(bitnet_context_reset(c), BITNET_OK);
    EXPECT_EQ(bitnet_context_n_past(c), 0u);
    ASSERT_EQ(bitnet_eval(c, ids, 2, BITNET_LOGITS_ALL), BITNET_OK);
    EXPECT_EQ(bitnet_n_logits(c), 2);
    EXPECT_NE(bitnet_get_logits(c, 1), nullptr);
    EXPECT_EQ(bitnet_get_logits(c, 1), bitnet_get_logits(c, -1));
    EXPECT_EQ(bitnet_get_logits(c, 2), nullptr);
    bitnet_context_free(c);
}

struct Collected {
    std::string text;
    std::vector<bitnet_token> tokens;
    int calls = 0;
    int stop_after = -1;
};

int collect(const char *piece, size_t len, bitnet_token token, void *ud) {
    auto *c = static_cast<Collected *>(ud);
    c->text.append(piece, len);
    c->tokens.push_back(token);
    ++c->calls;
    return c->stop_after >= 0 && c->calls >= c->stop_after;
}

TEST_F(Api, GenerateStreamsTextThatMatchesDetokenize) {
    bitnet_context *c = new_ctx();
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.sampling = &sp;
    gp.max_tokens = 24;
    sp.temperature = 0.0f;
    Collected col;
    bitnet_generate_result res{};
    res.size = sizeof(res);
    const std::string prompt = "The quick brown fox jumps over the lazy dog.";
    ASSERT_EQ(bitnet_generate(c, prompt.data(), prompt.size(), &gp, collect, &col, &res), BITNET_OK)
        << bitnet_last_error_message();
    EXPECT_EQ(res.n_prompt_tokens, 11);
    EXPECT_GE(res.n_generated, 1);
    EXPECT_TRUE(res.stop_reason == BITNET_STOP_MAX_TOKENS || res.stop_reason == BITNET_STOP_EOG);
    EXPECT_GT(res.prompt_tokens_per_s, 0.0);
    // The greedy continuation of the exact reference (tiny-b158-i2s.fox.json) starts 98643.
    // The same tokens, evaluated and detokenized by hand, give the same text.
    bitnet_context *c2 = new_ctx();
    const bitnet_token fox[11] = {128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13};
    ASSERT_EQ(bitnet_eval(c2, fox, 11, BITNET_LOGITS_LAST), BITNET_OK);
    std::vector<bitnet_token> ids;
    const int32_t nv = bitnet_model_n_vocab(model_);
    for (int i = 0; i < res.n_generated; ++i) {
        const float *l = bitnet_get_logits(c2, -1);
        bitnet_token best = 0;
        for (int32_t v = 1; v < nv; ++v) best = l[v] > l[best] ? v : best;
        ids.push_back(best);
        if (bitnet_token_is_eog(model_, best)) break;
        ASSERT_EQ(bitnet_eval(c2, &best, 1, BITNET_LOGITS_LAST), BITNET_OK);
    }
    EXPECT_EQ(ids.front(), 98643);
    if (bitnet_token_is_eog(model_, ids.back())) ids.pop_back();
    size_t nb = 0;
    std::string expect(4096, '\0');
    ASSERT_EQ(bitnet_detokenize(model_, ids.data(), ids.size(), 0, expect.data(), expect.size(), &nb),
              BITNET_OK);
    expect.resize(nb);
    EXPECT_EQ(col.text, expect);
    EXPECT_EQ(bitnet_context_n_past(c), 11u + (uint32_t)res.n_generated - 1);
    bitnet_context_free(c);
    bitnet_context_free(c2);
}

TEST_F(Api, GenerateCallbackStopsAndMaxTokens) {
    bitnet_context *c = new_ctx();
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.sampling = &sp;
    gp.max_tokens = 50;
    sp.seed = 3;
    Collected col;
    col.stop_after = 2;
    bitnet_generate_result res{};
    res.size = sizeof(res);
    ASSERT_EQ(bitnet_generate(c, "Hello", 5, &gp, collect, &col, &res), BITNET_OK);
    EXPECT_EQ(col.calls, 2);
    EXPECT_EQ(res.stop_reason, BITNET_STOP_CALLBACK);
    bitnet_context_reset(c);
    gp.max_tokens = 0;
    ASSERT_EQ(bitnet_generate(c, "Hello", 5, &gp, nullptr, nullptr, &res), BITNET_OK);
    EXPECT_EQ(res.n_generated, 0);
    gp.max_tokens = -1;
    EXPECT_EQ(bitnet_generate(c, "Hello", 5, &gp, nullptr, nullptr, &res),
              BITNET_ERR_INVALID_ARGUMENT);
    gp.max_tokens = 5;
    sp.temperature = NAN;
    EXPECT_EQ(bitnet_generate(c, "Hello", 5, &gp, nullptr, nullptr, &res),
              BITNET_ERR_INVALID_ARGUMENT);
    bitnet_context_free(c);
}

TEST_F(Api, GenerateSameSeedSameText) {
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.sampling = &sp;
    gp.max_tokens = 16;
    sp.temperature = 1.0f;
    sp.seed = 1234;
    std::string texts[2];
    for (auto &t : texts) {
        bitnet_context *c = new_ctx();
        Collected col;
        ASSERT_EQ(bitnet_generate(c, "Once upon a time", 16, &gp, collect, &col, nullptr), BITNET_OK);
        t = col.text;
        bitnet_context_free(c);
    }
    EXPECT_EQ(texts[0], texts[1]);
}

TEST_F(Api, GeneratePastContextReportsContextFull) {
    bitnet_context *c = new_ctx(16);
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.sampling = &sp;
    gp.max_tokens = 100;
    sp.temperature = 0.0f;
    bitnet_generate_result res{};
    res.size = sizeof(res);
    Collected col;
    EXPECT_EQ(bitnet_generate(c, "Hello world", 11, &gp, collect, &col, &res),
              BITNET_ERR_CONTEXT_FULL);
    EXPECT_EQ(res.stop_reason, BITNET_STOP_CONTEXT_FULL);
    EXPECT_EQ(bitnet_context_n_past(c), 16u);
    // a prompt longer than the context is refused up front
    bitnet_context_reset(c);
    std::string long_prompt;
    for (int i = 0; i < 40; ++i) long_prompt += " word";
    EXPECT_EQ(bitnet_generate(c, long_prompt.data(), long_prompt.size(), &gp, nullptr, nullptr, &res),
              BITNET_ERR_CONTEXT_FULL);
    bitnet_context_free(c);
}

TEST_F(Api, GenerateContinuesFromCache) {
    bitnet_context *c = new_ctx();
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.sampling = &sp;
    gp.max_tokens = 4;
    sp.temperature = 0.0f;
    bitnet_generate_result res{};
    res.size = sizeof(res);
    ASSERT_EQ(bitnet_generate(c, "User: hi<|eot_id|>", 18, &gp, nullptr, nullptr, &res), BITNET_OK);
    const uint32_t past = bitnet_context_n_past(c);
    ASSERT_EQ(bitnet_generate(c, "Assistant: ", 11, &gp, nullptr, nullptr, &res), BITNET_OK);
    EXPECT_EQ(res.n_prompt_tokens, 3);  // no second BOS: "Assistant", ":", " "
    EXPECT_GT(bitnet_context_n_past(c), past);
    bitnet_context_free(c);
}

TEST_F(Api, AbortFromAnotherThread) {
    bitnet_context *c = new_ctx(512, 1);
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.sampling = &sp;
    gp.max_tokens = 500;
    sp.temperature = 0.0f;
    std::atomic<bool> started{false};
    struct S {
        std::atomic<bool> *started;
    } s{&started};
    auto cb = [](const char *, size_t, bitnet_token, void *ud) -> int {
        static_cast<S *>(ud)->started->store(true);
        return 0;
    };
    std::thread t([&] {
        while (!started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        bitnet_context_abort(c);
    });
    const bitnet_status st = bitnet_generate(c, "Hello", 5, &gp, cb, &s, nullptr);
    t.join();
    EXPECT_EQ(st, BITNET_ERR_ABORTED);
    // The flag is cleared: the context works again.
    const bitnet_token tok = 1;
    EXPECT_EQ(bitnet_eval(c, &tok, 1, BITNET_LOGITS_LAST), BITNET_OK);
    bitnet_context_free(c);
}

TEST_F(Api, ModelFreedWhileContextAliveStaysUsable) {
    bitnet_model *m = nullptr;
    ASSERT_EQ(bitnet_model_load(fixture("tiny-b158-i2s.gguf").c_str(), nullptr, &m), BITNET_OK);
    bitnet_context *c = nullptr;
    ASSERT_EQ(bitnet_context_new(m, nullptr, &c), BITNET_OK);
    bitnet_model_free(m);  // the context keeps the model alive
    const bitnet_token ids[2] = {128000, 791};
    EXPECT_EQ(bitnet_eval(c, ids, 2, BITNET_LOGITS_LAST), BITNET_OK);
    bitnet_context_free(c);
}

TEST_F(Api, Bench) {
    bitnet_context *c = new_ctx(64);
    bitnet_bench_params bp = bitnet_bench_default_params();
    bp.n_prompt = 16;
    bp.n_gen = 4;
    bp.repetitions = 2;
    bitnet_bench_result br{};
    br.size = sizeof(br);
    ASSERT_EQ(bitnet_bench(c, &bp, &br), BITNET_OK) << bitnet_last_error_message();
    EXPECT_GT(br.pp_mean, 0.0);
    EXPECT_GT(br.tg_mean, 0.0);
    EXPECT_GE(br.pp_best, br.pp_median);
    EXPECT_EQ(br.n_threads, 2);
    EXPECT_EQ(bitnet_context_n_past(c), 0u);
    bp.n_prompt = 65;
    EXPECT_EQ(bitnet_bench(c, &bp, &br), BITNET_ERR_CONTEXT_FULL);
    bp.n_prompt = 8;
    bp.repetitions = 0;
    EXPECT_EQ(bitnet_bench(c, &bp, &br), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_context_free(c);
}

TEST_F(Api, ConcurrentContextsOnOneModelMatchSequential) {
    const bitnet_token ids[5] = {128000, 791, 4062, 14198, 39935};
    const int32_t nv = bitnet_model_n_vocab(model_);
    std::vector<float> expect;
    {
        bitnet_context *c = new_ctx(64, 1);
        ASSERT_EQ(bitnet_eval(c, ids, 5, BITNET_LOGITS_LAST), BITNET_OK);
        expect.assign(bitnet_get_logits(c, -1), bitnet_get_logits(c, -1) + nv);
        bitnet_context_free(c);
    }
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            bitnet_context *c = new_ctx(64, 1);
            for (int rep = 0; rep < 3; ++rep) {
                bitnet_context_reset(c);
                if (bitnet_eval(c, ids, 5, BITNET_LOGITS_LAST) != BITNET_OK) {
                    mismatches++;
                    continue;
                }
                const float *l = bitnet_get_logits(c, -1);
                for (int32_t v = 0; v < nv; ++v) {
                    if (l[v] != expect[v]) {
                        mismatches++;
                        break;
                    }
                }
            }
            bitnet_context_free(c);
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
