// Single-thread kernel benchmarks at BitNet b1.58 2B4T shapes, for every ISA this CPU supports.
//   gemv:     "GB/s"  = weight bytes read per second (the decode-time bound)
//   gemm:     "GOP/s" = 2 * k * rows * n_tok per second
//   quantize: "GB/s"  = float32 activations read per second
//   q8_gemv:  "GB/s"  = int8 weights + block scales read per second (1.125 bytes per weight)
//   q4_gemv:  "GB/s"  = 4-bit weights + block scales read per second (0.625 bytes per weight)
//   attention (k = head_dim 128, rows = cached positions, 4 query heads per KV head):
//             scores f16/f32_gemm4 and weighted sums f16/f32_wsum4, "GOP/s" = 2 * k * rows * 4
//   rms_norm, softmax (512 scores): "GB/s" = float32 input read per second
// The I2_S matrices (1.6-4.4 MB) stay in the last-level cache between iterations; the F16 LM
// head (656 MB) and the Q8 one (369 MB) do not, so they measure memory bandwidth.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "common/fp16.h"
#include "kernels/kernels.h"
#include "kernels/kernels_isa.h"

namespace {

using namespace bitnet::kernels;

constexpr int64_t kGemmTokens = 64;

// Buffers shared by all benchmarks, filled once (the F16 head alone is 656 MB).
const std::vector<uint8_t> &i2s_weights() {
    static const std::vector<uint8_t> w = [] {
        std::vector<int8_t> t(6912 * 6912);
        std::mt19937 rng(1);
        for (auto &v : t) v = (int8_t)((int)(rng() % 3) - 1);
        std::vector<uint8_t> packed(t.size() / 4);
        i2s_pack(t.data(), (int64_t)t.size(), packed.data());
        return packed;
    }();
    return w;
}

// Enough int8 activation rows for the largest token count (pp512 at k = 6912).
constexpr int64_t kMaxTokens = 512;

const std::vector<int8_t> &i8_activations() {
    static const std::vector<int8_t> q = [] {
        std::vector<int8_t> v(6912 * kMaxTokens);
        std::mt19937 rng(2);
        for (auto &x : v) x = (int8_t)(int)(rng() % 256 - 128);
        return v;
    }();
    return q;
}

const std::vector<float> &f32_activations() {
    static const std::vector<float> x = [] {
        std::vector<float> v(6912 * kGemmTokens);
        std::mt19937 rng(3);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (auto &e : v) e = normal(rng);
        return v;
    }();
    return x;
}

const std::vector<uint16_t> &f16_weights(size_t n) {
    static std::vector<uint16_t> w;
    if (w.size() < n) {
        w.resize(n);
        uint32_t s = 12345;
        for (auto &e : w) {
            s = s * 1664525u + 1013904223u;
            e = bitnet::f32_to_f16((float)((int32_t)s >> 8) * 1e-9f);
        }
    }
    return w;
}

const std::vector<float> &f32_weights(size_t n) {
    static std::vector<float> w;
    if (w.size() < n) {
        w.resize(n);
        uint32_t s = 54321;
        for (auto &e : w) {
            s = s * 1664525u + 1013904223u;
            e = (float)((int32_t)s >> 8) * 1e-7f;
        }
    }
    return w;
}

// Q8 LM head: int8 weights and one scale per 32-value block.
struct Q8Weights {
    std::vector<int8_t> w;
    std::vector<float> scale;
};
const Q8Weights &q8_weights(int64_t k, int64_t rows) {
    static Q8Weights q;
    if ((int64_t)q.w.size() < k * rows) {
        q.w.resize((size_t)(k * rows));
        uint32_t s = 777;
        for (auto &e : q.w) {
            s = s * 1664525u + 1013904223u;
            e = (int8_t)(s >> 24);
        }
        q.scale.assign((size_t)(k * rows / kQ8Block), 1.0f / 127);
    }
    return q;
}

// il = 4 reads the same random bytes as a matrix in the interleaved layout that the model
// loader makes (kernels.h, I2sGemvFn): the layout decode runs on.
void i2s_gemv(benchmark::State &state, Isa isa, int64_t k, int64_t rows, int il) {
    const KernelTable &kt = table(isa);
    const uint8_t *w = i2s_weights().data();
    const int8_t *q = i8_activations().data();
    std::vector<int32_t> out((size_t)rows);
    for (auto _ : state) {
        kt.i2s_gemv(w, k, rows, il, q, out.data());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    const double bytes = (double)rows * (double)k / 4;
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * bytes / 1e9,
                                                benchmark::Counter::kIsRate);
}

// Decode from memory: a 256 MiB I2_S matrix (far past the last-level cache, as the 0.5 GB of
// ternary weights a 2B4T token reads) in the interleaved layout, one gemv over all of it per
// iteration. "GB/s" is the weight read bandwidth the kernel reaches, the decode bound.
void i2s_gemv_dram(benchmark::State &state, Isa isa) {
    constexpr int64_t k = 2560, rows = 409600;
    static const std::vector<uint8_t> w = [] {
        std::vector<uint8_t> v((size_t)(rows * k / 4));
        uint64_t x = 88172645463325252ull;
        for (auto &b : v) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b = (uint8_t)(x >> 24);
        }
        return v;
    }();
    const KernelTable &kt = table(isa);
    const int8_t *q = i8_activations().data();
    std::vector<int32_t> out((size_t)rows);
    for (auto _ : state) {
        kt.i2s_gemv(w.data(), k, rows, 4, q, out.data());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * (double)w.size() / 1e9,
                                                benchmark::Counter::kIsRate);
}

