// Tests of the GGUF reader and writer: the shared fixtures, a writer round trip, and every kind
// of malformed file the reader must reject (with the right status and a message naming the
// problem) without crashing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "fixtures.h"
#include "gguf/gguf.h"

namespace bitnet::gguf {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------------------
// Helpers

// Little-endian byte builder for hand-crafted (often malformed) GGUF images.
struct Img {
    std::vector<uint8_t> b;

    Img &u8(uint8_t v) {
        b.push_back(v);
        return *this;
    }
    Img &u16(uint16_t v) { return u8(uint8_t(v)).u8(uint8_t(v >> 8)); }
    Img &u32(uint32_t v) { return u16(uint16_t(v)).u16(uint16_t(v >> 16)); }
    Img &u64(uint64_t v) { return u32(uint32_t(v)).u32(uint32_t(v >> 32)); }
    Img &f32(float v) {
        uint32_t x;
        std::memcpy(&x, &v, 4);
        return u32(x);
    }
    Img &raw(std::string_view s) {
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Img &str(std::string_view s) { return u64(s.size()).raw(s); }
    Img &zeros(size_t n) {
        b.insert(b.end(), n, 0);
        return *this;
    }
    Img &pad(size_t align = 32) { return zeros((align - b.size() % align) % align); }

    Img &header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        return raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
    }
    // Key and type tag; the payload follows.
    Img &kv(std::string_view key, ValueType t) { return str(key).u32(static_cast<uint32_t>(t)); }
    Img &tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t off) {
        str(name).u32(uint32_t(dims.size()));
        for (uint64_t d : dims) u64(d);
        return u32(type).u64(off);
    }
};

constexpr uint32_t kF32 = 0, kF16 = 1, kI2S = 36;

// One KV and one tensor; data_bytes zero bytes of data after the padded header.
std::vector<uint8_t> one_tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                                uint64_t offset, size_t data_bytes) {
    Img i;
    i.header(1, 1).kv("general.architecture", ValueType::STRING).str("test");
    i.tensor(name, std::move(dims), type, offset).pad().zeros(data_bytes);
    return i.b;
}

