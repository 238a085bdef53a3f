// bitnet_convert / bitnet_quantize and the safetensors reader.
//
// The Hugging Face twins (../shared/fixtures/README.md "Hugging Face twins", generated into the
// build tree by ctest's make_fixtures) hold the same real weights as GGUF fixtures, so the
// independent truth is that fixture: every converted tensor must have its exact bytes, the
// tokenizer arrays must equal llama3-vocab.gguf's, the converted b158 model must reproduce the
// exact references (README "Exact references" tiers) and tokenize the 46 llama.cpp vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bitnet.h"
#include "common/error.h"
#include "common/fp16.h"
#include "convert/hf_generate.h"
#include "convert/safetensors.h"
#include "convert/safetensors_writer.h"
#include "gguf/gguf.h"
#include "reference.h"

namespace fs = std::filesystem;
using bitnet::convert::SafetensorsFile;
using bitnet::convert::SafetensorsWriter;
using bitnet::test::fixture;
using bitnet::test::generated_fixture;

namespace {

// A fresh folder under the build tree, removed at the end of the test.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string &name) {
        path = fs::path(BITNET_BINARY_DIR) / "test_convert_tmp" /
               (name + "_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string file(const std::string &f) const { return (path / f).string(); }
};

std::string twin(const std::string &name) {
    const std::string dir = generated_fixture("hf/" + name);
    EXPECT_TRUE(fs::exists(dir + "/config.json"))
        << dir << " is missing: run ctest's make_fixtures (../shared/tools/make-fixtures)";
    return dir;
}

bitnet_status convert(const std::string &src, const std::string &dst, int ternary = BITNET_TERNARY_AUTO,
                      int embd = BITNET_EMBD_AUTO) {
    bitnet_convert_params p = bitnet_convert_default_params();
    p.ternary_type = ternary;
    p.embd_type = embd;
    return bitnet_convert(src.c_str(), dst.c_str(), &p, nullptr, nullptr);
}

bitnet_status quantize(const std::string &src, const std::string &dst, int ternary,
                       int embd = BITNET_EMBD_AUTO) {
    bitnet_convert_params p = bitnet_convert_default_params();
    p.ternary_type = ternary;
    p.embd_type = embd;
    return bitnet_quantize(src.c_str(), dst.c_str(), &p, nullptr, nullptr);
}

// Every tensor of `got` has the name, type, shape and bytes of the same tensor in `want`.
void expect_same_tensors(const std::string &got, const std::string &want) {
    auto a = bitnet::gguf::File::open(got);
    auto b = bitnet::gguf::File::open(want);
    ASSERT_EQ(a->tensors().size(), b->tensors().size());
    for (const auto &t : b->tensors()) {
        const auto *u = a->find_tensor(t.name);
        ASSERT_NE(u, nullptr) << t.name;
        EXPECT_EQ(u->type, t.type) << t.name;
        EXPECT_EQ(u->n_dims, t.n_dims) << t.name;
        for (int d = 0; d < 4; ++d) EXPECT_EQ(u->ne[d], t.ne[d]) << t.name;
        ASSERT_EQ(u->nbytes, t.nbytes) << t.name;
        EXPECT_EQ(std::memcmp(u->data, t.data, t.nbytes), 0) << t.name << ": bytes differ";
    }
}

// Same value for every key of `want` except those listed (general.name differs by design).
void expect_same_metadata(const std::string &got, const std::string &want,
                          const std::vector<std::string> &except) {
    auto a = bitnet::gguf::File::open(got);
    auto b = bitnet::gguf::File::open(want);
    for (const auto &kv : b->metadata()) {
        if (std::find(except.begin(), except.end(), kv.key) != except.end()) continue;
        const auto *v = a->find(kv.key);
        ASSERT_NE(v, nullptr) << kv.key << " missing";
        EXPECT_EQ(v->type, kv.value.type) << kv.key;
        if (v->type == bitnet::gguf::ValueType::ARRAY) {
            ASSERT_EQ(v->arr.size(), kv.value.arr.size()) << kv.key;
            for (size_t i = 0; i < v->arr.size(); ++i) {
                if (v->arr[i].to_string() != kv.value.arr[i].to_string()) {
                    ADD_FAILURE() << kv.key << "[" << i << "]: " << v->arr[i].to_string()
                                  << " != " << kv.value.arr[i].to_string();
                    break;
                }
            }
        } else {
            EXPECT_EQ(v->to_string(), kv.value.to_string()) << kv.key;
        }
    }
}

std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ---- the twins ------------------------------------------------------------------------------

class Twin : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(Twin, ConvertsToTheFixturesBytes) {
    const auto &[name, gguf] = GetParam();
    TempDir tmp("twin_" + name);
    const std::string out = tmp.file("out.gguf");
    ASSERT_EQ(convert(twin(name), out), BITNET_OK) << bitnet_last_error_message();
    const std::string want = name == "tiny-llama-packed" ? generated_fixture(gguf) : fixture(gguf);
    expect_same_tensors(out, want);
    // Every key of the fixture (the tokenizer arrays included) except its name.
    expect_same_metadata(out, want, {"general.name"});
    EXPECT_FALSE(fs::exists(out + ".part"));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, Twin,
    ::testing::Values(std::make_tuple("tiny-b158-packed", "tiny-b158-i2s.gguf"),
                      std::make_tuple("tiny-b158-bf16", "tiny-b158-i2s.gguf"),
                      std::make_tuple("tiny-llama-packed", "tiny-llama-tq2.gguf")));

// The converted bf16-master twin loads, reproduces the exact references, and its tokenizer
// gives llama.cpp's 46 test vectors.
class ConvertedModel : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        tmp_ = new TempDir("converted_model");
        const std::string out = tmp_->file("b158.gguf");
        ASSERT_EQ(convert(twin("tiny-b158-bf16"), out), BITNET_OK) << bitnet_last_error_message();
        ASSERT_EQ(bitnet_model_load(out.c_str(), nullptr, &model_), BITNET_OK) << bitnet_last_error_message();
    }
    static void TearDownTestSuite() {
        bitnet_model_free(model_);
        model_ = nullptr;
        delete tmp_;
    }
    static TempDir *tmp_;
    static bitnet_model *model_;
};
TempDir *ConvertedModel::tmp_ = nullptr;
bitnet_model *ConvertedModel::model_ = nullptr;

