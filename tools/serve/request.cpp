// Parsing and validation of completion requests (see request.h). Field names, ranges and
// defaults follow the OpenAI API reference (chat/completions and completions); top_k, min_p and
// repeat_penalty follow llama-server.
#include "request.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace bitnet_serve {
namespace {

using nlohmann::json;

// Thrown inside this file only; parse_completion_request turns it into ParseResult::error.
struct Reject {
    ApiError error;
};

[[noreturn]] void reject(const std::string &param, const std::string &message,
                         const std::string &code = "invalid_value") {
    ApiError e;
    e.status = 400;
    e.message = message;
    e.code = code;
    e.param = param;
    throw Reject{e};
}

[[noreturn]] void unsupported(const std::string &param, const std::string &message) {
    reject(param, message + " is not supported by this server", "unsupported_value");
}

// A field that is absent or null counts as not given (OpenAI accepts explicit nulls).
const json *field(const json &body, const char *name) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return nullptr;
    return &*it;
}

double number_in(const json &body, const char *name, double lo, double hi, double fallback) {
    const json *v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number()) reject(name, std::string("'") + name + "' must be a number");
    const double d = v->get<double>();
    if (!(d >= lo && d <= hi)) {
        reject(name, std::string("'") + name + "' must be between " + json(lo).dump() + " and " +
                         json(hi).dump());
    }
    return d;
}

std::optional<int64_t> integer_in(const json &body, const char *name, int64_t lo, int64_t hi) {
    const json *v = field(body, name);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) reject(name, std::string("'") + name + "' must be an integer");
    // Unsigned values above INT64_MAX read as negative through get<int64_t>: compare first.
    if (v->is_number_unsigned() && v->get<uint64_t>() > (uint64_t)hi) {
        reject(name, std::string("'") + name + "' must be at most " + std::to_string(hi));
    }
    const int64_t i = v->get<int64_t>();
    if (i < lo || i > hi) {
        reject(name, std::string("'") + name + "' must be between " + std::to_string(lo) +
                         " and " + std::to_string(hi));
    }
    return i;
}

bool boolean(const json &body, const char *name, bool fallback) {
    const json *v = field(body, name);
    if (!v) return fallback;
    if (!v->is_boolean()) reject(name, std::string("'") + name + "' must be a boolean");
    return v->get<bool>();
}

// Message content: a string, or an array of {"type":"text","text":...} parts (joined).
std::string message_content(const json &content, const std::string &param) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) reject(param, "message content must be a string or an array of parts");
    std::string text;
    for (const json &part : content) {
        if (!part.is_object() || !part.contains("type") || part["type"] != "text") {
            unsupported(param, "a content part other than {\"type\":\"text\"}");
        }
        const json *t = field(part, "text");
        if (!t || !t->is_string()) reject(param, "a text content part needs a string 'text'");
        text += t->get<std::string>();
    }
    return text;
}

std::vector<ChatMessage> parse_messages(const json &body, const RequestLimits &limits) {
    const json *v = field(body, "messages");
    if (!v) reject("messages", "'messages' is required", "missing_required_parameter");
    if (!v->is_array() || v->empty()) reject("messages", "'messages' must be a non-empty array");
    if (v->size() > limits.max_messages) {
        reject("messages", "at most " + std::to_string(limits.max_messages) + " messages");
    }
    std::vector<ChatMessage> out;
    for (size_t i = 0; i < v->size(); ++i) {
        const json &m = (*v)[i];
        const std::string p = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) reject(p, p + " must be an object");
        const json *role = field(m, "role");
        if (!role || !role->is_string()) reject(p + ".role", p + ".role must be a string");
        std::string r = role->get<std::string>();
        if (r == "developer") r = "system";
        if (r == "tool" || r == "function") unsupported(p + ".role", "role '" + r + "'");
        if (r != "system" && r != "user" && r != "assistant") {
            reject(p + ".role", "unknown role '" + r + "' (system, user or assistant)");
        }
        const json *content = field(m, "content");
        if (!content && r != "assistant") reject(p + ".content", p + ".content is required");
        out.push_back({r, content ? message_content(*content, p + ".content") : std::string()});
    }
    return out;
}

