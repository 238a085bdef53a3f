// End-to-end forward pass against the shared reference outputs.
//
// Tiers follow ../shared/fixtures/README.md "Exact references":
//  - f32 model, float32 KV cache: |dlogit| <= 1e-3 everywhere (prompt and continuation rows),
//    same argmax wherever top2_gap > 2e-3.
//  - i2s model, float32 KV cache: |dlogit| <= 1e-3 at the prompt positions of `bos` and `fox`
//    (top-8 entries and the whole last-position row) -- this is what proves the int8
//    activation rule; elsewhere |dlogit| <= 1.0 and the same argmax wherever top2_gap >= 0.5,
//    because the int8 path is discontinuous (a one-ulp difference can move one q by one).
//  - ik_llama.cpp references: f32 model within 0.02 (F16 V cache on both sides); i2s model
//    (ik uses four activation scales per row) within 1.0 with argmax agreement on most rows.
//  - The other families (README "Other ternary families"; generated fixtures tiny-llama-tq2/f32,
//    tiny-bitnet-tq1/f32) in the same tiers; for tiny-llama-tq2 the unicode prompt rows are held
//    to 1e-3 as well. Against ik, the ternary files agree within 1.0 on the top 8 and in argmax
//    wherever ik's own top-2 gap exceeds 1.0 (the observed scheme difference is about 0.7).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bitnet.h"
#include "kernels/kernels.h"
#include "reference.h"

using bitnet::test::fixture;
using bitnet::test::generated_fixture;
using bitnet::test::load_reference;
using bitnet::test::Reference;
using bitnet::test::RefPosition;

namespace {

// The b1.58 pair is stored; the other families are generated into the build tree.
std::string model_path(const std::string &name) {
    return name.rfind("tiny-b158", 0) == 0 ? fixture(name) : generated_fixture(name);
}

bool is_float_twin(const std::string &model) {
    return model.size() > 4 && model.compare(model.size() - 4, 4, "-f32") == 0;
}

struct ModelHolder {
    bitnet_model *m = nullptr;
    explicit ModelHolder(const std::string &name, const bitnet_model_params *params = nullptr) {
        EXPECT_EQ(bitnet_model_load(model_path(name).c_str(), params, &m), BITNET_OK)
            << bitnet_last_error_message();
    }
    ~ModelHolder() { bitnet_model_free(m); }
};

struct CtxHolder {
    bitnet_context *c = nullptr;
    CtxHolder(bitnet_model *m, int kv_type, int threads = 2) {
        bitnet_context_params p = bitnet_context_default_params();
        p.kv_type = kv_type;
        p.n_threads = threads;
        p.n_ctx = 256;
        EXPECT_EQ(bitnet_context_new(m, &p, &c), BITNET_OK) << bitnet_last_error_message();
    }
    ~CtxHolder() { bitnet_context_free(c); }
};

int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i) {
        if (x[i] > x[best]) best = i;
    }
    return best;
}

// Compares one row of logits with a reference position; returns the max |d| on its top-8.
double check_row(const float *row, int32_t n_vocab, const RefPosition &ref, double tol,
                 double argmax_gap, const std::string &where) {
    double worst = 0.0;
    for (const auto &[id, logit] : ref.top8) {
        const double d = std::fabs((double)row[id] - (double)logit);
        worst = std::max(worst, d);
        EXPECT_LE(d, tol) << where << ": logit of id " << id << " is " << row[id]
                          << ", reference " << logit;
    }
    if (ref.top2_gap < 0 || ref.top2_gap > argmax_gap) {
        EXPECT_EQ(argmax(row, n_vocab), ref.argmax) << where << " (top2_gap " << ref.top2_gap << ")";
    }
    return worst;
}

struct Tier {
    double prompt_tol, prompt_gap;  // prompt rows
    double cont_tol, cont_gap;      // continuation rows
};

Tier exact_tier(const std::string &model, const std::string &prompt) {
    if (is_float_twin(model)) return {1e-3, 2e-3, 1e-3, 2e-3};
    if (prompt == "bos" || prompt == "fox") return {1e-3, 2e-3, 1.0, 0.5};
    if (model == "tiny-llama-tq2" && prompt == "unicode") return {1e-3, 2e-3, 1.0, 0.5};
    return {1.0, 0.5, 1.0, 0.5};
}

class ExactReference : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ExactReference, PromptAndContinuation) {
    const auto &[model, prompt] = GetParam();
    const Reference ref = load_reference("reference/exact", model, prompt);
    ModelHolder mh(model + ".gguf");
    ASSERT_NE(mh.m, nullptr);
    CtxHolder ch(mh.m, BITNET_KV_F32);
    ASSERT_NE(ch.c, nullptr);
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    const Tier tier = exact_tier(model, prompt);