TEST_F(ConvertedModel, ExactReferenceLogits) {
    ASSERT_NE(model_, nullptr);
    for (const char *prompt : {"bos", "fox"}) {
        const auto ref = bitnet::test::load_reference("reference/exact", "tiny-b158-i2s", prompt);
        bitnet_context_params cp = bitnet_context_default_params();
        cp.kv_type = BITNET_KV_F32;
        cp.n_ctx = 64;
        bitnet_context *ctx = nullptr;
        ASSERT_EQ(bitnet_context_new(model_, &cp, &ctx), BITNET_OK) << bitnet_last_error_message();
        ASSERT_EQ(bitnet_eval(ctx, ref.token_ids.data(), ref.token_ids.size(), BITNET_LOGITS_ALL), BITNET_OK);
        // Tier of the README for bos/fox prompt positions with K/V in float32: 1e-3.
        for (size_t i = 0; i < ref.positions.size(); ++i) {
            const float *row = bitnet_get_logits(ctx, (int32_t)i);
            for (const auto &[id, logit] : ref.positions[i].top8)
                EXPECT_LE(std::fabs(row[id] - logit), 1e-3) << prompt << " position " << i << " id " << id;
        }
        const float *last = bitnet_get_logits(ctx, -1);
        double worst = 0;
        for (size_t v = 0; v < ref.last_logits.size(); ++v)
            worst = std::max(worst, std::fabs((double)last[v] - ref.last_logits[v]));
        EXPECT_LE(worst, 1e-3) << prompt << ": last-position logits";
        EXPECT_FALSE(ref.last_logits.empty());
        bitnet_context_free(ctx);
    }
}

