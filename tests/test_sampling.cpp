// Sampler: determinism, filters only ever pick allowed tokens, greedy, penalties, validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "bitnet.h"
#include "common/error.h"
#include "sampling/sampler.h"

using bitnet::Sampler;
using bitnet::SamplingParams;

namespace {

std::vector<float> random_logits(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 3.0f);
    std::vector<float> v((size_t)n);
    for (auto &x : v) x = d(rng);
    return v;
}

// Ids sorted by logit, best first (lowest id on ties).
std::vector<int32_t> ranking(const std::vector<float> &l) {
    std::vector<int32_t> ids(l.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = (int32_t)i;
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
    return ids;
}

std::vector<double> softmax(const std::vector<float> &l) {
    const float mx = *std::max_element(l.begin(), l.end());
    std::vector<double> p(l.size());
    double s = 0;
    for (size_t i = 0; i < l.size(); ++i) s += p[i] = std::exp((double)l[i] - mx);
    for (auto &x : p) x /= s;
    return p;
}

TEST(Sampling, SameSeedSameTokens) {
    const auto logits = random_logits(1000, 1);
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 42;
    Sampler a(p), b(p);
    std::vector<int32_t> ta, tb;
    for (int i = 0; i < 200; ++i) {
        ta.push_back(a.sample(logits.data(), 1000));
        tb.push_back(b.sample(logits.data(), 1000));
    }
    EXPECT_EQ(ta, tb);
    p.seed = 43;
    Sampler c(p);
    std::vector<int32_t> tc;
    for (int i = 0; i < 200; ++i) tc.push_back(c.sample(logits.data(), 1000));
    EXPECT_NE(ta, tc);
    // reset() restarts the same sequence
    a.reset();
    std::vector<int32_t> again;
    for (int i = 0; i < 200; ++i) again.push_back(a.sample(logits.data(), 1000));
    EXPECT_EQ(ta, again);
}

TEST(Sampling, GreedyIsArgmaxLowestIdOnTies) {
    std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
    SamplingParams p;
    p.temperature = 0.0f;
    Sampler s(p);
    EXPECT_EQ(s.sample(l.data(), 5), 1);
    p.temperature = -1.0f;
    Sampler s2(p);
    EXPECT_EQ(s2.sample(l.data(), 5), 1);
}

TEST(Sampling, TopKOnlyPicksTopK) {
    const auto logits = random_logits(500, 2);
    const auto rank = ranking(logits);
    for (int k : {1, 3, 10}) {
        SamplingParams p;
        p.temperature = 5.0f;  // flatten so that excluded tokens would be picked often
        p.top_k = k;
        p.top_p = 1.0f;
        p.min_p = 0.0f;
        p.seed = (uint64_t)k;
        Sampler s(p);
        const std::set<int32_t> allowed(rank.begin(), rank.begin() + k);
        std::set<int32_t> seen;
        for (int i = 0; i < 2000; ++i) {
            const int32_t t = s.sample(logits.data(), 500);
            ASSERT_TRUE(allowed.count(t)) << "top_k " << k << " picked " << t;
            seen.insert(t);
        }
        EXPECT_EQ(seen.size(), (size_t)k) << "every allowed token should appear";
    }
}

TEST(Sampling, TopPOnlyPicksNucleus) {
    const auto logits = random_logits(300, 3);
    const auto rank = ranking(logits);
    const auto prob = softmax(logits);
    for (float top_p : {0.1f, 0.5f, 0.9f}) {
        // nucleus: smallest prefix of the ranking with cumulative probability >= top_p
        std::set<int32_t> allowed;
        double cum = 0;
        for (int32_t id : rank) {
            allowed.insert(id);
            cum += prob[id];
            if (cum >= top_p) break;
        }
        SamplingParams p;
        p.temperature = 3.0f;
        p.top_k = 0;
        p.top_p = top_p;
        p.min_p = 0.0f;
        Sampler s(p);
        for (int i = 0; i < 2000; ++i) {
            const int32_t t = s.sample(logits.data(), 300);
            ASSERT_TRUE(allowed.count(t)) << "top_p " << top_p << " picked " << t;
        }
    }
}

TEST(Sampling, MinPOnlyPicksAboveThreshold) {
    const auto logits = random_logits(300, 4);
    const auto prob = softmax(logits);
    const double pmax = *std::max_element(prob.begin(), prob.end());
    for (float min_p : {0.05f, 0.3f}) {
        SamplingParams p;
        p.temperature = 3.0f;
        p.top_k = 0;
        p.top_p = 1.0f;
        p.min_p = min_p;
        Sampler s(p);
        for (int i = 0; i < 2000; ++i) {
            const int32_t t = s.sample(logits.data(), 300);
            ASSERT_GE(prob[t], min_p * pmax * (1 - 1e-5)) << "min_p " << min_p << " picked " << t;
        }
    }
}

TEST(Sampling, DistributionFollowsSoftmax) {
    std::vector<float> l = {0.0f, std::log(2.0f), std::log(3.0f)};  // probabilities 1/6, 2/6, 3/6
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 7;
    Sampler s(p);
    int count[3] = {0, 0, 0};
    const int n = 60000;
    for (int i = 0; i < n; ++i) count[s.sample(l.data(), 3)]++;
    EXPECT_NEAR(count[0] / (double)n, 1.0 / 6, 0.01);
    EXPECT_NEAR(count[1] / (double)n, 2.0 / 6, 0.01);
    EXPECT_NEAR(count[2] / (double)n, 3.0 / 6, 0.01);
}

TEST(Sampling, RepetitionPenaltyLowersRecentTokens) {
    std::vector<float> l = {2.0f, 1.9f, -1.0f, -1.1f};
    SamplingParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.5f;
    Sampler s(p);
    s.accept(0);  // 2.0 / 1.5 = 1.33 < 1.9
    EXPECT_EQ(s.sample(l.data(), 4), 1);
    const auto f = Sampler(p).filtered(l.data(), 4);
    ASSERT_EQ(f.size(), 1u);
    // negative logits are multiplied
    SamplingParams q = p;
    q.temperature = 1.0f;
    q.top_k = 0;
    q.top_p = 1.0f;
    q.min_p = 0.0f;
    Sampler s2(q);
    s2.accept(2);
    const auto c = s2.filtered(l.data(), 4);
    for (const auto &x : c) {
        if (x.id == 2) EXPECT_FLOAT_EQ(x.logit, -1.5f);
    }
}

TEST(Sampling, InvalidParametersAreRejected) {
    auto expect_invalid = [](SamplingParams p) {
        try {
            Sampler s(p);
            ADD_FAILURE() << "accepted invalid parameters";
        } catch (const bitnet::Error &e) {
            EXPECT_EQ(e.status(), BITNET_ERR_INVALID_ARGUMENT);
        }
    };
    SamplingParams p;
    p.temperature = NAN;
    expect_invalid(p);
    p = {};
    p.top_p = 1.5f;
    expect_invalid(p);
    p = {};
    p.min_p = -0.1f;
    expect_invalid(p);
    p = {};
    p.repeat_penalty = 0.0f;
    expect_invalid(p);
    p = {};
    p.repeat_last_n = -1;
    expect_invalid(p);
}

TEST(Sampling, CApiSampler) {
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    EXPECT_EQ(sp.size, sizeof(sp));
    sp.temperature = NAN;
    bitnet_sampler *s = nullptr;
    EXPECT_EQ(bitnet_sampler_new(&sp, &s), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("temperature"), std::string::npos);
    sp.temperature = 0.0f;
    ASSERT_EQ(bitnet_sampler_new(&sp, &s), BITNET_OK);
    std::vector<float> l = {0.0f, 3.0f, 1.0f};
    bitnet_token t = -1;
    EXPECT_EQ(bitnet_sampler_sample(s, l.data(), 3, &t), BITNET_OK);
    EXPECT_EQ(t, 1);
    EXPECT_EQ(bitnet_sampler_sample(s, nullptr, 3, &t), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_sampler_sample(s, l.data(), 0, &t), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bitnet_sampler_accept(nullptr, 1), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_sampler_free(s);
    bitnet_sampler_free(nullptr);
}

}  // namespace
