// GET /metrics: Prometheus text exposition format 0.0.4 (HELP/TYPE lines, then samples).
#include <sstream>

#include "app.h"

namespace bitnet_serve {

namespace {

class Exposition {
public:
    void metric(const char *name, const char *type, const char *help) {
        out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    }
    template <class T>
    void sample(const char *name, T value, const std::string &labels = "") {
        out_ << name;
        if (!labels.empty()) out_ << '{' << labels << '}';
        out_ << ' ' << value << '\n';
    }
    std::string text() const { return out_.str(); }

private:
    std::ostringstream out_;
};

const char *kRouteNames[] = {"chat_completions", "completions", "models", "health",
                             "metrics", "tokenize", "detokenize", "page", "embeddings"};

}  // namespace

void App::handle_metrics(httplib::Response &res) {
    if (!serving(res)) return;
    Metrics &m = scheduler_->metrics();
    Exposition e;
    e.metric("bitnet_http_requests_total", "counter", "HTTP requests received, by endpoint.");
    for (size_t i = 0; i < (size_t)Route::Count; ++i) {
        e.sample("bitnet_http_requests_total", hits_[i].load(),
                 std::string("endpoint=\"") + kRouteNames[i] + "\"");
    }
    e.metric("bitnet_requests_total", "counter", "Generation requests finished, by result.");
    e.sample("bitnet_requests_total", m.requests_ok.load(), "result=\"ok\"");
    e.sample("bitnet_requests_total", m.requests_failed.load(), "result=\"error\"");
    e.sample("bitnet_requests_total", m.requests_cancelled.load(), "result=\"cancelled\"");
    e.metric("bitnet_requests_rejected_total", "counter", "Requests refused with 503 (queue full or shutting down).");
    e.sample("bitnet_requests_rejected_total", m.requests_rejected.load());
    e.metric("bitnet_prompt_tokens_total", "counter", "Prompt tokens received (tokens in).");
    e.sample("bitnet_prompt_tokens_total", m.prompt_tokens.load());
    e.metric("bitnet_prompt_tokens_reused_total", "counter", "Prompt tokens served from a slot's cached prefix.");
    e.sample("bitnet_prompt_tokens_reused_total", m.reused_prompt_tokens.load());
    e.metric("bitnet_generated_tokens_total", "counter", "Tokens generated (tokens out).");
    e.sample("bitnet_generated_tokens_total", m.generated_tokens.load());
    const double prompt_s = (double)m.prompt_ms_x1000.load() / 1e6;
    const double gen_s = (double)m.generate_ms_x1000.load() / 1e6;
    e.metric("bitnet_prompt_seconds_total", "counter", "Time of the decode steps that carried prompt tokens (prefill, with the decode tokens batched alongside).");
    e.sample("bitnet_prompt_seconds_total", prompt_s);
    e.metric("bitnet_generation_seconds_total", "counter", "Time of the decode steps without prompt tokens (all decoding slots in one step).");
    e.sample("bitnet_generation_seconds_total", gen_s);
    e.metric("bitnet_prompt_tokens_per_second", "gauge", "Prompt tokens per second of prefill steps so far.");
    e.sample("bitnet_prompt_tokens_per_second", prompt_s > 0 ? (double)m.prompt_tokens.load() / prompt_s : 0.0);
    e.metric("bitnet_generation_tokens_per_second", "gauge", "Generated tokens per second of decode steps so far (all slots together).");
    e.sample("bitnet_generation_tokens_per_second", gen_s > 0 ? (double)m.generated_tokens.load() / gen_s : 0.0);
    e.metric("bitnet_queue_length", "gauge", "Requests waiting for a slot.");
    e.sample("bitnet_queue_length", scheduler_->queue_length());
    e.metric("bitnet_queue_capacity", "gauge", "Most requests that may wait (then 503).");
    e.sample("bitnet_queue_capacity", opt_.max_queue);
    e.metric("bitnet_slots_busy", "gauge", "Slots generating now.");
    e.sample("bitnet_slots_busy", scheduler_->slots_busy());
    e.metric("bitnet_slots_total", "gauge", "Slots (--parallel).");
    e.sample("bitnet_slots_total", scheduler_->n_slots());
    e.metric("bitnet_kv_cells_used", "gauge", "KV cache cells holding tokens, all idle slots (as of their last request).");
    e.sample("bitnet_kv_cells_used", scheduler_->kv_cells_used());
    e.metric("bitnet_kv_cells_total", "gauge", "KV cache cells, all slots.");
    e.sample("bitnet_kv_cells_total", (uint64_t)scheduler_->n_ctx() * (uint64_t)scheduler_->n_slots());
    res.set_content(e.text(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace bitnet_serve
