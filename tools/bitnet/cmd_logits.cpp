// bitnet logits: evaluate token ids once and write the logits as raw little-endian float32.
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace bitnet_cli {
namespace {

struct LogitsOptions {
    std::string model;
    std::string tokens;
    std::string out;
    bool all = false;
    std::string kv_type = "f16";
    std::string lm_head = "auto";
    int32_t threads = 0;
    uint32_t n_ctx = 0;
};

void write_rows(std::FILE *f, const float *row, size_t n, const std::string &path) {
    if constexpr (std::endian::native == std::endian::little) {
        if (std::fwrite(row, sizeof(float), n, f) != n) fail(path, std::strerror(errno));
    } else {
        std::vector<unsigned char> buf(n * 4);
        for (size_t i = 0; i < n; ++i) {
            unsigned char b[4];
            std::memcpy(b, &row[i], 4);
            for (int k = 0; k < 4; ++k) buf[i * 4 + k] = b[3 - k];
        }
        if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size())
            fail(path, std::strerror(errno));
    }
}

int run_logits(const LogitsOptions &o) {
    const std::vector<bitnet_token> ids = to_tokens(o.tokens);
    ModelPtr model = load_model(o.model, o.lm_head);
    check_token_ids(model.get(), ids, o.model);

    bitnet_context_params cp = bitnet_context_default_params();
    // Just enough cache for this one evaluation unless -c says otherwise.
    cp.n_ctx = o.n_ctx != 0 ? o.n_ctx : static_cast<uint32_t>(ids.size());
    cp.n_threads = o.threads;
    cp.kv_type = kv_type_value(o.kv_type);
    ContextPtr ctx = new_context(model.get(), cp, o.model);

    const int mode = o.all ? BITNET_LOGITS_ALL : BITNET_LOGITS_LAST;
    const bitnet_status st = bitnet_eval(ctx.get(), ids.data(), ids.size(), mode);
    if (st != BITNET_OK) fail_status(o.model, st);

    const int32_t n_vocab = bitnet_model_n_vocab(model.get());
    const int32_t n_rows = bitnet_n_logits(ctx.get());
    const int32_t want = o.all ? static_cast<int32_t>(ids.size()) : 1;
    if (n_rows != want)
        fail(o.model, "expected " + std::to_string(want) + " logit rows, the library gave " +
                          std::to_string(n_rows));

    std::FILE *f = std::fopen(o.out.c_str(), "wb");
    if (!f) fail(o.out, std::string("cannot open for writing: ") + std::strerror(errno));
    try {
        for (int32_t r = 0; r < n_rows; ++r) {
            const float *row = bitnet_get_logits(ctx.get(), o.all ? r : -1);
            if (!row) fail(o.model, "logits row " + std::to_string(r) + " is missing");
            write_rows(f, row, static_cast<size_t>(n_vocab), o.out);
        }
    } catch (...) {
        std::fclose(f);
        std::remove(o.out.c_str());
        throw;
    }
    if (std::fclose(f) != 0) {
        const std::string why = std::strerror(errno);
        std::remove(o.out.c_str());
        fail(o.out, "write failed: " + why);
    }
    std::fprintf(stderr, "wrote %d x %d float32 logits (%llu bytes) to %s\n", n_rows, n_vocab,
                 static_cast<unsigned long long>(static_cast<uint64_t>(n_rows) * n_vocab * 4),
                 o.out.c_str());
    return 0;
}

}  // namespace

Command add_logits(CLI::App &app) {
    auto o = std::make_shared<LogitsOptions>();
    CLI::App *sub = app.add_subcommand("logits", "write the logits of token ids to a file");
    sub->footer(
        "Evaluates the token ids in one forward pass and writes the logits as raw little-endian\n"
        "float32 without a header: the last position (n_vocab floats) or, with --all, every\n"
        "position ([n_tokens][n_vocab], row-major). No BOS is added. The KV cache is f16 by\n"
        "default, as everywhere; use --kv-type f32 for exact keys and values.");
    sub->add_option("-m,--model", o->model, "GGUF model file")->required()->type_name("MODEL");
    sub->add_option("--tokens", o->tokens, "token ids to evaluate, e.g. 128000,791,4062")
        ->required()
        ->type_name("ID,ID,...")
        ->check(IntList());
    sub->add_option("-o,--out", o->out, "output file")->required()->type_name("FILE");
    sub->add_flag("--all", o->all, "write the logits of every position, not only the last");
    add_kv_type_option(sub, o->kv_type);
    add_lm_head_option(sub, o->lm_head);
    sub->add_option("-t,--threads", o->threads, "worker threads (0 = number of physical cores)")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    sub->add_option("-c,--ctx-size", o->n_ctx, "KV cache size in tokens (0 = number of tokens)")
        ->check(CLI::Range(0u, 1u << 24))
        ->capture_default_str();
    return {sub, [o]() { return run_logits(*o); }};
}

}  // namespace bitnet_cli