// Parses `bytes`; expects a bitnet::Error with `status` whose message names the file and
// contains each needle.
void expect_error(const std::vector<uint8_t> &bytes, bitnet_status status,
                  std::initializer_list<std::string> needles) {
    try {
        File::from_memory(bytes.data(), bytes.size(), "crafted.gguf");
        ADD_FAILURE() << "parsed without error";
    } catch (const Error &e) {
        const std::string msg = e.what();
        EXPECT_EQ(e.status(), status) << msg;
        EXPECT_NE(msg.find("crafted.gguf"), std::string::npos) << msg;
        for (const std::string &n : needles)
            EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    }
}
#define EXPECT_GGUF_ERROR(bytes, status, ...)       \
    do {                                            \
        SCOPED_TRACE(#bytes);                       \
        expect_error(bytes, status, {__VA_ARGS__}); \
    } while (0)

// Runs f and returns the bitnet::Error it throws (fails the test if it throws none).
template <class F>
Error catch_error(F &&f) {
    try {
        f();
    } catch (const Error &e) {
        return e;
    }
    ADD_FAILURE() << "no bitnet::Error thrown";
    return Error(BITNET_OK, "");
}

bool contains(const std::string &s, const std::string &needle) {
    return s.find(needle) != std::string::npos;
}

std::vector<uint8_t> pattern_bytes(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    std::mt19937 rng(seed);
    for (auto &x : v) x = uint8_t(rng());
    return v;
}

// A private temporary directory, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        path_ = fs::temp_directory_path() /
                ("test_gguf_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string file(const std::string &name) const { return (path_ / name).string(); }

private:
    fs::path path_;
    static inline int counter_ = 0;
};

void write_file(const std::string &path, const std::vector<uint8_t> &bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
}

// A small valid file with every value type and several tensors. The last tensor's size is a
// multiple of 32, so the file ends exactly with tensor data: every proper prefix is truncated.
std::vector<uint8_t> small_valid_file() {
    Writer w;
    w.add_string("general.architecture", "test");
    w.add_u32("test.u32", 7);
    w.add_f32("test.f32", 0.5f);
    w.add_bool("test.bool", true);
    w.add_string_array("test.strings", {"a", "", "ccc"});
    Value nested;
    nested.type = ValueType::ARRAY;
    nested.elem_type = ValueType::ARRAY;
    for (int i = 0; i < 2; i++) {
        Value inner;
        inner.type = ValueType::ARRAY;
        inner.elem_type = ValueType::INT16;
        Value x;
        x.type = ValueType::INT16;
        x.i64 = -i;
        inner.arr.push_back(x);
        nested.arr.push_back(inner);
    }
    w.add_value("test.nested", nested);
    w.add_f64("test.f64", 1.25);
    std::vector<uint8_t> a = pattern_bytes(32, 1), b = pattern_bytes(10, 2),
                         c = pattern_bytes(64, 3);
    w.add_tensor("a", TensorType::F32, {8}, a.data(), a.size());
    w.add_tensor("b", TensorType::F16, {5}, b.data(), b.size());  // padded to 32
    w.add_tensor("c", TensorType::I2_S, {128}, c.data(), c.size());
    return w.to_bytes();
}

// ------------------------------------------------------------------------------------------------
// Fixtures

TEST(GgufFixture, TinyI2S) {
    auto f = File::open(test::fixture("tiny-b158-i2s.gguf"));
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->data_offset() % 32, 0u);
    EXPECT_EQ(f->get_string("general.architecture"), "bitnet-b1.58");
    EXPECT_EQ(f->get_string("general.name"), "bitnet-b1.58-tiny-random");
    EXPECT_EQ(f->get_u32("bitnet-b1.58.block_count"), 2u);
    EXPECT_EQ(f->get_u32("bitnet-b1.58.embedding_length"), 128u);
    EXPECT_EQ(f->get_u32("bitnet-b1.58.feed_forward_length"), 384u);
    EXPECT_EQ(f->get_u32("bitnet-b1.58.context_length"), 512u);
    EXPECT_EQ(f->get_u32("bitnet-b1.58.attention.head_count"), 4u);
    EXPECT_EQ(f->get_u32("bitnet-b1.58.attention.head_count_kv"), 2u);
    EXPECT_EQ(f->get_u32("general.file_type"), 40u);
    EXPECT_FLOAT_EQ(f->get_f32("bitnet-b1.58.rope.freq_base"), 500000.0f);
    EXPECT_FLOAT_EQ(f->get_f32("bitnet-b1.58.attention.layer_norm_rms_epsilon"), 1e-5f);
    EXPECT_EQ(f->get_u32("tokenizer.ggml.bos_token_id"), 128000u);
    EXPECT_EQ(f->find("general.alignment"), nullptr);

    ASSERT_EQ(f->tensors().size(), 24u);
    const TensorInfo *emb = f->find_tensor("token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->type, TensorType::F16);
    EXPECT_EQ(emb->n_dims, 2u);
    EXPECT_EQ(emb->ne[0], 128);
    EXPECT_EQ(emb->ne[1], 128256);
    EXPECT_EQ(emb->nbytes, 128u * 128256u * 2u);
    EXPECT_EQ(f->find_tensor("output.weight"), nullptr);

    int n_i2s = 0, n_f32 = 0, n_f16 = 0;
    for (const TensorInfo &t : f->tensors()) {
        EXPECT_EQ(t.offset % 32, 0u) << t.name;
        ASSERT_NE(t.data, nullptr) << t.name;
        if (t.type == TensorType::F32) n_f32++;
        if (t.type == TensorType::F16) n_f16++;
        if (t.type != TensorType::I2_S) continue;
        n_i2s++;
        const uint64_t n = uint64_t(t.n_elements());
        EXPECT_EQ(t.nbytes, n / 4 + 32) << t.name;
        float scale;
        std::memcpy(&scale, t.data + n / 4, 4);
        EXPECT_GT(scale, 0.04f) << t.name;
        EXPECT_LT(scale, 0.17f) << t.name;
        for (uint64_t k = 4; k < 32; k++) EXPECT_EQ(t.data[n / 4 + k], 0) << t.name;
    }
    EXPECT_EQ(n_i2s, 14);
    EXPECT_EQ(n_f32, 9);
    EXPECT_EQ(n_f16, 1);
}

// The two model files hold the same weights: decoding an I2_S tensor gives the F32 tensor exactly,
// and the F16 embeddings are the same bytes.
TEST(GgufFixture, F32MatchesI2S) {
    auto q = File::open(test::fixture("tiny-b158-i2s.gguf"));
    auto f = File::open(test::fixture("tiny-b158-f32.gguf"), /*use_mmap=*/false);
    EXPECT_EQ(f->tensors().size(), 24u);
    EXPECT_EQ(f->get_u32("general.file_type"), 0u);
    for (const TensorInfo &t : f->tensors()) {
        if (t.name == "token_embd.weight") EXPECT_EQ(t.type, TensorType::F16);
        else EXPECT_EQ(t.type, TensorType::F32) << t.name;
    }
    const TensorInfo *e1 = q->find_tensor("token_embd.weight");
    const TensorInfo *e2 = f->find_tensor("token_embd.weight");
    ASSERT_TRUE(e1 && e2);
    ASSERT_EQ(e1->nbytes, e2->nbytes);
    EXPECT_EQ(std::memcmp(e1->data, e2->data, e1->nbytes), 0);

    const TensorInfo *ti = q->find_tensor("blk.1.attn_k.weight");
    const TensorInfo *tf = f->find_tensor("blk.1.attn_k.weight");
    ASSERT_TRUE(ti && tf);
    ASSERT_EQ(ti->type, TensorType::I2_S);
    ASSERT_EQ(tf->nbytes, uint64_t(ti->n_elements()) * 4);
    const int64_t n = ti->n_elements();
    float scale;
    std::memcpy(&scale, ti->data + n / 4, 4);
    for (int64_t i = 0; i < n; i++) {
        const int64_t block = i / 128, j = i % 128;
        const uint8_t byte = ti->data[32 * block + j % 32];
        const int code = (byte >> (6 - 2 * (j / 32))) & 3;
        float expected;
        std::memcpy(&expected, tf->data + 4 * i, 4);
        ASSERT_EQ(scale * float(code - 1), expected) << "element " << i;
    }
}

// Speed is not asserted here (a timed unit test fails on a loaded machine); `bitnet info` and
// the load time printed by `bitnet bench` show it.
TEST(GgufFixture, VocabIsComplete) {
    auto f = File::open(test::fixture("llama3-vocab.gguf"));
    EXPECT_TRUE(f->tensors().empty());
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "llama-bpe");
    const Value *tokens = f->find("tokenizer.ggml.tokens");
    const Value *merges = f->find("tokenizer.ggml.merges");
    const Value *types = f->find("tokenizer.ggml.token_type");
    ASSERT_TRUE(tokens && merges && types);
    ASSERT_EQ(tokens->type, ValueType::ARRAY);
    EXPECT_EQ(tokens->elem_type, ValueType::STRING);
    EXPECT_EQ(tokens->arr.size(), 128256u);
    EXPECT_EQ(merges->arr.size(), 280147u);
    EXPECT_EQ(types->arr.size(), 128256u);
    EXPECT_EQ(tokens->to_string(), "[128256 items of STRING]");
    EXPECT_EQ(tokens->arr[128000].str, "<|begin_of_text|>");
    EXPECT_EQ(tokens->arr[128009].str, "<|eot_id|>");
    EXPECT_EQ(types->arr[128000].i64, 3);
    EXPECT_EQ(types->arr[0].i64, 1);
    EXPECT_EQ(f->get_u32("tokenizer.ggml.eos_token_id"), 128001u);

    // Reading into memory gives the same result as mapping.
    auto g = File::open(test::fixture("llama3-vocab.gguf"), /*use_mmap=*/false);
    ASSERT_EQ(g->metadata().size(), f->metadata().size());
    EXPECT_EQ(g->find("tokenizer.ggml.merges")->arr[12345].str, merges->arr[12345].str);
}

// ------------------------------------------------------------------------------------------------
// Values and getters

