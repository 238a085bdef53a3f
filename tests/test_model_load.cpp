// Model binding: architectures, hyper-parameter and tensor validation, through the C API on
// variants of the fixture model written with the GGUF writer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bitnet.h"
#include "common/fp16.h"
#include "fixtures.h"
#include "gguf/gguf.h"

using bitnet::gguf::File;
using bitnet::gguf::KeyValue;
using bitnet::gguf::TensorInfo;
using bitnet::gguf::TensorType;
using bitnet::gguf::Writer;
using bitnet::test::fixture;

namespace {

struct Edit {
    // Return false to drop the key/tensor; may modify the key name/value.
    std::function<bool(KeyValue &)> kv = [](KeyValue &) { return true; };
    std::function<bool(std::string &name, TensorType &type, std::vector<int64_t> &ne,
                       std::vector<uint8_t> &data)>
        tensor = [](std::string &, TensorType &, std::vector<int64_t> &, std::vector<uint8_t> &) {
            return true;
        };
    std::function<void(Writer &, const File &)> extra = [](Writer &, const File &) {};
};

// Writes a copy of a fixture with edits applied; returns its path.
std::string rewrite(const std::string &src, const Edit &e, const std::string &out_name) {
    auto f = File::open(fixture(src));
    Writer w;
    for (KeyValue kv : f->metadata()) {
        if (e.kv(kv)) w.add_value(kv.key, kv.value);
    }
    for (const TensorInfo &t : f->tensors()) {
        std::string name = t.name;
        TensorType type = t.type;
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        std::vector<uint8_t> data(t.data, t.data + t.nbytes);
        if (e.tensor(name, type, ne, data)) w.add_tensor(name, type, ne, std::move(data));
    }
    e.extra(w, *f);
    const std::string path = ::testing::TempDir() + out_name;
    w.write(path);
    return path;
}

std::vector<float> last_logits(bitnet_model *m, const std::vector<bitnet_token> &ids) {
    bitnet_context_params p = bitnet_context_default_params();
    p.kv_type = BITNET_KV_F32;
    p.n_ctx = 64;
    bitnet_context *c = nullptr;
    EXPECT_EQ(bitnet_context_new(m, &p, &c), BITNET_OK);
    EXPECT_EQ(bitnet_eval(c, ids.data(), ids.size(), BITNET_LOGITS_LAST), BITNET_OK);
    std::vector<float> out(bitnet_get_logits(c, -1),
                           bitnet_get_logits(c, -1) + bitnet_model_n_vocab(m));
    bitnet_context_free(c);
    return out;
}

bitnet_status load(const std::string &path, bitnet_model **m) {
    *m = nullptr;
    return bitnet_model_load(path.c_str(), nullptr, m);
}

const std::vector<bitnet_token> kFox = {128000, 791, 4062, 14198, 39935};

std::string rename_arch(const std::string &key, const std::string &to) {
    const std::string from = "bitnet-b1.58.";
    return key.rfind(from, 0) == 0 ? to + "." + key.substr(from.size()) : key;
}

TEST(ModelLoad, Bitnet25WithSeparateOutputWeight) {
    bitnet_model *orig = nullptr;
    ASSERT_EQ(load(fixture("tiny-b158-i2s.gguf"), &orig), BITNET_OK);
    const auto ref = last_logits(orig, kFox);

    // bitnet-25 with output.weight = 2 x token_embd: the head must use output.weight.
    Edit e;
    e.kv = [](KeyValue &kv) {
        if (kv.key == "general.architecture") kv.value.str = "bitnet-25";
        kv.key = rename_arch(kv.key, "bitnet-25");
        return true;
    };
    e.extra = [](Writer &w, const File &f) {
        const TensorInfo *t = f.find_tensor("token_embd.weight");
        std::vector<uint8_t> data(t->data, t->data + t->nbytes);
        auto *h = reinterpret_cast<uint16_t *>(data.data());
        for (int64_t i = 0; i < t->n_elements(); ++i) {
            h[i] = bitnet::f32_to_f16(2.0f * bitnet::f16_to_f32(h[i]));
        }
        w.add_tensor("output.weight", TensorType::F16, {t->ne[0], t->ne[1]}, std::move(data));
    };
    const std::string path = rewrite("tiny-b158-i2s.gguf", e, "bitnet25.gguf");
    bitnet_model *m = nullptr;
    ASSERT_EQ(load(path, &m), BITNET_OK) << bitnet_last_error_message();
    EXPECT_STREQ(bitnet_model_architecture(m), "bitnet-25");
    const auto got = last_logits(m, kFox);
    for (size_t v = 0; v < got.size(); v += 13) ASSERT_NEAR(got[v], 2.0f * ref[v], 1e-3f) << v;
    bitnet_model_free(m);
    bitnet_model_free(orig);
    std::remove(path.c_str());
}

TEST(ModelLoad, UnknownArchitectureIsUnsupported) {
    Edit e;
    e.kv = [](KeyValue &kv) {
        if (kv.key == "general.architecture") kv.value.str = "qwen3";
        kv.key = rename_arch(kv.key, "qwen3");
        return true;
    };
    const std::string path = rewrite("tiny-b158-i2s.gguf", e, "qwen3_arch.gguf");
    bitnet_model *m = nullptr;
    EXPECT_EQ(load(path, &m), BITNET_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("'qwen3'"), std::string::npos);
    std::remove(path.c_str());
}

TEST(ModelLoad, MissingTensorNamesIt) {
    Edit e;
    e.tensor = [](std::string &name, TensorType &, std::vector<int64_t> &, std::vector<uint8_t> &) {
        return name != "blk.1.ffn_sub_norm.weight";
    };
    const std::string path = rewrite("tiny-b158-i2s.gguf", e, "missing.gguf");
    bitnet_model *m = nullptr;
    EXPECT_EQ(load(path, &m), BITNET_ERR_BAD_FORMAT);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("blk.1.ffn_sub_norm.weight"),
              std::string::npos);
    EXPECT_EQ(m, nullptr);
    std::remove(path.c_str());
}

