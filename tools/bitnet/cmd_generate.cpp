// bitnet generate: stream generated text to stdout, timings to stderr.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common.h"

namespace bitnet_cli {
namespace {

struct GenerateOptions {
    std::string model;
    std::string prompt;
    std::string prompt_file;
    std::string tokens;
    int32_t n_predict = 128;
    bitnet_sampling_params sampling = bitnet_sampling_default_params();  // the flags write here
    uint64_t seed = 0;
    int32_t threads = 0;
    uint32_t n_ctx = 0;
    std::string kv_type = "f16";
    std::string lm_head = "auto";
    bool print_ids = false;
    bool no_bos = false;
    bool no_parse_special = false;
    bool render_special = false;
    bool use_tokens = false;
    CLI::Option *seed_opt = nullptr;
};

// Context that Ctrl-C aborts (bitnet_context_abort may be called from any thread at any time).
std::atomic<bitnet_context *> g_running_ctx{nullptr};
std::atomic<int> g_interrupts{0};

extern "C" void on_sigint(int) {
    if (g_interrupts.fetch_add(1) >= 1) {  // second Ctrl-C: give up immediately
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
        return;
    }
    if (bitnet_context *ctx = g_running_ctx.load()) bitnet_context_abort(ctx);
}

struct StreamState {
    std::vector<bitnet_token> ids;
    bool stdout_ok = true;
};

int on_piece(const char *piece, size_t len, bitnet_token token, void *user) {
    auto *st = static_cast<StreamState *>(user);
    if (token >= 0) st->ids.push_back(token);  // -1: bytes flushed at the end
    if (len > 0 && st->stdout_ok) {
        if (std::fwrite(piece, 1, len, stdout) != len || std::fflush(stdout) != 0)
            st->stdout_ok = false;  // e.g. a closed pipe: stop wasting work
    }
    return st->stdout_ok ? 0 : 1;
}

const char *stop_reason_text(int reason) {
    switch (reason) {
        case BITNET_STOP_EOG: return "end of generation token";
        case BITNET_STOP_MAX_TOKENS: return "max tokens";
        case BITNET_STOP_CALLBACK: return "output closed";
        case BITNET_STOP_CONTEXT_FULL: return "context full";
        default: return "none";
    }
}

int run_generate(const GenerateOptions &o) {
    ModelPtr model = load_model(o.model, o.lm_head);

    std::string prompt = o.prompt;
    if (!o.prompt_file.empty()) prompt = read_file(o.prompt_file);
    std::vector<bitnet_token> prompt_ids;
    const bool use_tokens = o.use_tokens;
    if (use_tokens) {
        prompt_ids = to_tokens(o.tokens);
        check_token_ids(model.get(), prompt_ids, o.model);
    }

    uint64_t seed = o.seed;
    if (o.seed_opt->count() == 0) {
        std::random_device rd;
        seed = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
               static_cast<uint64_t>(
                   std::chrono::high_resolution_clock::now().time_since_epoch().count());
        if (o.sampling.temperature > 0) std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(seed));
    }

    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_ctx = o.n_ctx;
    cp.n_threads = o.threads;
    cp.seed = seed;
    cp.kv_type = kv_type_value(o.kv_type);
    ContextPtr ctx = new_context(model.get(), cp, o.model);

    bitnet_sampling_params sp = o.sampling;
    sp.seed = seed;
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = o.n_predict;
    gp.sampling = &sp;
    gp.add_bos = o.no_bos ? 0 : 1;
    gp.parse_special = o.no_parse_special ? 0 : 1;
    gp.render_special = o.render_special ? 1 : 0;

    bitnet_generate_result res{};
    res.size = sizeof res;
    StreamState state;

    g_interrupts.store(0);
    g_running_ctx.store(ctx.get());
    auto old_handler = std::signal(SIGINT, on_sigint);
    bitnet_status st;
    if (use_tokens) {
        st = bitnet_generate_tokens(ctx.get(), prompt_ids.data(), prompt_ids.size(), &gp, on_piece,
                                    &state, &res);
    } else {
        st = bitnet_generate(ctx.get(), prompt.data(), prompt.size(), &gp, on_piece, &state, &res);
    }
    const std::string err = st == BITNET_OK ? std::string() : bitnet_last_error_message();
    std::signal(SIGINT, old_handler == SIG_ERR ? SIG_DFL : old_handler);
    g_running_ctx.store(nullptr);

    if (state.stdout_ok) {
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }

    // Summary (also after an abort or a full context: the text so far has been streamed).
    if (st == BITNET_OK || ((st == BITNET_ERR_CONTEXT_FULL || st == BITNET_ERR_ABORTED) &&
                            (res.n_prompt_tokens > 0 || res.n_generated > 0))) {
        std::fprintf(stderr,
                     "prompt: %d tokens, %.2f ms, %.2f tokens/s | generation: %d tokens, %.2f ms, "
                     "%.2f tokens/s\n",
                     res.n_prompt_tokens, res.prompt_ms, res.prompt_tokens_per_s, res.n_generated,
                     res.generate_ms, res.generate_tokens_per_s);
        if (o.print_ids) {
            std::string line = "ids:";
            for (size_t i = 0; i < state.ids.size(); ++i) {
                line += (i == 0 ? " " : ",");
                line += std::to_string(state.ids[i]);
            }
            std::fprintf(stderr, "%s\nstop: %s\n", line.c_str(), stop_reason_text(res.stop_reason));
        }
    }
    if (st == BITNET_ERR_ABORTED) {
        std::fprintf(stderr, "bitnet: interrupted\n");
        return kExitInterrupted;
    }
    if (st != BITNET_OK) {
        // Restore the message (fputc/fprintf do not touch it, but be explicit).
        std::string msg = err.empty() ? bitnet_status_string(st) : err;
        const std::string prefix = o.model + ": ";
        if (msg.compare(0, prefix.size(), prefix) == 0) msg.erase(0, prefix.size());
        if (st == BITNET_ERR_CONTEXT_FULL)
            msg += " (the context holds " + std::to_string(bitnet_context_n_ctx(ctx.get())) +
                   " tokens; a larger -c/--ctx-size may help)";
        fail(o.model, msg);
    }
    return 0;
}

}  // namespace

Command add_generate(CLI::App &app) {
    auto o = std::make_shared<GenerateOptions>();
    CLI::App *sub = app.add_subcommand("generate", "generate text from a prompt");
    sub->footer(
        "Only the generated text is written to stdout (the prompt is not echoed), streamed as it\n"
        "is produced and followed by a newline. A timing summary ('prompt: N tokens, X ms, Y\n"
        "tokens/s | generation: N tokens, X ms, Y tokens/s') and diagnostics go to stderr.\n"
        "--temp 0 is greedy decoding (deterministic); otherwise the seed is random unless\n"
        "--seed is given. Ctrl-C stops generation (exit status 130).\n"
        "Exit status: 0 success, 1 runtime error, 2 usage error.");
    sub->add_option("-m,--model", o->model, "GGUF model file")->required()->type_name("MODEL");
    auto *p = sub->add_option("-p,--prompt", o->prompt, "prompt text (UTF-8)")->type_name("TEXT");
    auto *t = sub->add_option("--tokens", o->tokens,
                              "prompt as token ids instead of text, e.g. 128000,791,4062 (no BOS "
                              "is added)")
                  ->type_name("ID,ID,...")
                  ->check(IntList());
    auto *f =
        sub->add_option("-f,--file", o->prompt_file, "read the prompt from a file ('-' = stdin)")
            ->type_name("FILE");
    p->excludes(t);
    p->excludes(f);
    t->excludes(p);
    t->excludes(f);
    f->excludes(p);
    f->excludes(t);
    sub->add_option("-n,--n-predict", o->n_predict, "maximum number of tokens to generate")
        ->check(NonNegative)
        ->capture_default_str();
    sub->add_option("--temp", o->sampling.temperature, "temperature; 0 = greedy (argmax)")
        ->check(Finite)
        ->capture_default_str();
    sub->add_option("--top-k", o->sampling.top_k, "keep the K most likely tokens; 0 disables")
        ->capture_default_str();
    sub->add_option("--top-p", o->sampling.top_p, "nucleus sampling threshold; 1 disables")
        ->check(Finite & CLI::Range(0.0, 1.0))
        ->capture_default_str();
    sub->add_option("--min-p", o->sampling.min_p,
                    "drop tokens below P times the top probability; 0 disables")
        ->check(Finite & CLI::Range(0.0, 1.0))
        ->capture_default_str();
    sub->add_option("--repeat-penalty", o->sampling.repeat_penalty, "repetition penalty; 1 disables")
        ->check(Positive)
        ->capture_default_str();
    sub->add_option("--repeat-last-n", o->sampling.repeat_last_n,
                    "how many recent tokens the repetition penalty looks at")
        ->check(NonNegative)
        ->capture_default_str();
    o->seed_opt = sub->add_option("-s,--seed", o->seed, "sampling seed (default: random)");
    sub->add_option("-t,--threads", o->threads, "worker threads (0 = number of physical cores)")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    sub->add_option("-c,--ctx-size", o->n_ctx,
                    "KV cache size in tokens (0 = min(training context, 4096))")
        ->check(CLI::Range(0u, 1u << 24))
        ->capture_default_str();
    add_kv_type_option(sub, o->kv_type);
    add_lm_head_option(sub, o->lm_head);
    sub->add_flag("--print-ids", o->print_ids,
                  "print the generated token ids (comma-separated) and the stop reason on stderr");
    sub->add_flag("--no-bos", o->no_bos, "do not prepend the BOS token to the text prompt");
    sub->add_flag("--no-parse-special", o->no_parse_special,
                  "tokenize control-token text such as <|eot_id|> in the prompt as plain text");
    sub->add_flag("--render-special", o->render_special,
                  "print the text of control tokens instead of nothing");
    sub->callback([o, p, t, f]() {
        if (p->count() == 0 && t->count() == 0 && f->count() == 0)
            throw CLI::RequiredError(
                "a prompt is required: give -p TEXT, -f FILE or --tokens ID,...",
                CLI::ExitCodes::RequiredError);
        o->use_tokens = t->count() > 0;
    });
    return {sub, [o]() { return run_generate(*o); }};
}

}  // namespace bitnet_cli