void i2s_gemm(benchmark::State &state, Isa isa, int64_t k, int64_t rows) {
    const KernelTable &kt = table(isa);
    const uint8_t *w = i2s_weights().data();
    const int8_t *q = i8_activations().data();
    std::vector<int32_t> out((size_t)(rows * kGemmTokens));
    for (auto _ : state) {
        kt.i2s_gemm(w, k, rows, 1, q, kGemmTokens, out.data(), rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    const double ops = 2.0 * (double)k * (double)rows * kGemmTokens;
    state.counters["GOP/s"] = benchmark::Counter((double)state.iterations() * ops / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// Any I2_S GEMM implementation on the interleaved layout (il = 4) the model runs on, n_tok
// tokens: the AMX kernel (real tiles or emulated) beside the AVX-512/AVX2 ones.
void i2s_gemm_impl(benchmark::State &state, I2sGemmFn fn, int64_t k, int64_t rows, int64_t n_tok) {
    const uint8_t *w = i2s_weights().data();
    const int8_t *q = i8_activations().data();
    std::vector<int32_t> out((size_t)(rows * n_tok));
    for (auto _ : state) {
        fn(w, k, rows, 4, q, n_tok, out.data(), rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    const double ops = 2.0 * (double)k * (double)rows * (double)n_tok;
    state.counters["GOP/s"] = benchmark::Counter((double)state.iterations() * ops / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void f16_gemv(benchmark::State &state, Isa isa, int64_t k, int64_t rows) {
    const KernelTable &kt = table(isa);
    const uint16_t *w = f16_weights((size_t)(k * rows)).data();
    const float *x = f32_activations().data();
    std::vector<float> y((size_t)rows);
    for (auto _ : state) {
        kt.f16_gemv(w, k, rows, x, y.data());
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    const double bytes = 2.0 * (double)rows * (double)k;
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * bytes / 1e9,
                                                benchmark::Counter::kIsRate);
}

void f16_gemm(benchmark::State &state, Isa isa, int64_t k, int64_t rows) {
    const KernelTable &kt = table(isa);
    const uint16_t *w = f16_weights((size_t)(k * rows)).data();
    const float *x = f32_activations().data();
    std::vector<float> y((size_t)(rows * kGemmTokens));
    for (auto _ : state) {
        kt.f16_gemm(w, k, rows, x, kGemmTokens, y.data(), rows);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    const double ops = 2.0 * (double)k * (double)rows * kGemmTokens;
    state.counters["GOP/s"] = benchmark::Counter((double)state.iterations() * ops / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void quantize(benchmark::State &state, Isa isa, int64_t k) {
    const KernelTable &kt = table(isa);
    const float *x = f32_activations().data();
    std::vector<int8_t> q((size_t)k);
    int32_t sum = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(kt.quantize_row_i8(x, k, q.data(), &sum));
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * 4.0 * (double)k / 1e9,
                                                benchmark::Counter::kIsRate);
}

void q8_gemm(benchmark::State &state, Isa isa, int64_t k, int64_t rows, int64_t n_tok) {
    const KernelTable &kt = table(isa);
    const Q8Weights &q = q8_weights(k, rows);
    const float *x = f32_activations().data();
    std::vector<float> y((size_t)(rows * n_tok));
    for (auto _ : state) {
        kt.q8_gemm(q.w.data(), q.scale.data(), k, rows, x, n_tok, y.data(), rows);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    if (n_tok == 1) {
        const double bytes = (double)rows * (double)k * (1.0 + 4.0 / kQ8Block);
        state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * bytes / 1e9,
                                                    benchmark::Counter::kIsRate);
    } else {
        const double ops = 2.0 * (double)k * (double)rows * (double)n_tok;
        state.counters["GOP/s"] = benchmark::Counter((double)state.iterations() * ops / 1e9,
                                                     benchmark::Counter::kIsRate);
    }
}

// The Q4 head over the Q8 benchmark's random bytes (every byte is two valid 4-bit values): the
// first k/2 bytes of each of rows rows. "GB/s" counts 0.5 + 4/32 bytes per weight.
void q4_gemm(benchmark::State &state, Isa isa, int64_t k, int64_t rows, int64_t n_tok) {
    const KernelTable &kt = table(isa);
    const Q8Weights &q = q8_weights(k, rows);
    const uint8_t *w = reinterpret_cast<const uint8_t *>(q.w.data());
    const float *x = f32_activations().data();
    std::vector<float> y((size_t)(rows * n_tok));
    for (auto _ : state) {
        kt.q4_gemm(w, q.scale.data(), k, rows, x, n_tok, y.data(), rows);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    const double bytes = (double)rows * (double)k * (0.5 + 4.0 / kQ8Block);
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * bytes * (double)n_tok / 1e9,
                                                benchmark::Counter::kIsRate);
}

// Attention for one KV head: scores of 4 query heads against rows cached keys (f16/f32_gemm)
// and the weighted sum of rows cached values (f16/f32_wsum).
constexpr int64_t kHeads = 4;

template <typename T>
void attn_scores(benchmark::State &state, Isa isa, int64_t k, int64_t rows) {
    const KernelTable &kt = table(isa);
    const float *x = f32_activations().data();
    std::vector<float> y((size_t)(rows * kHeads));
    for (auto _ : state) {
        if constexpr (std::is_same_v<T, float>) {
            kt.f32_gemm(f32_weights((size_t)(k * rows)).data(), k, rows, x, kHeads, y.data(), rows);
        } else {
            kt.f16_gemm(f16_weights((size_t)(k * rows)).data(), k, rows, x, kHeads, y.data(), rows);
        }
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    const double ops = 2.0 * (double)k * (double)rows * kHeads;
    state.counters["GOP/s"] = benchmark::Counter((double)state.iterations() * ops / 1e9,
                                                 benchmark::Counter::kIsRate);
}

template <typename T>
void attn_wsum(benchmark::State &state, Isa isa, int64_t k, int64_t rows) {
    const KernelTable &kt = table(isa);
    // Softmax-like weights: positive, summing to about 1.
    std::vector<float> p((size_t)(rows * kHeads));
    for (size_t i = 0; i < p.size(); ++i) p[i] = (float)(1 + i % 7) / (4.0f * (float)rows);
    std::vector<float> out((size_t)(k * kHeads));
    for (auto _ : state) {
        if constexpr (std::is_same_v<T, float>) {
            kt.f32_wsum(f32_weights((size_t)(k * rows)).data(), k, rows, p.data(), kHeads, rows,
                        out.data(), k);
        } else {
            kt.f16_wsum(f16_weights((size_t)(k * rows)).data(), k, rows, p.data(), kHeads, rows,
                        out.data(), k);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    const double ops = 2.0 * (double)k * (double)rows * kHeads;
    state.counters["GOP/s"] = benchmark::Counter((double)state.iterations() * ops / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void f32_to_f16(benchmark::State &state, Isa isa, int64_t n) {
    const KernelTable &kt = table(isa);
    const float *x = f32_activations().data();
    std::vector<uint16_t> y((size_t)n);
    for (auto _ : state) {
        kt.f32_to_f16(x, y.data(), n);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * 4.0 * (double)n / 1e9,
                                                benchmark::Counter::kIsRate);
}

// Row-wise kernels on one row of n floats: "GB/s" = float32 input read per second.
void rms_norm(benchmark::State &state, Isa isa, int64_t n) {
    const KernelTable &kt = table(isa);
    const float *x = f32_activations().data(), *w = x + n;
    std::vector<float> y((size_t)n);
    for (auto _ : state) {
        kt.rms_norm(x, w, n, 1e-5f, y.data());
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * 4.0 * (double)n / 1e9,
                                                benchmark::Counter::kIsRate);
}

// Softmax of n attention scores (in place, refilled each iteration outside the timing would
// cost more than the kernel, so it runs on its own output: the values stay in (0, 1]).
void softmax(benchmark::State &state, Isa isa, int64_t n) {
    const KernelTable &kt = table(isa);
    std::vector<float> x(f32_activations().begin(), f32_activations().begin() + n);
    for (auto _ : state) {
        kt.softmax(x.data(), n, 0.0884f);
        benchmark::DoNotOptimize(x.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter((double)state.iterations() * 4.0 * (double)n / 1e9,
                                                benchmark::Counter::kIsRate);
}

std::string name(const char *kernel, Isa isa, int64_t k, int64_t rows = 0) {
    std::string s = std::string(kernel) + "/" + isa_name(isa) + "/k:" + std::to_string(k);
    if (rows > 0) s += "/rows:" + std::to_string(rows);
    return s;
}

const bool registered = [] {
    struct Shape {
        int64_t k, rows;
    };
    const Shape i2s_shapes[] = {{2560, 2560}, {2560, 6912}, {6912, 2560}};
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
        if (!isa_supported(isa)) continue;
        for (const Shape &s : i2s_shapes) {
            benchmark::RegisterBenchmark(name("i2s_gemv", isa, s.k, s.rows).c_str(), i2s_gemv, isa,
                                         s.k, s.rows, 1)->Unit(benchmark::kMicrosecond);
            benchmark::RegisterBenchmark(name("i2s_gemv_il4", isa, s.k, s.rows).c_str(), i2s_gemv,
                                         isa, s.k, s.rows, 4)->Unit(benchmark::kMicrosecond);
        }
        benchmark::RegisterBenchmark(name("i2s_gemv_dram", isa, 2560, 409600).c_str(), i2s_gemv_dram,
                                     isa)->Unit(benchmark::kMillisecond);
        for (const Shape &s : i2s_shapes) {
            benchmark::RegisterBenchmark(name("i2s_gemm64", isa, s.k, s.rows).c_str(), i2s_gemm,
                                         isa, s.k, s.rows)->Unit(benchmark::kMillisecond);
        }
        benchmark::RegisterBenchmark(name("f16_gemv", isa, 2560, 128256).c_str(), f16_gemv, isa,
                                     2560, 128256)->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(name("f16_gemm64", isa, 2560, 2560).c_str(), f16_gemm, isa,
                                     2560, 2560)->Unit(benchmark::kMillisecond);
        for (int64_t k : {2560, 6912}) {
            benchmark::RegisterBenchmark(name("quantize_i8", isa, k).c_str(), quantize, isa, k)
                ->Unit(benchmark::kMicrosecond);
        }
        benchmark::RegisterBenchmark(name("q8_gemv", isa, 2560, 128256).c_str(), q8_gemm, isa,
                                     2560, 128256, 1)->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(name("q4_gemv", isa, 2560, 128256).c_str(), q4_gemm, isa,
                                     2560, 128256, 1)->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(name("q8_gemm64", isa, 2560, 2560).c_str(), q8_gemm, isa,
                                     2560, 2560, kGemmTokens)->Unit(benchmark::kMillisecond);
        for (int64_t rows : {512, 4096}) {
            benchmark::RegisterBenchmark(name("f16_gemm4", isa, 128, rows).c_str(),
                                         attn_scores<uint16_t>, isa, 128, rows)
                ->Unit(benchmark::kMicrosecond);
            benchmark::RegisterBenchmark(name("f32_gemm4", isa, 128, rows).c_str(),
                                         attn_scores<float>, isa, 128, rows)
                ->Unit(benchmark::kMicrosecond);
            benchmark::RegisterBenchmark(name("f16_wsum4", isa, 128, rows).c_str(),
                                         attn_wsum<uint16_t>, isa, 128, rows)
                ->Unit(benchmark::kMicrosecond);
            benchmark::RegisterBenchmark(name("f32_wsum4", isa, 128, rows).c_str(),
                                         attn_wsum<float>, isa, 128, rows)
                ->Unit(benchmark::kMicrosecond);
        }
        benchmark::RegisterBenchmark(name("f32_to_f16", isa, 640).c_str(), f32_to_f16, isa, 640)
            ->Unit(benchmark::kNanosecond);
        for (int64_t n : {2560, 6912}) {
            benchmark::RegisterBenchmark(name("rms_norm", isa, n).c_str(), rms_norm, isa, n)
                ->Unit(benchmark::kNanosecond);
        }
        benchmark::RegisterBenchmark(name("softmax", isa, 512).c_str(), softmax, isa, 512)
            ->Unit(benchmark::kNanosecond);
    }
    // The AMX GEMM against AVX-512 (and AVX2) by token count, to place the AMX threshold
    // (kAmxMinTokens in kernels/i2s_amx.cpp): "i2s_gemm_tok<N>/<kernel>/k/rows".
    struct Impl {
        const char *name;
        I2sGemmFn fn;
        bool ok;
    };
    const Impl impls[] = {
        {"avx2", isa_supported(Isa::Avx2) ? table(Isa::Avx2).i2s_gemm : nullptr, isa_supported(Isa::Avx2)},
        {"avx512", isa_supported(Isa::Avx512) ? table(Isa::Avx512).i2s_gemm : nullptr, isa_supported(Isa::Avx512)},
#if defined(BITNET_AMX_KERNELS)
        {"amx_tiles", bitnet::kernels::detail::i2s_gemm_amx_tiles, isa_supported(Isa::Amx)},
#endif
    };
    for (int64_t n_tok : {16, 32, 64, 128, 512}) {
        for (const Shape &s : i2s_shapes) {
            for (const Impl &im : impls) {
                if (!im.ok) continue;
                const std::string n = "i2s_gemm_tok" + std::to_string(n_tok) + "/" + im.name +
                                      "/k:" + std::to_string(s.k) + "/rows:" + std::to_string(s.rows);
                benchmark::RegisterBenchmark(n.c_str(), i2s_gemm_impl, im.fn, s.k, s.rows, n_tok)
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
    // The emulation (scalar, for tests: slow) on a small shape, the real kernels beside it.
    const Impl emulated[] = {
        {"amx_emulated", bitnet::kernels::detail::i2s_gemm_amx_emulated, true},
#if defined(BITNET_AMX_KERNELS)
        {"amx_emulated_avx512unpack", bitnet::kernels::detail::i2s_gemm_amx_emulated_avx512,
         isa_supported(Isa::Avx512)},
#endif
    };
    for (const Impl &im : emulated) {
        if (!im.ok) continue;
        const std::string n = std::string("i2s_gemm_tok64/") + im.name + "/k:2560/rows:256";
        benchmark::RegisterBenchmark(n.c_str(), i2s_gemm_impl, im.fn, 2560, 256, 64)
            ->Unit(benchmark::kMillisecond);
    }
    return true;
}();

}  // namespace
