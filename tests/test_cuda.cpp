// The CUDA backend (cuda/, issue 14). Host-side tests run everywhere: the device parameter's
// plumbing, old-sized params, and the UNSUPPORTED status (with its reason) when the backend is
// not built, when no GPU is present, or when the model or kv_type cannot run on the GPU. GPU
// tests skip with the reason when there is no device; with one they check the GPU against
// independent truth: the scalar reference kernels (quantised activations, integer products and
// BitLinear outputs bit for bit), the CPU path (logits within float32 noise, equal greedy
// continuations) and the shared exact references (../shared/fixtures/reference/exact).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bitnet.h"
#include "cuda/backend.h"
#include "fixtures.h"
#include "kernels/kernels.h"
#include "reference.h"

namespace {

using bitnet::test::fixture;

struct ModelFree {
    void operator()(bitnet_model *m) const { bitnet_model_free(m); }
};
struct ContextFree {
    void operator()(bitnet_context *c) const { bitnet_context_free(c); }
};
using ModelPtr = std::unique_ptr<bitnet_model, ModelFree>;
using ContextPtr = std::unique_ptr<bitnet_context, ContextFree>;

ModelPtr load(const std::string &name, int lm_head_type = BITNET_LM_HEAD_AUTO) {
    bitnet_model_params mp = bitnet_model_default_params();
    mp.lm_head_type = lm_head_type;
    bitnet_model *m = nullptr;
    EXPECT_EQ(bitnet_model_load(fixture(name).c_str(), &mp, &m), BITNET_OK)
        << bitnet_last_error_message();
    return ModelPtr(m);
}

bitnet_status new_context(bitnet_model *m, int device, ContextPtr &out, int32_t n_batch = 0,
                          int kv_type = BITNET_KV_F16) {
    out.reset();  // free the previous context first (GPU memory)
    bitnet_context_params cp = bitnet_context_default_params();
    cp.device = device;
    cp.n_ctx = 256;
    cp.n_batch = n_batch;
    cp.kv_type = kv_type;
    bitnet_context *c = nullptr;
    const bitnet_status st = bitnet_context_new(m, &cp, &c);
    out.reset(c);
    return st;
}

bool have_gpu() { return bitnet::cuda::compiled() && bitnet::cuda::device_count() > 0; }

#define REQUIRE_GPU()                                                                         \
    do {                                                                                      \
        if (!bitnet::cuda::compiled())                                                        \
            GTEST_SKIP() << "libbitnet was built without the CUDA backend (BITNET_CUDA=OFF)"; \
        if (bitnet::cuda::device_count() == 0)                                                \
            GTEST_SKIP() << "no CUDA device or driver on this machine";                       \
    } while (0)

// ---- host side: no GPU needed ---------------------------------------------------------------

TEST(CudaParams, DefaultIsCpu) {
    const bitnet_context_params p = bitnet_context_default_params();
    EXPECT_EQ(p.device, BITNET_DEVICE_CPU);
    EXPECT_EQ(p.size, sizeof(bitnet_context_params));
}

TEST(CudaParams, UnknownDeviceIsInvalidArgument) {
    ModelPtr m = load("tiny-b158-i2s.gguf");
    ContextPtr c;
    EXPECT_EQ(new_context(m.get(), 7, c), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(c, nullptr);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("unknown device 7"), std::string::npos)
        << bitnet_last_error_message();
}

// A caller compiled against the struct before `device` existed passes its smaller size: the
// field is not read (here it holds garbage) and the context runs on the CPU.
TEST(CudaParams, OldStructSizeGetsTheCpu) {
    ModelPtr m = load("tiny-b158-i2s.gguf");
    bitnet_context_params p = bitnet_context_default_params();
    p.size = offsetof(bitnet_context_params, device);
    p.device = 12345;
    bitnet_context *c = nullptr;
    ASSERT_EQ(bitnet_context_new(m.get(), &p, &c), BITNET_OK) << bitnet_last_error_message();
    ContextPtr ctx(c);
    const bitnet_token tok = 1;
    ASSERT_EQ(bitnet_eval(c, &tok, 1, BITNET_LOGITS_LAST), BITNET_OK);
    EXPECT_NE(bitnet_get_logits(c, -1), nullptr);
}

// Every refusal is UNSUPPORTED with a message that names the reason, whatever the machine.
void expect_unsupported(bitnet_status st, const std::string &reason) {
    EXPECT_EQ(st, BITNET_ERR_UNSUPPORTED);
    const std::string msg = bitnet_last_error_message();
    if (!bitnet::cuda::compiled()) {
        EXPECT_NE(msg.find("built without the CUDA backend"), std::string::npos) << msg;
    } else {
        EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    }
}

TEST(CudaDevice, F32LayerMatricesAreUnsupported) {
    ModelPtr m = load("tiny-b158-f32.gguf");
    ContextPtr c;
    expect_unsupported(new_context(m.get(), BITNET_DEVICE_CUDA, c),
                       "(the GPU runs I2_S layer matrices)");
    EXPECT_EQ(c, nullptr);
}

TEST(CudaDevice, QuantisedHeadIsUnsupported) {
    ModelPtr m = load("tiny-b158-i2s.gguf", BITNET_LM_HEAD_Q8);
    ContextPtr c;
    expect_unsupported(new_context(m.get(), BITNET_DEVICE_CUDA, c), "quantised LM head");
}

TEST(CudaDevice, NoGpuGivesUnsupported) {
    if (have_gpu()) GTEST_SKIP() << "a CUDA device is present (the GPU tests below run instead)";
    ModelPtr m = load("tiny-b158-i2s.gguf");
    ContextPtr c;
    expect_unsupported(new_context(m.get(), BITNET_DEVICE_CUDA, c), "no usable CUDA device");
    EXPECT_EQ(c, nullptr);
    // The CPU path is unaffected.
    EXPECT_EQ(new_context(m.get(), BITNET_DEVICE_CPU, c), BITNET_OK);
}

// ---- GPU: kernels against the scalar reference ------------------------------------------------

// Quantised activations, scales, integer products and BitLinear outputs of the GPU kernels equal
// the scalar reference's bit for bit: random rows with outliers, exact .5 ties after scaling,
// a zero row (the 1e-5 floor), a NaN, and code-3 weight bytes (decoded as +2 everywhere).
TEST(CudaKernels, BitLinearMatchesScalarReference) {
    REQUIRE_GPU();
    std::mt19937 rng(1234);
    for (const int64_t k : {128, 384, 2560, 6912}) {
        const int64_t n_tok = 11, rows = 72;
        std::vector<float> x((size_t)(n_tok * k));
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (float &v : x) v = nd(rng);
        for (int64_t i = 0; i < k; i += 7)
            x[(size_t)(1 * k + i)] = (float)(i % 255) - 127.0f;  // ties
        x[(size_t)(2 * k + 3)] = 40.0f;                          // outlier
        std::fill(x.begin() + 3 * k, x.begin() + 4 * k, 0.0f);
        x[(size_t)(4 * k + 5)] = NAN;
        std::vector<int8_t> t((size_t)(rows * k));
        std::uniform_int_distribution<int> td(-1, 1);
        for (int8_t &v : t) v = (int8_t)td(rng);
        std::vector<uint8_t> w((size_t)(rows * k / 4));
        for (int64_t r = 0; r < rows; ++r)
            bitnet::kernels::i2s_pack(t.data() + r * k, k, w.data() + r * k / 4);
        w[5] = 0xFF;
        w[w.size() - 1] = 0xFF;
        const float scale = 0.8125f;

        std::vector<int8_t> q_ref((size_t)(n_tok * k)), q_gpu(q_ref.size());
        std::vector<float> s_ref((size_t)n_tok), s_gpu((size_t)n_tok);
        std::vector<int32_t> sum((size_t)n_tok), dot_ref((size_t)(n_tok * rows)),
            dot_gpu(dot_ref.size());
        std::vector<float> y_ref(dot_ref.size()), y_gpu(dot_ref.size());
        for (int64_t j = 0; j < n_tok; ++j) {
            s_ref[j] = bitnet::kernels::quantize_row_i8_scalar(x.data() + j * k, k,
                                                               q_ref.data() + j * k, &sum[j]);
        }
        bitnet::kernels::i2s_gemm_scalar(w.data(), k, rows, 1, q_ref.data(), n_tok, dot_ref.data(),
                                         rows);
        for (size_t i = 0; i < dot_ref.size(); ++i) {
            y_ref[i] = ((float)dot_ref[i] / s_ref[i / rows]) * scale;
        }
        bitnet::cuda::bitlinear_for_test(x.data(), n_tok, k, w.data(), rows, scale, q_gpu.data(),
                                         s_gpu.data(), dot_gpu.data(), y_gpu.data());
        EXPECT_EQ(q_gpu, q_ref) << "k " << k;
        EXPECT_EQ(0, std::memcmp(s_gpu.data(), s_ref.data(), s_ref.size() * sizeof(float)))
            << "k " << k;
        EXPECT_EQ(dot_gpu, dot_ref) << "k " << k;
        EXPECT_EQ(0, std::memcmp(y_gpu.data(), y_ref.data(), y_ref.size() * sizeof(float)))
            << "k " << k;
    }
}

// ---- GPU: the whole forward pass against the CPU and the exact references ---------------------

std::vector<float> eval_all(bitnet_context *c, const std::vector<int32_t> &ids) {
    EXPECT_EQ(bitnet_eval(c, ids.data(), ids.size(), BITNET_LOGITS_ALL), BITNET_OK)
        << bitnet_last_error_message();
    std::vector<float> out;
    for (size_t i = 0; i < ids.size(); ++i) {
        const float *row = bitnet_get_logits(c, (int32_t)i);
        EXPECT_NE(row, nullptr);
        if (row) out.insert(out.end(), row, row + 128256);
    }
    return out;
}

int32_t argmax(const float *row, int32_t n) {
    return (int32_t)(std::max_element(row, row + n) - row);
}

// Greedy decoding, one token per eval (the GPU's CUDA-graph step), from the prompt's logits.
std::vector<int32_t> greedy(bitnet_context *c, const std::vector<int32_t> &prompt, int n) {
    std::vector<int32_t> out;
    EXPECT_EQ(bitnet_eval(c, prompt.data(), prompt.size(), BITNET_LOGITS_LAST), BITNET_OK);
    for (int i = 0; i < n; ++i) {
        const int32_t next = argmax(bitnet_get_logits(c, -1), 128256);
        out.push_back(next);
        EXPECT_EQ(bitnet_eval(c, &next, 1, BITNET_LOGITS_LAST), BITNET_OK)
            << bitnet_last_error_message();
    }
    return out;
}

double max_abs_diff(const std::vector<float> &a, const std::vector<float> &b) {
    double worst = 0.0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        const double d = std::fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d;  // NaN counts as the worst
    }
    return worst;
}

