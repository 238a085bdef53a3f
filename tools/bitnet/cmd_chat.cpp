// bitnet chat: interactive multi-turn chat in the model's chat format (bitnet_model_chat_format:
// 2B4T, Llama 3 or Falcon3), keeping the KV cache across turns: each turn evaluates only the new
// messages, never the history again.
#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>

#include "common.h"

namespace bitnet_cli {
namespace {

// The library's sampling defaults, a little cooler for chat, and seed 0 (reproducible replies
// unless --seed says otherwise).
bitnet_sampling_params chat_sampling_defaults() {
    bitnet_sampling_params p = bitnet_sampling_default_params();
    p.temperature = 0.7f;
    p.seed = 0;
    return p;
}

struct ChatOptions {
    std::string model;
    std::string system;
    int32_t n_predict = 512;
    bitnet_sampling_params sampling = chat_sampling_defaults();  // the flags write here
    int32_t threads = 0;
    uint32_t n_ctx = 0;
    std::string kv_type = "f16";
    std::string lm_head = "auto";
};

std::string chat_format(const bitnet_model *model, const std::vector<bitnet_chat_message> &msgs) {
    size_t need = 0;
    bitnet_status s =
        bitnet_model_chat_format(model, msgs.data(), msgs.size(), 1, nullptr, 0, &need);
    std::string out(need, '\0');
    s = bitnet_model_chat_format(model, msgs.data(), msgs.size(), 1, out.data(), out.size(), &need);
    if (s != BITNET_OK) fail_status("chat", s);
    out.resize(need - 1);
    return out;
}

int print_piece(const char *piece, size_t len, bitnet_token, void *) {
    std::fwrite(piece, 1, len, stdout);
    std::fflush(stdout);
    return 0;
}

int run_chat(const ChatOptions &o) {
    ModelPtr model = load_model(o.model, o.lm_head);
    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_ctx = o.n_ctx;
    cp.n_threads = o.threads;
    cp.kv_type = kv_type_value(o.kv_type);
    ContextPtr ctx = new_context(model.get(), cp, o.model);

    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = o.n_predict;
    gp.sampling = &o.sampling;

    const bool interactive = isatty(STDIN_FILENO);
    if (interactive) {
        std::fprintf(stderr, "bitnet chat: %s, %s chat format, context %u tokens. Type a message; "
                     "/reset starts over, /exit or Ctrl-D quits.\n", base_name(o.model).c_str(),
                     bitnet_model_chat_template(model.get()), bitnet_context_n_ctx(ctx.get()));
    }
    std::string line;
    bool first_turn = true;
    bitnet_token last_token = -1;
    for (;;) {
        if (interactive) {
            std::fputs("> ", stdout);
            std::fflush(stdout);
        }
        if (!std::getline(std::cin, line)) break;
        if (line == "/exit" || line == "/quit") break;
        if (line == "/reset") {
            bitnet_context_reset(ctx.get());
            first_turn = true;
            std::fputs("(conversation reset)\n", stdout);
            continue;
        }
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;

        std::vector<bitnet_chat_message> msgs;
        if (first_turn && !o.system.empty()) msgs.push_back({"system", o.system.c_str()});
        msgs.push_back({"user", line.c_str()});
        // The previous reply's last sampled token is not in the KV cache (bitnet_generate_result
        // .last_token): an end-of-turn token is re-added as text below; a reply cut at -n gets
        // its last token evaluated first. Either way the assistant turn is then closed.
        if (!first_turn && last_token >= 0 && !bitnet_token_is_eog(model.get(), last_token)) {
            const bitnet_status s = bitnet_eval(ctx.get(), &last_token, 1, BITNET_LOGITS_NONE);
            if (s != BITNET_OK && s != BITNET_ERR_CONTEXT_FULL) fail_status(o.model, s);
        }
        const std::string prompt =
            (first_turn ? "" : bitnet_model_chat_turn_end(model.get())) + chat_format(model.get(), msgs);
        bitnet_generate_result res{};
        res.size = sizeof(res);
        const uint32_t past_before = bitnet_context_n_past(ctx.get());
        const bitnet_status s = bitnet_generate(ctx.get(), prompt.data(), prompt.size(), &gp,
                                                print_piece, nullptr, &res);
        std::fputs("\n", stdout);
        std::fflush(stdout);
        if (s == BITNET_ERR_CONTEXT_FULL) {
            std::fprintf(stderr,
                         "bitnet chat: the context is full (%u of %u tokens used); the "
                         "conversation was reset. Use -c to allow a longer conversation.\n",
                         bitnet_context_n_past(ctx.get()) > past_before
                             ? bitnet_context_n_past(ctx.get())
                             : past_before,
                         bitnet_context_n_ctx(ctx.get()));
            bitnet_context_reset(ctx.get());
            first_turn = true;
            continue;
        }
        if (s != BITNET_OK) fail_status(o.model, s);
        first_turn = false;
        last_token = res.last_token;
    }
    return 0;
}

}  // namespace

Command add_chat(CLI::App &app) {
    auto o = std::make_shared<ChatOptions>();
    CLI::App *sub = app.add_subcommand(
        "chat", "Interactive chat in the model's chat format (2B4T, Llama 3 or Falcon3; reads one "
                "message per line from stdin; the KV cache is kept across turns)");
    sub->add_option("-m,--model", o->model, "GGUF model file")->required();
    sub->add_option("--system", o->system, "System prompt");
    sub->add_option("-n,--n-predict", o->n_predict, "Maximum tokens per reply")
        ->check(CLI::Range(1, 1 << 20));
    sub->add_option("--temp", o->sampling.temperature, "Temperature (<= 0: greedy)")->check(Finite);
    sub->add_option("--top-k", o->sampling.top_k, "Top-k (<= 0 disables)");
    sub->add_option("--top-p", o->sampling.top_p, "Top-p")->check(CLI::Range(0.0, 1.0));
    sub->add_option("--min-p", o->sampling.min_p, "Min-p")->check(CLI::Range(0.0, 1.0));
    sub->add_option("--repeat-penalty", o->sampling.repeat_penalty, "Repetition penalty")->check(Positive);
    sub->add_option("--seed", o->sampling.seed, "Sampling seed");
    sub->add_option("-t,--threads", o->threads, "Threads (0: physical cores)")
        ->check(CLI::Range(0, 1024));
    sub->add_option("-c,--ctx-size", o->n_ctx, "Context size in tokens (0: model's, max 4096)");
    add_kv_type_option(sub, o->kv_type);
    add_lm_head_option(sub, o->lm_head);
    return {sub, [o] { return run_chat(*o); }};
}

}  // namespace bitnet_cli