    // Whole prompt in one batch, logits for every position.
    ASSERT_EQ(bitnet_eval(ch.c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_ALL),
              BITNET_OK)
        << bitnet_last_error_message();
    ASSERT_EQ(bitnet_n_logits(ch.c), (int32_t)ref.token_ids.size());
    double worst = 0.0;
    for (size_t i = 0; i < ref.positions.size(); ++i) {
        worst = std::max(worst, check_row(bitnet_get_logits(ch.c, (int32_t)i), nv,
                                          ref.positions[i], tier.prompt_tol, tier.prompt_gap,
                                          model + "." + prompt + " position " + std::to_string(i)));
    }
    // The whole last-position row.
    ASSERT_EQ(ref.last_logits.size(), (size_t)nv);
    const float *last = bitnet_get_logits(ch.c, -1);
    double worst_last = 0.0;
    for (int32_t v = 0; v < nv; ++v) {
        worst_last = std::max(worst_last, std::fabs((double)last[v] - ref.last_logits[v]));
    }
    EXPECT_LE(worst_last, tier.prompt_tol) << "last-position logits";

    // Continuation fed back token by token; step i is checked against entry i.
    ASSERT_FALSE(ref.continuation_steps.empty());
    check_row(last, nv, ref.continuation_steps[0], tier.prompt_tol, tier.prompt_gap,
              "continuation step 0");
    for (size_t i = 1; i < ref.continuation_steps.size(); ++i) {
        const int32_t tok = ref.continuation[i - 1];
        ASSERT_EQ(bitnet_eval(ch.c, &tok, 1, BITNET_LOGITS_LAST), BITNET_OK);
        worst = std::max(worst, check_row(bitnet_get_logits(ch.c, -1), nv,
                                          ref.continuation_steps[i], tier.cont_tol, tier.cont_gap,
                                          "continuation step " + std::to_string(i)));
    }
    RecordProperty("max_abs_diff_top8", std::to_string(worst));
    RecordProperty("max_abs_diff_last", std::to_string(worst_last));
}

// Our own greedy continuation must follow the reference up to the first near-tie.
TEST_P(ExactReference, OwnGreedyContinuation) {
    const auto &[model, prompt] = GetParam();
    const Reference ref = load_reference("reference/exact", model, prompt);
    ModelHolder mh(model + ".gguf");
    CtxHolder ch(mh.m, BITNET_KV_F32);
    ASSERT_NE(ch.c, nullptr);
    const double gap = exact_tier(model, prompt).cont_gap;
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    ASSERT_EQ(bitnet_eval(ch.c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_LAST),
              BITNET_OK);
    for (size_t i = 0; i < ref.continuation.size(); ++i) {
        const int32_t next = argmax(bitnet_get_logits(ch.c, -1), nv);
        if (next != ref.continuation[i]) {
            EXPECT_LT(ref.continuation_steps[i].top2_gap, gap)
                << "greedy step " << i << " took " << next << ", reference "
                << ref.continuation[i];
            break;
        }
        ASSERT_EQ(bitnet_eval(ch.c, &next, 1, BITNET_LOGITS_LAST), BITNET_OK);
    }
}

// With the default F16 KV cache the f32 model stays within 0.02 of the exact reference.
// (The int8 path moves 0.3-0.5 with an F16 cache, so it is held tight with a float32 one.)
class F16KvCache : public ::testing::TestWithParam<std::string> {};

TEST_P(F16KvCache, F32ModelWithinTolerance) {
    const std::string model = "tiny-b158-f32", prompt = GetParam();
    const Reference ref = load_reference("reference/exact", model, prompt);
    ModelHolder mh(model + ".gguf");
    CtxHolder ch(mh.m, BITNET_KV_F16);
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    ASSERT_EQ(bitnet_eval(ch.c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_ALL),
              BITNET_OK);
    for (size_t i = 0; i < ref.positions.size(); ++i) {
        check_row(bitnet_get_logits(ch.c, (int32_t)i), nv, ref.positions[i], 0.02, 0.04,
                  "position " + std::to_string(i));
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, F16KvCache,
                         ::testing::Values("bos", "fox", "unicode", "random100"));

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ExactReference,
    ::testing::Combine(::testing::Values("tiny-b158-i2s", "tiny-b158-f32", "tiny-llama-tq2",
                                         "tiny-llama-f32", "tiny-bitnet-tq1", "tiny-bitnet-f32"),
                       ::testing::Values("bos", "fox", "unicode", "random100")),
    [](const auto &info) {
        std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
        std::replace(n.begin(), n.end(), '-', '_');
        return n;
    });

