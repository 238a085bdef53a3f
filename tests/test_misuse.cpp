// Misuse of the C API: NULL handles and buffers on every entry point of bitnet.h, too-small
// buffers, absurd parameters, allocation failure and the context limit. Every failure must be
// the documented status with a message; accessors and *_free have documented no-op results.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "bitnet.h"
#include "sanitized.h"
#include "fixtures.h"
#include "tiny_model.h"

namespace {

using bitnet::test::kSanitized;

// The status, and that a failure left a message (a success, none).
::testing::AssertionResult StatusIs(const char *call, const char *, bitnet_status got,
                                    bitnet_status want) {
    const std::string msg = bitnet_last_error_message();
    if (got != want) {
        return ::testing::AssertionFailure()
               << call << " returned " << bitnet_status_string(got) << " (" << msg
               << "), expected " << bitnet_status_string(want);
    }
    if (want != BITNET_OK && msg.empty())
        return ::testing::AssertionFailure() << call << " left no message";
    if (want == BITNET_OK && !msg.empty())
        return ::testing::AssertionFailure() << call << " kept a stale message: " << msg;
    return ::testing::AssertionSuccess();
}
#define EXPECT_FAILS(call, status) EXPECT_PRED_FORMAT2(StatusIs, call, status)
#define EXPECT_INVALID(call) EXPECT_FAILS(call, BITNET_ERR_INVALID_ARGUMENT)
#define EXPECT_OK(call) EXPECT_FAILS(call, BITNET_OK)

// A generated ~100 KB model (tests/tiny_model.h), written once per process.
const std::string &tiny_path() {
    static const std::string path = [] {
        const std::string p = ::testing::TempDir() + "misuse-tiny-" +
                              std::to_string(::getpid()) + ".gguf";
        bitnet::test::make_tiny_model(p);
        return p;
    }();
    return path;
}

class Misuse : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(bitnet_model_load(tiny_path().c_str(), nullptr, &model_), BITNET_OK)
            << bitnet_last_error_message();
        bitnet_context_params p = bitnet_context_default_params();
        p.n_ctx = 16;
        p.n_threads = 1;
        ASSERT_EQ(bitnet_context_new(model_, &p, &ctx_), BITNET_OK);
        ASSERT_EQ(bitnet_sampler_new(nullptr, &sampler_), BITNET_OK);
    }
    void TearDown() override {
        bitnet_sampler_free(sampler_);
        bitnet_context_free(ctx_);
        bitnet_model_free(model_);
    }
    bitnet_model *model_ = nullptr;
    bitnet_context *ctx_ = nullptr;
    bitnet_sampler *sampler_ = nullptr;
};

}  // namespace

TEST(MisuseStatic, VersionStatusAndDefaults) {
    EXPECT_EQ(bitnet_version_number(), BITNET_VERSION_NUMBER);
    EXPECT_STREQ(bitnet_status_string((bitnet_status)12345), "unknown status");
    EXPECT_STREQ(bitnet_status_string((bitnet_status)-1), "unknown status");
    EXPECT_STREQ(bitnet_status_string(BITNET_ERR_CONTEXT_FULL), "context full");
    EXPECT_EQ(bitnet_model_default_params().size, sizeof(bitnet_model_params));
    EXPECT_EQ(bitnet_context_default_params().size, sizeof(bitnet_context_params));
    EXPECT_EQ(bitnet_sampling_default_params().size, sizeof(bitnet_sampling_params));
    EXPECT_EQ(bitnet_generate_default_params().size, sizeof(bitnet_generate_params));
    EXPECT_EQ(bitnet_bench_default_params().size, sizeof(bitnet_bench_params));
}

TEST(MisuseStatic, FreeFunctionsAcceptNull) {
    bitnet_model_free(nullptr);
    bitnet_context_free(nullptr);
    bitnet_sampler_free(nullptr);
    bitnet_context_abort(nullptr);
}

TEST(MisuseStatic, NullModelAccessors) {
    EXPECT_EQ(bitnet_model_n_vocab(nullptr), 0);
    EXPECT_EQ(bitnet_model_n_ctx_train(nullptr), 0);
    EXPECT_EQ(bitnet_model_n_embd(nullptr), 0);
    EXPECT_EQ(bitnet_model_n_layer(nullptr), 0);
    EXPECT_EQ(bitnet_model_n_head(nullptr), 0);
    EXPECT_EQ(bitnet_model_n_head_kv(nullptr), 0);
    EXPECT_EQ(bitnet_model_size_bytes(nullptr), 0u);
    EXPECT_EQ(bitnet_model_n_params(nullptr), 0u);
    EXPECT_EQ(bitnet_model_decode_bytes(nullptr), 0u);
    EXPECT_STREQ(bitnet_model_architecture(nullptr), "");
    EXPECT_STREQ(bitnet_model_chat_template(nullptr), "");
    EXPECT_STREQ(bitnet_model_chat_turn_end(nullptr), "");
    EXPECT_EQ(bitnet_model_meta_count(nullptr), 0);
    EXPECT_EQ(bitnet_token_bos(nullptr), -1);
    EXPECT_EQ(bitnet_token_eos(nullptr), -1);
    EXPECT_EQ(bitnet_token_eot(nullptr), -1);
    EXPECT_EQ(bitnet_token_is_eog(nullptr, 0), 0);
    EXPECT_EQ(bitnet_model_add_bos(nullptr), 0);
    EXPECT_EQ(bitnet_context_n_ctx(nullptr), 0u);
    EXPECT_EQ(bitnet_context_n_past(nullptr), 0u);
    EXPECT_EQ(bitnet_context_n_threads(nullptr), 0);
    EXPECT_EQ(bitnet_get_logits(nullptr, 0), nullptr);
    EXPECT_EQ(bitnet_get_logits(nullptr, -1), nullptr);
    EXPECT_EQ(bitnet_n_logits(nullptr), 0);
}