TEST(GgufValue, ToString) {
    Value v;
    v.type = ValueType::UINT8;
    v.u64 = 200;
    EXPECT_EQ(v.to_string(), "200");
    v.type = ValueType::INT32;
    v.i64 = -5;
    EXPECT_EQ(v.to_string(), "-5");
    v.type = ValueType::UINT64;
    v.u64 = UINT64_MAX;
    EXPECT_EQ(v.to_string(), "18446744073709551615");
    v.type = ValueType::FLOAT32;
    v.f64 = 0.1f;
    EXPECT_EQ(v.to_string(), "0.100000001");
    v.type = ValueType::FLOAT64;
    v.f64 = 0.1;
    EXPECT_EQ(v.to_string(), "0.10000000000000001");
    v.type = ValueType::BOOL;
    v.b = true;
    EXPECT_EQ(v.to_string(), "true");
    v.b = false;
    EXPECT_EQ(v.to_string(), "false");
    v.type = ValueType::STRING;
    v.str = "héllo";
    EXPECT_EQ(v.to_string(), "héllo");
    v.type = ValueType::ARRAY;
    v.elem_type = ValueType::INT32;
    v.arr.resize(3);
    EXPECT_EQ(v.to_string(), "[3 items of INT32]");
    EXPECT_FALSE(v.is_integer());
    EXPECT_STREQ(value_type_name(ValueType::FLOAT64), "FLOAT64");
    EXPECT_STREQ(tensor_type_name(TensorType::I2_S), "I2_S");
}

TEST(GgufValue, TensorNbytes) {
    const int64_t f32[4] = {3, 5, 1, 1}, q6[4] = {512, 3, 1, 1}, i2[4] = {256, 10, 1, 1};
    EXPECT_EQ(tensor_nbytes(TensorType::F32, f32), 60u);
    EXPECT_EQ(tensor_nbytes(TensorType::F16, f32), 30u);
    EXPECT_EQ(tensor_nbytes(TensorType::BF16, f32), 30u);
    EXPECT_EQ(tensor_nbytes(TensorType::Q6_K, q6), 6u * 210u);
    EXPECT_EQ(tensor_nbytes(TensorType::I2_S, i2), 2560u / 4 + 32);
    EXPECT_TRUE(tensor_type_known(36));
    EXPECT_FALSE(tensor_type_known(3));
    EXPECT_FALSE(tensor_type_known(38));  // TL1 in bitnet.cpp's fork: rejected
    const int64_t bad_i2[4] = {64, 2, 1, 1}, bad_q6[4] = {128, 1, 1, 1}, zero[4] = {4, 0, 1, 1};
    for (auto [t, ne] : {std::pair{TensorType::I2_S, bad_i2}, std::pair{TensorType::Q6_K, bad_q6},
                         std::pair{TensorType::F32, zero}}) {
        Error e = catch_error([&] { tensor_nbytes(t, ne); });
        EXPECT_EQ(e.status(), BITNET_ERR_BAD_FORMAT) << e.what();
    }
    std::string why;
    EXPECT_FALSE(tensor_nbytes_checked(TensorType::I2_S, bad_i2, nullptr, &why));
    EXPECT_TRUE(contains(why, "multiple of 128")) << why;
}

TEST(GgufValue, Getters) {
    Writer w;
    w.add_value("u8", [] { Value v; v.type = ValueType::UINT8; v.u64 = 9; return v; }());
    w.add_i32("i32", 70000);
    w.add_i32("neg", -1);
    w.add_u64("big", uint64_t(1) << 33);
    w.add_f32("f32", 2.5f);
    w.add_f64("f64", 0.25);
    w.add_bool("flag", true);
    w.add_string("s", "text");
    auto bytes = w.to_bytes();
    auto f = File::from_memory(bytes.data(), bytes.size(), "getters.gguf");

    EXPECT_EQ(f->get_u32("u8"), 9u);
    EXPECT_EQ(f->get_u32("i32"), 70000u);
    EXPECT_EQ(f->get_u32("missing", 17), 17u);
    EXPECT_FLOAT_EQ(f->get_f32("f32"), 2.5f);
    EXPECT_FLOAT_EQ(f->get_f32("f64"), 0.25f);
    EXPECT_FLOAT_EQ(f->get_f32("missing", 1.5f), 1.5f);
    EXPECT_TRUE(f->get_bool("flag", false));
    EXPECT_FALSE(f->get_bool("missing", false));
    EXPECT_EQ(f->get_string("s"), "text");
    EXPECT_EQ(f->get_string("missing", "dflt"), "dflt");
    EXPECT_EQ(f->find("neg")->i64, -1);
    EXPECT_EQ(f->find("big")->f64, double(uint64_t(1) << 33));

    struct Case {
        std::function<void()> call;
        bitnet_status status;
        std::vector<std::string> needles;
    };
    const std::vector<Case> cases = {
        {[&] { f->get_u32("nope"); }, BITNET_ERR_NOT_FOUND, {"'nope'", "not found"}},
        {[&] { f->get_f32("nope"); }, BITNET_ERR_NOT_FOUND, {"'nope'"}},
        {[&] { f->get_string("nope"); }, BITNET_ERR_NOT_FOUND, {"'nope'"}},
        {[&] { f->get_u32("neg"); }, BITNET_ERR_BAD_FORMAT, {"'neg'", "-1", "UINT32"}},
        {[&] { f->get_u32("big"); }, BITNET_ERR_BAD_FORMAT, {"'big'", "8589934592"}},
        {[&] { f->get_u32("s", 1); }, BITNET_ERR_BAD_FORMAT, {"'s'", "STRING", "integer"}},
        {[&] { f->get_f32("u8"); }, BITNET_ERR_BAD_FORMAT, {"'u8'", "UINT8", "FLOAT32"}},
        {[&] { f->get_bool("s", true); }, BITNET_ERR_BAD_FORMAT, {"'s'", "BOOL"}},
        {[&] { f->get_string("flag"); }, BITNET_ERR_BAD_FORMAT, {"'flag'", "STRING"}},
    };
    for (const Case &c : cases) {
        Error e = catch_error(c.call);
        EXPECT_EQ(e.status(), c.status) << e.what();
        EXPECT_TRUE(contains(e.what(), "getters.gguf")) << e.what();
        for (const std::string &n : c.needles) EXPECT_TRUE(contains(e.what(), n)) << e.what();
    }
}

// ------------------------------------------------------------------------------------------------
// Writer