TEST_F(ConvertedModel, TokenizerVectors) {
    ASSERT_NE(model_, nullptr);
    const std::string inp = read_text(fixture("llama3-vocab.inp"));
    const std::string out = read_text(fixture("llama3-vocab.out"));
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::istringstream lines(out);
    int cases = 0;
    for (size_t pos = 0; pos < inp.size(); ++cases) {
        const size_t end = inp.find(sep, pos);
        ASSERT_NE(end, std::string::npos);
        const std::string text = inp.substr(pos, end - pos);
        pos = end + sep.size();
        std::string line;
        ASSERT_TRUE(std::getline(lines, line));
        std::vector<bitnet_token> want;
        std::istringstream ids(line);
        for (int32_t id; ids >> id;) want.push_back(id);
        std::vector<bitnet_token> got(text.size() + 8);
        size_t n = 0;
        ASSERT_EQ(bitnet_tokenize(model_, text.data(), text.size(), 0, 0, got.data(), got.size(), &n), BITNET_OK);
        got.resize(n);
        EXPECT_EQ(got, want) << "case " << cases << ": '" << text << "'";
    }
    EXPECT_EQ(cases, 46);
}

// ---- quantize ---------------------------------------------------------------------------------

TEST(Quantize, TernaryRoundTripsAreExact) {
    TempDir tmp("roundtrip");
    const std::string tq2 = generated_fixture("tiny-llama-tq2.gguf");
    const std::string i2s = tmp.file("i2s.gguf"), tq2b = tmp.file("tq2.gguf"), i2sb = tmp.file("i2s2.gguf"),
                      tq1 = tmp.file("tq1.gguf"), i2sc = tmp.file("i2s3.gguf");
    ASSERT_EQ(quantize(tq2, i2s, BITNET_TERNARY_I2_S), BITNET_OK) << bitnet_last_error_message();
    ASSERT_EQ(quantize(i2s, tq2b, BITNET_TERNARY_TQ2_0), BITNET_OK) << bitnet_last_error_message();
    ASSERT_EQ(quantize(tq2b, i2sb, BITNET_TERNARY_I2_S), BITNET_OK) << bitnet_last_error_message();
    ASSERT_EQ(quantize(i2sb, tq1, BITNET_TERNARY_TQ1_0), BITNET_OK) << bitnet_last_error_message();
    ASSERT_EQ(quantize(tq1, i2sc, BITNET_TERNARY_I2_S), BITNET_OK) << bitnet_last_error_message();
    expect_same_tensors(tq2b, tq2);   // TQ2_0 -> I2_S -> TQ2_0
    expect_same_tensors(i2sb, i2s);   // I2_S -> TQ2_0 -> I2_S
    expect_same_tensors(i2sc, i2s);   // I2_S -> TQ1_0 -> I2_S
    // The 1bitLLM layout (TQ1_0 with d = 1 and separate .scale tensors) too.
    const std::string tq1_src = generated_fixture("tiny-bitnet-tq1.gguf");
    ASSERT_EQ(quantize(tq1_src, tmp.file("b-i2s.gguf"), BITNET_TERNARY_I2_S), BITNET_OK) << bitnet_last_error_message();
    ASSERT_EQ(quantize(tmp.file("b-i2s.gguf"), tmp.file("b-tq1.gguf"), BITNET_TERNARY_TQ1_0), BITNET_OK)
        << bitnet_last_error_message();
    expect_same_tensors(tmp.file("b-tq1.gguf"), tq1_src);
    auto f = bitnet::gguf::File::open(i2s);
    EXPECT_EQ(f->get_u32("general.file_type"), 40u);
    EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, bitnet::gguf::TensorType::I2_S);
}

TEST(Quantize, RefusesInexactConversions) {
    TempDir tmp("inexact");
    // Rows of 128 values cannot be TQ2_0 (256-value blocks).
    EXPECT_EQ(quantize(fixture("tiny-b158-i2s.gguf"), tmp.file("x.gguf"), BITNET_TERNARY_TQ2_0),
              BITNET_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("256"), std::string::npos)
        << bitnet_last_error_message();
    EXPECT_FALSE(fs::exists(tmp.file("x.gguf")));
    EXPECT_FALSE(fs::exists(tmp.file("x.gguf.part")));
}

