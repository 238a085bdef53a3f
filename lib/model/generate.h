// Text generation loop and llama-bench-style measurement on top of Context.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "model/context.h"
#include "sampling/sampler.h"

namespace bitnet {

struct GenerateOptions {
    int32_t max_tokens = 128;
    SamplingParams sampling;
    bool render_special = false;
};

struct GenerateStats {
    int32_t n_prompt_tokens = 0;
    int32_t n_generated = 0;
    double prompt_ms = 0.0;
    double generate_ms = 0.0;
    int stop_reason = 0;  // bitnet_stop_reason
    int32_t last_token = -1;  // last sampled token (not evaluated)
};

// Receives whole UTF-8 characters; returns false to stop.
using PieceSink = std::function<bool(std::string_view piece, int32_t token)>;

// Holds back the bytes of a UTF-8 character split across tokens until it is complete.
class Utf8Stream {
public:
    // Appends bytes and returns the longest prefix that does not end inside a character.
    std::string push(std::string_view bytes);
    // Whatever is left (an incomplete sequence at the end of generation).
    std::string flush();

private:
    std::string pending_;
};

// Evaluates `prompt` after the context's current cache, then samples up to max_tokens.
// Throws bitnet::Error (CONTEXT_FULL, ABORTED, INVALID_ARGUMENT); `stats` is filled as far as
// generation got, also when it throws.
void generate(Context &ctx, const std::vector<int32_t> &prompt, const GenerateOptions &opt,
              const PieceSink &sink, GenerateStats &stats);

struct BenchStats {
    std::vector<double> pp_tps, tg_tps;  // tokens/s of each timed run
};

void bench(Context &ctx, int32_t n_prompt, int32_t n_gen, int32_t repetitions, bool warmup,
           BenchStats &out);

// Aggregate decode speed of n_seq sequences decoded together (llama-batched-bench's S_TG):
// every step decodes one token of each sequence in one batch; out.tg_tps gets n_seq * n_gen /
// seconds per timed run. Needs ctx.n_seq_max() >= n_seq and n_gen + 1 positions per sequence.
void bench_parallel(Context &ctx, int32_t n_gen, int32_t n_seq, int32_t repetitions, bool warmup,
                    BenchStats &out);

}  // namespace bitnet
