// The state and HTTP handlers of `bitnet serve` (internal to tools/serve).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bitnet.h"
#include "request.h"
#include "scheduler.h"
#include "server.h"

namespace bitnet_serve {

enum class Route { Chat, Completion, Models, Health, Metrics, Tokenize, Detokenize, Page, Embeddings, Count };

class App {
public:
    explicit App(const ServerOptions &options) : opt_(options) {}
    ~App();

    void install_routes();           // routes, auth, CORS, error handlers
    bool load();                     // model + slots; false (message on stderr) on failure
    void drain_and_stop();           // graceful shutdown
    httplib::Server &http() { return http_; }

private:
    // routes.cpp
    bool authorised(const httplib::Request &req, httplib::Response &res);
    void handle_health(httplib::Response &res);
    void handle_models(httplib::Response &res);
    void handle_metrics(httplib::Response &res);
    void handle_tokenize(const httplib::Request &req, httplib::Response &res);
    void handle_detokenize(const httplib::Request &req, httplib::Response &res);
    // completions.cpp
    void handle_completion(const httplib::Request &req, httplib::Response &res, Endpoint ep);
    bool build_prompt(const CompletionRequest &r, std::vector<int32_t> &prompt, ApiError &err);
    void respond_full(httplib::Response &res, const std::shared_ptr<Task> &task,
                      const CompletionRequest &r, const std::string &id);
    void respond_stream(httplib::Response &res, const std::shared_ptr<Task> &task,
                        const CompletionRequest &r, const std::string &id);
    bool serving(httplib::Response &res);  // 503 while loading or draining
    // embeddings.cpp
    void handle_embeddings(const httplib::Request &req, httplib::Response &res);
    bool embeddings_context(std::string &error);  // embd_mutex_ held
    bool embed_one(const std::string &text, bool base64, nlohmann::json &out, int32_t &n_tokens, ApiError &err);

    ServerOptions opt_;
    httplib::Server http_;
    bitnet_model *model_ = nullptr;
    std::unique_ptr<Scheduler> scheduler_;
    bitnet_context *embd_ctx_ = nullptr;  // /v1/embeddings; guarded by embd_mutex_
    std::mutex embd_mutex_;
    std::string model_name_;
    long long created_ = 0;
    std::atomic<bool> ready_{false}, draining_{false};
    std::atomic<int> open_streams_{0};
    std::array<std::atomic<uint64_t>, (size_t)Route::Count> hits_{};
};

// Sends {"error": ...} with the error's HTTP status.
void send_error(httplib::Response &res, const ApiError &error);
ApiError make_error(int status, const std::string &message, const std::string &type,
                    const std::string &code);

}  // namespace bitnet_serve
