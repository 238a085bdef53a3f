// Batched multi-sequence decoding (bitnet_decode), KV cache sequence edits, state save/load and
// embeddings, through the C API. The truth for a batch is the same tokens decoded alone in a
// single-sequence context; for embeddings, the logits (embedding times the F16 LM head).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bitnet.h"
#include "common/fp16.h"
#include "fixture_model.h"
#include "gguf/gguf.h"

using bitnet::test::fixture;

namespace {

constexpr int kVocab = 128256;
constexpr int kEmbd = 128;

// Four prompts of different lengths (ids of the fixture's vocabulary, BOS first).
const std::vector<std::vector<bitnet_token>> kPrompts = {
    {128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13},
    {128000, 9906},
    {128000, 16, 17, 18, 19, 20, 21},
    {128000, 40, 1093, 311, 1781, 922, 264, 2697, 1370, 0, 1234, 99},
};
constexpr int kSteps = 6;  // greedy decode steps after the prompts

class Batch : public bitnet::test::FixtureModelSuite {
protected:
    static bitnet_context *new_ctx(uint32_t n_seq, uint32_t n_ctx = 256, int embeddings = 0,
                                   int pooling = BITNET_POOLING_NONE, int normalize = 0) {
        bitnet_context_params p = bitnet_context_default_params();
        p.n_ctx = n_ctx;
        p.n_threads = 2;
        p.n_seq_max = n_seq;
        p.embeddings = embeddings;
        p.pooling_type = pooling;
        p.embd_normalize = normalize;
        bitnet_context *c = nullptr;
        EXPECT_EQ(bitnet_context_new(model_, &p, &c), BITNET_OK) << bitnet_last_error_message();
        return c;
    }
    static int argmax(const float *l) {
        int best = 0;
        for (int i = 1; i < kVocab; ++i) {
            if (l[i] > l[best]) best = i;
        }
        return best;
    }
};

using Rows = std::vector<std::vector<float>>;

// Logits of the prompt's last position and of kSteps greedy steps, decoded alone.
Rows decode_alone(bitnet_context *c, const std::vector<bitnet_token> &prompt,
                  std::vector<bitnet_token> *tokens_out) {
    Rows rows;
    EXPECT_EQ(bitnet_eval(c, prompt.data(), prompt.size(), BITNET_LOGITS_LAST), BITNET_OK);
    for (int step = 0;; ++step) {
        const float *l = bitnet_get_logits(c, -1);
        rows.emplace_back(l, l + kVocab);
        if (step == kSteps) break;
        int best = 0;
        for (int i = 1; i < kVocab; ++i) best = l[i] > l[best] ? i : best;
        tokens_out->push_back(best);
        EXPECT_EQ(bitnet_eval(c, &tokens_out->back(), 1, BITNET_LOGITS_LAST), BITNET_OK);
    }
    return rows;
}

TEST_F(Batch, SequencesDecodedTogetherGiveBitIdenticalLogitsToEachAlone) {
    const size_t n = kPrompts.size();
    std::vector<Rows> alone(n);
    std::vector<std::vector<bitnet_token>> cont(n);
    for (size_t s = 0; s < n; ++s) {
        bitnet_context *c = new_ctx(1);
        alone[s] = decode_alone(c, kPrompts[s], &cont[s]);
        bitnet_context_free(c);
    }
    bitnet_context *c = new_ctx((uint32_t)n, 256 * (uint32_t)n);
    bitnet_batch b;
    ASSERT_EQ(bitnet_batch_init(64, &b), BITNET_OK);
    // Prefill: all prompts in one batch, interleaved token by token.
    std::vector<int32_t> last_index(n);
    for (size_t i = 0;; ++i) {
        bool any = false;
        for (size_t s = 0; s < n; ++s) {
            if (i >= kPrompts[s].size()) continue;
            any = true;
            const bool last = i + 1 == kPrompts[s].size();
            if (last) last_index[s] = b.n_tokens;
            ASSERT_EQ(bitnet_batch_add(&b, kPrompts[s][i], (int32_t)i, (int32_t)s, last), BITNET_OK);
        }
        if (!any) break;
    }
    ASSERT_EQ(bitnet_decode(c, &b), BITNET_OK) << bitnet_last_error_message();
    EXPECT_EQ(bitnet_n_logits(c), (int32_t)n);
    for (int step = 0; step <= kSteps; ++step) {
        for (size_t s = 0; s < n; ++s) {
            const float *l = bitnet_get_logits_ith(c, last_index[s]);
            ASSERT_NE(l, nullptr);
            ASSERT_EQ(std::memcmp(l, alone[s][(size_t)step].data(), kVocab * sizeof(float)), 0)
                << "sequence " << s << " step " << step;
        }
        if (step == kSteps) break;
        bitnet_batch_clear(&b);
        for (size_t s = 0; s < n; ++s) {
            last_index[s] = b.n_tokens;
            const int32_t pos = (int32_t)(kPrompts[s].size() + (size_t)step);
            ASSERT_EQ(bitnet_batch_add(&b, cont[s][(size_t)step], pos, (int32_t)s, 1), BITNET_OK);
        }
        ASSERT_EQ(bitnet_decode(c, &b), BITNET_OK) << bitnet_last_error_message();
    }
    for (size_t s = 0; s < n; ++s) {
        EXPECT_EQ(bitnet_kv_seq_pos_max(c, (int32_t)s), (int32_t)(kPrompts[s].size() + kSteps - 1));
    }
    bitnet_batch_free(&b);
    bitnet_context_free(c);
}

// Decodes `tokens` into sequence s at its current end and returns the last logits.
std::vector<float> decode_seq(bitnet_context *c, int32_t s, const std::vector<bitnet_token> &tokens) {
    bitnet_batch b;
    EXPECT_EQ(bitnet_batch_init((int32_t)tokens.size(), &b), BITNET_OK);
    const int32_t start = bitnet_kv_seq_pos_max(c, s) + 1;
    for (size_t i = 0; i < tokens.size(); ++i) {
        bitnet_batch_add(&b, tokens[i], start + (int32_t)i, s, i + 1 == tokens.size());
    }
    EXPECT_EQ(bitnet_decode(c, &b), BITNET_OK) << bitnet_last_error_message();
    const float *l = bitnet_get_logits_ith(c, -1);
    std::vector<float> out(l, l + kVocab);
    bitnet_batch_free(&b);
    return out;
}

TEST_F(Batch, SequenceEditsCopyRemoveKeep) {
    bitnet_context *c = new_ctx(3, 3 * 128);
    const std::vector<bitnet_token> prefix(kPrompts[0].begin(), kPrompts[0].begin() + 6);
    const std::vector<bitnet_token> rest(kPrompts[0].begin() + 6, kPrompts[0].end());
    const std::vector<float> whole = decode_seq(c, 0, kPrompts[0]);
    // Remove the suffix and decode it again: same logits.
    ASSERT_EQ(bitnet_kv_seq_rm(c, 0, 6, -1), BITNET_OK);
    EXPECT_EQ(bitnet_kv_seq_pos_max(c, 0), 5);
    EXPECT_EQ(decode_seq(c, 0, rest), whole);
    // Share the prefix with sequence 1 and continue there: same logits.
    ASSERT_EQ(bitnet_kv_seq_cp(c, 0, 1, 0, 6), BITNET_OK);
    EXPECT_EQ(bitnet_kv_seq_pos_max(c, 1), 5);
    EXPECT_EQ(decode_seq(c, 1, rest), whole);
    // A hole is refused; ids are checked.
    EXPECT_EQ(bitnet_kv_seq_rm(c, 0, 2, 4), BITNET_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("hole"), std::string::npos);
    EXPECT_EQ(bitnet_kv_seq_rm(c, 3, 0, -1), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_kv_seq_cp(c, 0, 7, 0, -1), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_kv_seq_cp(c, 0, 2, 3, -1), BITNET_ERR_UNSUPPORTED);  // dst is empty
    EXPECT_EQ(bitnet_kv_seq_pos_max(c, 9), -1);
    // Keep only sequence 1.
    ASSERT_EQ(bitnet_kv_seq_keep(c, 1), BITNET_OK);
    EXPECT_EQ(bitnet_kv_seq_pos_max(c, 0), -1);
    EXPECT_EQ(bitnet_kv_seq_pos_max(c, 1), (int32_t)kPrompts[0].size() - 1);
    ASSERT_EQ(bitnet_kv_seq_rm(c, -1, 0, -1), BITNET_OK);
    EXPECT_EQ(bitnet_kv_seq_pos_max(c, 1), -1);
    bitnet_context_free(c);
}

TEST_F(Batch, InvalidBatchesAreRejectedBeforeAnyWork) {
    bitnet_context *c = new_ctx(2, 2 * 16);
    bitnet_batch b;
    ASSERT_EQ(bitnet_batch_init(20, &b), BITNET_OK);
    bitnet_batch_add(&b, 128000, 1, 0, 1);  // sequence 0 starts at position 0, not 1
    EXPECT_EQ(bitnet_decode(c, &b), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("continues at position 0"), std::string::npos);
    bitnet_batch_clear(&b);
    bitnet_batch_add(&b, 128000, 0, 2, 1);  // only sequences 0 and 1
    EXPECT_EQ(bitnet_decode(c, &b), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_batch_clear(&b);
    bitnet_batch_add(&b, kVocab, 0, 0, 1);
    EXPECT_EQ(bitnet_decode(c, &b), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_batch_clear(&b);
    for (int i = 0; i < 17; ++i) bitnet_batch_add(&b, 128000, i, 1, 0);  // 16 positions each
    EXPECT_EQ(bitnet_decode(c, &b), BITNET_ERR_CONTEXT_FULL);
    EXPECT_EQ(bitnet_kv_seq_pos_max(c, 1), -1);  // nothing was evaluated
    bitnet_batch_clear(&b);
    EXPECT_EQ(bitnet_decode(c, &b), BITNET_ERR_INVALID_ARGUMENT);  // empty
    for (int i = 0; i < 20; ++i) bitnet_batch_add(&b, 1, i, 0, 0);
    EXPECT_EQ(bitnet_batch_add(&b, 1, 20, 0, 0), BITNET_ERR_INVALID_ARGUMENT);  // full
    bitnet_batch_free(&b);
    EXPECT_EQ(b.token, nullptr);
    EXPECT_EQ(bitnet_batch_init(0, &b), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(b.capacity, 0);  // zeroed on failure
    bitnet_context_params p = bitnet_context_default_params();
    p.n_ctx = 8;
    p.n_seq_max = 9;
    bitnet_context *bad = nullptr;
    EXPECT_EQ(bitnet_context_new(model_, &p, &bad), BITNET_ERR_INVALID_ARGUMENT);
    p.n_seq_max = 0;
    EXPECT_EQ(bitnet_context_new(model_, &p, &bad), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_context_free(c);
}

TEST_F(Batch, StateSaveLoadRoundTrip) {
    bitnet_context *c = new_ctx(2, 2 * 64);
    decode_seq(c, 0, kPrompts[0]);
    decode_seq(c, 1, kPrompts[3]);
    std::vector<uint8_t> state(bitnet_state_size(c));
    size_t written = 0;
    ASSERT_EQ(bitnet_state_save(c, state.data(), state.size(), &written), BITNET_OK);
    EXPECT_EQ(written, state.size());
    EXPECT_EQ(bitnet_state_save(c, state.data(), state.size() - 1, &written), BITNET_ERR_BUFFER_TOO_SMALL);
    const std::vector<float> next0 = decode_seq(c, 0, {9906});
    const std::vector<float> next1 = decode_seq(c, 1, {13});
    ASSERT_EQ(bitnet_state_load(c, state.data(), state.size()), BITNET_OK);
    EXPECT_EQ(decode_seq(c, 0, {9906}), next0);
    EXPECT_EQ(decode_seq(c, 1, {13}), next1);
    // Through a file, into a fresh context.
    const std::string path = std::string(BITNET_BINARY_DIR) + "/test_batch_state.bin";
    ASSERT_EQ(bitnet_state_load(c, state.data(), state.size()), BITNET_OK);
    ASSERT_EQ(bitnet_state_save_file(c, path.c_str()), BITNET_OK);
    bitnet_context *c2 = new_ctx(2, 2 * 64);
    ASSERT_EQ(bitnet_state_load_file(c2, path.c_str()), BITNET_OK) << bitnet_last_error_message();
    EXPECT_EQ(decode_seq(c2, 1, {13}), next1);
    // Truncated, foreign or garbage states are refused and leave the cache empty.
    EXPECT_EQ(bitnet_state_load(c2, state.data(), state.size() - 3), BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(bitnet_kv_seq_pos_max(c2, 0), -1);
    std::vector<uint8_t> junk(100, 0x5a);
    EXPECT_EQ(bitnet_state_load(c2, junk.data(), junk.size()), BITNET_ERR_BAD_FORMAT);
    bitnet_context *other = new_ctx(1, 64);
    EXPECT_EQ(bitnet_state_load(other, state.data(), state.size()), BITNET_ERR_BAD_FORMAT);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("n_seq_max"), std::string::npos);
    EXPECT_EQ(bitnet_state_load_file(other, "/nonexistent/state.bin"), BITNET_ERR_IO);
    std::remove(path.c_str());
    bitnet_context_free(other);
    bitnet_context_free(c2);
    bitnet_context_free(c);
}

// The embedding is the LM head's input: logits = embedding . token_embd^T (tied F16 head),
// recomputed here in double from the file's F16 table.
TEST_F(Batch, EmbeddingsAreTheLmHeadInputAndPoolCorrectly) {
    auto file = bitnet::gguf::File::open(fixture("tiny-b158-i2s.gguf"));
    const auto *embd = file->find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    const uint16_t *w = reinterpret_cast<const uint16_t *>(embd->data);
    const auto &prompt = kPrompts[0];

    bitnet_context *lc = new_ctx(1);
    ASSERT_EQ(bitnet_eval(lc, prompt.data(), prompt.size(), BITNET_LOGITS_ALL), BITNET_OK);
    bitnet_context *ec = new_ctx(1, 256, 1);
    bitnet_batch b;
    ASSERT_EQ(bitnet_batch_init((int32_t)prompt.size(), &b), BITNET_OK);
    for (size_t i = 0; i < prompt.size(); ++i) bitnet_batch_add(&b, prompt[i], (int32_t)i, 0, 1);
    ASSERT_EQ(bitnet_decode(ec, &b), BITNET_OK) << bitnet_last_error_message();
    EXPECT_EQ(bitnet_get_logits_ith(ec, 0), nullptr);  // embeddings only
    Rows rows;
    for (size_t i = 0; i < prompt.size(); ++i) {
        const float *e = bitnet_get_embeddings_ith(ec, (int32_t)i);
        ASSERT_NE(e, nullptr);
        rows.emplace_back(e, e + kEmbd);
        const float *l = bitnet_get_logits(lc, (int32_t)i);
        for (int v = 0; v < kVocab; v += 997) {
            double dot = 0.0;
            for (int j = 0; j < kEmbd; ++j) dot += (double)bitnet::f16_to_f32(w[(size_t)v * kEmbd + j]) * e[j];
            ASSERT_NEAR(l[v], dot, 1e-4 * (1.0 + std::fabs(dot))) << "token " << i << " id " << v;
        }
    }
    // Mean and last pooling (with L2 normalisation) of the same rows.
    for (int pooling : {BITNET_POOLING_MEAN, BITNET_POOLING_LAST}) {
        bitnet_context *pc = new_ctx(1, 256, 1, pooling, 1);
        ASSERT_EQ(bitnet_decode(pc, &b), BITNET_OK);
        const float *e = bitnet_get_embeddings_seq(pc, 0);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(bitnet_get_embeddings_seq(pc, 1), nullptr);
        EXPECT_EQ(bitnet_get_embeddings_ith(pc, 0), nullptr);
        std::vector<double> want(kEmbd, 0.0);
        for (int j = 0; j < kEmbd; ++j) {
            if (pooling == BITNET_POOLING_MEAN) {
                for (const auto &r : rows) want[j] += r[j] / (double)rows.size();
            } else {
                want[j] = rows.back()[j];
            }
        }
        double norm = 0.0;
        for (double x : want) norm += x * x;
        norm = std::sqrt(norm);
        for (int j = 0; j < kEmbd; ++j) EXPECT_NEAR(e[j], want[j] / norm, 1e-6) << pooling << " " << j;
        bitnet_context_free(pc);
    }
    bitnet_batch_free(&b);
    bitnet_context_free(ec);
    bitnet_context_free(lc);
}

}  // namespace
