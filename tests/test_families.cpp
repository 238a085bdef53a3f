// The other ternary families and formats (issue 10): format equivalence (TQ2_0, TQ1_0 and I2_S
// of the same trits give bit-identical logits; TQ tensors decode to exactly the F32 twin's
// weights), the exact per-block path of TQ files whose blocks have different scales, the arch
// table (hidden_activation, tensor names), the normal-RoPE kernel on every ISA, and hostile
// files of the new types (wrong block counts, truncated data, colliding type ids, bad codes).
// The model references themselves are in test_model_reference.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "bitnet.h"
#include "common/fp16.h"
#include "fixtures.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "kernel_isas.h"
#include "kernels/kernels.h"
#include "reference.h"

using bitnet::gguf::File;
using bitnet::gguf::KeyValue;
using bitnet::gguf::TensorInfo;
using bitnet::gguf::TensorType;
using bitnet::gguf::Writer;
using bitnet::test::fixture;
using bitnet::test::generated_fixture;
namespace kernels = bitnet::kernels;

namespace {

// The token ids of the fixtures' fox prompt.
const std::vector<bitnet_token> kFox =
    bitnet::test::load_reference("reference/exact", "tiny-llama-tq2", "fox").token_ids;

std::vector<kernels::Isa> all_isas() {
    std::vector<kernels::Isa> v{kernels::Isa::Scalar};
    for (kernels::Isa isa : kernels::simd_isas()) v.push_back(isa);
    return v;
}

// Copies `src` with every tensor passed through `edit` (name, type, ne, bytes; return false to
// drop it) and the metadata through `kv`; returns the written path.
using TensorEdit =
    std::function<bool(const std::string &, TensorType &, std::vector<int64_t> &, std::vector<uint8_t> &)>;
// `extra` may add metadata after the file's own.
std::string rewrite(const std::string &src, const std::string &out_name, const TensorEdit &edit,
                    const std::function<bool(KeyValue &)> &kv = [](KeyValue &) { return true; },
                    const std::function<void(Writer &)> &extra = [](Writer &) {}) {
    auto f = File::open(src);
    Writer w;
    for (KeyValue k : f->metadata()) {
        if (kv(k)) w.add_value(k.key, k.value);
    }
    extra(w);
    for (const TensorInfo &t : f->tensors()) {
        TensorType type = t.type;
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        std::vector<uint8_t> data(t.data, t.data + t.nbytes);
        if (edit(t.name, type, ne, data)) w.add_tensor(t.name, type, ne, std::move(data));
    }
    const std::string path = ::testing::TempDir() + out_name;
    w.write(path);
    return path;
}

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_file(const std::string &path, const std::vector<uint8_t> &b) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(b.data()), (std::streamsize)b.size());
}

