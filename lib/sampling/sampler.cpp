#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "common/error.h"

namespace bitnet {

void validate(const SamplingParams &p) {
    auto bad = [](const std::string &what) { fail(BITNET_ERR_INVALID_ARGUMENT, what); };
    if (!std::isfinite(p.temperature)) bad("sampling: temperature must be a finite number");
    if (!(p.top_p >= 0.0f && p.top_p <= 1.0f)) bad("sampling: top_p must be in [0, 1]");
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) bad("sampling: min_p must be in [0, 1]");
    if (!(p.repeat_penalty > 0.0f) || !std::isfinite(p.repeat_penalty)) {
        bad("sampling: repeat_penalty must be a positive finite number");
    }
    if (p.repeat_last_n < 0) bad("sampling: repeat_last_n must be >= 0");
}

namespace {
uint64_t splitmix64(uint64_t &x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Sampler::Sampler(const SamplingParams &p) : p_(p) {
    validate(p_);
    reset();
}

void Sampler::reset() {
    uint64_t s = p_.seed;
    for (auto &r : rng_) r = splitmix64(s);
    history_.clear();
}

// xoshiro256** (Blackman & Vigna): fast, platform-independent, so a seed gives the same tokens
// everywhere.
uint64_t Sampler::next_u64() {
    const uint64_t result = rotl(rng_[1] * 5, 7) * 9;
    const uint64_t t = rng_[1] << 17;
    rng_[2] ^= rng_[0];
    rng_[3] ^= rng_[1];
    rng_[1] ^= rng_[2];
    rng_[0] ^= rng_[3];
    rng_[2] ^= t;
    rng_[3] = rotl(rng_[3], 45);
    return result;
}

double Sampler::next_unit() { return (double)(next_u64() >> 11) * 0x1.0p-53; }

void Sampler::accept(int32_t token) {
    if (p_.repeat_last_n <= 0) return;
    history_.push_back(token);
    while ((int32_t)history_.size() > p_.repeat_last_n) history_.pop_front();
}

std::vector<Sampler::Candidate> Sampler::filtered(const float *logits, int32_t n_vocab) const {
    std::vector<Candidate> c((size_t)n_vocab);
    for (int32_t i = 0; i < n_vocab; ++i) c[(size_t)i] = {i, logits[i], 0.0f};

    // Repetition penalty (CTRL, Keskar et al. 2019, as llama.cpp): each distinct recent token's
    // positive logit is divided by the penalty, a negative one multiplied.
    if (p_.repeat_penalty != 1.0f && !history_.empty()) {
        std::unordered_set<int32_t> seen(history_.begin(), history_.end());
        for (int32_t id : seen) {
            if (id < 0 || id >= n_vocab) continue;
            float &l = c[(size_t)id].logit;
            l = l > 0.0f ? l / p_.repeat_penalty : l * p_.repeat_penalty;
        }
    }
    // NaN logits never win.
    for (auto &x : c) {
        if (std::isnan(x.logit)) x.logit = -INFINITY;
    }
    auto better = [](const Candidate &a, const Candidate &b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };

    if (p_.temperature <= 0.0f) {  // greedy: argmax, lowest id on ties
        auto it = std::min_element(c.begin(), c.end(), better);
        return {{it->id, it->logit, 1.0f}};
    }

    // top-k
    size_t keep = c.size();
    if (p_.top_k > 0 && (size_t)p_.top_k < keep) keep = (size_t)p_.top_k;
    std::partial_sort(c.begin(), c.begin() + (ptrdiff_t)keep, c.end(), better);
    c.resize(keep);

    // softmax over the survivors (untempered, as llama.cpp's filters see it)
    auto softmax = [](std::vector<Candidate> &v) {
        const float mx = v.front().logit;
        double sum = 0.0;
        for (auto &x : v) {
            x.p = (mx == -INFINITY) ? 1.0f : std::exp(x.logit - mx);
            sum += x.p;
        }
        for (auto &x : v) x.p = (float)(x.p / sum);
    };
    softmax(c);

    // top-p: smallest prefix whose cumulative probability reaches top_p
    if (p_.top_p < 1.0f) {
        double cum = 0.0;
        size_t n = 0;
        while (n < c.size()) {
            cum += c[n].p;
            ++n;
            if (cum >= p_.top_p) break;
        }
        c.resize(std::max<size_t>(n, 1));
    }
    // min-p: drop tokens below min_p times the best probability
    if (p_.min_p > 0.0f) {
        const float threshold = p_.min_p * c.front().p;
        size_t n = 1;
        while (n < c.size() && c[n].p >= threshold) ++n;
        c.resize(n);
    }
    // temperature on the remaining logits
    for (auto &x : c) x.logit /= p_.temperature;
    softmax(c);
    return c;
}

int32_t Sampler::sample(const float *logits, int32_t n_vocab) {
    std::vector<Candidate> c = filtered(logits, n_vocab);
    int32_t id = c.front().id;
    if (c.size() > 1) {
        const double r = next_unit();
        double cum = 0.0;
        id = c.back().id;  // guards against rounding leaving r above the final sum
        for (const auto &x : c) {
            cum += x.p;
            if (r < cum) {
                id = x.id;
                break;
            }
        }
    }
    accept(id);
    return id;
}

}  // namespace bitnet
