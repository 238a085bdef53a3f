// Life cycle of `bitnet serve`: bind, answer /health with 503 while the model loads, serve,
// and on SIGTERM/SIGINT refuse new requests, let running ones finish (up to a grace period),
// then stop.
#include "server.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "app.h"

namespace bitnet_serve {

namespace {

std::string file_stem(const std::string &path) {
    const size_t slash = path.find_last_of('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
    return name;
}

// Blocks until SIGTERM/SIGINT arrives or exit_after_s passes (0: no limit).
void wait_for_stop_signal(const sigset_t &set, double exit_after_s) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        timespec ts{0, 200 * 1000 * 1000};
        const int sig = sigtimedwait(&set, nullptr, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            std::fprintf(stderr, "bitnet serve: %s received, shutting down\n",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (exit_after_s > 0 && elapsed >= exit_after_s) {
            std::fprintf(stderr, "bitnet serve: --exit-after %.0f s reached, shutting down\n", exit_after_s);
            return;
        }
    }
}

}  // namespace

App::~App() {
    scheduler_.reset();
    bitnet_context_free(embd_ctx_);
    bitnet_model_free(model_);
}

bool App::load() {
    bitnet_model_params mp = bitnet_model_default_params();
    mp.lm_head_type = opt_.lm_head_type;
    if (bitnet_model_load(opt_.model_path.c_str(), &mp, &model_) != BITNET_OK) {
        std::fprintf(stderr, "bitnet serve: %s: %s\n", opt_.model_path.c_str(), bitnet_last_error_message());
        return false;
    }
    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_ctx = opt_.n_ctx;
    cp.n_threads = opt_.n_threads;
    cp.n_batch = opt_.n_batch;
    cp.kv_type = opt_.kv_type;
    try {
        scheduler_ = std::make_unique<Scheduler>(model_, opt_.n_slots, cp, opt_.max_queue);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bitnet serve: %s\n", e.what());
        return false;
    }
    if (opt_.embeddings) {
        std::string error;
        std::lock_guard<std::mutex> lock(embd_mutex_);
        if (!embeddings_context(error)) {
            std::fprintf(stderr, "bitnet serve: embeddings context: %s\n", error.c_str());
            return false;
        }
    }
    model_name_ = opt_.alias.empty() ? file_stem(opt_.model_path) : opt_.alias;
    created_ = (long long)std::time(nullptr);
    ready_ = true;
    return true;
}

void App::drain_and_stop() {
    draining_ = true;
    if (scheduler_) scheduler_->shutdown(opt_.shutdown_grace_ms);
    // Let the handlers write the final events of the streams that were running.
    for (int i = 0; i < 100 && open_streams_ > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    http_.stop();
}

int run_server(const ServerOptions &options) {
    // Signals are taken by sigtimedwait in this thread only: block them before any thread
    // starts (threads inherit the mask). A write to a closed socket must not kill the server.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    App app(options);
    app.install_routes();
    int port = options.port;
    if (port == 0) {
        port = app.http().bind_to_any_port(options.host);
        if (port < 0) port = 0;
    } else if (!app.http().bind_to_port(options.host, port)) {
        port = 0;
    }
    if (port <= 0) {
        std::fprintf(stderr, "bitnet serve: cannot listen on %s:%d\n", options.host.c_str(), options.port);
        return 1;
    }
    std::thread listener([&] { app.http().listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it (bounded), so that a failed
    // load or an early signal can always stop the listener.
    for (int i = 0; i < 500 && !app.http().is_running(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::printf("bitnet serve: listening on http://%s:%d\n", options.host.c_str(), port);
    std::fflush(stdout);
    if (!app.load()) {
        app.http().stop();
        listener.join();
        return 1;
    }
    std::printf("bitnet serve: model loaded, %d slot(s), ready\n", options.n_slots);
    std::fflush(stdout);
    wait_for_stop_signal(set, options.exit_after_s);
    app.drain_and_stop();
    listener.join();
    std::fprintf(stderr, "bitnet serve: stopped\n");
    return 0;
}

}  // namespace bitnet_serve
