// Tokenizer::from_gguf: reads the tokenizer.* metadata into TokenizerData and builds from that.
#include <limits>
#include <optional>
#include <string>

#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace bitnet {
namespace {

using gguf::Value;
using gguf::ValueType;

[[noreturn]] void bad_type(std::string_view key, const Value &v, const char *wanted) {
    fail(BITNET_ERR_BAD_FORMAT, std::string(key) + ": expected " + wanted + ", found " +
                                    gguf::value_type_name(v.type));
}

bool is_integer_type(ValueType t) {
    return t != ValueType::FLOAT32 && t != ValueType::FLOAT64 && t != ValueType::BOOL &&
           t != ValueType::STRING && t != ValueType::ARRAY;
}

bool is_unsigned(ValueType t) {
    return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
           t == ValueType::UINT64;
}

// An integer value of any width as int64, or nullopt when it does not fit.
std::optional<int64_t> as_int64(const Value &v) {
    if (is_unsigned(v.type)) {
        if (v.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
        return static_cast<int64_t>(v.u64);
    }
    return v.i64;
}

std::string read_string(std::string_view key, const Value &v) {
    if (v.type != ValueType::STRING) bad_type(key, v, "a string");
    return v.str;
}

std::vector<std::string> read_string_array(std::string_view key, const Value &v) {
    if (v.type != ValueType::ARRAY || v.elem_type != ValueType::STRING)
        bad_type(key, v, "an array of strings");
    std::vector<std::string> out;
    out.reserve(v.arr.size());
    for (const Value &item : v.arr) {
        if (item.type != ValueType::STRING) bad_type(key, item, "an array of strings");
        out.push_back(item.str);
    }
    return out;
}

std::vector<int32_t> read_int32_array(std::string_view key, const Value &v) {
    if (v.type != ValueType::ARRAY || !is_integer_type(v.elem_type))
        bad_type(key, v, "an array of integers");
    std::vector<int32_t> out;
    out.reserve(v.arr.size());
    for (const Value &item : v.arr) {
        if (!item.is_integer()) bad_type(key, item, "an array of integers");
        const auto x = as_int64(item);
        if (!x || *x < std::numeric_limits<int32_t>::min() ||
            *x > std::numeric_limits<int32_t>::max())
            fail(BITNET_ERR_BAD_FORMAT, std::string(key) + ": value out of range");
        out.push_back(static_cast<int32_t>(*x));
    }
    return out;
}

std::vector<float> read_f32_array(std::string_view key, const Value &v) {
    if (v.type != ValueType::ARRAY ||
        (v.elem_type != ValueType::FLOAT32 && v.elem_type != ValueType::FLOAT64))
        bad_type(key, v, "an array of floats");
    std::vector<float> out;
    out.reserve(v.arr.size());
    for (const Value &item : v.arr) {
        if (item.type != ValueType::FLOAT32 && item.type != ValueType::FLOAT64)
            bad_type(key, item, "an array of floats");
        out.push_back(static_cast<float>(item.f64));  // finiteness is checked in from_data
    }
    return out;
}

std::optional<bool> read_bool(const gguf::File &file, std::string_view key) {
    const Value *v = file.find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::BOOL) bad_type(key, *v, "a bool");
    return v->b;
}

// Optional token id: -1 when absent; BAD_FORMAT when not an integer or out of the u32/int32
// range (the vocabulary-size check happens in from_data).
int32_t read_token_id(const gguf::File &file, std::string_view key) {
    const Value *v = file.find(key);
    if (!v) return -1;
    if (!v->is_integer()) bad_type(key, *v, "an integer");
    const auto x = as_int64(*v);
    if (!x || *x < 0 || *x > std::numeric_limits<int32_t>::max())
        fail(BITNET_ERR_BAD_FORMAT, std::string(key) + ": token id " + v->to_string() +
                                        " out of range");
    return static_cast<int32_t>(*x);
}

const Value &require(const gguf::File &file, std::string_view key) {
    const Value *v = file.find(key);
    if (!v) fail(BITNET_ERR_BAD_FORMAT, std::string(key) + ": missing tokenizer key");
    return *v;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File &file) {
    TokenizerData d;
    d.model = read_string("tokenizer.ggml.model", require(file, "tokenizer.ggml.model"));
    // Checked before the arrays, which other models lay out differently.
    if (d.model != "gpt2" && d.model != "llama")
        fail(BITNET_ERR_UNSUPPORTED, "tokenizer.ggml.model: unsupported tokenizer model '" +
                                         d.model +
                                         "' (supported: 'gpt2', byte-level BPE, and 'llama', "
                                         "SentencePiece)");
    const bool spm = d.model == "llama";
    if (const Value *v = file.find("tokenizer.ggml.pre")) d.pre = read_string("tokenizer.ggml.pre", *v);
    d.tokens = read_string_array("tokenizer.ggml.tokens", require(file, "tokenizer.ggml.tokens"));
    if (const Value *v = file.find("tokenizer.ggml.token_type"))
        d.token_types = read_int32_array("tokenizer.ggml.token_type", *v);
    if (spm) {
        d.scores = read_f32_array("tokenizer.ggml.scores", require(file, "tokenizer.ggml.scores"));
        d.unk = read_token_id(file, "tokenizer.ggml.unknown_token_id");
        d.add_space_prefix = read_bool(file, "tokenizer.ggml.add_space_prefix");
    } else {
        d.merges =
            read_string_array("tokenizer.ggml.merges", require(file, "tokenizer.ggml.merges"));
    }
    d.bos = read_token_id(file, "tokenizer.ggml.bos_token_id");
    d.eos = read_token_id(file, "tokenizer.ggml.eos_token_id");
    d.eot = read_token_id(file, "tokenizer.ggml.eot_token_id");
    d.add_bos = read_bool(file, "tokenizer.ggml.add_bos_token");
    return from_data(std::move(d));
}

}  // namespace bitnet