Value scalar(ValueType t, int64_t i = 0, double f = 0) {
    Value v;
    v.type = t;
    v.i64 = i;
    v.u64 = static_cast<uint64_t>(i);
    v.f64 = f;
    v.b = i != 0;
    return v;
}

void expect_same_value(const Value &a, const Value &b, const std::string &where) {
    ASSERT_EQ(a.type, b.type) << where;
    switch (a.type) {
        case ValueType::FLOAT32: EXPECT_EQ(float(a.f64), float(b.f64)) << where; break;
        case ValueType::FLOAT64: EXPECT_EQ(a.f64, b.f64) << where; break;
        case ValueType::BOOL: EXPECT_EQ(a.b, b.b) << where; break;
        case ValueType::STRING: EXPECT_EQ(a.str, b.str) << where; break;
        case ValueType::ARRAY:
            ASSERT_EQ(a.elem_type, b.elem_type) << where;
            ASSERT_EQ(a.arr.size(), b.arr.size()) << where;
            for (size_t i = 0; i < a.arr.size(); i++)
                expect_same_value(a.arr[i], b.arr[i], where + "[" + std::to_string(i) + "]");
            break;
        default:
            if (a.is_signed()) EXPECT_EQ(a.i64, b.i64) << where;
            else EXPECT_EQ(a.u64, b.u64) << where;
            EXPECT_EQ(double(a.is_signed() ? double(a.i64) : double(a.u64)), b.f64) << where;
    }
}

TEST(GgufWriter, RoundTripEveryValueAndTensorType) {
    // Expected values, in the order they are added.
    std::vector<KeyValue> expect;
    Writer w;
    auto add = [&](const std::string &k, const Value &v) {
        w.add_value(k, v);
        expect.push_back({k, v});
    };
    add("v.u8", scalar(ValueType::UINT8, 255));
    add("v.i8", scalar(ValueType::INT8, -128));
    add("v.u16", scalar(ValueType::UINT16, 65535));
    add("v.i16", scalar(ValueType::INT16, -32768));
    add("v.u32", scalar(ValueType::UINT32, 4000000000LL));
    add("v.i32", scalar(ValueType::INT32, INT32_MIN));
    add("v.u64", [] { Value v = scalar(ValueType::UINT64); v.u64 = UINT64_MAX; return v; }());
    add("v.i64", scalar(ValueType::INT64, INT64_MIN));
    add("v.f32", scalar(ValueType::FLOAT32, 0, double(3.14159f)));
    add("v.f64", scalar(ValueType::FLOAT64, 0, -2.718281828459045));
    add("v.bool0", scalar(ValueType::BOOL, 0));
    add("v.bool1", scalar(ValueType::BOOL, 1));
    Value s;
    s.type = ValueType::STRING;
    s.str = std::string("with\0nul and ünïcode", 21);
    add("v.str", s);
    Value empty;
    empty.type = ValueType::ARRAY;
    empty.elem_type = ValueType::FLOAT64;
    add("v.empty", empty);
    Value bools = empty;
    bools.elem_type = ValueType::BOOL;
    bools.arr = {scalar(ValueType::BOOL, 1), scalar(ValueType::BOOL, 0)};
    add("v.bools", bools);
    // Array of arrays of arrays: [[["x"], []], [["y", "z"]]].
    auto strings = [&](std::vector<std::string> xs) {
        Value a = empty;
        a.elem_type = ValueType::STRING;
        for (auto &x : xs) {
            Value e;
            e.type = ValueType::STRING;
            e.str = x;
            a.arr.push_back(e);
        }
        return a;
    };
    auto arrays = [&](std::vector<Value> xs) {
        Value a = empty;
        a.elem_type = ValueType::ARRAY;
        a.arr = std::move(xs);
        return a;
    };
    add("v.nested", arrays({arrays({strings({"x"}), strings({})}), arrays({strings({"y", "z"})})}));

    // The typed adders.
    w.add_u32("t.u32", 123);
    w.add_i32("t.i32", -123);
    w.add_f32("t.f32", 1.5f);
    w.add_bool("t.bool", true);
    w.add_string("t.str", "hello");
    w.add_string_array("t.strs", {"a", "bb", ""});
    w.add_f32_array("t.f32s", {1.0f, -0.5f});
    w.add_i32_array("t.i32s", {1, -2, 3});
    w.add_u64("t.u64", 1ull << 40);
    w.add_f64("t.f64", 1e300);

    // Tensors of every type and by every route (copied, moved, streamed).
    struct T {
        std::string name;
        TensorType type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> data;
    };
    std::vector<T> ts = {
        {"f32", TensorType::F32, {7, 3}, {}},   {"f16", TensorType::F16, {5}, {}},
        {"q6k", TensorType::Q6_K, {256, 2}, {}}, {"bf16", TensorType::BF16, {3, 2, 2}, {}},
        {"i2s", TensorType::I2_S, {128, 3}, {}}, {"moved", TensorType::F32, {2, 1, 1, 3}, {}},
        {"streamed", TensorType::F16, {1000}, {}},
    };
    for (size_t i = 0; i < ts.size(); i++) {
        int64_t ne[4] = {1, 1, 1, 1};
        for (size_t d = 0; d < ts[i].ne.size(); d++) ne[d] = ts[i].ne[d];
        ts[i].data = pattern_bytes(tensor_nbytes(ts[i].type, ne), uint32_t(100 + i));
    }
    for (size_t i = 0; i < 5; i++)
        w.add_tensor(ts[i].name, ts[i].type, ts[i].ne, ts[i].data.data(), ts[i].data.size());
    w.add_tensor(ts[5].name, ts[5].type, ts[5].ne, std::vector<uint8_t>(ts[5].data));
    const std::vector<uint8_t> &streamed = ts[6].data;
    w.add_tensor_streamed(ts[6].name, ts[6].type, ts[6].ne, [&](const Writer::Sink &sink) {
        for (size_t at = 0; at < streamed.size(); at += 300)
            sink(streamed.data() + at, std::min<size_t>(300, streamed.size() - at));
    });

    const std::vector<uint8_t> bytes = w.to_bytes();
    EXPECT_EQ(bytes.size() % 32, 0u);
    auto f = File::from_memory(bytes.data(), bytes.size(), "roundtrip.gguf");
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->data_offset() % 32, 0u);
    EXPECT_EQ(f->find("general.alignment"), nullptr);

    const auto &md = f->metadata();
    ASSERT_EQ(md.size(), expect.size() + 10);
    for (size_t i = 0; i < expect.size(); i++) {
        EXPECT_EQ(md[i].key, expect[i].key);
        expect_same_value(expect[i].value, md[i].value, expect[i].key);
    }
    EXPECT_EQ(f->find("v.nested")->arr[1].arr[0].arr[1].str, "z");
    EXPECT_EQ(f->find("v.nested")->to_string(), "[2 items of ARRAY]");
    EXPECT_EQ(f->get_u32("t.u32"), 123u);
    EXPECT_EQ(f->find("t.i32")->i64, -123);
    EXPECT_EQ(f->get_f32("t.f32"), 1.5f);
    EXPECT_TRUE(f->get_bool("t.bool", false));
    EXPECT_EQ(f->get_string("t.str"), "hello");
    EXPECT_EQ(f->find("t.strs")->arr[1].str, "bb");
    EXPECT_EQ(f->find("t.f32s")->arr[1].f64, -0.5);
    EXPECT_EQ(f->find("t.i32s")->arr[1].i64, -2);
    EXPECT_EQ(f->find("t.u64")->u64, 1ull << 40);
    EXPECT_EQ(f->find("t.f64")->f64, 1e300);

    ASSERT_EQ(f->tensors().size(), ts.size());
    uint64_t expected_offset = 0;
    for (size_t i = 0; i < ts.size(); i++) {
        const TensorInfo &t = f->tensors()[i];
        EXPECT_EQ(t.name, ts[i].name);
        EXPECT_EQ(t.type, ts[i].type);
        EXPECT_EQ(t.n_dims, ts[i].ne.size());
        for (size_t d = 0; d < ts[i].ne.size(); d++) EXPECT_EQ(t.ne[d], ts[i].ne[d]);
        EXPECT_EQ(t.offset, expected_offset) << t.name;
        ASSERT_EQ(t.nbytes, ts[i].data.size());
        EXPECT_EQ(std::memcmp(t.data, ts[i].data.data(), t.nbytes), 0) << t.name;
        // Padding after each tensor is zero.
        const uint64_t end = f->data_offset() + t.offset + t.nbytes;
        for (uint64_t p = end; p < align_up(end, 32); p++) EXPECT_EQ(bytes[p], 0) << t.name;
        expected_offset = align_up(t.offset + t.nbytes, 32);
    }
    // Header padding is zero too.
    const TensorInfo &last = f->tensors().back();
    EXPECT_EQ(bytes.size(), f->data_offset() + align_up(last.offset + last.nbytes, 32));
}

