// `bitnet serve`: command line options (llama-server's names where they exist) for the
// OpenAI-compatible HTTP server.
#include "common.h"
#include "server.h"

namespace bitnet_cli {

Command add_serve(CLI::App &app) {
    auto *cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (chat/completions, "
                                            "completions, models, health, metrics)");
    auto opt = std::make_shared<bitnet_serve::ServerOptions>();
    auto kv_type = std::make_shared<std::string>();
    auto lm_head = std::make_shared<std::string>();
    auto max_body_kib = std::make_shared<size_t>(1024);
    auto pooling = std::make_shared<std::string>("mean");
    cmd->add_option("-m,--model", opt->model_path, "GGUF model file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--host", opt->host, "address to listen on (default 127.0.0.1: this machine only)");
    cmd->add_option("--port", opt->port, "TCP port (0: any free port, printed at start)")
        ->check(CLI::Range(0, 65535))->capture_default_str();
    cmd->add_option("-c,--ctx-size", opt->n_ctx, "KV cache tokens in all, split evenly between the --parallel slots (0: min(training length, 4096))")
        ->check(CLI::Range(0u, 1u << 24));
    cmd->add_option("-t,--threads", opt->n_threads, "threads of each batched decode (0: physical cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_option("-b,--batch-size", opt->n_batch,
                    "tokens per decode step at most: prompt chunks plus one per decoding slot (0: 512)")
        ->check(CLI::Range(0, 1 << 16));
    cmd->add_option("--parallel", opt->n_slots, "slots: requests generated at the same time (also -np)")
        ->check(CLI::Range(1, 256))->capture_default_str();
    cmd->add_option("--queue", opt->max_queue, "requests that may wait for a slot; more get 503")
        ->check(CLI::Range((size_t)0, (size_t)4096))->capture_default_str();
    cmd->add_option("--api-key", opt->api_key, "require 'Authorization: Bearer KEY' (else 401)")
        ->envname("BITNET_API_KEY");
    cmd->add_option("--cors", opt->cors_origin, "allow browser requests from ORIGIN (CORS is off by default)");
    cmd->add_option("--alias", opt->alias, "model name reported by /v1/models (default: file name)");
    cmd->add_option("--max-body-kib", *max_body_kib, "largest request body in KiB (else 413)")
        ->check(CLI::Range((size_t)1, (size_t)1 << 20))->capture_default_str();
    cmd->add_option("--max-tokens", opt->limits.max_tokens, "largest max_tokens a request may ask for")
        ->check(CLI::Range(1, 1 << 24))->capture_default_str();
    cmd->add_option("--shutdown-grace", opt->shutdown_grace_ms,
                    "milliseconds running requests get to finish after SIGTERM")
        ->check(CLI::Range(0, 3600000))->capture_default_str();
    cmd->add_option("--exit-after", opt->exit_after_s, "shut down by itself after this many seconds (tests)")
        ->check(CLI::Range(0.0, 1e7));
    cmd->add_flag("--embeddings", opt->embeddings, "create the /v1/embeddings context at start (else on first use)");
    cmd->add_option("--pooling", *pooling, "pooling of /v1/embeddings: mean, last or none (one vector per token)")
        ->check(CLI::IsMember({"mean", "last", "none"}))->capture_default_str();
    add_kv_type_option(cmd, *kv_type);
    add_lm_head_option(cmd, *lm_head);
    return {cmd, [opt, kv_type, lm_head, max_body_kib, pooling]() {
                opt->pooling = *pooling == "none" ? BITNET_POOLING_NONE
                               : *pooling == "last" ? BITNET_POOLING_LAST : BITNET_POOLING_MEAN;
                opt->kv_type = kv_type_value(*kv_type);
                opt->lm_head_type = *lm_head == "q8"    ? BITNET_LM_HEAD_Q8
                                    : *lm_head == "q4"  ? BITNET_LM_HEAD_Q4
                                    : *lm_head == "f16" ? BITNET_LM_HEAD_F16
                                                        : BITNET_LM_HEAD_AUTO;
                opt->max_body_bytes = *max_body_kib * 1024;
                return bitnet_serve::run_server(*opt);
            }};
}

}  // namespace bitnet_cli