TEST(MisuseStatic, NullHandlesOnFallibleFunctions) {
    char buf[16];
    size_t n = 0;
    bitnet_token tok = 0;
    float logit = 0.0f;
    EXPECT_INVALID(bitnet_model_meta_key(nullptr, 0, buf, sizeof buf, &n));
    EXPECT_INVALID(bitnet_model_meta_get(nullptr, "general.name", buf, sizeof buf, &n));
    EXPECT_INVALID(bitnet_tokenize(nullptr, "a", 1, 0, 0, &tok, 1, &n));
    EXPECT_INVALID(bitnet_token_to_piece(nullptr, 0, 0, buf, sizeof buf, &n));
    EXPECT_INVALID(bitnet_detokenize(nullptr, &tok, 1, 0, buf, sizeof buf, &n));
    bitnet_context *ctx = reinterpret_cast<bitnet_context *>(0x1);
    EXPECT_INVALID(bitnet_context_new(nullptr, nullptr, &ctx));
    EXPECT_EQ(ctx, nullptr) << "out must be cleared on failure";
    EXPECT_INVALID(bitnet_context_reset(nullptr));
    bitnet_model *got = reinterpret_cast<bitnet_model *>(0x1);
    EXPECT_INVALID(bitnet_context_get_model(nullptr, &got));
    EXPECT_EQ(got, nullptr);
    EXPECT_INVALID(bitnet_eval(nullptr, &tok, 1, BITNET_LOGITS_LAST));
    EXPECT_INVALID(bitnet_sampler_new(nullptr, nullptr));
    EXPECT_INVALID(bitnet_sampler_sample(nullptr, &logit, 1, &tok));
    EXPECT_INVALID(bitnet_sampler_accept(nullptr, 0));
    EXPECT_INVALID(bitnet_sampler_reset(nullptr));
    EXPECT_INVALID(bitnet_generate(nullptr, "a", 1, nullptr, nullptr, nullptr, nullptr));
    EXPECT_INVALID(bitnet_generate_tokens(nullptr, &tok, 1, nullptr, nullptr, nullptr, nullptr));
    bitnet_perplexity_result pr{};
    pr.size = sizeof pr;
    EXPECT_INVALID(bitnet_perplexity(nullptr, "a", 1, 0, 0, nullptr, nullptr, &pr));
    bitnet_bench_result br{};
    br.size = sizeof br;
    EXPECT_INVALID(bitnet_bench(nullptr, nullptr, &br));
}

TEST(MisuseStatic, ModelLoadArguments) {
    bitnet_model *m = reinterpret_cast<bitnet_model *>(0x1);
    EXPECT_INVALID(bitnet_model_load(nullptr, nullptr, &m));
    EXPECT_EQ(m, nullptr);
    EXPECT_INVALID(bitnet_model_load(tiny_path().c_str(), nullptr, nullptr));
    bitnet_model_params p = bitnet_model_default_params();
    for (size_t size : {size_t{0}, size_t{1}, sizeof(p) + 1, size_t{1} << 40,
                        std::numeric_limits<size_t>::max()}) {
        p.size = size;
        EXPECT_INVALID(bitnet_model_load(tiny_path().c_str(), &p, &m)) << size;
        EXPECT_EQ(m, nullptr);
    }
    p = bitnet_model_default_params();
    for (int t : {-1, 4, 1000}) {
        p.lm_head_type = t;
        EXPECT_INVALID(bitnet_model_load(tiny_path().c_str(), &p, &m)) << t;
    }
    EXPECT_FAILS(bitnet_model_load("", nullptr, &m), BITNET_ERR_IO);
    EXPECT_FAILS(bitnet_model_load("/nonexistent/x.gguf", nullptr, &m), BITNET_ERR_IO);
    EXPECT_FAILS(bitnet_model_load("/", nullptr, &m), BITNET_ERR_IO);
    EXPECT_FAILS(bitnet_model_load("/dev/null", nullptr, &m), BITNET_ERR_IO);
    EXPECT_FAILS(bitnet_model_load(bitnet::test::fixture("llama3-vocab.gguf").c_str(), nullptr, &m),
                 BITNET_ERR_BAD_FORMAT);  // a vocabulary-only file: no tensors
    // Only the first `size` bytes of an older, smaller struct are read.
    p = bitnet_model_default_params();
    p.size = sizeof(size_t) + sizeof(int);  // use_mmap only
    p.use_mmap = 0;
    p.lm_head_type = 99;                    // beyond size: ignored
    EXPECT_OK(bitnet_model_load(tiny_path().c_str(), &p, &m));
    bitnet_model_free(m);
}