TEST(GgufWriter, WriteFileMatchesToBytes) {
    TempDir dir;
    Writer w;
    w.add_string("general.architecture", "x");
    std::vector<uint8_t> data = pattern_bytes(128 * 4 / 4 + 32, 5);
    w.add_tensor("w", TensorType::I2_S, {128, 4}, data.data(), data.size());
    w.add_tensor_streamed("big", TensorType::F32, {1 << 20}, [](const Writer::Sink &sink) {
        std::vector<float> row(4096);
        for (int r = 0; r < 256; r++) {
            for (int k = 0; k < 4096; k++) row[k] = float(r * 4096 + k);
            sink(row.data(), row.size() * 4);
        }
    });
    const std::string path = dir.file("out.gguf");
    w.write(path);
    EXPECT_FALSE(fs::exists(path + ".part"));
    const std::vector<uint8_t> expect = w.to_bytes();
    for (bool mmap : {true, false}) {
        auto f = File::open(path, mmap);
        ASSERT_EQ(f->file_size(), expect.size());
        const TensorInfo *big = f->find_tensor("big");
        ASSERT_NE(big, nullptr);
        float x;
        std::memcpy(&x, big->data + 4 * 777777, 4);
        EXPECT_EQ(x, 777777.0f);
        // Tensor data of a mapping is at least 32-byte aligned.
        EXPECT_EQ(reinterpret_cast<uintptr_t>(big->data) % 32, 0u);
    }
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> got((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(got, expect);
}

TEST(GgufWriter, RejectsInvalidInput) {
    Writer w;
    w.add_u32("k", 1);
    std::vector<uint8_t> d(64);
    w.add_tensor("t", TensorType::F32, {16}, d.data(), d.size());
    const std::string long_name(65, 'n');
    struct Case {
        std::function<void()> call;
        std::string needle;
    };
    Value bad_arr;
    bad_arr.type = ValueType::ARRAY;
    bad_arr.elem_type = ValueType::INT32;
    bad_arr.arr = {scalar(ValueType::INT32, 1), scalar(ValueType::UINT8, 2)};
    Value too_big = scalar(ValueType::UINT8, 256);
    Value deep = scalar(ValueType::INT32, 1);
    for (int i = 0; i < 5; i++) {
        Value a;
        a.type = ValueType::ARRAY;
        a.elem_type = deep.type;
        a.arr = {deep};
        deep = a;
    }
    const std::vector<Case> cases = {
        {[&] { w.add_u32("k", 2); }, "duplicate key 'k'"},
        {[&] { w.add_string(std::string(65536, 'k'), ""); }, "65535"},
        {[&] { w.add_value("arr", bad_arr); }, "array item 1"},
        {[&] { w.add_value("u8", too_big); }, "does not fit in UINT8"},
        {[&] { w.add_value("deep", deep); }, "nested deeper"},
        {[&] { w.add_tensor("t", TensorType::F32, {16}, d.data(), d.size()); }, "duplicate"},
        {[&] { w.add_tensor("u", TensorType::F32, {15}, d.data(), d.size()); }, "needs 60"},
        {[&] { w.add_tensor("u", TensorType::I2_S, {64}, d.data(), d.size()); }, "128"},
        {[&] { w.add_tensor("u", TensorType::F32, {4, 0}, d.data(), d.size()); }, "ne1 = 0"},
        {[&] { w.add_tensor("u", TensorType::F32, {1, 1, 1, 1, 1}, d.data(), 4); }, "1..4"},
        {[&] { w.add_tensor(long_name, TensorType::F32, {16}, d.data(), 64); }, "64 bytes"},
        {[&] { w.add_tensor("u", TensorType(99), {16}, d.data(), 64); }, "unknown type 99"},
    };
    for (const Case &c : cases) {
        Error e = catch_error(c.call);
        EXPECT_EQ(e.status(), BITNET_ERR_INVALID_ARGUMENT) << e.what();
        EXPECT_TRUE(contains(e.what(), c.needle)) << c.needle << " not in: " << e.what();
    }
    // The writer is unchanged by the rejected calls.
    auto bytes = w.to_bytes();
    auto f = File::from_memory(bytes.data(), bytes.size());
    EXPECT_EQ(f->metadata().size(), 1u);
    EXPECT_EQ(f->tensors().size(), 1u);

    // A producer delivering the wrong number of bytes.
    for (size_t n : {60u, 68u}) {
        Writer p;
        p.add_tensor_streamed("s", TensorType::F32, {16}, [n](const Writer::Sink &sink) {
            std::vector<uint8_t> buf(n);
            sink(buf.data(), n);
        });
        Error e = catch_error([&] { p.to_bytes(); });
        EXPECT_EQ(e.status(), BITNET_ERR_INVALID_ARGUMENT) << e.what();
        EXPECT_TRUE(contains(e.what(), "'s'")) << e.what();
        TempDir dir;
        const std::string path = dir.file("p.gguf");
        EXPECT_THROW(p.write(path), Error);
        EXPECT_FALSE(fs::exists(path));
        EXPECT_FALSE(fs::exists(path + ".part"));
    }
    Error e = catch_error([&] { w.write("/nonexistent-dir/x/out.gguf"); });
    EXPECT_EQ(e.status(), BITNET_ERR_IO);
    EXPECT_TRUE(contains(e.what(), "/nonexistent-dir/x/out.gguf")) << e.what();
    EXPECT_TRUE(contains(e.what(), std::strerror(ENOENT))) << e.what();
}

// ------------------------------------------------------------------------------------------------
// Malformed files

TEST(GgufErrors, CraftedBaselineIsValid) {
    // The crafted images below differ from these valid ones in one field only.
    auto ok = one_tensor("w", {8}, kF32, 0, 32);
    auto f = File::from_memory(ok.data(), ok.size());
    EXPECT_EQ(f->tensors()[0].nbytes, 32u);
    EXPECT_EQ(f->get_string("general.architecture"), "test");
    auto small = small_valid_file();
    EXPECT_NO_THROW(File::from_memory(small.data(), small.size()));
}

TEST(GgufErrors, BadMagic) {
    auto b = small_valid_file();
    b[3] = 'X';
    EXPECT_GGUF_ERROR(b, BITNET_ERR_BAD_FORMAT, "magic", "47 47 55 58");
}

TEST(GgufErrors, Versions) {
    auto b = small_valid_file();
    for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
        b[4] = uint8_t(v), b[5] = uint8_t(v >> 8), b[6] = uint8_t(v >> 16), b[7] = uint8_t(v >> 24);
        EXPECT_GGUF_ERROR(b, BITNET_ERR_UNSUPPORTED, "version " + std::to_string(v));
    }
    b[4] = 2, b[5] = b[6] = b[7] = 0;  // version 2 has the same layout
    auto f = File::from_memory(b.data(), b.size());
    EXPECT_EQ(f->version(), 2u);
}

TEST(GgufErrors, TruncatedAtEveryByte) {
    const auto full = small_valid_file();
    for (size_t n = 0; n < full.size(); n++) {
        std::vector<uint8_t> prefix(full.begin(), full.begin() + n);
        try {
            File::from_memory(prefix.data(), prefix.size(), "prefix.gguf");
            ADD_FAILURE() << "prefix of " << n << " bytes parsed";
        } catch (const Error &e) {
            ASSERT_EQ(e.status(), BITNET_ERR_BAD_FORMAT) << n << ": " << e.what();
            const std::string msg = e.what();
            ASSERT_TRUE(contains(msg, "prefix.gguf")) << msg;
            // Cut inside a value, inside tensor data, or before the bytes a count or length
            // promised ("... exceeds the N bytes left").
            ASSERT_TRUE(contains(msg, "truncated at byte") || contains(msg, "outside the file") ||
                        contains(msg, "bytes left"))
                << msg;
        }
    }
    // The same through files, mapped and read. An empty file cannot be mapped: IO.
    TempDir dir;
    const std::string path = dir.file("prefix.gguf");
    for (size_t n = 0; n < full.size(); n++) {
        write_file(path, std::vector<uint8_t>(full.begin(), full.begin() + n));
        for (bool mmap : {true, false}) {
            Error e = catch_error([&] { File::open(path, mmap); });
            ASSERT_EQ(e.status(), n == 0 ? BITNET_ERR_IO : BITNET_ERR_BAD_FORMAT)
                << n << ": " << e.what();
            ASSERT_TRUE(contains(e.what(), path)) << e.what();
        }
    }
    // A message names the place and the numbers.
    Img cut;
    cut.header(0, 1).kv("abc", ValueType::UINT32).u16(0);  // 2 of the value's 4 bytes
    EXPECT_GGUF_ERROR(cut.b, BITNET_ERR_BAD_FORMAT, "truncated at byte 39",
                      "key-value pair 0 ('abc') (value)", "need 4 bytes", "file has 41");
}

TEST(GgufErrors, HugeCounts) {
    const uint64_t huge = uint64_t(1) << 60;
    EXPECT_GGUF_ERROR(Img().header(0, huge).zeros(64).b, BITNET_ERR_BAD_FORMAT, "kv_count",
                      "1152921504606846976");
    EXPECT_GGUF_ERROR(Img().header(huge, 0).zeros(64).b, BITNET_ERR_BAD_FORMAT, "tensor_count",
                      "1152921504606846976");
    // Plausible alone, impossible together.
    EXPECT_GGUF_ERROR(Img().header(2, 4).zeros(100).b, BITNET_ERR_BAD_FORMAT, "cannot both fit");

    Img arr;
    arr.header(0, 1).kv("a", ValueType::ARRAY).u32(uint32_t(ValueType::UINT8)).u64(huge).zeros(64);
    EXPECT_GGUF_ERROR(arr.b, BITNET_ERR_BAD_FORMAT, "array count", "1152921504606846976");
    // 20 strings need at least 160 bytes; 100 are left.
    Img strs;
    strs.header(0, 1).kv("a", ValueType::ARRAY).u32(uint32_t(ValueType::STRING)).u64(20).zeros(100);
    EXPECT_GGUF_ERROR(strs.b, BITNET_ERR_BAD_FORMAT, "array count = 20", "at most 12");

    Img str;
    str.header(0, 1).kv("a", ValueType::STRING).u64(huge).zeros(64);
    EXPECT_GGUF_ERROR(str.b, BITNET_ERR_BAD_FORMAT, "string length 1152921504606846976",
                      "key-value pair 0 ('a')");
    Img key;
    key.header(0, 1).u64(huge).zeros(64);
    EXPECT_GGUF_ERROR(key.b, BITNET_ERR_BAD_FORMAT, "key length 1152921504606846976");
    Img long_key;
    long_key.header(0, 1).str(std::string(65536, 'k')).u32(uint32_t(ValueType::UINT8)).u8(0);
    EXPECT_GGUF_ERROR(long_key.b, BITNET_ERR_BAD_FORMAT, "key length 65536", "65535");
    Img name;
    name.header(1, 0).u64(huge).zeros(64);
    EXPECT_GGUF_ERROR(name.b, BITNET_ERR_BAD_FORMAT, "name length 1152921504606846976",
                      "tensor info 0");
    auto long_name = one_tensor(std::string(257, 'n'), {8}, kF32, 0, 32);
    EXPECT_GGUF_ERROR(long_name, BITNET_ERR_BAD_FORMAT, "name length 257", "256");
    // 256 bytes is the lenient limit; the spec's 64 is not enforced when reading.
    auto ok_name = one_tensor(std::string(256, 'n'), {8}, kF32, 0, 32);
    EXPECT_NO_THROW(File::from_memory(ok_name.data(), ok_name.size()));
}

TEST(GgufErrors, BadValues) {
    Img b;
    b.header(0, 1).kv("flag", ValueType::BOOL).u8(2);
    EXPECT_GGUF_ERROR(b.b, BITNET_ERR_BAD_FORMAT, "invalid BOOL value 2", "'flag'");
    Img ba;  // a bad bool inside an array
    ba.header(0, 1).kv("flags", ValueType::ARRAY).u32(uint32_t(ValueType::BOOL)).u64(3);
    ba.u8(1).u8(0).u8(7);
    EXPECT_GGUF_ERROR(ba.b, BITNET_ERR_BAD_FORMAT, "invalid BOOL value 7", "array element 2");

    Img t;
    t.header(0, 1).str("k").u32(13).u32(0);
    EXPECT_GGUF_ERROR(t.b, BITNET_ERR_BAD_FORMAT, "unknown value type 13", "'k'");
    Img ta;
    ta.header(0, 1).kv("k", ValueType::ARRAY).u32(99).u64(1).u32(0);
    EXPECT_GGUF_ERROR(ta.b, BITNET_ERR_BAD_FORMAT, "unknown value type 99");

    // Arrays nest at most 4 deep.
    auto nested = [](int depth) {
        Img n;
        n.header(0, 1).kv("deep", ValueType::ARRAY);
        for (int i = 1; i < depth; i++) n.u32(uint32_t(ValueType::ARRAY)).u64(1);
        n.u32(uint32_t(ValueType::UINT8)).u64(1).u8(42);
        return n.b;
    };
    auto ok = nested(4);
    auto f = File::from_memory(ok.data(), ok.size());
    EXPECT_EQ(f->find("deep")->arr[0].arr[0].arr[0].arr[0].u64, 42u);
    EXPECT_GGUF_ERROR(nested(5), BITNET_ERR_BAD_FORMAT, "nested deeper than 4");

    Img dup;
    dup.header(0, 3).kv("a.b", ValueType::UINT8).u8(1).kv("c", ValueType::UINT8).u8(1);
    dup.kv("a.b", ValueType::STRING).str("again");
    EXPECT_GGUF_ERROR(dup.b, BITNET_ERR_BAD_FORMAT, "duplicate key 'a.b'", "key-value pair 2");
}

TEST(GgufErrors, TensorInfo) {
    EXPECT_GGUF_ERROR(one_tensor("blk.0.w", {128}, 99, 0, 512), BITNET_ERR_UNSUPPORTED,
                      "'blk.0.w'", "unknown ggml type 99");
    EXPECT_GGUF_ERROR(one_tensor("w", {}, kF32, 0, 32), BITNET_ERR_BAD_FORMAT, "n_dims = 0");
    EXPECT_GGUF_ERROR(one_tensor("w", {1, 1, 1, 1, 1}, kF32, 0, 32), BITNET_ERR_BAD_FORMAT,
                      "n_dims = 5");
    EXPECT_GGUF_ERROR(one_tensor("w", {4, 0}, kF32, 0, 32), BITNET_ERR_BAD_FORMAT, "'w'",
                      "ne1 = 0");
    EXPECT_GGUF_ERROR(one_tensor("w", {1ull << 32, 1ull << 32}, kF32, 0, 32),
                      BITNET_ERR_BAD_FORMAT, "'w'", "exceeds 2^50");
    // Every partial product fits, the full one overflows int64.
    EXPECT_GGUF_ERROR(one_tensor("w", {1ull << 20, 1ull << 20, 1ull << 20, 1ull << 20}, kF32, 0,
                                 32),
                      BITNET_ERR_BAD_FORMAT, "exceeds 2^50");
    EXPECT_GGUF_ERROR(one_tensor("w", {(1ull << 63) + 1}, kF32, 0, 32), BITNET_ERR_BAD_FORMAT,
                      "does not fit in int64");
    // A shape no I2_S kernel takes: unsupported rather than malformed.
    EXPECT_GGUF_ERROR(one_tensor("w", {64, 2}, kI2S, 0, 64), BITNET_ERR_UNSUPPORTED, "'w'", "I2_S",
                      "multiple of 128");
    EXPECT_GGUF_ERROR(one_tensor("w", {128}, 14, 0, 256), BITNET_ERR_BAD_FORMAT, "Q6_K",
                      "multiple of 256");

    Img dup;
    dup.header(2, 0).tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).pad().zeros(64);
    EXPECT_GGUF_ERROR(dup.b, BITNET_ERR_BAD_FORMAT, "duplicate tensor name 'w'", "tensor info 1");
}

