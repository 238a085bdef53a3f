// Request-to-parameters parsing of `bitnet serve`: the body of an OpenAI-style
// /v1/chat/completions or /v1/completions request becomes a CompletionRequest, or an ApiError
// with the HTTP status and OpenAI error fields. A pure function of its input (no model, no
// I/O), so that it can be fuzzed (tests/fuzz/fuzz_server_request.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bitnet_serve {

enum class Endpoint { Chat, Completion };

// Server-side bounds on what a request may ask for.
struct RequestLimits {
    int32_t max_tokens = 4096;      // largest max_tokens accepted (--n-predict-max)
    size_t max_messages = 1024;     // chat messages per request
    size_t max_stop = 4;            // stop sequences (OpenAI's limit)
    size_t max_stop_bytes = 256;    // bytes per stop sequence
    int32_t max_top_logprobs = 20;  // OpenAI: chat top_logprobs <= 20, completions logprobs <= 5
};

struct ChatMessage {
    std::string role;     // "system", "user" or "assistant" ("developer" is read as "system")
    std::string content;  // text parts joined
};

// Everything a completion request asks for, validated and with OpenAI's defaults filled in.
struct CompletionRequest {
    Endpoint endpoint = Endpoint::Chat;
    std::string model;                  // echoed back; any name is accepted
    std::vector<ChatMessage> messages;  // Chat
    std::string prompt;                 // Completion, text prompt
    std::vector<int32_t> prompt_tokens; // Completion, prompt given as token ids
    bool prompt_is_tokens = false;
    std::optional<int32_t> max_tokens;  // absent: until end of generation or context
    float temperature = 1.0f;           // OpenAI default
    float top_p = 1.0f;
    // Not OpenAI fields; llama-server's names and defaults. OpenAI clients never send them, so
    // these defaults apply to them too: they keep sampling to a short list of candidates.
    int32_t top_k = 40;                 // 0: off
    float min_p = 0.05f;                // 0: off
    std::optional<uint64_t> seed;       // absent: a fresh random seed per request
    std::vector<std::string> stop;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    float repeat_penalty = 1.0f;
    bool logprobs = false;
    int32_t top_logprobs = 0;           // alternatives per token (completions: the logprobs int)
    bool stream = false;
    bool include_usage = false;         // stream_options.include_usage
};

// An error answer: HTTP status plus OpenAI's {"error": {message, type, code, param}}.
struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string code;   // "" is sent as null
    std::string param;  // "" is sent as null
};

struct ParseResult {
    std::optional<CompletionRequest> request;  // set on success
    ApiError error;                            // meaningful when !request
};

// Parses and validates a request body. Unknown fields are ignored (as OpenAI's API does);
// fields this server cannot honour (n > 1, echo, tools, ...) give a 400 that says so.
ParseResult parse_completion_request(std::string_view body, Endpoint endpoint,
                                     const RequestLimits &limits);

// The JSON text of an error body: {"error":{"message","type","code","param"}}.
std::string error_json(const ApiError &error);

}  // namespace bitnet_serve
