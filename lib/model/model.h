// A loaded BitNet b1.58 model: hyper-parameters from GGUF metadata, views of the weights
// (into the mapped file), and the tokenizer. Immutable after load, so it can be shared by any
// number of contexts on any number of threads.
//
// Graph (../shared/docs/bitnet-reference.md section 4.2): architectures `bitnet-b1.58` and
// `bitnet-25`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace bitnet {

struct HParams {
    std::string arch;
    int32_t n_vocab = 0;
    int32_t n_ctx_train = 0;
    int32_t n_embd = 0;
    int32_t n_layer = 0;
    int32_t n_head = 0;
    int32_t n_head_kv = 0;
    int32_t head_dim = 0;
    int32_t n_rot = 0;  // rotated dimensions per head (NeoX pairs i, i + n_rot/2)
    int32_t n_ff = 0;
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;

    int32_t kv_dim() const { return n_head_kv * head_dim; }
};

// A weight matrix {ne0 = k inputs, ne1 = rows outputs}: row r holds the k weights of output r.
struct Matrix {
    gguf::TensorType type = gguf::TensorType::F32;
    int64_t k = 0;
    int64_t rows = 0;
    const uint8_t *data = nullptr;  // I2_S: packed codes; F16: uint16; F32: float
    int il = 1;                     // I2_S: rows interleaved in groups of il (kernels.h)
    float scale = 1.0f;             // I2_S per-tensor scale (tail bytes 0-3)
    std::string name;
};

// LM head quantised at load time (BITNET_LM_HEAD_Q8 or _Q4), one absmax scale per block of
// kernels::kQ8Block consecutive values of a row: w[r][i] ≈ v[r][i] * scale[r][i / block].
struct QuantHead {
    int bits = 8;  // 8: int8 values, k bytes a row; 4: the Q4 layout of kernels.h, k/2 bytes
    int64_t k = 0;
    int64_t rows = 0;
    std::vector<uint8_t> q;
    std::vector<float> scale;  // [rows][k / block]

    int64_t row_bytes() const { return bits == 8 ? k : k / 2; }
};

struct Layer {
    const float *attn_norm = nullptr;
    const float *attn_sub_norm = nullptr;
    const float *ffn_norm = nullptr;
    const float *ffn_sub_norm = nullptr;
    Matrix wq, wk, wv, wo, w_gate, w_up, w_down;
};

struct ModelOptions {
    bool use_mmap = true;
    bool repack = true;    // interleave I2_S rows by 4 at load (kernels::i2s_interleave)
    int lm_head_type = 0;  // bitnet_lm_head_type
};

class Model {
public:
    // Throws bitnet::Error.
    static std::shared_ptr<const Model> load(const std::string &path, const ModelOptions &opt);

    const HParams &hparams() const { return hp_; }
    const Tokenizer &tokenizer() const { return *tokenizer_; }
    const gguf::File &file() const { return *file_; }
    const std::vector<Layer> &layers() const { return layers_; }
    const Matrix &token_embd() const { return token_embd_; }
    const Matrix &output() const { return output_; }  // LM head (tied or output.weight)
    const QuantHead *output_quant() const { return output_quant_ ? output_quant_.get() : nullptr; }
    const float *output_norm() const { return output_norm_; }
    uint64_t size_bytes() const { return size_bytes_; }
    uint64_t n_params() const { return n_params_; }
    uint64_t decode_bytes() const;

    // Embedding row of `token` as float32 (n_embd values).
    void embed(int32_t token, float *out) const;

private:
    Model() = default;
    void bind();
    void quantize_output(int bits);

    std::unique_ptr<gguf::File> file_;
    std::unique_ptr<Tokenizer> tokenizer_;
    HParams hp_;
    ModelOptions opt_;
    Matrix token_embd_;
    Matrix output_;
    std::unique_ptr<QuantHead> output_quant_;
    const float *output_norm_ = nullptr;
    std::vector<Layer> layers_;
    std::vector<std::vector<float>> owned_;  // norm vectors converted from F16/BF16
    uint64_t size_bytes_ = 0;
    uint64_t n_params_ = 0;
};

}  // namespace bitnet
