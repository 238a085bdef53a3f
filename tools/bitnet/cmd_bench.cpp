// bitnet bench: llama-bench style prompt-processing (pp) and text-generation (tg) speeds.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common.h"

namespace bitnet_cli {
namespace {

struct BenchOptions {
    std::string model;
    int32_t n_prompt = 512;
    int32_t n_gen = 128;
    std::string threads = "0";
    int32_t reps = 5;
    std::string kv_type = "f16";
    bool no_warmup = false;
};

std::string tps(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

int run_bench(const BenchOptions &o) {
    const std::vector<int32_t> thread_counts = to_ints(o.threads);
    for (const int32_t t : thread_counts)
        if (t > 1024) throw CLI::ValidationError("-t", "at most 1024 threads");

    ModelPtr model = load_model(o.model);
    const std::string name = base_name(o.model);
    const std::string size = format_bytes(bitnet_model_size_bytes(model.get()));
    const std::string params = format_count(bitnet_model_n_params(model.get()));

    struct Row {
        std::string threads, test, mean, median, best;
    };
    std::vector<Row> rows;
    for (const int32_t t : thread_counts) {
        bitnet_context_params cp = bitnet_context_default_params();
        cp.n_threads = t;
        cp.kv_type = kv_type_value(o.kv_type);
        cp.n_ctx = static_cast<uint32_t>(std::max({o.n_prompt, o.n_gen + 1, 1}));
        ContextPtr ctx = new_context(model.get(), cp, o.model);

        bitnet_bench_params bp = bitnet_bench_default_params();
        bp.n_prompt = o.n_prompt;
        bp.n_gen = o.n_gen;
        bp.repetitions = o.reps;
        bp.warmup = o.no_warmup ? 0 : 1;
        bitnet_bench_result r{};
        r.size = sizeof r;
        const int32_t n_threads = bitnet_context_n_threads(ctx.get());
        std::fprintf(stderr, "bench: %d threads, pp%d, tg%d, %d repetitions...\n", n_threads,
                     o.n_prompt, o.n_gen, o.reps);
        const bitnet_status st = bitnet_bench(ctx.get(), &bp, &r);
        if (st != BITNET_OK) fail_status(o.model, st);
        const std::string th = std::to_string(r.n_threads > 0 ? r.n_threads : n_threads);
        if (o.n_prompt > 0)
            rows.push_back({th, "pp" + std::to_string(o.n_prompt),
                            tps(r.pp_mean) + " ± " + tps(r.pp_stddev), tps(r.pp_median),
                            tps(r.pp_best)});
        if (o.n_gen > 0)
            rows.push_back({th, "tg" + std::to_string(o.n_gen),
                            tps(r.tg_mean) + " ± " + tps(r.tg_stddev), tps(r.tg_median),
                            tps(r.tg_best)});
    }

    // Column widths (the "±" is 2 bytes but one column wide).
    auto width = [](const std::string &s) {
        size_t w = 0;
        for (unsigned char c : s) w += (c & 0xC0) != 0x80;
        return w;
    };
    const std::vector<std::string> header = {"model", "size", "params",     "threads",
                                             "test",  "t/s",  "median t/s", "best t/s"};
    std::vector<std::vector<std::string>> table;
    for (const auto &r : rows)
        table.push_back({name, size, params, r.threads, r.test, r.mean, r.median, r.best});
    std::vector<size_t> w(header.size());
    for (size_t c = 0; c < header.size(); ++c) {
        w[c] = width(header[c]);
        for (const auto &row : table) w[c] = std::max(w[c], width(row[c]));
    }
    auto print_row = [&](const std::vector<std::string> &cells, bool left_first) {
        std::string line = "|";
        for (size_t c = 0; c < cells.size(); ++c) {
            const std::string pad(w[c] - width(cells[c]), ' ');
            const bool left = left_first && c == 0;
            line += " " + (left ? cells[c] + pad : pad + cells[c]) + " |";
        }
        std::printf("%s\n", line.c_str());
    };
    print_row(header, true);
    std::string sep = "|";
    for (size_t c = 0; c < header.size(); ++c)
        sep += " " + (c == 0 ? std::string(w[c], '-') : std::string(w[c] - 1, '-') + ":") + " |";
    std::printf("%s\n", sep.c_str());
    for (const auto &row : table) print_row(row, true);
    std::fflush(stdout);
    return 0;
}

}  // namespace

Command add_bench(CLI::App &app) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App *sub = app.add_subcommand("bench", "measure prompt and generation speed");
    sub->footer(
        "Measures prompt processing (ppN: N random tokens in one evaluation) and text generation\n"
        "(tgN: N single-token evaluations) like llama-bench, and prints a markdown table of\n"
        "tokens per second (mean ± standard deviation, median, best over the repetitions).\n"
        "Each thread count of -t gets its own context.");
    sub->add_option("-m,--model", o->model, "GGUF model file")->required()->type_name("MODEL");
    sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens of the pp test (0 skips it)")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    sub->add_option("-n,--n-gen", o->n_gen, "generated tokens of the tg test (0 skips it)")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    sub->add_option("-t,--threads", o->threads,
                    "thread counts to test, comma-separated (e.g. 1,2,4); 0 = physical cores")
        ->type_name("N,N,...")
        ->check(IntList())
        ->capture_default_str();
    sub->add_option("-r,--repetitions", o->reps, "timed runs of each test")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    add_kv_type_option(sub, o->kv_type);
    sub->add_flag("--no-warmup", o->no_warmup, "skip the untimed warm-up run");
    return {sub, [o]() { return run_bench(*o); }};
}

}  // namespace bitnet_cli
