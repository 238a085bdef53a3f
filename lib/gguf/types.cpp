// GGUF value and tensor type tables, tensor byte sizes and Value helpers.
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "common/error.h"
#include "gguf/gguf.h"

namespace bitnet::gguf {

const char *value_type_name(ValueType t) {
    switch (t) {
        case ValueType::UINT8: return "UINT8";
        case ValueType::INT8: return "INT8";
        case ValueType::UINT16: return "UINT16";
        case ValueType::INT16: return "INT16";
        case ValueType::UINT32: return "UINT32";
        case ValueType::INT32: return "INT32";
        case ValueType::FLOAT32: return "FLOAT32";
        case ValueType::BOOL: return "BOOL";
        case ValueType::STRING: return "STRING";
        case ValueType::ARRAY: return "ARRAY";
        case ValueType::UINT64: return "UINT64";
        case ValueType::INT64: return "INT64";
        case ValueType::FLOAT64: return "FLOAT64";
    }
    return "UNKNOWN";
}

const char *tensor_type_name(TensorType t) {
    switch (t) {
        case TensorType::F32: return "F32";
        case TensorType::F16: return "F16";
        case TensorType::Q4_0: return "Q4_0";
        case TensorType::Q8_0: return "Q8_0";
        case TensorType::Q6_K: return "Q6_K";
        case TensorType::BF16: return "BF16";
        case TensorType::TQ1_0: return "TQ1_0";
        case TensorType::TQ2_0: return "TQ2_0";
        case TensorType::I2_S: return "I2_S";
    }
    return "UNKNOWN";
}

bool tensor_type_known(uint32_t t) {
    switch (static_cast<TensorType>(t)) {
        case TensorType::F32:
        case TensorType::F16:
        case TensorType::Q4_0:
        case TensorType::Q8_0:
        case TensorType::Q6_K:
        case TensorType::BF16:
        case TensorType::TQ1_0:
        case TensorType::TQ2_0:
        case TensorType::I2_S: return true;
    }
    return false;
}

BlockLayout block_layout(TensorType t) {
    switch (t) {
        case TensorType::Q4_0: return {32, 18};    // f16 d, 16 bytes of nibbles
        case TensorType::Q8_0: return {32, 34};    // f16 d, 32 int8
        case TensorType::Q6_K: return {256, 210};  // ql[128] qh[64] scales[16] f16 d
        case TensorType::TQ1_0: return {256, 54};  // qs[48] qh[4] f16 d (base-3 digits)
        case TensorType::TQ2_0: return {256, 66};  // qs[64] f16 d (2-bit codes)
        case TensorType::F32: return {1, 4};
        case TensorType::F16:
        case TensorType::BF16: return {1, 2};
        case TensorType::I2_S: return {128, 32};   // plus the tensor's 32-byte scale tail
    }
    return {0, 0};
}

bool tensor_nbytes_checked(TensorType t, const int64_t ne[4], uint64_t *nbytes,
                           std::string *why) {
    auto reject = [&](std::string msg) {
        if (why) *why = std::move(msg);
        return false;
    };
    // Element count, overflow-safe: each factor is checked against what is left of the cap
    // before multiplying, so the product never exceeds kMaxTensorElements.
    int64_t n = 1;
    for (int i = 0; i < 4; i++) {
        if (ne[i] < 1)
            return reject("ne" + std::to_string(i) + " = " + std::to_string(ne[i]) +
                          " (dimensions must be >= 1)");
        if (ne[i] > kMaxTensorElements / n)
            return reject("element count exceeds 2^50 (dimension ne" + std::to_string(i) + " = " +
                          std::to_string(ne[i]) + ")");
        n *= ne[i];
    }
    const uint64_t un = static_cast<uint64_t>(n);
    uint64_t size = 0;
    switch (t) {
        case TensorType::F32: size = un * 4; break;
        case TensorType::F16:
        case TensorType::BF16: size = un * 2; break;
        case TensorType::Q4_0:
        case TensorType::Q8_0:
        case TensorType::Q6_K:
        case TensorType::TQ1_0:
        case TensorType::TQ2_0: {
            // Blocks of values along a row (ggml block_*); blocks never straddle rows.
            const BlockLayout bl = block_layout(t);
            if (ne[0] % bl.values != 0)
                return reject(std::string(tensor_type_name(t)) + " needs ne0 to be a multiple of " +
                              std::to_string(bl.values) + ", found " + std::to_string(ne[0]));
            size = un / (uint64_t)bl.values * (uint64_t)bl.bytes;
            break;
        }
        case TensorType::I2_S:
            // Whole tensor: n/4 packed bytes + 32-byte tail holding the f32 scale. Kernels
            // walk rows in 128-value blocks, so each row must be whole blocks.
            if (ne[0] % 128 != 0)
                return reject("I2_S needs ne0 to be a multiple of 128, found " +
                              std::to_string(ne[0]));
            size = un / 4 + 32;
            break;
        default:
            return reject("unknown tensor type " + std::to_string(static_cast<uint32_t>(t)));
    }
    if (nbytes) *nbytes = size;
    return true;
}

uint64_t tensor_nbytes(TensorType t, const int64_t ne[4]) {
    uint64_t nbytes = 0;
    std::string why;
    if (!tensor_nbytes_checked(t, ne, &nbytes, &why))
        fail(BITNET_ERR_BAD_FORMAT, std::string("tensor of type ") + tensor_type_name(t) + " {" +
                                        std::to_string(ne[0]) + ", " + std::to_string(ne[1]) +
                                        ", " + std::to_string(ne[2]) + ", " +
                                        std::to_string(ne[3]) + "}: " + why);
    return nbytes;
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::UINT8:
        case ValueType::INT8:
        case ValueType::UINT16:
        case ValueType::INT16:
        case ValueType::UINT32:
        case ValueType::INT32:
        case ValueType::UINT64:
        case ValueType::INT64: return true;
        default: return false;
    }
}

bool Value::is_signed() const {
    return type == ValueType::INT8 || type == ValueType::INT16 || type == ValueType::INT32 ||
           type == ValueType::INT64;
}

std::string Value::to_string() const {
    char buf[64];
    switch (type) {
        case ValueType::FLOAT32:
            // %.9g round-trips every float32.
            std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(static_cast<float>(f64)));
            return buf;
        case ValueType::FLOAT64:
            std::snprintf(buf, sizeof buf, "%.17g", f64);
            return buf;
        case ValueType::BOOL: return b ? "true" : "false";
        case ValueType::STRING: return str;
        case ValueType::ARRAY: {
            // Built by appending: GCC 12 warns (-Wrestrict, falsely) on "[" + std::string.
            std::string s(1, '[');
            s += std::to_string(arr.size());
            s += " items of ";
            s += value_type_name(elem_type);
            s += ']';
            return s;
        }
        default:
            return is_signed() ? std::to_string(i64) : std::to_string(u64);
    }
}

}  // namespace bitnet::gguf
