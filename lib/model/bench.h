// llama-bench-style measurement on top of Context (bitnet_bench and `bitnet bench`): pp<n>
// prefill, tg<n> decode, and llama-batched-bench's aggregate decode of parallel sequences.
#pragma once

#include <cstdint>
#include <vector>

#include "model/context.h"

namespace bitnet {

struct BenchStats {
    std::vector<double> pp_tps, tg_tps;  // tokens/s of each timed run
};

// pp n_prompt: one eval of n_prompt random tokens from an empty cache; tg n_gen: n_gen
// single-token evals after one token. Each repeated `repetitions` times after an untimed
// warm-up run if `warmup`. The cache is empty afterwards.
void bench(Context &ctx, int32_t n_prompt, int32_t n_gen, int32_t repetitions, bool warmup,
           BenchStats &out);

// Aggregate decode speed of n_seq sequences decoded together (llama-batched-bench's S_TG):
// every step decodes one token of each sequence in one batch; out.tg_tps gets n_seq * n_gen /
// seconds per timed run. Needs ctx.n_seq_max() >= n_seq and n_gen + 1 positions per sequence.
void bench_parallel(Context &ctx, int32_t n_gen, int32_t n_seq, int32_t repetitions, bool warmup,
                    BenchStats &out);

// What bitnet_bench runs: bench_parallel when n_parallel > 1, else bench. On failure the cache
// is emptied and a pending abort cleared before the error propagates.
BenchStats run_bench(Context &ctx, int32_t n_prompt, int32_t n_gen, int32_t n_parallel,
                     int32_t repetitions, bool warmup);

// Mean, sample standard deviation, median and best (highest) of a list of rates; zeros for none.
struct RateSummary {
    double mean = 0, stddev = 0, median = 0, best = 0;
};
RateSummary summarize(std::vector<double> rates);

}  // namespace bitnet
