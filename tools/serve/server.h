// `bitnet serve`: an OpenAI-compatible HTTP server (cpp-httplib) on the libbitnet C API.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "request.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace bitnet_serve {

struct ServerOptions {
    std::string model_path;
    std::string alias;                 // model name in answers; default: the file name
    std::string host = "127.0.0.1";
    int port = 8080;                   // 0: any free port (printed on stdout)
    int n_slots = 1;
    size_t max_queue = 16;             // waiting requests beyond busy slots; then 503
    uint32_t n_ctx = 0;                // in all, split evenly per slot; 0 = library default
    int n_threads = 0;                 // 0 = library default
    int n_batch = 0;                   // tokens per decode step at most; 0 = 512
    bool embeddings = false;           // create the /v1/embeddings context at start
    int pooling = 1;                   // bitnet_pooling_type of /v1/embeddings (MEAN)
    int kv_type = 0;                   // bitnet_kv_type
    int lm_head_type = 0;              // bitnet_lm_head_type
    std::string api_key;               // empty: no authentication
    std::string cors_origin;           // empty: no CORS headers
    size_t max_body_bytes = 1 << 20;
    RequestLimits limits;
    int shutdown_grace_ms = 10000;     // SIGTERM: time running requests get to finish
    double exit_after_s = 0;           // > 0: shut down by itself after this long (tests)
};

// Runs the server until SIGTERM/SIGINT (or exit_after_s). Returns the process exit status:
// 0 after a graceful shutdown, 1 if the model cannot be loaded or the port cannot be bound.
int run_server(const ServerOptions &options);

}  // namespace bitnet_serve