TEST_F(Misuse, MetadataBuffers) {
    size_t needed = 0;
    char buf[8];
    EXPECT_INVALID(bitnet_model_meta_key(model_, -1, buf, sizeof buf, &needed));
    EXPECT_INVALID(bitnet_model_meta_key(model_, bitnet_model_meta_count(model_), buf, sizeof buf,
                                         &needed));
    EXPECT_INVALID(bitnet_model_meta_key(model_, 0, nullptr, 5, &needed));
    EXPECT_FAILS(bitnet_model_meta_key(model_, 0, nullptr, 0, &needed),
                 BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(needed, std::strlen("general.architecture") + 1);
    EXPECT_FAILS(bitnet_model_meta_key(model_, 0, buf, sizeof buf, nullptr),
                 BITNET_ERR_BUFFER_TOO_SMALL);
    std::vector<char> big(needed);
    EXPECT_OK(bitnet_model_meta_key(model_, 0, big.data(), big.size(), nullptr));
    EXPECT_STREQ(big.data(), "general.architecture");

    EXPECT_INVALID(bitnet_model_meta_get(model_, nullptr, buf, sizeof buf, &needed));
    EXPECT_INVALID(bitnet_model_meta_get(model_, "general.name", nullptr, 3, &needed));
    EXPECT_FAILS(bitnet_model_meta_get(model_, "no.such.key", buf, sizeof buf, &needed),
                 BITNET_ERR_NOT_FOUND);
    EXPECT_FAILS(bitnet_model_meta_get(model_, "general.name", buf, sizeof buf, &needed),
                 BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(needed, std::strlen("tiny-test-model") + 1);
    big.resize(needed);
    EXPECT_OK(bitnet_model_meta_get(model_, "general.name", big.data(), big.size(), &needed));
    EXPECT_STREQ(big.data(), "tiny-test-model");
    EXPECT_FAILS(bitnet_model_meta_get(model_, "tokenizer.ggml.tokens", nullptr, 0, &needed),
                 BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_GT(needed, 1u);
}

TEST_F(Misuse, TokenAccessors) {
    const int32_t nv = bitnet_model_n_vocab(model_);
    EXPECT_EQ(bitnet_token_is_eog(model_, -1), 0);
    EXPECT_EQ(bitnet_token_is_eog(model_, nv), 0);
    EXPECT_EQ(bitnet_token_is_eog(model_, std::numeric_limits<int32_t>::max()), 0);
    EXPECT_EQ(bitnet_token_is_eog(model_, std::numeric_limits<int32_t>::min()), 0);
    EXPECT_EQ(bitnet_token_is_eog(model_, bitnet_token_eos(model_)), 1);
}

TEST_F(Misuse, TokenizeBuffers) {
    size_t n = 99;
    bitnet_token toks[2];
    EXPECT_INVALID(bitnet_tokenize(model_, "abc", 3, 0, 0, toks, 2, nullptr));
    EXPECT_INVALID(bitnet_tokenize(model_, nullptr, 3, 0, 0, toks, 2, &n));
    EXPECT_INVALID(bitnet_tokenize(model_, "abc", 3, 0, 0, nullptr, 2, &n));
    // Too small: the needed count is reported, nothing beyond the buffer is written.
    const std::string text = "the quick brown fox jumps over the lazy dog";
    bitnet_token guard[4] = {-7, -7, -7, -7};
    EXPECT_FAILS(bitnet_tokenize(model_, text.data(), text.size(), 1, 0, guard, 2, &n),
                 BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_GT(n, 2u);
    EXPECT_EQ(guard[2], -7);
    EXPECT_FAILS(bitnet_tokenize(model_, text.data(), text.size(), 1, 0, nullptr, 0, &n),
                 BITNET_ERR_BUFFER_TOO_SMALL);
    std::vector<bitnet_token> ids(n);
    EXPECT_OK(bitnet_tokenize(model_, text.data(), text.size(), 1, 0, ids.data(), ids.size(), &n));
    EXPECT_EQ(ids.size(), n);
    // Empty text: NULL is fine with length 0 (BOS only, or nothing).
    EXPECT_OK(bitnet_tokenize(model_, nullptr, 0, 0, 0, nullptr, 0, &n));
    EXPECT_EQ(n, 0u);
    EXPECT_OK(bitnet_tokenize(model_, nullptr, 0, 1, 0, toks, 2, &n));
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(toks[0], bitnet_token_bos(model_));
}

TEST_F(Misuse, PieceAndDetokenizeBuffers) {
    const int32_t nv = bitnet_model_n_vocab(model_);
    char buf[64];
    size_t n = 0;
    EXPECT_INVALID(bitnet_token_to_piece(model_, 0, 0, buf, sizeof buf, nullptr));
    EXPECT_INVALID(bitnet_token_to_piece(model_, -1, 0, buf, sizeof buf, &n));
    EXPECT_INVALID(bitnet_token_to_piece(model_, nv, 0, buf, sizeof buf, &n));
    EXPECT_INVALID(bitnet_token_to_piece(model_, 'a', 0, nullptr, 4, &n));
    // The byte token of 'a' is one byte; a zero-size buffer reports it.
    bitnet_token a = -1;
    ASSERT_EQ(bitnet_tokenize(model_, "a", 1, 0, 0, &a, 1, &n), BITNET_OK);
    EXPECT_FAILS(bitnet_token_to_piece(model_, a, 0, nullptr, 0, &n), BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, 1u);
    EXPECT_OK(bitnet_token_to_piece(model_, a, 0, buf, 1, &n));
    EXPECT_EQ(buf[0], 'a');
    // A control token renders as nothing (OK with a NULL buffer) or its text.
    EXPECT_OK(bitnet_token_to_piece(model_, bitnet_token_eos(model_), 0, nullptr, 0, &n));
    EXPECT_EQ(n, 0u);
    EXPECT_OK(bitnet_token_to_piece(model_, bitnet_token_eos(model_), 1, buf, sizeof buf, &n));
    EXPECT_EQ(std::string(buf, n), "<|end_of_text|>");

    const bitnet_token ids[3] = {a, a, nv + 5};
    EXPECT_INVALID(bitnet_detokenize(model_, nullptr, 2, 0, buf, sizeof buf, &n));
    EXPECT_INVALID(bitnet_detokenize(model_, ids, 2, 0, nullptr, 2, &n));
    EXPECT_INVALID(bitnet_detokenize(model_, ids, 2, 0, buf, sizeof buf, nullptr));
    EXPECT_INVALID(bitnet_detokenize(model_, ids, 3, 0, buf, sizeof buf, &n));  // id out of range
    EXPECT_FAILS(bitnet_detokenize(model_, ids, 2, 0, buf, 1, &n), BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, 2u);
    EXPECT_OK(bitnet_detokenize(model_, nullptr, 0, 0, nullptr, 0, &n));
    EXPECT_EQ(n, 0u);
}

TEST_F(Misuse, ContextParameters) {
    bitnet_context *c = reinterpret_cast<bitnet_context *>(0x1);
    EXPECT_INVALID(bitnet_context_new(model_, nullptr, nullptr));
    bitnet_context_params p = bitnet_context_default_params();
    for (size_t size : {size_t{0}, size_t{4}, sizeof(p) + 8, std::numeric_limits<size_t>::max()}) {
        p.size = size;
        EXPECT_INVALID(bitnet_context_new(model_, &p, &c)) << size;
        EXPECT_EQ(c, nullptr);
    }
    p = bitnet_context_default_params();
    p.n_ctx = 1u << 30;  // 2^40 does not fit in the uint32 field; 2^30 is above the 2^24 limit
    EXPECT_INVALID(bitnet_context_new(model_, &p, &c));
    p.n_ctx = (1u << 24) + 1;
    EXPECT_INVALID(bitnet_context_new(model_, &p, &c));
    p.n_ctx = std::numeric_limits<uint32_t>::max();
    EXPECT_INVALID(bitnet_context_new(model_, &p, &c));
    p = bitnet_context_default_params();
    for (int32_t t : {-1, 1025, 100000, std::numeric_limits<int32_t>::min()}) {
        p.n_threads = t;
        EXPECT_INVALID(bitnet_context_new(model_, &p, &c)) << t;
    }
    p = bitnet_context_default_params();
    p.n_batch = -5;
    EXPECT_INVALID(bitnet_context_new(model_, &p, &c));
    p = bitnet_context_default_params();
    for (int k : {-1, 2, 77}) {
        p.kv_type = k;
        EXPECT_INVALID(bitnet_context_new(model_, &p, &c)) << k;
    }

    // Zero means "default": n_ctx = min(training length, 4096), threads = physical cores.
    p = bitnet_context_default_params();
    p.n_ctx = 0;
    p.n_threads = 0;
    p.n_batch = 0;
    EXPECT_OK(bitnet_context_new(model_, &p, &c));
    EXPECT_EQ(bitnet_context_n_ctx(c), (uint32_t)std::min(bitnet_model_n_ctx_train(model_), 4096));
    EXPECT_GE(bitnet_context_n_threads(c), 1);
    bitnet_context_free(c);
}

TEST_F(Misuse, ContextGetModel) {
    EXPECT_INVALID(bitnet_context_get_model(ctx_, nullptr));
    bitnet_model *m = nullptr;
    EXPECT_OK(bitnet_context_get_model(ctx_, &m));
    ASSERT_NE(m, nullptr);
    // A handle of its own: still valid after the original handle is released.
    bitnet_model_free(model_);
    model_ = nullptr;
    EXPECT_GT(bitnet_model_n_vocab(m), 0);
    EXPECT_GT(bitnet_model_decode_bytes(m), 0u);
    bitnet_model_free(m);
    const bitnet_token t = 1;
    EXPECT_OK(bitnet_eval(ctx_, &t, 1, BITNET_LOGITS_LAST));
}

TEST_F(Misuse, EvalArguments) {
    const int32_t nv = bitnet_model_n_vocab(model_);
    const bitnet_token good[2] = {1, 2};
    EXPECT_INVALID(bitnet_eval(ctx_, nullptr, 1, BITNET_LOGITS_LAST));
    EXPECT_INVALID(bitnet_eval(ctx_, good, 0, BITNET_LOGITS_LAST));
    EXPECT_INVALID(bitnet_eval(ctx_, good, 1, -1));
    EXPECT_INVALID(bitnet_eval(ctx_, good, 1, 3));
    const bitnet_token bad[2] = {1, nv};
    EXPECT_INVALID(bitnet_eval(ctx_, bad, 2, BITNET_LOGITS_LAST));
    const bitnet_token neg[1] = {-1};
    EXPECT_INVALID(bitnet_eval(ctx_, neg, 1, BITNET_LOGITS_LAST));
    EXPECT_EQ(bitnet_context_n_past(ctx_), 0u) << "nothing is evaluated on failure";
    EXPECT_EQ(bitnet_get_logits(ctx_, -1), nullptr);
    // More tokens than the context holds: CONTEXT_FULL before a single token is read (the
    // array here is much shorter than n_tokens claims).
    EXPECT_FAILS(bitnet_eval(ctx_, good, std::numeric_limits<size_t>::max(), BITNET_LOGITS_ALL),
                 BITNET_ERR_CONTEXT_FULL);
    EXPECT_FAILS(bitnet_eval(ctx_, good, 17, BITNET_LOGITS_ALL), BITNET_ERR_CONTEXT_FULL);

    EXPECT_OK(bitnet_eval(ctx_, good, 2, BITNET_LOGITS_ALL));
    EXPECT_EQ(bitnet_n_logits(ctx_), 2);
    EXPECT_NE(bitnet_get_logits(ctx_, 0), nullptr);
    EXPECT_NE(bitnet_get_logits(ctx_, -2), nullptr);
    EXPECT_EQ(bitnet_get_logits(ctx_, 2), nullptr);
    EXPECT_EQ(bitnet_get_logits(ctx_, -3), nullptr);
    EXPECT_EQ(bitnet_get_logits(ctx_, std::numeric_limits<int32_t>::min()), nullptr);
    EXPECT_EQ(bitnet_get_logits(ctx_, std::numeric_limits<int32_t>::max()), nullptr);
    // Fill the context exactly, then one more token is CONTEXT_FULL and changes nothing.
    std::vector<bitnet_token> fill(14, 3);
    EXPECT_OK(bitnet_eval(ctx_, fill.data(), fill.size(), BITNET_LOGITS_NONE));
    EXPECT_EQ(bitnet_n_logits(ctx_), 0);
    EXPECT_EQ(bitnet_context_n_past(ctx_), 16u);
    EXPECT_FAILS(bitnet_eval(ctx_, good, 1, BITNET_LOGITS_LAST), BITNET_ERR_CONTEXT_FULL);
    EXPECT_EQ(bitnet_context_n_past(ctx_), 16u);
    EXPECT_OK(bitnet_context_reset(ctx_));
    EXPECT_EQ(bitnet_context_n_past(ctx_), 0u);
}

TEST_F(Misuse, SamplerParameters) {
    bitnet_sampler *s = reinterpret_cast<bitnet_sampler *>(0x1);
    auto with = [](auto f) {
        bitnet_sampling_params p = bitnet_sampling_default_params();
        f(p);
        return p;
    };
    const bitnet_sampling_params bad[] = {
        with([](auto &p) { p.size = 0; }),
        with([](auto &p) { p.size = sizeof(p) + 4; }),
        with([](auto &p) { p.size = std::numeric_limits<size_t>::max(); }),
        with([](auto &p) { p.temperature = NAN; }),
        with([](auto &p) { p.temperature = INFINITY; }),
        with([](auto &p) { p.temperature = -INFINITY; }),
        with([](auto &p) { p.top_p = NAN; }),
        with([](auto &p) { p.top_p = -0.1f; }),
        with([](auto &p) { p.top_p = 1.5f; }),
        with([](auto &p) { p.min_p = NAN; }),
        with([](auto &p) { p.min_p = 2.0f; }),
        with([](auto &p) { p.repeat_penalty = 0.0f; }),
        with([](auto &p) { p.repeat_penalty = -1.0f; }),
        with([](auto &p) { p.repeat_penalty = NAN; }),
        with([](auto &p) { p.repeat_penalty = INFINITY; }),
        with([](auto &p) { p.repeat_last_n = -1; }),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        EXPECT_INVALID(bitnet_sampler_new(&bad[i], &s)) << "case " << i;
        EXPECT_EQ(s, nullptr);
    }
    // Documented as valid: temperature <= 0 is greedy; top_k <= 0 disables top-k.
    const bitnet_sampling_params fine[] = {
        with([](auto &p) { p.temperature = -3.0f; }),
        with([](auto &p) { p.temperature = 0.0f; }),
        with([](auto &p) { p.top_k = -100; }),
        with([](auto &p) { p.top_k = std::numeric_limits<int32_t>::max(); }),
        with([](auto &p) { p.repeat_last_n = std::numeric_limits<int32_t>::max(); }),
        with([](auto &p) { p.temperature = 1e-30f; }),
    };
    for (const auto &p : fine) {
        EXPECT_OK(bitnet_sampler_new(&p, &s));
        std::vector<float> logits = {1.0f, NAN, INFINITY, -INFINITY, 3.0f};
        bitnet_token t = -1;
        EXPECT_OK(bitnet_sampler_sample(s, logits.data(), (int32_t)logits.size(), &t));
        EXPECT_GE(t, 0);
        EXPECT_LT(t, 5);
        bitnet_sampler_free(s);
    }
}

TEST_F(Misuse, SamplerCalls) {
    float logits[3] = {0.0f, 1.0f, 2.0f};
    bitnet_token t = 0;
    EXPECT_INVALID(bitnet_sampler_sample(sampler_, nullptr, 3, &t));
    EXPECT_INVALID(bitnet_sampler_sample(sampler_, logits, 3, nullptr));
    EXPECT_INVALID(bitnet_sampler_sample(sampler_, logits, 0, &t));
    EXPECT_INVALID(bitnet_sampler_sample(sampler_, logits, -5, &t));
    // Any token id may be recorded; ids outside the logits are ignored by the penalty.
    EXPECT_OK(bitnet_sampler_accept(sampler_, -1));
    EXPECT_OK(bitnet_sampler_accept(sampler_, std::numeric_limits<int32_t>::max()));
    EXPECT_OK(bitnet_sampler_sample(sampler_, logits, 3, &t));
    EXPECT_OK(bitnet_sampler_reset(sampler_));
    // All-NaN and all-infinite logits still give a valid id.
    float nan3[3] = {NAN, NAN, NAN}, inf3[3] = {INFINITY, INFINITY, -INFINITY};
    EXPECT_OK(bitnet_sampler_sample(sampler_, nan3, 3, &t));
    EXPECT_TRUE(t >= 0 && t < 3);
    EXPECT_OK(bitnet_sampler_sample(sampler_, inf3, 3, &t));
    EXPECT_TRUE(t >= 0 && t < 3);
}

TEST_F(Misuse, GenerateArguments) {
    bitnet_generate_params p = bitnet_generate_default_params();
    EXPECT_INVALID(bitnet_generate(ctx_, nullptr, 4, &p, nullptr, nullptr, nullptr));
    EXPECT_INVALID(bitnet_generate_tokens(ctx_, nullptr, 4, &p, nullptr, nullptr, nullptr));
    for (size_t size : {size_t{0}, sizeof(p) + 1, std::numeric_limits<size_t>::max()}) {
        p.size = size;
        EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, nullptr)) << size;
    }
    p = bitnet_generate_default_params();
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    p.sampling = &sp;
    sp.size = 0;
    EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, nullptr));
    sp.size = 1u << 20;
    EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, nullptr));
    p = bitnet_generate_default_params();
    p.max_tokens = -1;
    EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, nullptr));
    p = bitnet_generate_default_params();
    sp = bitnet_sampling_default_params();
    p.sampling = &sp;
    sp.temperature = NAN;
    EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, nullptr));
    sp.temperature = 0.5f;
    sp.top_p = NAN;
    EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, nullptr));
    EXPECT_EQ(bitnet_context_n_past(ctx_), 0u) << "invalid parameters evaluate nothing";
    p = bitnet_generate_default_params();
    bitnet_generate_result r{};
    r.size = 0;
    EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, &r));
    r.size = sizeof r + 1;
    EXPECT_INVALID(bitnet_generate(ctx_, "a", 1, &p, nullptr, nullptr, &r));
    // An empty prompt (no BOS either) with an empty cache has nothing to continue from. With
    // add_bos the prompt is BOS alone, which is fine.
    p.add_bos = 0;
    EXPECT_INVALID(bitnet_generate(ctx_, "", 0, &p, nullptr, nullptr, nullptr));
    EXPECT_INVALID(bitnet_generate(ctx_, nullptr, 0, &p, nullptr, nullptr, nullptr));
    EXPECT_INVALID(bitnet_generate_tokens(ctx_, nullptr, 0, &p, nullptr, nullptr, nullptr));
    p.add_bos = 1;
    p.max_tokens = 2;
    EXPECT_OK(bitnet_generate(ctx_, nullptr, 0, &p, nullptr, nullptr, nullptr));
    EXPECT_OK(bitnet_context_reset(ctx_));
    p = bitnet_generate_default_params();
    // Token ids out of range.
    const bitnet_token bad[2] = {0, bitnet_model_n_vocab(model_)};
    EXPECT_INVALID(bitnet_generate_tokens(ctx_, bad, 2, &p, nullptr, nullptr, nullptr));
    // max_tokens 0 only evaluates the prompt.
    p.max_tokens = 0;
    r.size = sizeof r;
    EXPECT_OK(bitnet_generate(ctx_, "abc", 3, &p, nullptr, nullptr, &r));
    EXPECT_EQ(r.n_generated, 0);
    EXPECT_EQ(r.stop_reason, BITNET_STOP_MAX_TOKENS);
}

