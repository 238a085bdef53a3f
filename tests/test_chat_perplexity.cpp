// Chat format (bitnet-reference.md section 6.4, training format) and perplexity (llama.cpp's
// method, recomputed here independently from raw logits).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bitnet.h"
#include "fixtures.h"

using bitnet::test::fixture;

namespace {

std::string format(const std::vector<bitnet_chat_message> &m, int gen) {
    size_t need = 0;
    EXPECT_EQ(bitnet_chat_format(m.data(), m.size(), gen, nullptr, 0, &need),
              m.empty() && !gen ? BITNET_OK : BITNET_ERR_BUFFER_TOO_SMALL);
    std::string s(need, '\0');
    EXPECT_EQ(bitnet_chat_format(m.data(), m.size(), gen, s.data(), s.size(), &need), BITNET_OK);
    s.resize(need - 1);
    return s;
}

TEST(ChatFormat, TrainingFormat) {
    // The reference rendering quoted in bitnet-reference.md section 6.4 (ik issue #339),
    // without the BOS that tokenization adds.
    EXPECT_EQ(format({{"user", "Hey, are you conscious? Can you talk to me?"}}, 1),
              "User: Hey, are you conscious? Can you talk to me?<|eot_id|>Assistant: ");
    EXPECT_EQ(format({{"system", "  Be brief.\n"}, {"user", "Hi"}, {"assistant", " Hello! "},
                      {"USER", "Bye"}},
                     1),
              "System: Be brief.<|eot_id|>User: Hi<|eot_id|>Assistant: Hello!<|eot_id|>"
              "User: Bye<|eot_id|>Assistant: ");
    EXPECT_EQ(format({{"user", "x"}}, 0), "User: x<|eot_id|>");
}

TEST(ChatFormat, Errors) {
    bitnet_chat_message bad[1] = {{"tool", "x"}};
    char buf[64];
    size_t need;
    EXPECT_EQ(bitnet_chat_format(bad, 1, 1, buf, sizeof buf, &need), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("tool"), std::string::npos);
    bitnet_chat_message null_content[1] = {{"user", nullptr}};
    EXPECT_EQ(bitnet_chat_format(null_content, 1, 1, buf, sizeof buf, &need),
              BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_chat_format(nullptr, 1, 1, buf, sizeof buf, &need), BITNET_ERR_INVALID_ARGUMENT);
}

TEST(ChatFormat, TokenizesEotAsOneControlToken) {
    bitnet_model *m = nullptr;
    ASSERT_EQ(bitnet_model_load(fixture("tiny-b158-i2s.gguf").c_str(), nullptr, &m), BITNET_OK);
    const std::string text = format({{"user", "Hi"}}, 1);
    std::vector<bitnet_token> ids(64);
    size_t n = 0;
    ASSERT_EQ(bitnet_tokenize(m, text.data(), text.size(), 1, 1, ids.data(), ids.size(), &n), BITNET_OK);
    ids.resize(n);
    ASSERT_GE(n, 4u);
    EXPECT_EQ(ids[0], 128000);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 128009), 1);
    bitnet_model_free(m);
}

// Independent recomputation of llama.cpp's perplexity from bitnet_eval logits.
double reference_ppl(bitnet_model *m, const std::vector<bitnet_token> &toks, int n_chunk,
                     int n_chunks) {
    bitnet_context_params p = bitnet_context_default_params();
    p.n_ctx = (uint32_t)n_chunk;
    bitnet_context *c = nullptr;
    EXPECT_EQ(bitnet_context_new(m, &p, &c), BITNET_OK);
    const int nv = bitnet_model_n_vocab(m);
    double nll = 0;
    int count = 0;
    for (int ci = 0; ci < n_chunks; ++ci) {
        std::vector<bitnet_token> chunk(toks.begin() + ci * n_chunk, toks.begin() + (ci + 1) * n_chunk);
        chunk[0] = 128000;
        bitnet_context_reset(c);
        EXPECT_EQ(bitnet_eval(c, chunk.data(), chunk.size(), BITNET_LOGITS_ALL), BITNET_OK);
        for (int j = n_chunk / 2; j < n_chunk - 1; ++j) {
            const float *l = bitnet_get_logits(c, j);
            long double z = 0;
            for (int v = 0; v < nv; ++v) z += std::exp((long double)l[v]);
            nll -= (double)((long double)l[toks[ci * n_chunk + j + 1]] - std::log(z));
            ++count;
        }
    }
    bitnet_context_free(c);
    return std::exp(nll / count);
}

TEST(Perplexity, MatchesIndependentComputation) {
    bitnet_model *m = nullptr;
    ASSERT_EQ(bitnet_model_load(fixture("tiny-b158-f32.gguf").c_str(), nullptr, &m), BITNET_OK);
    std::string text;
    for (int i = 0; i < 12; ++i) {
        text += "The quick brown fox jumps over the lazy dog. Ternary weights are -1, 0 and +1. ";
    }
    std::vector<bitnet_token> toks(4096);
    size_t n = 0;
    ASSERT_EQ(bitnet_tokenize(m, text.data(), text.size(), 1, 0, toks.data(), toks.size(), &n), BITNET_OK);
    toks.resize(n);
    const int n_chunk = 32;
    bitnet_context_params p = bitnet_context_default_params();
    p.n_ctx = 64;
    bitnet_context *c = nullptr;
    ASSERT_EQ(bitnet_context_new(m, &p, &c), BITNET_OK);
    bitnet_perplexity_result r{};
    r.size = sizeof(r);
    int calls = 0;
    auto cb = [](int32_t, double ppl, void *ud) -> int {
        ++*static_cast<int *>(ud);
        return !(ppl > 0);
    };
    ASSERT_EQ(bitnet_perplexity(c, text.data(), text.size(), n_chunk, 0, cb, &calls, &r), BITNET_OK)
        << bitnet_last_error_message();
    const int expect_chunks = (int)(n / n_chunk);
    EXPECT_EQ(r.n_chunks, expect_chunks);
    EXPECT_EQ(calls, expect_chunks);
    EXPECT_EQ(r.n_tokens, (int32_t)n);
    EXPECT_EQ(r.n_scored, expect_chunks * (n_chunk - 1 - n_chunk / 2));
    EXPECT_NEAR(r.ppl, std::exp(r.nll_mean), 1e-9 * r.ppl);
    EXPECT_GT(r.ppl_stderr, 0.0);
    const double ref = reference_ppl(m, toks, n_chunk, expect_chunks);
    EXPECT_NEAR(r.ppl, ref, 1e-4 * ref);
    // --chunks limits the count
    ASSERT_EQ(bitnet_perplexity(c, text.data(), text.size(), n_chunk, 2, nullptr, nullptr, &r), BITNET_OK);
    EXPECT_EQ(r.n_chunks, 2);
    EXPECT_NEAR(r.ppl, reference_ppl(m, toks, n_chunk, 2), 1e-4 * r.ppl);
    // too short a text, and a chunk larger than the context
    EXPECT_EQ(bitnet_perplexity(c, "Hello", 5, n_chunk, 0, nullptr, nullptr, &r),
              BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("at least"), std::string::npos);
    EXPECT_EQ(bitnet_perplexity(c, text.data(), text.size(), 128, 0, nullptr, nullptr, &r),
              BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_context_n_past(c), 0u);
    bitnet_context_free(c);
    bitnet_model_free(m);
}

}  // namespace
