// Encoding of converted tensors into GGUF tensor types: ternary matrices as I2_S, TQ2_0 or TQ1_0
// (ternary-formats.md 2.2-2.4) and float matrices (embedding, LM head, norms) as F32, F16, BF16
// Q8_0 (ggml block_q8_0: per 32 values an F16 d = amax/127 and 32 int8 round(x/d)) or Q6_K
// (ggml block_q6_K layout with absmax sub-block scales, see encode.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace bitnet::convert {

// Bytes of a rows x cols ternary matrix (row-major, trits in {-1, 0, 1}, real weight
// scale * trit) in `type` (I2_S: one f32 scale after the codes; TQ1_0/TQ2_0: every block's d =
// fp16(scale)). UNSUPPORTED naming `name` when cols does not suit the type (I2_S: % 128,
// TQ: % 256); with `exact_scale`, also when fp16(scale) != scale for a TQ type.
std::vector<uint8_t> encode_ternary(const std::string &name, const int8_t *trits, int64_t rows,
                                    int64_t cols, float scale, gguf::TensorType type,
                                    bool exact_scale);

// The trits and the one scale of a ternary GGUF tensor (I2_S, TQ1_0, TQ2_0; ne0 x ne1 values).
// For the TQ types every non-zero block must carry the same d (UNSUPPORTED otherwise: one
// scale per tensor cannot hold it exactly); the scale is then that d.
struct Trits {
    std::vector<int8_t> t;
    float scale = 0.0f;
};
Trits decode_ternary(const std::string &name, gguf::TensorType type, const uint8_t *data,
                     int64_t ne0, int64_t ne1);

// Writes a rows x cols float matrix as `type` (F32, F16, BF16, Q8_0, Q6_K), row by row:
// row(r, out) fills out[0..cols) with row r. F16 fails (BAD_FORMAT, naming `name`) for a
// finite value beyond the F16 range; Q8_0 needs cols % 32 == 0, Q6_K cols % 256 == 0
// (UNSUPPORTED otherwise).
using RowSource = std::function<void(int64_t row, float *out)>;
using ByteSink = std::function<void(const void *data, size_t n)>;
void encode_float_rows(const std::string &name, int64_t rows, int64_t cols, gguf::TensorType type,
                       const RowSource &row, const ByteSink &sink);

bool is_ternary_type(gguf::TensorType t);

}  // namespace bitnet::convert