TEST(Quantize, EmbeddingToQ8_0) {
    TempDir tmp("q8");
    const std::string out = tmp.file("q8.gguf");
    ASSERT_EQ(quantize(fixture("tiny-b158-i2s.gguf"), out, BITNET_TERNARY_AUTO, BITNET_EMBD_Q8_0), BITNET_OK)
        << bitnet_last_error_message();
    auto a = bitnet::gguf::File::open(out);
    auto b = bitnet::gguf::File::open(fixture("tiny-b158-i2s.gguf"));
    const auto *q = a->find_tensor("token_embd.weight");
    const auto *h = b->find_tensor("token_embd.weight");
    ASSERT_EQ(q->type, bitnet::gguf::TensorType::Q8_0);
    // Each value within half a quantisation step of the F16 original (ggml block_q8_0), plus
    // the F16 rounding of d (relative 2^-11) times |q| <= 127, as ggml quantises with the
    // unrounded d.
    for (int64_t blk = 0; blk < 4096; ++blk) {
        const uint8_t *p = q->data + blk * 34;
        uint16_t dh;
        std::memcpy(&dh, p, 2);
        const float d = bitnet::f16_to_f32(dh);
        for (int i = 0; i < 32; ++i) {
            uint16_t xh;
            std::memcpy(&xh, h->data + 2 * (blk * 32 + i), 2);
            const float x = bitnet::f16_to_f32(xh);
            EXPECT_LE(std::fabs(x - d * (int8_t)p[2 + i]), d * (0.5f + 127.0f / 2048.0f) + 1e-7f);
        }
    }
}

// Q6_K decoded with ggml's block_q6_K layout (dequantize_row_q6_K, read independently): every
// value within one step (|sub-block scale| x d) of the original.
TEST(Quantize, EmbeddingToQ6_K) {
    TempDir tmp("q6k");
    const std::string src = generated_fixture("tiny-llama-tq2.gguf"), out = tmp.file("q6k.gguf");
    ASSERT_EQ(quantize(src, out, BITNET_TERNARY_AUTO, BITNET_EMBD_Q6_K), BITNET_OK) << bitnet_last_error_message();
    auto a = bitnet::gguf::File::open(out);
    auto b = bitnet::gguf::File::open(src);
    const auto *q = a->find_tensor("token_embd.weight");
    const auto *h = b->find_tensor("token_embd.weight");
    ASSERT_EQ(q->type, bitnet::gguf::TensorType::Q6_K);
    double worst_rel = 0;
    for (int64_t blk = 0; blk < 2000; ++blk) {
        const uint8_t *p = q->data + blk * 210;
        const uint8_t *ql = p, *qh = p + 128;
        const int8_t *sc = reinterpret_cast<const int8_t *>(p + 192);
        uint16_t dh;
        std::memcpy(&dh, p + 208, 2);
        const float d = bitnet::f16_to_f32(dh);
        float y[256];
        for (int n = 0; n < 2; ++n) {
            for (int l = 0; l < 32; ++l) {
                const int is = 8 * n + l / 16;
                const uint8_t lo0 = ql[64 * n + l], lo1 = ql[64 * n + l + 32], hi = qh[32 * n + l];
                y[128 * n + l] = d * sc[is] * (((lo0 & 0xF) | ((hi & 3) << 4)) - 32);
                y[128 * n + l + 32] = d * sc[is + 2] * (((lo1 & 0xF) | (((hi >> 2) & 3) << 4)) - 32);
                y[128 * n + l + 64] = d * sc[is + 4] * (((lo0 >> 4) | (((hi >> 4) & 3) << 4)) - 32);
                y[128 * n + l + 96] = d * sc[is + 6] * (((lo1 >> 4) | (((hi >> 6) & 3) << 4)) - 32);
            }
        }
        for (int i = 0; i < 256; ++i) {
            uint16_t xh;
            std::memcpy(&xh, h->data + 2 * (blk * 256 + i), 2);
            const float x = bitnet::f16_to_f32(xh);
            const float bound = d * std::fabs((float)sc[i / 16]) * 1.0001f + 1e-7f;
            EXPECT_LE(std::fabs(x - y[i]), bound) << "block " << blk << " value " << i;
            worst_rel = std::max(worst_rel, (double)std::fabs(x - y[i]) / (d * 127 * 32));
        }
    }
    RecordProperty("worst_error_over_block_range", std::to_string(worst_rel));
}

// ---- hostile input ----------------------------------------------------------------------------