// Agreement with ik_llama.cpp (an independent engine; README "Observed tolerances").
class IkReference : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(IkReference, Agreement) {
    const auto &[model, prompt] = GetParam();
    const Reference ref = load_reference("reference", model, prompt);
    ModelHolder mh(model + ".gguf");
    CtxHolder ch(mh.m, BITNET_KV_F16);
    ASSERT_NE(ch.c, nullptr);
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    const bool f32 = is_float_twin(model);
    const bool b158 = model.rfind("tiny-b158", 0) == 0;
    const double tol = f32 ? 0.02 : 1.0;
    ASSERT_EQ(bitnet_eval(ch.c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_ALL),
              BITNET_OK);
    int agree = 0;
    for (size_t i = 0; i < ref.positions.size(); ++i) {
        const float *row = bitnet_get_logits(ch.c, (int32_t)i);
        for (const auto &[id, logit] : ref.positions[i].top8) {
            EXPECT_NEAR(row[id], logit, tol) << "position " << i << " id " << id;
        }
        agree += argmax(row, nv) == ref.positions[i].argmax;
        // ik's activation scheme moves ternary logits by up to ~0.7: its argmax binds us only
        // where its own top-2 gap is wider than that.
        // Likewise for the float twins with an F16 cache: beyond twice the tolerance.
        const auto &top = ref.positions[i].top8;
        if (!b158 && top[0].second - top[1].second > (f32 ? 2 * tol : 1.0)) {
            EXPECT_EQ(argmax(row, nv), ref.positions[i].argmax) << "position " << i;
        }
    }
    const double frac = (double)agree / (double)ref.positions.size();
    if (f32 && b158) {
        EXPECT_EQ(agree, (int)ref.positions.size());
    } else if (b158) {
        EXPECT_GE(frac, 0.9) << agree << " of " << ref.positions.size() << " argmax agree";
    }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, IkReference,
    ::testing::Combine(::testing::Values("tiny-b158-i2s", "tiny-b158-f32", "tiny-llama-tq2",
                                         "tiny-llama-f32", "tiny-bitnet-tq1", "tiny-bitnet-f32"),
                       ::testing::Values("bos", "fox", "unicode", "random100")),
    [](const auto &info) {
        std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
        std::replace(n.begin(), n.end(), '-', '_');
        return n;
    });

// Decoding one token at a time through the KV cache equals evaluating the batch at once.
class KvCache : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(KvCache, OneByOneEqualsBatch) {
    const auto &[model, kv] = GetParam();
    const Reference ref = load_reference("reference/exact", model, "unicode");
    ModelHolder mh(model + ".gguf");
    CtxHolder batch(mh.m, kv), single(mh.m, kv, 1);
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    const auto &ids = ref.token_ids;
    ASSERT_EQ(bitnet_eval(batch.c, ids.data(), ids.size(), BITNET_LOGITS_ALL), BITNET_OK);
    double worst = 0.0;
    for (size_t i = 0; i < ids.size(); ++i) {
        ASSERT_EQ(bitnet_eval(single.c, &ids[i], 1, BITNET_LOGITS_LAST), BITNET_OK);
        const float *a = bitnet_get_logits(batch.c, (int32_t)i);
        const float *b = bitnet_get_logits(single.c, -1);
        for (int32_t v = 0; v < nv; ++v) worst = std::max(worst, (double)std::fabs(a[v] - b[v]));
    }
    // Batched and single-token float products sum in different orders (OpenBLAS sgemm vs
    // sgemv); with an F16 cache such a 1e-6 difference can flip the rounding of a cached value
    // (relative step 2^-11), hence the wider bound there.
    EXPECT_LE(worst, kv == BITNET_KV_F32 ? 1e-4 : 2e-3);
    EXPECT_EQ(bitnet_context_n_past(single.c), ids.size());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KvCache,
                         ::testing::Combine(::testing::Values("tiny-b158-i2s", "tiny-b158-f32"),
                                            ::testing::Values(BITNET_KV_F32, BITNET_KV_F16)));

// Logits do not depend on the number of threads.
TEST(ModelReference, ThreadCountDoesNotChangeLogits) {
    const Reference ref = load_reference("reference/exact", "tiny-b158-i2s", "random100");
    ModelHolder mh("tiny-b158-i2s.gguf");
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
        CtxHolder ch(mh.m, BITNET_KV_F32, threads);
        ASSERT_EQ(bitnet_eval(ch.c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_LAST),
                  BITNET_OK);
        const float *row = bitnet_get_logits(ch.c, -1);
        if (first.empty()) {
            first.assign(row, row + nv);
        } else {
            for (int32_t v = 0; v < nv; ++v) ASSERT_EQ(row[v], first[v]) << "threads " << threads;
        }
    }
}