// Byte offset of tensor `name`'s info record field after the name: n_dims (u32), ne (u64 each),
// type (u32). Found by the name's length-prefixed bytes (tensor names are unique and do not
// occur in the metadata of the fixtures as length-prefixed strings).
size_t info_after_name(const std::vector<uint8_t> &b, const std::string &name) {
    std::vector<uint8_t> pat(8 + name.size());
    const uint64_t len = name.size();
    std::memcpy(pat.data(), &len, 8);
    std::memcpy(pat.data() + 8, name.data(), name.size());
    auto it = std::search(b.begin(), b.end(), pat.begin(), pat.end());
    EXPECT_NE(it, b.end()) << name;
    return (size_t)(it - b.begin()) + pat.size();
}
void patch_u32(std::vector<uint8_t> &b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void patch_u64(std::vector<uint8_t> &b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }
size_t type_field(const std::vector<uint8_t> &b, const std::string &name) {
    const size_t at = info_after_name(b, name);
    uint32_t n_dims;
    std::memcpy(&n_dims, b.data() + at, 4);
    return at + 4 + 8 * n_dims;
}

struct Loaded {
    bitnet_model *m = nullptr;
    bitnet_status st;
    std::string msg;
    explicit Loaded(const std::string &path) {
        st = bitnet_model_load(path.c_str(), nullptr, &m);
        msg = bitnet_last_error_message();
    }
    ~Loaded() { bitnet_model_free(m); }
};

// All logits of a prompt (one batch) followed by three decode steps, K/V in float32.
std::vector<float> run_logits(bitnet_model *m, const std::vector<bitnet_token> &ids) {
    bitnet_context_params p = bitnet_context_default_params();
    p.kv_type = BITNET_KV_F32;
    p.n_ctx = 64;
    p.n_threads = 2;
    bitnet_context *c = nullptr;
    EXPECT_EQ(bitnet_context_new(m, &p, &c), BITNET_OK);
    const int32_t nv = bitnet_model_n_vocab(m);
    EXPECT_EQ(bitnet_eval(c, ids.data(), ids.size(), BITNET_LOGITS_ALL), BITNET_OK);
    std::vector<float> out(bitnet_get_logits(c, 0), bitnet_get_logits(c, 0) + ids.size() * nv);
    for (bitnet_token t : {1000, 2000, 3000}) {
        EXPECT_EQ(bitnet_eval(c, &t, 1, BITNET_LOGITS_LAST), BITNET_OK);
        out.insert(out.end(), bitnet_get_logits(c, -1), bitnet_get_logits(c, -1) + nv);
    }
    bitnet_context_free(c);
    return out;
}

// TQ2_0 bytes of a tensor -> the same trits as TQ1_0 (same block scales) or I2_S (the tensor's
// one scale; every block of the fixtures has the same d).
std::vector<uint8_t> tq2_to(TensorType to, const std::vector<int64_t> &ne, const std::vector<uint8_t> &tq2) {
    const int64_t n = ne[0] * ne[1];
    std::vector<int8_t> t((size_t)n);
    std::vector<uint16_t> d((size_t)(n / kernels::kTqBlock));
    kernels::tq2_unpack(tq2.data(), n, t.data(), d.data());
    for (uint16_t x : d) EXPECT_EQ(x, d[0]);
    std::vector<uint8_t> out;
    if (to == TensorType::TQ1_0) {
        out.resize((size_t)(n / kernels::kTqBlock * kernels::kTq1BlockBytes));
        kernels::tq1_pack(t.data(), n, d[0], out.data());
    } else {
        out.assign((size_t)(n / 4 + 32), 0);
        kernels::i2s_pack(t.data(), n, out.data());
        const float s = bitnet::f16_to_f32(d[0]);
        std::memcpy(out.data() + n / 4, &s, 4);
    }
    return out;
}

TEST(Families, Tq2Tq1AndI2sOfTheSameTritsAreBitIdentical) {
    const std::string src = generated_fixture("tiny-llama-tq2.gguf");
    std::vector<std::vector<float>> runs;
    for (TensorType to : {TensorType::TQ2_0, TensorType::TQ1_0, TensorType::I2_S}) {
        const std::string path = rewrite(src, "fam_same_trits.gguf",
            [&](const std::string &, TensorType &type, std::vector<int64_t> &ne, std::vector<uint8_t> &data) {
                if (type == TensorType::TQ2_0 && to != TensorType::TQ2_0) {
                    data = tq2_to(to, ne, data);
                    type = to;
                }
                return true;
            });
        Loaded l(path);
        ASSERT_EQ(l.st, BITNET_OK) << l.msg;
        runs.push_back(run_logits(l.m, kFox));
        std::remove(path.c_str());
    }
    for (size_t r = 1; r < runs.size(); ++r) {
        ASSERT_EQ(runs[r].size(), runs[0].size());
        for (size_t i = 0; i < runs[0].size(); ++i) ASSERT_EQ(runs[r][i], runs[0][i]) << r << " " << i;
    }
}

// The TQ file's ternary tensors (times their `.scale`) are exactly the F32 twin's.
TEST(Families, TernaryTensorsDecodeToTheF32Twin) {
    for (const char *pair : {"tiny-llama", "tiny-bitnet"}) {
        const bool bitnet = std::string(pair) == "tiny-bitnet";
        auto tq = File::open(generated_fixture(std::string(pair) + (bitnet ? "-tq1.gguf" : "-tq2.gguf")));
        auto f32 = File::open(generated_fixture(std::string(pair) + "-f32.gguf"));
        int compared = 0;
        for (const TensorInfo &t : tq->tensors()) {
            const bitnet::formats::Traits &tr = bitnet::formats::traits(t.type);
            if (!tr.ternary) continue;
            const TensorInfo *twin = f32->find_tensor(t.name);
            ASSERT_NE(twin, nullptr) << t.name;
            ASSERT_EQ(twin->type, TensorType::F32);
            const int64_t k = t.ne[0], rb = bitnet::formats::row_bytes(t.type, k);
            std::vector<float> row((size_t)k);
            for (int64_t r = 0; r < t.ne[1]; ++r) {
                tr.to_float(t.data + r * rb, k, row.data());
                const float *want = reinterpret_cast<const float *>(twin->data) + r * k;
                for (int64_t i = 0; i < k; ++i) ASSERT_EQ(row[i], want[i]) << t.name << " row " << r;
            }
            ++compared;
        }
        EXPECT_EQ(compared, 14) << pair;
    }
}

// Blocks with different scales take the exact per-block path: a file whose blocks' d differ by
// one F16 step (2^-10 relative) in every other block of one tensor loads and runs on every ISA,
// with logits that move (the scales take effect) but stay within the perturbation's reach.
TEST(Families, TqBlocksWithDifferentScalesRun) {
    const std::string src = generated_fixture("tiny-llama-tq2.gguf");
    const std::string path = rewrite(src, "fam_block_scales.gguf",
        [&](const std::string &name, TensorType &type, std::vector<int64_t> &, std::vector<uint8_t> &data) {
            if (name == "blk.0.ffn_down.weight" && type == TensorType::TQ2_0) {
                for (size_t b = 1; b < data.size() / kernels::kTq2BlockBytes; b += 2) {
                    uint16_t d;
                    std::memcpy(&d, data.data() + b * 66 + 64, 2);
                    ++d;  // the next F16 value
                    std::memcpy(data.data() + b * 66 + 64, &d, 2);
                }
            }
            return true;
        });
    Loaded base(src), odd(path);
    ASSERT_EQ(odd.st, BITNET_OK) << odd.msg;
    const kernels::Isa original = kernels::active().isa;
    for (kernels::Isa isa : all_isas()) {
        kernels::set_active_isa(isa);
        const std::vector<float> a = run_logits(base.m, kFox), b = run_logits(odd.m, kFox);
        double worst = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            ASSERT_TRUE(std::isfinite(b[i]));
            worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
        }
        EXPECT_GT(worst, 0.0) << kernels::isa_name(isa) << ": the per-block scales must take effect";
        EXPECT_LT(worst, 0.5) << kernels::isa_name(isa);
    }
    kernels::set_active_isa(original);
    std::remove(path.c_str());
}

