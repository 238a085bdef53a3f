// GGUF v3 writer. Metadata is encoded as it is added (it is small); tensor bytes are held, moved
// in, or produced on demand, and streamed out after the header so that writing a large model never
// needs the whole file in memory.
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include <unistd.h>

#include "common/error.h"
#include "gguf/gguf.h"

namespace bitnet::gguf {

namespace {

constexpr uint32_t kWriteAlignment = kDefaultAlignment;  // no general.alignment key is written

[[noreturn]] void invalid(const std::string &msg) { fail(BITNET_ERR_INVALID_ARGUMENT, msg); }

// IO failure with the text of errno, read first so that building the message cannot change it.
[[noreturn]] void fail_errno(const char *verb, const std::string &path) {
    const int err = errno;
    fail(BITNET_ERR_IO, std::string("cannot ") + verb + " " + path + ": " + std::strerror(err));
}

void put_u8(std::vector<uint8_t> &b, uint8_t v) { b.push_back(v); }
void put_u16(std::vector<uint8_t> &b, uint16_t v) {
    b.push_back(uint8_t(v));
    b.push_back(uint8_t(v >> 8));
}
void put_u32(std::vector<uint8_t> &b, uint32_t v) {
    for (int i = 0; i < 4; i++) b.push_back(uint8_t(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t> &b, uint64_t v) {
    for (int i = 0; i < 8; i++) b.push_back(uint8_t(v >> (8 * i)));
}
void put_f32(std::vector<uint8_t> &b, float v) { put_u32(b, std::bit_cast<uint32_t>(v)); }
void put_str(std::vector<uint8_t> &b, std::string_view s) {
    put_u64(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
}

// Integer payload of a Value after checking it fits the declared width.
uint64_t checked_int(const Value &v, const std::string &key) {
    int64_t lo = 0;
    uint64_t hi = 0;
    switch (v.type) {
        case ValueType::UINT8: hi = UINT8_MAX; break;
        case ValueType::UINT16: hi = UINT16_MAX; break;
        case ValueType::UINT32: hi = UINT32_MAX; break;
        case ValueType::UINT64: hi = UINT64_MAX; break;
        case ValueType::INT8: lo = INT8_MIN, hi = INT8_MAX; break;
        case ValueType::INT16: lo = INT16_MIN, hi = INT16_MAX; break;
        case ValueType::INT32: lo = INT32_MIN, hi = INT32_MAX; break;
        case ValueType::INT64: lo = INT64_MIN, hi = INT64_MAX; break;
        default: break;
    }
    const bool fits = v.is_signed() ? (v.i64 >= lo && (v.i64 < 0 || uint64_t(v.i64) <= hi))
                                    : v.u64 <= hi;
    if (!fits)
        invalid("gguf writer: key '" + key + "': value " + v.to_string() + " does not fit in " +
                value_type_name(v.type));
    return v.is_signed() ? static_cast<uint64_t>(v.i64) : v.u64;
}

// Appends the payload of v (no type tag for the top level; arrays carry their element tag).
void encode_value(std::vector<uint8_t> &b, const Value &v, int depth, const std::string &key) {
    switch (v.type) {
        case ValueType::UINT8:
        case ValueType::INT8: put_u8(b, uint8_t(checked_int(v, key))); break;
        case ValueType::UINT16:
        case ValueType::INT16: put_u16(b, uint16_t(checked_int(v, key))); break;
        case ValueType::UINT32:
        case ValueType::INT32: put_u32(b, uint32_t(checked_int(v, key))); break;
        case ValueType::UINT64:
        case ValueType::INT64: put_u64(b, checked_int(v, key)); break;
        case ValueType::FLOAT32: put_f32(b, static_cast<float>(v.f64)); break;
        case ValueType::FLOAT64: put_u64(b, std::bit_cast<uint64_t>(v.f64)); break;
        case ValueType::BOOL: put_u8(b, v.b ? 1 : 0); break;
        case ValueType::STRING: put_str(b, v.str); break;
        case ValueType::ARRAY:
            if (depth >= kMaxArrayDepth)
                invalid("gguf writer: key '" + key + "': arrays nested deeper than " +
                        std::to_string(kMaxArrayDepth) + " levels");
            if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(ValueType::FLOAT64))
                invalid("gguf writer: key '" + key + "': unknown array element type");
            put_u32(b, static_cast<uint32_t>(v.elem_type));
            put_u64(b, v.arr.size());
            for (size_t i = 0; i < v.arr.size(); i++) {
                if (v.arr[i].type != v.elem_type)
                    invalid("gguf writer: key '" + key + "': array item " + std::to_string(i) +
                            " has type " + value_type_name(v.arr[i].type) + ", array holds " +
                            value_type_name(v.elem_type));
                encode_value(b, v.arr[i], depth + 1, key);
            }
            break;
        default: invalid("gguf writer: key '" + key + "': unknown value type");
    }
}

}  // namespace

// --- metadata ---

void Writer::add_key(const std::string &key, ValueType type) {
    if (key.size() > kMaxKeyLength)
        invalid("gguf writer: key of " + std::to_string(key.size()) + " bytes exceeds " +
                std::to_string(kMaxKeyLength));
    if (!keys_.insert(key).second) invalid("gguf writer: duplicate key '" + key + "'");
    put_str(kv_bytes_, key);
    put_u32(kv_bytes_, static_cast<uint32_t>(type));
    n_kv_++;
}

void Writer::add_value(const std::string &key, const Value &v) {
    // Encode first so that an invalid value leaves the writer unchanged.
    std::vector<uint8_t> payload;
    encode_value(payload, v, 0, key);
    add_key(key, v.type);
    kv_bytes_.insert(kv_bytes_.end(), payload.begin(), payload.end());
}

void Writer::add_u32(const std::string &key, uint32_t v) {
    add_key(key, ValueType::UINT32);
    put_u32(kv_bytes_, v);
}
void Writer::add_i32(const std::string &key, int32_t v) {
    add_key(key, ValueType::INT32);
    put_u32(kv_bytes_, static_cast<uint32_t>(v));
}
void Writer::add_u64(const std::string &key, uint64_t v) {
    add_key(key, ValueType::UINT64);
    put_u64(kv_bytes_, v);
}
void Writer::add_f32(const std::string &key, float v) {
    add_key(key, ValueType::FLOAT32);
    put_f32(kv_bytes_, v);
}
void Writer::add_f64(const std::string &key, double v) {
    add_key(key, ValueType::FLOAT64);
    put_u64(kv_bytes_, std::bit_cast<uint64_t>(v));
}
void Writer::add_bool(const std::string &key, bool v) {
    add_key(key, ValueType::BOOL);
    put_u8(kv_bytes_, v ? 1 : 0);
}
void Writer::add_string(const std::string &key, const std::string &v) {
    add_key(key, ValueType::STRING);
    put_str(kv_bytes_, v);
}
void Writer::add_string_array(const std::string &key, const std::vector<std::string> &v) {
    add_key(key, ValueType::ARRAY);
    put_u32(kv_bytes_, static_cast<uint32_t>(ValueType::STRING));
    put_u64(kv_bytes_, v.size());
    for (const std::string &s : v) put_str(kv_bytes_, s);
}
void Writer::add_f32_array(const std::string &key, const std::vector<float> &v) {
    add_key(key, ValueType::ARRAY);
    put_u32(kv_bytes_, static_cast<uint32_t>(ValueType::FLOAT32));
    put_u64(kv_bytes_, v.size());
    for (float x : v) put_f32(kv_bytes_, x);
}
void Writer::add_i32_array(const std::string &key, const std::vector<int32_t> &v) {
    add_key(key, ValueType::ARRAY);
    put_u32(kv_bytes_, static_cast<uint32_t>(ValueType::INT32));
    put_u64(kv_bytes_, v.size());
    for (int32_t x : v) put_u32(kv_bytes_, static_cast<uint32_t>(x));
}

// --- tensors ---

uint64_t Writer::check_tensor(const std::string &name, TensorType type,
                              const std::vector<int64_t> &ne) {
    const std::string what = "gguf writer: tensor '" + name + "'";
    if (name.empty()) invalid("gguf writer: empty tensor name");
    if (name.size() > kWriterMaxTensorNameLength)
        invalid(what + ": name longer than " + std::to_string(kWriterMaxTensorNameLength) +
                " bytes");
    if (tensor_names_.count(name)) invalid(what + ": duplicate tensor name");
    if (!tensor_type_known(static_cast<uint32_t>(type)))
        invalid(what + ": unknown type " + std::to_string(static_cast<uint32_t>(type)));
    if (ne.empty() || ne.size() > 4)
        invalid(what + ": " + std::to_string(ne.size()) + " dimensions, expected 1..4");
    int64_t dims[4] = {1, 1, 1, 1};
    for (size_t i = 0; i < ne.size(); i++) dims[i] = ne[i];
    uint64_t nbytes = 0;
    std::string why;
    if (!tensor_nbytes_checked(type, dims, &nbytes, &why)) invalid(what + ": " + why);
    return nbytes;
}

void Writer::add_tensor(const std::string &name, TensorType type, const std::vector<int64_t> &ne,
                        const void *data, size_t nbytes) {
    const uint64_t need = check_tensor(name, type, ne);
    if (!data) invalid("gguf writer: tensor '" + name + "': null data");
    if (nbytes != need)
        invalid("gguf writer: tensor '" + name + "': " + std::to_string(nbytes) +
                " bytes given, type " + tensor_type_name(type) + " needs " + std::to_string(need));
    const uint8_t *p = static_cast<const uint8_t *>(data);
    tensors_.push_back({name, type, ne, std::vector<uint8_t>(p, p + nbytes), need, nullptr});
    tensor_names_.insert(name);
}

void Writer::add_tensor(const std::string &name, TensorType type, const std::vector<int64_t> &ne,
                        std::vector<uint8_t> &&data) {
    const uint64_t need = check_tensor(name, type, ne);
    if (data.size() != need)
        invalid("gguf writer: tensor '" + name + "': " + std::to_string(data.size()) +
                " bytes given, type " + tensor_type_name(type) + " needs " + std::to_string(need));
    tensors_.push_back({name, type, ne, std::move(data), need, nullptr});
    tensor_names_.insert(name);
}

void Writer::add_tensor_streamed(const std::string &name, TensorType type,
                                 const std::vector<int64_t> &ne, Producer producer) {
    const uint64_t need = check_tensor(name, type, ne);
    if (!producer) invalid("gguf writer: tensor '" + name + "': empty producer");
    tensors_.push_back({name, type, ne, {}, need, std::move(producer)});
    tensor_names_.insert(name);
}

// --- output ---

void Writer::serialize(const Sink &out) const {
    static const uint8_t zeros[kWriteAlignment] = {};
    auto pad = [&](uint64_t written) {
        const uint64_t n = align_up(written, kWriteAlignment) - written;
        if (n) out(zeros, n);
    };

    // Header, metadata and tensor infos are small: build them in one buffer.
    std::vector<uint8_t> head;
    head.insert(head.end(), {'G', 'G', 'U', 'F'});
    put_u32(head, 3);
    put_u64(head, tensors_.size());
    put_u64(head, n_kv_);
    head.insert(head.end(), kv_bytes_.begin(), kv_bytes_.end());
    uint64_t offset = 0;
    for (const PendingTensor &t : tensors_) {
        put_str(head, t.name);
        put_u32(head, static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) put_u64(head, static_cast<uint64_t>(d));
        put_u32(head, static_cast<uint32_t>(t.type));
        put_u64(head, offset);
        offset = align_up(offset + t.nbytes, kWriteAlignment);
    }
    out(head.data(), head.size());
    pad(head.size());

    for (const PendingTensor &t : tensors_) {
        if (!t.producer) {
            out(t.data.data(), t.data.size());
        } else {
            // Count what the producer delivers so a wrong size cannot shift later tensors.
            uint64_t got = 0;
            const Sink counted = [&](const void *p, size_t n) {
                if (n > t.nbytes - got)
                    invalid("gguf writer: tensor '" + t.name + "': producer delivered more than " +
                            std::to_string(t.nbytes) + " bytes");
                got += n;
                if (n) out(p, n);
            };
            t.producer(counted);
            if (got != t.nbytes)
                invalid("gguf writer: tensor '" + t.name + "': producer delivered " +
                        std::to_string(got) + " bytes, expected " + std::to_string(t.nbytes));
        }
        pad(t.nbytes);
    }
}

std::vector<uint8_t> Writer::to_bytes() const {
    std::vector<uint8_t> bytes;
    serialize([&](const void *p, size_t n) {
        const uint8_t *b = static_cast<const uint8_t *>(p);
        bytes.insert(bytes.end(), b, b + n);
    });
    return bytes;
}

void Writer::write(const std::string &path) const {
    const std::string tmp = path + ".part";
    std::FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail_errno("create", tmp);
    try {
        // Large stdio buffer: the header is written in small pieces, tensors in big ones.
        std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
        serialize([&](const void *p, size_t n) {
            if (std::fwrite(p, 1, n, f) != n) fail_errno("write", tmp);
        });
        const int rc = std::fclose(f);
        f = nullptr;
        if (rc != 0) fail_errno("write", tmp);
        if (std::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("rename", tmp + " to " + path);
    } catch (...) {
        if (f) std::fclose(f);
        ::unlink(tmp.c_str());
        throw;
    }
}

}  // namespace bitnet::gguf
