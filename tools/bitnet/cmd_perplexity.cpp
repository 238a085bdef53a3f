// bitnet perplexity: llama.cpp-compatible perplexity of a text file (bitnet_perplexity).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common.h"

namespace bitnet_cli {
namespace {

struct PerplexityOptions {
    std::string model;
    std::string file;
    uint32_t n_ctx = 512;
    int32_t chunks = 0;
    int32_t threads = 0;
    std::string kv_type = "f16";
    std::string lm_head = "auto";
};

int on_chunk(int32_t chunk, double ppl, void *) {
    std::printf("[%d]%.4f,", chunk, ppl);
    std::fflush(stdout);
    return 0;
}

int run_perplexity(const PerplexityOptions &o) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) fail(o.file, "cannot open the text file");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();

    ModelPtr model = load_model(o.model, o.lm_head);
    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_ctx = o.n_ctx;
    cp.n_threads = o.threads;
    cp.kv_type = kv_type_value(o.kv_type);
    ContextPtr ctx = new_context(model.get(), cp, o.model);

    std::fprintf(stderr, "perplexity: %s, chunks of %u tokens, scoring the second half of each\n",
                 base_name(o.file).c_str(), o.n_ctx);
    bitnet_perplexity_result r{};
    r.size = sizeof(r);
    const double t0 = now_seconds();
    const bitnet_status s = bitnet_perplexity(ctx.get(), text.data(), text.size(), (int32_t)o.n_ctx,
                                              o.chunks, on_chunk, nullptr, &r);
    if (s != BITNET_OK) {
        std::printf("\n");
        fail_status(o.file, s);
    }
    std::printf("\n");
    std::fprintf(stderr, "perplexity: %d tokens, %d chunks, %d scored, %.2f s\n", r.n_tokens,
                 r.n_chunks, r.n_scored, now_seconds() - t0);
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_stderr);
    return 0;
}

}  // namespace

Command add_perplexity(CLI::App &app) {
    auto o = std::make_shared<PerplexityOptions>();
    CLI::App *sub = app.add_subcommand(
        "perplexity", "Perplexity of a text file (llama.cpp method: non-overlapping chunks of "
                      "CTX tokens, second half of each scored)");
    sub->add_option("-m,--model", o->model, "GGUF model file")->required();
    sub->add_option("-f,--file", o->file, "Text file")->required();
    sub->add_option("-c,--ctx-size", o->n_ctx, "Chunk (and context) size in tokens")
        ->check(CLI::Range(4, 1 << 20));
    sub->add_option("--chunks", o->chunks, "Maximum number of chunks (0: all)")
        ->check(CLI::Range(0, 1 << 30));
    sub->add_option("-t,--threads", o->threads, "Threads (0: physical cores)")
        ->check(CLI::Range(0, 1024));
    add_kv_type_option(sub, o->kv_type);
    add_lm_head_option(sub, o->lm_head);
    return {sub, [o] { return run_perplexity(*o); }};
}

}  // namespace bitnet_cli
