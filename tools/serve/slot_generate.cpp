// See slot_generate.h.
#include "slot_generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <memory>
#include <string>
#include <unordered_map>

#include "text_stream.h"

namespace bitnet_serve {
namespace {

struct SamplerDeleter {
    void operator()(bitnet_sampler *s) const { bitnet_sampler_free(s); }
};
using SamplerPtr = std::unique_ptr<bitnet_sampler, SamplerDeleter>;

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string token_piece(const bitnet_model *model, int32_t token) {
    std::string buf(32, '\0');
    size_t n = 0;
    bitnet_status st = bitnet_token_to_piece(model, token, 0, buf.data(), buf.size(), &n);
    if (st == BITNET_ERR_BUFFER_TOO_SMALL) {
        buf.resize(n);
        st = bitnet_token_to_piece(model, token, 0, buf.data(), buf.size(), &n);
    }
    if (st != BITNET_OK) return {};
    buf.resize(n);
    return buf;
}

SamplerPtr make_sampler(const GenerationParams &p) {
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    sp.temperature = p.temperature;
    sp.top_k = p.top_k;
    sp.top_p = p.top_p;
    sp.min_p = p.min_p;
    sp.repeat_penalty = p.repeat_penalty;
    sp.seed = p.seed;
    bitnet_sampler *s = nullptr;
    if (bitnet_sampler_new(&sp, &s) != BITNET_OK) return nullptr;
    return SamplerPtr(s);
}

// OpenAI's presence/frequency penalties on the generated tokens: logit -= presence (if the
// token appeared) + frequency * count.
void apply_penalties(std::vector<float> &logits, const std::unordered_map<int32_t, int> &counts,
                     const GenerationParams &p) {
    for (const auto &[tok, n] : counts) {
        logits[(size_t)tok] -= p.presence_penalty + p.frequency_penalty * (float)n;
    }
}

// Log-probability of `token` and of the `top` most likely tokens under softmax(logits).
TokenLogprob logprobs_of(const bitnet_model *model, const std::vector<float> &logits,
                         int32_t token, int32_t top) {
    const float mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float l : logits) sum += std::exp((double)l - mx);
    const float log_z = mx + (float)std::log(sum);
    TokenLogprob out;
    out.piece = token_piece(model, token);
    out.logprob = logits[(size_t)token] - log_z;
    if (top > 0) {
        std::vector<int32_t> idx(logits.size());
        std::iota(idx.begin(), idx.end(), 0);
        const size_t k = std::min<size_t>((size_t)top, idx.size());
        std::partial_sort(idx.begin(), idx.begin() + (ptrdiff_t)k, idx.end(),
                          [&](int32_t a, int32_t b) { return logits[(size_t)a] > logits[(size_t)b]; });
        for (size_t i = 0; i < k; ++i) {
            out.top.emplace_back(token_piece(model, idx[i]), logits[(size_t)idx[i]] - log_z);
        }
    }
    return out;
}

// Brings the KV cache to hold the prompt: keeps a cached prefix when the prompt extends it.
// Returns the eval status; `reused` receives the number of tokens not recomputed.
bitnet_status prefill(bitnet_context *ctx, std::vector<int32_t> &cached,
                      const std::vector<int32_t> &prompt, size_t &reused) {
    const bool extends = cached.size() < prompt.size() &&
                         std::equal(cached.begin(), cached.end(), prompt.begin()) &&
                         bitnet_context_n_past(ctx) == cached.size();
    if (!extends) {
        bitnet_context_reset(ctx);
        cached.clear();
    }
    reused = cached.size();
    const bitnet_status st = bitnet_eval(ctx, prompt.data() + reused, prompt.size() - reused,
                                         BITNET_LOGITS_LAST);
    if (st == BITNET_OK) cached = prompt;
    return st;
}

TaskEvent finish(const char *reason, int32_t n_prompt, int32_t n_gen) {
    TaskEvent e;
    e.final = true;
    e.finish_reason = reason;
    e.prompt_tokens = n_prompt;
    e.completion_tokens = n_gen;
    return e;
}

TaskEvent failure(bitnet_status st, int32_t n_prompt, int32_t n_gen) {
    TaskEvent e = finish(st == BITNET_ERR_ABORTED ? "cancelled" : "error", n_prompt, n_gen);
    e.error = std::string(bitnet_status_string(st)) + ": " + bitnet_last_error_message();
    return e;
}

}  // namespace