TEST_F(Misuse, GenerationPastTheContextIsContextFull) {
    // n_ctx 16: a 4-token prompt and up to 100 tokens. Sampling (seeded) may hit an EOG token
    // first; some seed runs to the end of the context.
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    sp.temperature = 1.5f;
    sp.top_k = 0;
    sp.min_p = 0.0f;
    sp.top_p = 1.0f;
    bitnet_generate_params p = bitnet_generate_default_params();
    p.max_tokens = 100;
    p.sampling = &sp;
    bool seen_full = false;
    for (uint64_t seed = 0; seed < 20 && !seen_full; ++seed) {
        sp.seed = seed;
        bitnet_generate_result r{};
        r.size = sizeof r;
        std::string text;
        const bitnet_status s = bitnet_generate(
            ctx_, "abc", 3, &p,
            [](const char *piece, size_t n, bitnet_token, void *u) {
                static_cast<std::string *>(u)->append(piece, n);
                return 0;
            },
            &text, &r);
        if (s == BITNET_ERR_CONTEXT_FULL) {
            seen_full = true;
            EXPECT_STRNE(bitnet_last_error_message(), "");
            EXPECT_EQ(r.stop_reason, BITNET_STOP_CONTEXT_FULL);
            EXPECT_EQ(bitnet_context_n_past(ctx_), 16u);
            // Every position after the prompt holds a generated token, plus the last one
            // sampled that no longer fits.
            EXPECT_GE(r.n_prompt_tokens, 2);  // BOS + the text
            EXPECT_EQ(r.n_generated, 16 - r.n_prompt_tokens + 1);
            EXPECT_FALSE(text.empty());
        } else {
            EXPECT_EQ(s, BITNET_OK) << bitnet_last_error_message();
            EXPECT_EQ(r.stop_reason, BITNET_STOP_EOG);
        }
        bitnet_context_reset(ctx_);
    }
    EXPECT_TRUE(seen_full);
    // A prompt longer than the context: CONTEXT_FULL up front, nothing evaluated.
    const std::string long_prompt(200, 'a');
    p.max_tokens = 4;
    EXPECT_FAILS(bitnet_generate(ctx_, long_prompt.data(), long_prompt.size(), &p, nullptr,
                                 nullptr, nullptr),
                 BITNET_ERR_CONTEXT_FULL);
    EXPECT_EQ(bitnet_context_n_past(ctx_), 0u);
}

