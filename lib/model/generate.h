// The text generation loop on top of Context: prefill, sample, stream, decode.
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

    double prompt_tokens_per_s() const;    // prefill speed
    double generate_tokens_per_s() const;  // decoded tokens (all but the first sampled) per s
};

// The sampling seed bitnet_generate uses when the caller leaves BITNET_SEED_DEFAULT: a hash of
// the context's seed and the number of generate calls made on it (1 for the first), so that
// successive calls differ and a run is reproducible for a given context seed.
uint64_t generate_seed(uint64_t context_seed, uint64_t call_number);

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

}  // namespace bitnet
