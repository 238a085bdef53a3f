// `bitnet serve`'s pure parts: request-to-parameters parsing (against the OpenAI API
// reference's field names, ranges and defaults) and the stop-sequence text stream; the fuzz
// harness's seeds are replayed through the same checks as in fuzz_server_request.
#include <gtest/gtest.h>

#include <string>

#include "fuzz/server_request_target.h"
#include "request.h"
#include "text_stream.h"

namespace {

using bitnet_serve::Endpoint;
using bitnet_serve::ParseResult;
using bitnet_serve::RequestLimits;
using bitnet_serve::TextStream;

ParseResult chat(const std::string &body) {
    return bitnet_serve::parse_completion_request(body, Endpoint::Chat, RequestLimits{});
}
ParseResult completion(const std::string &body) {
    return bitnet_serve::parse_completion_request(body, Endpoint::Completion, RequestLimits{});
}

TEST(ServeRequest, ChatDefaultsAreOpenAIs) {
    const ParseResult r = chat(R"({"messages":[{"role":"user","content":"hi"}],"unknown_field":1})");
    ASSERT_TRUE(r.request) << r.error.message;
    EXPECT_FLOAT_EQ(r.request->temperature, 1.0f);
    EXPECT_FLOAT_EQ(r.request->top_p, 1.0f);
    EXPECT_FALSE(r.request->max_tokens);
    EXPECT_FALSE(r.request->stream);
    EXPECT_FALSE(r.request->seed);
    ASSERT_EQ(r.request->messages.size(), 1u);
    EXPECT_EQ(r.request->messages[0].role, "user");
}

TEST(ServeRequest, FieldsAreRead) {
    const ParseResult r = chat(R"({"messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
        {"role":"assistant","content":null}],"max_completion_tokens":7,"temperature":0,"top_p":0.5,"top_k":3,
        "min_p":0.2,"seed":-1,"stop":"x","presence_penalty":-2,"frequency_penalty":2,"repeat_penalty":1.3,
        "logprobs":true,"top_logprobs":20,"stream":true,"stream_options":{"include_usage":true}})");
    ASSERT_TRUE(r.request) << r.error.message;
    const auto &q = *r.request;
    EXPECT_EQ(q.messages[0].role, "system");
    EXPECT_EQ(q.messages[0].content, "ab");
    EXPECT_EQ(q.messages[1].content, "");
    EXPECT_EQ(*q.max_tokens, 7);
    EXPECT_EQ(q.top_k, 3);
    EXPECT_EQ(*q.seed, UINT64_MAX);  // -1 as two's complement
    EXPECT_EQ(q.stop, std::vector<std::string>{"x"});
    EXPECT_TRUE(q.logprobs);
    EXPECT_EQ(q.top_logprobs, 20);
    EXPECT_TRUE(q.include_usage);
}

TEST(ServeRequest, CompletionPromptForms) {
    auto r = completion(R"({"prompt":["only one"]})");
    ASSERT_TRUE(r.request);
    EXPECT_EQ(r.request->prompt, "only one");
    r = completion(R"({"prompt":[1,2,3],"logprobs":5})");
    ASSERT_TRUE(r.request);
    EXPECT_TRUE(r.request->prompt_is_tokens);
    EXPECT_EQ(r.request->prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_EQ(r.request->top_logprobs, 5);
    EXPECT_EQ(completion(R"({"prompt":["a","b"]})").error.code, "unsupported_value");
}

TEST(ServeRequest, BadValuesNameTheirParameter) {
    const std::pair<const char *, const char *> cases[] = {
        {R"({"messages":[{"role":"user","content":"x"}],"temperature":2.5})", "temperature"},
        {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
        {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":18446744073709551615})", "max_tokens"},
        {R"({"messages":[{"role":"user","content":"x"}],"seed":1.5})", "seed"},
        {R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})", "stop"},
        {R"({"messages":[{"role":"bot","content":"x"}]})", "messages[0].role"},
        {R"({"messages":[{"role":"user","content":"x"}],"n":2})", "n"},
    };
    for (const auto &[body, param] : cases) {
        const ParseResult r = chat(body);
        ASSERT_FALSE(r.request) << body;
        EXPECT_EQ(r.error.status, 400) << body;
        EXPECT_EQ(r.error.param, param) << body;
    }
}

TEST(ServeRequest, MalformedJsonAndInvalidUtf8) {
    EXPECT_EQ(chat("{").error.code, "invalid_json");
    EXPECT_EQ(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}").error.code, "invalid_json");
    EXPECT_EQ(chat("[]").error.status, 400);
}

TEST(ServeRequest, ErrorJsonShape) {
    bitnet_serve::ApiError e;
    e.message = "m";
    const auto j = nlohmann::json::parse(bitnet_serve::error_json(e));
    EXPECT_EQ(j["error"]["message"], "m");
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    EXPECT_TRUE(j["error"]["code"].is_null());
    EXPECT_TRUE(j["error"]["param"].is_null());
}

TEST(TextStream, HoldsBackAPossibleStopAcrossPieces) {
    TextStream ts({"STOP"});
    bool stopped = false;
    EXPECT_EQ(ts.append("abc S", stopped), "abc ");
    EXPECT_EQ(ts.append("T", stopped), "");
    EXPECT_EQ(ts.append("x", stopped), "STx");  // not a stop after all
    EXPECT_EQ(ts.append("yS", stopped), "y");
    EXPECT_EQ(ts.append("TOPzzz", stopped), "");
    EXPECT_TRUE(stopped);
}

TEST(TextStream, WholeUtf8CharactersOnly) {
    TextStream ts({});
    bool stopped = false;
    const std::string euro = "\xE2\x82\xAC";
    EXPECT_EQ(ts.append("a" + euro.substr(0, 1), stopped), "a");
    EXPECT_EQ(ts.append(euro.substr(1, 1), stopped), "");
    EXPECT_EQ(ts.append(euro.substr(2), stopped), euro);
    EXPECT_EQ(ts.append("\xF0\x9F", stopped), "");
    EXPECT_EQ(ts.flush(), "\xF0\x9F");  // an incomplete character at the end is still delivered
}

TEST(ServeRequest, FuzzSeedsHoldTheProperties) {
    for (const std::string &seed : bitnet_serve::fuzz::server_request_seeds()) {
        EXPECT_NO_THROW(bitnet_serve::fuzz::run_server_request(
            reinterpret_cast<const uint8_t *>(seed.data()), seed.size()))
            << seed;
        EXPECT_TRUE(chat(seed).request || completion(seed).request) << "seed is a valid request: " << seed;
    }
}

}  // namespace
