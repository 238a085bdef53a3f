// Routing, authentication, CORS and the small endpoints of `bitnet serve` (health, models,
// metrics, tokenize, detokenize, the chat page).
#include <cstring>
#include <sstream>

#include "app.h"
#include "chat_page.h"
#include "responses.h"

namespace bitnet_serve {

using nlohmann::json;

ApiError make_error(int status, const std::string &message, const std::string &type,
                    const std::string &code) {
    ApiError e;
    e.status = status;
    e.message = message;
    e.type = type;
    e.code = code;
    return e;
}

void send_error(httplib::Response &res, const ApiError &error) {
    res.status = error.status;
    res.set_content(error_json(error), "application/json");
}

namespace {

// Constant-time comparison, so the key cannot be guessed byte by byte from response times.
bool same_secret(const std::string &given, const std::string &key) {
    unsigned diff = given.size() == key.size() ? 0u : 1u;
    for (size_t i = 0; i < given.size(); ++i) {
        diff |= (unsigned char)given[i] ^ (unsigned char)(i < key.size() ? key[i] : 0);
    }
    return diff == 0;
}

// Parses a small JSON body for /tokenize and /detokenize; sends the 400 itself on failure.
bool json_body(const httplib::Request &req, httplib::Response &res, json &out) {
    out = json::parse(req.body, nullptr, false);
    if (out.is_discarded() || !out.is_object()) {
        send_error(res, make_error(400, "the request body must be a JSON object",
                                   "invalid_request_error", "invalid_json"));
        return false;
    }
    return true;
}

const char *kStatusTypes[][2] = {{"404", "not_found_error"}, {"405", "invalid_request_error"},
                                 {"413", "invalid_request_error"}, {"414", "invalid_request_error"},
                                 {"431", "invalid_request_error"}};

// Errors httplib produces itself (unknown path, body too large, ...) get an OpenAI JSON body.
httplib::Server::HandlerResponse error_body(const httplib::Request &req, httplib::Response &res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string type = res.status >= 500 ? "server_error" : "invalid_request_error";
    for (const auto &st : kStatusTypes) {
        if (std::to_string(res.status) == st[0]) type = st[1];
    }
    std::string message = "HTTP error " + std::to_string(res.status);
    if (res.status == 404) message = "no such endpoint";
    if (res.status == 405) message = "method not allowed";
    if (res.status == 413) message = "request body too large";
    // cpp-httplib caps form-encoded bodies at 8 KiB, whatever the server's limit (curl -d sends
    // that content type unless told otherwise).
    if (res.status == 413 &&
        req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
        message = "request body too large for Content-Type application/x-www-form-urlencoded "
                  "(8 KiB); send Content-Type: application/json";
    }
    if (res.status == 400) message = "malformed HTTP request";
    send_error(res, make_error(res.status, message, type, std::to_string(res.status)));
    return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

bool App::authorised(const httplib::Request &req, httplib::Response &res) {
    if (opt_.api_key.empty()) return true;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.compare(0, prefix.size(), prefix) == 0 &&
        same_secret(auth.substr(prefix.size()), opt_.api_key)) {
        return true;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, make_error(401, "invalid or missing API key (send 'Authorization: Bearer KEY')",
                               "authentication_error", "invalid_api_key"));
    return false;
}

void App::install_routes() {
    http_.set_payload_max_length(opt_.max_body_bytes);
    // One handler thread per slot and queued request, plus a few for health/metrics probes, so
    // that waiting streams never starve the probes.
    const size_t threads = (size_t)opt_.n_slots + opt_.max_queue + 4;
    http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http_.set_error_handler(httplib::Server::HandlerWithResponse(error_body));
    http_.set_exception_handler([](const httplib::Request &, httplib::Response &res,
                                   std::exception_ptr) {
        send_error(res, make_error(500, "internal server error", "server_error", "internal_error"));
    });
    http_.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
        if (!opt_.cors_origin.empty()) {
            res.set_header("Access-Control-Allow-Origin", opt_.cors_origin);
            res.set_header("Vary", "Origin");
        }
        if (req.method == "OPTIONS") {  // CORS preflight; no body, no auth
            if (!opt_.cors_origin.empty()) {
                res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
                res.set_header("Access-Control-Max-Age", "600");
            }
            res.status = 204;
            return httplib::Server::HandlerResponse::Handled;
        }
        const bool open = req.path == "/" || req.path == "/health";
        if (!open && !authorised(req, res)) return httplib::Server::HandlerResponse::Handled;
        return httplib::Server::HandlerResponse::Unhandled;
    });
    auto hit = [this](Route r) { hits_[(size_t)r] += 1; };
    http_.Get("/", [this, hit](const httplib::Request &, httplib::Response &res) {
        hit(Route::Page);
        res.set_content(kChatPageHtml, "text/html; charset=utf-8");
    });
    http_.Get("/health", [this, hit](const httplib::Request &, httplib::Response &res) {
        hit(Route::Health);
        handle_health(res);
    });
    for (const char *path : {"/v1/models", "/models"}) {
        http_.Get(path, [this, hit](const httplib::Request &, httplib::Response &res) {
            hit(Route::Models);
            handle_models(res);
        });
    }
    http_.Get("/metrics", [this, hit](const httplib::Request &, httplib::Response &res) {
        hit(Route::Metrics);
        handle_metrics(res);
    });
    for (const char *path : {"/v1/chat/completions", "/chat/completions"}) {
        http_.Post(path, [this, hit](const httplib::Request &req, httplib::Response &res) {
            hit(Route::Chat);
            handle_completion(req, res, Endpoint::Chat);
        });
    }
    for (const char *path : {"/v1/completions", "/completions"}) {
        http_.Post(path, [this, hit](const httplib::Request &req, httplib::Response &res) {
            hit(Route::Completion);
            handle_completion(req, res, Endpoint::Completion);
        });
    }
    for (const char *path : {"/v1/embeddings", "/embeddings"}) {
        http_.Post(path, [this, hit](const httplib::Request &req, httplib::Response &res) {
            hit(Route::Embeddings);
            handle_embeddings(req, res);
        });
    }
    http_.Post("/tokenize", [this, hit](const httplib::Request &req, httplib::Response &res) {
        hit(Route::Tokenize);
        handle_tokenize(req, res);
    });
    http_.Post("/detokenize", [this, hit](const httplib::Request &req, httplib::Response &res) {
        hit(Route::Detokenize);
        handle_detokenize(req, res);
    });
}

