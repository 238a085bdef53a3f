// Weight-format traits: the one place in the model code that switches on a GGML type id
// (../shared/docs/ternary-formats.md section 2). Each entry says how a tensor of that type is
// laid out, how it binds as a BitLinear (ternary, W1.58A8) weight or as a float weight
// (embedding, LM head), and how a row turns into floats.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace bitnet {

// A weight matrix {ne0 = k inputs, ne1 = rows outputs}: row r holds the k weights of output r,
// as the compute path sees it after binding.
//  - type I2_S: ternary codes in the I2_S layout (kernels.h), W1.58A8. Whatever the file's
//    ternary type (I2_S, TQ2_0, TQ1_0), the real weight is trit * scale, or, when block_scale is
//    set, trit * block_scale[r * (k / kTqBlock) + b] for the kTqBlock-value block b of row r.
//  - type F32 / F16: plain float products (the float reference path, no activation quantisation).
// out_scale multiplies every output (the `.scale` tensors of arch `bitnet`; 1 when absent).
struct Matrix {
    gguf::TensorType type = gguf::TensorType::F32;
    gguf::TensorType file_type = gguf::TensorType::F32;  // type in the file
    int64_t k = 0;
    int64_t rows = 0;
    const uint8_t *data = nullptr;  // I2_S: packed codes; F16: uint16; F32: float
    int il = 1;                     // I2_S: rows interleaved in groups of il (kernels.h)
    float scale = 1.0f;             // I2_S per-tensor scale
    const float *block_scale = nullptr;  // exact per-block scales of a TQ file (see above)
    float out_scale = 1.0f;
    std::string name;
};

namespace formats {

enum class ScaleKind { None, PerTensor, PerBlock };

struct Traits {
    gguf::TensorType type;
    const char *name;
    int64_t block_values;  // values per block along a row (1 for plain floats)
    int64_t block_bytes;   // bytes per block (I2_S: 32 per 128 values, plus a 32-byte tail)
    ScaleKind scale;
    bool ternary;          // can hold a BitLinear weight exactly (codes are trits)
    bool float_weight;     // can be an embedding / LM head (any type with a to_float row)
    // Values [0, n) of one row (n % block_values == 0) as float32; null for I2_S (the scale is
    // per tensor, not in the row).
    void (*to_float)(const uint8_t *row, int64_t n, float *out);
};

// The traits of a type this library knows (every gguf::TensorType has an entry).
const Traits &traits(gguf::TensorType t);
// Bytes of one row of k values (k % block_values == 0). I2_S: k / 4.
int64_t row_bytes(gguf::TensorType t, int64_t k);

// Memory a binding creates (repacked ternary codes, dequantised heads), kept by the model.
struct Storage {
    std::vector<std::unique_ptr<uint8_t[]>> bytes;
    std::vector<std::vector<float>> floats;
    uint64_t n_bytes = 0;  // total allocated (resident once written)
    uint8_t *alloc(size_t n);
};

struct TernaryOptions {
    bool interleave = true;  // interleave I2_S rows by kI2sInterleave (decode speed)
};
inline constexpr int kI2sInterleave = 4;

// Binds a 2-D tensor {k, rows} as a BitLinear weight: I2_S as it is (rows interleaved in place
// when the file is writable), TQ2_0 / TQ1_0 repacked losslessly into I2_S codes (one tensor
// scale when every block holding a non-zero trit has the same d, else the exact per-block
// scales), F32 / F16 as float weights. Throws UNSUPPORTED for any other type, BAD_FORMAT for a
// non-finite scale.
Matrix bind_ternary(gguf::File &f, const gguf::TensorInfo &t, const TernaryOptions &opt,
                    Storage &store);
// Binds a 2-D tensor as an embedding table / LM head source: a view of the file's data in any
// float_weight type. Throws UNSUPPORTED for other types.
Matrix bind_float(const gguf::File &f, const gguf::TensorInfo &t);
// The LM head's matrix for products: m itself when F16 or F32, else a copy dequantised to F16
// (rows converted in parallel by the caller's choice of n_threads).
Matrix head_matrix(const Matrix &m, Storage &store, int n_threads);
// Row `row` of a float_weight matrix as float32 (m.k values): embedding lookup.
void row_to_float(const Matrix &m, int64_t row, float *out);

}  // namespace formats
}  // namespace bitnet
