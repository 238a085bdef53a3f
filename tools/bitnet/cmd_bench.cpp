// bitnet bench: llama-bench style prompt-processing (pp) and text-generation (tg) speeds.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "kernels/kernels.h"

namespace bitnet_cli {
namespace {

struct BenchOptions {
    std::string model;
    int32_t n_prompt = 512;
    int32_t n_gen = 128;
    std::string threads = "0";
    int32_t reps = 5;
    std::string kv_type = "f16";
    std::string lm_head = "auto";
    bool no_warmup = false;
    bool roofline = false;
    bool no_repack = false;
    std::string parallel = "1";
    std::string device = "cpu";
};

// Resident set size of this process in bytes (/proc/self/status VmRSS), 0 if unknown.
uint64_t resident_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
}

// Read bandwidth with n threads streaming over a 1 GiB buffer (each thread its own slice), in
// bytes per second, best of 3 passes: the roofline of a memory-bound decode step.
double read_bandwidth(int n_threads) {
    const size_t n = (size_t(1) << 30) / sizeof(uint64_t);
    std::vector<uint64_t> buf(n);
    for (size_t i = 0; i < n; i += 512) buf[i] = i;  // touch every page
    double best = 0.0;
    for (int pass = 0; pass < 3; ++pass) {
        std::vector<std::thread> threads;
        std::vector<uint64_t> sums((size_t)n_threads);
        const double t0 = now_seconds();
        for (int t = 0; t < n_threads; ++t) {
            threads.emplace_back([&, t] {
                const size_t b = n * t / n_threads, e = n * (t + 1) / n_threads;
                uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (size_t i = b; i + 4 <= e; i += 4) {
                    s0 += buf[i];
                    s1 += buf[i + 1];
                    s2 += buf[i + 2];
                    s3 += buf[i + 3];
                }
                sums[(size_t)t] = s0 + s1 + s2 + s3;
            });
        }
        for (auto &th : threads) th.join();
        const double secs = now_seconds() - t0;
        uint64_t total = 0;
        for (uint64_t v : sums) total += v;
        if (total == 1) std::printf(" ");  // keep the sums alive
        best = std::max(best, (double)(n * sizeof(uint64_t)) / secs);
    }
    return best;
}

std::string tps(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

int run_bench(const BenchOptions &o) {
    const std::vector<int32_t> thread_counts = to_ints(o.threads);
    for (const int32_t t : thread_counts)
        if (t > 1024) throw CLI::ValidationError("-t", "at most 1024 threads");

    const double load_t0 = now_seconds();
    ModelPtr model = load_model(o.model, o.lm_head, /*repack=*/!o.no_repack);
    const double load_s = now_seconds() - load_t0;
    const uint64_t rss_after_load = resident_bytes();
    const std::string name = base_name(o.model);
    const std::string size = format_bytes(bitnet_model_size_bytes(model.get()));
    const std::string params = format_count(bitnet_model_n_params(model.get()));

    struct Row {
        std::string threads, test, mean, median, best;
    };
    const std::vector<int32_t> parallel = to_ints(o.parallel);
    std::vector<Row> rows;
    double tg_median_best = 0.0;  // the best median tg rate over the contexts
    for (const int32_t t : thread_counts) {
        for (const int32_t np : parallel) {
            if (np < 1 || np > 4096) throw CLI::ValidationError("--parallel", "1 to 4096 sequences");
            const int32_t n_prompt = np > 1 ? 0 : o.n_prompt;  // pp is a single-sequence test
            if (np > 1 && o.n_gen == 0) continue;
            bitnet_context_params cp = bitnet_context_default_params();
            cp.n_threads = t;
            cp.kv_type = kv_type_value(o.kv_type);
            cp.n_seq_max = static_cast<uint32_t>(np);
            cp.device = o.device == "cuda" ? BITNET_DEVICE_CUDA : BITNET_DEVICE_CPU;
            cp.n_ctx = static_cast<uint32_t>(np) *
                       static_cast<uint32_t>(std::max({n_prompt, o.n_gen + 1, 1}));
            ContextPtr ctx = new_context(model.get(), cp, o.model);

            bitnet_bench_params bp = bitnet_bench_default_params();
            bp.n_prompt = n_prompt;
            bp.n_gen = o.n_gen;
            bp.repetitions = o.reps;
            bp.warmup = o.no_warmup ? 0 : 1;
            bp.n_parallel = np;
            bitnet_bench_result r{};
            r.size = sizeof r;
            const int32_t n_threads = bitnet_context_n_threads(ctx.get());
            std::fprintf(stderr, "bench: %s, %d threads, pp%d, tg%d x %d sequences, %d repetitions...\n",
                         o.device.c_str(), n_threads, n_prompt, o.n_gen, np, o.reps);
            const bitnet_status st = bitnet_bench(ctx.get(), &bp, &r);
            if (st != BITNET_OK) fail_status(o.model, st);
            const std::string th = std::to_string(r.n_threads > 0 ? r.n_threads : n_threads);
            if (n_prompt > 0)
                rows.push_back({th, "pp" + std::to_string(n_prompt),
                                tps(r.pp_mean) + " ± " + tps(r.pp_stddev), tps(r.pp_median),
                                tps(r.pp_best)});
            if (np == 1) tg_median_best = std::max(tg_median_best, r.tg_median);
            if (o.n_gen > 0)
                rows.push_back({th, "tg" + std::to_string(o.n_gen) +
                                        (np > 1 ? " x" + std::to_string(np) : ""),
                                tps(r.tg_mean) + " ± " + tps(r.tg_stddev), tps(r.tg_median),
                                tps(r.tg_best)});
        }
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

    // Roofline: a decode step reads every weight once, so read bandwidth / bytes per token bounds
    // generation speed.
    const uint64_t per_token = bitnet_model_decode_bytes(model.get());
    std::printf("\nload: %.2f s; resident: %s after load, %s after the runs (tensor data %s, "
                "mapped)\n", load_s, format_bytes(rss_after_load).c_str(),
                format_bytes(resident_bytes()).c_str(),
                format_bytes(bitnet_model_size_bytes(model.get())).c_str());
    // Which kernels ran: the ISA the dispatcher chose (or BITNET_ISA forced), and why AMX did or
    // did not take the prefill GEMM.
    std::printf("kernels: %s; %s\n", bitnet::kernels::isa_name(bitnet::kernels::active().isa),
                bitnet::kernels::amx_status());
    if (o.device == "cuda" && o.n_gen > 0 && tg_median_best > 0) {
        // A decode step reads every weight once: bytes per token times tokens per second is the
        // device-memory bandwidth the decode achieves (the KV cache's few MB are left out).
        std::printf("decode reads %s per token: at the best tg rate (%.1f tokens/s) that is "
                    "%.0f GB/s of device memory\n",
                    format_bytes(per_token).c_str(), tg_median_best,
                    tg_median_best * (double)per_token / 1e9);
    }
    if (o.roofline && o.device != "cuda") {
        for (const int32_t t : thread_counts) {
            const int n = t > 0 ? t : 1;
            const double bw = read_bandwidth(n);
            std::printf("roofline: %d threads read %.1f GB/s; decode reads %s per token -> "
                        "bound %.1f tokens/s\n",
                        n, bw / 1e9, format_bytes(per_token).c_str(), bw / (double)per_token);
        }
    }
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
    add_lm_head_option(sub, o->lm_head);
    sub->add_option("--parallel,--npl", o->parallel,
                    "sequences decoded together in the tg test, comma-separated (e.g. 1,2,4,8,16): "
                    "rows 'tgN xB' give aggregate tokens/s of B sequences (llama-batched-bench)")
        ->type_name("B,B,...")
        ->check(IntList())
        ->capture_default_str();
    sub->add_option("--device", o->device,
                    "where the forward pass runs: cpu, or cuda (the first NVIDIA GPU; needs a "
                    "libbitnet built with BITNET_CUDA)")
        ->check(CLI::IsMember({"cpu", "cuda"}))
        ->capture_default_str();
    sub->add_flag("--no-warmup", o->no_warmup, "skip the untimed warm-up run");
    sub->add_flag("--no-repack", o->no_repack,
                  "keep the I2_S weights in the file's block order (bitnet_model_params.repack = "
                  "0), e.g. to measure what the load-time interleaving gains");
    sub->add_flag("--roofline", o->roofline,
                  "also measure read bandwidth (1 GiB buffer) and print the implied decode bound");
    return {sub, [o]() { return run_bench(*o); }};
}

}  // namespace bitnet_cli
