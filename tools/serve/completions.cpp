// POST /v1/chat/completions and /v1/completions: parse, build the prompt, queue the task and
// answer as one JSON object or as server-sent events ending with `data: [DONE]`.
#include <chrono>
#include <random>

#include "app.h"
#include "responses.h"

namespace bitnet_serve {

using nlohmann::json;

namespace {

std::string random_id(const char *prefix) {
    static std::atomic<uint64_t> counter{0};
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%016llx%04llx", prefix, (unsigned long long)rng(),
                  (unsigned long long)(counter++ & 0xffff));
    return buf;
}

long long unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

bool tokenize(const bitnet_model *model, const std::string &text, std::vector<int32_t> &out) {
    size_t n = 0;
    bitnet_status st = bitnet_tokenize(model, text.data(), text.size(), 1, 1, nullptr, 0, &n);
    if (st != BITNET_OK && st != BITNET_ERR_BUFFER_TOO_SMALL) return false;
    out.resize(n);
    st = bitnet_tokenize(model, text.data(), text.size(), 1, 1, out.data(), n, &n);
    out.resize(n);
    return st == BITNET_OK;
}

// The model's chat template (bitnet_chat_format) over the request's messages.
bool chat_text(const std::vector<ChatMessage> &messages, std::string &text, ApiError &err) {
    std::vector<bitnet_chat_message> msgs;
    for (const ChatMessage &m : messages) {
        // The C API takes NUL-terminated strings: an embedded NUL would cut the text silently.
        if (m.content.find('\0') != std::string::npos) {
            err = make_error(400, "message content must not contain NUL characters",
                             "invalid_request_error", "invalid_value");
            return false;
        }
        msgs.push_back({m.role.c_str(), m.content.c_str()});
    }
    size_t need = 0;
    bitnet_chat_format(msgs.data(), msgs.size(), 1, nullptr, 0, &need);
    text.assign(need, '\0');
    if (bitnet_chat_format(msgs.data(), msgs.size(), 1, text.data(), text.size(), &need) != BITNET_OK) {
        err = make_error(400, bitnet_last_error_message(), "invalid_request_error", "invalid_value");
        return false;
    }
    text.resize(need - 1);  // drop the NUL
    return true;
}

GenerationParams generation_params(const CompletionRequest &r, int32_t max_tokens) {
    GenerationParams g;
    g.max_tokens = max_tokens;
    g.temperature = r.temperature;
    g.top_p = r.top_p;
    g.top_k = r.top_k;
    g.min_p = r.min_p;
    g.repeat_penalty = r.repeat_penalty;
    g.presence_penalty = r.presence_penalty;
    g.frequency_penalty = r.frequency_penalty;
    g.seed = r.seed ? *r.seed : std::random_device{}() * 0x100000001ull;
    g.stop = r.stop;
    g.logprobs = r.logprobs;
    g.top_logprobs = r.top_logprobs;
    return g;
}

bool write_event(httplib::DataSink &sink, const std::string &data) {
    const std::string frame = "data: " + data + "\n\n";
    return sink.write(frame.data(), frame.size());
}

}  // namespace

bool App::build_prompt(const CompletionRequest &r, std::vector<int32_t> &prompt, ApiError &err) {
    std::string text = r.prompt;
    if (r.endpoint == Endpoint::Chat && !chat_text(r.messages, text, err)) return false;
    if (r.prompt_is_tokens) {
        const int32_t n_vocab = bitnet_model_n_vocab(model_);
        for (int32_t t : r.prompt_tokens) {
            if (t >= n_vocab) {
                err = make_error(400, "prompt token id " + std::to_string(t) + " is not below n_vocab " +
                                          std::to_string(n_vocab), "invalid_request_error", "invalid_value");
                return false;
            }
        }
        prompt = r.prompt_tokens;
    } else if (!tokenize(model_, text, prompt)) {
        err = make_error(500, bitnet_last_error_message(), "server_error", "tokenizer");
        return false;
    }
    if (prompt.empty()) {
        err = make_error(400, "the prompt is empty", "invalid_request_error", "invalid_value");
        return false;
    }
    if (prompt.size() >= scheduler_->n_ctx()) {
        err = make_error(400, "the prompt has " + std::to_string(prompt.size()) +
                                  " tokens; this server's context holds " +
                                  std::to_string(scheduler_->n_ctx()) + " per request",
                         "invalid_request_error", "context_length_exceeded");
        return false;
    }
    return true;
}