bool App::serving(httplib::Response &res) {
    if (draining_) {
        res.set_header("Retry-After", "5");
        send_error(res, make_error(503, "the server is shutting down", "server_error", "shutting_down"));
        return false;
    }
    if (!ready_) {
        res.set_header("Retry-After", "1");
        send_error(res, make_error(503, "the model is loading", "server_error", "model_loading"));
        return false;
    }
    return true;
}

void App::handle_health(httplib::Response &res) {
    if (!serving(res)) return;
    res.set_content(R"({"status":"ok"})", "application/json");
}

void App::handle_models(httplib::Response &res) {
    if (!serving(res)) return;
    json m = {{"id", model_name_}, {"object", "model"}, {"created", created_}, {"owned_by", "libbitnet"},
              {"meta", {{"n_ctx", scheduler_->n_ctx()}, {"n_vocab", bitnet_model_n_vocab(model_)},
                        {"n_params", bitnet_model_n_params(model_)}, {"slots", scheduler_->n_slots()}}}};
    res.set_content(dump({{"object", "list"}, {"data", json::array({m})}}), "application/json");
}

void App::handle_tokenize(const httplib::Request &req, httplib::Response &res) {
    json body;
    if (!serving(res) || !json_body(req, res, body)) return;
    auto c = body.find("content");
    auto add = body.find("add_special");
    if (c == body.end() || !c->is_string() || (add != body.end() && !add->is_boolean())) {
        send_error(res, make_error(400, "'content' must be a string and 'add_special' a boolean",
                                   "invalid_request_error", "invalid_value"));
        return;
    }
    const std::string text = c->get<std::string>();
    const int add_bos = add != body.end() && add->get<bool>() ? 1 : 0;
    size_t n = 0;
    bitnet_tokenize(model_, text.data(), text.size(), add_bos, 1, nullptr, 0, &n);
    std::vector<int32_t> tokens(n);
    if (bitnet_tokenize(model_, text.data(), text.size(), add_bos, 1, tokens.data(), n, &n) != BITNET_OK) {
        send_error(res, make_error(500, bitnet_last_error_message(), "server_error", "tokenizer"));
        return;
    }
    res.set_content(dump({{"tokens", tokens}}), "application/json");
}

void App::handle_detokenize(const httplib::Request &req, httplib::Response &res) {
    json body;
    if (!serving(res) || !json_body(req, res, body)) return;
    auto t = body.find("tokens");
    std::vector<int32_t> tokens;
    const int64_t n_vocab = bitnet_model_n_vocab(model_);
    bool ok = t != body.end() && t->is_array();
    for (size_t i = 0; ok && i < t->size(); ++i) {
        const json &v = (*t)[i];
        ok = v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < n_vocab &&
             !(v.is_number_unsigned() && v.get<uint64_t>() >= (uint64_t)n_vocab);
        if (ok) tokens.push_back((int32_t)v.get<int64_t>());
    }
    if (!ok) {
        send_error(res, make_error(400, "'tokens' must be an array of token ids in [0, " +
                                            std::to_string(n_vocab) + ")",
                                   "invalid_request_error", "invalid_value"));
        return;
    }
    size_t n = 0;
    bitnet_detokenize(model_, tokens.data(), tokens.size(), 0, nullptr, 0, &n);
    std::string text(n, '\0');
    if (!tokens.empty() &&
        bitnet_detokenize(model_, tokens.data(), tokens.size(), 0, text.data(), n, &n) != BITNET_OK) {
        send_error(res, make_error(500, bitnet_last_error_message(), "server_error", "tokenizer"));
        return;
    }
    text.resize(tokens.empty() ? 0 : n);
    res.set_content(dump({{"content", text}}), "application/json");
}

}  // namespace bitnet_serve
