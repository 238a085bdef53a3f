// Perplexity with llama.cpp's method (see bitnet_perplexity in bitnet.h).
#pragma once

#include <functional>
#include <string_view>
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

// What bitnet_perplexity runs: tokenizes `text` (with BOS, control-token text as plain text)
// and scores it. On failure the cache is emptied and a pending abort cleared.
PerplexityResult perplexity_text(Context &ctx, std::string_view text, int32_t n_chunk,
                                 int32_t max_chunks,
                                 const std::function<bool(int32_t, double)> &on_chunk);

}  // namespace bitnet