// A small valid safetensors image, then a mutated header.
std::vector<uint8_t> with_header(const std::string &header, size_t data_bytes) {
    std::vector<uint8_t> v(8 + header.size() + data_bytes, 0);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) v[i] = (uint8_t)(n >> (8 * i));
    std::memcpy(v.data() + 8, header.data(), header.size());
    return v;
}

void expect_bad(const std::vector<uint8_t> &img, const std::string &needle) {
    try {
        SafetensorsFile::from_memory(img.data(), img.size(), "bad.safetensors");
        ADD_FAILURE() << "accepted; expected an error containing '" << needle << "'";
    } catch (const bitnet::Error &e) {
        EXPECT_EQ(e.status(), BITNET_ERR_BAD_FORMAT) << e.what();
        const std::string m = e.what();
        EXPECT_NE(m.find("bad.safetensors"), std::string::npos) << m;
        EXPECT_NE(m.find(needle), std::string::npos) << m;
    }
}

TEST(Safetensors, ReadsWhatTheWriterWrites) {
    SafetensorsWriter w;
    w.add_bytes("a", "F32", {2, 2}, std::vector<uint8_t>(16, 1));
    w.add_bytes("b", "U8", {3}, {1, 2, 3});
    w.add_bytes("c", "BF16", {0, 4}, {});
    const auto img = w.to_bytes();
    EXPECT_EQ((img.size() - 8 - 19) % 8, 0u);  // header padded to a multiple of 8
    auto f = SafetensorsFile::from_memory(img.data(), img.size(), "ok.safetensors");
    ASSERT_EQ(f->tensors().size(), 3u);
    ASSERT_NE(f->find("b"), nullptr);
    EXPECT_EQ(f->find("b")->data[2], 3);
    EXPECT_EQ(f->metadata().at("format"), "pt");
}

TEST(Safetensors, HostileHeaders) {
    expect_bad({1, 2, 3}, "too short");
    {
        auto v = with_header("{}", 0);
        v.resize(9);  // header length 2, one byte present
        expect_bad(v, "past the end");
    }
    {
        std::vector<uint8_t> v(16, 0);
        const uint64_t n = 100000001;
        for (int i = 0; i < 8; ++i) v[i] = (uint8_t)(n >> (8 * i));
        expect_bad(v, "exceeds the limit");
    }
    expect_bad(with_header("{\"a\": ", 0), "not well-formed");
    expect_bad(with_header("[1, 2]", 0), "must be a JSON object");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F33\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4),
               "unknown dtype");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4),
               "needs 8");  // shape x dtype != byte length
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4),
               "non-negative");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4.5]}}", 4),
               "data_offsets[1]");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", 4),
               "end before begin");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                           " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [2, 6]}}", 8),
               "overlap");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8),
               "gap");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 2),
               "outside the data buffer");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 12),
               "cover 4 bytes");
    expect_bad(with_header("{\"__metadata__\": {\"format\": 1}}", 0), "__metadata__.format");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"x\": 1}}", 4),
               "unknown field 'x'");
    expect_bad(with_header("{\"a\": {\"dtype\": \"U8\", \"shape\": [4294967296, 4294967296, 4294967296],"
                           " \"data_offsets\": [0, 4]}}", 4),
               "overflow");
    expect_bad(with_header(std::string("{\"\xff\": 1}"), 0), "not well-formed");
}

// A copy of a twin (small files copied, the weights linked) to break one thing in.
struct BrokenTwin {
    TempDir tmp;
    explicit BrokenTwin(const std::string &name) : tmp("broken_" + name) {
        for (const auto &e : fs::directory_iterator(twin("tiny-b158-packed"))) {
            const fs::path dst = tmp.path / e.path().filename();
            if (e.path().extension() == ".safetensors")
                fs::create_symlink(e.path(), dst);
            else
                fs::copy_file(e.path(), dst);
        }
    }
    void edit_json(const std::string &file, const std::function<void(nlohmann::json &)> &f) {
        nlohmann::json j = nlohmann::json::parse(read_text(tmp.file(file)));
        f(j);
        std::ofstream(tmp.file(file)) << j.dump();
    }
    void expect_fails(bitnet_status want, const std::vector<std::string> &needles) {
        const std::string out = tmp.file("out.gguf");
        EXPECT_EQ(convert(tmp.path.string(), out), want) << bitnet_last_error_message();
        const std::string m = bitnet_last_error_message();
        for (const auto &n : needles) EXPECT_NE(m.find(n), std::string::npos) << m;
        EXPECT_FALSE(fs::exists(out));
    }
};