// The b1.58 model written as arch `bitnet` with hidden_activation = relu2 is the same model: the
// arch switch and the activation override give bit-identical logits.
TEST(Families, HiddenActivationOverridesTheArchDefault) {
    const std::string src = fixture("tiny-b158-i2s.gguf");
    auto rename = [](KeyValue &kv) {
        if (kv.key == "general.architecture") kv.value.str = "bitnet";
        if (kv.key.rfind("bitnet-b1.58.", 0) == 0) kv.key = "bitnet." + kv.key.substr(13);
        return true;
    };
    auto keep = [](const std::string &, TensorType &, std::vector<int64_t> &, std::vector<uint8_t> &) { return true; };
    const std::string silu = rewrite(src, "fam_bitnet_silu.gguf", keep, rename);
    const std::string relu2 = rewrite(src, "fam_bitnet_relu2.gguf", keep, rename, [](Writer &w) {
        w.add_string("bitnet.hidden_activation", "relu2");
    });
    Loaded orig(src), as_silu(silu), as_relu2(relu2);
    ASSERT_EQ(as_relu2.st, BITNET_OK) << as_relu2.msg;
    ASSERT_EQ(as_silu.st, BITNET_OK) << as_silu.msg;
    EXPECT_STREQ(bitnet_model_architecture(as_relu2.m), "bitnet");
    const auto a = run_logits(orig.m, kFox), b = run_logits(as_relu2.m, kFox),
               c = run_logits(as_silu.m, kFox);
    double silu_diff = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i], b[i]) << i;
        silu_diff = std::max(silu_diff, (double)std::fabs(a[i] - c[i]));
    }
    EXPECT_GT(silu_diff, 0.1) << "arch bitnet defaults to SiLU";
    std::remove(silu.c_str());
    std::remove(relu2.c_str());
}

TEST(Families, ArchTable) {
    using bitnet::arch::Role;
    EXPECT_EQ(bitnet::arch::tensor_name(Role::AttnQ, 3), "blk.3.attn_q.weight");
    EXPECT_EQ(bitnet::arch::tensor_name(Role::FfnDown, 0, "scale"), "blk.0.ffn_down.scale");
    EXPECT_EQ(bitnet::arch::tensor_name(Role::TokenEmbd), "token_embd.weight");
    ASSERT_NE(bitnet::arch::find("bitnet-25"), nullptr);
    EXPECT_STREQ(bitnet::arch::find("bitnet-25")->name, "bitnet-b1.58");
    EXPECT_EQ(bitnet::arch::find("llama")->rope, bitnet::arch::RopeType::Norm);
    EXPECT_EQ(bitnet::arch::find("bitnet")->act, bitnet::arch::Activation::Silu);
    EXPECT_FALSE(bitnet::arch::find("llama")->sub_norms);
    EXPECT_EQ(bitnet::arch::find("qwen3"), nullptr);
}