TEST(GgufErrors, TensorPlacement) {
    EXPECT_GGUF_ERROR(one_tensor("w", {8}, kF32, 16, 64), BITNET_ERR_BAD_FORMAT, "'w'",
                      "offset 16", "not a multiple of the alignment 32");
    EXPECT_GGUF_ERROR(one_tensor("w", {1024}, kF32, 0, 32), BITNET_ERR_BAD_FORMAT, "'w'",
                      "lies outside the file");
    EXPECT_GGUF_ERROR(one_tensor("w", {8}, kF32, 64, 64), BITNET_ERR_BAD_FORMAT,
                      "lies outside the file");
    EXPECT_GGUF_ERROR(one_tensor("w", {8}, kF32, ~uint64_t(0) - 31, 64), BITNET_ERR_BAD_FORMAT,
                      "'w'", "overflows");
    EXPECT_GGUF_ERROR(one_tensor("w", {1ull << 49}, kI2S, 0, 64), BITNET_ERR_BAD_FORMAT,
                      "lies outside the file");

    Img overlap;
    overlap.header(2, 0).tensor("first", {16}, kF32, 0).tensor("second", {16}, kF32, 32);
    overlap.pad().zeros(96);
    EXPECT_GGUF_ERROR(overlap.b, BITNET_ERR_BAD_FORMAT, "'first'", "'second'", "overlap");
    Img same;
    same.header(2, 0).tensor("a", {8}, kF32, 0).tensor("b", {8}, kF32, 0).pad().zeros(32);
    EXPECT_GGUF_ERROR(same.b, BITNET_ERR_BAD_FORMAT, "overlap");
    // Back to back in reverse order and with gaps is fine.
    Img gaps;
    gaps.header(2, 0).tensor("a", {16}, kF32, 128).tensor("b", {8}, kF16, 0).pad().zeros(192);
    EXPECT_NO_THROW(File::from_memory(gaps.b.data(), gaps.b.size()));
}