void parse_prompt(const json &body, CompletionRequest &req) {
    const json *v = field(body, "prompt");
    if (!v) reject("prompt", "'prompt' is required", "missing_required_parameter");
    if (v->is_string()) {
        req.prompt = v->get<std::string>();
        return;
    }
    if (!v->is_array()) reject("prompt", "'prompt' must be a string or an array");
    if (v->size() == 1 && (*v)[0].is_string()) {
        req.prompt = (*v)[0].get<std::string>();
        return;
    }
    if (v->empty()) reject("prompt", "'prompt' must not be empty");
    for (const json &t : *v) {
        if (t.is_string()) unsupported("prompt", "more than one prompt per request");
        if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
            t.get<int64_t>() > std::numeric_limits<int32_t>::max() || t.is_number_float()) {
            reject("prompt", "a token-id prompt must hold non-negative integers");
        }
        req.prompt_tokens.push_back((int32_t)t.get<int64_t>());
    }
    req.prompt_is_tokens = true;
}

std::vector<std::string> parse_stop(const json &body, const RequestLimits &limits) {
    const json *v = field(body, "stop");
    if (!v) return {};
    std::vector<std::string> out;
    if (v->is_string()) {
        out.push_back(v->get<std::string>());
    } else if (v->is_array()) {
        for (const json &s : *v) {
            if (!s.is_string()) reject("stop", "'stop' must be a string or an array of strings");
            out.push_back(s.get<std::string>());
        }
    } else {
        reject("stop", "'stop' must be a string or an array of strings");
    }
    if (out.size() > limits.max_stop) {
        reject("stop", "at most " + std::to_string(limits.max_stop) + " stop sequences");
    }
    for (const std::string &s : out) {
        if (s.empty()) reject("stop", "stop sequences must not be empty");
        if (s.size() > limits.max_stop_bytes) {
            reject("stop", "stop sequences are limited to " +
                               std::to_string(limits.max_stop_bytes) + " bytes");
        }
    }
    return out;
}

// Fields this server cannot honour: refusing beats silently ignoring them.
void refuse_unsupported(const json &body) {
    if (auto n = integer_in(body, "n", 1, 128); n && *n != 1) unsupported("n", "n > 1");
    if (auto b = integer_in(body, "best_of", 1, 128); b && *b != 1) unsupported("best_of", "best_of > 1");
    if (boolean(body, "echo", false)) unsupported("echo", "echo");
    if (const json *t = field(body, "tools"); t && !(t->is_array() && t->empty())) {
        unsupported("tools", "tool calling");
    }
    if (field(body, "functions")) unsupported("functions", "function calling");
    if (const json *lb = field(body, "logit_bias"); lb && !(lb->is_object() && lb->empty())) {
        unsupported("logit_bias", "logit_bias");
    }
    if (const json *rf = field(body, "response_format")) {
        if (!rf->is_object() || !rf->contains("type") || (*rf)["type"] != "text") {
            unsupported("response_format", "a response_format other than text");
        }
    }
    if (const json *suffix = field(body, "suffix")) {
        if (!(suffix->is_string() && suffix->get<std::string>().empty())) unsupported("suffix", "suffix");
    }
}