TEST(ConvertHostile, WrongConfigTypes) {
    BrokenTwin b("config_type");
    b.edit_json("config.json", [](nlohmann::json &j) { j["hidden_size"] = "128"; });
    b.expect_fails(BITNET_ERR_BAD_FORMAT, {"config.json", "hidden_size", "integer"});
}

TEST(ConvertHostile, MissingConfigField) {
    BrokenTwin b("config_missing");
    b.edit_json("config.json", [](nlohmann::json &j) { j.erase("num_attention_heads"); });
    b.expect_fails(BITNET_ERR_BAD_FORMAT, {"config.json", "num_attention_heads", "missing"});
}

TEST(ConvertHostile, UnknownArchitecture) {
    BrokenTwin b("arch");
    b.edit_json("config.json", [](nlohmann::json &j) { j["architectures"] = {"GPT2LMHeadModel"}; });
    b.expect_fails(BITNET_ERR_UNSUPPORTED, {"config.json", "architectures", "GPT2LMHeadModel"});
}

TEST(ConvertHostile, MissingTensor) {
    BrokenTwin b("tensor");
    b.edit_json("config.json", [](nlohmann::json &j) { j["num_hidden_layers"] = 3; });
    b.expect_fails(BITNET_ERR_BAD_FORMAT, {"model.safetensors", "model.layers.2.", "missing"});
}

TEST(ConvertHostile, ShapeMismatch) {
    BrokenTwin b("shape");
    b.edit_json("config.json", [](nlohmann::json &j) { j["intermediate_size"] = 512; });
    b.expect_fails(BITNET_ERR_BAD_FORMAT, {"model.safetensors", "shape"});
}

TEST(ConvertHostile, MissingTokenizer) {
    BrokenTwin b("tokenizer");
    fs::remove(b.tmp.file("tokenizer.json"));
    b.expect_fails(BITNET_ERR_IO, {"tokenizer.json", "missing"});
}

TEST(ConvertHostile, BadMerges) {
    BrokenTwin b("merges");
    b.edit_json("tokenizer.json", [](nlohmann::json &j) { j["model"]["merges"][5] = 42; });
    b.expect_fails(BITNET_ERR_BAD_FORMAT, {"tokenizer.json", "model.merges[5]"});
}

TEST(ConvertHostile, UnknownPreTokenizer) {
    BrokenTwin b("pre");
    b.edit_json("tokenizer.json", [](nlohmann::json &j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; });
    b.expect_fails(BITNET_ERR_UNSUPPORTED, {"tokenizer.json", "pre_tokenizer"});
    // Fields of the wrong JSON type are a clear error too, not an internal one.
    b.edit_json("tokenizer.json", [](nlohmann::json &j) {
        j["pre_tokenizer"] = {{"type", 5}, {"pretokenizers", {{{"type", "ByteLevel"}, {"use_regex", "no"}}}}};
    });
    b.expect_fails(BITNET_ERR_UNSUPPORTED, {"tokenizer.json", "pre_tokenizer"});
}

TEST(ConvertHostile, BadSpecialToken) {
    BrokenTwin b("special");
    b.edit_json("tokenizer_config.json", [](nlohmann::json &j) { j["bos_token"] = "<|no such token|>"; });
    b.expect_fails(BITNET_ERR_BAD_FORMAT, {"tokenizer_config.json", "bos_token"});
}

TEST(ConvertHostile, TruncatedWeights) {
    BrokenTwin b("truncated");
    const std::string st = b.tmp.file("model.safetensors");
    const std::string src = fs::read_symlink(st).string();
    fs::remove(st);
    std::ifstream in(src, std::ios::binary);
    std::vector<char> head(4096);
    in.read(head.data(), (std::streamsize)head.size());
    std::ofstream(st, std::ios::binary).write(head.data(), (std::streamsize)head.size());
    b.expect_fails(BITNET_ERR_BAD_FORMAT, {"model.safetensors"});
}