TEST(GgufErrors, Alignment) {
    auto with_alignment = [](auto put_value, ValueType t, uint64_t offset) {
        Img i;
        i.header(1, 1).kv("general.alignment", t);
        put_value(i);
        i.tensor("w", {8}, kF32, offset).pad(64).zeros(64 + offset);
        return i.b;
    };
    auto u32 = [](uint32_t v) { return [v](Img &i) { i.u32(v); }; };
    EXPECT_GGUF_ERROR(with_alignment(u32(0), ValueType::UINT32, 0), BITNET_ERR_BAD_FORMAT,
                      "general.alignment", "found 0");
    EXPECT_GGUF_ERROR(with_alignment(u32(12), ValueType::UINT32, 0), BITNET_ERR_BAD_FORMAT,
                      "general.alignment", "found 12");
    EXPECT_GGUF_ERROR(with_alignment([](Img &i) { i.str("32"); }, ValueType::STRING, 0),
                      BITNET_ERR_BAD_FORMAT, "general.alignment has type STRING");
    // 64 is honoured: the data section and offsets follow it.
    EXPECT_GGUF_ERROR(with_alignment(u32(64), ValueType::UINT32, 32), BITNET_ERR_BAD_FORMAT,
                      "not a multiple of the alignment 64");
    auto ok = with_alignment(u32(64), ValueType::UINT32, 64);
    auto f = File::from_memory(ok.data(), ok.size());
    EXPECT_EQ(f->alignment(), 64u);
    EXPECT_EQ(f->data_offset() % 64, 0u);
    EXPECT_EQ(f->tensors()[0].offset, 64u);
    EXPECT_EQ(f->data_offset() + 64 + 64, ok.size());
}

