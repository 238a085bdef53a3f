// POST /v1/embeddings (OpenAI shape: `input` a string or a list of strings, `encoding_format`
// float or base64, answer a list of {"object":"embedding","index","embedding"} with usage). Runs on its own context with
// embeddings = 1 (pooling MEAN by default, --pooling; L2-normalised), created at start with
// --embeddings or on the first request, and used by one request at a time: embeddings are one
// prefill per input, which does not mix with the generation slots' batches (those contexts
// output logits).
#include <cstring>

#include "app.h"
#include "responses.h"

namespace bitnet_serve {

using nlohmann::json;

namespace {

bool read_inputs(const json &body, std::vector<std::string> &inputs) {
    auto in = body.find("input");
    if (in == body.end()) return false;
    if (in->is_string()) {
        inputs.push_back(in->get<std::string>());
        return true;
    }
    if (!in->is_array() || in->empty()) return false;
    for (const json &v : *in) {
        if (!v.is_string()) return false;
        inputs.push_back(v.get<std::string>());
    }
    return true;
}

// encoding_format "base64" (what the openai clients ask for by default): the float32 values,
// little-endian, base64-encoded (RFC 4648 with padding).
std::string base64_floats(const std::vector<float> &v) {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes(v.size() * sizeof(float), '\0');
    std::memcpy(bytes.data(), v.data(), bytes.size());  // x86-64/ARM64: already little-endian
    std::string out;
    for (size_t i = 0; i < bytes.size(); i += 3) {
        uint32_t n = (uint32_t)(uint8_t)bytes[i] << 16;
        if (i + 1 < bytes.size()) n |= (uint32_t)(uint8_t)bytes[i + 1] << 8;
        if (i + 2 < bytes.size()) n |= (uint8_t)bytes[i + 2];
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
    }
    return out;
}

}  // namespace

bool App::embeddings_context(std::string &error) {
    if (embd_ctx_) return true;
    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_ctx = scheduler_->n_ctx();  // an input may be as long as a slot's context
    cp.n_batch = (int32_t)cp.n_ctx;  // one batch per input, so pooling sees all its tokens
    cp.n_threads = opt_.n_threads;
    cp.embeddings = 1;
    cp.pooling_type = opt_.pooling;
    cp.embd_normalize = 1;
    if (bitnet_context_new(model_, &cp, &embd_ctx_) != BITNET_OK) {
        error = bitnet_last_error_message();
        embd_ctx_ = nullptr;
        return false;
    }
    return true;
}

// One input: its tokens (with BOS) as sequence 0 of an emptied cache; the pooled vector, or
// every token's vector for pooling NONE.
bool App::embed_one(const std::string &text, bool base64, json &out, int32_t &n_tokens, ApiError &err) {
    size_t n = 0;
    bitnet_tokenize(model_, text.data(), text.size(), 1, 1, nullptr, 0, &n);
    std::vector<int32_t> tokens(n);
    if (bitnet_tokenize(model_, text.data(), text.size(), 1, 1, tokens.data(), n, &n) != BITNET_OK) {
        err = make_error(500, bitnet_last_error_message(), "server_error", "tokenizer");
        return false;
    }
    if (tokens.empty() || tokens.size() > scheduler_->n_ctx()) {
        err = make_error(400, "an input has " + std::to_string(tokens.size()) + " tokens; 1 to " +
                                  std::to_string(scheduler_->n_ctx()) + " are allowed",
                         "invalid_request_error", "context_length_exceeded");
        return false;
    }
    n_tokens = (int32_t)tokens.size();
    bitnet_batch batch{};
    if (bitnet_batch_init(n_tokens, &batch) != BITNET_OK) {
        err = make_error(500, bitnet_last_error_message(), "server_error", "out_of_memory");
        return false;
    }
    for (int32_t i = 0; i < n_tokens; ++i) bitnet_batch_add(&batch, tokens[(size_t)i], i, 0, 1);
    bitnet_kv_seq_rm(embd_ctx_, -1, 0, -1);
    const bitnet_status st = bitnet_decode(embd_ctx_, &batch);
    bitnet_batch_free(&batch);
    if (st != BITNET_OK) {
        err = make_error(500, std::string(bitnet_status_string(st)) + ": " + bitnet_last_error_message(),
                         "server_error", "embedding_failed");
        return false;
    }
    const size_t n_embd = (size_t)bitnet_model_n_embd(model_);
    if (opt_.pooling == BITNET_POOLING_NONE) {
        out = json::array();
        for (int32_t i = 0; i < n_tokens; ++i) {
            const float *e = bitnet_get_embeddings_ith(embd_ctx_, i);
            if (!e) break;
            std::vector<float> v(e, e + n_embd);
            out.push_back(base64 ? json(base64_floats(v)) : json(v));
        }
        if (out.size() == (size_t)n_tokens) return true;
    } else if (const float *e = bitnet_get_embeddings_seq(embd_ctx_, 0)) {
        std::vector<float> v(e, e + n_embd);
        out = base64 ? json(base64_floats(v)) : json(v);
        return true;
    }
    err = make_error(500, "no embedding came out of the context", "server_error", "embedding_failed");
    return false;
}

void App::handle_embeddings(const httplib::Request &req, httplib::Response &res) {
    json body = json::parse(req.body, nullptr, false);
    if (!serving(res)) return;
    std::vector<std::string> inputs;
    if (body.is_discarded() || !body.is_object() || !read_inputs(body, inputs)) {
        send_error(res, make_error(400, "'input' must be a string or a non-empty list of strings",
                                   "invalid_request_error", "invalid_value"));
        return;
    }
    auto fmt = body.find("encoding_format");
    if (fmt != body.end() && !(fmt->is_string() && (*fmt == "float" || *fmt == "base64"))) {
        send_error(res, make_error(400, "'encoding_format' must be \"float\" or \"base64\"",
                                   "invalid_request_error", "invalid_value"));
        return;
    }
    const bool base64 = fmt != body.end() && *fmt == "base64";
    std::lock_guard<std::mutex> lock(embd_mutex_);
    std::string error;
    if (!embeddings_context(error)) {
        send_error(res, make_error(500, error, "server_error", "embedding_context"));
        return;
    }
    json data = json::array();
    int64_t n_prompt = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        json vec;
        int32_t n = 0;
        ApiError err;
        if (!embed_one(inputs[i], base64, vec, n, err)) return send_error(res, err);
        n_prompt += n;
        data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
    }
    res.set_content(dump({{"object", "list"}, {"data", std::move(data)}, {"model", model_name_},
                          {"usage", {{"prompt_tokens", n_prompt}, {"total_tokens", n_prompt}}}}),
                    "application/json");
}

}  // namespace bitnet_serve