// GPU against CPU with either KV cache type: logits within float32 noise (the integer parts
// are identical, so only summation order differs), the same argmax wherever the reference's
// top-2 gap is clear, equal greedy continuations.
TEST(CudaModel, LogitsMatchCpuAndGreedyEqual) {
    REQUIRE_GPU();
    ModelPtr m = load("tiny-b158-i2s.gguf");
    ASSERT_EQ(bitnet_model_n_vocab(m.get()), 128256);
    for (const int kv : {BITNET_KV_F16, BITNET_KV_F32}) {
        ContextPtr cpu, gpu;
        ASSERT_EQ(new_context(m.get(), BITNET_DEVICE_CPU, cpu, 0, kv), BITNET_OK);
        ASSERT_EQ(new_context(m.get(), BITNET_DEVICE_CUDA, gpu, 0, kv), BITNET_OK)
            << bitnet_last_error_message();
        for (const char *prompt : {"bos", "fox", "unicode", "random100"}) {
            const auto ref =
                bitnet::test::load_reference("reference/exact", "tiny-b158-i2s", prompt);
            bitnet_context_reset(cpu.get());
            bitnet_context_reset(gpu.get());
            const std::vector<float> lc = eval_all(cpu.get(), ref.token_ids);
            const std::vector<float> lg = eval_all(gpu.get(), ref.token_ids);
            ASSERT_EQ(lc.size(), lg.size());
            const double d = max_abs_diff(lc, lg);
            std::printf("[cuda] kv %s %-9s %3zu tokens: max |GPU - CPU| logit %.3g\n",
                        kv == BITNET_KV_F32 ? "f32" : "f16", prompt, ref.token_ids.size(), d);
            // test_model_reference's tiers: on the long prompts float-order noise can flip an
            // int8 rounding of an activation, which moves logits by up to ~0.2 (measured on the
            // H200: random100 with the F32 cache, 0.19; every other case below 1e-5).
            const bool tight = std::string(prompt) == "bos" || std::string(prompt) == "fox";
            EXPECT_LE(d, tight ? 1e-3 : 1.0) << prompt;
            for (size_t i = 0; i < ref.positions.size(); ++i) {
                if (ref.positions[i].top2_gap > 0.5) {
                    EXPECT_EQ(argmax(lg.data() + i * 128256, 128256),
                              argmax(lc.data() + i * 128256, 128256))
                        << prompt << " position " << i;
                }
            }
            bitnet_context_reset(cpu.get());
            bitnet_context_reset(gpu.get());
            const std::vector<int32_t> gg = greedy(gpu.get(), ref.token_ids, 24);
            const std::vector<int32_t> gc = greedy(cpu.get(), ref.token_ids, 24);
            ASSERT_EQ(gg, gc) << prompt << ": greedy continuation, GPU vs CPU";
            // The logits after 24 single-token steps (the GPU's decode graph) of the same tokens.
            const float *dg = bitnet_get_logits(gpu.get(), -1),
                        *dc = bitnet_get_logits(cpu.get(), -1);
            ASSERT_TRUE(dg && dc);
            const double dd = max_abs_diff(std::vector<float>(dg, dg + 128256),
                                           std::vector<float>(dc, dc + 128256));
            std::printf("[cuda] kv %s %-9s after 24 decode steps: max |GPU - CPU| logit %.3g\n",
                        kv == BITNET_KV_F32 ? "f32" : "f16", prompt, dd);
            EXPECT_LE(dd, tight ? 1e-3 : 1.0) << prompt << " decode";
        }
    }
}