// Normal RoPE: every ISA bit-identical to the scalar reference, which rotates pairs (2i, 2i+1).
TEST(Families, RopeNormMatchesScalarOnEveryIsa) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (int64_t head_dim : {64, 256, 34}) {
        for (int64_t n_rot : {head_dim, head_dim - 2}) {
            const int64_t n_heads = 3, half = n_rot / 2;
            std::vector<float> v((size_t)(n_heads * head_dim)), c((size_t)half), s((size_t)half);
            for (float &x : v) x = nd(rng);
            for (int64_t i = 0; i < half; ++i) {
                c[i] = std::cos(0.37f * (float)i + 1.0f);
                s[i] = std::sin(0.37f * (float)i + 1.0f);
            }
            std::vector<float> want = v;
            kernels::rope_norm_scalar(want.data(), n_heads, head_dim, n_rot, c.data(), s.data());
            // The reference itself: adjacent pairs rotated, the rest untouched.
            for (int64_t h = 0; h < n_heads; ++h) {
                for (int64_t i = 0; i < half; ++i) {
                    const float x0 = v[h * head_dim + 2 * i], x1 = v[h * head_dim + 2 * i + 1];
                    ASSERT_EQ(want[h * head_dim + 2 * i], x0 * c[i] - x1 * s[i]);
                    ASSERT_EQ(want[h * head_dim + 2 * i + 1], x0 * s[i] + x1 * c[i]);
                }
                for (int64_t i = n_rot; i < head_dim; ++i) ASSERT_EQ(want[h * head_dim + i], v[h * head_dim + i]);
            }
            for (kernels::Isa isa : all_isas()) {
                std::vector<float> got = v;
                kernels::table(isa).rope_norm(got.data(), n_heads, head_dim, n_rot, c.data(), s.data());
                for (size_t i = 0; i < got.size(); ++i) {
                    ASSERT_EQ(got[i], want[i]) << kernels::isa_name(isa) << " head_dim " << head_dim;
                }
            }
        }
    }
}

// ---- hostile files ----

std::string patched(const std::string &src, const std::string &out,
                    const std::function<void(std::vector<uint8_t> &)> &patch) {
    std::vector<uint8_t> b = read_file(src);
    patch(b);
    const std::string path = ::testing::TempDir() + out;
    write_file(path, b);
    return path;
}

TEST(FamiliesHostile, CollidingTypeIdsNameTheFormat) {
    const std::string src = generated_fixture("tiny-llama-tq2.gguf");
    const struct {
        uint32_t id;
        const char *name;
    } cases[] = {{38, "TL1"}, {39, "TL2"}, {134, "IQ1_BN"}, {135, "IQ2_BN"}, {335, "IQ2_BN_R4"}, {37, "I8_S"}};
    for (const auto &c : cases) {
        const std::string path = patched(src, "fam_foreign.gguf", [&](std::vector<uint8_t> &b) {
            patch_u32(b, type_field(b, "blk.0.attn_q.weight"), c.id);
        });
        Loaded l(path);
        EXPECT_EQ(l.st, BITNET_ERR_UNSUPPORTED) << c.id;
        EXPECT_NE(l.msg.find(c.name), std::string::npos) << l.msg;
        EXPECT_NE(l.msg.find("blk.0.attn_q.weight"), std::string::npos) << l.msg;
        EXPECT_NE(l.msg.find("TQ2_0"), std::string::npos) << "says what to get instead: " << l.msg;
        std::remove(path.c_str());
    }
}

// An I2_S tensor of n values occupies n/4 + 32 bytes: exactly bitnet.cpp's TL1 size (n/4 plus the
// 32-byte scale slot), so relabelled 38 it is identified as TL1 by its size; a Q4_0 tensor's
// n/32*18 bytes are close to MXFP4's n/32*17, so relabelled 39 it reads as MXFP4.
TEST(FamiliesHostile, ForeignTypesAreToldApartBySize) {
    Writer w;
    w.add_string("general.architecture", "bitnet-b1.58");
    std::vector<uint8_t> i2s(256 * 4 / 4 + 32, 0x55), q4(1024 / 32 * 18, 0);
    w.add_tensor("a.weight", TensorType::I2_S, {256, 4}, i2s.data(), i2s.size());
    w.add_tensor("b.weight", TensorType::Q4_0, {1024, 1}, q4.data(), q4.size());
    std::vector<uint8_t> bytes = w.to_bytes();
    for (const auto &[name, id, want] : {std::tuple{"a.weight", 38u, "TL1 of bitnet.cpp (ids"},
                                         std::tuple{"b.weight", 39u, "MXFP4"}}) {
        std::vector<uint8_t> b = bytes;
        patch_u32(b, type_field(b, name), id);
        try {
            File::from_memory(b.data(), b.size(), "foreign.gguf");
            ADD_FAILURE() << "type " << id << " accepted";
        } catch (const std::exception &e) {
            EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
        }
    }
}

