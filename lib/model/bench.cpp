#include "model/bench.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "bitnet.h"
#include "common/clock.h"
#include "common/error.h"

namespace bitnet {

void bench(Context &ctx, int32_t n_prompt, int32_t n_gen, int32_t repetitions, bool warmup,
           BenchStats &out) {
    const int32_t n_vocab = ctx.model().hparams().n_vocab;
    if (n_prompt < 0 || n_gen < 0 || repetitions < 1) {
        fail(BITNET_ERR_INVALID_ARGUMENT, "bench: sizes must be >= 0 and repetitions >= 1");
    }
    if ((uint32_t)n_prompt > ctx.n_ctx() || (uint32_t)n_gen + 1 > ctx.n_ctx()) {
        fail(BITNET_ERR_CONTEXT_FULL, "bench: pp" + std::to_string(n_prompt) + "/tg" +
                                          std::to_string(n_gen) + " does not fit in n_ctx " +
                                          std::to_string(ctx.n_ctx()));
    }
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
    std::vector<int32_t> tokens((size_t)std::max(n_prompt, 1));
    for (auto &t : tokens) t = dist(rng);

    out = BenchStats{};
    const int runs = repetitions + (warmup ? 1 : 0);
    if (n_prompt > 0) {
        for (int r = 0; r < runs; ++r) {
            ctx.reset();
            const double t0 = now_ms();
            ctx.eval(tokens.data(), (size_t)n_prompt, LogitsMode::Last);
            const double ms = now_ms() - t0;
            if (r > 0 || !warmup) out.pp_tps.push_back(n_prompt / (ms / 1000.0));
        }
    }
    if (n_gen > 0) {
        for (int r = 0; r < runs; ++r) {
            ctx.reset();
            int32_t tok = tokens[0];
            const double t0 = now_ms();
            for (int32_t i = 0; i < n_gen; ++i) {
                ctx.eval(&tok, 1, LogitsMode::Last);
                tok = dist(rng);
            }
            const double ms = now_ms() - t0;
            if (r > 0 || !warmup) out.tg_tps.push_back(n_gen / (ms / 1000.0));
        }
    }
    ctx.reset();
}

void bench_parallel(Context &ctx, int32_t n_gen, int32_t n_seq, int32_t repetitions, bool warmup,
                    BenchStats &out) {
    if (n_gen < 1 || n_seq < 1 || repetitions < 1) {
        fail(BITNET_ERR_INVALID_ARGUMENT, "bench: n_gen, n_parallel and repetitions must be >= 1");
    }
    if ((uint32_t)n_seq > ctx.n_seq_max() || (uint32_t)n_gen + 1 > ctx.kv().n_ctx_seq()) {
        fail(BITNET_ERR_CONTEXT_FULL,
             "bench: " + std::to_string(n_seq) + " sequences of tg" + std::to_string(n_gen) +
                 " do not fit a context of " + std::to_string(ctx.n_seq_max()) +
                 " sequences of " + std::to_string(ctx.kv().n_ctx_seq()) + " positions");
    }
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> dist(0, ctx.model().hparams().n_vocab - 1);
    std::vector<int32_t> tok((size_t)n_seq), pos((size_t)n_seq), seq((size_t)n_seq);
    std::vector<int8_t> want((size_t)n_seq, 1);
    for (int32_t s = 0; s < n_seq; ++s) seq[(size_t)s] = s;
    out = BenchStats{};
    const int runs = repetitions + (warmup ? 1 : 0);
    for (int r = 0; r < runs; ++r) {
        ctx.reset();
        const double t0 = now_ms();
        for (int32_t i = 0; i < n_gen; ++i) {
            for (int32_t s = 0; s < n_seq; ++s) {
                tok[(size_t)s] = dist(rng);
                pos[(size_t)s] = i;
            }
            ctx.decode(BatchView{tok.data(), pos.data(), seq.data(), want.data(), n_seq});
        }
        const double ms = now_ms() - t0;
        if (r > 0 || !warmup) out.tg_tps.push_back((double)n_seq * n_gen / (ms / 1000.0));
    }
    ctx.reset();
}

BenchStats run_bench(Context &ctx, int32_t n_prompt, int32_t n_gen, int32_t n_parallel,
                     int32_t repetitions, bool warmup) {
    BenchStats st;
    try {
        if (n_parallel > 1) {
            bench_parallel(ctx, n_gen, n_parallel, repetitions, warmup, st);
        } else {
            bench(ctx, n_prompt, n_gen, repetitions, warmup, st);
        }
    } catch (const Error &e) {
        ctx.reset();
        if (e.status() == BITNET_ERR_ABORTED) ctx.clear_abort();
        throw;
    }
    return st;
}

RateSummary summarize(std::vector<double> v) {
    RateSummary s;
    if (v.empty()) return s;
    for (double x : v) s.mean += x;
    s.mean /= (double)v.size();
    for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
    s.stddev = v.size() > 1 ? std::sqrt(s.stddev / (double)(v.size() - 1)) : 0.0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    s.best = v.back();
    return s;
}

}  // namespace bitnet