TEST(ConvertHostile, TypeThatRowsCannotHold) {
    TempDir tmp("tq1_on_128");
    EXPECT_EQ(convert(twin("tiny-b158-packed"), tmp.file("x.gguf"), BITNET_TERNARY_TQ1_0),
              BITNET_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("256"), std::string::npos)
        << bitnet_last_error_message();
}

TEST(ConvertApi, ArgumentsAndProgress) {
    EXPECT_EQ(bitnet_convert(nullptr, "x", nullptr, nullptr, nullptr), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_convert_params p = bitnet_convert_default_params();
    p.ternary_type = 99;
    EXPECT_EQ(bitnet_convert("a", "b", &p, nullptr, nullptr), BITNET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(bitnet_last_error_message()).find("ternary_type"), std::string::npos);
    // A progress callback that stops after the third tensor: ABORTED, no file left.
    TempDir tmp("abort");
    struct Count {
        int calls = 0, n = 0;
    } count;
    auto cb = [](int32_t i, int32_t n, const char *, uint64_t, void *ud) -> int {
        auto *c = static_cast<Count *>(ud);
        c->calls = i;
        c->n = n;
        return i == 3;
    };
    EXPECT_EQ(bitnet_convert(twin("tiny-b158-packed").c_str(), tmp.file("x.gguf").c_str(), nullptr, cb, &count),
              BITNET_ERR_ABORTED);
    EXPECT_EQ(count.calls, 3);
    EXPECT_EQ(count.n, 24);
    EXPECT_FALSE(fs::exists(tmp.file("x.gguf")));
    EXPECT_FALSE(fs::exists(tmp.file("x.gguf.part")));
}

// ---- sharded checkpoints (generated) ---------------------------------------------------------

TEST(ConvertSharded, ShardsGiveTheSameModelAsOneFile) {
    TempDir tmp("sharded");
    bitnet::convert::HfGenerateOptions g;
    g.n_vocab = 1024;
    bitnet::convert::generate_hf_checkpoint(tmp.file("one"), g);
    g.shards = 3;
    bitnet::convert::generate_hf_checkpoint(tmp.file("three"), g);
    ASSERT_TRUE(fs::exists(tmp.file("three/model.safetensors.index.json")));
    ASSERT_EQ(convert(tmp.file("one"), tmp.file("one.gguf")), BITNET_OK) << bitnet_last_error_message();
    ASSERT_EQ(convert(tmp.file("three"), tmp.file("three.gguf")), BITNET_OK) << bitnet_last_error_message();
    expect_same_tensors(tmp.file("three.gguf"), tmp.file("one.gguf"));
    // The packed codes and BF16 scales come back exactly: I2_S of the first projection.
    bitnet_model *m = nullptr;
    ASSERT_EQ(bitnet_model_load(tmp.file("three.gguf").c_str(), nullptr, &m), BITNET_OK)
        << bitnet_last_error_message();
    EXPECT_EQ(bitnet_model_n_layer(m), 2);
    bitnet_model_free(m);
}

TEST(ConvertSharded, IndexNamingTheWrongShard) {
    TempDir tmp("bad_index");
    bitnet::convert::HfGenerateOptions g;
    g.n_vocab = 1024;
    g.shards = 2;
    bitnet::convert::generate_hf_checkpoint(tmp.path.string(), g);
    nlohmann::json j = nlohmann::json::parse(read_text(tmp.file("model.safetensors.index.json")));
    j["weight_map"]["model.norm.weight"] = j["weight_map"]["model.norm.weight"] == "model-1-of-2.safetensors"
                                              ? "model-2-of-2.safetensors"
                                              : "model-1-of-2.safetensors";
    std::ofstream(tmp.file("model.safetensors.index.json")) << j.dump();
    EXPECT_EQ(convert(tmp.path.string(), tmp.file("x.gguf")), BITNET_ERR_BAD_FORMAT);
    const std::string m = bitnet_last_error_message();
    EXPECT_NE(m.find("model.safetensors.index.json"), std::string::npos) << m;
    EXPECT_NE(m.find("model.norm.weight"), std::string::npos) << m;
}

}  // namespace