TEST(FamiliesHostile, WrongBlockCountsAndTruncatedScales) {
    const std::string src = generated_fixture("tiny-llama-tq2.gguf");
    // ne0 not a whole number of 256-value blocks.
    std::string path = patched(src, "fam_ne0.gguf", [&](std::vector<uint8_t> &b) {
        patch_u64(b, info_after_name(b, "blk.1.attn_k.weight") + 4, 200);
    });
    {
        Loaded l(path);
        EXPECT_EQ(l.st, BITNET_ERR_BAD_FORMAT);
        EXPECT_NE(l.msg.find("multiple of 256"), std::string::npos) << l.msg;
    }
    // More blocks than the data holds: the tensor overlaps the next one.
    path = patched(src, "fam_rows.gguf", [&](std::vector<uint8_t> &b) {
        patch_u64(b, info_after_name(b, "blk.0.attn_k.weight") + 12, 512);
    });
    {
        Loaded l(path);
        EXPECT_EQ(l.st, BITNET_ERR_BAD_FORMAT) << l.msg;
    }
    // The file cut inside the last tensor's blocks (its trailing scales missing).
    path = patched(src, "fam_trunc.gguf", [&](std::vector<uint8_t> &b) { b.resize(b.size() - 40); });
    {
        Loaded l(path);
        EXPECT_EQ(l.st, BITNET_ERR_BAD_FORMAT);
        EXPECT_NE(l.msg.find("outside the file"), std::string::npos) << l.msg;
    }
    std::remove(path.c_str());
}

TEST(FamiliesHostile, BadCodesAndScales) {
    const std::string src = generated_fixture("tiny-llama-tq2.gguf");
    const struct {
        const char *what;
        std::function<void(std::vector<uint8_t> &)> edit;
    } cases[] = {
        {"code 3", [](std::vector<uint8_t> &d) { d[5] |= 0x03; }},
        {"NaN scale", [](std::vector<uint8_t> &d) { d[64] = 0x00; d[65] = 0x7e; }},
    };
    for (const auto &c : cases) {
        const std::string path = rewrite(src, "fam_bad.gguf",
            [&](const std::string &name, TensorType &, std::vector<int64_t> &, std::vector<uint8_t> &data) {
                if (name == "blk.1.ffn_up.weight") c.edit(data);
                return true;
            });
        Loaded l(path);
        EXPECT_EQ(l.st, BITNET_ERR_BAD_FORMAT) << c.what;
        EXPECT_NE(l.msg.find("blk.1.ffn_up.weight"), std::string::npos) << l.msg;
        std::remove(path.c_str());
    }
}

TEST(FamiliesHostile, TernaryTypeAsEmbeddingIsUnsupported) {
    const std::string src = generated_fixture("tiny-llama-tq2.gguf");
    // A TQ2_0 embedding table: not a float weight.
    const std::string path = rewrite(src, "fam_embd.gguf",
        [&](const std::string &name, TensorType &type, std::vector<int64_t> &ne, std::vector<uint8_t> &data) {
            if (name == "token_embd.weight") {
                const int64_t n = ne[0] * ne[1];
                std::vector<int8_t> t((size_t)n, 1);
                data.assign((size_t)(n / 256 * 66), 0);
                kernels::tq2_pack(t.data(), n, bitnet::f32_to_f16(0.5f), data.data());
                type = TensorType::TQ2_0;
            }
            return true;
        });
    Loaded l(path);
    EXPECT_EQ(l.st, BITNET_ERR_UNSUPPORTED);
    EXPECT_NE(l.msg.find("token_embd.weight"), std::string::npos) << l.msg;
    std::remove(path.c_str());
}

}  // namespace

// ---- embedding and head types ----