TEST(GgufErrors, FileSystem) {
    TempDir dir;
    const std::string missing = dir.file("missing.gguf");
    Error e = catch_error([&] { File::open(missing); });
    EXPECT_EQ(e.status(), BITNET_ERR_IO);
    EXPECT_TRUE(contains(e.what(), missing)) << e.what();
    EXPECT_TRUE(contains(e.what(), std::strerror(ENOENT))) << e.what();

    const std::string d = dir.file("");
    for (bool mmap : {true, false}) {
        e = catch_error([&] { File::open(d, mmap); });
        EXPECT_EQ(e.status(), BITNET_ERR_IO);
        EXPECT_TRUE(contains(e.what(), std::strerror(EISDIR))) << e.what();
    }

    const std::string empty = dir.file("empty.gguf");
    write_file(empty, {});
    e = catch_error([&] { File::open(empty); });
    EXPECT_EQ(e.status(), BITNET_ERR_IO);
    EXPECT_TRUE(contains(e.what(), "empty")) << e.what();
    // From memory, an empty image is simply truncated.
    EXPECT_GGUF_ERROR(std::vector<uint8_t>{}, BITNET_ERR_BAD_FORMAT, "truncated at byte 0");
}

// Random corruption of a valid file: every outcome is a clean parse or a bitnet::Error (the
// sanitizer build checks that nothing is read out of bounds).
TEST(GgufErrors, RandomCorruptionNeverCrashes) {
    const auto full = small_valid_file();
    std::mt19937 rng(12345);
    int rejected = 0;
    for (int iter = 0; iter < 4000; iter++) {
        std::vector<uint8_t> b = full;
        const int n_flips = 1 + int(rng() % 4);
        for (int k = 0; k < n_flips; k++) {
            const size_t at = rng() % b.size();
            // Mostly byte changes in the header region, where they matter.
            b[rng() % 2 ? at : at % 200] = uint8_t(rng());
        }
        if (rng() % 4 == 0) b.resize(rng() % b.size());
        try {
            auto f = File::from_memory(b.data(), b.size());
            // Touch the first and last byte of each tensor: in range, or ASan reports it.
            for (const TensorInfo &t : f->tensors()) {
                volatile uint8_t first = t.data[0], last = t.data[t.nbytes - 1];
                (void)first;
                (void)last;
            }
        } catch (const Error &e) {
            rejected++;
            ASSERT_NE(e.status(), BITNET_OK);
            ASSERT_NE(e.status(), BITNET_ERR_INTERNAL);
        }
    }
    EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace bitnet::gguf