// GPU against the exact references with the F32 KV cache, with test_model_reference's tiers:
// last-position logits within 1e-3 for bos/fox (1.0 for the long prompts, whose references
// drift with the activation scheme), every position's argmax where the reference's top-2 gap
// is clear, and the greedy continuation up to the first step whose reference gap is below 0.5
// (as test_model_reference's OwnGreedyContinuation).
TEST(CudaModel, ExactReferences) {
    REQUIRE_GPU();
    ModelPtr m = load("tiny-b158-i2s.gguf");
    ContextPtr gpu;
    ASSERT_EQ(new_context(m.get(), BITNET_DEVICE_CUDA, gpu, 0, BITNET_KV_F32), BITNET_OK)
        << bitnet_last_error_message();
    for (const char *prompt : {"bos", "fox", "unicode", "random100"}) {
        const auto ref = bitnet::test::load_reference("reference/exact", "tiny-b158-i2s", prompt);
        const bool tight = std::string(prompt) == "bos" || std::string(prompt) == "fox";
        const double tol = tight ? 1e-3 : 1.0, gap = tight ? 2e-3 : 0.5;
        bitnet_context_reset(gpu.get());
        const std::vector<float> lg = eval_all(gpu.get(), ref.token_ids);
        const std::vector<float> last(lg.end() - 128256, lg.end());
        const double dr = max_abs_diff(last, ref.last_logits);
        std::printf("[cuda] %-9s max |GPU - reference| last logits %.3g (tolerance %g)\n", prompt,
                    dr, tol);
        EXPECT_LE(dr, tol) << prompt;
        for (size_t i = 0; i < ref.positions.size(); ++i) {
            if (ref.positions[i].top2_gap > gap) {
                EXPECT_EQ(argmax(lg.data() + i * 128256, 128256), ref.positions[i].argmax)
                    << prompt << " position " << i;
            }
        }
        int32_t next = argmax(last.data(), 128256);
        size_t agreed = 0;
        for (size_t i = 0; i < ref.continuation.size(); ++i) {
            if (next != ref.continuation[i]) {
                EXPECT_LT(ref.continuation_steps[i].top2_gap, 0.5)
                    << prompt << " greedy step " << i << " took " << next;
                break;
            }
            ++agreed;
            ASSERT_EQ(bitnet_eval(gpu.get(), &next, 1, BITNET_LOGITS_LAST), BITNET_OK);
            next = argmax(bitnet_get_logits(gpu.get(), -1), 128256);
        }
        std::printf("[cuda] %-9s greedy continuation: %zu of %zu steps as the reference\n", prompt,
                    agreed, ref.continuation.size());
    }
}