// The interleaved I2_S layout made at load time (repack, the default) gives bit-identical logits
// to the file's layout, for prefill (gemm) and decode (gemv), mapped or read into memory.
TEST(ModelReference, RepackDoesNotChangeLogits) {
    const Reference ref = load_reference("reference/exact", "tiny-b158-i2s", "random100");
    std::vector<std::vector<float>> runs;
    for (int repack : {0, 1}) {
        for (int use_mmap : {1, 0}) {
            bitnet_model_params mp = bitnet_model_default_params();
            mp.repack = repack;
            mp.use_mmap = use_mmap;
            ModelHolder mh("tiny-b158-i2s.gguf", &mp);
            ASSERT_NE(mh.m, nullptr);
            const int32_t nv = bitnet_model_n_vocab(mh.m);
            CtxHolder ch(mh.m, BITNET_KV_F32);
            const size_t n_prompt = ref.token_ids.size() - 2;
            ASSERT_EQ(bitnet_eval(ch.c, ref.token_ids.data(), n_prompt, BITNET_LOGITS_ALL),
                      BITNET_OK);
            std::vector<float> logits(bitnet_get_logits(ch.c, 0),
                                      bitnet_get_logits(ch.c, 0) + n_prompt * nv);
            for (size_t i = n_prompt; i < ref.token_ids.size(); ++i) {  // one-token decode
                ASSERT_EQ(bitnet_eval(ch.c, &ref.token_ids[i], 1, BITNET_LOGITS_LAST), BITNET_OK);
                const float *row = bitnet_get_logits(ch.c, -1);
                logits.insert(logits.end(), row, row + nv);
            }
            runs.push_back(std::move(logits));
        }
    }
    for (size_t r = 1; r < runs.size(); ++r) {
        ASSERT_EQ(runs[r].size(), runs[0].size());
        for (size_t i = 0; i < runs[0].size(); ++i) ASSERT_EQ(runs[r][i], runs[0][i]) << r << " " << i;
    }
}

// Chunked prefill (n_batch smaller than the prompt) equals one batch.
TEST(ModelReference, SmallBatchEqualsOneBatch) {
    const Reference ref = load_reference("reference/exact", "tiny-b158-i2s", "random100");
    ModelHolder mh("tiny-b158-i2s.gguf");
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    bitnet_context_params p = bitnet_context_default_params();
    p.kv_type = BITNET_KV_F32;
    p.n_batch = 7;
    bitnet_context *c = nullptr;
    ASSERT_EQ(bitnet_context_new(mh.m, &p, &c), BITNET_OK);
    CtxHolder whole(mh.m, BITNET_KV_F32);
    ASSERT_EQ(bitnet_eval(c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_ALL), BITNET_OK);
    ASSERT_EQ(bitnet_eval(whole.c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_ALL),
              BITNET_OK);
    for (size_t i = 0; i < ref.token_ids.size(); ++i) {
        const float *a = bitnet_get_logits(c, (int32_t)i), *b = bitnet_get_logits(whole.c, (int32_t)i);
        for (int32_t v = 0; v < nv; v += 97) ASSERT_NEAR(a[v], b[v], 1e-4) << "row " << i;
    }
    bitnet_context_free(c);
}

}  // namespace

// End-to-end logits do not depend on the kernel ISA: integer BitLinear products are exact on
// every ISA and only float summation order differs.

namespace {

TEST(ModelReference, LogitsAgreeAcrossIsas) {
    using bitnet::kernels::Isa;
    const Reference ref = load_reference("reference/exact", "tiny-b158-i2s", "fox");
    ModelHolder mh("tiny-b158-i2s.gguf");
    const int32_t nv = bitnet_model_n_vocab(mh.m);
    const Isa original = bitnet::kernels::active().isa;
    std::vector<float> scalar;
    int compared = 0;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx, Isa::Neon}) {
        if (!bitnet::kernels::isa_supported(isa)) continue;
        bitnet::kernels::set_active_isa(isa);
        CtxHolder ch(mh.m, BITNET_KV_F32);
        ASSERT_EQ(bitnet_eval(ch.c, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_ALL),
                  BITNET_OK);
        const float *l = bitnet_get_logits(ch.c, 0);
        if (scalar.empty()) {
            scalar.assign(l, l + ref.token_ids.size() * nv);
            continue;
        }
        double worst = 0;
        for (size_t i = 0; i < scalar.size(); ++i) worst = std::max(worst, (double)std::fabs(l[i] - scalar[i]));
        EXPECT_LE(worst, 1e-4) << bitnet::kernels::isa_name(isa) << " vs scalar";
        ++compared;
    }
    bitnet::kernels::set_active_isa(original);
    EXPECT_GE(compared, bitnet::kernels::best_isa() == Isa::Scalar ? 0 : 1);
    RecordProperty("isas_compared_with_scalar", compared);
}

}  // namespace