TaskEvent run_generation(const bitnet_model *model, bitnet_context *ctx,
                         std::vector<int32_t> &cached, Task &task, Metrics &metrics) {
    const GenerationParams &p = task.params();
    const std::vector<int32_t> &prompt = task.prompt();
    const auto n_prompt = (int32_t)prompt.size();
    SamplerPtr sampler = make_sampler(p);
    if (!sampler) return failure(BITNET_ERR_INVALID_ARGUMENT, n_prompt, 0);
    for (int32_t t : prompt) bitnet_sampler_accept(sampler.get(), t);  // repeat penalty window

    auto t0 = std::chrono::steady_clock::now();
    size_t reused = 0;
    bitnet_status st = prefill(ctx, cached, prompt, reused);
    metrics.prompt_tokens += (uint64_t)n_prompt;
    metrics.reused_prompt_tokens += reused;
    metrics.prompt_ms_x1000 += (uint64_t)(ms_since(t0) * 1000);
    if (st != BITNET_OK) return failure(st, n_prompt, 0);

    t0 = std::chrono::steady_clock::now();
    const int32_t n_vocab = bitnet_model_n_vocab(model);
    const uint32_t n_ctx = bitnet_context_n_ctx(ctx);
    std::vector<float> logits((size_t)n_vocab);
    std::unordered_map<int32_t, int> counts;
    TextStream text(p.stop);
    int32_t n_gen = 0;
    const char *reason = "length";
    while (n_gen < p.max_tokens) {
        if (task.cancelled) { reason = "cancelled"; break; }
        const float *row = bitnet_get_logits(ctx, -1);
        if (!row) return failure(BITNET_ERR_INTERNAL, n_prompt, n_gen);
        std::copy(row, row + n_vocab, logits.begin());
        apply_penalties(logits, counts, p);
        int32_t tok = 0;
        st = bitnet_sampler_sample(sampler.get(), logits.data(), n_vocab, &tok);
        if (st != BITNET_OK) return failure(st, n_prompt, n_gen);
        if (bitnet_token_is_eog(model, tok)) { reason = "stop"; break; }
        ++n_gen;
        ++counts[tok];
        metrics.generated_tokens += 1;
        TaskEvent ev;
        if (p.logprobs) ev.tokens.push_back(logprobs_of(model, logits, tok, p.top_logprobs));
        bool stopped = false;
        ev.text = text.append(token_piece(model, tok), stopped);
        if (!ev.text.empty() || !ev.tokens.empty()) task.push(std::move(ev));
        if (stopped) { reason = "stop"; break; }
        if (n_gen >= p.max_tokens || bitnet_context_n_past(ctx) + 1 > n_ctx) break;
        st = bitnet_eval(ctx, &tok, 1, BITNET_LOGITS_LAST);
        if (st != BITNET_OK) {
            metrics.generate_ms_x1000 += (uint64_t)(ms_since(t0) * 1000);
            return failure(st, n_prompt, n_gen);
        }
        cached.push_back(tok);
    }
    metrics.generate_ms_x1000 += (uint64_t)(ms_since(t0) * 1000);
    if (std::string rest = text.flush(); !rest.empty() && std::string(reason) != "cancelled") {
        TaskEvent ev;
        ev.text = std::move(rest);
        task.push(std::move(ev));
    }
    return finish(reason, n_prompt, n_gen);
}

}  // namespace bitnet_serve
