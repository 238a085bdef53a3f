#include "model/perplexity.h"

#include <cmath>

#include "bitnet.h"
#include "common/error.h"

namespace bitnet {

PerplexityResult perplexity(Context &ctx, std::vector<int32_t> tokens, int32_t n_chunk,
                            int32_t max_chunks,
                            const std::function<bool(int32_t, double)> &on_chunk) {
    const Model &model = ctx.model();
    const int32_t n_vocab = model.hparams().n_vocab;
    if (n_chunk == 0) n_chunk = (int32_t)ctx.n_ctx();
    if (n_chunk < 4 || (uint32_t)n_chunk > ctx.n_ctx()) {
        fail(BITNET_ERR_INVALID_ARGUMENT, "perplexity: chunk size " + std::to_string(n_chunk) +
                                              " must be in [4, n_ctx = " +
                                              std::to_string(ctx.n_ctx()) + "]");
    }
    if (tokens.size() < 2 * (size_t)n_chunk) {
        fail(BITNET_ERR_INVALID_ARGUMENT,
             "perplexity: the text has " + std::to_string(tokens.size()) +
                 " tokens; at least " + std::to_string(2 * n_chunk) +
                 " (2 x chunk size) are needed");
    }
    int32_t n_chunks = (int32_t)(tokens.size() / (size_t)n_chunk);
    if (max_chunks > 0 && max_chunks < n_chunks) n_chunks = max_chunks;

    const bool add_bos = model.tokenizer().add_bos() && model.tokenizer().bos() >= 0;
    const int32_t first = n_chunk / 2;
    PerplexityResult r;
    r.n_tokens = (int32_t)tokens.size();
    double nll = 0.0, nll2 = 0.0;
    int64_t count = 0;
    for (int32_t c = 0; c < n_chunks; ++c) {
        ctx.reset();
        std::vector<int32_t> chunk(tokens.begin() + (ptrdiff_t)c * n_chunk,
                                   tokens.begin() + (ptrdiff_t)(c + 1) * n_chunk);
        if (add_bos) chunk[0] = model.tokenizer().bos();
        ctx.eval(chunk.data(), chunk.size(), LogitsMode::All);
        // Logits at position j predict token j+1; score the second half of the chunk.
        for (int32_t j = first; j < n_chunk - 1; ++j) {
            const float *l = ctx.logits(j);
            float mx = l[0];
            for (int32_t v = 1; v < n_vocab; ++v) mx = std::max(mx, l[v]);
            double sum = 0.0;
            for (int32_t v = 0; v < n_vocab; ++v) sum += std::exp((double)(l[v] - mx));
            const int32_t next = tokens[(size_t)c * n_chunk + j + 1];
            const double logp = (double)(l[next] - mx) - std::log(sum);
            nll -= logp;
            nll2 += logp * logp;
            ++count;
        }
        r.n_chunks = c + 1;
        if (on_chunk && !on_chunk(c + 1, std::exp(nll / (double)count))) break;
    }
    ctx.reset();
    r.n_scored = (int32_t)count;
    const double mean = nll / (double)count;
    double var = nll2 / (double)count - mean * mean;
    r.nll_mean = mean;
    r.ppl = std::exp(mean);
    r.ppl_stderr = (var > 0 && count > 1) ? std::sqrt(var / (double)(count - 1)) * r.ppl : 0.0;
    return r;
}

PerplexityResult perplexity_text(Context &ctx, std::string_view text, int32_t n_chunk,
                                 int32_t max_chunks,
                                 const std::function<bool(int32_t, double)> &on_chunk) {
    // llama-perplexity tokenizes the whole text once, with BOS, control-token text as text.
    std::vector<int32_t> ids = ctx.model().tokenizer().tokenize(text, true, false);
    try {
        return perplexity(ctx, std::move(ids), n_chunk, max_chunks, on_chunk);
    } catch (const Error &e) {
        ctx.reset();
        if (e.status() == BITNET_ERR_ABORTED) ctx.clear_abort();
        throw;
    }
}

}  // namespace bitnet
