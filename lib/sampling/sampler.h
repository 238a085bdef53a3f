// Token sampling: repetition penalty, greedy, top-k, top-p (nucleus), min-p, temperature.
// Order and definitions as llama.cpp's default sampler chain; deterministic for a given seed.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

namespace bitnet {

struct SamplingParams {
    float temperature = 0.8f;
    int32_t top_k = 40;
    float top_p = 0.95f;
    float min_p = 0.05f;
    float repeat_penalty = 1.0f;
    int32_t repeat_last_n = 64;
    uint64_t seed = 0;
};

// Throws bitnet::Error(INVALID_ARGUMENT) naming the bad field.
void validate(const SamplingParams &p);

class Sampler {
public:
    explicit Sampler(const SamplingParams &p);

    // Picks a token from n_vocab logits and records it in the history.
    int32_t sample(const float *logits, int32_t n_vocab);
    // Records a token (e.g. from the prompt) for the repetition penalty.
    void accept(int32_t token);
    void reset();

    // The candidate set the filters leave (id, probability), before the draw; exposed for tests.
    struct Candidate {
        int32_t id;
        float logit;
        float p;
    };
    std::vector<Candidate> filtered(const float *logits, int32_t n_vocab) const;

private:
    uint64_t next_u64();
    double next_unit();  // uniform in [0, 1)

    SamplingParams p_;
    uint64_t rng_[4];
    std::deque<int32_t> history_;
};

}  // namespace bitnet
