// Perplexity with llama.cpp's method (see bitnet_perplexity in bitnet.h).
#pragma once

#include <functional>
#include <vector>

#include "model/context.h"

namespace bitnet {

struct PerplexityResult {
    double ppl = 0, ppl_stderr = 0, nll_mean = 0;
    int32_t n_chunks = 0, n_scored = 0, n_tokens = 0;
};

// tokens: the whole tokenized text. on_chunk(chunk, running_ppl) returns false to stop.
PerplexityResult perplexity(Context &ctx, std::vector<int32_t> tokens, int32_t n_chunk,
                            int32_t max_chunks,
                            const std::function<bool(int32_t, double)> &on_chunk);

}  // namespace bitnet