namespace quant {

void put_half(uint8_t *p, float v) {
    const uint16_t h = bitnet::f32_to_f16(v);
    std::memcpy(p, &h, 2);
}

// Writers of ggml's block layouts (ggml-common.h), from integer codes chosen by the test, with
// the value each element must decode to: d * q (Q8_0, Q4_0) or d * scale * q (Q6_K).
struct Encoded {
    std::vector<uint8_t> bytes;
    std::vector<float> values;
};

Encoded q8_0(int64_t n, std::mt19937 &rng) {
    Encoded e;
    e.bytes.resize((size_t)(n / 32 * 34));
    e.values.resize((size_t)n);
    for (int64_t b = 0; b < n / 32; ++b) {
        const float d = bitnet::f16_to_f32(bitnet::f32_to_f16(0.001f * (float)(1 + rng() % 50)));
        uint8_t *p = e.bytes.data() + b * 34;
        put_half(p, d);
        for (int j = 0; j < 32; ++j) {
            const int q = (int)(rng() % 255) - 127;
            p[2 + j] = (uint8_t)(int8_t)q;
            e.values[(size_t)(b * 32 + j)] = (float)q * d;
        }
    }
    return e;
}

Encoded q4_0(int64_t n, std::mt19937 &rng) {
    Encoded e;
    e.bytes.assign((size_t)(n / 32 * 18), 0);
    e.values.resize((size_t)n);
    for (int64_t b = 0; b < n / 32; ++b) {
        const float d = bitnet::f16_to_f32(bitnet::f32_to_f16(0.01f * (float)(1 + rng() % 50)));
        uint8_t *p = e.bytes.data() + b * 18;
        put_half(p, d);
        for (int j = 0; j < 32; ++j) {
            const int q = (int)(rng() % 16);  // stored nibble; value (q - 8) * d
            p[2 + j % 16] |= (uint8_t)(j < 16 ? q : q << 4);
            e.values[(size_t)(b * 32 + j)] = (float)(q - 8) * d;
        }
    }
    return e;
}

// Q6_K: element e of a 256 block: half h = e / 128, r = e % 128, quarter c = r / 32, l = r % 32;
// low 4 bits in ql[64h + l + 32*(c&1)] (low nibble for c < 2, high nibble for c >= 2), high 2
// bits in qh[32h + l] bits 2c..2c+1, scale scales[8h + l/16 + 2c], value d * scale * (q - 32).
Encoded q6_k(int64_t n, std::mt19937 &rng, float d_step = 0.0005f) {
    Encoded e;
    e.bytes.assign((size_t)(n / 256 * 210), 0);
    e.values.resize((size_t)n);
    for (int64_t b = 0; b < n / 256; ++b) {
        uint8_t *p = e.bytes.data() + b * 210;
        int8_t *sc = reinterpret_cast<int8_t *>(p + 192);
        for (int i = 0; i < 16; ++i) sc[i] = (int8_t)((int)(rng() % 64) - 32);
        const float d = bitnet::f16_to_f32(bitnet::f32_to_f16(d_step * (float)(1 + rng() % 20)));
        put_half(p + 208, d);
        for (int el = 0; el < 256; ++el) {
            const int h = el / 128, r = el % 128, c = r / 32, l = r % 32;
            const int q = (int)(rng() % 64);
            uint8_t &lo = p[64 * h + l + 32 * (c & 1)];
            lo |= (uint8_t)(c < 2 ? (q & 15) : (q & 15) << 4);
            p[128 + 32 * h + l] |= (uint8_t)((q >> 4) << (2 * c));
            e.values[(size_t)(b * 256 + el)] = d * (float)sc[8 * h + l / 16 + 2 * c] * (float)(q - 32);
        }
    }
    return e;
}

}  // namespace quant

TEST(Families, BlockTypesDecodeToTheirValues) {
    std::mt19937 rng(11);
    const int64_t n = 1024;
    const struct {
        TensorType type;
        quant::Encoded e;
    } cases[] = {{TensorType::Q8_0, quant::q8_0(n, rng)},
                 {TensorType::Q4_0, quant::q4_0(n, rng)},
                 {TensorType::Q6_K, quant::q6_k(n, rng)}};
    for (const auto &c : cases) {
        std::vector<float> got((size_t)n);
        bitnet::formats::traits(c.type).to_float(c.e.bytes.data(), n, got.data());
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_EQ(got[(size_t)i], c.e.values[(size_t)i]) << bitnet::formats::traits(c.type).name << " " << i;
        }
        EXPECT_EQ(bitnet::formats::row_bytes(c.type, n), (int64_t)c.e.bytes.size());
    }
}

// Q8_0 embeddings with an untied Q6_K output.weight (|w| <= 1): the same logits as a copy holding
// those tensors' values in F32, within the F16 rounding of the dequantised head.
TEST(Families, QuantisedEmbeddingAndUntiedHead) {
    const std::string src = generated_fixture("tiny-llama-tq2.gguf");
    std::mt19937 rng(3);
    auto f = File::open(src);
    const TensorInfo *embd = f->find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    const int64_t n = embd->ne[0] * embd->ne[1];
    const quant::Encoded e8 = quant::q8_0(n, rng);
    // One head type (each case writes two 200 MB files); the others' decoding is covered above.
    for (TensorType head : {TensorType::Q6_K}) {
        const quant::Encoded eh = quant::q6_k(n, rng, 0.00005f);
        auto as_f32 = [](const std::vector<float> &v) {
            std::vector<uint8_t> b(v.size() * 4);
            std::memcpy(b.data(), v.data(), b.size());
            return b;
        };
        std::vector<std::string> paths;
        for (bool quantised : {true, false}) {
            const std::string name = quantised ? "fam_q.gguf" : "fam_qf32.gguf";
            auto f2 = File::open(src);
            Writer w;
            for (const KeyValue &kv : f2->metadata()) w.add_value(kv.key, kv.value);
            for (const TensorInfo &t : f2->tensors()) {
                std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
                if (t.name == "token_embd.weight") {
                    if (quantised) w.add_tensor(t.name, TensorType::Q8_0, ne, e8.bytes.data(), e8.bytes.size());
                    else w.add_tensor(t.name, TensorType::F32, ne, as_f32(e8.values));
                    if (quantised) w.add_tensor("output.weight", head, ne, eh.bytes.data(), eh.bytes.size());
                    else w.add_tensor("output.weight", TensorType::F32, ne, as_f32(eh.values));
                } else {
                    w.add_tensor(t.name, t.type, ne, t.data, t.nbytes);
                }
            }
            paths.push_back(::testing::TempDir() + name);
            w.write(paths.back());
        }
        Loaded q(paths[0]), fl(paths[1]);
        ASSERT_EQ(q.st, BITNET_OK) << q.msg;
        ASSERT_EQ(fl.st, BITNET_OK) << fl.msg;
        const auto a = run_logits(q.m, kFox), b = run_logits(fl.m, kFox);
        double worst = 0;
        for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
        // The only difference: the head rounded to F16 at load (relative 2^-11 per weight).
        EXPECT_LE(worst, 0.02) << bitnet::formats::traits(head).name;
        EXPECT_GT(worst, 0.0) << "the untied head must be used";
        for (const auto &p : paths) std::remove(p.c_str());
    }
}