TEST_F(Misuse, ChatFormatArguments) {
    char buf[64];
    size_t needed = 0;
    const bitnet_chat_message ok[1] = {{"user", "hi"}};
    EXPECT_INVALID(bitnet_chat_format(nullptr, 1, 1, buf, sizeof buf, &needed));
    EXPECT_INVALID(bitnet_chat_format(ok, 1, 1, nullptr, 4, &needed));
    const bitnet_chat_message null_role[1] = {{nullptr, "hi"}};
    const bitnet_chat_message null_content[1] = {{"user", nullptr}};
    const bitnet_chat_message bad_role[1] = {{"robot", "hi"}};
    EXPECT_INVALID(bitnet_chat_format(null_role, 1, 1, buf, sizeof buf, &needed));
    EXPECT_INVALID(bitnet_chat_format(null_content, 1, 1, buf, sizeof buf, &needed));
    EXPECT_INVALID(bitnet_chat_format(bad_role, 1, 1, buf, sizeof buf, &needed));
    EXPECT_FAILS(bitnet_chat_format(ok, 1, 1, buf, 5, &needed), BITNET_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(needed, std::strlen("User: hi<|eot_id|>Assistant: ") + 1);
    EXPECT_OK(bitnet_chat_format(ok, 1, 1, buf, sizeof buf, nullptr));
    EXPECT_STREQ(buf, "User: hi<|eot_id|>Assistant: ");
    EXPECT_OK(bitnet_chat_format(nullptr, 0, 0, buf, 1, &needed));
    EXPECT_STREQ(buf, "");
}

TEST_F(Misuse, PerplexityArguments) {
    bitnet_perplexity_result r{};
    r.size = sizeof r;
    const std::string text(400, 'a');
    EXPECT_INVALID(bitnet_perplexity(ctx_, nullptr, 5, 4, 0, nullptr, nullptr, &r));
    EXPECT_INVALID(bitnet_perplexity(ctx_, text.data(), text.size(), 4, 0, nullptr, nullptr,
                                     nullptr));
    r.size = 0;
    EXPECT_INVALID(bitnet_perplexity(ctx_, text.data(), text.size(), 4, 0, nullptr, nullptr, &r));
    r.size = sizeof r;
    for (int32_t chunk : {-1, 1, 3, 17, std::numeric_limits<int32_t>::min()}) {
        EXPECT_INVALID(bitnet_perplexity(ctx_, text.data(), text.size(), chunk, 0, nullptr,
                                         nullptr, &r))
            << chunk;
    }
    EXPECT_INVALID(bitnet_perplexity(ctx_, "ab", 2, 4, 0, nullptr, nullptr, &r));  // too short
}

TEST_F(Misuse, BenchArguments) {
    bitnet_bench_result r{};
    r.size = sizeof r;
    bitnet_bench_params p = bitnet_bench_default_params();
    EXPECT_INVALID(bitnet_bench(ctx_, &p, nullptr));
    r.size = 3;
    EXPECT_INVALID(bitnet_bench(ctx_, &p, &r));
    r.size = sizeof r;
    p.size = 0;
    EXPECT_INVALID(bitnet_bench(ctx_, &p, &r));
    p = bitnet_bench_default_params();
    p.n_prompt = -1;
    EXPECT_INVALID(bitnet_bench(ctx_, &p, &r));
    p = bitnet_bench_default_params();
    p.repetitions = 0;
    EXPECT_INVALID(bitnet_bench(ctx_, &p, &r));
    p = bitnet_bench_default_params();  // pp512 does not fit in n_ctx 16
    EXPECT_FAILS(bitnet_bench(ctx_, &p, &r), BITNET_ERR_CONTEXT_FULL);
    p.n_prompt = 8;
    p.n_gen = std::numeric_limits<int32_t>::max();
    EXPECT_FAILS(bitnet_bench(ctx_, &p, &r), BITNET_ERR_CONTEXT_FULL);
    p.n_gen = 4;
    p.repetitions = 1;
    EXPECT_OK(bitnet_bench(ctx_, &p, &r));
    EXPECT_GT(r.pp_mean, 0.0);
}

TEST_F(Misuse, ErrorMessageIsClearedBySuccess) {
    bitnet_token t = 0;
    EXPECT_INVALID(bitnet_eval(ctx_, nullptr, 1, 1));
    size_t n = 0;
    EXPECT_OK(bitnet_tokenize(model_, "a", 1, 0, 0, &t, 1, &n));
}

// ---- allocation failure ---------------------------------------------------------------------

namespace {

uint64_t ram_and_swap_bytes() {
    struct sysinfo si {};
    if (sysinfo(&si) != 0) return 0;
    return ((uint64_t)si.totalram + (uint64_t)si.totalswap) * si.mem_unit;
}

}  // namespace

TEST(MisuseMemory, HugeKvCacheIsOutOfMemoryNotACrash) {
    // n_embd 512 (4 KV heads of 128), 1 layer: an F32 KV cache of 15 * 2^20 tokens needs
    // 2 * 15 Mi * 512 * 4 B = 60 GiB; a context that size must fail cleanly with OUT_OF_MEMORY
    // (on this machine it does not fit in RAM + swap).
    if (ram_and_swap_bytes() >= (60ull << 30)) GTEST_SKIP() << "this machine could allocate it";
    bitnet::test::TinyModelOptions o;
    o.n_embd = 512;
    o.n_head = 4;
    o.n_head_kv = 4;
    o.n_ctx_train = 1u << 24;
    o.full_bytes = false;
    const std::string path = ::testing::TempDir() + "misuse-wide.gguf";
    bitnet::test::make_tiny_model(path, o);
    bitnet_model *m = nullptr;
    ASSERT_EQ(bitnet_model_load(path.c_str(), nullptr, &m), BITNET_OK)
        << bitnet_last_error_message();
    bitnet_context_params p = bitnet_context_default_params();
    p.n_ctx = 15u << 20;
    p.kv_type = BITNET_KV_F32;
    p.n_threads = 1;
    bitnet_context *c = reinterpret_cast<bitnet_context *>(0x1);
    EXPECT_FAILS(bitnet_context_new(m, &p, &c), BITNET_ERR_OUT_OF_MEMORY);
    EXPECT_EQ(c, nullptr);
    std::printf("message: %s\n", bitnet_last_error_message());
    // The largest context the API allows (2^24 tokens, F16) with 1024 threads' score buffers.
    p.n_ctx = 1u << 24;
    p.kv_type = BITNET_KV_F16;
    p.n_threads = 1024;
    const bitnet_status s = bitnet_context_new(m, &p, &c);
    EXPECT_TRUE(s == BITNET_ERR_OUT_OF_MEMORY || s == BITNET_OK) << bitnet_status_string(s);
    bitnet_context_free(s == BITNET_OK ? c : nullptr);
    bitnet_model_free(m);
    std::remove(path.c_str());
}

TEST(MisuseMemory, AddressSpaceLimitGivesOutOfMemory) {
    // ulimit -v: with the address space capped, allocations fail and the API must turn that
    // into OUT_OF_MEMORY. Sanitizers reserve terabytes of shadow memory, so only plain builds.
    if (kSanitized) GTEST_SKIP() << "RLIMIT_AS is incompatible with sanitizer shadow memory";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            bitnet::test::TinyModelOptions o;
            o.n_embd = 512;
            o.n_head = 4;
            o.n_head_kv = 4;
            o.n_ctx_train = 1u << 24;
            o.full_bytes = false;
            const std::string path = ::testing::TempDir() + "misuse-rlimit.gguf";
            bitnet::test::make_tiny_model(path, o);
            bitnet_model *m = nullptr;
            if (bitnet_model_load(path.c_str(), nullptr, &m) != BITNET_OK) std::_Exit(10);
            struct rlimit rl {};
            getrlimit(RLIMIT_AS, &rl);
            rl.rlim_cur = 1ull << 30;  // 1 GiB of address space
            setrlimit(RLIMIT_AS, &rl);
            bitnet_context_params p = bitnet_context_default_params();
            p.n_ctx = 1u << 20;  // 2 * 1 Mi * 512 * 4 B = 4 GiB of F32 KV cache
            p.kv_type = BITNET_KV_F32;
            p.n_threads = 1;
            bitnet_context *c = nullptr;
            const bitnet_status s = bitnet_context_new(m, &p, &c);
            std::fprintf(stderr, "status %d: %s\n", (int)s, bitnet_last_error_message());
            if (s != BITNET_ERR_OUT_OF_MEMORY || c != nullptr) std::_Exit(1);
            // Threads whose stacks do not fit (1023 x 8 MiB) are a resource failure as well.
            p.n_ctx = 64;
            p.n_threads = 1024;
            const bitnet_status s2 = bitnet_context_new(m, &p, &c);
            std::fprintf(stderr, "status %d: %s\n", (int)s2, bitnet_last_error_message());
            if (s2 == BITNET_OK) bitnet_context_free(c);
            std::_Exit(s2 == BITNET_ERR_OUT_OF_MEMORY || s2 == BITNET_OK ? 0 : 2);
        },
        ::testing::ExitedWithCode(0), "");
}
