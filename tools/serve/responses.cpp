// See responses.h. Shapes from the OpenAI API reference (chat completion object, chunk object,
// completions object, logprobs objects).
#include "responses.h"

namespace bitnet_serve {

using nlohmann::json;

std::string dump(const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json usage_json(int32_t prompt_tokens, int32_t completion_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {

json bytes_of(const std::string &s) {
    json b = json::array();
    for (unsigned char c : s) b.push_back((int)c);
    return b;
}

// Chat: {"content": [{token, logprob, bytes, top_logprobs: [...]}]}.
json chat_logprobs(const std::vector<TokenLogprob> &tokens) {
    json content = json::array();
    for (const TokenLogprob &t : tokens) {
        json top = json::array();
        for (const auto &[piece, lp] : t.top) {
            top.push_back({{"token", piece}, {"logprob", lp}, {"bytes", bytes_of(piece)}});
        }
        content.push_back({{"token", t.piece}, {"logprob", t.logprob},
                           {"bytes", bytes_of(t.piece)}, {"top_logprobs", top}});
    }
    return {{"content", content}};
}

// Completions (legacy): {tokens, token_logprobs, top_logprobs: [{token: lp}], text_offset}.
json completion_logprobs(const std::vector<TokenLogprob> &tokens, size_t offset0) {
    json toks = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
    size_t offset = offset0;
    for (const TokenLogprob &t : tokens) {
        toks.push_back(t.piece);
        lps.push_back(t.logprob);
        json top = json::object();
        for (const auto &[piece, lp] : t.top) top[piece] = lp;
        tops.push_back(top);
        offs.push_back(offset);
        offset += t.piece.size();
    }
    return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

json logprobs_json(Endpoint endpoint, const std::vector<TokenLogprob> &tokens, bool want) {
    if (!want) return nullptr;
    return endpoint == Endpoint::Chat ? chat_logprobs(tokens) : completion_logprobs(tokens, 0);
}

json finish_json(const std::string &reason) {
    if (reason.empty()) return nullptr;
    return reason == "cancelled" || reason == "error" ? json("stop") : json(reason);
}

json envelope(const ResponseMeta &meta, const char *chat_object) {
    return {{"id", meta.id},
            {"object", meta.endpoint == Endpoint::Chat ? chat_object : "text_completion"},
            {"created", meta.created},
            {"model", meta.model},
            {"system_fingerprint", "libbitnet"}};
}

}  // namespace

json full_response(const ResponseMeta &meta, const std::string &text,
                   const std::vector<TokenLogprob> &logprobs, bool want_logprobs,
                   const TaskEvent &final_event) {
    json r = envelope(meta, "chat.completion");
    json choice = {{"index", 0},
                   {"logprobs", logprobs_json(meta.endpoint, logprobs, want_logprobs)},
                   {"finish_reason", finish_json(final_event.finish_reason)}};
    if (meta.endpoint == Endpoint::Chat) {
        choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
    } else {
        choice["text"] = text;
    }
    r["choices"] = json::array({choice});
    r["usage"] = usage_json(final_event.prompt_tokens, final_event.completion_tokens);
    return r;
}

json stream_chunk(const ResponseMeta &meta, const TaskEvent &event, bool want_logprobs,
                  bool first) {
    json r = envelope(meta, "chat.completion.chunk");
    json choice = {{"index", 0},
                   {"logprobs", event.final ? json(nullptr)
                                            : logprobs_json(meta.endpoint, event.tokens, want_logprobs)},
                   {"finish_reason", event.final ? finish_json(event.finish_reason) : json(nullptr)}};
    if (meta.endpoint == Endpoint::Chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!event.final) delta["content"] = event.text;
        choice["delta"] = delta;
    } else {
        choice["text"] = event.final ? "" : event.text;
    }
    r["choices"] = json::array({choice});
    return r;
}

json usage_chunk(const ResponseMeta &meta, const TaskEvent &final_event) {
    json r = envelope(meta, "chat.completion.chunk");
    r["choices"] = json::array();
    r["usage"] = usage_json(final_event.prompt_tokens, final_event.completion_tokens);
    return r;
}

}  // namespace bitnet_serve
