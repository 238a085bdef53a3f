// TQ1_0 / TQ2_0 packing against files in ggml's layout: the generated fixtures tiny-llama-tq2 and
// tiny-bitnet-tq1 (written as ggml's quantize_row_tq*_ref writes them) and their F32 twins, which
// hold the same weights (fixtures README, "Other ternary families").
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "common/fp16.h"
#include "fixtures.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace bitnet {
namespace {

using gguf::TensorType;

struct Unpacked {
    std::vector<int8_t> trits;
    std::vector<uint16_t> d;
};

Unpacked unpack(const gguf::TensorInfo &t) {
    const int64_t n = t.n_elements();
    Unpacked u{std::vector<int8_t>((size_t)n), std::vector<uint16_t>((size_t)(n / kernels::kTqBlock))};
    if (t.type == TensorType::TQ1_0) {
        kernels::tq1_unpack(t.data, n, u.trits.data(), u.d.data());
    } else {
        kernels::tq2_unpack(t.data, n, u.trits.data(), u.d.data());
    }
    return u;
}

// Every ternary tensor decodes to its twin's F32 values (value = trit * d) and packs back to the
// same bytes.
void check_pair(const std::string &ternary, const std::string &f32, TensorType type) {
    auto tf = gguf::File::open(test::generated_fixture(ternary));
    auto ff = gguf::File::open(test::generated_fixture(f32));
    int n_checked = 0;
    for (const gguf::TensorInfo &t : tf->tensors()) {
        if (t.type != type) continue;
        SCOPED_TRACE(t.name);
        const gguf::TensorInfo *twin = ff->find_tensor(t.name);
        ASSERT_NE(twin, nullptr);
        ASSERT_EQ(twin->type, TensorType::F32);
        ASSERT_EQ(twin->n_elements(), t.n_elements());
        const Unpacked u = unpack(t);
        const float *ref = reinterpret_cast<const float *>(twin->data);
        for (int64_t i = 0; i < t.n_elements(); ++i) {
            const float v = (float)u.trits[(size_t)i] * f16_to_f32(u.d[(size_t)(i / kernels::kTqBlock)]);
            ASSERT_EQ(v, ref[i]) << "value " << i;
        }
        std::vector<uint8_t> packed((size_t)t.nbytes);
        for (int64_t b = 0; b < (int64_t)u.d.size(); ++b) {
            const int64_t bytes = type == TensorType::TQ1_0 ? kernels::kTq1BlockBytes
                                                            : kernels::kTq2BlockBytes;
            const int8_t *tb = u.trits.data() + b * kernels::kTqBlock;
            uint8_t *ob = packed.data() + b * bytes;
            if (type == TensorType::TQ1_0) {
                kernels::tq1_pack(tb, kernels::kTqBlock, u.d[(size_t)b], ob);
            } else {
                kernels::tq2_pack(tb, kernels::kTqBlock, u.d[(size_t)b], ob);
            }
        }
        ASSERT_EQ(std::memcmp(packed.data(), t.data, (size_t)t.nbytes), 0);
        ++n_checked;
    }
    EXPECT_EQ(n_checked, 14);  // 7 BitLinear matrices in each of 2 layers
}

TEST(TqFormats, Tq2MatchesGgmlLayoutOfTheLlamaFixture) {
    check_pair("tiny-llama-tq2.gguf", "tiny-llama-f32.gguf", TensorType::TQ2_0);
}

TEST(TqFormats, Tq1MatchesGgmlLayoutOfTheBitnetFixture) {
    check_pair("tiny-bitnet-tq1.gguf", "tiny-bitnet-f32.gguf", TensorType::TQ1_0);
}

// All 3^5 digit combinations of a TQ1_0 byte survive a round trip.
TEST(TqFormats, Tq1EveryDigitPatternRoundTrips) {
    std::vector<int8_t> t(256), back(256);
    std::vector<uint8_t> block(kernels::kTq1BlockBytes);
    for (int v = 0; v < 243; ++v) {
        for (int e = 0; e < 256; ++e) t[e] = (int8_t)((v / (e % 5 == 0 ? 1 : 3 * (e % 5))) % 3 - 1);
        int x = v;
        for (int i = 0; i < 5; ++i) {  // byte 0's five values: 0, 32, 64, 96, 128
            t[32 * i] = (int8_t)(x % 3 - 1);
            x /= 3;
        }
        kernels::tq1_pack(t.data(), 256, 0x3c00, block.data());
        uint16_t d = 0;
        kernels::tq1_unpack(block.data(), 256, back.data(), &d);
        ASSERT_EQ(back, t) << v;
        ASSERT_EQ(d, 0x3c00);
    }
}

}  // namespace
}  // namespace bitnet
