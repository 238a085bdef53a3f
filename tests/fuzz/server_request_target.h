// The body of the fuzz_server_request harness: `bitnet serve`'s request-to-parameters path
// (tools/serve/request.cpp) and its stop-sequence text stream (tools/serve/text_stream.cpp).
// Shared by the libFuzzer entry point and tests/test_serve_request.cpp (which replays the seeds
// with any compiler). Throws ServerFinding when a checked property breaks.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.h"
#include "text_stream.h"

namespace bitnet_serve::fuzz {

struct ServerFinding : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline void require(bool cond, const std::string &what) {
    if (!cond) throw ServerFinding(what);
}

// Accepted requests respect every limit; rejected ones carry a 4xx and a well-formed body.
inline void check_parse(std::string_view body, Endpoint ep, const RequestLimits &limits) {
    const ParseResult r = parse_completion_request(body, ep, limits);
    if (!r.request) {
        require(r.error.status >= 400 && r.error.status < 500, "error status is a 4xx");
        require(!r.error.message.empty(), "error message is not empty");
        const auto j = nlohmann::json::parse(error_json(r.error), nullptr, false);
        require(!j.is_discarded() && j["error"]["message"].is_string() &&
                    j["error"].contains("type") && j["error"].contains("code"),
                "error_json is {\"error\":{message,type,code}}");
        return;
    }
    const CompletionRequest &q = *r.request;
    require(!q.max_tokens || (*q.max_tokens >= 1 && *q.max_tokens <= limits.max_tokens), "max_tokens in range");
    require(q.temperature >= 0 && q.temperature <= 2, "temperature in [0, 2]");
    require(q.top_p >= 0 && q.top_p <= 1 && q.min_p >= 0 && q.min_p <= 1, "top_p/min_p in [0, 1]");
    require(q.top_k >= 0 && q.repeat_penalty > 0, "top_k >= 0, repeat_penalty > 0");
    require(q.stop.size() <= limits.max_stop, "stop count");
    for (const std::string &s : q.stop) require(!s.empty() && s.size() <= limits.max_stop_bytes, "stop size");
    require(q.top_logprobs >= 0 && q.top_logprobs <= limits.max_top_logprobs, "top_logprobs in range");
    require(!q.include_usage || q.stream, "include_usage only when streaming");
    if (ep == Endpoint::Chat) require(!q.messages.empty(), "chat has messages");
    else require(q.prompt_is_tokens || q.prompt_tokens.empty(), "prompt form");
}

// Streams `text` through a TextStream in small pieces: what is sent never contains a stop
// sequence, and without a stop everything arrives (sent + flush == text).
inline void check_text_stream(const std::string &text, const std::vector<std::string> &stop) {
    TextStream ts(stop);
    std::string sent;
    bool stopped = false;
    for (size_t i = 0; i < text.size() && !stopped; i += 3) sent += ts.append(text.substr(i, 3), stopped);
    for (const std::string &s : stop) require(sent.find(s) == std::string::npos, "a stop sequence was sent");
    if (!stopped) require(sent + ts.flush() == text, "text lost or changed without a stop");
    else require(text.compare(0, sent.size(), sent) == 0, "sent text is a prefix of the text");
}

inline void run_server_request(const uint8_t *data, size_t size) {
    const std::string_view body(reinterpret_cast<const char *>(data), size);
    RequestLimits limits;
    limits.max_tokens = 512;
    check_parse(body, Endpoint::Chat, limits);
    check_parse(body, Endpoint::Completion, limits);
    const ParseResult r = parse_completion_request(body, Endpoint::Completion, limits);
    if (r.request && !r.request->prompt_is_tokens) check_text_stream(r.request->prompt, r.request->stop);
}

// Seed bodies for the fuzzer (valid and near-valid requests).
inline std::vector<std::string> server_request_seeds() {
    return {
        R"({"model":"m","messages":[{"role":"user","content":"Hello"}],"max_tokens":8})",
        R"({"messages":[{"role":"system","content":"Be brief"},{"role":"user","content":[{"type":"text","text":"Hi"}]}],"stream":true,"stream_options":{"include_usage":true}})",
        R"({"messages":[{"role":"user","content":"x"}],"temperature":0.2,"top_p":0.9,"top_k":20,"min_p":0.1,"seed":-5,"presence_penalty":1,"frequency_penalty":-1,"repeat_penalty":1.1,"logprobs":true,"top_logprobs":3})",
        R"({"prompt":"The quick brown fox jumps","stop":["fox","ju"],"max_tokens":4})",
        R"({"prompt":[1,2,3],"logprobs":2,"stop":"\n"})",
        R"({"prompt":["one"],"n":1,"echo":false,"max_completion_tokens":3})",
    };
}

}  // namespace bitnet_serve::fuzz