// Prefill in chunks of 3 (several forward calls, positions carried on the device) gives the
// one-chunk logits within float noise; after a reset the decode graph serves position 0 again.
TEST(CudaModel, ChunksAndResetAgree) {
    REQUIRE_GPU();
    ModelPtr m = load("tiny-b158-i2s.gguf");
    const auto ref = bitnet::test::load_reference("reference/exact", "tiny-b158-i2s", "fox");
    ContextPtr one, chunked;
    ASSERT_EQ(new_context(m.get(), BITNET_DEVICE_CUDA, one), BITNET_OK);
    ASSERT_EQ(new_context(m.get(), BITNET_DEVICE_CUDA, chunked, 3), BITNET_OK);
    const std::vector<float> a = eval_all(one.get(), ref.token_ids);
    const std::vector<float> b = eval_all(chunked.get(), ref.token_ids);
    EXPECT_LE(max_abs_diff(a, b), 2e-3);
    bitnet_context_reset(one.get());
    const std::vector<int32_t> g1 = greedy(one.get(), {ref.token_ids[0]}, 4);
    bitnet_context_reset(one.get());
    const std::vector<int32_t> g2 = greedy(one.get(), {ref.token_ids[0]}, 4);
    EXPECT_EQ(g1, g2);
}

}  // namespace
