// I2_S decoding against the F32 copy of the same model, and the integer BitLinear product
// against OpenBLAS on the dequantised weights (independent float reference).
#include <cblas.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "fixtures.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

using bitnet::gguf::File;
using bitnet::gguf::TensorType;
using bitnet::test::fixture;

namespace {

TEST(I2sDequant, DecodedWeightsEqualF32File) {
    auto i2s = File::open(fixture("tiny-b158-i2s.gguf"));
    auto f32 = File::open(fixture("tiny-b158-f32.gguf"));
    int checked = 0;
    for (const auto &t : i2s->tensors()) {
        if (t.type != TensorType::I2_S) continue;
        const auto *ref = f32->find_tensor(t.name);
        ASSERT_NE(ref, nullptr) << t.name;
        ASSERT_EQ(ref->type, TensorType::F32);
        ASSERT_EQ(ref->n_elements(), t.n_elements());
        const int64_t n = t.n_elements();
        std::vector<int8_t> tern((size_t)n);
        bitnet::kernels::i2s_unpack(t.data, n, tern.data());
        float scale;
        std::memcpy(&scale, t.data + n / 4, 4);
        const float *w = reinterpret_cast<const float *>(ref->data);
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_EQ(scale * (float)tern[i], w[i]) << t.name << " element " << i;
        }
        ++checked;
    }
    EXPECT_EQ(checked, 14);
}

TEST(I2sDequant, IntegerProductMatchesOpenBlasOnDequantisedWeights) {
    auto i2s = File::open(fixture("tiny-b158-i2s.gguf"));
    auto f32 = File::open(fixture("tiny-b158-f32.gguf"));
    const auto &kt = bitnet::kernels::active();
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (const char *name : {"blk.0.attn_q.weight", "blk.1.ffn_gate.weight", "blk.0.ffn_down.weight",
                             "blk.1.attn_k.weight"}) {
        const auto *t = i2s->find_tensor(name);
        const auto *ref = f32->find_tensor(name);
        ASSERT_TRUE(t && ref) << name;
        const int64_t k = t->ne[0], rows = t->ne[1];
        float scale;
        std::memcpy(&scale, t->data + (k * rows) / 4, 4);
        const int n_tok = 5;
        std::vector<float> x((size_t)(n_tok * k));
        for (auto &v : x) v = nd(rng);
        // integer path
        std::vector<int8_t> q(x.size());
        std::vector<float> s(n_tok);
        std::vector<int32_t> sums(n_tok), dot((size_t)(n_tok * rows));
        for (int j = 0; j < n_tok; ++j) s[j] = kt.quantize_row_i8(&x[j * k], k, &q[j * k], &sums[j]);
        kt.i2s_gemm(t->data, k, rows, 1, q.data(), n_tok, dot.data(), rows);
        // float reference: dequantised activations q/s times the F32 weights, in OpenBLAS
        std::vector<float> xq(x.size()), y((size_t)(n_tok * rows));
        for (int j = 0; j < n_tok; ++j) {
            for (int64_t i = 0; i < k; ++i) xq[j * k + i] = (float)q[j * k + i] / s[j];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, (int)rows, (int)k, 1.0f,
                    xq.data(), (int)k, reinterpret_cast<const float *>(ref->data), (int)k, 0.0f,
                    y.data(), (int)rows);
        for (int j = 0; j < n_tok; ++j) {
            for (int64_t r = 0; r < rows; ++r) {
                const float mine = ((float)dot[j * rows + r] / s[j]) * scale;
                ASSERT_NEAR(mine, y[j * rows + r], 1e-4f * (1.0f + std::fabs(y[j * rows + r])))
                    << name << " token " << j << " row " << r;
            }
        }
    }
}

}  // namespace
