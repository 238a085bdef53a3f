// JSON shapes of the OpenAI API answers (chat.completion, chat.completion.chunk,
// text_completion) built from task events.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.h"
#include "task.h"

namespace bitnet_serve {

struct ResponseMeta {
    std::string id;      // "chatcmpl-..." / "cmpl-..."
    std::string model;
    long long created = 0;
    Endpoint endpoint = Endpoint::Chat;
};

// Serialises JSON; invalid UTF-8 (a model can emit any bytes) becomes U+FFFD instead of throwing.
std::string dump(const nlohmann::json &j);

nlohmann::json usage_json(int32_t prompt_tokens, int32_t completion_tokens);

// Complete (non-streaming) answer.
nlohmann::json full_response(const ResponseMeta &meta, const std::string &text,
                             const std::vector<TokenLogprob> &logprobs, bool want_logprobs,
                             const TaskEvent &final_event);

// One streamed chunk: text and logprobs of one event, or (final_event) the finish reason.
nlohmann::json stream_chunk(const ResponseMeta &meta, const TaskEvent &event, bool want_logprobs,
                            bool first);
// The last chunk with usage and empty choices (stream_options.include_usage).
nlohmann::json usage_chunk(const ResponseMeta &meta, const TaskEvent &final_event);

}  // namespace bitnet_serve