TEST(ModelLoad, WrongShapeNamesTensorAndShapes) {
    Edit e;
    e.tensor = [](std::string &name, TensorType &, std::vector<int64_t> &ne, std::vector<uint8_t> &) {
        if (name == "blk.0.attn_k.weight") std::swap(ne[0], ne[1]);  // {64, 128}: same bytes
        return true;
    };
    // I2_S needs ne0 % 128 == 0, so transpose an F32 tensor of the f32 file instead.
    const std::string path = rewrite("tiny-b158-f32.gguf", e, "wrong_shape.gguf");
    bitnet_model *m = nullptr;
    EXPECT_EQ(load(path, &m), BITNET_ERR_BAD_FORMAT);
    const std::string msg = bitnet_last_error_message();
    EXPECT_NE(msg.find("blk.0.attn_k.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("{128, 64}"), std::string::npos) << msg;
    std::remove(path.c_str());
}

TEST(ModelLoad, InconsistentHyperParameters) {
    struct Case {
        const char *key;
        uint32_t value;
    };
    for (const Case c : {Case{"bitnet-b1.58.attention.head_count", 3},
                         Case{"bitnet-b1.58.attention.head_count_kv", 3},
                         Case{"bitnet-b1.58.block_count", 0},
                         Case{"bitnet-b1.58.block_count", 3},  // blk.2.* missing
                         Case{"bitnet-b1.58.embedding_length", 64}}) {
        Edit e;
        e.kv = [c](KeyValue &kv) {
            if (kv.key == c.key) {
                kv.value.u64 = c.value;
                kv.value.i64 = c.value;
                kv.value.f64 = c.value;
            }
            return true;
        };
        const std::string path = rewrite("tiny-b158-i2s.gguf", e, "hparams.gguf");
        bitnet_model *m = nullptr;
        EXPECT_EQ(load(path, &m), BITNET_ERR_BAD_FORMAT) << c.key << " = " << c.value;
        EXPECT_EQ(m, nullptr);
        std::remove(path.c_str());
    }
}

TEST(ModelLoad, MissingRequiredMetadata) {
    Edit e;
    e.kv = [](KeyValue &kv) { return kv.key != "bitnet-b1.58.embedding_length"; };
    const std::string path = rewrite("tiny-b158-i2s.gguf", e, "no_embd.gguf");
    bitnet_model *m = nullptr;
    const bitnet_status s = load(path, &m);
    EXPECT_TRUE(s == BITNET_ERR_BAD_FORMAT || s == BITNET_ERR_NOT_FOUND) << s;
    EXPECT_NE(std::string(bitnet_last_error_message()).find("embedding_length"), std::string::npos);
    std::remove(path.c_str());
}

TEST(ModelLoad, NormStoredAsF16IsAccepted) {
    Edit e;
    e.tensor = [](std::string &name, TensorType &type, std::vector<int64_t> &,
                  std::vector<uint8_t> &data) {
        if (name == "output_norm.weight") {
            std::vector<uint8_t> h(data.size() / 2);
            const float *f = reinterpret_cast<const float *>(data.data());
            for (size_t i = 0; i < h.size() / 2; ++i) {
                reinterpret_cast<uint16_t *>(h.data())[i] = bitnet::f32_to_f16(f[i]);
            }
            data = std::move(h);
            type = TensorType::F16;
        }
        return true;
    };
    const std::string path = rewrite("tiny-b158-i2s.gguf", e, "f16norm.gguf");
    bitnet_model *m = nullptr;
    ASSERT_EQ(load(path, &m), BITNET_OK) << bitnet_last_error_message();
    bitnet_model *orig = nullptr;
    ASSERT_EQ(load(fixture("tiny-b158-i2s.gguf"), &orig), BITNET_OK);
    const auto a = last_logits(m, kFox), b = last_logits(orig, kFox);
    double worst = 0;
    for (size_t v = 0; v < a.size(); ++v) worst = std::max(worst, (double)std::fabs(a[v] - b[v]));
    EXPECT_LT(worst, 0.05);  // norm weights rounded to F16
    bitnet_model_free(m);
    bitnet_model_free(orig);
    std::remove(path.c_str());
}

}  // namespace