// ---- chat formats and pre-tokenizers ----

TEST(FamiliesChat, TemplatesAreRecognised) {
    using bitnet::ChatFormat;
    // Meta's Llama 3 Instruct template (abridged), TII's Falcon3 Instruct template (abridged) and
    // the one Microsoft's converter writes into BitNet GGUFs.
    const std::string llama3 =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
        "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
        "trim + '<|eot_id|>' %}{{ content }}{% endfor %}";
    const std::string falcon3 =
        "{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|system|>\\n' + "
        "message['content'] + '\\n' }}{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + "
        "message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' "
        "+ message['content'] + eos_token + '\\n' }}{% endif %}{% endfor %}";
    const std::string b2b4t =
        "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}{% if "
        "message['role'] == 'user' %}{{ 'Human: ' + message['content'] + '\\n\\nBITNETAssistant: ' "
        "+ eos_token }}{% endif %}{% endfor %}";
    EXPECT_EQ(bitnet::detect_chat_template(llama3), ChatFormat::Llama3);
    EXPECT_EQ(bitnet::detect_chat_template(falcon3), ChatFormat::Falcon3);
    EXPECT_EQ(bitnet::detect_chat_template(b2b4t), ChatFormat::Bitnet2B4T);
    EXPECT_FALSE(bitnet::detect_chat_template("{{ messages }}").has_value());
}

