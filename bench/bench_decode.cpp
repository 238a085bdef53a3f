// Google Benchmark of batched decoding through the C API (issue 12): one decode step of B
// sequences, one new token each, in one bitnet_decode call (every BitLinear then runs as one
// ternary x int8 GEMM over B tokens, weights read once). Reports the aggregate tokens/s like
// `bitnet bench --parallel` and llama-batched-bench's S_TG.
//
//   bench_decode [--benchmark_filter=...]           model: BITNET_BENCH_MODEL, else the tiny
//                                                    fixture (meaningful numbers need a real
//                                                    shape: `bitnet gen-model --preset 2b4t`)
//   BITNET_BENCH_MODEL=2b4t.gguf BITNET_BENCH_THREADS=2 bench_decode
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bitnet.h"

namespace {

constexpr int32_t kPositionsPerSeq = 128;  // a step's cost barely depends on the position here

std::string model_path() {
    if (const char *env = std::getenv("BITNET_BENCH_MODEL")) return env;
    return BITNET_FIXTURES_DIR "/tiny-b158-i2s.gguf";
}

int32_t threads() {
    const char *env = std::getenv("BITNET_BENCH_THREADS");
    return env ? std::atoi(env) : 0;  // 0: physical cores
}

bitnet_model *shared_model() {
    static bitnet_model *model = [] {
        bitnet_model *m = nullptr;
        if (bitnet_model_load(model_path().c_str(), nullptr, &m) != BITNET_OK) {
            std::fprintf(stderr, "bench_decode: %s\n", bitnet_last_error_message());
            std::exit(1);
        }
        return m;
    }();
    return model;
}

// Aggregate decode speed of B = state.range(0) sequences.
void batched_decode(benchmark::State &state) {
    const int32_t n_seq = (int32_t)state.range(0);
    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_seq_max = (uint32_t)n_seq;
    cp.n_ctx = (uint32_t)(n_seq * kPositionsPerSeq);
    cp.n_threads = threads();
    bitnet_context *ctx = nullptr;
    if (bitnet_context_new(shared_model(), &cp, &ctx) != BITNET_OK) {
        state.SkipWithError(bitnet_last_error_message());
        return;
    }
    bitnet_batch batch;
    bitnet_batch_init(n_seq, &batch);
    const int32_t n_vocab = bitnet_model_n_vocab(shared_model());
    int32_t pos = 0;
    for (auto _ : state) {
        if (pos == kPositionsPerSeq) {  // every sequence is full: start them over, untimed
            state.PauseTiming();
            bitnet_context_reset(ctx);
            pos = 0;
            state.ResumeTiming();
        }
        bitnet_batch_clear(&batch);
        for (int32_t s = 0; s < n_seq; ++s) {
            bitnet_batch_add(&batch, (7919 * (pos * n_seq + s)) % n_vocab, pos, s, 1);
        }
        if (bitnet_decode(ctx, &batch) != BITNET_OK) {
            state.SkipWithError(bitnet_last_error_message());
            break;
        }
        ++pos;
    }
    state.counters["tokens/s"] =
        benchmark::Counter((double)n_seq, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("B=" + std::to_string(n_seq) + " " + bitnet_model_architecture(shared_model()));
    bitnet_batch_free(&batch);
    bitnet_context_free(ctx);
}

BENCHMARK(batched_decode)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->UseRealTime()->Unit(
    benchmark::kMillisecond);

}  // namespace
