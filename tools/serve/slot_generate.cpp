// See slot_generate.h.
#include "slot_generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <memory>
#include <string>
#include <unordered_map>

#include "scheduler.h"

namespace bitnet_serve {
namespace {

using SamplerPtr = std::unique_ptr<bitnet_sampler, SamplerDeleter>;

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

}  // namespace

TaskEvent task_finish(const char *reason, int32_t n_prompt, int32_t n_gen) {
    TaskEvent e;
    e.final = true;
    e.finish_reason = reason;
    e.prompt_tokens = n_prompt;
    e.completion_tokens = n_gen;
    return e;
}

TaskEvent task_failure(bitnet_status st, int32_t n_prompt, int32_t n_gen) {
    TaskEvent e = task_finish(st == BITNET_ERR_ABORTED ? "cancelled" : "error", n_prompt, n_gen);
    e.error = std::string(bitnet_status_string(st)) + ": " + bitnet_last_error_message();
    return e;
}

SlotRun::SlotRun(const bitnet_model *m, std::shared_ptr<Task> t)
    : model(m), task(std::move(t)), sampler(make_sampler(task->params())), text(task->params().stop) {
    if (sampler) {
        for (int32_t tok : task->prompt()) bitnet_sampler_accept(sampler.get(), tok);  // repeat window
    }
}

bool SlotRun::on_logits(const float *row, size_t n_cached, uint32_t n_ctx_slot, Metrics &metrics,
                        TaskEvent &out) {
    const GenerationParams &p = task->params();
    const auto n_prompt = (int32_t)task->prompt().size();
    const int32_t n_vocab = bitnet_model_n_vocab(model);
    const char *reason = nullptr;
    if (!row) {
        out = task_failure(BITNET_ERR_INTERNAL, n_prompt, n_gen);
        return true;
    }
    std::vector<float> logits(row, row + n_vocab);
    apply_penalties(logits, counts, p);
    int32_t tok = 0;
    const bitnet_status st = bitnet_sampler_sample(sampler.get(), logits.data(), n_vocab, &tok);
    if (st != BITNET_OK) {
        out = task_failure(st, n_prompt, n_gen);
        return true;
    }
    if (bitnet_token_is_eog(model, tok)) {
        reason = "stop";
    } else {
        ++n_gen;
        ++counts[tok];
        metrics.generated_tokens += 1;
        TaskEvent ev;
        if (p.logprobs) ev.tokens.push_back(logprobs_of(model, logits, tok, p.top_logprobs));
        bool stopped = false;
        ev.text = text.append(token_piece(model, tok), stopped);
        if (!ev.text.empty() || !ev.tokens.empty()) task->push(std::move(ev));
        if (stopped) reason = "stop";
        else if (n_gen >= p.max_tokens || n_cached + 1 > n_ctx_slot) reason = "length";
    }
    if (!reason) {
        pending = tok;
        return false;
    }
    if (std::string rest = text.flush(); !rest.empty()) {
        TaskEvent ev;
        ev.text = std::move(rest);
        task->push(std::move(ev));
    }
    out = task_finish(reason, n_prompt, n_gen);
    return true;
}

}  // namespace bitnet_serve