TEST(FamiliesChat, FormatsRender) {
    using bitnet::ChatFormat;
    const std::vector<bitnet::ChatMessage> msgs = {
        {"system", " Be brief. "}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
    EXPECT_EQ(bitnet::format_chat(ChatFormat::Llama3, msgs, true),
              "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    EXPECT_EQ(bitnet::format_chat(ChatFormat::Falcon3, msgs, true, "<|endoftext|>"),
              "<|system|>\n Be brief. \n<|user|>\nHi\n<|assistant|>\nHello<|endoftext|>\n"
              "<|user|>\nBye\n<|assistant|>\n");
    EXPECT_EQ(bitnet::format_chat(ChatFormat::Bitnet2B4T, msgs, true),
              "System: Be brief.<|eot_id|>User: Hi<|eot_id|>Assistant: Hello<|eot_id|>"
              "User: Bye<|eot_id|>Assistant: ");
    EXPECT_EQ(bitnet::chat_turn_end(ChatFormat::Falcon3, "<|endoftext|>"), "<|endoftext|>\n");
    EXPECT_EQ(bitnet::chat_turn_end(ChatFormat::Llama3, ""), "<|eot_id|>");
}

// Fixtures without a template get their architecture's default; a template in the file wins.
TEST(FamiliesChat, ModelChoosesItsFormat) {
    {
        Loaded b158(fixture("tiny-b158-i2s.gguf")), llama(generated_fixture("tiny-llama-tq2.gguf"));
        ASSERT_EQ(llama.st, BITNET_OK) << llama.msg;
        EXPECT_STREQ(bitnet_model_chat_template(b158.m), "bitnet-2b4t");
        EXPECT_STREQ(bitnet_model_chat_template(llama.m), "llama3");
        const bitnet_chat_message msg{"user", "Hi"};
        char buf[256];
        size_t need = 0;
        ASSERT_EQ(bitnet_model_chat_format(llama.m, &msg, 1, 1, buf, sizeof buf, &need), BITNET_OK);
        EXPECT_STREQ(buf, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\n");
        EXPECT_EQ(bitnet_model_chat_format(nullptr, &msg, 1, 1, buf, sizeof buf, &need),
                  BITNET_ERR_INVALID_ARGUMENT);
    }
    const std::string path2 = rewrite(fixture("tiny-b158-i2s.gguf"), "fam_falcon_tmpl.gguf",
        [](const std::string &, TensorType &, std::vector<int64_t> &, std::vector<uint8_t> &) { return true; },
        [](KeyValue &kv) {
            if (kv.key == "tokenizer.ggml.pre") kv.value.str = "falcon3";
            return true;
        },
        [](Writer &w) { w.add_string("tokenizer.chat_template", "{{ '<|user|>\\n' }}{{ '<|assistant|>\\n' }}"); });
    Loaded falcon(path2), plain(fixture("tiny-b158-i2s.gguf"));
    ASSERT_EQ(falcon.st, BITNET_OK) << falcon.msg;
    EXPECT_STREQ(bitnet_model_chat_template(falcon.m), "falcon3");
    EXPECT_STREQ(bitnet_model_chat_turn_end(falcon.m), "<|end_of_text|>\n");
    // tokenizer.ggml.pre = falcon3 tokenizes as the Llama 3 pre-tokenizer does.
    const char *text = "Hello  world!! 123456 don't\n\n  ünïcödé";
    bitnet_token a[64], b[64];
    size_t na = 0, nb = 0;
    ASSERT_EQ(bitnet_tokenize(falcon.m, text, std::strlen(text), 1, 0, a, 64, &na), BITNET_OK);
    ASSERT_EQ(bitnet_tokenize(plain.m, text, std::strlen(text), 1, 0, b, 64, &nb), BITNET_OK);
    ASSERT_EQ(na, nb);
    for (size_t i = 0; i < na; ++i) EXPECT_EQ(a[i], b[i]);
    std::remove(path2.c_str());
}

// ---- head_dim from metadata (Falcon3: 256, not n_embd / n_head) ----

// tiny-llama-f32 (4 heads of 64, 2 KV heads) rewritten with attention.key_length = 128: each
// head keeps its 64 rotated dimensions (rope.dimension_count stays 64, so the same angles) and
// gains 64 zero dimensions in Q, K and V; Q is scaled by sqrt(2) so that 1/sqrt(128) gives the
// old scores. The model is then the fixture's function, so the exact reference applies (1e-3).
TEST(Families, HeadDimFromKeyLength) {
    const int64_t n_embd = 256, old_hd = 64, hd = 128;
    auto widen_rows = [&](const std::vector<uint8_t> &data, int64_t heads, float scale) {
        const float *src = reinterpret_cast<const float *>(data.data());
        std::vector<float> out((size_t)(heads * hd * n_embd), 0.0f);
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t j = 0; j < old_hd; ++j)
                for (int64_t i = 0; i < n_embd; ++i)
                    out[(size_t)((h * hd + j) * n_embd + i)] = src[(h * old_hd + j) * n_embd + i] * scale;
        return out;
    };
    const std::string path = rewrite(generated_fixture("tiny-llama-f32.gguf"), "fam_head_dim.gguf",
        [&](const std::string &name, TensorType &type, std::vector<int64_t> &ne, std::vector<uint8_t> &data) {
            if (type != TensorType::F32 || ne.size() != 2) return true;
            std::vector<float> out;
            if (name.find("attn_q.weight") != std::string::npos) out = widen_rows(data, 4, std::sqrt(2.0f));
            if (name.find("attn_k.weight") != std::string::npos) out = widen_rows(data, 2, 1.0f);
            if (name.find("attn_v.weight") != std::string::npos) out = widen_rows(data, 2, 1.0f);
            if (!out.empty()) {
                ne[1] = (int64_t)out.size() / n_embd;
            } else if (name.find("attn_output.weight") != std::string::npos) {
                const float *src = reinterpret_cast<const float *>(data.data());
                out = std::vector<float>((size_t)(n_embd * 4 * hd), 0.0f);
                for (int64_t r = 0; r < n_embd; ++r)
                    for (int64_t h = 0; h < 4; ++h)
                        for (int64_t j = 0; j < old_hd; ++j)
                            out[(size_t)(r * 4 * hd + h * hd + j)] = src[r * 4 * old_hd + h * old_hd + j];
                ne[0] = 4 * hd;
            } else {
                return true;
            }
            data.resize(out.size() * 4);
            std::memcpy(data.data(), out.data(), data.size());
            return true;
        },
        [](KeyValue &kv) {
            if (kv.key == "llama.rope.dimension_count") EXPECT_EQ(kv.value.u64, 64u);
            return true;
        },
        [](Writer &w) {
            w.add_u32("llama.attention.key_length", 128);
            w.add_u32("llama.attention.value_length", 128);
        });
    Loaded l(path);
    ASSERT_EQ(l.st, BITNET_OK) << l.msg;
    const bitnet::test::Reference ref =
        bitnet::test::load_reference("reference/exact", "tiny-llama-f32", "fox");
    const std::vector<float> got = run_logits(l.m, ref.token_ids);
    const int32_t nv = bitnet_model_n_vocab(l.m);
    double worst = 0;
    for (size_t p = 0; p < ref.positions.size(); ++p) {
        for (const auto &[id, logit] : ref.positions[p].top8) {
            worst = std::max(worst, (double)std::fabs(got[p * nv + id] - logit));
        }
    }
    EXPECT_LE(worst, 1e-3);
    std::remove(path.c_str());
}