void App::handle_completion(const httplib::Request &req, httplib::Response &res, Endpoint ep) {
    if (!serving(res)) return;
    ParseResult parsed = parse_completion_request(req.body, ep, opt_.limits);
    if (!parsed.request) return send_error(res, parsed.error);
    const CompletionRequest &r = *parsed.request;
    std::vector<int32_t> prompt;
    ApiError err;
    if (!build_prompt(r, prompt, err)) return send_error(res, err);
    // Without max_tokens: until the end of the context (or the server's limit).
    const auto room = (int32_t)(scheduler_->n_ctx() - prompt.size());
    const int32_t max_tokens = std::min({r.max_tokens.value_or(room), room, opt_.limits.max_tokens});
    auto task = std::make_shared<Task>(std::move(prompt), generation_params(r, max_tokens));
    switch (scheduler_->submit(task)) {
        case Scheduler::Submit::Ok: break;
        case Scheduler::Submit::QueueFull:
            res.set_header("Retry-After", "1");
            return send_error(res, make_error(503, "all slots are busy and the queue is full; retry later",
                                              "server_error", "queue_full"));
        case Scheduler::Submit::ShuttingDown:
            return send_error(res, make_error(503, "the server is shutting down", "server_error",
                                              "shutting_down"));
    }
    const std::string id = random_id(ep == Endpoint::Chat ? "chatcmpl-" : "cmpl-");
    if (r.stream) respond_stream(res, task, r, id);
    else respond_full(res, task, r, id);
}

void App::respond_full(httplib::Response &res, const std::shared_ptr<Task> &task,
                       const CompletionRequest &r, const std::string &id) {
    std::string text;
    std::vector<TokenLogprob> logprobs;
    TaskEvent ev;
    for (;;) {  // ends: every task gets a final event (run, cancelled or dropped at shutdown)
        if (!task->pop(ev, std::chrono::milliseconds(200))) continue;
        if (ev.final) break;
        text += ev.text;
        for (auto &t : ev.tokens) logprobs.push_back(std::move(t));
    }
    if (ev.finish_reason == "error") {
        return send_error(res, make_error(500, ev.error, "server_error", "generation_failed"));
    }
    if (ev.finish_reason == "cancelled") {
        return send_error(res, make_error(503, "the server is shutting down", "server_error",
                                          "shutting_down"));
    }
    ResponseMeta meta{id, r.model.empty() ? model_name_ : r.model, unix_now(), r.endpoint};
    res.set_content(dump(full_response(meta, text, logprobs, r.logprobs, ev)), "application/json");
}

void App::respond_stream(httplib::Response &res, const std::shared_ptr<Task> &task,
                         const CompletionRequest &r, const std::string &id) {
    struct State {
        ResponseMeta meta;
        bool first = true, done = false, logprobs = false, usage = false;
    };
    auto st = std::make_shared<State>();
    st->meta = {id, r.model.empty() ? model_name_ : r.model, unix_now(), r.endpoint};
    st->logprobs = r.logprobs;
    st->usage = r.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // nginx: pass events through at once
    open_streams_ += 1;
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, task, st](size_t, httplib::DataSink &sink) {
            if (st->done) return false;
            TaskEvent ev;
            if (!task->pop(ev, std::chrono::milliseconds(100))) return true;  // called again
            bool ok = true;
            if (ev.final && ev.finish_reason == "error") {
                ok = write_event(sink, error_json(make_error(500, ev.error, "server_error",
                                                             "generation_failed")));
            } else {
                ok = write_event(sink, dump(stream_chunk(st->meta, ev, st->logprobs, st->first)));
            }
            st->first = false;
            if (ev.final) {
                if (ok && st->usage) ok = write_event(sink, dump(usage_chunk(st->meta, ev)));
                if (ok) ok = sink.write("data: [DONE]\n\n", 14);
                st->done = true;
                if (ok) sink.done();
            }
            return ok;
        },
        [this, task](bool) {
            // Runs when the response ends for any reason: a client that went away cancels.
            if (!task->finished()) scheduler_->cancel(task);
            open_streams_ -= 1;
        });
}

}  // namespace bitnet_serve