void parse_sampling(const json &body, CompletionRequest &req) {
    req.temperature = (float)number_in(body, "temperature", 0.0, 2.0, 1.0);
    req.top_p = (float)number_in(body, "top_p", 0.0, 1.0, 1.0);
    req.min_p = (float)number_in(body, "min_p", 0.0, 1.0, req.min_p);
    req.top_k = (int32_t)integer_in(body, "top_k", 0, 1 << 20).value_or(req.top_k);
    req.presence_penalty = (float)number_in(body, "presence_penalty", -2.0, 2.0, 0.0);
    req.frequency_penalty = (float)number_in(body, "frequency_penalty", -2.0, 2.0, 0.0);
    req.repeat_penalty = (float)number_in(body, "repeat_penalty", 0.01, 10.0, 1.0);
    if (const json *s = field(body, "seed")) {
        if (!s->is_number_integer()) reject("seed", "'seed' must be an integer");
        req.seed = s->is_number_unsigned() ? s->get<uint64_t>() : (uint64_t)s->get<int64_t>();
    }
}

void parse_logprobs(const json &body, CompletionRequest &req, const RequestLimits &limits) {
    if (req.endpoint == Endpoint::Chat) {
        req.logprobs = boolean(body, "logprobs", false);
        auto top = integer_in(body, "top_logprobs", 0, limits.max_top_logprobs);
        if (top && !req.logprobs) {
            reject("top_logprobs", "'top_logprobs' requires 'logprobs': true");
        }
        req.top_logprobs = (int32_t)top.value_or(0);
    } else {
        // Completions: "logprobs": integer 0..5 = alternatives per token.
        auto n = integer_in(body, "logprobs", 0, std::min(5, limits.max_top_logprobs));
        req.logprobs = n.has_value();
        req.top_logprobs = (int32_t)n.value_or(0);
    }
}

void parse_stream(const json &body, CompletionRequest &req) {
    req.stream = boolean(body, "stream", false);
    if (const json *so = field(body, "stream_options")) {
        if (!so->is_object()) reject("stream_options", "'stream_options' must be an object");
        if (!req.stream) reject("stream_options", "'stream_options' requires 'stream': true");
        req.include_usage = boolean(*so, "include_usage", false);
    }
}

CompletionRequest parse_object(const json &body, Endpoint endpoint, const RequestLimits &limits) {
    if (!body.is_object()) reject("", "the request body must be a JSON object");
    CompletionRequest req;
    req.endpoint = endpoint;
    if (const json *m = field(body, "model")) {
        if (!m->is_string()) reject("model", "'model' must be a string");
        req.model = m->get<std::string>();
    }
    if (endpoint == Endpoint::Chat) req.messages = parse_messages(body, limits);
    else parse_prompt(body, req);
    refuse_unsupported(body);
    // max_completion_tokens is the newer chat name of max_tokens.
    auto mt = integer_in(body, "max_completion_tokens", 1, limits.max_tokens);
    if (!mt) mt = integer_in(body, "max_tokens", 1, limits.max_tokens);
    if (mt) req.max_tokens = (int32_t)*mt;
    parse_sampling(body, req);
    req.stop = parse_stop(body, limits);
    parse_logprobs(body, req, limits);
    parse_stream(body, req);
    return req;
}

}  // namespace

ParseResult parse_completion_request(std::string_view body, Endpoint endpoint,
                                     const RequestLimits &limits) {
    ParseResult result;
    // nlohmann rejects malformed JSON and invalid UTF-8 inside strings.
    json parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
        result.error.message = "the request body is not valid JSON (or not valid UTF-8)";
        result.error.code = "invalid_json";
        return result;
    }
    try {
        result.request = parse_object(parsed, endpoint, limits);
    } catch (const Reject &r) {
        result.error = r.error;
    } catch (const json::exception &e) {  // a type mismatch this file failed to check first
        result.error.message = std::string("malformed request: ") + e.what();
        result.error.code = "invalid_value";
    }
    return result;
}

std::string error_json(const ApiError &error) {
    nlohmann::json e = {{"message", error.message}, {"type", error.type}};
    e["code"] = error.code.empty() ? json(nullptr) : json(error.code);
    e["param"] = error.param.empty() ? json(nullptr) : json(error.param);
    return nlohmann::json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace bitnet_serve
